//! The workspace's forbidden dependency arrows (ARCHITECTURE.md, "Dependencies"), checked
//! against every crate's manifest: a new arrow that breaks the layering fails here, not in
//! review.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::Path;

/// Each crate's normal dependencies (dev-dependencies are free: tests may wire anything).
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let name = doc["package"]["name"].as_str().unwrap().to_owned();
        let deps = doc
            .get("dependencies")
            .and_then(|d| d.as_table())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        out.insert(name, deps);
    }
    out
}

/// Crates that compute and reach no network, database or cloud (latch-trail reads the local
/// files it is pointed at).
const PURE: [&str; 9] = [
    "latch-contract",
    "latch-time",
    "latch-policy",
    "latch-catalog",
    "latch-model",
    "latch-trail",
    "latch-analysis",
    "latch-firewall",
    "latch-grant",
];
const ADAPTERS: [&str; 4] = ["latch-aws", "latch-server", "latch-store", "latch-cli"];
/// IO a pure crate must not reach: cloud SDKs, web frameworks, HTTP clients, databases.
fn is_io(dep: &str) -> bool {
    dep.starts_with("aws-")
        || ["axum", "hyper", "reqwest", "sqlx", "tower", "tower-http"].contains(&dep)
}

#[test]
fn forbidden_arrows_are_absent() {
    let deps = dependencies();
    for name in PURE.iter().chain(ADAPTERS.iter()) {
        assert!(deps.contains_key(*name), "no manifest for {name}");
    }
    let mut broken = Vec::new();
    for (name, list) in &deps {
        for dep in list {
            let arrow = format!("{name} -> {dep}");
            if dep == "latch-cli" {
                broken.push(format!("{arrow}: nothing depends on the binary"));
            }
            if PURE.contains(&name.as_str()) && (ADAPTERS.contains(&dep.as_str()) || is_io(dep)) {
                broken.push(format!("{arrow}: a pure crate reaches an adapter or IO"));
            }
            if name == "latch-aws"
                && ["latch-server", "latch-store", "axum", "sqlx"].contains(&dep.as_str())
            {
                broken.push(format!(
                    "{arrow}: the AWS adapter stays free of the server and the store"
                ));
            }
            if ["latch-server", "latch-store"].contains(&name.as_str())
                && (dep.starts_with("aws-") || dep == "latch-aws")
            {
                broken.push(format!(
                    "{arrow}: the control plane stays free of the AWS SDK"
                ));
            }
            if name == "latch-server" && dep == "latch-store" {
                broken.push(format!(
                    "{arrow}: the server uses a store through latch-grant's trait; the binary picks the backend"
                ));
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}
