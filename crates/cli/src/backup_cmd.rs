//! `latch backup` and `latch restore`: a SQLite database copied while servers use it, and a
//! copy put back after its audit log verifies (the work is `latch_store::backup`'s).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use latch_grant::audit::Verification;
use latch_grant::StoreRead as _;
use serde_json::json;

use crate::server_cmd::{out, Format};

/// Arguments of `latch backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The SQLite database to copy (servers may keep running on it).
    #[arg(long)]
    database: String,
    /// The file to write: a new file (an existing one is never overwritten), readable by its
    /// owner only.
    #[arg(long)]
    out: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Arguments of `latch restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup to restore (a file `latch backup` wrote).
    #[arg(long)]
    from: PathBuf,
    /// The SQLite database to restore it as. Stop every server using it first.
    #[arg(long)]
    database: String,
    /// Replace a database that exists: it is renamed `<database>.before-restore-<time>`, not
    /// deleted.
    #[arg(long)]
    force: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// The SQLite file of `location`, or an error saying what to use for PostgreSQL.
fn sqlite_file(location: &str, command: &str) -> anyhow::Result<PathBuf> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        bail!(
            "`latch {command}` copies a SQLite database; for PostgreSQL use its own tools \
             (pg_dump, pg_restore, or point-in-time recovery), then check the restored log \
             with `latch audit verify --database postgres://…`"
        );
    }
    Ok(PathBuf::from(
        location.strip_prefix("sqlite://").unwrap_or(location),
    ))
}

fn audit_json(v: &Verification) -> serde_json::Value {
    json!({"intact": v.is_intact(), "entries": v.count, "head_hash": v.head_hash,
           "breaks": v.breaks, "problems": v.problems})
}

fn audit_line(v: &Verification) -> String {
    if v.is_intact() {
        format!(
            "audit log: {} entries, head hash {}: the chain and every row's reference verify",
            v.count, v.head_hash
        )
    } else {
        format!(
            "audit log: {} entries, DOES NOT VERIFY: {}",
            v.count,
            v.faults().join("; ")
        )
    }
}

/// `latch backup`.
pub async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let database = sqlite_file(&args.database, "backup")?;
    let bytes = latch_store::backup::backup(&database, &args.out)
        .with_context(|| format!("backing up `{}`", database.display()))?;
    // The copy is verified by opening it as a server would, which migrates a database: so
    // only when this version reads its schema as it is (a database an older server still
    // runs is verified when restored, after its migrations).
    let location = args.out.display().to_string();
    let schema = latch_store::schema_status(&location)
        .await
        .with_context(|| format!("reading the backup `{location}`"))?;
    let audit = if schema.is_current() {
        let store = latch_store::SqliteStore::open(&args.out)
            .await
            .with_context(|| format!("opening the backup `{location}`"))?;
        let (_, v) = store.audit_check().await?;
        store.close().await;
        Some(v)
    } else {
        None
    };
    let intact = audit.as_ref().is_none_or(Verification::is_intact);
    if args.format == Format::Json {
        out(&serde_json::to_string_pretty(&json!({
            "database": database, "out": args.out, "bytes": bytes,
            "audit": audit.as_ref().map(audit_json),
        }))?)?;
    } else {
        let mut text = format!(
            "backed up {} to {} ({bytes} bytes, readable by its owner only)\n",
            database.display(),
            args.out.display()
        );
        match &audit {
            Some(v) => text.push_str(&audit_line(v)),
            None => text.push_str(
                "audit log: not verified here (the database's schema is older than this \
                 version's); `latch restore` verifies it",
            ),
        }
        out(&text)?;
    }
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `latch restore`.
pub async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let database = sqlite_file(&args.database, "restore")?;
    let now = crate::server_cmd::chrono_now();
    if database.exists() {
        refuse_if_served(&database, now)?;
    }
    let stamp = latch_server::clock::rfc3339(now).replace([':', '-'], "");
    let restored = latch_store::backup::restore(&args.from, &database, args.force, &stamp)
        .await
        .with_context(|| {
            format!(
                "restoring `{}` as `{}`",
                args.from.display(),
                database.display()
            )
        })?;
    if args.format == Format::Json {
        out(&serde_json::to_string_pretty(&json!({
            "from": args.from, "database": database,
            "set_aside": restored.set_aside, "audit": audit_json(&restored.audit),
        }))?)?;
    } else {
        let mut text = format!(
            "restored {} as {}\n{}",
            args.from.display(),
            database.display(),
            audit_line(&restored.audit)
        );
        if let Some(aside) = &restored.set_aside {
            text.push_str(&format!(
                "\nthe database that was there is kept as {}",
                aside.display()
            ));
        }
        out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A server holding the scheduler lease of `database` is running on it: restoring under it
/// would leave it writing to a file that is no longer the database.
fn refuse_if_served(database: &Path, now: i64) -> anyhow::Result<()> {
    if let Some((holder, until)) = latch_store::backup::lease_holder(database)
        .with_context(|| format!("reading `{}`", database.display()))?
    {
        if until > now {
            bail!(
                "server `{holder}` holds the scheduler lease of `{}` until {}: stop every \
                 server using this database first (a server that stopped without releasing \
                 it loses it then)",
                database.display(),
                latch_server::clock::rfc3339(until)
            );
        }
    }
    Ok(())
}
