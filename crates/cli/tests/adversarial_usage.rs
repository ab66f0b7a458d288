//! `latch scan` and `latch plan` on CloudTrail that lies, is missing or cannot be read: usage
//! claims ("unused", "idle", "zombie") are made only on evidence.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use latch_trail::fs::write_generated;
use latch_trail::generate::{Activity, Options};
use latch_trail::Date;
use serde_json::Value;

fn latch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .output()
        .unwrap()
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/org")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Three days of the example's CloudTrail (ending 2026-11-19) in `into/cloudtrail`.
fn trail_copy(into: &Path) -> PathBuf {
    let text = fs::read_to_string(example().join("activity.json")).unwrap();
    let activity: Activity = serde_json::from_str(&text).unwrap();
    let opts = Options {
        days: 3,
        end_date: Date::parse("2026-11-19").unwrap(),
        seed: 3,
        max_records_per_file: 0,
    };
    write_generated(into, &activity, &opts, 0, &|_, _| {}).unwrap();
    into.join("cloudtrail")
}

const STOREFRONT: &str = "arn:aws:iam::300000000004:role/storefront-task-role";

/// One record of an identity that is busy every day, at `time`.
fn record(time: &str) -> String {
    format!(
        r#"{{"Records":[{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::300000000004:assumed-role/storefront-task-role/task","accountId":"300000000004","sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"{STOREFRONT}"}}}}}},"eventTime":"{time}","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","recipientAccountId":"300000000004"}}]}}"#
    )
}

fn plan_json(trail: &Path, extra: &[&str]) -> (Output, Value) {
    let ex = example();
    let mut args = vec![
        "plan",
        "--snapshot",
        s(&ex),
        "--cloudtrail",
        s(trail),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = latch(&args);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (out, v)
}

fn quarantined(plan: &Value) -> Vec<String> {
    plan["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["key"] == "latch:quarantine")
        .map(|t| t["principal_arn"].as_str().unwrap().to_owned())
        .collect()
}

/// A record dated 9999-12-31 — in a real day folder, or in a day folder of its own in the
/// future — does not become "the newest activity": the window stays on the real calls, no
/// busy identity is quarantined, and the record is counted as ignored in JSON and for people.
#[test]
fn a_record_from_the_far_future_does_not_move_the_window() {
    let tmp = tempfile::tempdir().unwrap();
    let ct = trail_copy(tmp.path());
    let day = ct.join("AWSLogs/300000000004/CloudTrail/us-east-1/2026/11/19");
    fs::write(day.join("poison.json"), record("9999-12-31T23:59:59Z")).unwrap();
    let future = ct.join("AWSLogs/300000000004/CloudTrail/us-east-1/9999/12/31");
    fs::create_dir_all(&future).unwrap();
    fs::write(future.join("poison.json"), record("9999-12-31T12:00:00Z")).unwrap();

    let (out, plan) = plan_json(&ct, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = &plan["summary"];
    assert_eq!(
        summary["window"]["until"], "2026-11-20T00:00:00Z",
        "{summary}"
    );
    let q = quarantined(&plan);
    assert!(!q.iter().any(|a| a == STOREFRONT), "{q:?}");
    assert!(
        summary["simulation"]["calls_evaluated"].as_u64().unwrap() > 1000,
        "{}",
        summary["simulation"]
    );
    assert_eq!(summary["cloudtrail_read"]["events_out_of_bounds"], 2);
    let warnings = summary["warnings"].to_string();
    assert!(
        warnings.contains("2 CloudTrail event(s) were ignored"),
        "{warnings}"
    );
    // People see it too.
    let table = latch(&["plan", "--snapshot", s(&example()), "--cloudtrail", s(&ct)]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("2 CloudTrail event(s) were ignored"),
        "{text}"
    );

    // The scan's "now" is not moved either.
    let out = latch(&[
        "scan",
        "--snapshot",
        s(&example()),
        "--cloudtrail",
        s(&ct),
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["as_of"].as_str().unwrap().starts_with("2026-11-"),
        "{}",
        v["as_of"]
    );
    assert_eq!(v["cloudtrail"]["events_out_of_bounds"], 2);
    let zombies: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "zombie-identity" && f["principal"] == STOREFRONT)
        .collect();
    assert!(zombies.is_empty(), "{zombies:?}");
    let out = latch(&["scan", "--snapshot", s(&example()), "--cloudtrail", s(&ct)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 events ignored"), "{text}");

    // An --as-of in the future is refused, not believed.
    let out = latch(&[
        "plan",
        "--snapshot",
        s(&example()),
        "--cloudtrail",
        s(&ct),
        "--as-of",
        "9999-12-31",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--as-of"));
    let out = latch(&[
        "scan",
        "--snapshot",
        s(&example()),
        "--cloudtrail",
        s(&ct),
        "--as-of",
        "9999-12-31",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--as-of"));
}

/// An account whose logs are missing has no data, not no activity: the plan quarantines none
/// of its identities (it did every one of them before) and says which account it is.
#[test]
fn an_account_without_events_in_the_window_is_not_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let ct = trail_copy(tmp.path());
    fs::remove_dir_all(ct.join("AWSLogs/400000000006")).unwrap();
    let (_, plan) = plan_json(&ct, &["--as-of", "2026-11-19"]);
    let q = quarantined(&plan);
    assert!(
        !q.iter().any(|a| a.contains(":400000000006:")),
        "identities of an account without logs quarantined: {q:?}"
    );
    // Accounts with logs are still analysed.
    assert!(
        q.iter()
            .any(|a| a == "arn:aws:iam::300000000004:role/legacy-migration-admin"),
        "{q:?}"
    );
    let warnings = plan["summary"]["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| {
            let w = w.as_str().unwrap();
            w.starts_with("no CloudTrail event in the usage window for account(s)")
                && w.contains("400000000006")
        }),
        "{warnings:?}"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A `cloudtrail/` folder of `n` files none of which is a CloudTrail log: not gzip under a
/// `.json.gz` name, truncated gzip, and JSON that is not a trail, in turn.
fn unreadable_trail(root: &Path, n: usize) -> PathBuf {
    let ct = root.join("cloudtrail");
    let day = ct.join("AWSLogs/300000000004/CloudTrail/us-east-1/2026/11/19");
    fs::create_dir_all(&day).unwrap();
    let good = gzip(record("2026-11-19T10:00:00Z").as_bytes());
    for i in 0..n {
        let (name, bytes): (String, Vec<u8>) = match i % 3 {
            0 => (format!("{i}.json.gz"), b"this is not gzip".to_vec()),
            1 => (format!("{i}.json.gz"), good[..good.len() / 2].to_vec()),
            _ => (format!("{i}.json"), br#"{"eventVersion": "1.09"}"#.to_vec()),
        };
        fs::write(day.join(name), bytes).unwrap();
    }
    ct
}

fn scan_json(trail: &Path, extra: &[&str]) -> Value {
    let ex = example();
    let mut args = vec![
        "scan",
        "--snapshot",
        s(&ex),
        "--cloudtrail",
        s(trail),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = latch(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn findings_of<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

/// CloudTrail none of whose files can be read is not "nothing was used": the scan makes no
/// usage claim and says why, and the plan quarantines no one — whether or not --as-of is
/// given — and says why.
#[test]
fn unreadable_cloudtrail_makes_no_usage_claims() {
    let tmp = tempfile::tempdir().unwrap();
    let ct = unreadable_trail(tmp.path(), 6);

    let v = scan_json(&ct, &["--as-of", "2026-11-20"]);
    assert_eq!(v["usage_analysed"], false, "{}", v["not_analysed"]);
    assert_eq!(v["cloudtrail"]["skipped"].as_array().unwrap().len(), 6);
    assert!(findings_of(&v, "standing-privilege").is_empty());
    assert!(findings_of(&v, "unused-services").is_empty());
    assert!(v["principals"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["unused"].is_null()));
    let notes = v["not_analysed"].to_string();
    assert!(
        notes.contains("none of the 6 CloudTrail log file(s) could be read"),
        "{notes}"
    );
    let out = latch(&[
        "scan",
        "--snapshot",
        s(&example()),
        "--cloudtrail",
        s(&ct),
        "--as-of",
        "2026-11-20",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("not analysed: usage: CloudTrail was not analysed: none of the 6"),
        "{text}"
    );

    for extra in [&["--as-of", "2026-11-19"][..], &[][..]] {
        let (_, plan) = plan_json(&ct, extra);
        let summary = &plan["summary"];
        assert_eq!(summary["cloudtrail"], false, "{extra:?}");
        assert!(
            quarantined(&plan).is_empty(),
            "{extra:?}: {:?}",
            quarantined(&plan)
        );
        let first = summary["warnings"][0].as_str().unwrap();
        assert!(
            first.starts_with("NO CLOUDTRAIL DATA") && first.contains("none of the 6"),
            "{extra:?}: {first}"
        );
    }

    // One readable file among ten is not enough either.
    let tmp = tempfile::tempdir().unwrap();
    let ct = unreadable_trail(tmp.path(), 9);
    fs::write(
        ct.join("AWSLogs/300000000004/CloudTrail/us-east-1/2026/11/19/good.json"),
        record("2026-11-19T10:00:00Z"),
    )
    .unwrap();
    let v = scan_json(&ct, &["--as-of", "2026-11-20"]);
    assert_eq!(v["usage_analysed"], false);
    assert!(
        v["not_analysed"]
            .to_string()
            .contains("only 1 of 10 CloudTrail log files could be read"),
        "{}",
        v["not_analysed"]
    );
    assert!(findings_of(&v, "standing-privilege").is_empty());
}

/// The scan's per-account floor: an account whose logs are missing gets no "unused" claim
/// (standing privilege, unused services), and the report names it; the others are analysed.
#[test]
fn scan_makes_no_usage_claims_for_an_account_without_events() {
    let tmp = tempfile::tempdir().unwrap();
    let ct = trail_copy(tmp.path());
    fs::remove_dir_all(ct.join("AWSLogs/400000000006")).unwrap();
    let v = scan_json(&ct, &["--as-of", "2026-11-20"]);
    assert_eq!(v["usage_analysed"], true);
    let in_dev = |f: &&Value| f["account"] == "400000000006";
    assert!(
        !findings_of(&v, "standing-privilege").iter().any(in_dev),
        "{:?}",
        findings_of(&v, "standing-privilege")
    );
    assert!(!findings_of(&v, "unused-services").iter().any(in_dev));
    assert!(findings_of(&v, "standing-privilege")
        .iter()
        .any(|f| f["account"] == "300000000004"));
    for p in v["principals"].as_array().unwrap() {
        if p["account"] == "400000000006" {
            assert!(p["unused"].is_null(), "{p}");
        }
    }
    assert!(v["accounts_without_events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "400000000006"));
    let notes = v["not_analysed"].to_string();
    assert!(notes.contains("400000000006"), "{notes}");
}
