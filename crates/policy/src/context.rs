//! The request context: condition keys and their values.
//!
//! Condition key names are case-insensitive in AWS ("IAM JSON policy elements: Condition":
//! "Condition key names are not case-sensitive"), so keys are stored lower-cased; values keep
//! their case.

/// Values of one context key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key as first given (for explanations).
    pub name: String,
    /// The values (one for a single-valued key).
    pub values: Vec<String>,
    /// Whether the key was given as an array (a multi-valued key).
    pub multi: bool,
}

/// A set of context keys, looked up case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    // Sorted by lower-cased key.
    entries: Vec<(String, Entry)>,
}

impl Context {
    /// Sets a key, replacing any earlier value.
    pub fn insert(&mut self, name: &str, values: Vec<String>, multi: bool) {
        let key = name.to_ascii_lowercase();
        let entry = Entry {
            name: name.to_owned(),
            values,
            multi,
        };
        match self.entries.binary_search_by(|(k, _)| k.as_str().cmp(&key)) {
            Ok(i) => {
                if let Some(slot) = self.entries.get_mut(i) {
                    slot.1 = entry;
                }
            }
            Err(i) => self.entries.insert(i, (key, entry)),
        }
    }

    /// Sets a key only if it is not already present.
    pub fn insert_default(&mut self, name: &str, value: String) {
        if !self.has(&name.to_ascii_lowercase()) {
            self.insert(name, vec![value], false);
        }
    }

    /// Looks up a lower-cased key.
    pub fn get(&self, key_lc: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|(k, _)| k.as_str().cmp(key_lc))
            .ok()
            .and_then(|i| self.entries.get(i))
            .map(|(_, e)| e)
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
        self.entries.iter().map(|(_, e)| e)
    }
}
