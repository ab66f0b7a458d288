//! Generation: from the snapshot, the usage table and the configuration to the intent — the
//! rules of every layer, the tags to put on identities and the exemptions, each with why.

use std::collections::{BTreeMap, BTreeSet};

use latch_analysis::usage::last_accessed_advice;
use latch_analysis::{idle_evidence, ActionSet, IdleEvidence, Observability, PrincipalPolicies};
use latch_catalog::{AccessLevel, ActionId, Catalog};
use latch_model::{NodeKind, Principal, Snapshot};
use latch_policy::glob;
use latch_trail::evidence::{account_has_events, usage_verdict, Reading};
use latch_trail::passrole::{INSTANCE_PROFILE_PREFIX, ROLE_PASSING_ACTIONS};
use latch_trail::{
    ActionUsage, Date, PrincipalKind as UsageKind, PrincipalUsage, Timestamp, UsageTable,
};

use crate::config::{Config, Mode};
use crate::intent::{latch_key_patterns, Actions, Cond, LayerKind, Probe, Rule};
use crate::org::OrgShape;
use latch_catalog::PolicyType;
use latch_contract::{QUARANTINE_TAG, UNLOCK_SERVICES_TAG};

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

/// The gate name of the service quarantine in exemptions.
const SERVICES_GATE: &str = "services";

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

/// An exemption scheme: who is spared by a bundle (or by the service quarantine).
#[derive(Debug, Clone, Default)]
struct Gate {
    grant_tags: Vec<String>,
    arns: BTreeSet<String>,
    userids: BTreeSet<String>,
}

impl Gate {
    fn spares(&self, p: &Probe) -> bool {
        self.grant_tags
            .iter()
            .any(|t| p.tags.contains_key(&t.to_ascii_lowercase()))
            || self
                .arns
                .iter()
                .any(|a| glob::matches_str(a, &p.principal_arn))
            || p.userid
                .as_ref()
                .is_some_and(|u| self.userids.iter().any(|pat| glob::matches_str(pat, u)))
    }
}

/// How an identity can be exempted.
#[derive(Debug, Clone)]
struct Who {
    arn: String,
    userid_base: Option<String>,
    tags: BTreeMap<String, String>,
    how: Mechanism,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    Tag,
    UserId,
    Arn,
}

#[derive(Debug, Default)]
struct Acc {
    actions: BTreeMap<String, (u64, Option<Timestamp>)>,
    /// Actions kept because another used action needs them (`iam:PassRole` → why).
    implied: BTreeMap<String, BTreeSet<String>>,
    /// Actions kept on these resources only (`iam:PassRole` → the roles passed,
    /// `sts:AssumeRole` → the roles assumed, ...).
    scoped: BTreeMap<String, BTreeSet<String>>,
    /// Actions kept on every resource, and why they could not be scoped.
    unscoped: BTreeMap<String, String>,
    mechanism: &'static str,
    value: String,
}

/// Who keeps one action through standing exemptions (protect mode, permission layer).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Keepers {
    arns: BTreeSet<String>,
    userids: BTreeSet<String>,
}

/// Builds the intent.
pub fn generate(input: &PlanInput<'_>) -> Result<Intent, GenerateError> {
    let catalog = Catalog::get();
    let cfg = input.config;
    let org = OrgShape::from_snapshot(input.snapshot);
    let observability = Observability::of(input.snapshot);
    let mut warnings = Vec::new();
    let window = match (input.usage, input.as_of) {
        (Some(_), Some(d)) => Some(UsageWindow::ending(d, cfg.usage.window_days)),
        (Some(_), None) => return Err(GenerateError::NoAsOf),
        (None, _) => None,
    };
    // The one rule shared with `latch scan`: usage counts only when enough of the log files
    // parsed and the window holds events.
    let not_analysed = match (input.usage, window) {
        (Some(u), Some(w)) => usage_verdict(input.reading.as_ref(), u, &w.trail_window()).err(),
        _ => None,
    };
    let window = window.filter(|_| not_analysed.is_none());
    let usage = input.usage.filter(|_| window.is_some());
    if usage.is_none() {
        let why = not_analysed.map_or_else(String::new, |e| format!(" ({e})"));
        warnings.push(format!(
            "NO CLOUDTRAIL DATA: usage is unknown{why}, so no usage-based exemptions were made, no zombies were found and no unused service was quarantined. In protect mode this plan may break identities that use protected actions today: add CloudTrail (snapshot `cloudtrail/` or `--cloudtrail DIR`) before enforcing."
        ));
    }
    if let Some(r) = input.reading.filter(|_| usage.is_some()) {
        if r.files_skipped > 0 {
            warnings.push(format!(
                "{} CloudTrail file(s) could not be read and were not counted: usage seen in them is missing from this plan",
                r.files_skipped
            ));
        }
        if r.events_out_of_bounds > 0 {
            warnings.push(format!(
                "{} CloudTrail event(s) were ignored: their time lies more than a day outside their log file's date folder, or after the current time (`latch trail usage` lists the files)",
                r.events_out_of_bounds
            ));
        }
    }
    if org.synthesized {
        warnings.push(format!(
            "the snapshot has no organization.json: its accounts are planned directly under a root `{}` that holds only FullAWSAccess; the adapter must map it to the real root id",
            org.root_id
        ));
    }
    if !cfg.tamper_protection.enabled {
        warnings.push("tamper protection is OFF: anyone who can tag a user or role, or pass session tags, can grant themselves any bundle".to_owned());
    }

    // Scope.
    let mut targets: Vec<String> = Vec::new();
    for (i, t) in cfg.scope.targets.iter().enumerate() {
        let id = if t == "root" {
            org.root_id.clone()
        } else {
            t.clone()
        };
        if org.node(&id).is_none() {
            return Err(GenerateError::Config {
                key: format!("scope.targets[{i}]"),
                reason: format!("`{t}` is not a node of the organization (root, OU or account)"),
            });
        }
        if org.is_management(&id) {
            warnings.push(format!("`scope.targets[{i}]`: the management account `{id}` is not governed by SCPs or RCPs; skipped"));
            continue;
        }
        targets.push(id);
    }
    targets.sort();
    targets.dedup();
    // Drop targets under another target: the ancestor's policies already apply there.
    let all = targets.clone();
    targets.retain(|t| {
        let path = org.path_to(t);
        !path.iter().any(|a| a != t && all.contains(a))
    });
    let scope_accounts: BTreeSet<String> = targets
        .iter()
        .flat_map(|t| org.accounts_under(t))
        .filter(|a| !org.is_management(a))
        .collect();
    // The per-account floor: an account without a single event in the usage window has no
    // data there, not no activity — none of its identities is quarantined as a zombie and
    // none of its services as unused.
    let no_data: BTreeSet<String> = match (usage, window) {
        (Some(u), Some(w)) => scope_accounts
            .iter()
            .filter(|a| !account_has_events(u, a, &w.trail_window()))
            .cloned()
            .collect(),
        _ => BTreeSet::new(),
    };
    if !no_data.is_empty() {
        warnings.push(format!(
            "no CloudTrail event in the usage window for account(s) {}: no data there (not \"idle\"), so none of their identities was quarantined as a zombie and no service was quarantined as unused; add their logs before relying on this plan there",
            no_data.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }

    let cp = cfg.control_plane.role_arn.clone();
    let mut base_arns: BTreeSet<String> = BTreeSet::new();
    base_arns.insert(cp.clone());
    base_arns.extend(cfg.control_plane.break_glass.iter().cloned());
    base_arns.extend(cfg.exemptions.principals.iter().cloned());

    let mut exemptions: BTreeSet<Exemption> = BTreeSet::new();
    let fixed = |kind: &str, layer: &str, gate: &str, arn: &str, reason: &str| Exemption {
        kind: kind.to_owned(),
        layer: layer.to_owned(),
        gate: gate.to_owned(),
        principal: arn.to_owned(),
        session: None,
        mechanism: "principal-arn".to_owned(),
        value: arn.to_owned(),
        actions: Vec::new(),
        reason: reason.to_owned(),
    };
    exemptions.insert(fixed(
        "control-plane",
        "all",
        "*",
        &cp,
        "the Latch control plane sets grant tags and is spared by every layer",
    ));
    for bg in &cfg.control_plane.break_glass {
        exemptions.insert(fixed(
            "break-glass",
            "permission, service, region, role",
            "*",
            bg,
            "break-glass identity (control_plane.break_glass)",
        ));
    }
    for p in &cfg.exemptions.principals {
        exemptions.insert(fixed(
            "permanent",
            "permission, service, region",
            "*",
            p,
            "permanent exemption (exemptions.principals)",
        ));
    }

    // Gates.
    let mut gates: BTreeMap<String, Gate> = BTreeMap::new();
    let mut action_bundles: BTreeMap<ActionId, Vec<String>> = BTreeMap::new();
    for b in cfg.bundles.values() {
        let mut g = Gate {
            grant_tags: vec![b.grant_tag()],
            arns: base_arns.clone(),
            userids: BTreeSet::new(),
        };
        for e in &b.exempt {
            g.arns.insert(e.clone());
            exemptions.insert(fixed(
                "permanent",
                "permission",
                &b.name,
                e,
                &format!("permanent exemption (bundles.{}.exempt)", b.name),
            ));
        }
        gates.insert(b.name.clone(), g);
        for &a in &b.actions {
            action_bundles.entry(a).or_default().push(b.name.clone());
        }
    }
    let mut service_gate = Gate {
        grant_tags: vec![UNLOCK_SERVICES_TAG.to_owned()],
        arns: base_arns.clone(),
        userids: BTreeSet::new(),
    };

    // Identity Center grants (configuration and active ones).
    let mut ic_grants: Vec<(String, IdentityCenterGrant)> = Vec::new();
    for (i, g) in cfg.identity_center_grants.iter().enumerate() {
        let key = format!("identity_center_grants[{i}]");
        let mut found = 0;
        for p in input.snapshot.principals() {
            let Some(role) = p.as_role() else { continue };
            let Some(ps) = role.permission_set_name() else {
                continue;
            };
            if !scope_accounts.contains(p.account_id())
                || (!g.permission_set.is_empty() && ps != g.permission_set)
                || (!g.accounts.is_empty() && !g.accounts.iter().any(|a| a == p.account_id()))
            {
                continue;
            }
            found += 1;
            ic_grants.push((
                key.clone(),
                IdentityCenterGrant {
                    bundle: g.bundle.clone(),
                    role_arn: role.arn.clone(),
                    user: g.user.clone(),
                },
            ));
        }
        if found == 0 {
            return Err(GenerateError::Config {
                key,
                reason: format!(
                    "no Identity Center role{} in the accounts in scope{}",
                    if g.permission_set.is_empty() {
                        String::new()
                    } else {
                        format!(" of permission set `{}`", g.permission_set)
                    },
                    if g.accounts.is_empty() {
                        String::new()
                    } else {
                        format!(" among {}", g.accounts.join(", "))
                    }
                ),
            });
        }
    }
    for g in input.active_grants {
        ic_grants.push(("active grant".to_owned(), g.clone()));
    }
    for (source, g) in &ic_grants {
        let Some(p) = input.snapshot.principal(&g.role_arn) else {
            return Err(GenerateError::Config {
                key: source.clone(),
                reason: format!("role `{}` is not in the snapshot", g.role_arn),
            });
        };
        let Some(gate) = gates.get_mut(&g.bundle) else {
            return Err(GenerateError::Config {
                key: source.clone(),
                reason: format!("`{}` is not a bundle", g.bundle),
            });
        };
        let userid = format!("{}:{}", p.id(), g.user);
        gate.userids.insert(userid.clone());
        exemptions.insert(Exemption {
            kind: "identity-center-grant".to_owned(),
            layer: "permission".to_owned(),
            gate: g.bundle.clone(),
            principal: g.role_arn.clone(),
            session: Some(g.user.clone()),
            mechanism: "userid".to_owned(),
            value: userid,
            actions: Vec::new(),
            reason: format!("Identity Center grant ({source}); the role cannot be tagged"),
        });
    }

    // Services quarantined per account.
    let explicit_services: BTreeSet<String> = cfg.services.quarantine.iter().cloned().collect();
    let mut unused_per_account: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut kept_per_account: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if let (Some(days), Some(u), Some(w)) = (cfg.services.quarantine_unused_days, usage, window) {
        let since = Timestamp(w.until.0 - i64::from(days) * 86_400);
        for a in scope_accounts.iter().filter(|a| !no_data.contains(*a)) {
            let used: BTreeSet<String> = u
                .accounts
                .get(a)
                .map(|m| {
                    m.iter()
                        .filter(|(_, s)| s.count > 0 && s.last_seen.is_some_and(|t| t >= since))
                        .map(|(s, _)| s.to_ascii_lowercase())
                        .collect()
                })
                .unwrap_or_default();
            let mut kept = used;
            kept.extend(cfg.services.always_allowed.iter().cloned());
            // A service whose calls the trails do not all record may be in use: its use is
            // unknown, never unused, so it is not quarantined.
            kept.extend(
                observability
                    .unknown_in(a)
                    .ids()
                    .filter_map(|id| catalog.action_by_id(id))
                    .map(|x| x.service_prefix().to_ascii_lowercase()),
            );
            let unused = catalog
                .services()
                .iter()
                .map(|s| s.prefix().to_ascii_lowercase())
                .filter(|s| !kept.contains(s))
                .collect();
            unused_per_account.insert(a.clone(), unused);
            kept_per_account.insert(a.clone(), kept);
        }
    } else if cfg.services.quarantine_unused_days.is_some() {
        warnings.push("`services.quarantine_unused_days` needs CloudTrail data: no unused service was quarantined".to_owned());
    }

    // Protect mode: standing exemptions for what was used in the window.
    let mut planned_tags: BTreeMap<(String, String), TagAssignment> = BTreeMap::new();
    let mut standing: BTreeMap<(String, String, String, Option<String>), Acc> = BTreeMap::new();
    let mut keepers: BTreeMap<ActionId, Keepers> = BTreeMap::new();
    // Roles passed → identities that keep iam:PassRole on exactly those roles.
    let mut pass_scopes: BTreeMap<BTreeSet<String>, BTreeSet<String>> = BTreeMap::new();
    // (Action, resources its calls named) → identities that keep it on exactly those.
    let mut resource_scopes: BTreeMap<(ActionId, BTreeSet<String>), BTreeSet<String>> =
        BTreeMap::new();
    // The same for the people of Identity Center roles: (action, resources) → `aws:userid`
    // patterns (role id and session name) that keep it on exactly those.
    let mut session_scopes: BTreeMap<(ActionId, BTreeSet<String>), BTreeSet<String>> =
        BTreeMap::new();
    let bundle_sizes: BTreeMap<String, usize> = cfg
        .bundles
        .iter()
        .map(|(k, b)| (k.clone(), b.actions.len()))
        .collect();
    let pass_role = catalog.resolve("iam:PassRole");
    let passes_role: BTreeSet<ActionId> = ROLE_PASSING_ACTIONS
        .iter()
        .filter_map(|a| catalog.resolve(a))
        .collect();
    if let (Some(u), Some(w), Mode::Protect) = (usage, window, cfg.mode) {
        let base_gates = gates.clone();
        let base_service_gate = service_gate.clone();
        let mut granted: BTreeMap<(String, Option<String>), BTreeSet<String>> = BTreeMap::new();
        for (arn, pu) in &u.principals {
            if !scope_accounts.contains(&pu.account) {
                continue;
            }
            let Some(mut who) = who_for(input.snapshot, arn, pu.kind) else {
                warnings.push(format!(
                    "CloudTrail shows `{arn}` but the snapshot does not have it: its calls were not protected"
                ));
                continue;
            };
            if who.how == Mechanism::Tag && is_service_linked(arn) {
                continue;
            }
            let who0 = who.clone();
            let sets: Vec<(Option<&String>, &BTreeMap<String, ActionUsage>)> =
                if pu.kind == UsageKind::IdentityCenterRole && !pu.sessions.is_empty() {
                    pu.sessions
                        .iter()
                        .map(|(s, su)| (Some(s), &su.actions))
                        .collect()
                } else {
                    vec![(None, &pu.actions)]
                };
            for (session, actions) in sets {
                for (name, au) in actions {
                    if au.count == 0 || !w.contains(au.last_seen) {
                        continue;
                    }
                    let Some(id) = catalog.resolve(name) else {
                        continue;
                    };
                    // What spares the call without any standing exemption (tags it already
                    // carries, break-glass, permanent and Identity Center exemptions).
                    let probe = probe_for(&who0, session.map(String::as_str), Some(id));
                    let have = granted.entry((arn.clone(), session.cloned())).or_default();
                    // Permission layer: the identity keeps exactly the actions it used (and
                    // what they imply), not the whole bundle; a role-passing call also keeps
                    // the `iam:PassRole` it needed (checked inside the call, never logged).
                    let mut kept = vec![(id, name.as_str(), None)];
                    if passes_role.contains(&id) {
                        if let Some(pr) = pass_role {
                            kept.push((pr, "iam:PassRole", Some(name.as_str())));
                        }
                    }
                    for (kid, kname, via) in kept {
                        let Some(bundles) = action_bundles.get(&kid) else {
                            continue;
                        };
                        let kprobe = probe_for(&who0, session.map(String::as_str), Some(kid));
                        keep_action(
                            &mut keepers,
                            &mut standing,
                            &base_gates,
                            &bundle_sizes,
                            bundles,
                            &who0,
                            session,
                            &kprobe,
                            kname,
                            au,
                            via,
                        );
                    }
                    // Service layer.
                    let service = name
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    let quarantined = explicit_services.contains(&service)
                        || unused_per_account
                            .get(&pu.account)
                            .is_some_and(|s| s.contains(&service));
                    if quarantined && !base_service_gate.spares(&probe) {
                        if have.insert(SERVICES_GATE.to_owned()) {
                            exempt(
                                &mut who,
                                session,
                                &mut service_gate,
                                UNLOCK_SERVICES_TAG,
                                &mut planned_tags,
                            );
                        }
                        record(
                            &mut standing,
                            "service",
                            SERVICES_GATE,
                            &who,
                            session,
                            name,
                            au,
                            UNLOCK_SERVICES_TAG,
                        );
                    }
                }
            }
            // iam:PassRole kept because of role-passing calls: only on the roles those calls
            // passed, when every one of them named a role the snapshot knows.
            if who0.how != Mechanism::UserId {
                for ((_, _, p, sess), acc) in standing.iter_mut() {
                    if p != arn || sess.is_some() {
                        continue;
                    }
                    let Some(by) = acc.implied.get("iam:PassRole") else {
                        continue;
                    };
                    if let Some(roles) = passed_scope(input.snapshot, pu, by, &w) {
                        pass_scopes
                            .entry(roles.clone())
                            .or_default()
                            .insert(arn.clone());
                        acc.scoped.insert("iam:PassRole".to_owned(), roles);
                    }
                }
            }
            // Every other action kept: only on the resources its calls named, where
            // CloudTrail shows them all; otherwise on every resource, and the plan says why.
            for ((_, _, p, sess), acc) in standing.iter_mut() {
                if p != arn {
                    continue;
                }
                let direct: Vec<String> = acc
                    .actions
                    .keys()
                    .filter(|a| !acc.implied.contains_key(*a) && !acc.scoped.contains_key(*a))
                    .cloned()
                    .collect();
                for action in direct {
                    // What the calls named: this person's, for one person of an Identity
                    // Center role; the principal's otherwise.
                    let named = match sess {
                        Some(s) => pu.sessions.get(s).map(|su| &su.resources),
                        None => Some(&pu.resources),
                    };
                    let scope = named.map_or_else(
                        || {
                            Err(
                                "on every resource: no call in the window named its resource"
                                    .to_owned(),
                            )
                        },
                        |n| resource_scope(n, &action, &w),
                    );
                    let (resources, id) = match (scope, catalog.resolve(&action)) {
                        (Ok(r), Some(id)) => (r, id),
                        (Ok(_), None) => continue,
                        (Err(why), _) => {
                            acc.unscoped.insert(action, why);
                            continue;
                        }
                    };
                    if who0.how == Mechanism::UserId {
                        // Sessions are told apart by `aws:userid` (role id and session name).
                        let Some(u) = userid_of(&who0, sess.as_deref()) else {
                            acc.unscoped.insert(
                                action,
                                "on every resource: the role id of its sessions is unknown"
                                    .to_owned(),
                            );
                            continue;
                        };
                        session_scopes
                            .entry((id, resources.clone()))
                            .or_default()
                            .insert(u);
                    } else {
                        resource_scopes
                            .entry((id, resources.clone()))
                            .or_default()
                            .insert(arn.clone());
                    }
                    acc.scoped.insert(action, resources);
                }
            }
        }
        // IAM's last-accessed data: an action whose use CloudTrail cannot show and that the
        // identity attempted in the window (`latch_analysis::usage::last_accessed_advice`) is
        // kept too — on every resource, as the report names none.
        for account in input.snapshot.accounts.values() {
            if !scope_accounts.contains(&account.id) {
                continue;
            }
            let Some(la) = &account.last_accessed else {
                continue;
            };
            let mut hidden = observability.unknown_in(&account.id).clone();
            hidden.union_with(observability.never_recorded());
            for (arn, access) in &la.principals {
                let advice = last_accessed_advice(access, w.since.0 * 1000, w.until.0 * 1000 - 1);
                let mut extra = advice.used;
                extra.intersect_with(&hidden);
                if extra.is_empty() {
                    continue;
                }
                let kind = if arn.contains(":user/") {
                    UsageKind::User
                } else {
                    UsageKind::Role
                };
                let Some(who) = who_for(input.snapshot, arn, kind) else {
                    continue;
                };
                if who.how == Mechanism::Tag && is_service_linked(arn) {
                    continue;
                }
                for id in extra.ids() {
                    let Some(info) = catalog.action_by_id(id) else {
                        continue;
                    };
                    let name = info.full_name().to_owned();
                    let Some(bundles) = action_bundles.get(&id) else {
                        continue;
                    };
                    let at = access
                        .services
                        .values()
                        .filter_map(|s| s.actions.get(&name))
                        .map(|t| Timestamp(t.epoch_millis.div_euclid(1000)))
                        .max();
                    let au = ActionUsage {
                        last_seen: at,
                        ..ActionUsage::default()
                    };
                    let probe = probe_for(&who, None, Some(id));
                    keep_action(
                        &mut keepers,
                        &mut standing,
                        &base_gates,
                        &bundle_sizes,
                        bundles,
                        &who,
                        None,
                        &probe,
                        &name,
                        &au,
                        None,
                    );
                }
            }
        }
    }
    for ((layer, gate, principal, session), acc) in standing {
        let used: Vec<String> = acc
            .actions
            .iter()
            .map(|(a, (n, last))| {
                let last = last.map_or_else(|| "?".to_owned(), |t| t.to_string());
                let passed = acc.implied.contains_key(a);
                let only = match (acc.scoped.get(a), acc.unscoped.get(a)) {
                    (Some(r), _) => format!(
                        "; only on {}, the {} those calls {}",
                        r.iter().cloned().collect::<Vec<_>>().join(", "),
                        if passed { "roles" } else { "resources" },
                        if passed { "passed" } else { "named" },
                    ),
                    (None, Some(why)) => format!("; {why}"),
                    (None, None) => String::new(),
                };
                // No call behind it: kept on IAM's last-accessed data alone.
                if *n == 0 {
                    return format!(
                        "{a} (attempted per IAM's last-accessed data, last {last}; CloudTrail does not show it; on every resource, as the report names none)"
                    );
                }
                match acc.implied.get(a) {
                    Some(by) => format!(
                        "{a} (checked inside {}: {n} calls, last {last}; CloudTrail does not record it{only})",
                        by.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                    None => format!("{a} ({n} calls, last {last}{only})"),
                }
            })
            .collect();
        exemptions.insert(Exemption {
            kind: "standing".to_owned(),
            layer,
            gate: gate.clone(),
            principal,
            session,
            mechanism: acc.mechanism.to_owned(),
            value: acc.value,
            actions: acc.actions.keys().cloned().collect(),
            reason: format!(
                "protect mode: used in the usage window: {}",
                used.join(", ")
            ),
        });
    }

    // Zombies.
    let mut untaggable_zombies = Vec::new();
    if let (true, Some(u), Some(w)) = (cfg.zombies.enabled, usage, window) {
        let cutoff = Timestamp(w.until.0 - i64::from(cfg.zombies.threshold_days) * 86_400);
        for p in input.snapshot.principals() {
            if !scope_accounts.contains(p.account_id())
                || no_data.contains(p.account_id())
                || p.is_service_linked()
            {
                continue;
            }
            if base_arns.iter().any(|a| glob::matches_str(a, p.arn())) {
                continue;
            }
            let trail_last = u.principals.get(p.arn()).and_then(|x| x.last_activity);
            let role_last = p
                .as_role()
                .and_then(|r| r.last_used.as_ref())
                .and_then(|l| l.date.as_ref())
                .map(|t| Timestamp(t.epoch_millis.div_euclid(1000)));
            let created = p
                .create_date()
                .map(|t| Timestamp(t.epoch_millis.div_euclid(1000)));
            let credentials = p.as_user().and_then(|_| {
                input
                    .snapshot
                    .account(p.account_id())
                    .and_then(|a| a.credential_report.as_ref())
                    .and_then(|r| r.row(p.arn()))
            });
            let credential_last = credentials
                .and_then(latch_model::CredentialRow::last_used)
                .map(|ms| Timestamp(ms.div_euclid(1000)));
            let active = |t: Option<Timestamp>| t.is_some_and(|t| t >= cutoff);
            if active(trail_last) || active(role_last) || active(created) || active(credential_last)
            {
                continue;
            }
            // The same rule as `latch scan` (`latch_analysis::usage::IdleEvidence`): idleness
            // rests on IAM's own last-used record, or on CloudTrail only when its trails
            // record every action the identity may call.
            let iam_record = match p.as_role() {
                Some(r) => r.last_used.is_some(),
                None => credentials.is_some(),
            };
            let evidence = if iam_record {
                IdleEvidence::IamRecord
            } else {
                idle_evidence(
                    false,
                    true,
                    &allowed_actions(&p),
                    observability.unknown_in(p.account_id()),
                    observability.never_recorded(),
                )
            };
            if let IdleEvidence::Unknown(hidden) = &evidence {
                let why = observability.explain(p.account_id(), hidden);
                let names: Vec<&str> = why.iter().take(3).map(|u| u.name.as_str()).collect();
                warnings.push(format!(
                    "`{}` shows no activity, but it may call actions whose use the trails cannot show ({}: {}{}) and has no IAM last-used record: not quarantined as a zombie",
                    p.arn(),
                    why.first().map_or("usage unknown", |u| u.says),
                    names.join(", "),
                    if why.len() > names.len() { ", ..." } else { "" }
                ));
            }
            if !evidence.supports_verdict() {
                continue;
            }
            let why = format!(
                "zombie: no activity in the {} days before {} (CloudTrail: {}; RoleLastUsed: {})",
                cfg.zombies.threshold_days,
                w.as_of,
                trail_last.map_or_else(|| "none in the window".to_owned(), |t| t.to_string()),
                role_last.map_or_else(|| "none".to_owned(), |t| t.to_string()),
            );
            if p.as_role().is_some_and(|r| r.is_sso_permission_set()) {
                untaggable_zombies.push(format!(
                    "{} — {why}; Identity Center roles cannot be tagged: remove the permission set's assignment instead",
                    p.arn()
                ));
                continue;
            }
            planned_tags.insert(
                (p.arn().to_owned(), QUARANTINE_TAG.to_owned()),
                TagAssignment {
                    principal_arn: p.arn().to_owned(),
                    key: QUARANTINE_TAG.to_owned(),
                    value: "zombie".to_owned(),
                    reason: why,
                },
            );
        }
    }

    // Rules.
    let mut rules = Vec::new();
    // One rule per (bundles holding the actions, identities keeping them in protect mode).
    type Group = (Vec<String>, Keepers);
    let all_bundles: Vec<(Group, BTreeSet<ActionId>)> = {
        let mut groups: BTreeMap<Group, BTreeSet<ActionId>> = BTreeMap::new();
        for (a, bs) in &action_bundles {
            let mut bs = bs.clone();
            bs.sort();
            bs.dedup();
            let k = keepers.get(a).cloned().unwrap_or_default();
            groups.entry((bs, k)).or_default().insert(*a);
        }
        groups.into_iter().collect()
    };
    // Keepers too many to name: past half a policy in one account, the identities that keep a
    // group of actions each carry the group's own tag (`latch:keep:<hash of the actions>`)
    // and the rule checks it, so its size no longer grows with them. Root users and
    // identities without room for another tag stay named.
    let scp_limit = cfg.limits.chars(latch_catalog::PolicyType::Scp);
    let mut all_bundles = all_bundles;
    let mut keep_tags: BTreeMap<usize, (String, usize)> = BTreeMap::new();
    for (i, ((_, keep), actions)) in all_bundles.iter_mut().enumerate() {
        if !too_many_to_name(&org, &keep.arns, scp_limit) {
            continue;
        }
        let names: Vec<&str> = actions
            .iter()
            .filter_map(|a| catalog.action_by_id(*a))
            .map(|a| a.full_name())
            .collect();
        let mut key = keep_tag_key(&names);
        while keep_tags.values().any(|(k, _)| *k == key) {
            key.push('x');
        }
        let total = keep.arns.len();
        let reason = format!(
            "protect mode: standing exemption for {} (used in the usage window); too many identities keep them to name each in the policy",
            names.join(", ")
        );
        let named = tag_keepers(input.snapshot, &keep.arns, &key, &reason, &mut planned_tags);
        keep.arns = named;
        keep_tags.insert(i, (key, total));
    }
    // The same for the identities that keep an action on some resources only: past half a
    // policy, they carry a tag of that scope and its statement checks the tag.
    let mut scope_tags: BTreeMap<(ActionId, BTreeSet<String>), (String, BTreeSet<String>)> =
        BTreeMap::new();
    let scoped = pass_role
        .into_iter()
        .flat_map(|pr| pass_scopes.iter().map(move |(r, w)| ((pr, r.clone()), w)))
        .chain(
            resource_scopes
                .iter()
                .map(|((a, r), w)| ((*a, r.clone()), w)),
        )
        .collect::<Vec<_>>();
    for ((action, resources), who) in scoped {
        let cost: usize = who.iter().map(|a| a.len() + 3).sum();
        if cost <= scp_limit / 2 {
            continue;
        }
        let name = catalog
            .action_by_id(action)
            .map_or_else(|| "?".to_owned(), |a| a.full_name().to_owned());
        let mut parts: Vec<&str> = vec![name.as_str(), "on"];
        parts.extend(resources.iter().map(String::as_str));
        let mut key = keep_tag_key(&parts);
        while keep_tags.values().any(|(k, _)| *k == key)
            || scope_tags.values().any(|(k, _)| *k == key)
        {
            key.push('x');
        }
        let reason = format!(
            "protect mode: {name} kept on the resources its calls named only ({} of them); too many identities share that scope to name each in the policy",
            resources.len()
        );
        let named = tag_keepers(input.snapshot, who, &key, &reason, &mut planned_tags);
        scope_tags.insert((action, resources), (key, named));
    }
    // Role id → account: where the people of an Identity Center role (named by `aws:userid`,
    // `ROLEID:session`) belong.
    let role_accounts: BTreeMap<&str, &str> = input
        .snapshot
        .principals()
        .filter(|p| p.as_role().is_some())
        .map(|p| (p.id(), p.account_id()))
        .collect();
    let bg_cp: Vec<String> = {
        let mut v = vec![cp.clone()];
        v.extend(cfg.control_plane.break_glass.iter().cloned());
        v.sort();
        v.dedup();
        v
    };
    for t in &targets {
        if cfg.tamper_protection.enabled {
            rules.extend(tamper_rules(t, &cp));
        }
        if cfg.zombies.enabled {
            rules.push(Rule {
                layer: LayerKind::Role,
                kind: PolicyType::Scp,
                target: t.clone(),
                actions: Actions::AllExcept(BTreeSet::new()),
                resources: vec!["*".to_owned()],
                not_resource: false,
                cond: Cond {
                    present_tag: Some(QUARANTINE_TAG.to_owned()),
                    arn_not_like: bg_cp.clone(),
                    ..Cond::default()
                },
                label: "quarantine of identities tagged latch:quarantine".to_owned(),
            });
        }
        for (i, ((bundles, keep), actions)) in all_bundles.iter().enumerate() {
            let mut arns = keep.arns.clone();
            let mut gate_userids: BTreeSet<String> = BTreeSet::new();
            let mut tags = Vec::new();
            let mut kept_by = keep.arns.len() + keep.userids.len();
            if let Some((key, total)) = keep_tags.get(&i) {
                tags.push(key.clone());
                kept_by = total + keep.userids.len();
            }
            for b in bundles {
                if let Some(g) = gates.get(b) {
                    arns.extend(g.arns.iter().cloned());
                    gate_userids.extend(g.userids.iter().cloned());
                    tags.extend(g.grant_tags.iter().cloned());
                }
            }
            tags.sort();
            tags.dedup();
            let label = if kept_by == 0 {
                format!("bundle {}", bundles.join(" + "))
            } else {
                format!(
                    "bundle {} (kept by {kept_by} identities that used these actions)",
                    bundles.join(" + "),
                )
            };
            // Who keeps the actions is named by ARN (users and roles) or by `aws:userid`
            // (the people of Identity Center roles); a rule gets both kinds of a list.
            let rule = |target: &str, named: Vec<String>, accounts_not: Vec<String>, label| {
                let (arns, people): (Vec<String>, Vec<String>) =
                    named.into_iter().partition(|n| n.starts_with("arn:"));
                let mut uids: Vec<String> = gate_userids.iter().cloned().collect();
                uids.extend(people);
                uids.sort();
                uids.dedup();
                Rule {
                    layer: LayerKind::Permission,
                    kind: PolicyType::Scp,
                    target: target.to_owned(),
                    actions: Actions::Only(actions.clone()),
                    resources: vec!["*".to_owned()],
                    not_resource: false,
                    cond: Cond {
                        absent_tags: tags.clone(),
                        arn_not_like: arns,
                        userid_not_like: uids,
                        accounts_not,
                        ..Cond::default()
                    },
                    label,
                }
            };
            let mut kept: BTreeSet<String> = keep.arns.clone();
            kept.extend(keep.userids.iter().cloned());
            let account_of = |n: &str| -> Option<String> {
                if n.starts_with("arn:") {
                    latch_policy::arn::account(n).map(str::to_owned)
                } else {
                    n.split(':')
                        .next()
                        .and_then(|id| role_accounts.get(id))
                        .map(|a| (*a).to_owned())
                }
            };
            let mut everyone: BTreeSet<String> = arns.clone();
            everyone.extend(keep.userids.iter().cloned());
            match split_by_account(
                &org,
                t,
                &kept,
                &account_of,
                cfg.limits.chars(latch_catalog::PolicyType::Scp),
            ) {
                None => rules.push(rule(t, everyone.into_iter().collect(), Vec::new(), label)),
                Some(per_account) => {
                    // Too many keepers for one statement at the target: each account with
                    // keepers gets its own rule naming only them, and the target's rule
                    // spares those accounts.
                    let moved: BTreeSet<&String> = per_account.values().flatten().collect();
                    let shared: Vec<String> = everyone
                        .iter()
                        .filter(|a| !moved.contains(a))
                        .cloned()
                        .collect();
                    let accounts: Vec<String> = per_account.keys().cloned().collect();
                    rules.push(rule(t, shared.clone(), accounts, label.clone()));
                    for (account, kept) in per_account {
                        let mut named = shared.clone();
                        named.extend(kept);
                        named.sort();
                        named.dedup();
                        rules.push(rule(&account, named, Vec::new(), label.clone()));
                    }
                }
            }
        }
        // Standing iam:PassRole scoped to the roles passed: the identities spared by the
        // bundle rule above are denied passing any other role.
        if let Some((pr, bundles)) =
            pass_role.and_then(|pr| action_bundles.get(&pr).map(|b| (pr, b)))
        {
            let tags = grant_tags(bundles, &gates);
            for (roles, who) in &pass_scopes {
                let label = format!(
                    "iam:PassRole kept by {} identities on the roles they passed only",
                    who.len()
                );
                rules.extend(scoped_rules(
                    t,
                    pr,
                    roles.iter().cloned().collect(),
                    &tags,
                    who,
                    scope_tags.get(&(pr, roles.clone())),
                    &label,
                ));
            }
        }
        // Standing actions scoped to the resources their calls named: the identities spared
        // by the bundle rule above are denied the action on any other resource.
        for ((action, resources), who) in &resource_scopes {
            let Some(bundles) = action_bundles.get(action) else {
                continue;
            };
            let tags = grant_tags(bundles, &gates);
            let name = catalog
                .action_by_id(*action)
                .map_or_else(|| "?".to_owned(), |a| a.full_name().to_owned());
            let label = format!(
                "{name} kept by {} identities on the resources they used only",
                who.len()
            );
            rules.extend(scoped_rules(
                t,
                *action,
                resource_patterns(resources),
                &tags,
                who,
                scope_tags.get(&(*action, resources.clone())),
                &label,
            ));
        }
        // The same for the people of Identity Center roles, told apart by `aws:userid`.
        for ((action, resources), sessions) in &session_scopes {
            let Some(bundles) = action_bundles.get(action) else {
                continue;
            };
            let name = catalog
                .action_by_id(*action)
                .map_or_else(|| "?".to_owned(), |a| a.full_name().to_owned());
            rules.push(Rule {
                layer: LayerKind::Permission,
                kind: PolicyType::Scp,
                target: t.clone(),
                actions: Actions::Only(BTreeSet::from([*action])),
                resources: resource_patterns(resources),
                not_resource: true,
                cond: Cond {
                    absent_tags: grant_tags(bundles, &gates),
                    userid_like: sessions.iter().cloned().collect(),
                    ..Cond::default()
                },
                label: format!(
                    "{name} kept by {} Identity Center sessions on the resources they used only",
                    sessions.len()
                ),
            });
        }
        if !cfg.regions.allowed.is_empty() {
            let global: BTreeSet<ActionId> = GLOBAL_ACTIONS
                .iter()
                .flat_map(|p| catalog.expand_ids(p))
                .collect();
            let mut regions = cfg.regions.allowed.clone();
            regions.sort();
            regions.dedup();
            rules.push(Rule {
                layer: LayerKind::Region,
                kind: PolicyType::Scp,
                target: t.clone(),
                actions: Actions::AllExcept(global),
                resources: vec!["*".to_owned()],
                not_resource: false,
                cond: Cond {
                    regions_not: regions.clone(),
                    arn_not_like: base_arns.iter().cloned().collect(),
                    ..Cond::default()
                },
                label: format!("regions other than {}", regions.join(", ")),
            });
        }
        if !explicit_services.is_empty() {
            let ids: BTreeSet<ActionId> = explicit_services
                .iter()
                .filter_map(|s| catalog.service(s))
                .flat_map(|s| s.action_ids())
                .collect();
            rules.push(service_rule(
                t,
                Actions::Only(ids),
                &service_gate,
                format!(
                    "services {}",
                    explicit_services
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    for (a, kept) in &kept_per_account {
        let ids: BTreeSet<ActionId> = kept
            .iter()
            .filter_map(|s| catalog.service(s))
            .flat_map(|s| s.action_ids())
            .collect();
        let n = unused_per_account.get(a).map_or(0, BTreeSet::len);
        rules.push(service_rule(
            a,
            Actions::AllExcept(ids),
            &service_gate,
            format!(
                "{n} services unused in the last {} days (all but {})",
                cfg.services.quarantine_unused_days.unwrap_or_default(),
                kept.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }

    let bundle_actions = cfg
        .bundles
        .iter()
        .map(|(k, b)| (k.clone(), b.actions.clone()))
        .collect();
    Ok(Intent {
        org,
        scope_targets: targets,
        scope_accounts,
        rules,
        tags: planned_tags.into_values().collect(),
        exemptions: exemptions.into_iter().collect(),
        untaggable_zombies,
        warnings,
        window,
        mode: cfg.mode,
        bundle_actions,
        observability,
    })
}

/// Every action `p` may call today (on some resource, under some context), through its
/// identity policies, boundary and SCPs (which bind neither the management account nor
/// service-linked roles: [`Principal::scps_apply`]).
pub fn allowed_actions(p: &Principal<'_>) -> ActionSet {
    let eff = p.effective_policies();
    let pp = PrincipalPolicies {
        identity: eff
            .identity
            .iter()
            .map(|s| s.document.policy.clone())
            .collect(),
        boundary: eff.boundary.map(|b| b.document.policy.clone()),
        scps: eff
            .scps
            .as_ref()
            .filter(|_| p.scps_apply())
            .map(|levels| PrincipalPolicies::scp_documents(levels))
            .unwrap_or_default(),
        is_root: false,
    };
    latch_analysis::effective_permissions(&pp).allowed
}

fn service_rule(target: &str, actions: Actions, gate: &Gate, label: String) -> Rule {
    Rule {
        layer: LayerKind::Service,
        kind: PolicyType::Scp,
        target: target.to_owned(),
        actions,
        resources: vec!["*".to_owned()],
        not_resource: false,
        cond: Cond {
            absent_tags: gate.grant_tags.clone(),
            arn_not_like: gate.arns.iter().cloned().collect(),
            userid_not_like: gate.userids.iter().cloned().collect(),
            ..Cond::default()
        },
        label,
    }
}

/// The tamper-protection rules at one target.
fn tamper_rules(target: &str, cp: &str) -> Vec<Rule> {
    let catalog = Catalog::get();
    let ids = |names: &[&str]| -> BTreeSet<ActionId> {
        names.iter().filter_map(|n| catalog.resolve(n)).collect()
    };
    let only_cp = vec![cp.to_owned()];
    let keys = latch_key_patterns();
    let tag_cond = Cond {
        tag_keys_like: keys,
        arn_not_like: only_cp.clone(),
        ..Cond::default()
    };
    // Every IAM action on a role that is not a read: changing, tagging, passing, deleting
    // or (re)creating the control-plane role.
    let role_writes: BTreeSet<ActionId> = catalog
        .service("iam")
        .map(|s| {
            s.action_ids()
                .filter(|id| {
                    catalog.action_by_id(*id).is_some_and(|a| {
                        !matches!(a.access_level(), AccessLevel::Read | AccessLevel::List)
                            && a.resource_types().iter().any(|r| r.name == "role")
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = vec![
        Rule {
            layer: LayerKind::Tamper,
            kind: PolicyType::Scp,
            target: target.to_owned(),
            actions: Actions::Only(ids(&[
                "iam:TagRole",
                "iam:TagUser",
                "iam:UntagRole",
                "iam:UntagUser",
                "iam:CreateRole",
                "iam:CreateUser",
                "sts:TagSession",
            ])),
            resources: vec!["*".to_owned()],
            not_resource: false,
            cond: tag_cond.clone(),
            label: "latch:* tags on users and roles, and latch:* session tags".to_owned(),
        },
        Rule {
            layer: LayerKind::Tamper,
            kind: PolicyType::Rcp,
            target: target.to_owned(),
            actions: Actions::Only(ids(&["sts:TagSession"])),
            resources: vec!["*".to_owned()],
            not_resource: false,
            cond: tag_cond,
            label: "latch:* session tags, on the STS side (also federated sessions)".to_owned(),
        },
        Rule {
            layer: LayerKind::Tamper,
            kind: PolicyType::Scp,
            target: target.to_owned(),
            actions: Actions::Only(role_writes),
            resources: vec![cp.to_owned()],
            not_resource: false,
            cond: Cond {
                arn_not_like: only_cp.clone(),
                ..Cond::default()
            },
            label: "the control-plane role".to_owned(),
        },
        Rule {
            layer: LayerKind::Tamper,
            kind: PolicyType::Scp,
            target: target.to_owned(),
            actions: Actions::Only(ids(&["organizations:LeaveOrganization"])),
            resources: vec!["*".to_owned()],
            not_resource: false,
            cond: Cond {
                arn_not_like: only_cp,
                ..Cond::default()
            },
            label: "leaving the organization".to_owned(),
        },
    ];
    out.retain(|r| !matches!(&r.actions, Actions::Only(s) if s.is_empty()));
    out
}

fn is_service_linked(arn: &str) -> bool {
    arn.contains(":role/aws-service-role/")
}

fn who_for(s: &Snapshot, arn: &str, kind: UsageKind) -> Option<Who> {
    if kind == UsageKind::Root || arn.ends_with(":root") {
        let account = latch_policy::arn::account(arn)?.to_owned();
        return Some(Who {
            arn: arn.to_owned(),
            userid_base: Some(account),
            tags: BTreeMap::new(),
            how: Mechanism::Arn,
        });
    }
    let p: Principal<'_> = s.principal(arn)?;
    let ic = p.as_role().is_some_and(|r| r.is_sso_permission_set());
    Some(Who {
        arn: arn.to_owned(),
        userid_base: Some(p.id().to_owned()),
        tags: p
            .tags()
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect(),
        how: if ic {
            Mechanism::UserId
        } else {
            Mechanism::Tag
        },
    })
}

fn userid_of(who: &Who, session: Option<&str>) -> Option<String> {
    let base = who.userid_base.as_ref()?;
    match who.how {
        Mechanism::Arn => Some(base.clone()),
        Mechanism::UserId => Some(format!("{base}:{}", session.unwrap_or("*"))),
        Mechanism::Tag => {
            if who.arn.contains(":role/") {
                Some(format!(
                    "{base}:{}",
                    session.unwrap_or("latch-simulated-session")
                ))
            } else {
                Some(base.clone())
            }
        }
    }
}

fn probe_for(who: &Who, session: Option<&str>, action: Option<ActionId>) -> Probe {
    Probe {
        action,
        principal_arn: who.arn.clone(),
        userid: userid_of(who, session),
        tags: who.tags.clone(),
        request_tag_keys: None,
        region: None,
        resource: "*".to_owned(),
    }
}

/// Keeps one used action (or one it implies) for the identity that used it: a standing
/// exemption from the permission layer for exactly that action, unless a grant, break-glass,
/// permanent or Identity Center exemption already spares the call.
#[expect(clippy::too_many_arguments, reason = "one record of many parts")]
fn keep_action(
    keepers: &mut BTreeMap<ActionId, Keepers>,
    standing: &mut BTreeMap<(String, String, String, Option<String>), Acc>,
    gates: &BTreeMap<String, Gate>,
    bundle_sizes: &BTreeMap<String, usize>,
    bundles: &[String],
    who: &Who,
    session: Option<&String>,
    probe: &Probe,
    name: &str,
    au: &ActionUsage,
    implied_by: Option<&str>,
) {
    let Some(action) = probe.action else { return };
    if bundles
        .iter()
        .any(|b| gates.get(b).is_some_and(|g| g.spares(probe)))
    {
        return;
    }
    let k = keepers.entry(action).or_default();
    let (mechanism, value) = match who.how {
        Mechanism::UserId => {
            let Some(u) = userid_of(who, session.map(String::as_str)) else {
                return;
            };
            k.userids.insert(u.clone());
            ("userid", u)
        }
        Mechanism::Tag | Mechanism::Arn => {
            k.arns.insert(who.arn.clone());
            ("principal-arn", who.arn.clone())
        }
    };
    // The smallest bundle holding the action names the exemption (for people).
    let gate = bundles
        .iter()
        .min_by_key(|b| {
            (
                bundle_sizes.get(*b).copied().unwrap_or(usize::MAX),
                (*b).clone(),
            )
        })
        .cloned()
        .unwrap_or_default();
    let acc = standing
        .entry((
            "permission".to_owned(),
            gate,
            who.arn.clone(),
            session.cloned(),
        ))
        .or_default();
    acc.mechanism = mechanism;
    acc.value = value;
    let e = acc.actions.entry(name.to_owned()).or_insert((0, None));
    e.0 += au.count;
    e.1 = e.1.max(au.last_seen);
    if let Some(by) = implied_by {
        acc.implied
            .entry(name.to_owned())
            .or_default()
            .insert(by.to_owned());
    }
}

/// The role ARNs that `pu`'s role-passing calls `by` passed in the window, when every one of
/// those calls named a role that the snapshot resolves (an instance profile to its role, a
/// role name to the role of the caller's account); `None` otherwise — then `iam:PassRole` is
/// kept on every role, as CloudTrail cannot say which.
fn passed_scope(
    snapshot: &Snapshot,
    pu: &PrincipalUsage,
    by: &BTreeSet<String>,
    w: &UsageWindow,
) -> Option<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for action in by {
        let roles = pu.passed_roles.get(action)?;
        for (role, u) in roles {
            if u.count == 0 || !w.contains(u.last_seen) {
                continue;
            }
            out.extend(resolve_passed(snapshot, &pu.account, role)?);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The grant tags of these bundles' gates, sorted and without duplicates: any one of them
/// exempts from a rule that denies the bundles' actions.
fn grant_tags(bundles: &[String], gates: &BTreeMap<String, Gate>) -> Vec<String> {
    let mut tags: Vec<String> = bundles
        .iter()
        .filter_map(|b| gates.get(b))
        .flat_map(|g| g.grant_tags.iter().cloned())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

/// The resources `pu`'s calls of `action` named in the window, when CloudTrail shows one for
/// every call ([`latch_trail::resources`]); otherwise why the action cannot be scoped.
fn resource_scope(
    named: &BTreeMap<String, BTreeMap<String, ActionUsage>>,
    action: &str,
    w: &UsageWindow,
) -> Result<BTreeSet<String>, String> {
    if latch_trail::resources::naming(action).is_none() {
        return Err(
            "on every resource: CloudTrail does not show which resource its calls used".to_owned(),
        );
    }
    let mut out = BTreeSet::new();
    let mut unnamed = 0;
    for (resource, u) in named.get(action).into_iter().flatten() {
        if u.count == 0 || !w.contains(u.last_seen) {
            continue;
        }
        if resource.is_empty() {
            unnamed += u.count;
        } else {
            out.insert(resource.clone());
        }
    }
    if unnamed > 0 {
        return Err(format!(
            "on every resource: {unnamed} of its calls named no resource CloudTrail shows"
        ));
    }
    if out.is_empty() {
        return Err("on every resource: no call in the window named its resource".to_owned());
    }
    Ok(out)
}

/// The resource patterns a scoped rule keeps: each ARN, and for a Lambda function its
/// versions and aliases too (`function:name:*`), which IAM matches as separate resources
/// (a qualified function ARN does not match the unqualified one).
fn resource_patterns(resources: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for r in resources {
        out.push(r.clone());
        if r.split(':').nth(2) == Some("lambda") {
            out.push(format!("{r}:*"));
        }
    }
    out
}

/// A role as a request names it → role ARNs in the snapshot.
fn resolve_passed(snapshot: &Snapshot, account: &str, named: &str) -> Option<Vec<String>> {
    let roles_of = |acct: String| {
        snapshot
            .principals()
            .filter(move |p| p.account_id() == acct)
            .filter_map(|p| p.as_role())
    };
    if let Some(profile) = named.strip_prefix(INSTANCE_PROFILE_PREFIX) {
        let acct = latch_policy::arn::account(profile).unwrap_or(account);
        let name = profile.rsplit('/').next().unwrap_or(profile);
        let found: Vec<String> = roles_of(acct.to_owned())
            .filter(|r| r.instance_profiles.iter().any(|ip| ip.name == name))
            .map(|r| r.arn.clone())
            .collect();
        return (!found.is_empty()).then_some(found);
    }
    if named.starts_with("arn:") {
        return named.contains(":role/").then(|| vec![named.to_owned()]);
    }
    if named.is_empty() {
        return None;
    }
    roles_of(account.to_owned())
        .find(|r| r.name == named)
        .map(|r| vec![r.arn.clone()])
}

fn exempt(
    who: &mut Who,
    session: Option<&String>,
    gate: &mut Gate,
    tag_key: &str,
    planned: &mut BTreeMap<(String, String), TagAssignment>,
) {
    match who.how {
        Mechanism::Tag => {
            who.tags
                .insert(tag_key.to_ascii_lowercase(), "standing".to_owned());
            planned
                .entry((who.arn.clone(), tag_key.to_owned()))
                .or_insert_with(|| TagAssignment {
                    principal_arn: who.arn.clone(),
                    key: tag_key.to_owned(),
                    value: "standing".to_owned(),
                    reason: "protect mode: standing exemption for actions used in the usage window (see exemptions)".to_owned(),
                });
        }
        Mechanism::UserId => {
            if let Some(u) = userid_of(who, session.map(String::as_str)) {
                gate.userids.insert(u);
            }
        }
        Mechanism::Arn => {
            gate.arns.insert(who.arn.clone());
        }
    }
}

#[expect(clippy::too_many_arguments, reason = "one record of many parts")]
fn record(
    standing: &mut BTreeMap<(String, String, String, Option<String>), Acc>,
    layer: &str,
    gate: &str,
    who: &Who,
    session: Option<&String>,
    action: &str,
    au: &ActionUsage,
    tag_key: &str,
) {
    let acc = standing
        .entry((
            layer.to_owned(),
            gate.to_owned(),
            who.arn.clone(),
            session.cloned(),
        ))
        .or_default();
    let (mechanism, value) = match who.how {
        Mechanism::Tag => ("tag", tag_key.to_owned()),
        Mechanism::UserId => (
            "userid",
            userid_of(who, session.map(String::as_str)).unwrap_or_default(),
        ),
        Mechanism::Arn => ("principal-arn", who.arn.clone()),
    };
    acc.mechanism = mechanism;
    acc.value = value;
    let e = acc.actions.entry(action.to_owned()).or_insert((0, None));
    e.0 += au.count;
    e.1 = e.1.max(au.last_seen);
}

/// Tags each of `keepers` with `key` = `standing` where it has room for another tag; returns
/// those that stay named: root users, identities the snapshot does not have, and those that
/// already carry IAM's quota of tags.
fn tag_keepers(
    snapshot: &Snapshot,
    keepers: &BTreeSet<String>,
    key: &str,
    reason: &str,
    planned: &mut BTreeMap<(String, String), TagAssignment>,
) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for arn in keepers {
        let Some(p) = snapshot.principal(arn) else {
            named.insert(arn.clone());
            continue;
        };
        let has = |k: &str| p.tags().iter().any(|(t, _)| t.eq_ignore_ascii_case(k));
        let planned_here = planned
            .range((arn.clone(), String::new())..)
            .take_while(|((a, _), _)| a == arn)
            .filter(|((_, k), _)| !has(k))
            .count();
        if !has(key)
            && p.tags().len() + planned_here >= latch_catalog::limits::IAM_TAGS_PER_IDENTITY
        {
            named.insert(arn.clone());
            continue;
        }
        planned.insert(
            (arn.clone(), key.to_owned()),
            TagAssignment {
                principal_arn: arn.clone(),
                key: key.to_owned(),
                value: "standing".to_owned(),
                reason: reason.to_owned(),
            },
        );
    }
    named
}

/// The statements of one scoped exemption at `target`: `action` denied on every resource but
/// `resources` to the identities `who` keep it for, named by ARN — or, when they are too many
/// to name (`tagged`: the scope's tag and who stays named), to those carrying the tag, and the
/// few still named in a statement of their own.
fn scoped_rules(
    target: &str,
    action: ActionId,
    resources: Vec<String>,
    tags: &[String],
    who: &BTreeSet<String>,
    tagged: Option<&(String, BTreeSet<String>)>,
    label: &str,
) -> Vec<Rule> {
    let variants: Vec<(Vec<String>, Option<String>)> = match tagged {
        None => vec![(who.iter().cloned().collect(), None)],
        Some((key, named)) => {
            let mut out = vec![(Vec::new(), Some(key.clone()))];
            if !named.is_empty() {
                out.push((named.iter().cloned().collect(), None));
            }
            out
        }
    };
    variants
        .into_iter()
        .map(|(arn_like, present_tag)| Rule {
            layer: LayerKind::Permission,
            kind: PolicyType::Scp,
            target: target.to_owned(),
            actions: Actions::Only(BTreeSet::from([action])),
            resources: resources.clone(),
            not_resource: true,
            cond: Cond {
                absent_tags: tags.to_vec(),
                arn_like,
                present_tag,
                ..Cond::default()
            },
            label: label.to_owned(),
        })
        .collect()
}

/// Whether the keepers of one bundle rule are too many to name: the ARNs of one account's
/// keepers would take more than half of an SCP's `limit` characters, or all of them would and
/// splitting them by account ([`split_by_account`]) would leave the rule at the top a list of
/// accounts to spare that itself takes more than half (the management account's keepers do
/// not count: SCPs do not govern it).
fn too_many_to_name(org: &OrgShape, keepers: &BTreeSet<String>, limit: usize) -> bool {
    let mut per_account: BTreeMap<&str, usize> = BTreeMap::new();
    for arn in keepers {
        if let Some(a) = latch_policy::arn::account(arn).filter(|a| !org.is_management(a)) {
            *per_account.entry(a).or_default() += arn.len() + 3;
        }
    }
    let total: usize = per_account.values().sum();
    // `"123456789012",` for each account the split spares at the top.
    let spared = per_account.len() * 15;
    per_account.values().any(|&n| n > limit / 2) || (total > limit / 2 && spared > limit / 2)
}

/// The tag that exempts the keepers of one group of actions: `latch:keep:` and a 64-bit
/// FNV-1a hash of the actions' names, so that the same actions give the same tag in every
/// plan.
fn keep_tag_key(actions: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, a) in actions.iter().enumerate() {
        if i > 0 {
            h ^= u64::from(b',');
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in a.bytes() {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{}{h:016x}", latch_contract::KEEP_TAG_PREFIX)
}

/// The keepers of one bundle rule at `target`, by account, when naming them all in one
/// statement there would take more than half of an SCP's `limit` characters (two such
/// statements fill a policy, and past the limit none can hold one); `None`
/// when they fit, or all belong to one account. Each account's list is short: a rule attached
/// to that account names only its own keepers.
fn split_by_account(
    org: &OrgShape,
    target: &str,
    keepers: &BTreeSet<String>,
    account_of: &dyn Fn(&str) -> Option<String>,
    limit: usize,
) -> Option<BTreeMap<String, Vec<String>>> {
    // `"arn",` for each: what the ArnNotLike list costs in the rendered policy.
    let size: usize = keepers.iter().map(|a| a.len() + 3).sum();
    if size <= limit / 2 {
        return None;
    }
    let under: BTreeSet<String> = org.accounts_under(target).into_iter().collect();
    let mut per_account: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for arn in keepers {
        // SCPs do not govern the management account: its keepers stay where they are.
        if let Some(a) = account_of(arn).filter(|a| under.contains(a) && !org.is_management(a)) {
            per_account.entry(a).or_default().push(arn.clone());
        }
    }
    (per_account.len() > 1).then_some(per_account)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn global_actions_are_known() {
        let c = Catalog::get();
        for p in GLOBAL_ACTIONS {
            assert!(!c.expand_ids(p).is_empty(), "{p} matches nothing");
        }
    }

    #[test]
    fn role_passing_actions_are_known() {
        let c = Catalog::get();
        for a in ROLE_PASSING_ACTIONS {
            assert!(c.resolve(a).is_some(), "{a} is not in the catalog");
        }
    }

    #[test]
    fn window_is_inclusive_of_as_of() {
        let d = Date::parse("2026-11-20").unwrap();
        let w = UsageWindow::ending(d, 90);
        assert!(w.contains(Timestamp::parse("2026-11-20T23:59:59Z")));
        assert!(!w.contains(Timestamp::parse("2026-11-21T00:00:00Z")));
        assert!(w.contains(Timestamp::parse("2026-08-23T00:00:00Z")));
        assert!(!w.contains(Timestamp::parse("2026-08-22T23:59:59Z")));
    }

    /// The example organization's shape: root `r-x1y2`, its OUs and accounts.
    fn example_org() -> OrgShape {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/org");
        OrgShape::from_snapshot(&latch_model::load::snapshot(&dir).unwrap())
    }

    fn roles(account: &str, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("arn:aws:iam::{account}:role/deploy-pipeline-{i:03}"))
            .collect()
    }

    #[test]
    fn keepers_too_many_for_one_statement_are_split_by_account() {
        let org = example_org();
        let by_arn = |a: &str| latch_policy::arn::account(a).map(str::to_owned);
        let root = org.root_id.clone();
        let limit = 10_240;
        // 60 roles in each of two accounts, about 60 characters each: 7,000 characters in
        // one list, more than half an SCP.
        let mut many: BTreeSet<String> = roles("300000000004", 60).into_iter().collect();
        many.extend(roles("400000000006", 60));
        let split = split_by_account(&org, &root, &many, &by_arn, limit).unwrap();
        assert_eq!(
            split.keys().collect::<Vec<_>>(),
            ["300000000004", "400000000006"]
        );
        assert!(split.values().all(|v| v.len() == 60));
        assert!(split
            .iter()
            .all(|(a, v)| v.iter().all(|arn| arn.contains(&format!("::{a}:")))));
        // Keepers in the management account, which SCPs do not govern, get no statement of
        // their own.
        let mut with_management = many.clone();
        with_management.extend(roles("100000000001", 60));
        let split = split_by_account(&org, &root, &with_management, &by_arn, limit).unwrap();
        assert!(!split.contains_key("100000000001"));
        assert_eq!(split.len(), 2);
        // A few keepers stay at the target.
        let few: BTreeSet<String> = roles("300000000004", 3)
            .into_iter()
            .chain(roles("400000000006", 3))
            .collect();
        assert!(split_by_account(&org, &root, &few, &by_arn, limit).is_none());
        // Many keepers of one account: splitting would change nothing.
        let one: BTreeSet<String> = roles("300000000004", 200).into_iter().collect();
        assert!(split_by_account(&org, &root, &one, &by_arn, limit).is_none());
        // At an account target, only that account's keepers concern it.
        assert!(split_by_account(&org, "300000000004", &many, &by_arn, limit).is_none());
    }

    #[test]
    fn keepers_are_too_many_to_name_past_half_a_policy_in_one_account_or_in_accounts_spared() {
        let org = example_org();
        let limit = 10_240;
        // Split by account, each account's list fits: named.
        let mut many: BTreeSet<String> = roles("300000000004", 60).into_iter().collect();
        many.extend(roles("400000000006", 60));
        assert!(!too_many_to_name(&org, &many, limit));
        // One account alone past half a policy: tagged.
        let one: BTreeSet<String> = roles("300000000004", 200).into_iter().collect();
        assert!(too_many_to_name(&org, &one, limit));
        // The management account's keepers do not count.
        let management: BTreeSet<String> = roles("100000000001", 200).into_iter().collect();
        assert!(!too_many_to_name(&org, &management, limit));
        // One keeper in each member account, each list short, but the accounts to spare at
        // the top would take more than half of a (small) policy.
        let members: Vec<String> = org
            .accounts_under(&org.root_id)
            .into_iter()
            .filter(|a| !org.is_management(a))
            .collect();
        assert!(members.len() >= 5, "{members:?}");
        let spread: BTreeSet<String> = members.iter().flat_map(|a| roles(a, 1)).collect();
        assert!(!too_many_to_name(&org, &spread, 10_240));
        assert!(too_many_to_name(&org, &spread, 130));
    }

    #[test]
    fn a_keep_tag_names_its_actions_stably_and_apart() {
        let a = keep_tag_key(&["iam:PassRole", "sts:AssumeRole"]);
        assert_eq!(a, keep_tag_key(&["iam:PassRole", "sts:AssumeRole"]));
        assert!(a.starts_with("latch:keep:") && a.len() == "latch:keep:".len() + 16);
        assert_ne!(a, keep_tag_key(&["iam:PassRole"]));
        assert_ne!(a, keep_tag_key(&["iam:PassRoles", "ts:AssumeRole"]));
    }

    #[test]
    fn a_rule_sparing_accounts_spares_their_principals_only() {
        let rule = Cond {
            accounts_not: vec!["300000000004".to_owned()],
            ..Cond::default()
        };
        let probe = |arn: &str| Probe {
            principal_arn: arn.to_owned(),
            ..Probe::default()
        };
        assert!(!rule.holds(&probe("arn:aws:iam::300000000004:role/app")));
        assert!(rule.holds(&probe("arn:aws:iam::400000000006:role/app")));
        // An ARN without an account is not spared (fail closed).
        assert!(rule.holds(&probe("not-an-arn")));
    }
}
