//! What the `pass_role_*` rules share: `iam:PassRole` on a role that trusts a service, plus the
//! service's own actions that make it run code with that role.

use super::context::{GraphContext, Need};
use super::{Edge, Target, Technique};

/// One service action a technique needs: the action, the ARN template of its resource
/// (`{region}`, `{account}`, `{name}`) and how the resource is named.
pub(super) type ServiceAction = (&'static str, &'static str, Need);

/// How a service runs code with a passed role.
#[derive(Debug)]
pub(super) struct PassRoleSpec {
    /// The technique reported.
    pub technique: Technique,
    /// The service principal the role must trust, also the `iam:PassedToService` value.
    pub service: &'static str,
    /// Ways to make the service run code with the role; each needs all of its actions.
    pub ways: &'static [&'static [ServiceAction]],
    /// Only roles with an instance profile can be used (EC2).
    pub needs_instance_profile: bool,
    /// What the attacker creates, for the explanation ("a Lambda function").
    pub vehicle: &'static str,
}

/// The first way (in order) whose actions node `src` holds, with the resources and policies
/// that allow each action.
fn usable_way(
    ctx: &GraphContext<'_>,
    src: usize,
    ways: &[&[ServiceAction]],
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

/// Every edge of a pass-role technique: in each account, from every principal that may pass a
/// role trusting the service and use the service, to that role.
pub(super) fn pass_role_edges(ctx: &GraphContext<'_>, spec: &PassRoleSpec) -> Vec<Edge> {
    let mut out = Vec::new();
    let roles: Vec<usize> = ctx
        .roles_trusting(spec.service)
        .into_iter()
        .filter(|&r| {
            !spec.needs_instance_profile
                || ctx
                    .principal(r)
                    .and_then(|p| p.as_role())
                    .is_some_and(|role| !role.instance_profiles.is_empty())
        })
        .collect();
    let mut by_account: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for &role in &roles {
        by_account.entry(ctx.account(role)).or_default().push(role);
    }
    for (account, roles) in by_account {
        for &src in ctx.in_account(account) {
            if !ctx.is_source(src) || !ctx.may(src, "iam:PassRole") {
                continue;
            }
            let Some(way) = usable_way(ctx, src, spec.ways) else {
                continue;
            };
            for &role in &roles {
                if src != role {
                    if let Some(edge) = edge(ctx, spec, src, role, &way) {
                        out.push(edge);
                    }
                }
            }
        }
    }
    out
}

fn edge(
    ctx: &GraphContext<'_>,
    spec: &PassRoleSpec,
    src: usize,
    role: usize,
    way: &[(&'static str, String, Vec<String>)],
) -> Option<Edge> {
    let account = ctx.account(role);
    let role_arn = ctx.arn(role);
    let pass_labels = ctx.evaluate(
        src,
        "iam:PassRole",
        role_arn,
        Some(account),
        None,
        &[("iam:PassedToService", spec.service)],
    )?;
    let mut actions = vec!["iam:PassRole".to_owned()];
    for (a, _, _) in way {
        if !actions.iter().any(|x| x == a) {
            actions.push((*a).to_owned());
        }
    }
    let mut granted: Vec<String> = pass_labels;
    for (_, _, labels) in way {
        for l in labels {
            if !granted.contains(l) {
                granted.push(l.clone());
            }
        }
    }
    let profile = ctx
        .principal(role)
        .and_then(|p| p.as_role())
        .and_then(|r| r.instance_profiles.first())
        .map(|ip| format!(" through instance profile `{}`", ip.name))
        .unwrap_or_default();
    let uses = way
        .iter()
        .map(|(a, r, _)| format!("{a} on `{r}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(Edge {
        from: ctx.arn(src).to_owned(),
        to: Target::Principal(role_arn.to_owned()),
        technique: spec.technique,
        actions,
        detail: format!(
            "`{}` may pass `{role_arn}` (which trusts {}) to {}{profile} ({uses}), and \
                     that code runs with the role's permissions; allowed by: {}",
            ctx.arn(src),
            spec.service,
            spec.vehicle,
            granted.join(", ")
        ),
    })
}
