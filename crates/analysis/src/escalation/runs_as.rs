//! What the rules on existing resources share (`update-code`, `ssm-command`,
//! `instance-connect`, `glue-dev-endpoint`): a role that a service runs resources as, and a
//! principal of the same account that may take over every such resource.
//!
//! The snapshot has no inventory of functions, instances or dev endpoints, so these rules
//! assume that the account has a resource running as each role that trusts the service (and,
//! for EC2, has an instance profile), and require the source to hold the action on every
//! resource of that type in the account ([`Need::Every`]); every edge says so in its detail.

use std::collections::BTreeMap;

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

/// Every edge of such a technique.
pub(super) fn runs_as_edges(ctx: &GraphContext<'_>, spec: &RunsAsSpec) -> Vec<Edge> {
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
    let mut out = Vec::new();
    for (account, roles) in by_account {
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
