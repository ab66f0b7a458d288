//! The escalation graph on the built-in example organization (examples/org): every planted
//! path a–g of PLANTED.md is found with its technique, the negative controls are not reported,
//! (e) is found as a multi-hop chain from sandbox-bob, and the output is deterministic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::sync::OnceLock;

use latch_analysis::escalation::{escalation_paths, EscalationPath, EscalationReport, Technique};
use latch_model::Snapshot;

fn snapshot() -> &'static Snapshot {
    static S: OnceLock<Snapshot> = OnceLock::new();
    S.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/org");
        latch_model::load::snapshot(&dir).unwrap()
    })
}

fn report() -> &'static EscalationReport {
    static R: OnceLock<EscalationReport> = OnceLock::new();
    R.get_or_init(|| escalation_paths(snapshot()))
}

fn arn(short: &str) -> String {
    format!("arn:aws:iam::{short}")
}

fn path(from: &str, to: &str) -> &'static EscalationPath {
    let (from, to) = (
        arn(from),
        if to == "admin" {
            to.to_owned()
        } else {
            arn(to)
        },
    );
    report()
        .paths
        .iter()
        .find(|p| p.from == from && p.to == to)
        .unwrap_or_else(|| panic!("no path {from} -> {to}; paths: {:#?}", summary()))
}

fn summary() -> Vec<String> {
    report()
        .paths
        .iter()
        .map(|p| {
            let t: Vec<&str> = p.steps.iter().map(|s| s.technique.id()).collect();
            format!("{} -> {} via {}", p.from, p.to, t.join(","))
        })
        .collect()
}

fn single_step(from: &str, to: &str, technique: Technique, actions: &[&str]) {
    let p = path(from, to);
    assert_eq!(p.steps.len(), 1, "{p:#?}");
    assert_eq!(p.steps[0].technique, technique, "{p:#?}");
    for a in actions {
        assert!(
            p.steps[0].actions.iter().any(|x| x == a),
            "{a} missing in {p:#?}"
        );
    }
}

#[test]
fn a_pass_role_into_lambda() {
    single_step(
        "400000000006:user/dev-carol",
        "400000000006:role/lambda-admin-exec",
        Technique::PassRoleLambda,
        &[
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:InvokeFunction",
        ],
    );
    assert!(path(
        "400000000006:user/dev-carol",
        "400000000006:role/lambda-admin-exec"
    )
    .steps[0]
        .detail
        .contains("inline:lambda-dev"));
}

#[test]
fn b_put_role_policy_on_itself() {
    single_step(
        "300000000005:role/data-pipeline-runner",
        "admin",
        Technique::ModifyPolicy,
        &["iam:PutRolePolicy"],
    );
    assert!(
        path("300000000005:role/data-pipeline-runner", "admin").steps[0]
            .detail
            .contains("SelfTune")
    );
}

#[test]
fn c_create_access_key_for_admin_user() {
    single_step(
        "300000000004:role/github-actions-deploy",
        "300000000004:user/ops-admin",
        Technique::CreateCredentials,
        &["iam:CreateAccessKey"],
    );
}

#[test]
fn d_update_trust_of_admin_role() {
    single_step(
        "300000000005:role/data-platform-automation",
        "300000000005:role/data-admin",
        Technique::UpdateTrust,
        &["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"],
    );
}

#[test]
fn e_cross_account_role_chaining_from_sandbox_bob() {
    single_step(
        "500000000007:role/sandbox-automation",
        "300000000004:role/ProdDeployAdmin",
        Technique::AssumeRole,
        &["sts:AssumeRole"],
    );
    let p = path(
        "500000000007:user/sandbox-bob",
        "300000000004:role/ProdDeployAdmin",
    );
    let hops: Vec<(&str, &str, Technique)> = p
        .steps
        .iter()
        .map(|s| (s.from.as_str(), s.to.as_str(), s.technique))
        .collect();
    assert_eq!(
        hops,
        [
            (
                "arn:aws:iam::500000000007:user/sandbox-bob",
                "arn:aws:iam::500000000007:role/sandbox-automation",
                Technique::AssumeRole
            ),
            (
                "arn:aws:iam::500000000007:role/sandbox-automation",
                "arn:aws:iam::300000000004:role/ProdDeployAdmin",
                Technique::AssumeRole
            ),
        ]
    );
    assert!(p.steps[1].detail.contains("cross-account"));
}

#[test]
fn f_ssm_on_instance_with_admin_profile() {
    single_step(
        "300000000004:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_SupportOps_9d8c7b6a5f4e3d2c",
        "300000000004:role/app-ec2-admin-role",
        Technique::SsmCommand,
        &["ssm:SendCommand"],
    );
}

#[test]
fn g_pass_role_into_ec2_from_two_policies() {
    single_step(
        "400000000006:role/dev-build-agent",
        "400000000006:role/ec2-fleet-admin",
        Technique::PassRoleEc2,
        &["iam:PassRole", "ec2:RunInstances"],
    );
    let d = &path(
        "400000000006:role/dev-build-agent",
        "400000000006:role/ec2-fleet-admin",
    )
    .steps[0]
        .detail;
    assert!(
        d.contains("policy/pass-ec2-roles") && d.contains("policy/ec2-launch"),
        "{d}"
    );
}

#[test]
fn negative_controls_are_not_reported() {
    let r = report();
    for control in [
        "400000000006:role/metrics-exporter",
        "400000000006:role/dev-ci-build",
        "200000000002:role/security-scanner",
    ] {
        let a = arn(control);
        assert!(
            !r.paths.iter().any(|p| p.from == a),
            "{a} has a path: {:#?}",
            summary()
        );
        assert!(!r.admins.contains(&a));
    }
}

#[test]
fn admins_are_the_admin_equivalent_principals() {
    let r = report();
    for admin in [
        "100000000001:user/breakglass",
        "300000000004:user/ops-admin",
        "300000000004:role/ProdDeployAdmin",
        "400000000006:role/lambda-admin-exec",
        "300000000004:role/legacy-migration-admin",
    ] {
        assert!(r.admins.contains(&arn(admin)), "{admin}");
    }
    for not_admin in [
        "500000000007:user/sandbox-bob",
        "300000000005:role/data-pipeline-runner",
        "200000000002:role/ThirdPartyCSPMRole",
    ] {
        assert!(!r.admins.contains(&arn(not_admin)), "{not_admin}");
    }
    // Paths start only at non-admins and end at admins or `admin`.
    for p in &r.paths {
        assert!(!r.admins.contains(&p.from));
        assert!(p.to == "admin" || r.admins.contains(&p.to));
        assert_eq!(p.steps.first().unwrap().from, p.from);
        assert_eq!(p.steps.last().unwrap().to, p.to);
    }
}

#[test]
fn deterministic() {
    let again = escalation_paths(snapshot());
    assert_eq!(&again, report());
    assert_eq!(
        serde_json::to_string(&again).unwrap(),
        serde_json::to_string(report()).unwrap()
    );
}

/// The cheap pre-check never hides what the engine allows: on every principal of the example
/// org, for the actions the rules ask about, an `Allow` from the engine implies `may`.
#[test]
fn precheck_is_a_superset_of_the_engine() {
    use latch_analysis::escalation::{GraphContext, GraphOptions};
    let ctx = GraphContext::new(snapshot(), GraphOptions::default());
    let actions = [
        "sts:AssumeRole",
        "iam:PassRole",
        "iam:PutRolePolicy",
        "iam:CreateAccessKey",
        "iam:UpdateAssumeRolePolicy",
        "lambda:CreateFunction",
        "lambda:UpdateFunctionCode",
        "ec2:RunInstances",
        "ssm:SendCommand",
        "glue:UpdateDevEndpoint",
        "s3:GetObject",
    ];
    let mut allowed = 0;
    for i in 0..ctx.nodes.len() {
        for a in actions {
            if ctx.can_with(i, a, "*", None, None, &[]) {
                allowed += 1;
                assert!(ctx.may(i, a), "{} {a}", ctx.arn(i));
            }
        }
    }
    assert!(allowed > 50, "{allowed}");
}
