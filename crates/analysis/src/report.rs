//! A scan report for readers outside a terminal: one self-contained HTML page, and SARIF 2.1.0
//! for code-scanning tools. Pure: a report in, text out (the table for terminals is the CLI's).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;

use crate::scan::{FindingKind, PrincipalReport, ScanReport, Severity};

/// `critical`, `high`, `medium` or `low`.
#[must_use]
pub fn severity_name(s: Severity) -> &'static str {
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

/// `arn:aws:iam::123456789012:role/path/name` → `123456789012:role/name`.
#[must_use]
pub fn short_arn(arn: &str) -> String {
    match latch_policy::arn::split(arn) {
        Some([_, _, _, _, acct, res]) => {
            let (kind, rest) = res.split_once('/').unwrap_or((res, ""));
            let name = rest.rsplit('/').next().unwrap_or(rest);
            format!("{acct}:{kind}/{name}")
        }
        None => arn.to_owned(),
    }
}

/// At most `n` characters, the last one `…` when cut.
#[must_use]
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The principals holding sensitive actions, most unused ones first (all held ones when usage
/// is unknown), ties by ARN: the standing-privilege ranking every rendering shows.
#[must_use]
pub fn ranked_by_unused(r: &ScanReport) -> Vec<&PrincipalReport> {
    let mut ranked: Vec<&PrincipalReport> = r
        .principals
        .iter()
        .filter(|p| !p.sensitive_actions.is_empty())
        .collect();
    ranked.sort_by(|a, b| {
        let n = |p: &PrincipalReport| {
            p.unused
                .as_ref()
                .map_or(p.sensitive_actions.len(), Vec::len)
        };
        n(b).cmp(&n(a)).then_with(|| a.arn.cmp(&b.arn))
    });
    ranked
}

/// One self-contained HTML page (no external assets) with bar charts as inline SVG, the scan
/// `as_of` that date.
#[must_use]
pub fn html(r: &ScanReport, as_of: &str) -> String {
    let mut out = String::new();
    let mut by_sev: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in &r.findings {
        *by_sev.entry(f.severity).or_default() += 1;
    }
    let ranked = ranked_by_unused(r);
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
            (severity_name(*s).to_owned(), *n, fill)
        })
        .collect();
    let top_items: Vec<(String, usize, &str)> = ranked
        .iter()
        .take(12)
        .map(|p| {
            (
                short_arn(&p.arn),
                p.unused
                    .as_ref()
                    .map_or(p.sensitive_actions.len(), Vec::len),
                "#3949ab",
            )
        })
        .collect();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Latch scan</title><style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;font-size:13px;vertical-align:top}}.critical{{color:#b00020;font-weight:bold}}.high{{color:#e65100}}.medium{{color:#a67c00}}.low{{color:#607d8b}}</style></head><body>"
    );
    let _ = write!(
        out,
        "<h1>Latch scan</h1><p>As of {} · window {} days · {} principals · {} findings</p>",
        esc(as_of),
        r.window_days,
        r.principals.len(),
        r.findings.len()
    );
    for n in &r.not_analysed {
        let _ = write!(out, "<p><strong>Not analysed:</strong> {}</p>", esc(n));
    }
    let _ = write!(out, "<h2>Findings by severity</h2>{}", bars(&sev_items));
    let _ = write!(
        out,
        "<h2>Most unused sensitive actions</h2>{}",
        bars(&top_items)
    );
    out.push_str("<h2>Findings</h2><table><tr><th>Severity</th><th>Kind</th><th>Principal / account</th><th>Detail</th></tr>");
    for f in &r.findings {
        let _ = write!(
            out,
            "<tr><td class=\"{s}\">{s}</td><td>{}</td><td>{}</td><td>{}<br><small>{}</small></td></tr>",
            kind_name(f.kind),
            esc(f.principal.as_deref().unwrap_or(&f.account)),
            esc(&f.detail),
            esc(&clip(&f.items.join(", "), 400)),
            s = severity_name(f.severity)
        );
    }
    out.push_str("</table>");
    if !r.people.is_empty() {
        out.push_str("<h2>People (Identity Center)</h2><table><tr><th>Person</th><th>Groups</th><th>Reaches</th><th>Sensitive</th><th>Used</th><th>Unused</th><th>Last activity</th></tr>");
        for p in &r.people {
            let count = |v: &Option<Vec<String>>| {
                v.as_ref().map_or("-".to_owned(), |v| v.len().to_string())
            };
            let reaches: Vec<String> = p
                .access
                .iter()
                .map(|a| {
                    format!(
                        "{} as {}{}",
                        a.account,
                        a.permission_set,
                        if a.admin_equivalent { " (admin)" } else { "" }
                    )
                })
                .collect();
            let _ = write!(
                out,
                "<tr><td>{}{}</td><td>{}</td><td><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.user_name),
                if p.active == Some(false) { " <small>(deactivated)</small>" } else { "" },
                esc(&p.groups.join(", ")),
                esc(&reaches.join("; ")),
                p.sensitive,
                count(&p.used),
                count(&p.unused),
                esc(p.last_activity.as_deref().unwrap_or("never")),
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>\n");
    out
}

/// SARIF 2.1.0: one rule per finding kind, one result per finding.
#[must_use]
pub fn sarif(r: &ScanReport) -> String {
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
                "properties": {"severity": severity_name(f.severity), "account": f.account, "items": f.items},
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "latch", "informationUri": "https://github.com/latch-dev/latch", "version": env!("CARGO_PKG_VERSION"), "rules": rules}}, "results": results}],
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
