//! Paced `apply` and `emergency-stop` on 200 targets against the in-process AWS Organizations
//! (`latch_aws::testing::FakeOrganizations`, which throttles policy writes at AWS's published
//! rate like AWS does), on a paused tokio clock: the measured time is the time the run would
//! take, printed against the least time the rate allows (writes beyond the burst ÷ rate).
//! Without pacing, the same run is throttled and backs off.
//!
//! `cargo bench -p latch-aws --bench pacing`; `LATCH_BENCH_TARGETS` (default 200).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use latch_aws::apply::{execute, least_time, AccountAccess, Record};
use latch_aws::drift::emergency_stop_changes;
use latch_aws::org::PolicyType;
use latch_aws::pacing::{Pacer, RetryPolicy};
use latch_aws::testing::FakeOrganizations;
use latch_aws::{Change, Silent};
use latch_catalog::RequestRate;

const DENY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;

fn targets(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{:012}", 100_000_000_000u64 + i as u64))
        .collect()
}

struct Run {
    what: &'static str,
    writes: usize,
    bound_ms: u64,
    took: Duration,
    wall: Duration,
    throttled: u64,
    held: u64,
}

async fn timed(
    what: &'static str,
    fake: &FakeOrganizations,
    pacer: Arc<Pacer>,
    changes: &[Change],
) -> Run {
    let aws = fake.aws(Arc::clone(&pacer));
    let (writes, bound_ms) = least_time(changes);
    let before = fake.throttled();
    let start = tokio::time::Instant::now();
    let wall = std::time::Instant::now();
    execute(
        &aws,
        changes,
        &AccountAccess::default(),
        Record::EmergencyStop(None),
        &Silent,
    )
    .await
    .expect("the run completes");
    Run {
        what,
        writes,
        bound_ms,
        took: start.elapsed(),
        wall: wall.elapsed(),
        throttled: fake.throttled() - before,
        held: pacer.stats().held,
    }
}

async fn scenario(n: usize, paced: bool, latency: Duration) -> Vec<Run> {
    let fake = FakeOrganizations::new(Some(RequestRate::ORGANIZATIONS_POLICY_WRITES))
        .with_latency(latency);
    let pacer = || {
        Arc::new(if paced {
            Pacer::new(RetryPolicy {
                max_attempts: 12,
                ..RetryPolicy::default()
            })
        } else {
            Pacer::with_rates(
                BTreeMap::new(),
                RetryPolicy {
                    max_attempts: 12,
                    ..RetryPolicy::default()
                },
            )
        })
    };
    // apply: create the policy, attach it to every target.
    let mut changes = vec![Change::CreatePolicy {
        kind: PolicyType::Scp,
        name: "latch-bench".to_owned(),
        description: "bench".to_owned(),
        content: DENY.to_owned(),
    }];
    changes.extend(targets(n).into_iter().map(|t| Change::Attach {
        kind: PolicyType::Scp,
        name: "latch-bench".to_owned(),
        policy_id: None,
        target: t,
    }));
    let apply = timed("apply", &fake, pacer(), &changes).await;
    // Let the bucket refill, as between two commands.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let aws = fake.aws(pacer());
    let stop_changes = emergency_stop_changes(&aws).await.unwrap();
    assert_eq!(stop_changes.len(), n);
    let stop = timed("emergency-stop", &fake, pacer(), &stop_changes).await;
    assert!(fake.policies().values().all(|p| p.targets.is_empty()));
    vec![apply, stop]
}

fn main() {
    let n: usize = std::env::var("LATCH_BENCH_TARGETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let rate = RequestRate::ORGANIZATIONS_POLICY_WRITES;
    println!(
        "{n} targets; AWS Organizations policy writes at {} a second, bursts of {} (paused clock: times are the run's own, not waited)",
        rate.per_second, rate.burst
    );
    println!(
        "| run | pacing | latency per call | writes | least time (bound) | measured | over the bound | throttled by AWS | held by the pacer | wall time |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (paced, latency) in [
        (true, Duration::ZERO),
        (true, Duration::from_millis(120)),
        (false, Duration::ZERO),
    ] {
        for r in rt.block_on(scenario(n, paced, latency)) {
            let took = r.took.as_secs_f64();
            let bound = r.bound_ms as f64 / 1000.0;
            println!(
                "| {} | {} | {} ms | {} | {:.1} s | {:.1} s | {:+.1}% | {} | {} | {:.2} s |",
                r.what,
                if paced { "on" } else { "off" },
                latency.as_millis(),
                r.writes,
                bound,
                took,
                (took / bound - 1.0) * 100.0,
                r.throttled,
                r.held,
                r.wall.as_secs_f64()
            );
        }
    }
}
