//! Where a database's schema stands against the migrations this build carries, read without
//! changing anything: `latch doctor` asks before any server starts (a server migrates at
//! start, and a database migrated by a newer Latch must not be served by an older one).

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

use latch_grant::{redact_location, StoreError};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// A database's schema against this build's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// How many migrations this build carries.
    pub known: usize,
    /// Migrations applied to the database, by version.
    pub applied: Vec<i64>,
    /// Migrations this build carries that the database lacks (applied at the next start of
    /// `latch serve`): (version, description).
    pub pending: Vec<(i64, String)>,
    /// Migrations the database has that this build does not know: a newer Latch migrated it.
    pub unknown: Vec<i64>,
    /// Migrations whose text differs from what was applied, or that failed half-way.
    pub damaged: Vec<i64>,
}

impl SchemaStatus {
    /// The schema is exactly this build's.
    #[must_use]
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty() && self.damaged.is_empty()
    }
}

/// The schema of the database at `location` (as [`crate::open`] takes it), read only: a
/// SQLite file that does not exist is an error, not created.
///
/// # Errors
/// The database cannot be reached or read.
pub async fn schema_status(location: &str) -> Result<SchemaStatus, StoreError> {
    let fail = |reason: String| StoreError::Location {
        url: redact_location(location),
        reason,
    };
    let (backend, migrator, rows) = if location.starts_with("postgres://")
        || location.starts_with("postgresql://")
    {
        let options = PgConnectOptions::from_str(location).map_err(|e| fail(e.to_string()))?;
        let mut conn = options.connect().await.map_err(|e| fail(e.to_string()))?;
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let rows = if exists {
            applied_pg(&mut conn)
                .await
                .map_err(|e| fail(e.to_string()))?
        } else {
            Vec::new()
        };
        let _ = conn.close().await;
        ("postgres", &POSTGRES, rows)
    } else {
        let path = location.strip_prefix("sqlite://").unwrap_or(location);
        if !std::path::Path::new(path).exists() {
            return Err(fail(
                "no such file (`latch serve` creates it at its first start)".to_owned(),
            ));
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
            .map_err(|e| fail(e.to_string()))?
            .read_only(true);
        let mut conn = options.connect().await.map_err(|e| fail(e.to_string()))?;
        let exists: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
            )
            .fetch_one(&mut conn)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let rows = if exists {
            applied_sqlite(&mut conn)
                .await
                .map_err(|e| fail(e.to_string()))?
        } else {
            Vec::new()
        };
        let _ = conn.close().await;
        ("sqlite", &SQLITE, rows)
    };
    Ok(compare(backend, migrator, &rows))
}

/// One row of `_sqlx_migrations`: version, checksum, success.
type Applied = (i64, Vec<u8>, bool);

async fn applied_pg(conn: &mut sqlx::PgConnection) -> Result<Vec<Applied>, sqlx::Error> {
    let rows = sqlx::query("SELECT version, checksum, success FROM _sqlx_migrations")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

async fn applied_sqlite(conn: &mut sqlx::SqliteConnection) -> Result<Vec<Applied>, sqlx::Error> {
    let rows = sqlx::query("SELECT version, checksum, success FROM _sqlx_migrations")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

fn compare(backend: &'static str, migrator: &Migrator, rows: &[Applied]) -> SchemaStatus {
    let known: Vec<_> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    let mut status = SchemaStatus {
        backend,
        known: known.len(),
        applied: rows.iter().map(|r| r.0).collect(),
        pending: Vec::new(),
        unknown: Vec::new(),
        damaged: Vec::new(),
    };
    status.applied.sort_unstable();
    for m in &known {
        match rows.iter().find(|r| r.0 == m.version) {
            None => status.pending.push((m.version, m.description.to_string())),
            Some((_, checksum, success)) => {
                if !success || checksum.as_slice() != &*m.checksum {
                    status.damaged.push(m.version);
                }
            }
        }
    }
    for r in rows {
        if !known.iter().any(|m| m.version == r.0) {
            status.unknown.push(r.0);
        }
    }
    status.unknown.sort_unstable();
    status
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[tokio::test]
    async fn a_missing_file_is_an_error_and_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latch.db");
        let err = schema_status(path.to_str().unwrap()).await.unwrap_err();
        assert!(err.to_string().contains("no such file"), "{err}");
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn a_fresh_store_is_current_and_a_missing_migration_is_pending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latch.db");
        let location = path.to_str().unwrap().to_owned();
        drop(crate::open(&location).await.unwrap());
        let status = schema_status(&location).await.unwrap();
        assert!(status.is_current(), "{status:?}");
        assert_eq!(status.applied.len(), status.known);
        assert_eq!(status.backend, "sqlite");

        // Take the last migration's record away: it is pending. Add one this build does not
        // know, and damage another's checksum.
        let last = *status.applied.last().unwrap();
        let first = status.applied[0];
        let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{location}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = ?")
            .bind(last)
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
             VALUES (99999999, 'from the future', CURRENT_TIMESTAMP, TRUE, X'00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query("UPDATE _sqlx_migrations SET checksum = X'01' WHERE version = ?")
            .bind(first)
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let status = schema_status(&location).await.unwrap();
        assert!(!status.is_current());
        assert_eq!(
            status.pending.iter().map(|p| p.0).collect::<Vec<_>>(),
            vec![last]
        );
        assert_eq!(status.unknown, vec![99_999_999]);
        assert_eq!(status.damaged, vec![first]);
    }
}
