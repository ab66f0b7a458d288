//! `latch scan`'s analysis: for every principal of a snapshot, its effective sensitive
//! permissions and whether it uses them; zombie identities; external and wildcard trust;
//! unused services per account and OU. Ranked findings for people, data for machines.
//!
//! Pure: the snapshot and the usage table come in as values, "now" as an argument.
//!
//! How it is built:
//! - `principal` analyses each principal once, over the available cores: its effective
//!   permissions, the sensitive ones it holds, their use in three states, its last activity
//!   (`principal::Facts`);
//! - `unused_services` gathers, per account and OU, the services no one used;
//! - each kind of finding is one module behind `Check`, listed once in `checks!` below:
//!   it reads a principal's facts, or the organization's once every principal is analysed.
//!
//! Adding a finding: one module with a type implementing `Check`, and one line in
//! `checks!`.

use std::collections::{BTreeMap, HashMap, HashSet};

use latch_catalog::Catalog;
use latch_model::{Principal, Snapshot};
use latch_trail::evidence::{account_has_events, usage_verdict, Reading};
use latch_trail::{Timestamp, UsageTable, Window};
use serde::Serialize;

use crate::usage::{Observability, UnknownUsage};
use crate::{ActionSet, EscalationPath};

mod people;
mod principal;

pub use people::{PersonAccess, PersonReport};

use principal::Facts;

const DAY_MS: i64 = 86_400_000;

/// Knobs of a scan.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// "Now", in milliseconds since the epoch (from the data or the caller; never the clock).
    pub now_millis: i64,
    /// The usage window: sensitive actions unused for this many days are standing privilege.
    pub window_days: i64,
    /// Identities idle for this many days are zombies.
    pub zombie_days: i64,
    /// What reading CloudTrail gave, when the usage came from log files: with it, usage
    /// counts as analysed only under [`latch_trail::evidence::usage_verdict`].
    pub reading: Option<Reading>,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fix now.
    Critical,
    /// Fix soon.
    High,
    /// Worth fixing.
    Medium,
    /// For the record.
    Low,
}

/// Declares every kind of finding once: the variant of [`FindingKind`] with its id and
/// description, and the module whose [`Check`] finds it. The order is the report's.
macro_rules! checks {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $id:literal, $description:literal => $module:ident :: $check:ident,
    )*) => {
        $(mod $module;)*

        /// What kind of finding.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub enum FindingKind {
            $($(#[doc = $doc])* #[serde(rename = $id)] $variant,)*
        }

        impl FindingKind {
            /// Every kind, in report order.
            pub const ALL: &'static [FindingKind] = &[$(FindingKind::$variant,)*];

            /// The kind's id, as in JSON and SARIF.
            pub fn id(self) -> &'static str {
                match self {
                    $(FindingKind::$variant => $id,)*
                }
            }

            /// One line describing the kind.
            pub fn description(self) -> &'static str {
                match self {
                    $(FindingKind::$variant => $description,)*
                }
            }

            /// What the kind finds, why it is bad and how to fix it, from its check's
            /// documentation ([`crate::guide`]).
            pub fn guide(self) -> &'static crate::guide::Guide {
                match self {
                    $(FindingKind::$variant => {
                        static GUIDE: std::sync::OnceLock<crate::guide::Guide> =
                            std::sync::OnceLock::new();
                        GUIDE.get_or_init(|| {
                            crate::guide::parse(include_str!(concat!(stringify!($module), ".rs")))
                        })
                    })*
                }
            }

            /// The kind with this id.
            pub fn from_id(id: &str) -> Option<FindingKind> {
                FindingKind::ALL.iter().copied().find(|k| k.id() == id)
            }
        }

        /// Every check, in [`FindingKind::ALL`] order.
        const CHECKS: &[&dyn Check] = &[$(&$module::$check,)*];
    };
}

checks! {
    /// A non-admin principal can make itself admin-equivalent.
    EscalationPath = "escalation-path",
        "A non-admin principal can make itself admin-equivalent"
        => escalation_path::Escalation,
    /// Sensitive actions held but not used in the window.
    StandingPrivilege = "standing-privilege",
        "Sensitive permissions held but unused in the window"
        => standing_privilege::StandingPrivilege,
    /// An identity with no activity for the zombie threshold.
    ZombieIdentity = "zombie-identity",
        "Identity without activity for the zombie threshold"
        => zombie_identity::Zombie,
    /// An active access key not used for the zombie threshold (or never).
    UnusedAccessKey = "unused-access-key",
        "Active access key unused for the zombie threshold"
        => unused_access_key::UnusedKeys,
    /// A role trusting a principal outside the organization.
    ExternalTrust = "external-trust",
        "Role trusts a principal outside the organization"
        => external_trust::ExternalTrust,
    /// A role trusting `*`.
    WildcardTrust = "wildcard-trust",
        "Role trusts any AWS principal"
        => wildcard_trust::WildcardTrust,
    /// Services no one in an account used in the window.
    UnusedServices = "unused-services",
        "Services unused in an account"
        => unused_services::Unused,
    /// Managed policies the snapshot could not resolve: permissions only partly known.
    UnresolvedPolicies = "unresolved-policies",
        "Managed policies that could not be resolved"
        => unresolved_policies::Unresolved,
    /// A resource or trust policy that allows everyone except the principals it lists
    /// (`NotPrincipal` with `Allow`).
    NotPrincipalAllow = "not-principal-allow",
        "A policy allows everyone except the principals it lists (NotPrincipal with Allow)"
        => not_principal_allow::NotPrincipalAllow,
    /// A person of Identity Center holds sensitive actions, through the roles they reach,
    /// that they did not use in the window.
    PersonStandingPrivilege = "person-standing-privilege",
        "A person holds sensitive permissions they did not use in the window"
        => person_standing_privilege::PersonStandingPrivilege,
    /// A person can reach an account through a permission set and did not in the window.
    UnusedAssignment = "unused-assignment",
        "An Identity Center assignment its person did not use in the window"
        => unused_assignment::UnusedAssignment,
    /// A person deactivated in the identity store is still assigned.
    InactivePersonAssigned = "inactive-person-assigned",
        "A deactivated person is still assigned"
        => inactive_person_assigned::InactivePersonAssigned,
    /// A permission set names a customer managed policy an account it is assigned on lacks.
    MissingCustomerPolicy = "missing-customer-policy",
        "A permission set names a customer managed policy an assigned account lacks"
        => missing_customer_policy::MissingCustomerPolicy,
    /// A permission set that reaches nobody.
    UnassignedPermissionSet = "unassigned-permission-set",
        "A permission set assigned to nobody"
        => unassigned_permission_set::UnassignedPermissionSet,
}

/// One kind of finding: what it reads and what it concludes. A check sees one principal at a
/// time (in parallel with the others), and then the organization as a whole.
trait Check: Sync {
    /// Findings about one principal, from what its analysis established.
    fn principal(&self, _cx: &Context<'_>, _p: &Facts<'_>, _out: &mut Found) {}

    /// Findings about the organization, once every principal is analysed.
    fn organization(&self, _cx: &Context<'_>, _org: &Organization<'_>, _out: &mut Found) {}

    /// What to say in `not_analysed` of the principals it reported no verdict on for lack of
    /// evidence (from [`Found::withheld`]), each with why; `None` when there are none.
    fn withheld(&self, _who: &[(String, &'static str)]) -> Option<String> {
        None
    }
}

/// What the checks conclude.
#[derive(Default)]
struct Found {
    findings: Vec<Finding>,
    /// Per kind, the principals a check reported no verdict on for lack of evidence, with why.
    withheld: BTreeMap<FindingKind, Vec<(String, &'static str)>>,
}

impl Found {
    fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    fn withhold(&mut self, kind: FindingKind, principal: &str, why: &'static str) {
        self.withheld
            .entry(kind)
            .or_default()
            .push((principal.to_owned(), why));
    }

    fn merge(&mut self, other: Found) {
        self.findings.extend(other.findings);
        for (kind, who) in other.withheld {
            self.withheld.entry(kind).or_default().extend(who);
        }
    }
}

/// What every check may read: the inputs, and the usage that counts.
struct Context<'a> {
    snapshot: &'a Snapshot,
    opts: ScanOptions,
    catalog: &'static Catalog,
    /// The sensitive actions of the catalog.
    sensitive: ActionSet,
    /// Per account, which actions' use the trails could show: the rest is unknown, never
    /// unused (`crate::usage`).
    obs: Observability,
    /// The usage table, when [`usage_verdict`] lets it count.
    usage: Option<&'a UsageTable>,
    /// Accounts without a single event in the window: no usage claim is made for them.
    accounts_without_events: Vec<String>,
    /// The window's first second.
    window_start_s: i64,
}

impl<'a> Context<'a> {
    /// The usage of one account: none when the window holds no event of it.
    fn usage_of(&self, account: &str) -> Option<&'a UsageTable> {
        self.usage
            .filter(|_| !self.accounts_without_events.iter().any(|a| a == account))
    }

    /// The last moment, in milliseconds, before which an identity or key counts as idle.
    fn zombie_threshold_ms(&self) -> i64 {
        self.opts.now_millis - self.opts.zombie_days * DAY_MS
    }
}

/// What the organization-wide checks read.
struct Organization<'a> {
    escalation_paths: &'a [EscalationPath],
    unused_services: &'a [UnusedServices],
    people: &'a [PersonReport],
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id: `<kind>:<subject>`.
    pub id: String,
    /// Kind.
    pub kind: FindingKind,
    /// Severity.
    pub severity: Severity,
    /// The principal concerned, if any.
    pub principal: Option<String>,
    /// The account concerned.
    pub account: String,
    /// One sentence for people.
    pub detail: String,
    /// Actions or services the finding is about (sorted).
    pub items: Vec<String>,
    /// Actions or services of the same principal or account whose use the trails cannot show
    /// (`usage unknown: data events not logged`): never among `items` of a usage finding.
    pub usage_unknown: Vec<UnknownUsage>,
}

impl Finding {
    /// A finding of `kind` about principal `p`, with id `<kind>:<arn>` and no items.
    fn about(kind: FindingKind, p: &Principal<'_>, severity: Severity, detail: String) -> Finding {
        Finding {
            id: format!("{}:{}", kind.id(), p.arn()),
            kind,
            severity,
            principal: Some(p.arn().to_owned()),
            account: p.account_id().to_owned(),
            detail,
            items: Vec::new(),
            usage_unknown: Vec::new(),
        }
    }
}

/// One principal's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalReport {
    /// ARN.
    pub arn: String,
    /// Account id.
    pub account: String,
    /// `user` or `role`.
    pub kind: &'static str,
    /// Effective sensitive actions (allowed on some resource under some context).
    pub sensitive_actions: Vec<String>,
    /// Of those, the ones used in the window (`None` when usage was not analysed).
    pub used: Option<Vec<String>>,
    /// Of those, the ones not used in the window although the trails would have shown a call
    /// (`None` when usage was not analysed).
    pub unused: Option<Vec<String>>,
    /// Of those, the ones whose use the trails cannot show, each with why (`None` when usage
    /// was not analysed): `used`, `unused` and `unknown` split `sensitive_actions`.
    pub unknown: Option<Vec<UnknownUsage>>,
    /// Of `used` and `unused`, the actions whose state rests on IAM's last-accessed data
    /// (CloudTrail could not show their use); empty when none does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from_last_accessed: Vec<String>,
    /// Number of actions allowed everywhere without conditions.
    pub unconditional_actions: usize,
    /// Number of actions allowed at all.
    pub allowed_actions: usize,
    /// Holds every privilege-escalation action unconditionally: admin-equivalent.
    pub admin_equivalent: bool,
    /// Last activity seen (CloudTrail, `RoleLastUsed`, the credential report or IAM's
    /// last-accessed data), RFC 3339.
    pub last_activity: Option<String>,
    /// The accounts it can act in by assuming roles (its own included).
    pub blast_radius: Vec<String>,
}

/// Unused services of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnusedServices {
    /// Account id.
    pub account: String,
    /// The OU path (ids from the root).
    pub ou_path: Vec<String>,
    /// Services someone in the account may use but no one used in the window.
    pub services: Vec<String>,
    /// Services no one was seen using but whose use the trails cannot show in full (an action
    /// of theirs allowed in the account is not recorded there): never called unused.
    pub unknown: Vec<UnknownUsage>,
}

/// Services unused in every account of an OU (or the root): quarantine candidates for the
/// whole OU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnusedServicesOu {
    /// The OU or root id.
    pub ou: String,
    /// Its name.
    pub name: String,
    /// The accounts under it that were analysed.
    pub accounts: Vec<String>,
    /// Services allowed in each of those accounts and used in none of them.
    pub services: Vec<String>,
}

/// The result of a scan.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// Per principal, sorted by ARN.
    pub principals: Vec<PrincipalReport>,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Unused services per account (empty when usage was not analysed).
    pub unused_services: Vec<UnusedServices>,
    /// Unused services per OU and root (empty when usage was not analysed).
    pub unused_services_by_ou: Vec<UnusedServicesOu>,
    /// Parts of the input that were not analysed, and why.
    pub not_analysed: Vec<String>,
    /// Whether CloudTrail usage was analysed ([`latch_trail::evidence::usage_verdict`]).
    pub usage_analysed: bool,
    /// Accounts of the snapshot without a single CloudTrail event in the window: no data
    /// there, so no usage claim is made for them (empty when usage was not analysed).
    pub accounts_without_events: Vec<String>,
    /// Privilege-escalation paths from non-admin principals to admin-equivalent ones.
    pub escalation_paths: Vec<crate::EscalationPath>,
    /// The people of Identity Center, sorted by user name (empty without
    /// `identity-center.json`).
    pub people: Vec<PersonReport>,
    /// The window in days.
    pub window_days: i64,
}

/// Runs the analysis.
///
/// Usage is used only when [`latch_trail::evidence::usage_verdict`] allows it, and for an
/// account only when the window holds at least one of its events
/// ([`latch_trail::evidence::account_has_events`]); otherwise nothing is called unused or
/// idle on CloudTrail's evidence, and `not_analysed` says why.
pub fn scan(snapshot: &Snapshot, usage: Option<&UsageTable>, opts: ScanOptions) -> ScanReport {
    let window_start_s = (opts.now_millis - opts.window_days * DAY_MS).div_euclid(1000);
    let window = Window {
        since: Some(Timestamp(window_start_s)),
        until: Some(Timestamp(opts.now_millis.div_euclid(1000) + 1)),
    };
    let given = usage.is_some();
    let verdict = usage.map(|u| usage_verdict(opts.reading.as_ref(), u, &window));
    let usage = usage.filter(|_| matches!(verdict, Some(Ok(()))));
    let accounts_without_events: Vec<String> = match usage {
        Some(u) => snapshot
            .accounts
            .keys()
            .filter(|a| !account_has_events(u, a, &window))
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let catalog = Catalog::get();
    let mut sensitive = ActionSet::empty();
    for a in catalog.sensitive_actions(None) {
        sensitive.insert(a.id());
    }
    let cx = Context {
        snapshot,
        opts,
        catalog,
        sensitive,
        obs: Observability::of(snapshot),
        usage,
        accounts_without_events,
        window_start_s,
    };

    // Every principal prepared once (compiled policies, request context), for the blast
    // radius and the escalation graph.
    let graph = crate::escalation::context::GraphContext::new(
        snapshot,
        crate::escalation::context::GraphOptions {
            now: Some(opts.now_millis.div_euclid(1000)),
            ..crate::escalation::context::GraphOptions::default()
        },
    );
    // The graph's edges and prepared principals are the largest part of a scan's memory: the
    // edges are freed before the blast radius is built, and the prepared principals before
    // the per-principal analysis allocates its own.
    let crate::EscalationReport {
        paths: escalation_paths,
        not_analysed: escalation_not_analysed,
        admins,
        ..
    } = crate::escalation::escalation_paths_in(&graph);
    // Admin-equivalence is the graph's, decided once per principal.
    let admins: HashSet<String> = admins.into_iter().collect();
    let blast = crate::blast::blast_radius_in(&graph);
    drop(graph);

    // Each principal on its own, over the available cores; the results are merged in snapshot
    // order (and the union of what each account allows does not depend on order).
    let stacks = principal::Stacks::of(snapshot);
    let analysed = crate::parallel::per_chunk(&stacks.principals, |part| {
        let mut rows = Vec::with_capacity(part.len());
        let mut found = Found::default();
        let mut allowed_here: BTreeMap<String, ActionSet> = BTreeMap::new();
        for stack in part {
            let facts = stacks.analyse(&cx, stack, &admins);
            for check in CHECKS {
                check.principal(&cx, &facts, &mut found);
            }
            allowed_here
                .entry(facts.principal.account_id().to_owned())
                .or_insert_with(ActionSet::empty)
                .union_with(&facts.eff.allowed);
            rows.push(facts.row(&blast));
        }
        (rows, found, allowed_here)
    });
    drop(stacks);
    let mut principals = Vec::new();
    let mut found = Found::default();
    let mut allowed_by_account: BTreeMap<String, ActionSet> = BTreeMap::new();
    for (rows, part, allowed_here) in analysed {
        for (account, allowed) in allowed_here {
            allowed_by_account
                .entry(account)
                .or_insert_with(ActionSet::empty)
                .union_with(&allowed);
        }
        found.merge(part);
        principals.extend(rows);
    }

    let unused_services = unused_services::per_account(&cx, &allowed_by_account);
    let unused_services_by_ou = unused_services::by_ou(snapshot, &unused_services);
    let people = match &snapshot.identity_center {
        Some(ic) => {
            let rows: HashMap<&str, &PrincipalReport> =
                principals.iter().map(|r| (r.arn.as_str(), r)).collect();
            people::report(&cx, ic, &rows, &escalation_paths)
        }
        None => Vec::new(),
    };
    let org = Organization {
        escalation_paths: &escalation_paths,
        unused_services: &unused_services,
        people: &people,
    };
    for check in CHECKS {
        check.organization(&cx, &org, &mut found);
    }
    let Found {
        mut findings,
        withheld,
    } = found;
    findings.sort_by(|a, b| {
        (a.severity, a.kind, std::cmp::Reverse(a.items.len()), &a.id).cmp(&(
            b.severity,
            b.kind,
            std::cmp::Reverse(b.items.len()),
            &b.id,
        ))
    });
    principals.sort_by(|a, b| a.arn.cmp(&b.arn));
    let mut not_analysed: Vec<String> = snapshot
        .not_analysed
        .iter()
        // CloudTrail read from elsewhere (`--cloudtrail`) makes the loader's note moot.
        .filter(|n| !given || !n.starts_with("cloudtrail/"))
        .cloned()
        .collect();
    match verdict {
        None => not_analysed.push(
            "usage: no CloudTrail was analysed, so standing privilege, unused services and user zombies are not reported".into(),
        ),
        Some(Err(why)) => not_analysed.push(format!(
            "usage: CloudTrail was not analysed: {why}; so standing privilege, unused services and user zombies are not reported"
        )),
        Some(Ok(())) => {}
    }
    if usage.is_some() {
        not_analysed.extend(cx.obs.notes().iter().cloned());
    }
    for (kind, mut who) in withheld {
        who.sort();
        let check = FindingKind::ALL
            .iter()
            .position(|k| *k == kind)
            .and_then(|i| CHECKS.get(i));
        not_analysed.extend(check.and_then(|c| c.withheld(&who)));
    }
    if !cx.accounts_without_events.is_empty() {
        not_analysed.push(format!(
            "usage: no CloudTrail event in the window for account(s) {}: no data there (not idle), so standing privilege, unused services and user zombies are not reported for them",
            cx.accounts_without_events.join(", ")
        ));
    }
    not_analysed.extend(
        escalation_not_analysed
            .iter()
            .map(|n| format!("escalation: {n}")),
    );
    ScanReport {
        escalation_paths,
        people,
        principals,
        findings,
        unused_services,
        unused_services_by_ou,
        not_analysed,
        usage_analysed: usage.is_some(),
        accounts_without_events: cx.accounts_without_events,
        window_days: opts.window_days,
    }
}

/// `; usage unknown: data events not logged for 3 more (s3:GetObject, ...)`: what a usage
/// finding says of the items it does not call unused.
fn unknown_clause(unknown: &[UnknownUsage]) -> String {
    let Some(first) = unknown.first() else {
        return String::new();
    };
    let mut says: Vec<&str> = unknown.iter().map(|u| u.says).collect();
    says.sort_unstable();
    says.dedup();
    let names: Vec<&str> = unknown.iter().take(3).map(|u| u.name.as_str()).collect();
    format!(
        "; {} for {} more ({}{})",
        if says.len() == 1 {
            first.says
        } else {
            "usage unknown"
        },
        unknown.len(),
        names.join(", "),
        if unknown.len() > names.len() {
            ", ..."
        } else {
            ""
        }
    )
}

/// How bad unused sensitive actions are: critical on an admin-equivalent holder, high when
/// any of them escalates privilege or reaches credentials, medium otherwise. The one rule for
/// standing privilege, of roles and users and of people.
fn standing_severity<'n>(
    cx: &Context<'_>,
    unused: impl IntoIterator<Item = &'n str>,
    admin_equivalent: bool,
) -> Severity {
    use latch_catalog::Category;
    if admin_equivalent {
        return Severity::Critical;
    }
    let grave = unused.into_iter().any(|n| {
        cx.catalog.sensitivity(n).iter().any(|c| {
            matches!(
                c.category,
                Category::PrivilegeEscalation | Category::CredentialAccess
            )
        })
    });
    if grave {
        Severity::High
    } else {
        Severity::Medium
    }
}

/// `s` after a count: `"s"` unless it is one.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_serializes_as_its_id_and_has_a_check() {
        for kind in FindingKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::Value::String(kind.id().to_owned()))
            );
            assert!(!kind.description().is_empty());
        }
        assert_eq!(FindingKind::ALL.len(), CHECKS.len());
    }
}
