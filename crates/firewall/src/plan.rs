//! The plan: the contract between the planner and the AWS adapter (`latch.plan/v1`,
//! docs/plan-format.md), and [`build`], which runs generation, packing, the per-layer summary
//! and the simulation.

use std::collections::BTreeMap;

use latch_analysis::usage::last_accessed_advice;
use latch_analysis::ActionSet;
use latch_catalog::{Limits, PolicyType};
use latch_model::Snapshot;
use serde::{Deserialize, Serialize};

use crate::config::Mode;
use crate::generate::{self, Exemption, GenerateError, Intent, PlanInput, TagAssignment};
use crate::intent::{Actions, LayerKind, Probe, Rule};
use crate::pack::{self, PackError, PackedPolicy};
use crate::simulate::{self, SimulateError, Simulation};

/// The format tag of plan.json.
pub const FORMAT: &str = "latch.plan/v1";

/// `plan.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Always [`FORMAT`].
    pub format: String,
    /// Where the plan applies.
    pub organization: PlanOrganization,
    /// The quotas the policies were packed for (AWS's, or lower ones from the configuration).
    /// Absent in plans written before Latch recorded them: AWS's quotas apply then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// The policies, sorted by name.
    pub policies: Vec<PlanPolicy>,
    /// Tags to put on identities, sorted by principal then key.
    #[serde(default)]
    pub tags: Vec<PlanTag>,
    /// Every exemption, with why, sorted.
    #[serde(default)]
    pub exemptions: Vec<PlanExemption>,
    /// What the plan does and what it would break (empty in a plan written by hand).
    #[serde(default)]
    pub summary: PlanSummary,
}

/// `organization`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanOrganization {
    /// The root id (`r-unknown` when the snapshot had no organization.json).
    pub root_id: String,
    /// The management account (empty when unknown).
    pub management_account_id: String,
}

/// One policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanPolicy {
    /// `latch-…`.
    pub name: String,
    /// `SERVICE_CONTROL_POLICY` or `RESOURCE_CONTROL_POLICY`.
    #[serde(rename = "type")]
    pub kind: PolicyType,
    /// For the AWS console.
    #[serde(default)]
    pub description: String,
    /// `policies/<name>.json` (informational: `content` is what is applied).
    #[serde(default)]
    pub file: String,
    /// The exact minified document, within the character limit of its type.
    pub content: String,
    /// Root, OU or account ids to attach it to, sorted.
    pub targets: Vec<String>,
}

/// One tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTag {
    /// The user or role.
    pub principal_arn: String,
    /// `latch:…`.
    pub key: String,
    /// The value.
    pub value: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// One exemption.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanExemption {
    /// `standing`, `identity-center-grant`, `permanent`, `break-glass`, `control-plane`.
    pub kind: String,
    /// Layer(s).
    pub layer: String,
    /// Bundle name, `services` or `*`.
    pub gate: String,
    /// Identity or ARN pattern.
    pub principal: String,
    /// Person (Identity Center).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// `tag`, `userid` or `principal-arn`.
    pub mechanism: String,
    /// Tag key, `aws:userid` pattern or ARN pattern.
    pub value: String,
    /// Used actions behind a standing exemption.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// Why.
    pub reason: String,
}

/// `summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanSummary {
    /// `protect` or `enforce`.
    pub mode: String,
    /// Whether CloudTrail usage was available.
    pub cloudtrail: bool,
    /// The usage window `[since, until)`, when there was usage.
    pub window: Option<PlanWindow>,
    /// What reading CloudTrail gave: files read and skipped, events ignored as out of bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudtrail_read: Option<latch_trail::evidence::Reading>,
    /// Scope targets.
    pub scope_targets: Vec<String>,
    /// Member accounts governed.
    pub accounts: usize,
    /// Warnings people must read.
    pub warnings: Vec<String>,
    /// Per layer.
    pub layers: Vec<LayerSummary>,
    /// Zombies that could not be tagged.
    pub untaggable_zombies: Vec<String>,
    /// Policies and attachments.
    pub policies: usize,
    /// Attachments (policy × target).
    pub attachments: usize,
    /// The largest policy, in characters.
    pub largest_policy_chars: usize,
    /// Per root, OU or account the plan attaches to, root first then down the tree: the slots
    /// and characters its policies take of the limits. Absent in plans written before it was
    /// recorded.
    #[serde(default)]
    pub budget: Vec<TargetBudget>,
    /// The replay of the usage window.
    pub simulation: Simulation,
    /// Identities that hold, today, an action the plan protects whose use the trails cannot
    /// show (data events not logged, ...): no replay can say whether they use it, so they may
    /// break. `latch apply` refuses a plan with any unless told `--accept-unknown-usage`.
    /// Absent in plans written before it was recorded.
    #[serde(default)]
    pub may_break: Vec<MayBreak>,
}

/// `summary.may_break[]`: one identity, and the protected actions it holds whose use is
/// unknown for one reason.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MayBreak {
    /// The user or role.
    pub principal: String,
    /// Its account.
    #[serde(default)]
    pub account: String,
    /// Why their use is unknown: `usage unknown: data events not logged`, ...
    pub reason: String,
    /// The actions, sorted.
    pub actions: Vec<String>,
}

/// `summary.budget[]`: what the plan takes of one target's limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetBudget {
    /// The root, OU or account id.
    pub target: String,
    /// Its name (the id when it has none).
    pub name: String,
    /// `root`, `ou` or `account`.
    pub kind: String,
    /// SCPs, when the plan attaches any here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<TypeBudget>,
    /// RCPs, when the plan attaches any here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcp: Option<TypeBudget>,
}

/// The slots and characters of one policy type at one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeBudget {
    /// Policies attached today that are not Latch's (`FullAWSAccess` / `RCPFullAWSAccess`
    /// included).
    pub existing: usize,
    /// The plan's policies attached here.
    pub latch: usize,
    /// Policies of the type one target may hold (`limits.*_per_target`).
    pub slots: usize,
    /// Characters of the plan's policies attached here.
    pub chars: usize,
    /// Characters those policies may hold: `latch` × `limits.*_chars`.
    pub max_chars: usize,
}

impl TypeBudget {
    /// Slots taken, the plan's and the others'.
    pub fn used(&self) -> usize {
        self.existing + self.latch
    }
}

/// `summary.window`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanWindow {
    /// First instant.
    pub since: String,
    /// First instant after.
    pub until: String,
}

/// What one layer does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSummary {
    /// `tamper`, `role`, `permission`, `region`, `service`.
    pub layer: String,
    /// Rules (before merging and packing).
    pub rules: usize,
    /// (identity, action) permissions allowed today that the layer denies.
    pub permissions_removed: u64,
    /// Identities losing at least one.
    pub identities: u64,
    /// Observed calls it would deny.
    pub used_calls_broken: u64,
    /// One line for people.
    pub line: String,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Generation failed (a configuration key that does not fit the snapshot).
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// It does not fit within AWS's limits.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// The packed plan cannot be simulated (a bug: the planner wrote a bad document).
    #[error(transparent)]
    Simulate(#[from] SimulateError),
}

/// A `plan.json` that cannot be used: where (a JSON path, or a line and column) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {reason}")]
pub struct PlanFileError {
    /// The JSON path of the bad field (`policies[2].content`), or where the text breaks.
    pub field: String,
    /// Why it is wrong.
    pub reason: String,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> PlanFileError {
    PlanFileError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Whether `id` is a root, OU or account id.
pub fn is_target_id(id: &str) -> bool {
    let tail_ok = |s: &str, min: usize| {
        s.len() >= min
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if let Some(rest) = id.strip_prefix("r-") {
        tail_ok(rest, 4)
    } else if let Some(rest) = id.strip_prefix("ou-") {
        tail_ok(rest, 8)
    } else {
        is_account_id(id)
    }
}

/// Whether `id` is a 12-digit account id.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// The account, kind (`user`/`role`) and name of an IAM user or role ARN.
pub fn principal_of(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_lit, _partition, service, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if arn_lit != "arn" || service != "iam" || !is_account_id(account) {
        return None;
    }
    let (kind, path_and_name) = resource.split_once('/')?;
    let name = path_and_name.rsplit('/').next()?;
    match kind {
        "user" | "role" if !name.is_empty() => Some((account, kind, name)),
        _ => None,
    }
}

impl Plan {
    /// Reads `plan.json` and checks everything AWS would check (and some things an emulator
    /// would not) before anything is applied or proved: names, types, JSON and grammar of
    /// each document, its size and the number of the plan's policies on each target against
    /// the quotas the plan records it was packed for (themselves never above AWS's; AWS's when
    /// none are recorded), targets, tag keys and values. `latch prove` and `latch apply` read
    /// plans only through this. A field this format does not have is refused: a plan is read
    /// by the Latch that wrote it.
    ///
    /// # Errors
    /// Where the plan is wrong, and why.
    pub fn from_json(text: &str) -> Result<Plan, PlanFileError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            bad(
                format!("line {} column {}", e.line(), e.column()),
                format!("invalid JSON: {e}"),
            )
        })?;
        let format = value
            .get("format")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        if format != FORMAT {
            return Err(bad(
                "format",
                format!("`{format}` is not a plan format this Latch reads (`{FORMAT}`)"),
            ));
        }
        let plan: Plan = serde_json::from_value(value)
            .map_err(|e| bad("$", format!("not a {FORMAT} plan: {e}")))?;
        plan.check()?;
        Ok(plan)
    }

    fn check(&self) -> Result<(), PlanFileError> {
        use latch_contract::{POLICY_NAME_PREFIX, TAG_PREFIX};
        let org = &self.organization;
        if !org.root_id.starts_with("r-") || !is_target_id(&org.root_id) {
            return Err(bad(
                "organization.root_id",
                format!("`{}` is not a root id (`r-...`)", org.root_id),
            ));
        }
        let unknown =
            org.root_id == latch_contract::UNKNOWN_ROOT && org.management_account_id.is_empty();
        if !unknown && !is_account_id(&org.management_account_id) {
            return Err(bad(
                "organization.management_account_id",
                format!(
                    "`{}` is not a 12-digit account id",
                    org.management_account_id
                ),
            ));
        }
        if let Some(recorded) = &self.limits {
            recorded.check().map_err(|e| {
                bad(
                    format!("limits.{}", e.key()),
                    format!("{e} (AWS would refuse what was packed for it)"),
                )
            })?;
        }
        let limits = self.limits();
        let mut names = std::collections::BTreeSet::new();
        let mut per_target: BTreeMap<(PolicyType, &str), usize> = BTreeMap::new();
        for (i, p) in self.policies.iter().enumerate() {
            let at = |field: &str| format!("policies[{i}].{field}");
            if !p.name.starts_with(POLICY_NAME_PREFIX) || p.name.len() > 128 {
                return Err(bad(
                    at("name"),
                    format!(
                        "`{}`: Latch manages only policies named `{POLICY_NAME_PREFIX}...` (at \
                         most 128 characters)",
                        p.name
                    ),
                ));
            }
            if !names.insert((p.kind, p.name.clone())) {
                return Err(bad(
                    at("name"),
                    format!("`{}` appears twice for {}", p.name, p.kind.api_name()),
                ));
            }
            if p.description.chars().count() > 512 {
                return Err(bad(
                    at("description"),
                    "longer than the 512 characters AWS allows",
                ));
            }
            check_content(p, &limits, &at("content"))?;
            if p.targets.is_empty() {
                return Err(bad(
                    at("targets"),
                    "empty: a policy attached nowhere does nothing (leave it out of the plan)",
                ));
            }
            if let Some(bad_id) = p.targets.iter().find(|t| !is_target_id(t)) {
                return Err(bad(
                    at("targets"),
                    format!("`{bad_id}` is not a root (`r-`), OU (`ou-`) or 12-digit account id"),
                ));
            }
            let allowed = limits.per_target(p.kind);
            let mut seen = std::collections::BTreeSet::new();
            for t in &p.targets {
                if !seen.insert(t.as_str()) {
                    return Err(bad(at("targets"), format!("`{t}` is named twice")));
                }
                let n = per_target.entry((p.kind, t.as_str())).or_default();
                *n += 1;
                if *n > allowed {
                    return Err(bad(
                        at("targets"),
                        format!(
                            "`{t}` would hold {n} {}s of the plan alone; {allowed} may be attached to one target",
                            p.kind.short()
                        ),
                    ));
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, t) in self.tags.iter().enumerate() {
            let at = |field: &str| format!("tags[{i}].{field}");
            if principal_of(&t.principal_arn).is_none() {
                return Err(bad(
                    at("principal_arn"),
                    format!("`{}` is not an IAM user or role ARN", t.principal_arn),
                ));
            }
            if !t.key.starts_with(TAG_PREFIX) || t.key.chars().count() > 128 {
                return Err(bad(
                    at("key"),
                    format!(
                        "`{}`: Latch sets only `{TAG_PREFIX}*` tag keys (at most 128 characters)",
                        t.key
                    ),
                ));
            }
            if t.value.chars().count() > 256 {
                return Err(bad(
                    at("value"),
                    "longer than the 256 characters AWS allows",
                ));
            }
            if !seen.insert((t.principal_arn.clone(), t.key.clone())) {
                return Err(bad(
                    at("key"),
                    format!("`{}` is set twice on `{}`", t.key, t.principal_arn),
                ));
            }
        }
        Ok(())
    }

    /// The identities the plan may break (`summary.may_break`), each named once, sorted.
    pub fn may_break_principals(&self) -> Vec<&str> {
        let set: std::collections::BTreeSet<&str> = self
            .summary
            .may_break
            .iter()
            .map(|m| m.principal.as_str())
            .collect();
        set.into_iter().collect()
    }

    /// The tags, sorted.
    pub fn sorted_tags(&self) -> Vec<PlanTag> {
        let mut t = self.tags.clone();
        t.sort();
        t
    }

    /// The quotas the plan was packed for: the recorded ones, else AWS's.
    pub fn limits(&self) -> Limits {
        self.limits.unwrap_or(Limits::AWS)
    }

    /// Pretty JSON with a final newline (what `plan.json` holds).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// JSON, size and grammar of a policy document, checked before AWS sees it.
fn check_content(p: &PlanPolicy, limits: &Limits, field: &str) -> Result<(), PlanFileError> {
    let chars = p.content.chars().count();
    let max = limits.chars(p.kind);
    if chars > max {
        let aws = Limits::AWS.chars(p.kind);
        let whose = if max == aws {
            format!("AWS allows {aws}")
        } else {
            format!("the plan was packed for {max} (AWS allows {aws})")
        };
        return Err(bad(
            field,
            format!(
                "`{}` is {chars} characters; {whose} for an {}",
                p.name,
                p.kind.short()
            ),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(&p.content)
        .map_err(|e| bad(field, format!("`{}` is not valid JSON: {e}", p.name)))?;
    latch_policy::Policy::from_json_str(&p.content)
        .map_err(|e| bad(field, format!("`{}` is not a valid policy: {e}", p.name)))?;
    if p.kind == PolicyType::Rcp {
        let statements = match value.get("Statement") {
            Some(serde_json::Value::Array(list)) => list.iter().collect(),
            Some(single) => vec![single],
            None => Vec::new(),
        };
        if statements
            .iter()
            .any(|s| s.get("Effect").and_then(serde_json::Value::as_str) != Some("Deny"))
        {
            return Err(bad(
                field,
                format!(
                    "`{}`: resource control policies may hold only Deny statements",
                    p.name
                ),
            ));
        }
    }
    Ok(())
}

/// A plan with the intent it was built from.
#[derive(Debug, Clone)]
pub struct Built {
    /// The plan.
    pub plan: Plan,
    /// The intent.
    pub intent: Intent,
}

/// Generates, packs, summarises and simulates.
///
/// `region` is the region observed calls are assumed to be made in (the usage table does not
/// record it); callers pass the first allowed region when the plan restricts regions.
pub fn build(input: &PlanInput<'_>, region: Option<&str>) -> Result<Built, PlanError> {
    let intent = generate::generate(input)?;
    let packed = pack::pack(&intent, &input.config.limits)?;
    let mut plan = assemble(&intent, &packed, &input.config.limits);
    plan.summary.cloudtrail_read = input.reading;
    let sim = simulate::simulate(input.snapshot, input.usage, intent.window, &plan, region)?;
    let (mut layers, may_break) = layer_summaries(input.snapshot, &intent);
    if !may_break.is_empty() {
        let mut reasons: Vec<&str> = may_break.iter().map(|m| m.reason.as_str()).collect();
        reasons.sort_unstable();
        reasons.dedup();
        plan.summary.warnings.push(format!(
            "{} identit{} MAY BREAK: the plan protects actions they hold whose use the trails cannot show ({}), so no replay can say whether they use them (summary.may_break lists them). Log those events (docs/cloudtrail.md) or take the actions out of latch.toml; `latch apply` refuses this plan unless given --accept-unknown-usage",
            may_break.len_principals(),
            if may_break.len_principals() == 1 { "y" } else { "ies" },
            reasons.join("; ")
        ));
    }
    plan.summary.may_break = may_break;
    for l in &mut layers {
        l.used_calls_broken = sim
            .broken
            .iter()
            .filter(|b| b.layer == l.layer)
            .map(|b| b.count)
            .sum();
        l.line = layer_line(l, &intent, input.config.regions.allowed.as_slice());
    }
    plan.summary.layers = layers;
    plan.summary.simulation = sim;
    Ok(Built { plan, intent })
}

fn describe(p: &PackedPolicy) -> String {
    let layers: Vec<&str> = p.layers.iter().map(|l| l.as_str()).collect();
    let mut d = format!(
        "Latch firewall ({FORMAT}), {} layer{}: {}. Generated by `latch plan`; do not edit by hand.",
        layers.join(", "),
        if layers.len() == 1 { "" } else { "s" },
        p.labels.join("; ")
    );
    if d.chars().count() > 512 {
        d = d.chars().take(509).collect::<String>() + "...";
    }
    d
}

fn assemble(intent: &Intent, packed: &[PackedPolicy], limits: &Limits) -> Plan {
    let policies: Vec<PlanPolicy> = packed
        .iter()
        .map(|p| PlanPolicy {
            name: p.name.clone(),
            kind: p.kind,
            description: describe(p),
            file: format!("policies/{}.json", p.name),
            content: p.content.clone(),
            targets: p.targets.clone(),
        })
        .collect();
    let mut tags: Vec<PlanTag> = intent
        .tags
        .iter()
        .map(|t: &TagAssignment| PlanTag {
            principal_arn: t.principal_arn.clone(),
            key: t.key.clone(),
            value: t.value.clone(),
            reason: t.reason.clone(),
        })
        .collect();
    tags.sort();
    let mut exemptions: Vec<PlanExemption> = intent
        .exemptions
        .iter()
        .map(|e: &Exemption| PlanExemption {
            kind: e.kind.clone(),
            layer: e.layer.clone(),
            gate: e.gate.clone(),
            principal: e.principal.clone(),
            session: e.session.clone(),
            mechanism: e.mechanism.clone(),
            value: e.value.clone(),
            actions: e.actions.clone(),
            reason: e.reason.clone(),
        })
        .collect();
    exemptions.sort();
    let attachments = policies.iter().map(|p| p.targets.len()).sum();
    let budget = budget(intent, packed, limits);
    let largest = policies
        .iter()
        .map(|p| p.content.chars().count())
        .max()
        .unwrap_or(0);
    Plan {
        format: FORMAT.to_owned(),
        organization: PlanOrganization {
            root_id: intent.org.root_id.clone(),
            management_account_id: intent.org.management_account.clone().unwrap_or_default(),
        },
        limits: Some(*limits),
        policies,
        tags,
        exemptions,
        summary: PlanSummary {
            mode: intent.mode.as_str().to_owned(),
            cloudtrail: intent.window.is_some(),
            window: intent.window.map(|w| PlanWindow {
                since: w.since.to_string(),
                until: w.until.to_string(),
            }),
            cloudtrail_read: None,
            scope_targets: intent.scope_targets.clone(),
            accounts: intent.scope_accounts.len(),
            warnings: intent.warnings.clone(),
            layers: Vec::new(),
            untaggable_zombies: intent.untaggable_zombies.clone(),
            policies: packed.len(),
            attachments,
            largest_policy_chars: largest,
            budget,
            simulation: Simulation::default(),
            may_break: Vec::new(),
        },
    }
}

/// What the packed policies take of each target's limits, root first then breadth-first down
/// the tree (the order the packer places them in).
fn budget(intent: &Intent, packed: &[PackedPolicy], limits: &Limits) -> Vec<TargetBudget> {
    let org = &intent.org;
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([org.root_id.clone()]);
    while let Some(id) = queue.pop_front() {
        let Some(node) = org.node(&id) else { continue };
        queue.extend(node.children.iter().cloned());
        let of = |kind: PolicyType, existing: usize| {
            let here: Vec<&PackedPolicy> = packed
                .iter()
                .filter(|p| p.kind == kind && p.targets.contains(&id))
                .collect();
            (!here.is_empty()).then(|| TypeBudget {
                existing,
                latch: here.len(),
                slots: limits.per_target(kind),
                chars: here.iter().map(|p| p.content.chars().count()).sum(),
                max_chars: here.len() * limits.chars(kind),
            })
        };
        let scp = of(PolicyType::Scp, node.existing_scps.len());
        let rcp = of(PolicyType::Rcp, node.existing_rcps.len());
        if scp.is_some() || rcp.is_some() {
            out.push(TargetBudget {
                target: id.clone(),
                name: node.name.clone(),
                kind: node.kind.name().to_owned(),
                scp,
                rcp,
            });
        }
    }
    out
}

fn rule_set(r: &Rule) -> ActionSet {
    match &r.actions {
        Actions::Only(s) => {
            let mut a = ActionSet::empty();
            for id in s {
                a.insert(*id);
            }
            a
        }
        Actions::AllExcept(s) => {
            let mut a = ActionSet::empty();
            for id in s {
                a.insert(*id);
            }
            a.complement();
            a
        }
    }
}

/// The number of identities a may-break list names.
trait Principals {
    fn len_principals(&self) -> usize;
}

impl Principals for Vec<MayBreak> {
    fn len_principals(&self) -> usize {
        let mut arns: Vec<&str> = self.iter().map(|m| m.principal.as_str()).collect();
        arns.dedup();
        arns.len()
    }
}

/// Per layer: how many (identity, action) permissions allowed today the plan denies to
/// identities without grants (after the plan's tags), evaluated directly on the intent; and
/// the identities that may break: those the permission layer denies an action they hold
/// whose use the trails of their account cannot show.
/// The `may_break` reason of every protected action an identity holds when the plan was made
/// without usage (no CloudTrail, or CloudTrail that could not be analysed).
pub const NO_USAGE: &str = "usage unknown: no CloudTrail was analysed";

/// The `may_break` reason of protected actions that IAM's last-accessed data shows attempted in
/// the window, while CloudTrail cannot show their calls.
pub const LAST_ACCESSED_USED: &str =
    "used in the window per IAM's last-accessed data (CloudTrail does not show the calls, so none can be replayed)";

fn layer_summaries(snapshot: &Snapshot, intent: &Intent) -> (Vec<LayerSummary>, Vec<MayBreak>) {
    let mut may_break = Vec::new();
    let mut planned: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for t in &intent.tags {
        planned
            .entry(t.principal_arn.as_str())
            .or_default()
            .push((t.key.as_str(), t.value.as_str()));
    }
    let sets: Vec<ActionSet> = intent.rules.iter().map(rule_set).collect();
    let mut out: BTreeMap<LayerKind, LayerSummary> = LayerKind::ALL
        .iter()
        .map(|l| {
            (
                *l,
                LayerSummary {
                    layer: l.as_str().to_owned(),
                    rules: intent.rules.iter().filter(|r| r.layer == *l).count(),
                    permissions_removed: 0,
                    identities: 0,
                    used_calls_broken: 0,
                    line: String::new(),
                },
            )
        })
        .collect();
    for p in generate::governed(snapshot, intent) {
        let allowed = generate::allowed_actions(&p);
        let mut probe = Probe {
            principal_arn: p.arn().to_owned(),
            userid: None,
            resource: "*".to_owned(),
            ..Probe::default()
        };
        for (k, v) in p.tags() {
            probe = probe.with_tag(k, v);
        }
        for (k, v) in planned.get(p.arn()).into_iter().flatten() {
            probe = probe.with_tag(k, v);
        }
        let path = intent.org.path_to(p.account_id());
        let mut per_layer: BTreeMap<LayerKind, ActionSet> = BTreeMap::new();
        for (r, set) in intent.rules.iter().zip(&sets) {
            if !path.contains(&r.target)
                || r.resources.iter().any(|x| x != "*")
                || !r.cond.holds(&probe)
            {
                continue;
            }
            per_layer
                .entry(r.layer)
                .or_insert_with(ActionSet::empty)
                .union_with(set);
        }
        if let Some(denied) = per_layer.get(&LayerKind::Permission) {
            let mut hidden = denied.clone();
            hidden.intersect_with(&allowed);
            let mut by_reason: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
            if intent.window.is_none() {
                // No usage at all: nothing says whether anyone uses what the plan protects.
                if !hidden.is_empty() {
                    by_reason.insert(
                        NO_USAGE,
                        hidden.names().iter().map(|n| (*n).to_owned()).collect(),
                    );
                }
                hidden = ActionSet::empty();
            }
            hidden.intersect_with(intent.observability.unknown_in(p.account_id()));
            // IAM's last-accessed data settles some: a service not attempted in the window
            // breaks no one; an action attempted in it breaks its holder, though no call of it
            // can be replayed.
            let advice = intent.window.and_then(|w| {
                snapshot
                    .account(p.account_id())
                    .and_then(|a| a.last_accessed.as_ref())
                    .and_then(|l| l.principals.get(p.arn()))
                    .map(|a| last_accessed_advice(a, w.since.0 * 1000, w.until.0 * 1000 - 1))
            });
            if let Some(a) = &advice {
                let mut not_used = a.not_used.clone();
                not_used.subtract(intent.observability.never_recorded());
                hidden.subtract(&not_used);
                let mut attempted = hidden.clone();
                attempted.intersect_with(&a.used);
                hidden.subtract(&attempted);
                if !attempted.is_empty() {
                    by_reason.insert(
                        LAST_ACCESSED_USED,
                        attempted.names().iter().map(|n| (*n).to_owned()).collect(),
                    );
                }
            }
            for u in intent.observability.explain(p.account_id(), &hidden) {
                by_reason.entry(u.says).or_default().push(u.name);
            }
            for (reason, mut actions) in by_reason {
                actions.sort();
                may_break.push(MayBreak {
                    principal: p.arn().to_owned(),
                    account: p.account_id().to_owned(),
                    reason: reason.to_owned(),
                    actions,
                });
            }
        }
        for (layer, mut set) in per_layer {
            set.intersect_with(&allowed);
            let n = set.len() as u64;
            if n > 0 {
                if let Some(s) = out.get_mut(&layer) {
                    s.permissions_removed += n;
                    s.identities += 1;
                }
            }
        }
    }
    may_break.sort();
    (out.into_values().collect(), may_break)
}

fn layer_line(l: &LayerSummary, intent: &Intent, regions: &[String]) -> String {
    let broken = format!(
        "{} used call{} broken",
        l.used_calls_broken,
        if l.used_calls_broken == 1 { "" } else { "s" }
    );
    match l.layer.as_str() {
        "permission" => {
            let n: usize = intent.bundle_actions.values().map(|s| s.len()).sum();
            format!(
                "{} sensitive permissions removed from {} identities ({} bundles, {n} actions); {broken}",
                l.permissions_removed,
                l.identities,
                intent.bundle_actions.len()
            )
        }
        "service" if l.rules == 0 => "no service quarantine".to_owned(),
        "service" => format!(
            "{} permissions in quarantined services removed from {} identities; {broken}",
            l.permissions_removed, l.identities
        ),
        "region" if l.rules == 0 => "no region restriction".to_owned(),
        "region" => format!(
            "regional actions denied outside {} for {} identities; {broken}",
            regions.join(", "),
            l.identities
        ),
        "role" if l.rules == 0 => "zombie quarantine off".to_owned(),
        "role" => {
            let z = intent
                .tags
                .iter()
                .filter(|t| t.key == latch_contract::QUARANTINE_TAG)
                .count();
            format!(
                "{z} zombie identities quarantined ({} permissions removed from {} identities); {broken}",
                l.permissions_removed, l.identities
            )
        }
        "tamper" if l.rules == 0 => "tamper protection OFF".to_owned(),
        "tamper" => format!(
            "latch:* tags, latch:* session tags, the control-plane role and organization membership protected; {broken}"
        ),
        _ => broken,
    }
}

/// Whether a mode tolerates broken calls (enforce does; protect must break none).
pub fn must_break_nothing(mode: &str) -> bool {
    mode == Mode::Protect.as_str()
}
