//! The Bot Connector client against a fake Entra ID token endpoint and a fake connector on
//! loopback: client credentials for the right scope, the token cached until five minutes
//! before it expires, ids percent-encoded into the path, and failures reported without the
//! secret.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{post, put};
use axum::{Json, Router};
use latch_server::config::Secret;
use latch_server::teams::connector::{Connector, SCOPE};
use serde_json::{json, Value};
use tokio::net::TcpListener;

const APP: &str = "00000000-0000-0000-0000-00000000b07a";
const SECRET: &str = "s3cret-value-never-logged";
const NOW: i64 = 1_800_000_000;

#[derive(Default)]
struct Seen {
    tokens_issued: usize,
    /// (method, conversation, activity id, bearer, body)
    calls: Vec<(String, String, String, String, Value)>,
}

async fn fake() -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (s1, s2, s3) = (Arc::clone(&seen), Arc::clone(&seen), Arc::clone(&seen));
    let bearer = |h: &HeaderMap| {
        h.get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let app = Router::new()
        .route(
            "/tenant/token",
            post(move |Form(f): Form<HashMap<String, String>>| {
                let s = Arc::clone(&s1);
                async move {
                    let ok = f.get("grant_type").map(String::as_str) == Some("client_credentials")
                        && f.get("client_id").map(String::as_str) == Some(APP)
                        && f.get("client_secret").map(String::as_str) == Some(SECRET)
                        && f.get("scope").map(String::as_str) == Some(SCOPE);
                    if !ok {
                        return (
                            StatusCode::UNAUTHORIZED,
                            Json(json!({"error": "invalid_client"})),
                        );
                    }
                    let mut s = s.lock().unwrap();
                    s.tokens_issued += 1;
                    (
                        StatusCode::OK,
                        Json(json!({"token_type": "Bearer", "expires_in": 3600,
                                    "access_token": format!("token-{}", s.tokens_issued)})),
                    )
                }
            }),
        )
        .route(
            "/v3/conversations/{conversation}/activities",
            post(
                move |Path(conversation): Path<String>, h: HeaderMap, Json(body): Json<Value>| {
                    let s = Arc::clone(&s2);
                    async move {
                        let mut s = s.lock().unwrap();
                        s.calls.push((
                            "POST".into(),
                            conversation,
                            String::new(),
                            bearer(&h),
                            body,
                        ));
                        Json(json!({"id": format!("activity-{}", s.calls.len())}))
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
                    let s = Arc::clone(&s3);
                    async move {
                        if conversation == "gone" {
                            return StatusCode::NOT_FOUND;
                        }
                        s.lock().unwrap().calls.push((
                            "PUT".into(),
                            conversation,
                            activity,
                            bearer(&h),
                            body,
                        ));
                        StatusCode::OK
                    }
                },
            ),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

#[tokio::test]
async fn sends_and_updates_with_a_cached_client_credentials_token() {
    let (base, seen) = fake().await;
    let connector = Connector::new(&format!("{base}/tenant/token"), APP, Secret::new(SECRET));
    assert!(!format!("{connector:?}").contains(SECRET));
    // A Teams channel conversation id, with the characters that must be encoded.
    let channel = "19:abc@thread.tacv2;messageid=17";
    let service = format!("{base}/");
    let id = connector
        .send(
            &service,
            channel,
            &json!({"type": "message", "text": "hi"}),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(id, "activity-1");
    connector
        .update(
            &service,
            channel,
            &id,
            &json!({"type": "message", "text": "decided"}),
            NOW + 60,
        )
        .await
        .unwrap();
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.tokens_issued, 1, "the token is reused");
        assert_eq!(s.calls.len(), 2);
        assert_eq!(s.calls[0].1, channel);
        assert_eq!(s.calls[0].3, "Bearer token-1");
        assert_eq!(s.calls[0].4["text"], "hi");
        assert_eq!(
            (s.calls[1].0.as_str(), s.calls[1].2.as_str()),
            ("PUT", "activity-1")
        );
    }
    // Five minutes before the hour is up, a new token.
    connector
        .send(
            &service,
            channel,
            &json!({"type": "message"}),
            NOW + 3600 - 299,
        )
        .await
        .unwrap();
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.tokens_issued, 2);
        assert_eq!(s.calls[2].3, "Bearer token-2");
    }
    // The connector's refusal is an error; a wrong secret too, and neither shows the secret.
    let e = connector
        .update(&service, "gone", "activity-1", &json!({}), NOW + 3600)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("404"), "{e}");
    let wrong = Connector::new(&format!("{base}/tenant/token"), APP, Secret::new("nope"));
    let e = wrong
        .send(&service, channel, &json!({}), NOW)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("401") && !e.to_string().contains("nope"),
        "{e}"
    );
    // A service URL that is not HTTP(S) is refused before anything is sent.
    let e = connector
        .send("file:///etc/", channel, &json!({}), NOW)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not HTTP"), "{e}");
}
