//! The evaluation environment: each account's SCP/RCP chain with today's and the plan's
//! policies, and the principals as the engine sees them.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) type Named = Vec<(String, CPolicy)>;

/// The SCP/RCP chain of one account: node ids with today's and the plan's policies per level.
pub(super) struct Chain {
    pub(super) nodes: Vec<String>,
    pub(super) today_scps: Vec<Named>,
    pub(super) today_rcps: Vec<Named>,
    pub(super) plan_scps: Vec<Named>,
    pub(super) plan_rcps: Vec<Named>,
    /// Whether the snapshot has an organization (without one, today has no SCPs at all).
    pub(super) org: bool,
    /// Whether the plan's policies reach the account: it is a member of the organization, or
    /// the snapshot has none (the plan was made for accounts directly under a root). An
    /// account outside the organization is governed by no SCP or RCP, today or after.
    pub(super) governed: bool,
}

pub(super) struct Env<'a> {
    pub(super) snapshot: &'a Snapshot,
    pub(super) graph: GraphContext<'a>,
    pub(super) plan_by_node: BTreeMap<String, (Named, Named)>,
    pub(super) root_id: String,
    pub(super) tags: BTreeMap<String, Vec<(String, String)>>,
    pub(super) exempt: Vec<String>,
    /// (principal or pattern, "kind exemption from layer `gate`: reason").
    /// (principal, the actions kept — empty for the whole gate, why).
    pub(super) exemption_list: Vec<(String, Vec<String>, String)>,
    pub(super) control_plane: String,
    pub(super) region: String,
    pub(super) org_id: String,
    pub(super) management: Option<String>,
}

pub(super) fn compile_named(
    doc: &Policy,
    layer: Layer,
    name: &str,
) -> Result<CPolicy, SimulateError> {
    CPolicy::compile(doc, layer).map_err(|e| SimulateError {
        policy: name.to_owned(),
        reason: e.to_string(),
    })
}

/// Today's policies at one node. Every one compiles: `prove` checks them first
/// (`check_todays_policies`), so none is dropped here.
pub(super) fn today_named(list: &[ControlPolicy], layer: Layer) -> Named {
    list.iter()
        .filter_map(|p| {
            CPolicy::compile(&p.document.policy, layer)
                .ok()
                .map(|c| (p.name.clone(), c))
        })
        .collect()
}

pub(super) fn full_access(layer: Layer) -> Named {
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
    pub(super) fn new(
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

    pub(super) fn chain(&self, account: &str) -> Chain {
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
    pub(super) fn exemptions_of(&self, arn: &str, action: &str) -> Vec<String> {
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

    pub(super) fn is_exempt(&self, arn: &str) -> bool {
        self.exempt
            .iter()
            .any(|p| p == arn || latch_policy::glob::matches_str(p, arn))
            || latch_policy::glob::matches_str(&self.control_plane, arn)
    }

    /// Principals that can be chosen: not service-linked, not in the management account
    /// (SCPs do not govern it), not exempted by the plan, of the right kind.
    pub(super) fn candidate(&self, i: usize, kind: Option<PrincipalKind>) -> bool {
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

    pub(super) fn pick_attacker(&self, sel: &AttackerSelector) -> Option<(usize, String)> {
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

    pub(super) fn pick_target(
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
    pub(super) fn evaluate(
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
