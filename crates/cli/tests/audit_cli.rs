//! `latch audit verify` and `latch audit export` as an operator runs them against a SQLite
//! database and exported files: what is refused, and why.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::{Command, Output};

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

/// A database with `n` audit entries (one token created each), exported to `audit.jsonl`.
fn exported_log(dir: &Path, n: usize) -> String {
    for i in 0..n {
        let out = latch(
            dir,
            &[
                "token",
                "create",
                "--database",
                "latch.db",
                "--subject",
                &format!("user{i}"),
                "--role",
                "requester",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = latch(
        dir,
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
    std::fs::read_to_string(dir.join("audit.jsonl")).unwrap()
}

#[test]
fn an_export_with_added_missing_or_repeated_fields_is_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = exported_log(dir.path(), 3);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    let out = latch(dir.path(), &["audit", "verify", "--file", "audit.jsonl"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    let with_line_3 = |line: String| format!("{}\n{}\n{line}\n", lines[0], lines[1]);
    for (name, line, says) in [
        (
            "added.jsonl",
            lines[2].replacen('{', r#"{"approved_by":"mallory","#, 1),
            "unknown field `approved_by`",
        ),
        (
            "missing.jsonl",
            lines[2].replace(r#""actor":"cli","#, ""),
            "missing field `actor`",
        ),
        (
            "repeated.jsonl",
            lines[2].replacen('{', r#"{"kind":"token.revoked","#, 1),
            "repeated key `kind`",
        ),
    ] {
        assert_ne!(line, lines[2], "{name}: the edit must change the line");
        std::fs::write(dir.path().join(name), with_line_3(line)).unwrap();
        let out = latch(dir.path(), &["audit", "verify", "--file", name]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{name}: line 3: ")) && err.contains(says),
            "{name}: {err}"
        );
    }
}

/// Runs `sql` on the SQLite database as someone with write access to the file would.
fn tamper_sqlite(db: &Path, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = latch_store::SqliteStore::open(db).await.unwrap();
        store.execute_raw(sql).await.unwrap();
    });
}

fn verify_json(dir: &Path, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["audit", "verify", "--format", "json"];
    all.extend(args);
    let out = latch(dir, &all);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code(), v)
}

#[test]
fn a_log_whose_newest_entries_were_removed_fails_against_its_head_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let text = exported_log(dir.path(), 5);
    let (code, v) = verify_json(dir.path(), &["--file", "audit.jsonl"]);
    assert_eq!(code, Some(0));
    let head = v["verification"]["head_hash"].as_str().unwrap().to_owned();
    assert_eq!(v["verification"]["count"], 5);

    // The whole log, anchored: intact.
    let out = latch(
        dir.path(),
        &[
            "audit",
            "verify",
            "--file",
            "audit.jsonl",
            "--head",
            &head,
            "--expect-count",
            "5",
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).starts_with("intact: 5 entries"),
        "{}",
        stdout(&out)
    );

    // The newest two lines removed: the chain is consistent, the anchors are not.
    let cut: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("cut.jsonl"), cut).unwrap();
    let out = latch(dir.path(), &["audit", "verify", "--file", "cut.jsonl"]);
    assert!(out.status.success(), "without an anchor it cannot tell");
    assert!(stdout(&out).contains("--expect-count"), "{}", stdout(&out));
    let out = latch(
        dir.path(),
        &["audit", "verify", "--file", "cut.jsonl", "--head", &head],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("the expected head {head} is not in the log")),
        "{}",
        stdout(&out)
    );
    let out = latch(
        dir.path(),
        &[
            "audit",
            "verify",
            "--file",
            "cut.jsonl",
            "--expect-count",
            "5",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out)
            .contains("holds 3 entries where 5 were expected: its newest 2 entries are missing"),
        "{}",
        stdout(&out)
    );

    // An empty file: refused as a file that holds no log at all, whatever the anchors say.
    std::fs::write(dir.path().join("empty.jsonl"), "").unwrap();
    let out = latch(
        dir.path(),
        &[
            "audit",
            "verify",
            "--file",
            "empty.jsonl",
            "--head",
            &head,
            "--expect-count",
            "5",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("empty.jsonl: empty: expected JSON Lines"),
        "{}",
        stderr(&out)
    );

    // The database itself, its newest entries deleted (triggers dropped first).
    tamper_sqlite(
        &dir.path().join("latch.db"),
        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq > 3",
    );
    let out = latch(
        dir.path(),
        &[
            "audit",
            "verify",
            "--database",
            "latch.db",
            "--expect-count",
            "5",
            "--head",
            &head,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("BROKEN: 2 problem(s) in 3 entries"),
        "{}",
        stdout(&out)
    );

    // A head that is not a hash is refused before anything is read.
    let out = latch(
        dir.path(),
        &["audit", "verify", "--file", "audit.jsonl", "--head", "abc"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("64 hex digits"), "{}", stderr(&out));
}

/// A database holding one request (and its audit entry) plus `ticks` audit-only entries.
fn database_with_a_request(db: &Path, ticks: usize) {
    use latch_grant::*;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = latch_store::SqliteStore::open(db).await.unwrap();
        let t0: Millis = 1_700_000_000_000;
        store
            .commit(Changeset {
                requests: vec![Write::Insert(RequestRecord {
                    id: "r-1".into(),
                    requester: "alice".into(),
                    identity: Identity {
                        kind: IdentityKind::Role,
                        id: "arn:aws:iam::111122223333:role/alice".into(),
                    },
                    account: None,
                    permission_set: None,
                    more_targets: Vec::new(),
                    starts_at: None,
                    extends: None,
                    bundle: "iam-admin".into(),
                    duration_secs: 3600,
                    reason: "incident 4411".into(),
                    status: RequestStatus::Pending,
                    source: "api".into(),
                    break_glass: false,
                    tier: 0,
                    tier_deadline: None,
                    required_approvals: 1,
                    created_at: t0,
                    decided_at: None,
                    version: 0,
                })],
                audit: vec![AuditEvent::new(t0, "request.created")
                    .actor("alice")
                    .subject("r-1")],
                ..Changeset::default()
            })
            .await
            .unwrap();
        for i in 0..ticks {
            store
                .commit(Changeset::audit_only(vec![AuditEvent::new(
                    t0 + i64::try_from(i).unwrap(),
                    "test.tick",
                )]))
                .await
                .unwrap();
        }
    });
}

#[test]
fn a_database_whose_rows_name_entries_the_log_lost_fails() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("latch.db");
    database_with_a_request(&db, 2);
    let out = latch(dir.path(), &["audit", "verify", "--database", "latch.db"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // Emptied while the request stays.
    tamper_sqlite(
        &db,
        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log",
    );
    let out = latch(dir.path(), &["audit", "verify", "--database", "latch.db"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(
            "request `r-1` was last written at audit entry seq 1, which the log does not hold (it is empty)"
        ),
        "{}",
        stdout(&out)
    );
    let (code, v) = verify_json(dir.path(), &["--database", "latch.db"]);
    assert_eq!(code, Some(1));
    assert_eq!(v["intact"], false);
    assert_eq!(v["verification"]["count"], 0);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs `latch ARGS` under `umask 000`, so created files get exactly the mode Latch sets.
fn latch_open_umask(dir: &Path, args: &str) -> Command {
    let mut c = Command::new("sh");
    c.current_dir(dir)
        .env_remove("LATCH_SERVER")
        .env_remove("LATCH_TOKEN")
        .arg("-c")
        .arg(format!(
            "umask 000; exec '{}' {args}",
            env!("CARGO_BIN_EXE_latch")
        ));
    c
}

#[cfg(unix)]
#[test]
fn keygen_writes_an_owner_only_key_and_prints_its_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = latch_open_umask(dir.path(), "audit keygen --out audit.key")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let public = stdout(&out).lines().next().unwrap().to_owned();
    assert_eq!(public.len(), 64, "{public}");
    let key_file = dir.path().join("audit.key");
    assert_eq!(mode(&key_file), 0o600);
    let text = std::fs::read_to_string(&key_file).unwrap();
    let key = latch_grant::checkpoint::SigningKey::from_file_text(&text).unwrap();
    assert_eq!(key.public_key().to_string(), public);
    let secret = text.lines().last().unwrap();
    assert!(!stdout(&out).contains(secret) && !stderr(&out).contains(secret));

    // Never overwritten.
    let out = latch(dir.path(), &["audit", "keygen", "--out", "audit.key"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("never overwritten"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), text);
}

#[cfg(unix)]
#[test]
fn the_server_publishes_signed_checkpoints_and_verify_checks_the_log_against_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = latch(dir.path(), &["audit", "keygen", "--out", "audit.key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let public = stdout(&out).lines().next().unwrap().to_owned();
    exported_log(dir.path(), 2);
    let port = free_port();
    std::fs::write(
        dir.path().join("latch.toml"),
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
database = "latch.db"
firewall_config = "firewall.toml"

[identities.alice]
aws = "arn:aws:iam::111122223333:role/alice"

[bundles.read-logs]
auto_approve = true

[audit]
signing_key_file = "audit.key"

[[audit.publish]]
to = "file"
path = "checkpoints.jsonl"
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("firewall.toml"),
        "[bundles.read-logs]\nactions = [\"logs:GetLogEvents\"]\n",
    )
    .unwrap();
    let mut server = latch_open_umask(dir.path(), "serve --config latch.toml --cloud memory")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let checkpoints = dir.path().join("checkpoints.jsonl");
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&checkpoints).is_ok_and(|t| t.ends_with('\n')) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "no checkpoint written at start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Stop it as Ctrl-C does: it writes a last checkpoint.
    let killed = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(server.wait().unwrap().success());
    assert_eq!(mode(&checkpoints), 0o600, "created 0600 whatever the umask");
    let lines = std::fs::read_to_string(&checkpoints).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");

    let verify = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "verify",
            "--database",
            "latch.db",
            "--checkpoint",
            "checkpoints.jsonl",
        ];
        args.extend(extra);
        latch(dir.path(), &args)
    };
    let out = verify(&["--public-key", &public]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("anchored by the latest checkpoint: "),
        "{}",
        stdout(&out)
    );
    let (code, v) = verify_json(
        dir.path(),
        &[
            "--database",
            "latch.db",
            "--checkpoint",
            "checkpoints.jsonl",
            "--public-key",
            &public,
        ],
    );
    assert_eq!(code, Some(0));
    let count = v["latest_checkpoint"]["count"].as_u64().unwrap();
    assert_eq!(v["verification"]["count"].as_u64().unwrap(), count);

    // Another key: refused.
    let other = latch_grant::checkpoint::SigningKey::generate()
        .unwrap()
        .public_key()
        .to_string();
    let out = verify(&["--public-key", &other]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("not one of the keys given"),
        "{}",
        stdout(&out)
    );
    // --checkpoint needs --public-key.
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(2));

    // An altered checkpoint (a smaller count, to excuse a shorter log) does not verify.
    let last = lines.lines().last().unwrap();
    let altered = last.replace(
        &format!("\"count\":{count}"),
        &format!("\"count\":{}", count - 1),
    );
    assert_ne!(altered, last);
    std::fs::write(dir.path().join("altered.jsonl"), format!("{altered}\n")).unwrap();
    let out = latch(
        dir.path(),
        &[
            "audit",
            "verify",
            "--database",
            "latch.db",
            "--checkpoint",
            "altered.jsonl",
            "--public-key",
            &public,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("the signature does not match"),
        "{}",
        stdout(&out)
    );

    // The newest entry removed from the database: the checkpoint says the log held more.
    tamper_sqlite(
        &dir.path().join("latch.db"),
        &format!("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = {count}"),
    );
    let out = verify(&["--public-key", &public]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!(
            "the log holds {} entries, but checkpoint #2 ({count} entries at",
            count - 1
        )),
        "{}",
        stdout(&out)
    );
}

/// `latch backup` copies a database in use into a new owner-only file and verifies the copy;
/// `latch restore` puts it back only when its audit log verifies, never over a database a
/// server is running on, and keeps the database it replaces.
#[cfg(unix)]
#[test]
fn backup_and_restore_keep_the_audit_chain_and_refuse_what_would_lose_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    exported_log(d, 3);
    let (_, original) = verify_json(d, &["--database", "latch.db"]);
    let entries = original["verification"]["count"].as_u64().unwrap();
    let head = original["verification"]["head_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(entries, 3);

    // Backed up under `umask 000`: the copy is still 0600.
    let backup = latch_open_umask(d, "backup --database latch.db --out backup.db")
        .output()
        .unwrap();
    assert!(backup.status.success(), "{}", stderr(&backup));
    let text = stdout(&backup);
    assert!(text.contains("backed up latch.db to backup.db"), "{text}");
    assert!(
        text.contains(&format!("3 entries, head hash {head}")),
        "{text}"
    );
    assert_eq!(mode(&d.join("backup.db")), 0o600);
    // A backup never overwrites a file.
    let again = latch(
        d,
        &["backup", "--database", "latch.db", "--out", "backup.db"],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    // Nor reads a database that is not there (nor creates one).
    let missing = latch(d, &["backup", "--database", "nope.db", "--out", "x.db"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no such database file"));
    assert!(!d.join("nope.db").exists() && !d.join("x.db").exists());
    // PostgreSQL has its own tools.
    let pg = latch(
        d,
        &[
            "backup",
            "--database",
            "postgres://x@127.0.0.1/y",
            "--out",
            "p.db",
        ],
    );
    assert!(stderr(&pg).contains("pg_dump"), "{}", stderr(&pg));

    // Restored as a new database: the same log, verified.
    let restored = latch(
        d,
        &[
            "restore",
            "--from",
            "backup.db",
            "--database",
            "new.db",
            "--format",
            "json",
        ],
    );
    assert!(restored.status.success(), "{}", stderr(&restored));
    let v: serde_json::Value = serde_json::from_slice(&restored.stdout).unwrap();
    assert_eq!(v["audit"]["intact"], true);
    assert_eq!(v["audit"]["entries"], 3);
    assert_eq!(v["set_aside"], serde_json::Value::Null);
    let (code, after) = verify_json(
        d,
        &[
            "--database",
            "new.db",
            "--head",
            &head,
            "--expect-count",
            "3",
        ],
    );
    assert_eq!(code, Some(0), "{after}");
    assert!(!d.join("new.db.restoring").exists());

    // Over an existing database: refused without --force; with it, the old one is kept.
    let mut more = latch(
        d,
        &[
            "token",
            "create",
            "--database",
            "new.db",
            "--subject",
            "late",
            "--role",
            "requester",
        ],
    );
    assert!(more.status.success(), "{}", stderr(&more));
    let refused = latch(
        d,
        &["restore", "--from", "backup.db", "--database", "new.db"],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("--force"), "{}", stderr(&refused));
    more = latch(
        d,
        &[
            "restore",
            "--from",
            "backup.db",
            "--database",
            "new.db",
            "--force",
        ],
    );
    assert!(more.status.success(), "{}", stderr(&more));
    let text = stdout(&more);
    assert!(
        text.contains("the database that was there is kept as new.db.before-restore-"),
        "{text}"
    );
    let aside: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            n.starts_with("new.db.before-restore-") && !n.ends_with("-wal") && !n.ends_with("-shm")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let (_, kept) = verify_json(d, &["--database", &aside[0]]);
    assert_eq!(
        kept["verification"]["count"], 4,
        "the replaced database keeps its 4th entry"
    );
    let (_, now) = verify_json(d, &["--database", "new.db"]);
    assert_eq!(now["verification"]["count"], 3);

    // A backup whose log was edited is refused, and the database is left as it was.
    std::fs::copy(d.join("backup.db"), d.join("edited.db")).unwrap();
    tamper_sqlite(
        &d.join("edited.db"),
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
    );
    let before = std::fs::read(d.join("new.db")).unwrap();
    let broken = latch(
        d,
        &[
            "restore",
            "--from",
            "edited.db",
            "--database",
            "new.db",
            "--force",
        ],
    );
    assert_eq!(broken.status.code(), Some(2));
    assert!(
        stderr(&broken).contains("does not verify"),
        "{}",
        stderr(&broken)
    );
    assert!(
        stderr(&broken).contains("nothing was changed"),
        "{}",
        stderr(&broken)
    );
    assert_eq!(std::fs::read(d.join("new.db")).unwrap(), before);
    assert!(!d.join("new.db.restoring").exists());

    // Never under a running server: one holding the scheduler lease is named.
    tamper_sqlite(
        &d.join("new.db"),
        "INSERT INTO leases (name, holder, instance, expires_at) \
         VALUES ('scheduler', 'latch-1', 'x', 9999999999999)",
    );
    let served = latch(
        d,
        &[
            "restore",
            "--from",
            "backup.db",
            "--database",
            "new.db",
            "--force",
        ],
    );
    assert_eq!(served.status.code(), Some(2));
    assert!(
        stderr(&served).contains("server `latch-1` holds the scheduler lease"),
        "{}",
        stderr(&served)
    );
}
