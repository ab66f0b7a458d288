//! The sensitivity classification: which actions are dangerous to hold
//! standing, and why.
//!
//! The rules are data, in one reviewable file, `data/sensitivity.toml`:
//!
//! - `[[broad]]` rules classify every action of an access level, optionally
//!   only in (or outside) some services;
//! - `[curated.<category>]` tables name actions (exact names, or patterns
//!   with wildcards) with the reason each is sensitive.
//!
//! An action gets at most one classification per category; where a curated
//! entry and a broad rule give the same category, the curated entry's reason
//! wins, as it is the more specific. Loading fails if a curated entry matches
//! no catalog action or a rule names an unknown service, so the file cannot
//! silently drift from the data.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::Deserialize;

use crate::{pattern, AccessLevel, ActionId, Catalog, LoadError};

/// Why an action is sensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Lets the caller gain permissions it does not have.
    PrivilegeEscalation,
    /// Reads or creates credentials, keys or secrets.
    CredentialAccess,
    /// Moves data out of the organization's control.
    DataExfiltration,
    /// Opens resources to other principals or accounts, or to the public.
    ResourceExposure,
    /// Blinds logging, detection or governance.
    DefenseEvasion,
    /// Destroys data, backups or whole accounts.
    Destructive,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 6] = [
        Category::PrivilegeEscalation,
        Category::CredentialAccess,
        Category::DataExfiltration,
        Category::ResourceExposure,
        Category::DefenseEvasion,
        Category::Destructive,
    ];

    /// The categories the firewall protects when the configuration names none: who may do
    /// what, credentials, exposure, logging and destruction — the control plane. Data
    /// exfiltration is mostly the data plane (reading objects, items and rows), whose calls
    /// trails log only where their selectors ask: it is protected only when named.
    pub const CONTROL_PLANE: [Category; 5] = [
        Category::PrivilegeEscalation,
        Category::CredentialAccess,
        Category::ResourceExposure,
        Category::DefenseEvasion,
        Category::Destructive,
    ];

    /// The category's name, e.g. `privilege-escalation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::PrivilegeEscalation => "privilege-escalation",
            Category::CredentialAccess => "credential-access",
            Category::DataExfiltration => "data-exfiltration",
            Category::ResourceExposure => "resource-exposure",
            Category::DefenseEvasion => "defense-evasion",
            Category::Destructive => "destructive",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when a string names no category.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown sensitivity category `{0}`; expected one of privilege-escalation, credential-access, data-exfiltration, resource-exposure, defense-evasion, destructive"
)]
pub struct UnknownCategory(pub String);

impl FromStr for Category {
    type Err = UnknownCategory;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownCategory(s.to_owned()))
    }
}

/// What a classification rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// A broad rule on the action's access level.
    AccessLevel(AccessLevel),
    /// A curated entry: the action's name, or a pattern matching it.
    Curated(Arc<str>),
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Basis::AccessLevel(level) => write!(f, "access level {level}"),
            Basis::Curated(entry) => write!(f, "curated entry `{entry}`"),
        }
    }
}

/// One reason an action is sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// The category.
    pub category: Category,
    /// Why, in a sentence fragment a person can read.
    pub reason: Arc<str>,
    /// Which rule said so.
    pub basis: Basis,
}

/// `data/sensitivity.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    broad: Vec<BroadRule>,
    #[serde(default)]
    curated: BTreeMap<Category, BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BroadRule {
    category: Category,
    access_level: String,
    #[serde(default)]
    services: Option<Vec<String>>,
    #[serde(default)]
    except_services: Vec<String>,
    reason: String,
}

/// The classification of every action, by action index.
#[derive(Debug, Default)]
pub(crate) struct Table {
    by_action: Vec<Vec<Classification>>,
}

impl Table {
    pub(crate) fn of(&self, id: ActionId) -> &[Classification] {
        self.by_action.get(id.index()).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn build(catalog: &Catalog, toml_text: &str) -> Result<Table, LoadError> {
        let file: RulesFile = toml::from_str(toml_text)?;
        let mut by_action: Vec<Vec<Classification>> = vec![Vec::new(); catalog.actions().len()];

        for rule in &file.broad {
            let level = AccessLevel::from_str(&rule.access_level)
                .map_err(|_| LoadError::RuleAccessLevel(rule.access_level.clone()))?;
            if rule.reason.trim().is_empty() {
                return Err(LoadError::MissingReason(format!(
                    "{} {}",
                    rule.category, level
                )));
            }
            let named = rule.services.iter().flatten().chain(&rule.except_services);
            if let Some(service) = named.into_iter().find(|s| catalog.service(s).is_none()) {
                return Err(LoadError::UnknownRuleService {
                    category: rule.category,
                    service: service.clone(),
                });
            }
            let reason: Arc<str> = Arc::from(rule.reason.trim());
            let in_scope = |prefix: &str| {
                let listed = |list: &[String]| list.iter().any(|s| s.eq_ignore_ascii_case(prefix));
                rule.services.as_deref().is_none_or(listed) && !listed(&rule.except_services)
            };
            for action in catalog.actions() {
                if action.access_level() != level || !in_scope(action.service_prefix()) {
                    continue;
                }
                if let Some(slot) = by_action.get_mut(action.id().index()) {
                    if !slot.iter().any(|c| c.category == rule.category) {
                        slot.push(Classification {
                            category: rule.category,
                            reason: Arc::clone(&reason),
                            basis: Basis::AccessLevel(level),
                        });
                    }
                }
            }
        }

        for (&category, entries) in &file.curated {
            for (entry, reason) in entries {
                if reason.trim().is_empty() {
                    return Err(LoadError::MissingReason(entry.clone()));
                }
                let ids = catalog.expand_ids(entry);
                if ids.is_empty() || (!pattern::has_wildcard(entry) && !catalog.is_known(entry)) {
                    return Err(LoadError::UnmatchedEntry {
                        category,
                        entry: entry.clone(),
                    });
                }
                let reason: Arc<str> = Arc::from(reason.trim());
                let basis = Basis::Curated(Arc::from(entry.as_str()));
                for id in ids {
                    let Some(slot) = by_action.get_mut(id.index()) else {
                        continue;
                    };
                    let classification = Classification {
                        category,
                        reason: Arc::clone(&reason),
                        basis: basis.clone(),
                    };
                    match slot.iter_mut().find(|c| c.category == category) {
                        // A curated entry beats a broad rule; between two
                        // curated entries, an exact name beats a pattern.
                        Some(existing) => {
                            let replace = match &existing.basis {
                                Basis::AccessLevel(_) => true,
                                Basis::Curated(prev) => {
                                    pattern::has_wildcard(prev) && !pattern::has_wildcard(entry)
                                }
                            };
                            if replace {
                                *existing = classification;
                            }
                        }
                        None => slot.push(classification),
                    }
                }
            }
        }
        for slot in &mut by_action {
            slot.sort_by_key(|c| c.category);
        }
        Ok(Table { by_action })
    }
}

/// The curated entries of a rules file, for tests that check each one.
#[cfg(test)]
pub(crate) fn curated_entries(toml_text: &str) -> Vec<(Category, String)> {
    toml::from_str::<RulesFile>(toml_text)
        .map(|f| {
            f.curated
                .into_iter()
                .flat_map(|(c, entries)| entries.into_keys().map(move |e| (c, e)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    #[test]
    fn category_names_round_trip() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
        }
        assert_eq!(
            " Destructive ".parse::<Category>().unwrap(),
            Category::Destructive
        );
        let err = "sneaky".parse::<Category>().unwrap_err();
        assert!(err.to_string().contains("`sneaky`"));
    }

    #[test]
    fn every_curated_entry_names_a_catalog_action() {
        let catalog = Catalog::get();
        let entries = curated_entries(crate::SENSITIVITY_TOML);
        assert!(
            entries.len() > 100,
            "only {} curated entries parsed",
            entries.len()
        );
        for (category, entry) in entries {
            if pattern::has_wildcard(&entry) {
                assert!(
                    !catalog.expand(&entry).is_empty(),
                    "{category}: `{entry}` matches nothing"
                );
            } else {
                let action = catalog.action(&entry);
                assert!(
                    action.is_some(),
                    "{category}: `{entry}` is not a catalog action"
                );
                // Written in the catalog's own spelling, so reviews read true.
                assert_eq!(
                    action.unwrap().full_name(),
                    entry,
                    "{category}: spelling differs from the catalog"
                );
            }
        }
    }

    fn small_catalog(rules: &str) -> Result<Catalog, LoadError> {
        let json = r#"{
            "source": {"package": "p", "version": "1", "license": "MIT", "updated_at": "2026-01-02T00:00:00Z", "data_date": "2026-01-02"},
            "counts": {"services": 2, "actions": 4, "resource_types": 0, "condition_keys": 0, "global_condition_keys": 0},
            "rcp_supported_services": [],
            "global_condition_keys": [],
            "services": [
              {"prefix": "iam", "name": "IAM", "resource_types": [], "condition_keys": [], "actions": [
                ["PutRolePolicy", "P", [], []], ["GetRole", "R", [], []]]},
              {"prefix": "s3", "name": "S3", "resource_types": [], "condition_keys": [], "actions": [
                ["PutBucketPolicy", "P", [], []], ["DeleteBucket", "W", [], []]]}
            ]}"#;
        Catalog::from_sources(json, rules)
    }

    #[test]
    fn broad_rules_scope_by_service_and_curated_entries_win() {
        let c = small_catalog(
            r#"
            [[broad]]
            category = "privilege-escalation"
            access_level = "Permissions management"
            services = ["iam"]
            reason = "identity policy"
            [[broad]]
            category = "resource-exposure"
            access_level = "Permissions management"
            except_services = ["iam"]
            reason = "resource policy"
            [curated.resource-exposure]
            "s3:PutBucketPolicy" = "bucket policy"
            [curated.destructive]
            "s3:Delete*" = "deletes buckets"
            "#,
        )
        .unwrap();
        let iam = c.sensitivity("iam:putrolepolicy");
        assert_eq!(iam.len(), 1);
        assert_eq!(iam[0].category, Category::PrivilegeEscalation);
        assert_eq!(
            iam[0].basis,
            Basis::AccessLevel(AccessLevel::PermissionsManagement)
        );
        let s3 = c.sensitivity("s3:PutBucketPolicy");
        assert_eq!(s3.len(), 1);
        assert_eq!(&*s3[0].reason, "bucket policy");
        assert_eq!(s3[0].basis, Basis::Curated(Arc::from("s3:PutBucketPolicy")));
        assert_eq!(
            c.sensitivity("s3:DeleteBucket")[0].category,
            Category::Destructive
        );
        assert!(c.sensitivity("iam:GetRole").is_empty());
        assert!(c.sensitivity("iam:NoSuchThing").is_empty());
        assert_eq!(c.sensitive_actions(None).len(), 3);
        assert_eq!(c.sensitive_actions(Some(Category::Destructive)).len(), 1);
    }

    #[test]
    fn bad_rules_are_load_errors() {
        let unmatched =
            small_catalog("[curated.destructive]\n\"s3:DeleteBuckets\" = \"x\"\n").unwrap_err();
        assert!(
            matches!(unmatched, LoadError::UnmatchedEntry { .. }),
            "{unmatched}"
        );
        let unmatched_glob =
            small_catalog("[curated.destructive]\n\"ec2:*\" = \"x\"\n").unwrap_err();
        assert!(
            matches!(unmatched_glob, LoadError::UnmatchedEntry { .. }),
            "{unmatched_glob}"
        );
        let no_reason =
            small_catalog("[curated.destructive]\n\"s3:DeleteBucket\" = \" \"\n").unwrap_err();
        assert!(
            matches!(no_reason, LoadError::MissingReason(_)),
            "{no_reason}"
        );
        let bad_service = small_catalog(
            "[[broad]]\ncategory = \"destructive\"\naccess_level = \"Write\"\nservices = [\"nope\"]\nreason = \"x\"\n",
        )
        .unwrap_err();
        assert!(
            matches!(bad_service, LoadError::UnknownRuleService { .. }),
            "{bad_service}"
        );
        let bad_category =
            small_catalog("[curated.sneaky]\n\"s3:DeleteBucket\" = \"x\"\n").unwrap_err();
        assert!(matches!(bad_category, LoadError::Toml(_)), "{bad_category}");
    }
}
