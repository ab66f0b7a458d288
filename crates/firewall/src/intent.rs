//! The firewall's intent: what it denies, to whom, where — before any packing.
//!
//! A [`Rule`] is one Deny with a target node, a set of actions and a [`Cond`] (which
//! principals are spared). Rules are plain data with a direct evaluator
//! ([`Rule::denies`]) written independently of the policy engine, so the packed policies can be
//! checked against the intent: the engine on the packed documents must deny exactly the
//! (action, principal) pairs the intent denies.

use std::collections::{BTreeMap, BTreeSet};

use latch_catalog::{ActionId, Catalog, PolicyType};
use latch_policy::glob;

/// Which layer of the firewall a rule belongs to. The order is the placement priority: when
/// a node has too few free slots, earlier layers stay at the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LayerKind {
    /// Tamper protection.
    Tamper,
    /// Role layer: quarantine of zombie identities.
    Role,
    /// Permission layer: sensitive bundles.
    Permission,
    /// Region restriction.
    Region,
    /// Service quarantine.
    Service,
}

impl LayerKind {
    /// Every layer, in priority order.
    pub const ALL: [LayerKind; 5] = [
        LayerKind::Tamper,
        LayerKind::Role,
        LayerKind::Permission,
        LayerKind::Region,
        LayerKind::Service,
    ];

    /// `tamper`, `role`, `permission`, `region`, `service`.
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::Tamper => "tamper",
            LayerKind::Role => "role",
            LayerKind::Permission => "permission",
            LayerKind::Region => "region",
            LayerKind::Service => "service",
        }
    }

    /// The prefix of the Sids of this layer's statements (how a statement is traced back to
    /// its layer).
    pub fn sid_prefix(self) -> &'static str {
        match self {
            LayerKind::Tamper => latch_contract::TAMPER_SID_PREFIX,
            LayerKind::Role => latch_contract::ROLE_SID_PREFIX,
            LayerKind::Permission => latch_contract::PERMISSION_SID_PREFIX,
            LayerKind::Region => latch_contract::REGION_SID_PREFIX,
            LayerKind::Service => latch_contract::SERVICE_SID_PREFIX,
        }
    }

    /// The layer of a Latch statement, from its Sid.
    pub fn from_sid(sid: &str) -> Option<LayerKind> {
        LayerKind::ALL
            .into_iter()
            .find(|l| sid.starts_with(l.sid_prefix()))
    }
}

/// The actions of a rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Actions {
    /// Exactly these catalog actions (`Action`).
    Only(BTreeSet<ActionId>),
    /// Every action except these (`NotAction`, or `"*"` when empty) — also actions the
    /// catalog does not know yet.
    AllExcept(BTreeSet<ActionId>),
}

impl Actions {
    /// Whether the action (by catalog id, or `None` for an action the catalog does not know)
    /// is among these.
    pub fn contains(&self, id: Option<ActionId>) -> bool {
        match (self, id) {
            (Actions::Only(s), Some(id)) => s.contains(&id),
            (Actions::Only(_), None) => false,
            (Actions::AllExcept(s), Some(id)) => !s.contains(&id),
            (Actions::AllExcept(_), None) => true,
        }
    }

    /// How many catalog actions these are.
    pub fn count(&self) -> usize {
        match self {
            Actions::Only(s) => s.len(),
            Actions::AllExcept(s) => Catalog::get().actions().len().saturating_sub(s.len()),
        }
    }
}

/// Who is spared by a rule (all parts must hold for the Deny to apply).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cond {
    /// `Null: {aws:PrincipalTag/K: "true"}` for each: denies only when none of these tags is
    /// present (any one exempts).
    pub absent_tags: Vec<String>,
    /// `Null: {aws:PrincipalTag/K: "false"}`: denies only when this tag is present.
    pub present_tag: Option<String>,
    /// `ArnNotLike: {aws:PrincipalArn: [...]}`: these principals are spared.
    pub arn_not_like: Vec<String>,
    /// `ArnLike: {aws:PrincipalArn: [...]}`: denies only these principals (empty: everyone).
    pub arn_like: Vec<String>,
    /// `StringNotLike: {aws:userid: [...]}`: these sessions are spared.
    pub userid_not_like: Vec<String>,
    /// `StringLike: {aws:userid: [...]}`: denies only these sessions (empty: everyone).
    pub userid_like: Vec<String>,
    /// `ForAnyValue:StringLike: {aws:TagKeys: [...]}`: denies only when a request tag key
    /// matches.
    pub tag_keys_like: Vec<String>,
    /// `StringNotEquals: {aws:RequestedRegion: [...]}`: denies only outside these regions.
    pub regions_not: Vec<String>,
    /// `StringNotEquals: {aws:PrincipalAccount: [...]}`: principals of these accounts are
    /// spared (a rule of their own, attached to each of them, governs them instead).
    pub accounts_not: Vec<String>,
}

/// One Deny of the intent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    /// The layer.
    pub layer: LayerKind,
    /// SCP or RCP.
    pub kind: PolicyType,
    /// The node it is attached to (root, OU or account id).
    pub target: String,
    /// The actions denied.
    pub actions: Actions,
    /// Resource patterns (`*` for all).
    pub resources: Vec<String>,
    /// `resources` is a `NotResource` list: the Deny applies to every other resource.
    pub not_resource: bool,
    /// Who is spared.
    pub cond: Cond,
    /// What it is, for people (bundle names, services, …).
    pub label: String,
}

/// A request as the intent sees it.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// The action's catalog id (`None`: unknown to the catalog).
    pub action: Option<ActionId>,
    /// `aws:PrincipalArn` (for roles, the role ARN with its path).
    pub principal_arn: String,
    /// `aws:userid`, when known.
    pub userid: Option<String>,
    /// Principal tags (role or user tags, overridden by session tags), keys lower-cased.
    pub tags: BTreeMap<String, String>,
    /// `aws:TagKeys` of the request, when it carries tags.
    pub request_tag_keys: Option<Vec<String>>,
    /// `aws:RequestedRegion`, when known.
    pub region: Option<String>,
    /// The resource ARN (`*` when unknown).
    pub resource: String,
}

impl Probe {
    /// Inserts a principal tag.
    pub fn with_tag(mut self, key: &str, value: &str) -> Probe {
        self.tags.insert(key.to_ascii_lowercase(), value.to_owned());
        self
    }
}

impl Cond {
    /// Whether the condition holds (the Deny applies) for the probe. Follows AWS's rules for
    /// missing keys: negated operators hold, `ForAnyValue:` does not.
    pub fn holds(&self, p: &Probe) -> bool {
        if self
            .absent_tags
            .iter()
            .any(|k| p.tags.contains_key(&k.to_ascii_lowercase()))
        {
            return false;
        }
        if let Some(k) = &self.present_tag {
            if !p.tags.contains_key(&k.to_ascii_lowercase()) {
                return false;
            }
        }
        if !self.arn_not_like.is_empty()
            && self
                .arn_not_like
                .iter()
                .any(|pat| glob::matches_str(pat, &p.principal_arn))
        {
            return false;
        }
        if !self.arn_like.is_empty()
            && !self
                .arn_like
                .iter()
                .any(|pat| glob::matches_str(pat, &p.principal_arn))
        {
            return false;
        }
        if let Some(uid) = &p.userid {
            if self
                .userid_not_like
                .iter()
                .any(|pat| glob::matches_str(pat, uid))
            {
                return false;
            }
        }
        // `StringLike` on a missing key does not match: no userid, no Deny.
        if !self.userid_like.is_empty()
            && !p.userid.as_ref().is_some_and(|uid| {
                self.userid_like
                    .iter()
                    .any(|pat| glob::matches_str(pat, uid))
            })
        {
            return false;
        }
        if !self.tag_keys_like.is_empty() {
            let Some(keys) = &p.request_tag_keys else {
                return false;
            };
            if !keys.iter().any(|k| {
                self.tag_keys_like
                    .iter()
                    .any(|pat| glob::matches_str(pat, k))
            }) {
                return false;
            }
        }
        if latch_policy::arn::account(&p.principal_arn)
            .is_some_and(|a| self.accounts_not.iter().any(|x| x == a))
        {
            return false;
        }
        if !self.regions_not.is_empty() {
            if let Some(r) = &p.region {
                if self.regions_not.iter().any(|a| a == r) {
                    return false;
                }
            }
        }
        true
    }
}

impl Rule {
    /// Whether this rule denies the probe (its account being under the rule's target is the
    /// caller's business).
    pub fn denies(&self, p: &Probe) -> bool {
        let listed = self
            .resources
            .iter()
            .any(|r| r == "*" || glob::matches_str(r, &p.resource));
        self.actions.contains(p.action) && listed != self.not_resource && self.cond.holds(p)
    }
}

/// The 32 spellings of `latch:*` that differ only in the case of `latch`: tag keys compare
/// without case when AWS resolves `aws:PrincipalTag/…`, but `StringLike` compares with case,
/// so every spelling must be matched.
pub fn latch_key_patterns() -> Vec<String> {
    let word = b"latch";
    (0u32..32)
        .map(|mask| {
            let mut s: String = word
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    if mask & (1 << i) != 0 {
                        char::from(c.to_ascii_uppercase())
                    } else {
                        char::from(c)
                    }
                })
                .collect();
            s.push_str(":*");
            s
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_patterns_cover_every_case() {
        let pats = latch_key_patterns();
        assert_eq!(pats.len(), 32);
        for k in [
            "latch:grant:x",
            "LATCH:grant:x",
            "LaTcH:quarantine",
            "lATCh:",
        ] {
            assert!(pats.iter().any(|p| glob::matches_str(p, k)), "{k}");
        }
        assert!(!pats.iter().any(|p| glob::matches_str(p, "owner:latch")));
    }

    #[test]
    fn cond_follows_missing_key_rules() {
        let c = Cond {
            absent_tags: vec!["latch:grant:a".into(), "latch:grant:b".into()],
            arn_not_like: vec!["arn:aws:iam::*:role/cp".into()],
            userid_not_like: vec!["AROA1:maria".into()],
            ..Cond::default()
        };
        let p = Probe {
            principal_arn: "arn:aws:iam::111122223333:role/app".into(),
            ..Probe::default()
        };
        assert!(c.holds(&p));
        assert!(!c.holds(&p.clone().with_tag("LATCH:GRANT:B", "x")));
        let cp = Probe {
            principal_arn: "arn:aws:iam::111122223333:role/cp".into(),
            ..Probe::default()
        };
        assert!(!c.holds(&cp));
        let sso = Probe {
            userid: Some("AROA1:maria".into()),
            ..p.clone()
        };
        assert!(!c.holds(&sso));
        let tk = Cond {
            tag_keys_like: vec!["latch:*".into()],
            ..Cond::default()
        };
        assert!(!tk.holds(&p));
        let tagged = Probe {
            request_tag_keys: Some(vec!["team".into(), "latch:grant:a".into()]),
            ..p
        };
        assert!(tk.holds(&tagged));
    }
}
