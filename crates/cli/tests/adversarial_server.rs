//! What a careless operator or a hostile local user could do to `latch serve`, `latch token`
//! and `latch audit export`, and what holds: secrets land in files only their owner can read
//! (whatever the umask), a token cannot belong to nobody, a mistyped role is called a mistyped
//! role, and a server whose bundles no Latch SCP honours refuses to start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

/// `latch ARGS` in `dir`, under `umask 000` (the worst case: files created as asked, with
/// nothing taken off).
fn latch_umask0(dir: &Path, args: &[&str]) -> Output {
    Command::new("sh")
        .current_dir(dir)
        .env_remove("LATCH_SERVER")
        .env_remove("LATCH_TOKEN")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn create(dir: &Path, subject: &str, role: &str) -> Output {
    latch_umask0(
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
    )
}

#[test]
fn a_token_needs_a_real_subject_and_a_real_role() {
    let dir = tempfile::tempdir().unwrap();
    for (subject, says) in [
        ("", "empty"),
        ("   ", "empty"),
        (" alice", "starts or ends with a space"),
        ("alice\u{202E}", "bidirectional"),
        ("ali\nce", "line break"),
    ] {
        let out = create(dir.path(), subject, "requester");
        assert_eq!(out.status.code(), Some(2), "{subject:?}: {out:?}");
        assert!(
            stderr(&out).contains("subject") && stderr(&out).contains(says),
            "{subject:?}: {}",
            stderr(&out)
        );
    }
    // Refused before the database is touched: nothing was created.
    assert!(!dir.path().join("latch.db").exists());

    let out = create(dir.path(), "alice", "superuser");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("unknown role `superuser`")
            && err.contains("requester, approver, admin")
            && !err.contains("corrupt"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn files_with_secrets_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The database and SQLite's -wal and -shm files beside it.
    let out = create(d, "alice", "admin");
    assert!(out.status.success(), "{}", stderr(&out));
    let secret = stdout(&out).lines().next().unwrap().to_owned();
    assert!(secret.starts_with("latch_"));
    for f in ["latch.db", "latch.db-wal", "latch.db-shm"] {
        if d.join(f).exists() || f == "latch.db" {
            assert_eq!(mode(&d.join(f)), 0o600, "{f}");
        }
    }

    // A token written to a file: 0600, and an existing file is never overwritten.
    let args = |file: &'static str| {
        [
            "token",
            "create",
            "--database",
            "latch.db",
            "--subject",
            "ci",
            "--role",
            "requester",
            "--output",
            file,
        ]
    };
    let out = latch_umask0(d, &args("ci.token"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stdout(&out).contains("latch_"),
        "the secret stays in the file"
    );
    assert_eq!(mode(&d.join("ci.token")), 0o600);
    let first = std::fs::read_to_string(d.join("ci.token")).unwrap();
    assert!(first.starts_with("latch_") && first.trim().len() == 70);
    let out = latch_umask0(d, &args("ci.token"));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(d.join("ci.token")).unwrap(), first);
    // No token was made for the refused file: the list holds alice's and the first ci one.
    let list = latch_umask0(d, &["token", "list", "--database", "latch.db"]);
    assert_eq!(
        stdout(&list).lines().filter(|l| l.contains(" ci ")).count(),
        1
    );

    // An audit export, including over an existing file others could read.
    std::fs::write(d.join("audit.jsonl"), "old").unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            d.join("audit.jsonl"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let out = latch_umask0(
        d,
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
    assert_eq!(mode(&d.join("audit.jsonl")), 0o600);
    let text = std::fs::read_to_string(d.join("audit.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(!text.contains(&secret), "no secret in the audit log");
}

/// A firewall configuration defining both bundles the server grants.
const BOTH_BUNDLES: &str = "[bundles.iam-admin]\nactions = [\"iam:Attach*\"]\n[bundles.read-logs]\nactions = [\"logs:GetLogEvents\"]\n";

/// A server configuration with `{port}` left for [`serve_until_bind`] to fill in.
fn serve_config(firewall: Option<&str>) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:{{port}}\"\ndatabase = \"latch.db\"\n{}\n[identities.alice]\naws = \"arn:aws:iam::111122223333:role/alice\"\n\n[bundles.iam-admin]\nauto_approve = true\n\n[bundles.read-logs]\nauto_approve = true\n",
        firewall.map_or(String::new(), |f| format!("firewall_config = \"{f}\""))
    )
}

/// `latch serve` against a port that is taken: it gets as far as binding and stops, having
/// checked its configuration and opened its database.
fn serve_until_bind(dir: &Path, config: &str) -> (Output, std::net::TcpListener) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    std::fs::write(
        dir.join("latch.toml"),
        config.replace("{port}", &port.to_string()),
    )
    .unwrap();
    let out = latch_umask0(
        dir,
        &["serve", "--config", "latch.toml", "--cloud", "memory"],
    );
    (out, taken)
}

#[test]
fn bundles_no_latch_scp_honours_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No firewall configuration named: the default bundles (one per sensitivity category),
    // which neither bundle is.
    let (out, _taken) = serve_until_bind(d, &serve_config(None));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("`iam-admin`, `read-logs` are not defined by the firewall's default bundles")
            && err.contains("privilege-escalation")
            && err.contains("[server] firewall_config"),
        "{err}"
    );
    assert!(
        !d.join("latch.db").exists(),
        "refused before anything is created"
    );

    // A firewall configuration that defines one of them names the other.
    std::fs::write(
        d.join("firewall.toml"),
        "[bundles.iam-admin]\nactions = [\"iam:Attach*\"]\n",
    )
    .unwrap();
    let cfg = serve_config(Some("firewall.toml"));
    let (out, _taken) = serve_until_bind(d, &cfg);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("`read-logs` is not defined by `")
            && err.contains("whose bundles are: iam-admin"),
        "{err}"
    );

    // Both defined: the server gets as far as listening (the port is taken, so it stops there).
    std::fs::write(d.join("firewall.toml"), BOTH_BUNDLES).unwrap();
    let (out, _taken) = serve_until_bind(d, &cfg);
    let err = stderr(&out);
    assert!(err.contains("binding [server] listen"), "{err}");
}

#[cfg(unix)]
#[test]
fn serve_warns_when_others_can_read_the_database() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("firewall.toml"), BOTH_BUNDLES).unwrap();
    let cfg = serve_config(Some("firewall.toml"));
    // A database made by Latch: no warning.
    let (out, _taken) = serve_until_bind(d, &cfg);
    assert!(
        !stderr(&out).contains("readable or writable by other users"),
        "{}",
        stderr(&out)
    );
    assert_eq!(mode(&d.join("latch.db")), 0o600);
    // One copied in with the umask's permissions: a warning naming it, at start-up.
    std::fs::set_permissions(d.join("latch.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (out, _taken) = serve_until_bind(d, &cfg);
    let err = stderr(&out);
    assert!(
        err.contains("readable or writable by other users")
            && err.contains("latch.db")
            && err.contains("644")
            && err.contains("chmod 600"),
        "{err}"
    );
}
