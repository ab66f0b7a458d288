//! The API and Slack as an attacker or a careless client would use them, on SQLite and on a
//! real PostgreSQL: every error is the API's JSON shape with a stable code, a caller without a
//! valid token is answered 401 before anything it sent is read, and what a requester writes
//! (reasons, comments, revoke reasons, names) is bounded and visible, with no state change
//! when it is refused.
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
use latch_grant::{GrantQuery, GrantStatus, RequestStatus, Role, Store};
use serde_json::{json, Value};

on_both!(token_before_body);
on_both!(error_classes);
on_both!(api_text_limits);
on_both!(slack_text_limits);

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Send a raw request: no token unless given, any body, any content type.
async fn raw(
    server: &TestServer,
    method: &str,
    path: &str,
    auth: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Option<String>, Value) {
    // A connection per request: a server that answers before reading a body closes it.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut req = client.request(method.parse().unwrap(), format!("{}{path}", server.url));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, ct, value)
}

/// The API's error shape with `code`, and nothing else.
#[track_caller]
fn assert_error(what: &str, got: &(u16, Option<String>, Value), status: u16, code: &str) {
    let (s, ct, v) = got;
    assert_eq!(*s, status, "{what}: {v}");
    assert_eq!(ct.as_deref(), Some("application/json"), "{what}: {v}");
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {v}"));
    assert_eq!(obj.len(), 1, "{what}: {v}");
    let err = v["error"].as_object().unwrap();
    assert_eq!(err.len(), 2, "{what}: {v}");
    assert_eq!(err["code"], code, "{what}: {v}");
    assert!(
        !err["message"].as_str().unwrap().is_empty(),
        "{what}: empty message"
    );
}

/// Walk every route the OpenAPI document describes (a unit test holds the document to the
/// router's routes): each operation that needs a token answers 401 JSON to a caller with no
/// or a bad token, whatever garbage its body, path or query holds, and a method a path does not
/// take is 405 JSON.
async fn token_before_body(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let (status, doc) = server.api("GET", "/api/v1/openapi.json", "", None).await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().unwrap();
    let revoked = token(&store, "alice", Role::Admin).await;
    let revoked_id = store.tokens().await.unwrap()[0].id.clone();
    store.revoke_token(&revoked_id, T0).await.unwrap();
    let bad_tokens = [
        None,
        Some("Bearer latch_0000".to_owned()),
        Some("Basic YWxpY2U6cGFzcw==".to_owned()),
        Some(format!("Bearer {revoked}")),
    ];
    let garbage: [(Option<&str>, Vec<u8>); 4] = [
        (Some("application/json"), b"{\"bundle\": ".to_vec()),
        (Some("application/json"), b"{\"nope\": 1}".to_vec()),
        (Some("text/plain"), vec![0xff, 0xfe, 0x00, 0x01]),
        // Over the API's body limit: still 401, not 413.
        (Some("application/json"), vec![b'x'; 100 * 1024]),
    ];
    let mut secured = 0;
    for (path, item) in paths {
        let concrete = path.replace("{id}", "x%ZZ");
        let ops = item.as_object().unwrap();
        for method in METHODS {
            let lower = method.to_ascii_lowercase();
            let Some(op) = ops.get(&lower) else {
                let got = raw(&server, method, &concrete, None, None, Vec::new()).await;
                assert_error(&format!("{method} {path}"), &got, 405, "method_not_allowed");
                continue;
            };
            if op.get("security").is_none() {
                continue;
            }
            secured += 1;
            for auth in &bad_tokens {
                for (ct, body) in &garbage {
                    let with_query = format!("{concrete}?limit=notanumber&unknown=1");
                    let got = raw(
                        &server,
                        method,
                        &with_query,
                        auth.as_deref(),
                        *ct,
                        body.clone(),
                    )
                    .await;
                    assert_error(
                        &format!("{method} {path} with {auth:?} and {ct:?}"),
                        &got,
                        401,
                        "unauthenticated",
                    );
                }
            }
        }
    }
    assert!(secured >= 14, "only {secured} operations walked");
    // Nothing was filed, and every refusal left the log intact.
    assert!(store
        .requests(&Default::default())
        .await
        .unwrap()
        .is_empty());
    assert!(store.audit_verify().await.unwrap().is_intact());
    server.shutdown().await;
}

/// One case per class of malformed input, with a valid token: status, JSON shape, code.
async fn error_classes(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let alice = format!("Bearer {}", token(&store, "alice", Role::Requester).await);
    let admin = format!("Bearer {}", token(&store, "root", Role::Admin).await);
    let auth = Some(alice.as_str());
    let json_ct = Some("application/json");
    let post = |path: &'static str, ct: Option<&'static str>, body: &[u8]| {
        raw(&server, "POST", path, auth, ct, body.to_vec())
    };

    let got = post("/api/v1/requests", json_ct, b"{\"bundle\": \"read-logs\",").await;
    assert_error("truncated JSON", &got, 400, "bad_json");
    let got = post("/api/v1/requests", json_ct, b"").await;
    assert_error("empty body", &got, 400, "bad_json");
    let got = post(
        "/api/v1/requests",
        Some("text/plain"),
        br#"{"bundle": "read-logs", "duration": "1h", "reason": "x"}"#,
    )
    .await;
    assert_error("text/plain", &got, 415, "unsupported_media_type");
    let got = post(
        "/api/v1/requests",
        None,
        br#"{"bundle": "read-logs", "duration": "1h", "reason": "x"}"#,
    )
    .await;
    assert_error("no content type", &got, 415, "unsupported_media_type");
    let got = post(
        "/api/v1/requests",
        json_ct,
        br#"{"bundle": "read-logs", "duration": "1h", "reason": "x", "requester": "bob"}"#,
    )
    .await;
    assert_error("unknown field", &got, 400, "unknown_field");
    assert!(got.2["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`requester`"));
    let got = post("/api/v1/requests", json_ct, br#"{"bundle": "read-logs"}"#).await;
    assert_error("missing field", &got, 400, "invalid_body");
    let got = post(
        "/api/v1/requests",
        json_ct,
        br#"{"bundle": 7, "duration": "1h", "reason": "x"}"#,
    )
    .await;
    assert_error("wrong type", &got, 400, "invalid_body");
    let big = format!(
        r#"{{"bundle": "read-logs", "duration": "1h", "reason": "{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let got = post("/api/v1/requests", json_ct, big.as_bytes()).await;
    assert_error("body over the API limit", &got, 413, "body_too_large");
    // Optional bodies: a revoke body that is not JSON is an error, not "no body".
    let got = post(
        "/api/v1/grants/g-none/revoke",
        Some("text/plain"),
        b"reason=x",
    )
    .await;
    assert_error("revoke body as text", &got, 415, "unsupported_media_type");
    let got = post("/api/v1/grants/g-none/revoke", json_ct, b"{\"cut\": true}").await;
    assert_error("revoke unknown field", &got, 400, "unknown_field");
    // The usage feed takes up to 2 MiB, not more.
    let feed = vec![b' '; 2 * 1024 * 1024 + 1024];
    let got = raw(
        &server,
        "POST",
        "/api/v1/events",
        Some(&admin),
        json_ct,
        feed,
    )
    .await;
    assert_error("events over their limit", &got, 413, "body_too_large");

    for query in [
        "/api/v1/requests?limit=ten",
        "/api/v1/requests?status=pending&colour=red",
        "/api/v1/grants?limit=1e99",
        "/api/v1/grants?status=nonsense",
    ] {
        let got = raw(&server, "GET", query, auth, None, Vec::new()).await;
        assert_error(query, &got, 400, "bad_query");
    }
    let got = raw(
        &server,
        "GET",
        "/api/v1/audit?after=x",
        Some(&admin),
        None,
        Vec::new(),
    )
    .await;
    assert_error("audit query", &got, 400, "bad_query");

    for path in [
        "/api/v1/nope",
        "/api/v2/requests",
        "/no-such-page",
        "/api/v1/requests/r-1/extra",
    ] {
        let got = raw(&server, "GET", path, None, None, Vec::new()).await;
        assert_error(path, &got, 404, "not_found");
    }
    let got = raw(
        &server,
        "DELETE",
        "/api/v1/requests",
        auth,
        None,
        Vec::new(),
    )
    .await;
    assert_error("DELETE /api/v1/requests", &got, 405, "method_not_allowed");
    let got = raw(&server, "GET", "/api/v1/tokens", auth, None, Vec::new()).await;
    assert_error("GET /api/v1/tokens", &got, 405, "method_not_allowed");

    let long_id = format!("/api/v1/requests/{}", "r".repeat(300));
    let got = raw(&server, "GET", &long_id, auth, None, Vec::new()).await;
    assert_error("over-long id", &got, 400, "bad_path");
    let got = raw(
        &server,
        "GET",
        "/api/v1/grants/g%E2%80%AE1",
        auth,
        None,
        Vec::new(),
    )
    .await;
    assert_error("bidi in an id", &got, 400, "bad_path");
    let got = raw(
        &server,
        "GET",
        "/api/v1/grants/g%FF",
        auth,
        None,
        Vec::new(),
    )
    .await;
    assert_error("non-UTF-8 id", &got, 400, "bad_path");

    // A role too low is refused before the body is read (and audited).
    let got = raw(
        &server,
        "POST",
        "/api/v1/tokens",
        auth,
        json_ct,
        b"{garbage".to_vec(),
    )
    .await;
    assert_error("requester creating tokens", &got, 403, "forbidden");

    // Nothing of this changed any state.
    assert!(store
        .requests(&Default::default())
        .await
        .unwrap()
        .is_empty());
    assert!(cloud.calls().is_empty());
    assert!(store.audit_verify().await.unwrap().is_intact());
    server.shutdown().await;
}

fn request_body(bundle: &str, reason: &str) -> Value {
    json!({"bundle": bundle, "duration": "30m", "reason": reason})
}

/// Over-long and invisible text is refused through the API with a message naming the field,
/// audited with its code, and changes nothing; text exactly at the limit is accepted; the
/// audit log grows by a bounded amount per call however much was sent.
async fn api_text_limits(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let alice = token(&store, "alice", Role::Requester).await;
    let bob = token(&store, "bob", Role::Approver).await;
    let admin = token(&store, "root", Role::Admin).await;

    let audit_bytes = |store: Arc<dyn Store>| async move {
        store
            .audit(0, 0)
            .await
            .unwrap()
            .iter()
            .map(|e| latch_grant::audit::to_json_line(e).len())
            .sum::<usize>()
    };

    // Over the limit by one character (multi-byte characters count once).
    let over = "é".repeat(1001);
    let before = audit_bytes(store.clone()).await;
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(request_body("iam-admin", &over)),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "too_long");
    assert_eq!(
        body["error"]["message"],
        "`reason` is 1001 characters long; at most 1000 are allowed"
    );
    // Far over the limit (as much as the body limit lets through): the entry stays small.
    let huge = "A".repeat(60_000);
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(request_body("iam-admin", &huge)),
        )
        .await;
    assert_eq!((status, &body["error"]["code"]), (422, &json!("too_long")));
    let huge_bundle = "b".repeat(60_000);
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(request_body(&huge_bundle, "INC-1")),
        )
        .await;
    assert_eq!((status, &body["error"]["code"]), (422, &json!("too_long")));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("`bundle` is 60000"));
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "x".repeat(30_000), "reason": "R".repeat(30_000)})),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (422, &json!("invalid_duration"))
    );
    let grown = audit_bytes(store.clone()).await - before;
    assert!(
        grown < 30_000,
        "four refusals grew the audit log by {grown} bytes"
    );

    // A bidirectional override and control characters, each named.
    for (reason, code_point) in [
        ("INC-1 \u{202E}txt.exe", "U+202E"),
        ("INC-1 \u{2067}isolate", "U+2067"),
        ("INC-1\nApproved-by: security", "U+000A"),
        ("INC-1 \u{1b}[2J", "U+001B"),
        ("INC-1\u{85}", "U+0085"),
    ] {
        let (status, body) = server
            .api(
                "POST",
                "/api/v1/requests",
                &alice,
                Some(request_body("iam-admin", reason)),
            )
            .await;
        assert_eq!(status, 422, "{reason:?}: {body}");
        assert_eq!(body["error"]["code"], "forbidden_character");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("`reason` contains {code_point}")),
            "{message}"
        );
    }
    assert!(store
        .requests(&Default::default())
        .await
        .unwrap()
        .is_empty());

    // Every refusal is audited with its code; refused text is written visibly.
    let entries = store.audit(0, 0).await.unwrap();
    let refused: Vec<&latch_grant::AuditRecord> = entries
        .iter()
        .filter(|e| e.kind == "request.refused")
        .collect();
    let codes: Vec<&str> = refused
        .iter()
        .map(|e| e.details["code"].as_str().unwrap())
        .collect();

    assert_eq!(
        codes,
        [
            "too_long",
            "too_long",
            "too_long",
            "invalid_duration",
            "forbidden_character",
            "forbidden_character",
            "forbidden_character",
            "forbidden_character",
            "forbidden_character"
        ]
    );
    let bidi = refused[4].details["reason"].as_str().unwrap();
    assert_eq!(bidi, "INC-1 \\u{202e}txt.exe");

    // Exactly at the limit: accepted, stored whole.
    let at_limit = "ü".repeat(999) + "!";
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(request_body("iam-admin", &at_limit)),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let request_id = body["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        store.request(&request_id).await.unwrap().unwrap().reason,
        at_limit
    );

    // A comment on an answer is held to the same rule; the request stays pending.
    for comment in ["c".repeat(1001), "ok\u{202D}".to_owned()] {
        let (status, body) = server
            .api(
                "POST",
                &format!("/api/v1/requests/{request_id}/approve"),
                &bob,
                Some(json!({"comment": comment})),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("`comment`"));
    }
    assert_eq!(
        store.request(&request_id).await.unwrap().unwrap().status,
        RequestStatus::Pending
    );
    assert!(store.approvals(&request_id).await.unwrap().is_empty());
    let (status, _) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{request_id}/approve"),
            &bob,
            Some(json!({"comment": "k".repeat(1000)})),
        )
        .await;
    assert_eq!(status, 200);

    // A revoke reason too: the grant stays live.
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(request_body("read-logs", "INC-2")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let grant_id = body["grant"]["id"].as_str().unwrap().to_owned();
    for reason in ["r".repeat(1001), "done\u{2066}".to_owned()] {
        let (status, body) = server
            .api(
                "POST",
                &format!("/api/v1/grants/{grant_id}/revoke"),
                &alice,
                Some(json!({"reason": reason})),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("`reason`"));
    }
    let g = store.grant(&grant_id).await.unwrap().unwrap();
    assert!(matches!(
        g.status,
        GrantStatus::Approved | GrantStatus::Active
    ));
    assert!(g.revoke_reason.is_none());
    let revokes: Vec<String> = store
        .audit(0, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "revoke.refused")
        .map(|e| e.details["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(revokes, ["too_long", "forbidden_character"]);

    // Token subjects are names: bounded and visible.
    for subject in ["s".repeat(201), "ci\u{202E}".to_owned()] {
        let (status, body) = server
            .api(
                "POST",
                "/api/v1/tokens",
                &admin,
                Some(json!({"subject": subject, "role": "requester"})),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("`subject`"));
    }
    assert_eq!(store.tokens().await.unwrap().len(), 3);
    assert!(store.audit_verify().await.unwrap().is_intact());
    server.shutdown().await;
}

/// The same rule through Slack: over-long and invisible reasons are refused with the same
/// message, nothing is filed or revoked.
async fn slack_text_limits(backend: Backend) {
    let (slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let ts = T0 / 1000;
    let respond = |n: u32| format!("{slack_base}/respond/{n}");
    let slash = |n: u32, text: String| {
        let body = slash_body("UALICE", &text, &respond(n));
        let server = &server;
        async move {
            let (status, _) = server
                .slack_post("/slack/commands", &body, ts, SIGNING_SECRET)
                .await;
            assert_eq!(status, 200);
        }
    };

    slash(1, format!("request iam-admin 30m {}", "x".repeat(1001))).await;
    let reply = slack.wait_for("respond/1", |_| true).await;
    assert_eq!(
        reply["text"],
        "Refused: `reason` is 1001 characters long; at most 1000 are allowed"
    );
    slash(2, "request iam-admin 30m INC-3 \u{202E}fdp.exe".to_owned()).await;
    let reply = slack.wait_for("respond/2", |_| true).await;
    assert!(
        reply["text"].as_str().unwrap().starts_with(
            "Refused: `reason` contains U+202E (a bidirectional formatting character)"
        ),
        "{reply}"
    );
    slash(3, "request iam-admin 30m INC-3 \u{7}bell".to_owned()).await;
    let reply = slack.wait_for("respond/3", |_| true).await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .starts_with("Refused: `reason` contains U+0007 (a control character)"),
        "{reply}"
    );
    assert!(store
        .requests(&Default::default())
        .await
        .unwrap()
        .is_empty());

    // Exactly at the limit through Slack: filed.
    slash(4, format!("request read-logs 30m {}", "ß".repeat(1000))).await;
    let reply = slack.wait_for("respond/4", |_| true).await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .starts_with("Granted at once"),
        "{reply}"
    );
    let grants = store.grants(&GrantQuery::default()).await.unwrap();
    assert_eq!(grants.len(), 1);
    let grant_id = grants[0].id.clone();

    // An over-long revoke reason from Slack leaves the grant alone.
    slash(5, format!("revoke {grant_id} {}", "y".repeat(1001))).await;
    let reply = slack.wait_for("respond/5", |_| true).await;
    assert_eq!(
        reply["text"],
        "Refused: `reason` is 1001 characters long; at most 1000 are allowed"
    );
    let g = store.grant(&grant_id).await.unwrap().unwrap();
    assert!(g.revoke_reason.is_none(), "{g:?}");

    let codes: Vec<(String, String)> = store
        .audit(0, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.ends_with(".refused"))
        .map(|e| (e.kind, e.details["code"].as_str().unwrap().to_owned()))
        .collect();
    let expect = |k: &str, c: &str| (k.to_owned(), c.to_owned());
    assert_eq!(
        codes,
        [
            expect("request.refused", "too_long"),
            expect("request.refused", "forbidden_character"),
            expect("request.refused", "forbidden_character"),
            expect("revoke.refused", "too_long"),
        ]
    );
    assert!(store.audit_verify().await.unwrap().is_intact());
    server.shutdown().await;
}
