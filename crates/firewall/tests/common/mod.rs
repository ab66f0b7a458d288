//! Shared fixtures: the example organization and 90 days of its CloudTrail.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use latch_model::Snapshot;
use latch_trail::fs::{load_dir, write_generated, LoadOptions};
use latch_trail::generate::{Activity, Options};
use latch_trail::{Date, UsageTable};

pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/org")
}

pub fn snapshot() -> &'static Snapshot {
    static S: OnceLock<Snapshot> = OnceLock::new();
    S.get_or_init(|| latch_model::load::snapshot(&example_dir()).expect("example loads"))
}

pub fn as_of() -> Date {
    Date::parse("2026-11-20").unwrap()
}

pub fn activity() -> Activity {
    let text = std::fs::read_to_string(example_dir().join("activity.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn options() -> Options {
    Options {
        days: 90,
        end_date: as_of(),
        seed: 1,
        max_records_per_file: 0,
    }
}

/// Writes the example's CloudTrail under `dir/cloudtrail` and reads it back.
pub fn write_trail(dir: &Path) -> UsageTable {
    write_generated(dir, &activity(), &options(), 0, &|_, _| {}).unwrap();
    let report = load_dir(&dir.join("cloudtrail"), &LoadOptions::default(), &|_| {}).unwrap();
    assert!(report.skipped.is_empty());
    report.usage
}

/// The example's CloudTrail (90 days ending 2026-11-20), generated once into a temp dir.
pub fn usage() -> &'static UsageTable {
    static U: OnceLock<UsageTable> = OnceLock::new();
    U.get_or_init(|| {
        let summary = latch_trail::generate::generate::<latch_trail::generate::ActivityError>(
            &activity(),
            &options(),
            &mut |_| Ok(()),
        )
        .unwrap();
        summary.expected
    })
}

/// The example organization planned with `config` and no usage.
pub fn without_usage(config: &latch_firewall::Config) -> latch_firewall::PlanInput<'_> {
    latch_firewall::PlanInput {
        snapshot: snapshot(),
        config,
        usage: None,
        as_of: None,
        reading: None,
        active_grants: &[],
    }
}
