//! Tamper protection: nobody but the control plane may set `latch:*` tags on users and roles
//! or pass them as session tags (which would grant any bundle), touch the control-plane role,
//! or take an account out of the organization.

use std::collections::BTreeSet;

use latch_catalog::{AccessLevel, ActionId, PolicyType};

use super::Ctx;
use crate::intent::{latch_key_patterns, Actions, Cond, LayerKind, Rule};

/// The tamper-protection rules at one target, unless tamper protection is off.
pub(super) fn rules_at(cx: &Ctx<'_>, target: &str, rules: &mut Vec<Rule>) {
    if !cx.cfg.tamper_protection.enabled {
        return;
    }
    let catalog = cx.catalog;
    let cp = cx.cfg.control_plane.role_arn.as_str();
    let ids = |names: &[&str]| -> BTreeSet<ActionId> {
        names.iter().filter_map(|n| catalog.resolve(n)).collect()
    };
    let only_cp = vec![cp.to_owned()];
    let keys = latch_key_patterns();
    let tag_cond = Cond {
        tag_keys_like: keys,
        arn_not_like: only_cp.clone(),
        ..Cond::default()
    };
    // Every IAM action on a role that is not a read: changing, tagging, passing, deleting
    // or (re)creating the control-plane role.
    let role_writes: BTreeSet<ActionId> = catalog
        .service("iam")
        .map(|s| {
            s.action_ids()
                .filter(|id| {
                    catalog.action_by_id(*id).is_some_and(|a| {
                        !matches!(a.access_level(), AccessLevel::Read | AccessLevel::List)
                            && a.resource_types().iter().any(|r| r.name == "role")
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = vec![
        Rule {
            layer: LayerKind::Tamper,
            kind: PolicyType::Scp,
            target: target.to_owned(),
            actions: Actions::Only(ids(&[
                "iam:TagRole",
                "iam:TagUser",
                "iam:UntagRole",
                "iam:UntagUser",
                "iam:CreateRole",
                "iam:CreateUser",
                "sts:TagSession",
            ])),
            resources: vec!["*".to_owned()],
            not_resource: false,
            cond: tag_cond.clone(),
            label: "latch:* tags on users and roles, and latch:* session tags".to_owned(),
        },
        Rule {
            layer: LayerKind::Tamper,
            kind: PolicyType::Rcp,
            target: target.to_owned(),
            actions: Actions::Only(ids(&["sts:TagSession"])),
            resources: vec!["*".to_owned()],
            not_resource: false,
            cond: tag_cond,
            label: "latch:* session tags, on the STS side (also federated sessions)".to_owned(),
        },
        Rule {
            layer: LayerKind::Tamper,
            kind: PolicyType::Scp,
            target: target.to_owned(),
            actions: Actions::Only(role_writes),
            resources: vec![cp.to_owned()],
            not_resource: false,
            cond: Cond {
                arn_not_like: only_cp.clone(),
                ..Cond::default()
            },
            label: "the control-plane role".to_owned(),
        },
        Rule {
            layer: LayerKind::Tamper,
            kind: PolicyType::Scp,
            target: target.to_owned(),
            actions: Actions::Only(ids(&["organizations:LeaveOrganization"])),
            resources: vec!["*".to_owned()],
            not_resource: false,
            cond: Cond {
                arn_not_like: only_cp,
                ..Cond::default()
            },
            label: "leaving the organization".to_owned(),
        },
    ];
    out.retain(|r| !matches!(&r.actions, Actions::Only(s) if s.is_empty()));
    rules.extend(out);
}
