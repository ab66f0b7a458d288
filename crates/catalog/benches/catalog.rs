//! Catalog speed: loading, expansion and compression of the sensitive
//! actions, and matching one million action strings.
//!
//! Run with `cargo bench -p latch-catalog`. Besides criterion's timings, each
//! group states its throughput so criterion prints elements per second.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use latch_catalog::{ActionId, Catalog};

/// One million action names: every catalog action in its own spelling, in
/// upper case, and a misspelt one that is not in the catalog, repeated.
fn million_names(c: &Catalog) -> Vec<String> {
    let mut base = Vec::new();
    for a in c.actions() {
        base.push(a.full_name().to_owned());
        base.push(a.full_name().to_ascii_uppercase());
        base.push(format!("{}x", a.full_name()));
    }
    base.into_iter().cycle().take(1_000_000).collect()
}

fn bench(crit: &mut Criterion) {
    let c = Catalog::get();
    let sensitive: Vec<ActionId> = c.sensitive_actions(None).iter().map(|a| a.id()).collect();
    let sensitive_names: Vec<&str> = c
        .sensitive_actions(None)
        .iter()
        .map(|a| a.full_name())
        .collect();
    let patterns = c.compress(sensitive.iter().copied());

    let mut load = crit.benchmark_group("load");
    load.sample_size(10);
    load.bench_function("parse embedded catalog and sensitivity rules", |b| {
        b.iter(|| {
            Catalog::from_sources(
                include_str!("../data/catalog.json"),
                include_str!("../data/sensitivity.toml"),
            )
            .unwrap()
        })
    });
    load.finish();

    let mut group = crit.benchmark_group("sensitive");
    group.throughput(Throughput::Elements(sensitive.len() as u64));
    group.bench_function(
        format!("compress {} sensitive actions", sensitive.len()),
        |b| b.iter(|| c.compress(black_box(&sensitive).iter().copied())),
    );
    group.throughput(Throughput::Elements(patterns.len() as u64));
    group.bench_function(
        format!("expand {} compressed patterns", patterns.len()),
        |b| {
            b.iter(|| {
                black_box(&patterns)
                    .iter()
                    .map(|p| c.expand_ids(p).len())
                    .sum::<usize>()
            })
        },
    );
    group.throughput(Throughput::Elements(sensitive_names.len() as u64));
    group.bench_function(
        format!("expand {} sensitive action names", sensitive_names.len()),
        |b| {
            b.iter(|| {
                black_box(&sensitive_names)
                    .iter()
                    .map(|p| c.expand_ids(p).len())
                    .sum::<usize>()
            })
        },
    );
    group.finish();

    let names = million_names(c);
    let mut matching = crit.benchmark_group("match");
    matching.sample_size(10);
    matching.throughput(Throughput::Elements(names.len() as u64));
    matching.bench_function("look up 1M action strings", |b| {
        b.iter(|| black_box(&names).iter().filter(|n| c.is_known(n)).count())
    });
    let globs: Vec<String> = names
        .iter()
        .take(100_000)
        .map(|n| format!("{n}*"))
        .collect();
    matching.throughput(Throughput::Elements(globs.len() as u64));
    matching.bench_function("expand 100k patterns `service:Action*`", |b| {
        b.iter(|| {
            black_box(&globs)
                .iter()
                .map(|g| c.expand_ids(g).len())
                .sum::<usize>()
        })
    });
    matching.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
