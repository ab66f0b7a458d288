//! `latch catalog ...` as a user runs it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::{Command, Output};

fn latch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn stats_json() {
    let out = latch(&["catalog", "stats", "--format", "json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["services"], 456);
    assert_eq!(v["actions"], 22_091);
    assert_eq!(v["data_date"], "2026-09-26");
    let per_category: u64 = v["sensitive_by_category"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    let total = v["sensitive_actions"].as_u64().unwrap();
    assert!(
        total > 0 && total <= per_category,
        "{total} / {per_category}"
    );
}

#[test]
fn show_and_expand_tables() {
    let out = latch(&["catalog", "show", "IAM:putrolepolicy"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("iam:PutRolePolicy"), "{text}");
    assert!(text.contains("Permissions management"), "{text}");
    assert!(text.contains("privilege-escalation"), "{text}");

    let out = latch(&["catalog", "expand", "iam:Put*", "--format", "json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"iam:PutRolePolicy"));
    assert!(names.iter().all(|n| n.starts_with("iam:Put")));
    assert_eq!(v["count"].as_u64().unwrap() as usize, names.len());
}

#[test]
fn sensitive_by_category() {
    let out = latch(&[
        "catalog",
        "sensitive",
        "--category",
        "defense-evasion",
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions = v["actions"].as_array().unwrap();
    assert!(actions
        .iter()
        .any(|a| a["action"] == "cloudtrail:StopLogging"));
    for a in actions {
        for k in a["classifications"].as_array().unwrap() {
            assert_eq!(k["category"], "defense-evasion");
            assert!(!k["reason"].as_str().unwrap().is_empty());
        }
    }
}

#[test]
fn unknown_inputs_fail_clearly() {
    let out = latch(&["catalog", "show", "iam:PasRole"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("`iam:PasRole`") && err.contains("did you mean `iam:PassRole`"),
        "{err}"
    );

    let out = latch(&["catalog", "expand", "nosuch:*"]);
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("unknown service"));

    let out = latch(&["catalog", "sensitive", "--category", "sneaky"]);
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("privilege-escalation"));
}
