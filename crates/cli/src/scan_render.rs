//! Renderers of a scan report: tables for people, a self-contained HTML page, SARIF.

use std::collections::BTreeMap;
use std::io::Write;

use latch_analysis::scan::{FindingKind, ScanReport, Severity};
use latch_model::Snapshot;
use serde_json::json;

use crate::progress::group;

fn sev_name(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
    }
}

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

fn short(arn: &str) -> String {
    // arn:aws:iam::123456789012:role/path/name → 123456789012:role/name
    match latch_policy::arn::split(arn) {
        Some([_, _, _, _, acct, res]) => {
            let (kind, rest) = res.split_once('/').unwrap_or((res, ""));
            let name = rest.rsplit('/').next().unwrap_or(rest);
            format!("{acct}:{kind}/{name}")
        }
        None => arn.to_owned(),
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
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
    let mut ranked: Vec<_> = r
        .principals
        .iter()
        .filter(|p| !p.sensitive_actions.is_empty())
        .collect();
    ranked.sort_by_key(|p| {
        (
            std::cmp::Reverse(
                p.unused
                    .as_ref()
                    .map_or(p.sensitive_actions.len(), Vec::len),
            ),
            p.arn.clone(),
        )
    });
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

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One self-contained HTML page (no external assets) with bar charts as inline SVG.
pub fn html(out: &mut Vec<u8>, r: &ScanReport, as_of: &str) -> std::io::Result<()> {
    let mut by_sev: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in &r.findings {
        *by_sev.entry(f.severity).or_default() += 1;
    }
    let mut ranked: Vec<_> = r
        .principals
        .iter()
        .filter(|p| !p.sensitive_actions.is_empty())
        .collect();
    ranked.sort_by_key(|p| {
        std::cmp::Reverse(
            p.unused
                .as_ref()
                .map_or(p.sensitive_actions.len(), Vec::len),
        )
    });
    let bars = |items: &[(String, usize, &str)]| -> String {
        let max = items.iter().map(|i| i.1).max().unwrap_or(1).max(1);
        let mut svg = format!(
            "<svg role=\"img\" width=\"720\" height=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
            items.len() * 26 + 4
        );
        for (i, (label, n, fill)) in items.iter().enumerate() {
            let w = n * 420 / max;
            let y = i * 26;
            svg.push_str(&format!(
                "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"270\" y=\"{}\" width=\"{w}\" height=\"18\" fill=\"{fill}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{n}</text>",
                y + 14,
                esc(&clip(label, 40)),
                y + 2,
                275 + w,
                y + 14
            ));
        }
        svg.push_str("</svg>");
        svg
    };
    let sev_items: Vec<(String, usize, &str)> = by_sev
        .iter()
        .map(|(s, n)| {
            let fill = match s {
                Severity::Critical => "#b00020",
                Severity::High => "#e65100",
                Severity::Medium => "#f9a825",
                Severity::Low => "#90a4ae",
            };
            (sev_name(*s).to_owned(), *n, fill)
        })
        .collect();
    let top_items: Vec<(String, usize, &str)> = ranked
        .iter()
        .take(12)
        .map(|p| {
            (
                short(&p.arn),
                p.unused
                    .as_ref()
                    .map_or(p.sensitive_actions.len(), Vec::len),
                "#3949ab",
            )
        })
        .collect();
    write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Latch scan</title><style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;font-size:13px;vertical-align:top}}.critical{{color:#b00020;font-weight:bold}}.high{{color:#e65100}}.medium{{color:#a67c00}}.low{{color:#607d8b}}</style></head><body>"
    )?;
    write!(
        out,
        "<h1>Latch scan</h1><p>As of {} · window {} days · {} principals · {} findings</p>",
        esc(as_of),
        r.window_days,
        r.principals.len(),
        r.findings.len()
    )?;
    for n in &r.not_analysed {
        write!(out, "<p><strong>Not analysed:</strong> {}</p>", esc(n))?;
    }
    write!(out, "<h2>Findings by severity</h2>{}", bars(&sev_items))?;
    write!(
        out,
        "<h2>Most unused sensitive actions</h2>{}",
        bars(&top_items)
    )?;
    write!(out, "<h2>Findings</h2><table><tr><th>Severity</th><th>Kind</th><th>Principal / account</th><th>Detail</th></tr>")?;
    for f in &r.findings {
        write!(
            out,
            "<tr><td class=\"{s}\">{s}</td><td>{}</td><td>{}</td><td>{}<br><small>{}</small></td></tr>",
            kind_name(f.kind),
            esc(f.principal.as_deref().unwrap_or(&f.account)),
            esc(&f.detail),
            esc(&clip(&f.items.join(", "), 400)),
            s = sev_name(f.severity)
        )?;
    }
    writeln!(out, "</table></body></html>")?;
    Ok(())
}

/// SARIF 2.1.0: one rule per finding kind, one result per finding.
pub fn sarif(out: &mut Vec<u8>, r: &ScanReport) -> std::io::Result<()> {
    let rules: Vec<_> = FindingKind::ALL
        .iter()
        .map(|k| json!({"id": k.id(), "name": k.id(), "shortDescription": {"text": k.description()}}))
        .collect();
    let results: Vec<_> = r
        .findings
        .iter()
        .map(|f| {
            let level = match f.severity {
                Severity::Critical | Severity::High => "error",
                Severity::Medium => "warning",
                Severity::Low => "note",
            };
            let subject = f.principal.clone().unwrap_or_else(|| f.account.clone());
            json!({
                "ruleId": kind_name(f.kind),
                "level": level,
                "message": {"text": format!("{}: {}", subject, f.detail)},
                "partialFingerprints": {"latchFindingId": f.id},
                "locations": [{"logicalLocations": [{"fullyQualifiedName": subject, "kind": "resource"}]}],
                "properties": {"severity": sev_name(f.severity), "account": f.account, "items": f.items},
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "latch", "informationUri": "https://github.com/latch-dev/latch", "version": env!("CARGO_PKG_VERSION"), "rules": rules}}, "results": results}],
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}
