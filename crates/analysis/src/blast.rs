//! Blast radius: the accounts each identity can reach by assuming roles, hop by hop, as the
//! engine judges every hop (identity policies, boundary, SCPs, and the target's trust policy).
//! Unlike escalation paths, admins are sources too: an admin of the management account that can
//! assume `OrganizationAccountAccessRole` everywhere reaches every member account.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use latch_model::Snapshot;

use crate::escalation::context::{GraphContext, GraphOptions};

/// For every principal (by ARN): the accounts it can act in, its own included, sorted.
pub fn blast_radius(snapshot: &Snapshot) -> BTreeMap<String, Vec<String>> {
    blast_radius_in(&GraphContext::new(snapshot, GraphOptions::default()))
}

/// [`blast_radius`] on principals already prepared (shared with the escalation graph).
pub fn blast_radius_in(ctx: &GraphContext<'_>) -> BTreeMap<String, Vec<String>> {
    let n = ctx.nodes.len();
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for role in 0..n {
        for &(src, _) in ctx.assumers(role) {
            if let Some(v) = next.get_mut(src) {
                v.push(role);
            }
        }
    }
    let mut out = BTreeMap::new();
    // Which start last reached each node: one array for every search, so that a search costs
    // what it reaches, not the size of the organization.
    let mut seen_from: Vec<Option<usize>> = vec![None; n];
    let mut queue = VecDeque::new();
    for start in 0..n {
        let mut accounts = BTreeSet::new();
        queue.clear();
        queue.push_back(start);
        if let Some(s) = seen_from.get_mut(start) {
            *s = Some(start);
        }
        while let Some(i) = queue.pop_front() {
            accounts.insert(ctx.account(i));
            for &j in next.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                if let Some(s) = seen_from.get_mut(j) {
                    if *s != Some(start) {
                        *s = Some(start);
                        queue.push_back(j);
                    }
                }
            }
        }
        out.insert(
            ctx.arn(start).to_owned(),
            accounts.into_iter().map(str::to_owned).collect(),
        );
    }
    out
}
