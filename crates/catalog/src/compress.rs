//! Exact compression of a set of actions into wildcard patterns.
//!
//! Given a set `S` of catalog actions, produce patterns whose expansion
//! within the catalog is exactly `S`. The patterns used are:
//!
//! - `*`, when `S` is the whole catalog;
//! - `service:*`, when `S` holds every action of a service;
//! - `service:Prefix*`, when `S` holds every action of the service whose name
//!   starts with `Prefix` (compared without case), and there are at least two;
//! - `service:Action`, for an action covered by no wider pattern.
//!
//! **Algorithm.** Within one service, the actions sorted by lowercased name
//! form the leaves of a character trie, and the actions under any trie node
//! (all names starting with the node's prefix) are a contiguous run of that
//! sorted list. A node is *covered* when its whole run is in `S`. The
//! compression walks the trie from the root and emits one pattern for each
//! *maximal* covered node (covered, parent not covered), then does not
//! descend further. The pattern is written with the longest prefix the run
//! shares (`iam:Put*` rather than the equivalent `iam:Pu*`): it matches the
//! same actions today and is the least likely to widen when AWS adds some. With prefix sums
//! over membership, checking a run is O(1), and the walk touches only nodes
//! on the paths to the emitted ones.
//!
//! **Exactness.** Every emitted pattern matches only actions of `S` (its node
//! is covered; a prefix pattern's expansion is exactly its node's run, since
//! names in other services differ before the `:`), and every action of `S` is
//! a leaf whose own node is covered, so some ancestor-or-self is maximal and
//! emitted. The property test in `tests/compress.rs` checks
//! `expand(compress(S)) == S` on random sets.
//!
//! **Size.** Among patterns of the form "prefix followed by `*`" within a
//! service, the result is a minimum: maximal covered nodes have disjoint runs
//! that together hold `S`, and any valid prefix pattern's run lies inside one
//! of them, so each needs at least one pattern of its own. Patterns with `?`
//! or with a `*` before the end, and patterns across services such as
//! `*:Get*`, are not tried; they could occasionally be shorter.
//!
//! A run of one action is written as the action's full name rather than as a
//! shorter prefix wildcard: it means the same within this catalog, reads
//! better, and does not silently widen when AWS later adds an action sharing
//! the prefix.

use crate::{ActionId, Catalog, ServiceInfo};

pub(crate) fn compress<I: IntoIterator<Item = ActionId>>(catalog: &Catalog, ids: I) -> Vec<String> {
    let actions = catalog.actions();
    let mut member = vec![false; actions.len()];
    for id in ids {
        if let Some(slot) = member.get_mut(id.index()) {
            *slot = true;
        }
    }
    // covered_before[i] = members among ids 0..i
    let mut covered_before = Vec::with_capacity(member.len() + 1);
    let mut running = 0usize;
    covered_before.push(0);
    for &m in &member {
        running += usize::from(m);
        covered_before.push(running);
    }
    if running == 0 {
        return Vec::new();
    }
    if running == actions.len() {
        return vec!["*".to_owned()];
    }
    let walk = Walk {
        catalog,
        covered_before: &covered_before,
    };
    let mut out = Vec::new();
    for service in catalog.services() {
        let run = service.actions.start as usize..service.actions.end as usize;
        if walk.members(run.start, run.end) == 0 {
            continue;
        }
        walk.node(service, run.start, run.end, 0, &mut out);
    }
    out
}

struct Walk<'c> {
    catalog: &'c Catalog,
    covered_before: &'c [usize],
}

impl Walk<'_> {
    fn members(&self, lo: usize, hi: usize) -> usize {
        let a = self.covered_before.get(lo).copied().unwrap_or(0);
        let b = self.covered_before.get(hi).copied().unwrap_or(0);
        b.saturating_sub(a)
    }

    /// The lowercased name (without service prefix) of action `i`.
    fn name(&self, service: &ServiceInfo, i: usize) -> &[u8] {
        self.catalog
            .lower
            .get(i)
            .and_then(|full| full.as_bytes().get(service.prefix.len() + 1..))
            .unwrap_or_default()
    }

    /// Visits the trie node whose run is `lo..hi` (non-empty, at least one
    /// member), reached first at depth `depth`: the names in the run share
    /// their first `depth` bytes.
    fn node(
        &self,
        service: &ServiceInfo,
        lo: usize,
        hi: usize,
        depth: usize,
        out: &mut Vec<String>,
    ) {
        let members = self.members(lo, hi);
        if members == 0 {
            return;
        }
        if members == hi - lo {
            out.push(self.pattern(service, lo, hi, depth));
            return;
        }
        // Split the run by the byte at `depth`. A name that ends at `depth`
        // sorts first and is a run of its own.
        let mut start = lo;
        while start < hi {
            let key = self.name(service, start).get(depth).copied();
            let mut end = start + 1;
            while end < hi && self.name(service, end).get(depth).copied() == key {
                end += 1;
            }
            match key {
                // The name equals the prefix: a leaf.
                None => self.node(service, start, end, depth, out),
                Some(_) => self.node(service, start, end, depth + 1, out),
            }
            start = end;
        }
    }

    fn pattern(&self, service: &ServiceInfo, lo: usize, hi: usize, depth: usize) -> String {
        let Some(first) = self.catalog.actions().get(lo) else {
            return String::new();
        };
        if hi - lo == 1 {
            return first.full_name().to_owned();
        }
        if depth == 0 {
            return format!("{}:*", service.prefix);
        }
        // Every prefix from `depth` up to the run's longest common prefix
        // matches exactly this run; the longest is the most specific, so it
        // is the least likely to widen when AWS adds actions. The run is
        // sorted, so its first and last names bound the common prefix.
        let last = self.name(service, hi - 1);
        let common = self
            .name(service, lo)
            .iter()
            .zip(last)
            .take_while(|(a, b)| a == b)
            .count()
            .max(depth);
        let canonical = first.name().get(..common).unwrap_or_else(|| first.name());
        format!("{}:{}*", service.prefix, canonical)
    }
}
