//! Gates: who each bundle's rule spares — the carriers of its grant tag, the control plane,
//! break-glass identities and permanent exemptions (`exemptions.principals`,
//! `bundles.<name>.exempt`) — and the exemptions that say so. Identity Center grants add the
//! people they name; the service quarantine has a gate of its own.

use std::collections::{BTreeMap, BTreeSet};

use latch_catalog::ActionId;
use latch_policy::glob;

use super::Exemption;
use crate::config::Config;
use crate::intent::Probe;

/// An exemption scheme: who is spared by a bundle (or by the service quarantine).
#[derive(Debug, Clone, Default)]
pub(super) struct Gate {
    pub(super) grant_tags: Vec<String>,
    pub(super) arns: BTreeSet<String>,
    pub(super) userids: BTreeSet<String>,
}

impl Gate {
    /// A gate that spares the carriers of `grant_tag` and the identities `arns` name.
    pub(super) fn new(grant_tag: String, arns: &BTreeSet<String>) -> Gate {
        Gate {
            grant_tags: vec![grant_tag],
            arns: arns.clone(),
            userids: BTreeSet::new(),
        }
    }

    pub(super) fn spares(&self, p: &Probe) -> bool {
        self.grant_tags
            .iter()
            .any(|t| p.tags.contains_key(&t.to_ascii_lowercase()))
            || self
                .arns
                .iter()
                .any(|a| glob::matches_str(a, &p.principal_arn))
            || p.userid
                .as_ref()
                .is_some_and(|u| self.userids.iter().any(|pat| glob::matches_str(pat, u)))
    }
}

/// The permission layer's gates.
#[derive(Debug)]
pub(super) struct Gates {
    /// Who every layer but tamper protection spares by ARN: the control plane, break-glass
    /// identities and permanent exemptions.
    pub(super) base_arns: BTreeSet<String>,
    /// Bundle name → its gate.
    pub(super) bundles: BTreeMap<String, Gate>,
    /// Action → the bundles that hold it.
    pub(super) action_bundles: BTreeMap<ActionId, Vec<String>>,
}

impl Gates {
    /// The gates of the configured bundles; the fixed exemptions go to `exemptions`.
    pub(super) fn build(cfg: &Config, exemptions: &mut BTreeSet<Exemption>) -> Gates {
        let cp = &cfg.control_plane.role_arn;
        let mut base_arns: BTreeSet<String> = BTreeSet::new();
        base_arns.insert(cp.clone());
        base_arns.extend(cfg.control_plane.break_glass.iter().cloned());
        base_arns.extend(cfg.exemptions.principals.iter().cloned());

        exemptions.insert(fixed(
            "control-plane",
            "all",
            "*",
            cp,
            "the Latch control plane sets grant tags and is spared by every layer",
        ));
        for bg in &cfg.control_plane.break_glass {
            exemptions.insert(fixed(
                "break-glass",
                "permission, service, region, role",
                "*",
                bg,
                "break-glass identity (control_plane.break_glass)",
            ));
        }
        for p in &cfg.exemptions.principals {
            exemptions.insert(fixed(
                "permanent",
                "permission, service, region",
                "*",
                p,
                "permanent exemption (exemptions.principals)",
            ));
        }

        let mut bundles: BTreeMap<String, Gate> = BTreeMap::new();
        let mut action_bundles: BTreeMap<ActionId, Vec<String>> = BTreeMap::new();
        for b in cfg.bundles.values() {
            let mut g = Gate::new(b.grant_tag(), &base_arns);
            for e in &b.exempt {
                g.arns.insert(e.clone());
                exemptions.insert(fixed(
                    "permanent",
                    "permission",
                    &b.name,
                    e,
                    &format!("permanent exemption (bundles.{}.exempt)", b.name),
                ));
            }
            bundles.insert(b.name.clone(), g);
            for &a in &b.actions {
                action_bundles.entry(a).or_default().push(b.name.clone());
            }
        }
        Gates {
            base_arns,
            bundles,
            action_bundles,
        }
    }

    /// The grant tags of these bundles' gates, sorted and without duplicates: any one of them
    /// exempts from a rule that denies the bundles' actions.
    pub(super) fn grant_tags(&self, bundles: &[String]) -> Vec<String> {
        let mut tags: Vec<String> = bundles
            .iter()
            .filter_map(|b| self.bundles.get(b))
            .flat_map(|g| g.grant_tags.iter().cloned())
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }
}

/// An exemption of one identity by its ARN, for as long as the configuration says so.
fn fixed(kind: &str, layer: &str, gate: &str, arn: &str, reason: &str) -> Exemption {
    Exemption {
        kind: kind.to_owned(),
        layer: layer.to_owned(),
        gate: gate.to_owned(),
        principal: arn.to_owned(),
        session: None,
        mechanism: "principal-arn".to_owned(),
        value: arn.to_owned(),
        actions: Vec::new(),
        reason: reason.to_owned(),
    }
}
