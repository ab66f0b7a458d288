//! End-to-end tests of `latch eval` and `latch validate` through the binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::process::{Command, Stdio};

fn latch(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn one_case_explains_its_decision() {
    let (code, out, _) = latch(
        &[
            "eval",
            "--case",
            "examples/eval/s3-delete-denied-by-scp.json",
        ],
        None,
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"], "ExplicitDeny");
    assert_eq!(v["decided_by"], "scp");
    assert_eq!(v["statements"][0]["sid"], "NoBucketDeletion");
}

#[test]
fn bad_lines_keep_alignment_and_fail_the_run() {
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/eval/cases.jsonl"
    ))
    .unwrap();
    let first = good.lines().next().unwrap();
    let input = format!(
        "{first}\n{{not json\n{{\"request\":{{\"principal\":\"arn:aws:iam::111122223333:user/a\",\"action\":\"s3GetObject\"}}}}\n{first}\n"
    );
    let (code, out, err) = latch(&["eval", "--cases", "-"], Some(&input));
    assert_eq!(code, 1, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["decision"], "Allow");
    assert!(lines[1]["error"]
        .as_str()
        .unwrap()
        .starts_with("line 2: invalid JSON"));
    assert!(
        lines[2]["error"]
            .as_str()
            .unwrap()
            .contains("request.action"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3]["decision"], "Allow");
    assert!(err.contains("2 case(s)"));
}

#[test]
fn repeat_prints_each_result_once() {
    let (code, out, _) = latch(
        &[
            "eval",
            "--cases",
            "examples/eval/cases.jsonl",
            "--repeat",
            "50",
        ],
        None,
    );
    assert_eq!(code, 0);
    let (_, once, _) = latch(&["eval", "--cases", "examples/eval/cases.jsonl"], None);
    assert_eq!(out, once);
}

#[test]
fn unknown_actions_are_warned_about() {
    let case = r#"{"request":{"principal":"arn:aws:iam::111122223333:user/a","action":"iam:PassRole","resource":"*"},"identity_policies":[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PasRole","Resource":"*"}]}]}"#;
    let (code, out, _) = latch(&["eval", "--cases", "-"], Some(case));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["decision"], "ImplicitDeny");
    let w = v["warnings"][0].as_str().unwrap();
    assert!(
        w.starts_with("identity_policies[0].Statement[0].Action: `iam:PasRole`"),
        "{w}"
    );
}

#[test]
fn validate_reports_errors_with_paths_and_exit_status() {
    let dir = std::env::temp_dir().join(format!("latch-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = dir.join("ok.json");
    std::fs::write(&ok, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":5,"Resource":"*"}]}"#,
    )
    .unwrap();
    let (code, out, _) = latch(&["validate", "--layer", "scp", ok.to_str().unwrap()], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("ok"));
    let (code, out, _) = latch(
        &["validate", bad.to_str().unwrap(), "--format", "json"],
        None,
    );
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["files"][0]["errors"][0],
        "Statement[0].Action: must be a string or an array of strings"
    );
}
