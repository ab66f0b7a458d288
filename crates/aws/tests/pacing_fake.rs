//! Pacing and Identity Center edit coalescing against the in-process AWS Organizations, on a
//! paused tokio clock (a paced run of minutes takes milliseconds).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use latch_aws::apply::{execute, least_time, AccountAccess, Record};
use latch_aws::drift::emergency_stop_changes;
use latch_aws::grants::GrantOps;
use latch_aws::pacing::{Pacer, RetryPolicy};
use latch_aws::testing::FakeOrganizations;
use latch_aws::Silent;
use latch_catalog::RequestRate;
use latch_contract::IC_GRANT_TAG_PREFIX;
use serde_json::Value;
use tokio::time::Instant;

const RATE: RequestRate = RequestRate::ORGANIZATIONS_POLICY_WRITES;
const DENY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;
/// Two bundles' statements, as the firewall writes them.
const SCP_A: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"LatchPermission1","Effect":"Deny","Action":["iam:PassRole"],"Resource":"*","Condition":{"Null":{"aws:PrincipalTag/latch:grant:iam-admin":"true"}}},{"Sid":"LatchPermission2","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*","Condition":{"Null":{"aws:PrincipalTag/latch:grant:s3-admin":"true"},"StringNotLike":{"aws:userid":"AROAPLAN0001:maria@example.com"}}}]}"#;
const SCP_B: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"LatchPermission3","Effect":"Deny","Action":["iam:CreateUser"],"Resource":"*","Condition":{"Null":{"aws:PrincipalTag/latch:grant:iam-admin":"true"}}}]}"#;

/// Runs `changes` (an emergency stop's detaches) without a record.
async fn stop(aws: &latch_aws::Aws, changes: &[latch_aws::Change]) -> latch_aws::error::Result<()> {
    execute(
        aws,
        changes,
        &AccountAccess::default(),
        Record::EmergencyStop(None),
        &Silent,
    )
    .await
    .map(|_| ())
}

fn accounts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{:012}", 200_000_000_000u64 + i as u64))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_paced_emergency_stop_is_never_throttled_and_takes_the_least_time() {
    let fake = FakeOrganizations::new(Some(RATE));
    let id = fake.add_policy("latch-deny", DENY, true, &accounts(40));
    let pacer = Arc::new(Pacer::default());
    let aws = fake.aws(Arc::clone(&pacer));
    let changes = emergency_stop_changes(&aws).await.unwrap();
    assert_eq!(changes.len(), 40);
    let (writes, bound_ms) = least_time(&changes);
    assert_eq!((writes, bound_ms), (40, 18_500));
    let start = Instant::now();
    stop(&aws, &changes).await.unwrap();
    let took = start.elapsed();
    assert_eq!(took, Duration::from_millis(bound_ms));
    assert_eq!(fake.throttled(), 0);
    assert!(fake.policies()[&id].targets.is_empty());
    // The writes as AWS saw them: within any window of w ms, at most the burst plus what
    // the rate refills in w.
    let times = fake.write_times();
    for (i, t) in times.iter().enumerate() {
        for w_ms in [0u64, 499, 1000, 5000] {
            let end = *t + Duration::from_millis(w_ms);
            let within = times[i..].iter().filter(|s| **s <= end).count() as u64;
            assert!(
                within <= 3 + 2 * w_ms / 1000,
                "{within} writes within {w_ms} ms"
            );
        }
    }
    assert_eq!(pacer.stats().held, 37);
}

#[tokio::test(start_paused = true)]
async fn without_pacing_aws_throttles_and_the_backoff_still_gets_every_write_through() {
    let fake = FakeOrganizations::new(Some(RATE));
    let id = fake.add_policy("latch-deny", DENY, true, &accounts(20));
    let pacer = Arc::new(Pacer::with_rates(
        Default::default(),
        RetryPolicy {
            max_attempts: 12,
            ..RetryPolicy::default()
        },
    ));
    let aws = fake.aws(Arc::clone(&pacer));
    let changes = emergency_stop_changes(&aws).await.unwrap();
    stop(&aws, &changes).await.unwrap();
    assert!(fake.throttled() > 0, "AWS's limit was hit without pacing");
    assert_eq!(pacer.stats().throttled, fake.throttled());
    assert!(fake.policies()[&id].targets.is_empty(), "no write was lost");
}

#[tokio::test(start_paused = true)]
async fn a_write_throttled_past_its_last_attempt_stops_the_run_and_says_so() {
    // A rate far below the pacer's: AWS keeps refusing.
    let fake = FakeOrganizations::new(Some(RequestRate {
        per_second: 1,
        burst: 1,
    }));
    fake.add_policy("latch-deny", DENY, true, &accounts(6));
    let pacer = Arc::new(Pacer::with_rates(
        Default::default(),
        RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
        },
    ));
    let aws = fake.aws(pacer);
    let changes = emergency_stop_changes(&aws).await.unwrap();
    let err = stop(&aws, &changes).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("organizations:DetachPolicy"), "{text}");
    assert!(text.contains("TooManyRequestsException"), "{text}");
    assert!(text.contains("gave up after 2 attempts"), "{text}");
}

/// The `aws:userid` exemptions of `bundle`'s statements in `doc`.
fn exemptions(doc: &str, bundle: &str) -> BTreeSet<String> {
    let v: Value = serde_json::from_str(doc).unwrap();
    let key = format!("aws:PrincipalTag/latch:grant:{bundle}");
    let mut out = BTreeSet::new();
    for st in v["Statement"].as_array().unwrap() {
        if st
            .pointer("/Condition/Null")
            .and_then(|n| n.get(&key))
            .is_none()
        {
            continue;
        }
        match st.pointer("/Condition/StringNotLike/aws:userid") {
            Some(Value::String(s)) => {
                out.insert(s.clone());
            }
            Some(Value::Array(a)) => out.extend(a.iter().map(|s| s.as_str().unwrap().to_owned())),
            _ => {}
        }
    }
    out
}

fn user(i: usize) -> String {
    format!("AROAEXAMPLE0001:user{i}@example.com")
}

#[tokio::test(start_paused = true)]
async fn grants_and_revokes_at_once_are_written_together_and_end_exactly_right() {
    let fake = FakeOrganizations::new(Some(RATE));
    let a = fake.add_policy("latch-a", SCP_A, true, &["r-root".to_owned()]);
    let b = fake.add_policy("latch-b", SCP_B, true, &["r-root".to_owned()]);
    let ops = Arc::new(GrantOps::new(
        fake.aws(Arc::new(Pacer::default())),
        AccountAccess::default(),
    ));
    let expires = 4_102_444_800_000; // 2100-01-01
                                     // Five grants, one after another: each its own batch.
    for i in 0..5 {
        ops.add_userid_exemption("iam-admin", &user(i), &format!("g{i}"), expires)
            .await
            .unwrap();
    }
    let updates_before = fake.calls()["UpdatePolicy"];
    assert_eq!(updates_before, 10, "one update of each policy per grant");

    // Now 20 grants, 3 revocations, a grant of a bundle no SCP denies and a grant of the
    // other bundle, all at once.
    let mut tasks = Vec::new();
    for i in 5..25 {
        let ops = Arc::clone(&ops);
        tasks.push(tokio::spawn(async move {
            ops.add_userid_exemption("iam-admin", &user(i), &format!("g{i}"), expires)
                .await
        }));
    }
    for i in 0..3 {
        let ops = Arc::clone(&ops);
        tasks.push(tokio::spawn(async move {
            ops.remove_userid_exemption("iam-admin", &user(i)).await
        }));
    }
    let stray = {
        let ops = Arc::clone(&ops);
        tokio::spawn(async move {
            ops.add_userid_exemption("billing", &user(99), "g99", expires)
                .await
        })
    };
    let other = {
        let ops = Arc::clone(&ops);
        tokio::spawn(async move {
            ops.add_userid_exemption("s3-admin", &user(50), "g50", expires)
                .await
        })
    };
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    other.await.unwrap().unwrap();
    let err = stray.await.unwrap().unwrap_err();
    assert!(
        err.to_string()
            .contains("no applied latch-* SCP denies bundle `billing`"),
        "{err}"
    );

    // One batch: one update per policy it changed.
    assert_eq!(fake.calls()["UpdatePolicy"] - updates_before, 2);
    assert_eq!(fake.throttled(), 0);

    let policies = fake.policies();
    let want: BTreeSet<String> = (3..25).map(user).collect();
    for id in [&a, &b] {
        assert_eq!(exemptions(&policies[id].content, "iam-admin"), want, "{id}");
        let recorded: BTreeSet<String> = policies[id]
            .tags
            .iter()
            .filter(|(k, _)| k.starts_with(IC_GRANT_TAG_PREFIX))
            .map(|(_, v)| v.split(' ').nth(1).unwrap().to_owned())
            .collect();
        let mut expected = want.clone();
        if *id == a {
            expected.insert(user(50));
        }
        assert_eq!(recorded, expected, "{id}: one record per live exemption");
    }
    // The other bundle's statement: the plan's exemption kept, the new one added.
    assert_eq!(
        exemptions(&policies[&a].content, "s3-admin"),
        ["AROAPLAN0001:maria@example.com".to_owned(), user(50)]
            .into_iter()
            .collect()
    );
    // What the control plane reads back agrees.
    let userids: Vec<String> = (0..25).map(user).collect();
    let listed: BTreeSet<String> = ops
        .list_userid_exemptions(&userids)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.arn)
        .collect();
    assert_eq!(listed, want);
}
