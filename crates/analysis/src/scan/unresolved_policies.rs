//! Unresolved policies: managed policies attached to a principal that the snapshot does not
//! hold, so its permissions are only partly known.
//!
//! ## Why it is bad
//! Latch cannot see the policy, so it cannot tell what the identity may do: every conclusion
//! about it (its sensitive actions, its escalation paths) may be wrong in either direction.
//!
//! ## How to fix
//! Collect the snapshot again with permission to read the policy (`iam:GetPolicy`,
//! `iam:GetPolicyVersion` in the account that owns it), or detach a policy that no longer
//! exists.

use super::principal::Facts;
use super::{Check, Context, Finding, FindingKind, Found, Severity};

pub(super) struct Unresolved;

impl Check for Unresolved {
    fn principal(&self, _cx: &Context<'_>, f: &Facts<'_>, out: &mut Found) {
        if f.unresolved.is_empty() {
            return;
        }
        let p = &f.principal;
        let n = f.unresolved.len();
        let detail = format!(
            "{n} managed polic{} could not be resolved; permissions are only partly known",
            if n == 1 { "y" } else { "ies" }
        );
        out.push(Finding {
            items: f.unresolved.iter().map(|s| (*s).to_owned()).collect(),
            ..Finding::about(FindingKind::UnresolvedPolicies, p, Severity::Low, detail)
        });
    }
}
