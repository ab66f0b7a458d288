//! The grant workflow as pure functions: no IO, no clock (time comes in as `now`), no ids
//! invented here (they come in too), decided by the [`Rules`] the server's configuration sets. Each function takes the current records and returns the
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

use serde::Serialize;
use serde_json::json;

use crate::cloud::LatchTag;
use crate::directory::{self, AccountRole};
use crate::records::{
    ApprovalRecord, AuditEvent, Changeset, Decision, GrantRecord, GrantStatus, Identity, Millis,
    RequestRecord, RequestStatus, Target, TokenRecord, TokenRevocation, Write,
};
use crate::rules::{ApprovalPolicy, Bundle, Person, Rules};

/// A duration for people: `1h30m`, `45s`, `2d` (`0s` for none).
#[must_use]
pub fn format_duration(secs: i64) -> String {
    if secs <= 0 {
        return "0s".to_owned();
    }
    let (d, rest) = (secs / 86_400, secs % 86_400);
    let (h, rest) = (rest / 3600, rest % 3600);
    let (m, s) = (rest / 60, rest % 60);
    let mut out = String::new();
    for (n, u) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{u}"));
        }
    }
    out
}

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
    /// The account or permission set named is not one the person reaches (or its role is not
    /// in the account), or a person who reaches several did not name one.
    InvalidTarget,
    /// A target outside the bundle's scope (the accounts, OUs or account tags it may be asked
    /// for in).
    OutOfScope,
    /// A scheduled start in the past, too far ahead, or for break-glass; or a window that
    /// ended before it was approved.
    InvalidStart,
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
            RefusalCode::InvalidTarget => "invalid_target",
            RefusalCode::OutOfScope => "out_of_scope",
            RefusalCode::InvalidStart => "invalid_start",
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
    /// The accounts the grants are for (a person from the directory who reaches several):
    /// one grant per account, all approved together; none named: the person's one target.
    pub accounts: Vec<String>,
    /// The permission set whose role receives it in each account, when the person reaches
    /// an account through several.
    pub permission_set: Option<String>,
    /// When the access is to start (a change window, approved ahead); `None`: at once.
    pub starts_at: Option<Millis>,
}

/// How far ahead access may be scheduled.
pub const MAX_SCHEDULE_AHEAD_MS: Millis = 30 * 24 * 3600 * 1000;

/// The most accounts one request may name: each becomes a grant, a message line and an
/// exemption in the applied plan.
pub const MAX_TARGETS: usize = 20;

fn roles_list(roles: &[&AccountRole]) -> String {
    roles
        .iter()
        .map(|r| format!("{} as {}", r.account, r.permission_set))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where `person`'s grant lands for a request naming `account` and `permission_set`: their
/// configured identity, or the `aws:userid` of their session of one Identity Center role —
/// the only role they reach on `account` (or the one of `permission_set`), which must be in
/// the account. A person who reaches one role in all may leave the account out.
///
/// # Errors
/// `invalid_target`, naming what they do reach.
pub fn target(
    person: &Person,
    account: Option<&str>,
    permission_set: Option<&str>,
) -> Result<Target, Refusal> {
    let bad = |m: String| Err(refuse(RefusalCode::InvalidTarget, m));
    if let Some(a) = account {
        if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
            return bad(format!("`{a}` is not an AWS account id (12 digits)"));
        }
    }
    if person.roles.is_empty() {
        let Some(aws) = &person.aws else {
            return bad(format!(
                "`{}` reaches no account through IAM Identity Center",
                person.name
            ));
        };
        if account.is_some() || permission_set.is_some() {
            return bad(format!(
                "`{}`'s grants land on {} (set in [identities]); an account or permission set applies to Identity Center users only",
                person.name, aws.id
            ));
        }
        return Ok(Target {
            identity: aws.clone(),
            account: None,
            permission_set: None,
        });
    }
    if account.is_none() && permission_set.is_none() {
        if let Some(aws) = &person.aws {
            return Ok(Target {
                identity: aws.clone(),
                account: None,
                permission_set: None,
            });
        }
    }
    let all: Vec<&AccountRole> = person.roles.iter().collect();
    let on: Vec<&AccountRole> = all
        .iter()
        .copied()
        .filter(|r| account.is_none_or(|a| r.account == a))
        .filter(|r| permission_set.is_none_or(|p| r.permission_set.eq_ignore_ascii_case(p)))
        .collect();
    let role = match (on.as_slice(), account) {
        ([one], _) => *one,
        ([], Some(a)) => {
            return bad(format!(
                "`{}` is not assigned {} on account {a} in IAM Identity Center (they reach: {})",
                person.name,
                permission_set
                    .map_or_else(|| "any permission set".to_owned(), |p| format!("`{p}`")),
                roles_list(&all)
            ))
        }
        ([], None) => {
            return bad(format!(
                "`{}` reaches no account as `{}` (they reach: {})",
                person.name,
                permission_set.unwrap_or_default(),
                roles_list(&all)
            ))
        }
        (many, Some(a)) => {
            return bad(format!(
                "`{}` reaches account {a} through several permission sets ({}): name one",
                person.name,
                many.iter()
                    .map(|r| r.permission_set.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
        (many, None) => {
            return bad(format!(
                "`{}` reaches several accounts ({}): name the account",
                person.name,
                roles_list(many)
            ))
        }
    };
    let Some(identity) = directory::identity_of(role, &person.name) else {
        return bad(format!(
            "account {} holds no role for permission set `{}` yet (not provisioned, or the account could not be read at the last directory sync): no grant can land on it",
            role.account, role.permission_set
        ));
    };
    Ok(Target {
        identity,
        account: Some(role.account.clone()),
        permission_set: Some(role.permission_set.clone()),
    })
}

/// Where `person`'s grants land for a request naming `accounts` (none: their one target, as
/// [`target`] finds it) and `permission_set` (the same in every account): one target per
/// account, in the order named, an account named twice counted once.
///
/// # Errors
/// `invalid_target` for more than [`MAX_TARGETS`] accounts, or the first account that is not
/// one of theirs; the whole request is refused, nothing is granted.
pub fn targets(
    person: &Person,
    accounts: &[String],
    permission_set: Option<&str>,
) -> Result<Vec<Target>, Refusal> {
    let mut named: Vec<&str> = Vec::with_capacity(accounts.len());
    for a in accounts.iter().map(|a| a.trim()) {
        if !named.contains(&a) {
            named.push(a);
        }
    }
    if named.len() > MAX_TARGETS {
        return Err(refuse(
            RefusalCode::InvalidTarget,
            format!(
                "{} accounts named: one request may name at most {MAX_TARGETS}",
                named.len()
            ),
        ));
    }
    if named.is_empty() {
        return Ok(vec![target(person, None, permission_set)?]);
    }
    named
        .into_iter()
        .map(|a| target(person, Some(a), permission_set))
        .collect()
}

/// The outcome of a transition: what to commit, and the records after it.
#[derive(Debug, Clone, Default)]
pub struct Transition {
    /// To commit atomically.
    pub changes: Changeset,
    /// The request after the transition, if it changed or was created.
    pub request: Option<RequestRecord>,
    /// The grants after the transition, if they changed or were created: one, or one per
    /// target when a request of several targets is approved.
    pub grants: Vec<GrantRecord>,
}

fn bundle<'a>(cfg: &'a Rules, name: &str) -> Result<&'a Bundle, Refusal> {
    cfg.bundles.get(name).ok_or_else(|| {
        let known: Vec<&str> = cfg.bundles.keys().map(String::as_str).collect();
        refuse(
            RefusalCode::UnknownBundle,
            format!("unknown bundle `{name}` (known: {})", known.join(", ")),
        )
    })
}

/// The id of the grant for a request's `index`-th target (from 0): `grant_id` for the first,
/// `grant_id-2`, `grant_id-3`, … for the others.
#[must_use]
pub fn target_grant_id(grant_id: &str, index: usize) -> String {
    if index == 0 {
        grant_id.to_owned()
    } else {
        format!("{grant_id}-{}", index.saturating_add(1))
    }
}

/// One grant per target of `request`, with ids from [`target_grant_id`].
fn new_grants(request: &RequestRecord, grant_id: &str, now: Millis) -> Vec<GrantRecord> {
    request
        .targets()
        .into_iter()
        .enumerate()
        .map(|(i, t)| new_grant(request, t, &target_grant_id(grant_id, i), now))
        .collect()
}

fn new_grant(request: &RequestRecord, to: Target, grant_id: &str, now: Millis) -> GrantRecord {
    GrantRecord {
        id: grant_id.to_owned(),
        request_id: request.id.clone(),
        requester: request.requester.clone(),
        identity: to.identity,
        account: to.account,
        permission_set: to.permission_set,
        starts_at: request.starts_at.filter(|s| *s > now),
        bundle: request.bundle.clone(),
        status: GrantStatus::Approved,
        break_glass: request.break_glass,
        created_at: now,
        activated_at: None,
        // A scheduled window ends when it was asked to, whenever it was approved.
        expires_at: request
            .starts_at
            .unwrap_or(now)
            .saturating_add(request.duration_secs.saturating_mul(1000)),
        ended_at: None,
        revoked_by: None,
        revoke_reason: None,
        session_cutoff: None,
        reminded_at: None,
        version: 0,
    }
}

fn grant_event(kind: &str, g: &GrantRecord, now: Millis) -> AuditEvent {
    AuditEvent::new(now, kind).subject(&g.id).details(json!({
        "request_id": g.request_id,
        "identity": g.identity.id,
        "identity_kind": g.identity.kind.as_str(),
        "account": g.account,
        "bundle": g.bundle,
        "expires_at": g.expires_at,
        "break_glass": g.break_glass,
    }))
}

/// The on-call provider's word that the requester is on call now in a schedule (read by the
/// server; the workflow only checks it names the bundle's schedule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnCallProof {
    /// `pagerduty:<id>` or `opsgenie:<name>`.
    pub schedule: String,
    /// The provider's id of the on-call entry's person.
    pub who: String,
    /// When the entry started (RFC 3339), when the provider says.
    pub start: Option<String>,
    /// When it ends.
    pub end: Option<String>,
}

/// Check and open a request. Auto-approved and break-glass requests come back with their
/// grant (status `approved`, to be applied by the scheduler).
///
/// # Errors
/// A [`Refusal`] naming what is wrong; the caller records it with [`refusal_event`].
pub fn open_request(
    cfg: &Rules,
    new: &NewRequest,
    request_id: &str,
    grant_id: &str,
    now: Millis,
) -> Result<Transition, Refusal> {
    open_request_with(cfg, new, None, request_id, grant_id, now)
}

/// [`open_request`], with the on-call provider's proof that the requester is on call now: for
/// a bundle whose `on_call` schedule it names, the request is approved at once and the grant
/// records the schedule and the entry.
///
/// # Errors
/// As [`open_request`].
pub fn open_request_with(
    cfg: &Rules,
    new: &NewRequest,
    on_call: Option<&OnCallProof>,
    request_id: &str,
    grant_id: &str,
    now: Millis,
) -> Result<Transition, Refusal> {
    let person = cfg.people.get(&new.requester).ok_or_else(|| {
        refuse(
            RefusalCode::UnknownPerson,
            format!(
                "`{}` is neither in [identities] nor an active Identity Center user: ask an administrator to add them",
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
    if let Some(start) = new.starts_at {
        if start <= now {
            return Err(refuse(
                RefusalCode::InvalidStart,
                "the start is in the past: leave it out to start at once",
            ));
        }
        if start > now.saturating_add(MAX_SCHEDULE_AHEAD_MS) {
            return Err(refuse(
                RefusalCode::InvalidStart,
                format!(
                    "the start is more than {} ahead",
                    format_duration(MAX_SCHEDULE_AHEAD_MS / 1000)
                ),
            ));
        }
        if new.break_glass {
            return Err(refuse(
                RefusalCode::InvalidStart,
                "break-glass is for now: it cannot be scheduled",
            ));
        }
    }
    let targets = targets(person, &new.accounts, new.permission_set.as_deref())?;
    if new.break_glass && !cfg.break_glass.contains(&new.requester) {
        return Err(refuse(
            RefusalCode::BreakGlassNotAllowed,
            format!(
                "`{}` may not break glass (server.break_glass)",
                new.requester
            ),
        ));
    }
    let on_call = on_call.filter(|p| b.on_call.as_deref() == Some(p.schedule.as_str()));
    let policy = scope_and_policy(b, &targets)?;
    let immediate = new.break_glass || policy.auto_approve || on_call.is_some();
    let first_tier = policy.tiers.first();
    let (to, more) = targets
        .split_first()
        .ok_or_else(|| refuse(RefusalCode::InvalidTarget, "the request names no target"))?;
    let mut request = RequestRecord {
        id: request_id.to_owned(),
        requester: new.requester.clone(),
        identity: to.identity.clone(),
        account: to.account.clone(),
        permission_set: to.permission_set.clone(),
        more_targets: more.to_vec(),
        extends: None,
        starts_at: new.starts_at,
        bundle: b.name.clone(),
        duration_secs: new.duration_secs,
        reason: new.reason.clone(),
        status: RequestStatus::Pending,
        source: new.source.clone(),
        break_glass: new.break_glass,
        tier: 0,
        tier_deadline: first_tier.map(|t| now.saturating_add(t.timeout_secs.saturating_mul(1000))),
        required_approvals: policy.required_approvals,
        created_at: now,
        decided_at: None,
        version: 0,
    };
    let mut audit = vec![AuditEvent::new(now, "request.created")
        .actor(&new.requester)
        .subject(request_id)
        .details(json!({
            "bundle": b.name,
            "identity": to.identity.id,
            "account": to.account,
            "permission_set": to.permission_set,
            "more_targets": (!more.is_empty()).then_some(more),
            "duration_secs": new.duration_secs,
            "starts_at": new.starts_at,
            "reason": new.reason,
            "source": new.source,
            "break_glass": new.break_glass,
        }))];
    let mut grants = Vec::new();
    if immediate {
        request.status = RequestStatus::Approved;
        request.decided_at = Some(now);
        request.tier_deadline = None;
        let made = new_grants(&request, grant_id, now);
        let grant_ids: Vec<&str> = made.iter().map(|g| g.id.as_str()).collect();
        if new.break_glass {
            audit.push(
                AuditEvent::new(now, "request.break_glass")
                    .actor(&new.requester)
                    .subject(request_id)
                    .details(json!({
                        "severity": "critical",
                        "bundle": b.name,
                        "identity": to.identity.id,
                        "reason": new.reason,
                        "grant_id": grant_id,
                        "grant_ids": grant_ids,
                        "note": "granted without approval under break-glass",
                    })),
            );
        } else if let (Some(p), false) = (on_call, policy.auto_approve) {
            audit.push(
                AuditEvent::new(now, "request.approved")
                    .subject(request_id)
                    .details(json!({"by": "on-call", "on_call": p, "grant_id": grant_id, "grant_ids": grant_ids})),
            );
        } else {
            audit.push(
                AuditEvent::new(now, "request.approved")
                    .subject(request_id)
                    .details(json!({"by": "policy", "auto_approve": true, "grant_id": grant_id, "grant_ids": grant_ids})),
            );
        }
        audit.extend(made.iter().map(|g| grant_event("grant.created", g, now)));
        grants = made;
    }
    Ok(Transition {
        changes: Changeset {
            requests: vec![Write::Insert(request.clone())],
            approvals: Vec::new(),
            grants: grants.iter().cloned().map(Write::Insert).collect(),
            audit,
            tokens: Vec::new(),
            token_revocations: Vec::new(),
            messages: Vec::new(),
            directory: Vec::new(),
            posture: Vec::new(),
        },
        request: Some(request),
        grants,
    })
}

/// The policy that decides `request`: its bundle's, or the scoped rule that covers its
/// targets' accounts.
///
/// # Errors
/// No one policy covers its targets (see [`Bundle::policy_for`]).
pub fn policy_of<'a>(
    b: &'a Bundle,
    request: &RequestRecord,
) -> Result<&'a ApprovalPolicy, Refusal> {
    let targets = request.targets();
    let accounts: Vec<Option<&str>> = targets.iter().map(Target::account_id).collect();
    b.policy_for(&accounts)
        .map_err(|m| refuse(RefusalCode::InvalidTarget, m))
}

/// `targets` are all within bundle `b`'s scope, and one policy decides them: which.
fn scope_and_policy<'a>(b: &'a Bundle, targets: &[Target]) -> Result<&'a ApprovalPolicy, Refusal> {
    let accounts: Vec<Option<&str>> = targets.iter().map(Target::account_id).collect();
    if let Some(scope) = &b.scope {
        for (t, a) in targets.iter().zip(&accounts) {
            match a {
                Some(a) if scope.covers(a) => {}
                Some(a) => {
                    return Err(refuse(
                        RefusalCode::OutOfScope,
                        format!(
                            "bundle `{}` may not be asked for in account {a} (its scope: {})",
                            b.name, scope.said
                        ),
                    ))
                }
                None => {
                    return Err(refuse(
                        RefusalCode::OutOfScope,
                        format!(
                            "bundle `{}` may be asked for in some accounts only ({}), and the account of `{}` is not known",
                            b.name, scope.said, t.identity.id
                        ),
                    ))
                }
            }
        }
    }
    b.policy_for(&accounts)
        .map_err(|m| refuse(RefusalCode::InvalidTarget, m))
}

/// Who may answer `request` now: the approvers of its current tier and of earlier tiers,
/// minus the requester.
#[must_use]
pub fn eligible_approvers(cfg: &Rules, request: &RequestRecord) -> Vec<String> {
    let Some(b) = cfg.bundles.get(&request.bundle) else {
        return Vec::new();
    };
    let Ok(policy) = policy_of(b, request) else {
        return Vec::new();
    };
    let upto = usize::try_from(request.tier).unwrap_or(0).saturating_add(1);
    let mut out: Vec<String> = policy
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
    cfg: &Rules,
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
    if decision == Decision::Approve {
        if let Some(start) = request.starts_at {
            let end = start.saturating_add(request.duration_secs.saturating_mul(1000));
            if end <= now {
                return Err(refuse(
                    RefusalCode::InvalidStart,
                    format!(
                        "request `{}` asked for a window that has already ended; ask again",
                        request.id
                    ),
                ));
            }
        }
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
    let mut grants = Vec::new();
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
                let made = new_grants(&updated, grant_id, now);
                let grant_ids: Vec<&str> = made.iter().map(|g| g.id.as_str()).collect();
                audit.push(
                    AuditEvent::new(now, "request.approved")
                        .actor(actor)
                        .subject(&request.id)
                        .details(json!({"approvers": approvers, "grant_id": grant_id, "grant_ids": grant_ids})),
                );
                audit.extend(made.iter().map(|g| grant_event("grant.created", g, now)));
                grants = made;
            }
        }
    }
    Ok(Transition {
        changes: Changeset {
            requests: vec![Write::Update(updated.clone())],
            approvals: vec![approval],
            grants: grants.iter().cloned().map(Write::Insert).collect(),
            audit,
            tokens: Vec::new(),
            token_revocations: Vec::new(),
            messages: Vec::new(),
            directory: Vec::new(),
            posture: Vec::new(),
        },
        request: Some(updated),
        grants,
    })
}

/// [`decide`], for a request that may extend a grant: once approved, `extending` (the grant
/// the request names, read by the caller) lasts `duration_secs` longer instead of a new grant
/// being made, in the same transition.
///
/// # Errors
/// As [`decide`]; and the grant is no longer live or would last longer than its bundle allows.
#[allow(clippy::too_many_arguments)]
pub fn decide_with(
    cfg: &Rules,
    request: &RequestRecord,
    approvals: &[ApprovalRecord],
    actor: &str,
    decision: Decision,
    comment: Option<&str>,
    grant_id: &str,
    extending: Option<&GrantRecord>,
    now: Millis,
) -> Result<Transition, Refusal> {
    let Some(target) = extending else {
        return decide(
            cfg, request, approvals, actor, decision, comment, grant_id, now,
        );
    };
    let mut t = decide(
        cfg, request, approvals, actor, decision, comment, &target.id, now,
    )?;
    if !std::mem::take(&mut t.grants).is_empty() {
        let ext = extend_grant(cfg, target, request, actor, now)?;
        t.changes.grants = ext.changes.grants;
        t.changes.audit.retain(|e| e.kind != "grant.created");
        t.changes.audit.extend(ext.changes.audit);
        t.grants = ext.grants;
    }
    Ok(t)
}

/// The grant `request` extends, `request.duration_secs` longer: no gap, no second grant; the
/// holder will be reminded again before the new end.
fn extend_grant(
    cfg: &Rules,
    grant: &GrantRecord,
    request: &RequestRecord,
    by: &str,
    now: Millis,
) -> Result<Transition, Refusal> {
    if !matches!(grant.status, GrantStatus::Approved | GrantStatus::Active) {
        return Err(refuse(
            RefusalCode::NotLive,
            format!(
                "grant `{}` is already {}: nothing to extend",
                grant.id, grant.status
            ),
        ));
    }
    let b = bundle(cfg, &grant.bundle)?;
    let expires_at = grant
        .expires_at
        .saturating_add(request.duration_secs.saturating_mul(1000));
    let total = expires_at
        .saturating_sub(grant.starts_at.unwrap_or(grant.created_at))
        .div_euclid(1000);
    if total > b.max_total_secs {
        return Err(refuse(
            RefusalCode::DurationTooLong,
            format!(
                "{} more would make grant `{}` last {} in all; bundle `{}` allows at most {}",
                format_duration(request.duration_secs),
                grant.id,
                format_duration(total),
                b.name,
                format_duration(b.max_total_secs)
            ),
        ));
    }
    let mut g = grant.clone();
    g.expires_at = expires_at;
    g.reminded_at = None;
    let mut ev = grant_event("grant.extended", &g, now).actor(by);
    if let Some(obj) = ev.details.as_object_mut() {
        obj.insert("request_id".into(), json!(request.id));
        obj.insert("by_secs".into(), json!(request.duration_secs));
        obj.insert("previous_expires_at".into(), json!(grant.expires_at));
    }
    Ok(Transition {
        changes: Changeset {
            grants: vec![Write::Update(g.clone())],
            audit: vec![ev],
            ..Changeset::default()
        },
        request: None,
        grants: vec![g],
    })
}

/// The holder asks for `by_secs` more of a live grant. Within the bundle's `self_extend` (over
/// the `asked_secs` first asked for), or for an auto-approved bundle, the grant lasts longer
/// at once; otherwise a pending request naming the grant goes to the bundle's approvers, as a
/// request would. Either way the new end is within the bundle's `max_total`.
///
/// # Errors
/// Someone else's grant, not live, a duration that is not positive or too long in all, a
/// missing or malformed reason.
#[allow(clippy::too_many_arguments)]
pub fn request_extension(
    cfg: &Rules,
    grant: &GrantRecord,
    asked_secs: i64,
    actor: &str,
    by_secs: i64,
    reason: &str,
    source: &str,
    request_id: &str,
    now: Millis,
) -> Result<Transition, Refusal> {
    if grant.requester != actor {
        return Err(refuse(
            RefusalCode::Forbidden,
            format!(
                "`{actor}` may not extend grant `{}`: only its holder (`{}`) may ask for more time",
                grant.id, grant.requester
            ),
        ));
    }
    if by_secs <= 0 {
        return Err(refuse(
            RefusalCode::InvalidDuration,
            "the extension must be positive",
        ));
    }
    if reason.trim().is_empty() {
        return Err(refuse(
            RefusalCode::MissingReason,
            "a reason is required (e.g. the incident or ticket number)",
        ));
    }
    check_text("reason", reason, cfg.max_reason_chars)?;
    let b = bundle(cfg, &grant.bundle)?;
    let policy = scope_and_policy(
        b,
        &[Target {
            identity: grant.identity.clone(),
            account: grant.account.clone(),
            permission_set: grant.permission_set.clone(),
        }],
    )?;
    let first_tier = policy.tiers.first();
    let mut request = RequestRecord {
        id: request_id.to_owned(),
        requester: actor.to_owned(),
        identity: grant.identity.clone(),
        account: grant.account.clone(),
        permission_set: grant.permission_set.clone(),
        more_targets: Vec::new(),
        extends: Some(grant.id.clone()),
        starts_at: None,
        bundle: grant.bundle.clone(),
        duration_secs: by_secs,
        reason: reason.to_owned(),
        status: RequestStatus::Pending,
        source: source.to_owned(),
        break_glass: false,
        tier: 0,
        tier_deadline: first_tier.map(|t| now.saturating_add(t.timeout_secs.saturating_mul(1000))),
        required_approvals: policy.required_approvals,
        created_at: now,
        decided_at: None,
        version: 0,
    };
    // Checked now as well as at the decision: a request that could never be granted is refused.
    let extended = extend_grant(cfg, grant, &request, actor, now)?;
    let lasts = grant
        .expires_at
        .saturating_sub(grant.starts_at.unwrap_or(grant.created_at))
        .div_euclid(1000)
        .saturating_add(by_secs);
    let self_ok = b.self_extend_secs > 0 && lasts <= asked_secs.saturating_add(b.self_extend_secs);
    let mut audit = vec![AuditEvent::new(now, "request.created")
        .actor(actor)
        .subject(request_id)
        .details(json!({
            "bundle": b.name,
            "identity": grant.identity.id,
            "account": grant.account,
            "permission_set": grant.permission_set,
            "extends": grant.id,
            "duration_secs": by_secs,
            "reason": reason,
            "source": source,
            "break_glass": false,
        }))];
    if !(self_ok || policy.auto_approve) {
        return Ok(Transition {
            changes: Changeset {
                requests: vec![Write::Insert(request.clone())],
                audit,
                ..Changeset::default()
            },
            request: Some(request),
            grants: Vec::new(),
        });
    }
    request.status = RequestStatus::Approved;
    request.decided_at = Some(now);
    request.tier_deadline = None;
    audit.push(
        AuditEvent::new(now, "request.approved")
            .subject(request_id)
            .details(json!({
                "by": if self_ok { "self-extension" } else { "policy" },
                "auto_approve": !self_ok,
                "grant_id": grant.id,
            })),
    );
    audit.extend(extended.changes.audit);
    Ok(Transition {
        changes: Changeset {
            requests: vec![Write::Insert(request.clone())],
            grants: extended.changes.grants,
            audit,
            ..Changeset::default()
        },
        request: Some(request),
        grants: extended.grants,
    })
}

/// A pending request whose tier timed out: escalate to the next tier, or expire it.
/// `None` when nothing is due.
#[must_use]
pub fn tick_request(cfg: &Rules, request: &RequestRecord, now: Millis) -> Option<Transition> {
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
        .and_then(|b| policy_of(b, request).ok())
        .map(|p| p.tiers.clone())
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
        grants: Vec::new(),
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
        grants: vec![g],
    }
}

/// When the holder of an active grant is to be told it ends soon: `remind_before_secs` before
/// it ends. `None` when it was told already, reminders are off, the grant is not active, or it
/// was granted for no longer than the lead (its holder was just told when it ends).
#[must_use]
pub fn reminder_due(cfg: &Rules, grant: &GrantRecord) -> Option<Millis> {
    let lead = cfg.remind_before_secs.saturating_mul(1000);
    let long_enough = grant
        .activated_at
        .is_some_and(|at| grant.expires_at.saturating_sub(at) > lead);
    (grant.status == GrantStatus::Active && grant.reminded_at.is_none() && lead > 0 && long_enough)
        .then(|| grant.expires_at.saturating_sub(lead))
}

/// Records that the holder of an active grant is told it ends soon, once its reminder is due
/// ([`reminder_due`]) and before it ends. The grant's version makes it once, whichever server
/// commits first. `None` when nothing is due.
#[must_use]
pub fn remind(cfg: &Rules, grant: &GrantRecord, now: Millis) -> Option<Transition> {
    let due = reminder_due(cfg, grant)?;
    if now < due || now >= grant.expires_at {
        return None;
    }
    let mut g = grant.clone();
    g.reminded_at = Some(now);
    let mut ev = grant_event("grant.reminded", &g, now);
    if let Some(obj) = ev.details.as_object_mut() {
        obj.insert(
            "ends_in_secs".into(),
            json!((grant.expires_at - now).div_euclid(1000)),
        );
    }
    Some(Transition {
        changes: Changeset {
            grants: vec![Write::Update(g.clone())],
            audit: vec![ev],
            ..Changeset::default()
        },
        request: None,
        grants: vec![g],
    })
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
        grants: vec![g],
    })
}

/// A person revokes a live grant (persisted before the cloud call). With `cut_sessions`,
/// sessions issued before `now` are cut off too (`aws:TokenIssueTime`).
///
/// # Errors
/// The reason breaks [`check_text`], or the grant already ended or is already being removed.
pub fn begin_revoke(
    cfg: &Rules,
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
    Ok(revoking(
        grant,
        actor,
        reason,
        cut_sessions.then_some(now),
        now,
    ))
}

/// A live grant → `revoking`, with its audit entry; the caller has checked that it may.
pub(crate) fn revoking(
    grant: &GrantRecord,
    actor: &str,
    reason: &str,
    session_cutoff: Option<Millis>,
    now: Millis,
) -> Transition {
    let mut g = grant.clone();
    g.status = GrantStatus::Revoking;
    g.revoked_by = Some(actor.to_owned());
    g.revoke_reason = Some(reason.to_owned());
    g.session_cutoff = session_cutoff;
    let mut ev = grant_event("grant.revoke_requested", &g, now).actor(actor);
    if let Some(obj) = ev.details.as_object_mut() {
        obj.insert("reason".into(), json!(reason));
        obj.insert("session_cutoff".into(), json!(g.session_cutoff));
    }
    Transition {
        changes: Changeset {
            grants: vec![Write::Update(g.clone())],
            audit: vec![ev],
            ..Changeset::default()
        },
        request: None,
        grants: vec![g],
    }
}

/// The holder gives a live grant back before it ends ("I'm done"): a revocation by its
/// requester, recorded as `grant.relinquished` with their reason; the removal and the session
/// cut-off run as for any revocation.
///
/// # Errors
/// Someone else's grant (`forbidden`), the reason breaks [`check_text`], or the grant already
/// ended or is being removed.
pub fn relinquish(
    cfg: &Rules,
    grant: &GrantRecord,
    actor: &str,
    reason: &str,
    cut_sessions: bool,
    now: Millis,
) -> Result<Transition, Refusal> {
    if grant.requester != actor {
        return Err(refuse(
            RefusalCode::Forbidden,
            format!(
                "`{actor}` may not relinquish grant `{}`: only its holder (`{}`) may give it back; approvers and admins revoke",
                grant.id, grant.requester
            ),
        ));
    }
    let mut t = begin_revoke(cfg, grant, actor, reason, cut_sessions, now)?;
    for ev in &mut t.changes.audit {
        "grant.relinquished".clone_into(&mut ev.kind);
    }
    Ok(t)
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
        grants: vec![g],
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
            // The tag names the grant that ends last, with its end (an extension moves it); a
            // tag says the end to the second.
            (Some(t), Some(h))
                if t.grant_id == h.id
                    && t.expires_at.map(|e| e.div_euclid(1000))
                        == Some(h.expires_at.div_euclid(1000)) => {}
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
