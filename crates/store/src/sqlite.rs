//! The SQLite backend: one embedded file, the default.
//!
//! One connection serialises all access (SQLite allows one writer at a time anyway), which
//! also makes audit appends race-free inside this process; the file's lock and a busy
//! timeout cover other processes (a CLI reading the audit log while the server runs).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::{Changeset, Store, StoreError};

mod q {
    crate::sql::shared_sql!(sqlx::SqliteConnection, sqlx::sqlite::SqliteRow, "");
}

use crate::types::*;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Open (creating if missing) the database file and run migrations.
    ///
    /// # Errors
    /// The file cannot be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{location}"))
            .map_err(|e| StoreError::Location {
                url: location.clone(),
                reason: e.to_string(),
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Location {
                url: location.clone(),
                reason: e.to_string(),
            })?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            pool,
            path: path.to_path_buf(),
        })
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
            .await?
            .rows_affected())
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn commit(&self, changes: Changeset) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        // IMMEDIATE takes the write lock up front, so a second process waits (busy timeout)
        // instead of failing when it upgrades a read lock.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        q::apply_changeset(&mut tx, &changes).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        q::request(&mut *self.pool.acquire().await?, id).await
    }

    async fn requests(&self, query: &RequestQuery) -> Result<Vec<RequestRecord>, StoreError> {
        q::requests(&mut *self.pool.acquire().await?, query).await
    }

    async fn approvals(&self, request_id: &str) -> Result<Vec<ApprovalRecord>, StoreError> {
        q::approvals(&mut *self.pool.acquire().await?, request_id).await
    }

    async fn grant(&self, id: &str) -> Result<Option<GrantRecord>, StoreError> {
        q::grant(&mut *self.pool.acquire().await?, id).await
    }

    async fn grants(&self, query: &GrantQuery) -> Result<Vec<GrantRecord>, StoreError> {
        q::grants(&mut *self.pool.acquire().await?, query).await
    }

    async fn audit(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        q::audit_after(&mut *self.pool.acquire().await?, after_seq, limit).await
    }

    async fn audit_references(&self) -> Result<Vec<AuditReference>, StoreError> {
        q::audit_references(&mut *self.pool.acquire().await?).await
    }

    async fn create_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        q::create_token(&mut *self.pool.acquire().await?, token).await
    }

    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        q::token_by_hash(&mut *self.pool.acquire().await?, secret_hash).await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        q::tokens(&mut *self.pool.acquire().await?).await
    }

    async fn revoke_token(&self, id: &str, at: Millis) -> Result<bool, StoreError> {
        q::revoke_token(&mut *self.pool.acquire().await?, id, at).await
    }

    async fn remember_nonce(
        &self,
        key: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<bool, StoreError> {
        q::remember_nonce(&mut *self.pool.acquire().await?, key, now, expires_at).await
    }

    async fn try_lead(&self, holder: &str, now: Millis, ttl_ms: i64) -> Result<bool, StoreError> {
        // A lease row: take it when free or expired, renew it when ours.
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ('scheduler', $1, $2) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at < $3",
        )
        .bind(holder)
        .bind(now.saturating_add(ttl_ms))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_lead(&self, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE name = 'scheduler' AND holder = $1")
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
