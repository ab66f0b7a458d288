//! The `ingest` token a log pipeline holds (an EventBridge API destination): it posts usage
//! events to `/api/v1/events` and is refused everything else — every other operation of the
//! API, and every page of the console, even once signed in with it. On SQLite and PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use latch_grant::Role;
use reqwest::redirect::Policy;
use serde_json::{json, Value};

on_both!(ingest_posts_events_and_nothing_else);

const EVENTS: &str = "/api/v1/events";

/// A denied `iam:CreateAccessKey` of alice's, as an EventBridge API destination forwards it.
fn feed() -> Value {
    json!({"version": "0", "id": "e1", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam", "account": "111122223333", "detail": {
        "eventVersion": "1.09",
        "eventTime": "2027-01-15T08:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1",
        "errorCode": "AccessDenied",
        "errorMessage": "explicit deny in a service control policy",
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/alice/laptop",
            "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": ALICE,
                "accountId": "111122223333"}}}}})
}

async fn ingest_posts_events_and_nothing_else(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let text = format!(
        "{}\n[offers]\nfirewall_config = \"firewall.toml\"\nduration = \"2h\"\nevery = \"10m\"\n",
        config_text(&slack_base)
    );
    let mut config = latch_server::Config::parse(&text, "test.toml", &|_| None).unwrap();
    config.poll_interval_ms = 50;
    config.offers.as_mut().unwrap().bundle_actions = BTreeMap::from([(
        "iam-admin".to_owned(),
        BTreeSet::from(["iam:createaccesskey".to_owned()]),
    )]);
    let server = TestServer::start(config, store.clone(), cloud.clone(), clock.clone()).await;
    let ingest = token(&store, "eventbridge", Role::Ingest).await;
    let requester = token(&store, "alice", Role::Requester).await;
    let auditor = token(&store, "carol", Role::Auditor).await;

    // What it is for: the feed is read and becomes an offer.
    let (status, body) = server.api("POST", EVENTS, &ingest, Some(feed())).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["records"], 1, "{body}");
    assert_eq!(body["offers"].as_array().unwrap().len(), 1, "{body}");
    // Neither a requester nor an auditor may feed events (an admin still may: tests/offers.rs).
    for other in [&requester, &auditor] {
        let (status, body) = server.api("POST", EVENTS, other, Some(feed())).await;
        assert_eq!(status, 403, "{body}");
    }

    // Every other operation the API describes is refused before anything else is read.
    let (status, doc) = server.api("GET", "/api/v1/openapi.json", "", None).await;
    assert_eq!(status, 200);
    let mut refused = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{id}", "r-0000");
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_none() {
                continue;
            }
            if path == EVENTS && method == "post" {
                continue;
            }
            let (status, body) = server
                .api(
                    &method.to_ascii_uppercase(),
                    &concrete,
                    &ingest,
                    Some(json!({"bundle": "iam-admin", "reason": "x"})),
                )
                .await;
            assert_eq!(status, 403, "{method} {path}: {body}");
            assert_eq!(
                body["error"]["code"], "forbidden",
                "{method} {path}: {body}"
            );
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("not for an `ingest` token"),
                "{method} {path}: {body}"
            );
            refused += 1;
        }
    }
    assert!(refused >= 18, "only {refused} operations walked");
    // Nothing was filed or minted with it.
    assert!(store
        .requests(&Default::default())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.tokens().await.unwrap().len(), 3);

    // The console: signing in with it is refused, and no page opens without a session.
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/login", server.url))
        .form(&[("token", ingest.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "an ingest token opens no session");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("latch_session="));
    assert!(cookie.is_none(), "{cookie:?}");
    for page in [
        "/request",
        "/access",
        "/approvals",
        "/grants",
        "/audit",
        "/audit/export",
        "/posture",
    ] {
        let mut req = http.get(format!("{}{page}", server.url));
        if let Some(c) = &cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert!(
            status == 403 || (status == 303 && cookie.is_none()),
            "{page}: {status} {body}"
        );
        assert!(
            !body.contains("eventbridge (ingest)") || status == 403,
            "{page}"
        );
    }
    // The console's forms refuse it too.
    let mut req = http.post(format!("{}/request", server.url)).form(&[
        ("bundle", "iam-admin"),
        ("reason", "x"),
        ("csrf", "0"),
    ]);
    if let Some(c) = &cookie {
        req = req.header("cookie", c);
    }
    let status = req.send().await.unwrap().status().as_u16();
    // Refused, whatever refuses it first (the form, its CSRF secret, the role).
    assert!(!(200..300).contains(&status), "POST /request: {status}");
    assert!(store
        .requests(&Default::default())
        .await
        .unwrap()
        .is_empty());
    server.shutdown().await;
}
