//! `latch_firewall::prove` on the example organization with 90 days of its CloudTrail
//! (generated in memory): the built-in attack suite against an enforce-mode plan, the default
//! protect-mode plan, and deliberately weakened plans.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use latch_analysis::escalation::Technique;
use latch_firewall::prove::{
    builtin, builtin_files, detected_from, parse_scenario, prove, Detected, ProveOptions,
    ProveReport, ScenarioKind, ScenarioResult,
};
use latch_firewall::{build, Config, Plan, PlanInput};

fn plan(mode: &str) -> Plan {
    let cfg = Config::parse(&format!("mode = \"{mode}\"")).unwrap();
    let input = PlanInput {
        snapshot: common::snapshot(),
        config: &cfg,
        usage: Some(common::usage()),
        as_of: Some(common::as_of()),
        reading: None,
        active_grants: &[],
    };
    build(&input, None).unwrap().plan
}

fn enforce_plan() -> &'static Plan {
    static P: OnceLock<Plan> = OnceLock::new();
    P.get_or_init(|| plan("enforce"))
}

fn detected() -> &'static [Detected] {
    static D: OnceLock<Vec<Detected>> = OnceLock::new();
    D.get_or_init(|| detected_from(&latch_analysis::escalation_paths(common::snapshot())))
}

fn run(plan: &Plan) -> ProveReport {
    prove(
        common::snapshot(),
        plan,
        &builtin().unwrap(),
        Some(detected()),
        &ProveOptions::default(),
    )
    .unwrap()
}

fn get<'r>(r: &'r ProveReport, id: &str) -> &'r ScenarioResult {
    r.scenarios.iter().find(|s| s.id == id).unwrap()
}

/// A copy of the plan without the statements whose Sid starts with `prefix`, in policies of
/// the given type (`None`: every type).
fn without(plan: &Plan, prefix: &str, kind: Option<latch_catalog::PolicyType>) -> Plan {
    let mut p = plan.clone();
    for pol in &mut p.policies {
        if kind.is_some_and(|k| k != pol.kind) {
            continue;
        }
        let mut doc: serde_json::Value = serde_json::from_str(&pol.content).unwrap();
        let stmts = doc["Statement"].as_array_mut().unwrap();
        stmts.retain(|s| !s["Sid"].as_str().unwrap_or("").starts_with(prefix));
        pol.content = serde_json::to_string(&doc).unwrap();
    }
    p.policies.retain(|pol| {
        let doc: serde_json::Value = serde_json::from_str(&pol.content).unwrap();
        !doc["Statement"].as_array().unwrap().is_empty()
    });
    p
}

#[test]
fn every_scenario_file_is_embedded_and_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, builtin_files());
    let suite = builtin().unwrap();
    assert_eq!(suite.len(), on_disk.len());
    // The suite covers what the firewall promises to stop.
    let impact: BTreeSet<&str> = suite
        .iter()
        .map(|s| s.steps.last().unwrap().action.as_str())
        .collect();
    for a in [
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:CreatePolicyVersion",
        "iam:PassRole",
        "iam:CreateAccessKey",
        "iam:CreateLoginProfile",
        "iam:UpdateLoginProfile",
        "iam:CreateServiceSpecificCredential",
        "iam:SetDefaultPolicyVersion",
        "iam:UpdateAssumeRolePolicy",
        "iam:AttachUserPolicy",
        "ssm:SendCommand",
        "ec2-instance-connect:SendSSHPublicKey",
        "lambda:UpdateFunctionCode",
        "ec2:ModifyInstanceAttribute",
        "glue:UpdateDevEndpoint",
        "cloudformation:UpdateStack",
        "sagemaker:CreatePresignedNotebookInstanceUrl",
        "codebuild:StartBuild",
        "bedrock-agentcore:InvokeCodeInterpreter",
        "cloudtrail:StopLogging",
        "cloudtrail:DeleteTrail",
        "organizations:LeaveOrganization",
        "iam:TagRole",
        "sts:TagSession",
        "iam:CreateRole",
    ] {
        assert!(impact.contains(a), "no scenario ends with {a}");
    }
    let passed_to: BTreeSet<String> = suite
        .iter()
        .flat_map(|s| &s.steps)
        .filter_map(|st| st.context.get("iam:PassedToService"))
        .map(|v| format!("{v:?}"))
        .collect();
    for svc in [
        "lambda",
        "ec2",
        "cloudformation",
        "glue",
        "sagemaker",
        "codebuild",
        "datapipeline",
        "ecs-tasks",
        "apprunner",
        "bedrock-agentcore",
    ] {
        assert!(
            passed_to
                .iter()
                .any(|p| p.contains(&format!("{svc}.amazonaws.com"))),
            "no PassRole into {svc}"
        );
    }
    assert_eq!(
        suite
            .iter()
            .filter(|s| s.kind == ScenarioKind::Tamper)
            .count(),
        4
    );
}

/// Every technique the escalation analysis detects has a scenario in the built-in suite, so
/// `prove` shows for each of them that the plan stops it.
#[test]
fn every_escalation_technique_has_a_scenario() {
    let suite = builtin().unwrap();
    let covered: BTreeSet<&str> = suite
        .iter()
        .filter_map(|s| s.technique.as_deref())
        .collect();
    let missing: Vec<&str> = Technique::ALL
        .iter()
        .map(|t| t.id())
        .filter(|id| !covered.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "techniques the scan detects without a scenario in scenarios/: {missing:?}"
    );
}

#[test]
fn bad_scenarios_are_errors_naming_the_field() {
    let ok = r#"
id = "x"
name = "x"
description = "x"
kind = "tamper"
[attacker]
holding = ["iam:TagRole"]
[[steps]]
action = "iam:TagRole"
resource = "${attacker}"
"#;
    assert!(parse_scenario("x.toml", ok).is_ok());
    let e = parse_scenario("y.toml", ok).unwrap_err().to_string();
    assert!(e.contains("`id` is `x` but the file is named `y`"), "{e}");
    let e = parse_scenario("x.toml", &ok.replace("${attacker}", "${victim}"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("steps[0].resource") && e.contains("${victim}"),
        "{e}"
    );
    let e = parse_scenario("x.toml", &ok.replace("${attacker}", "${target}"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs a `[target]` selector"), "{e}");
    let e = parse_scenario(
        "x.toml",
        &ok.replace("action = \"iam:TagRole\"", "action = \"iam:TagRoles\""),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("steps[0].action") && e.contains("iam:TagRoles"),
        "{e}"
    );
    let e = parse_scenario(
        "x.toml",
        &ok.replace(
            "kind = \"tamper\"",
            "kind = \"tamper\"\ntechnique = \"pass-role-foo\"",
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("`technique`: `pass-role-foo`"), "{e}");
    // An RCP cannot deny an IAM action: IAM is not among the services RCPs govern.
    let e = parse_scenario(
        "x.toml",
        &ok.replace(
            "resource = \"${attacker}\"",
            "resource = \"${attacker}\"\ndeny_in = [\"rcp\"]",
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("steps[0].deny_in") && e.contains("RCPs do not govern `iam`"),
        "{e}"
    );
    let e = parse_scenario("x.toml", &ok.replace("[[steps]]", "[[stepz]]"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("stepz"), "{e}");
    let json = r#"{"id":"j","name":"j","description":"j","kind":"defense-evasion",
        "attacker":{"holding":["cloudtrail:StopLogging"]},
        "steps":[{"action":"cloudtrail:StopLogging","resource":"*"}]}"#;
    assert_eq!(parse_scenario("dir/j.json", json).unwrap().id, "j");
    assert!(parse_scenario("j.yaml", json).is_err());
}

#[test]
fn enforce_plan_blocks_every_scenario_and_the_scan_detects_them() {
    let report = run(enforce_plan());
    assert!(
        report.all_blocked(),
        "{:#?}",
        report
            .scenarios
            .iter()
            .filter(|s| s.status != "blocked")
            .collect::<Vec<_>>()
    );
    assert_eq!(report.summary.blocked, builtin().unwrap().len());
    // Takeovers of existing resources the example does not have: the attacker holds the
    // permission (PowerUserAccess), but no dev endpoint, notebook instance, stack or code
    // interpreter runs as a privileged role there, and the one CodeBuild project (`dev-ci`)
    // runs as `dev-ci-build`, which is not admin-equivalent. The scan rightly reports no
    // escalation path; the plan denies the actions all the same.
    const NOT_DETECTED: [&str; 5] = [
        "code-interpreter-session",
        "codebuild-start-build",
        "glue-dev-endpoint",
        "sagemaker-presigned-url",
        "update-stack",
    ];
    let not_detected: Vec<&str> = report
        .scenarios
        .iter()
        .filter(|s| s.detection.status == "not-detected")
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(not_detected, NOT_DETECTED);
    for s in &report.scenarios {
        if NOT_DETECTED.contains(&s.id.as_str()) {
            assert_eq!(s.detection.method, "escalation-path", "{}", s.id);
            assert!(
                s.attacker
                    .as_deref()
                    .is_some_and(|a| a.contains("AWSReservedSSO_PowerUserAccess")),
                "{}: {:?}",
                s.id,
                s.attacker
            );
        } else {
            // Detected before enforcement, or already denied today by an explicit Deny.
            assert!(
                ["detected", "denied-today"].contains(&s.detection.status.as_str()),
                "{}: {:?}",
                s.id,
                s.detection
            );
        }
        if s.detection.status == "denied-today" {
            assert_eq!(
                s.steps.last().unwrap().today.decision,
                "ExplicitDeny",
                "{}",
                s.id
            );
        }
        // Every attack that works today is found by the scan, but for those above.
        if s.feasible_today && !NOT_DETECTED.contains(&s.id.as_str()) {
            assert_eq!(s.detection.status, "detected", "{}", s.id);
        }
        let impact = s.steps.last().unwrap();
        assert!(impact.impact);
        assert_ne!(impact.with_plan.decision, "Allow", "{}", s.id);
        assert!(!s.blocked_by.is_empty());
        assert!(s.blocked_by.iter().all(|b| b.starts_with("latch-")));
    }
    // The planted escalation paths are run on the planted principals, work today and are
    // found by the escalation analysis.
    for (id, attacker) in [
        ("pass-role-lambda", "arn:aws:iam::400000000006:user/dev-carol"),
        ("put-inline-policy-on-self", "arn:aws:iam::300000000005:role/data-pipeline-runner"),
        ("access-key-for-admin-user", "arn:aws:iam::300000000004:role/github-actions-deploy"),
        ("trust-policy-backdoor", "arn:aws:iam::300000000005:role/data-platform-automation"),
        ("cross-account-role-chaining", "arn:aws:iam::500000000007:role/sandbox-automation"),
        ("ssm-send-command", "arn:aws:iam::300000000004:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_SupportOps_9d8c7b6a5f4e3d2c"),
        ("pass-role-ec2", "arn:aws:iam::400000000006:role/dev-build-agent"),
    ] {
        let s = get(&report, id);
        assert_eq!(s.attacker.as_deref(), Some(attacker), "{id}");
        assert!(s.feasible_today, "{id}: {:#?}", s.steps);
        assert_eq!(s.detection.method, "escalation-path", "{id}");
        assert_eq!(s.detection.status, "detected", "{id}");
        assert_eq!(s.blocked_by.iter().filter(|b| b.contains("LatchPermission")).count(), s.blocked_by.len(), "{id}");
    }
    // Taking over what runs as an admin role in dev: the function `ops-cleanup` (execution
    // role lambda-admin-exec) and the instance with profile ec2-fleet-admin.
    let dev_power_user = "arn:aws:iam::400000000006:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PowerUserAccess_5e6f7a8b9c0d1e2f";
    for (id, target) in [
        (
            "update-code",
            "arn:aws:iam::400000000006:role/lambda-admin-exec",
        ),
        (
            "ec2-user-data",
            "arn:aws:iam::400000000006:role/ec2-fleet-admin",
        ),
    ] {
        let s = get(&report, id);
        assert_eq!(s.attacker.as_deref(), Some(dev_power_user), "{id}");
        assert_eq!(s.target.as_deref(), Some(target), "{id}");
        assert!(s.feasible_today, "{id}: {:#?}", s.steps);
        assert_eq!(s.detection.method, "escalation-path", "{id}");
        assert_eq!(s.detection.status, "detected", "{id}");
    }
    // Role chaining: the impact is made as the assumed production admin.
    let chain = get(&report, "cross-account-role-chaining");
    assert_eq!(
        chain.target.as_deref(),
        Some("arn:aws:iam::300000000004:role/ProdDeployAdmin")
    );
    assert_eq!(
        chain.steps[2].principal,
        "arn:aws:iam::300000000004:role/ProdDeployAdmin"
    );
    // The tamper attempts are denied by the tamper layer itself.
    for id in [
        "tamper-self-tag-grant",
        "tamper-session-tag-grant",
        "tamper-create-pre-tagged-role",
        "tamper-control-plane-role",
    ] {
        let s = get(&report, id);
        assert_eq!(s.kind, ScenarioKind::Tamper);
        assert_eq!(s.status, "blocked", "{id}");
        assert!(
            s.blocked_by.iter().any(|b| b.contains("/LatchTamper")),
            "{id}: {:?}",
            s.blocked_by
        );
    }
    // Session tags: an SCP and an RCP both deny it.
    let st = get(&report, "tamper-session-tag-grant");
    let layers: BTreeSet<&str> = st
        .steps
        .last()
        .unwrap()
        .with_plan
        .latch_statements()
        .filter(|d| {
            d.sid
                .as_deref()
                .is_some_and(|s| s.starts_with("LatchTamper"))
        })
        .map(|d| d.layer.as_str())
        .collect();
    assert_eq!(layers, BTreeSet::from(["rcp", "scp"]));
    // CloudTrail is already protected today by the example's own SCP; the plan adds its own.
    let ct = get(&report, "cloudtrail-stop-logging");
    let today = &ct.steps.last().unwrap().today;
    assert_eq!(today.decision, "ExplicitDeny");
    assert!(today
        .denied_by
        .iter()
        .any(|d| d.policy == "ProtectSecurityServices"
            && !d.latch
            && d.attached_to.as_deref() == Some("r-x1y2")));
    // Deterministic.
    assert_eq!(
        serde_json::to_string(&report).unwrap(),
        serde_json::to_string(&run(enforce_plan())).unwrap()
    );
}

#[test]
fn protect_plan_blocks_every_scenario() {
    let report = run(&plan("protect"));
    let open: Vec<&str> = report
        .scenarios
        .iter()
        .filter(|s| s.status != "blocked")
        .map(|s| s.id.as_str())
        .collect();
    // Protect mode keeps each identity exactly the actions it used. The attackers of the
    // example use some of the bundle's actions daily (dev-build-agent launches instances,
    // github-actions-deploy registers ECS tasks, sandbox-automation assumes roles) but not the
    // impact steps; dev-build-agent keeps iam:PassRole only on the role its launches pass
    // (ec2-build-worker), so passing ec2-fleet-admin is denied.
    assert!(open.is_empty(), "{open:?}");
    let ec2 = get(&report, "pass-role-ec2");
    let impact = ec2.steps.last().unwrap();
    assert_eq!(impact.action, "iam:PassRole");
    assert!(impact.with_plan.latch_statements().count() > 0);
    // Tamper protection holds in protect mode too.
    for s in report
        .scenarios
        .iter()
        .filter(|s| s.kind == ScenarioKind::Tamper)
    {
        assert_eq!(s.status, "blocked", "{}", s.id);
    }
    assert!(report.all_blocked());
}

#[test]
fn a_weakened_plan_is_not_blocked_and_says_why() {
    // No permission layer: the escalations go through; the tamper layer still stops tampering.
    let weak = without(enforce_plan(), "LatchPermission", None);
    let report = run(&weak);
    assert!(!report.all_blocked());
    let lambda = get(&report, "pass-role-lambda");
    assert_eq!(lambda.status, "not-blocked");
    assert_eq!(lambda.steps.last().unwrap().with_plan.decision, "Allow");
    assert!(lambda
        .problem
        .as_deref()
        .unwrap()
        .contains("no statement of the plan denies the impact step `iam:PassRole`"));
    assert!(lambda.blocked_by.is_empty());
    for id in [
        "tamper-self-tag-grant",
        "tamper-create-pre-tagged-role",
        "tamper-session-tag-grant",
        "tamper-control-plane-role",
        "leave-organization",
    ] {
        assert_eq!(get(&report, id).status, "blocked", "{id}");
    }
    // CloudTrail stays denied today by the example's own SCP, but that is not the plan's doing.
    let ct = get(&report, "cloudtrail-stop-logging");
    assert_eq!(ct.steps.last().unwrap().with_plan.decision, "ExplicitDeny");
    assert_eq!(ct.status, "not-blocked");

    // Without the RCP the session tag is still denied by the SCP, which is not enough.
    let no_rcp = without(
        enforce_plan(),
        "LatchTamper",
        Some(latch_catalog::PolicyType::Rcp),
    );
    let report = run(&no_rcp);
    let st = get(&report, "tamper-session-tag-grant");
    assert_eq!(st.status, "not-blocked");
    assert!(
        st.problem
            .as_deref()
            .unwrap()
            .contains("must be denied by the plan's rcp too"),
        "{:?}",
        st.problem
    );
    assert_eq!(report.summary.not_blocked, 1);
}
