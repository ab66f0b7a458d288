//! The built-in example organization (examples/org) loads, and holds what PLANTED.md says.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use latch_model::{load, PolicyOrigin, PolicySource, Principal, Snapshot, Timestamp};
use latch_policy::compile::CPolicy;
use latch_policy::eval::Decision;
use latch_policy::Layer;
use latch_policy::Request;

const MGMT: &str = "100000000001";
const SECURITY: &str = "200000000002";
const PROD_APP: &str = "300000000004";
const PROD_DATA: &str = "300000000005";
const DEV: &str = "400000000006";
const SANDBOX: &str = "500000000007";

fn example() -> Snapshot {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/org");
    load::snapshot(&dir).unwrap_or_else(|e| panic!("{e}"))
}

fn principal<'a>(s: &'a Snapshot, arn: &str) -> Principal<'a> {
    s.principal(arn)
        .unwrap_or_else(|| panic!("{arn} is not in the example"))
}

/// The engine's decision for `arn` calling `action` on `resource`, from identity policies,
/// boundary, SCPs and RCPs only.
fn decide(s: &Snapshot, arn: &str, action: &str, resource: &str, ctx: &[(&str, &str)]) -> Decision {
    let p = principal(s, arn);
    let mut set = p.effective_policies().to_policy_set().unwrap();
    let mut context = p.request_context();
    for (k, v) in ctx {
        context.insert(k, vec![(*v).to_owned()], false);
    }
    // Assuming a role: its trust policy is the resource policy.
    if action == "sts:AssumeRole" {
        if let Some(trust) = s.principal(resource).and_then(|t| t.trust_policy()) {
            set.resource = Some(CPolicy::compile(&trust.policy, Layer::Resource).unwrap());
        }
    }
    let req = Request::new(arn, action, resource, None, context).unwrap();
    set.evaluate(&req).decision
}

#[test]
fn counts() {
    let s = example();
    let c = s.counts();
    assert_eq!(c.accounts, 7);
    assert_eq!(c.organizational_units, 4);
    assert_eq!(c.users, 5);
    assert_eq!(c.groups, 1);
    assert_eq!(c.roles, 40);
    assert_eq!(c.inline_policies, 12);
    assert_eq!(c.resource_policies, 5);
    assert_eq!(s.principals().count(), 45);
    // Root 3 + 4 OUs (+1 in Prod and Sandbox) + 7 accounts.
    assert_eq!(c.scp_attachments, 3 + 4 + 2 + 7);
    // Only CloudTrail is missing: the trail generator writes it.
    assert_eq!(s.not_analysed.len(), 1, "{:#?}", s.not_analysed);
    assert!(s.not_analysed[0].starts_with("cloudtrail/"));
    let org = s.organization.as_ref().unwrap();
    assert_eq!(org.id.as_deref(), Some("o-a1b2c3d4e5"));
    assert_eq!(org.management_account_id, MGMT);
    assert_eq!(s.accounts[PROD_APP].name, "prod-app");
}

#[test]
fn every_principal_compiles_for_the_engine() {
    let s = example();
    for p in s.principals() {
        let eff = p.effective_policies();
        assert!(
            eff.unresolved.is_empty(),
            "{}: {:?}",
            p.arn(),
            eff.unresolved
        );
        eff.to_policy_set()
            .unwrap_or_else(|e| panic!("{}: {e}", p.arn()));
        assert_eq!(
            eff.scps.as_ref().unwrap().len(),
            if p.account_id() == MGMT { 2 } else { 3 }
        );
    }
}

#[test]
fn aws_managed_policies_resolve_from_gaad_or_bundle() {
    let s = example();
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    assert_eq!(
        s.accounts[MGMT].managed_policy(admin).unwrap().origin,
        PolicyOrigin::Gaad
    );
    assert_eq!(
        s.accounts[PROD_APP].managed_policy(admin).unwrap().origin,
        PolicyOrigin::Bundled
    );
    // A Policies entry without PolicyName/PolicyId: the name comes from the ARN.
    let billing = s.accounts[MGMT]
        .managed_policy(&format!("arn:aws:iam::{MGMT}:policy/billing-reports"))
        .unwrap();
    assert_eq!(billing.name, "billing-reports");
    assert_eq!(billing.id, None);
    assert_eq!(billing.default_version_id, "v2");
}

#[test]
fn url_encoded_account_decodes_and_paginated_account_merges() {
    let s = example();
    let runner = &s.accounts[PROD_DATA].roles["data-pipeline-runner"];
    assert_eq!(
        runner.inline_policies[0].document.policy.statements.len(),
        2
    );
    assert_eq!(
        runner.trust_policy.value()["Statement"][0]["Principal"]["Service"],
        "ecs-tasks.amazonaws.com"
    );
    let dev = &s.accounts[DEV];
    assert_eq!(dev.roles.len(), 10);
    assert!(
        dev.roles.contains_key("OrganizationAccountAccessRole")
            && dev.roles.contains_key("metrics-exporter")
    );
    // Two customer-managed, four AWS-managed from the bundle (ReadOnly, Admin, Power, Lambda).
    assert_eq!(dev.managed_policies.len(), 6);
    let bundled = dev
        .managed_policies
        .values()
        .filter(|m| m.origin == PolicyOrigin::Bundled);
    assert_eq!(bundled.count(), 4);
}

#[test]
fn kinds_of_roles_are_recognised() {
    let s = example();
    let slr = principal(
        &s,
        &format!(
            "arn:aws:iam::{MGMT}:role/aws-service-role/sso.amazonaws.com/AWSServiceRoleForSSO"
        ),
    );
    assert!(slr.is_service_linked());
    assert!(slr.in_management_account());
    // SCPs restrict neither (each reason on its own is enough), and do restrict a member
    // account's user.
    assert!(!slr.scps_apply());
    let carol = principal(&s, &format!("arn:aws:iam::{DEV}:user/dev-carol"));
    assert!(carol.scps_apply());
    let sso = s.accounts[PROD_APP]
        .roles
        .values()
        .find(|r| r.permission_set_name() == Some("SupportOps"))
        .unwrap();
    assert!(sso.is_sso_permission_set());
    assert_eq!(sso.inline_policies[0].name, "AwsSSOInlinePolicy");
}

#[test]
fn planted_a_passrole_into_lambda() {
    let s = example();
    let carol = format!("arn:aws:iam::{DEV}:user/dev-carol");
    let target = format!("arn:aws:iam::{DEV}:role/lambda-admin-exec");
    let p = principal(&s, &carol);
    let sources: Vec<String> = p
        .identity_policies()
        .iter()
        .map(|sp| sp.source.label())
        .collect();
    assert_eq!(
        sources,
        [
            "inline:lambda-dev",
            "group:developers/inline:dev-sandbox-tools",
            "group:developers/arn:aws:iam::aws:policy/ReadOnlyAccess"
        ]
    );
    assert_eq!(
        decide(&s, &carol, "iam:PassRole", &target, &[]),
        Decision::Allow
    );
    for a in ["lambda:CreateFunction", "lambda:InvokeFunction"] {
        let f = format!("arn:aws:lambda:us-east-1:{DEV}:function:x");
        assert_eq!(decide(&s, &carol, a, &f, &[]), Decision::Allow, "{a}");
    }
    let role = s.principal(&target).unwrap().as_role().unwrap();
    assert!(role
        .attached_policies
        .iter()
        .any(|a| a.ends_with("/AdministratorAccess")));
    assert_eq!(
        role.trust_policy.value()["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    // The negative control may pass only a basic role.
    let ci = format!("arn:aws:iam::{DEV}:role/dev-ci-build");
    assert_eq!(
        decide(&s, &ci, "iam:PassRole", &target, &[]),
        Decision::ImplicitDeny
    );
}

#[test]
fn planted_b_to_d_iam_writes() {
    let s = example();
    let runner = format!("arn:aws:iam::{PROD_DATA}:role/data-pipeline-runner");
    assert_eq!(
        decide(&s, &runner, "iam:PutRolePolicy", &runner, &[]),
        Decision::Allow
    );
    let admin = format!("arn:aws:iam::{PROD_DATA}:role/data-admin");
    assert_eq!(
        decide(&s, &runner, "iam:PutRolePolicy", &admin, &[]),
        Decision::ImplicitDeny
    );

    let ci = format!("arn:aws:iam::{PROD_APP}:role/github-actions-deploy");
    let ops = format!("arn:aws:iam::{PROD_APP}:user/ops-admin");
    assert_eq!(
        decide(&s, &ci, "iam:CreateAccessKey", &ops, &[]),
        Decision::Allow
    );
    let ops_p = principal(&s, &ops);
    assert!(
        matches!(ops_p.identity_policies()[0].source, PolicySource::Managed { policy } if policy.name == "AdministratorAccess")
    );

    let auto = format!("arn:aws:iam::{PROD_DATA}:role/data-platform-automation");
    assert_eq!(
        decide(&s, &auto, "iam:UpdateAssumeRolePolicy", &admin, &[]),
        Decision::Allow
    );
}

#[test]
fn planted_e_cross_account_chain() {
    let s = example();
    let auto = format!("arn:aws:iam::{SANDBOX}:role/sandbox-automation");
    let target = format!("arn:aws:iam::{PROD_APP}:role/ProdDeployAdmin");
    assert_eq!(
        decide(&s, &auto, "sts:AssumeRole", &target, &[]),
        Decision::Allow
    );
    let trust = principal(&s, &target)
        .trust_policy()
        .unwrap()
        .json()
        .to_owned();
    assert!(trust.contains(&auto));
    // sandbox-bob (PowerUserAccess) may assume sandbox-automation, which trusts its account.
    let bob = format!("arn:aws:iam::{SANDBOX}:user/sandbox-bob");
    assert_eq!(
        decide(&s, &bob, "sts:AssumeRole", &auto, &[]),
        Decision::Allow
    );
}

#[test]
fn planted_f_ssm_to_admin_instance() {
    let s = example();
    let ops = s.accounts[PROD_APP]
        .roles
        .values()
        .find(|r| r.permission_set_name() == Some("SupportOps"))
        .unwrap();
    let instance = format!("arn:aws:ec2:us-east-1:{PROD_APP}:instance/i-0abc");
    assert_eq!(
        decide(&s, &ops.arn, "ssm:SendCommand", &instance, &[]),
        Decision::Allow
    );
    let role = &s.accounts[PROD_APP].roles["app-ec2-admin-role"];
    assert_eq!(role.instance_profiles[0].name, "app-ec2-admin-profile");
}

#[test]
fn planted_g_split_across_two_policies() {
    let s = example();
    let agent = format!("arn:aws:iam::{DEV}:role/dev-build-agent");
    let p = principal(&s, &agent);
    let ids = p.identity_policies();
    assert_eq!(ids.len(), 2);
    let text: Vec<String> = ids.iter().map(|sp| sp.document.json().to_owned()).collect();
    assert!(text[0].contains("iam:PassRole") && !text[0].contains("ec2:RunInstances"));
    assert!(text[1].contains("ec2:RunInstances") && !text[1].contains("iam:PassRole"));
    let target = format!("arn:aws:iam::{DEV}:role/ec2-fleet-admin");
    let ctx = [("iam:PassedToService", "ec2.amazonaws.com")];
    assert_eq!(
        decide(&s, &agent, "iam:PassRole", &target, &ctx),
        Decision::Allow
    );
    let i = format!("arn:aws:ec2:us-east-1:{DEV}:instance/*");
    assert_eq!(
        decide(&s, &agent, "ec2:RunInstances", &i, &[]),
        Decision::Allow
    );
}

#[test]
fn planted_h_zombie_and_i_external_trust() {
    let s = example();
    let zombie = &s.accounts[PROD_APP].roles["legacy-migration-admin"];
    let snapshot_time = Timestamp::parse("2026-11-20T00:00:00Z")
        .unwrap()
        .epoch_millis;
    let last = zombie.last_used.as_ref().unwrap().date.as_ref().unwrap();
    assert_eq!(last.days_before(snapshot_time), 262);
    let never = &s.accounts[PROD_APP].roles["OrganizationAccountAccessRole"];
    assert_eq!(never.last_used.as_ref().unwrap().date, None);

    let vendor = principal(
        &s,
        &format!("arn:aws:iam::{SECURITY}:role/ThirdPartyCSPMRole"),
    );
    let trust = vendor.trust_policy().unwrap();
    assert!(trust.json().contains("arn:aws:iam::999988887777:root"));
    assert!(!s.is_internal_account("999988887777"));
    assert!(s.is_internal_account(SECURITY));
    // Assuming it from the vendor account needs the external id.
    let outsider = "arn:aws:iam::999988887777:role/cspm";
    let set = latch_policy::PolicySet {
        resource: Some(CPolicy::compile(&trust.policy, Layer::Resource).unwrap()),
        ..Default::default()
    };
    let mut ctx = latch_policy::context::Context::default();
    ctx.insert("sts:ExternalId", vec!["cspm-7f3a9c21".to_owned()], false);
    let req = Request::new(outsider, "sts:AssumeRole", vendor.arn(), None, ctx).unwrap();
    assert_eq!(
        set.evaluate(&req).decision,
        Decision::ImplicitDeny,
        "no identity policy given"
    );
}

#[test]
fn principal_context_carries_tags_and_org_paths() {
    let s = example();
    let carol = principal(&s, &format!("arn:aws:iam::{DEV}:user/dev-carol"));
    let ctx = carol.request_context();
    assert_eq!(ctx.single("aws:principaltag/team"), Some("payments"));
    assert_eq!(ctx.single("aws:principalorgid"), Some("o-a1b2c3d4e5"));
    assert_eq!(
        ctx.single("aws:principalorgpaths"),
        Some("o-a1b2c3d4e5/r-x1y2/ou-x1y2-dev000001/")
    );
}

#[test]
fn guardrails_apply_through_the_scp_chain() {
    let s = example();
    let bob = format!("arn:aws:iam::{SANDBOX}:user/sandbox-bob");
    let i = format!("arn:aws:ec2:ap-south-1:{SANDBOX}:instance/*");
    let far = [("aws:RequestedRegion", "ap-south-1")];
    let near = [("aws:RequestedRegion", "us-east-1")];
    assert_eq!(
        decide(&s, &bob, "ec2:RunInstances", &i, &far),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&s, &bob, "ec2:RunInstances", &i, &near),
        Decision::Allow
    );
    let chain = principal(&s, &bob).scp_chain().unwrap();
    let names: Vec<Vec<&str>> = chain
        .iter()
        .map(|l| l.policies.iter().map(|p| p.name.as_str()).collect())
        .collect();
    assert_eq!(
        names,
        [
            vec![
                "FullAWSAccess",
                "DenyLeaveOrganization",
                "ProtectSecurityServices"
            ],
            vec!["FullAWSAccess", "SandboxRegionRestriction"],
            vec!["FullAWSAccess"],
        ]
    );
    // Any member account principal is denied leaving the organization, even an admin.
    let admin = format!("arn:aws:iam::{PROD_APP}:user/ops-admin");
    assert_eq!(
        decide(&s, &admin, "organizations:LeaveOrganization", "*", &[]),
        Decision::ExplicitDeny
    );
}

#[test]
fn benign_principal_holds_only_what_it_needs() {
    let s = example();
    let m = format!("arn:aws:iam::{DEV}:role/metrics-exporter");
    for (action, resource) in [
        ("iam:PassRole", "*"),
        ("iam:PutRolePolicy", m.as_str()),
        ("sts:AssumeRole", "*"),
        ("s3:PutObject", "arn:aws:s3:::acme-prod-artifacts/x"),
    ] {
        assert_eq!(
            decide(&s, &m, action, resource, &[]),
            Decision::ImplicitDeny,
            "{action}"
        );
    }
    assert_eq!(
        decide(
            &s,
            &m,
            "s3:PutObject",
            "arn:aws:s3:::acme-dev-metrics/exports/x",
            &[]
        ),
        Decision::Allow
    );
}

#[test]
fn activity_plan_names_only_real_principals() {
    let s = example();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/org");
    let text = std::fs::read_to_string(dir.join("activity.json")).unwrap();
    let plan = latch_model::activity::parse_activity_str(&text).unwrap();
    for arn in plan.keys() {
        assert!(
            s.principal(arn).is_some(),
            "{arn} in activity.json is not in the snapshot"
        );
    }
    // The zombie is idle beyond a 90-day window; the break-glass user never acts.
    let zombie = &plan[&format!("arn:aws:iam::{PROD_APP}:role/legacy-migration-admin")];
    assert!(zombie.last_active_days_ago > 90);
    assert_eq!(
        plan[&format!("arn:aws:iam::{MGMT}:user/breakglass")].daily_calls,
        0
    );
    assert_eq!(plan.len(), 38);
}

#[test]
fn the_example_carries_the_trail_its_cloudtrail_stands_for() {
    let s = example();
    let trails = s.trails.as_ref().expect("examples/org/trails.json");
    assert_eq!(trails.trails.len(), 1);
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/org/trails.json"),
    )
    .unwrap();
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        file,
        latch_model::trails::generated_trails_value("100000000001"),
        "tools/example-org/build.py and the generator must describe the same trail"
    );
    let v = s.visibility();
    let c = latch_catalog::Catalog::get();
    let id = |n: &str| c.resolve(n).unwrap();
    for account in s.accounts.keys() {
        for logged in [
            "s3:GetObject",
            "lambda:InvokeFunction",
            "dynamodb:Scan",
            "iam:CreateRole",
        ] {
            assert_eq!(v.gap(account, id(logged)), None, "{account} {logged}");
        }
        assert_eq!(
            v.gap(account, id("sns:Publish")),
            Some(latch_model::Gap::DataEventsNotLogged)
        );
    }
}
