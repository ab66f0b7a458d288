//! Protect mode: standing exemptions for what was used in the usage window, so that enforcing
//! the plan breaks none of today's calls. Each identity keeps exactly the bundle actions it
//! used (and `iam:PassRole` where a used call passed a role), on the resources its calls named
//! where CloudTrail shows them all, and those IAM's last-accessed data shows it attempted
//! where CloudTrail cannot show their use; an identity that used a quarantined service keeps
//! the service. Every standing exemption says which calls made it necessary.

use std::collections::{BTreeMap, BTreeSet};

use latch_analysis::usage::last_accessed_advice;
use latch_catalog::ActionId;
use latch_contract::UNLOCK_SERVICES_TAG;
use latch_trail::passrole::ROLE_PASSING_ACTIONS;
use latch_trail::{ActionUsage, PrincipalKind as UsageKind, PrincipalUsage, Timestamp};

use super::gates::Gate;
use super::quarantine::{Services, SERVICES_GATE};
use super::resources::{passed_scope, resource_scope};
use super::scoped::Scopes;
use super::who::{is_service_linked, probe_for, userid_of, who_for, Mechanism, Who};
use super::window::Usage;
use super::{Ctx, Exemption, Out, TagAssignment, Tags, UsageWindow};
use crate::config::Mode;

/// Who keeps one action through standing exemptions (protect mode, permission layer).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Keepers {
    pub(super) arns: BTreeSet<String>,
    pub(super) userids: BTreeSet<String>,
}

/// What protect mode keeps, for the rules: who keeps each bundle action, and on which
/// resources those kept on some resources only.
#[derive(Debug, Default)]
pub(super) struct Standing {
    pub(super) keepers: BTreeMap<ActionId, Keepers>,
    pub(super) scopes: Scopes,
}

/// A standing exemption: (layer, gate, identity, person).
type Key = (String, String, String, Option<String>);

/// What one standing exemption keeps.
#[derive(Debug, Default)]
struct Acc {
    actions: BTreeMap<String, (u64, Option<Timestamp>)>,
    /// Actions kept because another used action needs them (`iam:PassRole` → why).
    implied: BTreeMap<String, BTreeSet<String>>,
    /// Actions kept on these resources only (`iam:PassRole` → the roles passed,
    /// `sts:AssumeRole` → the roles assumed, ...).
    scoped: BTreeMap<String, BTreeSet<String>>,
    /// Actions kept on every resource, and why they could not be scoped.
    unscoped: BTreeMap<String, String>,
    mechanism: &'static str,
    value: String,
}

/// One action to keep for an identity: used, or needed by a used one.
#[derive(Debug)]
struct Kept<'u> {
    id: ActionId,
    name: &'u str,
    usage: &'u ActionUsage,
    /// The used action that needs it (`iam:PassRole`, checked inside a role-passing call).
    implied_by: Option<&'u str>,
}

/// Protect mode at work: what it keeps, and what each standing exemption covers.
#[derive(Debug, Default)]
struct Planner {
    standing: Standing,
    exemptions: BTreeMap<Key, Acc>,
}

/// The standing exemptions of protect mode (none without usage or in enforce mode), with why,
/// in `out`; an identity that used a quarantined service gets the unlock tag or a place in the
/// quarantine's gate.
pub(super) fn plan(cx: &Ctx<'_>, services: &mut Services, out: &mut Out) -> Standing {
    let mut p = Planner::default();
    if let (Some(usage), Mode::Protect) = (cx.usage, cx.cfg.mode) {
        p.keep_used(cx, usage, services, out);
        p.keep_attempted(cx, &usage.window);
    }
    for (key, acc) in p.exemptions {
        out.exemptions.insert(exemption(key, acc));
    }
    p.standing
}

impl Planner {
    /// What CloudTrail shows each identity in scope used in the window.
    fn keep_used(
        &mut self,
        cx: &Ctx<'_>,
        usage: Usage<'_>,
        services: &mut Services,
        out: &mut Out,
    ) {
        let w = usage.window;
        let pass_role = cx.catalog.resolve("iam:PassRole");
        let passes_role: BTreeSet<ActionId> = ROLE_PASSING_ACTIONS
            .iter()
            .filter_map(|a| cx.catalog.resolve(a))
            .collect();
        let base_service_gate = services.gate.clone();
        let mut granted: BTreeMap<(String, Option<String>), BTreeSet<String>> = BTreeMap::new();
        for (arn, pu) in &usage.table.principals {
            if !cx.scope.accounts.contains(&pu.account) {
                continue;
            }
            let Some(mut who) = who_for(cx.snapshot, arn, pu.kind) else {
                out.warnings.push(format!(
                    "CloudTrail shows `{arn}` but the snapshot does not have it: its calls were not protected"
                ));
                continue;
            };
            if who.how == Mechanism::Tag && is_service_linked(arn) {
                continue;
            }
            let who0 = who.clone();
            let sets: Vec<(Option<&String>, &BTreeMap<String, ActionUsage>)> =
                if pu.kind == UsageKind::IdentityCenterRole && !pu.sessions.is_empty() {
                    pu.sessions
                        .iter()
                        .map(|(s, su)| (Some(s), &su.actions))
                        .collect()
                } else {
                    vec![(None, &pu.actions)]
                };
            for (session, actions) in sets {
                for (name, au) in actions {
                    if au.count == 0 || !w.contains(au.last_seen) {
                        continue;
                    }
                    let Some(id) = cx.catalog.resolve(name) else {
                        continue;
                    };
                    // What spares the call without any standing exemption (tags it already
                    // carries, break-glass, permanent and Identity Center exemptions).
                    let probe = probe_for(&who0, session.map(String::as_str), Some(id));
                    let have = granted.entry((arn.clone(), session.cloned())).or_default();
                    // Permission layer: the identity keeps exactly the actions it used (and
                    // what they imply), not the whole bundle; a role-passing call also keeps
                    // the `iam:PassRole` it needed (checked inside the call, never logged).
                    let mut kept = vec![Kept {
                        id,
                        name: name.as_str(),
                        usage: au,
                        implied_by: None,
                    }];
                    if passes_role.contains(&id) {
                        if let Some(pr) = pass_role {
                            kept.push(Kept {
                                id: pr,
                                name: "iam:PassRole",
                                usage: au,
                                implied_by: Some(name.as_str()),
                            });
                        }
                    }
                    for k in &kept {
                        self.keep(cx, &who0, session, k);
                    }
                    // Service layer.
                    let service = name
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    if services.quarantines(&pu.account, &service)
                        && !base_service_gate.spares(&probe)
                    {
                        if have.insert(SERVICES_GATE.to_owned()) {
                            exempt(&mut who, session, &mut services.gate, &mut out.tags);
                        }
                        self.record_service(&who, session, name, au);
                    }
                }
            }
            if who0.how != Mechanism::UserId {
                self.scope_passed_roles(cx, arn, pu, &w);
            }
            self.scope_resources(cx, arn, pu, &who0, &w);
        }
    }

    /// IAM's last-accessed data: an action whose use CloudTrail cannot show and that the
    /// identity attempted in the window (`latch_analysis::usage::last_accessed_advice`) is
    /// kept too — on every resource, as the report names none.
    fn keep_attempted(&mut self, cx: &Ctx<'_>, w: &UsageWindow) {
        for account in cx.snapshot.accounts.values() {
            if !cx.scope.accounts.contains(&account.id) {
                continue;
            }
            let Some(la) = &account.last_accessed else {
                continue;
            };
            let mut hidden = cx.observability.unknown_in(&account.id).clone();
            hidden.union_with(cx.observability.never_recorded());
            for (arn, access) in &la.principals {
                let advice = last_accessed_advice(access, w.since.0 * 1000, w.until.0 * 1000 - 1);
                let mut extra = advice.used;
                extra.intersect_with(&hidden);
                if extra.is_empty() {
                    continue;
                }
                let kind = if arn.contains(":user/") {
                    UsageKind::User
                } else {
                    UsageKind::Role
                };
                let Some(who) = who_for(cx.snapshot, arn, kind) else {
                    continue;
                };
                if who.how == Mechanism::Tag && is_service_linked(arn) {
                    continue;
                }
                for id in extra.ids() {
                    let Some(info) = cx.catalog.action_by_id(id) else {
                        continue;
                    };
                    let name = info.full_name().to_owned();
                    let at = access
                        .services
                        .values()
                        .filter_map(|s| s.actions.get(&name))
                        .map(|t| Timestamp(t.epoch_millis.div_euclid(1000)))
                        .max();
                    let au = ActionUsage {
                        last_seen: at,
                        ..ActionUsage::default()
                    };
                    let kept = Kept {
                        id,
                        name: &name,
                        usage: &au,
                        implied_by: None,
                    };
                    self.keep(cx, &who, None, &kept);
                }
            }
        }
    }

    /// Keeps one used action (or one it implies) of a bundle for the identity that used it: a
    /// standing exemption from the permission layer for exactly that action, unless a grant,
    /// break-glass, permanent or Identity Center exemption already spares the call.
    fn keep(&mut self, cx: &Ctx<'_>, who: &Who, session: Option<&String>, kept: &Kept<'_>) {
        let Some(bundles) = cx.gates.action_bundles.get(&kept.id) else {
            return;
        };
        let probe = probe_for(who, session.map(String::as_str), Some(kept.id));
        if bundles
            .iter()
            .any(|b| cx.gates.bundles.get(b).is_some_and(|g| g.spares(&probe)))
        {
            return;
        }
        let k = self.standing.keepers.entry(kept.id).or_default();
        let (mechanism, value) = match who.how {
            Mechanism::UserId => {
                let Some(u) = userid_of(who, session.map(String::as_str)) else {
                    return;
                };
                k.userids.insert(u.clone());
                ("userid", u)
            }
            Mechanism::Tag | Mechanism::Arn => {
                k.arns.insert(who.arn.clone());
                ("principal-arn", who.arn.clone())
            }
        };
        // The smallest bundle holding the action names the exemption (for people).
        let gate = bundles
            .iter()
            .min_by_key(|b| {
                (
                    cx.cfg
                        .bundles
                        .get(b.as_str())
                        .map_or(usize::MAX, |b| b.actions.len()),
                    (*b).clone(),
                )
            })
            .cloned()
            .unwrap_or_default();
        let acc = self
            .exemptions
            .entry((
                "permission".to_owned(),
                gate,
                who.arn.clone(),
                session.cloned(),
            ))
            .or_default();
        acc.mechanism = mechanism;
        acc.value = value;
        let e = acc.actions.entry(kept.name.to_owned()).or_insert((0, None));
        e.0 += kept.usage.count;
        e.1 = e.1.max(kept.usage.last_seen);
        if let Some(by) = kept.implied_by {
            acc.implied
                .entry(kept.name.to_owned())
                .or_default()
                .insert(by.to_owned());
        }
    }

    /// Records a used action of a quarantined service on the identity's standing exemption
    /// from the service quarantine.
    fn record_service(
        &mut self,
        who: &Who,
        session: Option<&String>,
        action: &str,
        au: &ActionUsage,
    ) {
        let acc = self
            .exemptions
            .entry((
                "service".to_owned(),
                SERVICES_GATE.to_owned(),
                who.arn.clone(),
                session.cloned(),
            ))
            .or_default();
        let (mechanism, value) = match who.how {
            Mechanism::Tag => ("tag", UNLOCK_SERVICES_TAG.to_owned()),
            Mechanism::UserId => (
                "userid",
                userid_of(who, session.map(String::as_str)).unwrap_or_default(),
            ),
            Mechanism::Arn => ("principal-arn", who.arn.clone()),
        };
        acc.mechanism = mechanism;
        acc.value = value;
        let e = acc.actions.entry(action.to_owned()).or_insert((0, None));
        e.0 += au.count;
        e.1 = e.1.max(au.last_seen);
    }

    /// `iam:PassRole` kept because of `arn`'s role-passing calls: only on the roles those
    /// calls passed, when every one of them named a role the snapshot knows.
    fn scope_passed_roles(
        &mut self,
        cx: &Ctx<'_>,
        arn: &String,
        pu: &PrincipalUsage,
        w: &UsageWindow,
    ) {
        for ((_, _, p, sess), acc) in self.exemptions.iter_mut() {
            if p != arn || sess.is_some() {
                continue;
            }
            let Some(by) = acc.implied.get("iam:PassRole") else {
                continue;
            };
            if let Some(roles) = passed_scope(cx.snapshot, pu, by, w) {
                self.standing
                    .scopes
                    .passed
                    .entry(roles.clone())
                    .or_default()
                    .insert(arn.clone());
                acc.scoped.insert("iam:PassRole".to_owned(), roles);
            }
        }
    }

    /// Every other action kept for `arn`: only on the resources its calls named, where
    /// CloudTrail shows them all; otherwise on every resource, and the plan says why.
    fn scope_resources(
        &mut self,
        cx: &Ctx<'_>,
        arn: &String,
        pu: &PrincipalUsage,
        who: &Who,
        w: &UsageWindow,
    ) {
        for ((_, _, p, sess), acc) in self.exemptions.iter_mut() {
            if p != arn {
                continue;
            }
            let direct: Vec<String> = acc
                .actions
                .keys()
                .filter(|a| !acc.implied.contains_key(*a) && !acc.scoped.contains_key(*a))
                .cloned()
                .collect();
            for action in direct {
                // What the calls named: this person's, for one person of an Identity
                // Center role; the principal's otherwise.
                let named = match sess {
                    Some(s) => pu.sessions.get(s).map(|su| &su.resources),
                    None => Some(&pu.resources),
                };
                let scope = named.map_or_else(
                    || {
                        Err(
                            "on every resource: no call in the window named its resource"
                                .to_owned(),
                        )
                    },
                    |n| resource_scope(n, &action, w),
                );
                let (resources, id) = match (scope, cx.catalog.resolve(&action)) {
                    (Ok(r), Some(id)) => (r, id),
                    (Ok(_), None) => continue,
                    (Err(why), _) => {
                        acc.unscoped.insert(action, why);
                        continue;
                    }
                };
                if who.how == Mechanism::UserId {
                    // Sessions are told apart by `aws:userid` (role id and session name).
                    let Some(u) = userid_of(who, sess.as_deref()) else {
                        acc.unscoped.insert(
                            action,
                            "on every resource: the role id of its sessions is unknown".to_owned(),
                        );
                        continue;
                    };
                    self.standing
                        .scopes
                        .sessions
                        .entry((id, resources.clone()))
                        .or_default()
                        .insert(u);
                } else {
                    self.standing
                        .scopes
                        .resources
                        .entry((id, resources.clone()))
                        .or_default()
                        .insert(arn.clone());
                }
                acc.scoped.insert(action, resources);
            }
        }
    }
}

/// Exempts `who` from the service quarantine: the unlock tag on a user or role, its
/// `aws:userid` or its ARN in the quarantine's gate otherwise.
fn exempt(who: &mut Who, session: Option<&String>, gate: &mut Gate, tags: &mut Tags) {
    let tag_key = UNLOCK_SERVICES_TAG;
    match who.how {
        Mechanism::Tag => {
            who.tags
                .insert(tag_key.to_ascii_lowercase(), "standing".to_owned());
            tags.entry((who.arn.clone(), tag_key.to_owned()))
                .or_insert_with(|| TagAssignment {
                    principal_arn: who.arn.clone(),
                    key: tag_key.to_owned(),
                    value: "standing".to_owned(),
                    reason: "protect mode: standing exemption for actions used in the usage window (see exemptions)".to_owned(),
                });
        }
        Mechanism::UserId => {
            if let Some(u) = userid_of(who, session.map(String::as_str)) {
                gate.userids.insert(u);
            }
        }
        Mechanism::Arn => {
            gate.arns.insert(who.arn.clone());
        }
    }
}

/// The standing exemption `acc` stands for, naming the calls behind each action it keeps.
fn exemption((layer, gate, principal, session): Key, acc: Acc) -> Exemption {
    let used: Vec<String> = acc
        .actions
        .iter()
        .map(|(a, (n, last))| {
            let last = last.map_or_else(|| "?".to_owned(), |t| t.to_string());
            let passed = acc.implied.contains_key(a);
            let only = match (acc.scoped.get(a), acc.unscoped.get(a)) {
                (Some(r), _) => format!(
                    "; only on {}, the {} those calls {}",
                    r.iter().cloned().collect::<Vec<_>>().join(", "),
                    if passed { "roles" } else { "resources" },
                    if passed { "passed" } else { "named" },
                ),
                (None, Some(why)) => format!("; {why}"),
                (None, None) => String::new(),
            };
            // No call behind it: kept on IAM's last-accessed data alone.
            if *n == 0 {
                return format!(
                    "{a} (attempted per IAM's last-accessed data, last {last}; CloudTrail does not show it; on every resource, as the report names none)"
                );
            }
            match acc.implied.get(a) {
                Some(by) => format!(
                    "{a} (checked inside {}: {n} calls, last {last}; CloudTrail does not record it{only})",
                    by.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
                None => format!("{a} ({n} calls, last {last}{only})"),
            }
        })
        .collect();
    Exemption {
        kind: "standing".to_owned(),
        layer,
        gate,
        principal,
        session,
        mechanism: acc.mechanism.to_owned(),
        value: acc.value,
        actions: acc.actions.keys().cloned().collect(),
        reason: format!(
            "protect mode: used in the usage window: {}",
            used.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latch_catalog::Catalog;

    #[test]
    fn role_passing_actions_are_known() {
        let c = Catalog::get();
        for a in ROLE_PASSING_ACTIONS {
            assert!(c.resolve(a).is_some(), "{a} is not in the catalog");
        }
    }
}
