//! The firewall's configuration, `latch.toml`: what to protect, whom to exempt, where to attach.
//!
//! Every field has a default, so an empty file (or no file at all) is a valid configuration:
//! protect each control-plane sensitivity category of the catalog
//! ([`Category::CONTROL_PLANE`]) as its own bundle, tamper protection on, zombie quarantine
//! on, no region or service quarantine, protect mode.
//!
//! Control plane only, unless named: a category (in a bundle's `categories`, or a default
//! bundle) holds the category's actions that CloudTrail records as management events; the
//! data-plane ones — recorded as data events (`s3:GetObject`, `dynamodb:Scan`,
//! `lambda:InvokeFunction`, ...), which trails log only where their selectors ask — are
//! protected only when a bundle's `actions` names them (by name or pattern). Their use may be
//! unknown, and Latch never denies an action of unknown use by default. The format is
//! documented in `docs/configuration.md`; [`STARTER`] is the commented file `latch init`
//! writes.
//!
//! [`Config::parse`] checks everything it can without a snapshot (names, actions, categories,
//! ARN patterns) and names the key of each problem; what needs the organization (scope targets,
//! Identity Center grants) is checked when the plan is generated, again naming the key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use latch_catalog::{ActionId, Catalog, Category, Limits};
use serde::Deserialize;

/// A configuration problem, naming the key (`bundles.iam-admin.actions[2]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {reason}")]
pub struct ConfigError {
    /// The key, as a TOML path.
    pub key: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

fn cfg_err(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        reason: reason.into(),
    }
}

/// What happens to sensitive permissions that were used in the usage window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Identities that used a protected action in the window keep it through a standing
    /// exemption (a grant tag, or an `aws:userid` exemption for Identity Center users), each
    /// reported: production does not break.
    Protect,
    /// No usage-based exemptions: every protected action needs a grant.
    Enforce,
}

impl Mode {
    /// `protect` or `enforce`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Protect => "protect",
            Mode::Enforce => "enforce",
        }
    }
}

/// `[usage]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageConfig {
    /// Days of CloudTrail that count as "used" (ending with the as-of date).
    pub window_days: u32,
}

impl Default for UsageConfig {
    fn default() -> Self {
        UsageConfig { window_days: 90 }
    }
}

/// `[control_plane]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlPlaneConfig {
    /// The role Latch acts as (in every account: `*` is allowed in the account field). Only it
    /// may set `latch:*` tags, and it is itself protected.
    pub role_arn: String,
    /// Break-glass identities (ARN patterns): never denied by the permission, service, region
    /// or role layers. They are still subject to tamper protection.
    pub break_glass: Vec<String>,
}

/// The default control-plane role, in every account.
pub const DEFAULT_CONTROL_PLANE: &str = "arn:aws:iam::*:role/latch-control-plane";

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        ControlPlaneConfig {
            role_arn: DEFAULT_CONTROL_PLANE.to_owned(),
            break_glass: Vec::new(),
        }
    }
}

/// `[scope]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScopeConfig {
    /// Where the firewall attaches: `root`, the root id `r-…`, OU ids `ou-…`, account ids.
    pub targets: Vec<String>,
}

impl Default for ScopeConfig {
    fn default() -> Self {
        ScopeConfig {
            targets: vec!["root".to_owned()],
        }
    }
}

/// `[tamper_protection]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TamperConfig {
    /// Protect `latch:*` tags, session tags, the control-plane role and organization
    /// membership. Turning it off makes every grant forgeable; the plan warns.
    pub enabled: bool,
}

impl Default for TamperConfig {
    fn default() -> Self {
        TamperConfig { enabled: true }
    }
}

/// `[zombies]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZombieConfig {
    /// Deny everything to identities tagged `latch:quarantine`, and tag the zombies found.
    pub enabled: bool,
    /// Days without any activity after which an identity is a zombie (at most the usage
    /// window).
    pub threshold_days: u32,
}

impl Default for ZombieConfig {
    fn default() -> Self {
        ZombieConfig {
            enabled: true,
            threshold_days: 90,
        }
    }
}

/// `[services]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServicesConfig {
    /// Service prefixes denied at every scope target (unless unlocked by tag).
    pub quarantine: Vec<String>,
    /// When set, also deny, per account, every service no principal of the account used in
    /// the last N days (at most the usage window; needs CloudTrail).
    pub quarantine_unused_days: Option<u32>,
    /// Services never quarantined by `quarantine_unused_days`.
    pub always_allowed: Vec<String>,
}

/// Services that are never quarantined as "unused" by default: identity, sign-in and
/// governance plumbing whose use is partly invisible in CloudTrail.
pub const DEFAULT_ALWAYS_ALLOWED: &[&str] = &[
    "cloudtrail",
    "config",
    "health",
    "iam",
    "logs",
    "organizations",
    "signin",
    "sso",
    "sts",
    "support",
];

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            quarantine: Vec::new(),
            quarantine_unused_days: None,
            always_allowed: DEFAULT_ALWAYS_ALLOWED
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

/// `[regions]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegionsConfig {
    /// Regions where regional services may be used; empty means no region restriction.
    pub allowed: Vec<String>,
}

/// `[exemptions]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExemptionsConfig {
    /// ARN patterns (CI/CD roles, …) exempt from the permission, service and region layers
    /// for good. Reported in the plan.
    pub principals: Vec<String>,
}

/// `[limits]`: AWS Organizations' quotas the plan is packed for, each optional (AWS's when
/// absent). Read as signed integers so that a negative value gets an error naming its key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    scp_chars: Option<i64>,
    scp_per_target: Option<i64>,
    rcp_chars: Option<i64>,
    rcp_per_target: Option<i64>,
}

impl RawLimits {
    /// The limits, each at least 1 and at most AWS's ([`Limits::check`]).
    fn resolve(&self) -> Result<Limits, ConfigError> {
        let aws = Limits::AWS;
        let one = |key: &str, v: Option<i64>, default: usize| -> Result<usize, ConfigError> {
            match v {
                None => Ok(default),
                Some(n) => usize::try_from(n).map_err(|_| {
                    cfg_err(
                        format!("limits.{key}"),
                        format!("{n} is not a positive number (leave the key out for AWS's quota of {default})"),
                    )
                }),
            }
        };
        let limits = Limits {
            scp_chars: one("scp_chars", self.scp_chars, aws.scp_chars)?,
            scp_per_target: one("scp_per_target", self.scp_per_target, aws.scp_per_target)?,
            rcp_chars: one("rcp_chars", self.rcp_chars, aws.rcp_chars)?,
            rcp_per_target: one("rcp_per_target", self.rcp_per_target, aws.rcp_per_target)?,
        };
        limits
            .check()
            .map_err(|e| cfg_err(format!("limits.{}", e.key()), e.to_string()))?;
        Ok(limits)
    }
}

/// `[bundles.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BundleConfig {
    /// What the bundle is for.
    pub description: String,
    /// Action names or wildcards (`iam:Put*`).
    pub actions: Vec<String>,
    /// Sensitivity categories of the catalog whose control-plane actions the bundle holds
    /// (not those CloudTrail records as data events: name them in `actions`).
    pub categories: Vec<String>,
    /// ARN patterns exempt from this bundle for good.
    pub exempt: Vec<String>,
}

/// `[[identity_center_grants]]`: a person's standing grant of a bundle through an Identity
/// Center permission set (its roles cannot be tagged).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityCenterGrantConfig {
    /// The bundle granted.
    pub bundle: String,
    /// The person: the session name Identity Center uses (their user name, often an email).
    pub user: String,
    /// Only roles of this permission set (all permission sets when empty).
    pub permission_set: String,
    /// Only in these accounts (all accounts in scope when empty).
    pub accounts: Vec<String>,
}

/// The raw file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    mode: Option<Mode>,
    usage: UsageConfig,
    control_plane: ControlPlaneConfig,
    scope: ScopeConfig,
    tamper_protection: TamperConfig,
    zombies: ZombieConfig,
    services: ServicesConfig,
    regions: RegionsConfig,
    exemptions: ExemptionsConfig,
    bundles: Option<BTreeMap<String, BundleConfig>>,
    identity_center_grants: Vec<IdentityCenterGrantConfig>,
    limits: RawLimits,
}

/// A bundle, resolved against the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Its name (`[a-z0-9-]`).
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The actions it holds.
    pub actions: BTreeSet<ActionId>,
    /// ARN patterns exempt from it for good.
    pub exempt: Vec<String>,
}

impl Bundle {
    /// The principal tag that grants it: `latch:grant:<name>`.
    pub fn grant_tag(&self) -> String {
        latch_contract::grant_tag_key(&self.name)
    }
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Protect or enforce.
    pub mode: Mode,
    /// `[usage]`.
    pub usage: UsageConfig,
    /// `[control_plane]`.
    pub control_plane: ControlPlaneConfig,
    /// `[scope]`.
    pub scope: ScopeConfig,
    /// `[tamper_protection]`.
    pub tamper_protection: TamperConfig,
    /// `[zombies]`.
    pub zombies: ZombieConfig,
    /// `[services]`, with prefixes lower-cased.
    pub services: ServicesConfig,
    /// `[regions]`.
    pub regions: RegionsConfig,
    /// `[exemptions]`.
    pub exemptions: ExemptionsConfig,
    /// Bundles by name.
    pub bundles: BTreeMap<String, Bundle>,
    /// `[[identity_center_grants]]`.
    pub identity_center_grants: Vec<IdentityCenterGrantConfig>,
    /// Whether the bundles are the defaults (one per control-plane sensitivity category).
    pub default_bundles: bool,
    /// `[limits]`: the quotas the plan is packed for (AWS's unless lowered).
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        // The defaults are valid by construction (checked by a test); fall back to an empty
        // bundle list rather than panic if the catalog ever disagreed.
        Config::from_raw(RawConfig::default()).unwrap_or_else(|_| Config {
            mode: Mode::Protect,
            usage: UsageConfig::default(),
            control_plane: ControlPlaneConfig::default(),
            scope: ScopeConfig::default(),
            tamper_protection: TamperConfig::default(),
            zombies: ZombieConfig::default(),
            services: ServicesConfig::default(),
            regions: RegionsConfig::default(),
            exemptions: ExemptionsConfig::default(),
            bundles: BTreeMap::new(),
            identity_center_grants: Vec::new(),
            default_bundles: true,
            limits: Limits::AWS,
        })
    }
}

impl Config {
    /// Parses and validates `latch.toml` text. Errors name the key.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let key = e.message().to_owned();
            let reason = e.to_string();
            // toml names unknown keys and bad values in its message; keep the whole text,
            // which also shows the line.
            cfg_err(
                key.split('`')
                    .nth(1)
                    .filter(|_| key.contains("unknown field"))
                    .unwrap_or("(file)"),
                reason.trim().to_owned(),
            )
        })?;
        Config::from_raw(raw)
    }

    fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        let catalog = Catalog::get();
        let limits = raw.limits.resolve()?;
        if raw.usage.window_days == 0 || raw.usage.window_days > 3650 {
            return Err(cfg_err(
                "usage.window_days",
                "must be between 1 and 3650 days",
            ));
        }
        check_arn_pattern("control_plane.role_arn", &raw.control_plane.role_arn, true)?;
        if !raw.control_plane.role_arn.contains(":role/") {
            return Err(cfg_err(
                "control_plane.role_arn",
                format!(
                    "`{}` is not a role ARN (expected `arn:aws:iam::ACCOUNT:role/NAME`; `*` may stand for the account)",
                    raw.control_plane.role_arn
                ),
            ));
        }
        for (i, a) in raw.control_plane.break_glass.iter().enumerate() {
            check_arn_pattern(&format!("control_plane.break_glass[{i}]"), a, false)?;
        }
        for (i, a) in raw.exemptions.principals.iter().enumerate() {
            check_arn_pattern(&format!("exemptions.principals[{i}]"), a, false)?;
        }
        if raw.scope.targets.is_empty() {
            return Err(cfg_err(
                "scope.targets",
                "must name at least one target (`root`, `ou-…` or an account id)",
            ));
        }
        for (i, t) in raw.scope.targets.iter().enumerate() {
            let ok = t == "root"
                || t.starts_with("r-")
                || t.starts_with("ou-")
                || (t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(cfg_err(
                    format!("scope.targets[{i}]"),
                    format!("`{t}` is not `root`, a root id `r-…`, an OU id `ou-…` or a 12-digit account id"),
                ));
            }
        }
        if raw.zombies.threshold_days == 0 || raw.zombies.threshold_days > raw.usage.window_days {
            return Err(cfg_err(
                "zombies.threshold_days",
                format!(
                    "must be between 1 and the usage window ({} days): activity before the window is unknown",
                    raw.usage.window_days
                ),
            ));
        }
        let mut services = raw.services.clone();
        for (field, list) in [
            ("services.quarantine", &mut services.quarantine),
            ("services.always_allowed", &mut services.always_allowed),
        ] {
            for (i, s) in list.iter_mut().enumerate() {
                let lower = s.to_ascii_lowercase();
                if catalog.service(&lower).is_none() {
                    return Err(cfg_err(
                        format!("{field}[{i}]"),
                        format!("`{s}` is not an AWS service prefix of the catalog (try `latch catalog stats`)"),
                    ));
                }
                *s = lower;
            }
            list.sort();
            list.dedup();
        }
        if let Some(days) = services.quarantine_unused_days {
            if days == 0 || days > raw.usage.window_days {
                return Err(cfg_err(
                    "services.quarantine_unused_days",
                    format!(
                        "must be between 1 and the usage window ({} days)",
                        raw.usage.window_days
                    ),
                ));
            }
        }
        for (i, r) in raw.regions.allowed.iter().enumerate() {
            let ok = !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && r.contains('-');
            if !ok {
                return Err(cfg_err(
                    format!("regions.allowed[{i}]"),
                    format!("`{r}` is not a region name like `eu-west-1`"),
                ));
            }
        }
        let default_bundles = raw.bundles.is_none();
        let raw_bundles = raw.bundles.unwrap_or_else(|| {
            Category::CONTROL_PLANE
                .iter()
                .map(|c| {
                    (
                        c.as_str().to_owned(),
                        BundleConfig {
                            description: format!("every control-plane {c} action of the catalog"),
                            categories: vec![c.as_str().to_owned()],
                            ..BundleConfig::default()
                        },
                    )
                })
                .collect()
        });
        let mut bundles = BTreeMap::new();
        for (name, b) in raw_bundles {
            let key = format!("bundles.{name}");
            if name.is_empty()
                || name.len() > 64
                || !name
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            {
                return Err(cfg_err(
                    key,
                    "bundle names use lower-case letters, digits and `-` (at most 64): they become the tag key `latch:grant:<name>`",
                ));
            }
            let mut actions = BTreeSet::new();
            for (i, a) in b.actions.iter().enumerate() {
                let ids = catalog.expand_ids(a);
                if ids.is_empty() {
                    let hint = catalog
                        .unknown_actions([a.as_str()])
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_else(|| format!("`{a}` matches no action"));
                    return Err(cfg_err(format!("{key}.actions[{i}]"), hint));
                }
                actions.extend(ids);
            }
            for (i, c) in b.categories.iter().enumerate() {
                let cat = Category::from_str(c)
                    .map_err(|e| cfg_err(format!("{key}.categories[{i}]"), e.to_string()))?;
                actions.extend(catalog.control_plane_actions(cat).iter().map(|a| a.id()));
            }
            if actions.is_empty() {
                return Err(cfg_err(
                    key,
                    "holds no action: give `actions` or `categories`",
                ));
            }
            for (i, a) in b.exempt.iter().enumerate() {
                check_arn_pattern(&format!("{key}.exempt[{i}]"), a, false)?;
            }
            bundles.insert(
                name.clone(),
                Bundle {
                    name,
                    description: b.description,
                    actions,
                    exempt: b.exempt,
                },
            );
        }
        for (i, g) in raw.identity_center_grants.iter().enumerate() {
            let key = format!("identity_center_grants[{i}]");
            if !bundles.contains_key(&g.bundle) {
                return Err(cfg_err(
                    format!("{key}.bundle"),
                    format!(
                        "`{}` is not a bundle; known: {}",
                        g.bundle,
                        bundles.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            if g.user.is_empty() || g.user.contains(['*', '?']) {
                return Err(cfg_err(
                    format!("{key}.user"),
                    "must name one person (their Identity Center user name), without wildcards",
                ));
            }
            for (j, a) in g.accounts.iter().enumerate() {
                if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(cfg_err(
                        format!("{key}.accounts[{j}]"),
                        format!("`{a}` is not a 12-digit account id"),
                    ));
                }
            }
        }
        Ok(Config {
            mode: raw.mode.unwrap_or(Mode::Protect),
            usage: raw.usage,
            control_plane: raw.control_plane,
            scope: raw.scope,
            tamper_protection: raw.tamper_protection,
            zombies: raw.zombies,
            services,
            regions: raw.regions,
            exemptions: raw.exemptions,
            bundles,
            identity_center_grants: raw.identity_center_grants,
            default_bundles,
            limits,
        })
    }
}

fn check_arn_pattern(key: &str, arn: &str, role_only: bool) -> Result<(), ConfigError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts.first() == Some(&"arn")
        && parts.get(2) == Some(&"iam")
        && parts.get(5).is_some_and(|r| {
            !r.is_empty()
                && (r.starts_with("role/")
                    || (!role_only && (r.starts_with("user/") || *r == "root")))
        });
    if ok {
        Ok(())
    } else {
        Err(cfg_err(
            key,
            format!(
                "`{arn}` is not an IAM {} ARN pattern like `arn:aws:iam::111122223333:role/NAME` (`*` and `?` may be used)",
                if role_only { "role" } else { "user, role or root" }
            ),
        ))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The commented starter file `latch init` writes. Every value shown is the default unless
/// marked as an example.
pub const STARTER: &str = r#"# latch.toml — the Latch firewall configuration (docs/configuration.md).
# Every key is optional; the values below are the defaults unless marked "example".

# "protect": identities that used a protected action in the usage window keep it through a
# standing exemption (a grant tag, or an aws:userid exemption for Identity Center users),
# listed in the plan, so nothing in production breaks. "enforce": no usage-based exemptions.
mode = "protect"

[usage]
# Days of CloudTrail (ending with the as-of date) that count as "used".
window_days = 90

[control_plane]
# The role Latch acts as. Only it may set latch:* tags; nobody else may modify it.
# `*` in the account field means "this role name in every account".
role_arn = "arn:aws:iam::*:role/latch-control-plane"
# Break-glass identities: never denied by the permission, service, region and role layers.
break_glass = []
# example: break_glass = ["arn:aws:iam::*:role/breakglass", "arn:aws:iam::111122223333:user/breakglass"]

[scope]
# Where the firewall attaches: "root", OU ids ("ou-…") or account ids.
targets = ["root"]

[tamper_protection]
# Deny, to everyone but the control plane: setting or removing latch:* tags on users and
# roles (also when creating them), latch:* session tags (SCP and RCP on STS), changing the
# control-plane role, and leaving the organization.
enabled = true

[zombies]
# Deny everything to identities tagged latch:quarantine, and tag those idle this long.
enabled = true
threshold_days = 90

[services]
# Service prefixes denied at every scope target unless the principal carries the
# latch:unlock:services tag. example: quarantine = ["sagemaker", "gamelift"]
quarantine = []
# Also deny, per account, every service nobody in the account used in the last N days.
# example: quarantine_unused_days = 90
always_allowed = ["cloudtrail", "config", "health", "iam", "logs", "organizations", "signin", "sso", "sts", "support"]

[regions]
# Regions where regional services may be used; global services are always allowed.
# Empty: no region restriction. example: allowed = ["eu-west-1", "eu-central-1"]
allowed = []

[exemptions]
# Identities exempt from the permission, service and region layers for good (CI/CD roles).
# example: principals = ["arn:aws:iam::*:role/terraform-apply"]
principals = []

# Bundles: named sets of protected actions, each granted on demand by the tag
# latch:grant:<name>. Without any [bundles.*] table, each control-plane sensitivity category
# of the catalog is its own bundle (privilege-escalation, credential-access,
# resource-exposure, defense-evasion, destructive). Defining one replaces those defaults.
#
# Control plane only, unless named: `categories` holds a category's actions that CloudTrail
# records as management events. Data-plane actions — recorded as data events, which trails
# log only where their event selectors ask (s3:GetObject, dynamodb:Scan,
# lambda:InvokeFunction, ...) — are protected only when `actions` names them. Where the
# trails do not log them, their use is unknown: the plan lists everyone who holds them as
# "may break", and `latch apply` refuses it without --accept-unknown-usage.
#
# example:
# [bundles.iam-admin]
# description = "change IAM users, roles and policies"
# actions = ["iam:Attach*", "iam:Put*", "iam:Create*", "iam:Update*", "iam:PassRole"]
# exempt = ["arn:aws:iam::*:role/terraform-apply"]
#
# [bundles.secrets-read]
# actions = ["secretsmanager:GetSecretValue", "ssm:GetParameter*", "kms:Decrypt"]
# categories = ["credential-access"]
#
# [bundles.data-read]
# description = "read S3 objects and scan DynamoDB tables"
# actions = ["s3:GetObject", "s3:GetObjectVersion", "dynamodb:Scan"]
# categories = ["data-exfiltration"]

# Identity Center roles cannot be tagged: a person's grant is an aws:userid exemption.
# example:
# [[identity_center_grants]]
# bundle = "privilege-escalation"
# user = "maria@example.com"
# permission_set = "AdministratorAccess"
# accounts = ["111122223333"]

[limits]
# AWS Organizations' quotas the policies are packed for; each key defaults to AWS's current
# quota (an SCP holds 10,240 characters, 10 SCPs per root, OU or account; an RCP 5,120
# characters, 5 RCPs per target; FullAWSAccess and RCPFullAWSAccess count). Lower one for an
# organization or partition that has not caught up; a value above AWS's is refused.
# example: scp_chars = 5120
# example: scp_per_target = 5
"#;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn starter_parses_to_the_defaults() {
        let starter = Config::parse(STARTER).unwrap();
        assert_eq!(starter, Config::default());
        assert_eq!(Config::parse("").unwrap(), Config::default());
        let d = Config::default();
        assert_eq!(d.bundles.len(), 5);
        assert!(!d.bundles.contains_key("data-exfiltration"));
        assert!(d.default_bundles);
        assert!(d.tamper_protection.enabled);
        assert!(d.regions.allowed.is_empty());
        assert!(d.services.quarantine.is_empty());
        assert_eq!(d.mode, Mode::Protect);
        assert_eq!(d.limits, Limits::AWS);
    }

    #[test]
    fn limits_can_be_lowered_but_not_raised() {
        let c = Config::parse("[limits]\nscp_chars = 5120\nscp_per_target = 5\n").unwrap();
        assert_eq!(
            c.limits,
            Limits {
                scp_chars: 5120,
                scp_per_target: 5,
                ..Limits::AWS
            }
        );
        // AWS's own values are accepted as they are.
        let c = Config::parse("[limits]\nscp_chars = 10240\nrcp_per_target = 5\n").unwrap();
        assert_eq!(c.limits, Limits::AWS);
        for (text, key, says) in [
            (
                "[limits]\nscp_chars = 20000",
                "limits.scp_chars",
                "20000 is above AWS's quota of 10240",
            ),
            (
                "[limits]\nrcp_chars = 10240",
                "limits.rcp_chars",
                "10240 is above AWS's quota of 5120",
            ),
            (
                "[limits]\nscp_per_target = 11",
                "limits.scp_per_target",
                "11 is above AWS's quota of 10",
            ),
            (
                "[limits]\nrcp_per_target = 6",
                "limits.rcp_per_target",
                "6 is above AWS's quota of 5",
            ),
            (
                "[limits]\nscp_per_target = 0",
                "limits.scp_per_target",
                "must be at least 1",
            ),
            (
                "[limits]\nrcp_chars = -1",
                "limits.rcp_chars",
                "-1 is not a positive number",
            ),
            ("[limits]\nscp_slots = 3", "scp_slots", "unknown field"),
        ] {
            let e = Config::parse(text).unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
            assert!(e.reason.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("modee = \"protect\"", "modee"),
            ("mode = \"loose\"", "(file)"),
            (
                "[bundles.iam-admin]\nactions = [\"iam:PasRole\"]",
                "bundles.iam-admin.actions[0]",
            ),
            (
                "[bundles.x]\ncategories = [\"secret\"]",
                "bundles.x.categories[0]",
            ),
            (
                "[bundles.Bad_Name]\nactions = [\"iam:PassRole\"]",
                "bundles.Bad_Name",
            ),
            ("[bundles.empty]\n", "bundles.empty"),
            (
                "[services]\nquarantine = [\"sagemakr\"]",
                "services.quarantine[0]",
            ),
            ("[regions]\nallowed = [\"Europe\"]", "regions.allowed[0]"),
            (
                "[control_plane]\nrole_arn = \"latch\"",
                "control_plane.role_arn",
            ),
            (
                "[control_plane]\nbreak_glass = [\"bob\"]",
                "control_plane.break_glass[0]",
            ),
            ("[scope]\ntargets = [\"prod\"]", "scope.targets[0]"),
            ("[zombies]\nthreshold_days = 400", "zombies.threshold_days"),
            (
                "[[identity_center_grants]]\nbundle = \"nope\"\nuser = \"a@b\"",
                "identity_center_grants[0].bundle",
            ),
            (
                "[[identity_center_grants]]\nbundle = \"destructive\"\nuser = \"*\"",
                "identity_center_grants[0].user",
            ),
        ];
        for (text, key) in cases {
            let e = Config::parse(text).unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
        }
        let e = Config::parse("[bundles.iam-admin]\nactions = [\"iam:PasRole\"]").unwrap_err();
        assert!(e.reason.contains("iam:PassRole"), "{e}");
        let e = Config::parse("mode = \"loose\"").unwrap_err();
        assert!(e.reason.contains("loose"), "{e}");
    }

    #[test]
    fn defaults_and_categories_protect_the_control_plane_only() {
        let cat = Catalog::get();
        let id = |n: &str| cat.resolve(n).unwrap();
        let d = Config::default();
        let protected: BTreeSet<ActionId> = d
            .bundles
            .values()
            .flat_map(|b| b.actions.iter().copied())
            .collect();
        for a in [
            "iam:PassRole",
            "iam:CreateAccessKey",
            "cloudtrail:StopLogging",
            "kms:ScheduleKeyDeletion",
            "s3:PutBucketPolicy",
        ] {
            assert!(protected.contains(&id(a)), "{a}");
        }
        // Data events and the data-exfiltration category are not protected by default.
        for a in [
            "s3:GetObject",
            "dynamodb:Scan",
            "lambda:InvokeFunction",
            "s3:DeleteObjectVersion",
            "rds:StartExportTask",
        ] {
            assert!(!protected.contains(&id(a)), "{a}");
        }
        // A category named in latch.toml holds its control-plane actions; data-plane
        // actions come in only when `actions` names them.
        let c = Config::parse("[bundles.data]\ncategories = [\"data-exfiltration\"]\n").unwrap();
        let b = &c.bundles["data"];
        assert!(b.actions.contains(&id("rds:StartExportTask")));
        assert!(!b.actions.contains(&id("s3:GetObject")));
        let c = Config::parse(
            "[bundles.data]\ncategories = [\"data-exfiltration\"]\nactions = [\"s3:GetObject\", \"dynamodb:Sc*\"]\n",
        )
        .unwrap();
        let b = &c.bundles["data"];
        assert!(b.actions.contains(&id("s3:GetObject")));
        assert!(b.actions.contains(&id("dynamodb:Scan")));
        assert!(!b.actions.contains(&id("s3:GetObjectVersion")));
    }

    #[test]
    fn custom_bundles_replace_defaults() {
        let c = Config::parse(
            "[bundles.iam-admin]\nactions = [\"iam:Put*\", \"iam:PassRole\"]\ncategories = [\"credential-access\"]",
        )
        .unwrap();
        assert!(!c.default_bundles);
        let b = &c.bundles["iam-admin"];
        let cat = Catalog::get();
        assert!(b
            .actions
            .contains(&cat.resolve("iam:PutRolePolicy").unwrap()));
        assert!(b
            .actions
            .contains(&cat.resolve("secretsmanager:GetSecretValue").unwrap()));
        assert_eq!(b.grant_tag(), "latch:grant:iam-admin");
    }
}
