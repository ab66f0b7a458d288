//! `NotPrincipal` with `Allow` in a resource policy or a role's trust policy. AWS no longer
//! accepts the combination in new policies ("IAM JSON policy elements: NotPrincipal"), and
//! the engine evaluates such a statement as matching nothing (fail closed for enforcement),
//! but a policy written before may still be honoured by AWS and expose the resource to every
//! principal it does not list: for detection it is possible exposure, reported.
//!
//! ## Why it is bad
//! A statement that allows everyone except a list grants access to every principal of every AWS
//! account that is not on the list, anonymous callers included, and stays open when the list
//! goes stale.
//!
//! ## How to fix
//! Rewrite the statement as an `Allow` that names the principals who need access (`Principal`),
//! or as a `Deny` with `NotPrincipal` if the intent was to keep others out; use
//! `aws:PrincipalOrgID` or `aws:PrincipalArn` conditions for broad grants.

use latch_policy::document::Effect;

use super::{Check, Context, Finding, FindingKind, Found, Organization, Severity};

pub(super) struct NotPrincipalAllow;

impl Check for NotPrincipalAllow {
    fn organization(&self, cx: &Context<'_>, _org: &Organization<'_>, out: &mut Found) {
        let mut add = |account: &str,
                       principal: Option<&str>,
                       what: String,
                       policy: &latch_policy::Policy| {
            for (i, st) in policy.statements.iter().enumerate() {
                let Some(pr) = st.principal.as_ref().filter(|p| p.negated) else {
                    continue;
                };
                if st.effect != Effect::Allow {
                    continue;
                }
                let listed: Vec<String> = pr
                    .entries
                    .iter()
                    .flat_map(|(_, values)| values.iter().cloned())
                    .collect();
                let sid = st
                    .sid
                    .as_deref()
                    .map(|s| format!(" (`{s}`)"))
                    .unwrap_or_default();
                out.push(Finding {
                    id: format!("not-principal-allow:{what}:{i}"),
                    kind: FindingKind::NotPrincipalAllow,
                    severity: Severity::High,
                    principal: principal.map(str::to_owned),
                    account: account.to_owned(),
                    detail: format!(
                        "statement {i}{sid} of the {what} allows everyone except {} (NotPrincipal with Allow): AWS no longer accepts this in new policies and Latch evaluates it as allowing nothing, but where AWS still honours it every other principal, of any account, is allowed; rewrite it with Principal",
                        if listed.is_empty() { "nobody".to_owned() } else { listed.join(", ") }
                    ),
                    items: listed,
                    usage_unknown: Vec::new(),
                });
            }
        };
        for account in cx.snapshot.accounts.values() {
            for rp in account.resource_policies.iter().flatten() {
                add(
                    &account.id,
                    None,
                    format!("{} policy of `{}`", rp.kind.name(), rp.resource_arn),
                    &rp.document.policy,
                );
            }
            for role in account.roles.values() {
                add(
                    &account.id,
                    Some(&role.arn),
                    format!("trust policy of `{}`", role.arn),
                    &role.trust_policy.policy,
                );
            }
        }
    }
}
