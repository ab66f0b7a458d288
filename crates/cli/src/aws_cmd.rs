//! `latch collect`, `latch apply`, `latch drift`, `latch emergency-stop`, `latch resync`:
//! the commands that talk to AWS (through `latch-aws`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context};
use latch_aws::apply::{execute, plan_changes, AccountAccess, Record};
use latch_aws::drift::{detect, emergency_stop_changes, load_grants};
use latch_aws::{
    collect, last_accessed::LastAccessedOptions, AppliedState, Aws, AwsOptions, Change,
    CloudTrailSource, CollectConfig, CollectReport, Plan, Progress, ProgressEvent, WorkloadRegions,
};
use serde_json::json;

/// Output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns, for people.
    #[default]
    Table,
    /// JSON, for programs.
    Json,
}

/// How to reach AWS (the AWS CLI's conventions).
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// Named profile from ~/.aws/config (default: AWS_PROFILE, then the default chain:
    /// environment, profiles, SSO, container and instance roles).
    #[arg(long)]
    profile: Option<String>,
    /// Region (default: AWS_REGION, the profile's, then us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// Endpoint for every AWS service: an emulator or a VPC endpoint.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Attempts per call, with exponential backoff on throttling; 1 disables retries.
    #[arg(long, default_value_t = 5, value_name = "N")]
    max_attempts: u32,
    /// Accounts worked on at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    concurrency: usize,
}

/// Which role to assume in member accounts.
#[derive(Debug, Clone, clap::Args)]
pub struct AccessArgs {
    /// Role assumed in member accounts.
    #[arg(long, default_value = latch_aws::DEFAULT_ROLE_NAME, value_name = "NAME")]
    role: String,
    /// Another role for one account, as ACCOUNT=ROLE (repeatable).
    #[arg(long = "role-for", value_name = "ACCOUNT=ROLE")]
    role_for: Vec<String>,
}

impl AccessArgs {
    fn overrides(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for item in &self.role_for {
            let Some((account, role)) = item.split_once('=') else {
                bail!("--role-for `{item}`: expected ACCOUNT=ROLE");
            };
            if !latch_aws::plan::is_account_id(account) || role.is_empty() {
                bail!("--role-for `{item}`: expected a 12-digit account id and a role name");
            }
            out.insert(account.to_owned(), role.to_owned());
        }
        Ok(out)
    }

    fn access(&self, session_name: &str) -> anyhow::Result<AccountAccess> {
        Ok(AccountAccess {
            role_name: self.role.clone(),
            role_overrides: self.overrides()?,
            session_name: session_name.to_owned(),
        })
    }
}

/// Arguments of `latch collect`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  latch collect --out snap/                                   # the organization and every account's IAM
  latch collect --out snap/ --profile org-admin --role-for 111122223333=AuditRole
  latch collect --out snap/ --cloudtrail-bucket org-trail --cloudtrail-prefix logs --since 2026-09-01
  latch collect --out snap/ --endpoint-url http://127.0.0.1:5000 --max-attempts 1   # an emulator

Run it with management-account credentials (or a delegated administrator). Each member account is
read through --role; an account that cannot be reached is reported and left out, and the
snapshot's not_analysed says so. Then: latch-model loads DIR (docs/snapshot-format.md).")]
pub struct CollectArgs {
    /// The snapshot directory to write (must be absent or empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    source: CollectSource,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Where and how to read a live organization (shared by `latch collect` and `latch scan --aws`).
#[derive(Debug, clap::Args)]
pub struct CollectSource {
    #[command(flatten)]
    access: AccessArgs,
    /// S3 bucket holding the CloudTrail logs (none copied without it).
    #[arg(long, value_name = "BUCKET")]
    cloudtrail_bucket: Option<String>,
    /// Key prefix above AWSLogs/ in that bucket.
    #[arg(long, default_value = "", value_name = "PREFIX")]
    cloudtrail_prefix: String,
    /// Window start: a date (2026-09-01) or RFC 3339 time; default 90 days ago.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Window end; default now.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Regions in which to list the resources that run as roles (functions, instances,
    /// stacks, projects, Glue jobs and dev endpoints, notebooks, task definitions) into
    /// accounts/<id>/workloads.json: `enabled` (every region enabled for the account), a
    /// comma-separated list, or `none` (the escalation graph then assumes they exist).
    #[arg(long, default_value = "enabled", value_name = "REGIONS")]
    workload_regions: String,
    /// Also ask IAM, for every user and role, when it last attempted each service and each
    /// tracked action (Access Advisor, 400 days of history) into
    /// accounts/<id>/last-accessed.json. It settles usage CloudTrail cannot show (data events
    /// not logged): an action attempted in the window is used, a service not attempted in it
    /// unused. Two or more IAM calls per identity, a few jobs at a time.
    #[arg(long)]
    last_accessed: bool,
    /// How long one identity's last-accessed job may take before it is reported as failed.
    #[arg(
        long,
        default_value_t = 300,
        value_name = "SECONDS",
        requires = "last_accessed"
    )]
    last_accessed_timeout: u64,
    #[command(flatten)]
    aws: AwsArgs,
}

/// `--workload-regions`: `enabled`, `none` or a comma-separated list of region names.
fn workload_regions(arg: &str) -> anyhow::Result<WorkloadRegions> {
    match arg.trim() {
        "enabled" => return Ok(WorkloadRegions::Enabled),
        "none" => return Ok(WorkloadRegions::Skip),
        _ => {}
    }
    let mut regions = Vec::new();
    for r in arg.split(',').map(str::trim) {
        let valid = !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && r.contains('-');
        if !valid {
            bail!(
                "--workload-regions: `{r}` is not a region name (give `enabled`, `none`, or \
                 names such as `us-east-1,eu-west-1`)"
            );
        }
        if !regions.iter().any(|x| x == r) {
            regions.push(r.to_owned());
        }
    }
    Ok(WorkloadRegions::Listed(regions))
}

/// Arguments of `latch apply` and `latch resync`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  latch apply --plan firewall/ --dry-run          # the diff and the exact AWS calls, changes nothing
  latch apply --plan firewall/                    # show the diff, ask, apply
  latch apply --plan firewall/ --yes --format json
  latch apply --plan firewall/ --yes --accept-unknown-usage   # a plan that may break identities

The plan directory holds plan.json (latch.plan/v1). A plan that protects actions whose use the
trails cannot show (data events not logged: latch.toml names s3:GetObject, say) lists everyone
who holds them as \"may break\" (`latch plan` shows them); apply refuses such a plan unless given
--accept-unknown-usage. Changes run in a safe order: policy types,
new and edited policies, tags, attachments, then detachments (a new deny is in force before an old
one goes), deletions, untagging. Latch only touches policies named latch-* that carry the tag
latch:managed=true. What was done is recorded in DIR/applied.json after every change; running
apply again after a failure converges, and with nothing to change does nothing.")]
pub struct ApplyArgs {
    /// The plan directory (holding plan.json; applied.json is written there).
    #[arg(long, value_name = "DIR")]
    plan: PathBuf,
    /// Apply without asking.
    #[arg(long)]
    yes: bool,
    /// Print the diff and the AWS calls; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Apply even though the plan may break identities: it protects actions they hold whose
    /// use the trails cannot show (data events not logged), so no replay could say whether
    /// they use them. Without it, such a plan is refused.
    #[arg(long)]
    accept_unknown_usage: bool,
    #[command(flatten)]
    access: AccessArgs,
    #[command(flatten)]
    aws: AwsArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Refuses a plan that may break identities whose use of a protected action is unknown,
/// unless the operator accepted that (`--accept-unknown-usage`); a dry run only warns.
fn check_unknown_usage(plan: &Plan, args: &ApplyArgs) -> anyhow::Result<()> {
    let who = plan.may_break_principals();
    if who.is_empty() {
        return Ok(());
    }
    let mut reasons: Vec<&str> = plan
        .summary
        .may_break
        .iter()
        .map(|m| m.reason.as_str())
        .collect();
    reasons.sort_unstable();
    reasons.dedup();
    let shown: Vec<&str> = who.iter().take(5).copied().collect();
    let what = format!(
        "{} identit{} may break ({}{}): the plan protects actions they hold whose use the trails cannot show ({}), so nothing could tell whether they use them",
        who.len(),
        if who.len() == 1 { "y" } else { "ies" },
        shown.join(", "),
        if who.len() > shown.len() { ", ..." } else { "" },
        reasons.join("; ")
    );
    if args.accept_unknown_usage {
        eprintln!("warning: {what}; applying anyway (--accept-unknown-usage)");
        return Ok(());
    }
    if args.dry_run {
        eprintln!(
            "warning: {what}; `latch apply` will refuse this plan without --accept-unknown-usage"
        );
        return Ok(());
    }
    bail!(
        "refusing to apply {}: {what}. Plan again with CloudTrail that records those calls (a trail data-event selector for data events), take the actions out of latch.toml, or pass --accept-unknown-usage to apply knowing those identities may lose access they use (plan.json `summary.may_break` lists them)",
        latch_aws::plan::plan_file(&args.plan).display()
    )
}

/// Arguments of `latch drift`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  latch drift --plan firewall/                          # exit 0: matches; 1: drift found
  latch drift --plan firewall/ --grants grants.json     # latch:* tags of live grants are expected
  latch drift --plan firewall/ --repair                 # restore the plan, remove unexplained tags

Drift is: a Latch policy missing, edited, detached from a planned target or attached elsewhere; a
Latch policy the plan does not have; a planned tag missing; a latch:* tag on a user or role that
neither the plan nor a known grant explains; an account that could not be checked.
The grants file: {\"format\": \"latch.grants/v1\", \"grants\": [{\"principal_arn\", \"key\", \"value\"?}]}.")]
pub struct DriftArgs {
    /// The plan directory.
    #[arg(long, value_name = "DIR")]
    plan: PathBuf,
    /// Grants Latch knows about (their latch:* tags are expected).
    #[arg(long, value_name = "FILE")]
    grants: Option<PathBuf>,
    /// Restore what drifted.
    #[arg(long)]
    repair: bool,
    #[command(flatten)]
    access: AccessArgs,
    #[command(flatten)]
    aws: AwsArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Arguments of `latch emergency-stop`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  latch emergency-stop --dry-run                  # what would be detached
  latch emergency-stop --yes --plan firewall/     # detach now, record it in firewall/applied.json
  latch resync --plan firewall/                   # put everything back afterwards

Detaches every Latch policy (named latch-* and tagged latch:managed=true) from every root, OU and
account, leaving the policies in place. The break-glass for when Latch itself is the problem.")]
pub struct StopArgs {
    /// Detach without asking.
    #[arg(long)]
    yes: bool,
    /// Print what would be detached; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// A plan directory whose applied.json records the stop.
    #[arg(long, value_name = "DIR")]
    plan: Option<PathBuf>,
    #[command(flatten)]
    aws: AwsArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Progress on stderr: a bar on a terminal, otherwise one line per item.
struct StderrProgress {
    phase: Mutex<(String, usize)>,
    done: AtomicUsize,
    quiet: bool,
    bar: crate::progress::Bar,
}

impl StderrProgress {
    fn new(quiet: bool) -> StderrProgress {
        StderrProgress {
            phase: Mutex::new((String::new(), 0)),
            done: AtomicUsize::new(0),
            quiet,
            bar: crate::progress::Bar::new("", quiet),
        }
    }
}

/// Before a run that writes AWS Organizations policies: how many, and the least time AWS's
/// rate allows for them (Latch paces its writes to that rate).
fn announce_pacing(changes: &[Change]) {
    let (writes, ms) = latch_aws::apply::least_time(changes);
    let Some(rate) = latch_aws::pacing::Family::PolicyWrite.rate() else {
        return;
    };
    if writes == 0 {
        return;
    }
    eprintln!(
        "{writes} AWS Organizations policy writes: AWS accepts {} a second (bursts of {}), so this \
         takes at least {}",
        rate.per_second,
        rate.burst,
        crate::progress::duration_text(ms)
    );
}

/// After the run: how long it took against the least time.
fn report_pacing(changes: &[Change], progress: &StderrProgress) {
    let (writes, ms) = latch_aws::apply::least_time(changes);
    if writes == 0 || progress.quiet {
        return;
    }
    let took = u64::try_from(progress.bar.elapsed().as_millis()).unwrap_or(u64::MAX);
    eprintln!(
        "{writes} policy writes in {} (the least AWS's rate allows: {})",
        crate::progress::duration_text(took),
        crate::progress::duration_text(ms)
    );
}

impl Progress for StderrProgress {
    fn event(&self, event: ProgressEvent) {
        if self.quiet {
            return;
        }
        match event {
            ProgressEvent::Phase { name, total } => {
                if let Ok(mut p) = self.phase.lock() {
                    *p = (name, total);
                }
                self.done.store(0, Ordering::SeqCst);
            }
            ProgressEvent::Item { item, ok, detail } => {
                let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
                let (name, total) = self
                    .phase
                    .lock()
                    .map(|p| p.clone())
                    .unwrap_or_else(|_| (String::new(), 0));
                let count = if total > 0 {
                    format!("{n}/{total}")
                } else {
                    n.to_string()
                };
                let mark = if ok { "ok" } else { "FAILED" };
                if self.bar.is_on() && ok {
                    let total = u64::try_from(total.max(n)).unwrap_or(u64::MAX);
                    let n = u64::try_from(n).unwrap_or(u64::MAX);
                    self.bar.draw(n, total, &format!("{name}: {item} {detail}"));
                } else {
                    eprintln!("[{name} {count}] {item} {mark}: {detail}");
                }
            }
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn connect(args: &AwsArgs) -> anyhow::Result<Aws> {
    let options = AwsOptions {
        profile: args.profile.clone(),
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        max_attempts: args.max_attempts,
        concurrency: args.concurrency,
    };
    Ok(Aws::connect(&options).await?)
}

fn time_arg(text: &str, flag: &str) -> anyhow::Result<i64> {
    latch_aws::time::parse_time(text).with_context(|| {
        format!("{flag} `{text}`: expected a date (2026-09-01) or an RFC 3339 time")
    })
}

/// `latch collect`.
/// Collects the live organization into `out` (a snapshot directory).
pub fn collect_into(source: &CollectSource, out: &Path) -> anyhow::Result<CollectReport> {
    let now = latch_aws::time::now_millis();
    let cloudtrail = match &source.cloudtrail_bucket {
        None => None,
        Some(bucket) => {
            let end = match &source.until {
                Some(t) => time_arg(t, "--until")?,
                None => now,
            };
            let start = match &source.since {
                Some(t) => time_arg(t, "--since")?,
                None => end - 90 * 86_400_000,
            };
            if start > end {
                bail!("--since is after --until");
            }
            Some(CloudTrailSource {
                bucket: bucket.clone(),
                prefix: source.cloudtrail_prefix.clone(),
                start_millis: start,
                end_millis: end,
            })
        }
    };
    let access = source.access.access("latch-collect")?;
    let config = CollectConfig {
        out: out.to_path_buf(),
        role_name: access.role_name,
        role_overrides: access.role_overrides,
        session_name: access.session_name,
        cloudtrail,
        workloads: workload_regions(&source.workload_regions)?,
        last_accessed: source.last_accessed.then(|| LastAccessedOptions {
            timeout: std::time::Duration::from_secs(source.last_accessed_timeout.max(1)),
            ..LastAccessedOptions::default()
        }),
    };
    let progress = StderrProgress::new(false);
    runtime()?.block_on(async {
        let aws = connect(&source.aws).await?;
        anyhow::Ok(collect(&aws, &config, &progress).await?)
    })
}

/// Runs `latch collect`.
pub fn run_collect(args: &CollectArgs) -> anyhow::Result<ExitCode> {
    let report = collect_into(&args.source, &args.out)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "organization {} (management account {}) -> {}",
                report.organization_id,
                report.management_account_id,
                report.out.display()
            )?;
            writeln!(
                out,
                "{:<14} {:<10} {:<24} DETAIL",
                "ACCOUNT", "STATUS", "NAME"
            )?;
            for a in &report.accounts {
                writeln!(
                    out,
                    "{:<14} {:<10} {:<24} {}",
                    a.account_id, a.status, a.name, a.detail
                )?;
            }
            if let Some(ct) = &report.cloudtrail {
                writeln!(
                    out,
                    "cloudtrail: {} files, {} bytes, accounts {}",
                    ct.files,
                    ct.bytes,
                    ct.accounts.join(", ")
                )?;
            }
            if let Some(e) = &report.cloudtrail_error {
                writeln!(out, "cloudtrail: FAILED: {e}")?;
            }
            if let Some(e) = &report.trails_error {
                writeln!(out, "trails: not recorded: {e}")?;
            }
            if let Some(ic) = &report.identity_center {
                writeln!(out, "identity center: {ic}")?;
            }
            if let Some(e) = &report.identity_center_error {
                writeln!(out, "identity center: not recorded: {e}")?;
            }
            for n in &report.notes {
                writeln!(out, "note: {n}")?;
            }
            for n in &report.not_analysed {
                writeln!(out, "not analysed: {n}")?;
            }
        }
    }
    let failed = report.failed().count();
    if failed > 0 {
        eprintln!(
            "warning: {failed} of {} accounts not collected (see above); the snapshot records them in not_analysed",
            report.accounts.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_changes(
    changes: &[Change],
    format: Format,
    dry_run: bool,
    title: &str,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            let calls: Vec<String> = changes.iter().map(Change::api_call).collect();
            let v = if dry_run {
                json!({"changes": changes, "calls": calls})
            } else {
                json!({"changes": changes})
            };
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Table => {
            let mut out = std::io::stdout().lock();
            if changes.is_empty() {
                writeln!(out, "{title}: no changes")?;
                return Ok(());
            }
            writeln!(out, "{title}: {} changes", changes.len())?;
            for (i, c) in changes.iter().enumerate() {
                writeln!(out, "{:>3}. {:<8} {}", i + 1, c.verb(), c.describe())?;
            }
            if dry_run {
                writeln!(out, "calls (dry run, nothing was changed):")?;
                for c in changes {
                    writeln!(out, "  {}", c.api_call())?;
                }
            }
        }
    }
    Ok(())
}

fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("not changing AWS without confirmation: pass --yes (or run interactively)");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// `latch apply` (and `latch resync`, which re-applies the same plan).
pub fn run_apply(args: &ApplyArgs, title: &str) -> anyhow::Result<ExitCode> {
    let plan = latch_aws::plan::load(&args.plan)?;
    check_unknown_usage(&plan, args)?;
    let state = AppliedState::load(&args.plan)?;
    let access = args.access.access("latch-apply")?;
    let rt = runtime()?;
    let aws = rt.block_on(connect(&args.aws))?;
    let diff = rt.block_on(plan_changes(&aws, &plan, &state, &access))?;
    let quiet = args.format == Format::Json;
    if let (Some(root), false) = (&diff.bound_root, quiet) {
        eprintln!(
            "The plan was made without organization.json: its root `{}` is this \
             organization's root `{root}`.",
            latch_contract::UNKNOWN_ROOT
        );
    }
    if args.dry_run || diff.changes.is_empty() {
        print_changes(&diff.changes, args.format, args.dry_run, title)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !quiet {
        print_changes(&diff.changes, args.format, false, title)?;
    }
    announce_pacing(&diff.changes);
    if !confirm(
        &format!("Apply {} changes to AWS?", diff.changes.len()),
        args.yes,
    )? {
        eprintln!("nothing changed");
        return Ok(ExitCode::from(1));
    }
    let progress = StderrProgress::new(quiet);
    rt.block_on(execute(
        &aws,
        &diff.changes,
        &access,
        Record::Plan(&args.plan, &plan),
        &progress,
    ))
    .with_context(|| {
        format!(
            "apply stopped; {} records how far it got, and running it again converges",
            AppliedState::file(&args.plan).display()
        )
    })?;
    report_pacing(&diff.changes, &progress);
    if quiet {
        print_changes(&diff.changes, args.format, false, title)?;
    } else {
        println!(
            "applied {} changes; recorded in {}",
            diff.changes.len(),
            AppliedState::file(&args.plan).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `latch drift`: exit 0 when the organization matches the plan, 1 when it drifted (0 after
/// a successful `--repair`).
pub fn run_drift(args: &DriftArgs) -> anyhow::Result<ExitCode> {
    let plan = latch_aws::plan::load(&args.plan)?;
    let state = AppliedState::load(&args.plan)?;
    let grants = match &args.grants {
        Some(f) => load_grants(f)?,
        None => Vec::new(),
    };
    let access = args.access.access("latch-drift")?;
    let rt = runtime()?;
    let aws = rt.block_on(connect(&args.aws))?;
    let report = rt.block_on(detect(&aws, &plan, &state, &grants, &access))?;
    let mut repaired = false;
    if args.repair && !report.is_clean() {
        announce_pacing(&report.repair);
        let progress = StderrProgress::new(args.format == Format::Json);
        rt.block_on(execute(
            &aws,
            &report.repair,
            &access,
            Record::Plan(&args.plan, &plan),
            &progress,
        ))
        .context("repair stopped; run it again to converge")?;
        report_pacing(&report.repair, &progress);
        let after = rt.block_on(detect(
            &aws,
            &plan,
            &AppliedState::load(&args.plan)?,
            &grants,
            &access,
        ))?;
        repaired = after.is_clean();
    }
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "drift": report.items,
                "repair": report.repair,
                "repaired": repaired,
            }))?
        ),
        Format::Table => {
            let mut out = std::io::stdout().lock();
            if report.is_clean() {
                writeln!(
                    out,
                    "no drift: the organization matches {}",
                    args.plan.display()
                )?;
            } else {
                writeln!(out, "drift: {} findings", report.items.len())?;
                for item in &report.items {
                    writeln!(out, "  - {}", item.describe())?;
                }
                if args.repair {
                    writeln!(
                        out,
                        "{}",
                        if repaired {
                            "repaired: the organization matches the plan again"
                        } else {
                            "repair incomplete: drift remains (see above)"
                        }
                    )?;
                } else {
                    writeln!(
                        out,
                        "repair with: latch drift --plan {} --repair",
                        args.plan.display()
                    )?;
                }
            }
        }
    }
    Ok(if report.is_clean() || repaired {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `latch emergency-stop`.
pub fn run_stop(args: &StopArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let aws = rt.block_on(connect(&args.aws))?;
    let changes = rt.block_on(emergency_stop_changes(&aws))?;
    let title = "emergency stop";
    if args.dry_run || changes.is_empty() {
        print_changes(&changes, args.format, args.dry_run, title)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.format == Format::Table {
        print_changes(&changes, args.format, false, title)?;
    }
    announce_pacing(&changes);
    if !confirm(
        &format!("Detach {} Latch policy attachments now?", changes.len()),
        args.yes,
    )? {
        eprintln!("nothing changed");
        return Ok(ExitCode::from(1));
    }
    let progress = StderrProgress::new(args.format == Format::Json);
    rt.block_on(execute(
        &aws,
        &changes,
        &AccountAccess::default(),
        Record::EmergencyStop(args.plan.as_deref()),
        &progress,
    ))?;
    report_pacing(&changes, &progress);
    match args.format {
        Format::Json => print_changes(&changes, args.format, false, title)?,
        Format::Table => println!(
            "detached {} attachments; put them back with: latch resync --plan DIR",
            changes.len()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
