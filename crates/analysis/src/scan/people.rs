//! The people behind the Identity Center roles (`identity-center.json`): for every user of the
//! identity store, the accounts and permission sets they reach (directly or through a group),
//! the role each lands on, what that role may do that is sensitive, whether it is
//! admin-equivalent, and what the person used of it — their own sessions of the role, since
//! the role's sessions are named after the user name.
//!
//! A role's permissions are the engine's, judged once per role by the scan (`principal.rs`);
//! a person's use is read only where usage counts for the account, and an action the trails
//! cannot show is left out of what they did not use, as for roles.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use latch_model::identity_center::{IdentityCenter, RoleOf};
use latch_trail::Timestamp;
use serde::Serialize;

use super::{Context, PrincipalReport};
use crate::ActionSet;

/// One person of the identity store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonReport {
    /// Their user name (what their role sessions are named after).
    pub user_name: String,
    /// Their display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Their identity store id.
    pub id: String,
    /// Whether they may sign in (`None`: the directory does not say).
    pub active: Option<bool>,
    /// The groups they belong to.
    pub groups: Vec<String>,
    /// Each account and permission set they reach.
    pub access: Vec<PersonAccess>,
    /// Admin-equivalent through at least one of them.
    pub admin_equivalent: bool,
    /// How many sensitive actions they may perform somewhere (the union over `access`).
    pub sensitive: usize,
    /// Of those, the ones they used in the window somewhere (`None` when usage was analysed
    /// for none of their accounts).
    pub used: Option<Vec<String>>,
    /// Of those, the ones they did not use where the trails would have shown it (`None` as
    /// for `used`).
    pub unused: Option<Vec<String>>,
    /// Their last activity through any of their roles, RFC 3339.
    pub last_activity: Option<String>,
    /// The accounts they can act in, through their roles and the roles those may assume.
    pub blast_radius: Vec<String>,
    /// Privilege-escalation paths that start at one of their roles: `role → target (steps)`.
    pub escalation_paths: Vec<String>,
}

/// One account and permission set a person reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonAccess {
    /// The account.
    pub account: String,
    /// The permission set's name.
    pub permission_set: String,
    /// How: `direct`, or `group:<name>` for each group that gives it.
    pub through: Vec<String>,
    /// The provisioned role's ARN.
    pub role: Option<String>,
    /// `provisioned`, `not-provisioned` (the account has no role of the permission set) or
    /// `no-gaad` (the snapshot has no IAM data of the account).
    pub status: &'static str,
    /// The role is admin-equivalent.
    pub admin_equivalent: bool,
    /// How many sensitive actions the role may perform (the role's row in `principals` lists
    /// them).
    pub sensitive: usize,
    /// Of those, the ones this person used through the role in the window (`None` when usage
    /// was not analysed for the account).
    pub used: Option<Vec<String>>,
    /// Of those, how many this person did not use where the trails would have shown it.
    pub unused: Option<usize>,
    /// Their last activity through the role, RFC 3339.
    pub last_activity: Option<String>,
}

impl PersonAccess {
    /// Whether the person did nothing through this role in the window, on evidence (usage
    /// analysed for the account, role provisioned).
    pub fn idle(&self, window_start: &str) -> bool {
        self.used.is_some()
            && self.status == "provisioned"
            && self
                .last_activity
                .as_deref()
                .is_none_or(|t| t < window_start)
    }
}

/// Every person of `ic`, sorted by user name; `rows` are the scan's principals by ARN.
pub(super) fn report(
    cx: &Context<'_>,
    ic: &IdentityCenter,
    rows: &HashMap<&str, &PrincipalReport>,
    escalation_paths: &[crate::EscalationPath],
) -> Vec<PersonReport> {
    // (user id) → (account, set arn) → how.
    let mut reach: BTreeMap<&str, BTreeMap<(&str, &str), BTreeSet<String>>> = BTreeMap::new();
    for a in &ic.assignments {
        for r in ic.people_of(&a.account, &a.permission_set) {
            let how = r.through.map_or_else(
                || "direct".to_owned(),
                |g| format!("group:{}", g.display_name),
            );
            reach
                .entry(r.user.id.as_str())
                .or_default()
                .entry((a.account.as_str(), a.permission_set.as_str()))
                .or_default()
                .insert(how);
        }
    }
    let window_start = Timestamp(cx.window_start_s);
    let mut people: Vec<PersonReport> = ic
        .users
        .values()
        .map(|user| {
            let mut access = Vec::new();
            let mut unused_by_access: Vec<Option<BTreeSet<String>>> = Vec::new();
            let mut held: BTreeSet<&str> = BTreeSet::new();
            for ((account, set_arn), how) in reach.get(user.id.as_str()).into_iter().flatten() {
                let Some(set) = ic.permission_sets.get(*set_arn) else {
                    continue;
                };
                let assignment = latch_model::identity_center::Assignment {
                    account: (*account).to_owned(),
                    permission_set: (*set_arn).to_owned(),
                    principal: latch_model::identity_center::PrincipalRef::User(user.id.clone()),
                };
                let (role, status) = match ic.role_for(cx.snapshot, &assignment) {
                    RoleOf::Found(r) => (Some(r), "provisioned"),
                    RoleOf::NotProvisioned => (None, "not-provisioned"),
                    RoleOf::NoGaad => (None, "no-gaad"),
                };
                let row = role.and_then(|r| rows.get(r.arn.as_str()).copied());
                let session = role.and_then(|r| {
                    cx.usage_of(account)
                        .and_then(|u| u.principals.get(&r.arn))
                        .and_then(|p| p.sessions.get(&user.user_name))
                });
                let mut used_ids = ActionSet::empty();
                for (name, au) in session.iter().flat_map(|s| s.actions.iter()) {
                    let recent = au.count > 0 && au.last_seen.is_some_and(|t| t >= window_start);
                    if let Some(id) = cx.catalog.resolve(name).filter(|_| recent) {
                        used_ids.insert(id);
                    }
                }
                let used_names: BTreeSet<&str> = used_ids.names().into_iter().collect();
                // What the trails would show of the role: its used and unused actions (the
                // unknown ones are neither).
                let observable: Option<Vec<&String>> = row
                    .filter(|_| cx.usage_of(account).is_some())
                    .and_then(|r| {
                        Some(r.used.as_ref()?.iter().chain(r.unused.as_ref()?).collect())
                    });
                let (used, unused): (Option<Vec<String>>, Option<Vec<&String>>) = match observable {
                    Some(obs) => {
                        let (u, n): (Vec<&String>, Vec<&String>) = obs
                            .into_iter()
                            .partition(|a| used_names.contains(a.as_str()));
                        (Some(sorted(u.into_iter().cloned().collect())), Some(n))
                    }
                    None => (None, None),
                };
                unused_by_access
                    .push(unused.map(|n| n.into_iter().cloned().collect::<BTreeSet<String>>()));
                held.extend(
                    row.iter()
                        .flat_map(|r| r.sensitive_actions.iter().map(String::as_str)),
                );
                access.push(PersonAccess {
                    account: (*account).to_owned(),
                    permission_set: set.name.clone(),
                    through: how.iter().cloned().collect(),
                    role: role.map(|r| r.arn.clone()),
                    status,
                    admin_equivalent: row.is_some_and(|r| r.admin_equivalent),
                    sensitive: row.map_or(0, |r| r.sensitive_actions.len()),
                    used,
                    unused: unused_by_access
                        .last()
                        .and_then(|u| u.as_ref().map(BTreeSet::len)),
                    last_activity: session.and_then(|s| s.last_activity).map(|t| t.to_string()),
                });
            }
            let analysed = access.iter().any(|a| a.used.is_some());
            let used: Option<Vec<String>> = analysed.then(|| {
                access
                    .iter()
                    .flat_map(|a| a.used.iter().flatten().cloned())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()
            });
            // Unused somewhere and used nowhere.
            let unused: Option<Vec<String>> = analysed.then(|| {
                unused_by_access
                    .iter()
                    .flatten()
                    .flatten()
                    .filter(|x| !used.iter().flatten().any(|y| y == *x))
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()
            });
            PersonReport {
                user_name: user.user_name.clone(),
                display_name: user.display_name.clone(),
                id: user.id.clone(),
                active: user.active,
                groups: ic
                    .groups_of(&user.id)
                    .map(|g| g.display_name.clone())
                    .collect(),
                admin_equivalent: access.iter().any(|a| a.admin_equivalent),
                sensitive: held.len(),
                used,
                unused,
                last_activity: access.iter().filter_map(|a| a.last_activity.clone()).max(),
                blast_radius: access
                    .iter()
                    .filter_map(|a| rows.get(a.role.as_deref()?))
                    .flat_map(|r| r.blast_radius.iter().cloned())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                escalation_paths: escalation_paths
                    .iter()
                    .filter(|e| {
                        access
                            .iter()
                            .any(|a| a.role.as_deref() == Some(e.from.as_str()))
                    })
                    .map(|e| {
                        let steps: Vec<&str> = e.steps.iter().map(|s| s.technique.id()).collect();
                        format!("{} → {} ({})", e.from, e.to, steps.join(" → "))
                    })
                    .collect(),
                access,
            }
        })
        .collect();
    people.sort_by(|a, b| a.user_name.cmp(&b.user_name));
    people
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}
