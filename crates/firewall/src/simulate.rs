//! Simulate before enforce: every observed call of the usage window, evaluated by the engine
//! against today's policies and against today's plus the plan's SCPs and RCPs (with the plan's
//! tags applied), listing the calls the plan would deny.
//!
//! Only the plan itself is read (its policies and tags), so a plan loaded from disk can be
//! simulated again. Calls are evaluated on the resource CloudTrail shows they named (the
//! role an `sts:AssumeRole` assumed, the Lambda function called, per person for the people of an
//! Identity Center role; see `latch_trail::resources`),
//! and on `*` in the caller's account where it shows none; the calls happened, so what matters
//! is whether a plan statement denies them.

use std::collections::BTreeMap;

use latch_catalog::Catalog;
use latch_model::Snapshot;
use latch_policy::compile::CPolicy;
use latch_policy::context::Context;
use latch_policy::{Decision, Layer, Policy, PolicySet, Request};
use latch_trail::{ActionUsage, PrincipalKind as UsageKind, Timestamp, UsageTable};
use serde::{Deserialize, Serialize};

use crate::generate::UsageWindow;
use crate::intent::LayerKind;
use crate::plan::Plan;

/// A call the plan would deny.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BrokenCall {
    /// The user or role.
    pub principal_arn: String,
    /// The person, for Identity Center roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The action.
    pub action: String,
    /// The resource the calls named, when CloudTrail shows it (`sts:AssumeRole`'s role,
    /// a Lambda function); otherwise the calls were replayed on `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Calls in the window.
    pub count: u64,
    /// Last call.
    pub last_seen: Option<Timestamp>,
    /// `policy/Sid` of the plan statement that denies it.
    pub denied_by: String,
    /// Its layer.
    pub layer: String,
    /// The engine's decision on today's policies (`Allow` unless the call's resource matters).
    pub today: String,
}

/// What the simulation found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Simulation {
    /// Whether there was usage to replay.
    pub cloudtrail: bool,
    /// Distinct (principal, person, action) calls replayed.
    pub pairs_evaluated: u64,
    /// Calls (sum of counts) replayed.
    pub calls_evaluated: u64,
    /// Calls (sum of counts) the plan would deny.
    pub calls_broken: u64,
    /// Each denied (principal, person, action), sorted.
    pub broken: Vec<BrokenCall>,
    /// Replayed pairs the engine does not allow even today on `*` (resource-scoped grants,
    /// conditions on the real request): evaluated all the same.
    pub not_allowed_today_on_any_resource: u64,
    /// Calls by principals the snapshot does not hold (not evaluated).
    pub unknown_principals: Vec<String>,
    /// Notes on what the replay assumes.
    pub notes: Vec<String>,
}

/// A plan that cannot be simulated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plan policy `{policy}`: {reason}")]
pub struct SimulateError {
    /// The policy.
    pub policy: String,
    /// Why.
    pub reason: String,
}

/// Named compiled policies attached at one node: (SCPs, RCPs).
type NodePolicies = (Vec<(String, CPolicy)>, Vec<(String, CPolicy)>);

struct PlanPolicies {
    /// node → (scps, rcps) with their names.
    by_node: BTreeMap<String, NodePolicies>,
}

fn compile_plan(plan: &Plan) -> Result<PlanPolicies, SimulateError> {
    let mut by_node: BTreeMap<String, NodePolicies> = BTreeMap::new();
    for p in &plan.policies {
        let err = |reason: String| SimulateError {
            policy: p.name.clone(),
            reason,
        };
        let doc = Policy::from_json_str(&p.content).map_err(|e| err(e.to_string()))?;
        let (layer, rcp) = match p.kind {
            latch_catalog::PolicyType::Scp => (Layer::Scp, false),
            latch_catalog::PolicyType::Rcp => (Layer::Rcp, true),
        };
        let c = CPolicy::compile(&doc, layer).map_err(|e| err(e.to_string()))?;
        for t in &p.targets {
            let slot = by_node.entry(t.clone()).or_default();
            if rcp {
                slot.1.push((p.name.clone(), c.clone()));
            } else {
                slot.0.push((p.name.clone(), c.clone()));
            }
        }
    }
    Ok(PlanPolicies { by_node })
}

/// Checks that every SCP and RCP attached today compiles for its layer. The simulation (and
/// `latch prove`) must not drop one: a lost Deny would make today look more open than it is,
/// a lost Allow would make every call look denied, before and after the plan alike — so a
/// policy the engine refuses stops the run, naming it (fail closed).
pub(crate) fn check_todays_policies(snapshot: &Snapshot) -> Result<(), SimulateError> {
    let Some(org) = &snapshot.organization else {
        return Ok(());
    };
    let mut stack = vec![&org.root];
    while let Some(node) = stack.pop() {
        for (list, layer) in [(&node.scps, Layer::Scp), (&node.rcps, Layer::Rcp)] {
            for p in list {
                CPolicy::compile(&p.document.policy, layer).map_err(|e| SimulateError {
                    policy: format!("{} ({}, attached to {})", p.name, p.id, node.id),
                    reason: format!(
                        "today's {} does not compile: {e}",
                        layer.name().to_uppercase()
                    ),
                })?;
            }
        }
        stack.extend(node.children.iter());
    }
    Ok(())
}

/// Today's SCP/RCP levels of an account with node ids; a made-up root + account (holding
/// FullAWSAccess) when the snapshot has no organization.
fn levels(
    snapshot: &Snapshot,
    root_id: &str,
    account: &str,
) -> (Vec<String>, Vec<Vec<CPolicy>>, Vec<Vec<CPolicy>>) {
    match &snapshot.organization {
        Some(org) => {
            let path = org.path_to(account).unwrap_or_default();
            let ids = path.iter().map(|n| n.id.clone()).collect();
            // Every one compiles: `simulate` checks them first (`check_todays_policies`).
            let comp = |docs: &[latch_model::ControlPolicy], layer: Layer| {
                docs.iter()
                    .filter_map(|d| CPolicy::compile(&d.document.policy, layer).ok())
                    .collect::<Vec<_>>()
            };
            let scps = path.iter().map(|n| comp(&n.scps, Layer::Scp)).collect();
            let rcps = path.iter().map(|n| comp(&n.rcps, Layer::Rcp)).collect();
            (ids, scps, rcps)
        }
        None => {
            let full = Policy::from_json_str(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            )
            .ok()
            .and_then(|p| CPolicy::compile(&p, Layer::Scp).ok());
            let level = || full.clone().into_iter().collect::<Vec<_>>();
            (
                vec![root_id.to_owned(), account.to_owned()],
                vec![level(), level()],
                vec![Vec::new(), Vec::new()],
            )
        }
    }
}

/// The RCPs of one resource account: today's levels, the levels with the plan's RCPs added,
/// and the names of the plan's RCPs at each level (to say which of them denied a call).
struct RcpSide {
    today: Vec<Vec<CPolicy>>,
    after: Vec<Vec<CPolicy>>,
    names: Vec<Vec<String>>,
}

fn rcp_side(compiled: &PlanPolicies, ids: &[String], rcps: &[Vec<CPolicy>]) -> RcpSide {
    let mut after = rcps.to_vec();
    let mut names = Vec::with_capacity(ids.len());
    for (l, node) in ids.iter().enumerate() {
        let rs = compiled
            .by_node
            .get(node)
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        if let Some(level) = after.get_mut(l) {
            level.extend(rs.iter().map(|(_, c)| c.clone()));
        }
        names.push(rs.into_iter().map(|(n, _)| n).collect());
    }
    RcpSide {
        today: rcps.to_vec(),
        after,
        names,
    }
}

struct Subject {
    principal: String,
    account: String,
    identity: PolicySet,
    base_ctx: Context,
    userid_base: String,
    is_role: bool,
}

fn subject(snapshot: &Snapshot, arn: &str, kind: UsageKind) -> Option<Subject> {
    if kind == UsageKind::Root || arn.ends_with(":root") {
        let account = latch_policy::arn::account(arn)?.to_owned();
        let mut ctx = Context::default();
        if let Some(org) = &snapshot.organization {
            if let Some(id) = &org.id {
                ctx.insert("aws:PrincipalOrgID", vec![id.clone()], false);
            }
        }
        return Some(Subject {
            principal: arn.to_owned(),
            userid_base: account.clone(),
            account,
            identity: PolicySet {
                rcp_services: Catalog::get().rcp_services(),
                ..PolicySet::default()
            },
            base_ctx: ctx,
            is_role: false,
        });
    }
    let p = snapshot.principal(arn)?;
    let set = p.effective_policies().to_policy_set().ok()?;
    Some(Subject {
        principal: arn.to_owned(),
        account: p.account_id().to_owned(),
        identity: set,
        base_ctx: p.request_context(),
        userid_base: p.id().to_owned(),
        is_role: p.as_role().is_some(),
    })
}

/// Replays the usage window against the plan.
///
/// `region` is the `aws:RequestedRegion` to assume (the usage table does not record regions);
/// `None` leaves it out of the request.
pub fn simulate(
    snapshot: &Snapshot,
    usage: Option<&UsageTable>,
    window: Option<UsageWindow>,
    plan: &Plan,
    region: Option<&str>,
) -> Result<Simulation, SimulateError> {
    check_todays_policies(snapshot)?;
    let compiled = compile_plan(plan)?;
    let mut sim = Simulation::default();
    let (Some(usage), Some(window)) = (usage, window) else {
        sim.notes.push("no CloudTrail data: nothing to replay, so no call is known to break — which proves nothing".to_owned());
        return Ok(sim);
    };
    sim.cloudtrail = true;
    if let Some(r) = region {
        sim.notes.push(format!(
            "the usage table does not record regions: calls were replayed in `{r}`"
        ));
    }
    sim.notes.push("actions CloudTrail does not record (iam:PassRole, most data events unless enabled) cannot be replayed".to_owned());
    let mut tags: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for t in &plan.tags {
        tags.entry(t.principal_arn.as_str())
            .or_default()
            .push((t.key.as_str(), t.value.as_str()));
    }
    let mgmt = snapshot.management_account_id();
    let catalog = Catalog::get();
    for (arn, pu) in &usage.principals {
        let calls: Vec<(Option<&String>, &BTreeMap<String, ActionUsage>)> =
            if pu.kind == UsageKind::IdentityCenterRole && !pu.sessions.is_empty() {
                pu.sessions
                    .iter()
                    .map(|(s, su)| (Some(s), &su.actions))
                    .collect()
            } else {
                vec![(None, &pu.actions)]
            };
        let any_in_window = calls.iter().any(|(_, a)| {
            a.values()
                .any(|u| u.count > 0 && window.contains(u.last_seen))
        });
        if !any_in_window {
            continue;
        }
        let Some(subj) = subject(snapshot, arn, pu.kind) else {
            sim.unknown_principals.push(arn.clone());
            continue;
        };
        let (ids, scps, rcps) = levels(snapshot, &plan.organization.root_id, &subj.account);
        let mut today = subj.identity.clone();
        today.management_account = mgmt.map(str::to_owned);
        let mut after = today.clone();
        // SCPs are the caller's account's; RCPs the resource's account's: the caller's own for
        // calls on its resources (and on `*`), another's for the calls on resources CloudTrail
        // shows in another account (`rcp_sides`, built when first needed).
        let own_rcps = rcp_side(&compiled, &ids, &rcps);
        let mut rcp_sides: BTreeMap<String, (RcpSide, PolicySet, PolicySet)> = BTreeMap::new();
        {
            today.scps = snapshot.organization.as_ref().map(|_| scps.clone());
            today.rcps = snapshot.organization.as_ref().map(|_| rcps.clone());
            let mut a_scps = scps.clone();
            let mut scp_names: Vec<Vec<String>> = Vec::new();
            for (l, node) in ids.iter().enumerate() {
                let ps = compiled
                    .by_node
                    .get(node)
                    .map(|(s, _)| s.clone())
                    .unwrap_or_default();
                if let Some(level) = a_scps.get_mut(l) {
                    level.extend(ps.iter().map(|(_, c)| c.clone()));
                }
                scp_names.push(ps.into_iter().map(|(n, _)| n).collect());
            }
            after.scps = Some(a_scps);
            after.rcps = Some(own_rcps.after.clone());
            let mut ctx_after = subj.base_ctx.clone();
            for (k, v) in tags.get(arn.as_str()).into_iter().flatten() {
                ctx_after.insert(
                    &format!("aws:PrincipalTag/{k}"),
                    vec![(*v).to_owned()],
                    false,
                );
            }
            for (session, actions) in calls {
                let userid = if subj.is_role {
                    format!(
                        "{}:{}",
                        subj.userid_base,
                        session.map_or("latch-simulated-session", String::as_str)
                    )
                } else {
                    subj.userid_base.clone()
                };
                let mut before_ctx = subj.base_ctx.clone();
                let mut after_ctx = ctx_after.clone();
                for c in [&mut before_ctx, &mut after_ctx] {
                    c.insert("aws:userid", vec![userid.clone()], false);
                    if let Some(r) = region {
                        c.insert("aws:RequestedRegion", vec![r.to_owned()], false);
                    }
                }
                for (action, au) in actions {
                    if au.count == 0 || !window.contains(au.last_seen) {
                        continue;
                    }
                    let name = catalog
                        .action(action)
                        .map_or(action.as_str(), |a| a.full_name());
                    // The calls whose resource CloudTrail shows are replayed on it (a standing
                    // exemption may keep the action on those resources only); the others
                    // on `*`. A person's calls on the resources that person's calls named.
                    let named = match session {
                        None => pu.resources.get(action),
                        Some(s) => pu.sessions.get(s).and_then(|su| su.resources.get(action)),
                    };
                    let mut targets: Vec<(Option<&str>, u64)> = named
                        .into_iter()
                        .flatten()
                        .filter(|(r, u)| !r.is_empty() && u.count > 0)
                        .map(|(r, u)| (Some(r.as_str()), u.count.min(au.count)))
                        .collect();
                    let on_named: u64 = targets.iter().map(|t| t.1).sum();
                    if on_named < au.count {
                        targets.push((None, au.count - on_named));
                    }
                    sim.pairs_evaluated += 1;
                    sim.calls_evaluated += au.count;
                    let mut counted_today = false;
                    for (resource, count) in targets {
                        let (target, target_account) = match resource {
                            Some(r) => (r, latch_policy::arn::account(r).filter(|a| !a.is_empty())),
                            None => ("*", None),
                        };
                        let req = |ctx: &Context| {
                            Request::new(
                                &subj.principal,
                                name,
                                target,
                                Some(target_account.unwrap_or(&subj.account)),
                                ctx.clone(),
                            )
                        };
                        let (Ok(rb), Ok(ra)) = (req(&before_ctx), req(&after_ctx)) else {
                            continue;
                        };
                        // Another account's resource: the same sets with that account's RCPs
                        // (built once per caller and account).
                        let elsewhere = target_account.filter(|a| *a != subj.account);
                        let (side, today, after): (&RcpSide, &PolicySet, &PolicySet) =
                            match elsewhere {
                                None => (&own_rcps, &today, &after),
                                Some(a) => {
                                    let (side, t, af) =
                                        rcp_sides.entry(a.to_owned()).or_insert_with(|| {
                                            let (ids, _, rcps) =
                                                levels(snapshot, &plan.organization.root_id, a);
                                            let side = rcp_side(&compiled, &ids, &rcps);
                                            let mut t = today.clone();
                                            let mut af = after.clone();
                                            t.rcps = snapshot
                                                .organization
                                                .as_ref()
                                                .map(|_| side.today.clone());
                                            af.rcps = Some(side.after.clone());
                                            (side, t, af)
                                        });
                                    (&*side, &*t, &*af)
                                }
                            };
                        let before = today.evaluate(&rb);
                        if before.decision != Decision::Allow && !counted_today {
                            counted_today = true;
                            sim.not_allowed_today_on_any_resource += 1;
                        }
                        let ev = after.evaluate(&ra);
                        if ev.decision == Decision::Allow {
                            continue;
                        }
                        // Was it one of the plan's statements?
                        let by_plan = ev.statements.iter().find_map(|m| {
                            if m.effect != latch_policy::document::Effect::Deny {
                                return None;
                            }
                            let l = m.level?;
                            let (existing, plan_names) = match m.layer {
                                Layer::Scp => (scps.get(l)?.len(), scp_names.get(l)?),
                                Layer::Rcp => (side.today.get(l)?.len(), side.names.get(l)?),
                                _ => return None,
                            };
                            let name = plan_names.get(m.policy.checked_sub(existing)?)?;
                            let sid = m.sid.unwrap_or("");
                            Some((format!("{name}/{sid}"), LayerKind::from_sid(sid)))
                        });
                        if let Some((denied_by, layer)) = by_plan {
                            sim.calls_broken += count;
                            sim.broken.push(BrokenCall {
                                principal_arn: arn.clone(),
                                session: session.cloned(),
                                action: name.to_owned(),
                                resource: resource.map(str::to_owned),
                                count,
                                last_seen: au.last_seen,
                                denied_by,
                                layer: layer.map_or("?", LayerKind::as_str).to_owned(),
                                today: before.decision.name().to_owned(),
                            });
                        }
                    }
                }
            }
        }
    }
    sim.broken.sort();
    sim.unknown_principals.sort();
    Ok(sim)
}
