//! A fake Microsoft Teams on loopback, for tests: the Bot Framework's OpenID metadata and
//! signing keys (inbound tokens are checked against them), the bot's Entra ID token endpoint,
//! and the Bot Connector service (personal chats opened, activities posted and replaced), all
//! recorded; and activities signed as the Bot Framework signs them, with a test key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Path};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub const APP_ID: &str = "00000000-0000-0000-0000-00000000b07a";
pub const TENANT: &str = "11111111-1111-1111-1111-111111111111";
pub const APP_SECRET: &str = "teams-app-secret-never-logged";
/// The Bot Framework's signing key in these tests.
pub const KEY: &[u8] = include_bytes!("../fixtures/teams-test-key.pem");
/// A key the Bot Framework does not publish: what a forger signs with.
pub const OTHER_KEY: &[u8] = include_bytes!("../fixtures/teams-other-key.pem");
pub const PUBLIC_KEYS: &str = include_str!("../fixtures/teams-test-keys.json");
pub const KID: &str = "bf-test-1";
pub const ISSUER: &str = "https://api.botframework.com";

/// One call the connector received.
#[derive(Debug, Clone)]
pub struct Sent {
    /// `POST` (new activity or conversation) or `PUT` (replaced activity).
    pub method: String,
    /// The conversation (empty when a conversation was created).
    pub conversation: String,
    /// The replaced activity's id (`PUT`).
    pub activity_id: String,
    /// The body.
    pub body: Value,
}

/// The fake.
#[derive(Clone)]
pub struct FakeTeams {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub sent: Arc<Mutex<Vec<Sent>>>,
    pub key_fetches: Arc<AtomicUsize>,
    pub tokens_issued: Arc<AtomicUsize>,
}

fn bearer(h: &HeaderMap) -> String {
    h.get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl FakeTeams {
    pub async fn start() -> FakeTeams {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeTeams {
            base: base.clone(),
            sent: Arc::new(Mutex::new(Vec::new())),
            key_fetches: Arc::new(AtomicUsize::new(0)),
            tokens_issued: Arc::new(AtomicUsize::new(0)),
        };
        let keys: Value = serde_json::from_str(PUBLIC_KEYS).unwrap();
        let jwks = json!({"keys": [{"kty": "RSA", "use": "sig", "kid": KID,
            "n": keys["test"]["n"], "e": keys["test"]["e"], "endorsements": ["msteams"]}]});
        let jwks_uri = format!("{base}/keys");
        let (f1, f2, f3, f4, f5) = (
            fake.clone(),
            fake.clone(),
            fake.clone(),
            fake.clone(),
            fake.clone(),
        );
        // Only tokens the fake issued open the connector.
        let issued = move |f: &FakeTeams, h: &HeaderMap| {
            let n = f.tokens_issued.load(Ordering::SeqCst);
            (1..=n).any(|i| bearer(h) == format!("Bearer bot-token-{i}"))
        };
        let app = Router::new()
            .route(
                "/openid",
                get(move || {
                    let jwks_uri = jwks_uri.clone();
                    async move { Json(json!({"issuer": ISSUER, "jwks_uri": jwks_uri})) }
                }),
            )
            .route(
                "/keys",
                get(move || {
                    let (f, jwks) = (f1.clone(), jwks.clone());
                    async move {
                        f.key_fetches.fetch_add(1, Ordering::SeqCst);
                        Json(jwks)
                    }
                }),
            )
            .route(
                "/tenant/token",
                post(move |Form(form): Form<HashMap<String, String>>| {
                    let f = f2.clone();
                    async move {
                        let ok = form.get("client_id").map(String::as_str) == Some(APP_ID)
                            && form.get("client_secret").map(String::as_str) == Some(APP_SECRET)
                            && form.get("grant_type").map(String::as_str)
                                == Some("client_credentials");
                        if !ok {
                            return (
                                StatusCode::UNAUTHORIZED,
                                Json(json!({"error": "invalid_client"})),
                            );
                        }
                        let n = f.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
                        (
                            StatusCode::OK,
                            Json(json!({"token_type": "Bearer", "expires_in": 3600,
                                        "access_token": format!("bot-token-{n}")})),
                        )
                    }
                }),
            )
            .route(
                "/v3/conversations",
                post(move |h: HeaderMap, Json(body): Json<Value>| {
                    let f = f3.clone();
                    async move {
                        if !issued(&f, &h) {
                            return (StatusCode::UNAUTHORIZED, Json(json!({})));
                        }
                        let member = body["members"][0]["id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        f.record("POST", "", "", body);
                        (
                            StatusCode::CREATED,
                            Json(json!({"id": format!("a:chat-{member}")})),
                        )
                    }
                }),
            )
            .route(
                "/v3/conversations/{conversation}/activities",
                post(
                    move |Path(conversation): Path<String>,
                          h: HeaderMap,
                          Json(body): Json<Value>| {
                        let f = f4.clone();
                        async move {
                            if !issued(&f, &h) {
                                return (StatusCode::UNAUTHORIZED, Json(json!({})));
                            }
                            let n = f.record("POST", &conversation, "", body);
                            (
                                StatusCode::CREATED,
                                Json(json!({"id": format!("activity-{n}")})),
                            )
                        }
                    },
                ),
            )
            .route(
                "/v3/conversations/{conversation}/activities/{activity}",
                put(
                    move |Path((conversation, activity)): Path<(String, String)>,
                          h: HeaderMap,
                          Json(body): Json<Value>| {
                        let f = f5.clone();
                        async move {
                            if !issued(&f, &h) {
                                return (StatusCode::UNAUTHORIZED, Json(json!({})));
                            }
                            f.record("PUT", &conversation, &activity, body);
                            (StatusCode::OK, Json(json!({"id": activity})))
                        }
                    },
                ),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    fn record(&self, method: &str, conversation: &str, activity_id: &str, body: Value) -> usize {
        let mut s = self.sent.lock().unwrap();
        s.push(Sent {
            method: method.to_owned(),
            conversation: conversation.to_owned(),
            activity_id: activity_id.to_owned(),
            body,
        });
        s.len()
    }

    /// The connector's address, as activities carry it in `serviceUrl`.
    pub fn service_url(&self) -> String {
        format!("{}/", self.base)
    }

    /// The `[teams]` section for a server that talks to this fake (`channel`: where approval
    /// cards go; none = each approver's personal chat).
    pub fn config_section(&self, channel: Option<&str>) -> String {
        format!(
            "[teams]\napp_id = \"{APP_ID}\"\ntenant = \"{TENANT}\"\napp_secret = \"{APP_SECRET}\"\n\
             service_url = \"{}\"\nopenid_metadata_url = \"{}/openid\"\n\
             token_url = \"{}/tenant/token\"\nsecurity_channel = \"19:security@thread.tacv2\"\n{}",
            self.service_url(),
            self.base,
            self.base,
            channel
                .map(|c| format!("approvals_channel = \"{c}\"\n"))
                .unwrap_or_default()
        )
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// Wait (real time, at most 5 s) for a call `pred` accepts.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&Sent) -> bool) -> Sent {
        let start = std::time::Instant::now();
        loop {
            if let Some(s) = self.sent().into_iter().find(|s| pred(s)) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "timed out waiting for {what}; the connector saw {:#?}",
                self.sent()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The claims of a valid Bot Framework token at `now` (seconds), for activities whose
/// `serviceUrl` is `service_url`.
pub fn claims(service_url: &str, now: i64) -> Value {
    json!({"iss": ISSUER, "aud": APP_ID, "serviceurl": service_url,
           "nbf": now - 60, "exp": now + 3600, "iat": now - 60})
}

/// A token over `claims`, signed with `key` under the key id `kid`.
pub fn sign(key: &[u8], kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, &EncodingKey::from_rsa_pem(key).unwrap()).unwrap()
}

fn activity(service_url: &str, id: &str, from: &str, kind: &str) -> Value {
    json!({
        "type": kind,
        "id": id,
        "channelId": "msteams",
        "serviceUrl": service_url,
        "timestamp": "2027-01-15T08:00:00.000Z",
        "from": {"id": format!("29:{from}"), "aadObjectId": from, "name": from},
        "recipient": {"id": format!("28:{APP_ID}"), "name": "Latch"},
        "conversation": {"id": format!("a:chat-{from}"), "conversationType": "personal",
                         "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
    })
}

/// A message typed to the bot by the person whose Entra object id is `from`.
pub fn message(service_url: &str, id: &str, from: &str, text: &str) -> Value {
    let mut a = activity(service_url, id, from, "message");
    a["text"] = json!(format!("<at>Latch</at> {text}"));
    a
}

/// An `Action.Execute` on a card, pressed by `from`.
pub fn action(service_url: &str, id: &str, from: &str, verb: &str, data: Value) -> Value {
    let mut a = activity(service_url, id, from, "invoke");
    a["name"] = json!("adaptiveCard/action");
    a["value"] = json!({"action": {"type": "Action.Execute", "verb": verb, "data": data},
                        "trigger": "manual"});
    a
}

/// POST `activity` to `url`'s messaging endpoint with `token` (none: no header).
pub async fn send(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    activity: &Value,
) -> (u16, Value) {
    let mut req = http.post(format!("{url}/teams/messages")).json(activity);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
