//! Small, bounded SQLite reads run on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: every statement is a message to that
//! thread, every row a message back, and every connection taken from or given back to its pool
//! a ping through it, each a thread wake-up. For the reads the API serves most — a token by its
//! hash on every call, a page of grants — the wake-ups cost more than the statements, which are
//! index lookups and short index range reads of tens of microseconds. Those reads go through
//! here instead: a connection of this process's own, taken from a small free list, the
//! statement prepared once per connection and run where the caller is.
//!
//! Only statements bounded by an index and a small limit belong here (the caller blocks for
//! their duration); anything that may scan goes through sqlx's connections.
//!
//! In WAL mode a reader does not wait for the writer and sees every commit acknowledged before
//! it starts, as sqlx's read connections do; the connections are `query_only`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use latch_grant::records::{GrantQuery, GrantRecord, Identity, TokenRecord};
use latch_grant::StoreError;
use rusqlite::{Connection, OpenFlags, Row};

/// Connections kept between reads (more are opened when more callers read at once, and closed
/// when given back beyond this).
const KEPT: usize = 8;

/// The largest page of grants read here; larger ones go through sqlx.
pub(crate) const MAX_PAGE: i64 = 1000;

/// Connections for inline reads of one database file.
pub(crate) struct InlineReads {
    path: PathBuf,
    free: Mutex<Vec<Connection>>,
    closed: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for InlineReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineReads")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn database(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl InlineReads {
    pub(crate) fn new(path: &Path) -> Self {
        InlineReads {
            path: path.to_path_buf(),
            free: Mutex::new(Vec::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(database)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(database)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(database)?;
        Ok(conn)
    }

    /// Closes the free connections (one in use closes when it is given back, see
    /// [`Self::with`]: it is not kept once the list is closed).
    pub(crate) fn close(&self) {
        let mut free = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        free.clear();
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Runs `read` on a free connection (opening one when none is free).
    fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.closed.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError::Database("the store was closed".into()));
        }
        let taken = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match taken {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = read(&conn);
        // A connection that failed is dropped rather than given back, and so is every one once
        // the list is closed.
        if result.is_ok() && !self.closed.load(std::sync::atomic::Ordering::Relaxed) {
            let mut free = self
                .free
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if free.len() < KEPT {
                free.push(conn);
            }
        }
        result
    }

    /// The token whose secret hashes to `hash`: `sql` is `crate::sql`'s `TOKEN_BY_HASH`.
    pub(crate) fn token_by_hash(
        &self,
        sql: &str,
        hash: &str,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(sql).map_err(database)?;
            let mut rows = statement.query([hash]).map_err(database)?;
            let Some(row) = rows.next().map_err(database)? else {
                return Ok(None);
            };
            Ok(Some(TokenRecord {
                id: row.get(0).map_err(database)?,
                subject: row.get(1).map_err(database)?,
                role: row.get::<_, String>(2).map_err(database)?.parse()?,
                secret_hash: row.get(3).map_err(database)?,
                created_at: row.get(4).map_err(database)?,
                revoked_at: row.get(5).map_err(database)?,
            }))
        })
    }

    /// A page of grants: `sql` is the statement `crate::sql`'s `grants_sql` makes of `q`, whose
    /// `limit` is at most [`MAX_PAGE`]; its parameters are bound here in the same order.
    pub(crate) fn grants(&self, sql: &str, q: &GrantQuery) -> Result<Vec<GrantRecord>, StoreError> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(sql).map_err(database)?;
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::new();
            if let Some(identity_id) = &q.identity_id {
                values.push(identity_id);
            }
            if let Some(bundle) = &q.bundle {
                values.push(bundle);
            }
            if let Some(requester) = &q.requester {
                values.push(requester);
            }
            if let Some(at_most) = &q.expires_at_most {
                values.push(at_most);
            }
            if let Some(request_id) = &q.request_id {
                values.push(request_id);
            }
            values.push(&q.limit);
            // The statement names its parameters `$1`, `$2`, … (sqlx's form, shared with
            // PostgreSQL); bound by name, so a parameter used twice is bound once.
            for (i, value) in values.into_iter().enumerate() {
                let name = format!("${}", i + 1);
                let Some(index) = statement.parameter_index(&name).map_err(database)? else {
                    return Err(StoreError::Database(format!(
                        "the grants statement has no parameter {name}"
                    )));
                };
                statement
                    .raw_bind_parameter(index, value)
                    .map_err(database)?;
            }
            let mut rows = statement.raw_query();
            let mut grants = Vec::new();
            while let Some(row) = rows.next().map_err(database)? {
                grants.push(grant(row)?);
            }
            Ok(grants)
        })
    }
}

/// A row of `crate::sql`'s `GRANT_COLUMNS`, in its order.
fn grant(row: &Row<'_>) -> Result<GrantRecord, StoreError> {
    Ok(GrantRecord {
        id: row.get(0).map_err(database)?,
        request_id: row.get(1).map_err(database)?,
        requester: row.get(2).map_err(database)?,
        identity: Identity {
            kind: row.get::<_, String>(3).map_err(database)?.parse()?,
            id: row.get(4).map_err(database)?,
        },
        bundle: row.get(5).map_err(database)?,
        status: row.get::<_, String>(6).map_err(database)?.parse()?,
        break_glass: row.get(7).map_err(database)?,
        created_at: row.get(8).map_err(database)?,
        activated_at: row.get(9).map_err(database)?,
        expires_at: row.get(10).map_err(database)?,
        ended_at: row.get(11).map_err(database)?,
        revoked_by: row.get(12).map_err(database)?,
        revoke_reason: row.get(13).map_err(database)?,
        session_cutoff: row.get(14).map_err(database)?,
        reminded_at: row.get(15).map_err(database)?,
        version: row.get(16).map_err(database)?,
        account: row.get(17).map_err(database)?,
        permission_set: row.get(18).map_err(database)?,
        starts_at: row.get(19).map_err(database)?,
    })
}
