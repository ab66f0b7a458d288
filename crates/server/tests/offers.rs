//! Denial-triggered offers end to end, on SQLite and PostgreSQL: CloudTrail records posted to
//! `/api/v1/events` → a Slack DM with a one-click request to the mapped person → deduplicated
//! → pressing the (signed) button files the request, sent to the approvers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use latch_grant::{RequestQuery, RequestStatus, Role};
use latch_server::offers::OFFER_ACTION;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    offers_story(Backend::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let b = Backend::postgres("offers");
    offers_story(b.clone()).await;
    b.cleanup().await;
}

fn denied(session_arn: &str, role_arn: &str, source: &str, event: &str, code: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "eventTime": "2027-01-15T08:00:00Z",
        "eventSource": source,
        "eventName": event,
        "awsRegion": "us-east-1",
        "errorCode": code,
        "errorMessage": "explicit deny in a service control policy",
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": "AssumedRole", "arn": session_arn, "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": "111122223333"}}}
    })
}

/// As an EventBridge API destination forwards a CloudTrail event.
fn eventbridge(detail: Value) -> Value {
    json!({"version": "0", "id": "e1", "detail-type": "AWS API Call via CloudTrail",
           "source": "aws.iam", "account": "111122223333", "detail": detail})
}

async fn offers_story(backend: Backend) {
    let (slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let text = format!(
        "{}\n[offers]\nfirewall_config = \"firewall.toml\"\nduration = \"2h\"\nevery = \"10m\"\n",
        config_text(&slack_base)
    );
    let mut config = latch_server::Config::parse(&text, "test.toml", &|_| None).unwrap();
    config.poll_interval_ms = 50;
    let set =
        |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| s.to_ascii_lowercase()).collect() };
    config.offers.as_mut().unwrap().bundle_actions = BTreeMap::from([
        (
            "iam-admin".to_owned(),
            set(&["iam:CreateAccessKey", "iam:PassRole"]),
        ),
        ("read-logs".to_owned(), set(&["logs:GetLogEvents"])),
    ]);
    let server = TestServer::start(config, store.clone(), cloud.clone(), clock.clone()).await;
    let root = token(&store, "root", Role::Admin).await;
    let alice_token = token(&store, "alice", Role::Requester).await;

    let alice_session = "arn:aws:sts::111122223333:assumed-role/alice/laptop";
    let feed = json!([
        eventbridge(denied(
            alice_session,
            ALICE,
            "iam.amazonaws.com",
            "CreateAccessKey",
            "AccessDenied"
        )),
        // A denial no bundle covers, and one of nobody Latch knows.
        eventbridge(denied(
            alice_session,
            ALICE,
            "s3.amazonaws.com",
            "DeleteBucket",
            "AccessDenied"
        )),
        eventbridge(denied(
            "arn:aws:sts::111122223333:assumed-role/mallory/x",
            "arn:aws:iam::111122223333:role/mallory",
            "iam.amazonaws.com",
            "PassRole",
            "AccessDenied"
        )),
    ]);

    // Only an admin token may feed events.
    let (status, body) = server
        .api("POST", "/api/v1/events", &alice_token, Some(feed.clone()))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = server
        .api("POST", "/api/v1/events", &root, Some(json!({"nope": 1})))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected CloudTrail records"),
        "{body}"
    );

    let (status, body) = server
        .api("POST", "/api/v1/events", &root, Some(feed.clone()))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["records"], 3);
    assert_eq!(body["offers"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["offers"][0]["person"], "alice");
    assert_eq!(body["offers"][0]["bundle"], "iam-admin");
    assert_eq!(body["offers"][0]["action"], "iam:CreateAccessKey");
    let why: Vec<&str> = body["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["why"].as_str().unwrap())
        .collect();
    assert_eq!(why.len(), 2, "{body}");
    assert!(
        why.contains(&"no bundle this server grants holds the action"),
        "{body}"
    );
    assert!(
        why.contains(&"no person in [identities] or the directory maps to this principal"),
        "{body}"
    );

    // alice gets one DM with the button.
    let dm = slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "UALICE" && v["blocks"].to_string().contains(OFFER_ACTION)
        })
        .await;
    assert!(
        dm["text"].as_str().unwrap().contains("request it for 1h?"),
        "{dm}"
    );
    assert!(
        dm["text"].as_str().unwrap().contains("iam:CreateAccessKey"),
        "{dm}"
    );
    let button = &dm["blocks"][1]["elements"][0];
    assert_eq!(button["action_id"], OFFER_ACTION);
    let value = button["value"].as_str().unwrap().to_owned();

    // The same denial again within `every`: deduplicated, no second DM.
    let (status, body) = server
        .api("POST", "/api/v1/events", &root, Some(feed))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["offers"].as_array().unwrap().len(), 0, "{body}");
    assert_eq!(body["deduplicated"][0]["bundle"], "iam-admin", "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let offers_to_alice = slack
        .of("chat.postMessage")
        .into_iter()
        .filter(|v| v["channel"] == "UALICE" && v["blocks"].to_string().contains(OFFER_ACTION))
        .count();
    assert_eq!(offers_to_alice, 1);

    // One click: the request is filed for the signed payload's user and sent to approvers.
    let click = click_body(
        "UALICE",
        OFFER_ACTION,
        &value,
        &format!("{slack_base}/respond/9"),
    );
    let (status, _) = server
        .slack_post("/slack/interactions", &click, T0 / 1000, SIGNING_SECRET)
        .await;
    assert_eq!(status, 200);
    let reply = slack.wait_for("respond/9", |_| true).await;
    let said = reply["text"].as_str().unwrap();
    assert!(said.contains("sent to approvers: bob, carol"), "{said}");
    let requests = store.requests(&RequestQuery::default()).await.unwrap();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.requester.as_str(), r.bundle.as_str()),
        ("alice", "iam-admin")
    );
    assert_eq!(r.status, RequestStatus::Pending);
    // `[offers] duration` is 2h but iam-admin grants at most 1h: the button asks for 1h, and
    // the request it files is accepted.
    assert_eq!(r.duration_secs, 3600);
    assert!(r.reason.contains("iam:CreateAccessKey"), "{}", r.reason);
    slack
        .wait_for("chat.postMessage", |v| v["channel"] == "CAPPROVALS")
        .await;

    // Someone Latch does not know pressing a forwarded button gets nothing.
    let click = click_body(
        "UNOBODY",
        OFFER_ACTION,
        &value,
        &format!("{slack_base}/respond/10"),
    );
    server
        .slack_post("/slack/interactions", &click, T0 / 1000, SIGNING_SECRET)
        .await;
    let reply = slack.wait_for("respond/10", |_| true).await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("not one of Latch's people"),
        "{reply}"
    );
    assert_eq!(
        store
            .requests(&RequestQuery::default())
            .await
            .unwrap()
            .len(),
        1
    );

    let kinds = audit_kinds(&store).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "offer.sent").count(),
        1,
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "request.created"));
    assert!(store.audit_verify().await.unwrap().is_intact());
    let metrics = reqwest::get(&server.metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("latch_offers_total{outcome=\"sent\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("latch_offers_total{outcome=\"deduplicated\"} 1"),
        "{metrics}"
    );
    server.shutdown().await;
}
