//! Slack in HTTP mode: request verification, slash commands, Approve/Deny buttons, and the
//! Web API client.
//!
//! Every request is verified *before* its body is decoded: Slack's v0 signature
//! (`v0=hex(HMAC-SHA256(signing_secret, "v0:{timestamp}:{raw body}"))`, compared in constant
//! time), a timestamp within five minutes of now, and a signature never seen before (replays
//! are refused; the seen set lives in the store so it holds across servers). Refusals are
//! audited. Handlers acknowledge at once and do the work in a task, answering through the
//! signed payload's `response_url`. The actor is always the signed payload's user id, mapped
//! to a person by `[identities]`.

use std::fmt;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use latch_grant::{
    ApprovalRecord, Decision, GrantQuery, GrantRecord, GrantStatus, Millis, RequestRecord,
    RequestStatus,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::clock::{format_duration, parse_duration, rfc3339};
use crate::config::Secret;
use crate::domain::{clip, NewRequest, Refusal, RefusalCode, MAX_NAME_CHARS};
use crate::service::{Core, ServiceError};

/// How far a request's timestamp may be from now.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a Slack request was refused before it was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Missing `X-Slack-Request-Timestamp` / `X-Slack-Signature`.
    #[error("missing Slack signature headers")]
    MissingHeaders,
    /// The timestamp is not a number or is more than five minutes away.
    #[error("stale or invalid timestamp: more than 5 minutes from now")]
    StaleTimestamp,
    /// The signature does not match.
    #[error("invalid signature")]
    BadSignature,
    /// The same signed request was already received.
    #[error("replayed request: this signed payload was already received")]
    Replayed,
}

impl Rejection {
    fn code(&self) -> &'static str {
        match self {
            Rejection::MissingHeaders => "missing_headers",
            Rejection::StaleTimestamp => "stale_timestamp",
            Rejection::BadSignature => "bad_signature",
            Rejection::Replayed => "replayed",
        }
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// The `v0=` signature Slack would send for `body` at `timestamp`.
#[must_use]
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(), // HMAC accepts keys of any length
    };
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!(
        "v0={}",
        latch_grant::audit::hex(&mac.finalize().into_bytes())
    )
}

/// A verified request's identity for replay detection: the lower-case hex of the MAC Latch
/// computed itself. It never depends on how the sender spelled the header (hex digits in
/// either case are accepted), so a re-cased copy of a captured request is the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayKey(String);

impl ReplayKey {
    /// The key under which the store remembers this request.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Check the timestamp window and the signature over the raw body (constant-time compare).
/// On success, the key that identifies the signed request for replay detection.
///
/// # Errors
/// The reason the request must be refused.
pub fn verify_signature(
    secret: &Secret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<ReplayKey, Rejection> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(Rejection::MissingHeaders);
    };
    let t: i64 = ts.parse().map_err(|_| Rejection::StaleTimestamp)?;
    if (now_secs - t).abs() > MAX_SKEW_SECS {
        return Err(Rejection::StaleTimestamp);
    }
    let given = sig
        .strip_prefix("v0=")
        .and_then(decode_hex)
        .ok_or(Rejection::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| Rejection::BadSignature)?;
    mac.update(b"v0:");
    mac.update(ts.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| Rejection::BadSignature)?;
    // `given` now equals the MAC; its canonical spelling is the key.
    Ok(ReplayKey(format!(
        "slack-sig:{}",
        latch_grant::audit::hex(&given)
    )))
}

/// A Web API call failed.
#[derive(Debug, thiserror::Error)]
#[error("slack {method}: {reason}")]
pub struct SlackError {
    method: String,
    reason: String,
}

/// The Slack Web API (`chat.postMessage`, `chat.update`) and `response_url` replies.
#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackClient")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish()
    }
}

impl SlackClient {
    /// A client for `base` (e.g. `https://slack.com/api`).
    #[must_use]
    pub fn new(base: &str, token: Secret) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        SlackClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    async fn call(&self, method: &str, body: Value) -> Result<Value, SlackError> {
        let err = |reason: String| SlackError {
            method: method.to_owned(),
            reason,
        };
        let resp = self
            .http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(self.token.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| err(e.without_url().to_string()))?;
        let value: Value = resp
            .json()
            .await
            .map_err(|e| err(e.without_url().to_string()))?;
        if value.get("ok").and_then(Value::as_bool) == Some(true) {
            Ok(value)
        } else {
            Err(err(value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("not ok")
                .to_owned()))
        }
    }

    /// Post a message; returns its channel and `ts`.
    ///
    /// # Errors
    /// Network failure or Slack said no.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: Option<Value>,
    ) -> Result<(String, String), SlackError> {
        let mut body = json!({"channel": channel, "text": text});
        if let (Some(b), Some(obj)) = (blocks, body.as_object_mut()) {
            obj.insert("blocks".into(), b);
        }
        let v = self.call("chat.postMessage", body).await?;
        Ok((
            v.get("channel")
                .and_then(Value::as_str)
                .unwrap_or(channel)
                .to_owned(),
            v.get("ts")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        ))
    }

    /// Replace a message.
    ///
    /// # Errors
    /// Network failure or Slack said no.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Option<Value>,
    ) -> Result<(), SlackError> {
        let mut body = json!({"channel": channel, "ts": ts, "text": text});
        if let (Some(b), Some(obj)) = (blocks, body.as_object_mut()) {
            obj.insert("blocks".into(), b);
        }
        self.call("chat.update", body).await.map(|_| ())
    }

    /// Answer through a `response_url` (ephemeral to the user who acted).
    ///
    /// # Errors
    /// Network failure.
    pub async fn respond(&self, response_url: &str, text: &str) -> Result<(), SlackError> {
        self.http
            .post(response_url)
            .json(&json!({"response_type": "ephemeral", "replace_original": false, "text": text}))
            .send()
            .await
            .map_err(|e| SlackError {
                method: "response_url".into(),
                reason: e.without_url().to_string(),
            })?;
        Ok(())
    }
}

/// The approval message (text fallback, blocks with Approve/Deny buttons).
#[must_use]
pub fn approval_message(r: &RequestRecord, approver_mentions: &[String]) -> (String, Value) {
    let text = format!(
        "{} asks for {} for {}: {}",
        r.requester,
        r.bundle,
        format_duration(r.duration_secs),
        r.reason
    );
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*{}* asks for *{}* for *{}* on `{}`\n>{}",
            r.requester, r.bundle, format_duration(r.duration_secs), r.identity.id, r.reason)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
            "Request `{}` · {} approval(s) needed · tier {} · approvers: {}",
            r.id, r.required_approvals, r.tier + 1, approver_mentions.join(", "))}]},
        {"type": "actions", "block_id": format!("latch:{}", r.id), "elements": [
            {"type": "button", "action_id": "latch_approve", "style": "primary", "value": r.id,
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "latch_deny", "style": "danger", "value": r.id,
             "text": {"type": "plain_text", "text": "Deny"}}
        ]}
    ]);
    (text, blocks)
}

/// The approval message after the decision (no buttons).
#[must_use]
pub fn decided_message(
    r: &RequestRecord,
    approvals: &[ApprovalRecord],
    actor: Option<&str>,
) -> (String, Value) {
    let who: Vec<String> = approvals
        .iter()
        .map(|a| format!("{} ({})", a.approver, a.decision))
        .collect();
    let outcome = match r.status {
        RequestStatus::Approved => ":white_check_mark: Approved",
        RequestStatus::Denied => ":no_entry: Denied",
        RequestStatus::Expired => ":hourglass: Expired (no answer)",
        RequestStatus::Pending => ":hourglass_flowing_sand: Waiting",
    };
    let text = format!(
        "{outcome}: {} asked for {} ({})",
        r.requester,
        r.bundle,
        format_duration(r.duration_secs)
    );
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*{}* asked for *{}* for *{}* on `{}`\n>{}",
            r.requester, r.bundle, format_duration(r.duration_secs), r.identity.id, r.reason)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
            "{outcome}{} · request `{}` · {}",
            actor.map(|a| format!(" by {a}")).unwrap_or_default(),
            r.id,
            if who.is_empty() { "no answers".to_owned() } else { who.join(", ") })}]}
    ]);
    (text, blocks)
}

/// A DM about a grant's state.
#[must_use]
pub fn grant_dm(g: &GrantRecord) -> String {
    match g.status {
        GrantStatus::Active => format!(
            "Granted: *{}* on `{}` until {} (grant `{}`). Revoke early with `/latch revoke {}`.",
            g.bundle,
            g.identity.id,
            rfc3339(g.expires_at),
            g.id,
            g.id
        ),
        GrantStatus::Expired => format!(
            "Your grant `{}` for *{}* expired and was removed.",
            g.id, g.bundle
        ),
        GrantStatus::Revoked => format!(
            "Your grant `{}` for *{}* was revoked by {}{}.",
            g.id,
            g.bundle,
            g.revoked_by.as_deref().unwrap_or("someone"),
            match g.session_cutoff {
                Some(cut) => format!(
                    "; the revocation {}",
                    crate::domain::session_cutoff_reach("this identity", &rfc3339(cut))
                ),
                None => String::new(),
            }
        ),
        other => format!("Your grant `{}` for *{}* is {other}.", g.id, g.bundle),
    }
}

/// A parsed `/latch` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/latch request <bundle> <duration> <reason…>`
    Request {
        /// Bundle.
        bundle: String,
        /// Seconds.
        duration_secs: i64,
        /// Reason.
        reason: String,
    },
    /// `/latch grants`
    Grants,
    /// `/latch revoke <id> [reason…]`
    Revoke {
        /// Grant id.
        id: String,
        /// Reason.
        reason: String,
    },
    /// Anything else: usage.
    Help(Option<String>),
}

/// Usage text.
pub const USAGE: &str = "Usage: `/latch request <bundle> <duration> <reason>` (e.g. `/latch request iam-admin 1h incident 4411`), `/latch grants`, `/latch revoke <grant-id> [reason]`";

/// Parse the text after `/latch`.
#[must_use]
pub fn parse_command(text: &str) -> Command {
    let mut words = text.split_whitespace();
    match words.next() {
        Some("request") => {
            let (Some(bundle), Some(duration)) = (words.next(), words.next()) else {
                return Command::Help(Some(
                    "`request` needs a bundle, a duration and a reason".into(),
                ));
            };
            let reason = words.collect::<Vec<_>>().join(" ");
            match parse_duration(duration) {
                Ok(duration_secs) => Command::Request {
                    bundle: bundle.to_owned(),
                    duration_secs,
                    reason,
                },
                Err(e) => Command::Help(Some(format!("bad duration {e}"))),
            }
        }
        Some("grants") => Command::Grants,
        Some("revoke") => match words.next() {
            Some(id) => Command::Revoke {
                id: id.to_owned(),
                reason: {
                    let r = words.collect::<Vec<_>>().join(" ");
                    if r.is_empty() {
                        "revoked from Slack".to_owned()
                    } else {
                        r
                    }
                },
            },
            None => Command::Help(Some("`revoke` needs a grant id".into())),
        },
        _ => Command::Help(None),
    }
}

/// Verify a Slack request (signature, window, replay); audit and refuse when it fails.
async fn verify(core: &Core, headers: &HeaderMap, body: &[u8]) -> Result<(), Response> {
    let now = core.now();
    let Some(cfg) = &core.config.slack else {
        return Err((StatusCode::NOT_FOUND, "slack is not configured").into_response());
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ts = header("x-slack-request-timestamp");
    let sig = header("x-slack-signature");
    let mut result = verify_signature(&cfg.signing_secret, ts, sig, body, now.div_euclid(1000));
    if let Ok(key) = &result {
        // Remember it a little longer than the window in which it could be accepted.
        match core
            .first_sight(key.as_str(), now + (2 * MAX_SKEW_SECS + 60) * 1000)
            .await
        {
            Ok(true) => {}
            Ok(false) => result = Err(Rejection::Replayed),
            Err(e) => {
                tracing::error!(error = %e, "slack: nonce store failed");
                return Err((StatusCode::SERVICE_UNAVAILABLE, "try again").into_response());
            }
        }
    }
    match result {
        Ok(_) => Ok(()),
        Err(rejection) => {
            // Nothing from the unverified body is trusted; record only what identifies it.
            let details = json!({
                "timestamp": ts.map(|t| clip(t, MAX_NAME_CHARS)),
                "body_sha256": latch_grant::audit::hex(&<Sha256 as sha2::Digest>::digest(body)),
            });
            let audited = core
                .reject_inbound("slack", rejection.code(), &rejection.to_string(), details)
                .await;
            if let Err(e) = audited {
                tracing::error!(error = %e, "slack: could not audit a rejection");
            }
            Err((StatusCode::UNAUTHORIZED, rejection.to_string()).into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
struct SlashForm {
    command: Option<String>,
    #[serde(default)]
    text: String,
    user_id: String,
    response_url: Option<String>,
}

/// `POST /slack/commands`
pub async fn commands(State(core): State<Arc<Core>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = verify(&core, &headers, &body).await {
        return refused;
    }
    let form: SlashForm = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("bad slash command form: {e}"),
            )
                .into_response()
        }
    };
    tracing::debug!(command = ?form.command, user = %form.user_id, "slack command");
    let core2 = Arc::clone(&core);
    tokio::spawn(async move {
        let reply = run_command(&core2, &form).await;
        if let (Some(slack), Some(url)) = (&core2.slack, &form.response_url) {
            if let Err(e) = slack.respond(url, &reply).await {
                tracing::warn!(error = %e, "slack: reply failed");
            }
        }
    });
    Json(json!({"response_type": "ephemeral", "text": "Working on it…"})).into_response()
}

async fn run_command(core: &Arc<Core>, form: &SlashForm) -> String {
    let Some(person) = core.config.person_by_slack(&form.user_id) else {
        let _ = core
            .unknown_chat_user(
                "slack",
                json!({"slack_user": form.user_id, "text": form.text}),
            )
            .await;
        return format!(
            "Your Slack user `{}` is not mapped to an AWS identity in Latch's [identities]; ask an administrator.",
            form.user_id
        );
    };
    let actor = person.name.clone();
    match parse_command(&form.text) {
        Command::Help(None) => USAGE.to_owned(),
        Command::Help(Some(problem)) => format!("{problem}. {USAGE}"),
        Command::Request {
            bundle,
            duration_secs,
            reason,
        } => {
            file_request(
                core,
                NewRequest {
                    requester: actor,
                    bundle,
                    duration_secs,
                    reason,
                    break_glass: false,
                    source: "slack".into(),
                },
            )
            .await
        }
        Command::Grants => {
            match core
                .view()
                .grants(&GrantQuery {
                    statuses: GrantStatus::LIVE.to_vec(),
                    requester: Some(actor),
                    ..GrantQuery::default()
                })
                .await
            {
                Ok(gs) if gs.is_empty() => "You hold no grants.".to_owned(),
                Ok(gs) => gs
                    .iter()
                    .map(|g| {
                        format!(
                            "• `{}` *{}* {} until {}",
                            g.id,
                            g.bundle,
                            g.status,
                            rfc3339(g.expires_at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                Err(e) => format!("Error: {e}"),
            }
        }
        Command::Revoke { id, reason } => {
            match core.revoke(&id, &actor, false, &reason, None).await {
                Ok(g) => match g.session_cutoff {
                    Some(cut) => format!(
                        "Revoking grant `{}` (*{}*); this {}.",
                        g.id,
                        g.bundle,
                        crate::domain::session_cutoff_reach(
                            &format!("`{}`", g.identity.id),
                            &rfc3339(cut)
                        )
                    ),
                    None => format!("Revoking grant `{}` (*{}*).", g.id, g.bundle),
                },
                Err(ServiceError::Refused(refusal)) => format!("Refused: {}", refusal.message),
                Err(e) => format!("Error: {e}"),
            }
        }
    }
}

/// Open a request from Slack and say what became of it.
async fn file_request(core: &Arc<Core>, new: NewRequest) -> String {
    match core.request(new).await {
        Ok((r, Some(g))) => format!(
            "Granted at once (auto-approved): *{}* until {} — request `{}`, grant `{}`.",
            r.bundle,
            rfc3339(g.expires_at),
            r.id,
            g.id
        ),
        Ok((r, None)) => format!(
            "Request `{}` for *{}* ({}) sent to approvers: {}.",
            r.id,
            r.bundle,
            format_duration(r.duration_secs),
            crate::domain::eligible_approvers(&core.config, &r).join(", ")
        ),
        Err(ServiceError::Refused(refusal)) => format!("Refused: {}", refusal.message),
        Err(e) => format!("Error: {e}"),
    }
}

#[derive(Debug, Deserialize)]
struct InteractionForm {
    payload: String,
}

#[derive(Debug, Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
    user: SlackUser,
    #[serde(default)]
    actions: Vec<Action>,
    response_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SlackUser {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Action {
    action_id: String,
    value: Option<String>,
}

/// `POST /slack/interactions` (Approve/Deny buttons).
pub async fn interactions(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = verify(&core, &headers, &body).await {
        return refused;
    }
    let parsed = serde_urlencoded::from_bytes::<InteractionForm>(&body)
        .map_err(|e| e.to_string())
        .and_then(|f| serde_json::from_str::<Interaction>(&f.payload).map_err(|e| e.to_string()));
    let interaction = match parsed {
        Ok(i) => i,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("bad interaction payload: {e}"),
            )
                .into_response()
        }
    };
    if interaction.kind != "block_actions" {
        return StatusCode::OK.into_response();
    }
    let core2 = Arc::clone(&core);
    tokio::spawn(async move {
        let reply = run_interaction(&core2, &interaction).await;
        if let (Some(reply), Some(slack), Some(url)) =
            (reply, &core2.slack, &interaction.response_url)
        {
            if let Err(e) = slack.respond(url, &reply).await {
                tracing::warn!(error = %e, "slack: reply failed");
            }
        }
    });
    StatusCode::OK.into_response()
}

async fn run_interaction(core: &Arc<Core>, i: &Interaction) -> Option<String> {
    let action = i.actions.first()?;
    let decision = match action.action_id.as_str() {
        "latch_approve" => Decision::Approve,
        "latch_deny" => Decision::Deny,
        crate::offers::OFFER_ACTION => return Some(run_offer(core, i, action).await),
        _ => return None,
    };
    let request_id = action.value.clone().unwrap_or_default();
    // The actor comes from the signed payload's user, never from the button's value.
    let Some(person) = core.config.person_by_slack(&i.user.id) else {
        let refusal = Refusal {
            code: RefusalCode::UnknownPerson,
            message: "Slack user not mapped in [identities]".into(),
        };
        let _ = core
            .refuse(
                "approval",
                refusal,
                None,
                Some(&clip(&request_id, MAX_NAME_CHARS)),
                json!({"slack_user": i.user.id}),
            )
            .await;
        return Some(format!(
            "Your Slack user `{}` is not mapped in Latch's [identities].",
            i.user.id
        ));
    };
    match core.decide(&request_id, &person.name, decision, None).await {
        Ok(_) => None, // the message itself is updated
        Err(ServiceError::Refused(refusal)) => Some(format!("Refused: {}", refusal.message)),
        Err(e) => Some(format!("Error: {e}")),
    }
}

/// An offer's button was pressed: file the request it names, for the signed payload's user.
async fn run_offer(core: &Arc<Core>, i: &Interaction, action: &Action) -> String {
    let Some(person) = core.config.person_by_slack(&i.user.id) else {
        let _ = core
            .unknown_chat_user(
                "slack",
                json!({"slack_user": i.user.id, "action": action.action_id}),
            )
            .await;
        return format!(
            "Your Slack user `{}` is not mapped in Latch's [identities].",
            i.user.id
        );
    };
    let value = action.value.as_deref().unwrap_or_default();
    let Ok(offer) = serde_json::from_str::<crate::offers::ButtonValue>(value) else {
        return "This offer's button is malformed; use `/latch request` instead.".to_owned();
    };
    file_request(
        core,
        NewRequest {
            requester: person.name.clone(),
            bundle: offer.bundle,
            duration_secs: offer.duration_secs,
            reason: format!("offered by Latch after AWS denied {}", offer.action),
            break_glass: false,
            source: "slack".into(),
        },
    )
    .await
}

/// Seconds since the epoch for a millisecond time (for signing in tests and tools).
#[must_use]
pub fn unix_secs(ms: Millis) -> i64 {
    ms.div_euclid(1000)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_revocation_with_a_session_cutoff_says_it_reaches_every_session() {
        let mut g = GrantRecord {
            id: "g-1".into(),
            request_id: "r-1".into(),
            requester: "alice".into(),
            identity: latch_grant::Identity {
                kind: latch_grant::IdentityKind::Role,
                id: "arn:aws:iam::111122223333:role/alice".into(),
            },
            bundle: "iam-admin".into(),
            status: GrantStatus::Revoked,
            break_glass: false,
            created_at: 0,
            activated_at: Some(0),
            expires_at: 3_600_000,
            ended_at: Some(60_000),
            revoked_by: Some("bob".into()),
            revoke_reason: Some("done".into()),
            session_cutoff: Some(60_000),
            version: 3,
        };
        let dm = grant_dm(&g);
        assert!(
            dm.contains(
                "also ends every session of this identity issued before 1970-01-01T00:01:00"
            ) && dm.contains("not only this grant"),
            "{dm}"
        );
        g.session_cutoff = None;
        assert!(!grant_dm(&g).contains("session"), "{}", grant_dm(&g));
    }

    #[test]
    fn signature_round_trip_and_rejections() {
        let secret = Secret::new("8f742231b10e8888abcd99yyyzzz85a5");
        let body = b"token=x&team_id=T1&command=%2Flatch&text=grants";
        let sig = sign(secret.expose(), "1531420618", body);
        assert!(sig.starts_with("v0=") && sig.len() == 67);
        assert_eq!(
            verify_signature(&secret, Some("1531420618"), Some(&sig), body, 1_531_420_700)
                .map(|k| k.as_str().to_owned()),
            Ok(format!("slack-sig:{}", &sig[3..]))
        );
        // The hex digits may come in either case; the replay key does not change with them,
        // so a re-cased copy of a captured request is recognised as the same request.
        let upper = format!("v0={}", sig[3..].to_uppercase());
        let mixed: String = sig
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect::<String>()
            .replacen("V0=", "v0=", 1);
        for variant in [&upper, &mixed] {
            assert_ne!(variant, &sig);
            assert_eq!(
                verify_signature(
                    &secret,
                    Some("1531420618"),
                    Some(variant),
                    body,
                    1_531_420_700
                ),
                verify_signature(&secret, Some("1531420618"), Some(&sig), body, 1_531_420_700),
            );
        }
        // Any change to the body breaks it.
        assert_eq!(
            verify_signature(
                &secret,
                Some("1531420618"),
                Some(&sig),
                b"token=y",
                1_531_420_700
            ),
            Err(Rejection::BadSignature)
        );
        // The timestamp is part of what is signed.
        assert_eq!(
            verify_signature(&secret, Some("1531420619"), Some(&sig), body, 1_531_420_700),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            verify_signature(
                &secret,
                Some("1531420618"),
                Some(&sig),
                body,
                1_531_420_618 + 301
            ),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            verify_signature(
                &secret,
                Some("1531420618"),
                Some(&sig),
                body,
                1_531_420_618 - 301
            ),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            verify_signature(&secret, None, Some(&sig), body, 0),
            Err(Rejection::MissingHeaders)
        );
        assert_eq!(
            verify_signature(
                &secret,
                Some("1531420618"),
                Some("v0=zz"),
                body,
                1_531_420_618
            ),
            Err(Rejection::BadSignature)
        );
        let wrong = Secret::new("other");
        assert_eq!(
            verify_signature(&wrong, Some("1531420618"), Some(&sig), body, 1_531_420_618),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            parse_command("request iam-admin 1h incident 4411"),
            Command::Request {
                bundle: "iam-admin".into(),
                duration_secs: 3600,
                reason: "incident 4411".into()
            }
        );
        assert_eq!(parse_command("grants"), Command::Grants);
        assert_eq!(
            parse_command("revoke g-1"),
            Command::Revoke {
                id: "g-1".into(),
                reason: "revoked from Slack".into()
            }
        );
        assert!(
            matches!(parse_command("request iam-admin soon x"), Command::Help(Some(m)) if m.contains("bad duration"))
        );
        assert!(matches!(parse_command(""), Command::Help(None)));
    }

    #[test]
    fn the_shipped_manifest_points_at_our_endpoints() {
        let manifest = include_str!("../../../deploy/slack-manifest.yaml");
        assert!(manifest.contains("/slack/commands"));
        assert!(manifest.contains("/slack/interactions"));
        assert!(manifest.contains("command: /latch"));
        assert!(manifest.contains("- chat:write") && manifest.contains("- commands"));
        assert!(manifest.contains("socket_mode_enabled: false"));
    }

    #[test]
    fn client_debug_hides_the_token() {
        let c = SlackClient::new("http://127.0.0.1:1/api", Secret::new("xoxb-secret"));
        assert!(!format!("{c:?}").contains("xoxb-secret"));
    }
}
