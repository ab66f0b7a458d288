//! `latch trail usage` (read CloudTrail into a usage table) and `latch example trail`
//! (write realistic CloudTrail for an activity document).

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use latch_trail::fs::{load_dir, write_generated, LoadOptions, LoadReport, OnBadFile, Progress};
use latch_trail::generate::{Activity, Options};
use latch_trail::{Date, Timestamp, UsageTable, Window};
use serde_json::json;

use crate::progress::{group, Bar};

/// Read CloudTrail logs.
#[derive(Debug, Args)]
pub struct TrailArgs {
    #[command(subcommand)]
    command: TrailCommand,
}

#[derive(Debug, Subcommand)]
enum TrailCommand {
    /// Who used which action, when, how often, and who was denied.
    Usage(UsageArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Stream CloudTrail log files into a usage table and print it.
///
/// DIR is a snapshot directory holding `cloudtrail/`, or the CloudTrail folder itself
/// (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz`; plain `.json` too).
///
/// Examples:
///   latch trail usage --dir examples/org --since 90d
///   latch trail usage --dir logs/ --since 2026-01-01 --until 2026-04-01 --format json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct UsageArgs {
    /// Snapshot directory (with `cloudtrail/`) or CloudTrail log folder.
    #[arg(long)]
    dir: PathBuf,
    /// Only events at or after this time: `YYYY-MM-DD`, RFC 3339, or `<N>d` (N days ago).
    #[arg(long)]
    since: Option<String>,
    /// Only events before this time (same forms as --since).
    #[arg(long)]
    until: Option<String>,
    /// `table` for people, `json` for machines (the whole table).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Rows per section of the table.
    #[arg(long, default_value_t = 15)]
    top: usize,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Stop at the first unreadable file instead of listing it and going on.
    #[arg(long)]
    strict: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
}

fn parse_when(s: &str, flag: &str) -> anyhow::Result<Timestamp> {
    if let Some(days) = s.strip_suffix('d') {
        if let Ok(n) = days.parse::<i64>() {
            return Ok(Timestamp(now().0 - n * 86_400));
        }
    }
    Timestamp::parse(s).with_context(|| {
        format!("{flag} `{s}` is not a date (`YYYY-MM-DD`), an RFC 3339 time or `<N>d`")
    })
}

/// Runs `latch trail …`.
pub fn run(args: &TrailArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        TrailCommand::Usage(a) => usage(a),
    }
}

fn usage(args: &UsageArgs) -> anyhow::Result<ExitCode> {
    let window = Window {
        since: args
            .since
            .as_deref()
            .map(|s| parse_when(s, "--since"))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|s| parse_when(s, "--until"))
            .transpose()?,
    };
    let nested = args.dir.join("cloudtrail");
    let dir = if nested.is_dir() {
        nested
    } else {
        args.dir.clone()
    };
    if !dir.is_dir() {
        bail!("`{}` is not a directory", args.dir.display());
    }
    let opts = LoadOptions {
        window,
        now: Some(now()),
        threads: args.threads,
        on_bad_file: if args.strict {
            OnBadFile::Fail
        } else {
            OnBadFile::Skip
        },
    };
    let bar = Bar::new("", args.quiet);
    let started = Instant::now();
    let report = load_dir(&dir, &opts, &|p: &Progress| {
        bar.draw(
            p.files_done,
            p.files_total,
            &format!("files, {}", bar.events(p.events)),
        );
    })?;
    let elapsed = started.elapsed();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Json => {
            let skipped: Vec<_> = report
                .skipped
                .iter()
                .map(
                    |s| json!({"path": s.path.display().to_string(), "error": s.error.to_string()}),
                )
                .collect();
            let doc = json!({
                "directory": dir.display().to_string(),
                "window": {
                    "since": window.since.map(|t| t.to_string()),
                    "until": window.until.map(|t| t.to_string()),
                },
                "files": {
                    "found": report.files_found,
                    "pruned_by_window": report.files_pruned,
                    "read": report.files_read,
                    "skipped": skipped,
                },
                "events_out_of_bounds": report.events_out_of_bounds,
                "out_of_bounds": report
                    .out_of_bounds
                    .iter()
                    .map(|o| json!({"path": o.path.display().to_string(), "events": o.events}))
                    .collect::<Vec<_>>(),
                "records": report.records,
                "usage": report.usage,
            });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Format::Table => {
            out.write_all(render_table(&dir, &report, elapsed, args.top).as_bytes())?;
        }
    }
    if !report.skipped.is_empty() {
        let mut err = io::stderr().lock();
        writeln!(
            err,
            "warning: {} file(s) could not be read and were not counted:",
            report.skipped.len()
        )?;
        for s in &report.skipped {
            writeln!(err, "  {}", s.error)?;
        }
    }
    if report.events_out_of_bounds > 0 {
        let mut err = io::stderr().lock();
        writeln!(
            err,
            "warning: {} event(s) were ignored: dated more than a day outside their file's date folder, or after the current time:",
            report.events_out_of_bounds
        )?;
        for o in &report.out_of_bounds {
            writeln!(err, "  {}: {} event(s)", o.path.display(), o.events)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ts(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.to_string())
}

fn render_table(dir: &Path, r: &LoadReport, elapsed: Duration, top: usize) -> String {
    let u: &UsageTable = &r.usage;
    let mut s = String::new();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let _ = writeln!(
        s,
        "CloudTrail usage from {}\n  {} events in window ({} → {}), {} records in {} files read ({} pruned by window, {} skipped), {} events ignored as out of bounds, {:.2} s, {} events/s",
        dir.display(),
        group(u.events),
        ts(u.first_event),
        ts(u.last_event),
        group(r.records),
        group(r.files_read),
        r.files_pruned,
        r.skipped.len(),
        group(r.events_out_of_bounds),
        secs,
        group((r.records as f64 / secs) as u64),
    );
    let unattributed: u64 = u.other.unattributed.values().sum();
    let _ = writeln!(
        s,
        "  {} principals in {} accounts; {} calls by AWS services; {} unattributed; {} from unknown sources\n",
        u.principals.len(),
        u.accounts.len(),
        group(u.other.aws_service),
        group(unattributed),
        group(u.other.unmapped_sources.values().sum()),
    );

    let mut principals: Vec<_> = u
        .principals
        .iter()
        .map(|(arn, p)| {
            let calls: u64 = p.actions.values().map(|a| a.count).sum();
            let denied: u64 = p.actions.values().map(|a| a.denied).sum();
            (calls, denied, arn, p)
        })
        .collect();
    principals.sort_by(|a, b| b.0.cmp(&a.0).then(a.2.cmp(b.2)));
    let _ = writeln!(s, "Top principals by calls");
    let _ = writeln!(
        s,
        "  {:<72} {:<20} {:>10} {:>7} {:>8}  LAST ACTIVITY",
        "PRINCIPAL", "KIND", "CALLS", "DENIED", "ACTIONS"
    );
    for (calls, denied, arn, p) in principals.iter().take(top) {
        let kind = serde_json::to_value(p.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {:<72} {:<20} {:>10} {:>7} {:>8}  {}",
            arn,
            kind,
            group(*calls),
            group(*denied),
            p.actions.values().filter(|a| a.count > 0).count(),
            ts(p.last_activity)
        );
        for (person, su) in p.sessions.iter().take(5) {
            let calls: u64 = su.actions.values().map(|a| a.count).sum();
            let _ = writeln!(
                s,
                "    └ {:<68} {:<20} {:>10} {:>7} {:>8}  {}",
                person,
                "person",
                group(calls),
                group(su.actions.values().map(|a| a.denied).sum()),
                su.actions.values().filter(|a| a.count > 0).count(),
                ts(su.last_activity)
            );
        }
    }
    if principals.len() > top {
        let _ = writeln!(s, "  … {} more", principals.len() - top);
    }

    let mut actions: std::collections::BTreeMap<&str, (u64, u64)> =
        std::collections::BTreeMap::new();
    for p in u.principals.values() {
        for (a, au) in &p.actions {
            let e = actions.entry(a).or_default();
            e.0 += au.count;
            e.1 += au.denied;
        }
    }
    let mut actions: Vec<_> = actions.into_iter().collect();
    actions.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    let _ = writeln!(s, "\nTop actions by calls");
    let _ = writeln!(s, "  {:<50} {:>10} {:>7}", "ACTION", "CALLS", "DENIED");
    for (a, (calls, denied)) in actions.iter().take(top) {
        let _ = writeln!(s, "  {:<50} {:>10} {:>7}", a, group(*calls), group(*denied));
    }

    let mut denied: Vec<_> = u.denied().collect();
    denied.sort_by(|a, b| {
        b.2.denied
            .cmp(&a.2.denied)
            .then((a.0, a.1).cmp(&(b.0, b.1)))
    });
    let _ = writeln!(
        s,
        "\nDenied attempts ({} principal × action pairs)",
        denied.len()
    );
    if !denied.is_empty() {
        let _ = writeln!(
            s,
            "  {:<72} {:<40} {:>7}  LAST DENIED",
            "PRINCIPAL", "ACTION", "DENIED"
        );
    }
    for (p, a, au) in denied.iter().take(top) {
        let _ = writeln!(
            s,
            "  {:<72} {:<40} {:>7}  {}",
            p,
            a,
            group(au.denied),
            ts(au.last_denied)
        );
    }
    let _ = writeln!(s, "\nServices used per account");
    for (acct, services) in &u.accounts {
        let used: Vec<&str> = services
            .iter()
            .filter(|(_, su)| su.count > 0)
            .map(|(k, _)| k.as_str())
            .collect();
        let _ = writeln!(s, "  {acct}: {}", used.join(", "));
    }
    s
}

/// Write realistic CloudTrail logs for an activity document.
///
/// The activity document maps principal ARNs to the actions they use, calls per day, days
/// since last activity and denied actions (see docs/cloudtrail.md). Files are written to
/// OUT/cloudtrail/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz; the same
/// inputs and seed give the same bytes.
///
/// Examples:
///   latch example trail --activity examples/org/activity.json --days 90 --out examples/org --end-date 2026-03-31
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ExampleTrailArgs {
    /// The activity document (JSON).
    #[arg(long)]
    activity: PathBuf,
    /// Days of logs, ending with --end-date.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3660))]
    days: u32,
    /// Output directory; logs go under OUT/cloudtrail/.
    #[arg(long)]
    out: PathBuf,
    /// Last day generated, `YYYY-MM-DD` (default: today, UTC).
    #[arg(long)]
    end_date: Option<String>,
    /// Seed of all randomness.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Records per file at most.
    #[arg(long, default_value_t = 5_000)]
    max_records_per_file: usize,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Runs `latch example trail`.
pub fn run_example(args: &ExampleTrailArgs) -> anyhow::Result<ExitCode> {
    // Through latch-input, like every file people hand to Latch: a BOM, UTF-16, a folder or
    // an empty file is named as such.
    let text = latch_input::read(&args.activity, latch_input::Expected::Json)?;
    let activity: Activity = serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not an activity document", args.activity.display()))?;
    let end_date = match &args.end_date {
        Some(s) => Date::parse(s)
            .with_context(|| format!("--end-date `{s}` is not a date (`YYYY-MM-DD`)"))?,
        None => now().date(),
    };
    let opts = Options {
        days: args.days,
        end_date,
        seed: args.seed,
        max_records_per_file: args.max_records_per_file,
    };
    let bar = Bar::new("", args.quiet);
    let started = Instant::now();
    let summary = write_generated(&args.out, &activity, &opts, args.threads, &|d, n| {
        bar.draw(u64::from(d), u64::from(n), "days");
    })?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "wrote {} events in {} files for {} principals under {} ({} → {}, seed {}) in {:.2} s",
        group(summary.events),
        group(summary.files),
        activity.0.len(),
        args.out.join("cloudtrail").display(),
        end_date.add_days(1 - i64::from(args.days)),
        end_date,
        args.seed,
        started.elapsed().as_secs_f64()
    )?;
    for (p, actions) in &summary.not_generated {
        let list: Vec<&str> = actions.iter().map(String::as_str).collect();
        writeln!(
            out,
            "note: {p}: not generated (no CloudTrail event records them, or not a plain `service:Name`): {}",
            list.join(", ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
