//! `latch doctor` through the binary: every failure mode it reports, against a real database,
//! a running `latch serve`, fake Slack, Teams and OpenID Connect endpoints, and the moto AWS
//! emulator with the control-plane and member roles created in it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::Json;
use latch_aws::testing::{self, build_org, iam_in};
use serde_json::{json, Value};

fn latch(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latch"));
    cmd.current_dir(dir)
        .env_remove("LATCH_SERVER")
        .env_remove("LATCH_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("LATCH_OIDC_SECRET", "oidc-client-secret")
        .env("LATCH_SIEM_SECRET", "siem-hmac-key")
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `latch doctor --format json` with `args`: the exit code and each check's status by name
/// (a name checked several times keeps its worst), with the whole answer.
fn doctor(dir: &Path, args: &[&str], env: &[(&str, String)]) -> (i32, Value) {
    let mut all = vec!["doctor", "--config", "latch.toml", "--format", "json"];
    all.extend(args);
    let out = latch(dir, &all, env);
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    (out.status.code().unwrap(), v)
}

fn status<'a>(v: &'a Value, check: &str) -> &'a str {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .and_then(|c| c["status"].as_str())
        .unwrap_or_else(|| panic!("no check `{check}` in {v:#}"))
}

fn detail(v: &Value, check: &str) -> String {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == check)
        .map(|c| {
            format!(
                "{} {}",
                c["detail"].as_str().unwrap(),
                c["fix"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fake Slack Web API (`auth.test`), Teams token endpoint and OpenID Connect provider on one
/// port; `slack_ok` and `teams_ok` say whether they accept the credentials.
struct Fakes {
    base: String,
    slack_ok: Arc<AtomicBool>,
    teams_ok: Arc<AtomicBool>,
    _rt: tokio::runtime::Runtime,
}

fn fakes() -> Fakes {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let slack_ok = Arc::new(AtomicBool::new(true));
    let teams_ok = Arc::new(AtomicBool::new(true));
    let keys: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../server/tests/fixtures/teams-test-keys.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // The test key's public half ({"test": {"n", "e"}, ...}) as a JWKS document.
    let keys = json!({"keys": [{"kid": "test", "kty": "RSA", "use": "sig",
                                "n": keys["test"]["n"], "e": keys["test"]["e"]}]});
    let (s, t, issuer) = (Arc::clone(&slack_ok), Arc::clone(&teams_ok), base.clone());
    let app = axum::Router::new()
        .route(
            "/slack/auth.test",
            post(move || {
                let ok = s.load(Ordering::SeqCst);
                async move {
                    Json(if ok {
                        json!({"ok": true, "team": "Acme", "user": "latch"})
                    } else {
                        json!({"ok": false, "error": "invalid_auth"})
                    })
                }
            }),
        )
        .route(
            "/teams/token",
            post(move || {
                let ok = t.load(Ordering::SeqCst);
                async move {
                    if ok {
                        (
                            axum::http::StatusCode::OK,
                            Json(json!({"access_token": "t", "expires_in": 3600, "token_type": "Bearer"})),
                        )
                    } else {
                        (
                            axum::http::StatusCode::UNAUTHORIZED,
                            Json(json!({"error": "invalid_client"})),
                        )
                    }
                }
            }),
        )
        .route(
            "/idp/.well-known/openid-configuration",
            get(move || {
                let issuer = format!("{issuer}/idp");
                async move {
                    Json(json!({
                        "issuer": issuer,
                        "authorization_endpoint": format!("{issuer}/authorize"),
                        "token_endpoint": format!("{issuer}/token"),
                        "jwks_uri": format!("{issuer}/jwks"),
                    }))
                }
            }),
        )
        .route("/idp/jwks", get(move || async move { Json(keys) }));
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fakes {
        base,
        slack_ok,
        teams_ok,
        _rt: rt,
    }
}

const FIREWALL: &str = r#"
[bundles.iam-admin]
actions = ["iam:CreateAccessKey", "iam:Attach*"]
"#;

fn config(port: u16, fakes: &Fakes, issuer: &str, aws: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
database = "latch.db"
firewall_config = "firewall.toml"

[identities.alice]
aws = "arn:aws:iam::111122223333:role/alice"
[identities.bob]
aws = "arn:aws:iam::111122223333:role/bob"

[bundles.iam-admin]
max_duration = "1h"
approvers = ["bob"]

[slack]
signing_secret = "s3cret"
bot_token = "xoxb-1"
api_base = "{base}/slack"

[teams]
app_id = "00000000-0000-0000-0000-000000000000"
tenant = "11111111-1111-1111-1111-111111111111"
app_secret = "teams-secret"
token_url = "{base}/teams/token"

[web]
public_url = "http://127.0.0.1:{port}"
[web.oidc]
issuer = "{issuer}"
client_id = "latch"
client_secret_env = "LATCH_OIDC_SECRET"

[offers]
duration = "30m"

[[siem]]
name = "soc"
to = "webhook"
url = "http://127.0.0.1:9/siem"
secret_env = "LATCH_SIEM_SECRET"
{aws}
"#,
        base = fakes.base
    )
}

/// A new token's secret.
fn token(dir: &Path, subject: &str, role: &str) -> String {
    let out = latch(
        dir,
        &[
            "token",
            "create",
            "--database",
            "latch.db",
            "--subject",
            subject,
            "--role",
            role,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

/// A call of moto's JSON protocol (SQS is `1.0`, EventBridge `1.1`), unsigned: the SDK has no
/// client for them in this workspace, and moto needs none.
async fn moto_json(endpoint: &str, target: &str, version: &str, body: Value) -> Value {
    let r = ::reqwest::Client::new()
        .post(endpoint)
        .header("x-amz-target", target)
        .header("content-type", format!("application/x-amz-json-{version}"))
        // moto routes by the service the credential scope names.
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=0",
                if target.starts_with("AmazonSQS") { "sqs" } else { "events" }
            ),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{target}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_latch"))
        .current_dir(dir)
        .env("LATCH_OIDC_SECRET", "oidc-client-secret")
        .env("LATCH_SIEM_SECRET", "siem-hmac-key")
        .args(["serve", "--config", "latch.toml", "--cloud", "memory"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let start = Instant::now();
    loop {
        let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && reqwest::blocking_get(&format!("http://127.0.0.1:{port}/readyz"));
        if ready {
            return server;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Just enough of a blocking GET for readiness, without a blocking HTTP client.
mod reqwest {
    pub fn blocking_get(url: &str) -> bool {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            ::reqwest::get(url)
                .await
                .is_ok_and(|r| r.status().is_success())
        })
    }
}

#[test]
fn doctor_reports_each_local_failure_and_passes_a_sound_installation() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let f = fakes();
    let issuer = format!("{}/idp", f.base);
    std::fs::write(dir.path().join("firewall.toml"), FIREWALL).unwrap();
    std::fs::write(dir.path().join("latch.toml"), config(port, &f, &issuer, "")).unwrap();

    // A configuration that does not load: nothing else is checked.
    std::fs::write(dir.path().join("broken.toml"), "[server\n").unwrap();
    let out = latch(
        dir.path(),
        &["doctor", "--config", "broken.toml", "--format", "json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["checks"].as_array().unwrap().len(), 1, "{v:#}");
    assert_eq!(status(&v, "config"), "fail");

    // No database yet: it is not created by looking.
    let (code, v) = doctor(dir.path(), &["--no-aws"], &[]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(status(&v, "config"), "ok");
    assert_eq!(status(&v, "database"), "fail");
    assert!(detail(&v, "database").contains("no such file"), "{v:#}");
    assert!(!dir.path().join("latch.db").exists());
    assert_eq!(status(&v, "aws"), "skip");
    // The chat platforms and the provider are checked whatever the database says.
    assert_eq!(status(&v, "slack"), "ok");
    assert!(detail(&v, "slack").contains("latch in Acme"), "{v:#}");
    assert_eq!(status(&v, "teams"), "ok");
    assert_eq!(status(&v, "sign-in"), "ok");
    assert_eq!(status(&v, "server"), "warn");

    // A database with an admin token, no ingest token, no server: warnings only.
    let _ = token(dir.path(), "root", "admin");
    let (code, v) = doctor(dir.path(), &["--no-aws"], &[]);
    assert_eq!(code, 1, "{v:#}");
    for check in [
        "database",
        "database files",
        "audit chain",
        "tokens",
        "siem",
    ] {
        assert_eq!(status(&v, check), "ok", "{check}: {v:#}");
    }
    assert_eq!(status(&v, "denial pipeline"), "warn");
    assert!(
        detail(&v, "denial pipeline").contains("--role ingest"),
        "{v:#}"
    );
    assert_eq!(status(&v, "server"), "warn");
    assert!(detail(&v, "server").contains("nothing answers"), "{v:#}");
    // A SIEM sink that has not taken the entries yet, held to a lag of 0.
    let (_, v) = doctor(dir.path(), &["--no-aws", "--siem-lag", "0"], &[]);
    assert_eq!(status(&v, "siem"), "warn");
    assert!(
        detail(&v, "siem").contains("`soc`: 0 of 1 entries delivered"),
        "{v:#}"
    );

    // The ingest token and a running server: everything passes.
    let _ = token(dir.path(), "eventbridge", "ingest");
    {
        let _server = serve(dir.path(), port);
        let (code, v) = doctor(dir.path(), &["--no-aws"], &[]);
        assert_eq!(code, 0, "{v:#}");
        assert_eq!(status(&v, "server"), "ok");
        assert_eq!(status(&v, "denial pipeline"), "ok");
        // The table, for people.
        let out = latch(
            dir.path(),
            &["doctor", "--config", "latch.toml", "--no-aws"],
            &[],
        );
        let table = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(table.starts_with("CHECK"), "{table}");
        assert!(table.contains("passed, 0 warned, 0 failed"), "{table}");
    }

    // Credentials the platforms refuse, an unreachable provider.
    f.slack_ok.store(false, Ordering::SeqCst);
    f.teams_ok.store(false, Ordering::SeqCst);
    let gone = format!("http://127.0.0.1:{}/idp", free_port());
    std::fs::write(dir.path().join("latch.toml"), config(port, &f, &gone, "")).unwrap();
    let (code, v) = doctor(dir.path(), &["--no-aws"], &[]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(status(&v, "slack"), "fail");
    assert!(detail(&v, "slack").contains("invalid_auth"), "{v:#}");
    assert_eq!(status(&v, "teams"), "fail");
    assert!(detail(&v, "teams").contains("401"), "{v:#}");
    assert!(!detail(&v, "teams").contains("teams-secret"), "{v:#}");
    assert_eq!(status(&v, "sign-in"), "fail");
    assert!(detail(&v, "sign-in").contains("unreachable"), "{v:#}");
    std::fs::write(dir.path().join("latch.toml"), config(port, &f, &issuer, "")).unwrap();
    f.slack_ok.store(true, Ordering::SeqCst);
    f.teams_ok.store(true, Ordering::SeqCst);

    // An edited audit entry.
    let db = dir.path().join("latch.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = latch_store::SqliteStore::open(&db).await.unwrap();
        store
            .execute_raw("DROP TRIGGER IF EXISTS audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
            .await
            .unwrap();
    });
    let (code, v) = doctor(dir.path(), &["--no-aws"], &[]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(status(&v, "audit chain"), "fail");
    assert!(
        detail(&v, "audit chain").contains("latch audit verify"),
        "{v:#}"
    );

    // A migration this database lacks: reported, not applied, and nothing opened.
    rt.block_on(async {
        let store = latch_store::SqliteStore::open(&db).await.unwrap();
        store
            .execute_raw("DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
            .await
            .unwrap();
    });
    let (code, v) = doctor(dir.path(), &["--no-aws"], &[]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(status(&v, "database"), "warn");
    assert!(detail(&v, "database").contains("lacks 1 of"), "{v:#}");
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["check"] != "audit chain"),
        "{v:#}"
    );
    let (code, v) = doctor(dir.path(), &["--no-aws"], &[]);
    assert_eq!(
        (code, status(&v, "database")),
        (1, "warn"),
        "looking changed nothing"
    );
}

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const TRUST_ANYONE_HERE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;

#[test]
fn doctor_checks_the_aws_identity_its_permissions_and_the_member_role() {
    let _guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let aws = moto.aws();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fx = rt.block_on(build_org(&aws)).unwrap();
    // The control-plane role in the management account, and the member role in each member
    // account (the installation's templates give them far less; the engine's view of the
    // templates is tested elsewhere — here what matters is what the doctor reads and says).
    let mgmt_iam = latch_aws::Aws::iam(aws.sdk_config());
    let policy_of = |deny: Option<&str>| match deny {
        None => ALLOW_ALL.to_owned(),
        Some(action) => json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": action, "Resource": "*"}]})
        .to_string(),
    };
    rt.block_on(async {
        mgmt_iam
            .create_role()
            .role_name("latch-control-plane")
            .assume_role_policy_document(TRUST_ANYONE_HERE)
            .send()
            .await
            .unwrap();
        mgmt_iam
            .put_role_policy()
            .role_name("latch-control-plane")
            .policy_name("latch")
            .policy_document(policy_of(None))
            .send()
            .await
            .unwrap();
        for account in [&fx.app_prod, &fx.app_dev, &fx.sandbox] {
            let iam = iam_in(&aws, account).await.unwrap();
            iam.create_role()
                .role_name("latch-control-plane")
                .assume_role_policy_document(TRUST_ANYONE_HERE)
                .send()
                .await
                .unwrap();
            let deny = (account == &fx.app_dev).then_some("iam:PutRolePolicy");
            iam.put_role_policy()
                .role_name("latch-control-plane")
                .policy_name("latch")
                .policy_document(policy_of(deny))
                .send()
                .await
                .unwrap();
        }
    });
    // Run as the control-plane role, through the default credential chain.
    let session = rt.block_on(async {
        aws.sts()
            .assume_role()
            .role_arn(format!(
                "arn:aws:iam::{}:role/latch-control-plane",
                fx.management
            ))
            .role_session_name("doctor-test")
            .send()
            .await
            .unwrap()
    });
    let creds = session.credentials().unwrap();
    let mut env: Vec<(&str, String)> = moto.env().into_iter().collect();
    env.retain(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"));
    env.push(("AWS_ACCESS_KEY_ID", creds.access_key_id().to_owned()));
    env.push((
        "AWS_SECRET_ACCESS_KEY",
        creds.secret_access_key().to_owned(),
    ));
    env.push(("AWS_SESSION_TOKEN", creds.session_token().to_owned()));

    let dir = tempfile::tempdir().unwrap();
    let f = fakes();
    let issuer = format!("{}/idp", f.base);
    let aws_section = format!(
        "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\nmember_role = \"latch-control-plane\"\nmax_attempts = 1\n",
        moto.endpoint
    );
    let port = free_port();
    std::fs::write(dir.path().join("firewall.toml"), FIREWALL).unwrap();
    std::fs::write(
        dir.path().join("latch.toml"),
        config(port, &f, &issuer, &aws_section),
    )
    .unwrap();
    let _ = token(dir.path(), "root", "admin");

    let (code, v) = doctor(dir.path(), &[], &env);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(status(&v, "aws identity"), "ok", "{v:#}");
    assert!(
        detail(&v, "aws identity").contains(&format!(
            "arn:aws:sts::{}:assumed-role/latch-control-plane/doctor-test",
            fx.management
        )),
        "{v:#}"
    );
    assert!(
        detail(&v, "aws identity").contains("region us-east-1"),
        "{v:#}"
    );
    assert_eq!(status(&v, "clock"), "ok", "{v:#}");
    assert_eq!(status(&v, "aws permissions"), "ok", "{v:#}");
    // app-dev's member role may not write the session cut-off policy; the others pass.
    assert_eq!(status(&v, "member role"), "fail", "{v:#}");
    let member = detail(&v, "member role");
    assert!(
        member.contains(&format!("{}: not allowed iam:PutRolePolicy", fx.app_dev)),
        "{member}"
    );
    assert!(member.contains("1 of 3 account(s)"), "{member}");

    // The control-plane role may not tag roles: named, with the resource.
    rt.block_on(async {
        mgmt_iam
            .put_role_policy()
            .role_name("latch-control-plane")
            .policy_name("latch")
            .policy_document(policy_of(Some("iam:TagRole")))
            .send()
            .await
            .unwrap();
    });
    let (code, v) = doctor(dir.path(), &[], &env);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(status(&v, "aws permissions"), "fail", "{v:#}");
    let perms = detail(&v, "aws permissions");
    assert!(
        perms.contains(&format!(
            "iam:TagRole on arn:aws:iam::{}:role/app",
            fx.management
        )),
        "{perms}"
    );
    assert!(!perms.contains("iam:TagUser"), "{perms}");

    // The denial pipeline, end to end. moto's EventBridge matches the rule and delivers to an
    // SQS queue, but does not post to API destinations with their connection's header: a relay
    // here plays the API destination (the queue's events posted to /api/v1/events with the
    // ingest token), everything else is the real path.
    let ingest = token(dir.path(), "eventbridge", "ingest");
    let endpoint = moto.endpoint.clone();
    let queue_url = rt.block_on(async {
        let q = moto_json(&endpoint, "AmazonSQS.CreateQueue", "1.0", json!({"QueueName": "relay"})).await;
        moto_json(&endpoint, "AWSEvents.CreateEventBus", "1.1", json!({"Name": "latch-denials"})).await;
        moto_json(
            &endpoint,
            "AWSEvents.PutRule",
            "1.1",
            json!({"Name": "to-latch", "EventBusName": "latch-denials",
                   "EventPattern": json!({"detail-type": ["AWS API Call via CloudTrail"]}).to_string()}),
        )
        .await;
        moto_json(
            &endpoint,
            "AWSEvents.PutTargets",
            "1.1",
            json!({"Rule": "to-latch", "EventBusName": "latch-denials",
                   "Targets": [{"Id": "relay", "Arn": format!("arn:aws:sqs:us-east-1:{}:relay", fx.management)}]}),
        )
        .await;
        q["QueueUrl"].as_str().unwrap().to_owned()
    });
    // Nothing carries the probe to the server yet: it never arrives.
    let (code, v) = doctor(
        dir.path(),
        &["--probe-bus", "latch-denials", "--probe-timeout", "2"],
        &env,
    );
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(status(&v, "pipeline probe"), "fail", "{v:#}");
    assert!(
        detail(&v, "pipeline probe").contains("did not reach the server within 2 s"),
        "{v:#}"
    );
    // A bus that does not exist.
    let (_, v) = doctor(
        dir.path(),
        &["--probe-bus", "no-such-bus", "--probe-timeout", "2"],
        &env,
    );
    assert_eq!(status(&v, "pipeline probe"), "fail", "{v:#}");
    assert!(
        detail(&v, "pipeline probe").contains("events:PutEvents (no-such-bus)"),
        "{v:#}"
    );
    {
        let _server = serve(dir.path(), port);
        let stop = Arc::new(AtomicBool::new(false));
        let relay = {
            let (stop, endpoint, events) = (
                Arc::clone(&stop),
                endpoint.clone(),
                format!("http://127.0.0.1:{port}/api/v1/events"),
            );
            std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                rt.block_on(async {
                    let http = ::reqwest::Client::new();
                    while !stop.load(Ordering::SeqCst) {
                        let got = moto_json(
                            &endpoint,
                            "AmazonSQS.ReceiveMessage",
                            "1.0",
                            json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
                        )
                        .await;
                        for m in got["Messages"].as_array().into_iter().flatten() {
                            let r = http
                                .post(&events)
                                .bearer_auth(&ingest)
                                .header("content-type", "application/json")
                                .body(m["Body"].as_str().unwrap().to_owned())
                                .send()
                                .await
                                .unwrap();
                            assert_eq!(r.status().as_u16(), 202, "{}", r.text().await.unwrap());
                            moto_json(
                                &endpoint,
                                "AmazonSQS.DeleteMessage",
                                "1.0",
                                json!({"QueueUrl": queue_url, "ReceiptHandle": m["ReceiptHandle"]}),
                            )
                            .await;
                        }
                    }
                });
            })
        };
        let (_, v) = doctor(
            dir.path(),
            &["--probe-bus", "latch-denials", "--probe-timeout", "30"],
            &env,
        );
        stop.store(true, Ordering::SeqCst);
        relay.join().unwrap();
        assert_eq!(status(&v, "pipeline probe"), "ok", "{v:#}");
        assert!(
            detail(&v, "pipeline probe").contains("posted by `eventbridge`"),
            "{v:#}"
        );
    }

    // AWS out of reach.
    let gone = aws_section.replace(&moto.endpoint, &format!("http://127.0.0.1:{}", free_port()));
    std::fs::write(
        dir.path().join("latch.toml"),
        config(free_port(), &f, &issuer, &gone),
    )
    .unwrap();
    let (code, v) = doctor(dir.path(), &[], &env);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(status(&v, "aws identity"), "fail", "{v:#}");
    assert_eq!(status(&v, "clock"), "warn", "{v:#}");
}
