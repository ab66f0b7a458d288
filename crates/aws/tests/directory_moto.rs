//! IAM Identity Center as the control plane's directory, against the moto AWS emulator: people,
//! their primary email, groups, and the role (with its id) of every permission set they are
//! assigned on each account, directly or through a group; the pins of `[identity_center]`;
//! and, through a proxy in front of moto that answers some calls with AWS's errors, a read
//! that fails as a whole (group memberships) and one whose failed accounts are notes (roles).
//!
//! moto 5.2.5 cannot do some of what AWS does, so the test does it or leaves it out:
//! - `CreateAccountAssignment` provisions nothing: the `AWSReservedSSO_<set>_<hash>` roles are
//!   created by hand where AWS would have provisioned them (one is left out on purpose);
//! - users have no `UserStatus`: a deactivated user is covered by the unit tests of
//!   `latch_aws::directory` only (here everyone reads as active);
//! - `CreatePermissionSet` needs `SessionDuration`, identitystore `CreateUser` needs `Name`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use aws_sdk_identitystore::types::{Email, MemberId, Name};
use aws_sdk_ssoadmin::types::{PrincipalType, TargetType};
use latch_aws::apply::AccountAccess;
use latch_aws::testing::{self, build_org, iam_in, FaultProxy, Faults, Fixture, Responder};
use latch_aws::{Aws, IdentityCenterDirectory};
use latch_grant::directory::{AccountRole, DirectorySource};

const SAML_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::ACCOUNT:saml-provider/AWSSSO_0123456789abcdef_DO_NOT_DELETE"},"Action":["sts:AssumeRoleWithSAML","sts:TagSession"],"Condition":{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}}]}"#;
const SSO_PATH: &str = "/aws-reserved/sso.amazonaws.com/";

/// What [`setup`] made.
struct World {
    fx: Fixture,
    instance_arn: String,
    store_id: String,
    /// Role id of AdministratorAccess in app-prod.
    admin_a: String,
    /// Role id of ReadOnly in app-prod.
    read_a: String,
    /// Role id of ReadOnly in the management account.
    read_mgmt: String,
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The fixture organization (accounts A = app-prod, B = app-dev) and in its Identity Center:
///
/// ```text
/// alice   direct  AdministratorAccess on A   role provisioned
/// Platform (bob)  ReadOnly on A              role provisioned (region path)
/// Platform (bob)  ReadOnly on B              NOT provisioned (only a look-alike off the path)
/// carol   direct  ReadOnly on management     role provisioned (read without AssumeRole)
/// ```
async fn setup(aws: &Aws) -> World {
    let fx = build_org(aws).await.unwrap();
    let sso = aws_sdk_ssoadmin::Client::new(aws.sdk_config());
    let store = aws_sdk_identitystore::Client::new(aws.sdk_config());
    let instances = sso.list_instances().send().await.unwrap();
    let instance = &instances.instances()[0];
    let instance_arn = instance.instance_arn().unwrap().to_owned();
    let store_id = instance.identity_store_id().unwrap().to_owned();

    let email = |v: &str, primary: bool| {
        Email::builder()
            .value(v)
            .r#type("work")
            .primary(primary)
            .build()
    };
    let mut users = Vec::new();
    for (name, display, emails) in [
        (
            "alice",
            "Alice Liddell",
            vec![
                email("alice@old.example.com", false),
                email("alice@example.com", true),
            ],
        ),
        ("bob", "Bob Builder", vec![email("bob@example.com", true)]),
        (
            "carol",
            "Carol Danvers",
            vec![email("carol@example.com", false)],
        ),
    ] {
        let (given, family) = display.split_once(' ').unwrap();
        let id = store
            .create_user()
            .identity_store_id(&store_id)
            .user_name(name)
            .display_name(display)
            .name(
                Name::builder()
                    .given_name(given)
                    .family_name(family)
                    .build(),
            )
            .set_emails(Some(emails))
            .send()
            .await
            .unwrap()
            .user_id()
            .to_owned();
        users.push(id);
    }
    let [alice, bob, carol] = &users[..] else {
        panic!()
    };
    let platform = store
        .create_group()
        .identity_store_id(&store_id)
        .display_name("Platform")
        .send()
        .await
        .unwrap()
        .group_id()
        .to_owned();
    store
        .create_group_membership()
        .identity_store_id(&store_id)
        .group_id(&platform)
        .member_id(MemberId::UserId(bob.clone()))
        .send()
        .await
        .unwrap();

    let mut sets = Vec::new();
    for name in ["AdministratorAccess", "ReadOnly"] {
        let arn = sso
            .create_permission_set()
            .instance_arn(&instance_arn)
            .name(name)
            // moto answers a number when no duration was given, which the SDK rejects.
            .session_duration("PT8H")
            .send()
            .await
            .unwrap()
            .permission_set()
            .unwrap()
            .permission_set_arn()
            .unwrap()
            .to_owned();
        sets.push(arn);
    }
    let [admin_set, read_set] = &sets[..] else {
        panic!()
    };
    for (set, account, kind, id) in [
        (admin_set, &fx.app_prod, PrincipalType::User, alice),
        (read_set, &fx.app_prod, PrincipalType::Group, &platform),
        (read_set, &fx.app_dev, PrincipalType::Group, &platform),
        (read_set, &fx.management, PrincipalType::User, carol),
    ] {
        sso.create_account_assignment()
            .instance_arn(&instance_arn)
            .permission_set_arn(set)
            .target_id(account)
            .target_type(TargetType::AwsAccount)
            .principal_type(kind)
            .principal_id(id)
            .send()
            .await
            .unwrap();
    }

    // The roles AWS would provision (moto does not), and a look-alike off the path in B.
    let role = |account: String, name: &'static str, path: &'static str| async move {
        let iam = iam_in(aws, &account).await.unwrap();
        iam.create_role()
            .role_name(name)
            .path(path)
            .assume_role_policy_document(SAML_TRUST.replace("ACCOUNT", &account))
            .send()
            .await
            .unwrap()
            .role()
            .unwrap()
            .role_id()
            .to_owned()
    };
    let admin_a = role(
        fx.app_prod.clone(),
        "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
        SSO_PATH,
    )
    .await;
    let read_a = role(
        fx.app_prod.clone(),
        "AWSReservedSSO_ReadOnly_fedcba9876543210",
        "/aws-reserved/sso.amazonaws.com/us-east-1/",
    )
    .await;
    role(
        fx.app_dev.clone(),
        "AWSReservedSSO_ReadOnly_aaaaaaaaaaaaaaaa",
        "/",
    )
    .await;
    let read_mgmt = role(
        fx.management.clone(),
        "AWSReservedSSO_ReadOnly_bbbbbbbbbbbbbbbb",
        SSO_PATH,
    )
    .await;

    World {
        fx,
        instance_arn,
        store_id,
        admin_a,
        read_a,
        read_mgmt,
    }
}

fn role(account: &str, set: &str, id: Option<&str>) -> AccountRole {
    AccountRole {
        account: account.to_owned(),
        permission_set: set.to_owned(),
        role_id: id.map(str::to_owned),
    }
}

#[test]
fn reads_people_groups_and_role_ids() {
    let _guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let aws = moto.aws();
    // One thread, as a server may run: the directory still reads (Identity Center is read on
    // a blocking thread of this runtime).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let w = setup(&aws).await;
        let directory = IdentityCenterDirectory::new(aws.clone(), AccountAccess::default());
        let d = directory.read().await.unwrap();
        // moto's missing boundary API and the rest of the collector's gaps are about what
        // permission sets allow: nothing the directory holds.
        assert!(d.notes.is_empty(), "{:#?}", d.notes);
        let names: Vec<&str> = d.people.iter().map(|p| p.user_name.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol"]);
        let [alice, bob, carol] = &d.people[..] else {
            panic!()
        };

        assert_eq!(alice.display_name.as_deref(), Some("Alice Liddell"));
        assert_eq!(alice.email.as_deref(), Some("alice@example.com"), "primary");
        assert!(alice.active, "moto has no user status: active");
        assert!(alice.groups.is_empty());
        assert_eq!(
            alice.roles,
            [role(
                &w.fx.app_prod,
                "AdministratorAccess",
                Some(&w.admin_a)
            )]
        );
        assert_eq!(
            alice.roles[0].userid("alice"),
            Some(format!("{}:alice", w.admin_a))
        );

        assert_eq!(bob.email.as_deref(), Some("bob@example.com"));
        assert_eq!(bob.groups.iter().collect::<Vec<_>>(), ["Platform"]);
        let mut want = vec![
            role(&w.fx.app_prod, "ReadOnly", Some(&w.read_a)),
            // Not provisioned in B: the look-alike at `/` is not Identity Center's.
            role(&w.fx.app_dev, "ReadOnly", None),
        ];
        want.sort();
        assert_eq!(bob.roles, want);

        assert_eq!(
            carol.email.as_deref(),
            Some("carol@example.com"),
            "the only one"
        );
        assert!(carol.groups.is_empty());
        assert_eq!(
            carol.roles,
            [role(&w.fx.management, "ReadOnly", Some(&w.read_mgmt))]
        );

        // The pins of `[identity_center]`: the right ones read the same, a wrong one fails.
        let pinned = IdentityCenterDirectory::new(aws.clone(), AccountAccess::default())
            .with_instance(Some(w.instance_arn.clone()), Some(w.store_id.clone()));
        assert_eq!(pinned.read().await.unwrap(), d);
        let wrong = IdentityCenterDirectory::new(aws.clone(), AccountAccess::default())
            .with_instance(None, Some("d-0000000000".to_owned()));
        let e = wrong.read().await.unwrap_err().to_string();
        assert!(
            e.contains("`d-0000000000` is not the identity store") && e.contains(&w.store_id),
            "{e}"
        );
        let wrong = IdentityCenterDirectory::new(aws.clone(), AccountAccess::default())
            .with_instance(
                Some("arn:aws:sso:::instance/ssoins-0000000000000000".to_owned()),
                None,
            );
        let e = wrong.read().await.unwrap_err().to_string();
        assert!(e.contains(&w.instance_arn), "{e}");
    });
}

/// An HTTP answer of AWS's JSON protocols' error shape.
fn json_error(code: &str, message: &str) -> Vec<u8> {
    let body = format!(r#"{{"__type":"{code}","Message":"{message}"}}"#);
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: {code}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// An HTTP answer of IAM's query-protocol error shape.
fn query_error(code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>directory-test</RequestId></ErrorResponse>"#
    );
    format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A connection to moto through a proxy that answers `op` with `answer`.
fn failing(moto: &testing::Moto, op: &'static str, answer: Vec<u8>) -> (FaultProxy, Aws) {
    let responder: Responder = Arc::new(move |o: &str, _: &[u8]| (o == op).then(|| answer.clone()));
    let proxy = FaultProxy::start_with(
        &moto.endpoint,
        Faults {
            throttle_every: 0,
            drop_every: 0,
        },
        Some(responder),
    )
    .unwrap();
    let aws = Aws::from_sdk_config(
        moto.sdk_config()
            .into_builder()
            .endpoint_url(&proxy.endpoint)
            .build(),
        true,
        4,
    );
    (proxy, aws)
}

#[test]
fn people_gaps_fail_the_read_and_account_gaps_are_notes() {
    let _guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    rt().block_on(async {
        let w = setup(&moto.aws()).await;

        // A group's members unknown: bob might be gone from Platform, or not. No directory.
        let (proxy, aws) = failing(
            moto,
            "ListGroupMemberships",
            json_error("AccessDeniedException", "not allowed to list members"),
        );
        let e = IdentityCenterDirectory::new(aws, AccountAccess::default())
            .read()
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("could not be read completely")
                && e.contains("group `Platform`")
                && e.contains("identitystore:ListGroupMemberships failed (AccessDeniedException)"),
            "{e}"
        );
        assert_eq!(proxy.stats().answered["ListGroupMemberships"], 1);
        drop(proxy);

        // No account's roles can be listed: everyone is still there, without role ids, and
        // each account with an assignment is a note.
        let (proxy, aws) = failing(
            moto,
            "ListRoles",
            query_error("AccessDenied", "not allowed to list roles"),
        );
        let d = IdentityCenterDirectory::new(aws, AccountAccess::default())
            .read()
            .await
            .unwrap();
        let mut accounts = [&w.fx.management, &w.fx.app_prod, &w.fx.app_dev];
        accounts.sort();
        let want: Vec<String> = accounts
            .iter()
            .map(|a| {
                format!(
                    "account {a}: its Identity Center roles could not be listed \
                     (iam:ListRoles in {a} failed (AccessDenied): not allowed to list roles); \
                     the role ids there are unknown"
                )
            })
            .collect();
        assert_eq!(d.notes, want);
        assert_eq!(d.people.len(), 3);
        assert!(d
            .people
            .iter()
            .flat_map(|p| &p.roles)
            .all(|r| r.role_id.is_none()));
        assert_eq!(d.people[1].roles.len(), 2, "{:?}", d.people[1]);
        assert_eq!(proxy.stats().answered["ListRoles"], 3);
    });
}
