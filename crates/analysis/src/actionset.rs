//! Sets of catalog actions as bitsets: one bit per action of the catalog (~22k bits, 2.8 KB),
//! so unions, intersections and differences over whole policies cost microseconds.

use latch_catalog::{ActionId, Catalog};

/// A set of actions of the embedded catalog.
#[derive(Clone, PartialEq, Eq)]
pub struct ActionSet {
    words: Vec<u64>,
}

impl std::fmt::Debug for ActionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActionSet({} actions)", self.len())
    }
}

fn universe_len() -> usize {
    Catalog::get().actions().len()
}

impl ActionSet {
    /// No action.
    pub fn empty() -> ActionSet {
        ActionSet {
            words: vec![0; universe_len().div_ceil(64)],
        }
    }

    /// Every action of the catalog.
    pub fn all() -> ActionSet {
        let mut s = ActionSet::empty();
        s.complement();
        s
    }

    /// The actions an `Action` / `NotAction` list matches (case-insensitive wildcards).
    pub fn from_patterns<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
        negated: bool,
    ) -> ActionSet {
        let catalog = Catalog::get();
        let mut s = ActionSet::empty();
        for p in patterns {
            if p == "*" {
                s = ActionSet::all();
                break;
            }
            for id in catalog.expand_ids(p) {
                s.insert(id);
            }
        }
        if negated {
            s.complement();
        }
        s
    }

    /// Adds an action.
    pub fn insert(&mut self, id: ActionId) {
        let i = id.index();
        if let Some(w) = self.words.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    /// Whether the set holds an action.
    pub fn contains(&self, id: ActionId) -> bool {
        let i = id.index();
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Number of actions.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// In-place union.
    pub fn union_with(&mut self, other: &ActionSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// In-place intersection.
    pub fn intersect_with(&mut self, other: &ActionSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    /// In-place difference.
    pub fn subtract(&mut self, other: &ActionSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// In-place complement within the catalog.
    pub fn complement(&mut self) {
        let n = universe_len();
        for w in &mut self.words {
            *w = !*w;
        }
        let rem = n % 64;
        if rem != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << rem) - 1;
            }
        }
    }

    /// The actions, in catalog order.
    pub fn ids(&self) -> impl Iterator<Item = ActionId> + '_ {
        let catalog = Catalog::get();
        self.words.iter().enumerate().flat_map(move |(wi, &w)| {
            (0..64)
                .filter(move |b| w & (1 << b) != 0)
                .filter_map(move |b| catalog.actions().get(wi * 64 + b).map(|a| a.id()))
        })
    }

    /// The actions' full names, in catalog order.
    pub fn names(&self) -> Vec<&'static str> {
        let catalog = Catalog::get();
        self.ids()
            .filter_map(|id| catalog.action_by_id(id).map(|a| a.full_name()))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_algebra() {
        let iam = ActionSet::from_patterns(["iam:*"], false);
        let n_iam = Catalog::get().service("iam").unwrap().action_count();
        assert_eq!(iam.len(), n_iam);
        let not_iam = ActionSet::from_patterns(["iam:*"], true);
        assert_eq!(not_iam.len() + n_iam, Catalog::get().actions().len());
        let mut both = iam.clone();
        both.intersect_with(&not_iam);
        assert!(both.is_empty());
        let put = ActionSet::from_patterns(["IAM:put*"], false);
        let mut rest = iam.clone();
        rest.subtract(&put);
        assert_eq!(rest.len() + put.len(), n_iam);
        assert!(put.names().contains(&"iam:PutRolePolicy"));
        assert_eq!(ActionSet::all().len(), Catalog::get().actions().len());
    }
}
