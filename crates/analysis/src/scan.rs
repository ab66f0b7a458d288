//! `latch scan`'s analysis: for every principal of a snapshot, its effective sensitive
//! permissions and whether it uses them; zombie identities; external and wildcard trust;
//! unused services per account and OU. Ranked findings for people, data for machines.
//!
//! Pure: the snapshot and the usage table come in as values, "now" as an argument.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use latch_catalog::{Catalog, Category};
use latch_model::{Principal, Snapshot};
use latch_trail::evidence::{account_has_events, usage_verdict, Reading};
use latch_trail::{Timestamp, UsageTable, Window};
use serde::Serialize;

use crate::effective::{combine, EffectivePermissions, PolicyActions};
use crate::usage::{
    idle_evidence, last_accessed_advice, three_states, IdleEvidence, Observability, UnknownUsage,
};
use crate::ActionSet;

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

/// What kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A non-admin principal can make itself admin-equivalent.
    EscalationPath,
    /// Sensitive actions held but not used in the window.
    StandingPrivilege,
    /// An identity with no activity for the zombie threshold.
    ZombieIdentity,
    /// An active access key not used for the zombie threshold (or never).
    UnusedAccessKey,
    /// A role trusting a principal outside the organization.
    ExternalTrust,
    /// A role trusting `*`.
    WildcardTrust,
    /// Services no one in an account used in the window.
    UnusedServices,
    /// Managed policies the snapshot could not resolve: permissions only partly known.
    UnresolvedPolicies,
    /// A resource or trust policy that allows everyone except the principals it lists
    /// (`NotPrincipal` with `Allow`).
    NotPrincipalAllow,
}

impl FindingKind {
    /// Every kind, in report order.
    pub const ALL: [FindingKind; 9] = [
        FindingKind::EscalationPath,
        FindingKind::StandingPrivilege,
        FindingKind::ZombieIdentity,
        FindingKind::UnusedAccessKey,
        FindingKind::ExternalTrust,
        FindingKind::WildcardTrust,
        FindingKind::UnusedServices,
        FindingKind::UnresolvedPolicies,
        FindingKind::NotPrincipalAllow,
    ];

    /// The kind's id, as in JSON and SARIF.
    pub fn id(self) -> &'static str {
        match self {
            FindingKind::StandingPrivilege => "standing-privilege",
            FindingKind::ZombieIdentity => "zombie-identity",
            FindingKind::UnusedAccessKey => "unused-access-key",
            FindingKind::ExternalTrust => "external-trust",
            FindingKind::WildcardTrust => "wildcard-trust",
            FindingKind::UnusedServices => "unused-services",
            FindingKind::UnresolvedPolicies => "unresolved-policies",
            FindingKind::NotPrincipalAllow => "not-principal-allow",
            FindingKind::EscalationPath => "escalation-path",
        }
    }

    /// One line describing the kind.
    pub fn description(self) -> &'static str {
        match self {
            FindingKind::StandingPrivilege => "Sensitive permissions held but unused in the window",
            FindingKind::ZombieIdentity => "Identity without activity for the zombie threshold",
            FindingKind::UnusedAccessKey => "Active access key unused for the zombie threshold",
            FindingKind::ExternalTrust => "Role trusts a principal outside the organization",
            FindingKind::WildcardTrust => "Role trusts any AWS principal",
            FindingKind::UnusedServices => "Services unused in an account",
            FindingKind::UnresolvedPolicies => "Managed policies that could not be resolved",
            FindingKind::NotPrincipalAllow => {
                "A policy allows everyone except the principals it lists (NotPrincipal with Allow)"
            }
            FindingKind::EscalationPath => "A non-admin principal can make itself admin-equivalent",
        }
    }
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
    /// The window in days.
    pub window_days: i64,
}

fn rfc3339(ms: i64) -> String {
    latch_trail::Timestamp(ms.div_euclid(1000)).to_string()
}

/// A principal's policy stack, as keys into the per-document cache.
struct Stack<'a> {
    principal: Principal<'a>,
    identity: Vec<usize>,
    boundary: Option<usize>,
    scps: Vec<Vec<usize>>,
}

/// Runs the analysis.
///
/// Usage is used only when [`latch_trail::evidence::usage_verdict`] allows it, and for an
/// account only when the window holds at least one of its events
/// ([`latch_trail::evidence::account_has_events`]); otherwise nothing is called unused or
/// idle on CloudTrail's evidence, and `not_analysed` says why.
pub fn scan<'s>(
    snapshot: &'s Snapshot,
    usage: Option<&UsageTable>,
    opts: ScanOptions,
) -> ScanReport {
    let catalog = Catalog::get();
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
    // The usage of one account: none when the window holds no event of it.
    let usage_of =
        |account: &str| usage.filter(|_| !accounts_without_events.iter().any(|a| a == account));
    let mut sensitive = ActionSet::empty();
    for a in catalog.sensitive_actions(None) {
        sensitive.insert(a.id());
    }
    // Per account, which actions' use the trails could show: the rest is unknown, never
    // unused (`crate::usage`).
    let obs = Observability::of(snapshot);

    // Each policy document is expanded once (below, over the available cores), shared by
    // every principal it applies to.
    let mut docs: Vec<&latch_model::PolicyDocument> = Vec::new();
    let mut listed: HashSet<usize> = HashSet::new();
    let mut actions_of = |doc: &'s latch_model::PolicyDocument| -> usize {
        let key = std::ptr::from_ref(doc) as usize;
        if listed.insert(key) {
            docs.push(doc);
        }
        key
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
    let mut principals = Vec::new();
    let mut findings = Vec::new();
    let mut allowed_by_account: BTreeMap<String, ActionSet> = BTreeMap::new();
    let mut plan: Vec<Stack<'_>> = Vec::new();
    for p in snapshot.principals() {
        let eff = p.effective_policies();
        let identity: Vec<usize> = eff
            .identity
            .iter()
            .map(|s| actions_of(s.document))
            .collect();
        let boundary = eff.boundary.map(|b| actions_of(&b.document));
        let scps_apply = p.scps_apply();
        let scps: Vec<Vec<usize>> = match (&eff.scps, scps_apply) {
            (Some(levels), true) => levels
                .iter()
                .map(|l| l.policies.iter().map(|c| actions_of(&c.document)).collect())
                .collect(),
            _ => Vec::new(),
        };
        if !eff.unresolved.is_empty() {
            findings.push(Finding {
                id: format!("unresolved-policies:{}", p.arn()),
                kind: FindingKind::UnresolvedPolicies,
                severity: Severity::Low,
                principal: Some(p.arn().to_owned()),
                account: p.account_id().to_owned(),
                detail: format!(
                    "{} managed polic{} could not be resolved; permissions are only partly known",
                    eff.unresolved.len(),
                    if eff.unresolved.len() == 1 {
                        "y"
                    } else {
                        "ies"
                    }
                ),
                items: eff.unresolved.iter().map(|s| (*s).to_owned()).collect(),
                usage_unknown: Vec::new(),
            });
        }
        plan.push(Stack {
            principal: p,
            identity,
            boundary,
            scps,
        });
    }

    let expanded = crate::parallel::in_parallel(&docs, |part| {
        part.iter().map(|d| PolicyActions::of(&d.policy)).collect()
    });
    let cache: HashMap<usize, PolicyActions> = docs
        .iter()
        .map(|d| std::ptr::from_ref(*d) as usize)
        .zip(expanded)
        .collect();
    // The SCPs of one level together, once per level rather than once per principal.
    let mut levels_cache: HashMap<&[usize], PolicyActions> = HashMap::new();
    for stack in &plan {
        for level in &stack.scps {
            levels_cache.entry(level.as_slice()).or_insert_with(|| {
                let parts: Vec<&PolicyActions> =
                    level.iter().filter_map(|k| cache.get(k)).collect();
                PolicyActions::union(&parts)
            });
        }
    }

    // A principal's row, its findings, what it may do, and (when it looks idle but may call
    // actions of unknown use) why it is no zombie.
    type Analysed = (
        PrincipalReport,
        Vec<Finding>,
        ActionSet,
        Option<(String, &'static str)>,
    );
    let analyse = |stack: &Stack<'s>| -> Analysed {
        let Stack {
            principal: p,
            identity,
            boundary,
            scps,
        } = stack;
        let get = |k: &usize| cache.get(k);
        let mut findings = Vec::new();
        let ids: Vec<&PolicyActions> = identity.iter().filter_map(get).collect();
        let levels: Vec<Vec<&PolicyActions>> = scps
            .iter()
            .map(|l| levels_cache.get(l.as_slice()).into_iter().collect())
            .collect();
        let eff: EffectivePermissions =
            combine(&ids, boundary.as_ref().and_then(get), &levels, false);

        let mut held = eff.allowed.clone();
        held.intersect_with(&sensitive);
        let admin_equivalent = admins.contains(p.arn());

        let usage = usage_of(p.account_id());
        let pu = usage.and_then(|u| u.principals.get(p.arn()));
        let mut used_set = ActionSet::empty();
        if let Some(pu) = pu {
            for (name, au) in &pu.actions {
                let recent = au
                    .last_seen
                    .is_some_and(|t| t.seconds() >= window_start_s && au.count > 0);
                if recent {
                    if let Some(id) = catalog.resolve(name) {
                        used_set.insert(id);
                    }
                }
            }
            // CloudTrail never records `iam:PassRole`, but a role-passing call that named a
            // role (`ec2:RunInstances` with an instance profile, `lambda:CreateFunction`, ...)
            // shows it was used: AWS checked it inside that call.
            let passed = pu.passed_roles.values().flatten().any(|(role, au)| {
                !role.is_empty()
                    && au.count > 0
                    && au.last_seen.is_some_and(|t| t.seconds() >= window_start_s)
            });
            if passed {
                if let Some(id) = catalog.resolve("iam:PassRole") {
                    used_set.insert(id);
                }
            }
        }
        let role_last = p
            .as_role()
            .and_then(|r| r.last_used.as_ref())
            .and_then(|l| l.date.as_ref())
            .map(|t| t.epoch_millis);
        let trail_last = pu.and_then(|u| u.last_activity).map(|t| t.seconds() * 1000);
        // A user's credential report says when its password or keys were last used.
        let credentials = p.as_user().and_then(|_| {
            snapshot
                .account(p.account_id())
                .and_then(|a| a.credential_report.as_ref())
                .and_then(|r| r.row(p.arn()))
        });
        let credential_last = credentials.and_then(latch_model::CredentialRow::last_used);
        // IAM's last-accessed report of the identity: a second source of use.
        let advice = snapshot
            .account(p.account_id())
            .and_then(|a| a.last_accessed.as_ref())
            .and_then(|l| l.principals.get(p.arn()))
            .map(|access| last_accessed_advice(access, window_start_s * 1000, opts.now_millis));
        let advised_last = advice.as_ref().and_then(|a| a.last_activity_ms);
        let last_ms = role_last
            .max(trail_last)
            .max(credential_last)
            .max(advised_last);

        // Three states: used; not used where the trails would have shown a call; unknown where
        // they would not (data events not logged, ...) or never do (`iam:PassRole`). IAM's
        // last-accessed data, when the snapshot has it, settles some of the unknown ones
        // (`crate::usage::last_accessed_advice`).
        let (used, unused, unknown, from_last_accessed) = if usage.is_some() {
            let states = three_states(&obs, p.account_id(), &held, &used_set, advice.as_ref());
            (
                Some(states.used),
                Some(states.unused),
                Some(obs.explain(p.account_id(), &states.unknown)),
                states.from_last_accessed,
            )
        } else {
            (None, None, None, ActionSet::empty())
        };

        // Standing privilege rests on the unused actions only: a principal whose idle
        // sensitive actions are all of unknown use is not reported.
        if let Some(unused) = &unused {
            if !unused.is_empty() {
                let unknown = unknown.clone().unwrap_or_default();
                let names = unused.names();
                let worst = names
                    .iter()
                    .flat_map(|n| catalog.sensitivity(n).iter().map(|c| c.category))
                    .collect::<BTreeSet<_>>();
                let severity = if admin_equivalent {
                    Severity::Critical
                } else if worst.contains(&Category::PrivilegeEscalation)
                    || worst.contains(&Category::CredentialAccess)
                {
                    Severity::High
                } else {
                    Severity::Medium
                };
                findings.push(Finding {
                    id: format!("standing-privilege:{}", p.arn()),
                    kind: FindingKind::StandingPrivilege,
                    severity,
                    principal: Some(p.arn().to_owned()),
                    account: p.account_id().to_owned(),
                    detail: format!(
                        "holds {} sensitive action{} it did not use in {} days{}{}",
                        names.len(),
                        if names.len() == 1 { "" } else { "s" },
                        opts.window_days,
                        if admin_equivalent {
                            " (admin-equivalent)"
                        } else {
                            ""
                        },
                        unknown_clause(&unknown)
                    ),
                    items: names.iter().map(|s| (*s).to_owned()).collect(),
                    usage_unknown: unknown,
                });
            }
        }

        // Zombies: no activity for the threshold, and old enough to have had some — on
        // evidence that would have shown any call (`crate::usage::IdleEvidence`): IAM's own
        // last-used record, or CloudTrail when its trails record every action the principal
        // may call. Never on CloudTrail's silence about actions whose use is unknown.
        let mut idle_unknown = None;
        if !p.is_service_linked() {
            let created = p.create_date().map(|t| t.epoch_millis);
            let threshold = opts.now_millis - opts.zombie_days * DAY_MS;
            let old_enough = created.is_none_or(|c| c <= threshold);
            let iam_record = match p.as_role() {
                Some(r) => r.last_used.is_some(),
                None => credentials.is_some(),
            };
            let evidence = idle_evidence(
                iam_record,
                usage.is_some(),
                &eff.allowed,
                obs.unknown_in(p.account_id()),
                obs.never_recorded(),
            );
            let idle = old_enough && last_ms.is_none_or(|l| l < threshold);
            if let (true, IdleEvidence::Unknown(hidden)) = (idle, &evidence) {
                idle_unknown = obs
                    .explain(p.account_id(), hidden)
                    .first()
                    .map(|u| (p.arn().to_owned(), u.says));
            }
            if evidence.supports_verdict() && idle {
                let idle = last_ms.map_or("never used".to_owned(), |l| {
                    format!("idle for {} days", (opts.now_millis - l).div_euclid(DAY_MS))
                });
                findings.push(Finding {
                    id: format!("zombie-identity:{}", p.arn()),
                    kind: FindingKind::ZombieIdentity,
                    severity: if admin_equivalent {
                        Severity::Critical
                    } else if !held.is_empty() {
                        Severity::High
                    } else {
                        Severity::Low
                    },
                    principal: Some(p.arn().to_owned()),
                    account: p.account_id().to_owned(),
                    detail: format!(
                        "{idle}{}; candidate for quarantine",
                        if held.is_empty() {
                            String::new()
                        } else {
                            format!(" while holding {} sensitive actions", held.len())
                        }
                    ),
                    items: Vec::new(),
                    usage_unknown: Vec::new(),
                });
            }
        }

        if let Some(row) = credentials {
            let threshold = opts.now_millis - opts.zombie_days * DAY_MS;
            let severity = if admin_equivalent {
                Severity::Critical
            } else if !held.is_empty() {
                Severity::High
            } else {
                Severity::Medium
            };
            findings.extend(
                unused_keys(row, threshold, opts.now_millis).map(|(slot, idle)| Finding {
                    id: format!("unused-access-key:{}:{slot}", p.arn()),
                    kind: FindingKind::UnusedAccessKey,
                    severity,
                    principal: Some(p.arn().to_owned()),
                    account: p.account_id().to_owned(),
                    detail: format!(
                        "access key {slot} is active but {idle}{}; deactivate it",
                        if held.is_empty() {
                            String::new()
                        } else {
                            format!(" (the user holds {} sensitive actions)", held.len())
                        }
                    ),
                    items: Vec::new(),
                    usage_unknown: Vec::new(),
                }),
            );
        }

        if let Some(role) = p.as_role() {
            trust_findings(snapshot, p, &role.trust_policy.policy, &mut findings);
        }

        let row = PrincipalReport {
            arn: p.arn().to_owned(),
            account: p.account_id().to_owned(),
            kind: if p.as_user().is_some() {
                "user"
            } else {
                "role"
            },
            sensitive_actions: held.names().iter().map(|s| (*s).to_owned()).collect(),
            used: used.map(|s| s.names().iter().map(|x| (*x).to_owned()).collect()),
            unused: unused.map(|s| s.names().iter().map(|x| (*x).to_owned()).collect()),
            unknown,
            from_last_accessed: from_last_accessed
                .names()
                .iter()
                .map(|x| (*x).to_owned())
                .collect(),
            unconditional_actions: eff.unconditional.len(),
            allowed_actions: eff.allowed.len(),
            admin_equivalent,
            last_activity: last_ms.map(rfc3339),
            blast_radius: blast
                .get(p.arn())
                .cloned()
                .unwrap_or_else(|| vec![p.account_id().to_owned()]),
        };
        (row, findings, eff.allowed, idle_unknown)
    };

    // Each principal on its own, over the available cores; the results are merged in snapshot
    // order (and the union of what each account allows does not depend on order).
    let analysed = crate::parallel::per_chunk(&plan, |part| {
        let mut rows = Vec::with_capacity(part.len());
        let mut allowed_here: BTreeMap<String, ActionSet> = BTreeMap::new();
        for stack in part {
            let (row, principal_findings, allowed, idle_unknown) = analyse(stack);
            allowed_here
                .entry(row.account.clone())
                .or_insert_with(ActionSet::empty)
                .union_with(&allowed);
            rows.push((row, principal_findings, idle_unknown));
        }
        (rows, allowed_here)
    });
    // Identities that look idle but may call actions whose use is unknown: no zombie verdict.
    let mut not_zombies: Vec<(String, &'static str)> = Vec::new();
    for (rows, allowed_here) in analysed {
        for (account, allowed) in allowed_here {
            allowed_by_account
                .entry(account)
                .or_insert_with(ActionSet::empty)
                .union_with(&allowed);
        }
        for (row, principal_findings, idle_unknown) in rows {
            not_zombies.extend(idle_unknown);
            findings.extend(principal_findings);
            principals.push(row);
        }
    }

    let mut unused_services = Vec::new();
    if let Some(u) = usage {
        for (account, allowed) in &allowed_by_account {
            if usage_of(account).is_none() {
                continue;
            }
            let services: BTreeSet<&str> = allowed
                .ids()
                .filter_map(|id| catalog.action_by_id(id))
                .map(|a| a.service_prefix())
                .collect();
            let used = u.accounts.get(account);
            // A service IAM's last-accessed data shows someone attempted in the window is in
            // use, whatever CloudTrail shows.
            let attempted: BTreeSet<&str> = snapshot
                .account(account)
                .and_then(|a| a.last_accessed.as_ref())
                .into_iter()
                .flat_map(|l| l.principals.values())
                .flat_map(|p| p.services.iter())
                .filter(|(_, s)| {
                    s.last_authenticated
                        .as_ref()
                        .is_some_and(|t| t.epoch_millis >= window_start_s * 1000)
                })
                .map(|(ns, _)| ns.as_str())
                .collect();
            let idle = services.into_iter().filter(|s| {
                !attempted.contains(s)
                    && used.and_then(|m| m.get(*s)).is_none_or(|su| {
                        su.count == 0 || su.last_seen.is_none_or(|t| t.seconds() < window_start_s)
                    })
            });
            // A service no one was seen using is unused only when the trails would have shown
            // every call of it allowed in the account; otherwise its use is unknown.
            let hidden = hidden_services(&obs, account, allowed);
            let (unknown, unused): (Vec<&str>, Vec<&str>) =
                idle.partition(|s| hidden.contains_key(s));
            let unused: Vec<String> = unused.into_iter().map(str::to_owned).collect();
            let unknown: Vec<UnknownUsage> = unknown
                .into_iter()
                .filter_map(|s| {
                    hidden
                        .get(s)
                        .map(|why| UnknownUsage::new(s.to_owned(), *why))
                })
                .collect();
            let ou_path = snapshot
                .organization
                .as_ref()
                .and_then(|o| o.path_to(account))
                .map(|path| path.iter().map(|n| n.id.clone()).collect())
                .unwrap_or_default();
            if !unused.is_empty() {
                findings.push(Finding {
                    id: format!("unused-services:{account}"),
                    kind: FindingKind::UnusedServices,
                    severity: Severity::Low,
                    principal: None,
                    account: account.clone(),
                    detail: format!(
                        "{} services are allowed to someone in the account but unused in {} days (candidates for service quarantine){}",
                        unused.len(),
                        opts.window_days,
                        unknown_clause(&unknown)
                    ),
                    items: unused.clone(),
                    usage_unknown: unknown.clone(),
                });
            }
            unused_services.push(UnusedServices {
                account: account.clone(),
                ou_path,
                services: unused,
                unknown,
            });
        }
    }

    let unused_services_by_ou = by_ou(snapshot, &unused_services);
    for path in &escalation_paths {
        let techniques: Vec<String> = path.steps.iter().map(|s| s.technique.to_string()).collect();
        findings.push(Finding {
            id: format!("escalation-path:{}->{}", path.from, path.to),
            kind: FindingKind::EscalationPath,
            severity: Severity::Critical,
            principal: Some(path.from.clone()),
            account: latch_policy::arn::account(&path.from)
                .unwrap_or_default()
                .to_owned(),
            detail: format!(
                "can reach {} in {} step{}: {}",
                path.to,
                path.steps.len(),
                if path.steps.len() == 1 { "" } else { "s" },
                techniques.join(" → ")
            ),
            items: path
                .steps
                .iter()
                .flat_map(|s| s.actions.iter().cloned())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            usage_unknown: Vec::new(),
        });
    }
    // The root user is no principal of the GAAD, but its keys are in the credential report;
    // any active root key is critical (AWS: "do not create root user access keys").
    for account in snapshot.accounts.values() {
        let Some(root) = account
            .credential_report
            .as_ref()
            .and_then(|r| r.rows.iter().find(|r| r.is_root()))
        else {
            continue;
        };
        for key in root.access_keys.iter().filter(|k| k.active) {
            let used = key.last_used.as_ref().map_or("never used".to_owned(), |t| {
                format!("last used {} days ago", t.days_before(opts.now_millis))
            });
            findings.push(Finding {
                id: format!("unused-access-key:{}:{}", root.arn, key.slot),
                kind: FindingKind::UnusedAccessKey,
                severity: Severity::Critical,
                principal: Some(root.arn.clone()),
                account: account.id.clone(),
                detail: format!(
                    "the root user has an active access key {} ({used}); delete it and use roles",
                    key.slot
                ),
                items: Vec::new(),
                usage_unknown: Vec::new(),
            });
        }
    }
    not_principal_findings(snapshot, &mut findings);
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
        not_analysed.extend(obs.notes().iter().cloned());
    }
    if !not_zombies.is_empty() {
        not_zombies.sort();
        let shown: Vec<String> = not_zombies
            .iter()
            .take(10)
            .map(|(arn, says)| format!("{arn} ({says})"))
            .collect();
        not_analysed.push(format!(
            "zombies: {} identit{} without activity CloudTrail records may call actions whose use the trails cannot show, and have no IAM last-used record: not reported as zombies: {}{}",
            not_zombies.len(),
            if not_zombies.len() == 1 { "y" } else { "ies" },
            shown.join(", "),
            if not_zombies.len() > shown.len() { ", ..." } else { "" }
        ));
    }
    if !accounts_without_events.is_empty() {
        not_analysed.push(format!(
            "usage: no CloudTrail event in the window for account(s) {}: no data there (not idle), so standing privilege, unused services and user zombies are not reported for them",
            accounts_without_events.join(", ")
        ));
    }
    not_analysed.extend(
        escalation_not_analysed
            .iter()
            .map(|n| format!("escalation: {n}")),
    );
    ScanReport {
        escalation_paths,
        principals,
        findings,
        unused_services,
        unused_services_by_ou,
        not_analysed,
        usage_analysed: usage.is_some(),
        accounts_without_events,
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

/// The services with an action allowed in `account` whose use the trails there cannot show,
/// with why (that of the first such action).
fn hidden_services(
    obs: &Observability,
    account: &str,
    allowed: &ActionSet,
) -> BTreeMap<&'static str, crate::UnknownReason> {
    let catalog = Catalog::get();
    let mut hidden = allowed.clone();
    hidden.intersect_with(obs.unknown_in(account));
    let mut out = BTreeMap::new();
    for id in hidden.ids() {
        if let (Some(a), Some(why)) = (catalog.action_by_id(id), obs.reason(account, id)) {
            out.entry(a.service_prefix()).or_insert(why);
        }
    }
    out
}

/// The active keys of `row` not used since `threshold` (never used and older than it, or last
/// used before it): slot and a phrase saying how idle.
fn unused_keys(
    row: &latch_model::CredentialRow,
    threshold: i64,
    now_millis: i64,
) -> impl Iterator<Item = (u8, String)> + '_ {
    row.access_keys
        .iter()
        .filter(|k| k.active)
        .filter_map(move |k| match (&k.last_used, &k.last_rotated) {
            (Some(used), _) if used.epoch_millis < threshold => Some((
                k.slot,
                format!("unused for {} days", used.days_before(now_millis)),
            )),
            (Some(_), _) => None,
            (None, Some(made)) if made.epoch_millis >= threshold => None,
            (None, made) => Some((
                k.slot,
                made.as_ref().map_or("never used".to_owned(), |m| {
                    format!(
                        "never used in the {} days since it was made",
                        m.days_before(now_millis)
                    )
                }),
            )),
        })
}

/// Per OU (and root): the services unused in every analysed account beneath it.
fn by_ou(snapshot: &Snapshot, per_account: &[UnusedServices]) -> Vec<UnusedServicesOu> {
    let Some(org) = &snapshot.organization else {
        return Vec::new();
    };
    let mut groups: BTreeMap<String, (String, Vec<&UnusedServices>)> = BTreeMap::new();
    for u in per_account {
        let Some(path) = org.path_to(&u.account) else {
            continue;
        };
        for node in path
            .iter()
            .filter(|n| n.kind != latch_model::org::NodeKind::Account)
        {
            groups
                .entry(node.id.clone())
                .or_insert_with(|| (node.name.clone(), Vec::new()))
                .1
                .push(u);
        }
    }
    groups
        .into_iter()
        .map(|(ou, (name, accounts))| {
            let mut common: Option<BTreeSet<&String>> = None;
            for a in &accounts {
                let set: BTreeSet<&String> = a.services.iter().collect();
                common = Some(match common {
                    None => set,
                    Some(c) => c.intersection(&set).copied().collect(),
                });
            }
            UnusedServicesOu {
                ou,
                name,
                accounts: accounts.iter().map(|a| a.account.clone()).collect(),
                services: common.unwrap_or_default().into_iter().cloned().collect(),
            }
        })
        .collect()
}

/// Trust-policy findings of one role: principals outside the organization, and `*`.
/// `NotPrincipal` with `Allow` in a resource policy or a role's trust policy. AWS no longer
/// accepts the combination in new policies ("IAM JSON policy elements: NotPrincipal"), and the
/// engine evaluates such a statement as matching nothing (fail closed for enforcement), but a
/// policy written before may still be honoured by AWS and expose the resource to every
/// principal it does not list: for detection it is possible exposure, reported.
fn not_principal_findings(snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    use latch_policy::document::Effect;
    let mut add = |account: &str,
                   principal: Option<&str>,
                   what: String,
                   policy: &latch_policy::Policy| {
        for (i, st) in policy.statements.iter().enumerate() {
            let Some(pr) = st.principal.as_ref().filter(|p| p.negated) else {
                continue;
            };
            if st.effect != Effect::Allow {
                continue;
            }
            let listed: Vec<String> = pr
                .entries
                .iter()
                .flat_map(|(_, values)| values.iter().cloned())
                .collect();
            let sid = st
                .sid
                .as_deref()
                .map(|s| format!(" (`{s}`)"))
                .unwrap_or_default();
            findings.push(Finding {
                id: format!("not-principal-allow:{what}:{i}"),
                kind: FindingKind::NotPrincipalAllow,
                severity: Severity::High,
                principal: principal.map(str::to_owned),
                account: account.to_owned(),
                detail: format!(
                    "statement {i}{sid} of the {what} allows everyone except {} (NotPrincipal with Allow): AWS no longer accepts this in new policies and Latch evaluates it as allowing nothing, but where AWS still honours it every other principal, of any account, is allowed; rewrite it with Principal",
                    if listed.is_empty() { "nobody".to_owned() } else { listed.join(", ") }
                ),
                items: listed,
                usage_unknown: Vec::new(),
            });
        }
    };
    for account in snapshot.accounts.values() {
        for rp in account.resource_policies.iter().flatten() {
            add(
                &account.id,
                None,
                format!("{} policy of `{}`", rp.kind.name(), rp.resource_arn),
                &rp.document.policy,
            );
        }
        for role in account.roles.values() {
            add(
                &account.id,
                Some(&role.arn),
                format!("trust policy of `{}`", role.arn),
                &role.trust_policy.policy,
            );
        }
    }
}

fn trust_findings(
    snapshot: &Snapshot,
    p: &Principal<'_>,
    trust: &latch_policy::Policy,
    findings: &mut Vec<Finding>,
) {
    use latch_policy::document::{Effect, PrincipalType};
    let mut external = BTreeSet::new();
    let mut wildcard = false;
    for st in &trust.statements {
        let Some(pr) = &st.principal else { continue };
        if st.effect != Effect::Allow || pr.negated {
            continue;
        }
        if pr.any {
            wildcard = true;
        }
        for (kind, values) in &pr.entries {
            if *kind != PrincipalType::Aws {
                continue;
            }
            for v in values {
                if v == "*" {
                    wildcard = true;
                    continue;
                }
                let account = if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
                    Some(v.as_str())
                } else {
                    latch_policy::arn::account(v)
                };
                if let Some(a) = account {
                    if !snapshot.is_internal_account(a) {
                        external.insert(v.clone());
                    }
                }
            }
        }
    }
    let has_conditions = trust.statements.iter().any(|s| !s.conditions.is_empty());
    if wildcard {
        findings.push(Finding {
            id: format!("wildcard-trust:{}", p.arn()),
            kind: FindingKind::WildcardTrust,
            severity: if has_conditions {
                Severity::High
            } else {
                Severity::Critical
            },
            principal: Some(p.arn().to_owned()),
            account: p.account_id().to_owned(),
            detail: format!(
                "the trust policy allows any AWS principal (`*`){}",
                if has_conditions {
                    ", restricted only by conditions"
                } else {
                    ""
                }
            ),
            items: vec!["*".into()],
            usage_unknown: Vec::new(),
        });
    }
    if !external.is_empty() {
        findings.push(Finding {
            id: format!("external-trust:{}", p.arn()),
            kind: FindingKind::ExternalTrust,
            severity: Severity::High,
            principal: Some(p.arn().to_owned()),
            account: p.account_id().to_owned(),
            detail: format!(
                "the trust policy lets {} principal(s) outside the organization assume this role{}",
                external.len(),
                if has_conditions {
                    " (with conditions, e.g. sts:ExternalId)"
                } else {
                    ""
                }
            ),
            items: external.into_iter().collect(),
            usage_unknown: Vec::new(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latch_model::{AccessKey, CredentialRow, Timestamp};

    fn at(day: i64) -> Option<Timestamp> {
        Some(Timestamp {
            epoch_millis: day * DAY_MS,
            text: format!("day {day}"),
        })
    }

    fn key(slot: u8, active: bool, made: i64, used: Option<i64>) -> AccessKey {
        AccessKey {
            slot,
            active,
            last_rotated: at(made),
            last_used: used.and_then(at),
            last_used_service: None,
        }
    }

    #[test]
    fn unused_keys_are_the_active_ones_idle_past_the_threshold() {
        let now = 1000 * DAY_MS;
        let threshold = now - 90 * DAY_MS;
        let row = |keys: Vec<AccessKey>| CredentialRow {
            user: "u".into(),
            arn: "arn:aws:iam::111122223333:user/u".into(),
            created: at(0),
            password_enabled: false,
            password_last_used: None,
            mfa_active: false,
            access_keys: keys,
        };
        let found = |keys| unused_keys(&row(keys), threshold, now).collect::<Vec<_>>();
        // Used within the window; made recently and not yet used: fine.
        assert!(found(vec![key(1, true, 100, Some(950)), key(2, true, 980, None)]).is_empty());
        // Inactive keys are not a risk, however old.
        assert!(found(vec![key(1, false, 10, None)]).is_empty());
        // Last used before the threshold, and never used since made long ago.
        assert_eq!(
            found(vec![key(1, true, 10, Some(800)), key(2, true, 500, None)]),
            vec![
                (1, "unused for 200 days".to_owned()),
                (2, "never used in the 500 days since it was made".to_owned())
            ]
        );
        // Exactly at the threshold is still within it.
        assert!(found(vec![key(1, true, 10, Some(910))]).is_empty());
    }
}
