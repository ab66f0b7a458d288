//! End-to-end tests of `latch collect|apply|drift|emergency-stop|resync` against the moto
//! emulator, through the binary and the default credential chain (environment variables).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use latch_aws::testing::{self, build_org, targets_of, Fixture};
use serde_json::{json, Value};

const DENY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["iam:CreateAccessKey","iam:CreateLoginProfile"],"Resource":"*","Condition":{"Null":{"aws:PrincipalTag/latch:grant:iam-admin":"true"}}}]}"#;

fn latch(moto: &testing::Moto, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latch"));
    cmd.args(args)
        .args(["--endpoint-url", &moto.endpoint, "--max-attempts", "1"])
        .stdin(Stdio::null());
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    cmd.env_remove("AWS_PROFILE");
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The id of the plan's policy, as `applied.json` records it, checked to be attached to the
/// targets `write_plan` names.
fn assert_applied(
    plan: &Path,
    rt: &tokio::runtime::Runtime,
    aws: &latch_aws::Aws,
    fx: &Fixture,
) -> String {
    let applied: Value =
        serde_json::from_str(&std::fs::read_to_string(plan.join("applied.json")).unwrap()).unwrap();
    let id = applied["policies"]["SCP/latch-deny-credentials"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut want = vec![fx.prod.clone(), fx.sandbox.clone()];
    want.sort();
    assert_eq!(rt.block_on(targets_of(aws, &id)).unwrap(), want);
    id
}

fn write_plan(dir: &Path, fx: &Fixture) {
    let plan = json!({
        "format": "latch.plan/v1",
        "organization": {"root_id": fx.root, "management_account_id": fx.management},
        "policies": [{"name": "latch-deny-credentials", "type": "SERVICE_CONTROL_POLICY",
                      "description": "No new credentials without a grant",
                      "file": "scp/latch-deny-credentials.json", "content": DENY,
                      "targets": [fx.prod, fx.sandbox]}],
        "tags": [{"principal_arn": format!("arn:aws:iam::{}:role/deployer", fx.app_prod),
                  "key": "latch:control-plane", "value": "true", "reason": "control plane"}]
    });
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("plan.json"), plan.to_string()).unwrap();
}

/// A fresh organization in moto: the emulator lock (held for the test), the emulator, its SDK
/// clients, a runtime, the fixture organization and a scratch folder.
struct Setup {
    _guard: std::sync::MutexGuard<'static, ()>,
    moto: &'static testing::Moto,
    aws: latch_aws::Aws,
    rt: tokio::runtime::Runtime,
    fx: Fixture,
    tmp: tempfile::TempDir,
}

fn setup() -> Setup {
    let guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let aws = moto.aws();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fx = rt.block_on(build_org(&aws)).unwrap();
    Setup {
        _guard: guard,
        moto,
        aws,
        rt,
        fx,
        tmp: tempfile::tempdir().unwrap(),
    }
}

#[test]
fn collect_apply_drift_stop_resync_through_the_cli() {
    let Setup {
        _guard,
        moto,
        aws,
        rt,
        fx,
        tmp,
    } = setup();

    // collect: table on stdout, progress on stderr, the closed account reported.
    let snap = tmp.path().join("snap");
    let o = latch(moto, &["collect", "--out", snap.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&fx.app_prod) && out.contains("collected"),
        "{}",
        text(&o)
    );
    assert!(out.contains("skipped"), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("[accounts"), "{}", text(&o));
    assert!(
        err.contains("1 of 5 accounts not collected"),
        "{}",
        text(&o)
    );
    let snapshot = latch_model::load::snapshot(&snap).unwrap();
    assert_eq!(snapshot.accounts.len(), 4);
    // By default the workloads of every enabled region are inventoried.
    let w = snapshot.accounts[&fx.app_prod].workloads.as_ref().unwrap();
    assert!(w.regions.len() > 1, "{:?}", w.regions);
    // A region list that is not one is refused before anything is called.
    let bad = tmp.path().join("bad");
    let o = latch(
        moto,
        &[
            "collect",
            "--out",
            bad.to_str().unwrap(),
            "--workload-regions",
            "US East",
        ],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("`US East` is not a region name"),
        "{}",
        text(&o)
    );
    assert!(!bad.exists());

    // scan --aws: collect the live organization, then scan it, in one command.
    let scanned = tmp.path().join("scanned");
    let o = latch(
        moto,
        &[
            "scan",
            "--aws",
            "--collect-out",
            scanned.to_str().unwrap(),
            "--workload-regions",
            "us-east-1",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let principals = report["principals"].as_array().unwrap();
    assert!(
        principals
            .iter()
            .any(|p| p["arn"].as_str().unwrap().contains(&fx.app_prod)),
        "{}",
        text(&o)
    );
    assert_eq!(
        latch_model::load::snapshot(&scanned)
            .unwrap()
            .accounts
            .len(),
        4,
        "scan --aws writes the same snapshot as collect"
    );

    // collect --format json into another directory.
    let snap2 = tmp.path().join("snap2");
    let o = latch(
        moto,
        &[
            "collect",
            "--out",
            snap2.to_str().unwrap(),
            "--workload-regions",
            "none",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(!snap2
        .join("accounts")
        .join(&fx.app_prod)
        .join("workloads.json")
        .exists());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["organization_id"], fx.org_id.as_str());
    assert_eq!(v["accounts"].as_array().unwrap().len(), 5);

    let plan = tmp.path().join("plan");
    write_plan(&plan, &fx);
    let p = plan.to_str().unwrap();

    // --dry-run prints the calls and changes nothing.
    let o = latch(moto, &["apply", "--plan", p, "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("organizations:CreatePolicy Name=latch-deny-credentials"),
        "{}",
        text(&o)
    );
    assert!(out.contains("iam:TagRole"), "{}", text(&o));
    assert!(!plan.join("applied.json").exists());

    // Without --yes and without a terminal, nothing is applied.
    let o = latch(moto, &["apply", "--plan", p]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--yes"),
        "{}",
        text(&o)
    );

    let o = latch(moto, &["apply", "--plan", p, "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    let id = assert_applied(&plan, &rt, &aws, &fx);

    // Idempotent.
    let o = latch(moto, &["apply", "--plan", p, "--yes", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["changes"], json!([]), "{}", text(&o));
    let o = latch(moto, &["drift", "--plan", p]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Tamper: detach from the sandbox account.
    rt.block_on(async {
        aws.organizations()
            .detach_policy()
            .policy_id(&id)
            .target_id(&fx.sandbox)
            .send()
            .await
            .unwrap();
    });
    let o = latch(moto, &["drift", "--plan", p, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["drift"][0]["kind"], "detached", "{}", text(&o));
    assert_eq!(v["drift"][0]["target"], fx.sandbox.as_str());
    let o = latch(moto, &["drift", "--plan", p, "--repair"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("repaired"),
        "{}",
        text(&o)
    );
    let o = latch(moto, &["drift", "--plan", p]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Emergency stop, then resync.
    let o = latch(moto, &["emergency-stop", "--yes", "--plan", p]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(rt.block_on(targets_of(&aws, &id)).unwrap().is_empty());
    let o = latch(moto, &["drift", "--plan", p]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = latch(moto, &["resync", "--plan", p, "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(assert_applied(&plan, &rt, &aws, &fx), id);
    let o = latch(moto, &["drift", "--plan", p]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Bad plan: an error naming the file and field, before any call.
    std::fs::write(
        plan.join("plan.json"),
        std::fs::read_to_string(plan.join("plan.json"))
            .unwrap()
            .replace("latch-deny-credentials", "deny-credentials"),
    )
    .unwrap();
    let o = latch(moto, &["apply", "--plan", p, "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("plan.json: policies[0].name"),
        "{}",
        text(&o)
    );
}

/// A plan that protects an action whose use the trails cannot show lists who may break;
/// `latch apply` refuses it (before touching AWS) unless given `--accept-unknown-usage`.
#[test]
fn apply_refuses_a_plan_that_may_break_identities_unless_told_to_accept_it() {
    let Setup {
        _guard,
        moto,
        aws,
        rt,
        fx,
        tmp,
    } = setup();
    let plan = tmp.path().join("plan");
    write_plan(&plan, &fx);
    let file = plan.join("plan.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let reader = format!("arn:aws:iam::{}:role/deployer", fx.app_prod);
    v["summary"] = json!({"mode": "protect", "may_break": [{
        "principal": reader, "account": fx.app_prod,
        "reason": "usage unknown: data events not logged", "actions": ["s3:GetObject"]}]});
    std::fs::write(&file, v.to_string()).unwrap();
    let p = plan.to_str().unwrap();

    let o = latch(moto, &["apply", "--plan", p, "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for says in [
        "refusing to apply",
        "1 identity may break",
        reader.as_str(),
        "usage unknown: data events not logged",
        "--accept-unknown-usage",
    ] {
        assert!(err.contains(says), "{says}: {}", text(&o));
    }
    assert!(!plan.join("applied.json").exists(), "nothing was applied");
    // A dry run shows the diff and warns.
    let o = latch(moto, &["apply", "--plan", p, "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("will refuse this plan"),
        "{}",
        text(&o)
    );

    let o = latch(
        moto,
        &["apply", "--plan", p, "--yes", "--accept-unknown-usage"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("applying anyway"),
        "{}",
        text(&o)
    );
    assert_applied(&plan, &rt, &aws, &fx);

    // --help teaches the flag.
    let o = Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(["apply", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(
        help.contains("--accept-unknown-usage") && help.contains("may break"),
        "{help}"
    );
}
