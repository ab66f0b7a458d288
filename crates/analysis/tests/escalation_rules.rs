//! Every escalation rule on small snapshots built in code: a positive fixture (the edge and the
//! path are found, with the actions the step needs) and negative fixtures (one ingredient
//! missing, so nothing is reported).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "escalation/fixture.rs"]
#[allow(dead_code, reason = "each test crate uses part of the fixture")]
mod fixture;

use fixture::*;
use latch_analysis::escalation::{Target, Technique};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// assume-role

#[test]
fn assume_role_same_account_needs_trust_and_permission() {
    let mut fx = Fx::new();
    let admin = fx.admin_role(A, "admin", trust_aws(&root(A)));
    let alice = fx.user(A, "alice", vec![allow(&["sts:AssumeRole"], &admin)]);
    let bob = fx.user(A, "bob", vec![allow(&["s3:GetObject"], "*")]);
    let r = fx.report();
    assert!(has_edge(&r, &alice, &admin, Technique::AssumeRole));
    let p = path(&r, &alice, &admin).unwrap();
    assert_eq!(techniques(p), [Technique::AssumeRole]);
    assert_eq!(p.steps[0].actions, ["sts:AssumeRole"]);
    // Bob's account is trusted, but nothing in his policies allows sts:AssumeRole.
    assert!(!has_edge(&r, &bob, &admin, Technique::AssumeRole));
    assert!(path(&r, &bob, &admin).is_none());
    assert_eq!(r.admins, [admin]);
}

#[test]
fn assume_role_trust_naming_the_caller_needs_no_identity_permission() {
    let mut fx = Fx::new();
    let carol = user_arn(A, "carol");
    let admin = fx.admin_role(A, "admin", trust_aws(&carol));
    fx.user(A, "carol", vec![]);
    let dave = fx.user(A, "dave", vec![allow(&["sts:AssumeRole"], "*")]);
    let r = fx.report();
    assert!(has_edge(&r, &carol, &admin, Technique::AssumeRole));
    // Dave may call sts:AssumeRole everywhere, but the trust policy names only Carol.
    assert!(!has_edge(&r, &dave, &admin, Technique::AssumeRole));
}

#[test]
fn assume_role_cross_account_needs_both_sides() {
    let mut fx = Fx::new();
    let ci = role_arn(B, "ci");
    let admin = fx.admin_role(A, "deploy-admin", trust_aws(&ci));
    fx.role(
        B,
        "ci",
        trust_service("codebuild.amazonaws.com"),
        vec![allow(&["sts:AssumeRole"], &admin)],
    );
    // Same trust shape, but the caller's policies do not allow the call: cross-account both
    // sides must allow.
    let other = role_arn(B, "other");
    let admin2 = fx.admin_role(A, "deploy-admin-2", trust_aws(&other));
    fx.role(
        B,
        "other",
        trust_service("codebuild.amazonaws.com"),
        vec![allow(&["s3:*"], "*")],
    );
    let r = fx.report();
    assert!(has_edge(&r, &ci, &admin, Technique::AssumeRole));
    let e = r.edges.iter().find(|e| e.from == ci).unwrap();
    assert!(e.detail.contains("cross-account"), "{}", e.detail);
    assert!(!has_edge(&r, &other, &admin2, Technique::AssumeRole));
}

#[test]
fn assume_role_condition_in_trust_is_evaluated() {
    let mut fx = Fx::new();
    let admin = fx.role(
        A,
        "admin",
        json!({"Effect": "Allow", "Principal": {"AWS": root(A)}, "Action": "sts:AssumeRole",
               "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}),
        vec![allow(&["*"], "*")],
    );
    let u = fx.user(A, "u", vec![allow(&["sts:AssumeRole"], "*")]);
    let r = fx.report();
    // The graph's requests carry no MFA: the condition does not hold.
    assert!(!has_edge(&r, &u, &admin, Technique::AssumeRole));
}

// ---------------------------------------------------------------------------------------------
// update-trust

#[test]
fn update_trust_then_assume() {
    let mut fx = Fx::new();
    let admin = fx.admin_role(A, "admin", trust_service("ec2.amazonaws.com"));
    let auto = fx.role(
        A,
        "automation",
        trust_service("lambda.amazonaws.com"),
        vec![allow(&["iam:UpdateAssumeRolePolicy"], &admin)],
    );
    let blocked = fx.role(
        A,
        "blocked",
        trust_service("lambda.amazonaws.com"),
        vec![
            allow(&["iam:UpdateAssumeRolePolicy"], &admin),
            deny(&["sts:AssumeRole"], "*"),
        ],
    );
    let other = fx.role(
        A,
        "other",
        trust_service("lambda.amazonaws.com"),
        vec![allow(
            &["iam:UpdateAssumeRolePolicy"],
            &role_arn(A, "something-else"),
        )],
    );
    let r = fx.report();
    assert!(has_edge(&r, &auto, &admin, Technique::UpdateTrust));
    let p = path(&r, &auto, &admin).unwrap();
    assert_eq!(
        p.steps[0].actions,
        ["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"]
    );
    // An explicit deny of sts:AssumeRole survives the rewritten trust policy.
    assert!(!has_edge(&r, &blocked, &admin, Technique::UpdateTrust));
    assert!(!any_edge_from(&r, &other));
}

#[test]
fn update_trust_needs_no_sts_permission_in_the_same_account() {
    // Within one account a trust policy that names the caller is enough: the caller's identity
    // policies need not allow sts:AssumeRole.
    let mut fx = Fx::new();
    let admin = fx.admin_role(A, "admin", trust_service("ec2.amazonaws.com"));
    let u = fx.user(A, "u", vec![allow(&["iam:UpdateAssumeRolePolicy"], &admin)]);
    // A role whose boundary does not let sts:AssumeRole through: a trust policy naming the
    // role's ARN is capped by it (AWS), so naming itself does not let it in.
    let bounded = role_arn(A, "bounded");
    fx.role(
        A,
        "bounded",
        trust_service("lambda.amazonaws.com"),
        vec![allow(&["iam:UpdateAssumeRolePolicy"], &admin)],
    );
    fx.boundary(
        A,
        "bounded",
        vec![allow(&["iam:UpdateAssumeRolePolicy"], "*")],
    );
    let r = fx.report();
    let p = path(&r, &u, &admin).unwrap_or_else(|| panic!("{:#?}", r.edges));
    assert_eq!(techniques(p), [Technique::UpdateTrust]);
    assert_eq!(
        p.steps[0].actions,
        ["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"]
    );
    assert!(!any_edge_from(&r, &bounded), "{:#?}", r.edges);
}

#[test]
fn rewrite_trust_then_put_a_policy_on_the_role() {
    // `worker` is not admin and does not trust `u`; `u` may rewrite its trust policy and put a
    // policy on it: `Allow *` on the role, then assume it.
    let mut fx = Fx::new();
    let worker = fx.role(
        A,
        "worker",
        trust_service("ecs-tasks.amazonaws.com"),
        vec![allow(&["s3:GetObject"], "*")],
    );
    let u = fx.user(
        A,
        "u",
        vec![allow(
            &["iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy"],
            &worker,
        )],
    );
    // Either move alone is not enough.
    let only_trust = fx.user(
        A,
        "only-trust",
        vec![allow(&["iam:UpdateAssumeRolePolicy"], &worker)],
    );
    let only_put = fx.user(A, "only-put", vec![allow(&["iam:PutRolePolicy"], &worker)]);
    // A boundary on the role caps what a policy put on it can give.
    let capped = fx.role(
        A,
        "capped",
        trust_service("ecs-tasks.amazonaws.com"),
        vec![allow(&["s3:GetObject"], "*")],
    );
    fx.boundary(A, "capped", vec![allow(&["s3:*"], "*")]);
    let v = fx.user(
        A,
        "v",
        vec![allow(
            &["iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy"],
            &capped,
        )],
    );
    let r = fx.report();
    assert!(!r.admins.contains(&worker));
    let p = path(&r, &u, "admin").unwrap_or_else(|| panic!("{:#?}", r.edges));
    assert_eq!(techniques(p), [Technique::ModifyPolicy]);
    assert_eq!(
        p.steps[0].actions,
        [
            "iam:PutRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "sts:AssumeRole"
        ]
    );
    assert!(
        p.steps[0].detail.contains("trust policy"),
        "{}",
        p.steps[0].detail
    );
    assert!(path(&r, &only_trust, "admin").is_none(), "{:#?}", r.paths);
    assert!(path(&r, &only_put, "admin").is_none(), "{:#?}", r.paths);
    assert!(path(&r, &v, "admin").is_none(), "{:#?}", r.paths);
}

fn any_edge_from(r: &latch_analysis::EscalationReport, from: &str) -> bool {
    r.edges.iter().any(|e| e.from == from)
}

// ---------------------------------------------------------------------------------------------
// create-credentials

#[test]
fn create_credentials_for_an_admin_user() {
    let mut fx = Fx::new();
    let ops = fx.user(A, "ops", vec![allow(&["*"], "*")]);
    let ci = fx.role(
        A,
        "ci",
        trust_service("codebuild.amazonaws.com"),
        vec![allow(&["iam:CreateAccessKey"], &ops)],
    );
    let hd = fx.user(
        A,
        "helpdesk",
        vec![allow(&["iam:UpdateLoginProfile"], &ops)],
    );
    let me = fx.user(
        A,
        "self-service",
        vec![allow(
            &["iam:CreateAccessKey", "iam:CreateLoginProfile"],
            "arn:aws:iam::*:user/${aws:username}",
        )],
    );
    let r = fx.report();
    assert!(has_edge(&r, &ci, &ops, Technique::CreateCredentials));
    assert_eq!(
        path(&r, &ci, &ops).unwrap().steps[0].actions,
        ["iam:CreateAccessKey"]
    );
    assert!(has_edge(&r, &hd, &ops, Technique::CreateCredentials));
    assert_eq!(
        path(&r, &hd, &ops).unwrap().steps[0].actions,
        ["iam:UpdateLoginProfile"]
    );
    // Managing only one's own credentials is no escalation.
    assert!(!any_edge_from(&r, &me));
}

// ---------------------------------------------------------------------------------------------
// modify-policy

#[test]
fn modify_own_role_policy_reaches_admin() {
    let mut fx = Fx::new();
    let me = role_arn(A, "runner");
    fx.role(
        A,
        "runner",
        trust_service("ecs-tasks.amazonaws.com"),
        vec![allow(&["iam:PutRolePolicy"], &me)],
    );
    let r = fx.report();
    assert!(has_edge(&r, &me, "admin", Technique::ModifyPolicy));
    let p = path(&r, &me, "admin").unwrap();
    assert_eq!(p.steps[0].actions, ["iam:PutRolePolicy"]);
    assert!(
        !r.admins.contains(&me),
        "self-modification is one step from admin, not admin"
    );
}

/// Attaching a managed policy carries its ARN in the request (`iam:PolicyARN`; IAM Service
/// Authorization Reference, condition keys of `AttachRolePolicy`), so a grant scoped to
/// attaching AdministratorAccess is still a way to admin, and one that denies attaching any
/// AWS managed policy is not.
#[test]
fn attach_grants_scoped_by_policy_arn_are_judged_on_the_policy_attached() {
    let mut fx = Fx::new();
    let me = role_arn(A, "runner");
    fx.role(
        A,
        "runner",
        trust_service("ecs-tasks.amazonaws.com"),
        vec![json!({"Effect": "Allow", "Action": "iam:AttachRolePolicy", "Resource": me,
            "Condition": {"ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}}})],
    );
    let iam_only = role_arn(A, "iam-only");
    fx.role(
        A,
        "iam-only",
        trust_service("ecs-tasks.amazonaws.com"),
        vec![
            json!({"Effect": "Allow", "Action": "iam:AttachRolePolicy", "Resource": iam_only,
            "Condition": {"ArnLike": {"iam:PolicyARN": "arn:aws:iam::aws:policy/IAM*"}}}),
        ],
    );
    let fenced = role_arn(A, "fenced");
    fx.role(
        A,
        "fenced",
        trust_service("ecs-tasks.amazonaws.com"),
        vec![
            allow(&["iam:AttachRolePolicy"], &fenced),
            json!({"Effect": "Deny", "Action": "iam:AttachRolePolicy", "Resource": "*",
                "Condition": {"ArnLike": {"iam:PolicyARN": "arn:aws:iam::aws:policy/*"}}}),
        ],
    );
    let r = fx.report();
    let p = path(&r, &me, "admin").unwrap_or_else(|| panic!("{:#?}", r.edges));
    assert!(
        p.steps[0].detail.contains("AdministratorAccess"),
        "{}",
        p.steps[0].detail
    );
    let p = path(&r, &iam_only, "admin").unwrap_or_else(|| panic!("{:#?}", r.edges));
    assert!(
        p.steps[0].detail.contains("IAMFullAccess"),
        "{}",
        p.steps[0].detail
    );
    assert!(path(&r, &fenced, "admin").is_none(), "{:#?}", r.paths);
}

#[test]
fn modify_policy_capped_by_boundary_is_not_escalation() {
    let mut fx = Fx::new();
    let me = role_arn(A, "runner");
    fx.role(
        A,
        "runner",
        trust_service("ecs-tasks.amazonaws.com"),
        vec![allow(&["iam:PutRolePolicy"], &me)],
    );
    fx.boundary(
        A,
        "runner",
        vec![allow(&["iam:PutRolePolicy", "s3:*"], "*")],
    );
    let r = fx.report();
    assert!(!any_edge(&r, Technique::ModifyPolicy));
    assert!(r.paths.is_empty());
}

#[test]
fn modify_policy_on_own_user_managed_policy_and_group() {
    let mut fx = Fx::new();
    let p = fx.managed(A, "tools", vec![allow(&["s3:GetObject"], "*")]);
    let u1 = fx.user(A, "u1", vec![allow(&["iam:CreatePolicyVersion"], &p)]);
    fx.attach(A, "u1", &p);
    let g = fx.group(A, "team", vec![allow(&["s3:ListBucket"], "*")]);
    let u2 = fx.user(A, "u2", vec![allow(&["iam:PutGroupPolicy"], &g)]);
    fx.join(A, "u2", "team");
    let u3 = fx.user(
        A,
        "u3",
        vec![allow(&["iam:AttachUserPolicy"], &user_arn(A, "u3"))],
    );
    // CreatePolicyVersion on a policy that is not attached to u4 gives u4 nothing.
    let u4 = fx.user(A, "u4", vec![allow(&["iam:CreatePolicyVersion"], &p)]);
    let r = fx.report();
    for (u, action) in [
        (&u1, "iam:CreatePolicyVersion"),
        (&u2, "iam:PutGroupPolicy"),
        (&u3, "iam:AttachUserPolicy"),
    ] {
        let path = path(&r, u, "admin").unwrap_or_else(|| panic!("{u}: {:#?}", r.edges));
        assert_eq!(path.steps[0].technique, Technique::ModifyPolicy);
        assert_eq!(path.steps[0].actions, [action]);
    }
    assert!(path(&r, &u4, "admin").is_none());
}

#[test]
fn add_user_to_admin_group() {
    let mut fx = Fx::new();
    let g = fx.group(A, "admins", vec![allow(&["*"], "*")]);
    let ro = fx.group(A, "readers", vec![allow(&["s3:Get*"], "*")]);
    let joiner = fx.user(A, "joiner", vec![allow(&["iam:AddUserToGroup"], &g)]);
    let reader = fx.user(A, "reader", vec![allow(&["iam:AddUserToGroup"], &ro)]);
    let r = fx.report();
    let p = path(&r, &joiner, "admin").unwrap();
    assert_eq!(p.steps[0].actions, ["iam:AddUserToGroup"]);
    assert!(p.steps[0].detail.contains(&g), "{}", p.steps[0].detail);
    assert!(!any_edge_from(&r, &reader));
}

#[test]
fn modify_another_role_needs_a_way_to_act_as_it() {
    let mut fx = Fx::new();
    let worker = role_arn(A, "worker");
    fx.role(
        A,
        "worker",
        trust_aws(&root(A)),
        vec![allow(&["s3:GetObject"], "*")],
    );
    let both = fx.user(
        A,
        "both",
        vec![allow(&["iam:AttachRolePolicy", "sts:AssumeRole"], &worker)],
    );
    let only_modify = fx.user(
        A,
        "only-modify",
        vec![allow(&["iam:AttachRolePolicy"], &worker)],
    );
    let r = fx.report();
    let p = path(&r, &both, "admin").unwrap();
    assert_eq!(
        p.steps[0].actions,
        ["iam:AttachRolePolicy", "sts:AssumeRole"]
    );
    assert!(path(&r, &only_modify, "admin").is_none());
}

#[test]
fn roles_and_policies_aws_protects_are_not_ways_up() {
    // AWS refuses policy, trust and boundary changes on Identity Center roles and
    // service-linked roles, and new versions of AWS managed policies, whatever the policies
    // say: the engine answers ImplicitDeny, so no rule proposes a path through them.
    let mut fx = Fx::new();
    let ic = fx.role_on_path(
        A,
        "/aws-reserved/sso.amazonaws.com/",
        "AWSReservedSSO_ReadOnly_0123456789abcdef",
        trust_aws(&root(A)),
        vec![allow(&["s3:Get*"], "*")],
    );
    let ic_admin = fx.role_on_path(
        A,
        "/aws-reserved/sso.amazonaws.com/",
        "AWSReservedSSO_Admin_0123456789abcdef",
        trust_service("sso.amazonaws.com"),
        vec![allow(&["*"], "*")],
    );
    let slr = fx.role_on_path(
        A,
        "/aws-service-role/ecs.amazonaws.com/",
        "AWSServiceRoleForECS",
        trust_aws(&root(A)),
        vec![allow(&["ec2:Describe*"], "*")],
    );
    let slr_admin = fx.role_on_path(
        A,
        "/aws-service-role/support.amazonaws.com/",
        "AWSServiceRoleForSupport",
        trust_service("support.amazonaws.com"),
        vec![allow(&["*"], "*")],
    );
    let moves = [
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        "sts:AssumeRole",
    ];
    let meddler = fx.user(
        A,
        "meddler",
        vec![allow(&moves, &format!("arn:aws:iam::{A}:role/aws-*"))],
    );
    let read_only = fx.aws_managed(A, "ReadOnlyAccess", vec![allow(&["s3:Get*"], "*")]);
    let versioner = fx.user(
        A,
        "versioner",
        vec![allow(
            &["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"],
            "arn:aws:iam::aws:policy/*",
        )],
    );
    fx.attach(A, "versioner", &read_only);
    // The same moves on an ordinary role are a way up: the fixture is not vacuous.
    let plain = fx.role(
        A,
        "plain",
        trust_aws(&root(A)),
        vec![allow(&["s3:Get*"], "*")],
    );
    let control = fx.user(A, "control", vec![allow(&moves, &plain)]);
    let r = fx.report();
    assert!(path(&r, &control, "admin").is_some(), "{:#?}", r.edges);
    for target in [&ic, &ic_admin, &slr, &slr_admin] {
        assert!(
            !r.edges
                .iter()
                .any(|e| e.to == Target::Principal(target.clone())
                    && e.technique != Technique::AssumeRole),
            "{target}: {:#?}",
            r.edges
        );
    }
    assert!(path(&r, &meddler, "admin").is_none(), "{:#?}", r.edges);
    assert!(!any_edge_from(&r, &versioner), "{:#?}", r.edges);
    assert!(path(&r, &versioner, "admin").is_none());
}

// ---------------------------------------------------------------------------------------------
// set-default-policy-version

#[test]
fn set_default_version_to_an_old_admin_version() {
    let mut fx = Fx::new();
    let tools = fx.managed(A, "deploy-tools", vec![allow(&["codedeploy:*"], "*")]);
    fx.version(A, &tools, "v1", vec![allow(&["*"], "*")]);
    fx.version(A, &tools, "v2", vec![allow(&["s3:*"], "*")]);
    let ci = fx.user(
        A,
        "ci",
        vec![allow(&["iam:SetDefaultPolicyVersion"], &tools)],
    );
    fx.attach(A, "ci", &tools);
    // Attached to the same policy, but may not pick its default.
    let peer = fx.user(A, "peer", vec![allow(&["iam:GetPolicyVersion"], &tools)]);
    fx.attach(A, "peer", &tools);
    // May pick the default, but the policy applies to nobody it can act as.
    let outsider = fx.user(
        A,
        "outsider",
        vec![allow(&["iam:SetDefaultPolicyVersion"], &tools)],
    );
    let r = fx.report();
    assert!(
        has_edge(&r, &ci, "admin", Technique::SetDefaultPolicyVersion),
        "{:#?}",
        r.edges
    );
    let p = path(&r, &ci, "admin").unwrap();
    assert_eq!(techniques(p), [Technique::SetDefaultPolicyVersion]);
    assert_eq!(p.steps[0].actions, ["iam:SetDefaultPolicyVersion"]);
    let detail = &p.steps[0].detail;
    assert!(detail.contains("version `v1`"), "{detail}");
    assert!(detail.contains(&tools), "{detail}");
    assert!(!any_edge_from(&r, &peer), "{:#?}", r.edges);
    assert!(!any_edge_from(&r, &outsider), "{:#?}", r.edges);
}

#[test]
fn set_default_version_with_only_harmless_versions_is_not_escalation() {
    let mut fx = Fx::new();
    let tools = fx.managed(A, "deploy-tools", vec![allow(&["codedeploy:*"], "*")]);
    fx.version(
        A,
        &tools,
        "v1",
        vec![allow(&["s3:*", "ec2:Describe*"], "*")],
    );
    // The admin probes on roles in the default, those on users and policies in v1: only adding
    // the version beside the default would reach admin; making it the default replaces the
    // default.
    let half = fx.managed(
        A,
        "half",
        vec![allow(
            &[
                "iam:AttachRolePolicy",
                "iam:PutRolePolicy",
                "iam:UpdateAssumeRolePolicy",
                "iam:PassRole",
            ],
            "*",
        )],
    );
    fx.version(
        A,
        &half,
        "v1",
        vec![allow(
            &[
                "iam:AttachUserPolicy",
                "iam:PutUserPolicy",
                "iam:CreatePolicyVersion",
                "iam:CreateAccessKey",
            ],
            "*",
        )],
    );
    let ci = fx.user(A, "ci", vec![allow(&["iam:SetDefaultPolicyVersion"], "*")]);
    fx.attach(A, "ci", &tools);
    fx.attach(A, "ci", &half);
    let r = fx.report();
    assert!(
        !any_edge(&r, Technique::SetDefaultPolicyVersion),
        "{:#?}",
        r.edges
    );
    assert!(path(&r, &ci, "admin").is_none(), "{:#?}", r.paths);
}

#[test]
fn set_default_version_replaces_the_default_document() {
    // The default allows everything but passing roles; v1 is the same without the Deny. Only
    // replacing the default (not adding the version beside it) drops the Deny.
    let mut fx = Fx::new();
    let broad = fx.managed(
        A,
        "broad",
        vec![allow(&["*"], "*"), deny(&["iam:PassRole"], "*")],
    );
    fx.version(A, &broad, "v1", vec![allow(&["*"], "*")]);
    let me = role_arn(A, "builder");
    fx.role(
        A,
        "builder",
        trust_service("codebuild.amazonaws.com"),
        vec![],
    );
    fx.attach(A, "builder", &broad);
    let r = fx.report();
    assert!(!r.admins.contains(&me));
    assert!(
        has_edge(&r, &me, "admin", Technique::SetDefaultPolicyVersion),
        "{:#?}",
        r.edges
    );
}

#[test]
fn set_default_version_through_a_group_another_principal_or_a_boundary() {
    let mut fx = Fx::new();
    // Through a group the user is in.
    let team = fx.managed(A, "team-tools", vec![allow(&["s3:Get*"], "*")]);
    fx.version(A, &team, "v1", vec![allow(&["*"], "*")]);
    fx.group(A, "team", vec![]);
    fx.attach(A, "team", &team);
    let member = fx.user(
        A,
        "member",
        vec![allow(&["iam:SetDefaultPolicyVersion"], &team)],
    );
    fx.join(A, "member", "team");
    // On a role it can assume: the edge lists both calls.
    let worker_tools = fx.managed(A, "worker-tools", vec![allow(&["s3:Get*"], "*")]);
    fx.version(A, &worker_tools, "v2", vec![allow(&["*"], "*")]);
    let worker = fx.role(
        A,
        "worker",
        trust_aws(&root(A)),
        vec![allow(&["s3:Get*"], "*")],
    );
    fx.attach(A, "worker", &worker_tools);
    let operator = fx.user(
        A,
        "operator",
        vec![
            allow(&["iam:SetDefaultPolicyVersion"], &worker_tools),
            allow(&["sts:AssumeRole"], &worker),
        ],
    );
    // Its own permissions boundary, whose older version lets everything through.
    let capped = fx.user(A, "capped", vec![allow(&["*"], "*")]);
    fx.boundary(
        A,
        "capped",
        vec![allow(&["iam:SetDefaultPolicyVersion", "s3:*"], "*")],
    );
    let boundary_arn = format!("arn:aws:iam::{A}:policy/capped-boundary");
    fx.version(A, &boundary_arn, "v1", vec![allow(&["*"], "*")]);
    let r = fx.report();
    assert!(!r.admins.contains(&capped));
    for (who, actions) in [
        (&member, vec!["iam:SetDefaultPolicyVersion"]),
        (
            &operator,
            vec!["iam:SetDefaultPolicyVersion", "sts:AssumeRole"],
        ),
        (&capped, vec!["iam:SetDefaultPolicyVersion"]),
    ] {
        let p = path(&r, who, "admin").unwrap_or_else(|| panic!("{who}: {:#?}", r.edges));
        assert_eq!(techniques(p), [Technique::SetDefaultPolicyVersion]);
        assert_eq!(p.steps[0].actions, actions, "{who}");
    }
}

#[test]
fn set_default_version_of_an_aws_managed_policy_is_refused() {
    // AWS refuses SetDefaultPolicyVersion on AWS managed policies whatever the policies say;
    // the engine does too, so a stored version of one is never a way up.
    let mut fx = Fx::new();
    let aws = fx.aws_managed(A, "ReadOnlyAccess", vec![allow(&["s3:Get*"], "*")]);
    fx.version(A, &aws, "v1", vec![allow(&["*"], "*")]);
    let reader = fx.user(
        A,
        "reader",
        vec![allow(&["iam:SetDefaultPolicyVersion"], "*")],
    );
    fx.attach(A, "reader", &aws);
    // The same shape on a customer-managed policy is a way up: the fixture is not vacuous.
    let own = fx.managed(A, "ReadOnlyCopy", vec![allow(&["s3:Get*"], "*")]);
    fx.version(A, &own, "v1", vec![allow(&["*"], "*")]);
    let control = fx.user(
        A,
        "control",
        vec![allow(&["iam:SetDefaultPolicyVersion"], "*")],
    );
    fx.attach(A, "control", &own);
    let r = fx.report();
    assert!(path(&r, &control, "admin").is_some(), "{:#?}", r.edges);
    assert!(!any_edge_from(&r, &reader), "{:#?}", r.edges);
}

#[test]
fn a_stored_version_the_engine_cannot_compile_is_reported() {
    let mut fx = Fx::new();
    let tools = fx.managed(A, "tools", vec![allow(&["s3:Get*"], "*")]);
    fx.version(
        A,
        &tools,
        "v1",
        vec![json!({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})],
    );
    let r = fx.report();
    assert!(
        r.not_analysed
            .iter()
            .any(|n| n.contains("version `v1`") && n.contains(&tools)),
        "{:#?}",
        r.not_analysed
    );
}

// ---------------------------------------------------------------------------------------------
// pass-role into services

#[test]
fn pass_role_lambda() {
    let mut fx = Fx::new();
    let exec = fx.admin_role(A, "exec", trust_service("lambda.amazonaws.com"));
    let ec2 = fx.admin_role(A, "ec2-admin", trust_service("ec2.amazonaws.com"));
    let dev = fx.user(
        A,
        "dev",
        vec![
            allow(&["iam:PassRole"], "arn:aws:iam::111111111111:role/*"),
            allow(&["lambda:CreateFunction", "lambda:InvokeFunction"], "*"),
        ],
    );
    let no_invoke = fx.user(
        A,
        "no-invoke",
        vec![
            allow(&["iam:PassRole"], "*"),
            allow(&["lambda:CreateFunction"], "*"),
        ],
    );
    let scoped = fx.user(
        A,
        "scoped",
        vec![
            allow(&["iam:PassRole"], &exec),
            allow(
                &["lambda:CreateFunction", "lambda:InvokeFunction"],
                "arn:aws:lambda:us-east-1:111111111111:function:ci-*",
            ),
        ],
    );
    let r = fx.report();
    let p = path(&r, &dev, &exec).unwrap();
    assert_eq!(techniques(p), [Technique::PassRoleLambda]);
    assert_eq!(
        p.steps[0].actions,
        [
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:InvokeFunction"
        ]
    );
    // The EC2 role does not trust Lambda.
    assert!(!has_edge(&r, &dev, &ec2, Technique::PassRoleLambda));
    // Creating without a way to run it is not enough.
    assert!(!has_edge(&r, &no_invoke, &exec, Technique::PassRoleLambda));
    // A function name the attacker chooses within `ci-*` works.
    assert!(has_edge(&r, &scoped, &exec, Technique::PassRoleLambda));
}

#[test]
fn pass_role_ec2_with_passed_to_service_condition_and_instance_profile() {
    let mut fx = Fx::new();
    let fleet = fx.admin_role(A, "ec2-fleet", trust_service("ec2.amazonaws.com"));
    fx.profile(A, "ec2-fleet");
    let noprofile = fx.admin_role(A, "ec2-noprofile", trust_service("ec2.amazonaws.com"));
    let pass = |svc: &str| {
        json!({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
               "Condition": {"StringEquals": {"iam:PassedToService": svc}}})
    };
    let agent = fx.role(A, "agent", trust_aws(&root(A)), vec![]);
    let p1 = fx.managed(A, "pass-ec2", vec![pass("ec2.amazonaws.com")]);
    let p2 = fx.managed(A, "launch", vec![allow(&["ec2:RunInstances"], "*")]);
    fx.attach(A, "agent", &p1);
    fx.attach(A, "agent", &p2);
    let wrong = fx.role(
        A,
        "wrong-service",
        trust_aws(&root(A)),
        vec![
            pass("lambda.amazonaws.com"),
            allow(&["ec2:RunInstances"], "*"),
        ],
    );
    // Each of the two policies alone is harmless.
    let half = fx.role(A, "half", trust_aws(&root(A)), vec![]);
    fx.attach(A, "half", &p1);
    let r = fx.report();
    let p = path(&r, &agent, &fleet).unwrap();
    assert_eq!(techniques(p), [Technique::PassRoleEc2]);
    assert_eq!(p.steps[0].actions, ["iam:PassRole", "ec2:RunInstances"]);
    assert!(p.steps[0].detail.contains("pass-ec2") && p.steps[0].detail.contains("launch"));
    assert!(!has_edge(&r, &agent, &noprofile, Technique::PassRoleEc2));
    assert!(!any_edge_from(&r, &wrong));
    assert!(!any_edge_from(&r, &half));
}

#[test]
fn pass_role_glue() {
    pass_role_case(
        "glue.amazonaws.com",
        &["glue:CreateDevEndpoint"],
        Technique::PassRoleGlue,
    );
    pass_role_case(
        "glue.amazonaws.com",
        &["glue:CreateJob", "glue:StartJobRun"],
        Technique::PassRoleGlue,
    );
}

#[test]
fn pass_role_cloudformation() {
    pass_role_case(
        "cloudformation.amazonaws.com",
        &["cloudformation:CreateStack"],
        Technique::PassRoleCloudFormation,
    );
}

#[test]
fn pass_role_codebuild() {
    pass_role_case(
        "codebuild.amazonaws.com",
        &["codebuild:CreateProject", "codebuild:StartBuild"],
        Technique::PassRoleCodeBuild,
    );
}

#[test]
fn pass_role_sagemaker() {
    pass_role_case(
        "sagemaker.amazonaws.com",
        &[
            "sagemaker:CreateNotebookInstance",
            "sagemaker:CreatePresignedNotebookInstanceUrl",
        ],
        Technique::PassRoleSageMaker,
    );
    pass_role_case(
        "sagemaker.amazonaws.com",
        &["sagemaker:CreateTrainingJob"],
        Technique::PassRoleSageMaker,
    );
}

#[test]
fn pass_role_datapipeline() {
    pass_role_case(
        "datapipeline.amazonaws.com",
        &[
            "datapipeline:CreatePipeline",
            "datapipeline:PutPipelineDefinition",
            "datapipeline:ActivatePipeline",
        ],
        Technique::PassRoleDataPipeline,
    );
}

#[test]
fn pass_role_ecs() {
    // (`ecs:RunTask` alone on every task definition is a way too: a task-role override.)
    pass_role_case(
        "ecs-tasks.amazonaws.com",
        &["ecs:RegisterTaskDefinition", "ecs:CreateService"],
        Technique::PassRoleEcs,
    );
}

#[test]
fn scp_deny_blocks_pass_role() {
    let mut fx = Fx::new();
    let exec = fx.admin_role(A, "exec", trust_service("lambda.amazonaws.com"));
    let dev = fx.user(
        A,
        "dev",
        vec![allow(
            &[
                "iam:PassRole",
                "lambda:CreateFunction",
                "lambda:InvokeFunction",
            ],
            "*",
        )],
    );
    fx.scp(deny(&["iam:PassRole"], &exec));
    let r = fx.report();
    assert!(
        !has_edge(&r, &dev, &exec, Technique::PassRoleLambda),
        "{:#?}",
        r.edges
    );
}

#[test]
fn an_scp_deny_that_cannot_be_evaluated_does_not_hide_a_path() {
    // An SCP guard with an operator the engine does not know: enforcement counts it as
    // denying, but detection must not assume it protects. The path is reported, and says
    // which statement would have to hold.
    let mut fx = Fx::new();
    let me = role_arn(A, "runner");
    fx.role(
        A,
        "runner",
        trust_service("ecs-tasks.amazonaws.com"),
        vec![allow(&["iam:PutRolePolicy"], &me)],
    );
    fx.scp(
        json!({"Sid": "NoIamWrites", "Effect": "Deny", "Action": "iam:Put*", "Resource": "*",
                  "Condition": {"StringEqualsFuture": {"aws:PrincipalTag/team": "platform"}}}),
    );
    let r = fx.report();
    let p = path(&r, &me, "admin").unwrap_or_else(|| panic!("{:#?}", r.edges));
    let detail = &p.steps[0].detail;
    assert!(
        detail.contains("exposed unless scp statement 0 (Sid NoIamWrites)")
            && detail.contains("StringEqualsFuture"),
        "{detail}"
    );
    // A Deny the engine can evaluate still blocks.
    let mut fx = Fx::new();
    fx.role(
        A,
        "runner",
        trust_service("ecs-tasks.amazonaws.com"),
        vec![allow(&["iam:PutRolePolicy"], &me)],
    );
    fx.scp(
        json!({"Effect": "Deny", "Action": "iam:Put*", "Resource": "*",
                  "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "platform"}}}),
    );
    let r = fx.report();
    assert!(path(&r, &me, "admin").is_none(), "{:#?}", r.edges);
}

// ---------------------------------------------------------------------------------------------
// resources running as a role: update-code, ssm-command, instance-connect, glue-dev-endpoint

#[test]
fn update_code_of_functions() {
    let mut fx = Fx::new();
    let exec = fx.admin_role(A, "exec", trust_service("lambda.amazonaws.com"));
    let dev = fx.user(A, "dev", vec![allow(&["lambda:UpdateFunctionCode"], "*")]);
    let ci = fx.user(
        A,
        "ci",
        vec![allow(
            &["lambda:UpdateFunctionCode"],
            "arn:aws:lambda:*:111111111111:function:ci-*",
        )],
    );
    let r = fx.report();
    let p = path(&r, &dev, &exec).unwrap();
    assert_eq!(techniques(p), [Technique::UpdateCode]);
    assert!(
        p.steps[0].detail.contains("no inventory"),
        "{}",
        p.steps[0].detail
    );
    // Functions matching `ci-*` may run as anything or nothing: not counted.
    assert!(!any_edge_from(&r, &ci));
}

#[test]
fn an_inventory_follows_each_resource_to_its_role() {
    use latch_model::workloads::WorkloadKind::{Ec2Instance, LambdaFunction};
    let etl_fn = "arn:aws:lambda:us-east-1:111111111111:function:etl";
    let web_fn = "arn:aws:lambda:us-east-1:111111111111:function:web";
    let mut fx = Fx::new();
    let exec = fx.admin_role(A, "exec", trust_service("lambda.amazonaws.com"));
    let idle = fx.admin_role(A, "idle", trust_service("lambda.amazonaws.com"));
    let web = fx.role(A, "web", trust_service("lambda.amazonaws.com"), vec![]);
    // A grant on one named function: without an inventory the graph cannot follow it.
    let one = fx.user(
        A,
        "one",
        vec![allow(&["lambda:UpdateFunctionCode"], etl_fn)],
    );
    let other = fx.user(
        A,
        "other",
        vec![allow(&["lambda:UpdateFunctionCode"], web_fn)],
    );
    let all = fx.user(A, "all", vec![allow(&["lambda:UpdateFunctionCode"], "*")]);
    let before = fx.report();
    assert!(!any_edge_from(&before, &one));
    // Every role Lambda may run as is assumed to have a function.
    assert!(has_edge(&before, &all, &idle, Technique::UpdateCode));

    // Lambda inventoried: etl runs as exec, web as web; nothing runs as idle. EC2 is not.
    fx.workloads(
        A,
        &[LambdaFunction],
        &[
            (LambdaFunction, etl_fn, "exec"),
            (LambdaFunction, web_fn, "web"),
        ],
    );
    let r = fx.report();
    let p = path(&r, &one, &exec).unwrap();
    assert_eq!(techniques(p), [Technique::UpdateCode]);
    assert!(p.steps[0].detail.contains(etl_fn), "{}", p.steps[0].detail);
    assert!(
        p.steps[0].detail.contains("inventory"),
        "{}",
        p.steps[0].detail
    );
    // The grant on the web function leads to web's role (not admin), not to exec.
    assert!(has_edge(&r, &other, &web, Technique::UpdateCode));
    assert!(!has_edge(&r, &other, &exec, Technique::UpdateCode));
    // No function runs as idle: no one reaches it through Lambda.
    assert!(!has_edge(&r, &all, &idle, Technique::UpdateCode));
    assert!(has_edge(&r, &all, &exec, Technique::UpdateCode));
    // A function whose role no longer trusts Lambda cannot run as it.
    let mut fx2 = Fx::new();
    let stale = fx2.admin_role(A, "stale", trust_service("ec2.amazonaws.com"));
    let _ = fx2.admin_role(A, "decoy", trust_service("lambda.amazonaws.com"));
    let all2 = fx2.user(A, "all", vec![allow(&["lambda:UpdateFunctionCode"], "*")]);
    fx2.workloads(
        A,
        &[LambdaFunction, Ec2Instance],
        &[(LambdaFunction, etl_fn, "stale")],
    );
    let r2 = fx2.report();
    assert!(!has_edge(&r2, &all2, &stale, Technique::UpdateCode));
    assert!(!any_edge_from(&r2, &all2));
}

#[test]
fn ssm_command_to_instances_with_a_profile() {
    let mut fx = Fx::new();
    let app = fx.admin_role(A, "app", trust_service("ec2.amazonaws.com"));
    fx.profile(A, "app");
    let bare = fx.admin_role(A, "bare", trust_service("ec2.amazonaws.com"));
    let support = fx.role(
        A,
        "support",
        trust_aws(&root(A)),
        vec![allow(&["ssm:SendCommand"], "*")],
    );
    let session = fx.user(
        A,
        "session",
        vec![allow(
            &["ssm:StartSession"],
            "arn:aws:ec2:*:111111111111:instance/*",
        )],
    );
    let tagged = fx.user(
        A,
        "tagged",
        vec![
            json!({"Effect": "Allow", "Action": "ssm:StartSession", "Resource": "*",
                    "Condition": {"StringEquals": {"ssm:resourceTag/team": "web"}}}),
        ],
    );
    let r = fx.report();
    assert_eq!(
        techniques(path(&r, &support, &app).unwrap()),
        [Technique::SsmCommand]
    );
    assert_eq!(
        path(&r, &session, &app).unwrap().steps[0].actions,
        ["ssm:StartSession"]
    );
    assert!(!has_edge(&r, &support, &bare, Technique::SsmCommand));
    assert!(!any_edge_from(&r, &tagged));
}

#[test]
fn instance_connect() {
    let mut fx = Fx::new();
    let app = fx.admin_role(A, "app", trust_service("ec2.amazonaws.com"));
    fx.profile(A, "app");
    let op = fx.user(
        A,
        "op",
        vec![allow(&["ec2-instance-connect:SendSSHPublicKey"], "*")],
    );
    let one = fx.user(
        A,
        "one",
        vec![allow(
            &["ec2-instance-connect:SendSSHPublicKey"],
            "arn:aws:ec2:us-east-1:111111111111:instance/i-0123456789abcdef0",
        )],
    );
    let r = fx.report();
    let p = path(&r, &op, &app).unwrap();
    assert_eq!(techniques(p), [Technique::InstanceConnect]);
    assert_eq!(
        p.steps[0].actions,
        ["ec2-instance-connect:SendSSHPublicKey"]
    );
    assert!(!any_edge_from(&r, &one));
}

#[test]
fn glue_dev_endpoint() {
    let mut fx = Fx::new();
    let glue = fx.admin_role(A, "glue-admin", trust_service("glue.amazonaws.com"));
    let not_glue = fx.admin_role(A, "lambda-admin", trust_service("lambda.amazonaws.com"));
    let analyst = fx.user(A, "analyst", vec![allow(&["glue:UpdateDevEndpoint"], "*")]);
    let r = fx.report();
    assert_eq!(
        techniques(path(&r, &analyst, &glue).unwrap()),
        [Technique::GlueDevEndpoint]
    );
    assert!(!has_edge(
        &r,
        &analyst,
        &not_glue,
        Technique::GlueDevEndpoint
    ));
    let mut fx = Fx::new();
    fx.admin_role(A, "glue-admin", trust_service("glue.amazonaws.com"));
    let a2 = fx.user(A, "analyst", vec![allow(&["glue:GetDevEndpoint"], "*")]);
    assert!(!any_edge_from(&fx.report(), &a2));
}

// ---------------------------------------------------------------------------------------------
// the graph as a whole

#[test]
fn multi_hop_chain_and_shortest_path() {
    let mut fx = Fx::new();
    let exec = fx.admin_role(B, "exec", trust_service("lambda.amazonaws.com"));
    let builder = role_arn(B, "builder");
    fx.role(
        B,
        "builder",
        trust_aws(&root(A)),
        vec![allow(
            &[
                "iam:PassRole",
                "lambda:CreateFunction",
                "lambda:InvokeFunction",
            ],
            "*",
        )],
    );
    let hop = role_arn(A, "hop");
    fx.role(
        A,
        "hop",
        trust_aws(&root(A)),
        vec![allow(&["sts:AssumeRole"], &builder)],
    );
    let start = fx.user(A, "start", vec![allow(&["sts:AssumeRole"], &hop)]);
    let r = fx.report();
    let p = path(&r, &start, &exec).unwrap();
    assert_eq!(
        techniques(p),
        [
            Technique::AssumeRole,
            Technique::AssumeRole,
            Technique::PassRoleLambda
        ]
    );
    assert_eq!(p.steps[0].from, start);
    assert_eq!(p.steps[1].from, hop);
    assert_eq!(p.steps[2].from, builder);
    assert_eq!(p.steps[2].to, exec);
    // Every intermediate principal has its own (shorter) path; paths are sorted by start.
    assert_eq!(path(&r, &hop, &exec).unwrap().steps.len(), 2);
    let starts: Vec<&str> = r.paths.iter().map(|p| p.from.as_str()).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
}

#[test]
fn cycles_do_not_loop_and_admins_are_not_starts() {
    let mut fx = Fx::new();
    let a = role_arn(A, "a");
    let b = role_arn(A, "b");
    fx.role(A, "a", trust_aws(&b), vec![allow(&["sts:AssumeRole"], &b)]);
    fx.role(A, "b", trust_aws(&a), vec![allow(&["sts:AssumeRole"], &a)]);
    let admin = fx.admin_role(A, "admin", trust_aws(&root(A)));
    let r = fx.report();
    assert!(has_edge(&r, &a, &b, Technique::AssumeRole));
    assert!(has_edge(&r, &b, &a, Technique::AssumeRole));
    assert!(r.paths.is_empty(), "{:#?}", r.paths);
    assert!(
        !r.edges.iter().any(|e| e.from == admin),
        "admins are not sources"
    );
}

#[test]
fn output_is_deterministic_json() {
    let build = || {
        let mut fx = Fx::new();
        let admin = fx.admin_role(A, "admin", trust_aws(&root(A)));
        fx.admin_role(A, "exec", trust_service("lambda.amazonaws.com"));
        for i in 0..5 {
            fx.user(
                A,
                &format!("u{i}"),
                vec![
                    allow(&["sts:AssumeRole"], &admin),
                    allow(&["iam:PassRole", "lambda:*"], "*"),
                ],
            );
        }
        serde_json::to_string(&fx.report()).unwrap()
    };
    let first = build();
    assert_eq!(first, build());
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    let p = &v["paths"][0];
    assert!(p["from"].is_string() && p["to"].is_string());
    assert!(p["steps"][0]["technique"].is_string());
    assert!(p["steps"][0]["actions"].is_array());
    assert!(v["admins"].is_array() && v["edges"].is_array());
}

#[test]
fn technique_ids_round_trip() {
    for &t in Technique::ALL {
        assert_eq!(Technique::from_id(t.id()), Some(t));
    }
    let rules = latch_analysis::escalation::rules();
    let ids: Vec<Technique> = rules.iter().map(|r| r.id()).collect();
    assert_eq!(ids, Technique::ALL);
}

/// Grants conditioned on time keys. "AWS global condition context keys": `aws:CurrentTime`
/// and `aws:EpochTime` are present in every request; `aws:TokenIssueTime` only in requests
/// signed with temporary credentials (a role's session, which whoever can act as the role can
/// mint at any time; never a user's long-term access key). The graph judges at the time it is
/// given (the scan's as-of time).
#[test]
fn time_conditioned_grants_apply_at_the_graph_time() {
    use latch_analysis::escalation::{escalation_paths_with, GraphOptions};
    let when = |op: &str, key: &str, value: &str| {
        json!({"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": "*",
               "Condition": {op: {key: value}}})
    };
    let mut fx = Fx::new();
    let trust = || trust_service("ecs-tasks.amazonaws.com");
    let after = fx.role(
        A,
        "after",
        trust(),
        vec![when(
            "DateGreaterThan",
            "aws:CurrentTime",
            "2020-01-01T00:00:00Z",
        )],
    );
    let epoch = fx.role(
        A,
        "epoch",
        trust(),
        vec![when("NumericGreaterThan", "aws:EpochTime", "1577836800")],
    );
    let past = fx.role(
        A,
        "past",
        trust(),
        vec![when(
            "DateLessThan",
            "aws:CurrentTime",
            "2020-01-01T00:00:00Z",
        )],
    );
    let fresh = fx.role(
        A,
        "fresh",
        trust(),
        vec![when(
            "DateGreaterThan",
            "aws:TokenIssueTime",
            "2020-01-01T00:00:00Z",
        )],
    );
    let keyed = fx.user(
        A,
        "keyed",
        vec![
            json!({"Effect": "Allow", "Action": "iam:PutUserPolicy", "Resource": "*",
        "Condition": {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}}}),
        ],
    );

    // 2026-03-30T00:00:00Z.
    let at = GraphOptions {
        now: Some(1_774_828_800),
        ..GraphOptions::default()
    };
    let r = escalation_paths_with(&fx.snapshot(), at);
    assert!(has_edge(&r, &after, "admin", Technique::ModifyPolicy));
    assert!(has_edge(&r, &epoch, "admin", Technique::ModifyPolicy));
    assert!(has_edge(&r, &fresh, "admin", Technique::ModifyPolicy));
    // A date in the past still ends the grant.
    assert!(!has_edge(&r, &past, "admin", Technique::ModifyPolicy));
    // A user's access key carries no token issue time.
    assert!(!has_edge(&r, &keyed, "admin", Technique::ModifyPolicy));

    // Without a time, no request carries the keys: none of these grants applies.
    let r = fx.report();
    for who in [&after, &epoch, &fresh, &past, &keyed] {
        assert!(
            !has_edge(&r, who, "admin", Technique::ModifyPolicy),
            "{who}"
        );
    }
}

/// `NotPrincipal` with `Allow` ("IAM JSON policy elements: NotPrincipal"): AWS no longer
/// accepts it in new policies, and the engine evaluates it as matching nothing (it grants no
/// edge here), but an old policy may still expose the resource to everyone not listed, so the
/// scan reports it as possible exposure.
#[test]
fn not_principal_with_allow_is_reported_as_possible_exposure() {
    use latch_analysis::scan::{scan, FindingKind, ScanOptions};
    let mut fx = Fx::new();
    let partner = user_arn(B, "partner");
    let open = fx.admin_role(
        A,
        "open",
        json!({"Effect": "Allow", "NotPrincipal": {"AWS": partner}, "Action": "sts:AssumeRole"}),
    );
    let closed = fx.admin_role(A, "closed", trust_aws(&root(A)));
    let report = scan(
        &fx.snapshot(),
        None,
        ScanOptions {
            now_millis: 1_774_828_800_000,
            window_days: 90,
            zombie_days: 90,
            reading: None,
        },
    );
    let found: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::NotPrincipalAllow)
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].principal.as_deref(), Some(open.as_str()));
    assert_eq!(found[0].items, std::slice::from_ref(&partner));
    assert!(
        found[0].detail.contains("allows everyone except"),
        "{}",
        found[0].detail
    );
    assert!(!report
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::NotPrincipalAllow
            && f.principal.as_deref() == Some(closed.as_str())));
    // The engine still grants nothing through it.
    let r = fx.report();
    assert!(!has_edge(&r, &partner, &open, Technique::AssumeRole));
}

/// EC2 User Guide, "Run commands when you launch an EC2 instance with user data input": user
/// data is changed while the instance is stopped and runs at its next start, as root, beside
/// the instance profile's credentials. No iam:PassRole is needed.
#[test]
fn ec2_user_data_takes_over_an_instance_role() {
    let mut fx = Fx::new();
    let batch = fx.admin_role(A, "batch", trust_service("ec2.amazonaws.com"));
    fx.profile(A, "batch");
    let all = [
        "ec2:ModifyInstanceAttribute",
        "ec2:StopInstances",
        "ec2:StartInstances",
    ];
    let deployer = fx.user(A, "deployer", vec![allow(&all, "*")]);
    // Without a way to restart the instance, the new user data never runs.
    let modifier = fx.user(
        A,
        "modifier",
        vec![allow(&["ec2:ModifyInstanceAttribute"], "*")],
    );
    // One named instance: the snapshot does not know it runs as the role.
    let one = fx.user(
        A,
        "one",
        vec![allow(
            &all,
            "arn:aws:ec2:us-east-1:111111111111:instance/i-0123456789abcdef0",
        )],
    );
    let r = fx.report();
    let p = path(&r, &deployer, &batch).unwrap();
    assert_eq!(techniques(p), [Technique::Ec2UserData]);
    assert_eq!(p.steps[0].actions, all);
    assert!(!any_edge_from(&r, &modifier));
    assert!(!any_edge_from(&r, &one));
    assert_eq!(
        Technique::from_id("ec2-user-data"),
        Some(Technique::Ec2UserData)
    );
}
