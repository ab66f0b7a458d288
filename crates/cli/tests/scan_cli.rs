//! End-to-end tests of `latch scan` on the example organization.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;

fn latch(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn json_has_principals_and_findings() {
    let (code, out, err) = latch(&["scan", "--format", "json", "--as-of", "2026-11-20"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["as_of"], "2026-11-20T00:00:00Z");
    let principals = v["principals"].as_array().unwrap();
    assert!(principals.len() >= 40);
    let ops = principals
        .iter()
        .find(|p| p["arn"].as_str().unwrap().ends_with(":user/ops-admin"))
        .unwrap();
    assert_eq!(ops["admin_equivalent"], true);
    assert!(ops["sensitive_actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "iam:CreateAccessKey"));
    let findings = v["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["kind"] == "external-trust"
        && f["principal"]
            .as_str()
            .unwrap()
            .ends_with(":role/ThirdPartyCSPMRole")));
    for f in findings {
        for k in ["id", "kind", "severity", "account", "detail"] {
            assert!(!f[k].is_null(), "finding without {k}: {f}");
        }
    }
}

#[test]
fn html_is_self_contained_and_sarif_is_valid() {
    let (code, html, _) = latch(&["scan", "--format", "html", "--as-of", "2026-11-20"]);
    assert_eq!(code, 0);
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<svg"));
    assert!(!html.contains("<script src") && !html.contains("<link "));
    let (code, sarif, _) = latch(&["scan", "--format", "sarif", "--as-of", "2026-11-20"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    let rules: Vec<&str> = v["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(results
        .iter()
        .all(|r| rules.contains(&r["ruleId"].as_str().unwrap())));
}

#[test]
fn bad_snapshot_is_a_clear_error() {
    let (code, _, err) = latch(&["scan", "--snapshot", "does/not/exist"]);
    assert_ne!(code, 0);
    assert!(err.contains("does/not/exist"), "{err}");
    let (code, _, err) = latch(&["scan", "--as-of", "yesterday"]);
    assert_ne!(code, 0);
    assert!(err.contains("--as-of"), "{err}");
}
