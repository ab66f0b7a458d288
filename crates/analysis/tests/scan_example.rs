//! `scan` on the built-in example organization (examples/org, see PLANTED.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use latch_analysis::scan::{scan, FindingKind, ScanOptions, Severity};

fn example() -> latch_model::Snapshot {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/org");
    latch_model::load::snapshot(&dir).unwrap()
}

/// The example snapshot was taken at 2026-11-20T00:00:00Z (PLANTED.md).
fn opts() -> ScanOptions {
    ScanOptions {
        now_millis: latch_trail::Timestamp::parse("2026-11-20")
            .unwrap()
            .seconds()
            * 1000,
        window_days: 90,
        zombie_days: 90,
        reading: None,
    }
}

#[test]
fn zombies_external_trust_and_admins_without_usage() {
    let snap = example();
    let r = scan(&snap, None, opts());
    assert!(!r.usage_analysed);
    assert!(r.not_analysed.iter().any(|n| n.starts_with("usage:")));
    let find = |kind: FindingKind, arn_end: &str| {
        r.findings.iter().find(|f| {
            f.kind == kind && f.principal.as_deref().is_some_and(|p| p.ends_with(arn_end))
        })
    };
    // (h) the zombie admin role, idle 262 days.
    let z = find(FindingKind::ZombieIdentity, ":role/legacy-migration-admin").expect("zombie (h)");
    assert_eq!(z.severity, Severity::Critical);
    assert!(z.detail.starts_with("idle for 262 days"), "{}", z.detail);
    // (i) external trust to an account outside the organization.
    let t =
        find(FindingKind::ExternalTrust, ":role/ThirdPartyCSPMRole").expect("external trust (i)");
    assert_eq!(t.items, vec!["arn:aws:iam::999988887777:root".to_owned()]);
    // Without CloudTrail, no standing-privilege findings are invented...
    assert!(r
        .findings
        .iter()
        .all(|f| f.kind != FindingKind::StandingPrivilege));
    // ...but the credential report says the break-glass user never signed in and has no key,
    // while the other users' keys are in use.
    let b = find(FindingKind::ZombieIdentity, ":user/breakglass").expect("breakglass");
    assert!(b.detail.starts_with("never used"), "{}", b.detail);
    assert!(find(FindingKind::ZombieIdentity, ":user/ops-admin").is_none());
    assert!(find(FindingKind::ZombieIdentity, ":user/dev-carol").is_none());
    // Admin-equivalence through the engine, and a negative control.
    let p = |end: &str| r.principals.iter().find(|p| p.arn.ends_with(end)).unwrap();
    assert!(p(":user/ops-admin").admin_equivalent);
    assert!(p(":role/lambda-admin-exec").admin_equivalent);
    let m = p(":role/metrics-exporter");
    assert!(!m.admin_equivalent);
    assert!(
        m.sensitive_actions.iter().all(|a| !a.starts_with("iam:")),
        "{:?}",
        m.sensitive_actions
    );
    // Blast radius: the management break-glass user reaches every account through
    // OrganizationAccountAccessRole; sandbox-bob reaches Prod through role chaining (e).
    assert_eq!(p(":user/breakglass").blast_radius.len(), 7);
    assert_eq!(
        p(":user/sandbox-bob").blast_radius,
        vec!["300000000004".to_owned(), "500000000007".to_owned()]
    );
    assert_eq!(m.blast_radius, vec![m.account.clone()]);
    // Service-linked roles are never zombies.
    assert!(r.findings.iter().all(|f| !f
        .principal
        .as_deref()
        .unwrap_or("")
        .contains("/aws-service-role/")));
    // Sorted: most severe first, deterministic.
    assert!(r
        .findings
        .windows(2)
        .all(|w| w[0].severity <= w[1].severity));
    let again = scan(&snap, None, opts());
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
}

/// (j) and (k) of PLANTED.md: an admin's forgotten second key and a root access key, from the
/// credential reports; keys in use are not reported.
#[test]
fn unused_access_keys_from_the_credential_reports() {
    let snap = example();
    let r = scan(&snap, None, opts());
    let keys: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::UnusedAccessKey)
        .collect();
    let ids: Vec<&str> = keys.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "unused-access-key:arn:aws:iam::300000000004:user/ops-admin:2",
            "unused-access-key:arn:aws:iam::500000000007:root:1",
        ],
        "{keys:#?}"
    );
    assert!(keys.iter().all(|f| f.severity == Severity::Critical));
    assert!(
        keys[0]
            .detail
            .starts_with("access key 2 is active but never used in the 947 days since it was made"),
        "{}",
        keys[0].detail
    );
    assert!(
        keys[1].detail.contains("last used 679 days ago"),
        "{}",
        keys[1].detail
    );
}

/// Every finding on the example organization, one line each, and who is admin-equivalent: a
/// snapshot (`tests/snapshots/`). When the scan changes on purpose, rewrite it with
/// `INSTA_UPDATE=always cargo test -p latch-analysis --test scan_example` and review its diff.
#[test]
fn the_findings_of_the_example_organization() {
    let snap = example();
    let r = scan(&snap, None, opts());
    let mut text = String::new();
    for f in &r.findings {
        text.push_str(&format!(
            "{:?} {} {}: {}\n",
            f.severity,
            f.kind.id(),
            f.principal.as_deref().unwrap_or(&f.account),
            f.detail
        ));
    }
    text.push_str("\nadmin-equivalent:\n");
    for p in r.principals.iter().filter(|p| p.admin_equivalent) {
        text.push_str(&format!("{}\n", p.arn));
    }
    insta::assert_snapshot!(text);
}
