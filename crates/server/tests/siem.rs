//! Streaming the audit log to SIEM sinks, on SQLite and on a real PostgreSQL: fake sinks on
//! 127.0.0.1 (a signed webhook, a Splunk HTTP Event Collector) that fail their first attempts,
//! answer late, lose their acknowledgement (so entries come twice) or refuse one entry forever.
//! Every entry arrives at each sink, in order; a receiver de-duplicating by hash holds exactly
//! the log; the cursor survives a restart; the refused entry becomes a dead letter after
//! `max_attempts` and delivery moves on; the lag is on /metrics. Waits are bounded polls,
//! never timed assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[macro_use]
mod common;

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::*;
use hmac::{Hmac, Mac as _};
use latch_grant::{audit, AuditEvent, AuditRecord, Changeset, GrantStatus, Role, Store};
use latch_server::config::Config;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::net::TcpListener;

on_both!(every_entry_reaches_every_sink_at_least_once);

const WEBHOOK_SECRET: &str = "webhook-secret-0123456789";
const HEC_TOKEN: &str = "11111111-2222-3333-4444-555555555555";
/// The entry the strict sink refuses, whatever else comes with it.
const POISON: i64 = 5;
const STRICT_ATTEMPTS: usize = 3;

/// What the fake does with the next request (then it answers normally: stores, 200).
#[derive(Debug, Clone, Copy)]
enum Script {
    /// Answer this status without taking anything.
    Fail(u16),
    /// Take the events, then answer this status: the acknowledgement is lost.
    TakeThen(u16),
    /// Take the events, then answer only after this long (the sender has given up by then).
    TakeThenLate(Duration),
}

#[derive(Debug, Clone)]
struct Received {
    /// The entries in the request, in the order sent.
    records: Vec<AuditRecord>,
    /// Whether the fake kept them (it answered 2xx, or took them and lost the answer).
    taken: bool,
    /// The request's credentials were right (HMAC signature or HEC token).
    authentic: bool,
}

#[derive(Debug, Default)]
struct SinkState {
    script: VecDeque<Script>,
    refuse: Option<i64>,
    requests: Vec<Received>,
}

/// A fake SIEM on 127.0.0.1: a webhook (`/hook`, HMAC-checked) and a Splunk HTTP Event
/// Collector (`/services/collector/event`, token-checked), recording every request.
#[derive(Debug, Clone, Default)]
struct FakeSink {
    state: Arc<Mutex<SinkState>>,
}

impl FakeSink {
    async fn start(script: &[Script], refuse: Option<i64>) -> (FakeSink, String) {
        let fake = FakeSink::default();
        {
            let mut s = fake.state.lock().unwrap();
            s.script = script.iter().copied().collect();
            s.refuse = refuse;
        }
        let app = Router::new()
            .route("/hook", post(webhook))
            .route("/services/collector/event", post(hec))
            .with_state(fake.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        (fake, format!("http://{addr}"))
    }

    fn requests(&self) -> Vec<Received> {
        self.state.lock().unwrap().requests.clone()
    }

    /// What a receiver de-duplicating by entry hash holds, in arrival order.
    fn deduplicated(&self) -> Vec<AuditRecord> {
        let mut seen = HashSet::new();
        self.requests()
            .into_iter()
            .filter(|r| r.taken)
            .flat_map(|r| r.records)
            .filter(|r| seen.insert(r.hash.clone()))
            .collect()
    }

    /// Every entry taken, duplicates included.
    fn taken(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.taken)
            .map(|r| r.records.len())
            .sum()
    }

    /// Record one request and decide the answer.
    async fn answer(&self, records: Vec<AuditRecord>, authentic: bool) -> StatusCode {
        let (taken, status, late) = {
            let mut s = self.state.lock().unwrap();
            let refused = s.refuse.is_some_and(|p| records.iter().any(|r| r.seq == p));
            let (taken, status, late) = if !authentic {
                (false, 403, None)
            } else if refused {
                (false, 400, None)
            } else {
                match s.script.pop_front() {
                    Some(Script::Fail(code)) => (false, code, None),
                    Some(Script::TakeThen(code)) => (true, code, None),
                    Some(Script::TakeThenLate(d)) => (true, 200, Some(d)),
                    None => (true, 200, None),
                }
            };
            s.requests.push(Received {
                records,
                taken,
                authentic,
            });
            (taken, status, late)
        };
        let _ = taken;
        if let Some(d) = late {
            tokio::time::sleep(d).await;
        }
        StatusCode::from_u16(status).unwrap()
    }
}

/// An OCSF event as a receiver reads it: the entry from `raw_data`, checked against the
/// event's own fields.
fn entry_of(event: &Value) -> AuditRecord {
    let raw = event["raw_data"].as_str().expect("raw_data");
    let mut records = audit::parse_json_lines(raw).unwrap();
    assert_eq!(records.len(), 1);
    let record = records.pop().unwrap();
    assert_eq!(event["metadata"]["uid"], record.hash.as_str(), "{event}");
    assert_eq!(event["metadata"]["sequence"], record.seq, "{event}");
    assert_eq!(event["time"], record.at, "{event}");
    let class = event["class_uid"].as_i64().unwrap();
    assert!([0, 3001, 3003, 3004].contains(&class), "{event}");
    assert_eq!(
        event["type_uid"].as_i64().unwrap(),
        class * 100 + event["activity_id"].as_i64().unwrap()
    );
    record
}

async fn webhook(
    State(fake): State<FakeSink>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let expected = format!("sha256={}", audit::hex(&mac.finalize().into_bytes()));
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let authentic = header("x-latch-signature") == expected
        && header("x-latch-timestamp").parse::<i64>().is_ok();
    let events: Vec<Value> = serde_json::from_slice(&body).unwrap();
    fake.answer(events.iter().map(entry_of).collect(), authentic)
        .await
}

async fn hec(
    State(fake): State<FakeSink>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let authentic = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(format!("Splunk {HEC_TOKEN}").as_str());
    // HEC's JSON event protocol: event objects one after another.
    let text = String::from_utf8(body.to_vec()).unwrap();
    let records = text
        .lines()
        .map(|line| {
            let wrapped: Value = serde_json::from_str(line).unwrap();
            assert_eq!(wrapped["sourcetype"], "latch:audit");
            assert_eq!(wrapped["source"], "latch");
            let record = entry_of(&wrapped["event"]);
            assert_eq!(wrapped["time"].as_f64().unwrap(), record.at as f64 / 1000.0);
            record
        })
        .collect();
    fake.answer(records, authentic).await
}

/// The test configuration with three sinks, retrying fast.
fn config(slack_base: &str, flaky: &str, hec: &str, strict: &str) -> Config {
    let text = format!(
        r#"{}
[[siem]]
name = "flaky"
to = "webhook"
url = "{flaky}/hook"
secret_env = "TEST_SIEM_SECRET"
batch = 3

[[siem]]
name = "hec"
to = "splunk"
url = "{hec}/"
token_env = "TEST_HEC_TOKEN"

[[siem]]
name = "strict"
to = "webhook"
url = "{strict}/hook"
secret_env = "TEST_SIEM_SECRET"
max_attempts = {STRICT_ATTEMPTS}
batch = 4
"#,
        config_text(slack_base).replace("id = \"server-a\"", "id = \"a\"")
    );
    let env = |name: &str| match name {
        "TEST_SIEM_SECRET" => Some(WEBHOOK_SECRET.to_owned()),
        "TEST_HEC_TOKEN" => Some(HEC_TOKEN.to_owned()),
        _ => None,
    };
    let mut c = Config::parse(&text, "test.toml", &env).unwrap();
    c.poll_interval_ms = 50;
    c.lease_ttl_ms = 2_000;
    for sink in &mut c.siem {
        sink.retry_min_ms = 5;
        sink.retry_max_ms = 50;
        sink.timeout_ms = 1_000;
    }
    c
}

async fn caught_up(store: &Arc<dyn Store>, sinks: &[&str]) -> i64 {
    let head = store.audit(0, 0).await.unwrap().last().unwrap().seq;
    for name in sinks {
        eventually(
            30_000,
            &format!("sink {name} at the head ({head})"),
            || async {
                (store.sink_cursor(name).await.unwrap().delivered_seq == head).then_some(())
            },
        )
        .await;
    }
    head
}

/// Each request's entries follow one another; a de-duplicating receiver holds the log exactly
/// (in order, every entry, nothing else) but for the dead letters; the chain verifies.
fn assert_delivered(name: &str, fake: &FakeSink, log: &[AuditRecord], dead: &[i64]) {
    for r in fake.requests() {
        let seqs: Vec<i64> = r.records.iter().map(|e| e.seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "{name}: a request's entries in order: {seqs:?}"
        );
        assert!(r.authentic, "{name}: every request is signed/authorized");
    }
    let expected: Vec<AuditRecord> = log
        .iter()
        .filter(|e| !dead.contains(&e.seq))
        .cloned()
        .collect();
    let got = fake.deduplicated();
    assert_eq!(
        got.iter().map(|e| e.seq).collect::<Vec<_>>(),
        expected.iter().map(|e| e.seq).collect::<Vec<_>>(),
        "{name}: every entry, in order"
    );
    assert_eq!(got, expected, "{name}: exactly the log");
    if dead.is_empty() {
        assert!(
            audit::verify(&got).is_intact(),
            "{name}: the chain verifies"
        );
    }
}

/// [`assert_delivered`] for the three sinks of the story (the strict one refuses `POISON`).
fn assert_all_delivered(fakes: &[&FakeSink; 3], log: &[AuditRecord]) {
    for ((name, fake), dead) in
        ["flaky", "hec", "strict"]
            .iter()
            .zip(fakes)
            .zip([&[][..], &[][..], &[POISON][..]])
    {
        assert_delivered(name, fake, log, dead);
    }
}

async fn grant_reaches(store: &Arc<dyn Store>, id: &str, status: GrantStatus) {
    eventually(5_000, &format!("grant {id} {status:?}"), || async {
        store
            .grant(id)
            .await
            .unwrap()
            .filter(|g| g.status == status)
    })
    .await;
}

async fn every_entry_reaches_every_sink_at_least_once(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    // flaky: three failures, then a lost acknowledgement and a late one (both entries kept:
    // the same batch arrives three times), then well. hec: two failures. strict: refuses the
    // entry POISON forever.
    let (flaky, flaky_url) = FakeSink::start(
        &[
            Script::Fail(500),
            Script::Fail(429),
            Script::Fail(503),
            Script::TakeThen(503),
            Script::TakeThenLate(Duration::from_millis(2_500)),
        ],
        None,
    )
    .await;
    let (hec, hec_url) = FakeSink::start(&[Script::Fail(500), Script::Fail(502)], None).await;
    let (strict, strict_url) = FakeSink::start(&[], Some(POISON)).await;
    let cfg = config(&slack_base, &flaky_url, &hec_url, &strict_url);
    let server = TestServer::start(cfg.clone(), store.clone(), cloud.clone(), clock.clone()).await;
    let alice = token(&store, "alice", Role::Requester).await;
    let carol = token(&store, "carol", Role::Approver).await;

    // Requests, an approval, a refusal and a denial.
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "20m", "reason": "incident 1"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let rid = body["request"]["id"].as_str().unwrap().to_owned();
    let (status, _) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &alice,
            None,
        )
        .await;
    assert_eq!(status, 403, "refused, and audited");
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &carol,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let gid = body["grant"]["id"].as_str().unwrap().to_owned();
    let (_, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "10m", "reason": "incident 2"})),
        )
        .await;
    let rid2 = body["request"]["id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid2}/deny"),
            &carol,
            Some(json!({"comment": "one is enough"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    grant_reaches(&store, &gid, GrantStatus::Active).await;

    let head = caught_up(&store, &["flaky", "hec", "strict"]).await;
    assert!(head > POISON + 2, "enough entries to stream: {head}");
    let log = store.audit(0, 0).await.unwrap();
    let kinds: BTreeSet<&str> = log.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "request.created",
        "request.approved",
        "request.denied",
        "grant.applied",
    ] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    assert!(kinds.iter().any(|k| k.ends_with(".refused")), "{kinds:?}");

    assert_all_delivered(&[&flaky, &hec, &strict], &log);
    assert!(
        flaky.taken() > log.len(),
        "the lost and late acknowledgements made duplicates"
    );
    assert!(
        flaky.requests().iter().any(|r| !r.taken),
        "flaky failed first"
    );
    assert!(hec.requests().iter().any(|r| !r.taken), "hec failed first");

    // The poison entry: refused alone exactly max_attempts times, then a dead letter; the
    // entries after it were delivered all the same.
    let alone = strict
        .requests()
        .iter()
        .filter(|r| r.records.len() == 1 && r.records[0].seq == POISON)
        .count();
    assert_eq!(alone, STRICT_ATTEMPTS);
    let dead = store.dead_letters("strict").await.unwrap();
    assert_eq!(dead.iter().map(|d| d.seq).collect::<Vec<_>>(), vec![POISON]);
    assert!(dead[0].error.starts_with("HTTP 400"), "{dead:?}");
    assert!(store.dead_letters("flaky").await.unwrap().is_empty());
    let cursor = store.sink_cursor("strict").await.unwrap();
    assert_eq!((cursor.attempts, cursor.last_error), (0, None));

    // The lag is on /metrics, with what was delivered and what failed.
    let metrics = eventually(5_000, "lag 0 on /metrics", || async {
        let text = reqwest::get(&server.metrics_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        ["flaky", "hec", "strict"]
            .iter()
            .all(|s| text.contains(&format!("latch_siem_lag{{sink=\"{s}\"}} 0")))
            .then_some(text)
    })
    .await;
    assert!(metrics.contains("# TYPE latch_siem_lag gauge"), "{metrics}");
    assert!(metrics.contains("latch_siem_delivered_total{sink=\"flaky\"}"));
    assert!(metrics.contains("latch_siem_failed_total{sink=\"flaky\"}"));
    assert!(metrics.contains("latch_siem_dead_letters_total{sink=\"strict\"} 1"));
    assert!(!metrics.contains(WEBHOOK_SECRET) && !metrics.contains(HEC_TOKEN));

    // Restart on the same store: entries written while the server was down, and after, are
    // delivered from the cursor on, not from the start.
    server.shutdown().await;
    let before: Vec<usize> = [&flaky, &hec, &strict]
        .iter()
        .map(|f| f.requests().len())
        .collect();
    store
        .commit(Changeset::audit_only(vec![AuditEvent::new(
            T0,
            "test.while_down",
        )
        .details(json!({"n": 1}))]))
        .await
        .unwrap();
    let store2 = backend.open().await;
    let server2 = TestServer::start(cfg, store2.clone(), cloud.clone(), clock.clone()).await;
    let (status, body) = server2
        .api(
            "POST",
            &format!("/api/v1/grants/{gid}/revoke"),
            &alice,
            Some(json!({"reason": "done"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    grant_reaches(&store2, &gid, GrantStatus::Revoked).await;
    let head2 = caught_up(&store2, &["flaky", "hec", "strict"]).await;
    assert!(head2 > head);
    for (fake, seen) in [&flaky, &hec, &strict].iter().zip(before) {
        let first_after = fake.requests()[seen].records[0].seq;
        assert_eq!(first_after, head + 1, "resumed at the cursor");
    }
    let log = store2.audit(0, 0).await.unwrap();
    assert!(log.iter().any(|e| e.kind == "test.while_down"));
    assert!(log.iter().any(|e| e.kind == "grant.revoked"));
    assert_all_delivered(&[&flaky, &hec, &strict], &log);
    server2.shutdown().await;
}

/// `[[siem]]` errors name the field; the secrets never show in `Debug`.
#[test]
fn siem_config_errors_name_the_field() {
    let base = config_text("http://127.0.0.1:9");
    let env = |name: &str| (name == "S").then(|| "s3cr3t-value".to_owned());
    let parse = |extra: &str| Config::parse(&format!("{base}\n{extra}"), "t.toml", &env);
    let hook = "[[siem]]\nname = \"soc\"\nto = \"webhook\"\nurl = \"https://siem.example.com/in\"\nsecret_env = \"S\"\n";
    let c = parse(hook).unwrap();
    assert_eq!(c.siem.len(), 1);
    assert_eq!((c.siem[0].max_attempts, c.siem[0].batch), (10, 100));
    assert!(!format!("{c:?}").contains("s3cr3t-value"));
    assert!(parse("").unwrap().siem.is_empty());
    let cases = [
        (
            hook.replace("https://siem.example.com", "http://siem.example.com"),
            "siem[0].url",
            "https",
        ),
        (
            hook.replace("https://siem.example.com", "https://u:p@siem.example.com"),
            "siem[0].url",
            "credentials",
        ),
        (
            hook.replace("webhook", "kafka"),
            "siem[0].to",
            "webhook or splunk",
        ),
        (
            hook.replace("secret_env = \"S\"", "secret_env = \"MISSING\""),
            "siem[0].secret_env",
            "not set",
        ),
        (
            hook.replace("secret_env", "token_env"),
            "siem[0].token_env",
            "does not apply",
        ),
        (
            hook.replace("to = \"webhook\"", "to = \"splunk\""),
            "siem[0].secret_env",
            "does not apply",
        ),
        (
            format!("{hook}batch = 101\n"),
            "siem[0].batch",
            "between 1 and 100",
        ),
        (
            format!("{hook}max_attempts = 0\n"),
            "siem[0].max_attempts",
            "between",
        ),
        (
            hook.replace("name = \"soc\"\n", ""),
            "siem[0].name",
            "missing",
        ),
        (format!("{hook}{hook}"), "siem[1].name", "another sink"),
    ];
    for (text, field, why) in cases {
        let e = parse(&text).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(e.reason.contains(why), "{e}");
        assert!(!e.to_string().contains("s3cr3t-value"));
    }
}
