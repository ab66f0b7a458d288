//! `apply`, Identity Center grants, `emergency-stop` and `resync` against moto through a
//! fault-injecting proxy (`latch_aws::testing::FaultProxy`): some policy writes are answered
//! `TooManyRequestsException`/`ThrottlingException`, some connections are dropped. The paced,
//! retrying writes must still leave exactly the plan in place, detach nothing that should
//! stay, and lose no grant.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use latch_aws::apply::{execute, plan_changes, AccountAccess, Record};
use latch_aws::drift::emergency_stop_changes;
use latch_aws::grants::GrantOps;
use latch_aws::org::latch_policies;
use latch_aws::testing::{self, build_org, targets_of, FaultProxy, Faults, Fixture};
use latch_aws::{AppliedState, Aws, Plan, Silent};
use serde_json::{json, Value};

const LATCH_SCP: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"LatchPermission1","Effect":"Deny","Action":["iam:PassRole","iam:CreateAccessKey"],"Resource":"*","Condition":{"Null":{"aws:PrincipalTag/latch:grant:iam-admin":"true"}}}]}"#;
const REGIONS: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"LatchRegion","Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["eu-west-1"]}}}]}"#;
const SERVICES: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"LatchService","Effect":"Deny","Action":["gamelift:*","sumerian:*"],"Resource":"*"}]}"#;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn write_plan(dir: &Path, policies: &[(&str, &str, Vec<String>)], fx: &Fixture) -> Plan {
    let list: Vec<Value> = policies
        .iter()
        .map(|(name, content, targets)| {
            json!({"name": name, "type": "SERVICE_CONTROL_POLICY", "description": format!("{name} (test)"),
                   "file": format!("scp/{name}.json"), "content": content, "targets": targets})
        })
        .collect();
    let plan = json!({
        "format": "latch.plan/v1",
        "organization": {"root_id": fx.root, "management_account_id": fx.management},
        "policies": list,
    });
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("plan.json"), plan.to_string()).unwrap();
    latch_aws::plan::load(dir).unwrap()
}

/// Applies `plan`; returns the policy writes it made.
async fn apply(aws: &Aws, dir: &Path, plan: &Plan) -> usize {
    let access = AccountAccess::default();
    let state = AppliedState::load(dir).unwrap();
    let diff = plan_changes(aws, plan, &state, &access).await.unwrap();
    execute(
        aws,
        &diff.changes,
        &access,
        Record::Plan(dir, plan),
        &Silent,
    )
    .await
    .unwrap();
    diff.changes.iter().filter(|c| c.is_policy_write()).count()
}

/// Every policy's targets (non-Latch ones included), by name.
async fn attachments(aws: &Aws) -> BTreeMap<String, Vec<String>> {
    let org = aws.organizations();
    let list = org
        .list_policies()
        .filter(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for p in list.policies() {
        let targets = targets_of(aws, p.id().unwrap()).await.unwrap();
        out.insert(p.name().unwrap().to_owned(), targets);
    }
    out
}

/// The `aws:userid` exemptions in a document.
fn exemptions(doc: &str) -> BTreeSet<String> {
    let v: Value = serde_json::from_str(doc).unwrap();
    match &v["Statement"][0]["Condition"]["StringNotLike"]["aws:userid"] {
        Value::String(s) => [s.clone()].into_iter().collect(),
        Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_owned()).collect(),
        _ => BTreeSet::new(),
    }
}

/// The live `latch-permissions` policy.
async fn permissions(aws: &Aws) -> latch_aws::org::LivePolicy {
    let live = latch_policies(aws).await.unwrap();
    live.managed
        .into_values()
        .find(|p| p.name == "latch-permissions")
        .unwrap()
}

fn user(i: usize) -> String {
    format!("AROAEXAMPLE0001:user{i}@example.com")
}

#[test]
fn apply_grants_and_emergency_stop_converge_through_throttling_and_dropped_connections() {
    let _guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let rt = rt();
    let direct = moto.aws();
    let fx = rt.block_on(build_org(&direct)).unwrap();
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Faults {
            throttle_every: 3,
            drop_every: 7,
        },
    )
    .unwrap();
    // The SDK does not retry (moto's configuration): the pacer does.
    let aws = Aws::from_sdk_config(
        moto.sdk_config()
            .into_builder()
            .endpoint_url(&proxy.endpoint)
            .build(),
        true,
        4,
    );
    let before = rt.block_on(attachments(&direct));
    let dir = tempfile::tempdir().unwrap();

    // 1. Apply: 3 policies on 7 targets.
    let wanted = vec![
        ("latch-permissions", LATCH_SCP, vec![fx.root.clone()]),
        (
            "latch-regions",
            REGIONS,
            vec![fx.prod.clone(), fx.dev.clone(), fx.sandbox.clone()],
        ),
        (
            "latch-services",
            SERVICES,
            vec![fx.payments.clone(), fx.app_dev.clone(), fx.app_prod.clone()],
        ),
    ];
    let plan = write_plan(dir.path(), &wanted, &fx);
    assert_eq!(rt.block_on(apply(&aws, dir.path(), &plan)), 10);
    let after = rt.block_on(attachments(&direct));
    for (name, _, targets) in &wanted {
        let mut t = targets.clone();
        t.sort();
        assert_eq!(after[*name], t, "{name}");
    }
    for (name, targets) in &before {
        assert_eq!(&after[name], targets, "{name} was not Latch's: untouched");
    }
    assert_eq!(
        rt.block_on(latch_policies(&direct)).unwrap().managed.len(),
        3
    );

    // 2. Identity Center grants at once through the same proxy: 8 grants, then 3 revocations
    //    together with 4 more grants.
    let ops = Arc::new(GrantOps::new(aws.clone(), AccountAccess::default()));
    let expires = 4_102_444_800_000;
    let run = |adds: Vec<usize>, removes: Vec<usize>| {
        let ops = Arc::clone(&ops);
        rt.block_on(async move {
            let mut tasks = Vec::new();
            for i in adds {
                let ops = Arc::clone(&ops);
                tasks.push(tokio::spawn(async move {
                    ops.add_userid_exemption("iam-admin", &user(i), &format!("g{i}"), expires)
                        .await
                }));
            }
            for i in removes {
                let ops = Arc::clone(&ops);
                tasks.push(tokio::spawn(async move {
                    ops.remove_userid_exemption("iam-admin", &user(i)).await
                }));
            }
            for t in tasks {
                t.await.unwrap().unwrap();
            }
        });
    };
    let updates = |p: &FaultProxy| {
        p.stats()
            .forwarded
            .get("UpdatePolicy")
            .copied()
            .unwrap_or(0)
    };
    let u0 = updates(&proxy);
    run((0..8).collect(), Vec::new());
    run((8..12).collect(), vec![1, 3, 5]);
    let want: BTreeSet<String> = [0, 2, 4, 6, 7, 8, 9, 10, 11]
        .into_iter()
        .map(user)
        .collect();
    let perm = rt.block_on(permissions(&direct));
    assert_eq!(exemptions(&perm.content), want);
    let recorded: BTreeSet<String> = perm.userid_grants.iter().map(|(_, u)| u.clone()).collect();
    assert_eq!(recorded, want, "one record per live grant");
    // Two batches, one update each (retried attempts of a dropped one forwarded again at most).
    let forwarded = updates(&proxy) - u0;
    assert!(
        (2..=4).contains(&forwarded),
        "{forwarded} UpdatePolicy calls reached moto"
    );

    // 3. Emergency stop: every Latch attachment goes, nothing else, no grant is lost.
    let stop = rt.block_on(emergency_stop_changes(&aws)).unwrap();
    assert_eq!(stop.len(), 7);
    rt.block_on(execute(
        &aws,
        &stop,
        &AccountAccess::default(),
        Record::EmergencyStop(Some(dir.path())),
        &Silent,
    ))
    .unwrap();
    let stopped = rt.block_on(attachments(&direct));
    for (name, _, _) in &wanted {
        assert!(stopped[*name].is_empty(), "{name} detached everywhere");
    }
    for (name, targets) in &before {
        assert_eq!(&stopped[name], targets, "{name} stays");
    }
    let perm = rt.block_on(permissions(&direct));
    assert_eq!(
        exemptions(&perm.content),
        want,
        "the grants are still written"
    );

    // 4. Resync: the plan again, with the grants.
    assert_eq!(rt.block_on(apply(&aws, dir.path(), &plan)), 7);
    let resynced = rt.block_on(attachments(&direct));
    assert_eq!(resynced, after);
    let perm = rt.block_on(permissions(&direct));
    assert_eq!(exemptions(&perm.content), want);
    assert_eq!(
        rt.block_on(apply(&aws, dir.path(), &plan)),
        0,
        "nothing left to do"
    );

    // The faults really happened, and every write got through in the end.
    let stats = proxy.stats();
    let throttled: u64 = stats.throttled.values().sum();
    let dropped: u64 = stats.dropped.values().sum();
    assert!(throttled >= 5, "{stats:?}");
    assert!(dropped >= 2, "{stats:?}");
    assert_eq!(aws.pacer().stats().gave_up, 0);
    assert_eq!(aws.pacer().stats().throttled, throttled);
}
