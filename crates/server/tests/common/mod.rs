//! Test harness: a server on 127.0.0.1:0 over SQLite or a real PostgreSQL (one schema per test),
//! the in-memory cloud, a manual clock, and a fake Slack Web API on 127.0.0.1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use std::sync::{Arc, Mutex};

pub mod teams;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use latch_grant::FakeCloud;
use latch_grant::{Role, Store};
use latch_server::config::Config;
use latch_server::{launch_with_tcp_listener, ManualClock, Settings};
use latch_store::{PostgresStore, SqliteStore};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// Run the story `$name(backend)` as two tests: on SQLite, and on a fresh PostgreSQL schema
/// (dropped afterwards). The test file needs `Backend` in scope (`use common::*`).
#[allow(unused_macros)]
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::sqlite()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let b = super::Backend::postgres(stringify!($name));
                super::$name(b.clone()).await;
                b.cleanup().await;
            }
        }
    };
}

pub const T0: i64 = 1_800_000_000_000;
pub const SIGNING_SECRET: &str = "test-signing-secret-0123456789";

pub const ALICE: &str = "arn:aws:iam::111122223333:role/alice";

pub fn config_text(slack_base: &str) -> String {
    format!(
        r#"
[server]
id = "server-a"
max_duration = "12h"
break_glass = ["alice"]

[slack]
signing_secret = "{SIGNING_SECRET}"
bot_token = "xoxb-test-token"
api_base = "{slack_base}/api"
approvals_channel = "CAPPROVALS"
security_channel = "CSECURITY"

[identities.alice]
slack = "UALICE"
aws = "{ALICE}"
[identities.bob]
slack = "UBOB"
aws = "arn:aws:iam::111122223333:role/bob"
[identities.carol]
slack = "UCAROL"
aws = "arn:aws:iam::111122223333:user/carol"
[identities.dave]
aws = "arn:aws:iam::111122223333:role/dave"

[groups]
security = ["bob", "carol"]

[bundles.iam-admin]
max_duration = "1h"
approvers = ["group:security"]

[bundles.read-logs]
max_duration = "4h"
auto_approve = true

[bundles.prod-db]
max_duration = "2h"
[[approval]]
bundles = ["prod-db"]
required_approvals = 2
tiers = [ {{ approvers = ["bob", "carol"], timeout = "15m" }}, {{ approvers = ["dave", "bob", "carol"], timeout = "15m" }} ]
"#
    )
}

/// Which backend a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite(Arc<tempfile::TempDir>),
    Postgres(String),
}

pub fn postgres_url() -> String {
    std::env::var("LATCH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

impl Backend {
    pub fn sqlite() -> Self {
        Backend::Sqlite(Arc::new(tempfile::tempdir().unwrap()))
    }

    pub fn postgres(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        // PostgreSQL cuts identifiers at 63 bytes: the unique part comes first so a long tag
        // is what gets cut, never the uniqueness.
        let mut name = format!("e2e_{}_{nanos}_{tag}", std::process::id());
        name.truncate(63);
        Backend::Postgres(name)
    }

    pub async fn open(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite(dir) => Arc::new(
                SqliteStore::open(&dir.path().join("latch.db"))
                    .await
                    .unwrap(),
            ),
            Backend::Postgres(schema) => Arc::new(
                PostgresStore::connect(&postgres_url(), Some(schema))
                    .await
                    .unwrap(),
            ),
        }
    }

    pub async fn cleanup(&self) {
        if let Backend::Postgres(schema) = self {
            // A plain connection: opening a store here would migrate the public schema, which
            // belongs to no test (and would outlive this one, tied to this version's migrations).
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
            // The test's server may still be winding down (its scheduler's last statements):
            // dropping its tables can then deadlock with them, and PostgreSQL cancels one side.
            // Try again after a moment.
            let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            let mut attempt = 0;
            loop {
                match sqlx::raw_sql(&drop).execute(&mut conn).await {
                    Ok(_) => break,
                    Err(sqlx::Error::Database(e))
                        if e.code().as_deref() == Some("40P01") && attempt < 5 =>
                    {
                        attempt += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                    Err(e) => panic!("dropping schema {schema}: {e}"),
                }
            }
            conn.close().await.unwrap();
        }
    }
}

/// A fake Slack Web API: records every call and answers `ok`; `users.lookupByEmail` and
/// `users.info` answer from the workspace's users (id, email), set with [`FakeSlack::add_user`].
#[derive(Debug, Clone, Default)]
pub struct FakeSlack {
    pub calls: Arc<Mutex<Vec<(String, Value)>>>,
    pub users: Arc<Mutex<Vec<(String, String)>>>,
}

impl FakeSlack {
    pub async fn start() -> (FakeSlack, String) {
        let fake = FakeSlack::default();
        let app = Router::new()
            .route("/api/{method}", post(slack_api))
            .route("/respond/{n}", post(slack_respond))
            .with_state(fake.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        (fake, format!("http://{addr}"))
    }

    /// A workspace user with this id and email.
    pub fn add_user(&self, id: &str, email: &str) {
        self.users
            .lock()
            .unwrap()
            .push((id.to_owned(), email.to_owned()));
    }

    pub fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().unwrap().clone()
    }

    pub fn of(&self, method: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|(m, _)| m == method)
            .map(|(_, v)| v)
            .collect()
    }

    /// Wait until some call to `method` satisfies `pred`.
    pub async fn wait_for(&self, method: &str, pred: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            if let Some(v) = self.of(method).into_iter().find(|v| pred(v)) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no `{method}` call matched; calls: {:#?}", self.calls());
    }
}

async fn slack_api(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    headers: axum::http::HeaderMap,
    raw: axum::body::Bytes,
) -> Json<Value> {
    // Write methods take JSON, read methods a form (as Slack's Web API accepts).
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body: Value = if form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&raw).unwrap();
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    } else {
        serde_json::from_slice(&raw).unwrap()
    };
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != "Bearer xoxb-test-token" {
        return Json(json!({"ok": false, "error": "not_authed"}));
    }
    let n = {
        let mut calls = fake.calls.lock().unwrap();
        calls.push((method.clone(), body.clone()));
        calls.len()
    };
    let users = fake.users.lock().unwrap().clone();
    let user = |id: &str, email: &str| json!({"ok": true, "user": {"id": id, "deleted": false, "profile": {"email": email}}});
    match method.as_str() {
        "users.lookupByEmail" => {
            let email = body["email"].as_str().unwrap_or_default();
            return Json(
                users
                    .iter()
                    .find(|(_, e)| e.eq_ignore_ascii_case(email))
                    .map_or_else(
                        || json!({"ok": false, "error": "users_not_found"}),
                        |(id, e)| user(id, e),
                    ),
            );
        }
        "users.info" => {
            let id = body["user"].as_str().unwrap_or_default();
            return Json(users.iter().find(|(i, _)| i == id).map_or_else(
                || json!({"ok": false, "error": "user_not_found"}),
                |(i, e)| user(i, e),
            ));
        }
        _ => {}
    }
    let channel = body.get("channel").cloned().unwrap_or(Value::Null);
    Json(json!({"ok": true, "channel": channel, "ts": format!("1800000000.{n:06}")}))
}

async fn slack_respond(
    State(fake): State<FakeSlack>,
    Path(n): Path<String>,
    Json(body): Json<Value>,
) -> Json<Value> {
    fake.calls
        .lock()
        .unwrap()
        .push((format!("respond/{n}"), body));
    Json(json!({"ok": true}))
}

/// A running server.
pub struct TestServer {
    pub url: String,
    pub metrics_url: String,
    pub handle: tokio::task::JoinHandle<()>,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start(
        config: Config,
        store: Arc<dyn Store>,
        cloud: Arc<FakeCloud>,
        clock: ManualClock,
    ) -> TestServer {
        TestServer::start_with_directory(config, store, cloud, clock, None).await
    }

    /// [`TestServer::start`], with people from `directory` too.
    pub async fn start_with_directory(
        config: Config,
        store: Arc<dyn Store>,
        cloud: Arc<FakeCloud>,
        clock: ManualClock,
        directory: Option<Arc<dyn latch_grant::directory::DirectorySource>>,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let metrics_url = format!("http://{}/metrics", metrics.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let settings = Settings {
            config,
            store,
            cloud,
            clock: Arc::new(clock),
            metrics_listener: Some(metrics),
            checkpoint_publishers: Vec::new(),
            directory,
        };
        let handle = tokio::spawn(async move {
            launch_with_tcp_listener(settings, listener, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            url,
            metrics_url,
            handle,
            stop: Some(tx),
            http: reqwest::Client::new(),
        }
    }

    /// Stop without any cleanup, as a crash would (the task is dropped where it stands).
    pub async fn kill(self) {
        self.handle.abort();
        let _ = self.handle.await;
        drop(self.http);
        // Let connection tasks notice their clients are gone.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        drop(self.http);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.handle).await;
    }

    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// POST a Slack request signed with `secret` at `ts` (seconds).
    pub async fn slack_post(&self, path: &str, body: &str, ts: i64, secret: &str) -> (u16, String) {
        let sig = latch_server::slack::sign(secret, &ts.to_string(), body.as_bytes());
        self.slack_post_with(path, body, &ts.to_string(), &sig)
            .await
    }

    pub async fn slack_post_with(
        &self,
        path: &str,
        body: &str,
        ts: &str,
        sig: &str,
    ) -> (u16, String) {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", sig)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

pub fn slash_body(user: &str, text: &str, respond_to: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "legacy-unused"),
        ("team_id", "T1"),
        ("command", "/latch"),
        ("text", text),
        ("user_id", user),
        ("response_url", respond_to),
        ("trigger_id", "1.2.3"),
    ])
    .unwrap()
}

pub fn click_body(user: &str, action: &str, request_id: &str, respond_to: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": user},
        "team": {"id": "T1"},
        "container": {"type": "message", "channel_id": "CAPPROVALS", "message_ts": "1800000000.000001"},
        "channel": {"id": "CAPPROVALS"},
        "response_url": respond_to,
        "actions": [{"action_id": action, "block_id": format!("latch:{request_id}"), "value": request_id, "type": "button"}]
    });
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

pub async fn token(store: &Arc<dyn Store>, subject: &str, role: Role) -> String {
    let (record, secret) = latch_server::http::mint_token(subject, role, T0).unwrap();
    store.create_token(&record).await.unwrap();
    secret
}

/// Poll `f` until it returns `Some`, for at most `ms` of real time.
pub async fn eventually<T, F, Fut>(ms: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if start.elapsed() > Duration::from_millis(ms) {
            panic!("timed out after {ms} ms waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn audit_kinds(store: &Arc<dyn Store>) -> Vec<String> {
    store
        .audit(0, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect()
}

pub fn test_config(slack_base: &str, server_id: &str) -> Config {
    let text =
        config_text(slack_base).replace("id = \"server-a\"", &format!("id = \"{server_id}\""));
    let mut c = Config::parse(&text, "test.toml", &|_| None).unwrap();
    c.poll_interval_ms = 50;
    c.lease_ttl_ms = 2_000;
    c
}

/// A fake Slack, a store on `backend`, an empty fake cloud and a manual clock at `T0`.
pub async fn setup(
    backend: &Backend,
) -> (
    FakeSlack,
    String,
    Arc<dyn Store>,
    Arc<FakeCloud>,
    ManualClock,
) {
    let (slack, slack_base) = FakeSlack::start().await;
    (
        slack,
        slack_base,
        backend.open().await,
        Arc::new(FakeCloud::new()),
        ManualClock::new(T0),
    )
}

/// A server named `id` over these parts, with the test configuration.
pub async fn start_server(
    slack_base: &str,
    id: &str,
    store: &Arc<dyn Store>,
    cloud: &Arc<FakeCloud>,
    clock: &ManualClock,
) -> TestServer {
    TestServer::start(
        test_config(slack_base, id),
        store.clone(),
        cloud.clone(),
        clock.clone(),
    )
    .await
}
