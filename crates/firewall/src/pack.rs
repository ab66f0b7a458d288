//! Packing: the intent's rules into as few SCPs and RCPs as AWS allows.
//!
//! 1. **Merge** rules with the same target, layer, resources and condition (a Deny of `A` and
//!    a Deny of `B` under one condition is a Deny of `A ∪ B`; for `NotAction` rules, of the
//!    intersection of what they leave out).
//! 2. **Compress** each action set with the catalog's exact wildcard compression.
//! 3. **Fill** policies of at most the limit's minified characters for their type
//!    ([`Limits::chars`]: 10,240 for an SCP, 5,120 for an RCP with AWS's quotas): statements
//!    that cannot be split go first, largest first, into the first policy with room; long
//!    `Action` lists are then cut into parts that fill the remaining room (each part keeps the
//!    whole condition), opening a new policy only when no policy has room left.
//! 4. **Place** policies: each node holds at most [`Limits::per_target`] policies of a type
//!    (10 SCPs, 5 RCPs with AWS's quotas), counting the ones already attached (`FullAWSAccess`
//!    and `RCPFullAWSAccess` included). When a node has too few free slots, the policies of the
//!    lowest priority (service, region, permission, role, tamper — in that order) move down to
//!    every child: a Deny attached to all children of a node governs exactly the accounts the
//!    node governs. The management account is never a target (SCPs and RCPs do not govern it).
//!    An account with no room left is an error that says what does not fit and what can be
//!    dropped.
//!
//! Everything iterates sorted data: the same intent gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use latch_catalog::{ActionId, Catalog, Limits, PolicyType};
use latch_model::NodeKind;
use serde::Serialize;

use crate::generate::Intent;
use crate::intent::{Actions, Cond, LayerKind, Rule};

const HEAD: &str = r#"{"Version":"2012-10-17","Statement":["#;
const TAIL: &str = "]}";

/// One packed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedPolicy {
    /// `latch-scp-<node>-<n>` / `latch-rcp-<node>-<n>`.
    pub name: String,
    /// SCP or RCP.
    pub kind: PolicyType,
    /// The node whose rules it holds.
    pub origin: String,
    /// The layers of its statements.
    pub layers: BTreeSet<LayerKind>,
    /// What its statements are (labels of the rules).
    pub labels: Vec<String>,
    /// The minified document.
    pub content: String,
    /// Where it is attached (the origin, or its descendants when the origin had no room).
    pub targets: Vec<String>,
}

/// Why the firewall does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// One statement is too large on its own even with a single action.
    #[error("the {layer} statement for {label} at `{target}` is {size} characters with a single action, over the {limit}-character limit: its condition is too long — drop exemptions or Identity Center grants of it")]
    StatementTooLarge {
        /// Layer.
        layer: &'static str,
        /// The rule's label.
        label: String,
        /// Node.
        target: String,
        /// Size.
        size: usize,
        /// The room in one policy of its type.
        limit: usize,
    },
    /// Some accounts would need more policies than a target may hold.
    #[error("the firewall does not fit within AWS's limits:\n{0}")]
    DoesNotFit(String),
}

#[derive(Serialize)]
#[serde(untagged)]
enum OneOrMany<'a> {
    One(&'a str),
    Many(&'a [String]),
}

impl<'a> OneOrMany<'a> {
    fn of(v: &'a [String]) -> OneOrMany<'a> {
        match v {
            [one] => OneOrMany::One(one),
            _ => OneOrMany::Many(v),
        }
    }
}

#[derive(Serialize)]
struct JsonStatement<'a> {
    #[serde(rename = "Sid")]
    sid: &'a str,
    #[serde(rename = "Effect")]
    effect: &'static str,
    #[serde(rename = "Principal", skip_serializing_if = "Option::is_none")]
    principal: Option<&'static str>,
    #[serde(rename = "Action", skip_serializing_if = "Option::is_none")]
    action: Option<OneOrMany<'a>>,
    #[serde(rename = "NotAction", skip_serializing_if = "Option::is_none")]
    not_action: Option<OneOrMany<'a>>,
    #[serde(rename = "Resource", skip_serializing_if = "Option::is_none")]
    resource: Option<OneOrMany<'a>>,
    #[serde(rename = "NotResource", skip_serializing_if = "Option::is_none")]
    not_resource: Option<OneOrMany<'a>>,
    #[serde(rename = "Condition", skip_serializing_if = "BTreeMap::is_empty")]
    condition: BTreeMap<&'static str, BTreeMap<String, OneOrMany<'a>>>,
}

static TRUE: &str = "true";
static FALSE: &str = "false";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Action,
    NotAction,
    Star,
}

/// Renders one statement.
fn render(
    sid: &str,
    kind: PolicyType,
    mode: Mode,
    patterns: &[String],
    resources: &[String],
    not_resource: bool,
    cond: &Cond,
) -> String {
    let star = ["*".to_owned()];
    let mut condition: BTreeMap<&'static str, BTreeMap<String, OneOrMany<'_>>> = BTreeMap::new();
    let mut null: BTreeMap<String, OneOrMany<'_>> = BTreeMap::new();
    for t in &cond.absent_tags {
        null.insert(format!("aws:PrincipalTag/{t}"), OneOrMany::One(TRUE));
    }
    if let Some(t) = &cond.present_tag {
        null.insert(format!("aws:PrincipalTag/{t}"), OneOrMany::One(FALSE));
    }
    if !null.is_empty() {
        condition.insert("Null", null);
    }
    for (op, key, values) in [
        ("ArnNotLike", "aws:PrincipalArn", &cond.arn_not_like),
        ("ArnLike", "aws:PrincipalArn", &cond.arn_like),
        ("StringNotLike", "aws:userid", &cond.userid_not_like),
        ("StringLike", "aws:userid", &cond.userid_like),
        ("ForAnyValue:StringLike", "aws:TagKeys", &cond.tag_keys_like),
        ("StringNotEquals", "aws:RequestedRegion", &cond.regions_not),
        (
            "StringNotEquals",
            "aws:PrincipalAccount",
            &cond.accounts_not,
        ),
    ] {
        if !values.is_empty() {
            condition
                .entry(op)
                .or_default()
                .insert(key.to_owned(), OneOrMany::of(values));
        }
    }
    let st = JsonStatement {
        sid,
        effect: "Deny",
        principal: (kind == PolicyType::Rcp).then_some("*"),
        action: match mode {
            Mode::Action => Some(OneOrMany::of(patterns)),
            Mode::Star => Some(OneOrMany::of(&star)),
            Mode::NotAction => None,
        },
        not_action: (mode == Mode::NotAction).then(|| OneOrMany::of(patterns)),
        resource: (!not_resource).then(|| OneOrMany::of(resources)),
        not_resource: not_resource.then(|| OneOrMany::of(resources)),
        condition,
    };
    serde_json::to_string(&st).unwrap_or_default()
}

/// A policy document from statements.
pub fn document(statements: &[String]) -> String {
    let mut s = String::with_capacity(
        HEAD.len() + TAIL.len() + statements.iter().map(|x| x.len() + 1).sum::<usize>(),
    );
    s.push_str(HEAD);
    s.push_str(&statements.join(","));
    s.push_str(TAIL);
    s
}

/// A merged rule ready to render.
#[derive(Debug, Clone)]
struct Item {
    layer: LayerKind,
    kind: PolicyType,
    target: String,
    sid: String,
    mode: Mode,
    patterns: Vec<String>,
    resources: Vec<String>,
    not_resource: bool,
    cond: Cond,
    label: String,
    seq: usize,
}

impl Item {
    fn render_with(&self, sid: &str, patterns: &[String]) -> String {
        render(
            sid,
            self.kind,
            self.mode,
            patterns,
            &self.resources,
            self.not_resource,
            &self.cond,
        )
    }
}

/// Merges rules with identical conditions, compresses action sets, and names statements.
fn items(rules: &[Rule]) -> Vec<Item> {
    let catalog = Catalog::get();
    type Key = (
        PolicyType,
        String,
        LayerKind,
        bool,
        (Vec<String>, bool),
        Cond,
    );
    let mut merged: BTreeMap<Key, (BTreeSet<ActionId>, Vec<String>)> = BTreeMap::new();
    for r in rules {
        let (not, set) = match &r.actions {
            Actions::Only(s) => (false, s),
            Actions::AllExcept(s) => (true, s),
        };
        let key = (
            r.kind,
            r.target.clone(),
            r.layer,
            not,
            (r.resources.clone(), r.not_resource),
            r.cond.clone(),
        );
        match merged.get_mut(&key) {
            Some((acc, labels)) => {
                if not {
                    // Deny all but A, and deny all but B: deny all but A ∩ B.
                    acc.retain(|a| set.contains(a));
                } else {
                    acc.extend(set.iter().copied());
                }
                labels.push(r.label.clone());
            }
            None => {
                merged.insert(key, (set.clone(), vec![r.label.clone()]));
            }
        }
    }
    let mut counters: BTreeMap<(PolicyType, String, LayerKind), usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (seq, ((kind, target, layer, not, (resources, not_resource), cond), (set, labels))) in
        merged.into_iter().enumerate()
    {
        let (mode, patterns) = match (not, set.is_empty()) {
            (false, true) => continue,
            (false, false) => (Mode::Action, catalog.compress(set.iter().copied())),
            (true, true) => (Mode::Star, Vec::new()),
            (true, false) => (Mode::NotAction, catalog.compress(set.iter().copied())),
        };
        let n = counters
            .entry((kind, target.clone(), layer))
            .and_modify(|n| *n += 1)
            .or_insert(1);
        out.push(Item {
            layer,
            kind,
            sid: format!("{}{}", layer.sid_prefix(), n),
            target,
            mode,
            patterns,
            resources,
            not_resource,
            cond,
            label: labels.join("; "),
            seq,
        });
    }
    out
}

#[derive(Debug)]
struct Bin {
    /// The characters a document may hold.
    max: usize,
    statements: Vec<(LayerKind, usize, String, String)>,
}

impl Bin {
    fn new(max: usize) -> Bin {
        Bin {
            max,
            statements: Vec::new(),
        }
    }

    fn size(&self) -> usize {
        HEAD.len()
            + TAIL.len()
            + self.statements.iter().map(|s| s.3.len()).sum::<usize>()
            + self.statements.len().saturating_sub(1)
    }

    /// Room for one more statement.
    fn room(&self) -> usize {
        let comma = usize::from(!self.statements.is_empty());
        self.max.saturating_sub(self.size() + comma)
    }
}

/// Largest prefix of `patterns` whose statement fits in `room`.
fn fitting_prefix(item: &Item, sid: &str, patterns: &[String], room: usize) -> usize {
    let (mut lo, mut hi) = (0usize, patterns.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let len = item
            .render_with(sid, patterns.get(..mid).unwrap_or_default())
            .len();
        if len <= room {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// Packs the statements of one (kind, node) into policy bins of at most `max` characters.
fn fill(mut list: Vec<Item>, max: usize) -> Result<Vec<Bin>, PackError> {
    let mut bins: Vec<Bin> = Vec::new();
    let max_room = max.saturating_sub(HEAD.len() + TAIL.len());
    let splittable = |i: &Item| i.mode == Mode::Action && i.patterns.len() > 1;
    let sized = |i: &Item| i.render_with(&i.sid, &i.patterns).len();
    list.sort_by(|a, b| sized(b).cmp(&sized(a)).then(a.seq.cmp(&b.seq)));
    let (whole, split): (Vec<Item>, Vec<Item>) = list.into_iter().partition(|i| !splittable(i));
    for item in whole {
        let json = item.render_with(&item.sid, &item.patterns);
        if json.len() > max_room {
            return Err(PackError::StatementTooLarge {
                layer: item.layer.as_str(),
                label: item.label.clone(),
                target: item.target.clone(),
                size: json.len(),
                limit: max,
            });
        }
        let idx = match bins.iter().position(|b| b.room() >= json.len()) {
            Some(i) => i,
            None => {
                bins.push(Bin::new(max));
                bins.len() - 1
            }
        };
        if let Some(b) = bins.get_mut(idx) {
            b.statements
                .push((item.layer, item.seq, item.label.clone(), json));
        }
    }
    for item in split {
        let mut rest: &[String] = &item.patterns;
        let mut part = 1usize;
        while !rest.is_empty() {
            let sid = if part == 1 {
                item.sid.clone()
            } else {
                format!("{}Part{part}", item.sid)
            };
            let full = item.render_with(&sid, rest);
            if let Some(b) = bins.iter_mut().find(|b| b.room() >= full.len()) {
                b.statements
                    .push((item.layer, item.seq, item.label.clone(), full));
                break;
            }
            // Fill the existing policy with the most room, if one action fits there.
            let best = bins
                .iter()
                .enumerate()
                .max_by(|(ia, a), (ib, b)| a.room().cmp(&b.room()).then(ib.cmp(ia)))
                .map(|(i, b)| (i, b.room()));
            let mut placed = false;
            if let Some((i, room)) = best {
                let k = fitting_prefix(&item, &sid, rest, room);
                if k > 0 {
                    let (now, later) = rest.split_at(k);
                    if let Some(b) = bins.get_mut(i) {
                        b.statements.push((
                            item.layer,
                            item.seq,
                            item.label.clone(),
                            item.render_with(&sid, now),
                        ));
                    }
                    rest = later;
                    placed = true;
                }
            }
            if !placed {
                let k = fitting_prefix(&item, &sid, rest, max_room);
                if k == 0 {
                    return Err(PackError::StatementTooLarge {
                        layer: item.layer.as_str(),
                        label: item.label.clone(),
                        target: item.target.clone(),
                        size: item
                            .render_with(&sid, rest.get(..1).unwrap_or_default())
                            .len(),
                        limit: max,
                    });
                }
                let (now, later) = rest.split_at(k);
                let mut b = Bin::new(max);
                b.statements.push((
                    item.layer,
                    item.seq,
                    item.label.clone(),
                    item.render_with(&sid, now),
                ));
                bins.push(b);
                rest = later;
            }
            part += 1;
        }
    }
    for b in &mut bins {
        b.statements
            .sort_by(|x, y| (x.0, x.1, &x.3).cmp(&(y.0, y.1, &y.3)));
    }
    bins.sort_by(|a, b| {
        let ka = a.statements.first().map(|s| (s.0, s.1));
        let kb = b.statements.first().map(|s| (s.0, s.1));
        ka.cmp(&kb)
    });
    Ok(bins)
}

/// Packs the intent into policies with their attachment targets, within `limits`.
pub fn pack(intent: &Intent, limits: &Limits) -> Result<Vec<PackedPolicy>, PackError> {
    let all = items(&intent.rules);
    let mut by_node: BTreeMap<(PolicyType, String), Vec<Item>> = BTreeMap::new();
    for i in all {
        by_node
            .entry((i.kind, i.target.clone()))
            .or_default()
            .push(i);
    }
    let mut policies: Vec<PackedPolicy> = Vec::new();
    for ((kind, node), list) in by_node {
        let bins = fill(list, limits.chars(kind))?;
        for (n, b) in bins.into_iter().enumerate() {
            let statements: Vec<String> = b.statements.iter().map(|s| s.3.clone()).collect();
            let mut labels: Vec<String> = Vec::new();
            for s in &b.statements {
                if !labels.contains(&s.2) {
                    labels.push(s.2.clone());
                }
            }
            policies.push(PackedPolicy {
                name: format!("latch-{}-{}-{}", kind.lower(), node, n + 1),
                kind,
                origin: node.clone(),
                layers: b.statements.iter().map(|s| s.0).collect(),
                labels,
                content: document(&statements),
                targets: Vec::new(),
            });
        }
    }
    place(intent, &mut policies, limits)?;
    policies.retain(|p| !p.targets.is_empty());
    policies.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(policies)
}

fn place(intent: &Intent, policies: &mut [PackedPolicy], limits: &Limits) -> Result<(), PackError> {
    let org = &intent.org;
    let mut problems: Vec<String> = Vec::new();
    for kind in [PolicyType::Scp, PolicyType::Rcp] {
        let mut pending: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, p) in policies.iter().enumerate() {
            if p.kind == kind {
                pending.entry(p.origin.clone()).or_default().push(i);
            }
        }
        let mut queue = std::collections::VecDeque::from([org.root_id.clone()]);
        while let Some(id) = queue.pop_front() {
            let Some(node) = org.node(&id) else { continue };
            if org.is_management(&id) {
                continue;
            }
            let existing = match kind {
                PolicyType::Scp => &node.existing_scps,
                PolicyType::Rcp => &node.existing_rcps,
            };
            let allowed = limits.per_target(kind);
            let free = allowed.saturating_sub(existing.len());
            let mut here = pending.remove(&id).unwrap_or_default();
            here.sort_by_key(|&i| {
                policies
                    .get(i)
                    .map(|p| (p.layers.iter().next().copied(), p.name.clone()))
            });
            here.dedup();
            let push = if here.len() > free {
                here.split_off(free)
            } else {
                Vec::new()
            };
            for &i in &here {
                if let Some(p) = policies.get_mut(i) {
                    p.targets.push(id.clone());
                }
            }
            let children: Vec<&String> = node
                .children
                .iter()
                .filter(|c| !org.is_management(c))
                .collect();
            if !push.is_empty() {
                if node.kind == NodeKind::Account {
                    problems.push(overflow(
                        intent,
                        kind,
                        allowed,
                        &id,
                        existing,
                        (&here, &push),
                        policies,
                    ));
                } else {
                    for c in &children {
                        pending
                            .entry((*c).clone())
                            .or_default()
                            .extend(push.iter().copied());
                    }
                }
            }
            queue.extend(children.into_iter().cloned());
        }
    }
    if problems.is_empty() {
        for p in policies.iter_mut() {
            p.targets.sort();
            p.targets.dedup();
        }
        Ok(())
    } else {
        Err(PackError::DoesNotFit(problems.join("\n")))
    }
}

fn overflow(
    intent: &Intent,
    kind: PolicyType,
    allowed: usize,
    id: &str,
    existing: &[String],
    (kept, pushed): (&[usize], &[usize]),
    policies: &[PackedPolicy],
) -> String {
    let kind_name = match kind {
        PolicyType::Scp => "SCPs",
        PolicyType::Rcp => "RCPs",
    };
    let aws = Limits::AWS.per_target(kind);
    let who_allows = if allowed == aws {
        format!("AWS allows {aws}")
    } else {
        format!(
            "the configuration allows {allowed} (`limits.{}_per_target`; AWS allows {aws})",
            kind.lower()
        )
    };
    let mut latch: Vec<String> = Vec::new();
    for &i in kept.iter().chain(pushed) {
        if let Some(p) = policies.get(i) {
            latch.push(format!(
                "{} ({} chars: {})",
                p.name,
                p.content.len(),
                p.labels.join("; ")
            ));
        }
    }
    let dropped: Vec<String> = pushed
        .iter()
        .filter_map(|&i| policies.get(i))
        .map(|p| format!("`{}` ({})", p.name, p.labels.join("; ")))
        .collect();
    format!(
        "- {} needs {} {kind_name} but {who_allows}: {} already attached ({}) and {} from Latch: {}.\n  Not placed: {}.\n  You can drop: a bundle or services from the configuration (the largest statements are listed above), detach or merge the existing {} ({}), or target lower levels with free slots in `scope.targets`.",
        intent.org.label(id),
        existing.len() + kept.len() + pushed.len(),
        existing.len(),
        if existing.is_empty() { "none".to_owned() } else { existing.join(", ") },
        kept.len() + pushed.len(),
        latch.join("; "),
        dropped.join(", "),
        kind_name,
        if existing.is_empty() { "none".to_owned() } else { existing.join(", ") },
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn renders_conditions_minified_and_sorted() {
        let cond = Cond {
            absent_tags: vec!["latch:grant:a".into()],
            arn_not_like: vec!["arn:aws:iam::*:role/cp".into()],
            ..Cond::default()
        };
        let s = render(
            "LatchPermission1",
            PolicyType::Scp,
            Mode::Action,
            &["iam:PassRole".into()],
            &["*".into()],
            false,
            &cond,
        );
        assert_eq!(
            s,
            r#"{"Sid":"LatchPermission1","Effect":"Deny","Action":"iam:PassRole","Resource":"*","Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/cp"},"Null":{"aws:PrincipalTag/latch:grant:a":"true"}}}"#
        );
        let r = render(
            "X",
            PolicyType::Rcp,
            Mode::Star,
            &[],
            &["*".into()],
            false,
            &Cond::default(),
        );
        assert_eq!(
            r,
            r#"{"Sid":"X","Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}"#
        );
        // A resource-scoped standing exemption: only these principals, every other role.
        let scoped = render(
            "LatchPermission2",
            PolicyType::Scp,
            Mode::Action,
            &["iam:PassRole".into()],
            &["arn:aws:iam::1:role/web".into()],
            true,
            &Cond {
                arn_like: vec!["arn:aws:iam::1:role/ci".into()],
                ..Cond::default()
            },
        );
        assert_eq!(
            scoped,
            r#"{"Sid":"LatchPermission2","Effect":"Deny","Action":"iam:PassRole","NotResource":"arn:aws:iam::1:role/web","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::1:role/ci"}}}"#
        );
    }
}
