//! Escalation paths: a non-admin principal that can make itself admin-equivalent, step by
//! step, as the escalation graph (`crate::escalation`) found.

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
