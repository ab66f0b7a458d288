//! Running the server like a service: `/readyz` says what it checked (store, a known leader,
//! the cloud) and fails when one fails; every answer carries a request id; and a graceful
//! stop on one of two servers sharing PostgreSQL finishes the request in flight and hands the
//! scheduler over at once, long before the lease would run out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[macro_use]
mod common;

use std::sync::Arc;

use common::*;
use latch_grant::{AuditSearch, FakeCloud, GrantStatus, Role};
use serde_json::{json, Value};

/// `GET path` without a token: the status and the JSON answer.
async fn probe(server: &TestServer, path: &str) -> (u16, Value) {
    let r = server
        .http
        .get(format!("{}{path}", server.url))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn readyz(server: &TestServer) -> (u16, Value) {
    probe(server, "/readyz").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_says_what_it_checked_and_every_answer_has_a_request_id() {
    let backend = Backend::sqlite();
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let (status, body) = eventually(3000, "ready", || async {
        let (status, body) = readyz(&server).await;
        (status == 200).then_some((status, body))
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["checks"]["store"]["backend"], "sqlite");
    assert_eq!(body["checks"]["leader"]["leader"], "this server");
    assert_eq!(body["checks"]["cloud"], json!({"ok": true}));

    // The cloud stops answering: not ready, and the answer says which check failed (the probe
    // is reused for a few seconds, so the clock moves on first).
    cloud.set_failing(true);
    clock.advance(10_000);
    let (status, body) = readyz(&server).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not ready");
    assert_eq!(body["checks"]["cloud"]["ok"], false);
    // Public: it says which check failed, not the cloud's own words (which name the caller's
    // identity and account on AWS); the log has those.
    assert_eq!(
        body["checks"]["cloud"]["error"],
        "cloud check failed (the server's log says why)"
    );
    assert!(!body.to_string().contains("set to fail"));
    assert_eq!(body["checks"]["store"]["ok"], true);
    cloud.set_failing(false);

    // Request ids: a fresh one, the caller's own when it is a plain token, never a header
    // that could forge a log line.
    let r = server
        .http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    let fresh = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(fresh.starts_with("req-"), "{fresh}");
    let r = server
        .http
        .get(format!("{}/healthz", server.url))
        .header("x-request-id", "trace-4411.a_b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-4411.a_b");
    let r = server
        .http
        .get(format!("{}/api/v1/grants", server.url))
        .header("x-request-id", "a b\" injected=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req-"));
    server.shutdown().await;
    backend.cleanup().await;
}

/// A store that stops answering makes `/healthz` and `/readyz` fail without telling the
/// (unauthenticated) caller the store's own words, which name its schema, tables or host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_stops_answering_is_unhealthy_without_saying_where_it_is() {
    let backend = Backend::postgres("health");
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    assert_eq!(probe(&server, "/healthz").await.0, 200);
    let schema = match &backend {
        Backend::Postgres(schema) => schema.clone(),
        Backend::Sqlite(_) => panic!("a PostgreSQL backend"),
    };
    // The store goes away under the server: its schema is dropped.
    backend.cleanup().await;
    let (status, body) = eventually(5000, "unhealthy", || async {
        let (status, body) = probe(&server, "/healthz").await;
        (status == 503).then_some((status, body))
    })
    .await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        json!({"status": "unavailable",
               "error": "the store does not answer (the server's log says why)"})
    );
    let (status, ready) = readyz(&server).await;
    assert_eq!(status, 503);
    for answer in [body.to_string(), ready.to_string()] {
        for secret in [schema.as_str(), "audit_log", "relation", "127.0.0.1"] {
            assert!(!answer.contains(secret), "{secret} in {answer}");
        }
    }
    server.shutdown().await;
}

/// A scan report big enough that summarizing it takes a while: the request is still being
/// served when the stop comes.
fn big_scan() -> Vec<u8> {
    let actions: Vec<String> = (0..300).map(|i| format!("iam:Action{i}")).collect();
    let principals: Vec<Value> = (0..3_000)
        .map(|i| {
            json!({"arn": format!("arn:aws:iam::100000000000:role/r{i}"), "account": "100000000000",
                   "kind": "role", "sensitive_actions": actions, "unused": actions, "used": []})
        })
        .collect();
    serde_json::to_vec(&json!({"window_days": 90, "principals": principals, "findings": []}))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_server_finishes_its_requests_and_hands_over_the_scheduler_at_once() {
    let backend = Backend::postgres("stop");
    let (_slack, slack_base) = FakeSlack::start().await;
    let store_a = backend.open().await;
    let store_b = backend.open().await;
    let cloud = Arc::new(FakeCloud::new());
    // The clock never moves: a lease that is not released is never taken over.
    let clock = latch_server::ManualClock::new(T0);
    let mut config_a = test_config(&slack_base, "a");
    config_a.lease_ttl_ms = 600_000;
    let mut config_b = test_config(&slack_base, "b");
    config_b.lease_ttl_ms = 600_000;
    let a = TestServer::start(config_a, store_a.clone(), cloud.clone(), clock.clone()).await;
    let b = TestServer::start(config_b, store_b.clone(), cloud.clone(), clock.clone()).await;
    let admin = token(&store_a, "carol", Role::Admin).await;

    // Both ready; exactly one leads.
    let leaders = eventually(5000, "both ready", || async {
        let (sa, ba) = readyz(&a).await;
        let (sb, bb) = readyz(&b).await;
        (sa == 200 && sb == 200).then(|| {
            (
                ba["checks"]["leader"]["leader"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                bb["checks"]["leader"]["leader"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
    })
    .await;
    let (leader, follower, follower_store) = match (leaders.0.as_str(), leaders.1.as_str()) {
        ("this server", "another server") => (a, b, store_b),
        ("another server", "this server") => (b, a, store_a),
        other => panic!("not exactly one leader: {other:?}"),
    };

    // A request in flight on the leader when it is told to stop.
    let body = big_scan();
    let url = format!("{}/api/v1/posture", leader.url);
    let http = reqwest::Client::new();
    let token = admin.clone();
    let in_flight = tokio::spawn(async move {
        let answer = http
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        (answer, std::time::Instant::now())
    });
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let stopped_at = std::time::Instant::now();
    let leader_url = leader.url.clone();
    leader.shutdown().await;

    // The request was finished, not dropped.
    let (answer, answered_at) = in_flight.await.unwrap();
    assert_eq!(answer.unwrap().status().as_u16(), 201);
    assert!(answered_at > stopped_at, "the answer came before the stop");
    assert!(follower_store
        .posture_latest("scan")
        .await
        .unwrap()
        .is_some());
    // Nothing new is accepted there.
    assert!(reqwest::get(format!("{leader_url}/healthz")).await.is_err());

    // The other server leads within moments, not the lease's ten minutes.
    eventually(3000, "the follower leads", || async {
        let (_, body) = readyz(&follower).await;
        (body["checks"]["leader"]["leader"] == "this server").then_some(())
    })
    .await;
    assert!(stopped_at.elapsed() < std::time::Duration::from_secs(10));
    let (entries, _) = follower_store
        .audit_search(&AuditSearch {
            kind_prefix: Some("scheduler.leader".into()),
            ..AuditSearch::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    follower.shutdown().await;
    backend.cleanup().await;
}

/// The metrics the example alert rules watch move with what they describe: a chat platform
/// that does not answer counts each message it failed to take, and a grant the cloud will not
/// remove is overdue once it is a minute past its expiry, and no longer once it is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_grants_and_failed_chat_messages_show_in_the_metrics() {
    let backend = Backend::sqlite();
    let (_slack, _slack_base, store, cloud, clock) = setup(&backend).await;
    // Slack that never answers: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_slack = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let server = start_server(&dead_slack, "a", &store, &cloud, &clock).await;
    let alice = token(&store, "alice", Role::Requester).await;
    let metrics = || async {
        reqwest::get(&server.metrics_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let has = |text: &str, line: &str| text.lines().any(|l| l == line);

    // A request for approvers: asking them on Slack fails, and is counted.
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "30m", "reason": "INC-1"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    eventually(5000, "the failed ask counted", || async {
        let text = metrics().await;
        has(
            &text,
            "latch_chat_failures_total{platform=\"slack\",what=\"request\"} 1",
        )
        .then_some(())
    })
    .await;

    // An auto-approved grant, applied; then the cloud refuses to remove it.
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "read-logs", "duration": "5m", "reason": "debug"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let gid = body["grant"]["id"].as_str().unwrap().to_owned();
    eventually(2000, "applied", || async { cloud.tag(ALICE, "read-logs") }).await;
    cloud.set_failing(true);
    clock.advance(5 * 60 * 1000);
    // Due, but not yet a minute past it: not overdue.
    eventually(3000, "the removal tried", || async {
        store
            .grant(&gid)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Expiring)
    })
    .await;
    assert!(has(&metrics().await, "latch_grants_overdue 0"));
    clock.advance(61_000);
    eventually(3000, "overdue", || async {
        has(&metrics().await, "latch_grants_overdue 1").then_some(())
    })
    .await;
    assert!(cloud.tag(ALICE, "read-logs").is_some());

    // The cloud answers again: the grant is removed, and nothing is overdue.
    cloud.set_failing(false);
    eventually(10_000, "removed, nothing overdue", || async {
        clock.advance(30_000);
        let removed = cloud.tag(ALICE, "read-logs").is_none();
        (removed && has(&metrics().await, "latch_grants_overdue 0")).then_some(())
    })
    .await;
    server.shutdown().await;
}
