//! The records the control plane persists. Times are Unix milliseconds (UTC).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// Unix time in milliseconds (UTC).
pub type Millis = i64;

/// A name that is not one of an enumeration's values (`--role superuser`). Read from a row,
/// it becomes [`StoreError::Corrupt`]; typed by a person, it is their mistake, said plainly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {} `{value}` (expected one of: {})", kind_words(kind), expected.join(", "))]
pub struct UnknownValue {
    /// The enumeration (`Role`).
    pub kind: &'static str,
    /// What was given.
    pub value: String,
    /// The names it accepts.
    pub expected: &'static [&'static str],
}

/// `RequestStatus` → `request status`.
fn kind_words(kind: &str) -> String {
    let mut words = String::new();
    for (i, c) in kind.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    words
}

impl From<UnknownValue> for StoreError {
    fn from(e: UnknownValue) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and displayed name.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownValue {
                        kind: stringify!($name),
                        value: other.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }
    };
}

string_enum! {
    /// Where a request stands. `Pending` is the only state that can change.
    RequestStatus {
        /// Waiting for approvers.
        Pending => "pending",
        /// Approved (or auto-approved, or break-glass): a grant exists.
        Approved => "approved",
        /// Denied by an approver.
        Denied => "denied",
        /// Nobody answered before the last approver tier timed out.
        Expired => "expired",
        /// Withdrawn before a decision: the requester left the directory or was deactivated.
        Cancelled => "cancelled",
    }
}

string_enum! {
    /// Where a grant stands: `Approved` (persisted, not yet applied to the cloud) → `Active`
    /// → `Expiring`/`Revoking` (persisted, cloud call under way) → `Expired`/`Revoked`.
    GrantStatus {
        /// Decided, not yet applied to the cloud.
        Approved => "approved",
        /// Applied: the identity holds the permission.
        Active => "active",
        /// Due: removal from the cloud is under way.
        Expiring => "expiring",
        /// Revoked by a person: removal from the cloud is under way.
        Revoking => "revoking",
        /// Removed after its time ran out.
        Expired => "expired",
        /// Removed early by a person.
        Revoked => "revoked",
    }
}

impl GrantStatus {
    /// Statuses in which the cloud may hold (or is about to hold) the grant.
    pub const LIVE: &'static [GrantStatus] = &[
        GrantStatus::Approved,
        GrantStatus::Active,
        GrantStatus::Expiring,
        GrantStatus::Revoking,
    ];

    /// True once the grant is gone from the cloud for good.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, GrantStatus::Expired | GrantStatus::Revoked)
    }
}

string_enum! {
    /// What an approver said.
    Decision {
        /// Yes.
        Approve => "approve",
        /// No.
        Deny => "deny",
    }
}

string_enum! {
    /// What an API token may do.
    Role {
        /// Ask for bundles; see and revoke one's own grants.
        Requester => "requester",
        /// Also approve or deny others' requests (when named by the approval policy).
        Approver => "approver",
        /// Everything, including the audit log and revoking anyone's grant.
        Admin => "admin",
        /// Read everything an admin reads (every request and grant, the audit log), change
        /// nothing: not even ask.
        Auditor => "auditor",
        /// Post usage events (`POST /api/v1/events`) and nothing else: the token a log
        /// pipeline holds (an EventBridge API destination). No page of the console, no read.
        Ingest => "ingest",
    }
}

impl Role {
    /// True when this role may do what needs `needed` (`Requester` < `Approver` < `Admin`;
    /// an auditor only reads, whatever the level: `read_only` says the call changes nothing;
    /// an ingest token does what needs `Ingest` and nothing else, which an admin may do too).
    /// Never compare roles with `<`: an auditor is not above an admin.
    #[must_use]
    pub fn allows(self, needed: Role, read_only: bool) -> bool {
        let level = |r: Role| match r {
            Role::Requester => 0,
            Role::Approver => 1,
            // Posting events needs an ingest token or an admin's.
            Role::Admin | Role::Ingest => 2,
            // Never needed by a call: nothing requires being an auditor.
            Role::Auditor => 3,
        };
        match self {
            Role::Auditor => read_only && needed != Role::Ingest,
            Role::Ingest => needed == Role::Ingest,
            mine => level(mine) >= level(needed),
        }
    }
}

string_enum! {
    /// How the cloud recognises the identity that receives a grant.
    IdentityKind {
        /// An IAM role: the grant is a principal tag on the role.
        Role => "role",
        /// An IAM user: the grant is a principal tag on the user.
        User => "user",
        /// An IAM Identity Center user (`aws:userid` exemption compiled into the SCP).
        IdentityCenter => "identity_center",
    }
}

/// The AWS identity a grant lands on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Identity {
    /// How the grant is carried.
    pub kind: IdentityKind,
    /// The role or user ARN, or the `aws:userid` (`AROA…:user@example.com`).
    pub id: String,
}

/// Where one grant lands: the identity, and for a person from the directory the account and
/// permission set of the role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Target {
    /// The identity the grant is given to.
    pub identity: Identity,
    /// The account (directory people).
    #[serde(default)]
    pub account: Option<String>,
    /// The permission set (directory people).
    #[serde(default)]
    pub permission_set: Option<String>,
}

impl Target {
    /// The account the grant takes effect in: the one named, else the account of a role or
    /// user ARN (`None` for an `aws:userid` without its account).
    #[must_use]
    pub fn account_id(&self) -> Option<&str> {
        if let Some(a) = &self.account {
            return Some(a);
        }
        let rest = self.identity.id.strip_prefix("arn:")?;
        let account = rest.split(':').nth(3)?;
        (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
    }
}

/// A request for a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Short unique id (`r-…`).
    pub id: String,
    /// The person asking (a name from the `[identities]` config or a token subject).
    pub requester: String,
    /// Who receives the permission.
    pub identity: Identity,
    /// The account the grant is for, when the person reaches several (an Identity Center
    /// user: the grant lands on that account's role only).
    #[serde(default)]
    pub account: Option<String>,
    /// The Identity Center permission set whose role in `account` receives the grant.
    #[serde(default)]
    pub permission_set: Option<String>,
    /// The other targets of a request for several accounts at once, after the first
    /// (`identity`, `account`, `permission_set`): one grant each, all approved together.
    #[serde(default)]
    pub more_targets: Vec<Target>,
    /// The grant this request extends (by `duration_secs`), when it asks for more time rather
    /// than a grant of its own.
    #[serde(default)]
    pub extends: Option<String>,
    /// When the access starts, for a request made ahead (a change window); `None`: at once.
    #[serde(default)]
    pub starts_at: Option<Millis>,
    /// Bundle name.
    pub bundle: String,
    /// Asked duration in seconds (for an extension: how much longer).
    pub duration_secs: i64,
    /// The justification.
    pub reason: String,
    /// Current status.
    pub status: RequestStatus,
    /// `api`, `cli` or `slack`.
    pub source: String,
    /// Granted at once under break-glass.
    pub break_glass: bool,
    /// Approver tier now asked (0 = first).
    pub tier: i32,
    /// When the current tier times out (escalation or expiry).
    pub tier_deadline: Option<Millis>,
    /// How many distinct approvals are needed.
    pub required_approvals: i32,
    /// Created.
    pub created_at: Millis,
    /// Decided (approved, denied or expired).
    pub decided_at: Option<Millis>,
    /// Optimistic-concurrency version: updates must name the version they read.
    pub version: i64,
}

impl RequestRecord {
    /// Every target, the first (`identity`, `account`, `permission_set`) first.
    #[must_use]
    pub fn targets(&self) -> Vec<Target> {
        let mut all = Vec::with_capacity(1 + self.more_targets.len());
        all.push(Target {
            identity: self.identity.clone(),
            account: self.account.clone(),
            permission_set: self.permission_set.clone(),
        });
        all.extend(self.more_targets.iter().cloned());
        all
    }
}

/// Where a request's approval message lives on a chat platform, so that it can be updated once
/// the request is decided: every one posted (an escalation posts again).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The request.
    pub request_id: String,
    /// `slack`, `teams`, ...
    pub platform: String,
    /// The channel or chat (Slack: the channel id).
    pub conversation: String,
    /// The message (Slack: its `ts`).
    pub message_id: String,
}

/// One approver's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// The request answered.
    pub request_id: String,
    /// Who answered.
    pub approver: String,
    /// What they said.
    pub decision: Decision,
    /// When.
    pub at: Millis,
    /// Optional comment.
    pub comment: Option<String>,
}

/// A grant: one identity holds one bundle until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// Short unique id (`g-…`).
    pub id: String,
    /// The request it came from.
    pub request_id: String,
    /// Who asked.
    pub requester: String,
    /// Who holds it.
    pub identity: Identity,
    /// The account it is for (Identity Center users), from the request.
    #[serde(default)]
    pub account: Option<String>,
    /// The permission set whose role it lands on (Identity Center users), from the request.
    #[serde(default)]
    pub permission_set: Option<String>,
    /// When it is to be applied (scheduled access); `None`: at once.
    #[serde(default)]
    pub starts_at: Option<Millis>,
    /// Bundle name.
    pub bundle: String,
    /// Current status.
    pub status: GrantStatus,
    /// Break-glass grant.
    pub break_glass: bool,
    /// Decided.
    pub created_at: Millis,
    /// Applied to the cloud.
    pub activated_at: Option<Millis>,
    /// When it must be gone.
    pub expires_at: Millis,
    /// When it was removed from the cloud.
    pub ended_at: Option<Millis>,
    /// Who revoked it (for `Revoking`/`Revoked`).
    pub revoked_by: Option<String>,
    /// Why it ended early.
    pub revoke_reason: Option<String>,
    /// Sessions issued before this time are cut off (`aws:TokenIssueTime`).
    pub session_cutoff: Option<Millis>,
    /// When the holder was told the grant ends soon (once per grant).
    pub reminded_at: Option<Millis>,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// Something to append to the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When it happened.
    pub at: Millis,
    /// Dotted kind, e.g. `request.created`, `grant.revoked`, `slack.rejected`.
    pub kind: String,
    /// Who did it (`None` for the system or an unverified caller).
    pub actor: Option<String>,
    /// What it is about (a request or grant id).
    pub subject: Option<String>,
    /// Everything else, as a JSON object.
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// A new event.
    #[must_use]
    pub fn new(at: Millis, kind: &str) -> Self {
        AuditEvent {
            at,
            kind: kind.to_owned(),
            actor: None,
            subject: None,
            details: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// Set the actor.
    #[must_use]
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Set the subject.
    #[must_use]
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Set the details.
    #[must_use]
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// An audit log entry as stored: the event plus its place in the hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position, from 1, without gaps.
    pub seq: i64,
    /// When it happened.
    pub at: Millis,
    /// Dotted kind.
    pub kind: String,
    /// Who did it.
    pub actor: Option<String>,
    /// What it is about.
    pub subject: Option<String>,
    /// Everything else.
    pub details: serde_json::Value,
    /// The previous entry's hash (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over `prev_hash`, a newline and this entry's canonical JSON (hex).
    pub hash: String,
}

/// Which audit entry a request or grant row names: the log's head (`seq`, `hash`) when the
/// row was last written, the entries of that same transition included (`0` and
/// [`crate::audit::GENESIS_HASH`] when the log was empty). A log cut short below it, or rewritten
/// from there, no longer holds that entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReference {
    /// `request` or `grant`.
    pub table: String,
    /// The row's id.
    pub id: String,
    /// The entry's `seq` (`None` when the row names none).
    pub seq: Option<i64>,
    /// The entry's `hash`.
    pub hash: Option<String>,
}

/// An API token as stored: only the SHA-256 of the secret is kept.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Public id (`t-…`), safe to show.
    pub id: String,
    /// Whose token it is (a person name).
    pub subject: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// Created.
    pub created_at: Millis,
    /// Revoked (no longer accepted).
    pub revoked_at: Option<Millis>,
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("subject", &self.subject)
            .field("role", &self.role)
            .field("secret_hash", &"<hidden>")
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
}

/// A row to write: insert a new one, or update one read at `version` (the store bumps it).
#[derive(Debug, Clone)]
pub enum Write<T> {
    /// Must not exist yet.
    Insert(T),
    /// Must still be at the version it carries.
    Update(T),
}

/// Everything one state transition writes, committed atomically with its audit entries:
/// either all of it lands or none (and a stale `Update` makes it a [`StoreError::Conflict`]).
#[derive(Debug, Clone, Default)]
pub struct Changeset {
    /// Requests to insert or update.
    pub requests: Vec<Write<RequestRecord>>,
    /// Approvals to insert (one per approver and request).
    pub approvals: Vec<ApprovalRecord>,
    /// Grants to insert or update.
    pub grants: Vec<Write<GrantRecord>>,
    /// Audit entries to append, in order.
    pub audit: Vec<AuditEvent>,
    /// API tokens to create (their hashes only); an id that exists already is a conflict.
    pub tokens: Vec<TokenRecord>,
    /// API tokens to stop accepting; one that is not live (unknown or already revoked) is a
    /// conflict.
    pub token_revocations: Vec<TokenRevocation>,
    /// Where approval messages were posted (each kept; one already recorded is not repeated).
    pub messages: Vec<ChatMessage>,
    /// Directory rows to write (a sync of the people directory).
    pub directory: Vec<crate::directory::DirectoryWrite>,
    /// Posture documents to keep (each a new row: the history is the trend).
    pub posture: Vec<PostureRecord>,
}

/// The summary of one scan, plan or prove run, pushed to the server or read from its posture
/// directory. The server keeps every one: the latest of each kind is shown, and the figures
/// of all of them draw the trends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureRecord {
    /// `scan`, `plan` or `prove`.
    pub kind: String,
    /// When it reached the server.
    pub pushed_at: Millis,
    /// Who pushed it (a token subject), or `directory:<file>`.
    pub pushed_by: String,
    /// SHA-256 of the document as pushed, hex: the same document again is known.
    pub digest: String,
    /// A few numbers for the trends (JSON object), small enough to read by the hundred.
    pub figures: String,
    /// The summary shown (JSON).
    pub body: String,
}

/// Per UTC day, what happened in the control plane: the trends of the posture page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Grants active when the first day began.
    pub active_before: i64,
    /// The days with anything in them, in order.
    pub days: Vec<DayActivity>,
}

/// One UTC day of [`Activity`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayActivity {
    /// Days since 1970-01-01.
    pub day: i64,
    /// Requests made.
    pub requests: i64,
    /// Grants that became active.
    pub grants_started: i64,
    /// Grants that ended (revoked, relinquished or expired), up to now.
    pub grants_ended: i64,
}

/// A token to stop accepting, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRevocation {
    /// Token id (`t-…`).
    pub id: String,
    /// When it stops being accepted.
    pub at: Millis,
}

impl Changeset {
    /// A changeset that only appends audit entries.
    #[must_use]
    pub fn audit_only(events: Vec<AuditEvent>) -> Self {
        Changeset {
            audit: events,
            ..Changeset::default()
        }
    }

    /// True when there is nothing to write.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
            && self.approvals.is_empty()
            && self.grants.is_empty()
            && self.audit.is_empty()
            && self.tokens.is_empty()
            && self.token_revocations.is_empty()
            && self.messages.is_empty()
            && self.directory.is_empty()
            && self.posture.is_empty()
    }
}

/// Which requests to list (newest first).
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    /// Only this status.
    pub status: Option<RequestStatus>,
    /// Only this requester.
    pub requester: Option<String>,
    /// At most this many (0 = no limit).
    pub limit: i64,
}

/// Which audit entries to find, newest first: each filter given narrows the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSearch {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Kinds starting with this (`grant.` finds every grant entry).
    pub kind_prefix: Option<String>,
    /// At or after this time.
    pub from: Option<Millis>,
    /// At or before this time.
    pub to: Option<Millis>,
    /// In the subject or the details, without regard to ASCII case.
    pub text: Option<String>,
    /// Skip this many of the newest matches.
    pub offset: i64,
    /// At most this many (0 = all).
    pub limit: i64,
}

impl AuditSearch {
    /// True when `e` is one of the entries searched for.
    #[must_use]
    pub fn matches(&self, e: &AuditRecord) -> bool {
        let contains = |hay: &str, needle: &str| {
            hay.to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase())
        };
        self.actor
            .as_deref()
            .is_none_or(|a| e.actor.as_deref() == Some(a))
            && self
                .kind_prefix
                .as_deref()
                .is_none_or(|k| e.kind.starts_with(k))
            && self.from.is_none_or(|t| e.at >= t)
            && self.to.is_none_or(|t| e.at <= t)
            && self.text.as_deref().is_none_or(|t| {
                e.subject.as_deref().is_some_and(|s| contains(s, t))
                    || contains(&e.details.to_string(), t)
            })
    }
}

/// Which grants to list (oldest expiry first).
#[derive(Debug, Clone, Default)]
pub struct GrantQuery {
    /// Only these statuses (empty = all).
    pub statuses: Vec<GrantStatus>,
    /// Only this identity id.
    pub identity_id: Option<String>,
    /// Only this bundle.
    pub bundle: Option<String>,
    /// Only this requester.
    pub requester: Option<String>,
    /// Only the grants of this request.
    pub request_id: Option<String>,
    /// Only grants expiring at or before this time.
    pub expires_at_most: Option<Millis>,
    /// Only grants whose holder was not yet told they end soon.
    pub unreminded: bool,
    /// At most this many (0 = no limit).
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_auditor_reads_everything_and_changes_nothing() {
        for needed in [Role::Requester, Role::Approver, Role::Admin] {
            assert!(Role::Auditor.allows(needed, true));
            assert!(!Role::Auditor.allows(needed, false));
            assert!(Role::Admin.allows(needed, false));
        }
        assert!(Role::Approver.allows(Role::Requester, false));
        assert!(!Role::Approver.allows(Role::Admin, true));
        assert!(!Role::Requester.allows(Role::Approver, true));
        assert!(!Role::Requester.allows(Role::Auditor, true));
    }

    #[test]
    fn an_ingest_token_posts_events_and_does_nothing_else() {
        for needed in [Role::Requester, Role::Approver, Role::Admin, Role::Auditor] {
            assert!(!Role::Ingest.allows(needed, true));
            assert!(!Role::Ingest.allows(needed, false));
        }
        assert!(Role::Ingest.allows(Role::Ingest, false));
        assert!(Role::Admin.allows(Role::Ingest, false));
        for other in [Role::Requester, Role::Approver, Role::Auditor] {
            assert!(!other.allows(Role::Ingest, false));
            assert!(!other.allows(Role::Ingest, true));
        }
        assert_eq!("ingest".parse::<Role>(), Ok(Role::Ingest));
    }

    #[test]
    fn an_unknown_name_is_a_mistake_not_a_corrupt_row() {
        let e = "superuser".parse::<Role>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown role `superuser` (expected one of: requester, approver, admin, auditor, ingest)"
        );
        let e = "done".parse::<GrantStatus>().unwrap_err();
        assert!(e.to_string().starts_with("unknown grant status `done`"));
        // Read back from the database, the same name is a corrupt row.
        let stored: StoreError = "superuser".parse::<Role>().unwrap_err().into();
        assert!(matches!(stored, StoreError::Corrupt(_)));
    }
}
