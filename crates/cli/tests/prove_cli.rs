//! `latch prove` as a user runs it: `latch plan --out` on the example organization (enforce
//! mode, no CloudTrail, so no usage-based exemptions), then the attack suite against it, a
//! deliberately weakened copy of the plan, and custom scenario directories.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn prove_blocks_the_suite_and_fails_on_a_weakened_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("latch.toml");
    fs::write(&cfg, "mode = \"enforce\"\n").unwrap();
    let plan_dir = tmp.path().join("plan");
    let ex = example();
    let out = latch(&[
        "plan",
        "--snapshot",
        s(&ex),
        "--config",
        s(&cfg),
        "--out",
        s(&plan_dir),
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The table, for people.
    let out = latch(&["prove", "--snapshot", s(&ex), "--plan", s(&plan_dir)]);
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}\n{}", text(&out.stderr));
    let n = latch_firewall::prove::builtin().unwrap().len();
    assert!(n >= 23, "{n}");
    assert!(
        table.starts_with(&format!(
            "Latch prove: {n} scenarios in us-east-1 — {n} blocked, 0 NOT blocked, 0 skipped"
        )),
        "{table}"
    );
    assert!(table.contains("SCENARIO") && table.contains("BLOCKED BY"));
    let lambda = table
        .lines()
        .find(|l| l.trim_start().starts_with("pass-role-lambda "))
        .unwrap();
    assert!(
        lambda.contains("400000000006:user/dev-carol")
            && lambda.contains("detected")
            && lambda.contains("allow")
            && lambda.contains("DENY")
            && lambda.contains("latch-scp-"),
        "{lambda}"
    );

    // JSON, for machines; plan.json itself works as --plan too.
    let out = latch(&[
        "prove",
        "--snapshot",
        s(&ex),
        "--plan",
        s(&plan_dir.join("plan.json")),
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["format"], "latch.prove/v1");
    assert_eq!(report["summary"]["blocked"], n);
    let scenarios = report["scenarios"].as_array().unwrap();
    let ids: Vec<&str> = scenarios
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    let tag = scenarios
        .iter()
        .find(|x| x["id"] == "tamper-session-tag-grant")
        .unwrap();
    let impact = tag["steps"].as_array().unwrap().last().unwrap();
    assert_eq!(impact["action"], "sts:TagSession");
    assert_eq!(impact["with_plan"]["decision"], "ExplicitDeny");
    let layers: Vec<&str> = impact["with_plan"]["denied_by"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["latch"] == true && d["sid"].as_str().unwrap().starts_with("LatchTamper"))
        .map(|d| d["layer"].as_str().unwrap())
        .collect();
    assert!(
        layers.contains(&"scp") && layers.contains(&"rcp"),
        "{layers:?}"
    );

    // A weakened plan: the permission layer's statements removed from every policy.
    let weak_dir = tmp.path().join("weak");
    fs::create_dir_all(&weak_dir).unwrap();
    let mut plan: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(plan_dir.join("plan.json")).unwrap()).unwrap();
    for p in plan["policies"].as_array_mut().unwrap() {
        let mut doc: serde_json::Value =
            serde_json::from_str(p["content"].as_str().unwrap()).unwrap();
        doc["Statement"]
            .as_array_mut()
            .unwrap()
            .retain(|st| !st["Sid"].as_str().unwrap().starts_with("LatchPermission"));
        p["content"] = serde_json::Value::String(serde_json::to_string(&doc).unwrap());
    }
    fs::write(
        weak_dir.join("plan.json"),
        serde_json::to_string_pretty(&plan).unwrap(),
    )
    .unwrap();
    let out = latch(&["prove", "--snapshot", s(&ex), "--plan", s(&weak_dir)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let table = text(&out.stdout);
    assert!(text(&out.stderr).contains("scenarios not blocked by the plan"));
    assert!(table.contains("pass-role-lambda — NOT-BLOCKED"), "{table}");
    assert!(table.contains("no statement of the plan denies the impact step `iam:PassRole`"));

    // A custom scenario directory: a scenario the plan does not cover fails the run.
    let sc = tmp.path().join("scenarios");
    fs::create_dir_all(&sc).unwrap();
    fs::write(
        sc.join("list-regions.toml"),
        r#"id = "list-regions"
name = "List regions"
description = "Not sensitive: the plan does not deny it, so this must not be blocked."
kind = "privilege-escalation"
[attacker]
prefer = ["arn:aws:iam::400000000006:user/dev-carol"]
[[steps]]
action = "ec2:DescribeRegions"
resource = "*"
"#,
    )
    .unwrap();
    let out = latch(&[
        "prove",
        "--snapshot",
        s(&ex),
        "--plan",
        s(&plan_dir),
        "--scenarios",
        s(&sc),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["not_blocked"], 1);
    assert_eq!(report["scenarios"][0]["status"], "not-blocked");

    // A bad scenario is an error naming the file and the field.
    fs::write(sc.join("list-regions.toml"), "id = \"list-regions\"\nname = \"x\"\ndescription = \"x\"\nkind = \"tamper\"\n[attacker]\n[[steps]]\naction = \"s3:GetObjekt\"\nresource = \"*\"\n").unwrap();
    let out = latch(&[
        "prove",
        "--snapshot",
        s(&ex),
        "--plan",
        s(&plan_dir),
        "--scenarios",
        s(&sc),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("list-regions.toml")
            && err.contains("steps[0].action")
            && err.contains("s3:GetObjekt"),
        "{err}"
    );

    // A missing plan is an error naming the file.
    let out = latch(&[
        "prove",
        "--snapshot",
        s(&ex),
        "--plan",
        s(&tmp.path().join("nope")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("nope"));
}
