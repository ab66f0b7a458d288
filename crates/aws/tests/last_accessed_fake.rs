//! `latch collect --last-accessed` end to end: the organization in moto, and IAM's Access
//! Advisor (which moto does not implement) answered by `latch_aws::testing::access_advisor`
//! in AWS's documented response shapes, through a proxy in front of moto. The SDK, the
//! polling, the paging, the throttling retries and the failure reporting are the real ones.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use latch_aws::last_accessed::LastAccessedOptions;
use latch_aws::testing::access_advisor::{AccessAdvisor, AdvisorFixture, FakeService};
use latch_aws::testing::{self, build_org, FaultProxy, Faults};
use latch_aws::{collect, Aws, CollectConfig, Silent, WorkloadRegions};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn service(ns: &str, last: Option<&str>, actions: &[(&str, &str)]) -> FakeService {
    FakeService {
        namespace: ns.to_owned(),
        last_authenticated: last.map(str::to_owned),
        actions: actions
            .iter()
            .map(|(a, t)| ((*a).to_owned(), (*t).to_owned()))
            .collect(),
    }
}

/// The fake in front of moto, and an SDK connection through it (`retries` attempts per call).
fn through_fake(
    moto: &testing::Moto,
    fixture: AdvisorFixture,
    retries: u32,
) -> (AccessAdvisor, FaultProxy, Aws) {
    let advisor = AccessAdvisor::new(fixture);
    let no_faults = Faults {
        throttle_every: 0,
        drop_every: 0,
    };
    let proxy =
        FaultProxy::start_with(&moto.endpoint, no_faults, Some(advisor.responder())).unwrap();
    let aws = Aws::from_sdk_config(
        moto.sdk_config()
            .into_builder()
            .endpoint_url(&proxy.endpoint)
            .retry_config(latch_aws::connect::retry_config(retries))
            .build(),
        true,
        4,
    );
    (advisor, proxy, aws)
}

/// Collects with last-accessed data (and nothing optional else) into `out`.
fn config(out: &std::path::Path, opts: LastAccessedOptions) -> CollectConfig {
    let mut config = CollectConfig::new(out);
    config.workloads = WorkloadRegions::Skip;
    config.last_accessed = Some(opts);
    config
}

#[test]
fn collect_last_accessed_polls_pages_retries_and_reports_failures() {
    let _guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let rt = rt();
    let fx = rt.block_on(build_org(&moto.aws())).unwrap();
    let deployer = format!("arn:aws:iam::{}:role/deployer", fx.app_prod);
    let bob = format!("arn:aws:iam::{}:user/bob", fx.app_prod);

    let mut fixture = AdvisorFixture {
        polls_before_done: 2,
        page_size: 1,
        throttle_every: 5,
        completed_at: "2026-12-06T10:00:00Z".to_owned(),
        ..AdvisorFixture::default()
    };
    fixture.reports.insert(
        deployer.clone(),
        vec![
            service(
                "s3",
                Some("2026-12-05T08:00:00Z"),
                &[
                    ("GetObject", "2026-12-05T08:00:00Z"),
                    ("PutBucketPolicy", "2025-01-02T00:00:00Z"),
                ],
            ),
            service("dynamodb", None, &[]),
            service("iam", Some("2026-11-01T00:00:00Z"), &[]),
        ],
    );
    fixture.failing.insert(bob.clone());
    // Retries on, as in production: throttled Access Advisor calls are retried by the SDK.
    let (advisor, _proxy, aws) = through_fake(moto, fixture, 5);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("snap");
    let config = config(
        &out,
        LastAccessedOptions {
            concurrency: 3,
            first_poll: Duration::from_millis(10),
            max_poll: Duration::from_millis(40),
            timeout: Duration::from_secs(60),
        },
    );
    let report = rt.block_on(collect(&aws, &config, &Silent)).unwrap();
    let app = report
        .accounts
        .iter()
        .find(|a| a.account_id == fx.app_prod)
        .unwrap();
    assert!(
        app.detail.contains("last-accessed data of") && app.detail.contains("1 could not be had"),
        "{}",
        app.detail
    );

    let stats = advisor.stats();
    assert!(
        stats.throttled > 0,
        "the fake throttled some calls: {stats:?}"
    );
    assert!(
        stats.jobs.values().all(|n| *n == 1),
        "one job per identity, throttled starts retried without a second job: {stats:?}"
    );
    assert_eq!(
        stats.granularity.iter().collect::<Vec<_>>(),
        ["ACTION_LEVEL"]
    );
    assert!(stats.jobs.contains_key(&deployer) && stats.jobs.contains_key(&bob));

    // What the file says, as the snapshot loader reads it.
    let snapshot = latch_model::load::snapshot(&out).unwrap();
    let la = snapshot.accounts[&fx.app_prod]
        .last_accessed
        .as_ref()
        .expect("last-accessed.json written for the account");
    let d = &la.principals[&deployer];
    assert_eq!(
        d.job_completed.epoch_millis,
        latch_aws::time::parse_time("2026-12-06T10:00:00Z").unwrap()
    );
    // Every page read: three services, one per page.
    assert_eq!(
        d.services.keys().map(String::as_str).collect::<Vec<_>>(),
        ["dynamodb", "iam", "s3"]
    );
    assert!(d.services["dynamodb"].last_authenticated.is_none());
    assert_eq!(
        d.services["s3"]
            .actions
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["s3:GetObject", "s3:PutBucketPolicy"]
    );
    // The failed job is reported, never an empty report.
    assert!(!la.principals.contains_key(&bob));
    assert!(
        la.failed[&bob].contains("ServiceFailure"),
        "{:?}",
        la.failed
    );
    assert!(
        snapshot
            .not_analysed
            .iter()
            .any(|n| n.contains(&bob) && n.contains("last-accessed")),
        "{:?}",
        snapshot.not_analysed
    );
    // Identities with nothing to report have an empty one: asked, and nothing attempted.
    let alice = format!("arn:aws:iam::{}:user/alice", fx.app_prod);
    assert!(la.principals[&alice].services.is_empty());
}

#[test]
fn a_job_that_never_completes_is_reported_as_failed() {
    let _guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let rt = rt();
    let fx = rt.block_on(build_org(&moto.aws())).unwrap();
    let fixture = AdvisorFixture {
        polls_before_done: u32::MAX,
        page_size: 10,
        completed_at: "2026-12-06T10:00:00Z".to_owned(),
        ..AdvisorFixture::default()
    };
    let (_advisor, _proxy, aws) = through_fake(moto, fixture, 1);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("snap");
    let config = config(
        &out,
        LastAccessedOptions {
            concurrency: 8,
            first_poll: Duration::from_millis(10),
            max_poll: Duration::from_millis(20),
            timeout: Duration::from_millis(200),
        },
    );
    rt.block_on(collect(&aws, &config, &Silent)).unwrap();
    let snapshot = latch_model::load::snapshot(&out).unwrap();
    let la = snapshot.accounts[&fx.app_prod]
        .last_accessed
        .as_ref()
        .unwrap();
    assert!(la.principals.is_empty());
    assert!(!la.failed.is_empty());
    assert!(
        la.failed
            .values()
            .all(|why| why.contains("did not complete within")),
        "{:?}",
        la.failed
    );
}
