//! The grant workflow (`latch_grant::workflow`) under the rules a `latch.toml` sets: refusals,
//! written text, approval rules, escalation, overlapping grants, the lifecycle and the
//! reconciler.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::cloned_ref_to_slice_refs
)]

use latch_grant::workflow::*;
use latch_grant::*;
use latch_server::config::Config;
use serde_json::json;

const CFG: &str = r#"
[server]
break_glass = ["alice"]
[identities.alice]
aws = "arn:aws:iam::111122223333:role/alice"
[identities.bob]
aws = "arn:aws:iam::111122223333:role/bob"
[identities.carol]
aws = "arn:aws:iam::111122223333:role/carol"
[identities.dave]
aws = "arn:aws:iam::111122223333:role/dave"
[bundles.logs]
auto_approve = true
max_duration = "4h"
[bundles.iam-admin]
max_duration = "1h"
approvers = ["alice", "bob"]
[bundles.prod-db]
max_duration = "2h"
[[approval]]
bundles = ["prod-db"]
required_approvals = 2
tiers = [ { approvers = ["bob", "carol"], timeout = "15m" }, { approvers = ["dave", "bob"], timeout = "10m" } ]
"#;

fn cfg() -> Rules {
    Config::parse(CFG, "t.toml", &|_| None).unwrap().rules
}

fn ask(who: &str, bundle: &str, secs: i64) -> NewRequest {
    NewRequest {
        requester: who.into(),
        bundle: bundle.into(),
        duration_secs: secs,
        reason: "INC-1".into(),
        break_glass: false,
        source: "api".into(),
        accounts: Vec::new(),
        permission_set: None,
        starts_at: None,
    }
}

#[test]
fn refusals_are_specific() {
    let c = cfg();
    let r = |n: NewRequest| open_request(&c, &n, "r-1", "g-1", 0).unwrap_err().code;
    assert_eq!(r(ask("alice", "nope", 60)), RefusalCode::UnknownBundle);
    assert_eq!(r(ask("eve", "logs", 60)), RefusalCode::UnknownPerson);
    assert_eq!(
        r(ask("alice", "iam-admin", 3601)),
        RefusalCode::DurationTooLong
    );
    assert_eq!(
        r(ask("alice", "iam-admin", 0)),
        RefusalCode::InvalidDuration
    );
    let mut n = ask("alice", "iam-admin", 60);
    n.reason = " ".into();
    assert_eq!(r(n), RefusalCode::MissingReason);
    let mut n = ask("bob", "iam-admin", 60);
    n.break_glass = true;
    assert_eq!(r(n), RefusalCode::BreakGlassNotAllowed);
    let e = open_request(&c, &ask("alice", "iam-admin", 7200), "r", "g", 0).unwrap_err();
    assert_eq!(
        e.message,
        "2h is longer than bundle `iam-admin` allows (at most 1h)"
    );
}

#[test]
fn written_text_is_one_bounded_line_of_visible_characters() {
    assert_eq!(check_text("reason", "INC-1 ünïcödé ✓ 日本", 18), Ok(()));
    // Characters, not bytes: 1,000 four-byte characters are 1,000 characters.
    let emoji = "🔥".repeat(1000);
    assert_eq!(check_text("reason", &emoji, 1000), Ok(()));
    let e = check_text("reason", &format!("{emoji}x"), 1000).unwrap_err();
    assert_eq!(e.code, RefusalCode::TooLong);
    assert_eq!(
        e.message,
        "`reason` is 1001 characters long; at most 1000 are allowed"
    );
    for (c, what) in [
        ('\n', "a line break"),
        ('\r', "a line break"),
        ('\u{2028}', "a line break"),
        ('\u{85}', "a line break"),
        ('\t', "a control character"),
        ('\0', "a control character"),
        ('\u{1b}', "a control character"),
        ('\u{7f}', "a control character"),
        ('\u{9b}', "a control character"),
        ('\u{202A}', "a bidirectional formatting character"),
        ('\u{202E}', "a bidirectional formatting character"),
        ('\u{2066}', "a bidirectional formatting character"),
        ('\u{2069}', "a bidirectional formatting character"),
        ('\u{200E}', "a bidirectional formatting character"),
        ('\u{200F}', "a bidirectional formatting character"),
        ('\u{061C}', "a bidirectional formatting character"),
    ] {
        let e = check_text("comment", &format!("ok{c}tail"), 100).unwrap_err();
        assert_eq!(e.code, RefusalCode::ForbiddenCharacter, "{c:?}");
        assert!(
            e.message.starts_with(&format!(
                "`comment` contains U+{:04X} ({what}) at character 3:",
                u32::from(c)
            )),
            "{c:?}: {}",
            e.message
        );
        assert!(!e.message.contains(c), "the message repeats the character");
    }
}

#[test]
fn every_entry_point_of_the_domain_checks_written_text() {
    let c = cfg();
    assert_eq!(c.max_reason_chars, DEFAULT_MAX_REASON_CHARS);
    let r = |n: NewRequest| open_request(&c, &n, "r-1", "g-1", 0).map(|_| ());
    let mut n = ask("alice", "iam-admin", 60);
    n.reason = "x".repeat(1000);
    assert_eq!(r(n.clone()), Ok(()));
    n.reason.push('x');
    assert_eq!(r(n).unwrap_err().code, RefusalCode::TooLong);
    let mut n = ask("alice", "iam-admin", 60);
    n.reason = "INC-1 \u{202E}lmth.exe".into();
    assert_eq!(r(n).unwrap_err().code, RefusalCode::ForbiddenCharacter);
    let mut n = ask("alice", "iam-admin", 60);
    n.bundle = "b".repeat(MAX_NAME_CHARS + 1);
    assert_eq!(r(n).unwrap_err().code, RefusalCode::TooLong);

    let req = open_request(&c, &ask("alice", "iam-admin", 600), "r-1", "g-1", 0)
        .unwrap()
        .request
        .unwrap();
    let long = "y".repeat(1001);
    for comment in [long.as_str(), "fine\nApproved by: everyone"] {
        assert!(decide(
            &c,
            &req,
            &[],
            "bob",
            Decision::Approve,
            Some(comment),
            "g",
            1
        )
        .is_err());
    }
    let g = grant("g1", GrantStatus::Active, 1000);
    assert_eq!(
        begin_revoke(&c, &g, "bob", &long, false, 5)
            .unwrap_err()
            .code,
        RefusalCode::TooLong
    );
    assert!(begin_revoke(&c, &g, "bob", &"y".repeat(1000), false, 5).is_ok());
}

#[test]
fn a_refusal_entry_is_bounded_however_long_the_input() {
    let huge = "A".repeat(3_000_000);
    let refusal = Refusal {
        code: RefusalCode::UnknownBundle,
        message: format!("unknown bundle `{huge}`"),
    };
    let ev = refusal_event(
        "request",
        &refusal,
        Some(&huge),
        Some(&huge),
        json!({"bundle": huge, "nested": [{"reason": huge}], "n": 3}),
        0,
    );
    let size = serde_json::to_string(&ev.details).unwrap().len()
        + ev.actor.as_ref().unwrap().len()
        + ev.subject.as_ref().unwrap().len();
    assert!(size < 6 * AUDIT_CLIP_CHARS + 1000, "{size} bytes");
    assert_eq!(ev.details["n"], 3);
    assert_eq!(ev.details["code"], "unknown_bundle");
    let bundle = ev.details["bundle"].as_str().unwrap();
    assert!(
        bundle.ends_with("… (3000000 characters, cut)"),
        "{bundle:.40}"
    );
    // What a refused text held is written visibly, not executed by a terminal.
    assert_eq!(clip("a\u{202E}b\n", 100), "a\\u{202e}b\\u{a}");
    assert_eq!(clip("short", 100), "short");
}

#[test]
fn auto_approve_and_break_glass_grant_at_once() {
    let c = cfg();
    let t = open_request(&c, &ask("alice", "logs", 600), "r-1", "g-1", 1000).unwrap();
    let g = t.grants.into_iter().next().unwrap();
    assert_eq!(g.status, GrantStatus::Approved);
    assert_eq!(g.expires_at, 1000 + 600_000);
    assert_eq!(t.request.unwrap().status, RequestStatus::Approved);

    let mut n = ask("alice", "iam-admin", 600);
    n.break_glass = true;
    let t = open_request(&c, &n, "r-2", "g-2", 0).unwrap();
    assert!(t.grants.into_iter().next().unwrap().break_glass);
    let loud = t
        .changes
        .audit
        .iter()
        .find(|e| e.kind == "request.break_glass")
        .unwrap();
    assert_eq!(loud.details["severity"], "critical");
}

#[test]
fn approval_rules() {
    let c = cfg();
    let t = open_request(&c, &ask("alice", "iam-admin", 600), "r-1", "g-1", 0).unwrap();
    let req = t.request.unwrap();
    assert!(t.grants.is_empty());
    assert_eq!(req.status, RequestStatus::Pending);
    let e = decide(&c, &req, &[], "alice", Decision::Approve, None, "g-1", 5).unwrap_err();
    assert_eq!(e.code, RefusalCode::SelfApproval);
    let e = decide(&c, &req, &[], "carol", Decision::Approve, None, "g-1", 5).unwrap_err();
    assert_eq!(e.code, RefusalCode::NotAnApprover);
    let t = decide(
        &c,
        &req,
        &[],
        "bob",
        Decision::Approve,
        Some("ok"),
        "g-1",
        5,
    )
    .unwrap();
    assert_eq!(t.request.as_ref().unwrap().status, RequestStatus::Approved);
    let g = t.grants.into_iter().next().unwrap();
    assert_eq!(g.expires_at, 5 + 600_000);
    let e = decide(
        &c,
        t.request.as_ref().unwrap(),
        &[],
        "bob",
        Decision::Deny,
        None,
        "x",
        6,
    )
    .unwrap_err();
    assert_eq!(e.code, RefusalCode::NotPending);
}

#[test]
fn second_approver_and_deny() {
    let c = cfg();
    let req = open_request(&c, &ask("alice", "prod-db", 600), "r-1", "g-1", 0)
        .unwrap()
        .request
        .unwrap();
    assert_eq!(req.required_approvals, 2);
    let t = decide(&c, &req, &[], "bob", Decision::Approve, None, "g-1", 1).unwrap();
    assert_eq!(t.request.as_ref().unwrap().status, RequestStatus::Pending);
    assert!(t.grants.is_empty());
    let first = t.changes.approvals.clone();
    let e = decide(&c, &req, &first, "bob", Decision::Approve, None, "g-1", 2).unwrap_err();
    assert_eq!(e.code, RefusalCode::AlreadyAnswered);
    let t2 = decide(&c, &req, &first, "carol", Decision::Approve, None, "g-1", 2).unwrap();
    assert_eq!(t2.request.unwrap().status, RequestStatus::Approved);
    assert!(t2.grants.len() == 1);
    let t3 = decide(&c, &req, &first, "carol", Decision::Deny, None, "g-1", 2).unwrap();
    assert_eq!(t3.request.unwrap().status, RequestStatus::Denied);
}

#[test]
fn unanswered_requests_escalate_then_expire() {
    let c = cfg();
    let req = open_request(&c, &ask("alice", "prod-db", 600), "r-1", "g-1", 0)
        .unwrap()
        .request
        .unwrap();
    assert_eq!(req.tier_deadline, Some(900_000));
    assert!(tick_request(&c, &req, 899_999).is_none());
    // dave is not an approver yet.
    assert_eq!(
        decide(&c, &req, &[], "dave", Decision::Approve, None, "g", 1)
            .unwrap_err()
            .code,
        RefusalCode::NotAnApprover
    );
    let esc = tick_request(&c, &req, 900_000).unwrap().request.unwrap();
    assert_eq!(esc.tier, 1);
    assert_eq!(esc.tier_deadline, Some(900_000 + 600_000));
    assert_eq!(eligible_approvers(&c, &esc), vec!["bob", "carol", "dave"]);
    let exp = tick_request(&c, &esc, 1_500_000).unwrap();
    assert_eq!(exp.request.unwrap().status, RequestStatus::Expired);
    assert_eq!(exp.changes.audit[0].kind, "request.expired");
}

fn grant(id: &str, status: GrantStatus, expires_at: Millis) -> GrantRecord {
    GrantRecord {
        id: id.into(),
        request_id: format!("r-{id}"),
        requester: "alice".into(),
        identity: Identity {
            kind: IdentityKind::Role,
            id: "arn:aws:iam::111122223333:role/alice".into(),
        },
        account: None,
        permission_set: None,
        starts_at: None,
        bundle: "iam-admin".into(),
        status,
        break_glass: false,
        created_at: 0,
        activated_at: None,
        expires_at,
        ended_at: None,
        revoked_by: None,
        revoke_reason: None,
        session_cutoff: None,
        reminded_at: None,
        version: 0,
    }
}

#[test]
fn overlapping_grants_extend_and_never_revoke_early() {
    let g1 = grant("g1", GrantStatus::Active, 1000);
    let g2 = grant("g2", GrantStatus::Approved, 2000);
    // g2 ends later: it takes the tag.
    assert_eq!(
        plan_apply(&g2, &[g1.clone(), g2.clone()]),
        CloudStep::Apply {
            grant_id: "g2".into(),
            expires_at: 2000
        }
    );
    let g2 = GrantRecord {
        status: GrantStatus::Active,
        ..g2
    };
    // g1 ends first: the tag stays for g2.
    assert_eq!(
        plan_end(&g1, &[g1.clone(), g2.clone()]),
        CloudStep::Covered { by: "g2".into() }
    );
    // A shorter grant is covered by the longer one.
    let g3 = grant("g3", GrantStatus::Approved, 1500);
    assert_eq!(
        plan_apply(&g3, &[g2.clone(), g3.clone()]),
        CloudStep::Covered { by: "g2".into() }
    );
    // Revoking g2 early while g3 still runs moves the tag to g3.
    let g3 = GrantRecord {
        status: GrantStatus::Active,
        ..g3
    };
    assert_eq!(
        plan_end(&g2, &[g2.clone(), g3.clone()]),
        CloudStep::Apply {
            grant_id: "g3".into(),
            expires_at: 1500
        }
    );
    // The last one removes it.
    assert_eq!(plan_end(&g3, &[g3.clone()]), CloudStep::Remove);
}

/// The holder of a grant is told once, `remind_before` ahead of its end; not when reminders
/// are off, when the grant is no longer than the lead, before it is due, or once it ended.
#[test]
fn a_reminder_is_due_once_ahead_of_the_end() {
    let mut c = cfg();
    assert_eq!(c.remind_before_secs, 600, "the default lead is 10 minutes");
    let hour = 3_600_000;
    let g = GrantRecord {
        activated_at: Some(0),
        ..grant("g1", GrantStatus::Active, hour)
    };
    assert_eq!(
        latch_grant::workflow::reminder_due(&c, &g),
        Some(hour - 600_000)
    );
    assert!(latch_grant::workflow::remind(&c, &g, hour - 600_001).is_none());
    let t = latch_grant::workflow::remind(&c, &g, hour - 600_000).unwrap();
    let told = t.grants.into_iter().next().unwrap();
    assert_eq!(told.reminded_at, Some(hour - 600_000));
    assert_eq!(t.changes.audit[0].kind, "grant.reminded");
    assert_eq!(t.changes.audit[0].details["ends_in_secs"], 600);
    // Once.
    assert!(latch_grant::workflow::remind(&c, &told, hour - 1).is_none());
    // Not at or after the end, nor for a grant that is not active.
    assert!(latch_grant::workflow::remind(&c, &g, hour).is_none());
    let expiring = GrantRecord {
        status: GrantStatus::Expiring,
        ..g.clone()
    };
    assert_eq!(latch_grant::workflow::reminder_due(&c, &expiring), None);
    // A grant of ten minutes was just told when it ends.
    let short = GrantRecord {
        activated_at: Some(hour - 600_000),
        ..g.clone()
    };
    assert_eq!(latch_grant::workflow::reminder_due(&c, &short), None);
    // Off.
    c.remind_before_secs = 0;
    assert_eq!(latch_grant::workflow::reminder_due(&c, &g), None);
    let off = Config::parse(
        &CFG.replace("[server]", "[server]\nremind_before = \"off\""),
        "t.toml",
        &|_| None,
    );
    assert_eq!(off.map(|c| c.rules.remind_before_secs).ok(), Some(0));
}

#[test]
fn grant_lifecycle() {
    let g = grant("g1", GrantStatus::Approved, 1000);
    let a = activate(
        &g,
        &CloudStep::Apply {
            grant_id: "g1".into(),
            expires_at: 1000,
        },
        10,
    );
    let g = a.grants.into_iter().next().unwrap();
    assert_eq!(g.status, GrantStatus::Active);
    assert!(begin_expiry(&g, 999).is_none());
    let e = begin_expiry(&g, 1000)
        .unwrap()
        .grants
        .into_iter()
        .next()
        .unwrap();
    assert_eq!(e.status, GrantStatus::Expiring);
    let done = finish_end(&e, &CloudStep::Remove, 1001).unwrap();
    assert_eq!(
        done.grants.into_iter().next().unwrap().status,
        GrantStatus::Expired
    );
    assert_eq!(done.changes.audit[0].details["late_ms"], 1);

    let r = begin_revoke(&cfg(), &g, "bob", "done early", true, 500)
        .unwrap()
        .grants
        .remove(0);
    assert_eq!(r.session_cutoff, Some(500));
    let fin = finish_end(&r, &CloudStep::Remove, 501).unwrap();
    assert_eq!(fin.grants.first().unwrap().status, GrantStatus::Revoked);
    assert_eq!(fin.changes.audit[0].details["sessions_cut_off"], true);
    assert_eq!(
        begin_revoke(&cfg(), fin.grants.first().unwrap(), "bob", "", false, 600)
            .unwrap_err()
            .code,
        RefusalCode::NotLive
    );
}

#[test]
fn reconciler_finds_orphans_and_missing_tags() {
    let alice = grant("g1", GrantStatus::Active, 1000).identity;
    let tag = |g: &str, b: &str| LatchTag {
        identity: alice.clone(),
        bundle: b.into(),
        grant_id: g.into(),
        expires_at: Some(1000),
    };
    let g1 = grant("g1", GrantStatus::Active, 1000);
    // Orphan tag on another bundle; g1's tag is fine.
    let r = reconcile(
        &[tag("g1", "iam-admin"), tag("forged", "prod-db")],
        &[g1.clone()],
    );
    assert_eq!(r, vec![Repair::RemoveTag(tag("forged", "prod-db"))]);
    // A tag says the end to the second: the same second is the same end.
    let g1_ms = grant("g1", GrantStatus::Active, 1250);
    assert!(reconcile(&[tag("g1", "iam-admin")], &[g1_ms]).is_empty());
    // The tag names g1 with another end (g1 was extended since), or an end that cannot be
    // read: set again with g1's end.
    for expires_at in [Some(-1000), None] {
        let stale = LatchTag {
            expires_at,
            ..tag("g1", "iam-admin")
        };
        let r = reconcile(&[stale], &[g1.clone()]);
        assert!(
            matches!(&r[..], [Repair::SetTag { found: Some(f), expires_at: 1000, .. }] if f == "g1"),
            "{r:?}"
        );
    }
    // Missing tag.
    let r = reconcile(&[], &[g1.clone()]);
    assert!(matches!(&r[..], [Repair::SetTag { grant_id, found: None, .. }] if grant_id == "g1"));
    // Tag names an old grant.
    let r = reconcile(&[tag("g0", "iam-admin")], &[g1.clone()]);
    assert!(matches!(&r[..], [Repair::SetTag { found: Some(f), .. }] if f == "g0"));
    // In flight: left alone.
    let r = reconcile(
        &[tag("g1", "iam-admin")],
        &[grant("g1", GrantStatus::Expiring, 1000)],
    );
    assert!(r.is_empty());
}
