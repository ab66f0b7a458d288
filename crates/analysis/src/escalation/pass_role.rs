//! What the `pass_role_*` rules share: `iam:PassRole` on a role that trusts a service, plus the
//! service's own actions that make it run code with that role.
//!
//! A way may act on resources the attacker creates ([`Need::Chosen`]) or on existing ones it
//! reconfigures with the passed role ([`Need::Every`]: an existing job, project or task
//! definition). The snapshot has no inventory of the latter, so the rule assumes the account
//! has one and requires the action on every such resource; the edge says so.

use super::context::{GraphContext, Need};
use super::{Edge, Target, Technique};

/// One service action a technique needs: the action, the ARN template of its resource
/// (`{region}`, `{account}`, `{name}`) and how the resource is named.
pub(super) type ServiceAction = (&'static str, &'static str, Need);

/// Which roles trusting the service a technique can use, by their instance profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Profile {
    /// Any role: the service takes the role itself.
    Any,
    /// Only roles that have an instance profile: EC2 launches with a profile, not a role.
    Required,
    /// Only roles that have none: the technique creates the profile (roles that have one are
    /// found by the techniques that use it).
    Absent,
}

impl Profile {
    fn admits(self, has_profile: bool) -> bool {
        match self {
            Profile::Any => true,
            Profile::Required => has_profile,
            Profile::Absent => !has_profile,
        }
    }
}

/// How a service runs code with a passed role.
#[derive(Debug)]
pub(super) struct PassRoleSpec {
    /// The technique reported.
    pub technique: Technique,
    /// The service principal the role must trust, also the `iam:PassedToService` value unless
    /// `passed_to` says otherwise.
    pub service: &'static str,
    /// The `iam:PassedToService` value when it is not `service` (App Runner's instance role
    /// trusts `tasks.apprunner.amazonaws.com` but is passed to `apprunner.amazonaws.com`).
    pub passed_to: Option<&'static str>,
    /// Ways to make the service run code with the role; each needs all of its actions.
    pub ways: &'static [&'static [ServiceAction]],
    /// Which roles can be used, by their instance profiles.
    pub instance_profile: Profile,
    /// What the attacker creates or reconfigures, for the explanation ("a Lambda function").
    pub vehicle: &'static str,
}

impl PassRoleSpec {
    /// The `iam:PassedToService` value of the `iam:PassRole` request.
    pub fn passed_to(&self) -> &'static str {
        self.passed_to.unwrap_or(self.service)
    }
}

/// One action of a usable way, as the engine allowed it.
#[derive(Debug, Clone)]
pub(super) struct Granted {
    /// The action.
    pub action: &'static str,
    /// The resource it is allowed on.
    pub resource: String,
    /// How the resource is named (`Every`: an existing resource, assumed to exist).
    pub need: Need,
    /// The policies that allow it.
    pub labels: Vec<String>,
}

/// The first way (in order) whose actions node `src` holds, each with the resource and the
/// policies that allow it.
pub(super) fn usable_way(
    ctx: &GraphContext<'_>,
    src: usize,
    ways: &[&[ServiceAction]],
) -> Option<Vec<Granted>> {
    let account = ctx.account(src);
    ways.iter().find_map(|way| {
        if !way.iter().all(|(a, _, _)| ctx.may(src, a)) {
            return None;
        }
        way.iter()
            .map(|(action, template, need)| {
                ctx.allowed_on(src, action, template, account, *need, &[])
                    .map(|(resource, labels)| Granted {
                        action,
                        resource,
                        need: *need,
                        labels,
                    })
            })
            .collect()
    })
}

/// The policies that let node `src` pass the role of node `role` to `passed_to`.
pub(super) fn pass_labels(
    ctx: &GraphContext<'_>,
    src: usize,
    role: usize,
    passed_to: &str,
) -> Option<Vec<String>> {
    ctx.evaluate(
        src,
        "iam:PassRole",
        ctx.arn(role),
        Some(ctx.account(role)),
        None,
        &[("iam:PassedToService", passed_to)],
    )
}

/// What an edge says about a way: its actions after `iam:PassRole` (in order, once each), the
/// uses (`action on `resource``), the policies that allow them after `first_labels`, and a
/// sentence on the existing resources it assumes (empty when it creates everything).
pub(super) struct WayText {
    /// `iam:PassRole`, then the way's actions.
    pub actions: Vec<String>,
    /// `action on `resource`` for each action, comma-separated.
    pub uses: String,
    /// Every policy label, deduplicated.
    pub labels: Vec<String>,
    /// "; the snapshot has no inventory of ...: assumed to exist", or empty.
    pub assumed: String,
}

pub(super) fn way_text(way: &[Granted], first_labels: Vec<String>) -> WayText {
    let mut actions = vec!["iam:PassRole".to_owned()];
    let mut labels = first_labels;
    let mut existing: Vec<&str> = Vec::new();
    for g in way {
        if !actions.iter().any(|x| x == g.action) {
            actions.push(g.action.to_owned());
        }
        for l in &g.labels {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
        if g.need == Need::Every && !existing.contains(&g.resource.as_str()) {
            existing.push(&g.resource);
        }
    }
    let uses = way
        .iter()
        .map(|g| format!("{} on `{}`", g.action, g.resource))
        .collect::<Vec<_>>()
        .join(", ");
    let assumed = if existing.is_empty() {
        String::new()
    } else {
        format!(
            "; the snapshot has no inventory of {}: one such resource is assumed to exist",
            existing
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    WayText {
        actions,
        uses,
        labels,
        assumed,
    }
}

/// Every edge of a pass-role technique: in each account, from every principal that may pass a
/// role trusting the service and use the service, to that role.
pub(super) fn pass_role_edges(ctx: &GraphContext<'_>, spec: &PassRoleSpec) -> Vec<Edge> {
    let mut out = Vec::new();
    let roles: Vec<usize> = ctx
        .roles_trusting(spec.service)
        .into_iter()
        .filter(|&r| {
            let has_profile = ctx
                .principal(r)
                .and_then(|p| p.as_role())
                .is_some_and(|role| !role.instance_profiles.is_empty());
            spec.instance_profile.admits(has_profile)
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
    way: &[Granted],
) -> Option<Edge> {
    let role_arn = ctx.arn(role);
    let text = way_text(way, pass_labels(ctx, src, role, spec.passed_to())?);
    let profile = if spec.instance_profile == Profile::Required {
        ctx.principal(role)
            .and_then(|p| p.as_role())
            .and_then(|r| r.instance_profiles.first())
            .map(|ip| format!(" through instance profile `{}`", ip.name))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Some(Edge {
        from: ctx.arn(src).to_owned(),
        to: Target::Principal(role_arn.to_owned()),
        technique: spec.technique,
        actions: text.actions,
        detail: format!(
            "`{}` may pass `{role_arn}` (which trusts {}) to {}{profile} ({}), and that code \
             runs with the role's permissions{}; allowed by: {}",
            ctx.arn(src),
            spec.service,
            spec.vehicle,
            text.uses,
            text.assumed,
            text.labels.join(", ")
        ),
    })
}
