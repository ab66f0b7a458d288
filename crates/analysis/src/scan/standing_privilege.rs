//! Standing privilege: sensitive actions a principal holds but did not use in the window,
//! where the trails would have shown a use. Actions of unknown use are named, never counted.
//!
//! ## Why it is bad
//! Every sensitive permission held and never used is risk with no benefit: a leaked credential
//! or a compromised workload can use it at once, and no one will notice the difference from
//! normal use.
//!
//! ## How to fix
//! Remove the unused actions from the identity's policies, or let the firewall deny them by
//! default (`latch plan`): the identity asks for them on demand, for a bounded time, when it
//! needs them. Actions of unknown use are listed apart: log their data events before deciding.

use super::principal::Facts;
use super::{plural, standing_severity, unknown_clause, Check, Context, Finding, FindingKind, Found};

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
        let severity = standing_severity(cx, names.iter().copied(), f.admin_equivalent);
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
