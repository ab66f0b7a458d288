//! The PostgreSQL backend: several servers share one database.
//!
//! Audit appends take an exclusive table lock inside their transaction, so the hash chain
//! stays linear across servers; commits made at the same time on one server share a
//! transaction, and so one lock and one flush ([`crate::group`]). Scheduler leadership is a session-level advisory lock held on
//! a dedicated connection: it is released the moment that server dies (its connection closes),
//! so a survivor takes over on its next attempt.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _, PgConnection};
use tokio::sync::Mutex;

use crate::db::Db as _;
use crate::group::{BatchWriter, GroupCommit};
use latch_grant::redact_location;
use latch_grant::{Changeset, Store, StoreError, StoreRead};

mod q {
    crate::sql::shared_sql!(
        sqlx::Postgres,
        sqlx::PgConnection,
        sqlx::postgres::PgRow,
        "LOCK TABLE audit_log IN EXCLUSIVE MODE"
    );
}

use latch_grant::records::*;

/// How long a connection may sit in the pool before it is pinged ahead of its next use.
const IDLE_BEFORE_PING: std::time::Duration = std::time::Duration::from_secs(1);

/// The PostgreSQL store.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// Commits, written in batches on `pool`.
    commits: GroupCommit<Writer>,
    options: PgConnectOptions,
    lock_key: i64,
    leader: Mutex<Option<Leader>>,
}

#[derive(Debug)]
struct Leader {
    conn: PgConnection,
    held: bool,
}

impl PostgresStore {
    /// Connect and run migrations. With `schema`, everything lives in that schema (created if
    /// missing) — tests use one schema per run so parallel runs never collide.
    ///
    /// # Errors
    /// Unreachable database, failed migration.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let location_error = |reason: String| StoreError::Location {
            url: redact_location(url),
            reason,
        };
        let mut options =
            PgConnectOptions::from_str(url).map_err(|e| location_error(e.to_string()))?;
        if let Some(schema) = schema {
            if schema.is_empty()
                || !schema
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(location_error(format!(
                    "schema `{schema}` must be letters, digits and underscores"
                )));
            }
            let mut conn = options
                .connect()
                .await
                .map_err(|e| location_error(e.to_string()))?;
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .execute(&mut conn)
                .await
                .db()?;
            conn.close().await.db()?;
            options = options.options([("search_path", schema)]);
        }
        // Fail fast on an unreachable server (the pool itself would retry for its timeout).
        let probe = options
            .connect()
            .await
            .map_err(|e| location_error(e.to_string()))?;
        probe.close().await.db()?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(10))
            // sqlx pings a connection when it is given back (a broken one is closed then);
            // a ping before every use too would add a round trip to every statement. Only a
            // connection that sat idle — long enough for the server to have gone away — is
            // pinged before it is handed out.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_PING {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(|e| location_error(e.to_string()))?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .db()?;
        // One advisory lock key per database and schema, so separate deployments (or test
        // runs) on one server do not fight over leadership.
        let scope = format!(
            "latch-scheduler/{}/{}",
            options.get_database().unwrap_or(""),
            schema.unwrap_or("public")
        );
        Ok(PostgresStore {
            commits: GroupCommit::new(Writer { pool: pool.clone() }),
            pool,
            options,
            lock_key: lock_key(&scope),
            leader: Mutex::new(None),
        })
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

    /// Close every connection (and so give up leadership).
    pub async fn close(&self) {
        *self.leader.lock().await = None;
        self.pool.close().await;
    }
}

fn lock_key(scope: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(scope.as_bytes());
    let mut bytes = [0u8; 8];
    for (b, d) in bytes.iter_mut().zip(digest.iter()) {
        *b = *d;
    }
    i64::from_be_bytes(bytes)
}

/// Writes the batches of [`GroupCommit`].
#[derive(Debug)]
struct Writer {
    pool: PgPool,
}

#[async_trait]
impl BatchWriter for Writer {
    async fn write_batch(
        &self,
        batch: &[Changeset],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        q::commit_batch(&self.pool, "BEGIN", batch).await
    }
}

#[async_trait]
impl StoreRead for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        q::request(&mut *self.pool.acquire().await.db()?, id).await
    }

    async fn requests(&self, query: &RequestQuery) -> Result<Vec<RequestRecord>, StoreError> {
        q::requests(&mut *self.pool.acquire().await.db()?, query).await
    }

    async fn messages(&self, request_id: &str) -> Result<Vec<ChatMessage>, StoreError> {
        q::messages(&mut *self.pool.acquire().await.db()?, request_id).await
    }

    async fn approvals(&self, request_id: &str) -> Result<Vec<ApprovalRecord>, StoreError> {
        q::approvals(&mut *self.pool.acquire().await.db()?, request_id).await
    }

    async fn grant(&self, id: &str) -> Result<Option<GrantRecord>, StoreError> {
        q::grant(&mut *self.pool.acquire().await.db()?, id).await
    }

    async fn grants(&self, query: &GrantQuery) -> Result<Vec<GrantRecord>, StoreError> {
        q::grants(&mut *self.pool.acquire().await.db()?, query).await
    }

    async fn audit(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        q::audit_after(&mut *self.pool.acquire().await.db()?, after_seq, limit).await
    }

    async fn audit_search(
        &self,
        search: &AuditSearch,
    ) -> Result<(Vec<AuditRecord>, i64), StoreError> {
        q::audit_search(&mut *self.pool.acquire().await.db()?, search).await
    }

    async fn audit_references(&self) -> Result<Vec<AuditReference>, StoreError> {
        q::audit_references(&mut *self.pool.acquire().await.db()?).await
    }

    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(q::TOKEN_BY_HASH)
            .bind(secret_hash)
            .fetch_optional(&mut *self.pool.acquire().await.db()?)
            .await
            .db()?;
        row.as_ref().map(q::token_from_row).transpose()
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        q::tokens(&mut *self.pool.acquire().await.db()?).await
    }

    async fn directory(&self) -> Result<Vec<latch_grant::directory::DirectoryPerson>, StoreError> {
        q::directory(&mut *self.pool.acquire().await.db()?).await
    }

    async fn sink_cursor(&self, name: &str) -> Result<latch_grant::sinks::SinkCursor, StoreError> {
        q::sink_cursor(&mut *self.pool.acquire().await.db()?, name).await
    }

    async fn dead_letters(
        &self,
        name: &str,
    ) -> Result<Vec<latch_grant::sinks::DeadLetter>, StoreError> {
        q::dead_letters(&mut *self.pool.acquire().await.db()?, name).await
    }

    async fn posture_latest(&self, kind: &str) -> Result<Option<PostureRecord>, StoreError> {
        q::posture_latest(&mut *self.pool.acquire().await.db()?, kind).await
    }

    async fn posture_figures(
        &self,
        kind: &str,
        since: Millis,
    ) -> Result<Vec<PostureRecord>, StoreError> {
        q::posture_figures(&mut *self.pool.acquire().await.db()?, kind, since).await
    }

    async fn activity(&self, since: Millis, now: Millis) -> Result<Activity, StoreError> {
        q::activity(&mut *self.pool.acquire().await.db()?, since, now).await
    }
}

#[async_trait]
impl Store for PostgresStore {
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

    async fn try_lead(
        &self,
        _holder: &str,
        _now: Millis,
        _ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut guard = self.leader.lock().await;
        if let Some(leader) = guard.as_mut() {
            // Check the dedicated connection is alive; a dead one lost the lock with it.
            if leader.conn.ping().await.is_err() {
                *guard = None;
            }
        }
        if guard.is_none() {
            let conn = self.options.connect().await.db()?;
            *guard = Some(Leader { conn, held: false });
        }
        let Some(leader) = guard.as_mut() else {
            return Ok(false);
        };
        if leader.held {
            return Ok(true);
        }
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(self.lock_key)
            .fetch_one(&mut leader.conn)
            .await
            .db()?;
        leader.held = got;
        Ok(got)
    }

    async fn release_lead(&self, _holder: &str) -> Result<(), StoreError> {
        let mut guard = self.leader.lock().await;
        if let Some(mut leader) = guard.take() {
            if leader.held {
                let _: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
                    .bind(self.lock_key)
                    .fetch_one(&mut leader.conn)
                    .await
                    .db()?;
            }
            leader.conn.close().await.db()?;
        }
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
        let mut tx = self.pool.begin().await.db()?;
        let moved = q::dead_letter(&mut tx, name, seq, error, now).await?;
        tx.commit().await.db()?;
        Ok(moved)
    }
}
