//! `scan`'s three usage states on small snapshots built in code: an action whose use the
//! trails cannot show is never called unused, and no zombie verdict rests on it.
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
use latch_analysis::scan::{scan, FindingKind, ScanOptions, ScanReport};
use latch_analysis::UnknownReason;
use latch_model::Snapshot;
use latch_trail::usage::Call;
use latch_trail::{Date, Outcome, PrincipalKind, Timestamp, UsageTable};

const NOW: &str = "2026-11-20";

fn opts() -> ScanOptions {
    ScanOptions {
        now_millis: Timestamp::parse(NOW).unwrap().seconds() * 1000,
        window_days: 90,
        zombie_days: 90,
        reading: None,
    }
}

/// CloudTrail of account A for the window: events every day (so the account has data), and
/// `calls` made by `who` ten days before now.
fn usage(calls: &[(&str, &str)]) -> UsageTable {
    let mut u = UsageTable::new();
    let at = Timestamp::parse("2026-11-10").unwrap();
    for (who, action) in calls {
        u.record(
            &Call {
                principal: who,
                kind: PrincipalKind::User,
                account: A,
                session: None,
                action: Some(action),
                at,
                outcome: Outcome::Success,
            },
            1,
        );
    }
    for d in 0..90 {
        u.note_account_events(A, Date::parse(NOW).unwrap().add_days(-d - 1), 10);
    }
    u
}

/// trails.json: one organization trail of every region, management events and the data
/// events of every S3 object.
fn with_s3_data_events(mut s: Snapshot) -> Snapshot {
    let t = serde_json::json!({"format": "latch.trails/v1", "trails": [{
        "name": "org", "account": A, "home_region": "us-east-1",
        "organization_trail": true, "multi_region": true,
        "event_selectors": [{"ReadWriteType": "All", "IncludeManagementEvents": true,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}]}]});
    s.trails = Some(latch_model::trails::parse_trails(&t).unwrap());
    s
}

fn row<'r>(r: &'r ScanReport, arn: &str) -> &'r latch_analysis::scan::PrincipalReport {
    r.principals.iter().find(|p| p.arn == arn).unwrap()
}

fn finding(r: &ScanReport, kind: FindingKind, arn: &str) -> Option<latch_analysis::scan::Finding> {
    r.findings
        .iter()
        .find(|f| f.kind == kind && f.principal.as_deref() == Some(arn))
        .cloned()
}

fn fixture() -> (Fx, String, String, String) {
    let mut fx = Fx::new();
    // Reads objects (a data event) and creates access keys (a management event).
    let reader = fx.user(
        A,
        "reader",
        vec![allow(&["s3:GetObject", "iam:CreateAccessKey"], "*")],
    );
    // Only reads objects.
    let only_data = fx.user(A, "only-data", vec![allow(&["s3:GetObject"], "*")]);
    // Only management-event actions.
    let only_mgmt = fx.user(A, "only-mgmt", vec![allow(&["iam:CreateAccessKey"], "*")]);
    (fx, reader, only_data, only_mgmt)
}

// AWS CloudTrail User Guide, "Logging data events": trails do not log data events by
// default; without trails.json Latch assumes exactly that.
#[test]
fn an_action_whose_data_events_are_not_logged_is_unknown_never_unused() {
    let (fx, reader, only_data, only_mgmt) = fixture();
    let snap = fx.snapshot();
    let r = scan(
        &snap,
        Some(&usage(&[(&only_mgmt, "iam:CreateAccessKey")])),
        opts(),
    );
    assert!(r.usage_analysed);
    let p = row(&r, &reader);
    assert_eq!(p.sensitive_actions, ["iam:CreateAccessKey", "s3:GetObject"]);
    assert_eq!(p.used.as_deref(), Some(&[][..]));
    assert_eq!(
        p.unused.as_deref(),
        Some(&["iam:CreateAccessKey".to_owned()][..])
    );
    let unknown = p.unknown.as_ref().unwrap();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].name, "s3:GetObject");
    assert_eq!(unknown[0].reason, UnknownReason::DataEventsNotLogged);
    assert_eq!(unknown[0].says, "usage unknown: data events not logged");
    // The standing-privilege finding names the unused action only and says the rest is
    // unknown.
    let f = finding(&r, FindingKind::StandingPrivilege, &reader).unwrap();
    assert_eq!(f.items, ["iam:CreateAccessKey"]);
    assert_eq!(f.usage_unknown, unknown.clone());
    assert!(
        f.detail
            .contains("usage unknown: data events not logged for 1 more (s3:GetObject)"),
        "{}",
        f.detail
    );
    // Whose only idle sensitive action is of unknown use: no standing privilege.
    let d = row(&r, &only_data);
    assert_eq!(d.unused.as_deref(), Some(&[][..]));
    assert_eq!(d.unknown.as_ref().unwrap()[0].name, "s3:GetObject");
    assert!(finding(&r, FindingKind::StandingPrivilege, &only_data).is_none());
    // The JSON report carries the state as its own field.
    let json = serde_json::to_value(&r).unwrap();
    let jp = json["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["arn"] == reader.as_str())
        .unwrap();
    assert_eq!(jp["unknown"][0]["reason"], "data-events-not-logged");
    assert_eq!(
        jp["unknown"][0]["says"],
        "usage unknown: data events not logged"
    );
    assert_eq!(jp["unused"], serde_json::json!(["iam:CreateAccessKey"]));
}

// CloudTrail API reference, `DataResource`: `arn:aws:s3` selects the data events of every
// bucket, so an object read would have shown.
#[test]
fn with_an_s3_data_event_selector_the_same_action_is_known_unused() {
    let (fx, reader, only_data, _) = fixture();
    let snap = with_s3_data_events(fx.snapshot());
    let r = scan(&snap, Some(&usage(&[])), opts());
    let p = row(&r, &reader);
    assert_eq!(
        p.unused.as_deref(),
        Some(&["iam:CreateAccessKey".to_owned(), "s3:GetObject".to_owned()][..])
    );
    assert_eq!(p.unknown.as_deref(), Some(&[][..]));
    let f = finding(&r, FindingKind::StandingPrivilege, &only_data).unwrap();
    assert_eq!(f.items, ["s3:GetObject"]);
    assert!(f.usage_unknown.is_empty());
    // A read that was seen is a use.
    let r = scan(&snap, Some(&usage(&[(&only_data, "s3:GetObject")])), opts());
    assert_eq!(
        row(&r, &only_data).used.as_deref(),
        Some(&["s3:GetObject".to_owned()][..])
    );
}

#[test]
fn no_zombie_verdict_rests_on_actions_of_unknown_use() {
    let (fx, reader, only_data, only_mgmt) = fixture();
    // No credential report and no call seen: CloudTrail is the only evidence.
    let snap = fx.snapshot();
    let u = usage(&[]);
    let r = scan(&snap, Some(&u), opts());
    // Everything only-mgmt may call would have shown: idle, a zombie.
    assert!(finding(&r, FindingKind::ZombieIdentity, &only_mgmt).is_some());
    // The others may be reading S3 objects every day, which no trail logs: no verdict, and
    // the report says why.
    for arn in [&reader, &only_data] {
        assert!(
            finding(&r, FindingKind::ZombieIdentity, arn).is_none(),
            "{arn}"
        );
    }
    let note = r
        .not_analysed
        .iter()
        .find(|n| n.starts_with("zombies:"))
        .expect("a note on the identities not judged");
    assert!(note.contains(&only_data), "{note}");
    assert!(
        note.contains("usage unknown: data events not logged"),
        "{note}"
    );
    assert!(!note.contains(&only_mgmt), "{note}");
    // Once the trails log S3 object events, CloudTrail's silence is evidence for all three.
    let r = scan(&with_s3_data_events(snap), Some(&u), opts());
    for arn in [&reader, &only_data, &only_mgmt] {
        assert!(
            finding(&r, FindingKind::ZombieIdentity, arn).is_some(),
            "{arn}"
        );
    }
    assert!(r.not_analysed.iter().all(|n| !n.starts_with("zombies:")));
}

#[test]
fn a_service_whose_use_the_trails_cannot_show_is_not_unused() {
    let (fx, _, _, only_mgmt) = fixture();
    let snap = fx.snapshot();
    let r = scan(
        &snap,
        Some(&usage(&[(&only_mgmt, "iam:CreateAccessKey")])),
        opts(),
    );
    let a = r.unused_services.iter().find(|u| u.account == A).unwrap();
    // s3 is allowed (s3:GetObject) and no one was seen using it, but object reads are not
    // logged: unknown, not unused.
    assert!(!a.services.iter().any(|s| s == "s3"), "{:?}", a.services);
    assert_eq!(a.unknown.len(), 1);
    assert_eq!(a.unknown[0].name, "s3");
    assert_eq!(a.unknown[0].reason, UnknownReason::DataEventsNotLogged);
    let r = scan(
        &with_s3_data_events(snap),
        Some(&usage(&[(&only_mgmt, "iam:CreateAccessKey")])),
        opts(),
    );
    let a = r.unused_services.iter().find(|u| u.account == A).unwrap();
    assert!(a.services.iter().any(|s| s == "s3"), "{:?}", a.services);
    assert!(a.unknown.is_empty());
    let f = r
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::UnusedServices && f.account == A)
        .unwrap();
    assert!(f.items.iter().any(|s| s == "s3"));
}

// CloudTrail never records iam:PassRole (IAM User Guide, "Grant a user permissions to pass a
// role to an AWS service": the permission is checked when the role is passed, in the call
// that passes it). A role-passing call that named a role shows it was used; without one its
// use stays unknown, never unused.
#[test]
fn pass_role_is_used_when_a_role_passing_call_named_a_role_and_unknown_otherwise() {
    let mut fx = Fx::new();
    let deployer = fx.user(
        A,
        "deployer",
        vec![allow(&["iam:PassRole", "lambda:CreateFunction"], "*")],
    );
    let idle = fx.user(
        A,
        "idle-passer",
        vec![allow(&["iam:PassRole", "lambda:CreateFunction"], "*")],
    );
    let snap = fx.snapshot();
    let mut u = usage(&[
        (&deployer, "lambda:CreateFunction"),
        (&idle, "lambda:CreateFunction"),
    ]);
    let at = Timestamp::parse("2026-11-10").unwrap();
    let once = latch_trail::ActionUsage {
        count: 1,
        last_seen: Some(at),
        ..Default::default()
    };
    let role = format!("arn:aws:iam::{A}:role/fn-exec");
    u.add_passed(
        &deployer,
        PrincipalKind::User,
        A,
        "lambda:CreateFunction",
        &role,
        &once,
    );
    // The other's call named no role: nothing shows it passed one.
    u.add_passed(
        &idle,
        PrincipalKind::User,
        A,
        "lambda:CreateFunction",
        "",
        &once,
    );
    let r = scan(&snap, Some(&u), opts());
    let d = row(&r, &deployer);
    assert!(d.used.as_ref().unwrap().iter().any(|a| a == "iam:PassRole"));
    assert!(d
        .unknown
        .as_ref()
        .unwrap()
        .iter()
        .all(|x| x.name != "iam:PassRole"));
    let i = row(&r, &idle);
    assert!(i.used.as_ref().unwrap().iter().all(|a| a != "iam:PassRole"));
    assert!(i
        .unused
        .as_ref()
        .unwrap()
        .iter()
        .all(|a| a != "iam:PassRole"));
    assert_eq!(
        i.unknown
            .as_ref()
            .unwrap()
            .iter()
            .find(|x| x.name == "iam:PassRole")
            .map(|x| x.reason),
        Some(UnknownReason::NeverRecorded)
    );
}

fn unknown_names(p: &latch_analysis::scan::PrincipalReport) -> Vec<&str> {
    p.unknown
        .as_ref()
        .unwrap()
        .iter()
        .map(|u| u.name.as_str())
        .collect()
}

/// `accounts/<A>/last-accessed.json` for `who`, its report completed at `completed`.
fn last_accessed(who: &str, completed: &str) -> latch_model::last_accessed::LastAccessed {
    let doc = serde_json::json!({"format": "latch.last-accessed/v1", "principals": [{
    "arn": who, "job_completed": completed,
    "services": [
        // Attempted ten days ago; GetObject is a tracked action.
        {"namespace": "s3", "last_authenticated": "2026-11-10T12:00:00Z",
         "actions": [{"name": "GetObject", "last_accessed": "2026-11-10T12:00:00Z"}]},
        // Listed (the identity's policies allow it), never attempted.
        {"namespace": "dynamodb"},
        // IAM silent too, but CloudTrail shows a call: CloudTrail wins.
        {"namespace": "iam", "last_authenticated": "2024-01-01T00:00:00Z"}
    ]}]});
    latch_model::last_accessed::parse_last_accessed(&doc, A).unwrap()
}

// IAM User Guide, "Refining permissions using last accessed information": IAM reports each
// identity's last attempt on every service its policies allow, and on tracked actions, for at
// least 400 days — data events included, whatever CloudTrail logs.
#[test]
fn last_accessed_data_settles_what_cloudtrail_cannot_show_and_never_overrides_it() {
    let mut fx = Fx::new();
    let who = fx.user(
        A,
        "worker",
        vec![allow(
            &["s3:GetObject", "dynamodb:Scan", "iam:CreateAccessKey"],
            "*",
        )],
    );
    let mut snap = fx.snapshot();
    let trail = usage(&[(&who, "iam:CreateAccessKey")]);

    // Without it: both data-event actions are unknown.
    let r = scan(&snap, Some(&trail), opts());
    let p = row(&r, &who);
    assert_eq!(unknown_names(p), ["dynamodb:Scan", "s3:GetObject"]);
    assert!(p.from_last_accessed.is_empty());

    // A fresh report: GetObject attempted (used), DynamoDB never attempted (unused).
    snap.accounts.get_mut(A).unwrap().last_accessed =
        Some(last_accessed(&who, "2026-11-20T06:00:00Z"));
    let r = scan(&snap, Some(&trail), opts());
    let p = row(&r, &who);
    assert_eq!(
        p.used.as_deref().unwrap(),
        ["iam:CreateAccessKey", "s3:GetObject"]
    );
    assert_eq!(p.unused.as_deref().unwrap(), ["dynamodb:Scan"]);
    assert!(p.unknown.as_ref().unwrap().is_empty());
    assert_eq!(p.from_last_accessed, ["dynamodb:Scan", "s3:GetObject"]);
    let f = finding(&r, FindingKind::StandingPrivilege, &who).unwrap();
    assert_eq!(f.items, ["dynamodb:Scan"]);

    // A stale report (completed a month before the window's end) still says what was used,
    // but no longer what was not: DynamoDB stays unknown.
    snap.accounts.get_mut(A).unwrap().last_accessed =
        Some(last_accessed(&who, "2026-10-20T06:00:00Z"));
    let r = scan(&snap, Some(&trail), opts());
    let p = row(&r, &who);
    assert_eq!(
        p.used.as_deref().unwrap(),
        ["iam:CreateAccessKey", "s3:GetObject"]
    );
    assert!(p.unused.as_deref().unwrap().is_empty());
    assert_eq!(unknown_names(p), ["dynamodb:Scan"]);
    assert_eq!(p.from_last_accessed, ["s3:GetObject"]);
}
