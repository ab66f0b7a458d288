//! `latch init` and `latch plan`: the firewall's configuration and its plan.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use latch_firewall::config::STARTER;
use latch_firewall::plan::{must_break_nothing, Plan, TypeBudget};
use latch_firewall::{build, Config, Limits, PlanInput};
use latch_trail::evidence::Reading;
use latch_trail::fs::{load_dir, LoadOptions};
use latch_trail::{Date, Timestamp, UsageTable, Window};

/// Write a commented starter configuration (every default shown, examples commented out).
///
/// Examples:
///   latch init                       # writes ./latch.toml
///   latch init --out prod/latch.toml
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(long, default_value = "latch.toml")]
    out: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

/// Output format of `latch plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// A summary for people: layers, policies, tags, exemptions, the replay of usage.
    Table,
    /// plan.json (the `latch.plan/v1` contract, docs/plan-format.md).
    Json,
    /// `aws_organizations_policy` and `aws_organizations_policy_attachment` resources.
    Terraform,
}

/// Generate the firewall — SCPs, RCPs and tags — and replay observed usage against it.
///
/// Reads the snapshot (and its `cloudtrail/`, or `--cloudtrail DIR`), generates the policies of
/// every layer from `--config` (defaults without it: protect the control-plane sensitivity
/// categories of the catalog, data-plane actions only when named; tamper protection on, no
/// region or service quarantine), packs them within AWS
/// Organizations' quotas (an SCP 10,240 characters and 10 per root/OU/account, an RCP 5,120
/// and 5, counting the ones attached today; `[limits]` in the configuration may lower them),
/// and replays every call of the usage window with the engine to list what would become
/// denied. The table shows what the plan takes of each target's slots and characters.
///
/// Exit status: 0 when the plan is made (and, in protect mode, breaks no observed call);
/// 1 when a protect-mode plan would break observed calls; 2 on errors (including a firewall
/// that does not fit, with what to drop).
///
/// Examples:
///   latch plan --snapshot examples/org
///   latch plan --snapshot examples/org --config latch.toml --out plan/
///   latch plan --snapshot snap/ --cloudtrail /data/trail --as-of 2026-11-20 --format json
///   latch plan --snapshot snap/ --format terraform > latch.tf
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct PlanArgs {
    /// Snapshot directory (docs/snapshot-format.md).
    #[arg(long)]
    snapshot: PathBuf,
    /// Configuration (docs/configuration.md); defaults without it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// CloudTrail directory; default `<snapshot>/cloudtrail` when it exists.
    #[arg(long)]
    cloudtrail: Option<PathBuf>,
    /// Last day of the usage window, `YYYY-MM-DD` (or an RFC 3339 time: its day), at most a
    /// day after the current time; default the day of the last CloudTrail event, counting only
    /// events within a day of their log file's date folder and not after the current time.
    #[arg(long)]
    as_of: Option<String>,
    /// Write `plan.json` and `policies/<name>.json` (and `main.tf` with `--format terraform`)
    /// into this directory, replacing the previous plan there as a whole (other files, such as
    /// `applied.json`, are kept); on any failure the previous plan is left as it was. Its parent
    /// directory must be writable.
    #[arg(long)]
    out: Option<PathBuf>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    format: PlanFormat,
}

/// Runs `latch init`.
pub fn run_init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    if args.out.exists() && !args.force {
        bail!(
            "`{}` exists; pass --force to overwrite it",
            args.out.display()
        );
    }
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    fs::write(&args.out, STARTER)
        .with_context(|| format!("cannot write `{}`", args.out.display()))?;
    eprintln_line(&format!(
        "wrote {} (every key optional; see docs/configuration.md)",
        args.out.display()
    ));
    Ok(ExitCode::SUCCESS)
}

fn eprintln_line(s: &str) {
    let _ = writeln!(std::io::stderr(), "{s}");
}

/// The current time: the only clock `latch plan` reads; the planner gets times as arguments.
pub(crate) fn clock() -> Timestamp {
    Timestamp::from_millis(latch_aws::time::now_millis())
}

/// Usage read from `dir`, the as-of date (`as_of`, or the day of the last believable event,
/// never after `now`; today when there is none) and what reading gave. Whether the usage may
/// be used at all is the planner's to decide (`latch_trail::evidence::usage_verdict`, the rule
/// `latch scan` applies too).
fn load_usage(
    dir: &Path,
    as_of: Option<Date>,
    window_days: u32,
    now: Timestamp,
) -> anyhow::Result<(UsageTable, Date, Reading)> {
    let window = match as_of {
        Some(d) => {
            let until = d.add_days(1).start();
            Window {
                since: Some(latch_trail::Timestamp(
                    until.0 - i64::from(window_days) * 86_400,
                )),
                until: Some(until),
            }
        }
        None => Window::all(),
    };
    let report = load_dir(
        dir,
        &LoadOptions {
            window,
            now: Some(now),
            ..LoadOptions::default()
        },
        &|_| {},
    )
    .with_context(|| format!("cannot read CloudTrail under `{}`", dir.display()))?;
    for s in &report.skipped {
        eprintln_line(&format!(
            "warning: skipped CloudTrail file `{}`: {}",
            s.path.display(),
            s.error
        ));
    }
    if report.events_out_of_bounds > 0 {
        eprintln_line(&format!(
            "warning: ignored {} CloudTrail event(s) dated more than a day outside their log file's date folder or after the current time",
            report.events_out_of_bounds
        ));
    }
    let reading = report.reading();
    let usage = report.usage;
    let as_of = match as_of {
        Some(d) => d,
        None => latch_trail::evidence::as_of(None, usage.last_event, now)
            .map_err(anyhow::Error::msg)?
            .at
            .date(),
    };
    Ok((usage, as_of, reading))
}

/// Reads and checks a firewall configuration file (an empty file is the default configuration).
pub(crate) fn load_config(path: &Path) -> anyhow::Result<Config> {
    let text = latch_input::read(path, latch_input::Expected::TomlOrEmpty)?;
    Config::parse(&text).map_err(|e| {
        crate::diagnostic::config_error(path, &e.key, format_args!("{}: {e}", path.display()))
    })
}

/// Runs `latch plan`.
pub fn run_plan(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => load_config(path)?,
        None => Config::default(),
    };
    let snapshot = latch_model::load::snapshot(&args.snapshot)
        .with_context(|| format!("cannot load snapshot `{}`", args.snapshot.display()))?;
    let now = clock();
    let as_of = match &args.as_of {
        Some(s) => {
            let given = crate::scan_cmd::parse_as_of(s)?;
            let at = latch_trail::evidence::as_of(Some(given), None, now)
                .map_err(|e| anyhow::anyhow!("--as-of: {e}"))?;
            Some(at.at.date())
        }
        None => None,
    };
    let trail_dir = args
        .cloudtrail
        .clone()
        .or_else(|| Some(args.snapshot.join("cloudtrail")).filter(|d| d.is_dir()));
    let usage = match &trail_dir {
        Some(dir) => {
            if !dir.is_dir() {
                bail!("--cloudtrail: `{}` is not a directory", dir.display());
            }
            Some(load_usage(dir, as_of, config.usage.window_days, now)?)
        }
        None => None,
    };
    let input = PlanInput {
        snapshot: &snapshot,
        config: &config,
        usage: usage.as_ref().map(|(u, _, _)| u),
        as_of: usage.as_ref().map(|(_, d, _)| *d),
        reading: usage.as_ref().map(|(_, _, r)| *r),
        active_grants: &[],
    };
    let region = config.regions.allowed.first().map(String::as_str);
    let built = build(&input, region)?;
    let plan = &built.plan;
    if !plan.summary.cloudtrail {
        eprintln_line("!!! NO CLOUDTRAIL DATA: no usage-based exemptions were made and nothing was replayed. This plan may break identities that use protected actions today. !!!");
    }
    let terraform = latch_firewall::terraform::render(plan);
    if let Some(out) = &args.out {
        let terraform = (args.format == PlanFormat::Terraform).then_some(terraform.as_str());
        if let Some(warning) = latch_aws::plan::write_dir(out, plan, terraform)? {
            eprintln_line(&format!("warning: {warning}"));
        }
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        PlanFormat::Json => stdout.write_all(plan.to_json().as_bytes())?,
        PlanFormat::Terraform => stdout.write_all(terraform.as_bytes())?,
        PlanFormat::Table => stdout.write_all(table(plan).as_bytes())?,
    }
    stdout.flush()?;
    let broken = plan.summary.simulation.calls_broken;
    if broken > 0 && must_break_nothing(&plan.summary.mode) {
        eprintln_line(&format!(
            "error: the protect-mode plan would break {broken} observed calls (listed above)"
        ));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `1,234`.
fn n(v: usize) -> String {
    crate::progress::group(v as u64)
}

/// "Policies (4 SCPs and 1 RCP on 5 attachments; largest SCP 9,870 of 10,240 characters,
/// largest RCP 4,051 of 5,120 characters)".
fn policies_header(o: &mut String, plan: &Plan) {
    let limits = plan.limits();
    let mut parts = Vec::new();
    let mut largest = Vec::new();
    for kind in latch_catalog::PolicyType::ALL {
        let (label, max) = (kind.short(), limits.chars(kind));
        let sizes: Vec<usize> = plan
            .policies
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.content.chars().count())
            .collect();
        if sizes.is_empty() {
            continue;
        }
        parts.push(format!(
            "{} {label}{}",
            sizes.len(),
            if sizes.len() == 1 { "" } else { "s" }
        ));
        let top = sizes.iter().max().copied().unwrap_or(0);
        largest.push(format!(
            "; largest {label} {} of {} characters",
            n(top),
            n(max)
        ));
    }
    let what = if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(" and ")
    };
    let _ = writeln!(
        o,
        "\nPolicies ({what} on {} attachment{}{})",
        plan.summary.attachments,
        if plan.summary.attachments == 1 {
            ""
        } else {
            "s"
        },
        largest.concat()
    );
}

/// One type's share of a target: `SCP 7/10 slots (3 existing, 4 Latch), 38,110/40,960 chars`.
fn type_budget(label: &str, b: &TypeBudget) -> String {
    format!(
        "{label} {}/{} slots ({} existing, {} Latch), {}/{} chars",
        b.used(),
        b.slots,
        b.existing,
        b.latch,
        n(b.chars),
        n(b.max_chars)
    )
}

/// What the plan takes of each target's limits.
fn budget(o: &mut String, plan: &Plan) {
    let budget = &plan.summary.budget;
    if budget.is_empty() {
        return;
    }
    let limits = plan.limits();
    let lowered = if limits == Limits::AWS {
        "AWS's quotas"
    } else {
        "lowered by [limits] from AWS's quotas"
    };
    let _ = writeln!(
        o,
        "\nBudget per target (SCP: {} per target, {} characters each; RCP: {} per target, {} each; {lowered})",
        limits.scp_per_target,
        n(limits.scp_chars),
        limits.rcp_per_target,
        n(limits.rcp_chars)
    );
    let labels: Vec<String> = budget
        .iter()
        .map(|t| {
            let kind = match t.kind.as_str() {
                "root" => "Root",
                "ou" => "OU",
                _ => "Account",
            };
            if t.name == t.target || (t.kind == "root" && t.name == "Root") {
                format!("{kind} {}", t.target)
            } else {
                format!("{kind} {} ({})", t.target, t.name)
            }
        })
        .collect();
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    for (t, label) in budget.iter().zip(&labels) {
        let parts: Vec<String> = [("SCP", &t.scp), ("RCP", &t.rcp)]
            .into_iter()
            .filter_map(|(l, b)| b.as_ref().map(|b| type_budget(l, b)))
            .collect();
        let _ = writeln!(o, "  {label:<width$}  {}", parts.join("; "));
    }
}

fn table(plan: &Plan) -> String {
    let s = &plan.summary;
    let mut o = String::new();
    let window = match &s.window {
        Some(w) => format!("CloudTrail {} to {}", w.since, w.until),
        None => "NO CLOUDTRAIL".to_owned(),
    };
    let _ = writeln!(
        o,
        "Latch plan ({}): {} mode, {window}, {} accounts under {}",
        plan.format,
        s.mode,
        s.accounts,
        s.scope_targets.join(", ")
    );
    if !s.warnings.is_empty() {
        let _ = writeln!(o, "\nWarnings");
        for w in &s.warnings {
            let _ = writeln!(o, "  ! {w}");
        }
    }
    let _ = writeln!(o, "\nLayers");
    for l in &s.layers {
        let _ = writeln!(o, "  {:<11} {}", l.layer, l.line);
    }
    policies_header(&mut o, plan);
    let _ = writeln!(o, "  {:<28} {:<4} {:>5}  TARGETS", "NAME", "TYPE", "CHARS");
    for p in &plan.policies {
        let kind = p.kind.short();
        let _ = writeln!(
            o,
            "  {:<28} {:<4} {:>5}  {}",
            p.name,
            kind,
            p.content.chars().count(),
            p.targets.join(", ")
        );
    }
    budget(&mut o, plan);
    let _ = writeln!(o, "\nTags to apply ({})", plan.tags.len());
    for t in &plan.tags {
        let _ = writeln!(o, "  {} {}={}", t.principal_arn, t.key, t.value);
        let _ = writeln!(o, "      {}", t.reason);
    }
    let standing: Vec<_> = plan
        .exemptions
        .iter()
        .filter(|e| e.kind != "control-plane")
        .collect();
    let _ = writeln!(o, "\nExemptions ({})", standing.len());
    for e in standing {
        let who = match &e.session {
            Some(sess) => format!("{} [{sess}]", e.principal),
            None => e.principal.clone(),
        };
        let _ = writeln!(
            o,
            "  {:<22} {who} — {} `{}` via {} {}",
            e.kind, e.layer, e.gate, e.mechanism, e.value
        );
        let _ = writeln!(o, "      {}", e.reason);
    }
    if !s.untaggable_zombies.is_empty() {
        let _ = writeln!(o, "\nZombies that cannot be tagged");
        for z in &s.untaggable_zombies {
            let _ = writeln!(o, "  {z}");
        }
    }
    let sim = &s.simulation;
    let _ = writeln!(o, "\nSimulation");
    if sim.cloudtrail {
        let _ = writeln!(
            o,
            "  {} observed (principal, action) pairs, {} calls replayed with the engine: {} calls would become denied{}",
            sim.pairs_evaluated,
            sim.calls_evaluated,
            sim.calls_broken,
            if sim.calls_broken == 0 && s.mode == "protect" {
                " — none, as protect mode requires"
            } else {
                ""
            }
        );
        if !sim.broken.is_empty() {
            let _ = writeln!(
                o,
                "  {:<70} {:<36} {:>7}  {:<20}  DENIED BY",
                "PRINCIPAL", "ACTION", "COUNT", "LAST SEEN"
            );
            for b in &sim.broken {
                let who = match &b.session {
                    Some(sess) => format!("{} [{sess}]", b.principal_arn),
                    None => b.principal_arn.clone(),
                };
                let _ = writeln!(
                    o,
                    "  {who:<70} {:<36} {:>7}  {:<20}  {}",
                    b.action,
                    b.count,
                    b.last_seen.map_or_else(String::new, |t| t.to_string()),
                    b.denied_by
                );
            }
        }
        for p in &sim.unknown_principals {
            let _ = writeln!(o, "  not in the snapshot, not replayed: {p}");
        }
    }
    for n in &sim.notes {
        let _ = writeln!(o, "  note: {n}");
    }
    if !s.may_break.is_empty() {
        let _ = writeln!(
            o,
            "\nMay break — protected actions held today whose use the trails cannot show ({}); `latch apply` refuses this plan without --accept-unknown-usage",
            s.may_break.len()
        );
        for m in &s.may_break {
            let _ = writeln!(
                o,
                "  {}  {}: {}",
                m.principal,
                m.reason,
                m.actions.join(", ")
            );
        }
    }
    o
}
