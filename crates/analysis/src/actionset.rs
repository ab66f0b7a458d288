//! Sets of catalog actions as bitsets: one bit per action of the catalog (~22k bits), so
//! unions, intersections and differences over whole policies cost microseconds.
//!
//! Only the words from the first to the last non-zero one are held: most sets name a few
//! services (a policy's Denies, a role's inline policy), and an empty set holds nothing. The
//! scan keeps four sets for every policy document of the organization, so this is most of
//! its memory at scale.

use latch_catalog::{ActionId, Catalog};

/// A set of actions of the embedded catalog.
///
/// Canonical form (so that the derived equality is set equality): `words` neither starts nor
/// ends with a zero word, and the empty set is `first == 0` with no words.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct ActionSet {
    /// Index of the first word held; the words before it and after the last one are zero.
    first: usize,
    /// Bits of actions `64 * first` onwards.
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
        ActionSet::default()
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

    fn end(&self) -> usize {
        self.first + self.words.len()
    }

    /// Word `i` of the whole bitset.
    fn word(&self, i: usize) -> u64 {
        i.checked_sub(self.first)
            .and_then(|k| self.words.get(k))
            .copied()
            .unwrap_or(0)
    }

    /// Holds words `lo..hi` at least (new words are zero).
    fn cover(&mut self, lo: usize, hi: usize) {
        if self.words.is_empty() {
            self.first = lo;
            self.words = vec![0; hi.saturating_sub(lo)];
            return;
        }
        if lo < self.first {
            let n = self.first - lo;
            self.words.splice(0..0, std::iter::repeat_n(0, n));
            self.first = lo;
        }
        if hi > self.end() {
            let n = hi - self.end();
            self.words.reserve_exact(n);
            self.words.resize(self.words.len() + n, 0);
        }
    }

    /// Back to canonical form: drops zero words at both ends.
    fn trim(&mut self) {
        let lead = self.words.iter().take_while(|w| **w == 0).count();
        if lead == self.words.len() {
            *self = ActionSet::default();
            return;
        }
        let trail = self.words.iter().rev().take_while(|w| **w == 0).count();
        self.words.truncate(self.words.len() - trail);
        self.words.drain(..lead);
        self.first += lead;
        if self.words.capacity() > 2 * self.words.len() {
            self.words.shrink_to_fit();
        }
    }

    /// Adds an action.
    pub fn insert(&mut self, id: ActionId) {
        let i = id.index();
        if i >= universe_len() {
            return;
        }
        let w = i / 64;
        self.cover(w, w + 1);
        if let Some(x) = self.words.get_mut(w - self.first) {
            *x |= 1 << (i % 64);
        }
    }

    /// Whether the set holds an action.
    pub fn contains(&self, id: ActionId) -> bool {
        let i = id.index();
        self.word(i / 64) & (1 << (i % 64)) != 0
    }

    /// Number of actions.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// In-place union.
    pub fn union_with(&mut self, other: &ActionSet) {
        if other.words.is_empty() {
            return;
        }
        self.cover(other.first, other.end());
        let offset = other.first - self.first;
        if let Some(mine) = self.words.get_mut(offset..) {
            for (a, b) in mine.iter_mut().zip(&other.words) {
                *a |= b;
            }
        }
    }

    /// In-place intersection.
    pub fn intersect_with(&mut self, other: &ActionSet) {
        let first = self.first;
        for (k, a) in self.words.iter_mut().enumerate() {
            *a &= other.word(first + k);
        }
        self.trim();
    }

    /// In-place difference.
    pub fn subtract(&mut self, other: &ActionSet) {
        let first = self.first;
        for (k, a) in self.words.iter_mut().enumerate() {
            *a &= !other.word(first + k);
        }
        self.trim();
    }

    /// In-place complement within the catalog.
    pub fn complement(&mut self) {
        let n = universe_len();
        let mut words: Vec<u64> = (0..n.div_ceil(64)).map(|i| !self.word(i)).collect();
        let rem = n % 64;
        if rem != 0 {
            if let Some(last) = words.last_mut() {
                *last &= (1u64 << rem) - 1;
            }
        }
        self.first = 0;
        self.words = words;
        self.trim();
    }

    /// The actions, in catalog order.
    pub fn ids(&self) -> impl Iterator<Item = ActionId> + '_ {
        let catalog = Catalog::get();
        let first = self.first;
        self.words.iter().enumerate().flat_map(move |(wi, &w)| {
            // The set bits, lowest first, without testing the others.
            let mut rest = w;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let b = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    b
                })
            })
            .filter_map(move |b| catalog.actions().get((first + wi) * 64 + b).map(|a| a.id()))
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
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
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
        assert_eq!(ActionSet::from_patterns([], true), ActionSet::all());
        let mut none = ActionSet::all();
        none.complement();
        assert_eq!(none, ActionSet::empty());
    }

    mod model {
        //! Every operation against a `BTreeSet` of action indexes.
        use std::collections::BTreeSet;

        use proptest::prelude::*;

        use super::super::{universe_len, ActionSet};
        use latch_catalog::Catalog;

        /// Indexes clustered like real policies: a few runs of nearby actions, anywhere.
        fn indexes() -> impl Strategy<Value = BTreeSet<usize>> {
            let n = universe_len();
            prop::collection::vec((0..n, 0usize..200, 0usize..5), 0..4).prop_map(move |runs| {
                runs.into_iter()
                    .flat_map(|(start, len, step)| {
                        (0..len)
                            .map(move |k| start + k * (step + 1))
                            .filter(move |i| *i < n)
                    })
                    .collect()
            })
        }

        fn set(ix: &BTreeSet<usize>) -> ActionSet {
            let actions = Catalog::get().actions();
            let mut s = ActionSet::empty();
            for i in ix {
                s.insert(actions[*i].id());
            }
            s
        }

        fn model(s: &ActionSet) -> BTreeSet<usize> {
            s.ids().map(|id| id.index()).collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]
            #[test]
            fn operations_match_the_model(a in indexes(), b in indexes(), probe in 0..20_000usize) {
                let (sa, sb) = (set(&a), set(&b));
                prop_assert_eq!(model(&sa), a.clone());
                prop_assert_eq!(sa.len(), a.len());
                prop_assert_eq!(sa.is_empty(), a.is_empty());
                let actions = Catalog::get().actions();
                let probe = probe % universe_len();
                prop_assert_eq!(sa.contains(actions[probe].id()), a.contains(&probe));

                let mut u = sa.clone();
                u.union_with(&sb);
                prop_assert_eq!(model(&u), a.union(&b).copied().collect::<BTreeSet<_>>());
                prop_assert_eq!(&u, &set(&a.union(&b).copied().collect()));

                let mut i = sa.clone();
                i.intersect_with(&sb);
                let expected: BTreeSet<usize> = a.intersection(&b).copied().collect();
                prop_assert_eq!(model(&i), expected.clone());
                prop_assert_eq!(&i, &set(&expected));

                let mut d = sa.clone();
                d.subtract(&sb);
                let expected: BTreeSet<usize> = a.difference(&b).copied().collect();
                prop_assert_eq!(model(&d), expected.clone());
                prop_assert_eq!(&d, &set(&expected));

                let mut c = sa.clone();
                c.complement();
                prop_assert_eq!(c.len(), universe_len() - a.len());
                prop_assert_eq!(c.contains(actions[probe].id()), !a.contains(&probe));
                c.complement();
                prop_assert_eq!(&c, &sa);
            }
        }
    }
}
