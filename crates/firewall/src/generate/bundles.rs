//! The permission layer: one rule per group of actions that the same bundles hold and the
//! same identities keep (protect mode), denying them to everyone but those the bundles' gates
//! spare and those keepers. Keepers too many to name carry the group's keep tag; keepers too
//! many for one statement at a target are named in a rule of each of their accounts.

use std::collections::{BTreeMap, BTreeSet};

use latch_catalog::{ActionId, PolicyType};

use super::keep_tags::{keep_tag_key, tag_keepers};
use super::protect::Keepers;
use super::{Ctx, Tags};
use crate::intent::{Actions, Cond, LayerKind, Rule};
use crate::org::OrgShape;

/// The bundles holding a group of actions, and who keeps those actions in protect mode.
type Group = (Vec<String>, Keepers);

/// The permission layer's groups, ready for their rules.
#[derive(Debug)]
pub(super) struct Bundles<'a> {
    /// One rule per (bundles holding the actions, identities keeping them in protect mode).
    groups: Vec<(Group, BTreeSet<ActionId>)>,
    /// Group (by index) → the keep tag its keepers carry, and how many keep the group.
    keep_tags: BTreeMap<usize, (String, usize)>,
    /// Role id → account: where the people of an Identity Center role (named by
    /// `aws:userid`, `ROLEID:session`) belong.
    role_accounts: BTreeMap<&'a str, &'a str>,
}

impl<'a> Bundles<'a> {
    /// Groups the bundles' actions by who holds and keeps them, and tags the keepers too many
    /// to name: past half a policy in one account, the identities that keep a group of actions
    /// each carry the group's own tag (`latch:keep:<hash of the actions>`) and the rule checks
    /// it, so its size no longer grows with them. Root users and identities without room for
    /// another tag stay named.
    pub(super) fn plan(
        cx: &Ctx<'a>,
        keepers: &BTreeMap<ActionId, Keepers>,
        tags: &mut Tags,
    ) -> Bundles<'a> {
        let mut groups: Vec<(Group, BTreeSet<ActionId>)> = {
            let mut groups: BTreeMap<Group, BTreeSet<ActionId>> = BTreeMap::new();
            for (a, bs) in &cx.gates.action_bundles {
                let mut bs = bs.clone();
                bs.sort();
                bs.dedup();
                let k = keepers.get(a).cloned().unwrap_or_default();
                groups.entry((bs, k)).or_default().insert(*a);
            }
            groups.into_iter().collect()
        };
        let scp_limit = cx.cfg.limits.chars(PolicyType::Scp);
        let mut keep_tags: BTreeMap<usize, (String, usize)> = BTreeMap::new();
        for (i, ((_, keep), actions)) in groups.iter_mut().enumerate() {
            if !too_many_to_name(&cx.org, &keep.arns, scp_limit) {
                continue;
            }
            let names: Vec<&str> = actions
                .iter()
                .filter_map(|a| cx.catalog.action_by_id(*a))
                .map(|a| a.full_name())
                .collect();
            let mut key = keep_tag_key(&names);
            while keep_tags.values().any(|(k, _)| *k == key) {
                key.push('x');
            }
            let total = keep.arns.len();
            let reason = format!(
                "protect mode: standing exemption for {} (used in the usage window); too many identities keep them to name each in the policy",
                names.join(", ")
            );
            let named = tag_keepers(cx.snapshot, &keep.arns, &key, &reason, tags);
            keep.arns = named;
            keep_tags.insert(i, (key, total));
        }
        let role_accounts = cx
            .snapshot
            .principals()
            .filter(|p| p.as_role().is_some())
            .map(|p| (p.id(), p.account_id()))
            .collect();
        Bundles {
            groups,
            keep_tags,
            role_accounts,
        }
    }

    /// Whether a group's keepers carry the tag `key`.
    pub(super) fn has_keep_tag(&self, key: &str) -> bool {
        self.keep_tags.values().any(|(k, _)| *k == key)
    }

    /// The rules of every group at one target (and, for a group whose keepers are too many
    /// for one statement there, at each of their accounts).
    pub(super) fn rules_at(&self, cx: &Ctx<'_>, target: &str, rules: &mut Vec<Rule>) {
        for (i, ((bundles, keep), actions)) in self.groups.iter().enumerate() {
            let mut arns = keep.arns.clone();
            let mut gate_userids: BTreeSet<String> = BTreeSet::new();
            let mut tags = Vec::new();
            let mut kept_by = keep.arns.len() + keep.userids.len();
            if let Some((key, total)) = self.keep_tags.get(&i) {
                tags.push(key.clone());
                kept_by = total + keep.userids.len();
            }
            for b in bundles {
                if let Some(g) = cx.gates.bundles.get(b) {
                    arns.extend(g.arns.iter().cloned());
                    gate_userids.extend(g.userids.iter().cloned());
                    tags.extend(g.grant_tags.iter().cloned());
                }
            }
            tags.sort();
            tags.dedup();
            let label = if kept_by == 0 {
                format!("bundle {}", bundles.join(" + "))
            } else {
                format!(
                    "bundle {} (kept by {kept_by} identities that used these actions)",
                    bundles.join(" + "),
                )
            };
            // Who keeps the actions is named by ARN (users and roles) or by `aws:userid`
            // (the people of Identity Center roles); a rule gets both kinds of a list.
            let rule = |at: &str, named: Vec<String>, accounts_not: Vec<String>, label| {
                let (arns, people): (Vec<String>, Vec<String>) =
                    named.into_iter().partition(|n| n.starts_with("arn:"));
                let mut uids: Vec<String> = gate_userids.iter().cloned().collect();
                uids.extend(people);
                uids.sort();
                uids.dedup();
                Rule {
                    layer: LayerKind::Permission,
                    kind: PolicyType::Scp,
                    target: at.to_owned(),
                    actions: Actions::Only(actions.clone()),
                    resources: vec!["*".to_owned()],
                    not_resource: false,
                    cond: Cond {
                        absent_tags: tags.clone(),
                        arn_not_like: arns,
                        userid_not_like: uids,
                        accounts_not,
                        ..Cond::default()
                    },
                    label,
                }
            };
            let mut kept: BTreeSet<String> = keep.arns.clone();
            kept.extend(keep.userids.iter().cloned());
            let account_of = |n: &str| -> Option<String> {
                if n.starts_with("arn:") {
                    latch_policy::arn::account(n).map(str::to_owned)
                } else {
                    n.split(':')
                        .next()
                        .and_then(|id| self.role_accounts.get(id))
                        .map(|a| (*a).to_owned())
                }
            };
            let mut everyone: BTreeSet<String> = arns.clone();
            everyone.extend(keep.userids.iter().cloned());
            match split_by_account(
                &cx.org,
                target,
                &kept,
                &account_of,
                cx.cfg.limits.chars(PolicyType::Scp),
            ) {
                None => rules.push(rule(
                    target,
                    everyone.into_iter().collect(),
                    Vec::new(),
                    label,
                )),
                Some(per_account) => {
                    // Too many keepers for one statement at the target: each account with
                    // keepers gets its own rule naming only them, and the target's rule
                    // spares those accounts.
                    let moved: BTreeSet<&String> = per_account.values().flatten().collect();
                    let shared: Vec<String> = everyone
                        .iter()
                        .filter(|a| !moved.contains(a))
                        .cloned()
                        .collect();
                    let accounts: Vec<String> = per_account.keys().cloned().collect();
                    rules.push(rule(target, shared.clone(), accounts, label.clone()));
                    for (account, kept) in per_account {
                        let mut named = shared.clone();
                        named.extend(kept);
                        named.sort();
                        named.dedup();
                        rules.push(rule(&account, named, Vec::new(), label.clone()));
                    }
                }
            }
        }
    }
}

/// Whether the keepers of one bundle rule are too many to name: the ARNs of one account's
/// keepers would take more than half of an SCP's `limit` characters, or all of them would and
/// splitting them by account ([`split_by_account`]) would leave the rule at the top a list of
/// accounts to spare that itself takes more than half (the management account's keepers do
/// not count: SCPs do not govern it).
fn too_many_to_name(org: &OrgShape, keepers: &BTreeSet<String>, limit: usize) -> bool {
    let mut per_account: BTreeMap<&str, usize> = BTreeMap::new();
    for arn in keepers {
        if let Some(a) = latch_policy::arn::account(arn).filter(|a| !org.is_management(a)) {
            *per_account.entry(a).or_default() += arn.len() + 3;
        }
    }
    let total: usize = per_account.values().sum();
    // `"123456789012",` for each account the split spares at the top.
    let spared = per_account.len() * 15;
    per_account.values().any(|&n| n > limit / 2) || (total > limit / 2 && spared > limit / 2)
}

/// The keepers of one bundle rule at `target`, by account, when naming them all in one
/// statement there would take more than half of an SCP's `limit` characters (two such
/// statements fill a policy, and past the limit none can hold one); `None`
/// when they fit, or all belong to one account. Each account's list is short: a rule attached
/// to that account names only its own keepers.
fn split_by_account(
    org: &OrgShape,
    target: &str,
    keepers: &BTreeSet<String>,
    account_of: &dyn Fn(&str) -> Option<String>,
    limit: usize,
) -> Option<BTreeMap<String, Vec<String>>> {
    // `"arn",` for each: what the ArnNotLike list costs in the rendered policy.
    let size: usize = keepers.iter().map(|a| a.len() + 3).sum();
    if size <= limit / 2 {
        return None;
    }
    let under: BTreeSet<String> = org.accounts_under(target).into_iter().collect();
    let mut per_account: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for arn in keepers {
        // SCPs do not govern the management account: its keepers stay where they are.
        if let Some(a) = account_of(arn).filter(|a| under.contains(a) && !org.is_management(a)) {
            per_account.entry(a).or_default().push(arn.clone());
        }
    }
    (per_account.len() > 1).then_some(per_account)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::intent::Probe;

    /// The example organization's shape: root `r-x1y2`, its OUs and accounts.
    fn example_org() -> OrgShape {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/org");
        OrgShape::from_snapshot(&latch_model::load::snapshot(&dir).unwrap())
    }

    fn roles(account: &str, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("arn:aws:iam::{account}:role/deploy-pipeline-{i:03}"))
            .collect()
    }

    #[test]
    fn keepers_too_many_for_one_statement_are_split_by_account() {
        let org = example_org();
        let by_arn = |a: &str| latch_policy::arn::account(a).map(str::to_owned);
        let root = org.root_id.clone();
        let limit = 10_240;
        // 60 roles in each of two accounts, about 60 characters each: 7,000 characters in
        // one list, more than half an SCP.
        let mut many: BTreeSet<String> = roles("300000000004", 60).into_iter().collect();
        many.extend(roles("400000000006", 60));
        let split = split_by_account(&org, &root, &many, &by_arn, limit).unwrap();
        assert_eq!(
            split.keys().collect::<Vec<_>>(),
            ["300000000004", "400000000006"]
        );
        assert!(split.values().all(|v| v.len() == 60));
        assert!(split
            .iter()
            .all(|(a, v)| v.iter().all(|arn| arn.contains(&format!("::{a}:")))));
        // Keepers in the management account, which SCPs do not govern, get no statement of
        // their own.
        let mut with_management = many.clone();
        with_management.extend(roles("100000000001", 60));
        let split = split_by_account(&org, &root, &with_management, &by_arn, limit).unwrap();
        assert!(!split.contains_key("100000000001"));
        assert_eq!(split.len(), 2);
        // A few keepers stay at the target.
        let few: BTreeSet<String> = roles("300000000004", 3)
            .into_iter()
            .chain(roles("400000000006", 3))
            .collect();
        assert!(split_by_account(&org, &root, &few, &by_arn, limit).is_none());
        // Many keepers of one account: splitting would change nothing.
        let one: BTreeSet<String> = roles("300000000004", 200).into_iter().collect();
        assert!(split_by_account(&org, &root, &one, &by_arn, limit).is_none());
        // At an account target, only that account's keepers concern it.
        assert!(split_by_account(&org, "300000000004", &many, &by_arn, limit).is_none());
    }

    #[test]
    fn keepers_are_too_many_to_name_past_half_a_policy_in_one_account_or_in_accounts_spared() {
        let org = example_org();
        let limit = 10_240;
        // Split by account, each account's list fits: named.
        let mut many: BTreeSet<String> = roles("300000000004", 60).into_iter().collect();
        many.extend(roles("400000000006", 60));
        assert!(!too_many_to_name(&org, &many, limit));
        // One account alone past half a policy: tagged.
        let one: BTreeSet<String> = roles("300000000004", 200).into_iter().collect();
        assert!(too_many_to_name(&org, &one, limit));
        // The management account's keepers do not count.
        let management: BTreeSet<String> = roles("100000000001", 200).into_iter().collect();
        assert!(!too_many_to_name(&org, &management, limit));
        // One keeper in each member account, each list short, but the accounts to spare at
        // the top would take more than half of a (small) policy.
        let members: Vec<String> = org
            .accounts_under(&org.root_id)
            .into_iter()
            .filter(|a| !org.is_management(a))
            .collect();
        assert!(members.len() >= 5, "{members:?}");
        let spread: BTreeSet<String> = members.iter().flat_map(|a| roles(a, 1)).collect();
        assert!(!too_many_to_name(&org, &spread, 10_240));
        assert!(too_many_to_name(&org, &spread, 130));
    }

    #[test]
    fn a_rule_sparing_accounts_spares_their_principals_only() {
        let rule = Cond {
            accounts_not: vec!["300000000004".to_owned()],
            ..Cond::default()
        };
        let probe = |arn: &str| Probe {
            principal_arn: arn.to_owned(),
            ..Probe::default()
        };
        assert!(!rule.holds(&probe("arn:aws:iam::300000000004:role/app")));
        assert!(rule.holds(&probe("arn:aws:iam::400000000006:role/app")));
        // An ARN without an account is not spared (fail closed).
        assert!(rule.holds(&probe("not-an-arn")));
    }
}
