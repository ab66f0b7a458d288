//! What the rules on existing resources share (`update-code`, `ssm-command`,
//! `instance-connect`, `glue-dev-endpoint`): a role that a service runs resources as, and a
//! principal of the same account that may take over every such resource.
//!
//! Where the snapshot inventories the account's resources of the kind (`workloads.json`, which
//! `latch collect` writes), the rules follow the real links: each resource, the role it runs
//! as, and whether the source may take over *that* resource (its ARN), so a grant on one named
//! function or instance counts, and a role no resource runs as is not reached.
//!
//! Where it does not, the rules assume that the account has a resource running as each role
//! that trusts the service (and, for EC2, has an instance profile), and require the source to
//! hold the action on every resource of that type in the account ([`Need::Every`]); every edge
//! says so in its detail.

use std::collections::BTreeMap;

use latch_model::workloads::{Workload, WorkloadKind};

use super::context::{GraphContext, Need};
use super::{Edge, Target, Technique};

/// One action a technique needs: action, resource ARN template, how the resource is named.
pub(super) type ResourceAction = (&'static str, &'static str, Need);

/// How a principal takes over resources that run as a role.
#[derive(Debug)]
pub(super) struct RunsAsSpec {
    /// The technique reported.
    pub technique: Technique,
    /// The service principal the role must trust.
    pub service: &'static str,
    /// The kind of resource taken over, as the snapshot's inventory names it (`None`: a kind
    /// `latch collect` does not inventory, always assumed to exist).
    pub kind: Option<WorkloadKind>,
    /// Only roles with an instance profile (EC2).
    pub needs_instance_profile: bool,
    /// Ways to take over a resource; each needs all of its actions.
    pub ways: &'static [&'static [ResourceAction]],
    /// The resources taken over, for the explanation ("Lambda functions").
    pub resources: &'static str,
    /// What taking over means, before "every one of the account's ...", for the explanation
    /// ("replace the code or configuration of").
    pub takeover: &'static str,
}

fn usable_way(
    ctx: &GraphContext<'_>,
    src: usize,
    ways: &[&[ResourceAction]],
) -> Option<Vec<(&'static str, String, Vec<String>)>> {
    let account = ctx.account(src);
    ways.iter().find_map(|way| {
        if !way.iter().all(|(a, _, _)| ctx.may(src, a)) {
            return None;
        }
        way.iter()
            .map(|(action, template, need)| {
                ctx.allowed_on(src, action, template, account, *need, &[])
                    .map(|(resource, labels)| (*action, resource, labels))
            })
            .collect()
    })
}

/// The resources of the spec's kind in `account`, when the snapshot inventories them all.
fn inventoried<'a>(
    ctx: &GraphContext<'a>,
    account: &str,
    kind: WorkloadKind,
) -> Option<Vec<&'a Workload>> {
    let w = ctx.snapshot.accounts.get(account)?.workloads.as_ref()?;
    w.knows(kind).then(|| w.of(kind).collect())
}

/// The region of an ARN (`arn:aws:lambda:REGION:...`).
fn region_of(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or("")
}

/// Whether each action of each way names one resource of `workload`'s shape (its template,
/// filled for the account and the resource's region, has a `{name}` and the resource's ARN
/// starts with what precedes it); computed once per resource, not once per principal.
fn named_on(ways: &[&[ResourceAction]], account: &str, workload: &Workload) -> Vec<Vec<bool>> {
    let region = region_of(&workload.arn);
    ways.iter()
        .map(|way| {
            way.iter()
                .map(|(_, template, _)| {
                    let shape = template
                        .replace("{account}", account)
                        .replace("{region}", region);
                    let prefix = shape.split("{name}").next().unwrap_or(&shape);
                    shape.contains("{name}") && workload.arn.starts_with(prefix)
                })
                .collect()
        })
        .collect()
}

/// A way to take over one inventoried resource: each action on that resource when its
/// template names resources of its shape (`named`, from [`named_on`]), else as the spec says.
fn usable_way_on(
    ctx: &GraphContext<'_>,
    src: usize,
    ways: &[&[ResourceAction]],
    workload: &Workload,
    named: &[Vec<bool>],
) -> Option<Vec<(&'static str, String, Vec<String>)>> {
    let account = ctx.account(src);
    ways.iter().zip(named).find_map(|(way, named)| {
        if !way.iter().all(|(a, _, _)| ctx.may(src, a)) {
            return None;
        }
        way.iter()
            .zip(named)
            .map(|((action, template, need), &named)| {
                if named {
                    ctx.evaluate(src, action, &workload.arn, Some(account), None, &[])
                        .map(|labels| (*action, workload.arn.clone(), labels))
                } else {
                    ctx.allowed_on(src, action, template, account, *need, &[])
                        .map(|(resource, labels)| (*action, resource, labels))
                }
            })
            .collect()
    })
}

fn summary(way: &[(&'static str, String, Vec<String>)]) -> (Vec<String>, String, Vec<String>) {
    let mut actions: Vec<String> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for (a, _, l) in way {
        if !actions.iter().any(|x| x == a) {
            actions.push((*a).to_owned());
        }
        for x in l {
            if !labels.contains(x) {
                labels.push(x.clone());
            }
        }
    }
    let uses = way
        .iter()
        .map(|(a, r, _)| format!("{a} on `{r}`"))
        .collect::<Vec<_>>()
        .join(", ");
    (actions, uses, labels)
}

/// Edges through inventoried resources of one account.
fn inventoried_edges(
    ctx: &GraphContext<'_>,
    spec: &RunsAsSpec,
    account: &str,
    workloads: &[&Workload],
    out: &mut Vec<Edge>,
) {
    // The resources whose role is a node that (still) trusts the service: a resource whose
    // role no longer trusts it cannot get that role's credentials.
    let runnable: Vec<(&Workload, usize)> = workloads
        .iter()
        .filter_map(|w| {
            let role = ctx.node(&w.role_arn)?;
            ctx.trusts_service(role, spec.service).then_some((*w, role))
        })
        .collect();
    if runnable.is_empty() {
        return;
    }
    let named: Vec<Vec<Vec<bool>>> = runnable
        .iter()
        .map(|(w, _)| named_on(spec.ways, account, w))
        .collect();
    // Several resources may run as one role: the graph keeps one edge per (source, role,
    // technique), the least by (actions, detail) as `build_graph_in` orders them, so only that
    // one is kept here rather than one per resource.
    let mut best: BTreeMap<usize, Edge> = BTreeMap::new();
    for &src in ctx.in_account(account) {
        if !ctx.is_source(src) {
            continue;
        }
        best.clear();
        for (&(w, role), named) in runnable.iter().zip(&named) {
            if role == src {
                continue;
            }
            let Some(way) = usable_way_on(ctx, src, spec.ways, w, named) else {
                continue;
            };
            let (actions, uses, labels) = summary(&way);
            let role_arn = ctx.arn(role);
            let profile = w
                .instance_profile_arn
                .as_deref()
                .map(|p| format!(" through instance profile `{p}`"))
                .unwrap_or_default();
            let edge = Edge {
                from: ctx.arn(src).to_owned(),
                to: Target::Principal(role_arn.to_owned()),
                technique: spec.technique,
                actions,
                detail: format!(
                    "`{}` may {} `{}` ({uses}), which runs as `{role_arn}`{profile} (from the \
                     snapshot's inventory of {}); allowed by: {}",
                    ctx.arn(src),
                    spec.takeover,
                    w.arn,
                    spec.resources,
                    labels.join(", ")
                ),
            };
            match best.get(&role) {
                Some(kept) if super::edge_order(kept, &edge).is_le() => {}
                _ => {
                    best.insert(role, edge);
                }
            }
        }
        out.extend(std::mem::take(&mut best).into_values());
    }
}

/// Every edge of such a technique.
pub(super) fn runs_as_edges(ctx: &GraphContext<'_>, spec: &RunsAsSpec) -> Vec<Edge> {
    let mut out = Vec::new();
    let mut by_account: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for role in ctx.roles_trusting(spec.service) {
        let has_profile = ctx
            .principal(role)
            .and_then(|p| p.as_role())
            .is_some_and(|r| !r.instance_profiles.is_empty());
        if has_profile || !spec.needs_instance_profile {
            by_account.entry(ctx.account(role)).or_default().push(role);
        }
    }
    for (account, roles) in by_account {
        if let Some(workloads) = spec.kind.and_then(|k| inventoried(ctx, account, k)) {
            inventoried_edges(ctx, spec, account, &workloads, &mut out);
            continue;
        }
        for &src in ctx.in_account(account) {
            if !ctx.is_source(src) {
                continue;
            }
            let Some(way) = usable_way(ctx, src, spec.ways) else {
                continue;
            };
            let mut actions: Vec<String> = Vec::new();
            for (a, _, _) in &way {
                if !actions.iter().any(|x| x == a) {
                    actions.push((*a).to_owned());
                }
            }
            let uses = way
                .iter()
                .map(|(a, r, _)| format!("{a} on `{r}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut labels: Vec<String> = Vec::new();
            for (_, _, l) in &way {
                for x in l {
                    if !labels.contains(x) {
                        labels.push(x.clone());
                    }
                }
            }
            for &role in &roles {
                if role == src {
                    continue;
                }
                let role_arn = ctx.arn(role);
                let profile = ctx
                    .principal(role)
                    .and_then(|p| p.as_role())
                    .and_then(|r| r.instance_profiles.first())
                    .map(|ip| format!(" (instance profile `{}`)", ip.name))
                    .unwrap_or_default();
                out.push(Edge {
                    from: ctx.arn(src).to_owned(),
                    to: Target::Principal(role_arn.to_owned()),
                    technique: spec.technique,
                    actions: actions.clone(),
                    detail: format!(
                        "`{}` may {} every one of the account's {} ({uses}); `{role_arn}` \
                         trusts {}{profile}, so any of them may run as it (the snapshot has no \
                         inventory of {}: assumed); allowed by: {}",
                        ctx.arn(src),
                        spec.takeover,
                        spec.resources,
                        spec.service,
                        spec.resources,
                        labels.join(", ")
                    ),
                });
            }
        }
    }
    out
}
