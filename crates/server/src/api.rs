//! The API's wire types: what `/api/v1` takes and answers. The server's handlers answer with
//! them, the `latch` client reads them back, and a test holds the OpenAPI document's schemas
//! to exactly their fields — one definition for all three.

use latch_grant::{ApprovalRecord, GrantRecord, GrantStatus, RequestRecord, Role};
use serde::{Deserialize, Serialize};

use crate::clock::{format_duration, rfc3339};

/// `POST /api/v1/requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequestBody {
    /// The bundle.
    pub bundle: String,
    /// `1h`, `30m`, …
    pub duration: String,
    /// Why.
    pub reason: String,
    /// Grant at once, loudly (for the people `server.break_glass` names).
    #[serde(default)]
    pub break_glass: bool,
    /// `api` (default) or `cli`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The account the grant is for (an Identity Center user who reaches several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Several accounts at once (with or instead of `account`): one request, approved once,
    /// one grant per account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// The permission set whose role in each account receives it, when they reach an account
    /// through several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_set: Option<String>,
    /// When the access starts (RFC 3339), for a change window approved ahead; default: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

/// `POST /api/v1/grants/{id}/extend`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    /// How much longer: `30m`, `1h`, …
    pub duration: String,
    /// Why.
    pub reason: String,
}

/// `POST /api/v1/requests/{id}/approve` and `/deny`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// A comment for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `POST /api/v1/grants/{id}/revoke`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// Why (default: "revoked through the API").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Deny the identity's sessions issued before now (default: `server.revoke_sessions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_sessions: Option<bool>,
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// Who the token speaks for.
    pub subject: String,
    /// What it may do.
    pub role: Role,
}

/// A request as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    /// `r-…`.
    pub id: String,
    /// Who asked.
    pub requester: String,
    /// The AWS identity the grant lands on.
    pub identity: String,
    /// `role`, `user` or `identity_center`.
    pub identity_kind: String,
    /// The account the grant is for (Identity Center users).
    pub account: Option<String>,
    /// The permission set whose role receives it (Identity Center users).
    pub permission_set: Option<String>,
    /// Every target, one grant each once approved (the first is `identity`, `account`,
    /// `permission_set`).
    pub targets: Vec<TargetView>,
    /// The grant this request asks more time for (`duration` longer).
    pub extends: Option<String>,
    /// When the access starts, for a window asked ahead (RFC 3339).
    pub starts_at: Option<String>,
    /// The bundle.
    pub bundle: String,
    /// `1h30m`.
    pub duration: String,
    /// The same, in seconds.
    pub duration_secs: i64,
    /// Why.
    pub reason: String,
    /// `pending`, `approved`, `denied`, `expired` or `cancelled`.
    pub status: String,
    /// `api`, `cli`, `slack`, `teams`.
    pub source: String,
    /// Granted at once under break-glass.
    pub break_glass: bool,
    /// The approver tier asked now (0 first).
    pub tier: i32,
    /// When the tier escalates (RFC 3339).
    pub tier_deadline: Option<String>,
    /// Distinct approvals needed.
    pub required_approvals: i32,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub decided_at: Option<String>,
}

/// Where one grant of a request lands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetView {
    /// The AWS identity.
    pub identity: String,
    /// `role`, `user` or `identity_center`.
    pub identity_kind: String,
    /// The account (Identity Center users).
    pub account: Option<String>,
    /// The permission set (Identity Center users).
    pub permission_set: Option<String>,
}

impl TargetView {
    /// The view of a target.
    #[must_use]
    pub fn of(t: &latch_grant::Target) -> TargetView {
        TargetView {
            identity: t.identity.id.clone(),
            identity_kind: t.identity.kind.as_str().to_owned(),
            account: t.account.clone(),
            permission_set: t.permission_set.clone(),
        }
    }
}

impl RequestView {
    /// The view of a record.
    #[must_use]
    pub fn of(r: &RequestRecord) -> RequestView {
        RequestView {
            id: r.id.clone(),
            requester: r.requester.clone(),
            identity: r.identity.id.clone(),
            identity_kind: r.identity.kind.as_str().to_owned(),
            account: r.account.clone(),
            permission_set: r.permission_set.clone(),
            targets: r.targets().iter().map(TargetView::of).collect(),
            extends: r.extends.clone(),
            starts_at: r.starts_at.map(rfc3339),
            bundle: r.bundle.clone(),
            duration: format_duration(r.duration_secs),
            duration_secs: r.duration_secs,
            reason: r.reason.clone(),
            status: r.status.as_str().to_owned(),
            source: r.source.clone(),
            break_glass: r.break_glass,
            tier: r.tier,
            tier_deadline: r.tier_deadline.map(rfc3339),
            required_approvals: r.required_approvals,
            created_at: rfc3339(r.created_at),
            decided_at: r.decided_at.map(rfc3339),
        }
    }
}

/// A grant as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    /// `g-…`.
    pub id: String,
    /// The request it came from.
    pub request_id: String,
    /// Who holds it.
    pub requester: String,
    /// The AWS identity it is on.
    pub identity: String,
    /// `role`, `user` or `identity_center`.
    pub identity_kind: String,
    /// The account it is for (Identity Center users).
    pub account: Option<String>,
    /// The permission set whose role it lands on (Identity Center users).
    pub permission_set: Option<String>,
    /// When it is applied, for a window asked ahead (RFC 3339).
    pub starts_at: Option<String>,
    /// The bundle.
    pub bundle: String,
    /// `approved`, `active`, `expiring`, `revoking`, `expired` or `revoked`.
    pub status: String,
    /// Where AWS stands: `pending` (approved, not applied yet), `applied` (written and read
    /// back), `removing` or `removed`.
    pub cloud_state: String,
    /// While `pending`: the last error AWS gave when it was applied, as this server saw it
    /// (it keeps retrying).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_error: Option<String>,
    /// Granted under break-glass.
    pub break_glass: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub activated_at: Option<String>,
    /// RFC 3339.
    pub expires_at: String,
    /// The same, in milliseconds since the epoch.
    pub expires_at_ms: i64,
    /// RFC 3339.
    pub ended_at: Option<String>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Why.
    pub revoke_reason: Option<String>,
    /// Sessions issued before this instant are denied (RFC 3339).
    pub session_cutoff: Option<String>,
}

impl GrantView {
    /// The view of a record.
    #[must_use]
    pub fn of(g: &GrantRecord) -> GrantView {
        GrantView {
            id: g.id.clone(),
            request_id: g.request_id.clone(),
            requester: g.requester.clone(),
            identity: g.identity.id.clone(),
            identity_kind: g.identity.kind.as_str().to_owned(),
            account: g.account.clone(),
            permission_set: g.permission_set.clone(),
            starts_at: g.starts_at.map(rfc3339),
            bundle: g.bundle.clone(),
            status: g.status.as_str().to_owned(),
            cloud_state: match g.status {
                GrantStatus::Approved => "pending",
                GrantStatus::Active => "applied",
                GrantStatus::Expiring | GrantStatus::Revoking => "removing",
                GrantStatus::Expired | GrantStatus::Revoked => "removed",
            }
            .to_owned(),
            cloud_error: None,
            break_glass: g.break_glass,
            created_at: rfc3339(g.created_at),
            activated_at: g.activated_at.map(rfc3339),
            expires_at: rfc3339(g.expires_at),
            expires_at_ms: g.expires_at,
            ended_at: g.ended_at.map(rfc3339),
            revoked_by: g.revoked_by.clone(),
            revoke_reason: g.revoke_reason.clone(),
            session_cutoff: g.session_cutoff.map(rfc3339),
        }
    }
}

/// One approver's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalView {
    /// Who.
    pub approver: String,
    /// `approve` or `deny`.
    pub decision: String,
    /// RFC 3339.
    pub at: String,
    /// Their comment.
    pub comment: Option<String>,
}

impl ApprovalView {
    /// The view of a record.
    #[must_use]
    pub fn of(a: &ApprovalRecord) -> ApprovalView {
        ApprovalView {
            approver: a.approver.clone(),
            decision: a.decision.as_str().to_owned(),
            at: rfc3339(a.at),
            comment: a.comment.clone(),
        }
    }
}

/// What asking, approving and denying answer: the request, and its grant when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAnswer {
    /// The request.
    pub request: RequestView,
    /// Its grant (auto-approved, break-glass, or approved now); the first, for a request of
    /// several targets.
    pub grant: Option<GrantView>,
    /// Every grant made now: one per target.
    #[serde(default)]
    pub grants: Vec<GrantView>,
}

impl RequestAnswer {
    /// The answer for a request and the grants made with it.
    #[must_use]
    pub fn of(r: &RequestRecord, grants: &[GrantRecord]) -> RequestAnswer {
        RequestAnswer {
            request: RequestView::of(r),
            grant: grants.first().map(GrantView::of),
            grants: grants.iter().map(GrantView::of).collect(),
        }
    }
}

/// `GET /api/v1/requests/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestDetail {
    /// The request.
    pub request: RequestView,
    /// The answers so far.
    pub approvals: Vec<ApprovalView>,
    /// Who may answer now.
    pub approvers: Vec<String>,
    /// Its grants, one per target once approved, each with where it stands in AWS.
    #[serde(default)]
    pub grants: Vec<GrantView>,
}

/// `GET /api/v1/requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestList {
    /// Newest first.
    pub requests: Vec<RequestView>,
}

/// `GET /api/v1/grants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantList {
    /// The grants.
    pub grants: Vec<GrantView>,
}

/// `GET /api/v1/grants/{id}` and what revoking answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantAnswer {
    /// The grant.
    pub grant: GrantView,
}

/// What creating a token answers: the secret, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    /// `t-…`.
    pub id: String,
    /// Who it speaks for.
    pub subject: String,
    /// What it may do.
    pub role: Role,
    /// The secret (`latch_…`); never stored, never shown again.
    pub token: String,
}

/// Every error: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, for machines (`self_approval`, `unauthenticated`, …).
    pub code: String,
    /// For people.
    pub message: String,
}
