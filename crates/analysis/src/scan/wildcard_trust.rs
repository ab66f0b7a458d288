//! Wildcard trust: a role whose trust policy lets any AWS principal (`*`) assume it —
//! critical, or high when conditions restrict it.
//!
//! ## Why it is bad
//! Any principal of any AWS account can assume the role, unless a condition stops it: the
//! role's permissions are public.
//!
//! ## How to fix
//! Replace `"AWS": "*"` in the trust policy with the principals that need the role. If it must
//! stay broad, add conditions that restrict it (`aws:PrincipalOrgID`, `sts:ExternalId`,
//! `aws:SourceAccount`).

use latch_policy::document::{Effect, PrincipalType};

use super::external_trust::has_conditions;
use super::principal::Facts;
use super::{Check, Context, Finding, FindingKind, Found, Severity};

pub(super) struct WildcardTrust;

impl Check for WildcardTrust {
    fn principal(&self, _cx: &Context<'_>, f: &Facts<'_>, out: &mut Found) {
        let p = &f.principal;
        let Some(role) = p.as_role() else {
            return;
        };
        let trust = &role.trust_policy.policy;
        let wildcard = trust.statements.iter().any(|st| {
            st.principal.as_ref().is_some_and(|pr| {
                st.effect == Effect::Allow
                    && !pr.negated
                    && (pr.any
                        || pr
                            .entries
                            .iter()
                            .any(|(k, v)| *k == PrincipalType::Aws && v.iter().any(|v| v == "*")))
            })
        });
        if !wildcard {
            return;
        }
        let (severity, detail) = if has_conditions(trust) {
            (
                Severity::High,
                "the trust policy allows any AWS principal (`*`), restricted only by conditions",
            )
        } else {
            (
                Severity::Critical,
                "the trust policy allows any AWS principal (`*`)",
            )
        };
        out.push(Finding {
            items: vec!["*".into()],
            ..Finding::about(FindingKind::WildcardTrust, p, severity, detail.to_owned())
        });
    }
}
