//! End to end, on SQLite and on a real PostgreSQL: Slack (signed HTTP requests, a fake Web
//! API on 127.0.0.1), the API, the scheduler with a manual clock, and the in-memory cloud.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use latch_grant::FakeCloud;
use latch_grant::{GrantQuery, GrantStatus, RequestStatus, Role, Store};
use latch_server::ManualClock;
use serde_json::{json, Value};

on_both!(slack_request_approve_expire);
on_both!(refusals_are_clear_and_audited);
on_both!(crash_between_approved_and_applied_converges);
on_both!(crash_between_due_and_revoked_converges);
on_both!(api_roles_revoke_and_reconcile);
on_both!(break_glass_escalation_second_approver_expiry);
on_both!(holder_is_reminded_once_before_the_end);
on_both!(holder_relinquishes_their_grant);
on_both!(holder_extends_their_grant);
on_both!(a_double_approval_makes_one_grant);
on_both!(a_grant_never_shows_active_before_it_is_applied);
on_both!(scheduled_access_starts_on_time);

async fn live_grants(store: &Arc<dyn Store>) -> Vec<latch_grant::GrantRecord> {
    store.grants(&GrantQuery::default()).await.unwrap()
}

/// request → approve in Slack → applied → expires exactly when due → removed.
async fn slack_request_approve_expire(backend: Backend) {
    let (slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let ts = T0 / 1000;

    // alice asks in Slack.
    let body = slash_body(
        "UALICE",
        "request iam-admin 10m incident 4411",
        &format!("{slack_base}/respond/1"),
    );
    let started = std::time::Instant::now();
    let (status, ack) = server
        .slack_post("/slack/commands", &body, ts, SIGNING_SECRET)
        .await;
    assert_eq!(status, 200, "{ack}");
    assert!(ack.contains("Working on it"), "acknowledged at once: {ack}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let reply = slack.wait_for("respond/1", |_| true).await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("sent to approvers: bob, carol"),
        "{reply}"
    );

    // The approvers' channel gets Approve/Deny buttons.
    let msg = slack
        .wait_for("chat.postMessage", |v| v["channel"] == "CAPPROVALS")
        .await;
    let blocks = msg["blocks"].to_string();
    assert!(
        blocks.contains("latch_approve") && blocks.contains("latch_deny"),
        "{blocks}"
    );
    let request_id = msg["blocks"][2]["elements"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    // Where the message lives is stored with the request (for the update after the decision).
    eventually(2000, "slack message stored", || async {
        store
            .messages(&request_id)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.platform == "slack")
            .map(|m| m.message_id)
    })
    .await;

    // bob approves with the button.
    let click = click_body(
        "UBOB",
        "latch_approve",
        &request_id,
        &format!("{slack_base}/respond/2"),
    );
    let (status, _) = server
        .slack_post("/slack/interactions", &click, ts, SIGNING_SECRET)
        .await;
    assert_eq!(status, 200);
    let t = std::time::Instant::now();
    eventually(1000, "tag on alice's role", || async {
        cloud.tag(ALICE, "iam-admin")
    })
    .await;
    let latency = t.elapsed();
    assert!(
        latency < Duration::from_secs(1),
        "tag present within a second ({latency:?})"
    );

    let r = store.request(&request_id).await.unwrap().unwrap();
    assert_eq!(r.status, RequestStatus::Approved);
    let grant = eventually(1000, "grant active", || async {
        live_grants(&store)
            .await
            .into_iter()
            .find(|g| g.status == GrantStatus::Active)
    })
    .await;
    assert_eq!(
        cloud.tag(ALICE, "iam-admin").as_deref(),
        Some(grant.id.as_str())
    );
    assert_eq!(grant.expires_at, T0 + 600_000);

    // The message is updated; alice is told by DM.
    let upd = slack.wait_for("chat.update", |_| true).await;
    assert!(upd["text"].as_str().unwrap().contains("Approved"), "{upd}");
    assert!(upd
        .get("blocks")
        .unwrap()
        .to_string()
        .find("latch_approve")
        .is_none());
    slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "UALICE" && v["text"].as_str().unwrap().contains("Granted")
        })
        .await;

    // One millisecond before expiry: still there.
    clock.set(grant.expires_at - 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(cloud.tag(ALICE, "iam-admin").is_some());
    // At expiry: gone.
    clock.set(grant.expires_at);
    eventually(1000, "tag removed at expiry", || async {
        cloud.tag(ALICE, "iam-admin").is_none().then_some(())
    })
    .await;
    let g = eventually(1000, "grant expired", || async {
        store
            .grant(&grant.id)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Expired)
    })
    .await;
    assert_eq!(g.ended_at, Some(grant.expires_at));
    assert_eq!(cloud.applies_of(&grant.id), 1);
    assert_eq!(cloud.revokes_of(&grant.id), 1);
    slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "UALICE" && v["text"].as_str().unwrap().contains("expired")
        })
        .await;

    let kinds = audit_kinds(&store).await;
    for k in [
        "request.created",
        "approval.approve",
        "request.approved",
        "grant.created",
        "grant.applied",
        "grant.due",
        "grant.expired",
    ] {
        assert!(kinds.iter().any(|x| x == k), "audit lacks {k}: {kinds:?}");
    }
    assert!(store.audit_verify().await.unwrap().is_intact());

    // Metrics on their own listener.
    let text = reqwest::get(&server.metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("latch_grants_applied_total 1"), "{text}");
    assert!(text.contains("latch_scheduler_leader 1"));
    server.shutdown().await;
}

/// Forged signature, stale timestamp, replayed payload, self-approval, over-long duration,
/// unknown bundle: each refused with a clear message and recorded.
async fn refusals_are_clear_and_audited(backend: Backend) {
    let (slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let ts = T0 / 1000;
    let respond = |n: u32| format!("{slack_base}/respond/{n}");

    // Forged: signed with the wrong secret.
    let body = slash_body("UALICE", "request iam-admin 10m forged", &respond(1));
    let (status, text) = server
        .slack_post("/slack/commands", &body, ts, "not-the-secret")
        .await;
    assert_eq!((status, text.as_str()), (401, "invalid signature"));
    // Stale: six minutes old (correctly signed).
    let (status, text) = server
        .slack_post("/slack/commands", &body, ts - 360, SIGNING_SECRET)
        .await;
    assert_eq!(status, 401);
    assert!(text.contains("stale"), "{text}");
    // Replayed: the same signed request twice.
    let body = slash_body("UALICE", "request iam-admin 10m once", &respond(2));
    let (status, _) = server
        .slack_post("/slack/commands", &body, ts, SIGNING_SECRET)
        .await;
    assert_eq!(status, 200);
    let (status, text) = server
        .slack_post("/slack/commands", &body, ts, SIGNING_SECRET)
        .await;
    assert_eq!(status, 401);
    assert!(text.contains("replayed"), "{text}");
    // Replayed with the signature's hex digits re-cased: still the same signed request.
    let sig = latch_server::slack::sign(SIGNING_SECRET, &ts.to_string(), body.as_bytes());
    let upper = format!("v0={}", sig["v0=".len()..].to_uppercase());
    let mixed: String = sig
        .char_indices()
        .map(|(i, c)| {
            if i > 2 && i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    for recased in [upper, mixed] {
        assert_ne!(recased, sig);
        let (status, text) = server
            .slack_post_with("/slack/commands", &body, &ts.to_string(), &recased)
            .await;
        assert_eq!(status, 401, "{recased}");
        assert!(text.contains("replayed"), "{text}");
    }
    let msg = slack
        .wait_for("chat.postMessage", |v| v["channel"] == "CAPPROVALS")
        .await;
    let request_id = msg["blocks"][2]["elements"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    // Only one request came of it.
    assert_eq!(store.requests(&Default::default()).await.unwrap().len(), 1);

    // Self-approval: alice clicks Approve on her own request.
    let click = click_body("UALICE", "latch_approve", &request_id, &respond(3));
    let (status, _) = server
        .slack_post("/slack/interactions", &click, ts, SIGNING_SECRET)
        .await;
    assert_eq!(status, 200);
    let reply = slack.wait_for("respond/3", |_| true).await;
    let text = reply["text"].as_str().unwrap();
    assert!(text.contains("cannot answer it"), "{text}");
    assert_eq!(
        store.request(&request_id).await.unwrap().unwrap().status,
        RequestStatus::Pending
    );

    // A button value cannot change the actor: dave (no Slack id) is not reachable, and carol
    // clicking is carol.
    // Over-long duration.
    let body = slash_body("UALICE", "request iam-admin 2h too long", &respond(4));
    server
        .slack_post("/slack/commands", &body, ts, SIGNING_SECRET)
        .await;
    let reply = slack.wait_for("respond/4", |_| true).await;
    assert_eq!(
        reply["text"],
        "Refused: 2h is longer than bundle `iam-admin` allows (at most 1h)"
    );
    // Unknown bundle, through the API.
    let alice = token(&store, "alice", Role::Requester).await;
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "root-everything", "duration": "1h", "reason": "x"})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "unknown_bundle");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("unknown bundle `root-everything` (known: iam-admin, prod-db, read-logs)"));

    // Every refusal is in the audit log with its code.
    let entries = store.audit(0, 0).await.unwrap();
    let codes: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e.kind.ends_with(".refused") || e.kind == "slack.rejected")
        .map(|e| {
            (
                e.kind.clone(),
                e.details["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("slack.rejected", "bad_signature"),
        ("slack.rejected", "stale_timestamp"),
        ("slack.rejected", "replayed"),
        ("approval.refused", "self_approval"),
        ("request.refused", "duration_too_long"),
        ("request.refused", "unknown_bundle"),
    ] {
        assert!(
            codes
                .iter()
                .any(|(k, c)| k == expected.0 && c == expected.1),
            "missing {expected:?} in {codes:?}"
        );
    }
    let self_approval = entries
        .iter()
        .find(|e| e.kind == "approval.refused")
        .unwrap();
    assert_eq!(self_approval.actor.as_deref(), Some("alice"));
    assert!(store.audit_verify().await.unwrap().is_intact());
    assert!(cloud.calls().is_empty(), "nothing reached the cloud");
    server.shutdown().await;
}

/// The server dies after "approved" was persisted and before the cloud call returned; after a
/// restart the grant is applied exactly once and nothing is orphaned.
async fn crash_between_approved_and_applied_converges(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    cloud.set_hang_apply(true);
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let alice = token(&store, "alice", Role::Requester).await;
    let bob = token(&store, "bob", Role::Approver).await;
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "30m", "reason": "INC-7"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let rid = body["request"]["id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &bob,
            Some(json!({"comment": "go"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let gid = body["grant"]["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await; // the scheduler is stuck in apply
    assert_eq!(
        store.grant(&gid).await.unwrap().unwrap().status,
        GrantStatus::Approved
    );
    server.kill().await;
    drop(store);

    cloud.set_hang_apply(false);
    let store = backend.open().await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    eventually(5000, "grant applied after restart", || async {
        store
            .grant(&gid)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Active)
    })
    .await;
    assert_eq!(cloud.tag(ALICE, "iam-admin").as_deref(), Some(gid.as_str()));
    assert_eq!(cloud.applies_of(&gid), 1);
    clock.advance(30 * 60 * 1000);
    eventually(3000, "expired", || async {
        store
            .grant(&gid)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Expired)
    })
    .await;
    assert!(cloud.tag(ALICE, "iam-admin").is_none());
    assert!(store.audit_verify().await.unwrap().is_intact());
    server.shutdown().await;
}

/// The server dies after "expiring" was persisted and before the tag removal returned; after
/// a restart the tag is removed and the grant is expired.
async fn crash_between_due_and_revoked_converges(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let alice = token(&store, "alice", Role::Requester).await;
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
    eventually(1000, "applied", || async { cloud.tag(ALICE, "read-logs") }).await;
    cloud.set_hang_revoke(true);
    clock.advance(5 * 60 * 1000);
    eventually(1000, "expiring persisted", || async {
        store
            .grant(&gid)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Expiring)
    })
    .await;
    server.kill().await;
    drop(store);
    assert!(
        cloud.tag(ALICE, "read-logs").is_some(),
        "the crash left the tag behind"
    );

    cloud.set_hang_revoke(false);
    let store = backend.open().await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    eventually(5000, "expired after restart", || async {
        store
            .grant(&gid)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Expired)
    })
    .await;
    assert!(cloud.tag(ALICE, "read-logs").is_none());
    assert_eq!(cloud.applies_of(&gid), 1);
    assert_eq!(cloud.revokes_of(&gid), 1);
    server.shutdown().await;
}

/// Token roles, revocation with a session cut-off, overlapping grants, the reconciler, the
/// OpenAPI document and health.
async fn api_roles_revoke_and_reconcile(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let alice = token(&store, "alice", Role::Requester).await;
    let carol = token(&store, "carol", Role::Approver).await;
    let admin = token(&store, "root", Role::Admin).await;

    let (status, body) = server
        .api("GET", "/api/v1/grants", "latch_bogus", None)
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, h) = server.api("GET", "/healthz", "", None).await;
    assert_eq!((status, h["status"].as_str()), (200, Some("ok")));

    // Requesters cannot approve, even others' requests; the refusal is audited.
    let (_, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "20m", "reason": "r1"})),
        )
        .await;
    let rid = body["request"]["id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &alice,
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("needs the `approver` role"));

    // Two overlapping grants of one bundle: the shorter one ending leaves the tag.
    let (_, b1) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &carol,
            None,
        )
        .await;
    let g1 = b1["grant"]["id"].as_str().unwrap().to_owned();
    let (_, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "50m", "reason": "r2"})),
        )
        .await;
    let rid2 = body["request"]["id"].as_str().unwrap().to_owned();
    let (_, b2) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid2}/approve"),
            &carol,
            None,
        )
        .await;
    let g2 = b2["grant"]["id"].as_str().unwrap().to_owned();
    eventually(1000, "both active", || async {
        let gs = live_grants(&store).await;
        (gs.iter()
            .filter(|g| g.status == GrantStatus::Active)
            .count()
            == 2)
            .then_some(())
    })
    .await;
    assert_eq!(cloud.tag(ALICE, "iam-admin").as_deref(), Some(g2.as_str()));
    clock.advance(20 * 60 * 1000);
    eventually(1000, "g1 expired", || async {
        store
            .grant(&g1)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Expired)
    })
    .await;
    assert_eq!(
        cloud.tag(ALICE, "iam-admin").as_deref(),
        Some(g2.as_str()),
        "not revoked early"
    );
    assert_eq!(cloud.revokes_of(&g1), 0);

    // alice lists her grants, then revokes g2 with a session cut-off.
    let (status, body) = server.api("GET", "/api/v1/grants", &alice, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["grants"].as_array().unwrap().len(), 1);
    let now = T0 + 20 * 60 * 1000;
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/grants/{g2}/revoke"),
            &alice,
            Some(json!({"reason": "done", "cut_sessions": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually(1000, "revoked", || async {
        store
            .grant(&g2)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Revoked)
    })
    .await;
    assert!(cloud.tag(ALICE, "iam-admin").is_none());
    assert_eq!(cloud.session_cutoff(ALICE), Some(now));
    let (status, body) = server
        .api("POST", &format!("/api/v1/grants/{g2}/revoke"), &alice, None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_live"))
    );

    // A tag planted behind Latch's back is removed by the reconciler, and audited.
    cloud.plant_tag(
        latch_grant::Identity {
            kind: latch_grant::IdentityKind::Role,
            id: "arn:aws:iam::111122223333:role/bob".into(),
        },
        "prod-db",
        "g-forged",
        T0 + 99_999_999,
    );
    let (status, _) = server.api("POST", "/api/v1/reconcile", &carol, None).await;
    assert_eq!(status, 403);
    let (status, _) = server.api("POST", "/api/v1/reconcile", &admin, None).await;
    assert_eq!(status, 202);
    eventually(1000, "forged tag removed", || async {
        cloud
            .tag("arn:aws:iam::111122223333:role/bob", "prod-db")
            .is_none()
            .then_some(())
    })
    .await;
    eventually(1000, "drift audited", || async {
        audit_kinds(&store)
            .await
            .iter()
            .any(|k| k == "drift.tag_removed")
            .then_some(())
    })
    .await;

    // Audit over the API: admin only; verify and export.
    let (status, _) = server
        .api("GET", "/api/v1/audit/verify", &alice, None)
        .await;
    assert_eq!(status, 403);
    let (status, body) = server
        .api("GET", "/api/v1/audit/verify", &admin, None)
        .await;
    assert_eq!((status, &body["intact"]), (200, &Value::Bool(true)));
    let (status, body) = server
        .api("GET", "/api/v1/audit/export", &admin, None)
        .await;
    assert_eq!(status, 200);
    let lines = latch_grant::audit::parse_json_lines(body.as_str().unwrap()).unwrap();
    assert!(latch_grant::audit::verify(&lines).is_intact());

    // Tokens are created by admins; the secret is returned once and stored hashed.
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/tokens",
            &admin,
            Some(json!({"subject": "dave", "role": "approver"})),
        )
        .await;
    assert_eq!(status, 201);
    let secret = body["token"].as_str().unwrap();
    let stored = store.tokens().await.unwrap();
    assert!(stored.iter().all(|t| t.secret_hash != secret));

    // The OpenAPI document describes every route.
    let (status, doc) = server.api("GET", "/api/v1/openapi.json", "", None).await;
    assert_eq!(status, 200);
    for path in [
        "/api/v1/requests",
        "/api/v1/requests/{id}",
        "/api/v1/requests/{id}/approve",
        "/api/v1/requests/{id}/deny",
        "/api/v1/grants",
        "/api/v1/grants/{id}",
        "/api/v1/grants/{id}/revoke",
        "/api/v1/audit",
        "/api/v1/audit/verify",
        "/api/v1/audit/export",
        "/api/v1/reconcile",
        "/api/v1/tokens",
        "/healthz",
    ] {
        assert!(doc["paths"].get(path).is_some(), "openapi lacks {path}");
    }
    server.shutdown().await;
}

/// Two servers on one PostgreSQL: exactly one leads; every grant is applied once and removed
/// once, whichever server took the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_one_postgres_no_double_actions() {
    let backend = Backend::postgres("two");
    let (_slack, slack_base) = FakeSlack::start().await;
    let store_a = backend.open().await;
    let store_b = backend.open().await;
    let cloud = Arc::new(FakeCloud::new());
    let clock = ManualClock::new(T0);
    let a = start_server(&slack_base, "a", &store_a, &cloud, &clock).await;
    let b = start_server(&slack_base, "b", &store_b, &cloud, &clock).await;
    let alice = token(&store_a, "alice", Role::Requester).await;
    let mut gids = Vec::new();
    for i in 0..12 {
        let server = if i % 2 == 0 { &a } else { &b };
        let (status, body) = server
            .api("POST", "/api/v1/requests", &alice, Some(json!({"bundle": "read-logs", "duration": format!("{}m", 10 + i), "reason": format!("job {i}")})))
            .await;
        assert_eq!(status, 201, "{body}");
        gids.push(body["grant"]["id"].as_str().unwrap().to_owned());
    }
    eventually(5000, "all active", || async {
        let gs = live_grants(&store_a).await;
        (gs.iter()
            .filter(|g| g.status == GrantStatus::Active)
            .count()
            == 12)
            .then_some(())
    })
    .await;
    clock.advance(30 * 60 * 1000);
    eventually(5000, "all expired", || async {
        let gs = live_grants(&store_b).await;
        (gs.iter()
            .filter(|g| g.status == GrantStatus::Expired)
            .count()
            == 12)
            .then_some(())
    })
    .await;
    // Overlapping grants of one bundle: the longest named the tag last; applies happen once
    // per grant that took the tag, removal once in all.
    for g in &gids {
        assert!(
            cloud.applies_of(g) <= 1,
            "grant {g} applied {} times",
            cloud.applies_of(g)
        );
    }
    // The longest grant, asked last, took the tag exactly once.
    assert_eq!(cloud.applies_of(&gids[11]), 1);
    let removals = cloud
        .calls()
        .iter()
        .filter(|c| matches!(c, latch_grant::cloud::FakeCall::Revoke { .. }))
        .count();
    assert_eq!(removals, 1, "{:#?}", cloud.calls());
    assert!(cloud.tag(ALICE, "read-logs").is_none());
    let leaders = store_a
        .audit(0, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "scheduler.leader")
        .count();
    assert_eq!(leaders, 1, "exactly one server led");
    let metrics_a = reqwest::get(&a.metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let metrics_b = reqwest::get(&b.metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let leading = [metrics_a, metrics_b]
        .iter()
        .filter(|m| m.contains("latch_scheduler_leader 1"))
        .count();
    assert_eq!(leading, 1);
    assert!(store_a.audit_verify().await.unwrap().is_intact());
    a.shutdown().await;
    b.shutdown().await;
    backend.cleanup().await;
}

/// Break-glass grants at once and tells the security channel; a two-approver request whose
/// first tier cannot answer (the requester is excluded) escalates, then completes with a Slack
/// click and an API approval; an unanswered request expires and the requester is told.
async fn break_glass_escalation_second_approver_expiry(backend: Backend) {
    let (slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let alice = token(&store, "alice", Role::Requester).await;
    let bob = token(&store, "bob", Role::Requester).await;
    let dave = token(&store, "dave", Role::Approver).await;

    // Break-glass: only people on the list.
    let (status, body) = server
        .api("POST", "/api/v1/requests", &bob, Some(json!({"bundle": "prod-db", "duration": "1h", "reason": "outage", "break_glass": true})))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("break_glass_not_allowed"))
    );
    let (status, body) = server
        .api("POST", "/api/v1/requests", &alice, Some(json!({"bundle": "prod-db", "duration": "1h", "reason": "outage", "break_glass": true})))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["request"]["status"], "approved");
    let bg = body["grant"]["id"].as_str().unwrap().to_owned();
    eventually(1000, "break-glass applied", || async {
        cloud.tag(ALICE, "prod-db")
    })
    .await;
    let alert = slack
        .wait_for("chat.postMessage", |v| v["channel"] == "CSECURITY")
        .await;
    assert!(
        alert["text"].as_str().unwrap().contains("BREAK-GLASS"),
        "{alert}"
    );
    let loud = store
        .audit(0, 0)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "request.break_glass")
        .unwrap();
    assert_eq!(loud.details["severity"], "critical");
    assert_eq!(loud.details["grant_id"], bg.as_str());

    // bob asks for prod-db (two approvals). Tier 0 is bob and carol: without bob, only carol.
    let (_, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &bob,
            Some(json!({"bundle": "prod-db", "duration": "30m", "reason": "migration"})),
        )
        .await;
    let rid = body["request"]["id"].as_str().unwrap().to_owned();
    let first = slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "CAPPROVALS" && v["blocks"].to_string().contains(&rid)
        })
        .await;
    assert!(first["blocks"].to_string().contains("<@UCAROL>"));
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &dave,
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("not_an_approver"))
    );
    let click = click_body(
        "UCAROL",
        "latch_approve",
        &rid,
        &format!("{slack_base}/respond/9"),
    );
    assert_eq!(
        server
            .slack_post("/slack/interactions", &click, T0 / 1000, SIGNING_SECRET)
            .await
            .0,
        200
    );
    eventually(1000, "carol's approval", || async {
        (store.approvals(&rid).await.unwrap().len() == 1).then_some(())
    })
    .await;
    assert_eq!(
        store.request(&rid).await.unwrap().unwrap().status,
        RequestStatus::Pending
    );

    // 15 minutes pass: escalation to tier 1 (dave joins); a new message is posted.
    clock.advance(15 * 60 * 1000);
    let r = eventually(1000, "escalated", || async {
        store.request(&rid).await.unwrap().filter(|r| r.tier == 1)
    })
    .await;
    assert_eq!(r.status, RequestStatus::Pending);
    eventually(1000, "second message", || async {
        (slack
            .of("chat.postMessage")
            .iter()
            .filter(|v| v["channel"] == "CAPPROVALS" && v["blocks"].to_string().contains(&rid))
            .count()
            == 2)
            .then_some(())
    })
    .await;
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &dave,
            Some(json!({"comment": "second"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["status"], "approved");
    eventually(1000, "bob's grant", || async {
        cloud.tag("arn:aws:iam::111122223333:role/bob", "prod-db")
    })
    .await;
    // Both approval messages (tier 0's and tier 1's, in the same channel) show the outcome:
    // none keeps live buttons.
    let posted = store.messages(&rid).await.unwrap();
    assert_eq!(posted.len(), 2, "{posted:?}");
    for m in &posted {
        slack
            .wait_for("chat.update", |v| {
                v["ts"] == m.message_id.as_str() && v["text"].as_str().unwrap().contains("Approved")
            })
            .await;
    }

    // alice asks for iam-admin; nobody answers within the hour: expired, alice is told.
    let (_, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "10m", "reason": "later"})),
        )
        .await;
    let rid2 = body["request"]["id"].as_str().unwrap().to_owned();
    clock.advance(60 * 60 * 1000);
    eventually(1000, "expired", || async {
        store
            .request(&rid2)
            .await
            .unwrap()
            .filter(|r| r.status == RequestStatus::Expired)
    })
    .await;
    slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "UALICE" && v["text"].as_str().unwrap().contains("expired: no approver")
        })
        .await;
    assert!(audit_kinds(&store)
        .await
        .iter()
        .any(|k| k == "request.escalated"));
    assert!(store.audit_verify().await.unwrap().is_intact());
    server.shutdown().await;
}

/// Ten minutes (`remind_before`'s default) before an hour's grant ends, its holder is told in
/// Slack, once: a server started afterwards on the same store does not tell them again.
async fn holder_is_reminded_once_before_the_end(backend: Backend) {
    let (slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let body = slash_body(
        "UALICE",
        "request read-logs 1h tracing an outage",
        &format!("{slack_base}/respond/1"),
    );
    let (status, _) = server
        .slack_post("/slack/commands", &body, T0 / 1000, SIGNING_SECRET)
        .await;
    assert_eq!(status, 200);
    let grant = eventually(2000, "grant active", || async {
        live_grants(&store)
            .await
            .into_iter()
            .find(|g| g.status == GrantStatus::Active)
    })
    .await;
    assert_eq!(grant.expires_at, T0 + 3_600_000);
    let reminders = || {
        slack
            .calls()
            .into_iter()
            .filter(|(m, v)| {
                m == "chat.postMessage"
                    && v["channel"] == "UALICE"
                    && v["text"].as_str().is_some_and(|t| t.contains("ends in"))
            })
            .count()
    };

    // Not before it is due.
    clock.set(grant.expires_at - 600_001);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(reminders(), 0);
    // Due: alice is told, and it is recorded on the grant and in the audit log.
    clock.set(grant.expires_at - 600_000);
    let told = slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "UALICE" && v["text"].as_str().is_some_and(|t| t.contains("ends in"))
        })
        .await;
    let text = told["text"].as_str().unwrap();
    assert!(
        text.contains("ends in 10m") && text.contains(&grant.id),
        "{text}"
    );
    assert!(text.contains(&format!("done {}", grant.id)), "{text}");
    let reminded = eventually(1000, "reminder recorded", || async {
        store
            .grant(&grant.id)
            .await
            .unwrap()
            .and_then(|g| g.reminded_at)
    })
    .await;
    assert_eq!(reminded, grant.expires_at - 600_000);
    assert!(audit_kinds(&store)
        .await
        .iter()
        .any(|k| k == "grant.reminded"));

    // Another server, later: no second reminder; the grant still ends on time.
    server.shutdown().await;
    let server = start_server(&slack_base, "b", &store, &cloud, &clock).await;
    clock.set(grant.expires_at - 300_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reminders(), 1);
    clock.set(grant.expires_at);
    eventually(2000, "tag removed at expiry", || async {
        cloud.tag(ALICE, "read-logs").is_none().then_some(())
    })
    .await;
    assert_eq!(reminders(), 1);
    assert!(store.audit_verify().await.unwrap().is_intact());
    server.shutdown().await;
}

/// The holder gives a grant back ("I'm done"): through the API, then in Slack; nobody else
/// may, and the refusal is audited; the tag goes as for a revocation.
async fn holder_relinquishes_their_grant(backend: Backend) {
    let (slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let alice = token(&store, "alice", Role::Requester).await;
    let bob = token(&store, "bob", Role::Approver).await;
    let ask = || async {
        let (status, body) = server
            .api(
                "POST",
                "/api/v1/requests",
                &alice,
                Some(json!({"bundle": "read-logs", "duration": "1h", "reason": "debug"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let gid = body["grant"]["id"].as_str().unwrap().to_owned();
        eventually(1000, "tag on alice's role", || async {
            cloud.tag(ALICE, "read-logs").filter(|g| *g == gid)
        })
        .await;
        gid
    };

    let gid = ask().await;
    // bob approves read-logs' requests but holds no grant of his own here: refused, audited.
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/grants/{gid}/relinquish"),
            &bob,
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    assert!(audit_kinds(&store)
        .await
        .iter()
        .any(|k| k == "relinquish.refused"));
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/grants/{gid}/relinquish"),
            &alice,
            Some(json!({"reason": "fixed"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually(1000, "tag removed", || async {
        cloud.tag(ALICE, "read-logs").is_none().then_some(())
    })
    .await;
    let g = eventually(1000, "revoked", || async {
        store
            .grant(&gid)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Revoked)
    })
    .await;
    assert_eq!(
        (g.revoked_by.as_deref(), g.revoke_reason.as_deref()),
        (Some("alice"), Some("fixed"))
    );
    let entries = store.audit(0, 0).await.unwrap();
    let given = entries
        .iter()
        .find(|e| e.kind == "grant.relinquished")
        .unwrap();
    assert_eq!(given.actor.as_deref(), Some("alice"));
    assert_eq!(given.details["reason"], "fixed");
    // Twice: no longer live.
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/grants/{gid}/relinquish"),
            &alice,
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_live"))
    );

    // In Slack: `/latch done <id>`.
    let gid = ask().await;
    let body = slash_body(
        "UALICE",
        &format!("done {gid} all good"),
        &format!("{slack_base}/respond/1"),
    );
    server
        .slack_post("/slack/commands", &body, T0 / 1000, SIGNING_SECRET)
        .await;
    let reply = slack.wait_for("respond/1", |_| true).await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Giving back grant `{gid}`")),
        "{reply}"
    );
    eventually(1000, "tag removed after done", || async {
        cloud.tag(ALICE, "read-logs").is_none().then_some(())
    })
    .await;
    server.shutdown().await;
}

/// The holder extends a live grant: within `self_extend` at once, beyond it with an approval,
/// never past `max_total`; the same grant lasts longer (no gap, no second grant), the tag's end
/// moves, and it expires at the new end.
async fn holder_extends_their_grant(backend: Backend) {
    let (slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let mut config = test_config(&slack_base, "a");
    let b = config.rules.bundles.get_mut("iam-admin").unwrap();
    b.max_total_secs = 2 * 3600;
    b.self_extend_secs = 15 * 60;
    let server = TestServer::start(config, store.clone(), cloud.clone(), clock.clone()).await;
    let alice = token(&store, "alice", Role::Requester).await;
    let bob = token(&store, "bob", Role::Approver).await;
    let (_, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "30m", "reason": "INC-1"})),
        )
        .await;
    let rid = body["request"]["id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &bob,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let gid = body["grant"]["id"].as_str().unwrap().to_owned();
    eventually(1000, "applied", || async {
        cloud.tag(ALICE, "iam-admin").filter(|g| *g == gid)
    })
    .await;
    let extend = |who: &str, by: &str| {
        let (who, by, gid) = (who.to_owned(), by.to_owned(), gid.clone());
        let server = &server;
        async move {
            server
                .api(
                    "POST",
                    &format!("/api/v1/grants/{gid}/extend"),
                    &who,
                    Some(json!({"duration": by, "reason": "runs long"})),
                )
                .await
        }
    };

    // 10 more minutes: within self_extend (30m asked + 15m), at once.
    let (status, body) = extend(&alice, "10m").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["request"]["status"], "approved");
    assert_eq!(body["request"]["extends"], gid.as_str());
    assert_eq!(body["grant"]["id"], gid.as_str());
    assert_eq!(body["grant"]["expires_at_ms"], T0 + 40 * 60_000);
    eventually(2000, "the tag's end moved", || async {
        (cloud.tag_expiry(ALICE, "iam-admin") == Some(T0 + 40 * 60_000)).then_some(())
    })
    .await;

    // 20 more: beyond self_extend, so bob is asked; his approval lengthens the same grant.
    let (status, body) = extend(&alice, "20m").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["request"]["status"], "pending");
    assert!(body["grant"].is_null());
    let ext = body["request"]["id"].as_str().unwrap().to_owned();
    let msg = slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "CAPPROVALS" && v["blocks"].to_string().contains(&ext)
        })
        .await;
    assert!(
        msg["text"]
            .as_str()
            .unwrap()
            .contains(&format!("20m more of grant `{gid}`")),
        "{msg}"
    );
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{ext}/approve"),
            &bob,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["grant"]["id"], gid.as_str());
    assert_eq!(body["grant"]["expires_at_ms"], T0 + 60 * 60_000);
    assert_eq!(
        store.grants(&GrantQuery::default()).await.unwrap().len(),
        1,
        "no second grant"
    );

    // Past max_total (2h), and someone else's grant: refused, audited.
    let (status, body) = extend(&alice, "90m").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("duration_too_long")),
        "{body}"
    );
    let (status, body) = extend(&bob, "5m").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(
        audit_kinds(&store)
            .await
            .iter()
            .filter(|k| *k == "extension.refused")
            .count(),
        2
    );

    // No gap at the first end; gone at the new one.
    clock.advance(45 * 60_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cloud.tag(ALICE, "iam-admin").as_deref(), Some(gid.as_str()));
    assert_eq!(cloud.tag_expiry(ALICE, "iam-admin"), Some(T0 + 60 * 60_000));
    clock.advance(15 * 60_000);
    eventually(2000, "expired at the new end", || async {
        store
            .grant(&gid)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Expired)
    })
    .await;
    assert!(cloud.tag(ALICE, "iam-admin").is_none());
    let kinds = audit_kinds(&store).await;
    assert_eq!(kinds.iter().filter(|k| *k == "grant.extended").count(), 2);
    server.shutdown().await;
}

/// One approval arriving from two channels at once (Slack buttons and the API, by two
/// approvers, several times each) yields exactly one grant and one expiry.
async fn a_double_approval_makes_one_grant(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let alice = token(&store, "alice", Role::Requester).await;
    let bob = token(&store, "bob", Role::Approver).await;
    let carol = token(&store, "carol", Role::Approver).await;
    let (_, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "10m", "reason": "INC-2"})),
        )
        .await;
    let rid = body["request"]["id"].as_str().unwrap().to_owned();
    let mut calls = Vec::new();
    for n in 0..4 {
        let (server, rid, slack_base) = (&server, rid.clone(), slack_base.clone());
        let (bob, carol) = (bob.clone(), carol.clone());
        calls.push(Box::pin(async move {
            match n % 4 {
                0 => {
                    server
                        .api(
                            "POST",
                            &format!("/api/v1/requests/{rid}/approve"),
                            &bob,
                            None,
                        )
                        .await;
                }
                1 => {
                    server
                        .api(
                            "POST",
                            &format!("/api/v1/requests/{rid}/approve"),
                            &carol,
                            None,
                        )
                        .await;
                }
                _ => {
                    let who = if n % 2 == 0 { "UBOB" } else { "UCAROL" };
                    let click = click_body(
                        who,
                        "latch_approve",
                        &rid,
                        &format!("{slack_base}/respond/{n}"),
                    );
                    server
                        .slack_post("/slack/interactions", &click, T0 / 1000, SIGNING_SECRET)
                        .await;
                }
            }
        })
            as std::pin::Pin<
                Box<dyn std::future::Future<Output = ()> + Send + '_>,
            >);
    }
    futures::future::join_all(calls).await;
    let grant = eventually(2000, "applied", || async {
        live_grants(&store)
            .await
            .into_iter()
            .find(|g| g.status == GrantStatus::Active)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let grants = live_grants(&store).await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(cloud.applies_of(&grant.id), 1);
    let r = store.request(&rid).await.unwrap().unwrap();
    assert_eq!(r.status, RequestStatus::Approved);
    let kinds = audit_kinds(&store).await;
    assert_eq!(kinds.iter().filter(|k| *k == "request.approved").count(), 1);
    assert_eq!(kinds.iter().filter(|k| *k == "grant.created").count(), 1);
    // One expiry.
    clock.advance(10 * 60_000);
    eventually(2000, "expired once", || async {
        store
            .grant(&grant.id)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Expired)
    })
    .await;
    let kinds = audit_kinds(&store).await;
    assert_eq!(kinds.iter().filter(|k| *k == "grant.expired").count(), 1);
    server.shutdown().await;
}

/// A grant is active only once AWS holds it, read back: while the cloud fails — or answers yes
/// without keeping the tag — it stays approved (`cloud_state: pending`), is retried, and after
/// `stuck_after` its holder and the security channel are told once, with the last error.
async fn a_grant_never_shows_active_before_it_is_applied(backend: Backend) {
    let (slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let alice = token(&store, "alice", Role::Requester).await;
    cloud.set_lose_applies(true);
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "read-logs", "duration": "1h", "reason": "debug"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let gid = body["grant"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["grant"]["cloud_state"], "pending");
    eventually(2000, "the lost apply audited", || async {
        store
            .audit(0, 0)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.kind == "grant.apply_failed")
    })
    .await;
    let g = store.grant(&gid).await.unwrap().unwrap();
    assert_eq!(g.status, GrantStatus::Approved);

    // Two minutes on, still not applied: said once to alice and the security channel.
    clock.advance(2 * 60_000 + 1);
    let dm = slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "UALICE"
                && v["text"]
                    .as_str()
                    .unwrap()
                    .contains("not applied in AWS yet")
        })
        .await;
    assert!(
        dm["text"].as_str().unwrap().contains("reading"),
        "the last error is said: {dm}"
    );
    slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "CSECURITY" && v["text"].as_str().unwrap().contains(&gid)
        })
        .await;
    clock.advance(60_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let kinds = audit_kinds(&store).await;
    assert_eq!(kinds.iter().filter(|k| *k == "grant.stuck").count(), 1);
    let metrics = reqwest::get(&server.metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("latch_grants_stuck_total 1"), "{metrics}");

    // AWS behaves again: applied, read back, active.
    cloud.set_lose_applies(false);
    clock.advance(60_000);
    eventually(3000, "applied at last", || async {
        store
            .grant(&gid)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Active)
    })
    .await;
    let (_, body) = server
        .api("GET", &format!("/api/v1/grants/{gid}"), &alice, None)
        .await;
    assert_eq!(body["grant"]["cloud_state"], "applied", "{body}");
    server.shutdown().await;
}

/// Access asked ahead for a change window: approved ahead, applied by the scheduler at the
/// start (after a restart too), ended at start + duration; cancelled before the start, nothing
/// is ever applied; a start in the past is refused.
async fn scheduled_access_starts_on_time(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let alice = token(&store, "alice", Role::Requester).await;
    let bob = token(&store, "bob", Role::Approver).await;
    let at = |ms: i64| latch_time::rfc3339(ms);
    let ask = |bundle: &str, start: i64| {
        let (server, alice, bundle) = (&server, alice.clone(), bundle.to_owned());
        async move {
            server
                .api(
                    "POST",
                    "/api/v1/requests",
                    &alice,
                    Some(json!({"bundle": bundle, "duration": "30m", "reason": "CHG-88", "start": at(start)})),
                )
                .await
        }
    };

    let (status, body) = ask("read-logs", T0 - 1000).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_start")),
        "{body}"
    );

    // Auto-approved ahead: nothing in AWS until the start.
    let (status, body) = ask("read-logs", T0 + 3_600_000).await;
    assert_eq!(status, 201, "{body}");
    let gid = body["grant"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["grant"]["cloud_state"], "pending");
    assert_eq!(body["grant"]["starts_at"], at(T0 + 3_600_000).as_str());
    assert_eq!(body["grant"]["expires_at_ms"], T0 + 5_400_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(cloud.tag(ALICE, "read-logs").is_none());

    // A restart on the same store keeps it scheduled.
    server.shutdown().await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    clock.advance(3_600_000 - 1000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        cloud.tag(ALICE, "read-logs").is_none(),
        "not before the start"
    );
    clock.advance(1000);
    eventually(2000, "applied at the start", || async {
        cloud.tag(ALICE, "read-logs").filter(|g| *g == gid)
    })
    .await;
    clock.advance(30 * 60_000);
    eventually(2000, "ended at start + duration", || async {
        store
            .grant(&gid)
            .await
            .unwrap()
            .filter(|g| g.status == GrantStatus::Expired)
    })
    .await;

    // Approved ahead by bob, cancelled by alice before it starts: nothing ever applied.
    let now = T0 + 5_400_000;
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "30m", "reason": "CHG-89", "start": at(now + 3_600_000)})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let rid = body["request"]["id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &bob,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let later = body["grant"]["id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/grants/{later}/relinquish"),
            &alice,
            Some(json!({"reason": "change cancelled"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    clock.advance(2 * 3_600_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cloud.applies_of(&later), 0);
    assert!(cloud.tag(ALICE, "iam-admin").is_none());
    assert_eq!(
        store.grant(&later).await.unwrap().unwrap().status,
        GrantStatus::Revoked
    );
    server.shutdown().await;
}
