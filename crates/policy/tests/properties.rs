//! Property tests of the evaluation as a whole:
//! - adding a Deny statement anywhere never turns a decision into Allow;
//! - adding an Allow statement to a policy never turns an Allow into a deny;
//! - corrupting the condition values or resources of Deny statements, or the request's typed
//!   context values, never turns a decision into Allow, and an explicit deny stays one (fail
//!   closed, or the policy is refused);
//! - parsing and evaluating never panic, whatever the input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use latch_policy::case::evaluate_json;
use proptest::prelude::*;
use serde_json::{json, Value};

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:*",
    "s3:Get*",
    "s3:Put?bject",
    "iam:*",
    "iam:PassRole",
    "*",
    "ec2:RunInstances",
    "kms:Decrypt",
    "sts:AssumeRole",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::bucket/*",
    "arn:aws:s3:::bucket/${aws:username}/*",
    "arn:aws:s3:::other/*",
    "arn:aws:iam::111122223333:role/*",
    "arn:aws:kms:us-east-1:111122223333:key/k1",
];
const REQ_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "iam:PassRole",
    "ec2:RunInstances",
    "kms:Decrypt",
    "sts:AssumeRole",
];
const REQ_RESOURCES: &[&str] = &[
    "arn:aws:s3:::bucket/alice/x",
    "arn:aws:s3:::other/y",
    "arn:aws:iam::111122223333:role/Admin",
    "arn:aws:kms:us-east-1:111122223333:key/k1",
    "*",
];
const PRINCIPALS: &[&str] = &[
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:sts::111122223333:assumed-role/Dev/s1",
    "arn:aws:iam::444455556666:user/eve",
    "arn:aws:iam::111122223333:root",
    "anonymous",
];

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(json!({"StringEquals": {"aws:PrincipalTag/team": "blue"}}))),
        1 => Just(Some(json!({"Null": {"aws:PrincipalTag/latch:grant:x": "true"}}))),
        1 => Just(Some(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))),
        1 => Just(Some(json!({"StringNotEqualsIfExists": {"aws:PrincipalAccount": "111122223333"}}))),
        1 => Just(Some(json!({"ForAnyValue:StringLike": {"aws:TagKeys": ["latch:*"]}}))),
        1 => Just(Some(json!({"DateLessThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}))),
        1 => Just(Some(json!({"NoSuchOperator": {"aws:SourceIp": "1.2.3.4"}}))),
        1 => Just(Some(json!({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}))),
        1 => Just(Some(json!({"NumericLessThan": {"s3:max-keys": "10"}}))),
        1 => Just(Some(json!({"ForAnyValue:NumericGreaterThanIfExists": {"s3:max-keys": ["1", 100]}}))),
        1 => Just(Some(json!({"Bool": {"aws:SecureTransport": "true"}}))),
        1 => Just(Some(json!({"DateGreaterThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}}))),
        1 => Just(Some(json!({"DateNotEquals": {"aws:CurrentTime": "2025-06-01T00:00:00Z"}}))),
    ]
}

fn statement(effect: Option<&'static str>, principal: bool) -> impl Strategy<Value = Value> {
    let effect = match effect {
        Some(e) => Just(e).boxed(),
        None => prop_oneof![Just("Allow"), Just("Deny")].boxed(),
    };
    (
        effect,
        any::<bool>(),
        prop::sample::subsequence(ACTIONS, 1..3),
        any::<bool>(),
        prop::sample::subsequence(RESOURCES, 1..3),
        condition(),
        prop::sample::select(vec![
            json!("*"),
            json!({"AWS": "111122223333"}),
            json!({"AWS": "arn:aws:iam::111122223333:user/alice"}),
            json!({"AWS": "arn:aws:iam::111122223333:role/Dev"}),
            json!({"AWS": "arn:aws:sts::111122223333:assumed-role/Dev/s1"}),
            json!({"AWS": "arn:aws:iam::444455556666:root"}),
        ]),
        any::<bool>(),
    )
        .prop_map(
            move |(
                effect,
                not_action,
                actions,
                not_resource,
                resources,
                cond,
                who,
                not_principal,
            )| {
                let mut s = json!({"Effect": effect});
                s[if not_action { "NotAction" } else { "Action" }] = json!(actions);
                s[if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                }] = json!(resources);
                if let Some(c) = cond {
                    s["Condition"] = c;
                }
                if principal {
                    s[if not_principal && effect == "Deny" {
                        "NotPrincipal"
                    } else {
                        "Principal"
                    }] = who;
                }
                s
            },
        )
}

fn policy(principal: bool) -> impl Strategy<Value = Value> {
    prop::collection::vec(statement(None, principal), 1..4)
        .prop_map(|st| json!({"Version": "2012-10-17", "Statement": st}))
}

fn case() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(PRINCIPALS),
        prop::sample::select(REQ_ACTIONS),
        prop::sample::select(REQ_RESOURCES),
        prop::collection::vec(policy(false), 0..3),
        prop::option::of(policy(false)),
        prop::option::of(policy(false)),
        prop::option::of(policy(true)),
        prop::option::of(prop::collection::vec(
            prop::collection::vec(policy(false), 1..3),
            1..4,
        )),
        any::<bool>(),
    )
        .prop_map(
            |(p, a, r, identity, boundary, session, resource, scps, tagged)| {
                let mut ctx = json!({
                    "aws:SourceIp": "10.1.2.3",
                    "s3:max-keys": "5",
                    "aws:SecureTransport": "true",
                    "aws:CurrentTime": "2025-06-01T00:00:00Z",
                });
                if tagged {
                    ctx["aws:PrincipalTag/team"] = json!("blue");
                }
                let mut c = json!({
                    "request": {"principal": p, "action": a, "resource": r, "context": ctx},
                    "identity_policies": identity,
                });
                if let Some(b) = boundary {
                    c["permission_boundary"] = b;
                }
                if let Some(s) = session {
                    c["session_policy"] = s;
                }
                if let Some(r) = resource {
                    c["resource_policy"] = r;
                }
                if let Some(s) = scps {
                    c["scps"] = json!(s);
                }
                c
            },
        )
}

/// Every policy in a case, as JSON pointers, with whether it is a resource-based policy.
fn policy_pointers(case: &Value) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for (i, _) in case["identity_policies"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        out.push((format!("/identity_policies/{i}"), false));
    }
    for k in ["permission_boundary", "session_policy"] {
        if case.get(k).is_some() {
            out.push((format!("/{k}"), false));
        }
    }
    if case.get("resource_policy").is_some() {
        out.push(("/resource_policy".into(), true));
    }
    for (l, level) in case["scps"].as_array().into_iter().flatten().enumerate() {
        for (i, _) in level.as_array().into_iter().flatten().enumerate() {
            out.push((format!("/scps/{l}/{i}"), false));
        }
    }
    out
}

/// Operators whose values are typed (numbers, dates, booleans, addresses): a junk value there
/// is unreadable, never another valid value.
fn typed_operator(op: &str) -> bool {
    let base = op
        .trim_start_matches("ForAllValues:")
        .trim_start_matches("ForAnyValue:");
    let base = base.strip_suffix("IfExists").unwrap_or(base);
    base.starts_with("Numeric")
        || base.starts_with("Date")
        || base == "Bool"
        || base == "IpAddress"
        || base == "NotIpAddress"
}

/// Resource patterns AWS does not accept.
const JUNK_RESOURCES: &[&str] = &["not-an-arn", "arn:aws:s3", "arn:::::", "arn:aws:s3*", ""];
/// Values no typed operator can read.
const JUNK_VALUES: &[&str] = &[
    "not-an-ip",
    "abc",
    "yesterday",
    "nope",
    "nan",
    "inf",
    "",
    "1e999",
];
/// The typed keys of the generated request context.
const TYPED_KEYS: &[&str] = &[
    "aws:SourceIp",
    "s3:max-keys",
    "aws:SecureTransport",
    "aws:CurrentTime",
];

/// Replaces, where `pick` says so, the resources and typed condition values of every Deny
/// statement, and the typed context values, by junk.
fn corrupt(case: &mut Value, pick: &mut impl FnMut() -> Option<&'static str>) {
    let ptrs: Vec<String> = policy_pointers(case).into_iter().map(|(p, _)| p).collect();
    for ptr in ptrs {
        let Some(statements) = case
            .pointer_mut(&format!("{ptr}/Statement"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for st in statements.iter_mut().filter(|st| st["Effect"] == "Deny") {
            for element in ["Resource", "NotResource"] {
                if let Some(v) = st.get_mut(element) {
                    if let Some(junk) = pick() {
                        *v = json!([JUNK_RESOURCES[junk.len() % JUNK_RESOURCES.len()]]);
                    }
                }
            }
            let Some(cond) = st.get_mut("Condition").and_then(Value::as_object_mut) else {
                continue;
            };
            for (_, keys) in cond.iter_mut().filter(|(op, _)| typed_operator(op)) {
                for (_, values) in keys.as_object_mut().into_iter().flatten() {
                    if let Some(junk) = pick() {
                        *values = json!(junk);
                    }
                }
            }
        }
    }
    if let Some(ctx) = case
        .pointer_mut("/request/context")
        .and_then(Value::as_object_mut)
    {
        for key in TYPED_KEYS {
            if let Some(v) = ctx.get_mut(*key) {
                if let Some(junk) = pick() {
                    *v = json!(junk);
                }
            }
        }
    }
}

fn decision(case: &Value) -> String {
    let r = evaluate_json(case).unwrap_or_else(|e| panic!("case failed: {e}\n{case}"));
    r["decision"].as_str().unwrap().to_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn adding_a_deny_never_allows(c in case(), which in any::<prop::sample::Index>(), extra in statement(Some("Deny"), true), extra_plain in statement(Some("Deny"), false)) {
        let ptrs = policy_pointers(&c);
        prop_assume!(!ptrs.is_empty());
        let (ptr, is_resource) = &ptrs[which.index(ptrs.len())];
        let before = decision(&c);
        let mut after = c.clone();
        let stmt = if *is_resource { extra } else { extra_plain };
        after.pointer_mut(&format!("{ptr}/Statement")).unwrap().as_array_mut().unwrap().push(stmt);
        let now = decision(&after);
        prop_assert!(!(now == "Allow" && before != "Allow"), "{before} -> {now}\n{after}");
    }

    #[test]
    fn adding_an_allow_never_denies_what_was_allowed(c in case(), which in any::<prop::sample::Index>(), extra in statement(Some("Allow"), true), extra_plain in statement(Some("Allow"), false)) {
        let ptrs = policy_pointers(&c);
        prop_assume!(!ptrs.is_empty());
        let (ptr, is_resource) = &ptrs[which.index(ptrs.len())];
        let before = decision(&c);
        let mut after = c.clone();
        let stmt = if *is_resource { extra } else { extra_plain };
        after.pointer_mut(&format!("{ptr}/Statement")).unwrap().as_array_mut().unwrap().push(stmt);
        let now = decision(&after);
        prop_assert!(!(before == "Allow" && now != "Allow"), "{before} -> {now}\n{after}");
    }

    #[test]
    fn corrupting_denies_and_context_never_allows(c in case(), picks in prop::collection::vec(prop::option::of(prop::sample::select(JUNK_VALUES)), 64)) {
        let before = decision(&c);
        let mut after = c.clone();
        let mut picks = picks.into_iter().cycle();
        corrupt(&mut after, &mut || picks.next().flatten());
        match evaluate_json(&after) {
            // Refused at parse time (a junk number): nothing is allowed either.
            Err(_) => {}
            Ok(r) => {
                let now = r["decision"].as_str().unwrap();
                prop_assert!(!(now == "Allow" && before != "Allow"), "{before} -> {now}\n{after}");
                prop_assert!(before != "ExplicitDeny" || now == "ExplicitDeny", "{before} -> {now}\n{after}");
            }
        }
    }

    #[test]
    fn arbitrary_json_never_panics(text in "\\PC{0,200}") {
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            let _ = evaluate_json(&v);
        }
    }

    #[test]
    fn mutated_cases_never_panic(c in case(), path in prop::sample::select(vec![
        "/request/principal", "/request/action", "/request/resource", "/identity_policies",
        "/request/context", "/scps", "/resource_policy",
    ]), replacement in prop_oneof![
        Just(json!(null)), Just(json!(1)), Just(json!("")), Just(json!([])), Just(json!({})),
        Just(json!("arn:aws:iam::1:user/")), Just(json!("s3:")), Just(json!([[{}]])),
    ]) {
        let mut m = c.clone();
        if let Some(slot) = m.pointer_mut(path) {
            *slot = replacement;
        }
        let _ = evaluate_json(&m);
    }
}
