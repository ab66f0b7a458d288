//! Integration tests against the moto AWS emulator (started by `scripts/moto`): build an
//! organization through the SDK, collect it, apply a plan, tamper, detect and repair drift,
//! emergency-stop and resync. Moto is the judge of what was written; it enforces no SCPs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use latch_aws::apply::{execute, plan_changes, AccountAccess, Record};
use latch_aws::drift::{detect, emergency_stop_changes, DriftItem, KnownGrant};

use latch_aws::testing::{self, build_org, iam_in, targets_of, Fixture};
use latch_aws::{
    collect, AppliedState, Aws, CloudTrailSource, CollectConfig, Plan, Silent, WorkloadRegions,
};
use latch_contract::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE};
use serde_json::{json, Value};

const DENY_SENSITIVE: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyIamAdmin","Effect":"Deny","Action":["iam:CreateAccessKey","iam:AttachRolePolicy"],"Resource":"*","Condition":{"Null":{"aws:PrincipalTag/latch:grant:iam-admin":"true"}}}]}"#;
const PROTECT_TAGS: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ProtectLatchTags","Effect":"Deny","Action":["iam:TagRole","iam:UntagRole","iam:TagUser","iam:UntagUser"],"Resource":"*","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":"latch:*"},"StringNotEquals":{"aws:PrincipalTag/latch:control-plane":"true"}}}]}"#;
const RCP_STS: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoLatchSessionTags","Effect":"Deny","Principal":"*","Action":"sts:TagSession","Resource":"*","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":"latch:*"}}}]}"#;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Reset moto and build the fixture organization.
fn setup() -> (
    std::sync::MutexGuard<'static, ()>,
    Aws,
    Fixture,
    tokio::runtime::Runtime,
) {
    let guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let aws = moto.aws();
    let rt = rt();
    let fx = rt.block_on(build_org(&aws)).unwrap();
    (guard, aws, fx, rt)
}

fn write_plan(dir: &Path, fx: &Fixture, with_rcp: bool) -> Plan {
    let mut policies = vec![
        json!({"name": "latch-deny-sensitive", "type": "SERVICE_CONTROL_POLICY",
               "description": "Deny sensitive IAM actions without a grant",
               "file": "scp/latch-deny-sensitive.json", "content": DENY_SENSITIVE,
               "targets": [fx.root, fx.prod]}),
        json!({"name": "latch-protect-tags", "type": "SERVICE_CONTROL_POLICY",
               "description": "Only the control plane sets latch:* tags",
               "file": "scp/latch-protect-tags.json", "content": PROTECT_TAGS,
               "targets": [fx.root]}),
    ];
    if with_rcp {
        policies.push(
            json!({"name": "latch-sts-session-tags", "type": "RESOURCE_CONTROL_POLICY",
               "description": "No latch:* session tags", "file": "rcp/latch-sts-session-tags.json",
               "content": RCP_STS, "targets": [fx.root]}),
        );
    }
    let plan = json!({
        "format": "latch.plan/v1",
        "organization": {"root_id": fx.root, "management_account_id": fx.management},
        "policies": policies,
        "tags": [{"principal_arn": format!("arn:aws:iam::{}:role/deployer", fx.app_prod),
                  "key": "latch:control-plane", "value": "true", "reason": "the control plane role"}],
    });
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("plan.json"),
        serde_json::to_string_pretty(&plan).unwrap(),
    )
    .unwrap();
    latch_aws::plan::load(dir).unwrap()
}

async fn apply_all(aws: &Aws, dir: &Path, plan: &Plan) -> Vec<latch_aws::Change> {
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
    diff.changes
}

/// (id, content, tags) of the live policy named `name`.
async fn live_policy(
    aws: &Aws,
    name: &str,
    kind: &str,
) -> Option<(String, String, Vec<(String, String)>)> {
    let org = aws.organizations();
    let filter = aws_sdk_organizations::types::PolicyType::from(kind);
    let list = org.list_policies().filter(filter).send().await.unwrap();
    let p = list.policies().iter().find(|p| p.name() == Some(name))?;
    let id = p.id().unwrap().to_owned();
    let d = org.describe_policy().policy_id(&id).send().await.unwrap();
    let content = d.policy().unwrap().content().unwrap().to_owned();
    let tags = org
        .list_tags_for_resource()
        .resource_id(&id)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    Some((id, content, tags))
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

#[test]
fn collect_writes_a_snapshot_that_matches_what_was_created() {
    let (_g, aws, fx, rt) = setup();
    // CloudTrail logs in S3: two files inside the window, one before it.
    let s3 = aws.s3();
    rt.block_on(async {
        s3.create_bucket().bucket("trail-logs").send().await.unwrap();
        let record = json!({"Records": [{"eventVersion": "1.08", "eventTime": "2026-03-02T10:00:00Z",
            "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "awsRegion": "us-east-1",
            "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{}:assumed-role/deployer/x", fx.app_prod),
                             "accountId": fx.app_prod}}]})
        .to_string();
        for (day, stamp) in [("2026/03/02", "20260302T1005Z"), ("2026/03/03", "20260303T0905Z"), ("2026/02/01", "20260201T0005Z")] {
            let key = format!(
                "org/AWSLogs/{org}/{acc}/CloudTrail/us-east-1/{day}/{acc}_CloudTrail_us-east-1_{stamp}_a1.json.gz",
                org = fx.org_id, acc = fx.app_prod
            );
            s3.put_object()
                .bucket("trail-logs")
                .key(key)
                .body(gz(&record).into())
                .send()
                .await
                .unwrap();
        }
    });

    // An account tag (what approval rules may be scoped by).
    rt.block_on(async {
        aws.organizations()
            .tag_resource()
            .resource_id(&fx.app_prod)
            .tags(
                aws_sdk_organizations::types::Tag::builder()
                    .key("env")
                    .value("prod")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    });

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("snap");
    let mut config = CollectConfig::new(&out);
    config.workloads = WorkloadRegions::Listed(vec!["us-east-1".to_owned()]);
    config.cloudtrail = Some(CloudTrailSource {
        bucket: "trail-logs".to_owned(),
        prefix: "org".to_owned(),
        start_millis: latch_aws::time::parse_time("2026-03-01").unwrap(),
        end_millis: latch_aws::time::parse_time("2026-03-04").unwrap(),
    });
    let report = rt.block_on(collect(&aws, &config, &Silent)).unwrap();

    // Per-account outcomes: the closed account is reported, not fatal.
    let status: BTreeMap<&str, &str> = report
        .accounts
        .iter()
        .map(|a| (a.account_id.as_str(), a.status))
        .collect();
    assert_eq!(status[fx.management.as_str()], "collected");
    assert_eq!(status[fx.app_prod.as_str()], "collected");
    assert_eq!(status[fx.sandbox.as_str()], "collected");
    assert_eq!(status[fx.closed.as_str()], "skipped", "{report:#?}");
    assert!(!out.join("accounts").join(&fx.closed).exists());
    let ct = report.cloudtrail.as_ref().unwrap();
    assert_eq!(ct.files, 2, "{report:#?}");
    assert_eq!(ct.accounts, vec![fx.app_prod.clone()]);

    // Load it back with the model crate and compare with what was built.
    let snap = latch_model::load::snapshot(&out).unwrap();
    let org = snap.organization.as_ref().unwrap();
    assert_eq!(org.id.as_deref(), Some(fx.org_id.as_str()));
    assert_eq!(org.management_account_id, fx.management);
    assert_eq!(org.root.id, fx.root);
    let tags = &org.account(&fx.app_prod).unwrap().tags;
    assert_eq!(tags.get("env").map(String::as_str), Some("prod"));
    assert!(org.account(&fx.sandbox).unwrap().tags.is_empty());
    let path: Vec<&str> = org
        .path_to(&fx.app_prod)
        .unwrap()
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(path, ["Root", "Prod", "Payments", "app-prod"]);
    assert_eq!(org.parent_of(&fx.app_dev).unwrap().id, fx.dev);
    assert_eq!(org.parent_of(&fx.sandbox).unwrap().id, fx.root);
    let root_scps: Vec<&str> = org.root.scps.iter().map(|p| p.name.as_str()).collect();
    assert!(
        root_scps.contains(&"DenyLeaveOrganization"),
        "{root_scps:?}"
    );
    assert!(root_scps.contains(&"FullAWSAccess"), "{root_scps:?}");
    let leave = org
        .root
        .scps
        .iter()
        .find(|p| p.id == fx.deny_leave)
        .unwrap();
    assert_eq!(
        leave.document.value(),
        serde_json::from_str::<Value>(testing::DENY_LEAVE).unwrap()
    );
    let dev = org
        .organizational_units()
        .into_iter()
        .find(|n| n.id == fx.dev)
        .unwrap();
    assert!(dev.scps.iter().any(|p| p.id == fx.imposter));

    let app = &snap.accounts[&fx.app_prod];
    assert_eq!(app.name, "app-prod");
    let deployer = &app.roles["deployer"];
    assert_eq!(
        deployer.tags.get("team").map(String::as_str),
        Some("payments")
    );
    assert_eq!(deployer.inline_policies[0].name, "s3-all");
    assert_eq!(deployer.attached_policies.len(), 1);
    assert!(deployer.attached_policies[0].ends_with(":policy/iam-read"));
    assert!(app
        .managed_policies
        .contains_key(&deployer.attached_policies[0]));
    assert_eq!(app.users["alice"].groups, vec!["devs".to_owned()]);
    assert!(app.users.contains_key("bob"));
    assert!(snap.accounts[&fx.management].users.contains_key("admin"));
    // Each collected account's credential report (iam:GenerateCredentialReport and
    // iam:GetCredentialReport) lists its users.
    let report_of = |acct: &str| snap.accounts[acct].credential_report.as_ref().unwrap();
    let app_report = report_of(&fx.app_prod);
    for user in ["alice", "bob"] {
        let row = app_report
            .row(&app.users[user].arn)
            .unwrap_or_else(|| panic!("{user} in {app_report:#?}"));
        assert!(row.access_keys.iter().all(|k| k.last_used.is_none()));
    }
    assert!(report_of(&fx.management)
        .row(&snap.accounts[&fx.management].users["admin"].arn)
        .is_some());
    assert!(snap.accounts[&fx.app_dev].roles.contains_key("builder"));
    assert!(
        snap.not_analysed
            .iter()
            .any(|n| n.contains(&fx.closed) && n.contains("not analysed")),
        "{:?}",
        snap.not_analysed
    );
    assert_eq!(report.not_analysed, snap.not_analysed);

    // The engine can evaluate a collected principal: the SCP chain reaches it.
    let principal = snap
        .principals()
        .find(|p| p.arn().ends_with(":role/deployer"))
        .unwrap();
    let set = principal.effective_policies().to_policy_set().unwrap();
    assert_eq!(
        set.scps.map(|levels| levels.len()),
        Some(4),
        "root, Prod, Payments, app-prod"
    );

    // The copied logs are where latch-trail looks for them.
    let files = latch_trail::fs::discover(&out.join("cloudtrail")).unwrap();
    assert_eq!(files.len(), 2);
    assert!(files
        .iter()
        .all(|f| f.path.to_string_lossy().contains("/AWSLogs/")));

    // A second collect into the same directory is refused rather than mixing snapshots.
    let err = rt
        .block_on(collect(&aws, &CollectConfig::new(&out), &Silent))
        .unwrap_err();
    assert!(err.to_string().contains("not empty"));
}

#[test]
fn apply_is_idempotent_drift_is_found_and_repaired_stop_and_resync() {
    let (_g, aws, fx, rt) = setup();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plan");
    let plan = write_plan(&dir, &fx, true);
    let access = AccountAccess::default();

    // First apply: enable RCPs, create three policies, tag, attach.
    let changes = rt.block_on(apply_all(&aws, &dir, &plan));
    let verbs: Vec<&str> = changes.iter().map(|c| c.verb()).collect();
    assert_eq!(
        verbs.iter().filter(|v| **v == "create").count(),
        3,
        "{verbs:?}"
    );
    assert_eq!(
        verbs.iter().filter(|v| **v == "attach").count(),
        4,
        "{verbs:?}"
    );
    assert_eq!(
        verbs.iter().filter(|v| **v == "tag").count(),
        1,
        "{verbs:?}"
    );
    assert!(verbs.contains(&"enable"), "{verbs:?}");
    let first_attach = verbs.iter().position(|v| *v == "attach").unwrap();
    assert!(verbs.iter().position(|v| *v == "tag").unwrap() < first_attach);

    // Verify through the API: contents, the managed tag, attachments, the principal tag.
    rt.block_on(async {
        let (id, content, tags) =
            live_policy(&aws, "latch-deny-sensitive", "SERVICE_CONTROL_POLICY")
                .await
                .unwrap();
        assert_eq!(content, DENY_SENSITIVE);
        assert!(tags.contains(&(MANAGED_TAG_KEY.to_owned(), MANAGED_TAG_VALUE.to_owned())));
        let mut want = vec![fx.root.clone(), fx.prod.clone()];
        want.sort();
        assert_eq!(targets_of(&aws, &id).await.unwrap(), want);
        let (rid, rcontent, _) =
            live_policy(&aws, "latch-sts-session-tags", "RESOURCE_CONTROL_POLICY")
                .await
                .unwrap();
        assert_eq!(rcontent, RCP_STS);
        assert_eq!(targets_of(&aws, &rid).await.unwrap(), vec![fx.root.clone()]);
        let iam = iam_in(&aws, &fx.app_prod).await.unwrap();
        let tags = iam
            .list_role_tags()
            .role_name("deployer")
            .send()
            .await
            .unwrap();
        assert!(tags
            .tags()
            .iter()
            .any(|t| t.key() == "latch:control-plane" && t.value() == "true"));
        // The imposter (named latch-* but untagged) is untouched.
        assert_eq!(
            targets_of(&aws, &fx.imposter).await.unwrap(),
            vec![fx.dev.clone()]
        );
    });
    let state = AppliedState::load(&dir).unwrap();
    assert!(state.complete);
    assert_eq!(state.policies.len(), 3);
    assert!(state.policies["SCP/latch-deny-sensitive"]
        .id
        .starts_with("p-"));
    assert_eq!(state.tags.len(), 1);
    assert!(!state.history.is_empty());

    // Second apply: nothing to do; drift is clean.
    let state = AppliedState::load(&dir).unwrap();
    let again = rt
        .block_on(plan_changes(&aws, &plan, &state, &access))
        .unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    let report = rt
        .block_on(detect(&aws, &plan, &state, &[], &access))
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.items);

    // Tamper: detach a Latch policy, edit another, put foreign latch: tags.
    let deny_id = state.policies["SCP/latch-deny-sensitive"].id.clone();
    let protect_id = state.policies["SCP/latch-protect-tags"].id.clone();
    rt.block_on(async {
        let org = aws.organizations();
        org.detach_policy().policy_id(&deny_id).target_id(&fx.prod).send().await.unwrap();
        org.update_policy()
            .policy_id(&protect_id)
            .content(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:TagRole","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
        let iam = iam_in(&aws, &fx.app_prod).await.unwrap();
        let tag = |k: &str, v: &str| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().unwrap();
        iam.tag_user().user_name("alice").tags(tag("latch:grant:iam-admin", "1")).send().await.unwrap();
        iam.tag_user().user_name("bob").tags(tag("latch:grant:s3-admin", "1")).send().await.unwrap();
        let dev_iam = iam_in(&aws, &fx.app_dev).await.unwrap();
        dev_iam.tag_role().role_name("builder").tags(tag("latch:control-plane", "true")).send().await.unwrap();
    });
    // Bob's tag is a grant Latch knows (from the grant store); the others are not.
    let grants = vec![KnownGrant {
        principal_arn: format!("arn:aws:iam::{}:user/bob", fx.app_prod),
        key: "latch:grant:s3-admin".to_owned(),
        value: None,
    }];
    let report = rt
        .block_on(detect(&aws, &plan, &state, &grants, &access))
        .unwrap();
    let items = &report.items;
    assert!(
        items.contains(&DriftItem::Detached {
            name: "latch-deny-sensitive".into(),
            target: fx.prod.clone()
        }),
        "{items:?}"
    );
    assert!(
        items.contains(&DriftItem::PolicyEdited {
            name: "latch-protect-tags".into(),
            policy_id: protect_id.clone()
        }),
        "{items:?}"
    );
    assert!(
        items.contains(&DriftItem::UnexplainedTag {
            principal_arn: format!("arn:aws:iam::{}:user/alice", fx.app_prod),
            key: "latch:grant:iam-admin".into(),
            value: "1".into()
        }),
        "{items:?}"
    );
    assert!(
        items.contains(&DriftItem::UnexplainedTag {
            principal_arn: format!("arn:aws:iam::{}:role/builder", fx.app_dev),
            key: "latch:control-plane".into(),
            value: "true".into()
        }),
        "{items:?}"
    );
    assert_eq!(items.len(), 4, "{items:?}");

    // Repair, then drift is clean and the tampering is undone.
    rt.block_on(execute(
        &aws,
        &report.repair,
        &access,
        Record::Plan(&dir, &plan),
        &Silent,
    ))
    .unwrap();
    let state = AppliedState::load(&dir).unwrap();
    let report = rt
        .block_on(detect(&aws, &plan, &state, &grants, &access))
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.items);
    rt.block_on(async {
        let (_, content, _) = live_policy(&aws, "latch-protect-tags", "SERVICE_CONTROL_POLICY")
            .await
            .unwrap();
        assert_eq!(content, PROTECT_TAGS);
        let iam = iam_in(&aws, &fx.app_prod).await.unwrap();
        let alice = iam
            .list_user_tags()
            .user_name("alice")
            .send()
            .await
            .unwrap();
        assert!(alice.tags().is_empty());
        let bob = iam.list_user_tags().user_name("bob").send().await.unwrap();
        assert_eq!(bob.tags().len(), 1, "a known grant stays");
    });

    // Emergency stop: every Latch policy detached, foreign policies untouched.
    let stop = rt.block_on(emergency_stop_changes(&aws)).unwrap();
    assert_eq!(stop.len(), 4, "{stop:?}");
    assert!(stop.iter().all(|c| c.verb() == "detach"));
    rt.block_on(execute(
        &aws,
        &stop,
        &access,
        Record::EmergencyStop(Some(&dir)),
        &Silent,
    ))
    .unwrap();
    rt.block_on(async {
        for p in AppliedState::load(&dir).unwrap().policies.values() {
            assert!(
                targets_of(&aws, &p.id).await.unwrap().is_empty(),
                "{} still attached",
                p.name
            );
        }
        assert_eq!(
            targets_of(&aws, &fx.imposter).await.unwrap(),
            vec![fx.dev.clone()]
        );
        assert_eq!(
            targets_of(&aws, &fx.deny_leave).await.unwrap(),
            vec![fx.root.clone()]
        );
    });
    let state = AppliedState::load(&dir).unwrap();
    assert!(state.emergency_stopped_at.is_some());
    let report = rt
        .block_on(detect(&aws, &plan, &state, &grants, &access))
        .unwrap();
    assert_eq!(
        report
            .items
            .iter()
            .filter(|i| matches!(i, DriftItem::Detached { .. }))
            .count(),
        4
    );
    assert!(
        rt.block_on(emergency_stop_changes(&aws))
            .unwrap()
            .is_empty(),
        "a second stop has nothing to do"
    );

    // Resync puts everything back (policies are reused, not recreated).
    let resync = rt.block_on(apply_all(&aws, &dir, &plan));
    assert!(resync.iter().all(|c| c.verb() == "attach"), "{resync:?}");
    let state = AppliedState::load(&dir).unwrap();
    assert!(state.emergency_stopped_at.is_none());
    assert_eq!(state.policies["SCP/latch-deny-sensitive"].id, deny_id);
    let report = rt
        .block_on(detect(&aws, &plan, &state, &grants, &access))
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.items);

    // A plan that drops the RCP and moves the tag-protection policy: attach before detach,
    // then the dropped policy is detached and deleted.
    let mut smaller = plan.clone();
    smaller
        .policies
        .retain(|p| p.name != "latch-sts-session-tags");
    smaller.policies[1].targets = [fx.prod.clone()].into_iter().collect();
    let changes = rt.block_on(apply_all(&aws, &dir, &smaller));
    let summary: Vec<String> = changes
        .iter()
        .map(|c| format!("{} {}", c.verb(), c.describe()))
        .collect();
    let attach = summary
        .iter()
        .position(|s| s.starts_with("attach SCP latch-protect-tags"))
        .unwrap();
    let detach = summary
        .iter()
        .position(|s| s.starts_with("detach SCP latch-protect-tags"))
        .unwrap();
    assert!(attach < detach, "{summary:?}");
    assert!(
        summary
            .iter()
            .any(|s| s.starts_with("delete RCP latch-sts-session-tags")),
        "{summary:?}"
    );
    rt.block_on(async {
        assert!(
            live_policy(&aws, "latch-sts-session-tags", "RESOURCE_CONTROL_POLICY")
                .await
                .is_none()
        );
    });
    let state = AppliedState::load(&dir).unwrap();
    assert!(!state.policies.contains_key("RCP/latch-sts-session-tags"));
    assert!(rt
        .block_on(plan_changes(&aws, &smaller, &state, &access))
        .unwrap()
        .changes
        .is_empty());
}

#[test]
fn apply_refuses_foreign_latch_names_other_organizations_and_limits_and_binds_the_unknown_root() {
    let (_g, aws, fx, rt) = setup();
    let tmp = tempfile::tempdir().unwrap();
    let access = AccountAccess::default();
    let state = AppliedState::default();

    // A plan policy whose name an untagged (foreign) policy already holds.
    let dir = tmp.path().join("a");
    let mut plan = write_plan(&dir, &fx, false);
    plan.policies[0].name = "latch-imposter".to_owned();
    let err = rt
        .block_on(plan_changes(&aws, &plan, &state, &access))
        .unwrap_err();
    assert!(err.to_string().contains("not created by Latch"), "{err}");

    // A plan made for another organization.
    let mut other = write_plan(&dir, &fx, false);
    other.organization.root_id = "r-zzzz".to_owned();
    let err = rt
        .block_on(plan_changes(&aws, &other, &state, &access))
        .unwrap_err();
    assert!(err.to_string().contains("r-zzzz"), "{err}");

    // A plan made without organization.json (root `r-unknown`, management account unknown) is
    // bound to the root these credentials reach: its root attachments go there.
    let mut unbound = write_plan(&dir, &fx, false);
    unbound.organization.root_id = latch_contract::UNKNOWN_ROOT.to_owned();
    unbound.organization.management_account_id = String::new();
    for p in &mut unbound.policies {
        for t in p.targets.iter_mut().filter(|t| **t == fx.root) {
            latch_contract::UNKNOWN_ROOT.clone_into(t);
        }
    }
    let diff = rt
        .block_on(plan_changes(&aws, &unbound, &state, &access))
        .unwrap();
    assert_eq!(diff.bound_root.as_deref(), Some(fx.root.as_str()));
    let described: Vec<String> = diff.changes.iter().map(|c| c.describe()).collect();
    assert!(
        described.iter().any(|d| d.contains(&fx.root)),
        "{described:?}"
    );
    assert!(
        !described
            .iter()
            .any(|d| d.contains(latch_contract::UNKNOWN_ROOT)),
        "{described:?}"
    );
    // ... but not when it names an account the organization does not hold.
    unbound.tags[0].principal_arn = "arn:aws:iam::999999999999:role/deployer".to_owned();
    let err = rt
        .block_on(plan_changes(&aws, &unbound, &state, &access))
        .unwrap_err();
    assert!(err.to_string().contains("999999999999"), "{err}");

    // Eleven SCPs on the root (FullAWSAccess + DenyLeaveOrganization, the plan's two and seven
    // more) exceed AWS's ten.
    let crowded = |extra: usize| {
        let mut plan = write_plan(&dir, &fx, false);
        let template = plan.policies[0].clone();
        for i in 0..extra {
            let mut p = template.clone();
            p.name = format!("latch-extra-{i}");
            p.targets = [fx.root.clone()].into_iter().collect();
            plan.policies.push(p);
        }
        plan
    };
    let err = rt
        .block_on(plan_changes(&aws, &crowded(7), &state, &access))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("holds 2 SCPs and the plan attaches 9 more before detaching any"),
        "{err}"
    );
    assert!(
        err.to_string().contains("10 may be attached (AWS's quota)"),
        "{err}"
    );
    // Six fit AWS's quotas, but not a plan packed for five per target.
    rt.block_on(plan_changes(&aws, &crowded(2), &state, &access))
        .unwrap();
    let mut lagging = crowded(2);
    lagging.limits = Some(latch_catalog::Limits {
        scp_per_target: 5,
        ..latch_catalog::Limits::AWS
    });
    let err = rt
        .block_on(plan_changes(&aws, &lagging, &state, &access))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("5 may be attached (the plan's limits)"),
        "{err}"
    );

    // A tag for a principal that does not exist.
    let mut ghost = write_plan(&dir, &fx, false);
    ghost.tags[0].principal_arn = format!("arn:aws:iam::{}:role/ghost", fx.app_prod);
    let err = rt
        .block_on(plan_changes(&aws, &ghost, &state, &access))
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");

    // None of this changed anything.
    rt.block_on(async {
        assert!(
            live_policy(&aws, "latch-deny-sensitive", "SERVICE_CONTROL_POLICY")
                .await
                .is_none()
        );
    });
}

#[test]
fn an_interrupted_apply_converges_on_the_next_one() {
    let (_g, aws, fx, rt) = setup();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plan");
    let plan = write_plan(&dir, &fx, false);
    let access = AccountAccess::default();
    let diff = rt
        .block_on(plan_changes(&aws, &plan, &AppliedState::default(), &access))
        .unwrap();
    // Carry out only the first half, as if the process had been stopped.
    let half = diff.changes.len() / 2;
    rt.block_on(execute(
        &aws,
        &diff.changes[..half],
        &access,
        Record::Plan(&dir, &plan),
        &Silent,
    ))
    .unwrap();
    // And re-run some already-done attachments: moto (silently) and AWS (with an error that
    // Latch tolerates) both accept it.
    let done_attaches: Vec<_> = diff.changes[..half]
        .iter()
        .filter(|c| c.verb() == "attach")
        .cloned()
        .collect();
    rt.block_on(execute(
        &aws,
        &done_attaches,
        &access,
        Record::Plan(&dir, &plan),
        &Silent,
    ))
    .unwrap();
    let state = AppliedState::load(&dir).unwrap();
    let rest = rt
        .block_on(plan_changes(&aws, &plan, &state, &access))
        .unwrap();
    assert!(!rest.changes.is_empty());
    assert!(rest.changes.len() < diff.changes.len());
    assert!(rest.changes.iter().all(|c| c.verb() != "create"
        || !state.policies.contains_key(&format!(
            "SCP/{}",
            match c {
                latch_aws::Change::CreatePolicy { name, .. } => name.as_str(),
                _ => "",
            }
        ))));
    rt.block_on(execute(
        &aws,
        &rest.changes,
        &access,
        Record::Plan(&dir, &plan),
        &Silent,
    ))
    .unwrap();
    let state = AppliedState::load(&dir).unwrap();
    assert!(rt
        .block_on(plan_changes(&aws, &plan, &state, &access))
        .unwrap()
        .changes
        .is_empty());
}
