//! Request→grant latency (p50/p99) and requests per second through the real HTTP API, the
//! store and the scheduler, with the in-memory cloud (so the figures are the server's own
//! overhead, not AWS's), then reads of a store holding 10,000 grants.
//!
//! Three phases per backend:
//! 1. request→grant latency: one request at a time, from `POST /api/v1/requests` to the grant
//!    being on the identity in the cloud;
//! 2. creation under load: `LATCH_BENCH_CONCURRENCY` clients post `LATCH_BENCH_TOTAL`
//!    auto-approved requests: requests/s, each call's latency (p50/p99/max), then the time
//!    until every grant is active. Afterwards every acknowledged request (`201`) must be in the
//!    store and the audit chain must verify: the bench panics otherwise;
//! 3. reads: the store topped up to `LATCH_BENCH_GRANTS` grants, `LATCH_BENCH_READ_CLIENTS`
//!    clients make `LATCH_BENCH_READS` calls of `GET /api/v1/grants?limit=50`, as requesters
//!    (each sees their own grants) and as an approver (sees everyone's, first page);
//! 4. the console: the store topped up to `LATCH_BENCH_AUDIT` audit entries, an admin loads
//!    each page `LATCH_BENCH_PAGES` times: server time (p50/p99) and weight per page.
//!
//! `cargo bench -p latch-server --bench grant_latency` runs on SQLite; set
//! `LATCH_BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/test` to run on PostgreSQL too.
//! Sizes: `LATCH_BENCH_SEQUENTIAL` (default 300), `LATCH_BENCH_TOTAL` (2000),
//! `LATCH_BENCH_CONCURRENCY` (16), `LATCH_BENCH_GRANTS` (10000), `LATCH_BENCH_READS` (20000),
//! `LATCH_BENCH_READ_CLIENTS` (16), `LATCH_BENCH_AUDIT` (100000), `LATCH_BENCH_PAGES` (30). The clients run in the server's process and share its
//! cores; with `LATCH_BENCH_WRK=/usr/bin/wrk` the reads are also made by wrk, in its own
//! process (`LATCH_BENCH_WRK_SECONDS`, 10).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use latch_grant::FakeCloud;
use latch_grant::{
    AuditEvent, Changeset, GrantRecord, GrantStatus, Identity, IdentityKind, RequestRecord,
    RequestStatus, Role, Store, Write,
};
use latch_server::config::Config;
use latch_server::{launch_with_tcp_listener, Settings, SystemClock};
use serde_json::{json, Value};

/// The allocator of the `latch` binary, whose server this bench measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PEOPLE: usize = 400;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn arn(i: usize) -> String {
    format!("arn:aws:iam::111122223333:role/p{i}")
}

fn config() -> Config {
    let mut text = String::from("[server]\nid = \"bench\"\n[bundles.read-logs]\nauto_approve = true\nmax_duration = \"4h\"\n");
    for i in 0..PEOPLE {
        text.push_str(&format!("[identities.p{i}]\naws = \"{}\"\n", arn(i)));
    }
    Config::parse(&text, "bench.toml", &|_| None).unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn run(label: &str, store: Arc<dyn Store>) {
    let sequential = env_usize("LATCH_BENCH_SEQUENTIAL", 300).min(PEOPLE);
    let total = env_usize("LATCH_BENCH_TOTAL", 2000);
    let concurrency = env_usize("LATCH_BENCH_CONCURRENCY", 16);
    let cloud = Arc::new(FakeCloud::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut tokens = Vec::new();
    for i in 0..PEOPLE {
        let (record, secret) =
            latch_server::http::mint_token(&format!("p{i}"), Role::Requester, 0).unwrap();
        store.create_token(&record).await.unwrap();
        tokens.push(secret);
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let settings = Settings {
        config: config(),
        store: store.clone(),
        cloud: cloud.clone(),
        clock: Arc::new(SystemClock),
        metrics_listener: None,
        checkpoint_publishers: Vec::new(),
        directory: None,
    };
    let server = tokio::spawn(launch_with_tcp_listener(settings, listener, async move {
        let _ = rx.await;
    }));
    let http = reqwest::Client::new();
    // Warm up.
    for t in tokens.iter().take(5) {
        http.get(format!("{url}/api/v1/grants"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
    }

    // Latency: one request at a time, from POST to the tag being on the identity.
    let mut lat = Vec::with_capacity(sequential);
    for (i, token) in tokens.iter().enumerate().take(sequential) {
        let start = Instant::now();
        let resp = http
            .post(format!("{url}/api/v1/requests"))
            .bearer_auth(token)
            .json(&json!({"bundle": "read-logs", "duration": "1h", "reason": "bench"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201);
        let identity = arn(i);
        while cloud.tag(&identity, "read-logs").is_none() {
            let _ = tokio::time::timeout(Duration::from_millis(2), cloud.changed()).await;
        }
        lat.push(start.elapsed());
    }
    lat.sort();

    // Throughput: `concurrency` clients, `total` requests (auto-approved), each call timed.
    let start = Instant::now();
    let per = total / concurrency;
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let http = http.clone();
        let url = url.clone();
        let tokens = tokens.clone();
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::with_capacity(per);
            let mut times = Vec::with_capacity(per);
            let mut failures = Vec::new();
            for k in 0..per {
                let token = &tokens[(c * per + k) % PEOPLE];
                let sent = Instant::now();
                let resp = http
                    .post(format!("{url}/api/v1/requests"))
                    .bearer_auth(token)
                    .json(&json!({"bundle": "read-logs", "duration": "2h", "reason": "load"}))
                    .send()
                    .await;
                let resp = match resp {
                    Ok(r) => r,
                    Err(e) => {
                        failures.push(format!("transport: {e}"));
                        continue;
                    }
                };
                let status = resp.status().as_u16();
                let body: serde_json::Value = resp.json().await.unwrap_or_default();
                times.push(sent.elapsed());
                if status == 201 {
                    let id = body["request"]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    acknowledged.push(id);
                } else {
                    failures.push(format!("{status}: {body}"));
                }
            }
            (acknowledged, times, failures)
        }));
    }
    let mut acknowledged = Vec::new();
    let mut times = Vec::new();
    let mut failures = Vec::new();
    for t in tasks {
        let (a, l, f) = t.await.unwrap();
        acknowledged.extend(a);
        times.extend(l);
        failures.extend(f);
    }
    let api_elapsed = start.elapsed();
    times.sort();
    let done = acknowledged.len();
    // Until every grant is active.
    loop {
        let pending = store
            .grants(&latch_grant::GrantQuery {
                statuses: vec![latch_grant::GrantStatus::Approved],
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        if pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_elapsed = start.elapsed();
    println!(
        "{label}: request→grant latency over {} sequential requests: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3,
    );
    println!(
        "{label}: {done} requests from {concurrency} clients: {:.0} requests/s accepted by the API; all {done} grants active after {:.2} s ({:.0} grants/s end to end)",
        done as f64 / api_elapsed.as_secs_f64(),
        all_elapsed.as_secs_f64(),
        done as f64 / all_elapsed.as_secs_f64(),
    );
    println!(
        "{label}: POST /api/v1/requests under load ({concurrency} clients): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );

    // Nothing lost: every acknowledged request is stored, and the audit chain verifies.
    let mut missing = Vec::new();
    for id in &acknowledged {
        if store.request(id).await.unwrap().is_none() {
            missing.push(id.clone());
        }
    }
    let verification = store.audit_verify().await.unwrap();
    assert!(
        failures.is_empty(),
        "{label}: {} of {} requests were not acknowledged, e.g. {:?}",
        failures.len(),
        per * concurrency,
        &failures[..failures.len().min(3)]
    );
    assert!(
        missing.is_empty() && done == per * concurrency,
        "{label}: LOST {} acknowledged requests, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(3)]
    );
    assert!(
        verification.is_intact(),
        "{label}: THE AUDIT CHAIN DOES NOT VERIFY after the load: {verification:?}"
    );
    println!(
        "{label}: all {done} acknowledged requests are stored; the audit chain verifies ({} entries)",
        verification.count
    );

    reads(label, &store, &url, &http, &tokens).await;
    console(label, &store, &url).await;

    let _ = tx.send(());
    let _ = server.await;
}

/// Top the store up to `LATCH_BENCH_GRANTS` grants (active, owned round-robin by the bench's
/// people), written straight to the store in batches.
async fn seed_grants(store: &Arc<dyn Store>, target: usize) {
    let have = store
        .grants(&latch_grant::GrantQuery::default())
        .await
        .unwrap()
        .len();
    let now = latch_server::Clock::now(&SystemClock);
    let mut i = have;
    while i < target {
        let mut changes = Changeset::default();
        for _ in 0..200.min(target - i) {
            let person = i % PEOPLE;
            let identity = Identity {
                kind: IdentityKind::Role,
                id: arn(person),
            };
            let request = RequestRecord {
                id: format!("r-seed{i}"),
                requester: format!("p{person}"),
                identity: identity.clone(),
                account: None,
                permission_set: None,
                more_targets: Vec::new(),
                extends: None,
                starts_at: None,
                bundle: "read-logs".into(),
                duration_secs: 4 * 3600,
                reason: "seed".into(),
                status: RequestStatus::Approved,
                source: "api".into(),
                break_glass: false,
                tier: 0,
                tier_deadline: None,
                required_approvals: 0,
                created_at: now,
                decided_at: Some(now),
                version: 0,
            };
            let grant = GrantRecord {
                id: format!("g-seed{i}"),
                request_id: request.id.clone(),
                requester: request.requester.clone(),
                identity,
                account: None,
                permission_set: None,
                starts_at: None,
                bundle: "read-logs".into(),
                status: GrantStatus::Active,
                break_glass: false,
                created_at: now,
                activated_at: Some(now),
                expires_at: now + 4 * 3_600_000 + i64::try_from(i).unwrap(),
                ended_at: None,
                revoked_by: None,
                revoke_reason: None,
                session_cutoff: None,
                reminded_at: None,
                version: 0,
            };
            changes.requests.push(Write::Insert(request));
            changes.grants.push(Write::Insert(grant));
            i += 1;
        }
        changes
            .audit
            .push(AuditEvent::new(now, "bench.seeded").details(json!({"grants": i})));
        store.commit(changes).await.unwrap();
    }
}

/// `LATCH_BENCH_READS` calls of `GET /api/v1/grants?limit=50` from `LATCH_BENCH_READ_CLIENTS`
/// clients, taking the tokens in turn: calls/s and latency.
async fn read_load(
    label: &str,
    what: &str,
    http: &reqwest::Client,
    url: &str,
    tokens: Arc<Vec<String>>,
) {
    let reads = env_usize("LATCH_BENCH_READS", 20_000);
    let clients = env_usize("LATCH_BENCH_READ_CLIENTS", 16);
    let per = reads / clients;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let http = http.clone();
        let url = format!("{url}/api/v1/grants?limit=50");
        let tokens = Arc::clone(&tokens);
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(per);
            for k in 0..per {
                let token = &tokens[(c * per + k) % tokens.len()];
                let sent = Instant::now();
                let resp = http.get(&url).bearer_auth(token).send().await.unwrap();
                assert_eq!(resp.status().as_u16(), 200);
                let body = resp.bytes().await.unwrap();
                assert!(body.len() > 20);
                times.push(sent.elapsed());
            }
            times
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    times.sort();
    println!(
        "{label}: {} × GET /api/v1/grants?limit=50 {what} from {clients} clients: {:.0} reads/s, p50 {:.2} ms, p99 {:.2} ms",
        times.len(),
        times.len() as f64 / elapsed.as_secs_f64(),
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
    );
    if let Ok(wrk) = std::env::var("LATCH_BENCH_WRK") {
        wrk_load(label, what, &wrk, url, &tokens, clients).await;
    }
}

/// The same reads from `wrk` (`LATCH_BENCH_WRK` names its binary), a load generator in its own
/// process written in C, so that the HTTP clients do not take the server's cores: one wrk
/// thread, `clients` connections, `LATCH_BENCH_WRK_SECONDS` (10) seconds, the tokens in turn.
/// Every answer must be a 200.
async fn wrk_load(
    label: &str,
    what: &str,
    wrk: &str,
    url: &str,
    tokens: &[String],
    clients: usize,
) {
    let seconds = env_usize("LATCH_BENCH_WRK_SECONDS", 10);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("reads.lua");
    let list: Vec<String> = tokens.iter().map(|t| format!("\"{t}\"")).collect();
    std::fs::write(
        &script,
        format!(
            r#"local tokens = {{ {} }}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/api/v1/grants?limit=50",
    {{ ["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1] }})
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.bytes))
end
"#,
            list.join(", ")
        ),
    )
    .unwrap();
    let mut command = std::process::Command::new(wrk);
    command
        .args([
            "-t1",
            &format!("-c{clients}"),
            &format!("-d{seconds}s"),
            "-s",
        ])
        .arg(&script)
        .arg(url);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("LATCH_BENCH_WRK names a wrk binary");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("WRK "))
        .unwrap_or_else(|| panic!("wrk printed no summary: {text}"));
    let n: Vec<f64> = line.split(' ').map(|v| v.parse().unwrap()).collect();
    let (requests, micros, p50, p99, errors, bytes) = (n[0], n[1], n[2], n[3], n[4], n[5]);
    assert_eq!(errors, 0.0, "{label}: wrk saw failed reads: {text}");
    println!(
        "{label}: GET /api/v1/grants?limit=50 {what}, wrk with {clients} connections for {seconds} s: {:.0} reads/s, p50 {:.2} ms, p99 {:.2} ms, {:.1} KB per answer",
        requests / (micros / 1e6),
        p50 / 1e3,
        p99 / 1e3,
        bytes / requests / 1e3,
    );
}

async fn reads(
    label: &str,
    store: &Arc<dyn Store>,
    url: &str,
    http: &reqwest::Client,
    tokens: &[String],
) {
    let target = env_usize("LATCH_BENCH_GRANTS", 10_000);
    seed_grants(store, target).await;
    let total = store
        .grants(&latch_grant::GrantQuery::default())
        .await
        .unwrap()
        .len();
    let what = format!("as requesters ({total} grants stored)");
    read_load(label, &what, http, url, Arc::new(tokens.to_vec())).await;
    let (record, approver) =
        latch_server::http::mint_token("bench-approver", Role::Approver, 0).unwrap();
    store.create_token(&record).await.unwrap();
    read_load(
        label,
        "as an approver (everyone's, first page)",
        http,
        url,
        Arc::new(vec![approver]),
    )
    .await;
}

/// The console's pages as an admin sees them, with the store topped up to
/// `LATCH_BENCH_AUDIT` audit entries (and the grants `reads` left): server time per page
/// (p50, p99 over `LATCH_BENCH_PAGES` loads, one at a time) and each page's weight.
async fn console(label: &str, store: &Arc<dyn Store>, url: &str) {
    let target = env_usize("LATCH_BENCH_AUDIT", 100_000);
    let loads = env_usize("LATCH_BENCH_PAGES", 30);
    let mut have = store.audit_verify().await.unwrap().count;
    let now = latch_server::Clock::now(&SystemClock);
    while have < target {
        let batch: Vec<AuditEvent> = (have..target.min(have + 2_000))
            .map(|i| {
                AuditEvent::new(now, "bench.event")
                    .actor(format!("p{}", i % PEOPLE))
                    .subject(format!("g-seed{i}"))
                    .details(json!({"n": i}))
            })
            .collect();
        have += batch.len();
        store.commit(Changeset::audit_only(batch)).await.unwrap();
    }
    let (record, secret) = latch_server::http::mint_token("bench-admin", Role::Admin, 0).unwrap();
    store.create_token(&record).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = http
        .post(format!("{url}/login"))
        .form(&[("token", secret.as_str())])
        .send()
        .await
        .unwrap();
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    posture(label, &http, url, &secret).await;
    println!(
        "{label}: console pages with {have} audit entries (times: p50 / p99 over {loads} loads)"
    );
    for path in [
        "/request",
        "/access",
        "/approvals",
        "/grants",
        "/grants?person=p7",
        "/audit",
        "/audit?page=100",
        "/audit?kind=request.",
        "/posture",
    ] {
        let mut times = Vec::with_capacity(loads);
        let mut bytes = 0;
        for _ in 0..loads {
            let start = Instant::now();
            let r = http
                .get(format!("{url}{path}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{path}");
            bytes = r.bytes().await.unwrap().len();
            times.push(start.elapsed());
        }
        times.sort();
        println!(
            "{label}:   {path:<22} {:>7.2} ms / {:>7.2} ms   {:>6.1} KB",
            percentile(&times, 0.50).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            bytes as f64 / 1024.0
        );
    }
}

/// A synthetic scan report of `LATCH_BENCH_PRINCIPALS` users and roles (each holding 200
/// sensitive actions, half of them unused, one finding each, a path for one in ten), pushed
/// `LATCH_BENCH_SCANS` times (for the trend), with a plan and a prove report: how long the
/// server takes to summarize and keep the scan, and then the posture page is timed with the
/// others.
async fn posture(label: &str, http: &reqwest::Client, url: &str, admin: &str) {
    let principals = env_usize("LATCH_BENCH_PRINCIPALS", 5_000);
    let scans = env_usize("LATCH_BENCH_SCANS", 30);
    const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];
    let actions: Vec<String> = (0..200).map(|i| format!("iam:Action{i}")).collect();
    let scan = |n: usize| {
        let ps: Vec<Value> = (0..principals)
            .map(|i| {
                json!({"arn": format!("arn:aws:iam::{:012}:role/r{i}", 100 + i % 100),
                       "account": format!("{:012}", 100 + i % 100), "kind": "role",
                       "sensitive_actions": actions, "used": &actions[..100],
                       "unused": &actions[100 + (i + n) % 50..], "unknown": [],
                       "admin_equivalent": false, "last_activity": null})
            })
            .collect();
        let findings: Vec<Value> = (0..principals)
            .map(|i| {
                json!({"id": format!("standing-privilege:r{i}"), "kind": "standing-privilege",
                       "severity": SEVERITIES[i % 4],
                       "principal": format!("arn:aws:iam::{:012}:role/r{i}", 100 + i % 100),
                       "account": format!("{:012}", 100 + i % 100),
                       "detail": "holds sensitive permissions it did not use", "items": &actions[100..]})
            })
            .collect();
        let paths: Vec<Value> = (0..principals / 10)
            .map(|i| {
                json!({"from": format!("arn:aws:iam::100000000000:role/r{i}"), "to": "admin",
                       "steps": [{"technique": "update-trust", "actions": ["iam:UpdateAssumeRolePolicy"],
                                  "from": format!("arn:aws:iam::100000000000:role/r{i}"),
                                  "to": "arn:aws:iam::100000000000:role/admin", "detail": "d"},
                                 {"technique": "modify-policy", "actions": ["iam:PutRolePolicy"],
                                  "from": "arn:aws:iam::100000000000:role/admin", "to": "admin", "detail": "d"}]})
            })
            .collect();
        serde_json::to_vec(&json!({"as_of": "2026-11-20T00:00:00Z", "window_days": 90,
            "usage_analysed": true, "not_analysed": [], "principals": ps,
            "findings": findings, "escalation_paths": paths}))
        .unwrap()
    };
    let push = |body: Vec<u8>| async move {
        let start = Instant::now();
        let r = http
            .post(format!("{url}/api/v1/posture"))
            .bearer_auth(admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        start.elapsed()
    };
    let mut took = Vec::new();
    let mut size = 0;
    for n in 0..scans {
        let body = scan(n);
        size = body.len();
        took.push(push(body).await);
    }
    took.sort();
    println!(
        "{label}: posture: a scan report of {principals} principals ({:.1} MB) summarized and kept in {:.0} ms (p50 of {scans} pushes)",
        size as f64 / 1e6,
        percentile(&took, 0.50).as_secs_f64() * 1e3
    );
    let plan = json!({"format": "latch.plan/v1",
        "organization": {"root_id": "r-x1y2", "management_account_id": "100000000001"},
        "policies": [], "summary": {"mode": "enforce", "accounts": 100,
            "layers": [{"layer": "permission", "rules": 5, "permissions_removed": 1_000_000,
                        "identities": principals, "used_calls_broken": 0, "line": "l"}],
            "budget": (0..100).map(|i| json!({"target": format!("{:012}", 100 + i), "name": format!("acct-{i}"),
                "kind": "account", "scp": {"existing": 2, "latch": 3, "slots": 10, "chars": 20_000, "max_chars": 30_720}}))
                .collect::<Vec<_>>()}});
    push(serde_json::to_vec(&plan).unwrap()).await;
    let scenarios: Vec<Value> = (0..40)
        .map(|i| {
            json!({"id": format!("s{i}"), "name": "scenario", "kind": "privilege-escalation",
                   "technique": "update-trust", "status": "blocked", "attacker": null,
                   "attacker_chosen": "named", "target": null,
                   "detection": {"method": "escalation-path", "status": "detected", "detail": "d"},
                   "feasible_today": true, "blocked_by": ["latch-scp-r-x1y2-1/LatchPermission1"],
                   "problem": null, "steps": []})
        })
        .collect();
    let prove = json!({"format": "latch.prove/v1", "region": "us-east-1",
        "summary": {"scenarios": 40, "blocked": 40, "not_blocked": 0, "skipped": 0, "detected": 40, "feasible_today": 40},
        "scenarios": scenarios});
    push(serde_json::to_vec(&prove).unwrap()).await;
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing special: keep the
    // test run tiny.
    let is_bench = std::env::args().any(|a| a == "--bench");
    if !is_bench {
        std::env::set_var("LATCH_BENCH_SEQUENTIAL", "5");
        std::env::set_var("LATCH_BENCH_TOTAL", "32");
        std::env::set_var("LATCH_BENCH_GRANTS", "500");
        std::env::set_var("LATCH_BENCH_READS", "64");
        std::env::set_var("LATCH_BENCH_AUDIT", "3000");
        std::env::set_var("LATCH_BENCH_PAGES", "2");
        std::env::set_var("LATCH_BENCH_PRINCIPALS", "50");
        std::env::set_var("LATCH_BENCH_SCANS", "2");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            latch_store::SqliteStore::open(&dir.path().join("bench.db"))
                .await
                .unwrap(),
        );
        run("sqlite", store).await;
        if let Ok(url) = std::env::var("LATCH_BENCH_POSTGRES") {
            let schema = format!("latch_bench_{}", std::process::id());
            let store = Arc::new(
                latch_store::PostgresStore::connect(&url, Some(&schema))
                    .await
                    .unwrap(),
            );
            run("postgres", store.clone()).await;
            store
                .execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .await
                .unwrap();
        }
    });
}
