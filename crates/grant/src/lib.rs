//! The grant workflow, pure: what the control plane records, the rules it decides by, the
//! decisions themselves, and the interfaces at its edges, with no database, network, clock or
//! server in them.
//!
//! - [`workflow`]: the state machine as pure functions (open, decide, escalate, apply, expire,
//!   revoke, reconcile), each returning one [`Changeset`] with its audit entries;
//! - [`rules`]: what it decides by (people, bundles and their approval policies, break-glass);
//! - [`records`]: requests, approvals, grants, identities, API tokens and their statuses, and
//!   [`Changeset`], one state transition with its audit entries;
//! - [`audit`]: the hash chain (canonical JSON, sealing, verification, strict JSON Lines);
//! - [`checkpoint`]: signed checkpoints of the audit log, and the [`checkpoint::CheckpointPublisher`]
//!   seam for the places they are published to;
//! - [`sinks`]: where streaming the audit log to each SIEM sink stands (cursor, dead letters);
//! - [`Store`] and its read half [`StoreRead`]: what a storage backend provides (`latch-store`
//!   holds the SQL backends, and runs [`conformance`] against each);
//! - [`cloud`]: the [`CloudAdapter`] seam to the cloud, with [`FakeCloud`] for tests;
//! - [`directory`]: the people directory (IAM Identity Center) — its records, what a sync
//!   changes, and the [`directory::DirectorySource`] seam, with a fake for tests.
//!
//! The server commits what the workflow decides, and talks to people and the cloud.

use async_trait::async_trait;

pub mod audit;
pub mod checkpoint;
pub mod cloud;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod directory;
pub mod records;
pub mod rules;
pub mod sinks;
pub mod workflow;

pub use audit::Verification;
pub use cloud::{CloudAdapter, CloudError, FakeCloud, LatchTag};
pub use records::*;
pub use rules::{ApprovalPolicy, Bundle, Person, Rules, Scope, ScopedPolicy, Tier};

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else changed the row first (stale version, duplicate approval or id).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored value could not be read back.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database refused or could not be reached.
    #[error("database error: {0}")]
    Database(String),
    /// The database location is unusable.
    #[error("bad database location `{url}`: {reason}")]
    Location {
        /// The location given (password removed).
        url: String,
        /// Why.
        reason: String,
    },
}

/// What the control plane reads. A request handler holds only this half of the store: every
/// change it causes goes through the grant workflow, which holds the whole [`Store`].
#[async_trait]
pub trait StoreRead: Send + Sync + std::fmt::Debug {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// One request.
    async fn request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError>;
    /// Requests, newest first.
    async fn requests(&self, query: &RequestQuery) -> Result<Vec<RequestRecord>, StoreError>;
    /// Where one request's approval messages were posted, by platform and conversation.
    async fn messages(&self, request_id: &str) -> Result<Vec<ChatMessage>, StoreError>;
    /// The answers given to one request, oldest first.
    async fn approvals(&self, request_id: &str) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// One grant.
    async fn grant(&self, id: &str) -> Result<Option<GrantRecord>, StoreError>;
    /// Grants, soonest expiry first.
    async fn grants(&self, query: &GrantQuery) -> Result<Vec<GrantRecord>, StoreError>;

    /// Audit entries with `seq > after_seq`, in order, at most `limit` (0 = all).
    async fn audit(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError>;

    /// The audit entries `search` finds, newest first, and how many match in all. The
    /// default reads the whole log; the stores search it with a query.
    async fn audit_search(
        &self,
        search: &AuditSearch,
    ) -> Result<(Vec<AuditRecord>, i64), StoreError> {
        let all = self.audit(0, 0).await?;
        let matching: Vec<AuditRecord> = all
            .into_iter()
            .rev()
            .filter(|e| search.matches(e))
            .collect();
        let total = i64::try_from(matching.len()).unwrap_or(i64::MAX);
        let limit = if search.limit > 0 {
            search.limit
        } else {
            i64::MAX
        };
        let page = matching
            .into_iter()
            .skip(usize::try_from(search.offset).unwrap_or(0))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        Ok((page, total))
    }

    /// Which audit entry each request and grant row names (see [`AuditReference`]).
    async fn audit_references(&self) -> Result<Vec<AuditReference>, StoreError>;

    /// The whole log and its verification: the hash chain, and every request and grant row
    /// naming an entry the log still holds.
    async fn audit_check(&self) -> Result<(Vec<AuditRecord>, Verification), StoreError> {
        // Rows first: each was committed together with the entries it names, so a log read
        // afterwards holds them even while other servers keep writing.
        let refs = self.audit_references().await?;
        let all = self.audit(0, 0).await?;
        let mut v = audit::verify(&all);
        v.check_references(&all, &refs);
        Ok((all, v))
    }

    /// Verify the whole audit log as stored (see [`Store::audit_check`]).
    async fn audit_verify(&self) -> Result<Verification, StoreError> {
        Ok(self.audit_check().await?.1)
    }

    /// The token whose secret hashes to `secret_hash`, if any (revoked ones included).
    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// Every token, by id.
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Every person of the stored directory, by user id.
    async fn directory(&self) -> Result<Vec<directory::DirectoryPerson>, StoreError>;

    /// Where streaming the audit log to the SIEM sink `name` stands, with the log's head (a
    /// sink never seen has delivered nothing).
    async fn sink_cursor(&self, name: &str) -> Result<sinks::SinkCursor, StoreError>;
    /// The entries delivery to the sink `name` gave up on, by `seq`.
    async fn dead_letters(&self, name: &str) -> Result<Vec<sinks::DeadLetter>, StoreError>;

    /// The latest posture document of `kind` (`scan`, `plan`, `prove`), if any.
    async fn posture_latest(&self, kind: &str) -> Result<Option<PostureRecord>, StoreError>;
    /// Every posture document of `kind` pushed at or after `since`, oldest first, without its
    /// body (`body` is empty): the figures the trends are drawn from.
    async fn posture_figures(
        &self,
        kind: &str,
        since: Millis,
    ) -> Result<Vec<PostureRecord>, StoreError>;
    /// Requests made and grants started and ended per UTC day from the day `since` falls
    /// in to `now`, and the grants active when that day began.
    async fn activity(&self, since: Millis, now: Millis) -> Result<Activity, StoreError>;
}

/// Everything the control plane persists: what [`StoreRead`] reads, and the writes.
/// Implementations are safe to share between tasks and, for PostgreSQL, between servers.
#[async_trait]
pub trait Store: StoreRead {
    /// Write a whole transition atomically: rows and audit entries land together or not at
    /// all.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when an update's version is stale, an insert's key exists or
    /// a token to revoke is not live.
    async fn commit(&self, changes: Changeset) -> Result<(), StoreError>;

    /// Store a new API token (only its hash), with no audit entry: a [`Changeset`] with the
    /// token and its `token.created` entry is how the server and the CLI create one.
    async fn create_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        self.commit(Changeset {
            tokens: vec![token.clone()],
            ..Changeset::default()
        })
        .await
    }
    /// Stop accepting a token, with no audit entry (a [`Changeset`] with the revocation and
    /// its `token.revoked` entry is how the server and the CLI revoke one). False when no
    /// such live token.
    async fn revoke_token(&self, id: &str, at: Millis) -> Result<bool, StoreError> {
        let revoked = self
            .commit(Changeset {
                token_revocations: vec![TokenRevocation {
                    id: id.to_owned(),
                    at,
                }],
                ..Changeset::default()
            })
            .await;
        match revoked {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Remember `key` until `expires_at`; true the first time, false when already seen and
    /// unexpired (a replay). Forgets expired keys as it goes.
    async fn remember_nonce(
        &self,
        key: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<bool, StoreError>;

    /// Try to be (or stay) the one server running the scheduler. `holder` names this server;
    /// `ttl_ms` is how long the claim lasts without renewal where the backend uses leases.
    /// Call it again periodically to renew. A server restarted with the same `holder` leads
    /// again at once (SQLite: a new handle takes a lease its own id holds; PostgreSQL: the
    /// advisory lock ended with the old process's connection); of two live servers given the
    /// same id, one leads (SQLite: the newer; PostgreSQL: the one holding the lock).
    async fn try_lead(&self, holder: &str, now: Millis, ttl_ms: i64) -> Result<bool, StoreError>;
    /// Give up leadership now.
    async fn release_lead(&self, holder: &str) -> Result<(), StoreError>;

    /// The sink `name` acknowledged every entry up to `to_seq`: move its cursor there from
    /// `from_seq`, clearing its failures. A compare-and-set: false (nothing written) unless the
    /// cursor stands at `from_seq` and `to_seq` is beyond it, so two servers delivering at once
    /// never move it backwards.
    async fn advance_sink(
        &self,
        name: &str,
        from_seq: i64,
        to_seq: i64,
        now: Millis,
    ) -> Result<bool, StoreError>;
    /// Delivering the entries after `at_seq` to the sink `name` failed with `error`; `refused`
    /// (the sink refused them, and retrying will not change that) counts an attempt. Returns
    /// the attempts counted at this cursor, 0 when the cursor is no longer at `at_seq`
    /// (nothing written).
    async fn sink_failure(
        &self,
        name: &str,
        at_seq: i64,
        error: &str,
        refused: bool,
        now: Millis,
    ) -> Result<i32, StoreError>;
    /// Give up delivering entry `seq` to the sink `name`: record it as a dead letter and move
    /// the cursor past it (from `seq - 1`), together. False (nothing written) when the cursor
    /// is not at `seq - 1`.
    async fn dead_letter(
        &self,
        name: &str,
        seq: i64,
        error: &str,
        now: Millis,
    ) -> Result<bool, StoreError>;
}

/// A store's location (a file path or a database URL) with any password replaced by `***`,
/// for messages and logs.
#[must_use]
pub fn redact_location(location: &str) -> String {
    if let Some((scheme, rest)) = location.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            if let Some((user, _password)) = userinfo.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    location.to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_location("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            super::redact_location("postgres://u@h/db"),
            "postgres://u@h/db"
        );
        assert_eq!(super::redact_location("latch.db"), "latch.db");
    }
}
