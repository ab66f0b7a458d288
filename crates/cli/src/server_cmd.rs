//! `latch serve` and the permissions-on-demand client: `latch request`, `approve`, `deny`,
//! `grants`, `revoke`; `latch audit verify|export`; `latch token create|list`.
#![allow(clippy::print_stdout)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use latch_grant::{audit, Role};
use latch_grant::{CloudAdapter, FakeCloud};
use latch_server::api;
use latch_server::config::Config;
use latch_server::{launch_with_tcp_listener, Settings, SystemClock};
use serde_json::{json, Value};

/// Output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns, for people.
    #[default]
    Table,
    /// JSON, for programs.
    Json,
}

/// The server's commands (flattened into `latch`'s subcommands).
#[derive(Debug, clap::Subcommand)]
pub enum ServerCommand {
    #[command(verbatim_doc_comment)]
    /// Run the control-plane server: JSON API, Slack endpoints, scheduler, metrics.
    ///
    /// Examples:
    ///   latch serve --config latch.toml                   # grants land on AWS ([aws] section)
    ///   latch serve --config latch.toml --database postgres://latch@db/latch   # several servers, one leads
    ///   latch serve --config deploy/latch.example.toml --cloud memory         # try it: nothing reaches AWS
    Serve(ServeArgs),
    #[command(verbatim_doc_comment)]
    /// Ask for a permission bundle for a bounded time.
    ///
    /// Examples:
    ///   latch request iam-admin 1h "incident 4411"
    ///   latch request read-logs 30m "debug job 17" --format json
    ///   latch request iam-admin 15m "prod down" --break-glass     # granted at once, loudly recorded
    ///   latch request iam-admin 1h "INC-7" --account 111122223333  # an Identity Center user: that account's role
    ///   latch request iam-admin 1h "INC-7" --account 111122223333,444455556666  # approved once, one grant per account
    ///   latch request iam-admin 2h "CHG-88" --start 2026-12-08T09:00:00Z  # a change window, approved ahead
    Request(RequestArgs),
    #[command(verbatim_doc_comment)]
    /// Approve a pending request (you must be one of its named approvers, never its requester).
    ///
    /// Example: latch approve r-abc123 --comment "ok for INC-4411"
    Approve(DecideArgs),
    #[command(verbatim_doc_comment)]
    /// Deny a pending request.
    ///
    /// Example: latch deny r-abc123 --comment "use the read-only bundle"
    Deny(DecideArgs),
    #[command(verbatim_doc_comment)]
    /// List grants (yours with a requester token; everyone's with an approver or admin token).
    ///
    /// Examples:
    ///   latch grants                 # live ones
    ///   latch grants --status all --format json
    Grants(GrantsArgs),
    #[command(verbatim_doc_comment)]
    /// Revoke a grant before it expires (optionally cutting off sessions issued before now).
    ///
    /// Example: latch revoke g-xyz789 --reason "done" --cut-sessions
    Revoke(RevokeArgs),
    #[command(verbatim_doc_comment)]
    /// Ask for more time on your own live grant: granted at once within the bundle's
    /// self_extend (or for an auto-approved bundle), else sent to the bundle's approvers; never
    /// beyond the bundle's max_total.
    ///
    /// Example: latch extend g-xyz789 30m "the migration runs long"
    Extend(ExtendArgs),
    #[command(verbatim_doc_comment)]
    /// Give your own grant back before it ends ("I'm done"): removed at once, like a
    /// revocation, and recorded as relinquished.
    ///
    /// Example: latch relinquish g-xyz789 --reason "fixed, INC-4411 closed"
    Relinquish(RevokeArgs),
    /// The hash-chained audit log: verify it, export it as JSON Lines.
    Audit {
        #[command(subcommand)]
        /// What to do.
        cmd: AuditCommand,
    },
    #[command(verbatim_doc_comment)]
    /// The people directory ([identity_center]): sync it now instead of at the next refresh.
    ///
    /// Example: latch directory sync      # after offboarding someone (admin token)
    Directory {
        #[command(subcommand)]
        /// What to do.
        cmd: DirectoryCommand,
    },
    /// The organization's posture for the console: send scan, plan and prove results.
    Report {
        #[command(subcommand)]
        /// What to do.
        cmd: ReportCommand,
    },
    #[command(verbatim_doc_comment)]
    /// Copy a SQLite database while servers run on it: one consistent snapshot, written to a
    /// new file readable by its owner only, its audit log verified.
    ///
    /// Examples:
    ///   latch backup --database latch.db --out backups/latch-2026-12-08.db
    ///   latch backup --database /var/lib/latch/latch.db --out /backups/latch.db --format json
    Backup(crate::backup_cmd::BackupArgs),
    #[command(verbatim_doc_comment)]
    /// Put a backup in place as the database, once its audit log verifies. Stop the servers
    /// using the database first; a database already there is renamed, never deleted.
    ///
    /// Examples:
    ///   latch restore --from backups/latch-2026-12-08.db --database latch.db
    ///   latch restore --from backups/latch-2026-12-08.db --database latch.db --force   # replace it
    Restore(crate::backup_cmd::RestoreArgs),
    #[command(verbatim_doc_comment)]
    /// Probe a server's health endpoint: exit 0 when it answers 200, 1 otherwise. For a
    /// container's HEALTHCHECK (the image has no shell or curl) or a script.
    ///
    /// Examples:
    ///   latch health                                  # http://127.0.0.1:8080/healthz
    ///   latch health http://127.0.0.1:8080/readyz     # ready: store, leader and cloud answer
    Health(HealthArgs),
    /// API tokens, created directly in the database (bootstrap the first admin this way).
    Token {
        #[command(subcommand)]
        /// What to do.
        cmd: TokenCommand,
    },
}

/// Arguments of `latch health`.
#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// The URL to probe.
    #[arg(default_value = "http://127.0.0.1:8080/healthz")]
    url: String,
    /// How long to wait for the answer, in seconds.
    #[arg(long, default_value_t = 3)]
    timeout: u64,
}

/// Arguments of `latch serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The configuration file ([server], [slack], [identities], [bundles.*], [[approval]]).
    #[arg(long, default_value = "latch.toml")]
    config: PathBuf,
    /// Database: a SQLite file path (default from the config: latch.db) or postgres://…
    #[arg(long)]
    database: Option<String>,
    /// Listen address for the API (overrides [server] listen).
    #[arg(long)]
    listen: Option<String>,
    /// Where grants land: `aws` (the [aws] section, or the default credential chain when it is
    /// absent) or `memory` (an in-memory cloud: nothing reaches AWS, for trying Latch out).
    /// Default: `aws` when the configuration has an [aws] section; without one, it must be
    /// given.
    #[arg(long, value_enum)]
    cloud: Option<CloudKind>,
    /// Log lines on standard error: `text` for people, `json` for a log pipeline (one object
    /// per line, with the request id of every line logged while serving a request).
    #[arg(long, value_enum, env = "LATCH_LOG_FORMAT", default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How `latch serve` writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where `latch serve` applies grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CloudKind {
    /// AWS, through the [aws] section.
    Aws,
    /// An in-memory cloud (nothing reaches AWS).
    Memory,
}

/// Where the server is and who you are.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// Server URL.
    #[arg(long, env = "LATCH_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// API token (from `latch token create` or an admin).
    #[arg(long, env = "LATCH_TOKEN", hide_env_values = true)]
    token: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Arguments of `latch request`.
#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    /// Bundle name (from the firewall configuration).
    bundle: String,
    /// How long: 30m, 1h, 1h30m, …
    duration: String,
    /// Why (incident, ticket); several words are joined.
    #[arg(required = true, num_args = 1..)]
    reason: Vec<String>,
    /// Grant at once without approval (only for people on the break-glass list; loudly recorded).
    #[arg(long)]
    break_glass: bool,
    /// The account the grant is for (IAM Identity Center users: the grant lands on your role in
    /// that account only; needed when you reach several). Several (comma-separated or repeated,
    /// at most 20): one request, approved once, one grant per account, each applied or failing
    /// on its own; refused whole if any account is not yours.
    #[arg(long, value_name = "ACCOUNT_ID", value_delimiter = ',')]
    account: Vec<String>,
    /// The permission set whose role receives it (in every account named), when you reach an
    /// account through several.
    #[arg(long, value_name = "NAME")]
    permission_set: Option<String>,
    /// Start later (RFC 3339), for a change window approved ahead: applied at the start and
    /// ending DURATION after it (at most 30 days ahead).
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// Arguments of `latch extend`.
#[derive(Debug, clap::Args)]
pub struct ExtendArgs {
    /// Grant id (`g-…`).
    id: String,
    /// How much longer: 30m, 1h, …
    duration: String,
    /// Why; several words are joined.
    #[arg(required = true, num_args = 1..)]
    reason: Vec<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// `latch directory …`.
#[derive(Debug, clap::Subcommand)]
pub enum DirectoryCommand {
    /// Read IAM Identity Center now and apply what changed (people who left lose their grants).
    Sync(ClientArgs),
}

/// `latch report …`.
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    #[command(verbatim_doc_comment)]
    /// Send scan, plan and prove results to the server's posture page (an admin token).
    ///
    /// Each path is a scan report (`latch scan --format json`), a plan directory
    /// (`latch plan --out DIR`) or its plan.json, or a prove report (`latch prove --format
    /// json`); which one is read from the file. The server keeps a summary of each (the
    /// latest is shown, every one counts in the trends); sending the same file again changes
    /// nothing.
    ///
    /// Examples:
    ///   latch scan --snapshot snap/ --format json --out scan.json
    ///   latch plan --snapshot snap/ --out plan/
    ///   latch prove --snapshot snap/ --plan plan/ --format json > prove.json
    ///   latch report push --server https://latch.example.com scan.json plan/ prove.json
    Push(PushArgs),
}

/// Arguments of `latch report push`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// Scan reports, plan directories (or plan.json files) and prove reports.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    client: ClientArgs,
}

/// Arguments of `latch approve` / `latch deny`.
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    /// Request id (`r-…`).
    id: String,
    /// A comment for the record.
    #[arg(long)]
    comment: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// Arguments of `latch grants`.
#[derive(Debug, clap::Args)]
pub struct GrantsArgs {
    /// live (default), all, or one status: approved, active, expiring, revoking, expired, revoked.
    #[arg(long, default_value = "live")]
    status: String,
    #[command(flatten)]
    client: ClientArgs,
}

/// Arguments of `latch revoke`.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// Grant id (`g-…`).
    id: String,
    /// Why (default: "revoked from the command line"; for `relinquish`, "done").
    #[arg(long)]
    reason: Option<String>,
    /// Also end every session of the identity issued before now (aws:TokenIssueTime), whatever
    /// it was used for, not only this grant; default from the server's revoke_sessions.
    #[arg(long)]
    cut_sessions: bool,
    /// Keep sessions issued before now working until their tag lookups fail.
    #[arg(long, conflicts_with = "cut_sessions")]
    keep_sessions: bool,
    #[command(flatten)]
    client: ClientArgs,
}

/// `latch audit …`
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    #[command(verbatim_doc_comment)]
    /// Check the hash chain: any edited, removed or reordered entry is reported (exit 1).
    ///
    /// The chain alone cannot show that its newest entries were removed: anchor it with the
    /// head hash or entry count recorded earlier (--head, --expect-count).
    ///
    /// Examples:
    ///   latch audit verify --database latch.db
    ///   latch audit verify --file audit.jsonl --expect-count 1042 --head 3f9a…
    ///   latch audit verify --server https://latch.example.com --token $LATCH_TOKEN
    Verify(VerifyArgs),
    #[command(verbatim_doc_comment)]
    /// Write the whole log as JSON Lines (one canonical JSON record per line).
    ///
    /// Example: latch audit export --database postgres://… --output audit.jsonl
    Export(ExportArgs),
    #[command(verbatim_doc_comment)]
    /// Create the Ed25519 key the server signs audit checkpoints with ([audit]
    /// signing_key_file). The file is created mode 0600 and never overwritten; the public key
    /// is printed, for `latch audit verify --public-key`.
    ///
    /// Example: latch audit keygen --out /etc/latch/audit.key
    Keygen {
        /// The key file to create.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Where the audit log comes from.
#[derive(Debug, clap::Args)]
pub struct AuditSource {
    /// Read the database directly (SQLite path or postgres://…).
    #[arg(long, conflicts_with = "file")]
    database: Option<String>,
    /// Read an export (JSON Lines).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Ask a server (admin token); used when neither --file nor --database is given.
    #[arg(long, env = "LATCH_SERVER")]
    server: Option<String>,
    /// API token for --server.
    #[arg(long, env = "LATCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Arguments of `latch audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    source: AuditSource,
    /// The log must end at exactly this entry: the hash of its newest entry, as an earlier
    /// `latch audit verify` printed it (64 hex digits).
    #[arg(long, value_name = "HASH", value_parser = parse_hash)]
    head: Option<String>,
    /// The log must hold exactly this many entries.
    #[arg(long, value_name = "N")]
    expect_count: Option<usize>,
    /// Signed checkpoints (JSON Lines, as the server publishes them): every one must verify
    /// with a --public-key, and the log must still hold each checkpoint's count of entries
    /// with its head hash at that position.
    #[arg(long, value_name = "FILE", requires = "public_key")]
    checkpoint: Option<PathBuf>,
    /// The public key checkpoints are signed with (64 hex digits, from `latch audit keygen`);
    /// repeat it for checkpoints signed with an earlier key.
    #[arg(long, value_name = "KEY", value_parser = parse_public_key, requires = "checkpoint")]
    public_key: Vec<latch_grant::checkpoint::PublicKey>,
}

fn parse_public_key(s: &str) -> Result<latch_grant::checkpoint::PublicKey, String> {
    latch_grant::checkpoint::PublicKey::parse(s)
}

fn parse_hash(s: &str) -> Result<String, String> {
    if audit::is_hash(s) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err("an entry hash is 64 hex digits".to_owned())
    }
}

/// Arguments of `latch audit export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Read the database directly (SQLite path or postgres://…).
    #[arg(long)]
    database: Option<String>,
    /// Ask a server (admin token); used when --database is not given.
    #[arg(long, env = "LATCH_SERVER")]
    server: Option<String>,
    /// API token for --server.
    #[arg(long, env = "LATCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Write here instead of standard output (mode 0600, replaced whole: never half written).
    #[arg(long)]
    output: Option<PathBuf>,
}

/// `latch token …`
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    #[command(verbatim_doc_comment)]
    /// Create a token; the secret is shown once (only its SHA-256 is stored).
    ///
    /// Examples:
    ///   latch token create --database latch.db --subject alice --role admin
    ///   latch token create --database latch.db --subject ci --role requester --output ci.token
    ///   latch token create --database latch.db --subject soc --role auditor   # reads, never changes
    ///   latch token create --database latch.db --subject eventbridge --role ingest --output ingest.token   # posts AccessDenied events only
    Create {
        /// Database (SQLite path or postgres://…).
        #[arg(long)]
        database: String,
        /// Whose token (a name from [identities]); not empty, no spaces at either end.
        #[arg(long)]
        subject: String,
        /// requester, approver, admin, auditor (reads everything an admin reads, changes
        /// nothing), or ingest (posts usage events to /api/v1/events, nothing else).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Write the secret to this new file (mode 0600; an existing file is not overwritten)
        /// instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    #[command(verbatim_doc_comment)]
    /// Stop accepting a token at once.
    ///
    /// Example: latch token revoke --database latch.db t-abc123
    Revoke {
        /// Database (SQLite path or postgres://…).
        #[arg(long)]
        database: String,
        /// Token id (`t-…`, from `latch token list`).
        id: String,
    },
    /// List tokens (ids, subjects, roles; never secrets).
    List {
        /// Database (SQLite path or postgres://…).
        #[arg(long)]
        database: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.to_string())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs a server command.
pub fn run(cmd: ServerCommand) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    rt.block_on(async move {
        match cmd {
            ServerCommand::Serve(args) => serve(args).await,
            ServerCommand::Request(args) => request(args).await,
            ServerCommand::Approve(args) => decide(args, "approve").await,
            ServerCommand::Deny(args) => decide(args, "deny").await,
            ServerCommand::Grants(args) => grants(args).await,
            ServerCommand::Revoke(args) => revoke(args, false).await,
            ServerCommand::Relinquish(args) => revoke(args, true).await,
            ServerCommand::Extend(args) => extend(args).await,
            ServerCommand::Audit {
                cmd: AuditCommand::Verify(args),
            } => audit_verify(args).await,
            ServerCommand::Audit {
                cmd: AuditCommand::Export(args),
            } => audit_export(args).await,
            ServerCommand::Audit {
                cmd: AuditCommand::Keygen { out },
            } => audit_keygen(&out),
            ServerCommand::Token { cmd } => token(cmd).await,
            ServerCommand::Health(args) => health(args).await,
            ServerCommand::Backup(args) => crate::backup_cmd::backup(args).await,
            ServerCommand::Restore(args) => crate::backup_cmd::restore(args).await,
            ServerCommand::Report {
                cmd: ReportCommand::Push(args),
            } => report_push(args).await,
            ServerCommand::Directory {
                cmd: DirectoryCommand::Sync(client),
            } => directory_sync(client).await,
        }
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    let mut config = Config::load(&args.config)
        .map_err(|e| crate::diagnostic::config_error(&args.config, &e.field, &e))?;
    let (firewall, firewall_source) = firewall_of(&config)?;
    check_bundles(&config.rules.bundles, &firewall, &firewall_source)?;
    if let Some(offers) = &mut config.offers {
        offers.bundle_actions = if config.firewall_config.is_none()
            || config.firewall_config.as_ref() == Some(&offers.firewall_config)
        {
            bundle_actions(&firewall)
        } else {
            let theirs = crate::plan_cmd::load_config(&offers.firewall_config)
                .context("[offers] firewall_config")?;
            check_bundles(
                &config.rules.bundles,
                &theirs,
                &format!(
                    "`{}` ([offers] firewall_config)",
                    offers.firewall_config.display()
                ),
            )?;
            bundle_actions(&theirs)
        };
    }
    if let Some(audit) = &mut config.audit {
        audit.load_signing_key()?;
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let checkpoint_publishers = s3_checkpoint_publishers(&config).await?;
    let database = args.database.unwrap_or_else(|| config.database.0.clone());
    let store = latch_store::open(&database).await.with_context(|| {
        format!(
            "opening the store `{}`",
            latch_grant::redact_location(&database)
        )
    })?;
    for (file, mode) in latch_store::exposed_files(&database) {
        tracing::warn!(
            file = %file.display(),
            mode = %format!("{mode:03o}"),
            "the database is readable or writable by other users: it holds token hashes and who asked for what; run `chmod 600` on it and its -wal/-shm files"
        );
    }
    tracing::info!(server = %config.server_id, "server id (scheduler lease holder)");
    let cloud = cloud(args.cloud, &config, firewall.limits).await?;
    let directory = directory(&config).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("binding [server] listen `{}`", config.listen))?;
    let settings = Settings {
        config,
        store,
        cloud,
        clock: Arc::new(SystemClock),
        metrics_listener: None,
        checkpoint_publishers,
        directory,
    };
    launch_with_tcp_listener(settings, listener, stop_signal()).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM (a service manager or orchestrator stopping Latch) or Ctrl-C. Then the server
/// stops accepting, finishes the requests in flight and the scheduler releases its lease at
/// once, so another server takes over without waiting for the lease to run out.
async fn stop_signal() {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("stopping: finishing requests in flight, releasing the scheduler lease");
}

/// The firewall configuration whose bundles the applied SCPs honour: `[server]
/// firewall_config`, else `[offers] firewall_config`, else the default bundles (what `latch
/// plan` uses without `--config`); and how to name it in messages.
pub(crate) fn firewall_of(
    config: &Config,
) -> anyhow::Result<(latch_firewall::config::Config, String)> {
    let named = config
        .firewall_config
        .as_ref()
        .map(|p| (p, "[server] firewall_config"))
        .or_else(|| {
            config
                .offers
                .as_ref()
                .map(|o| (&o.firewall_config, "[offers] firewall_config"))
        });
    match named {
        Some((path, key)) => Ok((
            crate::plan_cmd::load_config(path).context(key)?,
            format!("`{}` ({key})", path.display()),
        )),
        None => Ok((
            latch_firewall::config::Config::default(),
            "the firewall's default bundles (no [server] firewall_config)".to_owned(),
        )),
    }
}

/// Every bundle the server grants must be a bundle of the firewall: a grant is the tag
/// `latch:grant:<bundle>`, and only the SCPs of a bundle the firewall defines exempt it. A
/// grant of any other bundle would change nothing in AWS while telling everyone it had.
pub(crate) fn check_bundles(
    served: &std::collections::BTreeMap<String, latch_server::config::Bundle>,
    firewall: &latch_firewall::config::Config,
    source: &str,
) -> anyhow::Result<()> {
    let unknown: Vec<&str> = served
        .keys()
        .filter(|name| !firewall.bundles.contains_key(*name))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let known: Vec<&str> = firewall.bundles.keys().map(String::as_str).collect();
    bail!(
        "[bundles]: {} {} not defined by {source}, whose bundles are: {}. No Latch SCP honours the tag latch:grant:<bundle> of a bundle the firewall does not define, so granting it would change nothing: define it in the firewall configuration (and apply the plan), point [server] firewall_config at the configuration the applied plan was made from, or remove it from this file",
        unknown
            .iter()
            .map(|b| format!("`{b}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if unknown.len() == 1 { "is" } else { "are" },
        if known.is_empty() {
            "(none)".to_owned()
        } else {
            known.join(", ")
        }
    )
}

/// Which actions each bundle of the firewall configuration holds (lower-cased names), for
/// denial-triggered offers.
fn bundle_actions(
    firewall: &latch_firewall::config::Config,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let catalog = latch_catalog::Catalog::get();
    firewall
        .bundles
        .iter()
        .map(|(name, b)| {
            let actions = b
                .actions
                .iter()
                .filter_map(|id| catalog.action_by_id(*id))
                .map(|a| a.full_name().to_ascii_lowercase())
                .collect();
            (name.clone(), actions)
        })
        .collect()
}

/// The cloud `latch serve` applies grants to: AWS unless `--cloud memory` says otherwise; with
/// no [aws] section the choice must be explicit, so a server never silently grants nothing.
/// Identity Center exemptions keep the SCPs within `limits` (the firewall configuration's).
async fn cloud(
    kind: Option<CloudKind>,
    config: &Config,
    limits: latch_firewall::Limits,
) -> anyhow::Result<Arc<dyn CloudAdapter>> {
    let kind = match (kind, &config.aws) {
        (Some(k), _) => k,
        (None, Some(_)) => CloudKind::Aws,
        (None, None) => bail!(
            "the configuration has no [aws] section: add one (see docs/configuration.md) so grants land on AWS, or pass `--cloud memory` to try Latch with an in-memory cloud (nothing reaches AWS)"
        ),
    };
    if kind == CloudKind::Memory {
        tracing::warn!(
            "--cloud memory: grants are applied to an in-memory cloud; NOTHING REACHES AWS"
        );
        return Ok(Arc::new(FakeCloud::new()));
    }
    let (aws, access) = connect(config, "latch-serve", "grants land on AWS").await?;
    Ok(Arc::new(
        latch_aws::AwsCloud::new(aws, access).with_limits(limits),
    ))
}

/// How to reach AWS as `[aws]` says (profile, region, endpoint, attempts).
pub(crate) fn aws_options(aws_cfg: &latch_server::config::AwsConfig) -> latch_aws::AwsOptions {
    latch_aws::AwsOptions {
        profile: aws_cfg.profile.clone(),
        region: aws_cfg.region.clone(),
        endpoint_url: aws_cfg.endpoint_url.clone(),
        max_attempts: aws_cfg.max_attempts,
        ..latch_aws::AwsOptions::default()
    }
}

/// AWS through the [aws] settings (or the default credential chain without them), and the
/// member accounts through its member role, sessions named `session_name`. The credentials
/// are checked at once, so a server fails at start with AWS's own words rather than at the
/// first grant; `what` says what they are for in the log.
async fn connect(
    config: &Config,
    session_name: &str,
    what: &str,
) -> anyhow::Result<(latch_aws::Aws, latch_aws::AccountAccess)> {
    let aws_cfg = config.aws.clone().unwrap_or_default();
    let options = aws_options(&aws_cfg);
    let aws = latch_aws::Aws::connect(&options).await?;
    let caller = aws
        .caller_identity()
        .await
        .with_context(|| format!("checking the AWS credentials of [aws] ({what})"))?;
    tracing::info!(caller = %caller.arn, account = %caller.account, member_role = %aws_cfg.member_role, "{what}");
    let access = latch_aws::AccountAccess {
        role_name: aws_cfg.member_role.clone(),
        role_overrides: aws_cfg.member_role_overrides.clone(),
        session_name: session_name.to_owned(),
    };
    Ok((aws, access))
}

/// IAM Identity Center as the people directory, when `[identity_center]` asks for it: read
/// through the [aws] settings (or the default credential chain), from the management account
/// or a delegated administrator, member accounts' roles through the member role.
async fn directory(
    config: &Config,
) -> anyhow::Result<Option<Arc<dyn latch_grant::directory::DirectorySource>>> {
    let Some(ic) = &config.identity_center else {
        return Ok(None);
    };
    let (aws, access) = connect(
        config,
        "latch-directory",
        "people come from IAM Identity Center",
    )
    .await?;
    Ok(Some(Arc::new(
        latch_aws::IdentityCenterDirectory::new(aws, access)
            .with_instance(ic.instance_arn.clone(), ic.identity_store_id.clone()),
    )))
}

/// The S3 places of `[[audit.publish]]`, reached through the [aws] settings (or the default
/// credential chain without them), whichever cloud grants land on.
async fn s3_checkpoint_publishers(
    config: &Config,
) -> anyhow::Result<Vec<Arc<dyn latch_grant::checkpoint::CheckpointPublisher>>> {
    use latch_server::config::CheckpointTarget;
    let Some(audit) = &config.audit else {
        return Ok(Vec::new());
    };
    let mut out: Vec<Arc<dyn latch_grant::checkpoint::CheckpointPublisher>> = Vec::new();
    let mut aws: Option<latch_aws::Aws> = None;
    for target in &audit.publish {
        let CheckpointTarget::S3 {
            bucket,
            prefix,
            retain_secs,
            mode,
        } = target
        else {
            continue;
        };
        if aws.is_none() {
            let aws_cfg = config.aws.clone().unwrap_or_default();
            let options = aws_options(&aws_cfg);
            aws = Some(
                latch_aws::Aws::connect(&options)
                    .await
                    .context("connecting to AWS for [[audit.publish]] to = \"s3\"")?,
            );
        }
        if let Some(aws) = &aws {
            out.push(Arc::new(latch_aws::checkpoint::S3CheckpointPublisher::new(
                aws,
                bucket.clone(),
                prefix.clone(),
                *retain_secs,
                *mode,
            )));
        }
    }
    Ok(out)
}

/// Call the API with `body` and read its typed answer (`latch_server::api`); errors carry
/// the server's message.
async fn call<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    client: &ClientArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<&B>,
) -> anyhow::Result<T> {
    let body = body.map(serde_json::to_value).transpose()?;
    let text = call_raw(&client.server, &client.token, method, path, body).await?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "`{}` answered {path} with something this latch does not read",
            client.server
        )
    })
}

/// An answer as JSON (`--format json`), or the line people read.
fn show<T: serde::Serialize>(
    format: Format,
    answer: &T,
    line: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if format == Format::Json {
        out(&serde_json::to_string_pretty(answer)?)
    } else {
        out(&line(answer))
    }
}

async fn call_raw(
    server: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<String> {
    let url = format!("{}{path}", server.trim_end_matches('/'));
    let mut req = reqwest::Client::new()
        .request(method, &url)
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach `{server}`"))?;
    answer(resp).await
}

/// The text of a successful answer; an error with the server's message otherwise.
async fn answer(resp: reqwest::Response) -> anyhow::Result<String> {
    let status = resp.status();
    let text = resp.text().await.context("reading the server's answer")?;
    if !status.is_success() {
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        let msg = parsed
            .as_ref()
            .and_then(|v| v.pointer("/error/message"))
            .and_then(Value::as_str)
            .map_or_else(|| text.clone(), str::to_owned);
        let code = parsed
            .as_ref()
            .and_then(|v| v.pointer("/error/code"))
            .and_then(Value::as_str)
            .unwrap_or("error")
            .to_owned();
        bail!("{msg} ({code}, HTTP {})", status.as_u16());
    }
    Ok(text)
}

/// `latch report push`: every path read and told apart before anything is sent, then each
/// sent in turn.
async fn report_push(args: PushArgs) -> anyhow::Result<ExitCode> {
    use latch_server::posture;
    let mut documents = Vec::new();
    for path in &args.paths {
        let file = if path.is_dir() {
            path.join("plan.json")
        } else {
            path.clone()
        };
        let bytes = std::fs::read(&file).with_context(|| {
            if path.is_dir() {
                format!(
                    "`{}` is a folder without plan.json: give a plan directory (`latch plan --out DIR`), a scan report or a prove report",
                    path.display()
                )
            } else {
                format!("cannot read `{}`", file.display())
            }
        })?;
        let kind =
            posture::detect(&bytes).map_err(|e| anyhow::anyhow!("`{}`: {e}", file.display()))?;
        documents.push((file, kind, bytes));
    }
    let url = format!(
        "{}/api/v1/posture",
        args.client.server.trim_end_matches('/')
    );
    let http = reqwest::Client::new();
    let mut answers = Vec::new();
    let bar = crate::progress::Bar::new("", args.client.format == Format::Json);
    let (mut done, total) = (0, u64::try_from(documents.len()).unwrap_or(0));
    for (file, kind, bytes) in documents {
        bar.draw(
            done,
            total,
            &format!("sending {} ({} KB)", file.display(), bytes.len() / 1024),
        );
        done += 1;
        let resp = http
            .post(&url)
            .bearer_auth(&args.client.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes)
            .send()
            .await
            .with_context(|| format!("cannot reach `{}`", args.client.server))?;
        let text = answer(resp)
            .await
            .with_context(|| format!("sending `{}`", file.display()))?;
        let mut pushed: Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` answered /api/v1/posture with something this latch does not read",
                args.client.server
            )
        })?;
        if let Some(o) = pushed.as_object_mut() {
            o.insert("file".into(), json!(file.display().to_string()));
        }
        if args.client.format == Format::Table {
            let said = if pushed.get("unchanged").and_then(Value::as_bool) == Some(true) {
                "unchanged (the server's latest already)"
            } else {
                "kept"
            };
            let figures = pushed
                .get("figures")
                .and_then(Value::as_object)
                .map(|f| {
                    f.iter()
                        .map(|(k, v)| format!("{} {v}", k.replace('_', " ")))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            out(&format!(
                "{:<5}  {}  {said}: {figures}",
                kind.as_str(),
                file.display()
            ))?;
        }
        answers.push(pushed);
    }
    bar.draw(total, total, "sent");
    if args.client.format == Format::Json {
        out(&serde_json::to_string_pretty(&answers)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `latch health`: one line, and the exit code.
async fn health(args: HealthArgs) -> anyhow::Result<ExitCode> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(args.timeout.max(1)))
        .build()?;
    match http.get(&args.url).send().await {
        Ok(resp) if resp.status() == reqwest::StatusCode::OK => {
            out(&format!("healthy: {} answered 200", args.url))?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(resp) => {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            out(&format!(
                "unhealthy: {} answered {status}: {}",
                args.url,
                body.chars().take(300).collect::<String>()
            ))?;
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            out(&format!("unhealthy: {} did not answer: {e}", args.url))?;
            Ok(ExitCode::FAILURE)
        }
    }
}

pub(crate) fn out(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        stdout.write_all(b"\n")?;
    }
    stdout.flush()?;
    Ok(())
}

async fn request(args: RequestArgs) -> anyhow::Result<ExitCode> {
    let body = api::NewRequestBody {
        bundle: args.bundle.clone(),
        duration: args.duration.clone(),
        reason: args.reason.join(" "),
        break_glass: args.break_glass,
        source: Some("cli".to_owned()),
        account: None,
        accounts: args.account.clone(),
        permission_set: args.permission_set.clone(),
        start: args.start.clone(),
    };
    let a: api::RequestAnswer = call(
        &args.client,
        reqwest::Method::POST,
        "/api/v1/requests",
        Some(&body),
    )
    .await?;
    show(args.client.format, &a, |a| {
        let r = &a.request;
        match a.grants.as_slice() {
            [] => format!(
                "request {} pending: {} for {}{}, waiting for approval",
                r.id,
                r.bundle,
                r.duration,
                if r.targets.len() > 1 {
                    format!(" on {} accounts", r.targets.len())
                } else {
                    String::new()
                }
            ),
            gs => gs
                .iter()
                .map(|g| {
                    format!(
                        "request {} {}: grant {} for {} on {} until {}",
                        r.id,
                        r.status,
                        g.id,
                        g.bundle,
                        g.account.as_deref().unwrap_or(&g.identity),
                        g.expires_at
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn directory_sync(client: ClientArgs) -> anyhow::Result<ExitCode> {
    let answer: Value = call(
        &client,
        reqwest::Method::POST,
        "/api/v1/directory/sync",
        None::<&Value>,
    )
    .await?;
    show(client.format, &answer, |a| {
        let c = &a["synced"];
        format!(
            "directory synced: {} people ({} added, {} removed, {} deactivated, {} reactivated, {} changed); {} pending request(s) cancelled, {} grant(s) revoked",
            c["people"], c["added"], c["removed"], c["deactivated"], c["reactivated"],
            c["changed"], c["requests_cancelled"], c["grants_revoked"]
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn decide(args: DecideArgs, verb: &str) -> anyhow::Result<ExitCode> {
    let body = api::DecisionBody {
        comment: args.comment.clone(),
    };
    let a: api::RequestAnswer = call(
        &args.client,
        reqwest::Method::POST,
        &format!("/api/v1/requests/{}/{verb}", args.id),
        Some(&body),
    )
    .await?;
    show(args.client.format, &a, |a| {
        let grant = match a.grants.as_slice() {
            [] => String::new(),
            [g] => format!(", grant {}", g.id),
            gs => format!(
                ", grants {}",
                gs.iter()
                    .map(|g| g.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        format!(
            "request {} is now {}{grant}",
            a.request.id, a.request.status
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn grants(args: GrantsArgs) -> anyhow::Result<ExitCode> {
    let list: api::GrantList = call(
        &args.client,
        reqwest::Method::GET,
        &format!("/api/v1/grants?status={}", args.status),
        None::<&()>,
    )
    .await?;
    show(args.client.format, &list, |list| {
        let rows: Vec<[String; 6]> = list
            .grants
            .iter()
            .map(|g| {
                [
                    g.id.clone(),
                    g.bundle.clone(),
                    g.requester.clone(),
                    g.identity.clone(),
                    g.status.clone(),
                    g.expires_at.clone(),
                ]
            })
            .collect();
        table(
            &["ID", "BUNDLE", "REQUESTER", "IDENTITY", "STATUS", "EXPIRES"],
            &rows,
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths.iter()).enumerate() {
            if i + 1 == N {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  "));
            }
        }
        l.trim_end().to_owned() + "\n"
    };
    let mut text = line(header.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        text.push_str("(none)\n");
    }
    text
}

async fn extend(args: ExtendArgs) -> anyhow::Result<ExitCode> {
    let body = api::ExtendBody {
        duration: args.duration.clone(),
        reason: args.reason.join(" "),
    };
    let a: api::RequestAnswer = call(
        &args.client,
        reqwest::Method::POST,
        &format!("/api/v1/grants/{}/extend", args.id),
        Some(&body),
    )
    .await?;
    show(args.client.format, &a, |a| match &a.grant {
        Some(g) => format!("grant {} extended: it now ends at {}", g.id, g.expires_at),
        None => format!(
            "extension request {} ({} more of grant {}) waiting for approval",
            a.request.id, a.request.duration, args.id
        ),
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `latch revoke`, or the holder's `latch relinquish`.
async fn revoke(args: RevokeArgs, relinquish: bool) -> anyhow::Result<ExitCode> {
    let cut = if args.cut_sessions {
        Some(true)
    } else if args.keep_sessions {
        Some(false)
    } else {
        None
    };
    let (verb, default_reason, doing) = if relinquish {
        ("relinquish", "done", "given back")
    } else {
        ("revoke", "revoked from the command line", "revoked")
    };
    let body = api::RevokeBody {
        reason: Some(
            args.reason
                .clone()
                .unwrap_or_else(|| default_reason.to_owned()),
        ),
        cut_sessions: cut,
    };
    let a: api::GrantAnswer = call(
        &args.client,
        reqwest::Method::POST,
        &format!("/api/v1/grants/{}/{verb}", args.id),
        Some(&body),
    )
    .await?;
    show(args.client.format, &a, |a| {
        let g = &a.grant;
        let cut = g
            .session_cutoff
            .as_deref()
            .map(|c| {
                format!(
                    "; this {}",
                    latch_grant::workflow::session_cutoff_reach(&g.identity, c)
                )
            })
            .unwrap_or_default();
        format!("grant {} is being {doing} ({}){cut}", g.id, g.bundle)
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn load_audit(
    database: Option<&str>,
    file: Option<&PathBuf>,
    server: Option<&str>,
    token: Option<&str>,
) -> anyhow::Result<Vec<latch_grant::AuditRecord>> {
    if let Some(path) = file {
        let text = latch_input::read(path, latch_input::Expected::JsonLines)?;
        return audit::parse_json_lines(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    if let Some(db) = database {
        let store = latch_store::open(db)
            .await
            .with_context(|| format!("opening `{}`", latch_grant::redact_location(db)))?;
        return Ok(store.audit(0, 0).await?);
    }
    if let Some(server) = server {
        let token = token.context("--server needs --token (or LATCH_TOKEN)")?;
        let text = call_raw(
            server,
            token,
            reqwest::Method::GET,
            "/api/v1/audit/export",
            None,
        )
        .await?;
        return audit::parse_json_lines(&text)
            .map_err(|e| anyhow::anyhow!("export from `{server}`: {e}"));
    }
    bail!("say where the log is: --database, --file or --server")
}

/// The log from where `src` says, verified: the chain, and with `--database` every request and
/// grant row naming an entry the log still holds (with `--server`, the server's own check of
/// its rows).
async fn load_and_verify(
    src: &AuditSource,
) -> anyhow::Result<(Vec<latch_grant::AuditRecord>, audit::Verification)> {
    if src.file.is_none() {
        if let Some(db) = &src.database {
            let store = latch_store::open(db)
                .await
                .with_context(|| format!("opening `{}`", latch_grant::redact_location(db)))?;
            return Ok(store.audit_check().await?);
        }
    }
    let records = load_audit(
        src.database.as_deref(),
        src.file.as_ref(),
        src.server.as_deref(),
        src.token.as_deref(),
    )
    .await?;
    let mut v = audit::verify(&records);
    if let (None, Some(server), Some(token)) = (&src.file, &src.server, &src.token) {
        let text = call_raw(
            server,
            token,
            reqwest::Method::GET,
            "/api/v1/audit/verify",
            None,
        )
        .await?;
        let answer: Value = serde_json::from_str(&text)
            .with_context(|| format!("`{server}` answered the audit check with something else"))?;
        for p in answer
            .pointer("/verification/problems")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            v.problems.push(format!("the server reports: {p}"));
        }
    }
    Ok((records, v))
}

async fn audit_verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let src = &args.source;
    let (records, mut v) = load_and_verify(src).await?;
    if let Some(n) = args.expect_count {
        v.expect_count(n);
    }
    if let Some(head) = &args.head {
        v.expect_head(&records, head);
    }
    let mut latest = None;
    if let Some(path) = &args.checkpoint {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading `{}`", path.display()))?;
        let checkpoints = latch_grant::checkpoint::parse_checkpoints(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if checkpoints.is_empty() {
            bail!("{}: no checkpoint in the file", path.display());
        }
        for (i, cp) in checkpoints.iter().enumerate() {
            let name = format!(
                "checkpoint #{} ({} entries at {} from `{}`)",
                i + 1,
                cp.count,
                latch_server::clock::rfc3339(cp.at),
                cp.server_id
            );
            match cp.verify(&args.public_key) {
                Ok(()) => v.expect_prefix(&records, cp.count, &cp.head_hash, &name),
                Err(e) => v.problems.push(format!("{name} does not verify: {e}")),
            }
        }
        latest = checkpoints.last().cloned();
    }
    let anchored = args.head.is_some() || args.expect_count.is_some() || latest.is_some();
    if src.format == Format::Json {
        out(&serde_json::to_string_pretty(
            &json!({"intact": v.is_intact(), "verification": v, "latest_checkpoint": latest}),
        )?)?;
    } else if v.is_intact() {
        let mut text = format!("intact: {} entries; head hash {}", v.count, v.head_hash);
        if let Some(cp) = &latest {
            text.push_str(&format!(
                "\nanchored by the latest checkpoint: {} entries, head {}, at {} from `{}`",
                cp.count,
                cp.head_hash,
                latch_server::clock::rfc3339(cp.at),
                cp.server_id
            ));
        }
        if !anchored {
            text.push_str(
                "\n(the chain alone cannot show that its newest entries were removed: check it \
                 against signed checkpoints with --checkpoint and --public-key, or keep the count \
                 and head and pass them back with --expect-count and --head)",
            );
        }
        out(&text)?;
    } else {
        let mut text = format!(
            "BROKEN: {} problem(s) in {} entries\n",
            v.breaks.len() + v.problems.len(),
            v.count
        );
        for b in &v.breaks {
            text.push_str(&format!(
                "  entry #{} (seq {}): {}\n",
                b.index + 1,
                b.seq,
                b.problem
            ));
        }
        for p in &v.problems {
            text.push_str(&format!("  {p}\n"));
        }
        out(&text)?;
    }
    Ok(if v.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn audit_keygen(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let key = latch_grant::checkpoint::SigningKey::generate().map_err(anyhow::Error::msg)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        format!(
            "creating `{}` (an existing key is never overwritten)",
            path.display()
        )
    })?;
    #[cfg(unix)]
    {
        // Exactly 0600, whatever the umask.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("setting the mode of `{}`", path.display()))?;
    }
    file.write_all(key.to_file_text().as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing `{}`", path.display()))?;
    out(&format!(
        "{}\n# the public key of the new audit signing key in {}: give it to whoever verifies \
         (latch audit verify --checkpoint FILE --public-key KEY)",
        key.public_key(),
        path.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

async fn audit_export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let records = load_audit(
        args.database.as_deref(),
        None,
        args.server.as_deref(),
        args.token.as_deref(),
    )
    .await?;
    let mut text = String::new();
    for r in &records {
        text.push_str(&audit::to_json_line(r));
        text.push('\n');
    }
    match args.output {
        Some(path) => crate::files::write_private(&path, text.as_bytes(), true)?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn token(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCommand::Create {
            database,
            subject,
            role,
            output,
        } => {
            let now = chrono_now();
            // Checked before the database is opened or created: a refused token leaves nothing.
            let (record, secret) = latch_server::http::mint_token(&subject, role, now)?;
            let store = latch_store::open(&database).await.with_context(|| {
                format!("opening `{}`", latch_grant::redact_location(&database))
            })?;
            // The secret reaches its file before the token exists: no usable token whose
            // secret was lost, and a token that cannot be stored leaves no file behind.
            if let Some(path) = &output {
                crate::files::write_private(path, format!("{secret}\n").as_bytes(), false)?;
            }
            // The token and its audit entry, in one transaction: never one without the other.
            let created = store
                .commit(latch_grant::workflow::token_created("cli", &record))
                .await;
            if let Err(e) = created {
                if let Some(path) = &output {
                    let _ = std::fs::remove_file(path);
                }
                return Err(e.into());
            }
            match &output {
                Some(path) => {
                    out(&format!(
                        "token {} for {subject} ({role}) written to `{}` (mode 0600)",
                        record.id,
                        path.display()
                    ))?;
                }
                None => out(&format!(
                    "{secret}\n# token {} for {subject} ({role}); shown once, store it safely",
                    record.id
                ))?,
            }
        }
        TokenCommand::Revoke { database, id } => {
            let store = latch_store::open(&database).await.with_context(|| {
                format!("opening `{}`", latch_grant::redact_location(&database))
            })?;
            let now = chrono_now();
            // The revocation and its audit entry, in one transaction: a token that is not live
            // is refused as a whole, and leaves no entry.
            let revoked = store
                .commit(latch_grant::workflow::token_revoked("cli", &id, now))
                .await;
            match revoked {
                Ok(()) => {}
                Err(latch_grant::StoreError::Conflict(_)) => {
                    bail!("no live token `{id}` (see `latch token list`)")
                }
                Err(e) => return Err(e.into()),
            }
            out(&format!("token {id} revoked"))?;
        }
        TokenCommand::List { database } => {
            let store = latch_store::open(&database).await.with_context(|| {
                format!("opening `{}`", latch_grant::redact_location(&database))
            })?;
            let rows: Vec<[String; 4]> = store
                .tokens()
                .await?
                .iter()
                .map(|t| {
                    [
                        t.id.clone(),
                        t.subject.clone(),
                        t.role.to_string(),
                        if t.revoked_at.is_some() {
                            "revoked".into()
                        } else {
                            "active".into()
                        },
                    ]
                })
                .collect();
            out(&table(&["ID", "SUBJECT", "ROLE", "STATE"], &rows))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn chrono_now() -> i64 {
    use latch_server::Clock as _;
    SystemClock.now()
}
