//! Protect mode when too many identities keep the same actions to name them in a policy: the
//! keepers carry a `latch:keep:<hash>` tag that the statement checks, so the plan fits AWS's
//! quotas, still breaks none of the calls of the window, and still denies everyone else.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeSet;

#[path = "../../analysis/tests/escalation/fixture.rs"]
#[allow(dead_code, reason = "each test crate uses part of the fixture")]
mod fixture;

use fixture::*;
use latch_firewall::intent::{LayerKind, Probe};
use latch_firewall::{build, Built, Config, PlanInput};
use latch_trail::usage::Call;
use latch_trail::{Date, Outcome, PrincipalKind, Timestamp, UsageTable};

const AS_OF: &str = "2026-11-20";

/// `n` workload roles of account A that called `action` ten days ago (on `resource`, when
/// CloudTrail names it), and one that holds the same permission and never used it; the plan
/// in protect mode.
fn plan_of(n: usize, action: &str, resource: Option<&str>) -> (Built, Vec<String>, String) {
    let mut fx = Fx::new();
    fx.scp(allow(&["*"], "*"));
    let perms = || vec![allow(&[action], "*")];
    let workers: Vec<String> = (0..n)
        .map(|i| {
            fx.role(
                A,
                &format!("worker-{i:03}"),
                trust_service("ec2.amazonaws.com"),
                perms(),
            )
        })
        .collect();
    let idle = fx.role(A, "idle", trust_service("ec2.amazonaws.com"), perms());
    let snapshot = fx.snapshot();
    let mut usage = UsageTable::new();
    let at = Timestamp::parse("2026-11-10").unwrap();
    for w in &workers {
        usage.record(
            &Call {
                principal: w,
                kind: PrincipalKind::Role,
                account: A,
                session: None,
                action: Some(action),
                at,
                outcome: Outcome::Success,
            },
            1,
        );
        if let Some(r) = resource {
            let used = latch_trail::ActionUsage {
                count: 1,
                first_seen: Some(at),
                last_seen: Some(at),
                ..latch_trail::ActionUsage::default()
            };
            usage.add_resource(w, PrincipalKind::Role, A, action, r, &used);
        }
    }
    with_events(&mut usage, A);
    (protect(&snapshot, &usage), workers, idle)
}

/// Events every day of the window in `account`, so that it has data.
fn with_events(usage: &mut UsageTable, account: &str) {
    for d in 0..90 {
        usage.note_account_events(account, Date::parse(AS_OF).unwrap().add_days(-d - 1), 10);
    }
}

/// The default (protect mode) plan.
fn protect(snapshot: &latch_model::Snapshot, usage: &UsageTable) -> Built {
    let cfg = Config::default();
    let input = PlanInput {
        snapshot,
        config: &cfg,
        usage: Some(usage),
        as_of: Some(Date::parse(AS_OF).unwrap()),
        reading: None,
        active_grants: &[],
    };
    build(&input, None).expect("the protect plan fits")
}

fn plan(n: usize) -> (Built, Vec<String>, String) {
    plan_of(n, "iam:CreateAccessKey", None)
}

fn keep_tags(built: &Built) -> Vec<&latch_firewall::plan::PlanTag> {
    built
        .plan
        .tags
        .iter()
        .filter(|t| t.key.starts_with("latch:keep:"))
        .collect()
}

#[test]
fn a_few_keepers_are_named_in_the_statement() {
    let (built, workers, _) = plan(10);
    assert!(keep_tags(&built).is_empty());
    assert!(built
        .intent
        .rules
        .iter()
        .any(|r| workers.iter().all(|w| r.cond.arn_not_like.contains(w))));
}

// Past half an SCP of ARNs in one account (AWS Organizations quotas: 10,240 characters), the
// keepers are tagged instead of named.
#[test]
fn keepers_too_many_to_name_carry_a_tag_and_nothing_used_breaks() {
    let (built, workers, idle) = plan(120);
    let keep = keep_tags(&built);
    let tagged: BTreeSet<&str> = keep.iter().map(|t| t.principal_arn.as_str()).collect();
    assert_eq!(
        tagged,
        workers.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        "every keeper, and only they, carry the tag"
    );
    assert!(keep.iter().all(|t| t.value == "standing"));
    let keys: BTreeSet<&str> = keep.iter().map(|t| t.key.as_str()).collect();
    // Each key is checked by a permission statement (like a grant tag, or as the scope's
    // tag), and no statement names the tagged identities.
    for key in &keys {
        let checked = built.intent.rules.iter().any(|r| {
            r.layer == LayerKind::Permission
                && (r.cond.absent_tags.iter().any(|k| k == key)
                    || r.cond.present_tag.as_deref() == Some(*key))
        });
        assert!(checked, "{key} is checked by no statement");
    }
    for r in &built.intent.rules {
        let named_tagged = r
            .cond
            .arn_not_like
            .iter()
            .chain(&r.cond.arn_like)
            .filter(|a| tagged.contains(a.as_str()))
            .count();
        if r.cond.absent_tags.iter().any(|k| keys.contains(k.as_str()))
            || r.cond
                .present_tag
                .as_deref()
                .is_some_and(|k| keys.contains(k))
        {
            assert_eq!(named_tagged, 0, "{}", r.label);
        }
    }
    // The replay of every call of the window, with the plan's tags applied: nothing used
    // breaks.
    assert_eq!(built.plan.summary.simulation.calls_broken, 0);
    // A tagged identity keeps its actions; one without the tag (the idle role) is denied them.
    let t = keep[0];
    let rule = built
        .intent
        .rules
        .iter()
        .find(|r| r.layer == LayerKind::Permission && r.cond.absent_tags.contains(&t.key))
        .expect("the bundle statement checks the tag");
    let probe = |arn: &str| Probe {
        principal_arn: arn.to_owned(),
        resource: "*".to_owned(),
        ..Probe::default()
    };
    assert!(rule.cond.holds(&probe(&idle)), "the idle role is denied");
    assert!(
        rule.cond.holds(&probe(&t.principal_arn)),
        "without the tag: denied"
    );
    assert!(
        !rule
            .cond
            .holds(&probe(&t.principal_arn).with_tag(&t.key, "standing")),
        "with the tag: spared"
    );
}

// The same for an action kept on the resources its calls named: 120 roles that assumed one
// shared role keep `sts:AssumeRole` on it only, through the scope's tag.
#[test]
fn keepers_of_one_scope_too_many_to_name_carry_the_scope_tag() {
    let shared = role_arn(A, "shared");
    let (built, workers, idle) = plan_of(120, "sts:AssumeRole", Some(&shared));
    assert_eq!(built.plan.summary.simulation.calls_broken, 0);
    let keep = keep_tags(&built);
    let scope = built
        .intent
        .rules
        .iter()
        .find(|r| r.not_resource && r.resources == [shared.clone()])
        .expect("a statement keeps sts:AssumeRole on the shared role only");
    let key = scope
        .cond
        .present_tag
        .clone()
        .expect("it checks the scope's tag");
    assert!(scope.cond.arn_like.is_empty(), "{:?}", scope.cond.arn_like);
    let carriers: BTreeSet<&str> = keep
        .iter()
        .filter(|t| t.key == key)
        .map(|t| t.principal_arn.as_str())
        .collect();
    assert_eq!(
        carriers,
        workers.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    let probe = |arn: &str| Probe {
        principal_arn: arn.to_owned(),
        resource: "*".to_owned(),
        ..Probe::default()
    };
    // The scope statement concerns the tagged only; the idle role meets the bundle statement.
    assert!(!scope.cond.holds(&probe(&idle)));
    assert!(scope
        .cond
        .holds(&probe(&workers[0]).with_tag(&key, "standing")));
}

// The people of Identity Center roles are named by `aws:userid`, which carries no account:
// when the keepers of a group are split by account, each person goes with the account of
// their role, so no account's statement carries the people of every other account.
#[test]
fn people_of_identity_center_roles_are_split_with_the_account_of_their_role() {
    let mut fx = Fx::new();
    fx.scp(allow(&["*"], "*"));
    let perms = || vec![allow(&["iam:CreateAccessKey"], "*")];
    let mut usage = UsageTable::new();
    let at = Timestamp::parse("2026-11-10").unwrap();
    let call = |usage: &mut UsageTable, who: &str, kind, account, session: Option<&str>| {
        usage.record(
            &Call {
                principal: who,
                kind,
                account,
                session,
                action: Some("iam:CreateAccessKey"),
                at,
                outcome: Outcome::Success,
            },
            1,
        );
    };
    for (account, tag) in [(A, "A"), (B, "B")] {
        let role = fx.role_on_path(
            account,
            "/aws-reserved/sso.amazonaws.com/",
            &format!("AWSReservedSSO_Dev{tag}_0123abcd"),
            trust_service("sso.amazonaws.com"),
            perms(),
        );
        for i in 0..40 {
            let person = format!("person{i:02}@{tag}.example");
            call(
                &mut usage,
                &role,
                PrincipalKind::IdentityCenterRole,
                account,
                Some(&person),
            );
        }
        for i in 0..50 {
            let w = fx.role(
                account,
                &format!("worker-{tag}-{i:03}"),
                trust_service("ec2.amazonaws.com"),
                perms(),
            );
            call(&mut usage, &w, PrincipalKind::Role, account, None);
        }
        with_events(&mut usage, account);
    }
    let built = protect(&fx.snapshot(), &usage);
    assert_eq!(built.plan.summary.simulation.calls_broken, 0);
    for (account, tag) in [(A, "A"), (B, "B")] {
        let rule = built
            .intent
            .rules
            .iter()
            .find(|r| r.target == account && r.cond.userid_not_like.iter().any(|u| u.contains("@")))
            .expect("a statement at the account names its people");
        let people: Vec<&String> = rule
            .cond
            .userid_not_like
            .iter()
            .filter(|u| u.contains('@'))
            .collect();
        assert_eq!(people.len(), 40, "{account}");
        assert!(
            people
                .iter()
                .all(|u| u.ends_with(&format!("@{tag}.example"))),
            "{account}: {people:?}"
        );
        assert!(rule
            .cond
            .arn_not_like
            .iter()
            .filter(|a| a.contains(":role/worker-"))
            .all(|a| a.contains(&format!("::{account}:"))));
    }
}
