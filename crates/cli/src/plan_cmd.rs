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
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
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
    Config::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
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
        write_out(
            out,
            plan,
            (args.format == PlanFormat::Terraform).then_some(&terraform),
        )?;
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

/// Writes the plan directory — plan.json, policies/<name>.json (exact content), main.tf — as
/// a whole: see [`replace_dir`].
fn write_out(out: &Path, plan: &Plan, terraform: Option<&String>) -> anyhow::Result<()> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = plan
        .policies
        .iter()
        .map(|p| (PathBuf::from(&p.file), p.content.clone().into_bytes()))
        .collect();
    files.push((PathBuf::from("plan.json"), plan.to_json().into_bytes()));
    if let Some(tf) = terraform {
        files.push((PathBuf::from("main.tf"), tf.clone().into_bytes()));
    }
    if let Some(warning) = replace_dir(out, &files, &mut write_synced)? {
        eprintln_line(&format!("warning: {warning}"));
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// What `latch plan` writes into a plan directory: `plan.json`, `main.tf` and
/// `policies/latch-*.json`. Anything else there (`applied.json`, notes) belongs to others.
fn is_plan_output(rel: &Path) -> bool {
    let mut parts = rel.components().map(|c| c.as_os_str().to_str());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Some("plan.json" | "main.tf")), None, None) => true,
        (Some(Some("policies")), Some(Some(name)), None) => {
            name.starts_with(latch_contract::POLICY_NAME_PREFIX) && name.ends_with(".json")
        }
        _ => false,
    }
}

/// Replaces the directory `out` as a whole with one holding `files` (paths relative to it,
/// written by `write`) plus everything of the previous `out` that is not plan output
/// ([`is_plan_output`]; `applied.json` above all), so that `latch prove` and `latch apply`
/// see the previous plan or the new one, never a mixture.
///
/// The new directory is written next to `out` (same parent, so the same file system) under a
/// temporary name; the previous one is renamed aside, the new one renamed into place, and the
/// previous one removed. Any failure before the swap leaves `out` untouched and removes the
/// temporary directory. Returns a warning when the previous directory, already replaced,
/// could not be removed.
fn replace_dir(
    out: &Path,
    files: &[(PathBuf, Vec<u8>)],
    write: &mut dyn FnMut(&Path, &[u8]) -> std::io::Result<()>,
) -> anyhow::Result<Option<String>> {
    // A symbolic link to a plan directory: replace the directory it points to.
    let out = match fs::symlink_metadata(out) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(out).with_context(|| format!("cannot resolve `{}`", out.display()))?
        }
        _ => out.to_path_buf(),
    };
    let exists = match fs::metadata(&out) {
        Ok(m) if m.is_dir() => true,
        Ok(_) => bail!("`{}` exists and is not a directory", out.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", out.display())),
    };
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("--out `{}`: name a directory", out.display()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
    let stamp = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let tmp = parent.join(format!(".{name}.latch-new-{stamp}"));
    fs::create_dir(&tmp).with_context(|| {
        format!(
            "cannot create `{}` to write the new plan in (the plan directory's parent must be writable)",
            tmp.display()
        )
    })?;
    let filled = fill(&tmp, files, write).and_then(|()| {
        if exists {
            carry_over(&out, &tmp, Path::new(""))
        } else {
            Ok(())
        }
    });
    if let Err(e) = filled {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e.context(format!("the plan in `{}` was not changed", out.display())));
    }
    if !exists {
        if let Err(e) = fs::rename(&tmp, &out) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e)
                .with_context(|| format!("cannot move the new plan to `{}`", out.display()));
        }
        sync_dir(&parent);
        return Ok(None);
    }
    let aside = parent.join(format!(".{name}.latch-old-{stamp}"));
    if let Err(e) = fs::rename(&out, &aside) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e).with_context(|| {
            format!(
                "cannot move the previous plan `{}` aside; it was not changed",
                out.display()
            )
        });
    }
    if let Err(e) = fs::rename(&tmp, &out) {
        let restored = fs::rename(&aside, &out).is_ok();
        let _ = fs::remove_dir_all(&tmp);
        return Err(e).with_context(|| {
            if restored {
                format!(
                    "cannot move the new plan to `{}`; the previous one was put back",
                    out.display()
                )
            } else {
                format!(
                    "cannot move the new plan to `{}`; the previous one is in `{}`",
                    out.display(),
                    aside.display()
                )
            }
        });
    }
    sync_dir(&parent);
    Ok(fs::remove_dir_all(&aside).err().map(|e| {
        format!(
            "the new plan is in `{}`, but the previous one could not be removed from `{}`: {e}",
            out.display(),
            aside.display()
        )
    }))
}

/// Writes `files` under `dir`.
fn fill(
    dir: &Path,
    files: &[(PathBuf, Vec<u8>)],
    write: &mut dyn FnMut(&Path, &[u8]) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    fs::create_dir(dir.join("policies"))
        .with_context(|| format!("cannot create `{}`", dir.join("policies").display()))?;
    for (rel, bytes) in files {
        let path = dir.join(rel);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p).with_context(|| format!("cannot create `{}`", p.display()))?;
        }
        write(&path, bytes).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(())
}

/// Copies everything under `from/rel` that is not plan output into `to/rel`.
fn carry_over(from: &Path, to: &Path, rel: &Path) -> anyhow::Result<()> {
    let dir = from.join(rel);
    for entry in fs::read_dir(&dir).with_context(|| format!("cannot read `{}`", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read `{}`", dir.display()))?;
        let rel = rel.join(entry.file_name());
        if is_plan_output(&rel) {
            continue;
        }
        let (src, dst) = (from.join(&rel), to.join(&rel));
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read `{}`", src.display()))?;
        if kind.is_dir() {
            fs::create_dir_all(&dst)
                .with_context(|| format!("cannot create `{}`", dst.display()))?;
            carry_over(from, to, &rel)?;
        } else if kind.is_symlink() {
            copy_link(&src, &dst).with_context(|| format!("cannot copy `{}`", src.display()))?;
        } else {
            // A hard link where possible (same file system): the previous directory is
            // removed after the swap, and nothing writes these files in place.
            fs::hard_link(&src, &dst)
                .or_else(|_| fs::copy(&src, &dst).map(|_| ()))
                .with_context(|| {
                    format!(
                        "cannot copy `{}` into the new plan directory",
                        src.display()
                    )
                })?;
        }
    }
    Ok(())
}

/// Copies a symbolic link as a link (where the platform has them; its target's content
/// otherwise).
#[cfg(unix)]
fn copy_link(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(fs::read_link(src)?, dst)
}

#[cfg(not(unix))]
fn copy_link(src: &Path, dst: &Path) -> std::io::Result<()> {
    fs::copy(src, dst).map(|_| ())
}

/// Makes renames in `dir` durable where the platform allows (best effort).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
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
    for (kind, label, max) in [
        ("SERVICE_CONTROL_POLICY", "SCP", limits.scp_chars),
        ("RESOURCE_CONTROL_POLICY", "RCP", limits.rcp_chars),
    ] {
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
        let kind = if p.kind == "RESOURCE_CONTROL_POLICY" {
            "RCP"
        } else {
            "SCP"
        };
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for e in fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
                if p.is_dir() {
                    out.insert(format!("{rel}/"), Vec::new());
                    walk(root, &p, out);
                } else {
                    out.insert(rel, fs::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(dir, dir, &mut out);
        out
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    fn previous(out: &Path) {
        fs::create_dir_all(out.join("policies")).unwrap();
        fs::write(out.join("plan.json"), "old plan").unwrap();
        fs::write(out.join("main.tf"), "old terraform").unwrap();
        fs::write(out.join("policies/latch-a.json"), "old a").unwrap();
        fs::write(out.join("policies/latch-b.json"), "old b").unwrap();
        fs::write(out.join("applied.json"), "record").unwrap();
    }

    fn new_files() -> Vec<(PathBuf, Vec<u8>)> {
        vec![
            (PathBuf::from("policies/latch-b.json"), b"new b".to_vec()),
            (PathBuf::from("policies/latch-c.json"), b"new c".to_vec()),
            (PathBuf::from("plan.json"), b"new plan".to_vec()),
        ]
    }

    #[test]
    fn a_failed_write_leaves_the_previous_plan_byte_identical() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("plan");
        previous(&out);
        let before = tree(&out);
        for fail_at in 0..3 {
            let mut n = 0;
            let mut write = |p: &Path, b: &[u8]| {
                n += 1;
                if n > fail_at {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::StorageFull,
                        "no space left on device",
                    ));
                }
                write_synced(p, b)
            };
            let e = replace_dir(&out, &new_files(), &mut write).unwrap_err();
            let msg = format!("{e:#}");
            assert!(msg.contains("was not changed"), "{msg}");
            assert!(msg.contains("no space left"), "{msg}");
            assert_eq!(tree(&out), before);
            assert_eq!(names(tmp.path()), vec!["plan"]);
        }
    }

    #[test]
    fn the_directory_is_replaced_whole_and_keeps_what_is_not_plan_output() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("plan");
        previous(&out);
        fs::create_dir_all(out.join("notes/deep")).unwrap();
        fs::write(out.join("notes/deep/n.txt"), "mine").unwrap();
        fs::write(out.join("policies/README"), "mine too").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("applied.json", out.join("link")).unwrap();
        let warning = replace_dir(&out, &new_files(), &mut write_synced).unwrap();
        assert_eq!(warning, None);
        let got = tree(&out);
        let mut want: BTreeMap<String, Vec<u8>> = [
            ("applied.json", "record"),
            ("notes/", ""),
            ("notes/deep/", ""),
            ("notes/deep/n.txt", "mine"),
            ("plan.json", "new plan"),
            ("policies/", ""),
            ("policies/README", "mine too"),
            ("policies/latch-b.json", "new b"),
            ("policies/latch-c.json", "new c"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.as_bytes().to_vec()))
        .collect();
        #[cfg(unix)]
        {
            want.insert("link".to_owned(), b"record".to_vec());
            assert_eq!(
                fs::read_link(out.join("link")).unwrap(),
                Path::new("applied.json")
            );
        }
        assert_eq!(got, want);
        assert_eq!(names(tmp.path()), vec!["plan"]);
    }

    #[test]
    fn a_missing_directory_is_created_and_a_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("a/b/plan");
        replace_dir(&out, &new_files(), &mut write_synced).unwrap();
        assert_eq!(
            tree(&out).keys().collect::<Vec<_>>(),
            vec![
                "plan.json",
                "policies/",
                "policies/latch-b.json",
                "policies/latch-c.json"
            ]
        );
        assert_eq!(names(&tmp.path().join("a/b")), vec!["plan"]);
        let file = tmp.path().join("file");
        fs::write(&file, "x").unwrap();
        let e = replace_dir(&file, &new_files(), &mut write_synced).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
        assert_eq!(fs::read(&file).unwrap(), b"x");
    }

    #[test]
    fn plan_output_is_plan_json_main_tf_and_latch_policies() {
        for (p, yes) in [
            ("plan.json", true),
            ("main.tf", true),
            ("policies/latch-x.json", true),
            ("policies/README", false),
            ("policies/x.json", false),
            ("applied.json", false),
            ("notes/plan.json", false),
            ("policies/sub/latch-x.json", false),
        ] {
            assert_eq!(is_plan_output(Path::new(p)), yes, "{p}");
        }
    }
}
