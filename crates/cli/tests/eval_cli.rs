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

fn latch_bytes(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn example_case() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/eval/s3-delete-denied-by-scp.json"
    ))
    .unwrap()
}

#[test]
fn a_case_that_is_a_folder_or_not_utf8_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("case.json");
    std::fs::create_dir(&folder).unwrap();
    let (code, _, err) = latch(&["eval", "--case", folder.to_str().unwrap()], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(folder.to_str().unwrap()), "{err}");
    assert!(err.contains("a folder, not a file"), "{err}");

    let bad = dir.path().join("bad.json");
    let mut bytes = b"{\n  \"request\": \"".to_vec();
    bytes.extend_from_slice(&[0xC3, 0x28]);
    bytes.extend_from_slice(b"\"\n}\n");
    std::fs::write(&bad, &bytes).unwrap();
    let (code, _, err) = latch(&["eval", "--case", bad.to_str().unwrap()], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(bad.to_str().unwrap()), "{err}");
    assert!(err.contains("not UTF-8"), "{err}");
    assert!(err.contains("byte offset 16 (line 2)"), "{err}");

    // The same bytes on stdin: named as stdin.
    let (code, _, err) = latch_bytes(&["eval", "--case", "-"], &bytes);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stdin: not UTF-8"), "{err}");
}

#[test]
fn a_byte_order_mark_is_skipped_and_utf16_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let with_bom = dir.path().join("bom.json");
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(example_case().as_bytes());
    std::fs::write(&with_bom, &bytes).unwrap();
    let (code, out, err) = latch(&["eval", "--case", with_bom.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"], "ExplicitDeny");

    let utf16 = dir.path().join("utf16.json");
    let mut bytes = vec![0xFF, 0xFE];
    for u in example_case().encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    std::fs::write(&utf16, &bytes).unwrap();
    let (code, _, err) = latch(&["eval", "--case", utf16.to_str().unwrap()], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(utf16.to_str().unwrap()), "{err}");
    assert!(err.contains("UTF-16"), "{err}");
    assert!(err.contains("save it as UTF-8"), "{err}");
}

#[test]
fn an_undecodable_line_is_reported_and_the_others_are_evaluated() {
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/eval/cases.jsonl"
    ))
    .unwrap();
    let first = good.lines().next().unwrap();
    let mut input = format!("{first}\n{{\"request\": \"").into_bytes();
    input.extend_from_slice(&[0xFF, 0xFE]);
    input.extend_from_slice(format!("\"}}\n{first}\n").as_bytes());
    let (code, out, err) = latch_bytes(&["eval", "--cases", "-"], &input);
    assert_eq!(code, 1, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0]["decision"], "Allow");
    let e = lines[1]["error"].as_str().unwrap();
    assert!(e.starts_with("line 2: not UTF-8"), "{e}");
    assert!(e.contains("byte offset 13 of the line"), "{e}");
    assert_eq!(lines[2]["decision"], "Allow");
    assert!(err.contains("1 case(s)"), "{err}");
}

#[test]
fn validate_strict_reports_every_fail_closed_form() {
    let dir = std::env::temp_dir().join(format!("latch-validate-fc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    // Refused where AWS refuses the policy: errors naming the JSON path.
    let refused = [
        (
            file(
                "dup.json",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            ),
            "Statement[0].Effect: duplicate key `Effect`",
        ),
        (
            file(
                "empty-action.json",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":[],"Resource":"*"}]}"#,
            ),
            "Statement[0].Action: must not be an empty list",
        ),
        (
            file(
                "nan.json",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"nan"}}}]}"#,
            ),
            "Statement[0].Condition.NumericLessThan.s3:max-keys: `nan` is not a number",
        ),
    ];
    for (path, want) in &refused {
        let (code, out, _) = latch(&["validate", path, "--format", "json"], None);
        assert_eq!(code, 1, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let err = v["files"][0]["errors"][0].as_str().unwrap();
        assert!(err.starts_with(want), "{err}");
    }
    // Evaluated fail-closed: warnings, which --strict turns into a failure.
    let warned = file(
        "malformed.json",
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Deny","Action":"s3:*","Resource":["arn:aws:s3","arn:::::","not-an-arn","arn:aws:s3*"]},
            {"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":[]}}}
        ]}"#,
    );
    let (code, out, _) = latch(&["validate", &warned, "--format", "json"], None);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let warnings: Vec<&str> = v["files"][0]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    for want in [
        "Statement[0].Resource[0]: `arn:aws:s3` is not an ARN pattern",
        "Statement[0].Resource[1]: `arn:::::` is not an ARN pattern",
        "Statement[0].Resource[2]: `not-an-arn` is not an ARN pattern",
        "Statement[0].Resource[3]: `arn:aws:s3*` is not an ARN pattern",
        "Statement[1].Condition.StringEquals.aws:PrincipalTag/team: cannot be evaluated",
    ] {
        assert!(
            warnings.iter().any(|w| w.starts_with(want)),
            "{want}: {warnings:#?}"
        );
    }
    let (code, out, _) = latch(&["validate", "--strict", &warned], None);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("warning")).count(),
        5,
        "{out}"
    );
}

#[test]
fn eval_refuses_a_case_with_a_repeated_key() {
    let case = r#"{"request":{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"*"},"identity_policies":[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Effect":"Allow"}]}]}"#;
    let (code, out, _) = latch(&["eval", "--cases", "-"], Some(case));
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let err = v["error"].as_str().unwrap();
    assert!(
        err.starts_with("line 1: identity_policies[0].Statement[1].Effect: duplicate key"),
        "{err}"
    );
}

#[test]
fn eval_uses_the_catalog_list_of_services_rcps_govern() {
    // events is on the list (the engine used to know 10 services), lambda is not.
    let case = |action: &str, resource: &str| {
        serde_json::json!({
            "request": {"principal": "arn:aws:iam::111122223333:user/a", "action": action, "resource": resource},
            "identity_policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}],
            "rcps": [[{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]}]],
        })
        .to_string()
    };
    let input = format!(
        "{}\n{}\n",
        case(
            "events:PutEvents",
            "arn:aws:events:us-east-1:111122223333:event-bus/default"
        ),
        case(
            "lambda:InvokeFunction",
            "arn:aws:lambda:us-east-1:111122223333:function:f"
        )
    );
    let (code, out, _) = latch(&["eval", "--cases", "-"], Some(&input));
    assert_eq!(code, 0, "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["decision"], "ExplicitDeny", "{out}");
    assert_eq!(lines[0]["decided_by"], "rcp");
    assert_eq!(lines[1]["decision"], "Allow", "{out}");
    assert!(lines[1].get("warnings").is_none(), "{out}");
}
