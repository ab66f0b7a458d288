//! Escalation paths: a non-admin principal that can make itself admin-equivalent, step by
//! step, as the escalation graph (`crate::escalation`) found.
//!
//! ## Why it is bad
//! A path turns a limited identity into an administrator of its account, often in one or two
//! calls. Anyone who takes over the starting identity (a leaked key, a compromised workload)
//! owns the account, and least privilege on paper means nothing.
//!
//! ## How to fix
//! Break the first step: remove the permission it needs from the starting identity, or deny it
//! in an SCP to everyone but the identities that administer IAM. Each step below names its
//! technique and how to close it. Once the firewall is applied, the sensitive actions of every
//! step are denied by default and granted on demand only.

use std::collections::BTreeSet;

use super::{plural, Check, Context, Finding, FindingKind, Found, Organization, Severity};

pub(super) struct Escalation;

impl Check for Escalation {
    fn organization(&self, _cx: &Context<'_>, org: &Organization<'_>, out: &mut Found) {
        for path in org.escalation_paths {
            let techniques: Vec<String> =
                path.steps.iter().map(|s| s.technique.to_string()).collect();
            out.push(Finding {
                id: format!("escalation-path:{}->{}", path.from, path.to),
                kind: FindingKind::EscalationPath,
                severity: Severity::Critical,
                principal: Some(path.from.clone()),
                account: latch_policy::arn::account(&path.from)
                    .unwrap_or_default()
                    .to_owned(),
                detail: format!(
                    "can reach {} in {} step{}: {}",
                    path.to,
                    path.steps.len(),
                    plural(path.steps.len()),
                    techniques.join(" → ")
                ),
                items: path
                    .steps
                    .iter()
                    .flat_map(|s| s.actions.iter().cloned())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                usage_unknown: Vec::new(),
            });
        }
    }
}
