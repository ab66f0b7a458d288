//! Compression is exact: expanding the patterns gives back the set.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeSet;

use latch_catalog::{ActionId, Catalog, Category};
use proptest::prelude::*;

fn expand_all(c: &Catalog, patterns: &[String]) -> BTreeSet<ActionId> {
    patterns.iter().flat_map(|p| c.expand_ids(p)).collect()
}

fn ids(c: &Catalog, pattern: &str) -> BTreeSet<ActionId> {
    c.expand_ids(pattern).into_iter().collect()
}

#[test]
fn whole_catalog_service_and_prefix() {
    let c = Catalog::get();
    assert_eq!(c.compress(c.actions().iter().map(|a| a.id())), ["*"]);
    assert_eq!(c.compress(ids(c, "iam:*")), ["iam:*"]);
    assert_eq!(c.compress(ids(c, "iam:Put*")), ["iam:Put*"]);
    assert_eq!(c.compress(ids(c, "IAM:PUT*")), ["iam:Put*"]);
    assert_eq!(c.compress(ids(c, "iam:PassRole")), ["iam:PassRole"]);
    assert!(c.compress(std::iter::empty()).is_empty());
    let two: BTreeSet<ActionId> = ids(c, "iam:*").into_iter().chain(ids(c, "sts:*")).collect();
    assert_eq!(c.compress(two), ["iam:*", "sts:*"]);
}

#[test]
fn never_widens_to_a_sibling() {
    let c = Catalog::get();
    // All of iam:Put* but one: no pattern may cover the missing action.
    let mut set = ids(c, "iam:Put*");
    let missing = c.resolve("iam:PutRolePolicy").unwrap();
    set.remove(&missing);
    let patterns = c.compress(set.iter().copied());
    assert_eq!(expand_all(c, &patterns), set);
    assert!(!patterns.iter().any(|p| p == "iam:Put*"));
}

#[test]
fn compresses_every_sensitive_action_exactly() {
    let c = Catalog::get();
    let all: BTreeSet<ActionId> = c.sensitive_actions(None).iter().map(|a| a.id()).collect();
    let patterns = c.compress(all.iter().copied());
    assert!(
        patterns.len() < all.len(),
        "{} patterns for {} actions",
        patterns.len(),
        all.len()
    );
    assert_eq!(expand_all(c, &patterns), all);
    for category in Category::ALL {
        let set: BTreeSet<ActionId> = c
            .sensitive_actions(Some(category))
            .iter()
            .map(|a| a.id())
            .collect();
        assert_eq!(
            expand_all(c, &c.compress(set.iter().copied())),
            set,
            "{category}"
        );
    }
}

#[test]
fn output_is_sorted_and_deterministic() {
    let c = Catalog::get();
    let set: Vec<ActionId> = c.sensitive_actions(None).iter().map(|a| a.id()).collect();
    let forward = c.compress(set.iter().copied());
    let backward = c.compress(set.iter().rev().copied());
    assert_eq!(forward, backward);
    // Grouped by service in catalog order, then by name within a service.
    let key = |p: &String| {
        let (service, rest) = p.split_once(':').unwrap();
        (service.to_ascii_lowercase(), rest.to_ascii_lowercase())
    };
    let mut sorted = forward.clone();
    sorted.sort_by_key(key);
    sorted.dedup();
    assert_eq!(sorted, forward);
}

/// Random subsets of a few services, biased so that whole prefixes and
/// whole services are often fully included.
fn subsets() -> impl Strategy<Value = BTreeSet<ActionId>> {
    let c = Catalog::get();
    let services = ["iam", "s3", "ec2", "sts", "kms", "lambda", "a4b"];
    (
        proptest::sample::subsequence(services.to_vec(), 1..=3),
        any::<u64>(),
        0u32..=100,
    )
        .prop_map(move |(chosen, seed, density)| {
            let mut state = seed | 1;
            let mut next = move || {
                // xorshift64
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let mut set = BTreeSet::new();
            for prefix in chosen {
                let service = c.service(prefix).unwrap();
                // Sometimes take a whole service or a whole run by prefix.
                match next() % 4 {
                    0 => set.extend(service.action_ids()),
                    1 => {
                        let first = c
                            .action_by_id(service.action_ids().next().unwrap())
                            .unwrap();
                        let stem: String = first.name().chars().take(1).collect();
                        set.extend(c.expand_ids(&format!("{prefix}:{stem}*")));
                    }
                    _ => {}
                }
                for id in service.action_ids() {
                    if next() % 100 < u64::from(density) {
                        set.insert(id);
                    }
                }
            }
            set
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn expand_of_compress_is_identity(set in subsets()) {
        let c = Catalog::get();
        let patterns = c.compress(set.iter().copied());
        prop_assert_eq!(expand_all(c, &patterns), set.clone());
        prop_assert!(patterns.len() <= set.len());
    }

    #[test]
    fn expand_of_compress_is_identity_catalog_wide(picks in proptest::collection::vec(0usize..22_091, 0..400)) {
        let c = Catalog::get();
        let set: BTreeSet<ActionId> = picks.iter().filter_map(|&i| c.actions().get(i)).map(|a| a.id()).collect();
        let patterns = c.compress(set.iter().copied());
        prop_assert_eq!(expand_all(c, &patterns), set);
    }
}
