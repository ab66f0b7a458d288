//! `latch collect` records IAM Identity Center (identity-center.json), against the moto AWS
//! emulator: users, a group, two permission sets and assignments on two accounts come back in
//! the `latch.identity-center/v1` file, which Latch's reader accepts and the snapshot links to
//! the provisioned role. The permission set boundary, which moto does not implement, is recorded
//! in the file's `not_analysed` instead of failing the collect.
//!
//! What moto cannot answer at all (a user's status, a permission set's boundary) is covered by
//! `the_writer_keeps_boundaries_and_user_status_as_aws_sends_them`, which builds the SDK's
//! response types as AWS documents them and checks what the writer makes of them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_identitystore::types::{Email, MemberId, Name};
use aws_sdk_ssoadmin::types::{
    AccountAssignment, AttachedManagedPolicy, CustomerManagedPolicyReference, PermissionSet,
    PermissionsBoundary, PrincipalType, TargetType,
};
use latch_aws::identity_center::{document, Collected, PermissionSetData};
use latch_aws::testing::{self, build_org};
use latch_aws::{collect, CollectConfig, Silent, WorkloadRegions};
use latch_model::identity_center::{
    parse_identity_center, parse_identity_center_str, Boundary, PolicyReference, PrincipalRef,
    RoleOf,
};

const OPS_INLINE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::ops-runbooks/*"}]}"#;
const SAML_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::ACCOUNT:saml-provider/AWSSSO_0123456789abcdef_DO_NOT_DELETE"},"Action":["sts:AssumeRoleWithSAML","sts:TagSession"],"Condition":{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}}]}"#;
/// Users beyond alice and bob, so that `ListUsers` takes two pages of 100.
const FILLER_USERS: usize = 100;

/// The `Name` the identity store requires of a user.
fn full_name(display: &str) -> Name {
    let (given, family) = display.split_once(' ').unwrap_or((display, "-"));
    Name::builder()
        .given_name(given)
        .family_name(family)
        .build()
}

#[test]
fn collect_writes_identity_center() {
    let _guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(scenario(moto.aws()));
}

async fn scenario(aws: latch_aws::Aws) {
    let fx = build_org(&aws).await.unwrap();
    let sso = aws_sdk_ssoadmin::Client::new(aws.sdk_config());
    let store = aws_sdk_identitystore::Client::new(aws.sdk_config());
    let instances = sso.list_instances().send().await.unwrap();
    let instance = &instances.instances()[0];
    let instance_arn = instance.instance_arn().unwrap().to_owned();
    let store_id = instance.identity_store_id().unwrap().to_owned();

    // People: alice (two addresses, the primary one second) and bob, both in `ops`.
    let user = |name: &'static str, display: &'static str, emails: Vec<Email>| {
        let store = store.clone();
        let store_id = store_id.clone();
        async move {
            store
                .create_user()
                .identity_store_id(store_id)
                .user_name(name)
                .display_name(display)
                .name(full_name(display))
                .set_emails(Some(emails))
                .send()
                .await
                .unwrap()
                .user_id()
                .to_owned()
        }
    };
    let email = |v: &str, primary: bool| {
        Email::builder()
            .value(v)
            .r#type("work")
            .primary(primary)
            .build()
    };
    let alice = user(
        "alice",
        "Alice Liddell",
        vec![
            email("alice@old.example.com", false),
            email("alice@example.com", true),
        ],
    )
    .await;
    let bob = user("bob", "Bob", vec![email("bob@example.com", true)]).await;
    for i in 0..FILLER_USERS {
        store
            .create_user()
            .identity_store_id(&store_id)
            .user_name(format!("user{i:03}"))
            .display_name(format!("User {i}"))
            .name(full_name(&format!("User {i}")))
            .send()
            .await
            .unwrap();
    }
    let ops = store
        .create_group()
        .identity_store_id(&store_id)
        .display_name("ops")
        .send()
        .await
        .unwrap()
        .group_id()
        .to_owned();
    for member in [&alice, &bob] {
        store
            .create_group_membership()
            .identity_store_id(&store_id)
            .group_id(&ops)
            .member_id(MemberId::UserId(member.clone()))
            .send()
            .await
            .unwrap();
    }

    // Permission sets: `Ops` with an inline policy and a customer managed policy reference,
    // `ReadOnly` with an AWS managed policy (moto checks the ARN against its bundled copies of
    // the AWS managed policies; no MOTO_IAM_LOAD_MANAGED_POLICIES needed).
    let create_set = |name: &'static str| {
        let sso = sso.clone();
        let instance_arn = instance_arn.clone();
        async move {
            sso.create_permission_set()
                .instance_arn(instance_arn)
                .name(name)
                .description(format!("{name} (test)"))
                // moto answers a number when no duration was given, which the SDK rejects.
                .session_duration("PT8H")
                .send()
                .await
                .unwrap()
                .permission_set()
                .unwrap()
                .permission_set_arn()
                .unwrap()
                .to_owned()
        }
    };
    let ops_set = create_set("Ops").await;
    let read_set = create_set("ReadOnly").await;
    sso.put_inline_policy_to_permission_set()
        .instance_arn(&instance_arn)
        .permission_set_arn(&ops_set)
        .inline_policy(OPS_INLINE)
        .send()
        .await
        .unwrap();
    sso.attach_customer_managed_policy_reference_to_permission_set()
        .instance_arn(&instance_arn)
        .permission_set_arn(&ops_set)
        .customer_managed_policy_reference(
            CustomerManagedPolicyReference::builder()
                .name("ops-extra")
                .path("/team/")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    sso.attach_managed_policy_to_permission_set()
        .instance_arn(&instance_arn)
        .permission_set_arn(&read_set)
        .managed_policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();

    // Assignments: Ops on app-prod to alice, ReadOnly on app-dev to the group.
    let assign = |set: String, account: String, kind: PrincipalType, id: String| {
        let sso = sso.clone();
        let instance_arn = instance_arn.clone();
        async move {
            sso.create_account_assignment()
                .instance_arn(instance_arn)
                .permission_set_arn(set)
                .target_id(account)
                .target_type(TargetType::AwsAccount)
                .principal_type(kind)
                .principal_id(id)
                .send()
                .await
                .unwrap();
        }
    };
    assign(
        ops_set.clone(),
        fx.app_prod.clone(),
        PrincipalType::User,
        alice.clone(),
    )
    .await;
    assign(
        read_set.clone(),
        fx.app_dev.clone(),
        PrincipalType::Group,
        ops.clone(),
    )
    .await;

    // moto provisions nothing in the member account: create the role AWS would for Ops.
    let caller = aws.caller_identity().await.unwrap();
    let member = aws
        .config_for_account(&caller, &fx.app_prod, latch_aws::DEFAULT_ROLE_NAME, "test")
        .await
        .unwrap();
    latch_aws::Aws::iam(&member)
        .create_role()
        .role_name("AWSReservedSSO_Ops_0123456789abcdef")
        .path("/aws-reserved/sso.amazonaws.com/")
        .assume_role_policy_document(SAML_TRUST.replace("ACCOUNT", &fx.app_prod))
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap");
    let mut config = CollectConfig::new(&out);
    config.workloads = WorkloadRegions::Skip;
    let report = collect(&aws, &config, &Silent).await.unwrap();
    assert_eq!(report.identity_center_error, None, "{report:?}");
    let summary = report.identity_center.clone().unwrap();
    assert!(
        summary.contains("2 permission sets, 2 assignments, 102 users, 1 groups"),
        "{summary}"
    );

    let text = std::fs::read_to_string(out.join(latch_model::load::IDENTITY_CENTER_FILE)).unwrap();
    let ic = parse_identity_center_str(&text).unwrap();
    assert_eq!(ic.instance.arn, instance_arn);
    assert_eq!(ic.instance.identity_store_id, store_id);
    assert_eq!(ic.instance.region, "us-east-1");

    // People, emails primary first, no status (moto has none), and the group's members.
    assert_eq!(ic.users.len(), 2 + FILLER_USERS, "both pages of ListUsers");
    let a = &ic.users[&alice];
    assert_eq!(a.user_name, "alice");
    assert_eq!(a.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(a.emails, ["alice@example.com", "alice@old.example.com"]);
    assert_eq!(a.active, None);
    assert_eq!(ic.users[&bob].emails, ["bob@example.com"]);
    let g = &ic.groups[&ops];
    assert_eq!(g.display_name, "ops");
    assert_eq!(g.members.iter().collect::<Vec<_>>(), {
        let mut m = vec![&alice, &bob];
        m.sort();
        m
    });

    // Permission sets and their policies.
    let o = &ic.permission_sets[&ops_set];
    assert_eq!(o.name, "Ops");
    assert_eq!(o.session_duration.as_deref(), Some("PT8H"));
    let inline = o.inline_policy.as_ref().unwrap().value();
    assert_eq!(inline["Statement"][0]["Action"], "s3:GetObject");
    assert!(o.aws_managed_policies.is_empty());
    assert_eq!(
        o.customer_managed_policies,
        [PolicyReference {
            name: "ops-extra".into(),
            path: "/team/".into()
        }]
    );
    assert_eq!(o.permissions_boundary, None);
    let r = &ic.permission_sets[&read_set];
    assert_eq!(r.name, "ReadOnly");
    assert_eq!(r.inline_policy, None);
    assert_eq!(
        r.aws_managed_policies,
        ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    );
    assert!(r.customer_managed_policies.is_empty());

    // Assignments, on the two accounts only.
    let mut got: Vec<(String, String, PrincipalRef)> = ic
        .assignments
        .iter()
        .map(|a| {
            (
                a.account.clone(),
                a.permission_set.clone(),
                a.principal.clone(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        (
            fx.app_prod.clone(),
            ops_set.clone(),
            PrincipalRef::User(alice.clone()),
        ),
        (
            fx.app_dev.clone(),
            read_set.clone(),
            PrincipalRef::Group(ops.clone()),
        ),
    ];
    want.sort();
    assert_eq!(got, want);

    // moto does not implement the permissions boundary: recorded, per permission set, and the
    // rest of the file is there.
    for (set, name) in [(&ops_set, "Ops"), (&read_set, "ReadOnly")] {
        let id = set.rsplit('/').next().unwrap();
        assert!(
            ic.not_analysed.iter().any(|n| n.starts_with(&format!(
                "permission set `{name}` ({id}): sso:GetPermissionsBoundaryForPermissionSet failed"
            )) && n.ends_with("; its boundary is unknown")),
            "{:#?}",
            ic.not_analysed
        );
    }
    assert_eq!(ic.not_analysed.len(), 2, "{:#?}", ic.not_analysed);

    // The snapshot loads it: the gaps are the snapshot's, and alice reaches the Ops role.
    let snapshot = latch_model::load::snapshot(&out).unwrap();
    assert!(
        snapshot
            .not_analysed
            .iter()
            .any(|n| n.starts_with("identity-center: permission set `Ops`")),
        "{:#?}",
        snapshot.not_analysed
    );
    let loaded = snapshot.identity_center.as_ref().unwrap();
    let ops_assignment = loaded
        .assignments
        .iter()
        .find(|a| a.permission_set == ops_set)
        .unwrap();
    match loaded.role_for(&snapshot, ops_assignment) {
        RoleOf::Found(role) => assert_eq!(role.name, "AWSReservedSSO_Ops_0123456789abcdef"),
        other => panic!("{other:?}"),
    }
    let people: Vec<&str> = loaded
        .people_of(&fx.app_dev, &read_set)
        .iter()
        .map(|r| r.user.user_name.as_str())
        .collect();
    assert_eq!(people, ["alice", "bob"]);
}

/// The parts moto lacks — a user's status, a permission set's boundary — written from the
/// SDK's types shaped as AWS documents its answers (`ListUsers`' `UserStatus`,
/// `GetPermissionsBoundaryForPermissionSet`'s `PermissionsBoundary`), with the cases the format
/// cannot hold said in `not_analysed`.
#[test]
fn the_writer_keeps_boundaries_and_user_status_as_aws_sends_them() {
    use aws_sdk_identitystore::types::{Group, GroupMembership, User, UserStatus};

    let instance = "arn:aws:sso:::instance/ssoins-1111111111111111";
    let ps = |id: &str| format!("arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-{id}");
    let set = |id: &str, name: &str, boundary: Option<PermissionsBoundary>, inline: &str| {
        PermissionSetData {
            set: PermissionSet::builder()
                .name(name)
                .permission_set_arn(ps(id))
                .session_duration("PT1H")
                .build(),
            inline_policy: Some(inline.to_owned()),
            managed_policies: vec![AttachedManagedPolicy::builder()
                .name("ViewOnlyAccess")
                .arn("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess")
                .build()],
            customer_managed_policies: Vec::new(),
            permissions_boundary: boundary,
        }
    };
    let customer = PermissionsBoundary::builder()
        .customer_managed_policy_reference(
            CustomerManagedPolicyReference::builder()
                .name("cap")
                .path("/guard/")
                .build()
                .unwrap(),
        )
        .build();
    let managed = PermissionsBoundary::builder()
        .managed_policy_arn("arn:aws:iam::aws:policy/PowerUserAccess")
        .build();
    let user = |id: &str, name: &str, status: Option<UserStatus>| {
        User::builder()
            .identity_store_id("d-1111111111")
            .user_id(id)
            .user_arn(format!(
                "arn:aws:identitystore::111111111111:identitystore/d-1111111111/user/{id}"
            ))
            .revision("1")
            .user_name(name)
            .emails(
                Email::builder()
                    .value(format!("{name}@home.example.com"))
                    .primary(false)
                    .build(),
            )
            .emails(
                Email::builder()
                    .value(format!("{name}@example.com"))
                    .primary(true)
                    .build(),
            )
            .set_user_status(status)
            .build()
            .unwrap()
    };
    let assignment = |set: &str, kind: PrincipalType, id: &str| {
        AccountAssignment::builder()
            .account_id("222222222222")
            .permission_set_arn(ps(set))
            .principal_type(kind)
            .principal_id(id)
            .build()
    };
    let c = Collected {
        instance_arn: instance.to_owned(),
        identity_store_id: "d-1111111111".to_owned(),
        region: "eu-west-1".to_owned(),
        permission_sets: vec![
            set("1", "Capped", Some(customer), ""),
            // URL-encoded, as IAM's APIs send documents.
            set(
                "2",
                "Power",
                Some(managed),
                "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22ec2%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D",
            ),
            set("3", "Broken", None, r#"{"Statement": "nope"}"#),
        ],
        assignments: vec![
            assignment("1", PrincipalType::User, "u-carol"),
            assignment("2", PrincipalType::Group, "g-eng"),
            assignment("2", PrincipalType::User, "u-ghost"),
            assignment("9", PrincipalType::User, "u-dave"),
        ],
        users: vec![
            user("u-carol", "carol", Some(UserStatus::Disabled)),
            user("u-dave", "dave", Some(UserStatus::Enabled)),
            user("u-erin", "erin", None),
        ],
        users_listed: true,
        groups: vec![Group::builder()
            .identity_store_id("d-1111111111")
            .group_id("g-eng")
            .group_arn("arn:aws:identitystore::111111111111:identitystore/d-1111111111/group/g-eng")
            .revision("1")
            .display_name("eng")
            .build()
            .unwrap()],
        groups_listed: true,
        memberships: ["u-dave", "u-erin"]
            .into_iter()
            .map(|u| {
                GroupMembership::builder()
                    .identity_store_id("d-1111111111")
                    .membership_id(format!("m-{u}"))
                    .membership_arn(format!("arn:aws:identitystore:::membership/m-{u}"))
                    .group_id("g-eng")
                    .member_id(MemberId::UserId(u.to_owned()))
                    .build()
                    .unwrap()
            })
            .collect(),
        not_analysed: vec!["permission set ps-4: sso:DescribePermissionSet failed (AccessDeniedException): no; it and its assignments are not listed".to_owned()],
    };
    let value = document(&c);

    // As the format spells them.
    let sets = value["permission_sets"].as_array().unwrap();
    assert_eq!(
        sets[0]["permissions_boundary"],
        serde_json::json!({"customer_managed": {"name": "cap", "path": "/guard/"}})
    );
    assert_eq!(
        sets[1]["permissions_boundary"],
        serde_json::json!({"managed_policy_arn": "arn:aws:iam::aws:policy/PowerUserAccess"})
    );
    let users = value["users"].as_array().unwrap();
    assert_eq!(users[0]["user_name"], "carol");
    assert_eq!(users[0]["active"], false);
    assert_eq!(users[1]["active"], true);
    assert!(users[2].get("active").is_none(), "{}", users[2]);
    assert_eq!(
        users[0]["emails"],
        serde_json::json!(["carol@example.com", "carol@home.example.com"])
    );

    // Latch's reader takes it, with every gap said.
    let ic = parse_identity_center(&value).unwrap();
    assert_eq!(
        ic.permission_sets[&ps("1")].permissions_boundary,
        Some(Boundary::CustomerManaged(PolicyReference {
            name: "cap".into(),
            path: "/guard/".into()
        }))
    );
    assert_eq!(
        ic.permission_sets[&ps("2")].permissions_boundary,
        Some(Boundary::Managed(
            "arn:aws:iam::aws:policy/PowerUserAccess".into()
        ))
    );
    let power = ic.permission_sets[&ps("2")].inline_policy.as_ref().unwrap();
    assert_eq!(power.value()["Statement"][0]["Action"], "ec2:*");
    assert_eq!(ic.permission_sets[&ps("1")].inline_policy, None);
    assert_eq!(ic.permission_sets[&ps("3")].inline_policy, None);
    assert_eq!(ic.users["u-carol"].active, Some(false));
    assert_eq!(ic.users["u-dave"].active, Some(true));
    assert_eq!(ic.users["u-erin"].active, None);
    assert_eq!(ic.assignments.len(), 2);
    assert_eq!(ic.people_of("222222222222", &ps("2")).len(), 2);
    let notes = &ic.not_analysed;
    assert_eq!(notes.len(), 4, "{notes:#?}");
    assert!(notes[0].starts_with("permission set ps-4: sso:DescribePermissionSet failed"));
    assert!(
        notes[1].starts_with("permission set `Broken` (ps-3): its inline policy does not parse"),
        "{notes:#?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("user u-ghost")),
        "{notes:#?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("account 222222222222: an assignment of permission set ps-9")),
        "{notes:#?}"
    );
}
