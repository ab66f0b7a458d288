//! Which resources protect mode keeps an action on: the roles that role-passing calls passed
//! (for `iam:PassRole`, which CloudTrail never logs) and the resources other calls named —
//! only when CloudTrail shows every one; otherwise why the action is kept on every resource.

use std::collections::{BTreeMap, BTreeSet};

use latch_model::Snapshot;
use latch_trail::passrole::INSTANCE_PROFILE_PREFIX;
use latch_trail::{ActionUsage, PrincipalUsage};

use super::UsageWindow;

/// The role ARNs that `pu`'s role-passing calls `by` passed in the window, when every one of
/// those calls named a role that the snapshot resolves (an instance profile to its role, a
/// role name to the role of the caller's account); `None` otherwise — then `iam:PassRole` is
/// kept on every role, as CloudTrail cannot say which.
pub(super) fn passed_scope(
    snapshot: &Snapshot,
    pu: &PrincipalUsage,
    by: &BTreeSet<String>,
    w: &UsageWindow,
) -> Option<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for action in by {
        let roles = pu.passed_roles.get(action)?;
        for (role, u) in roles {
            if u.count == 0 || !w.contains(u.last_seen) {
                continue;
            }
            out.extend(resolve_passed(snapshot, &pu.account, role)?);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The resources `pu`'s calls of `action` named in the window, when CloudTrail shows one for
/// every call ([`latch_trail::resources`]); otherwise why the action cannot be scoped.
pub(super) fn resource_scope(
    named: &BTreeMap<String, BTreeMap<String, ActionUsage>>,
    action: &str,
    w: &UsageWindow,
) -> Result<BTreeSet<String>, String> {
    if latch_trail::resources::naming(action).is_none() {
        return Err(
            "on every resource: CloudTrail does not show which resource its calls used".to_owned(),
        );
    }
    let mut out = BTreeSet::new();
    let mut unnamed = 0;
    for (resource, u) in named.get(action).into_iter().flatten() {
        if u.count == 0 || !w.contains(u.last_seen) {
            continue;
        }
        if resource.is_empty() {
            unnamed += u.count;
        } else {
            out.insert(resource.clone());
        }
    }
    if unnamed > 0 {
        return Err(format!(
            "on every resource: {unnamed} of its calls named no resource CloudTrail shows"
        ));
    }
    if out.is_empty() {
        return Err("on every resource: no call in the window named its resource".to_owned());
    }
    Ok(out)
}

/// A role as a request names it → role ARNs in the snapshot.
fn resolve_passed(snapshot: &Snapshot, account: &str, named: &str) -> Option<Vec<String>> {
    let roles_of = |acct: String| {
        snapshot
            .principals()
            .filter(move |p| p.account_id() == acct)
            .filter_map(|p| p.as_role())
    };
    if let Some(profile) = named.strip_prefix(INSTANCE_PROFILE_PREFIX) {
        let acct = latch_policy::arn::account(profile).unwrap_or(account);
        let name = profile.rsplit('/').next().unwrap_or(profile);
        let found: Vec<String> = roles_of(acct.to_owned())
            .filter(|r| r.instance_profiles.iter().any(|ip| ip.name == name))
            .map(|r| r.arn.clone())
            .collect();
        return (!found.is_empty()).then_some(found);
    }
    if named.starts_with("arn:") {
        return named.contains(":role/").then(|| vec![named.to_owned()]);
    }
    if named.is_empty() {
        return None;
    }
    roles_of(account.to_owned())
        .find(|r| r.name == named)
        .map(|r| vec![r.arn.clone()])
}
