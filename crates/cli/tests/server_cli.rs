//! `latch serve` and the client commands as a user runs them: a real server process on
//! 127.0.0.1 over a SQLite file, driven by `latch token`, `request`, `approve`, `grants`,
//! `revoke` and `audit`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
    );
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().next().unwrap().to_owned()
}

#[test]
fn serve_request_approve_revoke_audit() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(dir.path().join("latch.toml"), config(port)).unwrap();
    let alice = token(dir.path(), "alice", "requester");
    let bob = token(dir.path(), "bob", "approver");
    let root = token(dir.path(), "root", "admin");
    assert!(alice.starts_with("latch_") && alice.len() == 70);

    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_latch"))
            .current_dir(dir.path())
            .args(["serve", "--config", "latch.toml"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
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
    assert!(stdout(&out).contains("are cut off"), "{}", stdout(&out));

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
