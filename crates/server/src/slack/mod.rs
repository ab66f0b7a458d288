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
//!
//! One folder, one platform: [`verify`] (signature, window, replay), [`client`] (Web API),
//! [`messages`] (what is said), [`notifier`] (the core's events, said in Slack), and here the
//! two endpoints. The command grammar and its answers are every platform's ([`crate::chat`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latch_grant::{Decision, Millis};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use crate::chat::{self, Style};
use crate::service::{Core, ServiceError};
use latch_grant::workflow::{clip, NewRequest, Refusal, RefusalCode, MAX_NAME_CHARS};

/// Slack's name as a platform: in message references, people's ids and audit entries.
pub const PLATFORM: &str = "slack";

/// How Latch speaks in Slack: `/latch` commands, mrkdwn.
pub const STYLE: Style = Style {
    platform: PLATFORM,
    name: "Slack",
    prefix: "/latch ",
    bold: "*",
};

pub mod client;
pub mod messages;
pub mod notifier;
pub mod verify;

pub use client::{SlackClient, SlackError};
pub use messages::{approval_message, decided_message};
pub use notifier::SlackNotifier;
pub use verify::{sign, verify_signature, Rejection, ReplayKey, MAX_SKEW_SECS};

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
                .reject_inbound(
                    PLATFORM,
                    &crate::metrics::SLACK_REJECTED,
                    rejection.code(),
                    &rejection.to_string(),
                    details,
                )
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
    let Some(person) = core.person_by_chat(PLATFORM, &form.user_id).await else {
        let _ = core
            .unknown_chat_user(
                PLATFORM,
                json!({"slack_user": form.user_id, "text": form.text}),
            )
            .await;
        return chat::unknown_user(&STYLE, &form.user_id);
    };
    chat::run(core, &person, &form.text, &STYLE).await
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
        messages::EXTEND_ACTION => return Some(run_extend(core, i, action).await),
        _ => return None,
    };
    let request_id = action.value.clone().unwrap_or_default();
    // The actor comes from the signed payload's user, never from the button's value.
    let Some(person) = core.person_by_chat(PLATFORM, &i.user.id).await else {
        let refusal = Refusal {
            code: RefusalCode::UnknownPerson,
            message: "Slack user not mapped to a person ([identities] or the directory)".into(),
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
            "Your Slack user `{}` is not one of Latch's people (not in [identities], and no active Identity Center user has your email).",
            i.user.id
        ));
    };
    match core.decide(&request_id, &person.name, decision, None).await {
        Ok(_) => None, // the message itself is updated
        Err(ServiceError::Refused(refusal)) => Some(format!("Refused: {}", refusal.message)),
        Err(e) => Some(format!("Error: {e}")),
    }
}

/// A reminder's Extend button was pressed: ask for more time on the grant it names, for the
/// signed payload's user (who must hold it).
async fn run_extend(core: &Arc<Core>, i: &Interaction, action: &Action) -> String {
    let Some(person) = core.person_by_chat(PLATFORM, &i.user.id).await else {
        let _ = core
            .unknown_chat_user(
                PLATFORM,
                json!({"slack_user": i.user.id, "action": action.action_id}),
            )
            .await;
        return chat::unknown_user(&STYLE, &i.user.id);
    };
    let grant = clip(action.value.as_deref().unwrap_or_default(), MAX_NAME_CHARS);
    chat::extend(
        core,
        &person.name,
        &grant,
        None,
        "extended from the reminder",
        &STYLE,
    )
    .await
}

/// An offer's button was pressed: file the request it names, for the signed payload's user.
async fn run_offer(core: &Arc<Core>, i: &Interaction, action: &Action) -> String {
    let Some(person) = core.person_by_chat(PLATFORM, &i.user.id).await else {
        let _ = core
            .unknown_chat_user(
                PLATFORM,
                json!({"slack_user": i.user.id, "action": action.action_id}),
            )
            .await;
        return format!(
            "Your Slack user `{}` is not one of Latch's people (not in [identities], and no active Identity Center user has your email).",
            i.user.id
        );
    };
    let value = action.value.as_deref().unwrap_or_default();
    let Ok(offer) = serde_json::from_str::<crate::offers::ButtonValue>(value) else {
        return "This offer's button is malformed; use `/latch request` instead.".to_owned();
    };
    chat::file_request(
        core,
        NewRequest {
            requester: person.name.clone(),
            bundle: offer.bundle,
            duration_secs: offer.duration_secs,
            reason: format!("offered by Latch after AWS denied {}", offer.action),
            break_glass: false,
            source: PLATFORM.into(),
            accounts: offer.account.into_iter().collect(),
            permission_set: None,
            starts_at: None,
        },
        &STYLE,
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
    use crate::config::Secret;
    use latch_grant::{GrantRecord, GrantStatus};

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
            account: None,
            permission_set: None,
            starts_at: None,
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
            reminded_at: None,
            version: 3,
        };
        let dm = chat::grant_message(&g, &STYLE);
        assert!(
            dm.contains(
                "also ends every session of this identity issued before 1970-01-01T00:01:00"
            ) && dm.contains("not only this grant"),
            "{dm}"
        );
        g.session_cutoff = None;
        let dm = chat::grant_message(&g, &STYLE);
        assert!(!dm.contains("session"), "{dm}");
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
    fn the_shipped_manifest_points_at_our_endpoints() {
        let manifest = include_str!("../../../../deploy/slack-manifest.yaml");
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
