//! People deactivated in the identity store who are still assigned: they cannot sign in today,
//! but the assignments come back with the account. Remove them.
//!
//! ## Why it is bad
//! An assignment of a deactivated person is access waiting to come back: reactivating the user,
//! or re-creating one with the same name through SCIM, restores everything at once, with no
//! review.
//!
//! ## How to fix
//! Remove the person's account assignments and group memberships in IAM Identity Center, or
//! delete the user when they have left.

use super::{Check, Context, Finding, FindingKind, Found, Organization, Severity};

pub(super) struct InactivePersonAssigned;

impl Check for InactivePersonAssigned {
    fn organization(&self, _cx: &Context<'_>, org: &Organization<'_>, out: &mut Found) {
        for p in org
            .people
            .iter()
            .filter(|p| p.active == Some(false) && !p.access.is_empty())
        {
            out.push(Finding {
                id: format!("inactive-person-assigned:{}", p.user_name),
                kind: FindingKind::InactivePersonAssigned,
                severity: if p.admin_equivalent {
                    Severity::High
                } else {
                    Severity::Medium
                },
                principal: Some(p.user_name.clone()),
                account: String::new(),
                detail: format!(
                    "is deactivated in the identity store but still reaches {} account/permission-set pair{}; remove the assignments",
                    p.access.len(),
                    super::plural(p.access.len())
                ),
                items: p
                    .access
                    .iter()
                    .map(|a| format!("{}/{}", a.account, a.permission_set))
                    .collect(),
                usage_unknown: Vec::new(),
            });
        }
    }
}
