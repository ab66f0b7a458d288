//! Permission sets assigned to nobody: no assignment reaches a person (none at all, or only
//! empty groups). Dead configuration that someone may assign without review.
//!
//! ## Why it is bad
//! A permission set no one uses is configuration nobody reviews: the next assignment hands out
//! whatever it holds, and a permissive one may have been forgotten there on purpose.
//!
//! ## How to fix
//! Delete the permission set, or review what it holds before anyone assigns it.

use super::{Check, Context, Finding, FindingKind, Found, Organization, Severity};

pub(super) struct UnassignedPermissionSet;

impl Check for UnassignedPermissionSet {
    fn organization(&self, cx: &Context<'_>, _org: &Organization<'_>, out: &mut Found) {
        let Some(ic) = &cx.snapshot.identity_center else {
            return;
        };
        for set in ic.permission_sets.values() {
            let reached = ic
                .assignments
                .iter()
                .filter(|a| a.permission_set == set.arn)
                .any(|a| !ic.people_of(&a.account, &a.permission_set).is_empty());
            if reached {
                continue;
            }
            out.push(Finding {
                id: format!("unassigned-permission-set:{}", set.name),
                kind: FindingKind::UnassignedPermissionSet,
                severity: Severity::Low,
                principal: None,
                account: cx
                    .snapshot
                    .management_account_id()
                    .unwrap_or_default()
                    .to_owned(),
                detail: format!(
                    "permission set {} reaches nobody; delete it or assign it on purpose",
                    set.name
                ),
                items: vec![set.arn.clone()],
                usage_unknown: Vec::new(),
            });
        }
    }
}
