//! A scan report for readers outside a terminal: one self-contained HTML page, and SARIF 2.1.0
//! for code-scanning tools. Pure: a report in, text out (the table for terminals is the CLI's).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::json;

use crate::escalation::{EscalationPath, Technique};
use crate::guide::Guide;
use crate::scan::{Finding, FindingKind, PrincipalReport, ScanReport, Severity};

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
        .replace('\'', "&#39;")
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

/// How a severity sorts: the most severe first.
fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Critical => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
    }
}

/// The account filter's value for findings about the whole organization (no account).
const ORGANIZATION_WIDE: &str = "organization-wide";

/// Items shown per finding in the HTML report; up to [`ITEMS_LISTED`] more behind a disclosure
/// (searched too); the JSON report has them all.
const ITEMS_SHOWN: usize = 10;
/// Items listed per finding in the HTML report at the most.
const ITEMS_LISTED: usize = 50;

/// One self-contained, offline HTML page (no external asset, one inline script), the scan `as_of`
/// that date: a summary with bar charts; the findings with search, filters by severity, kind and
/// account, and sortable columns (without the script the table reads as it is); each escalation
/// path drawn as its chain of steps; and how to fix each kind of finding and each escalation
/// technique present, each written once and referenced from every finding.
#[must_use]
pub fn html(r: &ScanReport, as_of: &str) -> String {
    let mut out = String::with_capacity(32 * 1024 + r.findings.len() * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Latch scan, {}</title><style>{STYLE}</style></head><body><header><h1>Latch scan</h1><p>As of {} · window {} days · {} principal{} · {} finding{} · {} escalation path{}</p></header><main>",
        esc(as_of),
        esc(as_of),
        r.window_days,
        r.principals.len(),
        plural(r.principals.len()),
        r.findings.len(),
        plural(r.findings.len()),
        r.escalation_paths.len(),
        plural(r.escalation_paths.len()),
    );
    out.push_str("<nav aria-label=\"Contents\"><ul class=\"toc\"><li><a href=\"#summary\">Summary</a></li><li><a href=\"#findings\">Findings</a></li>");
    if !r.people.is_empty() {
        out.push_str("<li><a href=\"#people\">People</a></li>");
    }
    out.push_str("<li><a href=\"#guides\">How to fix</a></li>");
    if !r.escalation_paths.is_empty() {
        out.push_str("<li><a href=\"#techniques\">Escalation techniques</a></li>");
    }
    out.push_str("</ul></nav>");
    for n in &r.not_analysed {
        let _ = write!(
            out,
            "<p class=\"note\"><strong>Not analysed:</strong> {}</p>",
            inline(n)
        );
    }
    summary(&mut out, r);
    findings(&mut out, r);
    people(&mut out, r);
    guides(&mut out, r);
    let _ = writeln!(out, "</main><script>{SCRIPT}</script></body></html>");
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The counts by severity and the most unused sensitive actions, as bar charts.
fn summary(out: &mut String, r: &ScanReport) {
    let mut by_sev: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in &r.findings {
        *by_sev.entry(f.severity).or_default() += 1;
    }
    let sev_items: Vec<Bar> = by_sev
        .iter()
        .map(|(s, n)| Bar {
            label: severity_name(*s).to_owned(),
            title: None,
            n: *n,
            class: severity_name(*s),
        })
        .collect();
    let top_items: Vec<Bar> = ranked_by_unused(r)
        .into_iter()
        .take(12)
        .map(|p| Bar {
            label: short_arn(&p.arn),
            title: Some(&p.arn),
            n: p.unused
                .as_ref()
                .map_or(p.sensitive_actions.len(), Vec::len),
            class: "unused",
        })
        .collect();
    out.push_str("<section id=\"summary\" aria-labelledby=\"summary-h\"><h2 id=\"summary-h\">Summary</h2><div class=\"charts\"><div><h3>Findings by severity</h3>");
    bars(out, &sev_items);
    out.push_str("</div><div><h3>Most unused sensitive actions</h3>");
    bars(out, &top_items);
    out.push_str("</div></div></section>");
}

/// One bar of a chart.
struct Bar<'a> {
    label: String,
    title: Option<&'a str>,
    n: usize,
    class: &'static str,
}

/// A horizontal bar chart in HTML and CSS: a list whose items read "label n".
fn bars(out: &mut String, items: &[Bar<'_>]) {
    if items.is_empty() {
        out.push_str("<p>None.</p>");
        return;
    }
    let max = items.iter().map(|b| b.n).max().unwrap_or(1).max(1);
    out.push_str("<ul class=\"bars\">");
    for b in items {
        let pct = (b.n * 100 / max).max(usize::from(b.n > 0));
        let title = b
            .title
            .map(|t| format!(" title=\"{}\"", esc(t)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<li><span class=\"bl\"{title}>{}</span><span class=\"bt\"><span class=\"bb b-{}\" style=\"width:{pct}%\"></span></span><span class=\"bn\">{}</span></li>",
            esc(&clip(&b.label, 48)),
            b.class,
            b.n
        );
    }
    out.push_str("</ul>");
}

/// The findings: filter controls (shown by the script), the count, and the table.
fn findings(out: &mut String, r: &ScanReport) {
    out.push_str("<section id=\"findings\" aria-labelledby=\"findings-h\"><h2 id=\"findings-h\">Findings</h2>");
    if r.findings.is_empty() {
        out.push_str("<p>No findings.</p></section>");
        return;
    }
    filters(out, r);
    let n = r.findings.len();
    let _ = write!(
        out,
        "<p id=\"count\" role=\"status\" aria-live=\"polite\">{n} finding{}</p>",
        plural(n)
    );
    out.push_str("<div class=\"scroll\" role=\"region\" aria-labelledby=\"findings-h\" tabindex=\"0\"><table id=\"findings-table\"><thead><tr>");
    for (i, label) in ["Severity", "Kind", "Principal", "Account", "Detail"]
        .iter()
        .enumerate()
    {
        // The report lists the most severe first.
        let sorted = if i == 0 {
            " aria-sort=\"ascending\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<th scope=\"col\"{sorted}><button type=\"button\" data-col=\"{i}\">{label}</button></th>"
        );
    }
    out.push_str("<th scope=\"col\">How to fix</th></tr></thead><tbody>");
    let paths: BTreeMap<String, &EscalationPath> = r
        .escalation_paths
        .iter()
        .map(|p| {
            (
                format!("{}:{}->{}", FindingKind::EscalationPath.id(), p.from, p.to),
                p,
            )
        })
        .collect();
    for f in &r.findings {
        finding_row(out, f, paths.get(&f.id).copied());
    }
    out.push_str("</tbody></table></div></section>");
}

/// The search box and the severity, kind and account selects, each offering what the findings
/// hold, with counts. Hidden until the script shows it: without the script it would do nothing.
fn filters(out: &mut String, r: &ScanReport) {
    let mut sev: BTreeMap<Severity, usize> = BTreeMap::new();
    let mut kind: BTreeMap<FindingKind, usize> = BTreeMap::new();
    let mut acct: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &r.findings {
        *sev.entry(f.severity).or_default() += 1;
        *kind.entry(f.kind).or_default() += 1;
        *acct.entry(account_value(f)).or_default() += 1;
    }
    out.push_str("<form id=\"filters\" class=\"filters\" role=\"search\" aria-label=\"Filter findings\" hidden><div class=\"field grow\"><label for=\"q\">Search</label><input type=\"search\" id=\"q\" autocomplete=\"off\" placeholder=\"principal, account, action…\"></div>");
    let select = |out: &mut String,
                  id: &str,
                  label: &str,
                  all: &str,
                  options: Vec<(&str, usize)>| {
        let _ = write!(
            out,
            "<div class=\"field\"><label for=\"{id}\">{label}</label><select id=\"{id}\"><option value=\"\">{all}</option>"
        );
        for (value, n) in options {
            let _ = write!(
                out,
                "<option value=\"{v}\">{v} ({n})</option>",
                v = esc(value)
            );
        }
        out.push_str("</select></div>");
    };
    select(
        out,
        "f-sev",
        "Severity",
        "All severities",
        sev.iter().map(|(s, n)| (severity_name(*s), *n)).collect(),
    );
    select(
        out,
        "f-kind",
        "Kind",
        "All kinds",
        kind.iter().map(|(k, n)| (k.id(), *n)).collect(),
    );
    select(
        out,
        "f-acct",
        "Account",
        "All accounts",
        acct.into_iter().collect(),
    );
    out.push_str("<div class=\"field\"><button type=\"reset\">Clear filters</button></div></form>");
}

fn account_value(f: &Finding) -> &str {
    if f.account.is_empty() {
        ORGANIZATION_WIDE
    } else {
        &f.account
    }
}

/// One row: severity, kind (linked to its guide), principal, account, detail with the items
/// (and the chain of an escalation path), and a disclosure that the script fills with the fix
/// of the kind and of each technique of the path; without the script it links to them.
fn finding_row(out: &mut String, f: &Finding, path: Option<&EscalationPath>) {
    let sev = severity_name(f.severity);
    let kind = f.kind.id();
    let acct = esc(account_value(f));
    let _ = write!(
        out,
        "<tr data-sev=\"{sev}\" data-kind=\"{kind}\" data-acct=\"{acct}\"><td data-v=\"{}\"><span class=\"sev s-{sev}\">{sev}</span></td><td><a href=\"#kind-{kind}\">{kind}</a></td><td class=\"s\">",
        severity_rank(f.severity)
    );
    match &f.principal {
        Some(p) => {
            let short = short_arn(p);
            // The account has its column: the name is the resource part.
            let name = match short.split_once(':') {
                Some((_, name)) if short != *p => name,
                _ => &short,
            };
            let _ = write!(out, "<span class=\"who\">{}</span>", esc(name));
            if short != *p {
                let _ = write!(out, "<small class=\"arn\">{}</small>", esc(p));
            }
        }
        None => out.push_str("<span class=\"muted\">none</span>"),
    }
    let _ = write!(
        out,
        "</td><td class=\"s\">{acct}</td><td class=\"s\">{}",
        inline(&f.detail)
    );
    if let Some(p) = path {
        // The chain names the actions of each step: no list of them after it.
        chain(out, p);
    } else {
        items(out, &f.items);
    }
    let mut guides = vec![format!("kind-{kind}")];
    for s in path.map(|p| p.steps.as_slice()).unwrap_or_default() {
        let id = format!("technique-{}", s.technique.id());
        if !guides.contains(&id) {
            guides.push(id);
        }
    }
    let links: Vec<String> = guides
        .iter()
        .map(|g| {
            let name = g
                .strip_prefix("kind-")
                .or_else(|| g.strip_prefix("technique-"))
                .unwrap_or(g);
            format!("<a href=\"#{g}\">{name}</a>")
        })
        .collect();
    let _ = write!(
        out,
        "</td><td><details class=\"fix\" data-guides=\"{}\"><summary>How to fix</summary><div class=\"fill\"><p class=\"more\">Read more: {}</p></div></details></td></tr>",
        guides.join(" "),
        links.join(", ")
    );
}

/// A finding's items: the first few, then the next ones behind a disclosure, then how many the
/// page leaves to the JSON report.
fn items(out: &mut String, items: &[String]) {
    let list = |from: usize, to: usize| {
        esc(&items
            .iter()
            .skip(from)
            .take(to.saturating_sub(from))
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", "))
    };
    if items.is_empty() {
        return;
    }
    let _ = write!(out, "<div class=\"items\">{}", list(0, ITEMS_SHOWN));
    let hidden = items.len().min(ITEMS_LISTED).saturating_sub(ITEMS_SHOWN);
    if hidden > 0 {
        let _ = write!(
            out,
            "<details><summary>and {hidden} more</summary>{}</details>",
            list(ITEMS_SHOWN, ITEMS_LISTED)
        );
    }
    let left = items.len().saturating_sub(ITEMS_LISTED);
    if left > 0 {
        let _ = write!(out, "<p>and {left} more in the JSON report</p>");
    }
    out.push_str("</div>");
}

/// An escalation path as boxes and arrows: the principal, then per step an arrow labelled with
/// its technique (linked to its guide) and actions, then the principal gained, up to the
/// admin-equivalent one; then each step's explanation.
fn chain(out: &mut String, p: &EscalationPath) {
    let n = p.steps.len();
    let _ = write!(
        out,
        "<ol class=\"chain\" aria-label=\"Escalation path in {n} step{}\">",
        plural(n)
    );
    node(out, &p.from, n == 0);
    for (i, s) in p.steps.iter().enumerate() {
        let id = s.technique.id();
        let _ = write!(
            out,
            "<li class=\"edge\"><span class=\"sr-only\">then by </span><a href=\"#technique-{id}\">{id}</a><span class=\"arrow\" aria-hidden=\"true\"></span><span class=\"acts\">{}</span></li>",
            esc(&s.actions.join(", "))
        );
        node(out, &s.to, i + 1 == n);
    }
    out.push_str("</ol><details class=\"steps\"><summary>Steps explained</summary><ol>");
    for s in &p.steps {
        let id = s.technique.id();
        let _ = write!(
            out,
            "<li><a href=\"#technique-{id}\">{id}</a>: {}</li>",
            inline(&s.detail)
        );
    }
    out.push_str("</ol></details>");
}

/// One principal of a chain, by account and name (the steps' explanations give the ARNs); the
/// last is admin-equivalent.
fn node(out: &mut String, who: &str, last: bool) {
    let label = if who == "admin" {
        "admin".to_owned()
    } else {
        short_arn(who)
    };
    let _ = write!(
        out,
        "<li class=\"node{}\">{}{}</li>",
        if last { " admin" } else { "" },
        esc(&label),
        if last && who != "admin" {
            "<span class=\"sr-only\"> (admin-equivalent)</span>"
        } else {
            ""
        }
    );
}

/// The people of Identity Center.
fn people(out: &mut String, r: &ScanReport) {
    if r.people.is_empty() {
        return;
    }
    out.push_str("<section id=\"people\" aria-labelledby=\"people-h\"><h2 id=\"people-h\">People (Identity Center)</h2><div class=\"scroll\" role=\"region\" aria-labelledby=\"people-h\" tabindex=\"0\"><table><thead><tr><th scope=\"col\">Person</th><th scope=\"col\">Groups</th><th scope=\"col\">Reaches</th><th scope=\"col\">Sensitive</th><th scope=\"col\">Used</th><th scope=\"col\">Unused</th><th scope=\"col\">Last activity</th></tr></thead><tbody>");
    for p in &r.people {
        let count =
            |v: &Option<Vec<String>>| v.as_ref().map_or("-".to_owned(), |v| v.len().to_string());
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
    out.push_str("</tbody></table></div></section>");
}

/// The guide of each kind of finding and each escalation technique the report holds, once.
fn guides(out: &mut String, r: &ScanReport) {
    let kinds: BTreeSet<FindingKind> = r.findings.iter().map(|f| f.kind).collect();
    let techniques: BTreeSet<Technique> = r
        .escalation_paths
        .iter()
        .flat_map(|p| p.steps.iter().map(|s| s.technique))
        .collect();
    out.push_str("<section id=\"guides\" aria-labelledby=\"guides-h\"><h2 id=\"guides-h\">How to fix each kind of finding</h2>");
    if kinds.is_empty() {
        out.push_str("<p>No findings.</p>");
    }
    for k in FindingKind::ALL.iter().filter(|k| kinds.contains(k)) {
        guide(out, "kind", k.id(), Some(k.description()), k.guide());
    }
    out.push_str("</section>");
    if techniques.is_empty() {
        return;
    }
    out.push_str("<section id=\"techniques\" aria-labelledby=\"techniques-h\"><h2 id=\"techniques-h\">Escalation techniques</h2><p>Each step of an escalation path uses one of these techniques: removing any one step breaks that path.</p>");
    for t in Technique::ALL.iter().filter(|t| techniques.contains(t)) {
        guide(out, "technique", t.id(), None, t.guide());
    }
    out.push_str("</section>");
}

/// One guide, `id="<prefix>-<id>"`: what it finds, how to fix it, and why it is bad, an example
/// and references as disclosures.
fn guide(out: &mut String, prefix: &str, id: &str, description: Option<&str>, g: &Guide) {
    let _ = write!(
        out,
        "<article class=\"guide\" id=\"{prefix}-{id}\" data-title=\"{id}\" aria-labelledby=\"{prefix}-{id}-h\"><h3 id=\"{prefix}-{id}-h\"><code>{id}</code>{}</h3><div class=\"g-finds\">{}</div><div class=\"g-fix\"><h4>How to fix</h4><div class=\"g-fix-body\">{}</div></div>",
        description
            .map(|d| format!(": {}", esc(d)))
            .unwrap_or_default(),
        paragraphs(&g.finds),
        paragraphs(&g.fix)
    );
    if !g.why.is_empty() {
        let _ = write!(
            out,
            "<details class=\"g-why\"><summary>Why it is bad</summary>{}</details>",
            paragraphs(&g.why)
        );
    }
    if let Some(example) = &g.example {
        let _ = write!(
            out,
            "<details class=\"g-example\"><summary>Example</summary>{}</details>",
            paragraphs(example)
        );
    }
    if !g.references.is_empty() {
        out.push_str("<details class=\"g-refs\"><summary>References</summary><ul>");
        for reference in &g.references {
            let _ = write!(out, "<li>{}</li>", inline(reference));
        }
        out.push_str("</ul></details>");
    }
    out.push_str("</article>");
}

/// Guide text as HTML paragraphs (a blank line ends one).
fn paragraphs(text: &str) -> String {
    text.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", inline(p)))
        .collect()
}

/// Text with Markdown-style `code` spans as HTML: the spans as `<code>`; outside them `**strong**`
/// and `*emphasis*`, and web addresses as links; everything escaped. A backtick without its pair
/// stays a backtick.
fn inline(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    let mut out = String::with_capacity(text.len() + 16);
    let last = parts.len().saturating_sub(1);
    for (i, part) in parts.iter().enumerate() {
        let code = i % 2 == 1;
        if code && (parts.len() % 2 == 1 || i < last) {
            let _ = write!(out, "<code>{}</code>", esc(part));
        } else {
            if code {
                out.push('`');
            }
            strong(part, &mut out);
        }
    }
    out
}

/// `**strong**` text as `<strong>`, the rest as [`emphasis`] does.
fn strong(text: &str, out: &mut String) {
    let parts: Vec<&str> = text.split("**").collect();
    let last = parts.len().saturating_sub(1);
    for (i, part) in parts.iter().enumerate() {
        let odd = i % 2 == 1;
        if odd && (parts.len() % 2 == 1 || i < last) && !part.is_empty() {
            out.push_str("<strong>");
            emphasis(part, out);
            out.push_str("</strong>");
        } else {
            if odd {
                out.push_str("**");
            }
            emphasis(part, out);
        }
    }
}

/// `*emphasised*` words as `<em>`, the rest as [`linked`] does. A `*` opens only at the start or
/// after a space or `(`, before a non-space, and closes after a non-space before no letter, so
/// `iam:*` and `s3:Get*` stay as they are.
fn emphasis(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some((before, inner, after)) = emphasised(rest) {
        linked(before, out);
        out.push_str("<em>");
        linked(inner, out);
        out.push_str("</em>");
        rest = after;
    }
    linked(rest, out);
}

/// The text before the first emphasis, the emphasised text and the text after it.
fn emphasised(s: &str) -> Option<(&str, &str, &str)> {
    let mut from = 0;
    while let Some(i) = s.get(from..)?.find('*').map(|i| i + from) {
        let before = s.get(..i)?;
        let after = s.get(i + 1..)?;
        let opens = before
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == '(')
            && after
                .chars()
                .next()
                .is_some_and(|c| !c.is_whitespace() && c != '*');
        if opens {
            if let Some(j) = after.find('*') {
                let inner = after.get(..j)?;
                let tail = after.get(j + 1..)?;
                if !inner.ends_with(char::is_whitespace)
                    && tail.chars().next().is_none_or(|c| !c.is_alphanumeric())
                {
                    return Some((before, inner, tail));
                }
            }
        }
        from = i + 1;
    }
    None
}

/// Escaped text with each `http://` or `https://` address made a link (trailing punctuation
/// left out of it).
fn linked(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(at) = rest.find("https://").or_else(|| rest.find("http://")) {
        let Some((before, tail)) = rest.split_at_checked(at) else {
            break;
        };
        let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let url = tail
            .get(..end)
            .unwrap_or(tail)
            .trim_end_matches(['.', ',', ';', ':', ')', '"', '\'']);
        out.push_str(&esc(before));
        let _ = write!(
            out,
            "<a href=\"{u}\" rel=\"noreferrer\">{u}</a>",
            u = esc(url)
        );
        rest = tail.get(url.len()..).unwrap_or_default();
    }
    out.push_str(&esc(rest));
}

/// The page's style: readable from phone to desktop, colours of at least 4.5:1 contrast.
const STYLE: &str = r#"
:root{--fg:#1c1c1c;--muted:#505050;--line:#d0d4dc;--soft:#f4f5f8;--link:#1a3fb0}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#fff;margin:0 auto;max-width:1280px;padding:1rem 1.2rem}
h1{font-size:1.6rem;margin:.2em 0}
h2{font-size:1.3rem;margin:1.6em 0 .5em;padding-bottom:.2em;border-bottom:2px solid var(--line)}
h3{font-size:1.05rem;margin:.8em 0 .4em}
h4{font-size:.95rem;margin:.6em 0 .2em}
a{color:var(--link)}
code{font:.88em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--soft);padding:0 .2em;border-radius:3px;overflow-wrap:anywhere}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap}
.toc{display:flex;flex-wrap:wrap;gap:.3em 1.2em;list-style:none;padding:0;margin:.4em 0}
.note{background:#fff8e1;border-left:4px solid #8a6d00;padding:.4em .8em}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,320px),1fr));gap:.5rem 2.5rem}
.bars{list-style:none;padding:0;margin:0}
.bars li{display:grid;grid-template-columns:minmax(5em,15em) 1fr 3em;gap:.6em;align-items:center;font-size:13px;margin:.15em 0}
.bl{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bt{background:#e8eaf0;height:14px;border-radius:2px}
.bb{display:block;height:100%;border-radius:2px;background:#3949ab}
.b-critical{background:#b00020}.b-high{background:#c24e00}.b-medium{background:#b88a00}.b-low{background:#78909c}
.bn{text-align:right;font-variant-numeric:tabular-nums}
.sev{display:inline-block;padding:0 .55em;border-radius:1em;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
.s-critical{background:#b00020}.s-high{background:#a63d00}.s-medium{background:#735600}.s-low{background:#4a5f6b}
.filters{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:flex-end;margin:.5rem 0;padding:.7rem;background:var(--soft);border:1px solid var(--line);border-radius:6px}
.filters[hidden]{display:none}
.field{display:flex;flex-direction:column;gap:.15em;font-size:13px;font-weight:600;min-width:11em}
.field.grow{flex:1 1 16em}
input,select,button{font:inherit;font-size:14px;font-weight:normal;padding:.35em .5em;border:1px solid #6b7280;border-radius:4px;background:#fff;color:var(--fg)}
input::placeholder{color:#5f6368}
button{cursor:pointer}
:focus-visible{outline:3px solid var(--link);outline-offset:2px}
#count{font-weight:600;margin:.4em 0}
.scroll{position:relative;overflow-x:auto;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}
#findings-table{min-width:900px}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top;font-size:13px}
thead th{background:var(--soft);white-space:nowrap}
th button{border:0;background:none;padding:0;font:inherit;font-weight:700;color:inherit}
th button::after{content:" \2195"/"";color:#505050}
th[aria-sort=ascending] button::after{content:" \25B2"/""}
th[aria-sort=descending] button::after{content:" \25BC"/""}
tbody tr:hover{background:#fafbfd}
#findings-table td:nth-child(3){min-width:12em;max-width:20em}
#findings-table td:nth-child(5){min-width:20em}
.who{font-weight:600;display:block;overflow-wrap:anywhere}
.arn{display:block;color:var(--muted);overflow-wrap:anywhere;font-size:12px}
.items{color:var(--muted);margin-top:.3em;font-size:12px;overflow-wrap:anywhere}
.items p,.items details{margin:.2em 0}
.muted{color:var(--muted)}
summary{cursor:pointer;color:var(--link)}
.fix{min-width:8em}
.fix[open]{min-width:24em}
.fix p{margin:.3em 0}
.g-title{font-weight:700;margin-top:.6em!important}
.more{font-size:12px}
.chain{display:flex;flex-direction:column;align-items:flex-start;list-style:none;padding:0;margin:.5em 0}
.node{border:2px solid #3949ab;background:#eef0fb;border-radius:6px;padding:.15em .5em;font-weight:600;overflow-wrap:anywhere;max-width:100%}
.node.admin{border-color:#b00020;background:#fdecee;color:#8c0019}
.edge{display:grid;grid-template-columns:1.4em auto;column-gap:.5em;margin:.15em 0 .15em .9em;font-size:12px}
.edge a{grid-column:2;font-weight:600}
.arrow{grid-column:1;grid-row:1/span 2;justify-self:center;position:relative;width:2px;min-height:2.4em;background:#444;margin-bottom:8px}
.arrow::after{content:"";position:absolute;bottom:-8px;left:-5px;border:6px solid transparent;border-top:9px solid #444;border-bottom:0}
.acts{grid-column:2;color:var(--muted);overflow-wrap:anywhere}
.steps ol{padding-left:1.4em;margin:.3em 0}
.guide{border:1px solid var(--line);border-radius:6px;padding:.1em 1em .8em;margin:.8em 0;scroll-margin-top:1rem}
.guide:target{outline:3px solid var(--link)}
.g-fix{border-left:4px solid #2e7d32;padding:.1em .8em;background:#f1f8f1}
.guide details{margin:.4em 0}
.guide a,.fill a{overflow-wrap:anywhere}
@media (max-width:640px){
body{padding:.6rem;font-size:14px}h1{font-size:1.35rem}.field{min-width:100%}.bars li{grid-template-columns:1fr 2.5em;row-gap:0}.bl{grid-column:1/-1}
#findings-table,#findings-table thead,#findings-table tbody,#findings-table tr,#findings-table td{display:block;min-width:0;max-width:none}
#findings-table thead tr{display:flex;flex-wrap:wrap;gap:.2em 1em;padding:.5em .6em;background:var(--soft);border-bottom:1px solid var(--line)}
#findings-table thead tr::before{content:"Sort by"/"";font-weight:600;width:100%}
#findings-table thead th{display:block;border:0;padding:0}
#findings-table thead th:last-child{display:none}
#findings-table tbody tr{padding:.6em;border-bottom:1px solid var(--line)}
#findings-table td{border:0;padding:.15em 0;min-width:0!important;max-width:none!important}
#findings-table td:nth-child(1),#findings-table td:nth-child(2),#findings-table td:nth-child(4){display:inline-block;margin-right:.8em}
#findings-table td:nth-child(4)::before{content:"account "}
.fix[open]{min-width:0}
}
@media print{.filters,#count,summary{display:none}.scroll{overflow:visible;border:0}}
"#;

/// The page's behaviour: search, filters, sorting, the count, and filling a finding's "How to
/// fix" from its guides when opened. Without it the page reads the same, unfiltered.
const SCRIPT: &str = r#"
(function () {
  "use strict";
  document.addEventListener("toggle", function (e) {
    var d = e.target;
    if (!d.classList || !d.classList.contains("fix") || !d.open || d.hasAttribute("data-filled")) return;
    d.setAttribute("data-filled", "");
    var box = d.querySelector(".fill"), frag = document.createDocumentFragment();
    d.getAttribute("data-guides").split(" ").forEach(function (id) {
      var g = document.getElementById(id);
      if (!g) return;
      var title = document.createElement("p");
      title.className = "g-title";
      title.textContent = g.getAttribute("data-title");
      frag.appendChild(title);
      [".g-fix-body", ".g-why"].forEach(function (sel) {
        var part = g.querySelector(sel);
        if (part) frag.appendChild(part.cloneNode(true));
      });
    });
    box.insertBefore(frag, box.firstChild);
  }, true);

  var table = document.getElementById("findings-table");
  if (!table) return;
  var form = document.getElementById("filters");
  var q = document.getElementById("q");
  var sev = document.getElementById("f-sev");
  var kind = document.getElementById("f-kind");
  var acct = document.getElementById("f-acct");
  var count = document.getElementById("count");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var total = rows.length;
  rows.forEach(function (r, i) {
    r.dataset.i = i;
    r._text = Array.prototype.map.call(r.querySelectorAll(".s"), function (c) {
      return c.textContent;
    }).join(" ").toLowerCase();
  });
  form.hidden = false;
  function findings(n) { return n === 1 ? " finding" : " findings"; }
  function apply() {
    var words = q.value.toLowerCase().split(/\s+/).filter(Boolean);
    var s = sev.value, k = kind.value, a = acct.value, n = 0;
    rows.forEach(function (r) {
      var ok = (!s || r.dataset.sev === s) && (!k || r.dataset.kind === k) &&
        (!a || r.dataset.acct === a) &&
        words.every(function (w) { return r._text.indexOf(w) !== -1; });
      r.hidden = !ok;
      if (ok) n += 1;
    });
    count.textContent = n === total ? "Showing all " + total + findings(total)
      : "Showing " + n + " of " + total + findings(total);
  }
  var timer;
  q.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, total > 2000 ? 150 : 0);
  });
  [sev, kind, acct].forEach(function (el) { el.addEventListener("change", apply); });
  form.addEventListener("reset", function () { setTimeout(apply, 0); });
  form.addEventListener("submit", function (e) { e.preventDefault(); apply(); });

  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function value(r, col) {
    var c = r.cells[col];
    return c.hasAttribute("data-v") ? c.getAttribute("data-v") : c.textContent.trim().toLowerCase();
  }
  heads.forEach(function (th) {
    var b = th.querySelector("button");
    if (!b) return;
    b.addEventListener("click", function () {
      var col = Number(b.getAttribute("data-col"));
      var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      var keyed = rows.map(function (r) { return [value(r, col), Number(r.dataset.i), r]; });
      keyed.sort(function (x, y) {
        return x[0] < y[0] ? -dir : x[0] > y[0] ? dir : x[1] - y[1];
      });
      rows = keyed.map(function (p) { return p[2]; });
      var frag = document.createDocumentFragment();
      rows.forEach(function (r) { frag.appendChild(r); });
      body.appendChild(frag);
    });
  });
  apply();
})();
"#;

/// SARIF 2.1.0: one rule per finding kind, with what it finds and how to fix it from its guide;
/// one result per finding.
#[must_use]
pub fn sarif(r: &ScanReport) -> String {
    let rules: Vec<_> = FindingKind::ALL
        .iter()
        .map(|k| {
            let g = k.guide();
            let mut markdown = format!("**How to fix.** {}", g.fix);
            if !g.why.is_empty() {
                let _ = write!(markdown, "\n\n**Why it is bad.** {}", g.why);
            }
            json!({
                "id": k.id(),
                "name": k.id(),
                "shortDescription": {"text": k.description()},
                "fullDescription": {"text": g.finds},
                "help": {"text": g.fix, "markdown": markdown},
            })
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::Step;

    const HOSTILE: &str = "arn:aws:iam::111111111111:user/<script>alert(1)</script>";

    fn finding(kind: FindingKind, severity: Severity, principal: &str, detail: &str) -> Finding {
        Finding {
            id: format!("{}:{principal}", kind.id()),
            kind,
            severity,
            principal: Some(principal.to_owned()),
            account: latch_policy::arn::account(principal)
                .unwrap_or_default()
                .to_owned(),
            detail: detail.to_owned(),
            items: vec!["iam:PassRole".to_owned(), "s3:GetObject".to_owned()],
            usage_unknown: Vec::new(),
        }
    }

    fn report() -> ScanReport {
        let from = "arn:aws:iam::222222222222:role/data-platform-automation";
        let to = "arn:aws:iam::222222222222:role/data-admin";
        let path = EscalationPath {
            from: from.to_owned(),
            to: to.to_owned(),
            steps: vec![Step {
                technique: Technique::UpdateTrust,
                actions: vec![
                    "iam:UpdateAssumeRolePolicy".to_owned(),
                    "sts:AssumeRole".to_owned(),
                ],
                from: from.to_owned(),
                to: to.to_owned(),
                detail: "may rewrite the trust of `data-admin` <b>now</b>".to_owned(),
            }],
        };
        let mut escalation = finding(
            FindingKind::EscalationPath,
            Severity::Critical,
            from,
            "can reach data-admin in 1 step: update-trust",
        );
        escalation.id = format!("escalation-path:{from}->{to}");
        let mut org_wide = finding(
            FindingKind::StandingPrivilege,
            Severity::High,
            "arn:aws:iam::333333333333:role/ops",
            "holds 2 sensitive actions unused in 90 days",
        );
        org_wide.account = String::new();
        ScanReport {
            principals: Vec::new(),
            findings: vec![
                escalation,
                finding(
                    FindingKind::StandingPrivilege,
                    Severity::High,
                    HOSTILE,
                    "holds \"2\" sensitive <img src=x onerror=alert(1)> actions",
                ),
                finding(
                    FindingKind::StandingPrivilege,
                    Severity::High,
                    "arn:aws:iam::111111111111:role/reader",
                    "holds 1 sensitive action unused in 90 days",
                ),
                org_wide,
            ],
            unused_services: Vec::new(),
            unused_services_by_ou: Vec::new(),
            not_analysed: Vec::new(),
            usage_analysed: true,
            accounts_without_events: Vec::new(),
            escalation_paths: vec![path],
            people: Vec::new(),
            window_days: 90,
        }
    }

    #[test]
    fn each_finding_and_step_says_how_to_fix_it_from_a_guide_rendered_once() {
        let h = html(&report(), "2026-11-20");
        let kind = FindingKind::StandingPrivilege.guide();
        let technique = Technique::UpdateTrust.guide();
        for text in [&kind.fix, &kind.why, &technique.fix, &technique.why] {
            let rendered = paragraphs(text);
            assert!(!rendered.is_empty());
            assert_eq!(h.matches(&rendered).count(), 1, "{rendered}");
        }
        assert!(technique.fix.contains("`iam:UpdateAssumeRolePolicy`"));
        assert!(h.contains("<code>iam:UpdateAssumeRolePolicy</code>"));
        if let Some(example) = &technique.example {
            assert!(h.contains(&paragraphs(example)));
        }
        let first_reference = technique.references.first().map(|r| inline(r));
        assert!(h.contains(&first_reference.unwrap_or_default()));
        // Three standing-privilege findings, one guide; guides of kinds not found are left out.
        assert_eq!(h.matches("id=\"kind-standing-privilege\"").count(), 1);
        assert_eq!(h.matches("id=\"kind-escalation-path\"").count(), 1);
        assert_eq!(h.matches("id=\"technique-update-trust\"").count(), 1);
        assert!(!h.contains("id=\"kind-zombie-identity\""));
        assert!(!h.contains("id=\"technique-assume-role\""));
        // Every row has its disclosure, pointing at its kind's guide and its path's techniques.
        assert_eq!(h.matches("<summary>How to fix</summary>").count(), 4);
        assert_eq!(
            h.matches("data-guides=\"kind-standing-privilege\"").count(),
            3
        );
        assert!(h.contains("data-guides=\"kind-escalation-path technique-update-trust\""));
    }

    #[test]
    fn an_escalation_path_is_drawn_as_its_chain_of_steps() {
        let h = html(&report(), "2026-11-20");
        let start = h.find("<ol class=\"chain\"").unwrap_or(usize::MAX);
        let chain = h.get(start..).unwrap_or_default();
        let chain = chain
            .get(..chain.find("</ol>").unwrap_or(0))
            .unwrap_or_default();
        assert!(chain.contains("aria-label=\"Escalation path in 1 step\""));
        let at = |s: &str| chain.find(s).unwrap_or(usize::MAX);
        let from = at(">222222222222:role/data-platform-automation<");
        let step = at("<a href=\"#technique-update-trust\">update-trust</a>");
        let actions = at("iam:UpdateAssumeRolePolicy, sts:AssumeRole");
        let to = at("<li class=\"node admin\">222222222222:role/data-admin<");
        assert!(from < step && step < actions && actions < to && to < chain.len());
        // The step's explanation, its code span as code and its markup escaped.
        assert!(
            h.contains("may rewrite the trust of <code>data-admin</code> &lt;b&gt;now&lt;/b&gt;")
        );
        assert_eq!(h.matches("<ol class=\"chain\"").count(), 1);
    }

    #[test]
    fn long_item_lists_are_cut_into_shown_hidden_and_left_to_json() {
        let many: Vec<String> = (0..250).map(|i| format!("svc:Action{i:03}")).collect();
        let mut out = String::new();
        items(&mut out, &many);
        let summary = out.find("<summary>and 40 more</summary>").unwrap_or(0);
        assert!(summary > out.find("svc:Action009").unwrap_or(usize::MAX));
        assert!(summary < out.find("svc:Action010").unwrap_or(0));
        assert!(out.contains("svc:Action049</details><p>and 200 more in the JSON report</p>"));
        assert!(!out.contains("svc:Action050"));
        let mut out = String::new();
        items(&mut out, many.get(..3).unwrap_or_default());
        assert_eq!(
            out,
            "<div class=\"items\">svc:Action000, svc:Action001, svc:Action002</div>"
        );
    }

    #[test]
    fn hostile_strings_are_escaped() {
        let h = html(&report(), "<script>x</script>");
        assert_eq!(
            h.matches("<script").count(),
            1,
            "only the page's own script"
        );
        assert!(h.contains("user/&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!h.contains("<img"));
        assert!(h.contains("holds &quot;2&quot; sensitive &lt;img src=x onerror=alert(1)&gt;"));
        assert!(!h.contains("<b>"));
        assert!(!SCRIPT.contains("</"));
    }

    #[test]
    fn search_filters_and_sortable_headers_are_labelled_and_built_from_the_data() {
        let h = html(&report(), "2026-11-20");
        assert!(h.contains("<label for=\"q\">Search</label><input type=\"search\" id=\"q\""));
        for id in ["f-sev", "f-kind", "f-acct"] {
            assert!(h.contains(&format!("<label for=\"{id}\">")), "{id}");
            assert!(h.contains(&format!("<select id=\"{id}\">")), "{id}");
        }
        assert!(h.contains("<option value=\"critical\">critical (1)</option>"));
        assert!(h.contains("<option value=\"high\">high (3)</option>"));
        assert!(!h.contains("<option value=\"medium\">"));
        assert!(h.contains("<option value=\"standing-privilege\">standing-privilege (3)</option>"));
        assert!(!h.contains("<option value=\"zombie-identity\">"));
        assert!(h.contains("<option value=\"111111111111\">111111111111 (2)</option>"));
        assert!(h.contains("<option value=\"organization-wide\">organization-wide (1)</option>"));
        assert!(h.contains("data-acct=\"organization-wide\""));
        assert_eq!(h.matches("<th scope=\"col\"").count(), 6);
        assert_eq!(h.matches("<button type=\"button\" data-col=").count(), 5);
        assert_eq!(h.matches("aria-sort=\"").count(), 1);
        assert!(h.contains("<p id=\"count\" role=\"status\" aria-live=\"polite\">4 findings</p>"));
        assert_eq!(h.matches("<script>").count(), 1);
        assert!(!h.contains("src=\"http") && !h.contains("<link"));
    }

    #[test]
    fn an_empty_report_says_so() {
        let mut r = report();
        r.findings.clear();
        r.escalation_paths.clear();
        let h = html(&r, "2026-11-20");
        assert!(h.contains("<p>No findings.</p>"));
        assert!(!h.contains("<table") && !h.contains("id=\"filters\""));
        assert!(!h.contains("class=\"guide\""));
    }

    #[test]
    fn guide_text_renders_code_spans_and_links() {
        assert_eq!(
            inline("deny `iam:*` <now> & `x"),
            "deny <code>iam:*</code> &lt;now&gt; &amp; `x"
        );
        assert_eq!(
            inline("AWS guide, https://docs.aws.amazon.com/a?b=1&c=2; more."),
            "AWS guide, <a href=\"https://docs.aws.amazon.com/a?b=1&amp;c=2\" rel=\"noreferrer\">https://docs.aws.amazon.com/a?b=1&amp;c=2</a>; more."
        );
        assert_eq!(inline("`https://x.test`"), "<code>https://x.test</code>");
        assert_eq!(
            inline("it **and** a *role's* ARN, not iam:* or s3:Get* (*every* one) **x"),
            "it <strong>and</strong> a <em>role&#39;s</em> ARN, not iam:* or s3:Get* (<em>every</em> one) **x"
        );
        assert_eq!(paragraphs("one\n\ntwo"), "<p>one</p><p>two</p>");
    }

    #[test]
    fn sarif_rules_carry_what_each_kind_finds_and_how_to_fix_it() {
        let v: serde_json::Value = serde_json::from_str(&sarif(&report())).unwrap_or_default();
        let at = |v: &serde_json::Value, path: &str| v.pointer(path).cloned().unwrap_or_default();
        assert_eq!(at(&v, "/version"), "2.1.0");
        let rules = at(&v, "/runs/0/tool/driver/rules")
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(rules.len(), FindingKind::ALL.len());
        for (rule, kind) in rules.iter().zip(FindingKind::ALL) {
            let g = kind.guide();
            assert_eq!(at(rule, "/id"), kind.id());
            assert_eq!(at(rule, "/fullDescription/text"), g.finds.as_str());
            assert_eq!(at(rule, "/help/text"), g.fix.as_str());
            let markdown = at(rule, "/help/markdown");
            let markdown = markdown.as_str().unwrap_or_default();
            assert!(markdown.contains(&g.fix) && markdown.contains(&g.why));
        }
    }
}
