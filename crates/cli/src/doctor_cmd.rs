//! `latch doctor`: checks an installation from its configuration — the configuration itself,
//! the database, the audit log, the SIEM sinks, the running server, AWS (identity, region,
//! every action Latch calls allowed by the credentials' own policies, the member role in every
//! account), the chat platforms, the sign-in provider, the denial pipeline and the clocks —
//! and says what to fix. Nothing is changed: the database is read, never migrated.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use std::io::Write as _;

use anyhow::Context as _;
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::{json, Value};

use latch_aws::calls::{self, Place, Reach};
use latch_grant::{Role, Store};
use latch_server::config::Config;

use crate::aws_cmd::Format;

/// Check an installation and say what to fix: the configuration, the database and its
/// migrations, the audit chain, SIEM delivery, the running server, the AWS identity and region,
/// every AWS action Latch calls (evaluated with Latch's engine on the credentials' own
/// policies), the member role in each account, the Slack and Teams credentials, the sign-in
/// provider, the denial pipeline's token and the clocks. It changes nothing.
///
/// Exit status: 0 when every check passes, 1 when one warns, 2 when one fails.
///
/// Examples:
///   latch doctor --config latch.toml
///   latch doctor --config latch.toml --database postgres://latch@db/latch --format json
///   latch doctor --config latch.toml --no-aws            # a server run with --cloud memory
///   latch doctor --config latch.toml --trail-bucket org-trail   # also what `latch collect` reads
///   latch doctor --config latch.toml --probe-bus latch-denials  # a synthetic denial, end to end
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct DoctorArgs {
    /// The server's configuration file.
    #[arg(long, default_value = "latch.toml")]
    config: PathBuf,
    /// Database: a SQLite file path or postgres://… (default from the configuration).
    #[arg(long)]
    database: Option<String>,
    /// The running server to ask for its readiness (default: [web] public_url, else the
    /// [server] listen address).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Leave AWS out (a server run with `--cloud memory`).
    #[arg(long)]
    no_aws: bool,
    /// The bucket of the organization's trail, when `latch collect` reads CloudTrail from S3:
    /// its reads are checked with the rest.
    #[arg(long, value_name = "BUCKET")]
    trail_bucket: Option<String>,
    /// Send a synthetic denial through the denial pipeline — an event on this bus (the
    /// `latch-denials` bus of deploy/, by name or ARN) — and wait for the server to record
    /// its arrival: the whole way from EventBridge to `latch serve` and its store.
    #[arg(long, value_name = "BUS")]
    probe_bus: Option<String>,
    /// How long to wait for the probe to arrive, in seconds.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    probe_timeout: u64,
    /// A SIEM sink lagging more entries than this warns.
    #[arg(long, default_value_t = 1000, value_name = "ENTRIES")]
    siem_lag: i64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// How a check came out, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Passed.
    Ok,
    /// Not applicable to this configuration, or not checkable because an earlier check
    /// failed.
    Skip,
    /// Works, but needs attention.
    Warn,
    /// Broken.
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skip => "skip",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub check: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do about it (warnings and failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn ok(check: &'static str, detail: impl Into<String>) -> Check {
    Check {
        check,
        status: Status::Ok,
        detail: detail.into(),
        fix: None,
    }
}

fn skip(check: &'static str, detail: impl Into<String>) -> Check {
    Check {
        check,
        status: Status::Skip,
        detail: detail.into(),
        fix: None,
    }
}

fn warn(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        check,
        status: Status::Warn,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        check,
        status: Status::Fail,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

/// Runs `latch doctor`.
///
/// # Errors
/// Only when the result cannot be written; every problem found is a check's outcome.
pub fn run(args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let checks = rt.block_on(examine(args));
    let worst = checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok);
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let out = json!({
                "result": match worst { Status::Ok | Status::Skip => "ok", Status::Warn => "warn", Status::Fail => "fail" },
                "checks": checks,
            });
            writeln!(stdout, "{}", serde_json::to_string_pretty(&out)?)?;
        }
        Format::Table => {
            let rows: Vec<[String; 3]> = checks
                .iter()
                .map(|c| {
                    let mut detail = c.detail.clone();
                    if let Some(fix) = &c.fix {
                        detail.push_str(&format!("\n  → {fix}"));
                    }
                    [c.check.to_owned(), c.status.label().to_owned(), detail]
                })
                .collect();
            write!(stdout, "{}", render(&rows))?;
            let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
            writeln!(
                stdout,
                "\n{} passed, {} warned, {} failed, {} skipped",
                count(Status::Ok),
                count(Status::Warn),
                count(Status::Fail),
                count(Status::Skip)
            )?;
        }
    }
    Ok(match worst {
        Status::Ok | Status::Skip => ExitCode::SUCCESS,
        Status::Warn => ExitCode::from(1),
        Status::Fail => ExitCode::from(2),
    })
}

/// CHECK, RESULT and DETAIL columns; a detail's later lines are indented under it.
fn render(rows: &[[String; 3]]) -> String {
    let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(5).max(5);
    let w1 = 6;
    let mut out = format!("{:<w0$}  {:<w1$}  DETAIL\n", "CHECK", "RESULT");
    for [check, status, detail] in rows {
        for (i, line) in detail.lines().enumerate() {
            if i == 0 {
                out.push_str(&format!("{check:<w0$}  {status:<w1$}  {line}\n"));
            } else {
                out.push_str(&format!("{:<w0$}  {:<w1$}  {line}\n", "", ""));
            }
        }
    }
    out
}

/// Every check, in order; a check that others rest on (the configuration, the database)
/// turns theirs into skips when it fails.
async fn examine(args: &DoctorArgs) -> Vec<Check> {
    let mut checks = Vec::new();
    let config = match load_config(args) {
        Ok(c) => {
            checks.push(ok(
                "config",
                format!(
                    "`{}` parses; {} bundle(s), {} people",
                    args.config.display(),
                    c.rules.bundles.len(),
                    c.rules.people.len()
                ),
            ));
            c
        }
        Err(e) => {
            checks.push(fail(
                "config",
                format!("{e:#}"),
                "fix the configuration (docs/configuration.md); nothing else can be checked until it loads",
            ));
            return checks;
        }
    };
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| config.database.0.clone());
    let store = database_checks(&database, &config, args.siem_lag, &mut checks).await;
    checks.push(server_check(args, &config).await);
    if args.no_aws {
        checks.push(skip("aws", "--no-aws"));
    } else if config.aws.is_none() {
        checks.push(warn(
            "aws",
            "the configuration has no [aws] section",
            "add [aws] (docs/configuration.md) so grants land on AWS; without it `latch serve` needs `--cloud memory`, where nothing reaches AWS (then run `latch doctor --no-aws`)",
        ));
    } else {
        aws_checks(args, &config, store.as_ref(), &mut checks).await;
    }
    checks.push(slack_check(&config).await);
    checks.push(teams_check(&config).await);
    checks.push(oidc_check(&config).await);
    checks.push(pipeline_check(&config, store.as_ref()).await);
    checks
}

fn load_config(args: &DoctorArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(&args.config)
        .map_err(|e| crate::diagnostic::config_error(&args.config, &e.field, &e))?;
    let (firewall, source) = crate::server_cmd::firewall_of(&config)?;
    crate::server_cmd::check_bundles(&config.rules.bundles, &firewall, &source)?;
    if let Some(audit) = &mut config.audit {
        audit.load_signing_key()?;
    }
    Ok(config)
}

/// The schema, the files' permissions, the audit chain, the tokens and the SIEM sinks.
/// Returns the store when its schema is this build's (otherwise it is not opened: opening
/// migrates).
async fn database_checks(
    database: &str,
    config: &Config,
    siem_lag: i64,
    checks: &mut Vec<Check>,
) -> Option<Arc<dyn Store>> {
    let shown = latch_grant::redact_location(database);
    let status = match latch_store::schema_status(database).await {
        Ok(s) => s,
        Err(e) => {
            checks.push(fail(
                "database",
                e.to_string(),
                "check [server] database (or --database), that the database server runs and this user may connect",
            ));
            return None;
        }
    };
    if !status.unknown.is_empty() {
        checks.push(fail(
            "database",
            format!(
                "`{shown}` ({}) was migrated by a newer Latch: migrations {:?} are unknown to this one",
                status.backend, status.unknown
            ),
            "run the Latch version that migrated it (or newer); an older server must not serve a newer schema",
        ));
        return None;
    }
    if !status.damaged.is_empty() {
        checks.push(fail(
            "database",
            format!(
                "`{shown}` ({}): migrations {:?} failed half-way or differ from the ones this Latch carries",
                status.backend, status.damaged
            ),
            "restore the database from a backup taken before the failed upgrade",
        ));
        return None;
    }
    if !status.pending.is_empty() {
        let names: Vec<String> = status
            .pending
            .iter()
            .map(|(v, d)| format!("{v} {d}"))
            .collect();
        checks.push(warn(
            "database",
            format!(
                "`{shown}` ({}) lacks {} of {} migrations: {}",
                status.backend,
                status.pending.len(),
                status.known,
                names.join(", ")
            ),
            "back it up; `latch serve` applies them at its next start",
        ));
        return None;
    }
    checks.push(ok(
        "database",
        format!(
            "`{shown}` ({}) opens; all {} migrations applied",
            status.backend, status.known
        ),
    ));
    let exposed = latch_store::exposed_files(database);
    if exposed.is_empty() {
        if status.backend == "sqlite" {
            checks.push(ok("database files", "readable by their owner only"));
        }
    } else {
        let files: Vec<String> = exposed
            .iter()
            .map(|(f, m)| format!("{} ({m:03o})", f.display()))
            .collect();
        checks.push(warn(
            "database files",
            format!("other users can read or write {}", files.join(", ")),
            "chmod 600 the database and its -wal/-shm files: they hold token hashes and who asked for what",
        ));
    }
    let store = match latch_store::open(database).await {
        Ok(s) => s,
        Err(e) => {
            checks.push(fail("audit chain", e.to_string(), "see the database check"));
            return None;
        }
    };
    checks.push(match store.audit_verify().await {
        Ok(v) if v.is_intact() => ok(
            "audit chain",
            format!("{} entries, the chain verifies (head {})", v.count, short(&v.head_hash)),
        ),
        Ok(v) => {
            let mut problems: Vec<String> = v.breaks.iter().map(|b| format!("{b:?}")).collect();
            problems.extend(v.problems.iter().cloned());
            fail(
                "audit chain",
                format!(
                    "{} entries, {} problem(s): {}",
                    v.count,
                    problems.len(),
                    problems.into_iter().take(3).collect::<Vec<_>>().join("; ")
                ),
                "the log was edited or truncated: `latch audit verify` shows every break; compare with your SIEM copy and published checkpoints",
            )
        }
        Err(e) => fail("audit chain", e.to_string(), "see the database check"),
    });
    checks.push(tokens_check(&store).await);
    for sink in &config.siem {
        checks.push(siem_check(&store, &sink.name, siem_lag).await);
    }
    if config.siem.is_empty() {
        checks.push(skip("siem", "no [[siem]] sink configured"));
    }
    Some(store)
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

async fn tokens_check(store: &Arc<dyn Store>) -> Check {
    let tokens = match store.tokens().await {
        Ok(t) => t,
        Err(e) => return fail("tokens", e.to_string(), "see the database check"),
    };
    let live: Vec<_> = tokens.iter().filter(|t| t.revoked_at.is_none()).collect();
    let admins = live.iter().filter(|t| t.role == Role::Admin).count();
    if admins == 0 {
        return warn(
            "tokens",
            format!("{} live token(s), none with the admin role", live.len()),
            "create one: latch token create --database DB --subject you --role admin",
        );
    }
    ok(
        "tokens",
        format!("{} live token(s), {admins} admin", live.len()),
    )
}

async fn siem_check(store: &Arc<dyn Store>, name: &str, max_lag: i64) -> Check {
    let cursor = match store.sink_cursor(name).await {
        Ok(c) => c,
        Err(e) => return fail("siem", e.to_string(), "see the database check"),
    };
    let dead = store.dead_letters(name).await.unwrap_or_default();
    let lag = cursor.lag();
    let detail = format!(
        "`{name}`: {} of {} entries delivered, {lag} behind{}",
        cursor.delivered_seq,
        cursor.head_seq,
        cursor
            .last_error
            .as_deref()
            .map(|e| format!("; last failure: {e}"))
            .unwrap_or_default()
    );
    if !dead.is_empty() {
        let seqs: Vec<String> = dead.iter().take(5).map(|d| d.seq.to_string()).collect();
        return fail(
            "siem",
            format!(
                "{detail}; {} entr{} given up on (seq {}{})",
                dead.len(),
                if dead.len() == 1 { "y" } else { "ies" },
                seqs.join(", "),
                if dead.len() > 5 { ", …" } else { "" }
            ),
            format!("the SIEM lacks them: send them again from `latch audit export` (entries after seq {}) and fix what refused them", dead.first().map_or(0, |d| d.seq - 1)),
        );
    }
    if lag > max_lag || (lag > 0 && cursor.attempts > 0) {
        return warn(
            "siem",
            detail,
            "check the sink's URL and credentials and that a server is running (the leader delivers); /metrics has latch_siem_failed_total",
        );
    }
    ok("siem", detail)
}

/// The running server's `/readyz`.
async fn server_check(args: &DoctorArgs, config: &Config) -> Check {
    let base = args
        .server
        .clone()
        .or_else(|| config.web.public_url.clone())
        .unwrap_or_else(|| format!("http://{}", config.listen.replace("0.0.0.0", "127.0.0.1")));
    let url = format!("{}/readyz", base.trim_end_matches('/'));
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    match http.get(&url).send().await {
        Err(e) if e.is_connect() || e.is_timeout() => warn(
            "server",
            format!("nothing answers at {base}"),
            "start `latch serve` (or pass --server URL where it runs)",
        ),
        Err(e) => fail(
            "server",
            format!("{url}: {}", e.without_url()),
            "check the URL",
        ),
        Ok(r) if r.status().is_success() => ok("server", format!("{base} is ready")),
        Ok(r) => {
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let failing: Vec<String> = body
                .get("checks")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter(|(_, v)| v["ok"] != Value::Bool(true))
                        .map(|(k, v)| format!("{k}: {}", v["error"].as_str().unwrap_or("not ok")))
                        .collect()
                })
                .unwrap_or_default();
            fail(
                "server",
                format!(
                    "{base} is not ready ({status}){}",
                    if failing.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", failing.join(", "))
                    }
                ),
                "the server's log says why each check fails",
            )
        }
    }
}

/// Identity, region, the clocks, the credentials' permissions and the member role.
async fn aws_checks(
    args: &DoctorArgs,
    config: &Config,
    store: Option<&Arc<dyn Store>>,
    checks: &mut Vec<Check>,
) {
    let aws_cfg = config.aws.clone().unwrap_or_default();
    let options = crate::server_cmd::aws_options(&aws_cfg);
    let aws = match latch_aws::Aws::connect(&options).await {
        Ok(a) => a,
        Err(e) => {
            checks.push(fail(
                "aws identity",
                e.to_string(),
                "check [aws] profile/region and the credentials in the environment",
            ));
            return;
        }
    };
    let region = aws
        .sdk_config()
        .region()
        .map(ToString::to_string)
        .unwrap_or_default();
    let caller = match aws.caller_identity().await {
        Ok(c) => c,
        Err(e) => {
            checks.push(fail(
                "aws identity",
                e.to_string(),
                "the credentials are missing, expired or wrong: check [aws] profile and the environment",
            ));
            checks.push(clock_check(&aws_cfg, &region).await);
            return;
        }
    };
    checks.push(if region.is_empty() {
        warn(
            "aws identity",
            format!("{} (account {}), no region", caller.arn, caller.account),
            "set [aws] region (or AWS_REGION)",
        )
    } else {
        ok(
            "aws identity",
            format!(
                "{} (account {}), region {region}",
                caller.arn, caller.account
            ),
        )
    });
    checks.push(clock_check(&aws_cfg, &region).await);

    let (organization, management) = match latch_aws::org::describe(&aws).await {
        Ok((id, management, ..)) => (id, management),
        Err(e) => {
            checks.push(fail(
                "aws permissions",
                format!("cannot read the organization: {e}"),
                "run Latch in the management account (or the delegated administrator) with the control-plane role of deploy/cloudformation/management.yaml",
            ));
            return;
        }
    };
    let checkpoint_bucket = config.audit.as_ref().and_then(|a| {
        a.publish.iter().find_map(|t| match t {
            latch_server::config::CheckpointTarget::S3 { bucket, .. } => Some(bucket.clone()),
            _ => None,
        })
    });
    let accounts = latch_aws::org::read_accounts(&aws).await;
    let member_account = accounts
        .as_ref()
        .ok()
        .and_then(|a| a.iter().find(|a| a.id != caller.account))
        .map_or_else(|| caller.account.clone(), |a| a.id.clone());
    let place = Place {
        account: &caller.account,
        management_account: &management,
        organization: &organization,
        member_account: &member_account,
        member_role: &aws_cfg.member_role,
        trail_bucket: args.trail_bucket.as_deref(),
        checkpoint_bucket: checkpoint_bucket.as_deref(),
    };
    let own = calls::actions(Reach::Organization)
        .into_iter()
        .chain(calls::actions(Reach::EveryAccount))
        .collect::<Vec<_>>();
    checks.push(
        match permissions(&aws, &caller.arn, &place, &own).await {
            Ok(denied) if denied.is_empty() => ok(
                "aws permissions",
                format!(
                    "{} allows all {} actions Latch calls (its policies, as IAM returns them, evaluated by Latch's engine)",
                    caller.arn,
                    own.len()
                ),
            ),
            Ok(denied) => fail(
                "aws permissions",
                format!(
                    "{} is not allowed {} of the {} actions Latch calls: {}",
                    caller.arn,
                    denied.len(),
                    own.len(),
                    list(&denied)
                ),
                "deploy the control-plane role from deploy/cloudformation/management.yaml (or deploy/terraform) and run Latch as it",
            ),
            Err(e) => warn(
                "aws permissions",
                format!("cannot read {}'s policies: {e}", caller.arn),
                "allow iam:GetAccountAuthorizationDetails to the control-plane role (the deploy/ templates do)",
            ),
        },
    );

    if let Some(bus) = &args.probe_bus {
        checks.push(probe_check(&aws, bus, store, args.probe_timeout).await);
    }
    let accounts = match accounts {
        Ok(a) => a,
        Err(e) => {
            checks.push(fail(
                "member role",
                format!("cannot list the accounts: {e}"),
                "allow organizations:ListAccounts to the control-plane role",
            ));
            return;
        }
    };
    checks.push(member_role_check(&aws, &caller, &aws_cfg, &place, &accounts).await);
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut out = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        out.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    out
}

/// The requests of `actions` (as Latch makes them in `place`) that the policies of the
/// principal behind `arn` do not allow, as `action on resource`: its identity policies and
/// permissions boundary as `iam:GetAccountAuthorizationDetails` returns them in its own
/// account, evaluated by Latch's engine. (SCPs are left out: Latch's own spare this role, and
/// the management account is not subject to them.)
async fn permissions(
    aws: &latch_aws::Aws,
    arn: &str,
    place: &Place<'_>,
    actions: &[&str],
) -> anyhow::Result<Vec<String>> {
    let iam = latch_aws::Aws::iam(aws.sdk_config());
    let pages = latch_aws::gaad::fetch_pages(&iam, place.account).await?;
    let account =
        latch_model::gaad::parse_gaad(&latch_aws::gaad::to_file_value(pages), place.account)
            .map_err(|e| anyhow::anyhow!("the authorization details do not parse: {e}"))?;
    let (identity, boundary) = policies_of(&account, arn)?;
    let principal = arn.to_owned();
    let mut denied = Vec::new();
    for action in actions {
        for (resource, context) in calls::sample_requests(action, place) {
            let mut case = json!({
                "request": {"principal": principal, "action": action, "resource": resource, "context": context},
                "identity_policies": identity,
            });
            let Some(fields) = case.as_object_mut() else {
                continue;
            };
            if let Some(b) = &boundary {
                fields.insert("permission_boundary".to_owned(), b.clone());
            }
            // A role in another account also has its trust policy's say: that side is the
            // member role check's, which assumes it. Here only the caller's own policies are
            // judged, so the trust policy is taken to let the caller in.
            if *action == "sts:AssumeRole" {
                fields.insert(
                    "resource_policy".to_owned(),
                    json!({"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"AWS": principal},
                    "Action": "sts:AssumeRole", "Resource": resource}]}),
                );
            }
            let out = latch_policy::case::evaluate_json(&case)
                .map_err(|e| anyhow::anyhow!("evaluating {action}: {e}"))?;
            if out.get("decision").and_then(Value::as_str) != Some("Allow") {
                denied.push(if resource == "*" {
                    (*action).to_owned()
                } else {
                    format!("{action} on {resource}")
                });
            }
        }
    }
    denied.dedup();
    Ok(denied)
}

/// The identity policies and the permissions boundary of the role or user `arn` names (an
/// `assumed-role` session names its role).
fn policies_of(
    account: &latch_model::Account,
    arn: &str,
) -> anyhow::Result<(Vec<Value>, Option<Value>)> {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    let doc = |d: &latch_model::PolicyDocument| -> Value {
        serde_json::from_str(d.json()).unwrap_or(Value::Null)
    };
    let managed = |arns: &[String], out: &mut Vec<Value>| -> anyhow::Result<()> {
        for p in arns {
            let m = account.managed_policy(p).ok_or_else(|| {
                anyhow::anyhow!("the managed policy {p} is attached but its document is not in the authorization details")
            })?;
            out.push(doc(&m.document));
        }
        Ok(())
    };
    let boundary = |b: &Option<String>| -> anyhow::Result<Option<Value>> {
        b.as_ref()
            .map(|p| {
                account
                    .managed_policy(p)
                    .map(|m| doc(&m.document))
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "the permissions boundary {p} is not in the authorization details"
                        )
                    })
            })
            .transpose()
    };
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        let name = rest.split('/').next().unwrap_or_default();
        let role = account
            .roles
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("role {name} is not in account {}", account.id))?;
        let mut out: Vec<Value> = role
            .inline_policies
            .iter()
            .map(|p| doc(&p.document))
            .collect();
        managed(&role.attached_policies, &mut out)?;
        return Ok((out, boundary(&role.permissions_boundary)?));
    }
    if let Some(rest) = resource.strip_prefix("user/") {
        let name = rest.rsplit('/').next().unwrap_or_default();
        let user = account
            .users
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("user {name} is not in account {}", account.id))?;
        let mut out: Vec<Value> = user
            .inline_policies
            .iter()
            .map(|p| doc(&p.document))
            .collect();
        managed(&user.attached_policies, &mut out)?;
        for g in &user.groups {
            if let Some(group) = account.groups.get(g) {
                out.extend(group.inline_policies.iter().map(|p| doc(&p.document)));
                managed(&group.attached_policies, &mut out)?;
            }
        }
        return Ok((out, boundary(&user.permissions_boundary)?));
    }
    anyhow::bail!("{arn} is neither a role session nor a user (the account's root user? Latch should not run as it)")
}

/// The member role assumed in every active account but the caller's own, and what its
/// policies allow there.
async fn member_role_check(
    aws: &latch_aws::Aws,
    caller: &latch_aws::connect::CallerIdentity,
    aws_cfg: &latch_server::config::AwsConfig,
    place: &Place<'_>,
    accounts: &[latch_aws::org::OrgAccount],
) -> Check {
    let targets: Vec<&latch_aws::org::OrgAccount> = accounts
        .iter()
        .filter(|a| a.id != caller.account && a.status == "ACTIVE")
        .collect();
    if targets.is_empty() {
        return skip("member role", "no other active account in the organization");
    }
    let actions = calls::actions(Reach::EveryAccount);
    let results: Vec<(String, Result<Vec<String>, String>)> = futures::stream::iter(targets.iter())
        .map(|a| {
            let role = aws_cfg
                .member_role_overrides
                .get(&a.id)
                .unwrap_or(&aws_cfg.member_role)
                .clone();
            let actions = &actions;
            async move {
                let config = match aws
                    .config_for_account(caller, &a.id, &role, "latch-doctor")
                    .await
                {
                    Ok(c) => c,
                    Err(e) => return (a.id.clone(), Err(format!("cannot assume {role}: {e}"))),
                };
                let arn = format!(
                    "arn:{}:sts::{}:assumed-role/{role}/latch-doctor",
                    caller.partition, a.id
                );
                let here = Place {
                    account: &a.id,
                    ..*place
                };
                let there = latch_aws::Aws::from_sdk_config(config, false, 1);
                match permissions(&there, &arn, &here, actions).await {
                    Ok(denied) => (a.id.clone(), Ok(denied)),
                    Err(e) => (a.id.clone(), Err(format!("{role}: {e}"))),
                }
            }
        })
        .buffer_unordered(aws.concurrency().max(1))
        .collect()
        .await;
    let mut unreachable = Vec::new();
    let mut short = Vec::new();
    for (account, r) in results {
        match r {
            Err(e) => unreachable.push(format!("{account}: {e}")),
            Ok(denied) if !denied.is_empty() => {
                short.push(format!("{account}: not allowed {}", list(&denied)));
            }
            Ok(_) => {}
        }
    }
    unreachable.sort();
    short.sort();
    if unreachable.is_empty() && short.is_empty() {
        return ok(
            "member role",
            format!(
                "`{}` assumed in all {} other account(s); it allows the {} actions Latch calls there",
                aws_cfg.member_role,
                targets.len(),
                actions.len()
            ),
        );
    }
    let mut problems = unreachable;
    problems.extend(short);
    fail(
        "member role",
        format!(
            "{} of {} account(s): {}",
            problems.len(),
            targets.len(),
            problems.into_iter().take(10).collect::<Vec<_>>().join("; ")
        ),
        "deploy deploy/cloudformation/member-stackset.yaml to every account (service-managed StackSet with auto-deployment), trusting this account",
    )
}

/// The local clock against the AWS endpoint's `Date` header: AWS refuses signatures more than
/// five minutes off, and grants end by this clock.
async fn clock_check(aws_cfg: &latch_server::config::AwsConfig, region: &str) -> Check {
    let url = aws_cfg.endpoint_url.clone().unwrap_or_else(|| {
        format!(
            "https://sts.{}.amazonaws.com/",
            if region.is_empty() {
                "us-east-1"
            } else {
                region
            }
        )
    });
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let sent = std::time::SystemTime::now();
    let answer = match http.get(&url).send().await {
        Ok(a) => a,
        Err(e) => {
            return warn(
                "clock",
                format!("cannot reach {url}: {}", e.without_url()),
                "check the network path to AWS",
            )
        }
    };
    let received = std::time::SystemTime::now();
    let Some(theirs) = answer
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(latch_time::Timestamp::parse_http_date)
    else {
        return warn(
            "clock",
            format!("{url} sent no usable Date header"),
            "compare the clock with an NTP source by hand",
        );
    };
    let secs = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    // The header has whole seconds, taken somewhere between sending and receiving.
    let mid = (secs(sent) + secs(received)) / 2.0;
    #[expect(
        clippy::cast_precision_loss,
        reason = "seconds since 1970 fit in f64 exactly"
    )]
    let skew = mid - theirs.0 as f64;
    let slack = (secs(received) - secs(sent)) / 2.0 + 1.0;
    let off = (skew.abs() - slack).max(0.0);
    let detail = format!(
        "this machine's clock is {:.0} s {} {url}'s",
        skew.abs(),
        if skew >= 0.0 { "ahead of" } else { "behind" }
    );
    if off > 240.0 {
        fail(
            "clock",
            detail,
            "synchronise the clock (chrony, systemd-timesyncd): AWS refuses requests signed more than 5 minutes off, and grants end by this clock",
        )
    } else if off > 30.0 {
        warn(
            "clock",
            detail,
            "synchronise the clock (chrony, systemd-timesyncd): grants end by this clock",
        )
    } else {
        ok(
            "clock",
            format!("in step with {url} (within {:.0} s)", slack.ceil()),
        )
    }
}

async fn slack_check(config: &Config) -> Check {
    let Some(slack) = &config.slack else {
        return skip("slack", "no [slack] section");
    };
    let client =
        latch_server::slack::client::SlackClient::new(&slack.api_base, slack.bot_token.clone());
    match client.auth_test().await {
        Ok((team, user)) => ok("slack", format!("the bot token works: {user} in {team}")),
        Err(e) => fail(
            "slack",
            e.to_string(),
            "put the app's current Bot User OAuth Token in [slack] bot_token (deploy/slack-manifest.yaml lists its scopes)",
        ),
    }
}

async fn teams_check(config: &Config) -> Check {
    let Some(teams) = &config.teams else {
        return skip("teams", "no [teams] section");
    };
    let connector = latch_server::teams::connector::Connector::new(
        &teams.token_url,
        &teams.app_id,
        teams.app_secret.clone(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match connector.check_credentials(now).await {
        Ok(()) => ok(
            "teams",
            format!("the bot's app id {} obtains a token", teams.app_id),
        ),
        Err(e) => fail(
            "teams",
            e.to_string(),
            "check [teams] app_id, tenant and app_secret (a client secret of the bot's app registration; they expire)",
        ),
    }
}

async fn oidc_check(config: &Config) -> Check {
    let Some(oidc) = &config.web.oidc else {
        return skip(
            "sign-in",
            "no [web.oidc] section (the console takes API tokens)",
        );
    };
    let public = config.web.public_url.clone().unwrap_or_default();
    let provider = latch_server::web::oidc::Provider::new(oidc.clone(), &public);
    match provider.check().await {
        Ok(keys) => ok(
            "sign-in",
            format!("{} answers: discovery document and {keys} signing key(s)", oidc.issuer),
        ),
        Err(e) => fail(
            "sign-in",
            e,
            "check [web.oidc] issuer (exactly as the provider names itself) and the network path to it",
        ),
    }
}

/// A probe put on `bus`, and its arrival in the audit log (`pipeline.probe`) awaited.
async fn probe_check(
    aws: &latch_aws::Aws,
    bus: &str,
    store: Option<&Arc<dyn Store>>,
    timeout_secs: u64,
) -> Check {
    const CHECK: &str = "pipeline probe";
    let Some(store) = store else {
        return skip(
            CHECK,
            "the database could not be read, so an arrival could not be seen",
        );
    };
    let Some(hex) = random_hex() else {
        return fail(
            CHECK,
            "no random numbers from the operating system",
            "check /dev/urandom",
        );
    };
    let probe = format!("probe-{hex}");
    if let Err(e) = latch_aws::pipeline::send_probe(aws, bus, &probe).await {
        return fail(
            CHECK,
            e.to_string(),
            "deploy deploy/cloudformation/denial-central.yaml in this account and region, and let the control-plane role put events on its bus (management.yaml does)",
        );
    }
    let search = latch_grant::records::AuditSearch {
        kind_prefix: Some("pipeline.probe".to_owned()),
        text: Some(probe.clone()),
        limit: 1,
        ..latch_grant::records::AuditSearch::default()
    };
    let started = std::time::Instant::now();
    let deadline = std::time::Duration::from_secs(timeout_secs);
    loop {
        match store.audit_search(&search).await {
            Ok((found, _)) if !found.is_empty() => {
                let arrived = found
                    .first()
                    .map_or("?", |e| e.actor.as_deref().unwrap_or("?"));
                return ok(
                    CHECK,
                    format!(
                        "a synthetic denial put on {bus} reached the server in {:.1} s (posted by `{}`)",
                        started.elapsed().as_secs_f64(),
                        arrived
                    ),
                );
            }
            Ok(_) => {}
            Err(e) => return fail(CHECK, e.to_string(), "see the database check"),
        }
        if started.elapsed() >= deadline {
            return fail(
                CHECK,
                format!("a synthetic denial put on {bus} did not reach the server within {timeout_secs} s"),
                "check the bus's rule and API destination (its endpoint is [web] public_url/api/v1/events), the connection's ingest token, that the server is reachable from EventBridge, and the rule's failed invocations in CloudWatch",
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// 16 random hex digits (the probe's id), from the operating system's generator.
fn random_hex() -> Option<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The denial pipeline posts with an `ingest` token to `/api/v1/events`, which needs
/// `[offers]`.
async fn pipeline_check(config: &Config, store: Option<&Arc<dyn Store>>) -> Check {
    if config.offers.is_none() {
        return skip(
            "denial pipeline",
            "no [offers] section: denials are not turned into offers",
        );
    }
    let Some(store) = store else {
        return skip("denial pipeline", "the database could not be read");
    };
    match store.tokens().await {
        Ok(tokens) => {
            let ingest = tokens
                .iter()
                .filter(|t| t.revoked_at.is_none() && t.role == Role::Ingest)
                .count();
            if ingest == 0 {
                warn(
                    "denial pipeline",
                    "[offers] is on but no live `ingest` token exists: the pipeline's API destination cannot post",
                    "latch token create --role ingest --subject eventbridge, and put it in the EventBridge connection (docs/deploy.md)",
                )
            } else {
                ok(
                    "denial pipeline",
                    format!("[offers] is on; {ingest} live ingest token(s) for the pipeline"),
                )
            }
        }
        Err(e) => fail("denial pipeline", e.to_string(), "see the database check"),
    }
}
