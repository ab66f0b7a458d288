//! The scan report as a table for a terminal (the HTML page and SARIF are
//! `latch_analysis::report`'s).

use std::collections::BTreeMap;
use std::io::Write;

use latch_analysis::report::{clip, severity_name as sev_name, short_arn as short};
use latch_analysis::scan::{FindingKind, ScanReport, Severity};
use latch_model::Snapshot;

use crate::progress::group;

fn kind_name(k: FindingKind) -> &'static str {
    k.id()
}

fn paint(color: bool, s: Severity, text: &str) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match s {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The ranked summary for people.
#[allow(clippy::too_many_arguments)]
pub fn table(
    out: &mut Vec<u8>,
    r: &ScanReport,
    snapshot: &Snapshot,
    as_of: &str,
    as_of_source: &str,
    trail: Option<&latch_trail::fs::LoadReport>,
    top: usize,
    color: bool,
) -> std::io::Result<()> {
    let c = snapshot.counts();
    writeln!(
        out,
        "Latch scan — {} accounts, {} OUs, {} users, {} roles; as of {as_of} ({as_of_source}); window {} days",
        c.accounts, c.organizational_units, c.users, c.roles, r.window_days
    )?;
    if let Some(t) = trail {
        writeln!(
            out,
            "CloudTrail: {} files, {} events{}{}",
            group(t.files_read),
            group(t.usage.events),
            if t.skipped.is_empty() {
                String::new()
            } else {
                format!(", {} files skipped (see --format json)", t.skipped.len())
            },
            if t.events_out_of_bounds == 0 {
                String::new()
            } else {
                format!(
                    ", {} events ignored: dated more than a day outside their file's date folder or after the current time (see --format json)",
                    group(t.events_out_of_bounds)
                )
            }
        )?;
    }
    for n in &r.not_analysed {
        writeln!(out, "not analysed: {n}")?;
    }
    let mut by_sev: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in &r.findings {
        *by_sev.entry(f.severity).or_default() += 1;
    }
    let counts: Vec<String> = by_sev
        .iter()
        .map(|(s, n)| paint(color, *s, &format!("{n} {}", sev_name(*s))))
        .collect();
    writeln!(out, "\nFindings: {}", counts.join(", "))?;
    writeln!(
        out,
        "{:<9} {:<20} {:<44} DETAIL",
        "SEVERITY", "KIND", "PRINCIPAL / ACCOUNT"
    )?;
    for f in r.findings.iter().take(top) {
        let who = f.principal.as_deref().map_or(f.account.clone(), short);
        writeln!(
            out,
            "{} {:<20} {:<44} {}",
            paint(color, f.severity, &format!("{:<9}", sev_name(f.severity))),
            kind_name(f.kind),
            clip(&who, 44),
            f.detail
        )?;
    }
    if r.findings.len() > top {
        writeln!(
            out,
            "… {} more (use --top or --format json)",
            r.findings.len() - top
        )?;
    }
    let ranked = latch_analysis::report::ranked_by_unused(r);
    writeln!(
        out,
        "\nStanding privilege — principals holding the most unused sensitive actions"
    )?;
    writeln!(
        out,
        "{:<44} {:>9} {:>6} {:>7} {:>7} {:>6} {:>6}  LAST ACTIVITY",
        "PRINCIPAL", "SENSITIVE", "USED", "UNUSED", "UNKNOWN", "ADMIN", "ACCTS"
    )?;
    for p in ranked.iter().take(top) {
        let used = p.used.as_ref().map_or("-".into(), |u| u.len().to_string());
        let unused = p
            .unused
            .as_ref()
            .map_or("-".into(), |u| u.len().to_string());
        let unknown = p
            .unknown
            .as_ref()
            .map_or("-".into(), |u| u.len().to_string());
        writeln!(
            out,
            "{:<44} {:>9} {:>6} {:>7} {:>7} {:>6} {:>6}  {}",
            clip(&short(&p.arn), 44),
            p.sensitive_actions.len(),
            used,
            unused,
            unknown,
            if p.admin_equivalent { "yes" } else { "" },
            p.blast_radius.len(),
            p.last_activity.as_deref().unwrap_or("never")
        )?;
    }
    if !r.people.is_empty() {
        people(out, r, top)?;
    }
    let mut reasons: Vec<&str> = r
        .principals
        .iter()
        .flat_map(|p| p.unknown.iter().flatten().map(|u| u.says))
        .collect();
    reasons.sort_unstable();
    reasons.dedup();
    if !reasons.is_empty() {
        writeln!(
            out,
            "UNKNOWN: held, not seen used, and never called unused — {}",
            reasons.join("; ")
        )?;
    }
    Ok(())
}

/// The people of Identity Center, those holding the most unused sensitive actions first.
fn people(out: &mut Vec<u8>, r: &ScanReport, top: usize) -> std::io::Result<()> {
    let mut ranked: Vec<&latch_analysis::scan::PersonReport> = r.people.iter().collect();
    ranked.sort_by_key(|p| {
        (
            std::cmp::Reverse(p.unused.as_ref().map_or(0, Vec::len)),
            std::cmp::Reverse(p.admin_equivalent),
            p.user_name.clone(),
        )
    });
    writeln!(
        out,
        "\nPeople (Identity Center) — {} people, those holding the most unused sensitive actions first",
        r.people.len()
    )?;
    writeln!(
        out,
        "{:<32} {:>6} {:>9} {:>6} {:>7} {:>6}  {:<24} LAST ACTIVITY",
        "PERSON", "ACCESS", "SENSITIVE", "USED", "UNUSED", "ADMIN", "GROUPS"
    )?;
    for p in ranked.iter().take(top) {
        let count =
            |v: &Option<Vec<String>>| v.as_ref().map_or("-".into(), |v| v.len().to_string());
        writeln!(
            out,
            "{:<32} {:>6} {:>9} {:>6} {:>7} {:>6}  {:<24} {}{}",
            clip(&p.user_name, 32),
            p.access.len(),
            p.sensitive,
            count(&p.used),
            count(&p.unused),
            if p.admin_equivalent { "yes" } else { "" },
            clip(&p.groups.join(","), 24),
            p.last_activity.as_deref().unwrap_or("never"),
            if p.active == Some(false) {
                " (deactivated)"
            } else {
                ""
            }
        )?;
    }
    if r.people.len() > top {
        writeln!(
            out,
            "… {} more (use --top or --format json)",
            r.people.len() - top
        )?;
    }
    Ok(())
}
