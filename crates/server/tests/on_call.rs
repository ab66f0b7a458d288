//! On-call approval against fake PagerDuty and Opsgenie REST APIs on 127.0.0.1, on SQLite and PostgreSQL:
//! the person on call now is granted at once and the grant's approval records the schedule
//! and the entry; someone else waits for approvers; answers are cached; an API that fails is
//! no proof (fail closed, audited).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[macro_use]
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use common::*;
use latch_grant::Role;
use latch_server::config::Config;
use serde_json::{json, Value};
use tokio::net::TcpListener;

on_both!(the_person_on_call_is_granted_at_once);
on_both!(the_person_on_call_in_opsgenie_is_granted);

#[derive(Clone, Default)]
struct FakePagerDuty {
    on_call: Arc<Mutex<String>>,
    failing: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

async fn oncalls(
    State(pd): State<FakePagerDuty>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> (StatusCode, Json<Value>) {
    pd.calls.fetch_add(1, Ordering::SeqCst);
    if pd.failing.load(Ordering::SeqCst) {
        return (StatusCode::BAD_GATEWAY, Json(json!({"error": "down"})));
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != "Token token=pd-secret" {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "no"})));
    }
    assert!(
        q.contains(&("schedule_ids[]".into(), "PSECOPS".into())),
        "{q:?}"
    );
    assert!(q.contains(&("include[]".into(), "users".into())), "{q:?}");
    let email = pd.on_call.lock().unwrap().clone();
    (
        StatusCode::OK,
        Json(json!({"oncalls": [
            {"user": {"id": "PUSER1", "type": "user", "email": email, "summary": "On call"},
             "schedule": {"id": "PSECOPS", "type": "schedule_reference"},
             "escalation_level": 1,
             "start": "2027-01-15T00:00:00Z", "end": "2027-01-16T00:00:00Z"},
            {"user": {"id": "PUSER2", "type": "user", "email": "someone@example.com"},
             "schedule": {"id": "POTHER", "type": "schedule_reference"},
             "escalation_level": 1}
        ], "more": false})),
    )
}

async fn the_person_on_call_is_granted_at_once(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let pd = FakePagerDuty::default();
    *pd.on_call.lock().unwrap() = "Alice@Example.com".to_owned();
    let app = Router::new()
        .route("/oncalls", get(oncalls))
        .with_state(pd.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pd_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let text = config_text(&slack_base)
        .replace(
            "[identities.alice]\nslack = \"UALICE\"",
            "[identities.alice]\nslack = \"UALICE\"\nemail = \"alice@example.com\"",
        )
        .replace(
            "[identities.dave]\n",
            "[identities.dave]\nemail = \"dave@example.com\"\n",
        )
        .replace(
            "[bundles.iam-admin]\nmax_duration = \"1h\"",
            "[bundles.iam-admin]\nmax_duration = \"1h\"\non_call = \"pagerduty:PSECOPS\"",
        )
        + &format!(
            "\n[on_call]\npagerduty_token_env = \"PD_TOKEN\"\npagerduty_api = \"{pd_url}\"\ncache = \"1m\"\n"
        );
    let mut config = Config::parse(&text, "latch.toml", &|v| {
        (v == "PD_TOKEN").then(|| "pd-secret".to_owned())
    })
    .unwrap();
    config.poll_interval_ms = 50;
    let server = TestServer::start(config, store.clone(), cloud.clone(), clock.clone()).await;
    let ask = |who: &'static str| {
        let (server, store) = (&server, store.clone());
        async move {
            let t = token(&store, who, Role::Requester).await;
            server
                .api(
                    "POST",
                    "/api/v1/requests",
                    &t,
                    Some(json!({"bundle": "iam-admin", "duration": "30m", "reason": "page 77"})),
                )
                .await
        }
    };

    // alice is on call in PSECOPS: granted at once, the approval records the entry.
    let (status, body) = ask("alice").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["request"]["status"], "approved", "{body}");
    let gid = body["grant"]["id"].as_str().unwrap().to_owned();
    let approved = store
        .audit(0, 0)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "request.approved")
        .unwrap();
    assert_eq!(approved.details["by"], "on-call");
    assert_eq!(approved.details["grant_id"], gid.as_str());
    assert_eq!(approved.details["on_call"]["schedule"], "pagerduty:PSECOPS");
    assert_eq!(approved.details["on_call"]["who"], "PUSER1");
    assert_eq!(approved.details["on_call"]["end"], "2027-01-16T00:00:00Z");

    // dave is not on call (only in another schedule's entry): his request waits.
    let (status, body) = ask("dave").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["request"]["status"], "pending", "{body}");
    // One call answered both (the cache).
    assert_eq!(pd.calls.load(Ordering::SeqCst), 1);

    // PagerDuty down, the cache expired: alice waits for approvers; audited.
    pd.failing.store(true, Ordering::SeqCst);
    clock.advance(61_000);
    let (status, body) = ask("alice").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["request"]["status"], "pending", "{body}");
    let unavailable = store
        .audit(0, 0)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "on_call.unavailable")
        .unwrap();
    assert_eq!(unavailable.details["schedule"], "pagerduty:PSECOPS");
    assert!(
        unavailable.details["error"]
            .as_str()
            .unwrap()
            .contains("502"),
        "{}",
        unavailable.details
    );
    server.shutdown().await;
}

async fn opsgenie_on_calls(
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> (StatusCode, Json<Value>) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != "GenieKey og-secret" {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "no"})));
    }
    assert!(
        q.contains(&("scheduleIdentifierType".into(), "name".into())),
        "{q:?}"
    );
    assert!(q.contains(&("flat".into(), "true".into())), "{q:?}");
    let who = if name == "SRE Primary" {
        json!(["alice@example.com"])
    } else {
        json!([])
    };
    (
        StatusCode::OK,
        Json(json!({"data": {"_parent": {"name": name}, "onCallRecipients": who}, "took": 0.1})),
    )
}

/// The same through Opsgenie: a schedule by name (with a space, percent-encoded), its on-call
/// recipients' emails.
async fn the_person_on_call_in_opsgenie_is_granted(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let app = Router::new().route("/v2/schedules/{name}/on-calls", get(opsgenie_on_calls));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let og_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let text = config_text(&slack_base)
        .replace(
            "[identities.alice]\nslack = \"UALICE\"",
            "[identities.alice]\nslack = \"UALICE\"\nemail = \"alice@example.com\"",
        )
        .replace(
            "[bundles.iam-admin]\nmax_duration = \"1h\"",
            "[bundles.iam-admin]\nmax_duration = \"1h\"\non_call = \"opsgenie:SRE Primary\"",
        )
        + &format!("\n[on_call]\nopsgenie_key_env = \"OG_KEY\"\nopsgenie_api = \"{og_url}\"\n");
    let mut config = Config::parse(&text, "latch.toml", &|v| {
        (v == "OG_KEY").then(|| "og-secret".to_owned())
    })
    .unwrap();
    config.poll_interval_ms = 50;
    let server = TestServer::start(config, store.clone(), cloud.clone(), clock.clone()).await;
    let alice = token(&store, "alice", Role::Requester).await;
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "30m", "reason": "page 78"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["request"]["status"], "approved", "{body}");
    let approved = store
        .audit(0, 0)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "request.approved")
        .unwrap();
    assert_eq!(
        approved.details["on_call"]["schedule"],
        "opsgenie:SRE Primary"
    );
    assert_eq!(approved.details["on_call"]["who"], "alice@example.com");
    server.shutdown().await;
}
