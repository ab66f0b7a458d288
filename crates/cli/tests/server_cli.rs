//! `latch serve` and the client commands as a user runs them: a real server process on
//! 127.0.0.1 over a SQLite file, driven by `latch token`, `request`, `approve`, `grants`,
//! `revoke` and `audit` (in-memory cloud); and `latch serve --cloud aws` end to end against the
//! moto emulator, on SQLite and on PostgreSQL (a fresh database per run): request → approve
//! with a signed Slack button → the tag is on the role in moto within a second → expiry removes
//! it; revoke with a session cut-off; the reconciler removes a stray tag; `kill -9` between
//! "approved" and "applied" and between "due" and "removed", at several delays, converges
//! after a restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use latch_aws::grants::{cutoff_of, parse_tag_value};
use latch_aws::testing::{self, build_org, iam_in, Moto};
use latch_contract::SESSION_CUTOFF_POLICY;
use serde_json::{json, Value};

fn latch(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latch"))
        .current_dir(dir)
        .env_remove("LATCH_SERVER")
        .env_remove("LATCH_TOKEN")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(port: u16) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
database = "latch.db"
break_glass = ["alice"]
firewall_config = "firewall.toml"

[identities.alice]
aws = "arn:aws:iam::111122223333:role/alice"
[identities.bob]
aws = "arn:aws:iam::111122223333:role/bob"

[bundles.iam-admin]
max_duration = "1h"
approvers = ["bob"]

[bundles.read-logs]
auto_approve = true
"#
    )
}

fn token(dir: &Path, database: &str, subject: &str, role: &str) -> String {
    let out = latch(
        dir,
        &[
            "token",
            "create",
            "--database",
            database,
            "--subject",
            subject,
            "--role",
            role,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().next().unwrap().to_owned()
}

#[test]
fn serve_request_approve_revoke_audit() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(dir.path().join("latch.toml"), config(port)).unwrap();
    std::fs::write(dir.path().join("firewall.toml"), FIREWALL).unwrap();
    let alice = token(dir.path(), "latch.db", "alice", "requester");
    let bob = token(dir.path(), "latch.db", "bob", "approver");
    let root = token(dir.path(), "latch.db", "root", "admin");
    assert!(alice.starts_with("latch_") && alice.len() == 70);

    let _server = Server {
        log: dir.path().join("serve.log"),
        child: Command::new(env!("CARGO_BIN_EXE_latch"))
            .current_dir(dir.path())
            .args(["serve", "--config", "latch.toml", "--cloud", "memory"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let c = |token: &str, args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--server", &url, "--token", token]);
        latch(dir.path(), &all)
    };

    let out = c(
        &alice,
        &[
            "request",
            "iam-admin",
            "30m",
            "incident",
            "4411",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["request"]["status"], "pending");
    assert_eq!(v["request"]["reason"], "incident 4411");
    let rid = v["request"]["id"].as_str().unwrap().to_owned();

    // alice cannot approve (role), bob can; the error names the reason.
    let out = c(&alice, &["approve", &rid]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("needs the `approver` role"),
        "{}",
        stderr(&out)
    );
    let out = c(&bob, &["approve", &rid, "--comment", "ok"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("is now approved, grant g-"),
        "{}",
        stdout(&out)
    );

    // Over-long: refused with the bundle's limit.
    let out = c(&alice, &["request", "iam-admin", "2h", "x"]);
    assert!(stderr(&out).contains("2h is longer than bundle `iam-admin` allows (at most 1h)"));

    // The grant becomes active (in-memory cloud); then alice revokes it.
    let mut active = String::new();
    for _ in 0..100 {
        let out = c(&alice, &["grants", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if let Some(g) = v["grants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["status"] == "active")
        {
            active = g["id"].as_str().unwrap().to_owned();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!active.is_empty(), "grant never became active");
    let out = c(&bob, &["grants"]);
    let table = stdout(&out);
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table.contains(&active) && table.contains("iam-admin"),
        "{table}"
    );
    let out = c(
        &alice,
        &["revoke", &active, "--reason", "done", "--cut-sessions"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // The confirmation states the cut-off's reach: every session of the identity, not the grant.
    assert!(
        stdout(&out).contains(
            "also ends every session of arn:aws:iam::111122223333:role/alice issued before"
        ) && stdout(&out).contains("not only this grant"),
        "{}",
        stdout(&out)
    );

    // Audit: verify through the server and from the database; export; tamper; detect.
    let out = c(&root, &["audit", "verify"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("intact: "), "{}", stdout(&out));
    let out = latch(
        dir.path(),
        &[
            "audit",
            "export",
            "--database",
            "latch.db",
            "--output",
            "audit.jsonl",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(text.lines().count() >= 8);
    assert!(
        text.contains("\"kind\":\"approval.refused\"") || text.contains("\"kind\":\"api.refused\"")
    );
    let tampered = text.replacen("incident 4411", "incident 9999", 1);
    assert_ne!(tampered, text);
    std::fs::write(dir.path().join("tampered.jsonl"), tampered).unwrap();
    let out = latch(dir.path(), &["audit", "verify", "--file", "tampered.jsonl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("the entry was edited"),
        "{}",
        stdout(&out)
    );
    let out = latch(
        dir.path(),
        &[
            "audit",
            "verify",
            "--file",
            "audit.jsonl",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intact"], true);

    // A revoked token stops working at once.
    let list = latch(dir.path(), &["token", "list", "--database", "latch.db"]);
    let alice_id = stdout(&list)
        .lines()
        .find(|l| l.contains(" alice "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let out = latch(
        dir.path(),
        &["token", "revoke", "--database", "latch.db", &alice_id],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = c(&alice, &["grants"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("this token was revoked"),
        "{}",
        stderr(&out)
    );
    let out = latch(
        dir.path(),
        &["token", "revoke", "--database", "latch.db", &alice_id],
    );
    assert!(stderr(&out).contains("no live token"), "{}", stderr(&out));
}

const SECRET: &str = "serve-aws-signing-secret";

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A `latch serve` process; killed with SIGKILL when dropped.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(dir: &Path, port: u16, moto: &Moto, n: usize) -> Server {
        let log = dir.join(format!("serve-{n}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_latch"))
            .current_dir(dir)
            .envs(moto.env())
            .env("RUST_LOG", "info")
            .args(["serve", "--config", "latch.toml"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut s = Server { child, log };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("latch serve exited ({status}): {}", s.log_text());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "server did not start: {}",
                s.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`: no cleanup at all.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Ctx {
    dir: tempfile::TempDir,
    port: u16,
    url: String,
    http: reqwest::Client,
    iam: aws_sdk_iam::Client,
    alice_arn: String,
    carol_arn: String,
    alice: String,
    bob: String,
    root: String,
    starts: usize,
}

impl Ctx {
    async fn api(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }

    async fn request(&self, token: &str, bundle: &str, duration: &str) -> Value {
        self.api(
            "POST",
            "/api/v1/requests",
            token,
            Some(json!({"bundle": bundle, "duration": duration, "reason": "e2e"})),
        )
        .await
    }

    /// bob presses Approve in Slack: a block_actions payload signed like Slack signs it.
    async fn slack_approve(&self, request_id: &str) {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": "UBOB"},
            "actions": [{"action_id": "latch_approve", "value": request_id, "type": "button"}],
        });
        let mut form = reqwest::Url::parse("http://form.invalid/").unwrap();
        form.query_pairs_mut()
            .append_pair("payload", &payload.to_string());
        let body = form.query().unwrap().to_owned();
        let ts = (now_ms() / 1000).to_string();
        let sig = latch_server::slack::sign(SECRET, &ts, body.as_bytes());
        let resp = self
            .http
            .post(format!("{}/slack/interactions", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }

    async fn grant(&self, id: &str) -> Value {
        self.api("GET", &format!("/api/v1/grants/{id}"), &self.root, None)
            .await["grant"]
            .clone()
    }

    /// The grant a request led to (once decided).
    async fn grant_of(&self, request_id: &str) -> Value {
        eventually(5000, "grant of the request", || async {
            let v = self
                .api("GET", "/api/v1/grants?status=all", &self.root, None)
                .await;
            v["grants"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["request_id"] == request_id)
                .cloned()
        })
        .await
    }

    async fn tags(&self, arn: &str) -> Vec<(String, String)> {
        let name = arn.rsplit('/').next().unwrap();
        let tags = if arn.contains(":role/") {
            let out = self.iam.list_role_tags().role_name(name).send().await;
            out.unwrap().tags().to_vec()
        } else {
            let out = self.iam.list_user_tags().user_name(name).send().await;
            out.unwrap().tags().to_vec()
        };
        tags.into_iter()
            .filter(|t| t.key.starts_with("latch:"))
            .map(|t| (t.key, t.value))
            .collect()
    }

    /// The grant id `latch:grant:<bundle>` names on `arn`, if the tag is there.
    async fn tag(&self, arn: &str, bundle: &str) -> Option<String> {
        let key = format!("latch:grant:{bundle}");
        self.tags(arn)
            .await
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| parse_tag_value(&v).0)
    }

    fn start(&mut self, moto: &Moto) -> Server {
        self.starts += 1;
        Server::start(self.dir.path(), self.port, moto, self.starts)
    }
}

async fn eventually<T, F, Fut>(ms: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_millis(ms),
            "timed out after {ms} ms waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn aws_config(port: u16, database: &str, endpoint: &str, alice: &str, carol: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
database = "{database}"
lease_ttl = "2s"
poll_interval = "1s"

[slack]
signing_secret = "{SECRET}"
bot_token = "xoxb-unused"
api_base = "http://127.0.0.1:9/api"

[aws]
endpoint_url = "{endpoint}"
region = "us-east-1"
max_attempts = 1

[identities.alice]
slack = "UALICE"
aws = "{alice}"
[identities.bob]
slack = "UBOB"
aws = "arn:aws:iam::111122223333:role/bob"
[identities.carol]
slack = "UCAROL"
aws = "{carol}"

[bundles.iam-admin]
max_duration = "1h"
approvers = ["bob"]

[bundles.read-logs]
auto_approve = true

[offers]
firewall_config = "firewall.toml"
"#
    )
}

/// The firewall's configuration, which says which actions each bundle holds.
const FIREWALL: &str = r#"
[bundles.iam-admin]
actions = ["iam:CreateAccessKey", "iam:Attach*"]

[bundles.read-logs]
actions = ["logs:GetLogEvents"]
"#;

fn postgres_base() -> String {
    std::env::var("LATCH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn pg_exec(sql: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(&postgres_base()).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

async fn story(database: &str) {
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let aws = moto.aws();
    let fx = build_org(&aws).await.unwrap();
    let iam = iam_in(&aws, &fx.app_prod).await.unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name("alice")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.create_user().user_name("carol").send().await.unwrap();
    let alice_arn = format!("arn:aws:iam::{}:role/alice", fx.app_prod);
    let carol_arn = format!("arn:aws:iam::{}:user/carol", fx.app_prod);

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("latch.toml"),
        aws_config(port, database, &moto.endpoint, &alice_arn, &carol_arn),
    )
    .unwrap();
    std::fs::write(dir.path().join("firewall.toml"), FIREWALL).unwrap();
    let alice = token(dir.path(), database, "alice", "requester");
    let bob = token(dir.path(), database, "bob", "approver");
    let root = token(dir.path(), database, "root", "admin");
    let carol = token(dir.path(), database, "carol", "requester");
    let mut ctx = Ctx {
        dir,
        port,
        url: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
        iam,
        alice_arn,
        carol_arn,
        alice,
        bob,
        root,
        starts: 0,
    };
    let server = ctx.start(moto);

    // 1. request → approve in Slack → the tag is on the role in moto within a second.
    let r = ctx.request(&ctx.alice, "iam-admin", "4s").await;
    assert_eq!(r["request"]["status"], "pending", "{r}");
    let rid = r["request"]["id"].as_str().unwrap().to_owned();
    ctx.slack_approve(&rid).await;
    let approved = Instant::now();
    let g = ctx.grant_of(&rid).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    eventually(1000, "grant tag on alice's role in moto", || async {
        (ctx.tag(&ctx.alice_arn, "iam-admin").await.as_deref() == Some(gid.as_str())).then_some(())
    })
    .await;
    assert!(approved.elapsed() < Duration::from_secs(1));
    let value = ctx.tags(&ctx.alice_arn).await[0].1.clone();
    let expires_ms = ctx.grant(&gid).await["expires_at_ms"].as_i64().unwrap();
    assert_eq!(
        parse_tag_value(&value).1,
        Some(expires_ms / 1000 * 1000),
        "{value}"
    );

    // 2. expiry: the tag is gone shortly after the grant falls due.
    eventually(8000, "tag removed at expiry", || async {
        ctx.tag(&ctx.alice_arn, "iam-admin")
            .await
            .is_none()
            .then_some(())
    })
    .await;
    assert!(now_ms() >= expires_ms, "removed before it was due");
    assert!(
        now_ms() - expires_ms < 1500,
        "removed late: {} ms",
        now_ms() - expires_ms
    );
    eventually(2000, "grant expired", || async {
        (ctx.grant(&gid).await["status"] == "expired").then_some(())
    })
    .await;

    // 3. revoke with a session cut-off: tag gone, cut-off policy on the user.
    let r = ctx.request(&carol, "read-logs", "10m").await;
    let gid = r["grant"]["id"].as_str().unwrap().to_owned();
    eventually(2000, "auto-approved grant on carol", || async {
        (ctx.tag(&ctx.carol_arn, "read-logs").await.as_deref() == Some(gid.as_str())).then_some(())
    })
    .await;
    let before = now_ms();
    ctx.api(
        "POST",
        &format!("/api/v1/grants/{gid}/revoke"),
        &ctx.root,
        Some(json!({"reason": "done", "cut_sessions": true})),
    )
    .await;
    eventually(2000, "grant revoked", || async {
        (ctx.grant(&gid).await["status"] == "revoked").then_some(())
    })
    .await;
    assert_eq!(ctx.tag(&ctx.carol_arn, "read-logs").await, None);
    let doc = ctx
        .iam
        .get_user_policy()
        .user_name("carol")
        .policy_name(SESSION_CUTOFF_POLICY)
        .send()
        .await
        .unwrap();
    let cutoff = cutoff_of(doc.policy_document()).unwrap();
    assert!(
        cutoff >= before && cutoff <= now_ms() + 1000,
        "{cutoff} vs {before}"
    );

    // 4. the reconciler removes a stray tag no grant explains, and audits it.
    let stray = aws_sdk_iam::types::Tag::builder()
        .key("latch:grant:iam-admin")
        .value("g-stray expires=2030-01-01T00:00:00Z")
        .build()
        .unwrap();
    ctx.iam
        .tag_role()
        .role_name("alice")
        .tags(stray)
        .send()
        .await
        .unwrap();
    ctx.api("POST", "/api/v1/reconcile", &ctx.root, None).await;
    eventually(3000, "stray tag removed", || async {
        ctx.tag(&ctx.alice_arn, "iam-admin")
            .await
            .is_none()
            .then_some(())
    })
    .await;
    // The tag goes first, then the audit entry records it: wait for the entry too.
    eventually(3000, "the removal in the audit log", || async {
        let audit = ctx
            .api("GET", "/api/v1/audit?limit=0", &ctx.root, None)
            .await;
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "drift.tag_removed" && e["details"]["grant_id"] == "g-stray")
            .then_some(())
    })
    .await;

    // 5. kill -9 between "approved" and "applied", at several delays: after a restart the
    //    grant is active and the tag names it.
    let mut server = Some(server);
    for delay_ms in [0u64, 5, 40] {
        let r = ctx.request(&ctx.alice, "iam-admin", "10m").await;
        let rid = r["request"]["id"].as_str().unwrap().to_owned();
        ctx.api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &ctx.bob,
            None,
        )
        .await;
        std::thread::sleep(Duration::from_millis(delay_ms));
        server.take().unwrap().kill();
        server = Some(ctx.start(moto));
        let g = ctx.grant_of(&rid).await;
        let gid = g["id"].as_str().unwrap().to_owned();
        eventually(6000, "grant active after restart", || async {
            (ctx.grant(&gid).await["status"] == "active").then_some(())
        })
        .await;
        assert_eq!(
            ctx.tag(&ctx.alice_arn, "iam-admin").await.as_deref(),
            Some(gid.as_str()),
            "delay {delay_ms} ms"
        );
        ctx.api(
            "POST",
            &format!("/api/v1/grants/{gid}/revoke"),
            &ctx.root,
            Some(json!({"cut_sessions": false})),
        )
        .await;
        eventually(3000, "revoked", || async {
            ctx.tag(&ctx.alice_arn, "iam-admin")
                .await
                .is_none()
                .then_some(())
        })
        .await;
    }

    // 6. kill -9 around the moment a grant falls due: after a restart it is expired and the
    //    tag is gone.
    for offset_ms in [-30i64, 0, 20] {
        let r = ctx.request(&ctx.alice, "iam-admin", "2s").await;
        let rid = r["request"]["id"].as_str().unwrap().to_owned();
        ctx.slack_approve(&rid).await;
        let g = ctx.grant_of(&rid).await;
        let gid = g["id"].as_str().unwrap().to_owned();
        eventually(2000, "applied", || async {
            (ctx.tag(&ctx.alice_arn, "iam-admin").await.as_deref() == Some(gid.as_str()))
                .then_some(())
        })
        .await;
        let due = ctx.grant(&gid).await["expires_at_ms"].as_i64().unwrap();
        let wait = due + offset_ms - now_ms();
        if wait > 0 {
            std::thread::sleep(Duration::from_millis(u64::try_from(wait).unwrap()));
        }
        server.take().unwrap().kill();
        server = Some(ctx.start(moto));
        eventually(6000, "grant expired after restart", || async {
            (ctx.grant(&gid).await["status"] == "expired").then_some(())
        })
        .await;
        assert_eq!(
            ctx.tag(&ctx.alice_arn, "iam-admin").await,
            None,
            "offset {offset_ms} ms"
        );
    }

    // 7. a denial in the usage feed becomes an offer of the bundle the firewall's
    //    configuration says holds the action (the DM itself goes to a Slack that is not there).
    let record = json!({"detail": {
        "eventTime": "2027-01-15T08:00:00Z", "eventSource": "iam.amazonaws.com",
        "eventName": "AttachRolePolicy", "errorCode": "AccessDenied",
        "userIdentity": {"type": "AssumedRole", "accountId": fx.app_prod,
            "arn": format!("arn:aws:sts::{}:assumed-role/alice/s", fx.app_prod),
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": ctx.alice_arn}}}}});
    let v = ctx
        .api("POST", "/api/v1/events", &ctx.root, Some(record))
        .await;
    assert_eq!(v["offers"][0]["person"], "alice", "{v}");
    assert_eq!(v["offers"][0]["bundle"], "iam-admin", "{v}");
    assert_eq!(v["offers"][0]["action"], "iam:AttachRolePolicy", "{v}");

    // Nothing orphaned: no live grant, no grant tag; the audit chain is intact.
    let live = ctx.api("GET", "/api/v1/grants", &ctx.root, None).await;
    assert_eq!(live["grants"].as_array().unwrap().len(), 0, "{live}");
    assert!(ctx.tags(&ctx.alice_arn).await.is_empty());
    assert!(ctx.tags(&ctx.carol_arn).await.is_empty());
    let v = ctx
        .api("GET", "/api/v1/audit/verify", &ctx.root, None)
        .await;
    assert_eq!(v["intact"], true, "{v}");
    let log = server.as_ref().unwrap().log_text();
    assert!(log.contains("grants land on AWS"), "{log}");
    server.take().unwrap().kill();
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

#[test]
fn sqlite() {
    let _guard = testing::lock();
    rt().block_on(story("latch.db"));
}

#[test]
fn postgres() {
    let _guard = testing::lock();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let db = format!("latch_serve_aws_{}_{nanos}", std::process::id());
    let rt = rt();
    rt.block_on(pg_exec(&format!("CREATE DATABASE \"{db}\"")));
    let base = postgres_base();
    let url = format!("{}/{db}", base.rsplit_once('/').unwrap().0);
    rt.block_on(story(&url));
    rt.block_on(pg_exec(&format!(
        "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
    )));
}

#[test]
fn without_aws_the_cloud_must_be_chosen() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("latch.toml"),
        "[server]\nlisten = \"127.0.0.1:1\"\n[identities.a]\naws = \"arn:aws:iam::111122223333:role/a\"\n",
    )
    .unwrap();
    let out = latch(dir.path(), &["serve", "--config", "latch.toml"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no [aws] section") && err.contains("--cloud memory"),
        "{err}"
    );
}
