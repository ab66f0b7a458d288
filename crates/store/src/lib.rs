//! The SQL backends of the Latch control plane's [`Store`].
//!
//! The store's contract — the records, the audit chain, the [`Store`] trait and its read half
//! — is `latch-grant`'s; this crate implements it twice, each backend with its own migrations
//! (`migrations/sqlite`, `migrations/postgres`, never edited once released):
//!
//! - [`SqliteStore`]: an embedded file, the zero-set-up default;
//! - [`PostgresStore`]: shared by several servers; leadership of the scheduler is a
//!   PostgreSQL advisory lock held on a dedicated connection.
//!
//! Every state transition is one [`Changeset`](latch_grant::Changeset) committed atomically together with its audit
//! entries; updates carry the version they read, so two servers racing on the same request
//! or grant cannot both win ([`StoreError::Conflict`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), latch_grant::StoreError> {
//! let store = latch_store::open("latch.db").await?;              // or postgres://…
//! let check = store.audit_verify().await?;
//! assert!(check.is_intact());
//! # Ok(()) }
//! ```

use std::sync::Arc;

use latch_grant::{Store, StoreError};

pub mod backup;
mod db;
mod group;
mod inline;
mod postgres;
mod schema;
mod sql;
mod sqlite;

pub use postgres::PostgresStore;
pub use schema::{schema_status, SchemaStatus};
pub use sqlite::SqliteStore;

/// Open the store a location names: `postgres://…`/`postgresql://…` for PostgreSQL,
/// `sqlite://PATH` or a plain file path for SQLite (created if missing). Runs migrations.
///
/// # Errors
/// Unreachable database, failed migration.
pub async fn open(location: &str) -> Result<Arc<dyn Store>, StoreError> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(location, None).await?))
    } else {
        let path = location.strip_prefix("sqlite://").unwrap_or(location);
        Ok(Arc::new(
            SqliteStore::open(std::path::Path::new(path)).await?,
        ))
    }
}

/// The files of the database at `location` that users other than their owner can read or
/// write, with their permission bits: a SQLite file and its `-wal`/`-shm` files (a new one is
/// created 0600; an older or copied one may not be). Empty for PostgreSQL and off Unix.
#[must_use]
pub fn exposed_files(location: &str) -> Vec<(std::path::PathBuf, u32)> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        return Vec::new();
    }
    let path = location.strip_prefix("sqlite://").unwrap_or(location);
    sqlite::readable_by_others(std::path::Path::new(path))
}
