//! Times the escalation analysis on a snapshot directory (for example one written by
//! `latch example generate --accounts 100 --roles-per-account 200 --out DIR`):
//! `cargo run --release -p latch-analysis --example escalation_scale -- DIR`.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Instant;

use latch_analysis::escalation::{build_graph, paths, GraphContext, GraphOptions};

fn main() {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: escalation_scale SNAPSHOT_DIR");
        std::process::exit(2);
    };
    let t = Instant::now();
    let snapshot = latch_model::load::snapshot(&dir).unwrap();
    let c = snapshot.counts();
    println!(
        "load: {:.2?} ({} accounts, {} users, {} roles)",
        t.elapsed(),
        c.accounts,
        c.users,
        c.roles
    );
    let t = Instant::now();
    let _ = latch_catalog::Catalog::get();
    println!("catalog load: {:.2?}", t.elapsed());
    let t = Instant::now();
    let ctx = GraphContext::new(&snapshot, GraphOptions::default());
    println!(
        "prepare (compile, effective permissions, admin check): {:.2?} ({} nodes, {} admins)",
        t.elapsed(),
        ctx.nodes.len(),
        ctx.admin.iter().filter(|a| **a).count()
    );
    drop(ctx);
    let t = Instant::now();
    let graph = build_graph(&snapshot);
    println!(
        "build_graph (prepare + all rules): {:.2?} ({} edges)",
        t.elapsed(),
        graph.edges.len()
    );
    let t = Instant::now();
    let found = paths(&graph);
    println!("paths: {:.2?} ({} paths)", t.elapsed(), found.len());
    let mut by_technique = std::collections::BTreeMap::new();
    for e in &graph.edges {
        *by_technique.entry(e.technique.id()).or_insert(0usize) += 1;
    }
    println!("edges by technique: {by_technique:?}");
}
