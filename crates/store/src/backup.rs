//! A SQLite database copied while servers use it, and a copy put back in its place.
//!
//! The copy is SQLite's `VACUUM INTO`: one read transaction, so one consistent snapshot of
//! every table whatever is being committed meanwhile (a WAL reader never waits for the
//! writer), written compactly to a new file readable by its owner only, like the database.
//!
//! Restoring never trusts the copy and never loses the database it replaces: the copy is put
//! beside the database under a temporary name, opened (migrated in place when it predates this
//! version), and its audit log verified — the hash chain and every row's reference into it —
//! before anything is renamed; a database already there is moved aside, not deleted. The
//! files are renamed, so a crash leaves either the old database or the restored one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use latch_grant::audit::Verification;
use latch_grant::{StoreError, StoreRead as _};
use rusqlite::{Connection, OpenFlags};

use crate::sqlite::{create_new_private, create_private, SqliteStore};

/// Why a backup or a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database (or backup) to read is not there.
    #[error("`{0}`: no such database file")]
    Missing(PathBuf),
    /// The backup's file exists already.
    #[error("`{0}` already exists: a backup never overwrites a file")]
    OutExists(PathBuf),
    /// The database exists and replacing it was not asked for.
    #[error("`{0}` exists: restoring over it needs --force (it is kept beside, renamed)")]
    Exists(PathBuf),
    /// The copy's audit log does not verify: nothing was changed.
    #[error("the backup's audit log does not verify ({0}); nothing was changed")]
    Broken(String),
    /// A file could not be written, read or moved.
    #[error("{what} `{path}`: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// To which file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("{0}")]
    Sqlite(String),
    /// The copy could not be opened or read as a Latch database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(what: &'static str, path: &Path, e: std::io::Error) -> BackupError {
    BackupError::Io {
        what,
        path: path.to_path_buf(),
        source: e,
    }
}

fn sqlite(e: &rusqlite::Error) -> BackupError {
    BackupError::Sqlite(e.to_string())
}

/// The files SQLite keeps beside a database in WAL mode.
fn companions(path: &Path) -> [PathBuf; 2] {
    let name = path.as_os_str().to_owned();
    let with = |suffix: &str| {
        let mut n = name.clone();
        n.push(suffix);
        PathBuf::from(n)
    };
    [with("-wal"), with("-shm")]
}

/// An existing database, opened without creating it.
fn open_existing(database: &Path) -> Result<Connection, BackupError> {
    if !database.is_file() {
        return Err(BackupError::Missing(database.to_path_buf()));
    }
    let conn = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sqlite(&e))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| sqlite(&e))?;
    Ok(conn)
}

/// Writes a consistent copy of the SQLite database `database` to `out`, which must not exist,
/// while servers may be using the database. Returns the copy's size in bytes.
///
/// # Errors
/// The database does not exist or cannot be read, `out` exists or cannot be written.
pub fn backup(database: &Path, out: &Path) -> Result<u64, BackupError> {
    let conn = open_existing(database)?;
    // `VACUUM INTO` writes into an empty file: made first, owner-only, so the copy is never
    // readable by others even for a moment.
    match create_new_private(out) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(BackupError::OutExists(out.to_path_buf()))
        }
        Err(e) => return Err(io("cannot create the backup", out, e)),
    }
    let Some(target) = out.to_str() else {
        let _ = std::fs::remove_file(out);
        return Err(BackupError::Sqlite(format!(
            "the backup's path `{}` is not UTF-8",
            out.display()
        )));
    };
    if let Err(e) = conn.execute("VACUUM INTO ?1", [target]) {
        let _ = std::fs::remove_file(out);
        return Err(BackupError::Sqlite(format!("the copy failed: {e}")));
    }
    drop(conn);
    sync_file(out).map_err(|e| io("cannot flush the backup", out, e))?;
    std::fs::metadata(out)
        .map(|m| m.len())
        .map_err(|e| io("cannot read the backup", out, e))
}

/// Who holds the scheduler lease of the SQLite database `database`, and until when
/// (milliseconds since the epoch), if anyone ever did: a holder whose lease has not expired is
/// a server running on it.
///
/// # Errors
/// The database does not exist or cannot be read.
pub fn lease_holder(database: &Path) -> Result<Option<(String, i64)>, BackupError> {
    let conn = open_existing(database)?;
    let mut statement =
        match conn.prepare("SELECT holder, expires_at FROM leases WHERE name = 'scheduler'") {
            Ok(s) => s,
            // A database of another program, or not a database: restoring will say so.
            Err(_) => return Ok(None),
        };
    let mut rows = statement.query([]).map_err(|e| sqlite(&e))?;
    match rows.next().map_err(|e| sqlite(&e))? {
        Some(row) => Ok(Some((
            row.get(0).map_err(|e| sqlite(&e))?,
            row.get(1).map_err(|e| sqlite(&e))?,
        ))),
        None => Ok(None),
    }
}

/// What [`restore`] did.
#[derive(Debug)]
pub struct Restored {
    /// The restored database's audit log, verified.
    pub audit: Verification,
    /// Where the database that was there before now is, if there was one.
    pub set_aside: Option<PathBuf>,
}

/// Puts the SQLite copy `from` in place as the database `database`, after verifying its audit
/// log. An existing database is refused unless `replace`, and then renamed to
/// `<database>.before-restore-<stamp>` (with its `-wal` and `-shm`), never deleted. No server
/// may be using `database` meanwhile (see [`lease_holder`]).
///
/// # Errors
/// See [`BackupError`]; on any error, `database` is as it was.
pub async fn restore(
    from: &Path,
    database: &Path,
    replace: bool,
    stamp: &str,
) -> Result<Restored, BackupError> {
    if !from.is_file() {
        return Err(BackupError::Missing(from.to_path_buf()));
    }
    if database.exists() && !replace {
        return Err(BackupError::Exists(database.to_path_buf()));
    }
    let mut staging = database.as_os_str().to_owned();
    staging.push(".restoring");
    let staging = PathBuf::from(staging);
    let discard = |path: &Path| {
        let _ = std::fs::remove_file(path);
        for c in companions(path) {
            let _ = std::fs::remove_file(c);
        }
    };
    // What an earlier, interrupted restore left.
    discard(&staging);
    let copied = (|| -> std::io::Result<()> {
        create_private(&staging)?;
        let mut source = std::fs::File::open(from)?;
        let mut target = std::fs::OpenOptions::new().write(true).open(&staging)?;
        std::io::copy(&mut source, &mut target)?;
        target.sync_all()
    })();
    if let Err(e) = copied {
        discard(&staging);
        return Err(io(
            "cannot copy the backup beside the database as",
            &staging,
            e,
        ));
    }
    let checked = async {
        let store = SqliteStore::open(&staging).await?;
        let (_, audit) = store.audit_check().await?;
        // Everything in the main file, so that it can be moved alone.
        store.execute_raw("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        store.close().await;
        Ok::<_, StoreError>(audit)
    }
    .await;
    let audit = match checked {
        Ok(audit) if audit.is_intact() => audit,
        Ok(audit) => {
            discard(&staging);
            return Err(BackupError::Broken(audit.faults().join("; ")));
        }
        Err(e) => {
            discard(&staging);
            return Err(e.into());
        }
    };
    let mut set_aside = None;
    if database.exists() {
        let mut aside = database.as_os_str().to_owned();
        aside.push(format!(".before-restore-{stamp}"));
        let aside = PathBuf::from(aside);
        // Its -wal and -shm first: a database file without its WAL would lose commits.
        for (c, a) in companions(database).iter().zip(companions(&aside)) {
            if c.exists() {
                std::fs::rename(c, &a).map_err(|e| io("cannot move aside", c, e))?;
            }
        }
        std::fs::rename(database, &aside).map_err(|e| io("cannot move aside", database, e))?;
        set_aside = Some(aside);
    }
    std::fs::rename(&staging, database)
        .map_err(|e| io("cannot put in place the restored database", database, e))?;
    for c in companions(&staging) {
        let _ = std::fs::remove_file(c);
    }
    if let Some(dir) = database.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(Restored { audit, set_aside })
}

fn sync_file(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .sync_all()
}
