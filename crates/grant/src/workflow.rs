//! The grant workflow as pure functions: no IO, no clock (time comes in as `now`), no ids
//! invented here (they come in too). Each function takes the current records and returns the
//! records to write and the audit entries that explain them, as one [`Changeset`]; the caller
//! commits it *before* touching the cloud.
//!
//! Request: `pending` → `approved` | `denied` | `expired` (after the last tier times out;
//! earlier tiers escalate). Grant: `approved` (persisted, not yet applied) → `active` →
//! `expiring` | `revoking` (persisted, removal under way) → `expired` | `revoked`.
//!
//! Rules: the requester never approves their own request; only approvers named for the
//! current tier (or an earlier one) may answer; one "deny" ends the request; `required_approvals`
//! distinct approvals approve it; durations are capped per bundle; break-glass grants at once
//! and says so loudly; grants of one bundle to one identity overlap by extension — the cloud
//! tag always names the live grant that ends last, and ending one grant never removes a tag
//! another live grant still explains.

use std::collections::BTreeMap;

use latch_grant::{
    ApprovalRecord, AuditEvent, Changeset, Decision, GrantRecord, GrantStatus, Identity, Millis,
    RequestRecord, RequestStatus, TokenRecord, TokenRevocation, Write,
};
use serde::Serialize;
use serde_json::json;

use crate::clock::format_duration;
use crate::config::{Bundle, Config};
use latch_grant::cloud::LatchTag;

/// Why an action was refused (stable codes for machines, sentences for people).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// No such bundle.
    UnknownBundle,
    /// The person is not in `[identities]`.
    UnknownPerson,
    /// Longer than the bundle allows.
    DurationTooLong,
    /// Not a positive duration.
    InvalidDuration,
    /// No justification.
    MissingReason,
    /// Not on the break-glass list.
    BreakGlassNotAllowed,
    /// The requester tried to approve their own request.
    SelfApproval,
    /// Not an approver of this bundle's current tier.
    NotAnApprover,
    /// Already answered this request.
    AlreadyAnswered,
    /// The request is no longer pending.
    NotPending,
    /// The grant is not live any more.
    NotLive,
    /// Not allowed for this caller.
    Forbidden,
    /// No such request or grant.
    NotFound,
    /// A reason, comment or name longer than allowed.
    TooLong,
    /// A control character, line break or bidirectional formatting character in written text.
    ForbiddenCharacter,
    /// An empty or blank name, or one with a space at either end.
    InvalidName,
}

impl RefusalCode {
    /// The snake-case code.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::UnknownBundle => "unknown_bundle",
            RefusalCode::UnknownPerson => "unknown_person",
            RefusalCode::DurationTooLong => "duration_too_long",
            RefusalCode::InvalidDuration => "invalid_duration",
            RefusalCode::MissingReason => "missing_reason",
            RefusalCode::BreakGlassNotAllowed => "break_glass_not_allowed",
            RefusalCode::SelfApproval => "self_approval",
            RefusalCode::NotAnApprover => "not_an_approver",
            RefusalCode::AlreadyAnswered => "already_answered",
            RefusalCode::NotPending => "not_pending",
            RefusalCode::NotLive => "not_live",
            RefusalCode::Forbidden => "forbidden",
            RefusalCode::NotFound => "not_found",
            RefusalCode::TooLong => "too_long",
            RefusalCode::ForbiddenCharacter => "forbidden_character",
            RefusalCode::InvalidName => "invalid_name",
        }
    }
}

/// A refused action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// Stable code.
    pub code: RefusalCode,
    /// What happened and what to do.
    pub message: String,
}

fn refuse(code: RefusalCode, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// Default cap on reasons, comments and revoke reasons, in characters
/// (`server.max_reason_chars`).
pub const DEFAULT_MAX_REASON_CHARS: usize = 1000;

/// The largest `server.max_reason_chars` a configuration may set: a reason is shown in one
/// Slack message section, which holds 3,000 characters with everything else it says.
pub const MAX_REASON_CHARS_CEILING: usize = 2000;

/// Cap on the names a caller writes (bundle names, token subjects, request and grant ids,
/// durations), in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// What a refusal's audit entry keeps of each string it records, in characters: an entry is
/// bounded however long the refused input was, and a reason the configuration allows is
/// never cut.
pub const AUDIT_CLIP_CHARS: usize = MAX_REASON_CHARS_CEILING;

/// Why `c` may not appear in text a person writes (`None` when it may). Text is one line of
/// visible characters: it is shown in Slack and in the audit log, where a line break could
/// forge a line and a bidirectional override could show text in another order than it is
/// stored.
#[must_use]
pub fn forbidden_character(c: char) -> Option<&'static str> {
    match c {
        '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => Some("a line break"),
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}' => Some("a bidirectional formatting character"),
        c if c.is_control() => Some("a control character"),
        _ => None,
    }
}

/// The one rule for text a person writes (reasons, comments, revoke reasons, names): at most
/// `max_chars` characters (characters, not bytes), no control characters, line breaks or
/// bidirectional formatting characters. Every entry point (API, Slack, CLI through the API)
/// reaches it through the domain functions that take such text.
///
/// # Errors
/// A [`Refusal`] (`too_long` or `forbidden_character`) naming `field`; it never repeats the
/// text itself.
pub fn check_text(field: &str, value: &str, max_chars: usize) -> Result<(), Refusal> {
    let len = value.chars().count();
    if len > max_chars {
        return Err(refuse(
            RefusalCode::TooLong,
            format!("`{field}` is {len} characters long; at most {max_chars} are allowed"),
        ));
    }
    if let Some((at, c, what)) = value
        .chars()
        .enumerate()
        .find_map(|(i, c)| forbidden_character(c).map(|what| (i, c, what)))
    {
        return Err(refuse(
            RefusalCode::ForbiddenCharacter,
            format!(
                "`{field}` contains U+{:04X} ({what}) at character {}: write one line of visible text, without control characters or bidirectional formatting characters",
                u32::from(c),
                at.saturating_add(1)
            ),
        ));
    }
    Ok(())
}

/// What a revocation's session cut-off reaches, in the words every confirmation uses: it is
/// the identity's sessions, all of them, not only what the grant allowed.
#[must_use]
pub fn session_cutoff_reach(identity: &str, cutoff: &str) -> String {
    format!(
        "also ends every session of {identity} issued before {cutoff} (aws:TokenIssueTime), whatever it was used for, not only this grant; access keys are not affected"
    )
}

/// The rule for a name (a token's subject, a person): [`check_text`] with `max_chars`, and
/// not empty or blank, with no space at either end (a name that looks like another is how a
/// token ends up belonging to nobody, or to the wrong person).
///
/// # Errors
/// A [`Refusal`] naming `field`.
pub fn check_name(field: &str, value: &str, max_chars: usize) -> Result<(), Refusal> {
    if value.trim().is_empty() {
        return Err(refuse(
            RefusalCode::InvalidName,
            format!("`{field}` is empty: give a name"),
        ));
    }
    if value.trim() != value {
        return Err(refuse(
            RefusalCode::InvalidName,
            format!("`{field}` starts or ends with a space: give the name without it"),
        ));
    }
    check_text(field, value, max_chars)
}

/// `value` as an audit entry may keep it: at most `max_chars` characters (a longer value is
/// cut and says how long it was), characters [`forbidden_character`] refuses written as
/// `\u{…}` escapes so the entry reads as what was sent.
#[must_use]
pub fn clip(value: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut total = 0usize;
    for c in value.chars() {
        total = total.saturating_add(1);
        if total <= max_chars {
            if forbidden_character(c).is_some() {
                out.extend(c.escape_unicode());
            } else {
                out.push(c);
            }
        }
    }
    if total > max_chars {
        out.push_str(&format!("… ({total} characters, cut)"));
    }
    out
}

/// Every string in `value` (keys too), clipped with [`clip`].
#[must_use]
pub fn clip_json(value: serde_json::Value, max_chars: usize) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(clip(&s, max_chars)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| clip_json(v, max_chars)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (clip(&k, max_chars), clip_json(v, max_chars)))
                .collect(),
        ),
        other => other,
    }
}

/// The audit entry recording a refusal (`<what>.refused`). Whatever the caller wrote is
/// bounded: every string (details, actor, subject, message) is clipped to
/// [`AUDIT_CLIP_CHARS`].
#[must_use]
pub fn refusal_event(
    what: &str,
    refusal: &Refusal,
    actor: Option<&str>,
    subject: Option<&str>,
    details: serde_json::Value,
    now: Millis,
) -> AuditEvent {
    let mut details = clip_json(details, AUDIT_CLIP_CHARS);
    if let Some(obj) = details.as_object_mut() {
        obj.insert("code".into(), json!(refusal.code.as_str()));
        obj.insert(
            "message".into(),
            json!(clip(&refusal.message, AUDIT_CLIP_CHARS)),
        );
    }
    AuditEvent {
        at: now,
        kind: format!("{what}.refused"),
        actor: actor.map(|a| clip(a, AUDIT_CLIP_CHARS)),
        subject: subject.map(|s| clip(s, AUDIT_CLIP_CHARS)),
        details,
    }
}

/// Creating an API token: the token (its hash only) and its `token.created` entry, committed
/// together so that there is never one without the other.
#[must_use]
pub fn token_created(actor: &str, token: &TokenRecord) -> Changeset {
    let audit = AuditEvent::new(token.created_at, "token.created")
        .actor(actor)
        .subject(&token.id)
        .details(json!({"for": token.subject, "role": token.role.as_str()}));
    Changeset {
        tokens: vec![token.clone()],
        ..Changeset::audit_only(vec![audit])
    }
}

/// Revoking an API token and its `token.revoked` entry, committed together; the store refuses
/// the whole changeset when the token is not live.
#[must_use]
pub fn token_revoked(actor: &str, id: &str, now: Millis) -> Changeset {
    Changeset {
        token_revocations: vec![TokenRevocation {
            id: id.to_owned(),
            at: now,
        }],
        ..Changeset::audit_only(vec![AuditEvent::new(now, "token.revoked")
            .actor(actor)
            .subject(id)])
    }
}

/// A new request as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// Person name.
    pub requester: String,
    /// Bundle name.
    pub bundle: String,
    /// Seconds.
    pub duration_secs: i64,
    /// Justification.
    pub reason: String,
    /// Grant now, record loudly.
    pub break_glass: bool,
    /// `api`, `cli`, `slack`.
    pub source: String,
}

/// The outcome of a transition: what to commit, and the records after it.
#[derive(Debug, Clone, Default)]
pub struct Transition {
    /// To commit atomically.
    pub changes: Changeset,
    /// The request after the transition, if it changed or was created.
    pub request: Option<RequestRecord>,
    /// The grant after the transition, if it changed or was created.
    pub grant: Option<GrantRecord>,
}

fn bundle<'a>(cfg: &'a Config, name: &str) -> Result<&'a Bundle, Refusal> {
    cfg.bundles.get(name).ok_or_else(|| {
        let known: Vec<&str> = cfg.bundles.keys().map(String::as_str).collect();
        refuse(
            RefusalCode::UnknownBundle,
            format!("unknown bundle `{name}` (known: {})", known.join(", ")),
        )
    })
}

fn new_grant(request: &RequestRecord, grant_id: &str, now: Millis) -> GrantRecord {
    GrantRecord {
        id: grant_id.to_owned(),
        request_id: request.id.clone(),
        requester: request.requester.clone(),
        identity: request.identity.clone(),
        bundle: request.bundle.clone(),
        status: GrantStatus::Approved,
        break_glass: request.break_glass,
        created_at: now,
        activated_at: None,
        expires_at: now.saturating_add(request.duration_secs.saturating_mul(1000)),
        ended_at: None,
        revoked_by: None,
        revoke_reason: None,
        session_cutoff: None,
        version: 0,
    }
}

fn grant_event(kind: &str, g: &GrantRecord, now: Millis) -> AuditEvent {
    AuditEvent::new(now, kind).subject(&g.id).details(json!({
        "request_id": g.request_id,
        "identity": g.identity.id,
        "identity_kind": g.identity.kind.as_str(),
        "bundle": g.bundle,
        "expires_at": g.expires_at,
        "break_glass": g.break_glass,
    }))
}

/// Check and open a request. Auto-approved and break-glass requests come back with their
/// grant (status `approved`, to be applied by the scheduler).
///
/// # Errors
/// A [`Refusal`] naming what is wrong; the caller records it with [`refusal_event`].
pub fn open_request(
    cfg: &Config,
    new: &NewRequest,
    request_id: &str,
    grant_id: &str,
    now: Millis,
) -> Result<Transition, Refusal> {
    let person = cfg.people.get(&new.requester).ok_or_else(|| {
        refuse(
            RefusalCode::UnknownPerson,
            format!(
                "`{}` has no AWS identity mapped in [identities]: ask an administrator to add one",
                new.requester
            ),
        )
    })?;
    check_text("bundle", &new.bundle, MAX_NAME_CHARS)?;
    let b = bundle(cfg, &new.bundle)?;
    if new.duration_secs <= 0 {
        return Err(refuse(
            RefusalCode::InvalidDuration,
            "the duration must be positive",
        ));
    }
    if new.duration_secs > b.max_duration_secs {
        return Err(refuse(
            RefusalCode::DurationTooLong,
            format!(
                "{} is longer than bundle `{}` allows (at most {})",
                format_duration(new.duration_secs),
                b.name,
                format_duration(b.max_duration_secs)
            ),
        ));
    }
    if new.reason.trim().is_empty() {
        return Err(refuse(
            RefusalCode::MissingReason,
            "a reason is required (e.g. the incident or ticket number)",
        ));
    }
    check_text("reason", &new.reason, cfg.max_reason_chars)?;
    if new.break_glass && !cfg.break_glass.contains(&new.requester) {
        return Err(refuse(
            RefusalCode::BreakGlassNotAllowed,
            format!(
                "`{}` may not break glass (server.break_glass)",
                new.requester
            ),
        ));
    }
    let immediate = new.break_glass || b.policy.auto_approve;
    let first_tier = b.policy.tiers.first();
    let mut request = RequestRecord {
        id: request_id.to_owned(),
        requester: new.requester.clone(),
        identity: person.aws.clone(),
        bundle: b.name.clone(),
        duration_secs: new.duration_secs,
        reason: new.reason.clone(),
        status: RequestStatus::Pending,
        source: new.source.clone(),
        break_glass: new.break_glass,
        tier: 0,
        tier_deadline: first_tier.map(|t| now.saturating_add(t.timeout_secs.saturating_mul(1000))),
        required_approvals: b.policy.required_approvals,
        created_at: now,
        decided_at: None,
        version: 0,
    };
    let mut audit = vec![AuditEvent::new(now, "request.created")
        .actor(&new.requester)
        .subject(request_id)
        .details(json!({
            "bundle": b.name,
            "identity": person.aws.id,
            "duration_secs": new.duration_secs,
            "reason": new.reason,
            "source": new.source,
            "break_glass": new.break_glass,
        }))];
    let mut grant = None;
    if immediate {
        request.status = RequestStatus::Approved;
        request.decided_at = Some(now);
        request.tier_deadline = None;
        let g = new_grant(&request, grant_id, now);
        if new.break_glass {
            audit.push(
                AuditEvent::new(now, "request.break_glass")
                    .actor(&new.requester)
                    .subject(request_id)
                    .details(json!({
                        "severity": "critical",
                        "bundle": b.name,
                        "identity": person.aws.id,
                        "reason": new.reason,
                        "grant_id": grant_id,
                        "note": "granted without approval under break-glass",
                    })),
            );
        } else {
            audit.push(
                AuditEvent::new(now, "request.approved")
                    .subject(request_id)
                    .details(json!({"by": "policy", "auto_approve": true, "grant_id": grant_id})),
            );
        }
        audit.push(grant_event("grant.created", &g, now));
        grant = Some(g);
    }
    Ok(Transition {
        changes: Changeset {
            requests: vec![Write::Insert(request.clone())],
            approvals: Vec::new(),
            grants: grant.iter().cloned().map(Write::Insert).collect(),
            audit,
            tokens: Vec::new(),
            token_revocations: Vec::new(),
            messages: Vec::new(),
        },
        request: Some(request),
        grant,
    })
}

/// Who may answer `request` now: the approvers of its current tier and of earlier tiers,
/// minus the requester.
#[must_use]
pub fn eligible_approvers(cfg: &Config, request: &RequestRecord) -> Vec<String> {
    let Some(b) = cfg.bundles.get(&request.bundle) else {
        return Vec::new();
    };
    let upto = usize::try_from(request.tier).unwrap_or(0).saturating_add(1);
    let mut out: Vec<String> = b
        .policy
        .tiers
        .iter()
        .take(upto)
        .flat_map(|t| t.approvers.iter().cloned())
        .filter(|a| *a != request.requester)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// An approver answers.
///
/// # Errors
/// Self-approval, not an approver, already answered, not pending.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    cfg: &Config,
    request: &RequestRecord,
    approvals: &[ApprovalRecord],
    actor: &str,
    decision: Decision,
    comment: Option<&str>,
    grant_id: &str,
    now: Millis,
) -> Result<Transition, Refusal> {
    if let Some(c) = comment {
        check_text("comment", c, cfg.max_reason_chars)?;
    }
    if request.status != RequestStatus::Pending {
        return Err(refuse(
            RefusalCode::NotPending,
            format!("request `{}` is already {}", request.id, request.status),
        ));
    }
    if actor == request.requester {
        return Err(refuse(
            RefusalCode::SelfApproval,
            format!(
                "`{actor}` asked for request `{}` and cannot answer it: another approver must",
                request.id
            ),
        ));
    }
    let eligible = eligible_approvers(cfg, request);
    if !eligible.iter().any(|a| a == actor) {
        return Err(refuse(
            RefusalCode::NotAnApprover,
            format!(
                "`{actor}` is not an approver of bundle `{}` at this stage (approvers: {})",
                request.bundle,
                eligible.join(", ")
            ),
        ));
    }
    if approvals.iter().any(|a| a.approver == actor) {
        return Err(refuse(
            RefusalCode::AlreadyAnswered,
            format!("`{actor}` has already answered request `{}`", request.id),
        ));
    }
    let approval = ApprovalRecord {
        request_id: request.id.clone(),
        approver: actor.to_owned(),
        decision,
        at: now,
        comment: comment.map(str::to_owned),
    };
    let mut updated = request.clone();
    let mut audit = vec![
        AuditEvent::new(now, &format!("approval.{}", decision.as_str()))
            .actor(actor)
            .subject(&request.id)
            .details(json!({"comment": comment, "tier": request.tier})),
    ];
    let mut grant = None;
    match decision {
        Decision::Deny => {
            updated.status = RequestStatus::Denied;
            updated.decided_at = Some(now);
            updated.tier_deadline = None;
            audit.push(
                AuditEvent::new(now, "request.denied")
                    .actor(actor)
                    .subject(&request.id)
                    .details(json!({"comment": comment})),
            );
        }
        Decision::Approve => {
            let mut approvers: Vec<&str> = approvals
                .iter()
                .filter(|a| a.decision == Decision::Approve)
                .map(|a| a.approver.as_str())
                .collect();
            approvers.push(actor);
            let have = i32::try_from(approvers.len()).unwrap_or(i32::MAX);
            if have >= request.required_approvals {
                updated.status = RequestStatus::Approved;
                updated.decided_at = Some(now);
                updated.tier_deadline = None;
                let g = new_grant(&updated, grant_id, now);
                audit.push(
                    AuditEvent::new(now, "request.approved")
                        .actor(actor)
                        .subject(&request.id)
                        .details(json!({"approvers": approvers, "grant_id": grant_id})),
                );
                audit.push(grant_event("grant.created", &g, now));
                grant = Some(g);
            }
        }
    }
    Ok(Transition {
        changes: Changeset {
            requests: vec![Write::Update(updated.clone())],
            approvals: vec![approval],
            grants: grant.iter().cloned().map(Write::Insert).collect(),
            audit,
            tokens: Vec::new(),
            token_revocations: Vec::new(),
            messages: Vec::new(),
        },
        request: Some(updated),
        grant,
    })
}

/// A pending request whose tier timed out: escalate to the next tier, or expire it.
/// `None` when nothing is due.
#[must_use]
pub fn tick_request(cfg: &Config, request: &RequestRecord, now: Millis) -> Option<Transition> {
    if request.status != RequestStatus::Pending {
        return None;
    }
    let deadline = request.tier_deadline?;
    if now < deadline {
        return None;
    }
    let tiers = cfg
        .bundles
        .get(&request.bundle)
        .map(|b| b.policy.tiers.clone())
        .unwrap_or_default();
    let next = usize::try_from(request.tier).unwrap_or(0).saturating_add(1);
    let mut updated = request.clone();
    let event = if let Some(tier) = tiers.get(next) {
        updated.tier = i32::try_from(next).unwrap_or(i32::MAX);
        updated.tier_deadline = Some(now.saturating_add(tier.timeout_secs.saturating_mul(1000)));
        AuditEvent::new(now, "request.escalated")
            .subject(&request.id)
            .details(json!({"tier": next, "approvers": tier.approvers}))
    } else {
        updated.status = RequestStatus::Expired;
        updated.decided_at = Some(now);
        updated.tier_deadline = None;
        AuditEvent::new(now, "request.expired")
            .subject(&request.id)
            .details(json!({"reason": "no approver answered in time"}))
    };
    Some(Transition {
        changes: Changeset {
            requests: vec![Write::Update(updated.clone())],
            audit: vec![event],
            ..Changeset::default()
        },
        request: Some(updated),
        grant: None,
    })
}

/// What the cloud must do for one grant step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudStep {
    /// Put (or move) the tag so it names this grant.
    Apply {
        /// The grant the tag names.
        grant_id: String,
        /// Its expiry.
        expires_at: Millis,
    },
    /// Remove the tag (and cut sessions off, if asked).
    Remove,
    /// Nothing: another live grant (named) already explains the tag.
    Covered {
        /// The grant that does.
        by: String,
    },
}

/// The active grant of the same identity and bundle that ends last, other than `grant`.
fn holder<'a>(grant: &GrantRecord, live: &'a [GrantRecord]) -> Option<&'a GrantRecord> {
    live.iter()
        .filter(|o| {
            o.id != grant.id
                && o.status == GrantStatus::Active
                && o.identity == grant.identity
                && o.bundle == grant.bundle
        })
        .max_by(|a, b| {
            a.expires_at
                .cmp(&b.expires_at)
                .then_with(|| a.id.cmp(&b.id))
        })
}

/// The cloud step that applies `grant`, given the other live grants: a grant that ends
/// before an active one for the same identity and bundle is already covered by it.
#[must_use]
pub fn plan_apply(grant: &GrantRecord, live: &[GrantRecord]) -> CloudStep {
    match holder(grant, live) {
        Some(h) if h.expires_at >= grant.expires_at => CloudStep::Covered { by: h.id.clone() },
        _ => CloudStep::Apply {
            grant_id: grant.id.clone(),
            expires_at: grant.expires_at,
        },
    }
}

/// The cloud step that ends `grant`: remove the tag only when no other active grant explains
/// it; move the tag to the other grant when this one named it (overlap extends, never revokes
/// early).
#[must_use]
pub fn plan_end(grant: &GrantRecord, live: &[GrantRecord]) -> CloudStep {
    match holder(grant, live) {
        None => CloudStep::Remove,
        Some(h) if h.expires_at > grant.expires_at => CloudStep::Covered { by: h.id.clone() },
        Some(h) => CloudStep::Apply {
            grant_id: h.id.clone(),
            expires_at: h.expires_at,
        },
    }
}

/// `approved` → `active`, after the cloud call succeeded.
#[must_use]
pub fn activate(grant: &GrantRecord, step: &CloudStep, now: Millis) -> Transition {
    let mut g = grant.clone();
    g.status = GrantStatus::Active;
    g.activated_at = Some(now);
    let mut ev = grant_event("grant.applied", &g, now);
    if let (Some(obj), CloudStep::Covered { by }) = (ev.details.as_object_mut(), step) {
        obj.insert("covered_by".into(), json!(by));
    }
    Transition {
        changes: Changeset {
            grants: vec![Write::Update(g.clone())],
            audit: vec![ev],
            ..Changeset::default()
        },
        request: None,
        grant: Some(g),
    }
}

/// `active` → `expiring` when due (persisted before the cloud call). `None` if not due.
#[must_use]
pub fn begin_expiry(grant: &GrantRecord, now: Millis) -> Option<Transition> {
    if grant.status != GrantStatus::Active || now < grant.expires_at {
        return None;
    }
    let mut g = grant.clone();
    g.status = GrantStatus::Expiring;
    Some(Transition {
        changes: Changeset {
            grants: vec![Write::Update(g.clone())],
            audit: vec![grant_event("grant.due", &g, now)],
            ..Changeset::default()
        },
        request: None,
        grant: Some(g),
    })
}

/// A person revokes a live grant (persisted before the cloud call). With `cut_sessions`,
/// sessions issued before `now` are cut off too (`aws:TokenIssueTime`).
///
/// # Errors
/// The reason breaks [`check_text`], or the grant already ended or is already being removed.
pub fn begin_revoke(
    cfg: &Config,
    grant: &GrantRecord,
    actor: &str,
    reason: &str,
    cut_sessions: bool,
    now: Millis,
) -> Result<Transition, Refusal> {
    check_text("reason", reason, cfg.max_reason_chars)?;
    if !matches!(grant.status, GrantStatus::Approved | GrantStatus::Active) {
        return Err(refuse(
            RefusalCode::NotLive,
            format!("grant `{}` is already {}", grant.id, grant.status),
        ));
    }
    let mut g = grant.clone();
    g.status = GrantStatus::Revoking;
    g.revoked_by = Some(actor.to_owned());
    g.revoke_reason = Some(reason.to_owned());
    g.session_cutoff = cut_sessions.then_some(now);
    let mut ev = grant_event("grant.revoke_requested", &g, now).actor(actor);
    if let Some(obj) = ev.details.as_object_mut() {
        obj.insert("reason".into(), json!(reason));
        obj.insert("session_cutoff".into(), json!(g.session_cutoff));
    }
    Ok(Transition {
        changes: Changeset {
            grants: vec![Write::Update(g.clone())],
            audit: vec![ev],
            ..Changeset::default()
        },
        request: None,
        grant: Some(g),
    })
}

/// `expiring` → `expired` / `revoking` → `revoked`, after the cloud call succeeded.
#[must_use]
pub fn finish_end(grant: &GrantRecord, step: &CloudStep, now: Millis) -> Option<Transition> {
    let (status, kind) = match grant.status {
        GrantStatus::Expiring => (GrantStatus::Expired, "grant.expired"),
        GrantStatus::Revoking => (GrantStatus::Revoked, "grant.revoked"),
        _ => return None,
    };
    let mut g = grant.clone();
    g.status = status;
    g.ended_at = Some(now);
    let mut ev = grant_event(kind, &g, now);
    if let Some(obj) = ev.details.as_object_mut() {
        obj.insert(
            "late_ms".into(),
            json!(now.saturating_sub(g.expires_at).max(0)),
        );
        if status == GrantStatus::Revoked {
            obj.insert("revoked_by".into(), json!(g.revoked_by));
            obj.insert("reason".into(), json!(g.revoke_reason));
            // Say plainly whether sessions issued before the revocation were cut off.
            obj.insert("session_cutoff".into(), json!(g.session_cutoff));
            obj.insert("sessions_cut_off".into(), json!(g.session_cutoff.is_some()));
        }
        match step {
            CloudStep::Covered { by } => {
                obj.insert("tag_kept_for".into(), json!(by));
            }
            CloudStep::Apply { grant_id, .. } => {
                obj.insert("tag_moved_to".into(), json!(grant_id));
            }
            CloudStep::Remove => {
                obj.insert("tag_removed".into(), json!(true));
            }
        }
    }
    Some(Transition {
        changes: Changeset {
            grants: vec![Write::Update(g.clone())],
            audit: vec![ev],
            ..Changeset::default()
        },
        request: None,
        grant: Some(g),
    })
}

/// One repair the reconciler makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Repair {
    /// A `latch:grant:*` tag no live grant explains: remove it.
    RemoveTag(LatchTag),
    /// An active grant whose tag is missing or names another grant: set it.
    SetTag {
        /// Who.
        identity: Identity,
        /// Which bundle.
        bundle: String,
        /// The grant the tag must name.
        grant_id: String,
        /// Its expiry.
        expires_at: Millis,
        /// What was wrong.
        found: Option<String>,
    },
}

/// Compare the cloud's tags with the live grants. Grants in flight (`approved`, `expiring`,
/// `revoking`) explain a tag but are left to the scheduler.
#[must_use]
pub fn reconcile(tags: &[LatchTag], live: &[GrantRecord]) -> Vec<Repair> {
    type Key = (Identity, String);
    let mut keys: BTreeMap<Key, (Option<&LatchTag>, Vec<&GrantRecord>)> = BTreeMap::new();
    for t in tags {
        keys.entry((t.identity.clone(), t.bundle.clone()))
            .or_default()
            .0 = Some(t);
    }
    for g in live.iter().filter(|g| !g.status.is_final()) {
        keys.entry((g.identity.clone(), g.bundle.clone()))
            .or_default()
            .1
            .push(g);
    }
    let mut out = Vec::new();
    for ((identity, bundle), (tag, grants)) in keys {
        let holder = grants
            .iter()
            .filter(|g| g.status == GrantStatus::Active)
            .max_by(|a, b| {
                a.expires_at
                    .cmp(&b.expires_at)
                    .then_with(|| a.id.cmp(&b.id))
            });
        match (tag, holder) {
            (Some(t), None) if grants.is_empty() => out.push(Repair::RemoveTag(t.clone())),
            (Some(_), None) => {} // in flight: the scheduler will settle it
            (Some(t), Some(h)) if t.grant_id == h.id => {}
            (found, Some(h)) => out.push(Repair::SetTag {
                identity,
                bundle,
                grant_id: h.id.clone(),
                expires_at: h.expires_at,
                found: found.map(|t| t.grant_id.clone()),
            }),
            (None, None) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::expect_used,
        clippy::cloned_ref_to_slice_refs
    )]
    use super::*;
    use latch_grant::IdentityKind;

    const CFG: &str = r#"
[server]
break_glass = ["alice"]
[identities.alice]
aws = "arn:aws:iam::111122223333:role/alice"
[identities.bob]
aws = "arn:aws:iam::111122223333:role/bob"
[identities.carol]
aws = "arn:aws:iam::111122223333:role/carol"
[identities.dave]
aws = "arn:aws:iam::111122223333:role/dave"
[bundles.logs]
auto_approve = true
max_duration = "4h"
[bundles.iam-admin]
max_duration = "1h"
approvers = ["alice", "bob"]
[bundles.prod-db]
max_duration = "2h"
[[approval]]
bundles = ["prod-db"]
required_approvals = 2
tiers = [ { approvers = ["bob", "carol"], timeout = "15m" }, { approvers = ["dave", "bob"], timeout = "10m" } ]
"#;

    fn cfg() -> Config {
        Config::parse(CFG, "t.toml", &|_| None).unwrap()
    }

    fn ask(who: &str, bundle: &str, secs: i64) -> NewRequest {
        NewRequest {
            requester: who.into(),
            bundle: bundle.into(),
            duration_secs: secs,
            reason: "INC-1".into(),
            break_glass: false,
            source: "api".into(),
        }
    }

    #[test]
    fn refusals_are_specific() {
        let c = cfg();
        let r = |n: NewRequest| open_request(&c, &n, "r-1", "g-1", 0).unwrap_err().code;
        assert_eq!(r(ask("alice", "nope", 60)), RefusalCode::UnknownBundle);
        assert_eq!(r(ask("eve", "logs", 60)), RefusalCode::UnknownPerson);
        assert_eq!(
            r(ask("alice", "iam-admin", 3601)),
            RefusalCode::DurationTooLong
        );
        assert_eq!(
            r(ask("alice", "iam-admin", 0)),
            RefusalCode::InvalidDuration
        );
        let mut n = ask("alice", "iam-admin", 60);
        n.reason = " ".into();
        assert_eq!(r(n), RefusalCode::MissingReason);
        let mut n = ask("bob", "iam-admin", 60);
        n.break_glass = true;
        assert_eq!(r(n), RefusalCode::BreakGlassNotAllowed);
        let e = open_request(&c, &ask("alice", "iam-admin", 7200), "r", "g", 0).unwrap_err();
        assert_eq!(
            e.message,
            "2h is longer than bundle `iam-admin` allows (at most 1h)"
        );
    }

    #[test]
    fn written_text_is_one_bounded_line_of_visible_characters() {
        assert_eq!(check_text("reason", "INC-1 ünïcödé ✓ 日本", 18), Ok(()));
        // Characters, not bytes: 1,000 four-byte characters are 1,000 characters.
        let emoji = "🔥".repeat(1000);
        assert_eq!(check_text("reason", &emoji, 1000), Ok(()));
        let e = check_text("reason", &format!("{emoji}x"), 1000).unwrap_err();
        assert_eq!(e.code, RefusalCode::TooLong);
        assert_eq!(
            e.message,
            "`reason` is 1001 characters long; at most 1000 are allowed"
        );
        for (c, what) in [
            ('\n', "a line break"),
            ('\r', "a line break"),
            ('\u{2028}', "a line break"),
            ('\u{85}', "a line break"),
            ('\t', "a control character"),
            ('\0', "a control character"),
            ('\u{1b}', "a control character"),
            ('\u{7f}', "a control character"),
            ('\u{9b}', "a control character"),
            ('\u{202A}', "a bidirectional formatting character"),
            ('\u{202E}', "a bidirectional formatting character"),
            ('\u{2066}', "a bidirectional formatting character"),
            ('\u{2069}', "a bidirectional formatting character"),
            ('\u{200E}', "a bidirectional formatting character"),
            ('\u{200F}', "a bidirectional formatting character"),
            ('\u{061C}', "a bidirectional formatting character"),
        ] {
            let e = check_text("comment", &format!("ok{c}tail"), 100).unwrap_err();
            assert_eq!(e.code, RefusalCode::ForbiddenCharacter, "{c:?}");
            assert!(
                e.message.starts_with(&format!(
                    "`comment` contains U+{:04X} ({what}) at character 3:",
                    u32::from(c)
                )),
                "{c:?}: {}",
                e.message
            );
            assert!(!e.message.contains(c), "the message repeats the character");
        }
    }

    #[test]
    fn every_entry_point_of_the_domain_checks_written_text() {
        let c = cfg();
        assert_eq!(c.max_reason_chars, DEFAULT_MAX_REASON_CHARS);
        let r = |n: NewRequest| open_request(&c, &n, "r-1", "g-1", 0).map(|_| ());
        let mut n = ask("alice", "iam-admin", 60);
        n.reason = "x".repeat(1000);
        assert_eq!(r(n.clone()), Ok(()));
        n.reason.push('x');
        assert_eq!(r(n).unwrap_err().code, RefusalCode::TooLong);
        let mut n = ask("alice", "iam-admin", 60);
        n.reason = "INC-1 \u{202E}lmth.exe".into();
        assert_eq!(r(n).unwrap_err().code, RefusalCode::ForbiddenCharacter);
        let mut n = ask("alice", "iam-admin", 60);
        n.bundle = "b".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(r(n).unwrap_err().code, RefusalCode::TooLong);

        let req = open_request(&c, &ask("alice", "iam-admin", 600), "r-1", "g-1", 0)
            .unwrap()
            .request
            .unwrap();
        let long = "y".repeat(1001);
        for comment in [long.as_str(), "fine\nApproved by: everyone"] {
            assert!(decide(
                &c,
                &req,
                &[],
                "bob",
                Decision::Approve,
                Some(comment),
                "g",
                1
            )
            .is_err());
        }
        let g = grant("g1", GrantStatus::Active, 1000);
        assert_eq!(
            begin_revoke(&c, &g, "bob", &long, false, 5)
                .unwrap_err()
                .code,
            RefusalCode::TooLong
        );
        assert!(begin_revoke(&c, &g, "bob", &"y".repeat(1000), false, 5).is_ok());
    }

    #[test]
    fn a_refusal_entry_is_bounded_however_long_the_input() {
        let huge = "A".repeat(3_000_000);
        let refusal = refuse(
            RefusalCode::UnknownBundle,
            format!("unknown bundle `{huge}`"),
        );
        let ev = refusal_event(
            "request",
            &refusal,
            Some(&huge),
            Some(&huge),
            json!({"bundle": huge, "nested": [{"reason": huge}], "n": 3}),
            0,
        );
        let size = serde_json::to_string(&ev.details).unwrap().len()
            + ev.actor.as_ref().unwrap().len()
            + ev.subject.as_ref().unwrap().len();
        assert!(size < 6 * AUDIT_CLIP_CHARS + 1000, "{size} bytes");
        assert_eq!(ev.details["n"], 3);
        assert_eq!(ev.details["code"], "unknown_bundle");
        let bundle = ev.details["bundle"].as_str().unwrap();
        assert!(
            bundle.ends_with("… (3000000 characters, cut)"),
            "{bundle:.40}"
        );
        // What a refused text held is written visibly, not executed by a terminal.
        assert_eq!(clip("a\u{202E}b\n", 100), "a\\u{202e}b\\u{a}");
        assert_eq!(clip("short", 100), "short");
    }

    #[test]
    fn auto_approve_and_break_glass_grant_at_once() {
        let c = cfg();
        let t = open_request(&c, &ask("alice", "logs", 600), "r-1", "g-1", 1000).unwrap();
        let g = t.grant.unwrap();
        assert_eq!(g.status, GrantStatus::Approved);
        assert_eq!(g.expires_at, 1000 + 600_000);
        assert_eq!(t.request.unwrap().status, RequestStatus::Approved);

        let mut n = ask("alice", "iam-admin", 600);
        n.break_glass = true;
        let t = open_request(&c, &n, "r-2", "g-2", 0).unwrap();
        assert!(t.grant.unwrap().break_glass);
        let loud = t
            .changes
            .audit
            .iter()
            .find(|e| e.kind == "request.break_glass")
            .unwrap();
        assert_eq!(loud.details["severity"], "critical");
    }

    #[test]
    fn approval_rules() {
        let c = cfg();
        let t = open_request(&c, &ask("alice", "iam-admin", 600), "r-1", "g-1", 0).unwrap();
        let req = t.request.unwrap();
        assert!(t.grant.is_none());
        assert_eq!(req.status, RequestStatus::Pending);
        let e = decide(&c, &req, &[], "alice", Decision::Approve, None, "g-1", 5).unwrap_err();
        assert_eq!(e.code, RefusalCode::SelfApproval);
        let e = decide(&c, &req, &[], "carol", Decision::Approve, None, "g-1", 5).unwrap_err();
        assert_eq!(e.code, RefusalCode::NotAnApprover);
        let t = decide(
            &c,
            &req,
            &[],
            "bob",
            Decision::Approve,
            Some("ok"),
            "g-1",
            5,
        )
        .unwrap();
        assert_eq!(t.request.as_ref().unwrap().status, RequestStatus::Approved);
        let g = t.grant.unwrap();
        assert_eq!(g.expires_at, 5 + 600_000);
        let e = decide(
            &c,
            t.request.as_ref().unwrap(),
            &[],
            "bob",
            Decision::Deny,
            None,
            "x",
            6,
        )
        .unwrap_err();
        assert_eq!(e.code, RefusalCode::NotPending);
    }

    #[test]
    fn second_approver_and_deny() {
        let c = cfg();
        let req = open_request(&c, &ask("alice", "prod-db", 600), "r-1", "g-1", 0)
            .unwrap()
            .request
            .unwrap();
        assert_eq!(req.required_approvals, 2);
        let t = decide(&c, &req, &[], "bob", Decision::Approve, None, "g-1", 1).unwrap();
        assert_eq!(t.request.as_ref().unwrap().status, RequestStatus::Pending);
        assert!(t.grant.is_none());
        let first = t.changes.approvals.clone();
        let e = decide(&c, &req, &first, "bob", Decision::Approve, None, "g-1", 2).unwrap_err();
        assert_eq!(e.code, RefusalCode::AlreadyAnswered);
        let t2 = decide(&c, &req, &first, "carol", Decision::Approve, None, "g-1", 2).unwrap();
        assert_eq!(t2.request.unwrap().status, RequestStatus::Approved);
        assert!(t2.grant.is_some());
        let t3 = decide(&c, &req, &first, "carol", Decision::Deny, None, "g-1", 2).unwrap();
        assert_eq!(t3.request.unwrap().status, RequestStatus::Denied);
    }

    #[test]
    fn unanswered_requests_escalate_then_expire() {
        let c = cfg();
        let req = open_request(&c, &ask("alice", "prod-db", 600), "r-1", "g-1", 0)
            .unwrap()
            .request
            .unwrap();
        assert_eq!(req.tier_deadline, Some(900_000));
        assert!(tick_request(&c, &req, 899_999).is_none());
        // dave is not an approver yet.
        assert_eq!(
            decide(&c, &req, &[], "dave", Decision::Approve, None, "g", 1)
                .unwrap_err()
                .code,
            RefusalCode::NotAnApprover
        );
        let esc = tick_request(&c, &req, 900_000).unwrap().request.unwrap();
        assert_eq!(esc.tier, 1);
        assert_eq!(esc.tier_deadline, Some(900_000 + 600_000));
        assert_eq!(eligible_approvers(&c, &esc), vec!["bob", "carol", "dave"]);
        let exp = tick_request(&c, &esc, 1_500_000).unwrap();
        assert_eq!(exp.request.unwrap().status, RequestStatus::Expired);
        assert_eq!(exp.changes.audit[0].kind, "request.expired");
    }

    fn grant(id: &str, status: GrantStatus, expires_at: Millis) -> GrantRecord {
        GrantRecord {
            id: id.into(),
            request_id: format!("r-{id}"),
            requester: "alice".into(),
            identity: Identity {
                kind: IdentityKind::Role,
                id: "arn:aws:iam::111122223333:role/alice".into(),
            },
            bundle: "iam-admin".into(),
            status,
            break_glass: false,
            created_at: 0,
            activated_at: None,
            expires_at,
            ended_at: None,
            revoked_by: None,
            revoke_reason: None,
            session_cutoff: None,
            version: 0,
        }
    }

    #[test]
    fn overlapping_grants_extend_and_never_revoke_early() {
        let g1 = grant("g1", GrantStatus::Active, 1000);
        let g2 = grant("g2", GrantStatus::Approved, 2000);
        // g2 ends later: it takes the tag.
        assert_eq!(
            plan_apply(&g2, &[g1.clone(), g2.clone()]),
            CloudStep::Apply {
                grant_id: "g2".into(),
                expires_at: 2000
            }
        );
        let g2 = GrantRecord {
            status: GrantStatus::Active,
            ..g2
        };
        // g1 ends first: the tag stays for g2.
        assert_eq!(
            plan_end(&g1, &[g1.clone(), g2.clone()]),
            CloudStep::Covered { by: "g2".into() }
        );
        // A shorter grant is covered by the longer one.
        let g3 = grant("g3", GrantStatus::Approved, 1500);
        assert_eq!(
            plan_apply(&g3, &[g2.clone(), g3.clone()]),
            CloudStep::Covered { by: "g2".into() }
        );
        // Revoking g2 early while g3 still runs moves the tag to g3.
        let g3 = GrantRecord {
            status: GrantStatus::Active,
            ..g3
        };
        assert_eq!(
            plan_end(&g2, &[g2.clone(), g3.clone()]),
            CloudStep::Apply {
                grant_id: "g3".into(),
                expires_at: 1500
            }
        );
        // The last one removes it.
        assert_eq!(plan_end(&g3, &[g3.clone()]), CloudStep::Remove);
    }

    #[test]
    fn grant_lifecycle() {
        let g = grant("g1", GrantStatus::Approved, 1000);
        let a = activate(
            &g,
            &CloudStep::Apply {
                grant_id: "g1".into(),
                expires_at: 1000,
            },
            10,
        );
        let g = a.grant.unwrap();
        assert_eq!(g.status, GrantStatus::Active);
        assert!(begin_expiry(&g, 999).is_none());
        let e = begin_expiry(&g, 1000).unwrap().grant.unwrap();
        assert_eq!(e.status, GrantStatus::Expiring);
        let done = finish_end(&e, &CloudStep::Remove, 1001).unwrap();
        assert_eq!(done.grant.unwrap().status, GrantStatus::Expired);
        assert_eq!(done.changes.audit[0].details["late_ms"], 1);

        let r = begin_revoke(&cfg(), &g, "bob", "done early", true, 500)
            .unwrap()
            .grant
            .unwrap();
        assert_eq!(r.session_cutoff, Some(500));
        let fin = finish_end(&r, &CloudStep::Remove, 501).unwrap();
        assert_eq!(fin.grant.as_ref().unwrap().status, GrantStatus::Revoked);
        assert_eq!(fin.changes.audit[0].details["sessions_cut_off"], true);
        assert_eq!(
            begin_revoke(&cfg(), fin.grant.as_ref().unwrap(), "bob", "", false, 600)
                .unwrap_err()
                .code,
            RefusalCode::NotLive
        );
    }

    #[test]
    fn reconciler_finds_orphans_and_missing_tags() {
        let alice = grant("g1", GrantStatus::Active, 1000).identity;
        let tag = |g: &str, b: &str| LatchTag {
            identity: alice.clone(),
            bundle: b.into(),
            grant_id: g.into(),
            expires_at: None,
        };
        let g1 = grant("g1", GrantStatus::Active, 1000);
        // Orphan tag on another bundle; g1's tag is fine.
        let r = reconcile(
            &[tag("g1", "iam-admin"), tag("forged", "prod-db")],
            &[g1.clone()],
        );
        assert_eq!(r, vec![Repair::RemoveTag(tag("forged", "prod-db"))]);
        // Missing tag.
        let r = reconcile(&[], &[g1.clone()]);
        assert!(
            matches!(&r[..], [Repair::SetTag { grant_id, found: None, .. }] if grant_id == "g1")
        );
        // Tag names an old grant.
        let r = reconcile(&[tag("g0", "iam-admin")], &[g1.clone()]);
        assert!(matches!(&r[..], [Repair::SetTag { found: Some(f), .. }] if f == "g0"));
        // In flight: left alone.
        let r = reconcile(
            &[tag("g1", "iam-admin")],
            &[grant("g1", GrantStatus::Expiring, 1000)],
        );
        assert!(r.is_empty());
    }
}
