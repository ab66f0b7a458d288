//! Evaluations per second of the compiled engine on two cases (see `cases/`):
//! - `simple`: IAM user, `s3:*` identity policy, 3-level SCP chain with a Deny at the OU;
//! - `realistic`: role session, 10 identity policies with conditions, a permissions boundary,
//!   3-level SCPs with conditions, a resource policy.
//!
//! Run: `cargo bench -p latch-policy --bench engine`; criterion prints `thrpt` in elem/s
//! (= evaluations per second on one core). Parsing and compiling happen once, outside the
//! timed loop, as in `latch eval --repeat`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use latch_policy::case::Case;
use std::hint::black_box;

fn load(name: &str) -> Case {
    let path = format!("{}/benches/cases/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    Case::from_value(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(1));
    for name in ["simple", "realistic"] {
        let case = load(name);
        g.bench_function(name, |b| b.iter(|| black_box(case.evaluate()).decision));
    }
    g.finish();
    let mut g = c.benchmark_group("parse_and_compile");
    g.throughput(Throughput::Elements(1));
    for name in ["simple", "realistic"] {
        let path = format!("{}/benches/cases/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| Case::from_value(black_box(&value)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
