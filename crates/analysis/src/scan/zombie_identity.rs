//! Zombie identities: no activity for the zombie threshold, and old enough to have had some —
//! on evidence that would have shown any call (`crate::usage::IdleEvidence`): IAM's own
//! last-used record, or CloudTrail when its trails record every action the principal may
//! call. Never on CloudTrail's silence about actions whose use is unknown: those identities
//! are named in `not_analysed` instead.
//!
//! ## Why it is bad
//! An identity nobody uses still holds its permissions and its credentials. It is the ideal
//! foothold: no owner watches it, and a login through it looks like nothing.
//!
//! ## How to fix
//! Find the owner; if there is none, remove the identity's credentials and policies, then
//! delete it. The firewall's quarantine layer (`latch:quarantine` tag, `latch plan`) denies
//! everything to zombies without deleting anything, as a reversible first step.

use super::principal::Facts;
use super::{Check, Context, Finding, FindingKind, Found, Severity, DAY_MS};
use crate::usage::{idle_evidence, IdleEvidence};

pub(super) struct Zombie;

impl Check for Zombie {
    fn principal(&self, cx: &Context<'_>, f: &Facts<'_>, out: &mut Found) {
        let p = &f.principal;
        if p.is_service_linked() {
            return;
        }
        let now = cx.opts.now_millis;
        let threshold = cx.zombie_threshold_ms();
        let created = p.create_date().map(|t| t.epoch_millis);
        let old_enough = created.is_none_or(|c| c <= threshold);
        let iam_record = match p.as_role() {
            Some(r) => r.last_used.is_some(),
            None => f.credentials.is_some(),
        };
        let evidence = idle_evidence(
            iam_record,
            f.usage.is_some(),
            &f.eff.allowed,
            cx.obs.unknown_in(p.account_id()),
            cx.obs.never_recorded(),
        );
        let idle = old_enough && f.last_ms.is_none_or(|l| l < threshold);
        if !idle {
            return;
        }
        if let IdleEvidence::Unknown(hidden) = &evidence {
            if let Some(u) = cx.obs.explain(p.account_id(), hidden).first() {
                out.withhold(FindingKind::ZombieIdentity, p.arn(), u.says);
            }
        }
        if !evidence.supports_verdict() {
            return;
        }
        let idle = f.last_ms.map_or("never used".to_owned(), |l| {
            format!("idle for {} days", (now - l).div_euclid(DAY_MS))
        });
        let severity = if f.admin_equivalent {
            Severity::Critical
        } else if !f.held.is_empty() {
            Severity::High
        } else {
            Severity::Low
        };
        let holding = if f.held.is_empty() {
            String::new()
        } else {
            format!(" while holding {} sensitive actions", f.held.len())
        };
        let detail = format!("{idle}{holding}; candidate for quarantine");
        out.push(Finding::about(
            FindingKind::ZombieIdentity,
            p,
            severity,
            detail,
        ));
    }

    fn withheld(&self, who: &[(String, &'static str)]) -> Option<String> {
        if who.is_empty() {
            return None;
        }
        let shown: Vec<String> = who
            .iter()
            .take(10)
            .map(|(arn, says)| format!("{arn} ({says})"))
            .collect();
        Some(format!(
            "zombies: {} identit{} without activity CloudTrail records may call actions whose use the trails cannot show, and have no IAM last-used record: not reported as zombies: {}{}",
            who.len(),
            if who.len() == 1 { "y" } else { "ies" },
            shown.join(", "),
            if who.len() > shown.len() { ", ..." } else { "" }
        ))
    }
}
