//! Rule `modify-policy`: change the permissions of oneself, or of a principal one can act as.
//!
//! ## What it finds
//! A principal that may change the policies applying to a target principal of its account:
//! - `iam:PutRolePolicy` / `iam:AttachRolePolicy` on the target role, or
//!   `iam:PutUserPolicy` / `iam:AttachUserPolicy` on the target user;
//! - `iam:CreatePolicyVersion` on a managed policy attached to the target (directly or through
//!   one of its groups) — a new default version replaces the document; AWS refuses it on AWS
//!   managed policies, and so does the engine;
//! - `iam:PutGroupPolicy` / `iam:AttachGroupPolicy` on a group the target user belongs to;
//! - `iam:AddUserToGroup` putting the target user into a group whose policies make it admin;
//!
//! and whose change makes the target admin-equivalent (the engine re-checks the admin probes
//! with an `Allow *` policy, or the group's policies, added: a boundary or SCP that caps the
//! target stops the technique). The edge goes to `admin` when the target is the principal
//! itself, or another principal it can act as: assume the role (its trust policy lets the
//! principal in), rewrite the role's trust policy to name itself and then assume it (as rule
//! `update-trust` judges it: `iam:UpdateAssumeRolePolicy` on the role, and `sts:AssumeRole`
//! under the rewritten trust policy — so a role that is not admin today and does not trust the
//! principal is still a way up), or create credentials for the user; every call is listed in
//! the edge's actions.
//!
//! Making a stored version of a managed policy its default (`iam:SetDefaultPolicyVersion`) is
//! the rule `set-default-policy-version`, which reuses this rule's ways of acting as the target.
//! Targets reached only through longer chains (modify a role one can reach in two hops) are not
//! combined.
//!
//! ## Why it is bad
//! Whoever writes a principal's policies decides its permissions: a principal that can write
//! its own is an administrator in waiting.
//!
//! ## Example
//! `data-pipeline-runner` may `iam:PutRolePolicy` on its own ARN (Sid `SelfTune`): it puts an
//! inline `Allow *` on `*` on itself.
//!
//! ## How to fix
//! Never grant policy-writing actions on a principal's own ARN, its groups or its managed
//! policies; reserve `iam:Put*Policy`, `iam:Attach*Policy`, `iam:CreatePolicyVersion` and
//! `iam:AddUserToGroup` for identity administrators, and use permissions boundaries for
//! delegated administration.
//!
//! ## References
//! - AWS IAM User Guide, "Permissions boundaries for IAM entities" (delegating permission
//!   management safely) and "Versioning IAM policies".
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation"
//!   (`iam:CreatePolicyVersion`, `iam:Attach*Policy`, `iam:Put*Policy`, `iam:AddUserToGroup`).

use std::collections::BTreeMap;

use latch_model::{Account, Group};
use latch_policy::compile::CPolicy;
use latch_policy::Layer;

use super::context::GraphContext;
use super::create_credentials::credentials_for;
use super::update_trust::rewrite_then_assume;
use super::{allow_everything, Edge, Rule, Target, Technique};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct ModifyPolicy;

const ACTIONS: [&str; 8] = [
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:PutUserPolicy",
    "iam:AttachUserPolicy",
    "iam:CreatePolicyVersion",
    "iam:PutGroupPolicy",
    "iam:AttachGroupPolicy",
    "iam:AddUserToGroup",
];

/// AWS managed policies that make their holder admin-equivalent, the first one an attacker
/// would attach: every action, or every IAM action (enough to grant itself the rest).
/// IAM User Guide, "AWS managed policies for job functions" (`AdministratorAccess`) and the
/// managed policy reference (`IAMFullAccess`: `iam:*`).
const ADMIN_MANAGED_POLICIES: [&str; 2] = [
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/IAMFullAccess",
];

/// How a source can change a target's permissions.
struct Change {
    action: &'static str,
    /// What it changes, for the explanation.
    what: String,
    labels: Vec<String>,
}

fn group_policies(account: &Account, group: &Group) -> Vec<CPolicy> {
    let inline = group.inline_policies.iter().map(|p| &p.document.policy);
    let managed = group
        .attached_policies
        .iter()
        .filter_map(|arn| account.managed_policy(arn))
        .map(|m| &m.document.policy);
    inline
        .chain(managed)
        .filter_map(|p| CPolicy::compile(p, Layer::Identity).ok())
        .collect()
}

/// How `src` acts as a target whose permissions it changed: the calls it needs and how the
/// edge's detail says it.
pub(super) struct Act {
    /// The calls, none when the target is `src` itself.
    pub actions: Vec<&'static str>,
    /// ", then ..." for the edge's detail; empty when the target is `src` itself.
    pub then: String,
}

/// How `src` acts as `target` once it has changed the target's permissions; `None` when it
/// cannot. Another role: assume it when its trust policy lets `src` in, or else rewrite its
/// trust policy to name `src` and assume it (rule `update-trust`); another user: create
/// credentials for it.
pub(super) fn acting_as(ctx: &GraphContext<'_>, src: usize, target: usize) -> Option<Act> {
    if target == src {
        return Some(Act {
            actions: Vec::new(),
            then: String::new(),
        });
    }
    let target_arn = ctx.arn(target);
    if ctx.principal(target)?.as_role().is_some() {
        if ctx.can_assume(src, target) {
            return Some(Act {
                actions: vec!["sts:AssumeRole"],
                then: format!(", then act as `{target_arn}` (sts:AssumeRole)"),
            });
        }
        let labels = rewrite_then_assume(ctx, src, target)?;
        return Some(Act {
            actions: vec!["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"],
            then: format!(
                ", then rewrite the trust policy of `{target_arn}` to name itself and assume it \
                 (iam:UpdateAssumeRolePolicy, sts:AssumeRole; allowed by: {})",
                labels.join(", ")
            ),
        });
    }
    credentials_for(ctx, src, target).map(|(action, _)| Act {
        actions: vec![action],
        then: format!(", then act as `{target_arn}` ({action})"),
    })
}

struct Search<'c, 'a> {
    ctx: &'c GraphContext<'a>,
    allow_all: Vec<CPolicy>,
    /// Whether a target with `Allow *` added is admin-equivalent.
    empowered: BTreeMap<usize, bool>,
    /// Whether a user in a group is admin-equivalent: (user, group name).
    joined: BTreeMap<(usize, String), bool>,
}

impl Search<'_, '_> {
    fn empowered(&mut self, target: usize) -> bool {
        let ctx = self.ctx;
        let allow_all = &self.allow_all;
        *self
            .empowered
            .entry(target)
            .or_insert_with(|| ctx.admin_with(target, allow_all))
    }

    fn check(
        &self,
        src: usize,
        action: &'static str,
        resource: &str,
        what: String,
    ) -> Option<Change> {
        if !self.ctx.may(src, action) {
            return None;
        }
        if !action.starts_with("iam:Attach") {
            return self
                .ctx
                .evaluate(src, action, resource, None, None, &[])
                .map(|labels| Change {
                    action,
                    what,
                    labels,
                });
        }
        // Attaching names the policy in the request (`iam:PolicyARN`), and grants are often
        // scoped by it: ask about the AWS managed policies that make a principal
        // admin-equivalent, each named as AWS names it.
        ADMIN_MANAGED_POLICIES.iter().find_map(|policy| {
            self.ctx
                .evaluate(
                    src,
                    action,
                    resource,
                    None,
                    None,
                    &[("iam:PolicyARN", policy)],
                )
                .map(|labels| Change {
                    action,
                    what: format!("{what} (`{policy}`)"),
                    labels,
                })
        })
    }

    /// The first way `src` can make `target` admin-equivalent.
    fn change(&mut self, src: usize, target: usize) -> Option<Change> {
        let ctx = self.ctx;
        let principal = *ctx.principal(target)?;
        let arn = principal.arn();
        let direct = if principal.as_role().is_some() {
            ["iam:PutRolePolicy", "iam:AttachRolePolicy"]
        } else {
            ["iam:PutUserPolicy", "iam:AttachUserPolicy"]
        };
        let mut found = direct
            .into_iter()
            .find_map(|a| self.check(src, a, arn, format!("put or attach a policy on `{arn}`")));
        if found.is_none() {
            found = principal
                .identity_policies()
                .iter()
                .filter_map(|p| match p.source {
                    // AWS managed policies too: the engine refuses a new version of one
                    // (`latch_policy::protected`), so the edge never appears.
                    latch_model::PolicySource::Managed { policy }
                    | latch_model::PolicySource::GroupManaged { policy, .. } => Some(policy),
                    _ => None,
                })
                .find_map(|policy| {
                    self.check(
                        src,
                        "iam:CreatePolicyVersion",
                        &policy.arn,
                        format!(
                            "create a new default version of `{}`, attached to `{arn}`",
                            policy.arn
                        ),
                    )
                });
        }
        if found.is_none() {
            if let Some(user) = principal.as_user() {
                found = user
                    .groups
                    .iter()
                    .filter_map(|g| principal.account.groups.get(g))
                    .find_map(|g| {
                        ["iam:PutGroupPolicy", "iam:AttachGroupPolicy"]
                            .into_iter()
                            .find_map(|a| {
                                self.check(
                                    src,
                                    a,
                                    &g.arn,
                                    format!(
                                        "put or attach a policy on group `{}`, which `{arn}` is in",
                                        g.arn
                                    ),
                                )
                            })
                    });
            }
        }
        if let Some(change) = found {
            return self.empowered(target).then_some(change);
        }
        let user = principal.as_user()?;
        if !ctx.may(src, "iam:AddUserToGroup") {
            return None;
        }
        for group in principal.account.groups.values() {
            if user.groups.contains(&group.name) {
                continue;
            }
            let Some(change) = self.check(
                src,
                "iam:AddUserToGroup",
                &group.arn,
                format!("add `{arn}` to group `{}`", group.arn),
            ) else {
                continue;
            };
            let key = (target, group.name.clone());
            let admin = match self.joined.get(&key) {
                Some(a) => *a,
                None => {
                    let a = ctx.admin_with(target, &group_policies(principal.account, group));
                    self.joined.insert(key, a);
                    a
                }
            };
            if admin {
                return Some(change);
            }
        }
        None
    }
}

impl Rule for ModifyPolicy {
    fn id(&self) -> Technique {
        Technique::ModifyPolicy
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        let Some(allow_all) = allow_everything() else {
            return Vec::new();
        };
        let mut search = Search {
            ctx,
            allow_all: vec![allow_all],
            empowered: BTreeMap::new(),
            joined: BTreeMap::new(),
        };
        let mut out = Vec::new();
        for members in ctx.by_account.values() {
            for &src in members {
                if !ctx.is_source(src) || !ACTIONS.iter().any(|a| ctx.may(src, a)) {
                    continue;
                }
                let src_arn = ctx.arn(src);
                for &target in members {
                    if target != src && ctx.is_admin_node(target) {
                        continue;
                    }
                    let Some(act) = acting_as(ctx, src, target) else {
                        continue;
                    };
                    let Some(change) = search.change(src, target) else {
                        continue;
                    };
                    let mut actions = vec![change.action.to_owned()];
                    actions.extend(act.actions.iter().map(|a| (*a).to_owned()));
                    let then = act.then;
                    out.push(Edge {
                        from: src_arn.to_owned(),
                        to: Target::Admin,
                        technique: Technique::ModifyPolicy,
                        actions,
                        detail: format!(
                            "`{src_arn}` may {} ({}), making `{}` admin-equivalent{then}; \
                             allowed by: {}",
                            change.what,
                            change.action,
                            ctx.arn(target),
                            change.labels.join(", ")
                        ),
                    });
                }
            }
        }
        out
    }
}
