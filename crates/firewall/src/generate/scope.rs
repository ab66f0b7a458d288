//! Scope: the nodes the firewall attaches to (`scope.targets`; the management account, which
//! SCPs and RCPs do not govern, left out, and no target under another), the member accounts
//! they govern, and those of them without data in the usage window — where no usage-based
//! verdict is made.

use std::collections::BTreeSet;

use latch_trail::evidence::account_has_events;

use super::window::Usage;
use super::GenerateError;
use crate::config::Config;
use crate::org::OrgShape;

/// Where the firewall attaches and what it governs.
#[derive(Debug)]
pub(super) struct Scope {
    /// The targets, sorted, none under another.
    pub(super) targets: Vec<String>,
    /// The member accounts under them.
    pub(super) accounts: BTreeSet<String>,
    /// The accounts in scope without a single event in the usage window.
    pub(super) no_data: BTreeSet<String>,
}

impl Scope {
    /// The scope of the configuration; an error names a target that is not a node of the
    /// organization.
    pub(super) fn build(
        cfg: &Config,
        org: &OrgShape,
        usage: Option<Usage<'_>>,
        warnings: &mut Vec<String>,
    ) -> Result<Scope, GenerateError> {
        let mut targets: Vec<String> = Vec::new();
        for (i, t) in cfg.scope.targets.iter().enumerate() {
            let id = if t == "root" {
                org.root_id.clone()
            } else {
                t.clone()
            };
            if org.node(&id).is_none() {
                return Err(GenerateError::Config {
                    key: format!("scope.targets[{i}]"),
                    reason: format!(
                        "`{t}` is not a node of the organization (root, OU or account)"
                    ),
                });
            }
            if org.is_management(&id) {
                warnings.push(format!("`scope.targets[{i}]`: the management account `{id}` is not governed by SCPs or RCPs; skipped"));
                continue;
            }
            targets.push(id);
        }
        targets.sort();
        targets.dedup();
        // Drop targets under another target: the ancestor's policies already apply there.
        let all = targets.clone();
        targets.retain(|t| {
            let path = org.path_to(t);
            !path.iter().any(|a| a != t && all.contains(a))
        });
        let accounts: BTreeSet<String> = targets
            .iter()
            .flat_map(|t| org.accounts_under(t))
            .filter(|a| !org.is_management(a))
            .collect();
        // The per-account floor: an account without a single event in the usage window has
        // no data there, not no activity — none of its identities is quarantined as a zombie
        // and none of its services as unused.
        let no_data: BTreeSet<String> = match usage {
            Some(u) => accounts
                .iter()
                .filter(|a| !account_has_events(u.table, a, &u.window.trail_window()))
                .cloned()
                .collect(),
            None => BTreeSet::new(),
        };
        if !no_data.is_empty() {
            warnings.push(format!(
                "no CloudTrail event in the usage window for account(s) {}: no data there (not \"idle\"), so none of their identities was quarantined as a zombie and no service was quarantined as unused; add their logs before relying on this plan there",
                no_data.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(Scope {
            targets,
            accounts,
            no_data,
        })
    }
}
