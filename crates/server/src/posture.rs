//! The organization's posture as the console shows it: what a `latch scan`, `latch plan` or
//! `latch prove` run found, reduced to what a person reads at a glance (counts by severity,
//! the identities with the most standing privilege, escalation paths, the plan's layers and
//! budget, the scenarios blocked) and a few figures kept for the trends.
//!
//! Pure: a document's bytes in, a summary out. The documents are read as their writers define
//! them: a plan through the planner's own reader (`Plan::from_json`, which refuses what a plan
//! may not hold), a prove report as `latch.prove/v1`, a scan report through the fields of its
//! JSON this page needs (the report of a large organization holds tens of thousands of
//! principals: their action lists are counted, never kept).

use std::fmt;

use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

/// The identities a scan summary names, most standing privilege first.
pub const TOP_IDENTITIES: usize = 10;
/// The findings a scan summary keeps, most severe first.
pub const TOP_FINDINGS: usize = 100;
/// The escalation paths a scan summary keeps, in the report's order.
pub const TOP_PATHS: usize = 50;
/// Actions named per identity or finding.
const SAMPLE: usize = 8;

/// Which run a document comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `latch scan --format json`.
    Scan,
    /// `latch plan --out DIR` (its `plan.json`).
    Plan,
    /// `latch prove --format json`.
    Prove,
}

impl Kind {
    /// Every kind, in page order.
    pub const ALL: [Kind; 3] = [Kind::Scan, Kind::Plan, Kind::Prove];

    /// `scan`, `plan` or `prove`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Scan => "scan",
            Kind::Plan => "plan",
            Kind::Prove => "prove",
        }
    }
}

/// Why a document cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PostureError {
    /// Not JSON, or not one of the three documents.
    #[error("{0}")]
    Unreadable(String),
}

/// A summary and its figures, ready to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Summarized {
    /// Which run.
    pub kind: Kind,
    /// SHA-256 of the document, hex.
    pub digest: String,
    /// The figures for the trends (JSON object).
    pub figures: serde_json::Value,
    /// The summary (JSON of [`ScanSummary`], [`PlanSummary`] or [`ProveSummary`]).
    pub body: serde_json::Value,
}

/// Which of the three documents `bytes` is: a `format` of `latch.plan/v1` or `latch.prove/v1`,
/// or a scan report (`findings` and `principals`, no `format`).
///
/// # Errors
/// Not JSON, or none of the three.
pub fn detect(bytes: &[u8]) -> Result<Kind, PostureError> {
    #[derive(Deserialize)]
    struct Head {
        format: Option<String>,
        findings: Option<IgnoredAny>,
        principals: Option<IgnoredAny>,
    }
    let head: Head = serde_json::from_slice(bytes)
        .map_err(|e| PostureError::Unreadable(format!("not a JSON object: {e}")))?;
    match head.format.as_deref() {
        Some("latch.plan/v1") => Ok(Kind::Plan),
        Some(latch_firewall::prove::FORMAT) => Ok(Kind::Prove),
        Some(other) => Err(PostureError::Unreadable(format!(
            "a `{other}` document is not a scan, plan or prove report"
        ))),
        None if head.findings.is_some() && head.principals.is_some() => Ok(Kind::Scan),
        None => Err(PostureError::Unreadable(
            "neither a scan report (`latch scan --format json`), a plan (`plan.json`) nor a \
             prove report (`latch prove --format json`)"
                .into(),
        )),
    }
}

/// Summarize a document of `kind`.
///
/// # Errors
/// The document is not a readable `kind` document.
pub fn summarize(kind: Kind, bytes: &[u8]) -> Result<Summarized, PostureError> {
    let digest = latch_grant::audit::hex(&Sha256::digest(bytes));
    let (figures, body) = match kind {
        Kind::Scan => {
            let scan: ScanView = serde_json::from_slice(bytes)
                .map_err(|e| PostureError::Unreadable(format!("not a scan report: {e}")))?;
            let s = ScanSummary::from(scan);
            (s.figures(), to_value(&s)?)
        }
        Kind::Plan => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| PostureError::Unreadable(format!("plan.json is not UTF-8: {e}")))?;
            let plan = latch_firewall::Plan::from_json(text)
                .map_err(|e| PostureError::Unreadable(format!("not a plan: {e}")))?;
            let s = PlanSummary::from(plan);
            (s.figures(), to_value(&s)?)
        }
        Kind::Prove => {
            let report: latch_firewall::prove::ProveReport = serde_json::from_slice(bytes)
                .map_err(|e| PostureError::Unreadable(format!("not a prove report: {e}")))?;
            let s = ProveSummary::from(report);
            (s.figures(), to_value(&s)?)
        }
    };
    Ok(Summarized {
        kind,
        digest,
        figures,
        body,
    })
}

fn to_value<T: Serialize>(v: &T) -> Result<serde_json::Value, PostureError> {
    serde_json::to_value(v).map_err(|e| PostureError::Unreadable(e.to_string()))
}

// ---- scan ----

/// A JSON list read for its length and its first few strings only.
#[derive(Debug, Default)]
struct Sample {
    len: usize,
    first: Vec<String>,
}

impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Sample;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Sample, E> {
                Ok(Sample::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Sample, E> {
                Ok(Sample::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Sample, D::Error> {
                d.deserialize_seq(V)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sample, A::Error> {
                let mut s = Sample::default();
                while s.first.len() < SAMPLE {
                    match seq.next_element::<Item>()? {
                        Some(item) => {
                            s.len += 1;
                            s.first.push(item.0);
                        }
                        None => return Ok(s),
                    }
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    s.len += 1;
                }
                Ok(s)
            }
        }
        d.deserialize_option(V)
    }
}

/// A list element named by a string, or by an object's `action` (`unknown` entries).
struct Item(String);

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Named { action: String },
            Other(IgnoredAny),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Text(s) | Raw::Named { action: s } => Item(s),
            Raw::Other(_) => Item(String::new()),
        })
    }
}

#[derive(Deserialize)]
struct ScanView {
    #[serde(default)]
    as_of: Option<String>,
    #[serde(default)]
    window_days: i64,
    #[serde(default)]
    usage_analysed: bool,
    principals: Vec<PrincipalView>,
    findings: Vec<Finding>,
    #[serde(default)]
    escalation_paths: Vec<Path>,
    #[serde(default)]
    not_analysed: Vec<String>,
}

#[derive(Deserialize)]
struct PrincipalView {
    arn: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    sensitive_actions: Sample,
    #[serde(default)]
    unused: Option<Sample>,
    #[serde(default)]
    unknown: Option<Sample>,
    #[serde(default)]
    last_activity: Option<String>,
    #[serde(default)]
    admin_equivalent: bool,
}

/// A finding as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id.
    pub id: String,
    /// Kind id (`standing-privilege`, ...).
    pub kind: String,
    /// `critical`, `high`, `medium` or `low`.
    pub severity: String,
    /// The principal, if any.
    #[serde(default)]
    pub principal: Option<String>,
    /// The account.
    #[serde(default)]
    pub account: String,
    /// One sentence.
    #[serde(default)]
    pub detail: String,
    /// The first actions or services it is about.
    #[serde(default, deserialize_with = "sample_items")]
    pub items: Vec<String>,
}

fn sample_items<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Sample::deserialize(d)?.first)
}

/// An escalation path as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Path {
    /// The starting principal.
    pub from: String,
    /// The admin-equivalent principal reached, or `admin`.
    pub to: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The technique's id (its guide says how to fix it).
    pub technique: String,
    /// The IAM actions the step needs.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Who acts.
    pub from: String,
    /// What it gains.
    pub to: String,
    /// Explanation.
    #[serde(default)]
    pub detail: String,
}

/// Findings per severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Severities {
    /// Fix now.
    pub critical: usize,
    /// Fix soon.
    pub high: usize,
    /// Worth fixing.
    pub medium: usize,
    /// For the record.
    pub low: usize,
}

/// Findings of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCount {
    /// Kind id.
    pub kind: String,
    /// How many.
    pub count: usize,
    /// The most severe of them.
    pub worst: String,
}

/// An identity holding sensitive actions it did not use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandingIdentity {
    /// ARN.
    pub arn: String,
    /// Account.
    pub account: String,
    /// `user` or `role`.
    pub kind: String,
    /// Sensitive actions held.
    pub held: usize,
    /// Of those, not used in the window (all held ones when usage was not analysed).
    pub unused: usize,
    /// Of those, of unknown use.
    pub unknown: usize,
    /// The first unused ones.
    pub sample: Vec<String>,
    /// Last activity seen.
    pub last_activity: Option<String>,
    /// Holds every escalation action: admin-equivalent.
    pub admin_equivalent: bool,
}

/// What the posture page shows of a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSummary {
    /// The scan's as-of time.
    pub as_of: Option<String>,
    /// The usage window in days.
    pub window_days: i64,
    /// Whether CloudTrail usage counted.
    pub usage_analysed: bool,
    /// Users and roles analysed.
    pub principals: usize,
    /// Of those, holding a sensitive action.
    pub with_sensitive: usize,
    /// Of those, holding one they did not use (standing privilege).
    pub standing_identities: usize,
    /// The (identity, action) pairs held and not used.
    pub standing_permissions: usize,
    /// Findings per severity.
    pub severity: Severities,
    /// Findings per kind, in the report's order of first appearance.
    pub kinds: Vec<KindCount>,
    /// The identities with the most standing privilege.
    pub top_standing: Vec<StandingIdentity>,
    /// The most severe findings.
    pub findings: Vec<Finding>,
    /// How many findings in all.
    pub findings_total: usize,
    /// The first escalation paths.
    pub paths: Vec<Path>,
    /// How many paths in all.
    pub paths_total: usize,
    /// Parts of the input not analysed, and why.
    pub not_analysed: Vec<String>,
}

impl From<ScanView> for ScanSummary {
    fn from(v: ScanView) -> Self {
        let mut severity = Severities::default();
        let mut kinds: Vec<KindCount> = Vec::new();
        for f in &v.findings {
            match f.severity.as_str() {
                "critical" => severity.critical += 1,
                "high" => severity.high += 1,
                "medium" => severity.medium += 1,
                _ => severity.low += 1,
            }
            match kinds.iter_mut().find(|k| k.kind == f.kind) {
                Some(k) => {
                    k.count += 1;
                    if rank(&f.severity) < rank(&k.worst) {
                        k.worst.clone_from(&f.severity);
                    }
                }
                None => kinds.push(KindCount {
                    kind: f.kind.clone(),
                    count: 1,
                    worst: f.severity.clone(),
                }),
            }
        }
        let with_sensitive = v
            .principals
            .iter()
            .filter(|p| p.sensitive_actions.len > 0)
            .count();
        // The ranking of the report: most unused first (all held when usage is unknown).
        let unused_of =
            |p: &PrincipalView| p.unused.as_ref().map_or(p.sensitive_actions.len, |u| u.len);
        let standing: Vec<&PrincipalView> = v
            .principals
            .iter()
            .filter(|p| p.unused.as_ref().is_some_and(|u| u.len > 0))
            .collect();
        let standing_permissions = standing.iter().map(|p| unused_of(p)).sum();
        let mut ranked: Vec<&PrincipalView> =
            v.principals.iter().filter(|p| unused_of(p) > 0).collect();
        ranked.sort_by(|a, b| unused_of(b).cmp(&unused_of(a)).then(a.arn.cmp(&b.arn)));
        let top_standing = ranked
            .into_iter()
            .take(TOP_IDENTITIES)
            .map(|p| StandingIdentity {
                arn: p.arn.clone(),
                account: p.account.clone(),
                kind: p.kind.clone(),
                held: p.sensitive_actions.len,
                unused: unused_of(p),
                unknown: p.unknown.as_ref().map_or(0, |u| u.len),
                sample: p
                    .unused
                    .as_ref()
                    .unwrap_or(&p.sensitive_actions)
                    .first
                    .clone(),
                last_activity: p.last_activity.clone(),
                admin_equivalent: p.admin_equivalent,
            })
            .collect();
        let findings_total = v.findings.len();
        let paths_total = v.escalation_paths.len();
        ScanSummary {
            as_of: v.as_of,
            window_days: v.window_days,
            usage_analysed: v.usage_analysed,
            principals: v.principals.len(),
            with_sensitive,
            standing_identities: standing.len(),
            standing_permissions,
            severity,
            kinds,
            top_standing,
            findings: v.findings.into_iter().take(TOP_FINDINGS).collect(),
            findings_total,
            paths: v.escalation_paths.into_iter().take(TOP_PATHS).collect(),
            paths_total,
            not_analysed: v.not_analysed,
        }
    }
}

fn rank(severity: &str) -> u8 {
    match severity {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        _ => 3,
    }
}

impl ScanSummary {
    fn figures(&self) -> serde_json::Value {
        serde_json::json!({
            "standing_identities": self.standing_identities,
            "standing_permissions": self.standing_permissions,
            "findings": self.findings_total,
            "critical": self.severity.critical,
            "high": self.severity.high,
            "paths": self.paths_total,
        })
    }
}

// ---- plan ----

/// What the posture page shows of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// `protect` or `enforce`.
    pub mode: String,
    /// Member accounts governed.
    pub accounts: usize,
    /// Policies and attachments.
    pub policies: usize,
    /// Policy × target.
    pub attachments: usize,
    /// The largest policy, in characters.
    pub largest_policy_chars: usize,
    /// Tags the plan puts on identities.
    pub tags: usize,
    /// Per layer.
    pub layers: Vec<latch_firewall::plan::LayerSummary>,
    /// Per root, OU or account: the slots and characters taken.
    pub budget: Vec<latch_firewall::plan::TargetBudget>,
    /// What people must read before applying.
    pub warnings: Vec<String>,
    /// Identities that may break (use unknown).
    pub may_break: usize,
    /// Calls of the window the plan would deny.
    pub calls_broken: u64,
}

impl From<latch_firewall::Plan> for PlanSummary {
    fn from(p: latch_firewall::Plan) -> Self {
        let s = p.summary;
        PlanSummary {
            mode: s.mode,
            accounts: s.accounts,
            policies: p.policies.len(),
            attachments: p.policies.iter().map(|x| x.targets.len()).sum(),
            largest_policy_chars: s.largest_policy_chars,
            tags: p.tags.len(),
            layers: s.layers,
            budget: s.budget,
            warnings: s.warnings,
            may_break: s.may_break.len(),
            calls_broken: s.simulation.calls_broken,
        }
    }
}

impl PlanSummary {
    fn figures(&self) -> serde_json::Value {
        let removed: u64 = self.layers.iter().map(|l| l.permissions_removed).sum();
        serde_json::json!({
            "permissions_removed": removed,
            "policies": self.policies,
            "may_break": self.may_break,
            "calls_broken": self.calls_broken,
        })
    }
}

// ---- prove ----

/// One scenario as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    /// Id.
    pub id: String,
    /// Title.
    pub name: String,
    /// The escalation technique, when it is one.
    pub technique: Option<String>,
    /// `blocked`, `not-blocked` or `skipped`.
    pub status: String,
    /// `detected`, `not-detected` or `not-checked`.
    pub detection: String,
    /// Whether the attack works today.
    pub feasible_today: bool,
    /// The statements that deny it.
    pub blocked_by: Vec<String>,
    /// Why it is not blocked or was skipped.
    pub problem: Option<String>,
}

/// What the posture page shows of a prove run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProveSummary {
    /// The region the requests were made in.
    pub region: String,
    /// Totals.
    pub summary: latch_firewall::prove::ProveSummary,
    /// Per scenario.
    pub scenarios: Vec<Scenario>,
}

impl From<latch_firewall::prove::ProveReport> for ProveSummary {
    fn from(r: latch_firewall::prove::ProveReport) -> Self {
        ProveSummary {
            region: r.region,
            summary: r.summary,
            scenarios: r
                .scenarios
                .into_iter()
                .map(|s| Scenario {
                    id: s.id,
                    name: s.name,
                    technique: s.technique,
                    status: s.status,
                    detection: s.detection.status,
                    feasible_today: s.feasible_today,
                    blocked_by: s.blocked_by,
                    problem: s.problem,
                })
                .collect(),
        }
    }
}

impl ProveSummary {
    fn figures(&self) -> serde_json::Value {
        serde_json::json!({
            "scenarios": self.summary.scenarios,
            "blocked": self.summary.blocked,
            "not_blocked": self.summary.not_blocked,
            "detected": self.summary.detected,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn scan_doc() -> serde_json::Value {
        serde_json::json!({
            "as_of": "2026-11-20T00:00:00Z",
            "window_days": 90,
            "usage_analysed": true,
            "not_analysed": [],
            "principals": [
                {"arn": "arn:aws:iam::1:role/a", "account": "1", "kind": "role",
                 "sensitive_actions": ["iam:a", "iam:b", "iam:c"], "used": ["iam:a"],
                 "unused": ["iam:b", "iam:c"], "unknown": [{"action": "s3:x", "reason": "r"}],
                 "admin_equivalent": false},
                {"arn": "arn:aws:iam::1:role/b", "account": "1", "kind": "role",
                 "sensitive_actions": (0..20).map(|i| format!("iam:x{i}")).collect::<Vec<_>>(),
                 "used": [], "unused": (0..20).map(|i| format!("iam:x{i}")).collect::<Vec<_>>(),
                 "unknown": [], "last_activity": "2026-01-01T00:00:00Z", "admin_equivalent": true},
                {"arn": "arn:aws:iam::2:user/c", "account": "2", "kind": "user",
                 "sensitive_actions": [], "used": [], "unused": [], "unknown": []}
            ],
            "findings": [
                {"id": "escalation-path:x", "kind": "escalation-path", "severity": "critical",
                 "principal": "arn:aws:iam::1:role/a", "account": "1", "detail": "d", "items": []},
                {"id": "standing-privilege:a", "kind": "standing-privilege", "severity": "high",
                 "principal": "arn:aws:iam::1:role/a", "account": "1", "detail": "d",
                 "items": ["iam:b", "iam:c"], "usage_unknown": []},
                {"id": "standing-privilege:b", "kind": "standing-privilege", "severity": "medium",
                 "principal": "arn:aws:iam::1:role/b", "account": "1", "detail": "d", "items": []}
            ],
            "escalation_paths": [
                {"from": "arn:aws:iam::1:role/a", "to": "admin", "steps": [
                    {"technique": "update-trust", "actions": ["iam:UpdateAssumeRolePolicy"],
                     "from": "arn:aws:iam::1:role/a", "to": "arn:aws:iam::1:role/b", "detail": "d"},
                    {"technique": "modify-policy", "actions": ["iam:PutRolePolicy"],
                     "from": "arn:aws:iam::1:role/b", "to": "admin", "detail": "d"}]}
            ],
            "people": []
        })
    }

    #[test]
    fn a_scan_is_counted_ranked_and_cut_to_what_the_page_shows() {
        let bytes = serde_json::to_vec(&scan_doc()).unwrap();
        assert_eq!(detect(&bytes).unwrap(), Kind::Scan);
        let s = summarize(Kind::Scan, &bytes).unwrap();
        let body: ScanSummary = serde_json::from_value(s.body).unwrap();
        assert_eq!(
            body.severity,
            Severities {
                critical: 1,
                high: 1,
                medium: 1,
                low: 0
            }
        );
        assert_eq!(body.kinds[1].kind, "standing-privilege");
        assert_eq!(
            (body.kinds[1].count, body.kinds[1].worst.as_str()),
            (2, "high")
        );
        assert_eq!(body.principals, 3);
        assert_eq!(body.with_sensitive, 2);
        assert_eq!(body.standing_identities, 2);
        assert_eq!(body.standing_permissions, 22);
        let top: Vec<(&str, usize, usize, usize)> = body
            .top_standing
            .iter()
            .map(|t| (t.arn.as_str(), t.held, t.unused, t.sample.len()))
            .collect();
        assert_eq!(
            top,
            vec![
                ("arn:aws:iam::1:role/b", 20, 20, SAMPLE),
                ("arn:aws:iam::1:role/a", 3, 2, 2)
            ]
        );
        assert_eq!(body.top_standing[1].unknown, 1);
        assert_eq!(body.paths_total, 1);
        assert_eq!(body.paths[0].steps[0].technique, "update-trust");
        assert_eq!(s.figures["standing_identities"], 2);
        assert_eq!(s.figures["critical"], 1);
        assert_eq!(s.digest.len(), 64);
    }

    #[test]
    fn what_is_not_a_document_is_refused_with_what_it_is() {
        assert!(detect(b"nope")
            .unwrap_err()
            .to_string()
            .contains("not a JSON"));
        let other = detect(br#"{"format": "latch.other/v9"}"#).unwrap_err();
        assert!(other.to_string().contains("latch.other/v9"), "{other}");
        assert!(detect(br#"{"findings": []}"#).is_err());
        assert_eq!(
            detect(br#"{"format": "latch.prove/v1"}"#).unwrap(),
            Kind::Prove
        );
        let bad_plan = summarize(Kind::Plan, br#"{"format": "latch.plan/v1"}"#).unwrap_err();
        assert!(bad_plan.to_string().starts_with("not a plan"), "{bad_plan}");
    }
}
