//! External trust: a role whose trust policy lets an AWS principal outside the organization
//! assume it (an account id or an ARN of an account the snapshot does not hold).
//!
//! ## Why it is bad
//! Whoever controls the trusted account can act in yours with the role's permissions, and you
//! do not see or control who that is. A vendor's breach, or an account that changed hands,
//! becomes yours.
//!
//! ## How to fix
//! Keep the trust only for a vendor you know: require `sts:ExternalId` for third parties,
//! narrow the trusted principal to one role rather than the account root, and remove trust to
//! accounts no one can name. Deny `sts:AssumeRole` from outside the organization with an RCP
//! (`aws:PrincipalOrgID`) where no vendor needs it.

use std::collections::BTreeSet;

use latch_policy::document::{Effect, PrincipalType};

use super::principal::Facts;
use super::{Check, Context, Finding, FindingKind, Found, Severity};

pub(super) struct ExternalTrust;

impl Check for ExternalTrust {
    fn principal(&self, cx: &Context<'_>, f: &Facts<'_>, out: &mut Found) {
        let p = &f.principal;
        let Some(role) = p.as_role() else {
            return;
        };
        let trust = &role.trust_policy.policy;
        let mut external = BTreeSet::new();
        for st in &trust.statements {
            let Some(pr) = &st.principal else { continue };
            if st.effect != Effect::Allow || pr.negated {
                continue;
            }
            let aws = pr.entries.iter().filter(|(k, _)| *k == PrincipalType::Aws);
            for v in aws.flat_map(|(_, values)| values) {
                let account = if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
                    Some(v.as_str())
                } else {
                    latch_policy::arn::account(v)
                };
                if account.is_some_and(|a| !cx.snapshot.is_internal_account(a)) {
                    external.insert(v.clone());
                }
            }
        }
        if external.is_empty() {
            return;
        }
        let detail = format!(
            "the trust policy lets {} principal(s) outside the organization assume this role{}",
            external.len(),
            if has_conditions(trust) {
                " (with conditions, e.g. sts:ExternalId)"
            } else {
                ""
            }
        );
        out.push(Finding {
            items: external.into_iter().collect(),
            ..Finding::about(FindingKind::ExternalTrust, p, Severity::High, detail)
        });
    }
}

/// Whether any statement of `trust` has a condition.
pub(super) fn has_conditions(trust: &latch_policy::Policy) -> bool {
    trust.statements.iter().any(|s| !s.conditions.is_empty())
}
