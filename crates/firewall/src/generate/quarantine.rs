//! The service quarantine: the services `services.quarantine` names, denied at every target,
//! and per account every service unused for `services.quarantine_unused_days` (never one whose
//! use the trails cannot show), denied there — unless the caller carries
//! `latch:unlock:services` or is spared like the bundles' gates spare.

use std::collections::{BTreeMap, BTreeSet};

use latch_catalog::{ActionId, PolicyType};
use latch_contract::UNLOCK_SERVICES_TAG;
use latch_trail::Timestamp;

use super::gates::Gate;
use super::Ctx;
use crate::intent::{Actions, Cond, LayerKind, Rule};

/// The gate name of the service quarantine in exemptions.
pub(super) const SERVICES_GATE: &str = "services";

/// The services quarantined, and who is spared.
#[derive(Debug)]
pub(super) struct Services {
    /// Who the quarantine spares; protect mode adds those who used a quarantined service.
    pub(super) gate: Gate,
    /// The services quarantined by name.
    explicit: BTreeSet<String>,
    /// Per account, the services unused in the last `quarantine_unused_days`.
    unused: BTreeMap<String, BTreeSet<String>>,
    /// Per account, the services kept: used, always allowed, or of unknown use.
    kept: BTreeMap<String, BTreeSet<String>>,
}

impl Services {
    /// What the configuration and the usage quarantine; warns when unused services were asked
    /// for without usage.
    pub(super) fn plan(cx: &Ctx<'_>, warnings: &mut Vec<String>) -> Services {
        let cfg = cx.cfg;
        let explicit: BTreeSet<String> = cfg.services.quarantine.iter().cloned().collect();
        let mut unused_per_account: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut kept_per_account: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        if let (Some(days), Some(u)) = (cfg.services.quarantine_unused_days, cx.usage) {
            let since = Timestamp(u.window.until.0 - i64::from(days) * 86_400);
            for a in cx
                .scope
                .accounts
                .iter()
                .filter(|a| !cx.scope.no_data.contains(*a))
            {
                let used: BTreeSet<String> = u
                    .table
                    .accounts
                    .get(a)
                    .map(|m| {
                        m.iter()
                            .filter(|(_, s)| s.count > 0 && s.last_seen.is_some_and(|t| t >= since))
                            .map(|(s, _)| s.to_ascii_lowercase())
                            .collect()
                    })
                    .unwrap_or_default();
                let mut kept = used;
                kept.extend(cfg.services.always_allowed.iter().cloned());
                // A service whose calls the trails do not all record may be in use: its use is
                // unknown, never unused, so it is not quarantined.
                kept.extend(
                    cx.observability
                        .unknown_in(a)
                        .ids()
                        .filter_map(|id| cx.catalog.action_by_id(id))
                        .map(|x| x.service_prefix().to_ascii_lowercase()),
                );
                let unused = cx
                    .catalog
                    .services()
                    .iter()
                    .map(|s| s.prefix().to_ascii_lowercase())
                    .filter(|s| !kept.contains(s))
                    .collect();
                unused_per_account.insert(a.clone(), unused);
                kept_per_account.insert(a.clone(), kept);
            }
        } else if cfg.services.quarantine_unused_days.is_some() {
            warnings.push("`services.quarantine_unused_days` needs CloudTrail data: no unused service was quarantined".to_owned());
        }
        Services {
            gate: Gate::new(UNLOCK_SERVICES_TAG.to_owned(), &cx.gates.base_arns),
            explicit,
            unused: unused_per_account,
            kept: kept_per_account,
        }
    }

    /// Whether `service` (a lowercase prefix) is quarantined in `account`.
    pub(super) fn quarantines(&self, account: &str, service: &str) -> bool {
        self.explicit.contains(service)
            || self
                .unused
                .get(account)
                .is_some_and(|s| s.contains(service))
    }

    /// The rule at one target that denies the services quarantined by name.
    pub(super) fn rule_at(&self, cx: &Ctx<'_>, target: &str, rules: &mut Vec<Rule>) {
        if self.explicit.is_empty() {
            return;
        }
        let ids: BTreeSet<ActionId> = self
            .explicit
            .iter()
            .filter_map(|s| cx.catalog.service(s))
            .flat_map(|s| s.action_ids())
            .collect();
        rules.push(service_rule(
            target,
            Actions::Only(ids),
            &self.gate,
            format!(
                "services {}",
                self.explicit.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }

    /// The rule of each account that denies every service but those it keeps.
    pub(super) fn per_account_rules(&self, cx: &Ctx<'_>, rules: &mut Vec<Rule>) {
        for (a, kept) in &self.kept {
            let ids: BTreeSet<ActionId> = kept
                .iter()
                .filter_map(|s| cx.catalog.service(s))
                .flat_map(|s| s.action_ids())
                .collect();
            let n = self.unused.get(a).map_or(0, BTreeSet::len);
            rules.push(service_rule(
                a,
                Actions::AllExcept(ids),
                &self.gate,
                format!(
                    "{n} services unused in the last {} days (all but {})",
                    cx.cfg.services.quarantine_unused_days.unwrap_or_default(),
                    kept.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
}

fn service_rule(target: &str, actions: Actions, gate: &Gate, label: String) -> Rule {
    Rule {
        layer: LayerKind::Service,
        kind: PolicyType::Scp,
        target: target.to_owned(),
        actions,
        resources: vec!["*".to_owned()],
        not_resource: false,
        cond: Cond {
            absent_tags: gate.grant_tags.clone(),
            arn_not_like: gate.arns.iter().cloned().collect(),
            userid_not_like: gate.userids.iter().cloned().collect(),
            ..Cond::default()
        },
        label,
    }
}
