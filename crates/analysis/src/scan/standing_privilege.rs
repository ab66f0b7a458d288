//! Standing privilege: sensitive actions a principal holds but did not use in the window,
//! where the trails would have shown a use. Actions of unknown use are named, never counted.

use std::collections::BTreeSet;

use latch_catalog::Category;

use super::principal::Facts;
use super::{plural, unknown_clause, Check, Context, Finding, FindingKind, Found, Severity};

pub(super) struct StandingPrivilege;

impl Check for StandingPrivilege {
    fn principal(&self, cx: &Context<'_>, f: &Facts<'_>, out: &mut Found) {
        // Standing privilege rests on the unused actions only: a principal whose idle
        // sensitive actions are all of unknown use is not reported.
        let Some(states) = f.states.as_ref().filter(|s| !s.unused.is_empty()) else {
            return;
        };
        let p = &f.principal;
        let names = states.unused.names();
        let worst = names
            .iter()
            .flat_map(|n| cx.catalog.sensitivity(n).iter().map(|c| c.category))
            .collect::<BTreeSet<_>>();
        let severity = if f.admin_equivalent {
            Severity::Critical
        } else if worst.contains(&Category::PrivilegeEscalation)
            || worst.contains(&Category::CredentialAccess)
        {
            Severity::High
        } else {
            Severity::Medium
        };
        let detail = format!(
            "holds {} sensitive action{} it did not use in {} days{}{}",
            names.len(),
            plural(names.len()),
            cx.opts.window_days,
            if f.admin_equivalent {
                " (admin-equivalent)"
            } else {
                ""
            },
            unknown_clause(&states.unknown)
        );
        out.push(Finding {
            items: names.iter().map(|s| (*s).to_owned()).collect(),
            usage_unknown: states.unknown.clone(),
            ..Finding::about(FindingKind::StandingPrivilege, p, severity, detail)
        });
    }
}
