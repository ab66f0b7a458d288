//! The scale generator: deterministic, and what it writes loads back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fs;

use latch_model::activity::parse_activity_str;
use latch_model::generate::{generate, GenerateError, Params};
use latch_model::load;

fn files(params: &Params) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    generate(params, |f| -> Result<(), Infallible> {
        assert!(
            out.insert(f.path, f.bytes).is_none(),
            "a path written twice"
        );
        Ok(())
    })
    .unwrap();
    out
}

const PARAMS: Params = Params {
    accounts: 9,
    roles_per_account: 40,
    days: 90,
    seed: 42,
    people: 0,
    groups: 0,
    permission_sets: 3,
};

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = files(&PARAMS);
    let b = files(&PARAMS);
    assert_eq!(a, b);
    // organization.json, per account gaad.json, credential-report.csv, workloads.json and
    // resource-policies.json, trails.json and activity.json.
    assert_eq!(a.len(), 1 + 4 * 9 + 2);
    let c = files(&Params { seed: 43, ..PARAMS });
    assert_ne!(a.get("activity.json"), c.get("activity.json"));
}

#[test]
fn generated_snapshot_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    for (path, bytes) in files(&PARAMS) {
        let p = dir.path().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }
    let s = load::snapshot(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    // The organization trail the generated CloudTrail stands for.
    let trails = s.trails.as_ref().expect("trails.json");
    assert!(trails.trails[0].organization_trail);
    let c = s.counts();
    assert_eq!(c.accounts, 9);
    assert_eq!(c.roles, 9 * 40);
    assert_eq!(c.users, 9 * 2);
    assert_eq!(c.organizational_units, 4);
    assert_eq!(c.resource_policies, 9);
    assert_eq!(s.not_analysed.len(), 1, "{:#?}", s.not_analysed);
    // A complete inventory: one resource for each role a service runs as.
    for account in s.accounts.values() {
        let w = account.workloads.as_ref().unwrap();
        assert!(w.inventoried.len() == latch_model::workloads::WorkloadKind::ALL.len());
        for item in &w.items {
            assert!(account.roles.values().any(|r| r.arn == item.role_arn));
        }
    }
    // Every user is in its account's credential report, with key 1 last used when its
    // activity says it last acted.
    for account in s.accounts.values() {
        let report = account.credential_report.as_ref().unwrap();
        assert!(report.rows[0].is_root());
        for user in account.users.values() {
            let row = report.row(&user.arn).unwrap();
            assert_eq!(row.created, user.create_date);
            assert!(row.access_keys[0].active && row.access_keys[0].last_used.is_some());
        }
    }
    let org = s.organization.as_ref().unwrap();
    assert_eq!(org.accounts().len(), 9);
    assert_eq!(
        org.parent_of(&org.management_account_id).unwrap().id,
        "r-gen0"
    );

    let activity =
        parse_activity_str(&fs::read_to_string(dir.path().join("activity.json")).unwrap()).unwrap();
    let mut admins = 0;
    let mut zombies = 0;
    for p in s.principals() {
        let eff = p.effective_policies();
        assert!(
            eff.unresolved.is_empty(),
            "{}: {:?}",
            p.arn(),
            eff.unresolved
        );
        eff.to_policy_set()
            .unwrap_or_else(|e| panic!("{}: {e}", p.arn()));
        if eff
            .identity
            .iter()
            .any(|sp| sp.document.json().contains("\"Action\":\"*\""))
        {
            admins += 1;
        }
        if let Some(a) = activity.get(p.arn()) {
            if a.last_active_days_ago > 90 {
                zombies += 1;
            }
        }
    }
    // Each account's OrganizationAccountAccessRole and SSO admin role, plus a few planted.
    assert!(admins >= 2 * 9, "{admins}");
    assert!(
        zombies > 0,
        "the mix includes identities idle beyond the window"
    );
    // Every principal but the never-used org access roles has a usage plan.
    assert_eq!(activity.len(), s.principals().count() - 9);
}

#[test]
fn rejects_impossible_parameters() {
    let r = generate(
        &Params {
            roles_per_account: 3,
            ..PARAMS
        },
        |_| -> Result<(), Infallible> { Ok(()) },
    );
    assert!(matches!(r, Err(GenerateError::Params(m)) if m.contains("at least 4")));
}

/// With people, the organization gets an Identity Center whose roles are in the GAADs: every
/// assignment of a provisioned permission set lands on a role, and the file reads back.
#[test]
fn people_come_with_an_identity_center_that_matches_the_roles() {
    let dir = tempfile::tempdir().unwrap();
    let params = Params {
        people: 50,
        groups: 6,
        permission_sets: 8,
        ..PARAMS
    };
    generate(&params, |f| -> std::io::Result<()> {
        let path = dir.path().join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap())?;
        std::fs::write(path, f.bytes)
    })
    .unwrap();
    let snapshot = latch_model::load::snapshot(dir.path()).unwrap();
    let ic = snapshot.identity_center.as_ref().unwrap();
    assert_eq!(ic.users.len(), 50);
    assert_eq!(ic.groups.len(), 6);
    assert_eq!(ic.permission_sets.len(), 8);
    assert_eq!(
        ic.users
            .values()
            .filter(|u| u.active == Some(false))
            .count(),
        0
    );
    assert!(ic
        .users
        .values()
        .any(|u| u.user_name == "alice@example.com"));
    for a in &ic.assignments {
        assert!(
            matches!(
                ic.role_for(&snapshot, a),
                latch_model::identity_center::RoleOf::Found(_)
            ),
            "{a:?}"
        );
    }
    assert!(ic.assignments.len() >= 9 * 4);
}
