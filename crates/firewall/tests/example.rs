//! The planner on the example organization with its CloudTrail (generated in memory by
//! `latch_trail::generate`, 90 days ending 2026-11-20): the library API others call.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use latch_firewall::{build, Config, PlanInput};

fn input<'a>(cfg: &'a Config, with_usage: bool) -> PlanInput<'a> {
    PlanInput {
        snapshot: common::snapshot(),
        config: cfg,
        usage: with_usage.then(common::usage),
        as_of: with_usage.then(common::as_of),
        reading: None,
        active_grants: &[],
    }
}

#[test]
fn protect_breaks_nothing_enforce_lists_what_breaks_and_output_is_deterministic() {
    let cfg = Config::default();
    let a = build(&input(&cfg, true), None).unwrap();
    let b = build(&input(&cfg, true), None).unwrap();
    assert_eq!(a.plan.to_json(), b.plan.to_json());
    let sim = &a.plan.summary.simulation;
    assert!(sim.cloudtrail && sim.calls_evaluated > 100_000);
    assert_eq!(sim.calls_broken, 0, "{:?}", sim.broken);
    for p in &a.plan.policies {
        let max = cfg.limits.chars(p.kind);
        assert!(p.content.chars().count() <= max, "{}", p.name);
    }
    // Every standing exemption names the calls behind it.
    let standing: Vec<_> = a
        .plan
        .exemptions
        .iter()
        .filter(|e| e.kind == "standing")
        .collect();
    assert!(!standing.is_empty());
    assert!(standing
        .iter()
        .all(|e| !e.actions.is_empty() && e.reason.contains("calls")));
    // Protect mode keeps each identity exactly the actions it used (plus iam:PassRole where a
    // used call passes a role), through an aws:PrincipalArn exemption: no standing grant tag
    // hands it the rest of the bundle.
    assert!(a
        .plan
        .tags
        .iter()
        .all(|t| !t.key.starts_with("latch:grant:")));
    let deploy = standing
        .iter()
        .find(|e| {
            e.principal == "arn:aws:iam::300000000004:role/github-actions-deploy"
                && e.gate == "privilege-escalation"
        })
        .unwrap();
    assert_eq!(deploy.mechanism, "principal-arn");
    assert!(deploy
        .actions
        .contains(&"ecs:RegisterTaskDefinition".to_owned()));
    assert!(deploy.actions.contains(&"iam:PassRole".to_owned()));
    assert!(!deploy.actions.iter().any(|a| a == "iam:CreateAccessKey"));
    assert!(deploy.reason.contains("iam:PassRole (checked inside"));
    // Where the role-passing calls named the role, iam:PassRole is kept on that role only.
    let agent = standing
        .iter()
        .find(|e| {
            e.principal == "arn:aws:iam::400000000006:role/dev-build-agent"
                && e.gate == "privilege-escalation"
        })
        .unwrap();
    assert!(
        agent
            .reason
            .contains("only on arn:aws:iam::400000000006:role/ec2-build-worker"),
        "{}",
        agent.reason
    );
    assert!(a.plan.policies.iter().any(|p| p.content.contains(
        r#""NotResource":"arn:aws:iam::400000000006:role/ec2-build-worker","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::400000000006:role/dev-build-agent"}"#
    )));
    // Where CloudTrail names the resource of every call (the function deployed, the role
    // assumed), the action is kept on those resources only: the CI role that deploys
    // `ci-artifacts` cannot rewrite another `ci-*` function its policy reaches.
    let kept_by = |principal: &str, action: &str| {
        standing
            .iter()
            .find(|e| e.principal == principal && e.actions.iter().any(|a| a == action))
            .map(|e| e.reason.clone())
            .unwrap_or_default()
    };
    let ci = kept_by(
        "arn:aws:iam::400000000006:role/dev-ci-build",
        "lambda:UpdateFunctionCode",
    );
    assert!(
        ci.contains("only on arn:aws:lambda:us-east-1:400000000006:function:ci-artifacts, the resources those calls named"),
        "{ci}"
    );
    assert!(a.plan.policies.iter().any(|p| p.content.contains(
        r#""NotResource":["arn:aws:lambda:us-east-1:400000000006:function:ci-artifacts","arn:aws:lambda:us-east-1:400000000006:function:ci-artifacts:*"]"#
    )));
    let bob = kept_by(
        "arn:aws:iam::500000000007:user/sandbox-bob",
        "sts:AssumeRole",
    );
    assert!(
        bob.contains("only on arn:aws:iam::500000000007:role/sandbox-automation"),
        "{bob}"
    );
    // Where CloudTrail does not name the resource, the exemption says so.
    assert!(standing.iter().any(|e| e
        .reason
        .contains("on every resource: CloudTrail does not show which resource its calls used")),);
    // A round trip through plan.json keeps everything, the quotas it was packed for included.
    let back = latch_firewall::Plan::from_json(&a.plan.to_json()).unwrap();
    assert_eq!(back, a.plan);
    assert_eq!(back.limits, Some(latch_firewall::Limits::AWS));
    assert!(a.plan.to_json().contains(
        r#""limits": {
    "scp_chars": 10240,
    "scp_per_target": 10,
    "rcp_chars": 5120,
    "rcp_per_target": 5
  },"#
    ));
    // Read back, every policy is held to the recorded quotas, and those to AWS's.
    let largest_scp = a
        .plan
        .policies
        .iter()
        .filter(|p| p.kind == latch_catalog::PolicyType::Scp)
        .map(|p| p.content.chars().count())
        .max()
        .unwrap();
    let mut tight = a.plan.clone();
    tight.limits = Some(latch_firewall::Limits {
        scp_chars: largest_scp - 1,
        ..latch_firewall::Limits::AWS
    });
    let e = latch_firewall::Plan::from_json(&tight.to_json())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "is {largest_scp} characters; the plan was packed for {} (AWS allows 10240) for an SCP",
            largest_scp - 1
        )),
        "{e}"
    );
    let mut raised = a.plan.clone();
    raised.limits = Some(latch_firewall::Limits {
        scp_per_target: 20,
        ..latch_firewall::Limits::AWS
    });
    let e = latch_firewall::Plan::from_json(&raised.to_json())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`limits.scp_per_target`: 20 is above AWS's quota of 10"),
        "{e}"
    );
    // A plan written before the quotas were recorded is read against AWS's.
    let mut unrecorded = a.plan.clone();
    unrecorded.limits = None;
    let text = unrecorded.to_json();
    assert!(!text.contains("\"limits\""));
    assert_eq!(
        latch_firewall::Plan::from_json(&text).unwrap().limits(),
        latch_firewall::Limits::AWS
    );

    let enforce = Config::parse("mode = \"enforce\"").unwrap();
    let e = build(&input(&enforce, true), None).unwrap();
    let sim = &e.plan.summary.simulation;
    assert!(sim.calls_broken > 0);
    assert!(sim
        .broken
        .iter()
        .any(|b| b.action == "iam:CreateRole" && b.session.is_some() && b.layer == "permission"));
    assert!(e.plan.tags.iter().all(|t| t.key == "latch:quarantine"));
}

#[test]
fn identity_center_grant_becomes_a_userid_exemption() {
    let cfg = Config::parse(
        "[[identity_center_grants]]\nbundle = \"destructive\"\nuser = \"maria@acme.example\"\npermission_set = \"AdministratorAccess\"\n",
    )
    .unwrap();
    let built = build(&input(&cfg, false), None).unwrap();
    let grants: Vec<_> = built
        .plan
        .exemptions
        .iter()
        .filter(|e| e.kind == "identity-center-grant")
        .collect();
    // One per AdministratorAccess role in the member accounts.
    assert!(grants.len() >= 4, "{grants:?}");
    for g in &grants {
        assert!(g.value.ends_with(":maria@acme.example"));
        assert!(g.value.starts_with("AROA"), "{}", g.value);
        assert!(built
            .plan
            .policies
            .iter()
            .any(|p| p.content.contains(&g.value)));
    }
    let bad = Config::parse(
        "[[identity_center_grants]]\nbundle = \"destructive\"\nuser = \"maria@acme.example\"\npermission_set = \"NoSuchSet\"\n",
    )
    .unwrap();
    let err = build(&input(&bad, false), None).unwrap_err().to_string();
    assert!(err.contains("identity_center_grants[0]"), "{err}");
}

#[test]
fn services_and_regions_layers_are_generated_and_protect_keeps_used_services() {
    let cfg = Config::parse(
        "[services]\nquarantine = [\"glue\"]\nquarantine_unused_days = 30\n[regions]\nallowed = [\"us-east-1\", \"eu-west-1\"]\n",
    )
    .unwrap();
    let built = build(&input(&cfg, true), Some("us-east-1")).unwrap();
    let s = &built.plan.summary;
    assert_eq!(s.simulation.calls_broken, 0, "{:?}", s.simulation.broken);
    let layer = |n: &str| s.layers.iter().find(|l| l.layer == n).unwrap();
    assert!(layer("service").rules > 0 && layer("service").identities > 0);
    assert!(layer("region").rules > 0);
    // glue is used in prod-data: its users keep it through the unlock tag.
    assert!(built
        .plan
        .tags
        .iter()
        .any(|t| t.key == "latch:unlock:services" && t.principal_arn.contains("300000000005")));
    assert!(built
        .plan
        .policies
        .iter()
        .any(|p| p.content.contains("\"NotAction\"") && p.content.contains("aws:RequestedRegion")));
}

/// Fail closed: an SCP attached today that the engine cannot compile for its layer (here a
/// `Principal` element, which SCPs cannot have) stops the plan, naming it, instead of being
/// dropped from the simulation — a lost Deny would make today look more open than it is.
#[test]
fn a_todays_scp_that_does_not_compile_stops_the_plan() {
    let mut snapshot = common::snapshot().clone();
    let document = latch_model::PolicyDocument::from_json(
        serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}),
        "test",
    )
    .unwrap();
    let org = snapshot.organization.as_mut().unwrap();
    org.root.scps.push(latch_model::ControlPolicy {
        id: "p-baddeny".into(),
        name: "BadDeny".into(),
        document,
    });
    let cfg = Config::default();
    let input = PlanInput {
        snapshot: &snapshot,
        config: &cfg,
        usage: Some(common::usage()),
        as_of: Some(common::as_of()),
        reading: None,
        active_grants: &[],
    };
    let err = build(&input, None)
        .expect_err("the plan must stop")
        .to_string();
    assert!(
        err.contains("BadDeny") && err.contains("today's SCP does not compile"),
        "{err}"
    );
}

// An Identity Center role's people are told apart by `aws:userid` (the role id and the
// session name), so each person keeps an action only on the resources their own calls named:
// one who deployed one function cannot rewrite another that only a colleague deployed.
#[test]
fn an_identity_center_person_keeps_an_action_on_the_resources_of_their_own_calls() {
    use std::collections::{BTreeMap, BTreeSet};
    let role = "arn:aws:iam::400000000006:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PowerUserAccess_5e6f7a8b9c0d1e2f";
    let action = "lambda:UpdateFunctionCode";
    let function = |name: &str| format!("arn:aws:lambda:us-east-1:400000000006:function:{name}");
    // The example's trail names no function in these people's calls: name one or two each.
    let mut usage = common::usage().clone();
    let pu = usage.principals.get_mut(role).unwrap();
    pu.resources.remove(action);
    let mut mine: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let people: Vec<String> = pu.sessions.keys().cloned().collect();
    for (i, person) in people.iter().enumerate() {
        let su = pu.sessions.get_mut(person).unwrap();
        let Some(used) = su.actions.get(action).cloned() else {
            continue;
        };
        su.resources.remove(action);
        let names = if i == 0 {
            vec![function("orders-api"), function("orders-worker")]
        } else {
            vec![function(&format!("tool-{i}"))]
        };
        for f in &names {
            for target in [&mut pu.resources, &mut su.resources] {
                target
                    .entry(action.to_owned())
                    .or_default()
                    .insert(f.clone(), used.clone());
            }
        }
        mine.insert(person.clone(), names.into_iter().collect());
    }
    assert!(
        mine.len() >= 2,
        "the example's people deploy functions: {mine:?}"
    );
    let cfg = Config::default();
    let input = PlanInput {
        usage: Some(&usage),
        ..input(&cfg, true)
    };
    let built = build(&input, None).unwrap();
    let scoped: Vec<_> = built
        .intent
        .rules
        .iter()
        .filter(|r| r.not_resource && !r.cond.userid_like.is_empty())
        .collect();
    for (person, functions) in &mine {
        let rule = scoped
            .iter()
            .find(|r| {
                r.cond
                    .userid_like
                    .iter()
                    .any(|u| u.ends_with(&format!(":{person}")))
            })
            .unwrap_or_else(|| panic!("no statement scopes {person}"));
        // Exactly the functions of their own calls (with their versions and aliases).
        let kept: BTreeSet<&str> = rule
            .resources
            .iter()
            .filter(|r| !r.ends_with(":*"))
            .map(String::as_str)
            .collect();
        assert_eq!(
            kept,
            functions
                .iter()
                .map(String::as_str)
                .collect::<BTreeSet<_>>(),
            "{person}"
        );
        // The statement concerns that person's sessions, not the role's other people.
        let uid = rule
            .cond
            .userid_like
            .iter()
            .find(|u| u.ends_with(&format!(":{person}")))
            .unwrap();
        let probe = |userid: String| latch_firewall::intent::Probe {
            principal_arn: role.to_owned(),
            userid: Some(userid),
            resource: "*".to_owned(),
            ..latch_firewall::intent::Probe::default()
        };
        assert!(rule.cond.holds(&probe(uid.clone())));
        assert!(!rule
            .cond
            .holds(&probe(uid.replace(person.as_str(), "mallory"))));
    }
    // The exemptions say so, and the replay of every call still breaks none.
    assert!(built
        .intent
        .exemptions
        .iter()
        .filter(|e| e.principal == role && e.actions.iter().any(|a| a == action))
        .all(|e| e.reason.contains("only on")));
    assert_eq!(
        built.plan.summary.simulation.calls_broken, 0,
        "{:?}",
        built.plan.summary.simulation.broken
    );
}

/// An RCP governs the resources of the account it is attached to, whoever calls: a call the
/// trail shows on a resource in another account than the caller's is replayed against the
/// resource account's RCPs (AWS Organizations User Guide, "Resource control policies (RCPs)":
/// RCPs restrict the resources in the member accounts they are attached to). A plan RCP
/// attached to that account alone, denying the action, breaks the call.
#[test]
fn a_cross_account_call_is_replayed_against_the_resource_accounts_rcps() {
    let cfg = Config::default();
    let built = build(&input(&cfg, true), None).unwrap();
    let usage = common::usage();
    let account = |arn: &str| arn.split(':').nth(4).unwrap_or_default().to_owned();
    // A recorded call on a resource in another member account than its caller's, of a
    // service RCPs govern.
    let snapshot = common::snapshot();
    let org = snapshot.organization.as_ref().unwrap();
    let (caller, action, resource) = usage
        .principals
        .iter()
        .flat_map(|(arn, pu)| {
            pu.resources.iter().flat_map(move |(action, rs)| {
                rs.keys()
                    .map(move |r| (arn.clone(), action.clone(), r.clone()))
            })
        })
        .find(|(arn, action, r)| {
            action.starts_with("sts:")
                && !account(r).is_empty()
                && account(r) != account(arn)
                && org.path_to(&account(r)).is_some()
                && snapshot.management_account_id() != Some(account(r).as_str())
        })
        .expect("the example trail records a cross-account sts call");
    let target = account(&resource);
    let mut plan = built.plan.clone();
    plan.policies.push(latch_firewall::plan::PlanPolicy {
        name: "latch-test-deny".into(),
        kind: latch_catalog::PolicyType::Rcp,
        description: "test".into(),
        file: "policies/latch-test-deny.json".into(),
        content: format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"LatchPermissionTest","Effect":"Deny","Principal":"*","Action":"{action}","Resource":"*"}}]}}"#
        ),
        targets: vec![target.clone()],
    });
    let window = built.intent.window;
    let sim = latch_firewall::simulate(snapshot, Some(usage), window, &plan, None).unwrap();
    assert!(
        sim.broken.iter().any(|b| b.principal_arn == caller
            && b.resource.as_deref() == Some(resource.as_str())
            && b.denied_by.starts_with("latch-test-deny/")),
        "{caller} calling {action} on {resource} (account {target}) is not broken: {:#?}",
        sim.broken
            .iter()
            .filter(|b| b.principal_arn == caller)
            .collect::<Vec<_>>()
    );
}
