//! `latch init` and `latch plan` as a user runs them, on the example organization with 90
//! days of its CloudTrail generated into a temporary directory.
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

fn generate_trail(dir: &Path) {
    let text = fs::read_to_string(example().join("activity.json")).unwrap();
    let activity: Activity = serde_json::from_str(&text).unwrap();
    let opts = Options {
        days: 90,
        end_date: Date::parse("2026-11-20").unwrap(),
        seed: 7,
        max_records_per_file: 0,
    };
    write_generated(dir, &activity, &opts, 0, &|_, _| {}).unwrap();
}

/// The characters a policy of the plan may hold, by the limits the plan records.
fn max_chars(plan: &serde_json::Value, policy: &serde_json::Value) -> usize {
    let key = if policy["type"] == "RESOURCE_CONTROL_POLICY" {
        "rcp_chars"
    } else {
        "scp_chars"
    };
    plan["limits"][key].as_u64().unwrap() as usize
}

fn read_plan(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap()
}

/// One test for everything that needs the (large) generated CloudTrail.
#[test]
fn example_org_with_cloudtrail_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    generate_trail(tmp.path());
    let trail = tmp.path().join("cloudtrail");
    let ex = example();

    // Protect mode (the default): zero observed calls broken, every policy within limits.
    let p1 = tmp.path().join("p1");
    let out = latch(&[
        "plan",
        "--snapshot",
        s(&ex),
        "--cloudtrail",
        s(&trail),
        "--as-of",
        "2026-11-20",
        "--out",
        s(&p1),
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = read_plan(&p1);
    assert_eq!(out.stdout, fs::read(p1.join("plan.json")).unwrap());
    assert_eq!(plan["format"], "latch.plan/v1");
    assert_eq!(plan["organization"]["root_id"], "r-x1y2");
    assert_eq!(
        plan["organization"]["management_account_id"],
        "100000000001"
    );
    let sim = &plan["summary"]["simulation"];
    assert_eq!(sim["cloudtrail"], true);
    assert!(sim["calls_evaluated"].as_u64().unwrap() > 100_000, "{sim}");
    assert_eq!(sim["calls_broken"], 0, "{sim}");
    assert_eq!(sim["broken"].as_array().unwrap().len(), 0);
    let policies = plan["policies"].as_array().unwrap();
    assert!(!policies.is_empty());
    for p in policies {
        let content = p["content"].as_str().unwrap();
        assert!(
            content.chars().count() <= max_chars(&plan, p),
            "{}",
            p["name"]
        );
        assert!(p["name"].as_str().unwrap().starts_with("latch-"));
        let file = fs::read_to_string(p1.join(p["file"].as_str().unwrap())).unwrap();
        assert_eq!(file, content);
        assert!(!p["targets"].as_array().unwrap().is_empty());
        assert!(p["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t != "100000000001"));
    }
    // The zombie admin is quarantined, and people keep what they used (standing exemptions).
    let tags = plan["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t["principal_arn"]
        == "arn:aws:iam::300000000004:role/legacy-migration-admin"
        && t["key"] == "latch:quarantine"));
    let ex_list = plan["exemptions"].as_array().unwrap();
    assert!(ex_list.iter().any(|e| e["kind"] == "standing"
        && e["mechanism"] == "userid"
        && e["principal"]
            .as_str()
            .unwrap()
            .contains("AWSReservedSSO_AdministratorAccess")
        && e["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "iam:CreateRole")));

    // Deterministic: the same input gives the same bytes; the default as-of is the last day.
    let p2 = tmp.path().join("p2");
    let out = latch(&[
        "plan",
        "--snapshot",
        s(&ex),
        "--cloudtrail",
        s(&trail),
        "--out",
        s(&p2),
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    assert_eq!(
        fs::read(p1.join("plan.json")).unwrap(),
        fs::read(p2.join("plan.json")).unwrap()
    );
    for p in policies {
        let f = p["file"].as_str().unwrap();
        assert_eq!(fs::read(p1.join(f)).unwrap(), fs::read(p2.join(f)).unwrap());
    }

    // Enforce mode: the replay lists the used calls the plan would break (exit 0: chosen).
    let cfg = tmp.path().join("enforce.toml");
    fs::write(&cfg, "mode = \"enforce\"\n").unwrap();
    let out = latch(&[
        "plan",
        "--snapshot",
        s(&ex),
        "--cloudtrail",
        s(&trail),
        "--config",
        s(&cfg),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("iam:CreateRole"), "{text}");
    assert!(text.contains("calls would become denied"), "{text}");
    assert!(!text.contains(" 0 calls would become denied"), "{text}");

    // Table output in protect mode says none break.
    let out = latch(&["plan", "--snapshot", s(&ex), "--cloudtrail", s(&trail)]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("0 calls would become denied — none, as protect mode requires"),
        "{text}"
    );
    assert!(
        text.contains("sensitive permissions removed from"),
        "{text}"
    );
}

#[test]
fn init_writes_the_defaults_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("latch.toml");
    let out = latch(&["init", "--out", s(&cfg)]);
    assert!(out.status.success());
    assert!(fs::read_to_string(&cfg)
        .unwrap()
        .contains("[control_plane]"));
    let again = latch(&["init", "--out", s(&cfg)]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    // The starter is the defaults: same plan with and without it.
    let ex = example();
    let a = latch(&["plan", "--snapshot", s(&ex), "--format", "json"]);
    let b = latch(&[
        "plan",
        "--snapshot",
        s(&ex),
        "--config",
        s(&cfg),
        "--format",
        "json",
    ]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn without_cloudtrail_the_plan_says_so_loudly() {
    let out = latch(&["plan", "--snapshot", s(&example())]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NO CLOUDTRAIL DATA"), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NO CLOUDTRAIL"), "{text}");
    assert!(text.contains("Exemptions (0)"), "{text}");
}

#[test]
fn bad_config_names_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("latch.toml");
    fs::write(&cfg, "[bundles.iam-admin]\nactions = [\"iam:PasRole\"]\n").unwrap();
    let out = latch(&["plan", "--snapshot", s(&example()), "--config", s(&cfg)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bundles.iam-admin.actions[0]"), "{err}");
    assert!(err.contains("iam:PassRole"), "{err}");
    fs::write(&cfg, "[scope]\ntargets = [\"ou-nope-12345678\"]\n").unwrap();
    let out = latch(&["plan", "--snapshot", s(&example()), "--config", s(&cfg)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("scope.targets[0]"));
    fs::write(&cfg, "[limits]\nscp_chars = 20480\n").unwrap();
    let out = latch(&["plan", "--snapshot", s(&example()), "--config", s(&cfg)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`limits.scp_chars`: 20480 is above AWS's quota of 10240"),
        "{err}"
    );
}

#[test]
fn the_summary_shows_what_each_target_takes_of_its_limits() {
    let ex = example();
    let json = latch(&["plan", "--snapshot", s(&ex), "--format", "json"]);
    assert!(json.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        plan["limits"],
        serde_json::json!({"scp_chars": 10240, "scp_per_target": 10, "rcp_chars": 5120, "rcp_per_target": 5})
    );
    let policies = plan["policies"].as_array().unwrap();
    let budget = plan["summary"]["budget"].as_array().unwrap();
    assert!(!budget.is_empty());
    // The root comes first: its three SCPs and two RCPs of today plus the plan's.
    let root = &budget[0];
    assert_eq!(root["target"], "r-x1y2");
    assert_eq!(root["kind"], "root");
    assert_eq!(root["scp"]["existing"], 3);
    assert_eq!(root["rcp"]["existing"], 2);
    assert_eq!(root["scp"]["slots"], 10);
    assert_eq!(root["rcp"]["slots"], 5);
    // Every entry agrees with the policies: how many are attached there, and their sizes.
    let mut attachments = 0;
    for t in budget {
        for (key, kind, per) in [
            ("scp", "SERVICE_CONTROL_POLICY", 10240),
            ("rcp", "RESOURCE_CONTROL_POLICY", 5120),
        ] {
            let here: Vec<&serde_json::Value> = policies
                .iter()
                .filter(|p| {
                    p["type"] == kind && p["targets"].as_array().unwrap().contains(&t["target"])
                })
                .collect();
            let b = &t[key];
            if here.is_empty() {
                assert!(b.is_null(), "{t}");
                continue;
            }
            let chars: usize = here
                .iter()
                .map(|p| p["content"].as_str().unwrap().chars().count())
                .sum();
            assert_eq!(b["latch"], here.len(), "{t}");
            assert_eq!(b["chars"], chars, "{t}");
            assert_eq!(b["max_chars"], here.len() * per, "{t}");
            assert!(
                b["existing"].as_u64().unwrap() + b["latch"].as_u64().unwrap()
                    <= b["slots"].as_u64().unwrap()
            );
            attachments += here.len();
        }
    }
    assert_eq!(plan["summary"]["attachments"], attachments);
    // The table says the same for people, with thousands grouped.
    let table = latch(&["plan", "--snapshot", s(&ex)]);
    assert!(table.status.success());
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("Budget per target (SCP: 10 per target, 10,240 characters each; RCP: 5 per target, 5,120 each; AWS's quotas)"),
        "{text}"
    );
    let scp = &root["scp"];
    let line = format!(
        "SCP {}/10 slots (3 existing, {} Latch), ",
        3 + scp["latch"].as_u64().unwrap(),
        scp["latch"]
    );
    let root_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("Root r-x1y2"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(root_line.contains(&line), "{root_line}");
    assert!(root_line.contains("/5 slots (2 existing, "), "{root_line}");

    // Lowered limits are recorded, shown and obeyed: more, smaller SCPs.
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("latch.toml");
    fs::write(&cfg, "[limits]\nscp_chars = 5120\nscp_per_target = 5\n").unwrap();
    let out = latch(&[
        "plan",
        "--snapshot",
        s(&ex),
        "--config",
        s(&cfg),
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let lagging: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(lagging["limits"]["scp_chars"], 5120);
    assert_eq!(lagging["limits"]["scp_per_target"], 5);
    let scps = |p: &serde_json::Value| {
        p["policies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"] == "SERVICE_CONTROL_POLICY")
            .count()
    };
    assert!(
        scps(&lagging) > scps(&plan),
        "{} vs {}",
        scps(&lagging),
        scps(&plan)
    );
    for p in lagging["policies"].as_array().unwrap() {
        assert!(p["content"].as_str().unwrap().chars().count() <= 5120);
    }
    let out = latch(&["plan", "--snapshot", s(&ex), "--config", s(&cfg)]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("(SCP: 5 per target, 5,120 characters each; RCP: 5 per target, 5,120 each; lowered by [limits] from AWS's quotas)"),
        "{text}"
    );
}

#[test]
fn snapshot_without_organization_is_planned_under_a_root() {
    let tmp = tempfile::tempdir().unwrap();
    let snap = tmp.path().join("snap");
    for entry in fs::read_dir(example().join("accounts")).unwrap() {
        let entry = entry.unwrap();
        let dst = snap.join("accounts").join(entry.file_name());
        fs::create_dir_all(&dst).unwrap();
        for f in fs::read_dir(entry.path()).unwrap() {
            let f = f.unwrap();
            fs::copy(f.path(), dst.join(f.file_name())).unwrap();
        }
    }
    let out = latch(&["plan", "--snapshot", s(&snap), "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["organization"]["root_id"], "r-unknown");
    let warnings = plan["summary"]["warnings"].to_string();
    assert!(warnings.contains("no organization.json"), "{warnings}");
    assert!(plan["policies"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["content"].as_str().unwrap().chars().count() <= max_chars(&plan, p)));
}

#[test]
fn terraform_has_a_resource_per_policy_and_attachment() {
    let out = latch(&["plan", "--snapshot", s(&example()), "--format", "terraform"]);
    assert!(out.status.success());
    let tf = String::from_utf8(out.stdout).unwrap();
    let json = latch(&["plan", "--snapshot", s(&example()), "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let policies = plan["policies"].as_array().unwrap();
    let attachments: usize = policies
        .iter()
        .map(|p| p["targets"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        tf.matches("resource \"aws_organizations_policy\" ").count(),
        policies.len()
    );
    assert_eq!(
        tf.matches("resource \"aws_organizations_policy_attachment\" ")
            .count(),
        attachments
    );
    assert!(tf.contains("type        = \"RESOURCE_CONTROL_POLICY\""));
}

/// Every file under `dir`, by path relative to it (a directory as `<dir>/`).
fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
            if p.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &p, out);
            } else {
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// `--out` replaces the plan directory whole or not at all: `prove` and `apply` never see
/// policies of one plan beside the plan.json (or main.tf) of another. Files that are not plan
/// output (`applied.json`, notes) are kept.
#[test]
fn plan_out_is_the_previous_plan_or_the_new_one_never_a_mixture() {
    let tmp = tempfile::tempdir().unwrap();
    let ex = example();
    let out = tmp.path().join("plan");
    let region = tmp.path().join("region.toml");
    fs::write(&region, "[regions]\nallowed = [\"eu-west-1\"]\n").unwrap();
    let plan = |dir: &Path, extra: &[&str]| {
        let mut args = vec!["plan", "--snapshot", s(&ex), "--out", s(dir)];
        args.extend_from_slice(extra);
        latch(&args)
    };

    // The new plan, alone, for comparison.
    let fresh = tmp.path().join("fresh");
    assert!(plan(&fresh, &["--config", s(&region)]).status.success());
    let new = tree(&fresh);

    // A previous plan with Terraform, the adapter's record and a note beside it.
    assert!(plan(&out, &["--format", "terraform"]).status.success());
    fs::write(out.join("applied.json"), "{\"kept\": true}").unwrap();
    fs::write(out.join("policies/NOTES.md"), "mine").unwrap();
    let kept = [
        ("applied.json".to_owned(), b"{\"kept\": true}".to_vec()),
        ("policies/NOTES.md".to_owned(), b"mine".to_vec()),
    ];
    // Something that stops a writer going file by file half-way: plan.json is a directory.
    fs::remove_file(out.join("plan.json")).unwrap();
    fs::create_dir_all(out.join("plan.json/x")).unwrap();
    let before = tree(&out);

    let run = plan(&out, &["--config", s(&region)]);
    let after = tree(&out);
    if run.status.success() {
        // Exactly the new plan (no main.tf of the previous one), plus what is not plan output.
        let mut want = new.clone();
        want.extend(kept.iter().cloned());
        assert_eq!(
            after.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        );
        assert_eq!(after, want);
    } else {
        assert_eq!(after, before, "{}", String::from_utf8_lossy(&run.stderr));
    }
    // No temporary directory is left beside it.
    let siblings: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(siblings.is_empty(), "{siblings:?}");
}
