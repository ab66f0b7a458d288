//! Ingestion throughput, in events per second.
//!
//! - `parse_aggregate/1_thread` and `/2_threads`: parsing + aggregating generated log files
//!   already in memory (uncompressed), the core's speed.
//! - `end_to_end/load_dir`: the same files as `.json.gz` on disk, read with `load_dir`
//!   (discover, decompress, parse, aggregate, merge) on every available core.
//!
//! Run: `cargo bench -p latch-trail --bench ingest`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use latch_trail::fs::{load_dir, write_generated, LoadOptions};
use latch_trail::generate::{Activity, GeneratedFile, Options, Plan, PrincipalActivity};
use latch_trail::{Aggregator, Date, UsageTable, Window};

/// 300 principals in 10 accounts, 3 regions, 12 actions each, ~2,000 calls a day.
fn activity() -> Activity {
    let services = [
        (
            "s3",
            ["GetObject", "PutObject", "ListBucket", "DeleteObject"],
        ),
        (
            "ec2",
            [
                "DescribeInstances",
                "RunInstances",
                "CreateTags",
                "DescribeVolumes",
            ],
        ),
        (
            "iam",
            ["ListRoles", "GetRole", "CreateUser", "AttachRolePolicy"],
        ),
        (
            "lambda",
            [
                "UpdateFunctionCode",
                "GetFunction",
                "ListFunctions",
                "Invoke",
            ],
        ),
        (
            "cloudwatch",
            [
                "PutMetricData",
                "GetMetricData",
                "DescribeAlarms",
                "PutMetricAlarm",
            ],
        ),
        (
            "kms",
            ["Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey"],
        ),
    ];
    let mut m = BTreeMap::new();
    for i in 0..300u32 {
        let acct = format!("{:012}", 100_000_000_000u64 + u64::from(i % 10));
        let arn = if i % 5 == 0 {
            format!("arn:aws:iam::{acct}:user/person{i}")
        } else {
            format!("arn:aws:iam::{acct}:role/service/app-{i}")
        };
        let actions = (0..12)
            .map(|k| {
                let (svc, names) = services[(i as usize + k) % services.len()];
                format!("{svc}:{}", names[k % 4])
            })
            .collect();
        m.insert(
            arn,
            PrincipalActivity {
                actions,
                daily_calls: 2_000,
                last_active_days_ago: 0,
                denied_actions: vec!["iam:CreateAccessKey".into()],
                sessions: vec![],
                regions: vec![
                    "us-east-1".into(),
                    "eu-west-1".into(),
                    "ap-southeast-2".into(),
                ],
                passes: std::collections::BTreeMap::new(),
                acts_on: std::collections::BTreeMap::new(),
            },
        );
    }
    Activity(m)
}

fn options(days: u32) -> Options {
    Options {
        days,
        end_date: Date::parse("2026-03-31").unwrap(),
        seed: 1,
        max_records_per_file: 2_000,
    }
}

fn in_memory(days: u32) -> Vec<GeneratedFile> {
    let plan = Plan::new(&activity()).unwrap();
    let mut files = Vec::new();
    for d in 0..days {
        plan.day(d, &options(days), &mut |f| {
            files.push(f);
            Ok::<(), ()>(())
        })
        .unwrap();
    }
    files
}

fn aggregate(files: &[GeneratedFile]) -> UsageTable {
    let mut a = Aggregator::new();
    for f in files {
        a.add_log(&f.json, &Window::all()).unwrap();
    }
    a.into_table()
}

fn bench(c: &mut Criterion) {
    let files = in_memory(2);
    let events: u64 = files.iter().map(|f| f.records as u64).sum();
    let bytes: usize = files.iter().map(|f| f.json.len()).sum();
    println!(
        "in-memory corpus: {events} events in {} files, {:.1} MB uncompressed ({} bytes/event)",
        files.len(),
        bytes as f64 / 1e6,
        bytes as u64 / events
    );

    let mut g = c.benchmark_group("parse_aggregate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    g.bench_function("1_thread", |b| b.iter(|| aggregate(&files)));
    g.bench_function("2_threads", |b| {
        b.iter(|| {
            let (left, right) = files.split_at(files.len() / 2);
            let (mut l, r) = std::thread::scope(|s| {
                let h = s.spawn(|| aggregate(right));
                (aggregate(left), h.join().unwrap())
            });
            l.merge(r);
            l
        });
    });
    g.finish();

    let dir = tempfile::tempdir().unwrap();
    let summary = write_generated(dir.path(), &activity(), &options(2), 0, &|_, _| {}).unwrap();
    let root = dir.path().join("cloudtrail");
    let mut g = c.benchmark_group("end_to_end");
    g.sample_size(10);
    g.throughput(Throughput::Elements(summary.events));
    g.bench_function("load_dir", |b| {
        b.iter(|| {
            let r = load_dir(&root, &LoadOptions::default(), &|_| {}).unwrap();
            assert_eq!(r.usage.events, summary.events);
            r
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
