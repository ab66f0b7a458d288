//! The posture page: the organization's latest scan, plan and prove results as kept by
//! `latch report push` or read from the posture folder, with how to fix each finding and path
//! (from the rule and check files' guides), and the trends drawn as server-side SVG.

use axum::http::StatusCode;
use axum::response::Response;
use latch_analysis::escalation::Technique;
use latch_analysis::guide::Guide;
use latch_analysis::scan::FindingKind;
use latch_grant::{Activity, Millis, PostureRecord, Role};
use maud::{html, Markup, PreEscaped};
use serde::de::DeserializeOwned;

use super::{guarded, html_response, page, unavailable, Ctx};
use crate::clock::rfc3339;
use crate::posture::{Finding, Path, PlanSummary, ProveSummary, ScanSummary};

const DAY: Millis = 86_400_000;
/// The days the activity charts cover, today included.
const ACTIVITY_DAYS: i64 = 30;
/// How far back the standing-privilege trend reaches.
const TREND_DAYS: i64 = 180;
/// Paths drawn on the page (the summary keeps more; the JSON has them all).
const PATHS_SHOWN: usize = 20;
/// Findings listed.
const FINDINGS_SHOWN: usize = 25;

/// A kept document, read back.
struct Kept<T> {
    pushed_at: Millis,
    pushed_by: String,
    summary: T,
}

fn kept<T: DeserializeOwned>(r: Option<PostureRecord>) -> Option<Kept<T>> {
    let r = r?;
    let summary = serde_json::from_str(&r.body).ok()?;
    Some(Kept {
        pushed_at: r.pushed_at,
        pushed_by: r.pushed_by,
        summary,
    })
}

pub(super) async fn posture_page(Ctx { core, web, headers }: Ctx) -> Response {
    let c = core.clone();
    guarded(&core, &web, &headers, Role::Admin, "Posture", |s| async move {
        let now = c.now();
        let store = c.view();
        let read = async {
            let scan = store.posture_latest("scan").await?;
            let plan = store.posture_latest("plan").await?;
            let prove = store.posture_latest("prove").await?;
            let trend = store
                .posture_figures("scan", now.saturating_sub(TREND_DAYS * DAY))
                .await?;
            let activity = store
                .activity(now.saturating_sub((ACTIVITY_DAYS - 1) * DAY), now)
                .await?;
            Ok::<_, latch_grant::StoreError>((scan, plan, prove, trend, activity))
        };
        let Ok((scan, plan, prove, trend, activity)) = read.await else {
            return unavailable(&s);
        };
        let scan: Option<Kept<ScanSummary>> = kept(scan);
        let plan: Option<Kept<PlanSummary>> = kept(plan);
        let prove: Option<Kept<ProveSummary>> = kept(prove);
        let body = html! {
            @if scan.is_none() && plan.is_none() && prove.is_none() {
                div.card {
                    p { "Nothing has been pushed yet. Send the results of a scan, a plan and a prove run:" }
                    pre { code { "latch scan --snapshot DIR --format json --out scan.json\nlatch plan --snapshot DIR --out plan/\nlatch prove --snapshot DIR --plan plan/ --format json > prove.json\nlatch report push --server URL scan.json plan/ prove.json" } }
                    p.hint { "Or set " code { "[web] posture_dir" } " to the folder they are written to." }
                }
            }
            (trends(&trend, &activity, now))
            @if let Some(k) = &scan { (scan_section(k)) }
            @if let Some(k) = &plan { (plan_section(k)) }
            @if let Some(k) = &prove { (prove_section(k)) }
            (techniques_section(scan.as_ref().map(|k| &k.summary), prove.as_ref().map(|k| &k.summary)))
        };
        html_response(StatusCode::OK, page("Posture", Some(&s), "/posture", body))
    })
    .await
}

fn pushed(at: Millis, by: &str) -> Markup {
    html! { "pushed " (rfc3339(at)) " by " (by) }
}

// ---- trends ----

fn trends(trend: &[PostureRecord], activity: &Activity, now: Millis) -> Markup {
    let standing: Vec<(String, i64)> = trend
        .iter()
        .filter_map(|r| {
            let f: serde_json::Value = serde_json::from_str(&r.figures).ok()?;
            let n = f.get("standing_identities")?.as_i64()?;
            Some((day_label(r.pushed_at), n))
        })
        .collect();
    let today = now.div_euclid(DAY);
    let first = today - (ACTIVITY_DAYS - 1);
    let mut active = activity.active_before;
    let mut requests = Vec::new();
    let mut grants = Vec::new();
    for day in first..=today {
        let d = activity.days.iter().find(|d| d.day == day);
        let (made, started, ended) = d.map_or((0, 0, 0), |d| {
            (d.requests, d.grants_started, d.grants_ended)
        });
        active = active.saturating_add(started).saturating_sub(ended);
        requests.push((day_label(day * DAY), made));
        grants.push((day_label(day * DAY), active));
    }
    html! {
        section aria-labelledby="trends" {
            h2 id="trends" { "Trends" }
            div.charts {
                (chart("Identities with standing privilege, per scan", &standing, Shape::Line))
                (chart("Active grants at the end of each day, last 30 days", &grants, Shape::Line))
                (chart("Requests per day, last 30 days", &requests, Shape::Bars))
            }
        }
    }
}

fn day_label(at: Millis) -> String {
    rfc3339(at).get(..10).unwrap_or_default().to_owned()
}

#[derive(Clone, Copy)]
enum Shape {
    Line,
    Bars,
}

/// A small chart as inline SVG (no script, no style attribute: the page's CSP allows
/// neither), with its numbers in words for screen readers.
fn chart(caption: &str, points: &[(String, i64)], shape: Shape) -> Markup {
    const W: i64 = 300;
    const H: i64 = 110;
    const TOP: i64 = 14;
    const BOTTOM: i64 = 18;
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
    let n = i64::try_from(points.len()).unwrap_or(0);
    let plot = H - TOP - BOTTOM;
    let x = |i: i64| {
        if n <= 1 {
            W / 2
        } else {
            8 + i * (W - 16) / (n - 1)
        }
    };
    let y = |v: i64| TOP + plot - v.max(0) * plot / max;
    let summary = match (points.first(), points.last()) {
        (Some(f), Some(l)) if points.len() > 1 => format!(
            "{caption}: from {} on {} to {} on {}, highest {max}.",
            f.1, f.0, l.1, l.0
        ),
        (Some(f), _) => format!("{caption}: {} on {}.", f.1, f.0),
        _ => format!("{caption}: no data yet."),
    };
    let mut shapes = String::new();
    match shape {
        Shape::Line => {
            let coords: Vec<String> = points
                .iter()
                .zip(0..)
                .map(|(p, i)| format!("{},{}", x(i), y(p.1)))
                .collect();
            if coords.len() > 1 {
                shapes.push_str(&format!(
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"#0a58ca\" stroke-width=\"2\"/>",
                    coords.join(" ")
                ));
            }
            for (p, i) in points.iter().zip(0..) {
                shapes.push_str(&format!(
                    "<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"#0a58ca\"/>",
                    x(i),
                    y(p.1)
                ));
            }
        }
        Shape::Bars => {
            let slot = (W - 16) / n.max(1);
            let bar = (slot - 2).max(1);
            for (p, i) in points.iter().zip(0..) {
                let top = y(p.1);
                shapes.push_str(&format!(
                    "<rect x=\"{}\" y=\"{top}\" width=\"{bar}\" height=\"{}\" fill=\"#0a58ca\"/>",
                    8 + i * slot,
                    TOP + plot - top
                ));
            }
        }
    }
    let first = points.first().map(|p| p.0.as_str()).unwrap_or("");
    let last = points.last().map(|p| p.0.as_str()).unwrap_or("");
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(summary) {
                line x1="8" y1=(TOP + plot) x2=(W - 8) y2=(TOP + plot) stroke="#57606a" stroke-width="1" {}
                text x="8" y="10" font-size="10" fill="#57606a" { (max) }
                text x="8" y=(H - 4) font-size="10" fill="#57606a" { (first) }
                text x=(W - 8) y=(H - 4) font-size="10" fill="#57606a" text-anchor="end" { (last) }
                (PreEscaped(shapes))
            }
            figcaption { (caption) }
        }
    }
}

// ---- guides ----

/// Text with `code` spans, escaped.
fn rich(text: &str) -> Markup {
    html! {
        @for (i, part) in text.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

fn guide_body(g: &Guide) -> Markup {
    html! {
        dl.guide {
            dt { "What it finds" } dd { (rich(&g.finds)) }
            dt { "Why it is bad" } dd { (rich(&g.why)) }
            @if let Some(e) = &g.example { dt { "Example" } dd { (rich(e)) } }
            dt { "How to fix" } dd.fix { (rich(&g.fix)) }
            @if !g.references.is_empty() {
                dt { "References" }
                dd { ul { @for r in &g.references { li { (rich(r)) } } } }
            }
        }
    }
}

fn kind_fix(kind: &str) -> Markup {
    match FindingKind::from_id(kind) {
        Some(k) => {
            html! { (rich(&k.guide().fix)) " " a href=(format!("#kind-{kind}")) { "Why, and more" } }
        }
        None => html! {},
    }
}

/// The first sentence of a guide's "what it finds", for a summary line.
fn first_sentence(text: &str) -> String {
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    latch_grant::workflow::clip(text.get(..end).unwrap_or(text), 160)
}

// ---- scan ----

fn scan_section(k: &Kept<ScanSummary>) -> Markup {
    let s = &k.summary;
    let severities = [
        ("critical", s.severity.critical),
        ("high", s.severity.high),
        ("medium", s.severity.medium),
        ("low", s.severity.low),
    ];
    html! {
        section aria-labelledby="scan" {
            h2 id="scan" { "Scan" }
            p.hint {
                "As of " (s.as_of.as_deref().unwrap_or("an unknown time")) ", a " (s.window_days) "-day usage window"
                @if !s.usage_analysed { " (CloudTrail usage was not analysed: nothing is called unused)" }
                "; " (pushed(k.pushed_at, &k.pushed_by)) "."
            }
            ul.tiles aria-label="Findings by severity" {
                @for (name, n) in severities {
                    li class=(format!("tile {name}")) { span.n { (n) } " " (name) }
                }
            }
            h3 { "Standing privilege" }
            p {
                (s.standing_identities) " of " (s.with_sensitive) " identities holding sensitive permissions did not use some of them: "
                (s.standing_permissions) " permissions held and unused (" (s.principals) " users and roles analysed)."
            }
            @if !s.top_standing.is_empty() {
                table {
                    caption { "The identities with the most standing privilege" }
                    thead { tr { th scope="col" { "Identity" } th scope="col" { "Account" } th scope="col" { "Unused / held" } th scope="col" { "For example" } th scope="col" { "Last activity" } } }
                    tbody {
                        @for t in &s.top_standing {
                            tr {
                                td { code { (t.arn) } @if t.admin_equivalent { " " strong { "admin-equivalent" } } }
                                td { (t.account) }
                                td { (t.unused) " / " (t.held) @if t.unknown > 0 { " (" (t.unknown) " of unknown use)" } }
                                td { (t.sample.iter().take(4).cloned().collect::<Vec<_>>().join(", ")) @if t.unused > t.sample.len().min(4) { ", …" } }
                                td { (t.last_activity.as_deref().unwrap_or("none seen")) }
                            }
                        }
                    }
                }
                p.hint { "How to fix: " (kind_fix("standing-privilege")) }
            }
            (paths_section(&s.paths, s.paths_total))
            h3 { "Most severe findings" }
            p { (s.findings_total) " findings in all" @if s.findings_total > FINDINGS_SHOWN { "; the " (FINDINGS_SHOWN) " most severe:" } @else { ":" } }
            (findings_table(&s.findings))
            h3 { "Findings by kind, and how to fix them" }
            @for kc in &s.kinds {
                @if let Some(kind) = FindingKind::from_id(&kc.kind) {
                    details.guide id=(format!("kind-{}", kc.kind)) {
                        summary { code { (kc.kind) } ": " (kc.count) " (worst " (kc.worst) ") — " (kind.description()) }
                        (guide_body(kind.guide()))
                    }
                }
            }
            @if !s.not_analysed.is_empty() {
                h3 { "Not analysed" }
                ul { @for n in s.not_analysed.iter().take(10) { li { (n) } } }
            }
        }
    }
}

fn findings_table(findings: &[Finding]) -> Markup {
    html! {
        table {
            thead { tr { th scope="col" { "Severity" } th scope="col" { "Kind" } th scope="col" { "Subject" } th scope="col" { "Finding" } } }
            tbody {
                @for f in findings.iter().take(FINDINGS_SHOWN) {
                    tr {
                        td { span class=(format!("sev {}", f.severity)) { (f.severity) } }
                        td { code { (f.kind) } br; a href=(format!("#kind-{}", f.kind)) { "How to fix" } }
                        td { code { (f.principal.as_deref().unwrap_or(&f.account)) } }
                        td { (f.detail) @if !f.items.is_empty() { br; span.hint { (f.items.join(", ")) } } }
                    }
                }
            }
        }
    }
}

fn paths_section(paths: &[Path], total: usize) -> Markup {
    html! {
        h3 { "Escalation paths" }
        @if total == 0 {
            p { "No identity can make itself admin-equivalent." }
        } @else {
            p { (total) " ways for an identity to make itself admin-equivalent"
                @if total > PATHS_SHOWN.min(paths.len()) { "; the first " (PATHS_SHOWN.min(paths.len())) ":" } @else { ":" } }
            @for p in paths.iter().take(PATHS_SHOWN) {
                div.path {
                    ol.chain aria-label=(format!("From {} to {}", p.from, p.to)) {
                        li.node { code { (p.from) } }
                        @for st in &p.steps {
                            li.step {
                                a href=(format!("#technique-{}", st.technique)) { (st.technique) }
                                " " span.hint { (st.actions.join(", ")) }
                            }
                            li.node { code { (st.to) } }
                        }
                    }
                    @if let Some(t) = p.steps.first().and_then(|st| Technique::from_id(&st.technique)) {
                        p.hint { "To break it, close the first step: " (rich(&t.guide().fix)) }
                    }
                }
            }
        }
    }
}

/// The guide of every technique the page names (on a path or a scenario), once.
fn techniques_section(scan: Option<&ScanSummary>, prove: Option<&ProveSummary>) -> Markup {
    let mut techniques: Vec<Technique> = scan
        .into_iter()
        .flat_map(|s| s.paths.iter().take(PATHS_SHOWN))
        .flat_map(|p| &p.steps)
        .map(|st| st.technique.as_str())
        .chain(
            prove
                .into_iter()
                .flat_map(|p| &p.scenarios)
                .filter_map(|sc| sc.technique.as_deref()),
        )
        .filter_map(Technique::from_id)
        .collect();
    techniques.sort();
    techniques.dedup();
    html! {
        @if !techniques.is_empty() {
            section aria-labelledby="techniques" {
                h2 id="techniques" { "Escalation techniques, and how to fix them" }
                @for t in &techniques {
                    details.guide id=(format!("technique-{}", t.id())) {
                        summary { code { (t.id()) } ": " (first_sentence(&t.guide().finds)) }
                        (guide_body(t.guide()))
                    }
                }
            }
        }
    }
}

// ---- plan ----

fn plan_section(k: &Kept<PlanSummary>) -> Markup {
    let p = &k.summary;
    html! {
        section aria-labelledby="plan" {
            h2 id="plan" { "Firewall plan" }
            p.hint { (pushed(k.pushed_at, &k.pushed_by)) "." }
            dl {
                dt { "Mode" } dd { (p.mode) }
                dt { "Accounts governed" } dd { (p.accounts) }
                dt { "Policies" } dd { (p.policies) " (" (p.attachments) " attachments, largest " (p.largest_policy_chars) " characters)" }
                dt { "Identity tags" } dd { (p.tags) }
                dt { "Calls of the window it would deny" } dd { (p.calls_broken) }
                dt { "Identities that may break" } dd { (p.may_break) }
            }
            table {
                caption { "Layers" }
                thead { tr { th scope="col" { "Layer" } th scope="col" { "Rules" } th scope="col" { "Permissions removed" } th scope="col" { "Identities" } th scope="col" { "Used calls broken" } } }
                tbody {
                    @for l in &p.layers {
                        tr { td { (l.layer) } td { (l.rules) } td { (l.permissions_removed) } td { (l.identities) } td { (l.used_calls_broken) } }
                    }
                }
            }
            @if !p.budget.is_empty() {
                table {
                    caption { "Budget: what the plan takes of AWS's limits at each target" }
                    thead { tr { th scope="col" { "Target" } th scope="col" { "SCP slots" } th scope="col" { "SCP characters" } th scope="col" { "RCP slots" } th scope="col" { "RCP characters" } } }
                    tbody {
                        @for b in &p.budget {
                            tr {
                                td { (b.name) " " span.hint { "(" (b.kind) " " code { (b.target) } ")" } }
                                (budget_cells(b.scp.as_ref()))
                                (budget_cells(b.rcp.as_ref()))
                            }
                        }
                    }
                }
            }
            @if !p.warnings.is_empty() {
                h3 { "Read before applying" }
                ul { @for w in &p.warnings { li { (w) } } }
            }
        }
    }
}

/// The slots and characters one policy type takes at a target.
fn budget_cells(t: Option<&latch_firewall::plan::TypeBudget>) -> Markup {
    html! {
        @match t {
            Some(t) => { td { (t.existing + t.latch) "/" (t.slots) " (" (t.latch) " Latch)" } td { (t.chars) "/" (t.max_chars) } }
            None => { td { "—" } td { "—" } }
        }
    }
}

// ---- prove ----

fn prove_section(k: &Kept<ProveSummary>) -> Markup {
    let p = &k.summary;
    let s = &p.summary;
    html! {
        section aria-labelledby="prove" {
            h2 id="prove" { "Attack scenarios" }
            p.hint { "In " (p.region) "; " (pushed(k.pushed_at, &k.pushed_by)) "." }
            p {
                strong { (s.blocked) " of " (s.scenarios) " blocked" } " by the plan"
                @if s.not_blocked > 0 { ", " strong.bad { (s.not_blocked) " not blocked" } }
                @if s.skipped > 0 { ", " (s.skipped) " skipped" }
                "; " (s.detected) " detected by the scan before enforcement, " (s.feasible_today) " feasible today."
            }
            table {
                thead { tr { th scope="col" { "Scenario" } th scope="col" { "Detected before" } th scope="col" { "After the plan" } th scope="col" { "Blocked by" } } }
                tbody {
                    @for sc in &p.scenarios {
                        tr {
                            td { (sc.name) br; span.hint { code { (sc.id) } @if let Some(t) = &sc.technique { " · " a href=(format!("#technique-{t}")) { (t) } } } }
                            td { (sc.detection) }
                            td { span class=(format!("status {}", sc.status)) { (sc.status) } @if let Some(why) = &sc.problem { br; span.hint { (why) } } }
                            td { @for b in &sc.blocked_by { code { (b) } br; } }
                        }
                    }
                }
            }
        }
    }
}
