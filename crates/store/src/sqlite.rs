//! The SQLite backend: one embedded file, the default.
//!
//! One connection writes (SQLite allows one writer at a time anyway), which also makes audit
//! appends race-free inside this process; commits made at the same time share its
//! transactions ([`crate::group`]), each flushed to disk before any of its commits is
//! acknowledged (`synchronous = FULL`). Reads go through a few connections of their own: in
//! WAL mode readers never wait for the writer, and see every commit acknowledged before they
//! start. The file's lock and a busy timeout cover other processes (a CLI reading the audit
//! log or revoking a token while the server runs).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::db::Db as _;
use crate::group::{BatchWriter, GroupCommit};
use crate::inline;
use latch_grant::{Changeset, Store, StoreError, StoreRead};

mod q {
    crate::sql::shared_sql!(
        sqlx::Sqlite,
        sqlx::SqliteConnection,
        sqlx::sqlite::SqliteRow,
        ""
    );
}

use latch_grant::records::*;

/// Connections that read (besides the one that writes).
const READ_CONNECTIONS: u32 = 4;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The one connection that writes.
    pool: SqlitePool,
    /// The connections that read.
    reads: SqlitePool,
    /// Connections for the small reads run on the caller's thread.
    inline: std::sync::Arc<crate::inline::InlineReads>,
    /// Commits, written in batches on `pool`.
    commits: std::sync::Arc<GroupCommit<Writer>>,
    path: PathBuf,
    /// This handle's name in the lease row (unique per process and handle).
    instance: String,
    /// Whether this handle has held the lease: from then on it takes the lease only when it
    /// is still its own or has expired (a newer process with the same server id superseded it).
    has_led: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// A name for a store handle no other process or handle has.
fn new_instance() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{nanos}-{n}", std::process::id())
}

impl SqliteStore {
    /// Open (creating if missing) the database file and run migrations.
    ///
    /// # Errors
    /// The file cannot be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        create_private(path).map_err(|e| StoreError::Location {
            url: location.clone(),
            reason: e.to_string(),
        })?;
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{location}"))
            .map_err(|e| StoreError::Location {
                url: location.clone(),
                reason: e.to_string(),
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Every commit reaches the disk before it is acknowledged (WAL's default,
            // NORMAL, may lose the last commits on a power loss).
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::Location {
                url: location.clone(),
                reason: e.to_string(),
            })?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .db()?;
        let reads = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            // A connection to a local file does not go stale between uses: no ping (a round
            // trip to the connection's thread) before each read.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Location {
                url: location.clone(),
                reason: e.to_string(),
            })?;
        Ok(SqliteStore {
            commits: std::sync::Arc::new(GroupCommit::new(Writer { pool: pool.clone() })),
            pool,
            reads,
            inline: std::sync::Arc::new(crate::inline::InlineReads::new(path)),
            path: path.to_path_buf(),
            instance: new_instance(),
            has_led: std::sync::Arc::default(),
        })
    }

    /// Close every connection of this handle, waiting until they are (the files can then be
    /// moved). Later use of the handle fails.
    pub async fn close(&self) {
        self.pool.close().await;
        self.reads.close().await;
        self.inline.close();
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run a raw statement (tests use it to tamper with the audit log as an attacker would).
    ///
    /// # Errors
    /// The statement fails.
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await
            .db()?
            .rows_affected())
    }
}

/// Create the database file, when missing, readable and writable by its owner only (0600,
/// whatever the umask): it holds token hashes, who asked for what and why. SQLite gives its
/// `-wal` and `-shm` files the database file's permissions. An existing file is left as it
/// is (`latch serve` warns when others can read it: see [`readable_by_others`]).
pub(crate) fn create_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        match create_new_private(path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            created => created,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Creates `path`, which must not exist (a symlink there counts), empty and readable and
/// writable by its owner only: 0600 exactly on Unix, whatever the umask.
pub(crate) fn create_new_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        // The umask may have taken bits off 0600, never added any; say 0600 exactly.
        options
            .mode(0o600)
            .open(path)?
            .set_permissions(std::fs::Permissions::from_mode(0o600))
    }
    #[cfg(not(unix))]
    {
        options.open(path).map(drop)
    }
}

/// The files of a SQLite database (the file itself, its `-wal` and `-shm`) that exist and that
/// users other than the owner can read or write, with their modes, e.g. `("latch.db", 0o644)`.
/// Always empty off Unix.
#[must_use]
pub fn readable_by_others(path: &Path) -> Vec<(PathBuf, u32)> {
    let mut found = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let mut shm = path.as_os_str().to_owned();
        shm.push("-shm");
        for file in [path.to_path_buf(), PathBuf::from(wal), PathBuf::from(shm)] {
            if let Ok(meta) = std::fs::metadata(&file) {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    found.push((file, mode));
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    found
}

/// Writes the batches of [`GroupCommit`].
#[derive(Debug)]
struct Writer {
    pool: SqlitePool,
}

#[async_trait]
impl BatchWriter for Writer {
    async fn write_batch(
        &self,
        batch: &[Changeset],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        // IMMEDIATE takes the write lock up front, so a second process waits (busy timeout)
        // instead of failing when it upgrades a read lock.
        q::commit_batch(&self.pool, "BEGIN IMMEDIATE", batch).await
    }
}

#[async_trait]
impl StoreRead for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        q::request(&mut *self.reads.acquire().await.db()?, id).await
    }

    async fn requests(&self, query: &RequestQuery) -> Result<Vec<RequestRecord>, StoreError> {
        q::requests(&mut *self.reads.acquire().await.db()?, query).await
    }

    async fn messages(&self, request_id: &str) -> Result<Vec<ChatMessage>, StoreError> {
        q::messages(&mut *self.reads.acquire().await.db()?, request_id).await
    }

    async fn approvals(&self, request_id: &str) -> Result<Vec<ApprovalRecord>, StoreError> {
        q::approvals(&mut *self.reads.acquire().await.db()?, request_id).await
    }

    async fn grant(&self, id: &str) -> Result<Option<GrantRecord>, StoreError> {
        q::grant(&mut *self.reads.acquire().await.db()?, id).await
    }

    async fn grants(&self, query: &GrantQuery) -> Result<Vec<GrantRecord>, StoreError> {
        if (1..=inline::MAX_PAGE).contains(&query.limit) {
            return self.inline.grants(&q::grants_sql(query), query);
        }
        q::grants(&mut *self.reads.acquire().await.db()?, query).await
    }

    async fn audit(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        q::audit_after(&mut *self.reads.acquire().await.db()?, after_seq, limit).await
    }

    async fn audit_search(
        &self,
        search: &AuditSearch,
    ) -> Result<(Vec<AuditRecord>, i64), StoreError> {
        q::audit_search(&mut *self.reads.acquire().await.db()?, search).await
    }

    async fn audit_references(&self) -> Result<Vec<AuditReference>, StoreError> {
        q::audit_references(&mut *self.reads.acquire().await.db()?).await
    }

    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.inline.token_by_hash(q::TOKEN_BY_HASH, secret_hash)
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        q::tokens(&mut *self.reads.acquire().await.db()?).await
    }

    async fn directory(&self) -> Result<Vec<latch_grant::directory::DirectoryPerson>, StoreError> {
        q::directory(&mut *self.reads.acquire().await.db()?).await
    }

    async fn sink_cursor(&self, name: &str) -> Result<latch_grant::sinks::SinkCursor, StoreError> {
        q::sink_cursor(&mut *self.reads.acquire().await.db()?, name).await
    }

    async fn dead_letters(
        &self,
        name: &str,
    ) -> Result<Vec<latch_grant::sinks::DeadLetter>, StoreError> {
        q::dead_letters(&mut *self.reads.acquire().await.db()?, name).await
    }

    async fn posture_latest(&self, kind: &str) -> Result<Option<PostureRecord>, StoreError> {
        q::posture_latest(&mut *self.reads.acquire().await.db()?, kind).await
    }

    async fn posture_figures(
        &self,
        kind: &str,
        since: Millis,
    ) -> Result<Vec<PostureRecord>, StoreError> {
        q::posture_figures(&mut *self.reads.acquire().await.db()?, kind, since).await
    }

    async fn activity(&self, since: Millis, now: Millis) -> Result<Activity, StoreError> {
        q::activity(&mut *self.reads.acquire().await.db()?, since, now).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn commit(&self, changes: Changeset) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.commits.commit(changes).await
    }

    async fn remember_nonce(
        &self,
        key: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<bool, StoreError> {
        q::remember_nonce(&mut *self.pool.acquire().await.db()?, key, now, expires_at).await
    }

    async fn try_lead(&self, holder: &str, now: Millis, ttl_ms: i64) -> Result<bool, StoreError> {
        use std::sync::atomic::Ordering;
        // A lease row: take it when free or expired, renew it when this handle holds it.
        // A handle that has never led also takes it from its own server id: that is the same
        // server restarted (the old process cannot renew any more), so a grant due during
        // the restart is not removed late. A live process it superseded (two processes
        // configured with the same id) has led, so it steps down and does not take it back.
        let fresh = !self.has_led.load(Ordering::SeqCst);
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, instance, expires_at) \
             VALUES ('scheduler', $1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             instance = excluded.instance, expires_at = excluded.expires_at \
             WHERE leases.expires_at < $4 \
             OR (leases.holder = excluded.holder AND leases.instance = excluded.instance) \
             OR (leases.holder = excluded.holder AND $5)",
        )
        .bind(holder)
        .bind(&self.instance)
        .bind(now.saturating_add(ttl_ms))
        .bind(now)
        .bind(fresh)
        .execute(&self.pool)
        .await
        .db()?;
        let got = done.rows_affected() == 1;
        if got {
            self.has_led.store(true, Ordering::SeqCst);
        }
        Ok(got)
    }

    async fn release_lead(&self, holder: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM leases WHERE name = 'scheduler' AND holder = $1 AND instance = $2",
        )
        .bind(holder)
        .bind(&self.instance)
        .execute(&self.pool)
        .await
        .db()?;
        Ok(())
    }

    async fn advance_sink(
        &self,
        name: &str,
        from_seq: i64,
        to_seq: i64,
        now: Millis,
    ) -> Result<bool, StoreError> {
        q::advance_sink(
            &mut *self.pool.acquire().await.db()?,
            name,
            from_seq,
            to_seq,
            now,
        )
        .await
    }

    async fn sink_failure(
        &self,
        name: &str,
        at_seq: i64,
        error: &str,
        refused: bool,
        now: Millis,
    ) -> Result<i32, StoreError> {
        q::sink_failure(
            &mut *self.pool.acquire().await.db()?,
            name,
            at_seq,
            error,
            refused,
            now,
        )
        .await
    }

    async fn dead_letter(
        &self,
        name: &str,
        seq: i64,
        error: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.db()?;
        let moved = q::dead_letter(&mut tx, name, seq, error, now).await?;
        tx.commit().await.db()?;
        Ok(moved)
    }
}
