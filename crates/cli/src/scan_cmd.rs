//! `latch scan`: inventory, real usage and analysis of an organization snapshot.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use latch_analysis::scan::{scan, ScanOptions};
use latch_trail::fs::{load_dir, LoadOptions, OnBadFile, Progress};
use latch_trail::{Timestamp, Window};
use serde_json::json;

use crate::json_out;
use crate::progress::Bar;
use crate::scan_render;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Ranked summary tables for people.
    Table,
    /// The whole report for machines.
    Json,
    /// One self-contained HTML page with charts.
    Html,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

/// Scan an organization snapshot: who holds which sensitive permissions, whether they use
/// them, zombie identities, external trust, unused services.
///
/// The snapshot is a directory (docs/snapshot-format.md): accounts/<id>/gaad.json, an optional
/// organization.json, optional resource policies, and an optional cloudtrail/ folder in the
/// layout CloudTrail writes to S3. Missing optional parts are reported as "not analysed".
///
/// Examples:
///   latch scan                                  # the built-in example organization
///   latch scan --snapshot ./snap --format json > report.json
///   latch scan --snapshot ./snap --format html --out report.html
///   latch scan --aws --collect-out ./snap       # collect the live organization, then scan it
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ScanArgs {
    /// The snapshot directory. Default: examples/org in the current folder, or else the
    /// example organization built into latch.
    #[arg(long, value_name = "DIR")]
    snapshot: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Usage window in days: sensitive actions unused this long are standing privilege.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(1..=3650))]
    window_days: i64,
    /// Identities idle this many days are zombies.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(1..=3650))]
    zombie_days: i64,
    /// "Now" for the analysis (YYYY-MM-DD or RFC 3339, not after the current time). Default:
    /// the newest activity in the data (last CloudTrail event or RoleLastUsed), so results are
    /// reproducible — never after the current time, and counting only CloudTrail events
    /// within a day of their log file's date folder.
    #[arg(long)]
    as_of: Option<String>,
    /// CloudTrail folder (the layout CloudTrail writes to S3). Default: SNAPSHOT/cloudtrail.
    /// For the built-in example, whose 90 days of logs are generated from
    /// examples/org/activity.json on first use into a cache folder.
    #[arg(long)]
    cloudtrail: Option<PathBuf>,
    /// Collect the live organization first (as `latch collect` does, with the same AWS
    /// options), then scan what was collected.
    #[arg(long)]
    aws: bool,
    /// With --aws: the snapshot directory to collect into (absent or empty); default a new
    /// folder under the system's temporary directory.
    #[arg(long, requires = "aws", value_name = "DIR")]
    collect_out: Option<PathBuf>,
    #[command(flatten)]
    source: crate::aws_cmd::CollectSource,
    /// Show the top N rows in tables.
    #[arg(long, default_value_t = 15)]
    top: usize,
}

/// The built-in example ships its activity plan (`activity.json`), not the 150 MB of logs it
/// stands for: its 90 days of CloudTrail (ending the day before the snapshot, 2026-11-19) are
/// generated once, deterministically, into a cache folder named after the plan's hash.
fn example_trail(snapshot: &Path, quiet: bool) -> anyhow::Result<Option<PathBuf>> {
    let activity_path = snapshot.join("activity.json");
    let is_example = snapshot.ends_with("examples/org") && activity_path.is_file();
    if !is_example || snapshot.join("cloudtrail").exists() {
        return Ok(None);
    }
    let text = std::fs::read(&activity_path)
        .with_context(|| format!("cannot read `{}`", activity_path.display()))?;
    // FNV-1a: a stable name for this version of the plan.
    let hash = text.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let root = std::env::temp_dir().join(format!("latch-example-cloudtrail-{hash:016x}"));
    if root.join("cloudtrail").is_dir() {
        return Ok(Some(root.join("cloudtrail")));
    }
    let activity: latch_trail::generate::Activity = serde_json::from_slice(&text)
        .with_context(|| format!("`{}` is not an activity document", activity_path.display()))?;
    let end_date = latch_trail::Date::parse("2026-11-19").context("example end date")?;
    let opts = latch_trail::generate::Options {
        days: 90,
        end_date,
        seed: 1,
        max_records_per_file: 5000,
    };
    let partial = root.with_extension("partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("cannot clear `{}`", partial.display()))?;
    }
    let tty = io::stderr().is_terminal() && !quiet;
    if tty {
        #[expect(
            clippy::print_stderr,
            reason = "tell people why the first run takes longer"
        )]
        {
            eprintln!(
                "generating the example's 90 days of CloudTrail (first run only) into {}",
                root.display()
            );
        }
    }
    latch_trail::fs::write_generated(&partial, &activity, &opts, 0, &|_, _| {})
        .context("cannot generate the example's CloudTrail")?;
    std::fs::rename(&partial, &root)
        .with_context(|| format!("cannot move the generated logs to `{}`", root.display()))?;
    Ok(Some(root.join("cloudtrail")))
}

fn load_usage(
    trail: &Path,
    quiet: bool,
    now: Timestamp,
) -> anyhow::Result<Option<latch_trail::fs::LoadReport>> {
    if !trail.is_dir() {
        return Ok(None);
    }
    let trail = trail.to_path_buf();
    let bar = Bar::new("reading CloudTrail", quiet);
    let progress = |p: &Progress| {
        bar.draw(
            p.files_done,
            p.files_total,
            &format!("files, {}", bar.events(p.events)),
        );
    };
    let opts = LoadOptions {
        window: Window::default(),
        now: Some(now),
        threads: 0,
        on_bad_file: OnBadFile::Skip,
    };
    let report = load_dir(&trail, &opts, &progress)
        .with_context(|| format!("cannot read CloudTrail under `{}`", trail.display()))?;
    Ok(Some(report))
}

/// `--as-of`, as `latch scan` and `latch plan` read it.
pub(crate) fn parse_as_of(s: &str) -> anyhow::Result<Timestamp> {
    Timestamp::parse(s)
        .with_context(|| format!("--as-of `{s}`: expected YYYY-MM-DD or an RFC 3339 time"))
}

/// Runs `latch scan`.
pub fn run(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let collected;
    let fallback;
    let snapshot_dir = if args.aws {
        let out = match &args.collect_out {
            Some(dir) => dir.clone(),
            None => std::env::temp_dir().join(format!(
                "latch-scan-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            )),
        };
        let report = crate::aws_cmd::collect_into(&args.source, &out)?;
        #[expect(clippy::print_stderr, reason = "tell people where the snapshot is")]
        {
            eprintln!(
                "collected organization {} into {}",
                report.organization_id,
                out.display()
            );
        }
        collected = out;
        &collected
    } else if let Some(dir) = &args.snapshot {
        dir
    } else {
        fallback = crate::example_org::default_snapshot()?;
        &fallback
    };
    run_on(args, snapshot_dir)
}

fn run_on(args: &ScanArgs, dir: &Path) -> anyhow::Result<ExitCode> {
    if !dir.is_dir() {
        bail!(
            "snapshot directory `{}` does not exist (see docs/snapshot-format.md)",
            dir.display()
        );
    }
    let snapshot = latch_model::load::snapshot(dir)
        .with_context(|| format!("cannot load the snapshot `{}`", dir.display()))?;
    let quiet = args.format != Format::Table && args.out.is_none();
    let trail_dir = match &args.cloudtrail {
        Some(dir) => {
            if !dir.is_dir() {
                bail!("--cloudtrail `{}` is not a directory", dir.display());
            }
            dir.clone()
        }
        None => match example_trail(dir, quiet)? {
            Some(dir) => dir,
            None => dir.join("cloudtrail"),
        },
    };
    let clock = crate::plan_cmd::clock();
    let trail = load_usage(&trail_dir, quiet, clock)?;
    let usage = trail.as_ref().map(|t| &t.usage);

    let newest_role_use = snapshot
        .principals()
        .filter_map(|p| p.as_role())
        .filter_map(|r| r.last_used.as_ref().and_then(|l| l.date.as_ref()))
        .map(|t| t.epoch_millis)
        .max();
    let newest_event = usage.and_then(|u| u.last_event).map(|t| t.seconds() * 1000);
    let newest_activity = newest_event
        .max(newest_role_use)
        .map(|ms| Timestamp(ms.div_euclid(1000)));
    let given = args.as_of.as_deref().map(parse_as_of).transpose()?;
    let as_of = latch_trail::evidence::as_of(given, newest_activity, clock)
        .map_err(|e| anyhow::anyhow!("--as-of: {e}"))?;
    let (now_millis, now_source) = (
        as_of.at.seconds().saturating_mul(1000),
        as_of.source.describe(),
    );
    let mut report = scan(
        &snapshot,
        usage,
        ScanOptions {
            now_millis,
            window_days: args.window_days,
            zombie_days: args.zombie_days,
            reading: trail.as_ref().map(latch_trail::fs::LoadReport::reading),
        },
    );
    let mut buf: Vec<u8> = Vec::new();
    let as_of = Timestamp(now_millis.div_euclid(1000)).to_string();
    match args.format {
        Format::Json => {
            // Written as it is converted: the report of a large organization as one JSON tree
            // would take more memory than the analysis.
            let principals = std::mem::take(&mut report.principals);
            let findings = std::mem::take(&mut report.findings);
            let escalation_paths = std::mem::take(&mut report.escalation_paths);
            let mut v = serde_json::to_value(&report)?;
            let Some(o) = v.as_object_mut() else {
                bail!("the report is not a JSON object");
            };
            let large: [(&str, &dyn json_out::Rows); 3] = [
                ("principals", &principals),
                ("findings", &findings),
                ("escalation_paths", &escalation_paths),
            ];
            for (key, _) in &large {
                if o.get(*key) != Some(&serde_json::Value::Array(Vec::new())) {
                    bail!("the report has no `{key}` list");
                }
            }
            o.insert("as_of".into(), json!(as_of));
            o.insert("as_of_source".into(), json!(now_source));
            if let Some(t) = &trail {
                o.insert(
                    "cloudtrail".into(),
                    json!({"files_read": t.files_read, "records": t.records,
                           "events": t.usage.events,
                           "skipped": t.skipped.iter().map(|s| json!({"file": s.path.display().to_string(), "error": s.error.to_string()})).collect::<Vec<_>>(),
                           "events_out_of_bounds": t.events_out_of_bounds,
                           "out_of_bounds": t.out_of_bounds.iter().map(|o| json!({"file": o.path.display().to_string(), "events": o.events})).collect::<Vec<_>>()}),
                );
            }
            let write = |w: &mut dyn Write| -> io::Result<()> {
                json_out::write_sorted(w, o, &large)?;
                writeln!(w)?;
                w.flush()
            };
            match &args.out {
                Some(path) => std::fs::File::create(path)
                    .and_then(|f| write(&mut io::BufWriter::new(f)))
                    .with_context(|| format!("cannot write `{}`", path.display()))?,
                None => write(&mut io::BufWriter::new(io::stdout().lock()))?,
            }
            // The process ends here: freeing the report and the snapshot of a large
            // organization one allocation at a time would take seconds.
            std::mem::forget((principals, findings, escalation_paths, report, snapshot));
            return Ok(ExitCode::SUCCESS);
        }
        Format::Table => scan_render::table(
            &mut buf,
            &report,
            &snapshot,
            &as_of,
            now_source,
            trail.as_ref(),
            args.top,
            color(args),
        )?,
        Format::Html => {
            buf.extend_from_slice(latch_analysis::report::html(&report, &as_of).as_bytes())
        }
        Format::Sarif => buf.extend_from_slice(latch_analysis::report::sarif(&report).as_bytes()),
    }
    match &args.out {
        Some(path) => std::fs::write(path, &buf)
            .with_context(|| format!("cannot write `{}`", path.display()))?,
        None => io::stdout().lock().write_all(&buf)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn color(args: &ScanArgs) -> bool {
    args.out.is_none() && io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
