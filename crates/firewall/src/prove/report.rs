//! What a run of `latch prove` reports.

#[allow(clippy::wildcard_imports)]
use super::*;

/// An escalation the scan found: `principal` escalates with `technique` (an id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Detected {
    /// The principal's ARN.
    pub principal: String,
    /// The [`Technique`] id.
    pub technique: String,
}

/// The (principal, technique) pairs of an escalation report: every step of every path, and
/// every edge that reaches an admin-equivalent principal or `admin` directly (a principal may
/// have several techniques to the same target while its shortest path shows one). Sorted.
pub fn detected_from(report: &EscalationReport) -> Vec<Detected> {
    let mut out = BTreeSet::new();
    for p in &report.paths {
        for s in &p.steps {
            out.insert(Detected {
                principal: s.from.clone(),
                technique: s.technique.id().to_owned(),
            });
        }
    }
    let sources: BTreeSet<&str> = report.paths.iter().map(|p| p.from.as_str()).collect();
    for e in &report.edges {
        let to = e.to.as_str();
        let reaches_admin = to == "admin"
            || report
                .admins
                .binary_search_by(|a| a.as_str().cmp(to))
                .is_ok();
        if reaches_admin && sources.contains(e.from.as_str()) {
            out.insert(Detected {
                principal: e.from.clone(),
                technique: e.technique.id().to_owned(),
            });
        }
    }
    out.into_iter().collect()
}

/// Settings of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProveOptions {
    /// `aws:RequestedRegion` and `${region}`.
    pub region: String,
}

impl Default for ProveOptions {
    fn default() -> ProveOptions {
        ProveOptions {
            region: "us-east-1".to_owned(),
        }
    }
}

/// One statement that denied a request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DenyingStatement {
    /// `scp`, `rcp`, `identity`, `boundary`, `resource`, …
    pub layer: String,
    /// The policy: `latch-scp-r-x1y2-1`, an SCP's name, an identity policy's label.
    pub policy: String,
    /// Its `Sid`, when it has one.
    pub sid: Option<String>,
    /// Where it is attached (root, OU or account id) for SCPs and RCPs.
    pub attached_to: Option<String>,
    /// Whether it is one of the plan's (`latch-*`).
    pub latch: bool,
}

impl DenyingStatement {
    /// `policy/Sid`.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(s) => format!("{}/{s}", self.policy),
            None => self.policy.clone(),
        }
    }
}

/// The engine's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
    pub decision: String,
    /// The layer that decided (`scp`, `identity`, …).
    pub decided_by: Option<String>,
    /// The engine's reason.
    pub reason: String,
    /// Every Deny statement that matched (empty unless explicitly denied).
    pub denied_by: Vec<DenyingStatement>,
}

impl Outcome {
    /// Whether the request is allowed.
    pub fn allowed(&self) -> bool {
        self.decision == Decision::Allow.name()
    }

    /// The plan's statements among those that denied it.
    pub fn latch_statements(&self) -> impl Iterator<Item = &DenyingStatement> {
        self.denied_by.iter().filter(|d| d.latch)
    }
}

/// One step, evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// The action.
    pub action: String,
    /// The resource, templates filled.
    pub resource: String,
    /// Who made the request.
    pub principal: String,
    /// What the step does.
    pub note: String,
    /// Whether this is the impact (last) step.
    pub impact: bool,
    /// Today's policies.
    pub today: Outcome,
    /// Today's plus the plan's policies and tags.
    pub with_plan: Outcome,
}

/// How (and whether) the scan detects a scenario before enforcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    /// `escalation-path` or `effective-permissions`.
    pub method: String,
    /// `detected`, `not-detected`, or `not-checked` (no escalation analysis was given).
    pub status: String,
    /// What was found, for people.
    pub detail: String,
}

/// The outcome of one scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Scenario id.
    pub id: String,
    /// Title.
    pub name: String,
    /// Kind.
    pub kind: ScenarioKind,
    /// Escalation technique id.
    pub technique: Option<String>,
    /// `blocked`, `not-blocked` or `skipped`.
    pub status: String,
    /// The attacker's ARN.
    pub attacker: Option<String>,
    /// How the attacker was chosen.
    pub attacker_chosen: String,
    /// The target's ARN (or filled fallback).
    pub target: Option<String>,
    /// Detection before enforcement.
    pub detection: Detection,
    /// Whether every step is allowed today (the attack works now).
    pub feasible_today: bool,
    /// The plan statements that deny the impact step (`policy/Sid`), sorted.
    pub blocked_by: Vec<String>,
    /// Why it is not blocked or was skipped.
    pub problem: Option<String>,
    /// Every step.
    pub steps: Vec<StepResult>,
}

/// Totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProveSummary {
    /// Scenarios run.
    pub scenarios: usize,
    /// Impact step denied by the plan.
    pub blocked: usize,
    /// Impact step not denied by the plan.
    pub not_blocked: usize,
    /// No attacker could be chosen.
    pub skipped: usize,
    /// Detected before enforcement.
    pub detected: usize,
    /// Every step allowed today.
    pub feasible_today: usize,
}

/// What `latch prove` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProveReport {
    /// Always `latch.prove/v1`.
    pub format: String,
    /// The region the requests were made in.
    pub region: String,
    /// Totals.
    pub summary: ProveSummary,
    /// Per scenario, sorted by id.
    pub scenarios: Vec<ScenarioResult>,
}

impl ProveReport {
    /// Whether every scenario is blocked (nothing skipped).
    pub fn all_blocked(&self) -> bool {
        self.summary.not_blocked == 0 && self.summary.skipped == 0
    }
}

/// The format tag of the JSON report.
pub const FORMAT: &str = "latch.prove/v1";
