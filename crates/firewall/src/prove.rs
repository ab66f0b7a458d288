//! Prove it: attack scenarios run by the engine against today's policies and against the
//! plan, on a concrete principal of the snapshot.
//!
//! A [`Scenario`] (a data file under `scenarios/` in the repository, embedded in the binary by
//! [`builtin`]) is a known privilege-escalation, persistence, defense-evasion or tamper
//! technique written as ordered requests; its **last step is the impact step** — the request
//! that, once allowed, gives the attacker what it wanted. [`prove`] picks the attacker (and the
//! principal the attack aims at) in the snapshot, evaluates every step with the engine twice —
//! today's SCPs/RCPs, and today's plus the plan's at their targets with the plan's tags put on
//! the principals — and says which `latch-*` statement denies each step.
//!
//! A scenario is **blocked** when a statement of the plan explicitly denies its impact step
//! (and, for a step with `deny_in`, a statement of each named kind — an SCP *and* an RCP for
//! session tags). A deny that only today's policies give, or a missing Allow, does not count:
//! the point is what the plan guarantees, whatever the attacker holds.
//!
//! Whether the scan **detects** the scenario before enforcement: for a scenario with an
//! escalation `technique`, whether the escalation analysis found that the attacker escalates
//! with it (the caller passes the pairs, [`detected_from`] builds them from
//! `latch_analysis::escalation_paths`); for the others, whether the attacker holds the impact
//! action in its effective permissions (identity ∩ boundary ∩ SCPs, over the catalog).
//!
//! Pure: no IO, no clock. Same inputs, same output.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::Plan;
use crate::simulate::SimulateError;
use latch_analysis::escalation::{EscalationReport, GraphContext, GraphOptions, Technique};
use latch_catalog::Catalog;
use latch_contract::POLICY_NAME_PREFIX;
use latch_model::{ControlPolicy, Principal, Snapshot};
use latch_policy::compile::CPolicy;
use latch_policy::context::Context;
use latch_policy::document::Effect;
use latch_policy::{Decision, Layer, Policy, Request};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Scenario files
// ---------------------------------------------------------------------------------------------

/// What a scenario is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioKind {
    /// Gaining permissions one does not hold.
    PrivilegeEscalation,
    /// Keeping access (new credentials, backdoored trust).
    Persistence,
    /// Blinding the defenders or escaping the guardrails.
    DefenseEvasion,
    /// Forging or removing Latch's own grants and control plane.
    Tamper,
}

impl ScenarioKind {
    /// `privilege-escalation`, `persistence`, `defense-evasion`, `tamper`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioKind::PrivilegeEscalation => "privilege-escalation",
            ScenarioKind::Persistence => "persistence",
            ScenarioKind::DefenseEvasion => "defense-evasion",
            ScenarioKind::Tamper => "tamper",
        }
    }
}

/// User or role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    /// An IAM user.
    User,
    /// An IAM role.
    Role,
}

/// How the attacker is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackerSelector {
    /// ARNs tried first, in order (for a known organization such as the example's).
    #[serde(default)]
    pub prefer: Vec<String>,
    /// Otherwise the first principal (snapshot order) that is not admin-equivalent and holds
    /// every one of these actions in its effective permissions.
    #[serde(default)]
    pub holding: Vec<String>,
    /// Only users or only roles.
    #[serde(default)]
    pub kind: Option<PrincipalKind>,
    /// When no non-admin principal holds them, fall back to the first admin-equivalent
    /// principal (the strongest attacker: stolen admin credentials without a grant).
    #[serde(default = "yes")]
    pub admin_fallback: bool,
}

fn yes() -> bool {
    true
}

/// How the principal the attack aims at is chosen (`${target}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSelector {
    /// ARNs tried first, in order.
    #[serde(default)]
    pub prefer: Vec<String>,
    /// Otherwise a principal of the attacker's account of this kind …
    #[serde(default)]
    pub kind: Option<PrincipalKind>,
    /// … whose trust policy lets this service principal assume it …
    #[serde(default)]
    pub trusts: Option<String>,
    /// … that the attacker may assume (engine, with the trust policy) …
    #[serde(default)]
    pub assumable: bool,
    /// (admin-equivalent ones first).
    #[serde(default)]
    pub fallback: Option<String>,
}

/// A context value: one string or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContextValue {
    /// One value.
    One(String),
    /// Several (a multi-valued key such as `aws:TagKeys`).
    Many(Vec<String>),
}

/// Who makes a step's request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Actor {
    /// The attacker.
    #[default]
    Attacker,
    /// The target principal (after assuming it: role chaining).
    Target,
}

/// A kind of plan policy that must deny a step on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuardKind {
    /// A `latch-scp-*` statement.
    Scp,
    /// A `latch-rcp-*` statement.
    Rcp,
}

impl GuardKind {
    fn layer(self) -> Layer {
        match self {
            GuardKind::Scp => Layer::Scp,
            GuardKind::Rcp => Layer::Rcp,
        }
    }
}

/// One request of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// `service:Action`.
    pub action: String,
    /// Resource ARN template (`*` for none).
    pub resource: String,
    /// Extra request context (templates allowed in values).
    #[serde(default)]
    pub context: BTreeMap<String, ContextValue>,
    /// Who makes it.
    #[serde(default, rename = "as")]
    pub actor: Actor,
    /// What the step does, for people.
    #[serde(default)]
    pub note: String,
    /// Kinds of plan policy that must each deny this step (only on the impact step).
    #[serde(default)]
    pub deny_in: Vec<GuardKind>,
}

/// One attack scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Stable id (the file name without extension).
    pub id: String,
    /// Short title.
    pub name: String,
    /// What the attacker does and why it works.
    pub description: String,
    /// What it is about.
    pub kind: ScenarioKind,
    /// The escalation [`Technique`] id, where one exists.
    #[serde(default)]
    pub technique: Option<String>,
    /// Who attacks.
    pub attacker: AttackerSelector,
    /// Whom the attack aims at (`${target}`).
    #[serde(default)]
    pub target: Option<TargetSelector>,
    /// The requests, in order; the last is the impact step.
    pub steps: Vec<StepSpec>,
    /// Public documentation the technique is described in (titles or URLs).
    #[serde(default)]
    pub references: Vec<String>,
}

/// A scenario file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenario `{file}`: {reason}")]
pub struct ScenarioError {
    /// The file (or built-in name).
    pub file: String,
    /// Why, naming the field.
    pub reason: String,
}

/// Template variables a scenario may use.
pub const VARIABLES: &[&str] = &[
    "account",
    "region",
    "org_id",
    "attacker",
    "attacker_name",
    "target",
    "target_account",
    "target_name",
    "control_plane",
];

/// The scenarios of the repository's `scenarios/` directory, embedded.
const BUILTIN: &[(&str, &str)] = &[
    (
        "access-key-for-admin-user.toml",
        include_str!("../../../scenarios/access-key-for-admin-user.toml"),
    ),
    (
        "attach-admin-policy-to-self.toml",
        include_str!("../../../scenarios/attach-admin-policy-to-self.toml"),
    ),
    (
        "bedrock-api-key-for-admin-user.toml",
        include_str!("../../../scenarios/bedrock-api-key-for-admin-user.toml"),
    ),
    (
        "cloudtrail-delete-trail.toml",
        include_str!("../../../scenarios/cloudtrail-delete-trail.toml"),
    ),
    (
        "cloudtrail-stop-logging.toml",
        include_str!("../../../scenarios/cloudtrail-stop-logging.toml"),
    ),
    (
        "code-interpreter-session.toml",
        include_str!("../../../scenarios/code-interpreter-session.toml"),
    ),
    (
        "codebuild-start-build.toml",
        include_str!("../../../scenarios/codebuild-start-build.toml"),
    ),
    (
        "console-password-reset-for-user.toml",
        include_str!("../../../scenarios/console-password-reset-for-user.toml"),
    ),
    (
        "create-policy-version.toml",
        include_str!("../../../scenarios/create-policy-version.toml"),
    ),
    (
        "cross-account-role-chaining.toml",
        include_str!("../../../scenarios/cross-account-role-chaining.toml"),
    ),
    (
        "ec2-instance-connect.toml",
        include_str!("../../../scenarios/ec2-instance-connect.toml"),
    ),
    (
        "ec2-user-data.toml",
        include_str!("../../../scenarios/ec2-user-data.toml"),
    ),
    (
        "exempted-action-on-untouched-function.toml",
        include_str!("../../../scenarios/exempted-action-on-untouched-function.toml"),
    ),
    (
        "glue-dev-endpoint.toml",
        include_str!("../../../scenarios/glue-dev-endpoint.toml"),
    ),
    (
        "leave-organization.toml",
        include_str!("../../../scenarios/leave-organization.toml"),
    ),
    (
        "login-profile-for-admin-user.toml",
        include_str!("../../../scenarios/login-profile-for-admin-user.toml"),
    ),
    (
        "pass-role-apprunner.toml",
        include_str!("../../../scenarios/pass-role-apprunner.toml"),
    ),
    (
        "pass-role-autoscaling.toml",
        include_str!("../../../scenarios/pass-role-autoscaling.toml"),
    ),
    (
        "pass-role-cloudformation.toml",
        include_str!("../../../scenarios/pass-role-cloudformation.toml"),
    ),
    (
        "pass-role-code-interpreter.toml",
        include_str!("../../../scenarios/pass-role-code-interpreter.toml"),
    ),
    (
        "pass-role-codebuild.toml",
        include_str!("../../../scenarios/pass-role-codebuild.toml"),
    ),
    (
        "pass-role-datapipeline.toml",
        include_str!("../../../scenarios/pass-role-datapipeline.toml"),
    ),
    (
        "pass-role-ec2.toml",
        include_str!("../../../scenarios/pass-role-ec2.toml"),
    ),
    (
        "pass-role-ecs.toml",
        include_str!("../../../scenarios/pass-role-ecs.toml"),
    ),
    (
        "pass-role-glue.toml",
        include_str!("../../../scenarios/pass-role-glue.toml"),
    ),
    (
        "pass-role-lambda.toml",
        include_str!("../../../scenarios/pass-role-lambda.toml"),
    ),
    (
        "pass-role-new-instance-profile.toml",
        include_str!("../../../scenarios/pass-role-new-instance-profile.toml"),
    ),
    (
        "pass-role-sagemaker.toml",
        include_str!("../../../scenarios/pass-role-sagemaker.toml"),
    ),
    (
        "pass-role-stackset.toml",
        include_str!("../../../scenarios/pass-role-stackset.toml"),
    ),
    (
        "put-inline-policy-on-self.toml",
        include_str!("../../../scenarios/put-inline-policy-on-self.toml"),
    ),
    (
        "sagemaker-presigned-url.toml",
        include_str!("../../../scenarios/sagemaker-presigned-url.toml"),
    ),
    (
        "set-default-policy-version.toml",
        include_str!("../../../scenarios/set-default-policy-version.toml"),
    ),
    (
        "ssm-send-command.toml",
        include_str!("../../../scenarios/ssm-send-command.toml"),
    ),
    (
        "tamper-control-plane-role.toml",
        include_str!("../../../scenarios/tamper-control-plane-role.toml"),
    ),
    (
        "tamper-create-pre-tagged-role.toml",
        include_str!("../../../scenarios/tamper-create-pre-tagged-role.toml"),
    ),
    (
        "tamper-self-tag-grant.toml",
        include_str!("../../../scenarios/tamper-self-tag-grant.toml"),
    ),
    (
        "tamper-session-tag-grant.toml",
        include_str!("../../../scenarios/tamper-session-tag-grant.toml"),
    ),
    (
        "trust-policy-backdoor.toml",
        include_str!("../../../scenarios/trust-policy-backdoor.toml"),
    ),
    (
        "update-code.toml",
        include_str!("../../../scenarios/update-code.toml"),
    ),
    (
        "update-stack.toml",
        include_str!("../../../scenarios/update-stack.toml"),
    ),
];

/// The names of the embedded scenario files (for a test that every file is embedded).
pub fn builtin_files() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// The built-in suite, sorted by id.
pub fn builtin() -> Result<Vec<Scenario>, ScenarioError> {
    let mut out = BUILTIN
        .iter()
        .map(|(name, text)| parse_scenario(name, text))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Parses and validates one scenario file; `file` ends with `.toml` or `.json`, and its stem
/// must be the scenario's id.
pub fn parse_scenario(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let err = |reason: String| ScenarioError {
        file: file.to_owned(),
        reason,
    };
    let (stem, scenario) = if let Some(stem) = file
        .rsplit('/')
        .next()
        .and_then(|n| n.strip_suffix(".toml"))
    {
        (
            stem,
            toml::from_str::<Scenario>(text)
                .map_err(|e| err(e.to_string().trim_end().to_owned()))?,
        )
    } else if let Some(stem) = file
        .rsplit('/')
        .next()
        .and_then(|n| n.strip_suffix(".json"))
    {
        (
            stem,
            serde_json::from_str::<Scenario>(text).map_err(|e| err(e.to_string()))?,
        )
    } else {
        return Err(err(
            "a scenario file ends with `.toml` or `.json`".to_owned()
        ));
    };
    scenario.validate().map_err(err)?;
    if scenario.id != stem {
        return Err(err(format!(
            "`id` is `{}` but the file is named `{stem}`: they must agree",
            scenario.id
        )));
    }
    Ok(scenario)
}

fn check_template(t: &str, field: &str, has_target: bool) -> Result<(), String> {
    let mut rest = t;
    while let Some(start) = rest.find("${") {
        let after = rest.get(start + 2..).unwrap_or("");
        let Some(end) = after.find('}') else {
            return Err(format!("`{field}`: `${{` without a closing `}}` in `{t}`"));
        };
        let name = after.get(..end).unwrap_or("");
        if !VARIABLES.contains(&name) {
            return Err(format!(
                "`{field}`: unknown variable `${{{name}}}` (known: {})",
                VARIABLES.join(", ")
            ));
        }
        if name.starts_with("target") && !has_target {
            return Err(format!(
                "`{field}`: `${{{name}}}` needs a `[target]` selector"
            ));
        }
        rest = after.get(end + 1..).unwrap_or("");
    }
    Ok(())
}

impl Scenario {
    /// Checks the fields: id, technique, known actions, templates, the impact step.
    pub fn validate(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return Err(format!(
                "`id`: `{}` must be lower-case letters, digits and `-`",
                self.id
            ));
        }
        if let Some(t) = &self.technique {
            if Technique::from_id(t).is_none() {
                let known: Vec<&str> = Technique::ALL.iter().map(|t| t.id()).collect();
                return Err(format!(
                    "`technique`: `{t}` is not an escalation technique (known: {})",
                    known.join(", ")
                ));
            }
        }
        if self.steps.is_empty() {
            return Err("`steps`: at least one step (the last is the impact step)".to_owned());
        }
        let catalog = Catalog::get();
        for (i, a) in self.attacker.holding.iter().enumerate() {
            if catalog.resolve(a).is_none() {
                return Err(format!(
                    "`attacker.holding[{i}]`: `{a}` is not a known action"
                ));
            }
        }
        let has_target = self.target.is_some();
        if let Some(t) = &self.target {
            if let Some(f) = &t.fallback {
                check_template(f, "target.fallback", false)?;
            }
        }
        let last = self.steps.len() - 1;
        for (i, s) in self.steps.iter().enumerate() {
            if catalog.resolve(&s.action).is_none() {
                return Err(format!(
                    "`steps[{i}].action`: `{}` is not a known action",
                    s.action
                ));
            }
            check_template(&s.resource, &format!("steps[{i}].resource"), has_target)?;
            for (k, v) in &s.context {
                let values = match v {
                    ContextValue::One(x) => std::slice::from_ref(x),
                    ContextValue::Many(xs) => xs.as_slice(),
                };
                for x in values {
                    check_template(x, &format!("steps[{i}].context.{k}"), has_target)?;
                }
            }
            if s.actor == Actor::Target && !has_target {
                return Err(format!(
                    "`steps[{i}].as`: `target` needs a `[target]` selector"
                ));
            }
            if !s.deny_in.is_empty() && i != last {
                return Err(format!(
                    "`steps[{i}].deny_in`: only the impact (last) step is checked"
                ));
            }
            // An RCP can only block a step on a service RCPs govern (the catalog's list).
            let service = s
                .action
                .split(':')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if s.deny_in.contains(&GuardKind::Rcp)
                && catalog.rcp_services().governs(&service) != Some(true)
            {
                return Err(format!(
                    "`steps[{i}].deny_in`: RCPs do not govern `{service}`, so no RCP can deny `{}`",
                    s.action
                ));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

type Named = Vec<(String, CPolicy)>;

/// The SCP/RCP chain of one account: node ids with today's and the plan's policies per level.
struct Chain {
    nodes: Vec<String>,
    today_scps: Vec<Named>,
    today_rcps: Vec<Named>,
    plan_scps: Vec<Named>,
    plan_rcps: Vec<Named>,
    /// Whether the snapshot has an organization (without one, today has no SCPs at all).
    org: bool,
    /// Whether the plan's policies reach the account: it is a member of the organization, or
    /// the snapshot has none (the plan was made for accounts directly under a root). An
    /// account outside the organization is governed by no SCP or RCP, today or after.
    governed: bool,
}

struct Env<'a> {
    snapshot: &'a Snapshot,
    graph: GraphContext<'a>,
    plan_by_node: BTreeMap<String, (Named, Named)>,
    root_id: String,
    tags: BTreeMap<String, Vec<(String, String)>>,
    exempt: Vec<String>,
    /// (principal or pattern, "kind exemption from layer `gate`: reason").
    /// (principal, the actions kept — empty for the whole gate, why).
    exemption_list: Vec<(String, Vec<String>, String)>,
    control_plane: String,
    region: String,
    org_id: String,
    management: Option<String>,
}

fn compile_named(doc: &Policy, layer: Layer, name: &str) -> Result<CPolicy, SimulateError> {
    CPolicy::compile(doc, layer).map_err(|e| SimulateError {
        policy: name.to_owned(),
        reason: e.to_string(),
    })
}

/// Today's policies at one node. Every one compiles: `prove` checks them first
/// (`check_todays_policies`), so none is dropped here.
fn today_named(list: &[ControlPolicy], layer: Layer) -> Named {
    list.iter()
        .filter_map(|p| {
            CPolicy::compile(&p.document.policy, layer)
                .ok()
                .map(|c| (p.name.clone(), c))
        })
        .collect()
}

fn full_access(layer: Layer) -> Named {
    let name = if layer == Layer::Rcp {
        "RCPFullAWSAccess"
    } else {
        "FullAWSAccess"
    };
    Policy::from_json_str(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )
    .ok()
    .and_then(|p| CPolicy::compile(&p, layer).ok())
    .map(|c| vec![(name.to_owned(), c)])
    .unwrap_or_default()
}

impl<'a> Env<'a> {
    fn new(
        snapshot: &'a Snapshot,
        plan: &Plan,
        options: &ProveOptions,
    ) -> Result<Env<'a>, SimulateError> {
        let mut plan_by_node: BTreeMap<String, (Named, Named)> = BTreeMap::new();
        for p in &plan.policies {
            let doc = Policy::from_json_str(&p.content).map_err(|e| SimulateError {
                policy: p.name.clone(),
                reason: e.to_string(),
            })?;
            let layer = match p.kind {
                latch_catalog::PolicyType::Scp => Layer::Scp,
                latch_catalog::PolicyType::Rcp => Layer::Rcp,
            };
            let c = compile_named(&doc, layer, &p.name)?;
            for t in &p.targets {
                let slot = plan_by_node.entry(t.clone()).or_default();
                let list = if layer == Layer::Rcp {
                    &mut slot.1
                } else {
                    &mut slot.0
                };
                list.push((p.name.clone(), c.clone()));
            }
        }
        let mut tags: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for t in &plan.tags {
            tags.entry(t.principal_arn.clone())
                .or_default()
                .push((t.key.clone(), t.value.clone()));
        }
        let mut exempt: Vec<String> = plan
            .exemptions
            .iter()
            .filter(|e| e.mechanism == "principal-arn")
            .map(|e| e.value.clone())
            .collect();
        exempt.extend(plan.exemptions.iter().map(|e| e.principal.clone()));
        exempt.extend(
            plan.tags
                .iter()
                .filter(|t| {
                    t.key.starts_with(latch_contract::GRANT_TAG_PREFIX)
                        || t.key.starts_with(latch_contract::UNLOCK_TAG_PREFIX)
                })
                .map(|t| t.principal_arn.clone()),
        );
        exempt.sort();
        exempt.dedup();
        let control_plane = plan
            .exemptions
            .iter()
            .find(|e| e.kind == "control-plane")
            .map_or_else(
                || "arn:aws:iam::*:role/latch-control-plane".to_owned(),
                |e| e.value.clone(),
            );
        Ok(Env {
            snapshot,
            graph: GraphContext::new(
                snapshot,
                GraphOptions {
                    region: options.region.clone(),
                    ..GraphOptions::default()
                },
            ),
            plan_by_node,
            root_id: plan.organization.root_id.clone(),
            tags,
            exempt,
            exemption_list: plan
                .exemptions
                .iter()
                .filter(|e| e.kind != "control-plane")
                .map(|e| {
                    (
                        e.principal.clone(),
                        e.actions.clone(),
                        format!(
                            "{} exemption from the {} layer `{}` ({})",
                            e.kind, e.layer, e.gate, e.reason
                        ),
                    )
                })
                .collect(),
            control_plane,
            region: options.region.clone(),
            org_id: snapshot
                .organization
                .as_ref()
                .and_then(|o| o.id.clone())
                .unwrap_or_default(),
            management: snapshot.management_account_id().map(str::to_owned),
        })
    }

    fn chain(&self, account: &str) -> Chain {
        let organization = self.snapshot.organization.as_ref();
        let (nodes, today_scps, today_rcps, org, governed) =
            match organization.map(|o| o.path_to(account)) {
                Some(Some(path)) => (
                    path.iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
                    path.iter()
                        .map(|n| today_named(&n.scps, Layer::Scp))
                        .collect(),
                    path.iter()
                        .map(|n| today_named(&n.rcps, Layer::Rcp))
                        .collect(),
                    true,
                    true,
                ),
                Some(None) => (Vec::new(), Vec::new(), Vec::new(), false, false),
                None => (
                    vec![self.root_id.clone(), account.to_owned()],
                    vec![full_access(Layer::Scp), full_access(Layer::Scp)],
                    vec![full_access(Layer::Rcp), full_access(Layer::Rcp)],
                    false,
                    true,
                ),
            };
        let plan = |rcp: bool| -> Vec<Named> {
            nodes
                .iter()
                .map(|n| {
                    self.plan_by_node
                        .get(n)
                        .map(|(s, r)| if rcp { r.clone() } else { s.clone() })
                        .unwrap_or_default()
                })
                .collect()
        };
        Chain {
            plan_scps: plan(false),
            plan_rcps: plan(true),
            nodes,
            today_scps,
            today_rcps,
            org,
            governed,
        }
    }

    /// Why the plan spares `arn`: its tags and exemptions, for people.
    /// What spares `arn` calling `action`: grant tags and the exemptions that cover the action.
    fn exemptions_of(&self, arn: &str, action: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .tags
            .get(arn)
            .into_iter()
            .flatten()
            .filter(|(k, _)| {
                k.starts_with(latch_contract::GRANT_TAG_PREFIX)
                    || k.starts_with(latch_contract::UNLOCK_TAG_PREFIX)
            })
            .map(|(k, v)| format!("tag {k}={v}"))
            .collect();
        out.extend(
            self.exemption_list
                .iter()
                .filter(|(p, actions, _)| {
                    (p == arn || latch_policy::glob::matches_str(p, arn))
                        && (actions.is_empty()
                            || actions.iter().any(|a| a.eq_ignore_ascii_case(action)))
                })
                .map(|(_, _, why)| why.clone()),
        );
        out
    }

    fn is_exempt(&self, arn: &str) -> bool {
        self.exempt
            .iter()
            .any(|p| p == arn || latch_policy::glob::matches_str(p, arn))
            || latch_policy::glob::matches_str(&self.control_plane, arn)
    }

    /// Principals that can be chosen: not service-linked, not in the management account
    /// (SCPs do not govern it), not exempted by the plan, of the right kind.
    fn candidate(&self, i: usize, kind: Option<PrincipalKind>) -> bool {
        let Some(p) = self.graph.principal(i) else {
            return false;
        };
        let kind_ok = match kind {
            Some(PrincipalKind::User) => p.as_user().is_some(),
            Some(PrincipalKind::Role) => p.as_role().is_some(),
            None => true,
        };
        kind_ok && p.scps_apply() && !self.is_exempt(p.arn())
    }

    fn pick_attacker(&self, sel: &AttackerSelector) -> Option<(usize, String)> {
        for arn in &sel.prefer {
            if let Some(i) = self.graph.node(arn) {
                return Some((i, "named in the scenario".to_owned()));
            }
        }
        let n = self.graph.nodes.len();
        let holding: Vec<&str> = sel.holding.iter().map(String::as_str).collect();
        if !holding.is_empty() {
            let found = (0..n).find(|&i| {
                self.candidate(i, sel.kind)
                    && !self.graph.is_admin_node(i)
                    && self.graph.may_all(i, &holding)
            });
            if let Some(i) = found {
                return Some((
                    i,
                    format!(
                        "the first non-admin principal holding {}",
                        holding.join(", ")
                    ),
                ));
            }
        }
        if sel.admin_fallback {
            let admin = |i: usize| self.candidate(i, sel.kind) && self.graph.is_admin_node(i);
            // Identity Center roles cannot be edited or tagged by anyone: prefer others.
            let sso = |i: usize| self.graph.arn(i).contains(":role/aws-reserved/");
            let found = (0..n)
                .find(|&i| admin(i) && !sso(i))
                .or_else(|| (0..n).find(|&i| admin(i)));
            if let Some(i) = found {
                let why = if holding.is_empty() {
                    "the first admin-equivalent principal without a grant (stolen admin credentials)".to_owned()
                } else {
                    format!(
                        "no non-admin principal holds {}: the first admin-equivalent principal without a grant",
                        holding.join(", ")
                    )
                };
                return Some((i, why));
            }
        }
        None
    }

    fn pick_target(
        &self,
        sel: &TargetSelector,
        attacker: usize,
        vars: &Vars,
    ) -> Option<(Option<usize>, String)> {
        for arn in &sel.prefer {
            if let Some(i) = self.graph.node(arn) {
                return Some((Some(i), arn.clone()));
            }
        }
        let account = self.graph.account(attacker);
        let ok = |i: usize| {
            let Some(p) = self.graph.principal(i) else {
                return false;
            };
            let kind_ok = match sel.kind {
                Some(PrincipalKind::User) => p.as_user().is_some(),
                Some(PrincipalKind::Role) => p.as_role().is_some(),
                None => true,
            };
            i != attacker
                && kind_ok
                && !p.is_service_linked()
                && sel
                    .trusts
                    .as_ref()
                    .is_none_or(|s| self.graph.trusts_service(i, s))
                && (!sel.assumable || self.graph.can_assume(attacker, i))
        };
        let in_account = self.graph.in_account(account);
        let found = in_account
            .iter()
            .copied()
            .find(|&i| ok(i) && self.graph.is_admin_node(i))
            .or_else(|| in_account.iter().copied().find(|&i| ok(i)));
        if let Some(i) = found {
            return Some((Some(i), self.graph.arn(i).to_owned()));
        }
        sel.fallback.as_ref().map(|f| (None, vars.fill(f)))
    }

    /// Evaluates one request of `who` (today, and with the plan).
    fn evaluate(
        &self,
        who: &Principal<'_>,
        action: &str,
        resource: &str,
        extra: &[(String, Vec<String>)],
    ) -> Result<(Outcome, Outcome), String> {
        let eff = who.effective_policies();
        let mut set = eff
            .to_policy_set()
            .map_err(|e| format!("`{}`: its policies do not compile: {e}", who.arn()))?;
        let labels: Vec<String> = eff.identity.iter().map(|s| s.source.label()).collect();
        let boundary = eff.boundary.map(|b| b.arn.clone());
        set.management_account = self.management.clone();
        let own = who.account_id();
        let resource_account = latch_policy::arn::account(resource)
            .filter(|a| !a.is_empty())
            .unwrap_or(own)
            .to_owned();
        // sts:AssumeRole / sts:TagSession on a role of the snapshot: its trust policy decides
        // as the resource-based policy.
        if action.to_ascii_lowercase().starts_with("sts:") {
            if let Some(role) = self
                .snapshot
                .principal(resource)
                .filter(|p| p.as_role().is_some())
            {
                if let Some(doc) = role.trust_policy() {
                    set.resource = CPolicy::compile(&doc.policy, Layer::Resource).ok();
                }
            }
        }
        let scp_chain = self.chain(own);
        let rcp_chain = self.chain(&resource_account);
        let mut ctx = who.request_context();
        let userid = match who.as_role() {
            Some(_) => format!("{}:latch-prove", who.id()),
            None => who.id().to_owned(),
        };
        ctx.insert("aws:userid", vec![userid], false);
        ctx.insert("aws:RequestedRegion", vec![self.region.clone()], false);
        let mut ctx_plan = ctx.clone();
        for (k, v) in self.tags.get(who.arn()).into_iter().flatten() {
            ctx_plan.insert(&format!("aws:PrincipalTag/{k}"), vec![v.clone()], false);
        }
        for c in [&mut ctx, &mut ctx_plan] {
            for (k, v) in extra {
                c.insert(
                    k,
                    v.clone(),
                    v.len() != 1 || k.eq_ignore_ascii_case("aws:TagKeys"),
                );
            }
        }
        let req = |ctx: Context| {
            Request::new(who.arn(), action, resource, Some(&resource_account), ctx)
                .map_err(|e| format!("`{action}` on `{resource}`: {e}"))
        };
        let (r_today, r_plan) = (req(ctx)?, req(ctx_plan)?);

        let levels = |named: &[Named]| -> Vec<Vec<CPolicy>> {
            named
                .iter()
                .map(|l| l.iter().map(|(_, c)| c.clone()).collect())
                .collect()
        };
        let merged = |a: &[Named], b: &[Named]| -> Vec<Named> {
            a.iter()
                .zip(b)
                .map(|(x, y)| x.iter().chain(y).cloned().collect())
                .collect()
        };
        let today_scps = scp_chain.today_scps.clone();
        let today_rcps = rcp_chain.today_rcps.clone();
        let plan_scps = merged(&scp_chain.today_scps, &scp_chain.plan_scps);
        let plan_rcps = merged(&rcp_chain.today_rcps, &rcp_chain.plan_rcps);

        let mut today = set.clone();
        today.scps = scp_chain.org.then(|| levels(&today_scps));
        today.rcps = rcp_chain.org.then(|| levels(&today_rcps));
        let mut after = set;
        after.scps = scp_chain.governed.then(|| levels(&plan_scps));
        after.rcps = rcp_chain.governed.then(|| levels(&plan_rcps));

        let names = Names {
            scps: &plan_scps,
            rcps: &plan_rcps,
            scp_nodes: &scp_chain.nodes,
            rcp_nodes: &rcp_chain.nodes,
            identity: &labels,
            boundary: boundary.as_deref(),
        };
        let names_today = Names {
            scps: &today_scps,
            rcps: &today_rcps,
            ..names
        };
        Ok((
            outcome(&today.evaluate(&r_today), &names_today),
            outcome(&after.evaluate(&r_plan), &names),
        ))
    }
}

#[derive(Clone, Copy)]
struct Names<'n> {
    scps: &'n [Named],
    rcps: &'n [Named],
    scp_nodes: &'n [String],
    rcp_nodes: &'n [String],
    identity: &'n [String],
    boundary: Option<&'n str>,
}

fn outcome(ev: &latch_policy::Evaluation<'_>, names: &Names<'_>) -> Outcome {
    let mut denied_by: Vec<DenyingStatement> = ev
        .statements
        .iter()
        .filter(|m| m.effect == Effect::Deny)
        .map(|m| {
            let (policy, attached_to) = match (m.layer, m.level) {
                (Layer::Scp, Some(l)) => (
                    names
                        .scps
                        .get(l)
                        .and_then(|p| p.get(m.policy))
                        .map_or_else(|| format!("SCP #{}", m.policy), |(n, _)| n.clone()),
                    names.scp_nodes.get(l).cloned(),
                ),
                (Layer::Rcp, Some(l)) => (
                    names
                        .rcps
                        .get(l)
                        .and_then(|p| p.get(m.policy))
                        .map_or_else(|| format!("RCP #{}", m.policy), |(n, _)| n.clone()),
                    names.rcp_nodes.get(l).cloned(),
                ),
                (Layer::Identity, _) => (
                    names
                        .identity
                        .get(m.policy)
                        .cloned()
                        .unwrap_or_else(|| format!("identity policy #{}", m.policy)),
                    None,
                ),
                (Layer::PermissionBoundary, _) => (
                    names.boundary.unwrap_or("permissions boundary").to_owned(),
                    None,
                ),
                (Layer::Resource, _) => ("resource policy".to_owned(), None),
                (layer, _) => (layer.name().to_owned(), None),
            };
            let latch = matches!(m.layer, Layer::Scp | Layer::Rcp)
                && policy.starts_with(POLICY_NAME_PREFIX);
            DenyingStatement {
                layer: m.layer.name().to_owned(),
                policy,
                sid: m.sid.map(str::to_owned),
                attached_to,
                latch,
            }
        })
        .collect();
    denied_by.sort();
    denied_by.dedup();
    Outcome {
        decision: ev.decision.name().to_owned(),
        decided_by: ev.decided_by.map(|l| l.name().to_owned()),
        reason: ev.reason.to_owned(),
        denied_by,
    }
}

/// Template variables of one scenario run.
#[derive(Debug, Clone, Default)]
struct Vars(BTreeMap<&'static str, String>);

impl Vars {
    fn fill(&self, t: &str) -> String {
        let mut out = t.to_owned();
        for (k, v) in &self.0 {
            out = out.replace(&format!("${{{k}}}"), v);
        }
        out
    }
}

fn last_segment(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_owned()
}

fn holds(snapshot_principal: &Principal<'_>, action: &str) -> Option<bool> {
    let id = Catalog::get().resolve(action)?;
    Some(crate::generate::allowed_actions(snapshot_principal).contains(id))
}

fn return_admin_detection(arn: &str) -> Detection {
    Detection {
        method: "admin-equivalent".to_owned(),
        status: "detected".to_owned(),
        detail: format!(
            "`{arn}` is admin-equivalent today (the scan reports it as an admin identity): it needs no escalation to do this"
        ),
    }
}

fn skipped(s: &Scenario, why: String) -> ScenarioResult {
    ScenarioResult {
        id: s.id.clone(),
        name: s.name.clone(),
        kind: s.kind,
        technique: s.technique.clone(),
        status: "skipped".to_owned(),
        attacker: None,
        attacker_chosen: String::new(),
        target: None,
        detection: Detection {
            method: String::new(),
            status: "not-checked".to_owned(),
            detail: String::new(),
        },
        feasible_today: false,
        blocked_by: Vec::new(),
        problem: Some(why),
        steps: Vec::new(),
    }
}

fn run_one(
    env: &Env<'_>,
    s: &Scenario,
    detected: Option<&BTreeSet<(&str, &str)>>,
) -> ScenarioResult {
    let Some((ai, chosen)) = env.pick_attacker(&s.attacker) else {
        return skipped(
            s,
            "no principal of the snapshot fits the attacker selector (outside the management account, not service-linked, not exempted by the plan)".to_owned(),
        );
    };
    let Some(attacker) = env.graph.principal(ai).copied() else {
        return skipped(s, "the attacker vanished from the snapshot".to_owned());
    };
    let account = attacker.account_id().to_owned();
    let mut vars = Vars::default();
    vars.0.insert("account", account.clone());
    vars.0.insert("region", env.region.clone());
    vars.0.insert("org_id", env.org_id.clone());
    vars.0.insert("attacker", attacker.arn().to_owned());
    vars.0.insert("attacker_name", attacker.name().to_owned());
    vars.0.insert(
        "control_plane",
        env.control_plane
            .replacen("::*:", &format!("::{account}:"), 1),
    );
    let mut target: Option<(Option<usize>, String)> = None;
    if let Some(sel) = &s.target {
        match env.pick_target(sel, ai, &vars) {
            Some(t) => {
                let arn = t.1.clone();
                vars.0.insert("target_account", latch_policy::arn::account(&arn).unwrap_or(&account).to_owned());
                vars.0.insert("target_name", last_segment(&arn));
                vars.0.insert("target", arn);
                target = Some(t);
            }
            None => {
                return skipped(
                    s,
                    format!(
                        "no target fits the scenario's `[target]` selector in account {account} of attacker `{}`",
                        attacker.arn()
                    ),
                )
            }
        }
    }
    let target_principal = target
        .as_ref()
        .and_then(|(i, _)| i.and_then(|i| env.graph.principal(i).copied()));

    let last = s.steps.len().saturating_sub(1);
    let mut steps = Vec::new();
    let mut problem = None;
    for (i, spec) in s.steps.iter().enumerate() {
        let who = match spec.actor {
            Actor::Attacker => attacker,
            Actor::Target => match target_principal {
                Some(p) => p,
                None => {
                    problem = Some(format!(
                        "step {} is made as the target, which is not a principal of the snapshot",
                        i + 1
                    ));
                    break;
                }
            },
        };
        let resource = vars.fill(&spec.resource);
        let extra: Vec<(String, Vec<String>)> = spec
            .context
            .iter()
            .map(|(k, v)| {
                let values = match v {
                    ContextValue::One(x) => vec![vars.fill(x)],
                    ContextValue::Many(xs) => xs.iter().map(|x| vars.fill(x)).collect(),
                };
                (k.clone(), values)
            })
            .collect();
        match env.evaluate(&who, &spec.action, &resource, &extra) {
            Ok((today, with_plan)) => steps.push(StepResult {
                action: spec.action.clone(),
                resource,
                principal: who.arn().to_owned(),
                note: spec.note.clone(),
                impact: i == last,
                today,
                with_plan,
            }),
            Err(e) => {
                problem = Some(format!("step {}: {e}", i + 1));
                break;
            }
        }
    }

    let detection = match (&s.technique, detected) {
        (Some(t), Some(found)) => {
            let hit = found.contains(&(attacker.arn(), t.as_str()));
            if !hit && env.graph.is_admin_node(ai) {
                return_admin_detection(attacker.arn())
            } else {
                Detection {
                    method: "escalation-path".to_owned(),
                    status: if hit { "detected" } else { "not-detected" }.to_owned(),
                    detail: if hit {
                        format!(
                            "the escalation analysis finds `{}` escalating with `{t}`",
                            attacker.arn()
                        )
                    } else {
                        format!("no escalation path of `{t}` from `{}`", attacker.arn())
                    },
                }
            }
        }
        (Some(t), None) => Detection {
            method: "escalation-path".to_owned(),
            status: "not-checked".to_owned(),
            detail: format!("no escalation analysis was given to look for `{t}`"),
        },
        (None, _) => {
            let action = s.steps.last().map_or("", |x| x.action.as_str());
            let who = match s.steps.last().map(|x| x.actor) {
                Some(Actor::Target) => target_principal.unwrap_or(attacker),
                _ => attacker,
            };
            match holds(&who, action) {
                Some(true) => Detection {
                    method: "effective-permissions".to_owned(),
                    status: "detected".to_owned(),
                    detail: format!(
                        "`{}` holds `{action}` in its effective permissions",
                        who.arn()
                    ),
                },
                Some(false) => {
                    let denied_today = steps
                        .last()
                        .filter(|st| st.today.decision == Decision::ExplicitDeny.name())
                        .map(|st| {
                            st.today
                                .denied_by
                                .iter()
                                .map(DenyingStatement::label)
                                .collect::<Vec<_>>()
                                .join(", ")
                        });
                    match denied_today {
                        Some(by) => Detection {
                            method: "effective-permissions".to_owned(),
                            status: "denied-today".to_owned(),
                            detail: format!(
                                "`{}` does not hold `{action}`: today's policies already deny it ({by})",
                                who.arn()
                            ),
                        },
                        None => Detection {
                            method: "effective-permissions".to_owned(),
                            status: "not-detected".to_owned(),
                            detail: format!(
                                "`{}` does not hold `{action}` in its effective permissions",
                                who.arn()
                            ),
                        },
                    }
                }
                None => Detection {
                    method: "effective-permissions".to_owned(),
                    status: "not-checked".to_owned(),
                    detail: format!("`{action}` is not in the catalog"),
                },
            }
        }
    };

    let feasible_today = problem.is_none() && steps.iter().all(|st| st.today.allowed());
    let mut blocked_by: Vec<String> = Vec::new();
    let mut status = "not-blocked";
    if problem.is_none() {
        if let (Some(impact), Some(spec)) = (steps.last(), s.steps.last()) {
            blocked_by = impact
                .with_plan
                .latch_statements()
                .map(DenyingStatement::label)
                .collect();
            blocked_by.sort();
            blocked_by.dedup();
            let missing: Vec<&str> = spec
                .deny_in
                .iter()
                .filter(|g| {
                    !impact
                        .with_plan
                        .latch_statements()
                        .any(|d| d.layer == g.layer().name())
                })
                .map(|g| g.layer().name())
                .collect();
            if blocked_by.is_empty() {
                let why = env.exemptions_of(&impact.principal, &impact.action);
                problem = Some(format!(
                    "no statement of the plan denies the impact step `{}` on `{}` by `{}` (with the plan: {}){}",
                    impact.action,
                    impact.resource,
                    impact.principal,
                    impact.with_plan.decision,
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!("; the plan exempts it: {}", why.join("; "))
                    }
                ));
            } else if !missing.is_empty() {
                problem = Some(format!(
                    "the impact step `{}` must be denied by the plan's {} too, on its own",
                    impact.action,
                    missing.join(" and ")
                ));
            } else {
                status = "blocked";
            }
        }
    }
    ScenarioResult {
        id: s.id.clone(),
        name: s.name.clone(),
        kind: s.kind,
        technique: s.technique.clone(),
        status: status.to_owned(),
        attacker: Some(attacker.arn().to_owned()),
        attacker_chosen: chosen,
        target: target.map(|(_, arn)| arn),
        detection,
        feasible_today,
        blocked_by,
        problem,
        steps,
    }
}

/// Runs every scenario against the snapshot, without and with the plan.
///
/// `detected`: the escalations the scan found ([`detected_from`]); `None` leaves the detection
/// of technique scenarios `not-checked`. Errors only when the plan's policies do not compile.
pub fn prove(
    snapshot: &Snapshot,
    plan: &Plan,
    scenarios: &[Scenario],
    detected: Option<&[Detected]>,
    options: &ProveOptions,
) -> Result<ProveReport, SimulateError> {
    crate::simulate::check_todays_policies(snapshot)?;
    let env = Env::new(snapshot, plan, options)?;
    let found: Option<BTreeSet<(&str, &str)>> = detected.map(|d| {
        d.iter()
            .map(|x| (x.principal.as_str(), x.technique.as_str()))
            .collect()
    });
    let mut results: Vec<ScenarioResult> = scenarios
        .iter()
        .map(|s| run_one(&env, s, found.as_ref()))
        .collect();
    results.sort_by(|a, b| a.id.cmp(&b.id));
    let count = |f: &dyn Fn(&ScenarioResult) -> bool| results.iter().filter(|r| f(r)).count();
    let summary = ProveSummary {
        scenarios: results.len(),
        blocked: count(&|r| r.status == "blocked"),
        not_blocked: count(&|r| r.status == "not-blocked"),
        skipped: count(&|r| r.status == "skipped"),
        detected: count(&|r| r.detection.status == "detected"),
        feasible_today: count(&|r| r.feasible_today),
    };
    Ok(ProveReport {
        format: FORMAT.to_owned(),
        region: options.region.clone(),
        summary,
        scenarios: results,
    })
}
