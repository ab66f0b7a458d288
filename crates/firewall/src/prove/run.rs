//! Running the scenarios: picking the attacker and the target, evaluating each step today
//! and with the plan, and judging whether the plan blocks it and the scan detects it.

#[allow(clippy::wildcard_imports)]
use super::*;

#[derive(Clone, Copy)]
pub(super) struct Names<'n> {
    pub(super) scps: &'n [Named],
    pub(super) rcps: &'n [Named],
    pub(super) scp_nodes: &'n [String],
    pub(super) rcp_nodes: &'n [String],
    pub(super) identity: &'n [String],
    pub(super) boundary: Option<&'n str>,
}

pub(super) fn outcome(ev: &latch_policy::Evaluation<'_>, names: &Names<'_>) -> Outcome {
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
pub(super) struct Vars(BTreeMap<&'static str, String>);

impl Vars {
    pub(super) fn fill(&self, t: &str) -> String {
        let mut out = t.to_owned();
        for (k, v) in &self.0 {
            out = out.replace(&format!("${{{k}}}"), v);
        }
        out
    }
}

pub(super) fn last_segment(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_owned()
}

pub(super) fn holds(snapshot_principal: &Principal<'_>, action: &str) -> Option<bool> {
    let id = Catalog::get().resolve(action)?;
    Some(crate::generate::allowed_actions(snapshot_principal).contains(id))
}

pub(super) fn return_admin_detection(arn: &str) -> Detection {
    Detection {
        method: "admin-equivalent".to_owned(),
        status: "detected".to_owned(),
        detail: format!(
            "`{arn}` is admin-equivalent today (the scan reports it as an admin identity): it needs no escalation to do this"
        ),
    }
}

pub(super) fn skipped(s: &Scenario, why: String) -> ScenarioResult {
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

pub(super) fn run_one(
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
