//! Signed audit checkpoints end to end, on SQLite and PostgreSQL: a checkpoint at start, one
//! per interval (driven by the manual clock) and one at shutdown, each appended to a file and
//! posted to the Slack security channel, each verifying with the public key and matching the
//! log; a log that does not verify is never signed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use latch_grant::checkpoint::CheckpointPublisher;
use latch_grant::checkpoint::{parse_checkpoints, SignedCheckpoint, SigningKey};
use latch_grant::FakeCloud;
use latch_grant::{audit, Role, Store};
use latch_server::config::Config;
use latch_server::{launch_with_tcp_listener, ManualClock, Settings};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    checkpoint_story(Backend::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let b = Backend::postgres("checkpoints");
    checkpoint_story(b.clone()).await;
    b.cleanup().await;
}

fn audit_config(slack_base: &str, file: &Path, interval: &str) -> Config {
    let text = format!(
        "{}\n[audit]\nsigning_key_file = \"unused.key\"\ncheckpoint_interval = \"{interval}\"\n\
         [[audit.publish]]\nto = \"file\"\npath = \"{}\"\n\
         [[audit.publish]]\nto = \"slack\"\n",
        config_text(slack_base),
        file.display()
    );
    let mut c = Config::parse(&text, "test.toml", &|_| None).unwrap();
    c.poll_interval_ms = 50;
    c.lease_ttl_ms = 2_000;
    c
}

fn read_checkpoints(file: &Path) -> Vec<SignedCheckpoint> {
    match std::fs::read_to_string(file) {
        Ok(text) => parse_checkpoints(&text).unwrap(),
        Err(_) => Vec::new(),
    }
}

async fn checkpoint_story(backend: Backend) {
    let (slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checkpoints.jsonl");
    let key = SigningKey::generate().unwrap();
    let public = key.public_key();
    let mut config = audit_config(&slack_base, &file, "1h");
    config.audit.as_mut().unwrap().signing_key = Some(key);
    let alice = token(&store, "alice", Role::Requester).await;

    let server = TestServer::start(config, store.clone(), cloud, clock.clone()).await;

    // At start: the log as it stands (the scheduler may already have written to it).
    let first = eventually(5_000, "the start checkpoint", || async {
        read_checkpoints(&file).into_iter().next()
    })
    .await;
    first.verify(&[public]).unwrap();
    assert_eq!(first.server_id, "server-a");
    assert_eq!(first.at, T0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // The same checkpoint reached the security channel.
    let line = first.to_json_line();
    let posted = slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "CSECURITY" && v["text"].as_str().unwrap_or("").contains(&line)
        })
        .await;
    assert!(posted["text"]
        .as_str()
        .unwrap()
        .contains("Audit checkpoint from `server-a`"));

    // The log grows; an interval later, the next checkpoint covers it.
    let (status, _) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(json!({"bundle": "iam-admin", "duration": "30m", "reason": "INC-7"})),
        )
        .await;
    assert_eq!(status, 201);
    let grown = store.audit(0, 0).await.unwrap().len();
    clock.advance(3_600_000);
    let second = eventually(5_000, "the interval checkpoint", || async {
        read_checkpoints(&file).into_iter().nth(1)
    })
    .await;
    second.verify(&[public]).unwrap();
    assert_eq!(second.at, T0 + 3_600_000);
    assert!(second.count >= u64::try_from(grown).unwrap(), "{second:?}");

    // At shutdown, a last one.
    server.shutdown().await;
    let all = read_checkpoints(&file);
    assert_eq!(all.len(), 3, "{all:?}");
    let records = store.audit(0, 0).await.unwrap();
    for cp in &all {
        cp.verify(&[public]).unwrap();
        let mut v = audit::verify(&records);
        v.expect_prefix(&records, cp.count, &cp.head_hash, "the checkpoint");
        assert!(v.is_intact(), "{v:?}");
    }
    assert!(all.windows(2).all(|w| w[0].count <= w[1].count));
}

/// A log that does not verify at start is never signed: nothing is published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_log_is_never_signed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("latch.db");
    let raw = latch_store::SqliteStore::open(&db).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(raw.clone());
    for i in 0..3 {
        store
            .commit(latch_grant::Changeset::audit_only(vec![
                latch_grant::AuditEvent::new(T0 + i, "test.tick"),
            ]))
            .await
            .unwrap();
    }
    raw.execute_raw(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
    )
    .await
    .unwrap();
    let (slack, slack_base) = FakeSlack::start().await;
    let file = dir.path().join("checkpoints.jsonl");
    let mut config = audit_config(&slack_base, &file, "1h");
    config.audit.as_mut().unwrap().signing_key = Some(SigningKey::generate().unwrap());
    let server = TestServer::start(
        config,
        store.clone(),
        Arc::new(FakeCloud::new()),
        ManualClock::new(T0),
    )
    .await;
    let metrics = eventually(5_000, "the refusal to sign", || async {
        let text = reqwest::get(&server.metrics_url)
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains("latch_audit_checkpoints_total{result=\"log_broken\"} 1")
            .then_some(text)
    })
    .await;
    assert!(!metrics.contains("result=\"published\""), "{metrics}");
    server.shutdown().await;
    assert!(!file.exists());
    assert!(slack.of("chat.postMessage").iter().all(|v| !v["text"]
        .as_str()
        .unwrap_or("")
        .contains("Audit checkpoint")));
}

#[derive(Debug)]
struct NullPublisher;

#[async_trait::async_trait]
impl CheckpointPublisher for NullPublisher {
    fn describe(&self) -> String {
        "nowhere".into()
    }
    async fn publish(&self, _: &SignedCheckpoint) -> Result<(), String> {
        Ok(())
    }
}

/// Without its key, or without a publisher for each S3 place, the server does not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_misconfiguration_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        latch_store::SqliteStore::open(&dir.path().join("latch.db"))
            .await
            .unwrap(),
    );
    let (_slack, slack_base) = FakeSlack::start().await;
    let start = |config: Config, publishers: Vec<Arc<dyn CheckpointPublisher>>| {
        let store = store.clone();
        async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            launch_with_tcp_listener(
                Settings {
                    config,
                    store,
                    cloud: Arc::new(FakeCloud::new()),
                    clock: Arc::new(ManualClock::new(T0)),
                    metrics_listener: None,
                    checkpoint_publishers: publishers,
                    directory: None,
                },
                listener,
                async {},
            )
            .await
        }
    };
    let config = audit_config(&slack_base, &dir.path().join("c.jsonl"), "1h");
    let err = start(config, Vec::new()).await.unwrap_err();
    assert!(err.to_string().contains("signing key"), "{err}");

    let mut config = audit_config(&slack_base, &dir.path().join("c.jsonl"), "1h");
    config.audit.as_mut().unwrap().signing_key = Some(SigningKey::generate().unwrap());
    let err = start(config.clone(), vec![Arc::new(NullPublisher)])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("0 S3 place(s)"), "{err}");
    start(config, Vec::new()).await.unwrap();
}
