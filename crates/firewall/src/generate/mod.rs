//! Generation: from the snapshot, the usage table and the configuration to the intent — the
//! rules of every layer, the tags to put on identities and the exemptions, each with why.
//!
//! [`generate`] prepares what every layer reads (a `Ctx`: the usage window and whether its
//! usage counts, the scope, the gates, the organization's shape and what the trails can show)
//! and then runs the layers in a fixed order, each adding to one accumulator (an `Out`: rules,
//! tags, exemptions, warnings). One module per layer or concern:
//! - `window`: the usage window, and whether CloudTrail usage counts at all;
//! - `scope`: where the firewall attaches, and the accounts without data;
//! - `gates`: who each bundle's rule spares, and the fixed exemptions;
//! - `identity_center`: Identity Center grants, as `aws:userid` exemptions;
//! - `quarantine`: the service quarantine (services named, services unused);
//! - `protect`: protect mode's standing exemptions for what was used (with `who`, how an
//!   identity is exempted, and `resources`, which resources a kept action is scoped to);
//! - `zombies`: idle identities, tagged and quarantined;
//! - `bundles`: the permission layer's rule per group of bundle actions, sparing who keeps
//!   them;
//! - `scoped`: actions kept on some resources only, denied on every other;
//! - `keep_tags`: the tags that exempt keepers too many to name;
//! - `region`: the region restriction;
//! - `tamper`: tamper protection.

use std::collections::{BTreeMap, BTreeSet};

use latch_analysis::{ActionSet, Observability, PrincipalPolicies};
use latch_catalog::{ActionId, Catalog};
use latch_model::{NodeKind, Principal, Snapshot};
use latch_trail::evidence::Reading;
use latch_trail::{Date, Timestamp, UsageTable};

use crate::config::{Config, Mode};
use crate::intent::Rule;
use crate::org::OrgShape;

mod bundles;
mod gates;
mod identity_center;
mod keep_tags;
mod protect;
mod quarantine;
mod region;
mod resources;
mod scope;
mod scoped;
mod tamper;
mod who;
mod window;
mod zombies;

use bundles::Bundles;
use gates::Gates;
use quarantine::Services;
use scope::Scope;
use scoped::Scoped;
use window::Usage;

/// Actions exempt from the region restriction: services with a single global endpoint (whose
/// calls AWS records in `us-east-1`) and a few global calls of regional services. Collected
/// from AWS's documentation of global endpoints and its region-deny examples; patterns that
/// the catalog does not know are skipped (a test checks that all are known).
pub const GLOBAL_ACTIONS: &[&str] = &[
    "a4b:*",
    "account:*",
    "aws-marketplace-management:*",
    "aws-marketplace:*",
    "aws-portal:*",
    "billing:*",
    "budgets:*",
    "ce:*",
    "chatbot:*",
    "cloudfront:*",
    "cur:*",
    "directconnect:*",
    "ec2:DescribeRegions",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "importexport:*",
    "networkmanager:*",
    "organizations:*",
    "pricing:*",
    "route53:*",
    "route53domains:*",
    "s3:GetAccountPublicAccessBlock",
    "s3:ListAllMyBuckets",
    "s3:PutAccountPublicAccessBlock",
    "shield:*",
    "signin:*",
    "sts:*",
    "support:*",
    "trustedadvisor:*",
    "waf:*",
];

/// An Identity Center grant that is active now (from the grant store): the person keeps the
/// bundle through an `aws:userid` exemption on the role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IdentityCenterGrant {
    /// The bundle granted.
    pub bundle: String,
    /// The Identity Center role's ARN.
    pub role_arn: String,
    /// The person (session name).
    pub user: String,
}

/// Everything generation reads.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The organization snapshot.
    pub snapshot: &'a Snapshot,
    /// The configuration.
    pub config: &'a Config,
    /// CloudTrail usage, when there is any.
    pub usage: Option<&'a UsageTable>,
    /// The last day (inclusive) of the usage window; needed with `usage`.
    pub as_of: Option<Date>,
    /// What reading CloudTrail gave (files read and skipped, events out of bounds), when
    /// `usage` came from log files.
    pub reading: Option<Reading>,
    /// Identity Center grants active now, besides those in the configuration.
    pub active_grants: &'a [IdentityCenterGrant],
}

/// A tag to put on an identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TagAssignment {
    /// The user or role.
    pub principal_arn: String,
    /// `latch:…`.
    pub key: String,
    /// The value.
    pub value: String,
    /// Why.
    pub reason: String,
}

/// An exemption from a layer, with why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Exemption {
    /// `standing` (protect mode), `identity-center-grant`, `permanent`, `break-glass` or
    /// `control-plane`.
    pub kind: String,
    /// The layer (`permission`, `service`, …; `all` for the control plane).
    pub layer: String,
    /// The bundle name, `services`, or `*`.
    pub gate: String,
    /// The identity (ARN or ARN pattern).
    pub principal: String,
    /// The person, for Identity Center roles.
    pub session: Option<String>,
    /// `tag`, `userid` or `principal-arn`.
    pub mechanism: String,
    /// The tag key, the `aws:userid` pattern or the ARN pattern.
    pub value: String,
    /// The used actions that made it necessary (standing exemptions).
    pub actions: Vec<String>,
    /// Why.
    pub reason: String,
}

/// The usage window, `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageWindow {
    /// First instant.
    pub since: Timestamp,
    /// First instant after.
    pub until: Timestamp,
    /// The last day included.
    pub as_of: Date,
}

impl UsageWindow {
    /// `days` days ending with `as_of` (inclusive).
    pub fn ending(as_of: Date, days: u32) -> UsageWindow {
        let until = as_of.add_days(1).start();
        UsageWindow {
            since: Timestamp(until.0 - i64::from(days) * 86_400),
            until,
            as_of,
        }
    }

    /// Whether `t` lies in the window.
    pub fn contains(&self, t: Option<Timestamp>) -> bool {
        t.is_some_and(|t| t >= self.since && t < self.until)
    }

    /// The same window as `latch-trail` spells it.
    pub fn trail_window(&self) -> latch_trail::Window {
        latch_trail::Window {
            since: Some(self.since),
            until: Some(self.until),
        }
    }
}

/// The firewall's intent for one organization, before packing.
#[derive(Debug, Clone)]
pub struct Intent {
    /// The organization tree.
    pub org: OrgShape,
    /// Where the firewall attaches (management account excluded).
    pub scope_targets: Vec<String>,
    /// The member accounts it governs.
    pub scope_accounts: BTreeSet<String>,
    /// Every Deny.
    pub rules: Vec<Rule>,
    /// Tags to put on identities (grant tags of standing exemptions, quarantine tags).
    pub tags: Vec<TagAssignment>,
    /// Every exemption, with why.
    pub exemptions: Vec<Exemption>,
    /// Zombie identities that cannot be tagged (Identity Center roles), with why.
    pub untaggable_zombies: Vec<String>,
    /// Things people must know (no CloudTrail, tamper protection off, …).
    pub warnings: Vec<String>,
    /// The usage window, when there was usage.
    pub window: Option<UsageWindow>,
    /// Protect or enforce.
    pub mode: Mode,
    /// Bundle name → its actions (for summaries).
    pub bundle_actions: BTreeMap<String, BTreeSet<ActionId>>,
    /// Per account, which actions' use the trails could show (`trails.json`).
    pub observability: Observability,
}

/// A generation error: a configuration key that does not fit the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// A key names something the snapshot does not have.
    #[error("`{key}`: {reason}")]
    Config {
        /// The configuration key.
        key: String,
        /// Why.
        reason: String,
    },
    /// Usage was given without the as-of date.
    #[error("usage data needs an as-of date (the last day of the usage window)")]
    NoAsOf,
}

/// What every layer reads: the input, and what [`generate`] derives from it before any layer
/// runs.
struct Ctx<'a> {
    snapshot: &'a Snapshot,
    cfg: &'a Config,
    catalog: &'static Catalog,
    org: OrgShape,
    /// Per account, which actions' use the trails could show.
    observability: Observability,
    /// CloudTrail usage and its window, when the usage counts.
    usage: Option<Usage<'a>>,
    scope: Scope,
    /// Who each bundle spares (Identity Center grants included).
    gates: Gates,
}

/// Planned tags: (identity, key) → the tag.
type Tags = BTreeMap<(String, String), TagAssignment>;

/// What the layers produce, each adding in turn.
#[derive(Debug, Default)]
struct Out {
    rules: Vec<Rule>,
    tags: Tags,
    exemptions: BTreeSet<Exemption>,
    untaggable_zombies: Vec<String>,
    warnings: Vec<String>,
}

impl Out {
    fn into_intent(self, cx: Ctx<'_>) -> Intent {
        let bundle_actions = cx
            .cfg
            .bundles
            .iter()
            .map(|(k, b)| (k.clone(), b.actions.clone()))
            .collect();
        Intent {
            org: cx.org,
            scope_targets: cx.scope.targets,
            scope_accounts: cx.scope.accounts,
            rules: self.rules,
            tags: self.tags.into_values().collect(),
            exemptions: self.exemptions.into_iter().collect(),
            untaggable_zombies: self.untaggable_zombies,
            warnings: self.warnings,
            window: cx.usage.map(|u| u.window),
            mode: cx.cfg.mode,
            bundle_actions,
            observability: cx.observability,
        }
    }
}

/// Builds the intent.
pub fn generate(input: &PlanInput<'_>) -> Result<Intent, GenerateError> {
    let cfg = input.config;
    let mut out = Out::default();
    let usage = window::usage(input, &mut out.warnings)?;
    let org = OrgShape::from_snapshot(input.snapshot);
    if org.synthesized {
        out.warnings.push(format!(
            "the snapshot has no organization.json: its accounts are planned directly under a root `{}` that holds only FullAWSAccess; the adapter must map it to the real root id",
            org.root_id
        ));
    }
    if !cfg.tamper_protection.enabled {
        out.warnings.push("tamper protection is OFF: anyone who can tag a user or role, or pass session tags, can grant themselves any bundle".to_owned());
    }
    let scope = Scope::build(cfg, &org, usage, &mut out.warnings)?;
    let mut gates = Gates::build(cfg, &mut out.exemptions);
    identity_center::grant(input, &scope, &mut gates, &mut out.exemptions)?;
    let cx = Ctx {
        snapshot: input.snapshot,
        cfg,
        catalog: Catalog::get(),
        org,
        observability: Observability::of(input.snapshot),
        usage,
        scope,
        gates,
    };

    // What each layer keeps, exempts and tags; a later one sees the tags of the earlier ones.
    let mut services = Services::plan(&cx, &mut out.warnings);
    let standing = protect::plan(&cx, &mut services, &mut out);
    zombies::tag(&cx, &mut out);
    let bundles = Bundles::plan(&cx, &standing.keepers, &mut out.tags);
    let scoped = Scoped::plan(&cx, standing.scopes, &bundles, &mut out.tags);

    // The rules, target by target, then the per-account service quarantine.
    for target in &cx.scope.targets {
        tamper::rules_at(&cx, target, &mut out.rules);
        zombies::rule_at(&cx, target, &mut out.rules);
        bundles.rules_at(&cx, target, &mut out.rules);
        scoped.rules_at(&cx, target, &mut out.rules);
        region::rule_at(&cx, target, &mut out.rules);
        services.rule_at(&cx, target, &mut out.rules);
    }
    services.per_account_rules(&cx, &mut out.rules);
    Ok(out.into_intent(cx))
}

/// Every action `p` may call today (on some resource, under some context), through its
/// identity policies, boundary and SCPs (which bind neither the management account nor
/// service-linked roles: [`Principal::scps_apply`]).
pub fn allowed_actions(p: &Principal<'_>) -> ActionSet {
    latch_analysis::effective_permissions(&PrincipalPolicies::of(&p.effective_policies())).allowed
}

/// The principals of a snapshot that SCPs govern and that are in scope.
pub fn governed<'s>(snapshot: &'s Snapshot, intent: &Intent) -> Vec<Principal<'s>> {
    snapshot
        .principals()
        .filter(|p| intent.scope_accounts.contains(p.account_id()) && !p.is_service_linked())
        .collect()
}

/// The rules that apply to an account: those targeted at a node on its path.
pub fn rules_for_account<'i>(intent: &'i Intent, account: &str) -> Vec<&'i Rule> {
    let path = intent.org.path_to(account);
    intent
        .rules
        .iter()
        .filter(|r| path.contains(&r.target))
        .collect()
}

/// Whether a node id is an OU (for summaries).
pub fn is_ou(org: &OrgShape, id: &str) -> bool {
    org.node(id)
        .is_some_and(|n| n.kind == NodeKind::OrganizationalUnit)
}
