//! Database errors as the store's contract names them.

use latch_grant::StoreError;

/// A database call's result as a [`StoreError`] (`.db()?` where `?` alone would need a
/// conversion between two types this crate does not own).
pub(crate) trait Db<T> {
    /// The error, as [`StoreError::Database`].
    fn db(self) -> Result<T, StoreError>;
}

impl<T> Db<T> for Result<T, sqlx::Error> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Database(e.to_string()))
    }
}

impl<T> Db<T> for Result<T, sqlx::migrate::MigrateError> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Database(format!("migration failed: {e}")))
    }
}
