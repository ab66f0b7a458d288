//! The metrics the server declares (`latch_server::metrics::ALL`), the operations guide that
//! documents them (docs/operations.md) and the example alert rules (deploy/prometheus) stay in
//! step: every metric is documented, the guide names no metric that does not exist, the rules
//! use only declared metrics, and Prometheus's own `promtool` checks the rules and runs their
//! unit tests (deploy/prometheus/alerts.test.yml). With `LATCH_REQUIRE_PROMTOOL` set (the test
//! script sets it after `deploy/promtool install`), a missing promtool fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use latch_server::metrics::{Kind, ALL};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `latch_…` metric name in `text` (a histogram's `_bucket`, `_sum` and `_count` series
/// count as the histogram).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("latch_") {
        let start = i + at;
        let before = start.checked_sub(1).map(|b| bytes[b]);
        let mut end = start + "latch_".len();
        while end < bytes.len() && (bytes[end].is_ascii_lowercase() || bytes[end] == b'_') {
            end += 1;
        }
        i = end;
        // Not part of a longer identifier (`latch_server::…`, `x_latch_y`) or a path.
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
            || text[end..].starts_with("::")
        {
            continue;
        }
        let mut name = text[start + "latch_".len()..end]
            .trim_end_matches('_')
            .to_owned();
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if ALL
                    .iter()
                    .any(|m| m.name == base && m.kind == Kind::Histogram)
                {
                    name = base.to_owned();
                }
            }
        }
        // The bare prefix (`latch_` as a word in prose) names nothing.
        if !name.is_empty() {
            names.insert(name);
        }
    }
    names
}

#[test]
fn every_metric_is_documented_and_the_guide_names_only_real_ones() {
    let guide = std::fs::read_to_string(repo().join("docs/operations.md")).unwrap();
    let declared: BTreeSet<String> = ALL.iter().map(|m| m.name.to_owned()).collect();
    let documented = metric_names(&guide);
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "metrics the server exposes that docs/operations.md does not describe: {undocumented:?}"
    );
    // Crate names (`latch_server`) are not metrics; anything else named `latch_…` must be.
    let crates = ["server", "store", "grant", "aws", "time", "cli"];
    let unknown: Vec<_> = documented
        .difference(&declared)
        .filter(|n| !crates.contains(&n.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/operations.md names metrics the server does not have: {unknown:?}"
    );
    // Each metric's labels are named next to it in the guide's table row.
    for m in ALL {
        let row = guide
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&format!("`latch_{}`", m.name)))
            .unwrap_or_else(|| panic!("no table row for latch_{}", m.name));
        for label in m.labels {
            assert!(
                row.contains(&format!("`{label}`")),
                "the row of latch_{} does not name its label `{label}`: {row}",
                m.name
            );
        }
        assert!(
            row.contains(m.kind.as_str()),
            "the row of latch_{} does not say it is a {}: {row}",
            m.name,
            m.kind.as_str()
        );
    }
}

#[test]
fn the_alert_rules_use_declared_metrics_and_pass_promtool() {
    let dir = repo().join("deploy/prometheus");
    let rules = std::fs::read_to_string(dir.join("alerts.yml")).unwrap();
    let declared: BTreeSet<String> = ALL.iter().map(|m| m.name.to_owned()).collect();
    let used = metric_names(&rules);
    assert!(!used.is_empty(), "alerts.yml names no metric");
    let unknown: Vec<_> = used.difference(&declared).collect();
    assert!(
        unknown.is_empty(),
        "alerts.yml uses metrics the server does not expose: {unknown:?}"
    );
    // The guide describes each alert.
    let guide = std::fs::read_to_string(repo().join("docs/operations.md")).unwrap();
    for line in rules.lines() {
        if let Some(name) = line.trim().strip_prefix("- alert: ") {
            assert!(
                guide.contains(name),
                "docs/operations.md does not describe alert {name}"
            );
        }
    }

    let promtool = std::env::var_os("LATCH_PROMTOOL")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            let cached = Path::new(&home).join(".cache/latch/promtool/usr/bin/promtool");
            cached.is_file().then_some(cached)
        })
        .or_else(|| {
            Command::new("promtool")
                .arg("--version")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|_| PathBuf::from("promtool"))
        });
    let Some(promtool) = promtool else {
        assert!(
            std::env::var_os("LATCH_REQUIRE_PROMTOOL").is_none(),
            "promtool is not installed (deploy/promtool install)"
        );
        eprintln!("promtool not installed: the rules were not checked by it");
        return;
    };
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
