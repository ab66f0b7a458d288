//! The region restriction (`regions.allowed`): every action but the global ones
//! ([`super::GLOBAL_ACTIONS`]) denied outside the allowed regions, except to the identities
//! every layer spares.

use std::collections::BTreeSet;

use latch_catalog::{ActionId, PolicyType};

use super::{Ctx, GLOBAL_ACTIONS};
use crate::intent::{Actions, Cond, LayerKind, Rule};

/// The region rule at one target, when regions are restricted.
pub(super) fn rule_at(cx: &Ctx<'_>, target: &str, rules: &mut Vec<Rule>) {
    if cx.cfg.regions.allowed.is_empty() {
        return;
    }
    let global: BTreeSet<ActionId> = GLOBAL_ACTIONS
        .iter()
        .flat_map(|p| cx.catalog.expand_ids(p))
        .collect();
    let mut regions = cx.cfg.regions.allowed.clone();
    regions.sort();
    regions.dedup();
    rules.push(Rule {
        layer: LayerKind::Region,
        kind: PolicyType::Scp,
        target: target.to_owned(),
        actions: Actions::AllExcept(global),
        resources: vec!["*".to_owned()],
        not_resource: false,
        cond: Cond {
            regions_not: regions.clone(),
            arn_not_like: cx.gates.base_arns.iter().cloned().collect(),
            ..Cond::default()
        },
        label: format!("regions other than {}", regions.join(", ")),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use latch_catalog::Catalog;

    #[test]
    fn global_actions_are_known() {
        let c = Catalog::get();
        for p in GLOBAL_ACTIONS {
            assert!(!c.expand_ids(p).is_empty(), "{p} matches nothing");
        }
    }
}
