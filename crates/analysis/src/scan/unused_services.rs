//! Unused services: per account, the services someone may use but no one used in the window
//! (service-quarantine candidates), and per OU those unused in every account beneath it. A
//! service whose calls the trails cannot all show is of unknown use, never unused.
//!
//! ## Why it is bad
//! Every service allowed in an account is attack surface: an attacker with a foothold can use
//! services the team never touches (to mine, to exfiltrate, to persist) without looking out of
//! place.
//!
//! ## How to fix
//! Deny the unused services in the account or OU with an SCP (Latch's service quarantine layer
//! does this, `latch plan`), and grant them on demand when someone needs one. Services of
//! unknown use are listed apart: log their data events before deciding.

use std::collections::{BTreeMap, BTreeSet};

use latch_catalog::Catalog;
use latch_model::Snapshot;

use super::{
    unknown_clause, Check, Context, Finding, FindingKind, Found, Organization, Severity,
    UnusedServices, UnusedServicesOu,
};
use crate::usage::{Observability, UnknownUsage};
use crate::ActionSet;

pub(super) struct Unused;

impl Check for Unused {
    fn organization(&self, cx: &Context<'_>, org: &Organization<'_>, out: &mut Found) {
        for u in org.unused_services.iter().filter(|u| !u.services.is_empty()) {
            out.push(Finding {
                id: format!("unused-services:{}", u.account),
                kind: FindingKind::UnusedServices,
                severity: Severity::Low,
                principal: None,
                account: u.account.clone(),
                detail: format!(
                    "{} services are allowed to someone in the account but unused in {} days (candidates for service quarantine){}",
                    u.services.len(),
                    cx.opts.window_days,
                    unknown_clause(&u.unknown)
                ),
                items: u.services.clone(),
                usage_unknown: u.unknown.clone(),
            });
        }
    }
}

/// Per account whose usage counts: the services allowed to someone there (`allowed`, per
/// account) that no one used in the window. Empty when usage was not analysed.
pub(super) fn per_account(
    cx: &Context<'_>,
    allowed: &BTreeMap<String, ActionSet>,
) -> Vec<UnusedServices> {
    let Some(u) = cx.usage else {
        return Vec::new();
    };
    let window_start_s = cx.window_start_s;
    let mut out = Vec::new();
    for (account, allowed) in allowed {
        if cx.usage_of(account).is_none() {
            continue;
        }
        let services: BTreeSet<&str> = allowed
            .ids()
            .filter_map(|id| cx.catalog.action_by_id(id))
            .map(|a| a.service_prefix())
            .collect();
        let used = u.accounts.get(account);
        // A service IAM's last-accessed data shows someone attempted in the window is in
        // use, whatever CloudTrail shows.
        let attempted: BTreeSet<&str> = cx
            .snapshot
            .account(account)
            .and_then(|a| a.last_accessed.as_ref())
            .into_iter()
            .flat_map(|l| l.principals.values())
            .flat_map(|p| p.services.iter())
            .filter(|(_, s)| {
                s.last_authenticated
                    .as_ref()
                    .is_some_and(|t| t.epoch_millis >= window_start_s * 1000)
            })
            .map(|(ns, _)| ns.as_str())
            .collect();
        let idle = services.into_iter().filter(|s| {
            !attempted.contains(s)
                && used.and_then(|m| m.get(*s)).is_none_or(|su| {
                    su.count == 0 || su.last_seen.is_none_or(|t| t.seconds() < window_start_s)
                })
        });
        // A service no one was seen using is unused only when the trails would have shown
        // every call of it allowed in the account; otherwise its use is unknown.
        let hidden = hidden_services(&cx.obs, account, allowed);
        let (unknown, unused): (Vec<&str>, Vec<&str>) =
            idle.partition(|s| hidden.contains_key(s));
        let unknown: Vec<UnknownUsage> = unknown
            .into_iter()
            .filter_map(|s| {
                hidden
                    .get(s)
                    .map(|why| UnknownUsage::new(s.to_owned(), *why))
            })
            .collect();
        let ou_path = cx
            .snapshot
            .organization
            .as_ref()
            .and_then(|o| o.path_to(account))
            .map(|path| path.iter().map(|n| n.id.clone()).collect())
            .unwrap_or_default();
        out.push(UnusedServices {
            account: account.clone(),
            ou_path,
            services: unused.into_iter().map(str::to_owned).collect(),
            unknown,
        });
    }
    out
}

/// The services with an action allowed in `account` whose use the trails there cannot show,
/// with why (that of the first such action).
fn hidden_services(
    obs: &Observability,
    account: &str,
    allowed: &ActionSet,
) -> BTreeMap<&'static str, crate::UnknownReason> {
    let catalog = Catalog::get();
    let mut hidden = allowed.clone();
    hidden.intersect_with(obs.unknown_in(account));
    let mut out = BTreeMap::new();
    for id in hidden.ids() {
        if let (Some(a), Some(why)) = (catalog.action_by_id(id), obs.reason(account, id)) {
            out.entry(a.service_prefix()).or_insert(why);
        }
    }
    out
}

/// Per OU (and root): the services unused in every analysed account beneath it.
pub(super) fn by_ou(snapshot: &Snapshot, per_account: &[UnusedServices]) -> Vec<UnusedServicesOu> {
    let Some(org) = &snapshot.organization else {
        return Vec::new();
    };
    let mut groups: BTreeMap<String, (String, Vec<&UnusedServices>)> = BTreeMap::new();
    for u in per_account {
        let Some(path) = org.path_to(&u.account) else {
            continue;
        };
        for node in path
            .iter()
            .filter(|n| n.kind != latch_model::org::NodeKind::Account)
        {
            groups
                .entry(node.id.clone())
                .or_insert_with(|| (node.name.clone(), Vec::new()))
                .1
                .push(u);
        }
    }
    groups
        .into_iter()
        .map(|(ou, (name, accounts))| {
            let mut common: Option<BTreeSet<&String>> = None;
            for a in &accounts {
                let set: BTreeSet<&String> = a.services.iter().collect();
                common = Some(match common {
                    None => set,
                    Some(c) => c.intersection(&set).copied().collect(),
                });
            }
            UnusedServicesOu {
                ou,
                name,
                accounts: accounts.iter().map(|a| a.account.clone()).collect(),
                services: common.unwrap_or_default().into_iter().cloned().collect(),
            }
        })
        .collect()
}
