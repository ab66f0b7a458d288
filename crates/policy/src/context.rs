//! The request context: condition keys and their values.
//!
//! Condition key names are case-insensitive in AWS ("IAM JSON policy elements: Condition":
//! "Condition key names are not case-sensitive"), so keys are stored lower-cased; values keep
//! their case.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

/// Values of one context key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The key as first given (for explanations).
    pub name: String,
    /// The values (one for a single-valued key).
    pub values: Vec<String>,
    /// Whether the key was given as an array (a multi-valued key).
    pub multi: bool,
}

/// A set of context keys, looked up case-insensitively.
///
/// Keys live in two sorted lists: those set on this value, and those shared with other
/// contexts after [`Context::share`], which cloning does not copy. A key set on this value
/// hides a shared one of the same name, so the two behave as one set in which the latest
/// [`Context::insert`] wins.
#[derive(Clone, Default)]
pub struct Context {
    // Sorted by lower-cased key.
    entries: Vec<Pair>,
    // Sorted by lower-cased key; never holds a key of `entries` that is visible. Each entry is
    // itself shared, so contexts shared through one [`ContextPool`] hold the keys they have in
    // common (an account, an organization, a region, a time) once.
    shared: Option<Arc<Vec<Arc<Pair>>>>,
}

/// A lower-cased key and its entry.
type Pair = (String, Entry);

/// The keys and values of contexts shared with [`Context::share_in`]: an entry equal in every
/// way (key, name as given, values, multi-valuedness) to one already in the pool is not
/// stored again.
#[derive(Default)]
pub struct ContextPool(HashSet<Arc<Pair>>);

impl ContextPool {
    fn intern(&mut self, pair: Pair) -> Arc<Pair> {
        if let Some(held) = self.0.get(&pair) {
            return Arc::clone(held);
        }
        let held = Arc::new(pair);
        self.0.insert(Arc::clone(&held));
        held
    }
}

impl std::fmt::Debug for ContextPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextPool")
            .field("entries", &self.0.len())
            .finish()
    }
}

/// Compares a lower-cased key with a name in any case, without allocating.
fn cmp_key(key_lc: &str, name: &str) -> Ordering {
    key_lc
        .bytes()
        .cmp(name.bytes().map(|b| b.to_ascii_lowercase()))
}

fn find<'e, P: Borrow<Pair>>(entries: &'e [P], name: &str) -> Option<&'e Entry> {
    entries
        .binary_search_by(|p| cmp_key(&p.borrow().0, name))
        .ok()
        .and_then(|i| entries.get(i))
        .map(|p| &p.borrow().1)
}

fn exact<'e, P: Borrow<Pair>>(entries: &'e [P], key_lc: &str) -> Option<&'e Entry> {
    entries
        .binary_search_by(|p| p.borrow().0.as_str().cmp(key_lc))
        .ok()
        .and_then(|i| entries.get(i))
        .map(|p| &p.borrow().1)
}

impl Context {
    /// Sets a key, replacing any earlier value.
    pub fn insert(&mut self, name: &str, values: Vec<String>, multi: bool) {
        let entry = Entry {
            name: name.to_owned(),
            values,
            multi,
        };
        match self.entries.binary_search_by(|(k, _)| cmp_key(k, name)) {
            Ok(i) => {
                if let Some(slot) = self.entries.get_mut(i) {
                    slot.1 = entry;
                }
            }
            Err(i) => self.entries.insert(i, (name.to_ascii_lowercase(), entry)),
        }
    }

    /// Sets a key only if it is not already present.
    pub fn insert_default(&mut self, name: &str, value: String) {
        self.insert_default_with(name, || value);
    }

    /// [`Context::insert_default`], computing the value only when the key is absent.
    pub fn insert_default_with(&mut self, name: &str, value: impl FnOnce() -> String) {
        if self.find(name).is_none_or(|e| e.values.is_empty()) {
            self.insert(name, vec![value()], false);
        }
    }

    /// Moves every key into storage shared by this context and its clones: cloning it
    /// afterwards (a principal's context, copied for each of its requests) copies no key.
    /// Lookups and later inserts behave as before.
    pub fn share(&mut self) {
        self.share_with(Arc::new);
    }

    /// [`Context::share`], each entry taken from `pool` when an equal one is there: contexts
    /// prepared together (every principal of an organization) then hold the keys they have in
    /// common once.
    pub fn share_in(&mut self, pool: &mut ContextPool) {
        self.share_with(|pair| pool.intern(pair));
    }

    fn share_with(&mut self, mut hold: impl FnMut(Pair) -> Arc<Pair>) {
        if self.entries.is_empty() {
            return;
        }
        let own = std::mem::take(&mut self.entries);
        let mut merged: Vec<Arc<Pair>> = own.into_iter().map(&mut hold).collect();
        if let Some(shared) = self.shared.take() {
            for held in shared.iter() {
                if let Err(i) = merged.binary_search_by(|m| m.0.cmp(&held.0)) {
                    merged.insert(i, Arc::clone(held));
                }
            }
        }
        self.shared = Some(Arc::new(merged));
    }

    fn find(&self, name: &str) -> Option<&Entry> {
        find(&self.entries, name)
            .or_else(|| self.shared.as_deref().and_then(|shared| find(shared, name)))
    }

    /// Looks up a lower-cased key.
    pub fn get(&self, key_lc: &str) -> Option<&Entry> {
        exact(&self.entries, key_lc)
            .or_else(|| self.shared.as_deref().and_then(|s| exact(s, key_lc)))
    }

    /// Whether a lower-cased key is present (with at least one value).
    pub fn has(&self, key_lc: &str) -> bool {
        self.get(key_lc).is_some_and(|e| !e.values.is_empty())
    }

    /// The value of a single-valued key; `None` when absent or multi-valued.
    pub fn single(&self, key_lc: &str) -> Option<&str> {
        match self.get(key_lc) {
            Some(Entry { values, .. }) if values.len() == 1 => values.first().map(String::as_str),
            _ => None,
        }
    }

    /// All entries, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.pairs().map(|(_, e)| e)
    }

    /// Every (lower-cased key, entry), sorted by key, a key set on this value hiding the
    /// shared one.
    fn pairs(&self) -> impl Iterator<Item = &Pair> {
        let shared: &[Arc<Pair>] = self.shared.as_deref().map_or(&[], Vec::as_slice);
        let mut own = self.entries.iter().peekable();
        let mut shared = shared.iter().map(|p| &**p).peekable();
        std::iter::from_fn(move || loop {
            return match (own.peek(), shared.peek()) {
                (Some((k, _)), Some((s, _))) => match k.cmp(s) {
                    Ordering::Less => own.next(),
                    Ordering::Greater => shared.next(),
                    Ordering::Equal => {
                        // The key set on this value hides the shared one.
                        shared.next();
                        continue;
                    }
                },
                (Some(_), None) => own.next(),
                (None, Some(_)) => shared.next(),
                (None, None) => None,
            };
        })
    }
}

impl PartialEq for Context {
    fn eq(&self, other: &Context) -> bool {
        self.pairs().eq(other.pairs())
    }
}

impl Eq for Context {}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries: Vec<&Pair> = self.pairs().collect();
        f.debug_struct("Context")
            .field("entries", &entries)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(c: &Context) -> Vec<(String, Vec<String>)> {
        c.iter()
            .map(|e| (e.name.clone(), e.values.clone()))
            .collect()
    }

    #[test]
    fn a_shared_context_answers_as_before_and_later_inserts_win() {
        let mut plain = Context::default();
        plain.insert("aws:PrincipalTag/Team", vec!["red".into()], false);
        plain.insert("aws:RequestedRegion", vec!["us-east-1".into()], false);
        let mut shared = plain.clone();
        shared.share();
        assert_eq!(shared, plain);
        assert_eq!(format!("{shared:?}"), format!("{plain:?}"));
        assert_eq!(shared.single("aws:requestedregion"), Some("us-east-1"));

        for c in [&mut plain, &mut shared] {
            // Replaces a key (in another case), adds one, and a default does not replace.
            c.insert("AWS:RequestedRegion", vec!["eu-west-1".into()], false);
            c.insert("aws:ResourceAccount", vec!["111122223333".into()], false);
            c.insert_default("aws:principaltag/team", "blue".into());
            c.insert_default("aws:PrincipalType", "User".into());
        }
        assert_eq!(shared, plain);
        assert_eq!(shared.single("aws:requestedregion"), Some("eu-west-1"));
        assert_eq!(shared.single("aws:principaltag/team"), Some("red"));
        assert_eq!(
            names(&shared),
            vec![
                ("aws:PrincipalTag/Team".to_owned(), vec!["red".to_owned()]),
                ("aws:PrincipalType".to_owned(), vec!["User".to_owned()]),
                (
                    "AWS:RequestedRegion".to_owned(),
                    vec!["eu-west-1".to_owned()]
                ),
                (
                    "aws:ResourceAccount".to_owned(),
                    vec!["111122223333".to_owned()]
                ),
            ]
        );
        assert_eq!(format!("{shared:?}"), format!("{plain:?}"));

        // Sharing again merges, the latest value winning; clones see the same keys.
        shared.share();
        let copy = shared.clone();
        assert_eq!(copy, plain);
        assert_eq!(copy.single("aws:requestedregion"), Some("eu-west-1"));
    }

    #[test]
    fn an_empty_value_list_hides_a_shared_key() {
        let mut c = Context::default();
        c.insert("aws:SourceIp", vec!["10.0.0.1".into()], false);
        c.share();
        c.insert("aws:sourceip", Vec::new(), true);
        assert!(!c.has("aws:sourceip"));
        c.insert_default("aws:SourceIp", "10.0.0.2".into());
        assert_eq!(c.single("aws:sourceip"), Some("10.0.0.2"));
        assert_eq!(c.iter().count(), 1);
    }

    #[test]
    fn contexts_shared_through_a_pool_hold_common_entries_once_and_answer_as_before() {
        let make = |user: &str| {
            let mut c = Context::default();
            c.insert("aws:PrincipalAccount", vec!["111122223333".into()], false);
            c.insert("aws:username", vec![user.to_owned()], false);
            c
        };
        let mut pool = ContextPool::default();
        let (plain_a, plain_b) = (make("alice"), make("bob"));
        let (mut a, mut b) = (plain_a.clone(), plain_b.clone());
        a.share_in(&mut pool);
        b.share_in(&mut pool);
        assert_eq!(a, plain_a);
        assert_eq!(b, plain_b);
        assert_eq!(a.single("aws:username"), Some("alice"));
        assert_eq!(b.single("aws:username"), Some("bob"));
        let held = |c: &Context, key: &str| {
            c.shared
                .as_deref()
                .and_then(|s| s.iter().find(|p| p.0 == key).cloned())
                .unwrap()
        };
        // The account is held once; the user names, which differ, twice.
        assert!(Arc::ptr_eq(
            &held(&a, "aws:principalaccount"),
            &held(&b, "aws:principalaccount")
        ));
        assert!(!Arc::ptr_eq(
            &held(&a, "aws:username"),
            &held(&b, "aws:username")
        ));
        // An entry that differs only in the case of its name is not merged with another.
        let mut c = Context::default();
        c.insert("AWS:PrincipalAccount", vec!["111122223333".into()], false);
        c.share_in(&mut pool);
        assert!(!Arc::ptr_eq(
            &held(&a, "aws:principalaccount"),
            &held(&c, "aws:principalaccount")
        ));
        assert_eq!(
            c.iter().next().map(|e| e.name.as_str()),
            Some("AWS:PrincipalAccount")
        );
        // Inserting into a pooled context changes it alone.
        a.insert("aws:PrincipalAccount", vec!["444455556666".into()], false);
        assert_eq!(a.single("aws:principalaccount"), Some("444455556666"));
        assert_eq!(b.single("aws:principalaccount"), Some("111122223333"));
    }
}
