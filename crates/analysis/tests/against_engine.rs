//! The set-algebra answer agrees with the policy engine, request by request:
//! - sound: whenever the engine allows a request, its action is in `allowed`;
//! - `unconditional` is exact where it claims: the engine allows those actions on `*` with an
//!   empty context.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use latch_analysis::{effective_permissions, PrincipalPolicies};
use latch_catalog::Catalog;
use latch_policy::case::evaluate_json;
use latch_policy::Policy;
use proptest::prelude::*;
use serde_json::{json, Value};

const PATTERNS: &[&str] = &[
    "s3:*",
    "s3:Get*",
    "s3:PutObject",
    "iam:*",
    "iam:Put*",
    "iam:PassRole",
    "*",
    "ec2:Run*",
    "kms:Decrypt",
    "lambda:Update*",
    "sts:AssumeRole",
    "iam:*Policy",
];
const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "iam:PassRole",
    "iam:PutRolePolicy",
    "ec2:RunInstances",
    "kms:Decrypt",
    "lambda:UpdateFunctionCode",
    "sts:AssumeRole",
    "iam:CreateUser",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::bucket/key",
    "arn:aws:iam::111122223333:role/Admin",
];

fn statement() -> impl Strategy<Value = Value> {
    (
        prop_oneof![3 => Just("Allow"), 1 => Just("Deny")],
        any::<bool>(),
        prop::sample::subsequence(PATTERNS, 1..3),
        prop_oneof![
            Just(json!("*")),
            Just(json!("arn:aws:s3:::bucket/*")),
            Just(json!(["arn:aws:iam::*:role/*", "*"]))
        ],
        any::<bool>(),
        prop_oneof![
            3 => Just(None),
            1 => Just(Some(json!({"StringEquals": {"aws:PrincipalTag/team": "blue"}}))),
            1 => Just(Some(json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}))),
        ],
    )
        .prop_map(
            |(effect, not_action, actions, resource, not_resource, cond)| {
                let mut s = json!({"Effect": effect});
                s[if not_action { "NotAction" } else { "Action" }] = json!(actions);
                s[if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                }] = resource;
                if let Some(c) = cond {
                    s["Condition"] = c;
                }
                s
            },
        )
}

fn policy() -> impl Strategy<Value = Value> {
    prop::collection::vec(statement(), 1..4)
        .prop_map(|st| json!({"Version": "2012-10-17", "Statement": st}))
}

fn parse(v: &Value) -> Policy {
    Policy::from_value(v, "").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn agrees_with_the_engine(
        identity in prop::collection::vec(policy(), 0..3),
        boundary in prop::option::of(policy()),
        scps in prop::collection::vec(prop::collection::vec(policy(), 1..3), 0..3),
        action in prop::sample::select(ACTIONS),
        resource in prop::sample::select(RESOURCES),
        tagged in any::<bool>(),
    ) {
        let pp = PrincipalPolicies {
            identity: identity.iter().map(parse).collect(),
            boundary: boundary.as_ref().map(parse),
            scps: scps.iter().map(|l| l.iter().map(parse).collect()).collect(),
            is_root: false,
        };
        let eff = effective_permissions(&pp);
        let id = Catalog::get().resolve(action).unwrap();
        let mut case = json!({
            "request": {"principal": "arn:aws:iam::111122223333:user/alice", "action": action,
                        "resource": resource,
                        "context": if tagged { json!({"aws:PrincipalTag/team": "blue", "aws:MultiFactorAuthPresent": "true"}) } else { json!({}) }},
            "identity_policies": identity,
        });
        if let Some(b) = &boundary { case["permission_boundary"] = b.clone(); }
        if !scps.is_empty() { case["scps"] = json!(scps); }
        let decision = evaluate_json(&case).unwrap()["decision"].as_str().unwrap().to_owned();
        if decision == "Allow" {
            prop_assert!(eff.allowed.contains(id), "engine allows {action} but analysis says not allowed\n{case}");
        }
        if eff.unconditional.contains(id) {
            let mut on_any = case.clone();
            on_any["request"]["resource"] = json!("*");
            on_any["request"]["context"] = json!({});
            let d = evaluate_json(&on_any).unwrap()["decision"].as_str().unwrap().to_owned();
            prop_assert_eq!(d, "Allow", "unconditional {} but engine: {}", action, on_any);
        }
    }
}

#[test]
fn admin_with_scp_deny_and_boundary() {
    let admin = parse(
        &json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}),
    );
    let full = parse(
        &json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}),
    );
    let deny_iam = parse(
        &json!({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}),
    );
    let mfa_deny = parse(
        &json!({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}),
    );
    let pp = PrincipalPolicies {
        identity: vec![admin],
        boundary: None,
        scps: vec![vec![full.clone(), deny_iam], vec![full, mfa_deny]],
        is_root: false,
    };
    let eff = effective_permissions(&pp);
    let c = Catalog::get();
    assert!(!eff.allowed.contains(c.resolve("iam:CreateUser").unwrap()));
    assert!(eff.allowed.contains(c.resolve("s3:GetObject").unwrap()));
    assert!(!eff
        .unconditional
        .contains(c.resolve("s3:GetObject").unwrap()));
    assert!(eff
        .conditional()
        .contains(c.resolve("s3:GetObject").unwrap()));
    assert!(eff
        .unconditional
        .contains(c.resolve("ec2:RunInstances").unwrap()));
    let iam = c.service("iam").unwrap().action_count();
    assert_eq!(eff.allowed.len(), c.actions().len() - iam);
}
