//! Request→grant latency (p50/p99) and requests per second through the real HTTP API, the
//! store and the scheduler, with the in-memory cloud (so the figures are the server's own
//! overhead, not AWS's).
//!
//! `cargo bench -p latch-server --bench grant_latency` runs on SQLite; set
//! `LATCH_BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/test` to run on PostgreSQL too.
//! Sizes: `LATCH_BENCH_SEQUENTIAL` (default 300), `LATCH_BENCH_TOTAL` (2000),
//! `LATCH_BENCH_CONCURRENCY` (16).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use latch_grant::FakeCloud;
use latch_grant::{Role, Store};
use latch_server::config::Config;
use latch_server::{launch_with_tcp_listener, Settings, SystemClock};
use serde_json::json;

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

    // Throughput: `concurrency` clients, `total` requests (auto-approved).
    let start = Instant::now();
    let per = total / concurrency;
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let http = http.clone();
        let url = url.clone();
        let tokens = tokens.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..per {
                let token = &tokens[(c * per + k) % PEOPLE];
                let resp = http
                    .post(format!("{url}/api/v1/requests"))
                    .bearer_auth(token)
                    .json(&json!({"bundle": "read-logs", "duration": "2h", "reason": "load"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 201);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let api_elapsed = start.elapsed();
    let done = per * concurrency;
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
    let _ = tx.send(());
    let _ = server.await;
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing special: keep the
    // test run tiny.
    let is_bench = std::env::args().any(|a| a == "--bench");
    if !is_bench {
        std::env::set_var("LATCH_BENCH_SEQUENTIAL", "5");
        std::env::set_var("LATCH_BENCH_TOTAL", "32");
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
