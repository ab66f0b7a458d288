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
use latch_aws::grants::{cutoff_of, tag_value, GrantOps, SESSION_CUTOFF_POLICY};
use latch_aws::testing::{self, build_org, iam_in};
use latch_aws::AwsError;

const T: i64 = 1_800_000_000_000;

#[test]
fn tags_and_session_cutoffs_on_roles_and_users() {
    let _guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let aws = moto.aws();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let fx = build_org(&aws).await.unwrap();
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
        assert_eq!(
            got,
            vec![
                (admin.as_str(), "read-logs", "g-four", Some(T)),
                (role.as_str(), "iam-admin", "g-two", Some(T + 60_000)),
                (user.as_str(), "read-logs", "g-three", Some(T)),
            ]
        );

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
