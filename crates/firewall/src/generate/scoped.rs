//! Actions kept on some resources only (protect mode): `iam:PassRole` on the roles its calls
//! passed, other actions on the resources their calls named. The identities spared by a
//! bundle rule for such an action are denied it on every other resource: named by ARN, by the
//! scope's keep tag when they are too many to name, or by `aws:userid` for the people of an
//! Identity Center role.

use std::collections::{BTreeMap, BTreeSet};

use latch_catalog::{ActionId, PolicyType};

use super::bundles::Bundles;
use super::keep_tags::{keep_tag_key, tag_keepers};
use super::{Ctx, Tags};
use crate::intent::{Actions, Cond, LayerKind, Rule};

/// The scopes protect mode keeps actions on.
#[derive(Debug, Default)]
pub(super) struct Scopes {
    /// Roles passed → identities that keep `iam:PassRole` on exactly those roles.
    pub(super) passed: BTreeMap<BTreeSet<String>, BTreeSet<String>>,
    /// (Action, resources its calls named) → identities that keep it on exactly those.
    pub(super) resources: BTreeMap<(ActionId, BTreeSet<String>), BTreeSet<String>>,
    /// The same for the people of Identity Center roles: (action, resources) → `aws:userid`
    /// patterns (role id and session name) that keep it on exactly those.
    pub(super) sessions: BTreeMap<(ActionId, BTreeSet<String>), BTreeSet<String>>,
}

/// The scoped exemptions, ready for their rules.
#[derive(Debug)]
pub(super) struct Scoped {
    pass_role: Option<ActionId>,
    scopes: Scopes,
    /// (Action, resources) → the scope's keep tag and who stays named, for the scopes whose
    /// keepers are too many to name.
    scope_tags: BTreeMap<(ActionId, BTreeSet<String>), (String, BTreeSet<String>)>,
}

impl Scoped {
    /// Tags the identities that keep an action on some resources only, past half a policy of
    /// them: they carry a tag of that scope and its statement checks the tag.
    pub(super) fn plan(
        cx: &Ctx<'_>,
        scopes: Scopes,
        bundles: &Bundles<'_>,
        tags: &mut Tags,
    ) -> Scoped {
        let pass_role = cx.catalog.resolve("iam:PassRole");
        let scp_limit = cx.cfg.limits.chars(PolicyType::Scp);
        let mut scope_tags: BTreeMap<(ActionId, BTreeSet<String>), (String, BTreeSet<String>)> =
            BTreeMap::new();
        let scoped = pass_role
            .into_iter()
            .flat_map(|pr| scopes.passed.iter().map(move |(r, w)| ((pr, r.clone()), w)))
            .chain(
                scopes
                    .resources
                    .iter()
                    .map(|((a, r), w)| ((*a, r.clone()), w)),
            )
            .collect::<Vec<_>>();
        for ((action, resources), who) in scoped {
            let cost: usize = who.iter().map(|a| a.len() + 3).sum();
            if cost <= scp_limit / 2 {
                continue;
            }
            let name = cx
                .catalog
                .action_by_id(action)
                .map_or_else(|| "?".to_owned(), |a| a.full_name().to_owned());
            let mut parts: Vec<&str> = vec![name.as_str(), "on"];
            parts.extend(resources.iter().map(String::as_str));
            let mut key = keep_tag_key(&parts);
            while bundles.has_keep_tag(&key) || scope_tags.values().any(|(k, _)| *k == key) {
                key.push('x');
            }
            let reason = format!(
                "protect mode: {name} kept on the resources its calls named only ({} of them); too many identities share that scope to name each in the policy",
                resources.len()
            );
            let named = tag_keepers(cx.snapshot, who, &key, &reason, tags);
            scope_tags.insert((action, resources), (key, named));
        }
        Scoped {
            pass_role,
            scopes,
            scope_tags,
        }
    }

    /// The rules at one target that deny each scoped action on every other resource to who
    /// keeps it.
    pub(super) fn rules_at(&self, cx: &Ctx<'_>, target: &str, rules: &mut Vec<Rule>) {
        // Standing iam:PassRole scoped to the roles passed: the identities spared by the
        // bundle rule are denied passing any other role.
        if let Some((pr, bundles)) = self
            .pass_role
            .and_then(|pr| cx.gates.action_bundles.get(&pr).map(|b| (pr, b)))
        {
            let tags = cx.gates.grant_tags(bundles);
            for (roles, who) in &self.scopes.passed {
                let label = format!(
                    "iam:PassRole kept by {} identities on the roles they passed only",
                    who.len()
                );
                rules.extend(scoped_rules(
                    target,
                    pr,
                    roles.iter().cloned().collect(),
                    &tags,
                    who,
                    self.scope_tags.get(&(pr, roles.clone())),
                    &label,
                ));
            }
        }
        // Standing actions scoped to the resources their calls named: the identities spared
        // by the bundle rule are denied the action on any other resource.
        for ((action, resources), who) in &self.scopes.resources {
            let Some(bundles) = cx.gates.action_bundles.get(action) else {
                continue;
            };
            let tags = cx.gates.grant_tags(bundles);
            let name = cx
                .catalog
                .action_by_id(*action)
                .map_or_else(|| "?".to_owned(), |a| a.full_name().to_owned());
            let label = format!(
                "{name} kept by {} identities on the resources they used only",
                who.len()
            );
            rules.extend(scoped_rules(
                target,
                *action,
                resource_patterns(resources),
                &tags,
                who,
                self.scope_tags.get(&(*action, resources.clone())),
                &label,
            ));
        }
        // The same for the people of Identity Center roles, told apart by `aws:userid`.
        for ((action, resources), sessions) in &self.scopes.sessions {
            let Some(bundles) = cx.gates.action_bundles.get(action) else {
                continue;
            };
            let name = cx
                .catalog
                .action_by_id(*action)
                .map_or_else(|| "?".to_owned(), |a| a.full_name().to_owned());
            rules.push(Rule {
                layer: LayerKind::Permission,
                kind: PolicyType::Scp,
                target: target.to_owned(),
                actions: Actions::Only(BTreeSet::from([*action])),
                resources: resource_patterns(resources),
                not_resource: true,
                cond: Cond {
                    absent_tags: cx.gates.grant_tags(bundles),
                    userid_like: sessions.iter().cloned().collect(),
                    ..Cond::default()
                },
                label: format!(
                    "{name} kept by {} Identity Center sessions on the resources they used only",
                    sessions.len()
                ),
            });
        }
    }
}

/// The statements of one scoped exemption at `target`: `action` denied on every resource but
/// `resources` to the identities `who` keep it for, named by ARN — or, when they are too many
/// to name (`tagged`: the scope's tag and who stays named), to those carrying the tag, and the
/// few still named in a statement of their own.
fn scoped_rules(
    target: &str,
    action: ActionId,
    resources: Vec<String>,
    tags: &[String],
    who: &BTreeSet<String>,
    tagged: Option<&(String, BTreeSet<String>)>,
    label: &str,
) -> Vec<Rule> {
    let variants: Vec<(Vec<String>, Option<String>)> = match tagged {
        None => vec![(who.iter().cloned().collect(), None)],
        Some((key, named)) => {
            let mut out = vec![(Vec::new(), Some(key.clone()))];
            if !named.is_empty() {
                out.push((named.iter().cloned().collect(), None));
            }
            out
        }
    };
    variants
        .into_iter()
        .map(|(arn_like, present_tag)| Rule {
            layer: LayerKind::Permission,
            kind: PolicyType::Scp,
            target: target.to_owned(),
            actions: Actions::Only(BTreeSet::from([action])),
            resources: resources.clone(),
            not_resource: true,
            cond: Cond {
                absent_tags: tags.to_vec(),
                arn_like,
                present_tag,
                ..Cond::default()
            },
            label: label.to_owned(),
        })
        .collect()
}

/// The resource patterns a scoped rule keeps: each ARN, and for a Lambda function its
/// versions and aliases too (`function:name:*`), which IAM matches as separate resources
/// (a qualified function ARN does not match the unqualified one).
fn resource_patterns(resources: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for r in resources {
        out.push(r.clone());
        if r.split(':').nth(2) == Some("lambda") {
            out.push(format!("{r}:*"));
        }
    }
    out
}
