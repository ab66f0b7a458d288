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
