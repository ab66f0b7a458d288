//! `latch prove`: attack scenarios against today's policies and against a plan.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use latch_firewall::plan::Plan;
use latch_firewall::prove::{
    builtin, detected_from, parse_scenario, prove, ProveOptions, ProveReport, Scenario,
};
use latch_input::Expected;

/// Output format of `latch prove`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProveFormat {
    /// One line per scenario, then the steps of those that are not blocked.
    Table,
    /// The full report (`latch.prove/v1`, docs/prove.md).
    Json,
}

/// Prove the firewall: run attack scenarios with and without the plan.
///
/// Runs every scenario (privilege escalation, persistence, defense evasion and attempts to
/// tamper with Latch itself) on a concrete principal of the snapshot: whether the scan detects
/// it today (escalation path, or the action held in effective permissions), and the engine's
/// decision on every step without the plan and with the plan's SCPs, RCPs and tags — naming the
/// `latch-*` statement that denies it. The built-in suite is the repository's `scenarios/`
/// (docs/prove.md); `--scenarios DIR` runs other `*.toml` / `*.json` files instead.
///
/// Exit status: 0 when the plan denies the impact (last) step of every scenario; 1 when a
/// scenario is not blocked (or no attacker could be chosen for it); 2 on errors.
///
/// Examples:
///   latch plan --snapshot examples/org --config enforce.toml --out plan/
///   latch prove --snapshot examples/org --plan plan/
///   latch prove --snapshot examples/org --plan plan/ --format json > proof.json
///   latch prove --snapshot snap/ --plan plan/ --scenarios my-scenarios/ --region eu-west-1
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ProveArgs {
    /// Snapshot directory (docs/snapshot-format.md).
    #[arg(long)]
    snapshot: PathBuf,
    /// Plan directory written by `latch plan --out` (its plan.json), or a plan.json file.
    #[arg(long)]
    plan: PathBuf,
    /// Scenario directory (`*.toml`, `*.json`); default the built-in suite.
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// The region every request is made in (`aws:RequestedRegion`, `${region}`).
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Skip the escalation analysis (technique scenarios are then `not-checked`).
    #[arg(long)]
    no_detect: bool,
    /// What to print.
    #[arg(long, value_enum, default_value_t = ProveFormat::Table)]
    format: ProveFormat,
}

fn load_scenarios(dir: &Path) -> anyhow::Result<Vec<Scenario>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("cannot read scenario directory `{}`", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| x == "toml" || x == "json")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no `*.toml` or `*.json` scenario in `{}`", dir.display());
    }
    let mut out = Vec::new();
    for f in files {
        let expected = if f.extension().is_some_and(|x| x == "toml") {
            Expected::Toml
        } else {
            Expected::Json
        };
        let text = latch_input::read(&f, expected)?;
        out.push(parse_scenario(&f.display().to_string(), &text)?);
    }
    let mut ids: Vec<&str> = out.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w.first() == w.get(1)) {
        bail!(
            "two scenarios in `{}` have the id `{}`",
            dir.display(),
            w.first().copied().unwrap_or_default()
        );
    }
    Ok(out)
}

fn load_plan(path: &Path) -> anyhow::Result<Plan> {
    let file = if path.is_dir() {
        path.join("plan.json")
    } else {
        path.to_path_buf()
    };
    let text = latch_input::read(&file, Expected::Json)?;
    Plan::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
}

/// Runs `latch prove`.
pub fn run(args: &ProveArgs) -> anyhow::Result<ExitCode> {
    let plan = load_plan(&args.plan)?;
    let scenarios = match &args.scenarios {
        Some(dir) => load_scenarios(dir)?,
        None => builtin()?,
    };
    let snapshot = latch_model::load::snapshot(&args.snapshot)
        .with_context(|| format!("cannot load snapshot `{}`", args.snapshot.display()))?;
    let detected =
        (!args.no_detect).then(|| detected_from(&latch_analysis::escalation_paths(&snapshot)));
    let report = prove(
        &snapshot,
        &plan,
        &scenarios,
        detected.as_deref(),
        &ProveOptions {
            region: args.region.clone(),
        },
    )?;
    let mut stdout = std::io::stdout().lock();
    match args.format {
        ProveFormat::Json => {
            let mut s = serde_json::to_string_pretty(&report)?;
            s.push('\n');
            stdout.write_all(s.as_bytes())?;
        }
        ProveFormat::Table => stdout.write_all(table(&report).as_bytes())?,
    }
    stdout.flush()?;
    if report.all_blocked() {
        Ok(ExitCode::SUCCESS)
    } else {
        let _ = writeln!(
            std::io::stderr(),
            "error: {} of {} scenarios not blocked by the plan, {} skipped",
            report.summary.not_blocked,
            report.summary.scenarios,
            report.summary.skipped
        );
        Ok(ExitCode::from(1))
    }
}

/// `arn:aws:iam::123456789012:role/path/name` → `123456789012:role/name`.
fn short(arn: &str) -> String {
    let mut parts = arn.splitn(6, ':');
    let (Some(_), Some(_), Some(_), Some(_), Some(account), Some(rest)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return arn.to_owned();
    };
    let kind = rest.split('/').next().unwrap_or(rest);
    let name = rest.rsplit('/').next().unwrap_or(rest);
    format!("{account}:{kind}/{name}")
}

fn decision(d: &str) -> &str {
    match d {
        "Allow" => "allow",
        "ExplicitDeny" => "DENY",
        "ImplicitDeny" => "deny (implicit)",
        other => other,
    }
}

fn table(r: &ProveReport) -> String {
    let mut o = String::new();
    let s = &r.summary;
    let _ = writeln!(
        o,
        "Latch prove: {} scenarios in {} — {} blocked, {} NOT blocked, {} skipped; {} detected before enforcement; {} work today",
        s.scenarios, r.region, s.blocked, s.not_blocked, s.skipped, s.detected, s.feasible_today
    );
    let attacker_of = |sc: &latch_firewall::prove::ScenarioResult| {
        sc.attacker.as_deref().map_or_else(|| "-".to_owned(), short)
    };
    // Columns as wide as their longest entry, so that every row lines up.
    let iw = r
        .scenarios
        .iter()
        .map(|sc| sc.id.chars().count())
        .fold(8, usize::max);
    let aw = r
        .scenarios
        .iter()
        .map(|sc| attacker_of(sc).chars().count())
        .fold(8, usize::max);
    let _ = writeln!(
        o,
        "\n  {:<iw$} {:<aw$} {:<13} {:<16} {:<16} BLOCKED BY",
        "SCENARIO", "ATTACKER", "DETECTED", "TODAY (impact)", "WITH PLAN"
    );
    for sc in &r.scenarios {
        let attacker = attacker_of(sc);
        let impact = sc.steps.last();
        let today = impact.map_or("-", |st| decision(&st.today.decision));
        let with = impact.map_or("-", |st| decision(&st.with_plan.decision));
        let by = if sc.blocked_by.is_empty() {
            sc.status.to_uppercase()
        } else {
            sc.blocked_by.join(", ")
        };
        let _ = writeln!(
            o,
            "  {:<iw$} {:<aw$} {:<13} {:<16} {:<16} {}",
            sc.id, attacker, sc.detection.status, today, with, by
        );
    }
    for sc in r.scenarios.iter().filter(|x| x.status != "blocked") {
        let _ = writeln!(o, "\n{} — {}", sc.id, sc.status.to_uppercase());
        if let Some(p) = &sc.problem {
            let _ = writeln!(o, "  {p}");
        }
        for (i, st) in sc.steps.iter().enumerate() {
            let _ = writeln!(
                o,
                "  {}. {} {} on {} — today {}, with plan {}",
                i + 1,
                short(&st.principal),
                st.action,
                st.resource,
                decision(&st.today.decision),
                decision(&st.with_plan.decision)
            );
        }
    }
    let _ = writeln!(o, "\nDetails: --format json (every step, every denying statement, how each attacker was chosen).");
    o
}
