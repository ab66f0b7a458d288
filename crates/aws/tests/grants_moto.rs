//! The grant operations against the moto emulator: tags on roles and users in a member
//! account (reached by assuming the organization's role), idempotence, the plan's standing
//! tags left alone, and the session cut-off policy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use latch_aws::apply::AccountAccess;
use latch_aws::grants::{cutoff_of, tag_value, GrantOps};
use latch_aws::testing::{self, build_org, iam_in};
use latch_aws::AwsError;
use latch_contract::SESSION_CUTOFF_POLICY;

const T: i64 = 1_800_000_000_000;

/// Resets the shared moto server, builds the fixture organization and runs `body` on it.
fn on_fresh_org<F, Fut>(body: F)
where
    F: FnOnce(latch_aws::Aws, testing::Fixture) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let _guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let aws = moto.aws();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fx = build_org(&aws).await.unwrap();
        body(aws.clone(), fx).await;
    });
}

#[test]
fn tags_and_session_cutoffs_on_roles_and_users() {
    on_fresh_org(|aws, fx| async move {
        let ops = GrantOps::new(aws.clone(), AccountAccess::default());
        let iam = iam_in(&aws, &fx.app_prod).await.unwrap();
        let role = format!("arn:aws:iam::{}:role/deployer", fx.app_prod);
        let user = format!("arn:aws:iam::{}:user/alice", fx.app_prod);
        let bob = format!("arn:aws:iam::{}:user/bob", fx.app_prod);
        let admin = format!("arn:aws:iam::{}:user/admin", fx.management);
        let role_tags = || async {
            let out = iam.list_role_tags().role_name("deployer").send().await;
            let tags = out.unwrap().tags().to_vec();
            tags.into_iter()
                .map(|t| (t.key, t.value))
                .collect::<Vec<(String, String)>>()
        };

        // Put, again (idempotent), replace with a newer grant.
        ops.put_grant_tag(&role, "iam-admin", "g-one", T)
            .await
            .unwrap();
        ops.put_grant_tag(&role, "iam-admin", "g-one", T)
            .await
            .unwrap();
        let tags = role_tags().await;
        assert!(tags.contains(&("latch:grant:iam-admin".to_owned(), tag_value("g-one", T))));
        assert!(tags.contains(&("team".to_owned(), "payments".to_owned())));
        ops.put_grant_tag(&role, "iam-admin", "g-two", T + 60_000)
            .await
            .unwrap();
        ops.put_grant_tag(&user, "read-logs", "g-three", T)
            .await
            .unwrap();
        ops.put_grant_tag(&admin, "read-logs", "g-four", T)
            .await
            .unwrap();

        // The plan's standing tag is neither changed, removed nor listed.
        let standing = aws_sdk_iam::types::Tag::builder()
            .key("latch:grant:iam-admin")
            .value("standing")
            .build()
            .unwrap();
        iam.tag_user()
            .user_name("bob")
            .tags(standing)
            .send()
            .await
            .unwrap();
        ops.put_grant_tag(&bob, "iam-admin", "g-five", T)
            .await
            .unwrap();
        ops.remove_grant_tag(&bob, "iam-admin").await.unwrap();
        let bob_tags = iam.list_user_tags().user_name("bob").send().await.unwrap();
        assert_eq!(bob_tags.tags()[0].value(), "standing");

        let missing = format!("arn:aws:iam::{}:role/nobody", fx.app_prod);
        let listed = ops
            .list_grant_tags(&[
                role.clone(),
                user.clone(),
                bob.clone(),
                admin.clone(),
                missing.clone(),
            ])
            .await
            .unwrap();
        let got: Vec<_> = listed
            .iter()
            .map(|t| {
                (
                    t.arn.as_str(),
                    t.bundle.as_str(),
                    t.grant_id.as_str(),
                    t.expires_at,
                )
            })
            .collect();
        // Listed in ARN order; the member accounts' ids are random, so sort the expectation.
        let mut want = vec![
            (admin.as_str(), "read-logs", "g-four", Some(T)),
            (role.as_str(), "iam-admin", "g-two", Some(T + 60_000)),
            (user.as_str(), "read-logs", "g-three", Some(T)),
        ];
        want.sort();
        assert_eq!(got, want);

        // Remove, twice; from an identity that does not exist: success.
        ops.remove_grant_tag(&role, "iam-admin").await.unwrap();
        ops.remove_grant_tag(&role, "iam-admin").await.unwrap();
        ops.remove_grant_tag(&missing, "iam-admin").await.unwrap();
        let tags = role_tags().await;
        assert!(
            !tags.iter().any(|(k, _)| k.starts_with("latch:")),
            "{tags:?}"
        );
        assert!(tags.contains(&("team".to_owned(), "payments".to_owned())));

        // Granting to an identity that does not exist is an error naming it.
        let e = ops
            .put_grant_tag(&missing, "iam-admin", "g-x", T)
            .await
            .unwrap_err();
        assert!(matches!(e, AwsError::Identity { .. }), "{e}");
        assert!(
            e.to_string().contains("role/nobody") && e.to_string().contains("NoSuchEntity"),
            "{e}"
        );
        // Bad ARNs and bundle names fail before any call.
        let e = ops
            .put_grant_tag("AROA1:carol", "iam-admin", "g", T)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not an ARN"), "{e}");
        let e = ops
            .put_grant_tag(&role, "IAM Admin", "g", T)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("lower-case"), "{e}");

        // Session cut-off on a role and on a user: later replaces earlier, never the reverse.
        assert_eq!(ops.session_cutoff(&role).await.unwrap(), None);
        ops.cut_sessions(&role, T).await.unwrap();
        ops.cut_sessions(&role, T).await.unwrap();
        assert_eq!(ops.session_cutoff(&role).await.unwrap(), Some(T));
        ops.cut_sessions(&role, T - 3_600_000).await.unwrap();
        assert_eq!(ops.session_cutoff(&role).await.unwrap(), Some(T));
        ops.cut_sessions(&role, T + 5_000).await.unwrap();
        let doc = iam
            .get_role_policy()
            .role_name("deployer")
            .policy_name(SESSION_CUTOFF_POLICY)
            .send()
            .await
            .unwrap();
        assert_eq!(cutoff_of(doc.policy_document()), Some(T + 5_000));
        assert!(doc.policy_document().contains("TokenIssueTime"));
        // The role's own inline policy is untouched.
        let names = iam
            .list_role_policies()
            .role_name("deployer")
            .send()
            .await
            .unwrap();
        let mut names = names.policy_names().to_vec();
        names.sort();
        assert_eq!(
            names,
            vec!["latch-session-cutoff".to_owned(), "s3-all".to_owned()]
        );
        ops.cut_sessions(&user, T).await.unwrap();
        assert_eq!(ops.session_cutoff(&user).await.unwrap(), Some(T));
        let e = ops.cut_sessions(&missing, T).await.unwrap_err();
        assert_eq!(e.code(), Some("NoSuchEntity"), "{e}");
    });
}

/// An SCP as `latch apply` leaves it: named `latch-*`, tagged `latch:managed=true`.
const LATCH_SCP: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"LatchPermission1","Effect":"Deny","Action":["iam:PassRole","iam:CreateAccessKey"],"Resource":"*","Condition":{"Null":{"aws:PrincipalTag/latch:grant:iam-admin":"true"},"StringNotLike":{"aws:userid":"AROAPLAN0001:maria@example.com"}}}]}"#;

#[test]
fn identity_center_grants_edit_the_applied_latch_scp() {
    use latch_grant::CloudAdapter;
    use latch_grant::{Identity, IdentityKind};
    on_fresh_org(|aws, fx| async move {
        let org = aws.organizations();
        let carol = Identity {
            kind: IdentityKind::IdentityCenter,
            id: "AROAEXAMPLE1:carol@example.com".to_owned(),
        };
        let cloud = latch_aws::AwsCloud::new(aws.clone(), AccountAccess::default());
        // No applied Latch SCP denies the bundle yet: a clear error.
        let e = cloud
            .apply_grant(&carol, "iam-admin", "g-ic", T)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("no applied latch-* SCP denies bundle `iam-admin`"),
            "{e}"
        );

        let managed = aws_sdk_organizations::types::Tag::builder()
            .key("latch:managed")
            .value("true")
            .build()
            .unwrap();
        let created = org
            .create_policy()
            .name("latch-scp-root-1")
            .description("Latch")
            .r#type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
            .content(LATCH_SCP)
            .tags(managed)
            .send()
            .await
            .unwrap();
        let id = created
            .policy()
            .unwrap()
            .policy_summary()
            .unwrap()
            .id()
            .unwrap()
            .to_owned();
        org.attach_policy()
            .policy_id(&id)
            .target_id(&fx.root)
            .send()
            .await
            .unwrap();
        let content = || async {
            let d = org.describe_policy().policy_id(&id).send().await.unwrap();
            let text = d.policy().unwrap().content().unwrap().to_owned();
            serde_json::from_str::<serde_json::Value>(&text).unwrap()
        };

        cloud
            .apply_grant(&carol, "iam-admin", "g-ic", T)
            .await
            .unwrap();
        cloud
            .apply_grant(&carol, "iam-admin", "g-ic", T)
            .await
            .unwrap();
        let v = content().await;
        assert_eq!(
            v["Statement"][0]["Condition"]["StringNotLike"]["aws:userid"],
            serde_json::json!([
                "AROAEXAMPLE1:carol@example.com",
                "AROAPLAN0001:maria@example.com"
            ])
        );
        let tags = cloud
            .list_latch_tags(std::slice::from_ref(&carol))
            .await
            .unwrap();
        assert_eq!(tags.len(), 1, "{tags:?}");
        assert_eq!(
            (
                tags[0].grant_id.as_str(),
                tags[0].bundle.as_str(),
                tags[0].expires_at
            ),
            ("g-ic", "iam-admin", Some(T))
        );

        // `latch apply` puts the planned content back: the record stays, the exemption is not
        // reported, so the reconciler restores it; restoring works.
        org.update_policy()
            .policy_id(&id)
            .content(LATCH_SCP)
            .send()
            .await
            .unwrap();
        assert!(cloud
            .list_latch_tags(std::slice::from_ref(&carol))
            .await
            .unwrap()
            .is_empty());
        cloud
            .apply_grant(&carol, "iam-admin", "g-ic", T)
            .await
            .unwrap();
        assert_eq!(
            cloud
                .list_latch_tags(std::slice::from_ref(&carol))
                .await
                .unwrap()
                .len(),
            1
        );

        // The plan's own exemption (maria) is neither reported nor removable through grants.
        let maria = Identity {
            kind: IdentityKind::IdentityCenter,
            id: "AROAPLAN0001:maria@example.com".to_owned(),
        };
        assert!(cloud
            .list_latch_tags(std::slice::from_ref(&maria))
            .await
            .unwrap()
            .is_empty());
        cloud
            .revoke_grant(&maria, "iam-admin", "g-x", None)
            .await
            .unwrap();

        // Revoke: carol's exemption and its record go; maria's stays. Twice is fine.
        cloud
            .revoke_grant(&carol, "iam-admin", "g-ic", Some(T))
            .await
            .unwrap();
        cloud
            .revoke_grant(&carol, "iam-admin", "g-ic", None)
            .await
            .unwrap();
        let v = content().await;
        assert_eq!(
            v["Statement"][0]["Condition"]["StringNotLike"]["aws:userid"],
            "AROAPLAN0001:maria@example.com"
        );
        assert!(cloud
            .list_latch_tags(std::slice::from_ref(&carol))
            .await
            .unwrap()
            .is_empty());

        // A policy that would grow past the SCP quota (10,240 characters) is not touched.
        let pad = "x".repeat(latch_catalog::Limits::AWS.scp_chars - LATCH_SCP.len() - 5);
        let big = LATCH_SCP.replace("iam:CreateAccessKey", &format!("iam:CreateAccessKey{pad}"));
        org.update_policy()
            .policy_id(&id)
            .content(&big)
            .send()
            .await
            .unwrap();
        let e = cloud
            .apply_grant(&carol, "iam-admin", "g-ic2", T)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("10240-character limit"), "{e}");
        let d = org.describe_policy().policy_id(&id).send().await.unwrap();
        assert_eq!(d.policy().unwrap().content().unwrap(), big);
        // Not an aws:userid.
        let bad = Identity {
            kind: IdentityKind::IdentityCenter,
            id: "carol@example.com".to_owned(),
        };
        let e = cloud
            .apply_grant(&bad, "iam-admin", "g", T)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not an aws:userid"), "{e}");
    });
}

/// Where a crash interrupts a cloud call of the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crash {
    None,
    /// Persisted, the AWS call not made yet.
    BeforeCall,
    /// The AWS call made, its success not persisted yet.
    AfterCall,
}

/// `AwsCloud` whose apply or revoke never returns at the chosen point (the scheduler's pass is
/// then dropped where it stands, as a killed process would leave it).
#[derive(Debug)]
struct Crashing {
    inner: latch_aws::AwsCloud,
    apply: Crash,
    revoke: Crash,
}

async fn hang_if(yes: bool) {
    if yes {
        std::future::pending::<()>().await;
    }
}

#[async_trait::async_trait]
impl latch_grant::CloudAdapter for Crashing {
    async fn probe(&self) -> Result<String, latch_grant::cloud::CloudError> {
        self.inner.probe().await
    }

    async fn apply_grant(
        &self,
        identity: &latch_grant::Identity,
        bundle: &str,
        grant_id: &str,
        expires_at: i64,
    ) -> Result<(), latch_grant::cloud::CloudError> {
        hang_if(self.apply == Crash::BeforeCall).await;
        let r = self
            .inner
            .apply_grant(identity, bundle, grant_id, expires_at)
            .await;
        hang_if(self.apply == Crash::AfterCall).await;
        r
    }

    async fn revoke_grant(
        &self,
        identity: &latch_grant::Identity,
        bundle: &str,
        grant_id: &str,
        cutoff: Option<i64>,
    ) -> Result<(), latch_grant::cloud::CloudError> {
        hang_if(self.revoke == Crash::BeforeCall).await;
        let r = self
            .inner
            .revoke_grant(identity, bundle, grant_id, cutoff)
            .await;
        hang_if(self.revoke == Crash::AfterCall).await;
        r
    }

    async fn list_latch_tags(
        &self,
        identities: &[latch_grant::Identity],
    ) -> Result<Vec<latch_grant::cloud::LatchTag>, latch_grant::cloud::CloudError> {
        self.inner.list_latch_tags(identities).await
    }
}

/// One scheduler pass that never finishes (its cloud call hangs): dropped, as a crash would.
async fn dies_in_the_cloud(core: &std::sync::Arc<latch_server::Core>) {
    let mut backoff = std::collections::BTreeMap::new();
    let pass = latch_server::scheduler::step(core, &mut backoff);
    let cut = tokio::time::timeout(std::time::Duration::from_millis(300), pass).await;
    assert!(cut.is_err(), "the pass finished");
}

/// One full pass of a restarted server; the grant's status after it.
async fn restarted(
    core: &std::sync::Arc<latch_server::Core>,
    store: &std::sync::Arc<dyn latch_grant::Store>,
    grant_id: &str,
) -> latch_grant::GrantStatus {
    let mut backoff = std::collections::BTreeMap::new();
    latch_server::scheduler::step(core, &mut backoff)
        .await
        .unwrap();
    store.grant(grant_id).await.unwrap().unwrap().status
}

/// A crash at each point of applying and of expiring, with the real adapter on moto: the next
/// scheduler pass (a restarted server) converges: the tag names the active grant, and is gone
/// once the grant has expired.
#[test]
fn scheduler_crashes_around_aws_calls_converge() {
    use latch_grant::workflow::NewRequest;
    use latch_grant::GrantStatus;
    use latch_server::{scheduler, Config, ManualClock, Settings};
    use latch_store::SqliteStore;
    use std::sync::Arc;

    on_fresh_org(|aws, fx| async move {
        let role = format!("arn:aws:iam::{}:role/deployer", fx.app_prod);
        let text = format!(
            "[identities.alice]\naws = \"{role}\"\n[bundles.read-logs]\nauto_approve = true\nmax_duration = \"1h\"\n"
        );
        let config = Config::parse(&text, "t.toml", &|_| None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn latch_grant::Store> = Arc::new(
            SqliteStore::open(&dir.path().join("latch.db"))
                .await
                .unwrap(),
        );
        let clock = ManualClock::new(T);
        let ops = GrantOps::new(aws.clone(), AccountAccess::default());
        // A "server": the core over the shared store, clock and moto, crashing where told.
        let server = |apply: Crash, revoke: Crash| {
            latch_server::core(&Settings {
                config: config.clone(),
                store: store.clone(),
                cloud: Arc::new(Crashing {
                    inner: latch_aws::AwsCloud::new(aws.clone(), AccountAccess::default()),
                    apply,
                    revoke,
                }),
                clock: Arc::new(clock.clone()),
                metrics_listener: None,
                checkpoint_publishers: Vec::new(),
                directory: None,
            })
        };
        let tag = || async {
            ops.list_grant_tags(std::slice::from_ref(&role))
                .await
                .unwrap()
                .into_iter()
                .find(|t| t.bundle == "read-logs")
                .map(|t| t.grant_id)
        };
        for crash in [Crash::BeforeCall, Crash::AfterCall] {
            // Applying: the pass dies inside the cloud call.
            let core = server(crash, Crash::None);
            let (_, grant) = core
                .request(NewRequest {
                    requester: "alice".into(),
                    bundle: "read-logs".into(),
                    duration_secs: 600,
                    reason: "crash test".into(),
                    break_glass: false,
                    source: "api".into(),
                    accounts: Vec::new(),
                    permission_set: None,
                    starts_at: None,
                })
                .await
                .unwrap();
            let gid = grant[0].id.clone();
            dies_in_the_cloud(&core).await;
            let g = store.grant(&gid).await.unwrap().unwrap();
            assert_eq!(g.status, GrantStatus::Approved, "{crash:?}");
            assert_eq!(tag().await.is_some(), crash == Crash::AfterCall);
            // Restarted: converges.
            let core = server(Crash::None, Crash::None);
            let after = restarted(&core, &store, &gid).await;
            assert_eq!(after, GrantStatus::Active, "{crash:?}");
            assert_eq!(tag().await.as_deref(), Some(gid.as_str()), "{crash:?}");

            // Expiring: due, the pass dies inside the removal.
            clock.set(g.expires_at);
            let core = server(Crash::None, crash);
            dies_in_the_cloud(&core).await;
            let now = store.grant(&gid).await.unwrap().unwrap().status;
            assert_eq!(now, GrantStatus::Expiring, "{crash:?}");
            assert_eq!(tag().await.is_none(), crash == Crash::AfterCall);
            let core = server(Crash::None, Crash::None);
            let after = restarted(&core, &store, &gid).await;
            assert_eq!(after, GrantStatus::Expired, "{crash:?}");
            assert_eq!(tag().await, None, "{crash:?}");
            // Nothing left to reconcile.
            assert!(scheduler::reconcile(&core).await.unwrap().is_empty());
        }
        assert!(store.audit_verify().await.unwrap().is_intact());
    });
}
