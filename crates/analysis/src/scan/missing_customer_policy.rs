//! Customer managed policies a permission set names (as a policy or as its boundary) that an
//! account it is assigned on does not have: AWS refuses to provision the permission set there
//! ("the policy must exist in each account"), so the people assigned get nothing or stale
//! permissions.
//!
//! ## Why it is bad
//! AWS refuses to provision the permission set in that account, so the people assigned there
//! get nothing or keep a stale copy of the permission set, and nobody is told.
//!
//! ## How to fix
//! Create the customer managed policy, with the same name and path, in every account the
//! permission set is assigned to (a StackSet does this), then reprovision the permission set;
//! or remove the policy reference from the permission set.

use std::collections::BTreeSet;

use latch_model::identity_center::Boundary;

use super::{Check, Context, Finding, FindingKind, Found, Organization, Severity};

pub(super) struct MissingCustomerPolicy;

impl Check for MissingCustomerPolicy {
    fn organization(&self, cx: &Context<'_>, _org: &Organization<'_>, out: &mut Found) {
        let Some(ic) = &cx.snapshot.identity_center else {
            return;
        };
        let pairs: BTreeSet<(&str, &str)> = ic
            .assignments
            .iter()
            .map(|a| (a.account.as_str(), a.permission_set.as_str()))
            .collect();
        for (account, set_arn) in pairs {
            let (Some(set), Some(acct)) = (
                ic.permission_sets.get(set_arn),
                cx.snapshot.account(account),
            ) else {
                continue;
            };
            let boundary = match &set.permissions_boundary {
                Some(Boundary::CustomerManaged(r)) => Some(r),
                _ => None,
            };
            for r in set.customer_managed_policies.iter().chain(boundary) {
                let arn = r.arn_in(account);
                if acct.managed_policies.contains_key(&arn) {
                    continue;
                }
                out.push(Finding {
                    id: format!("missing-customer-policy:{account}:{}:{}{}", set.name, r.path, r.name),
                    kind: FindingKind::MissingCustomerPolicy,
                    severity: Severity::Medium,
                    principal: None,
                    account: account.to_owned(),
                    detail: format!(
                        "permission set {} names the customer managed policy {}{} that account {account} does not have: AWS cannot provision it there",
                        set.name, r.path, r.name
                    ),
                    items: vec![arn],
                    usage_unknown: Vec::new(),
                });
            }
        }
    }
}
