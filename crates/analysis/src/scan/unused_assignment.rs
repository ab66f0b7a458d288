//! Unused assignments: a person who can reach an account through a permission set and did
//! nothing through it in the window ("alice can reach prod as AdministratorAccess and has not
//! in 90 days"). Only where usage counts for the account and the role is provisioned.
//!
//! ## Why it is bad
//! An assignment no one uses is a standing door into the account: the person, or whoever takes
//! over their session, can still walk through it with the permission set's full rights.
//!
//! ## How to fix
//! Remove the assignment, and grant the access on demand when the person needs it again.

use super::{Check, Context, Finding, FindingKind, Found, Organization, Severity};

pub(super) struct UnusedAssignment;

impl Check for UnusedAssignment {
    fn organization(&self, cx: &Context<'_>, org: &Organization<'_>, out: &mut Found) {
        let start = latch_trail::Timestamp(cx.window_start_s).to_string();
        for p in org.people {
            for a in p.access.iter().filter(|a| a.idle(&start)) {
                let severity = if a.admin_equivalent {
                    Severity::High
                } else if a.sensitive > 0 {
                    Severity::Medium
                } else {
                    Severity::Low
                };
                out.push(Finding {
                    id: format!(
                        "unused-assignment:{}:{}:{}",
                        p.user_name, a.account, a.permission_set
                    ),
                    kind: FindingKind::UnusedAssignment,
                    severity,
                    principal: Some(p.user_name.clone()),
                    account: a.account.clone(),
                    detail: format!(
                        "can reach {} as {} ({}{}) and did not in {} days; remove the assignment",
                        a.account,
                        a.permission_set,
                        a.through.join(", "),
                        if a.admin_equivalent {
                            ", admin-equivalent"
                        } else {
                            ""
                        },
                        cx.opts.window_days
                    ),
                    items: a.role.iter().cloned().collect(),
                    usage_unknown: Vec::new(),
                });
            }
        }
    }
}
