//! Scenario files: the format, its checks, and the suite built into the binary.

#[allow(clippy::wildcard_imports)]
use super::*;

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

pub(super) fn yes() -> bool {
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
    pub(super) fn layer(self) -> Layer {
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
pub(super) const BUILTIN: &[(&str, &str)] = &[
    (
        "access-key-for-admin-user.toml",
        include_str!("../../../../scenarios/access-key-for-admin-user.toml"),
    ),
    (
        "attach-admin-policy-to-self.toml",
        include_str!("../../../../scenarios/attach-admin-policy-to-self.toml"),
    ),
    (
        "bedrock-api-key-for-admin-user.toml",
        include_str!("../../../../scenarios/bedrock-api-key-for-admin-user.toml"),
    ),
    (
        "cloudtrail-delete-trail.toml",
        include_str!("../../../../scenarios/cloudtrail-delete-trail.toml"),
    ),
    (
        "cloudtrail-stop-logging.toml",
        include_str!("../../../../scenarios/cloudtrail-stop-logging.toml"),
    ),
    (
        "code-interpreter-session.toml",
        include_str!("../../../../scenarios/code-interpreter-session.toml"),
    ),
    (
        "codebuild-start-build.toml",
        include_str!("../../../../scenarios/codebuild-start-build.toml"),
    ),
    (
        "console-password-reset-for-user.toml",
        include_str!("../../../../scenarios/console-password-reset-for-user.toml"),
    ),
    (
        "create-policy-version.toml",
        include_str!("../../../../scenarios/create-policy-version.toml"),
    ),
    (
        "cross-account-role-chaining.toml",
        include_str!("../../../../scenarios/cross-account-role-chaining.toml"),
    ),
    (
        "ec2-instance-connect.toml",
        include_str!("../../../../scenarios/ec2-instance-connect.toml"),
    ),
    (
        "ec2-user-data.toml",
        include_str!("../../../../scenarios/ec2-user-data.toml"),
    ),
    (
        "exempted-action-on-untouched-function.toml",
        include_str!("../../../../scenarios/exempted-action-on-untouched-function.toml"),
    ),
    (
        "glue-dev-endpoint.toml",
        include_str!("../../../../scenarios/glue-dev-endpoint.toml"),
    ),
    (
        "leave-organization.toml",
        include_str!("../../../../scenarios/leave-organization.toml"),
    ),
    (
        "login-profile-for-admin-user.toml",
        include_str!("../../../../scenarios/login-profile-for-admin-user.toml"),
    ),
    (
        "pass-role-apprunner.toml",
        include_str!("../../../../scenarios/pass-role-apprunner.toml"),
    ),
    (
        "pass-role-autoscaling.toml",
        include_str!("../../../../scenarios/pass-role-autoscaling.toml"),
    ),
    (
        "pass-role-cloudformation.toml",
        include_str!("../../../../scenarios/pass-role-cloudformation.toml"),
    ),
    (
        "pass-role-code-interpreter.toml",
        include_str!("../../../../scenarios/pass-role-code-interpreter.toml"),
    ),
    (
        "pass-role-codebuild.toml",
        include_str!("../../../../scenarios/pass-role-codebuild.toml"),
    ),
    (
        "pass-role-datapipeline.toml",
        include_str!("../../../../scenarios/pass-role-datapipeline.toml"),
    ),
    (
        "pass-role-ec2.toml",
        include_str!("../../../../scenarios/pass-role-ec2.toml"),
    ),
    (
        "pass-role-ecs.toml",
        include_str!("../../../../scenarios/pass-role-ecs.toml"),
    ),
    (
        "pass-role-glue.toml",
        include_str!("../../../../scenarios/pass-role-glue.toml"),
    ),
    (
        "pass-role-lambda.toml",
        include_str!("../../../../scenarios/pass-role-lambda.toml"),
    ),
    (
        "pass-role-new-instance-profile.toml",
        include_str!("../../../../scenarios/pass-role-new-instance-profile.toml"),
    ),
    (
        "pass-role-sagemaker.toml",
        include_str!("../../../../scenarios/pass-role-sagemaker.toml"),
    ),
    (
        "pass-role-stackset.toml",
        include_str!("../../../../scenarios/pass-role-stackset.toml"),
    ),
    (
        "put-inline-policy-on-self.toml",
        include_str!("../../../../scenarios/put-inline-policy-on-self.toml"),
    ),
    (
        "sagemaker-presigned-url.toml",
        include_str!("../../../../scenarios/sagemaker-presigned-url.toml"),
    ),
    (
        "set-default-policy-version.toml",
        include_str!("../../../../scenarios/set-default-policy-version.toml"),
    ),
    (
        "ssm-send-command.toml",
        include_str!("../../../../scenarios/ssm-send-command.toml"),
    ),
    (
        "tamper-control-plane-role.toml",
        include_str!("../../../../scenarios/tamper-control-plane-role.toml"),
    ),
    (
        "tamper-create-pre-tagged-role.toml",
        include_str!("../../../../scenarios/tamper-create-pre-tagged-role.toml"),
    ),
    (
        "tamper-self-tag-grant.toml",
        include_str!("../../../../scenarios/tamper-self-tag-grant.toml"),
    ),
    (
        "tamper-session-tag-grant.toml",
        include_str!("../../../../scenarios/tamper-session-tag-grant.toml"),
    ),
    (
        "trust-policy-backdoor.toml",
        include_str!("../../../../scenarios/trust-policy-backdoor.toml"),
    ),
    (
        "update-code.toml",
        include_str!("../../../../scenarios/update-code.toml"),
    ),
    (
        "update-stack.toml",
        include_str!("../../../../scenarios/update-stack.toml"),
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

pub(super) fn check_template(t: &str, field: &str, has_target: bool) -> Result<(), String> {
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
