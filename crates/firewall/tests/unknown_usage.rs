//! What the plan protects by default (the control plane), and who it may break when
//! latch.toml names an action whose use the trails cannot show. On the example organization,
//! whose organization trail logs management events and the data events of every S3 object,
//! Lambda function and DynamoDB table (examples/org/trails.json), and its CloudTrail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use latch_catalog::Catalog;
use latch_firewall::{build, Config, PlanInput};
use latch_model::Snapshot;

fn input<'a>(snapshot: &'a Snapshot, cfg: &'a Config) -> PlanInput<'a> {
    PlanInput {
        snapshot,
        config: cfg,
        usage: Some(common::usage()),
        as_of: Some(common::as_of()),
        reading: None,
        active_grants: &[],
    }
}

const ADMIN: &str = "arn:aws:iam::300000000004:role/legacy-migration-admin";

#[test]
fn by_default_the_plan_protects_control_plane_actions_only_and_breaks_no_one_unknowingly() {
    let cfg = Config::default();
    let built = build(&input(common::snapshot(), &cfg), None).unwrap();
    let catalog = Catalog::get();
    let protected: Vec<&str> = built
        .intent
        .bundle_actions
        .values()
        .flatten()
        .filter_map(|id| catalog.action_by_id(*id).map(|a| a.full_name()))
        .collect();
    assert!(protected.contains(&"iam:PassRole"));
    assert!(protected.contains(&"cloudtrail:StopLogging"));
    for data in [
        "s3:GetObject",
        "dynamodb:Scan",
        "lambda:InvokeFunction",
        "sns:Publish",
    ] {
        assert!(!protected.contains(&data), "{data}");
    }
    assert!(!built
        .intent
        .bundle_actions
        .contains_key("data-exfiltration"));
    assert!(built.plan.summary.may_break.is_empty());
    assert!(built
        .plan
        .summary
        .warnings
        .iter()
        .all(|w| !w.contains("MAY BREAK")));
}

// AWS CloudTrail User Guide, "Logging data events": SNS `Publish` is a data event
// (`AWS::SNS::Topic`), logged only where a selector asks; the example's trail does not.
#[test]
fn naming_an_action_whose_data_events_are_not_logged_lists_every_holder_as_may_break() {
    let cfg = Config::parse("[bundles.publish]\nactions = [\"sns:Publish\"]\n").unwrap();
    let built = build(&input(common::snapshot(), &cfg), None).unwrap();
    let mb = &built.plan.summary.may_break;
    assert!(!mb.is_empty());
    for m in mb {
        assert_eq!(m.actions, ["sns:Publish"], "{m:?}");
        assert_eq!(m.reason, "usage unknown: data events not logged");
    }
    // An administrator holds it; the control plane and break-glass are spared by the rule.
    assert!(mb.iter().any(|m| m.principal == ADMIN), "{mb:?}");
    assert!(mb
        .iter()
        .all(|m| !m.principal.ends_with(":role/latch-control-plane")));
    // Every identity listed does hold it today.
    let snap = common::snapshot();
    let publish = Catalog::get().resolve("sns:Publish").unwrap();
    for m in mb {
        let p = snap.principal(&m.principal).unwrap();
        assert!(
            latch_firewall::generate::allowed_actions(&p).contains(publish),
            "{}",
            m.principal
        );
    }
    assert!(built
        .plan
        .summary
        .warnings
        .iter()
        .any(|w| w.contains("MAY BREAK") && w.contains("--accept-unknown-usage")));
    // plan.json carries it.
    let json: serde_json::Value = serde_json::from_str(&built.plan.to_json()).unwrap();
    assert_eq!(
        json["summary"]["may_break"].as_array().unwrap().len(),
        mb.len()
    );
    latch_firewall::Plan::from_json(&built.plan.to_json()).unwrap();
}

// CloudTrail API reference, `DataResource`: `arn:aws:s3` logs the data events of every
// bucket; without trails.json Latch assumes the CloudTrail default, no data events.
#[test]
fn an_s3_read_is_known_where_the_trail_logs_it_and_may_break_where_it_does_not() {
    let cfg = Config::parse("[bundles.data-read]\nactions = [\"s3:GetObject\"]\n").unwrap();
    let logged = build(&input(common::snapshot(), &cfg), None).unwrap();
    assert!(
        logged.plan.summary.may_break.is_empty(),
        "{:?}",
        logged.plan.summary.may_break
    );
    assert_eq!(logged.plan.summary.simulation.calls_broken, 0);
    let mut unlogged = common::snapshot().clone();
    unlogged.trails = None;
    let built = build(&input(&unlogged, &cfg), None).unwrap();
    let mb = &built.plan.summary.may_break;
    assert!(mb.iter().any(|m| m.principal == ADMIN), "{mb:?}");
    assert!(mb
        .iter()
        .all(|m| m.actions == ["s3:GetObject"] && m.reason.contains("data events not logged")));
}

#[test]
fn zombie_quarantine_never_rests_on_actions_of_unknown_use() {
    let cfg = Config::default();
    let quarantined = |snap: &Snapshot| -> bool {
        build(&input(snap, &cfg), None)
            .unwrap()
            .plan
            .tags
            .iter()
            .any(|t| t.principal_arn == ADMIN && t.key == "latch:quarantine")
    };
    // IAM's RoleLastUsed (262 days ago) covers every call: a zombie.
    assert!(quarantined(common::snapshot()));
    // Without it, CloudTrail's silence is the only evidence, and the administrator may call
    // actions whose data events the example's trail does not log (sns:Publish, ...): no
    // verdict, and the plan says why.
    let mut snap = common::snapshot().clone();
    snap.accounts
        .get_mut("300000000004")
        .unwrap()
        .roles
        .get_mut("legacy-migration-admin")
        .unwrap()
        .last_used = None;
    assert!(!quarantined(&snap));
    let built = build(&input(&snap, &cfg), None).unwrap();
    assert!(
        built.plan.summary.warnings.iter().any(|w| w.contains(ADMIN)
            && w.contains("usage unknown: data events not logged")
            && w.contains("not quarantined as a zombie")),
        "{:?}",
        built.plan.summary.warnings
    );
}

/// A last-accessed report of `arn`, completed at the end of the usage window, with these
/// services: (namespace, last attempt, tracked actions attempted).
fn report(arn: &str, services: serde_json::Value) -> latch_model::last_accessed::LastAccessed {
    let account = latch_policy::arn::account(arn).unwrap().to_owned();
    let doc = serde_json::json!({"format": "latch.last-accessed/v1", "principals": [{
        "arn": arn, "job_completed": "2026-11-20T23:00:00Z", "services": services}]});
    latch_model::last_accessed::parse_last_accessed(&doc, &account).unwrap()
}

// IAM User Guide, "Refining permissions using last accessed information": a service IAM
// lists with no attempt in the period was not called at all; a tracked action with a last
// attempt was. Either settles a use the trails cannot show.
#[test]
fn last_accessed_data_turns_may_break_into_known_use_and_keeps_what_was_attempted() {
    let cfg = Config::parse("[bundles.publish]\nactions = [\"sns:Publish\"]\n").unwrap();
    let before = build(&input(common::snapshot(), &cfg), None).unwrap();
    let holders: Vec<String> = before
        .plan
        .summary
        .may_break
        .iter()
        .map(|m| m.principal.clone())
        .collect();
    let other = holders
        .iter()
        .find(|p| p.as_str() != ADMIN && p.contains(":role/"))
        .expect("another role holds sns:Publish")
        .clone();

    let mut snap = common::snapshot().clone();
    // The administrator never touched SNS; the other role published yesterday.
    for (arn, services) in [
        (ADMIN, serde_json::json!([{"namespace": "sns"}])),
        (
            other.as_str(),
            serde_json::json!([{"namespace": "sns", "last_authenticated": "2026-11-19T10:00:00Z",
                "actions": [{"name": "Publish", "last_accessed": "2026-11-19T10:00:00Z"}]}]),
        ),
    ] {
        let account = latch_policy::arn::account(arn).unwrap().to_owned();
        let mut data = report(arn, services);
        let acc = snap.accounts.get_mut(&account).unwrap();
        if let Some(existing) = acc.last_accessed.take() {
            data.principals.extend(existing.principals);
        }
        acc.last_accessed = Some(data);
    }
    let built = build(&input(&snap, &cfg), None).unwrap();
    let mb = &built.plan.summary.may_break;
    // Neither may break any more: one is known not to use it, the other keeps it.
    assert!(mb.iter().all(|m| m.principal != ADMIN), "{mb:?}");
    assert!(mb.iter().all(|m| m.principal != other), "{mb:?}");
    assert_eq!(mb.len(), holders.len() - 2, "{mb:?}");
    let kept = built
        .intent
        .exemptions
        .iter()
        .find(|e| e.principal == other && e.actions.iter().any(|a| a == "sns:Publish"))
        .expect("a standing exemption for the attempted action");
    assert!(
        kept.reason.contains("IAM's last-accessed data")
            && kept.reason.contains("on every resource"),
        "{}",
        kept.reason
    );
    assert!(built
        .intent
        .exemptions
        .iter()
        .all(|e| e.principal != ADMIN || e.actions.iter().all(|a| a != "sns:Publish")));

    // In enforce mode the attempted action is denied: its holder is listed, for that reason.
    let enforce =
        Config::parse("mode = \"enforce\"\n[bundles.publish]\nactions = [\"sns:Publish\"]\n")
            .unwrap();
    let built = build(&input(&snap, &enforce), None).unwrap();
    let m = built
        .plan
        .summary
        .may_break
        .iter()
        .find(|m| m.principal == other)
        .expect("listed in enforce mode");
    assert_eq!(m.reason, latch_firewall::plan::LAST_ACCESSED_USED);
    assert_eq!(m.actions, ["sns:Publish"]);
}

// Without usage nothing says whether anyone uses what the plan protects: every holder of a
// protected action may break, so `latch apply` refuses the plan unless told to accept it.
#[test]
fn a_plan_made_without_cloudtrail_lists_every_holder_as_may_break() {
    let cfg = Config::default();
    let built = build(&common::without_usage(&cfg), None).unwrap();
    let mb = &built.plan.summary.may_break;
    let admin = mb
        .iter()
        .find(|m| m.principal == ADMIN)
        .expect("the administrator holds protected actions");
    assert_eq!(admin.reason, latch_firewall::plan::NO_USAGE);
    assert!(admin.actions.iter().any(|a| a == "iam:PassRole"));
    assert!(mb
        .iter()
        .all(|m| m.reason == latch_firewall::plan::NO_USAGE));
    // The control plane and break-glass are spared by the rules, so never listed.
    assert!(mb
        .iter()
        .all(|m| !m.principal.ends_with(":role/latch-control-plane")));
    // With CloudTrail, the same plan lists no one.
    let with = build(&self::input(common::snapshot(), &cfg), None).unwrap();
    assert!(with.plan.summary.may_break.is_empty());
}
