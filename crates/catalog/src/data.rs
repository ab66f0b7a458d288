//! The committed catalog file's layout, as written by `tools/catalog-gen`.
//!
//! These types mirror `data/catalog.json` one to one and are only used while
//! loading; the rest of the crate works on the indexed model in `lib.rs`.

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCatalog {
    pub(crate) source: RawSource,
    pub(crate) counts: RawCounts,
    pub(crate) rcp_supported_services: Vec<String>,
    /// `[key, type]`
    pub(crate) global_condition_keys: Vec<(String, String)>,
    pub(crate) services: Vec<RawService>,
}

/// Where the data came from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub(crate) package: String,
    pub(crate) version: String,
    pub(crate) license: String,
    pub(crate) updated_at: String,
    pub(crate) data_date: String,
}

/// What the generator counted in the source package.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCounts {
    pub(crate) services: usize,
    pub(crate) actions: usize,
    pub(crate) resource_types: usize,
    pub(crate) condition_keys: usize,
    pub(crate) global_condition_keys: usize,
}

/// One service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub(crate) prefix: String,
    pub(crate) name: String,
    /// `[key, arn template, condition keys]`
    pub(crate) resource_types: Vec<(String, String, Vec<String>)>,
    /// `[key, type]`
    pub(crate) condition_keys: Vec<(String, String)>,
    pub(crate) actions: Vec<RawAction>,
}

/// `[name, access level code, resource types, condition keys]`; a resource
/// type is `[name, required, condition keys]`.
#[derive(Debug, Deserialize)]
pub(crate) struct RawAction(
    pub(crate) String,
    pub(crate) String,
    pub(crate) Vec<(String, bool, Vec<String>)>,
    pub(crate) Vec<String>,
);
