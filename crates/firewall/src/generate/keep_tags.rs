//! Keep tags: when the identities that keep a group of actions (or an action on some
//! resources) are too many to name in a policy, each carries the group's own tag
//! (`latch:keep:<hash of the actions>` = `standing`) and the rule checks it, so that the
//! policy's size no longer grows with them. Identities without room for another tag stay
//! named.

use std::collections::BTreeSet;

use latch_model::Snapshot;

use super::{TagAssignment, Tags};

/// Tags each of `keepers` with `key` = `standing` where it has room for another tag; returns
/// those that stay named: root users, identities the snapshot does not have, and those that
/// already carry IAM's quota of tags.
pub(super) fn tag_keepers(
    snapshot: &Snapshot,
    keepers: &BTreeSet<String>,
    key: &str,
    reason: &str,
    planned: &mut Tags,
) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for arn in keepers {
        let Some(p) = snapshot.principal(arn) else {
            named.insert(arn.clone());
            continue;
        };
        let has = |k: &str| p.tags().iter().any(|(t, _)| t.eq_ignore_ascii_case(k));
        let planned_here = planned
            .range((arn.clone(), String::new())..)
            .take_while(|((a, _), _)| a == arn)
            .filter(|((_, k), _)| !has(k))
            .count();
        if !has(key)
            && p.tags().len() + planned_here >= latch_catalog::limits::IAM_TAGS_PER_IDENTITY
        {
            named.insert(arn.clone());
            continue;
        }
        planned.insert(
            (arn.clone(), key.to_owned()),
            TagAssignment {
                principal_arn: arn.clone(),
                key: key.to_owned(),
                value: "standing".to_owned(),
                reason: reason.to_owned(),
            },
        );
    }
    named
}

/// The tag that exempts the keepers of one group of actions: `latch:keep:` and a 64-bit
/// FNV-1a hash of the actions' names, so that the same actions give the same tag in every
/// plan.
pub(super) fn keep_tag_key(actions: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, a) in actions.iter().enumerate() {
        if i > 0 {
            h ^= u64::from(b',');
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in a.bytes() {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{}{h:016x}", latch_contract::KEEP_TAG_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keep_tag_names_its_actions_stably_and_apart() {
        let a = keep_tag_key(&["iam:PassRole", "sts:AssumeRole"]);
        assert_eq!(a, keep_tag_key(&["iam:PassRole", "sts:AssumeRole"]));
        assert!(a.starts_with("latch:keep:") && a.len() == "latch:keep:".len() + 16);
        assert_ne!(a, keep_tag_key(&["iam:PassRole"]));
        assert_ne!(a, keep_tag_key(&["iam:PassRoles", "ts:AssumeRole"]));
    }
}
