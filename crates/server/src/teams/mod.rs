//! Microsoft Teams, through the Bot Framework: Latch's bot receives activities at its
//! messaging endpoint (`POST /teams/messages`) and answers through the Bot Connector service.
//!
//! Every activity is authenticated before anything in it is trusted ([`auth`]): the Bot
//! Framework's signed token, for this bot, bound to the activity's service URL. Then:
//!
//! - it is acted on once (its id is remembered in the store, across servers: a replay is
//!   refused);
//! - it must come from the configured Entra tenant;
//! - the actor is the activity's sender (`from.aadObjectId`), mapped to a person by
//!   `[identities] teams`; never anything a card carries.
//!
//! Refusals are audited (`teams.rejected`, `teams.unknown_user`, `approval.refused`) and
//! answered 401 or 403; nothing else changes. A message (`request …`, `grants`, `revoke …`)
//! is acknowledged at once and answered in its conversation; an `Action.Execute` (Approve,
//! Deny, an offer's Request) is answered in the same HTTP exchange, the card replaced by its
//! outcome.
//!
//! One folder, one platform: [`auth`] (inbound tokens), [`connector`] (sending, with the bot's
//! Entra token), [`cards`] (what is shown), [`notifier`] (the core's events, said in Teams),
//! and here the endpoint.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latch_grant::Decision;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::chat::{self, Style};
use crate::config::TeamsConfig;
use crate::service::{Core, ServiceError};
use latch_grant::workflow::{clip, NewRequest, Refusal, RefusalCode, MAX_NAME_CHARS};

pub mod auth;
pub mod cards;
pub mod connector;
pub mod notifier;

pub use notifier::TeamsNotifier;

/// Teams' name as a platform: in message references, people's ids and audit entries.
pub const PLATFORM: &str = "teams";

/// How Latch speaks in Teams: commands typed to the bot, Markdown.
pub const STYLE: Style = Style {
    platform: PLATFORM,
    name: "Teams",
    prefix: "",
    bold: "**",
};

/// How long an activity id is remembered, in seconds: longer than any token it could be
/// replayed with stays valid (an hour, with five minutes of skew).
pub const ACTIVITY_MEMORY_SECS: i64 = 2 * 3600;

/// Latch's bot: the checks on what arrives, the client for what leaves, and the personal
/// chats it has opened.
#[derive(Debug)]
pub struct TeamsBot {
    /// `[teams]`.
    pub config: TeamsConfig,
    /// Inbound authentication.
    pub auth: auth::BotFrameworkAuth,
    /// Outbound client.
    pub connector: connector::Connector,
    /// Personal chats by Entra object id.
    chats: Mutex<HashMap<String, String>>,
}

impl TeamsBot {
    /// The bot `config` describes.
    #[must_use]
    pub fn new(config: &TeamsConfig) -> TeamsBot {
        TeamsBot {
            auth: auth::BotFrameworkAuth::new(&config.app_id, &config.openid_metadata_url),
            connector: connector::Connector::new(
                &config.token_url,
                &config.app_id,
                config.app_secret.clone(),
            ),
            config: config.clone(),
            chats: Mutex::new(HashMap::new()),
        }
    }

    /// The personal chat with the person whose Entra object id is `member`.
    ///
    /// # Errors
    /// The connector refused or could not be reached.
    pub async fn personal_chat(&self, member: &str, now: i64) -> Result<String, String> {
        if let Some(c) = self.chats.lock().await.get(member) {
            return Ok(c.clone());
        }
        let id = self
            .connector
            .personal_chat(&self.config.service_url, &self.config.tenant, member, now)
            .await
            .map_err(|e| e.to_string())?;
        self.chats
            .lock()
            .await
            .insert(member.to_owned(), id.clone());
        Ok(id)
    }

    /// Send `activity` to the person whose Entra object id is `member`, in their personal
    /// chat; returns the conversation and the activity id.
    ///
    /// # Errors
    /// The connector refused or could not be reached.
    pub async fn tell(
        &self,
        member: &str,
        activity: &Value,
        now: i64,
    ) -> Result<(String, String), String> {
        let conversation = self.personal_chat(member, now).await?;
        let id = self.post(&conversation, activity, now).await?;
        Ok((conversation, id))
    }

    /// Send `activity` to a conversation (a channel or a chat) through the configured service.
    ///
    /// # Errors
    /// The connector refused or could not be reached.
    pub async fn post(
        &self,
        conversation: &str,
        activity: &Value,
        now: i64,
    ) -> Result<String, String> {
        self.connector
            .send(&self.config.service_url, conversation, activity, now)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The parts of an activity Latch reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Activity {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    service_url: String,
    from: Account,
    conversation: Conversation,
    #[serde(default)]
    text: String,
    name: Option<String>,
    value: Option<Value>,
    channel_data: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Account {
    aad_object_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Conversation {
    id: String,
    tenant_id: Option<String>,
}

impl Activity {
    /// The sender's tenant: `channelData.tenant.id`, else `conversation.tenantId`.
    fn tenant(&self) -> Option<&str> {
        self.channel_data
            .as_ref()
            .and_then(|d| d.pointer("/tenant/id"))
            .and_then(Value::as_str)
            .or(self.conversation.tenant_id.as_deref())
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    latch_grant::audit::hex(&Sha256::digest(bytes))
}

/// `POST /teams/messages`: the bot's messaging endpoint.
pub async fn messages(State(core): State<Arc<Core>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(bot) = core.teams.clone() else {
        return (StatusCode::NOT_FOUND, "teams is not configured").into_response();
    };
    // Only what the token is checked against is read before it is checked.
    let peek: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let field = |name: &str| peek.get(name).and_then(Value::as_str).unwrap_or_default();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let now_secs = core.now().div_euclid(1000);
    let verified = bot
        .auth
        .validate(
            authorization,
            field("serviceUrl"),
            field("channelId"),
            now_secs,
        )
        .await;
    let identify = || {
        json!({
            "activity_id": clip(field("id"), MAX_NAME_CHARS),
            "body_sha256": sha256_hex(&body),
        })
    };
    if let Err(rejection) = verified {
        return reject(
            &core,
            StatusCode::UNAUTHORIZED,
            rejection.code(),
            &rejection.to_string(),
            identify(),
        )
        .await;
    }
    let activity: Activity = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad activity: {e}")).into_response(),
    };
    let key = format!(
        "teams-activity:{}",
        sha256_hex(format!("{}\n{}", activity.conversation.id, activity.id).as_bytes())
    );
    let until = core
        .now()
        .saturating_add(ACTIVITY_MEMORY_SECS.saturating_mul(1000));
    match core.first_sight(&key, until).await {
        Ok(true) => {}
        Ok(false) => {
            return reject(
                &core,
                StatusCode::UNAUTHORIZED,
                "replayed",
                "this activity was already received",
                identify(),
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "teams: nonce store failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
        }
    }
    let same_tenant = activity
        .tenant()
        .is_some_and(|t| t.eq_ignore_ascii_case(&bot.config.tenant));
    if !same_tenant {
        let mut details = identify();
        if let Some(d) = details.as_object_mut() {
            d.insert(
                "tenant".into(),
                json!(activity.tenant().map(|t| clip(t, MAX_NAME_CHARS))),
            );
        }
        return reject(
            &core,
            StatusCode::FORBIDDEN,
            "wrong_tenant",
            "the activity comes from another Entra tenant than [teams] tenant",
            details,
        )
        .await;
    }
    match (activity.kind.as_str(), activity.name.as_deref()) {
        ("message", _) => {
            tokio::spawn(async move {
                let reply = run_message(&core, &activity).await;
                let answer = cards::with(cards::text_activity(&reply), "replyToId", &activity.id);
                let sent = bot
                    .connector
                    .send(
                        &activity.service_url,
                        &activity.conversation.id,
                        &answer,
                        core.now().div_euclid(1000),
                    )
                    .await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "teams: reply failed");
                }
            });
            StatusCode::OK.into_response()
        }
        ("invoke", Some("adaptiveCard/action")) => {
            let answer = run_action(&core, &activity).await;
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                Json(answer),
            )
                .into_response()
        }
        // Installation, members added, reactions…: nothing to do.
        _ => StatusCode::OK.into_response(),
    }
}

async fn reject(
    core: &Core,
    status: StatusCode,
    code: &str,
    message: &str,
    details: Value,
) -> Response {
    if let Err(e) = core
        .reject_inbound(
            PLATFORM,
            &crate::metrics::TEAMS_REJECTED,
            code,
            message,
            details,
        )
        .await
    {
        tracing::error!(error = %e, "teams: could not audit a rejection");
    }
    (status, message.to_owned()).into_response()
}

/// The text a person typed to the bot: mentions of the bot (`<at>Latch</at>`) and any other
/// markup removed, entities decoded.
#[must_use]
pub fn command_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(rest.get(..start).unwrap_or_default());
        let tail = rest.get(start..).unwrap_or_default();
        let lower = tail.to_ascii_lowercase();
        let skip = if lower.starts_with("<at>") || lower.starts_with("<at ") {
            lower.find("</at>").map(|e| e + "</at>".len())
        } else {
            tail.find('>').map(|e| e + 1)
        };
        match skip {
            Some(n) => {
                out.push(' ');
                rest = tail.get(n..).unwrap_or_default();
            }
            None => {
                out.push_str(tail);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn run_message(core: &Arc<Core>, activity: &Activity) -> String {
    let text = command_text(&activity.text);
    let sender = activity.from.aad_object_id.as_deref().unwrap_or_default();
    let Some(person) = core.person_by_chat(PLATFORM, sender).await else {
        let _ = core
            .unknown_chat_user(PLATFORM, json!({"teams_user": sender, "text": text}))
            .await;
        return chat::unknown_user(&STYLE, sender);
    };
    chat::run(core, &person, &text, &STYLE).await
}

/// Run an `Action.Execute` and say what replaces the card (or what to show beside it).
async fn run_action(core: &Arc<Core>, activity: &Activity) -> Value {
    let action = activity
        .value
        .as_ref()
        .and_then(|v| v.get("action"))
        .cloned()
        .unwrap_or(Value::Null);
    let verb = action
        .get("verb")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let data = action.get("data").cloned().unwrap_or(Value::Null);
    let sender = activity.from.aad_object_id.as_deref().unwrap_or_default();
    let person = core.person_by_chat(PLATFORM, sender).await;
    let decision = match verb {
        cards::APPROVE => Decision::Approve,
        cards::DENY => Decision::Deny,
        cards::OFFER => {
            let Some(person) = person else {
                let _ = core
                    .unknown_chat_user(PLATFORM, json!({"teams_user": sender, "verb": verb}))
                    .await;
                return cards::answer(&chat::unknown_user(&STYLE, sender));
            };
            let Ok(offer) = serde_json::from_value::<crate::offers::ButtonValue>(data) else {
                return cards::answer("This offer's button is malformed; type `request` instead.");
            };
            let new = NewRequest {
                requester: person.name.clone(),
                bundle: offer.bundle,
                duration_secs: offer.duration_secs,
                reason: format!("offered by Latch after AWS denied {}", offer.action),
                break_glass: false,
                source: PLATFORM.into(),
                accounts: offer.account.into_iter().collect(),
                permission_set: None,
                starts_at: None,
            };
            let said = chat::file_request(core, new, &STYLE).await;
            return cards::replace_with(cards::note(&said));
        }
        cards::EXTEND => {
            let Some(person) = person else {
                let _ = core
                    .unknown_chat_user(PLATFORM, json!({"teams_user": sender, "verb": verb}))
                    .await;
                return cards::answer(&chat::unknown_user(&STYLE, sender));
            };
            let grant = clip(
                data.get("grant")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                MAX_NAME_CHARS,
            );
            // The holder is the activity's sender, never the card's data.
            let said = chat::extend(
                core,
                &person.name,
                &grant,
                None,
                "extended from the reminder",
                &STYLE,
            )
            .await;
            return cards::replace_with(cards::note(&said));
        }
        _ => return cards::answer("Latch does not know this button."),
    };
    let request_id = clip(
        data.get("request")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        MAX_NAME_CHARS,
    );
    // The approver is the activity's sender, never the card's data.
    let Some(person) = person else {
        let refusal = Refusal {
            code: RefusalCode::UnknownPerson,
            message: "Teams user not mapped in [identities]".into(),
        };
        let _ = core
            .refuse(
                "approval",
                refusal,
                None,
                Some(&request_id),
                json!({"teams_user": sender}),
            )
            .await;
        return cards::answer(&chat::unknown_user(&STYLE, sender));
    };
    match core.decide(&request_id, &person.name, decision, None).await {
        Ok((r, _)) if r.status == latch_grant::RequestStatus::Pending => cards::answer(&format!(
            "Your answer on request `{}` is recorded; it waits for another approver.",
            r.id
        )),
        Ok((r, _)) => {
            let approvals = core.view().approvals(&r.id).await.unwrap_or_default();
            cards::replace_with(cards::decided(&r, &approvals, Some(&person.name)))
        }
        Err(ServiceError::Refused(refusal)) => {
            cards::answer(&format!("Refused: {}", refusal.message))
        }
        Err(e) => cards::answer(&format!("Error: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn the_shipped_manifest_lists_exactly_the_commands_the_bot_understands() {
        let m: Value =
            serde_json::from_str(include_str!("../../../../deploy/teams-manifest.json")).unwrap();
        assert_eq!(m["id"], m["bots"][0]["botId"]);
        assert_eq!(m["bots"][0]["scopes"], json!(["personal", "team"]));
        let commands: Vec<&str> = m["bots"][0]["commandLists"][0]["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["title"].as_str().unwrap())
            .collect();
        assert_eq!(commands, ["request", "grants", "revoke"]);
        for c in &commands {
            assert!(
                !matches!(chat::parse_command(c, &STYLE), chat::Command::Help(None)),
                "the bot does not know `{c}`"
            );
        }
    }

    #[test]
    fn what_a_person_typed_is_read_without_the_mention_and_the_markup() {
        assert_eq!(
            command_text("<at>Latch</at> request iam-admin 1h incident&nbsp;4411"),
            "request iam-admin 1h incident 4411"
        );
        assert_eq!(command_text("<p>grants</p>"), "grants");
        assert_eq!(command_text("revoke g-1 a &amp; b"), "revoke g-1 a & b");
        assert_eq!(command_text("a < b"), "a < b");
        assert_eq!(command_text("<AT>Latch Bot</AT>grants"), "grants");
    }
}
