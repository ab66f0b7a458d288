//! Rule `update-trust`: rewrite a role's trust policy, then assume the role.
//!
//! ## What it finds
//! A principal that may call `iam:UpdateAssumeRolePolicy` on a role of its account and,
//! once the trust policy names it, may assume the role: the engine evaluates
//! `sts:AssumeRole` against a trust policy that allows exactly this principal (its user or
//! role ARN), so identity denies, boundaries and SCPs on `sts:AssumeRole` still count.
//!
//! No `sts:AssumeRole` permission in the caller's own policies is needed: within one account,
//! a role trust policy that names the caller is enough on its own (an Allow in the
//! resource-based policy suffices; role trust policies are the exception only in that they must
//! name the principal, which here they do). A grant to a *role's* ARN (rather than to one of its
//! sessions) is still capped by that role's permissions boundary, so a role whose boundary does
//! not allow `sts:AssumeRole` gets no edge; that a trust policy could name one of its session
//! ARNs instead is not tried.
//!
//! When the role is not admin-equivalent, the same rewrite followed by a policy put or attached
//! on the role (or a new default version of a managed policy on it) is a way to `admin`: rules
//! `modify-policy` and `set-default-policy-version` count rewriting the trust policy as a way
//! to act as the role they change.
//!
//! ## Why it is bad
//! The trust policy is the role's only gate. Whoever can rewrite it can let itself in and
//! take the role's permissions, whatever the trust policy says today.
//!
//! ## Example
//! `data-platform-automation` may `iam:UpdateAssumeRolePolicy` on `role/data-admin`
//! (AdministratorAccess): it rewrites the trust to name itself and assumes `data-admin`.
//!
//! ## How to fix
//! Grant `iam:UpdateAssumeRolePolicy` only to the identity administrators; deny it on
//! privileged roles in an SCP except for the role-vending pipeline.
//!
//! ## References
//! - AWS IAM User Guide, "Modifying a role trust policy (console/API)".
//! - AWS IAM User Guide, "How AWS enforcement code logic evaluates requests to allow or deny
//!   access" (resource-based policies within one account: an Allow naming a user or role
//!   session is enough even with an implicit deny in the identity-based policies; one naming a
//!   role ARN is limited by an implicit deny in its permissions boundary or session policy; role
//!   trust policies must name the principal),
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html>;
//!   "Cross-account policy evaluation logic" (across accounts both sides must allow).
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation"
//!   (`iam:UpdateAssumeRolePolicy` with `sts:AssumeRole`).

use latch_policy::compile::CPolicy;
use latch_policy::{Layer, Policy};

use super::context::GraphContext;
use super::{Edge, Rule, Target, Technique};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct UpdateTrust;

const ACTION: &str = "iam:UpdateAssumeRolePolicy";

fn trust_naming(arn: &str) -> Option<CPolicy> {
    let value = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}]
    });
    let policy = Policy::from_value(&value, "").ok()?;
    CPolicy::compile(&policy, Layer::Resource).ok()
}

/// Whether `src` may rewrite the trust policy of the role of node `role` to name itself, then
/// assume it (see the module documentation): the policies that allow the rewrite.
pub(super) fn rewrite_then_assume(
    ctx: &GraphContext<'_>,
    src: usize,
    role: usize,
) -> Option<Vec<String>> {
    if role == src || !ctx.may(src, ACTION) {
        return None;
    }
    ctx.principal(role)?.as_role()?;
    let role_arn = ctx.arn(role);
    let labels = ctx.evaluate(src, ACTION, role_arn, None, None, &[])?;
    let trust = trust_naming(ctx.arn(src))?;
    ctx.can_with(
        src,
        "sts:AssumeRole",
        role_arn,
        Some(ctx.account(role)),
        Some(&trust),
        &[],
    )
    .then_some(labels)
}

impl Rule for UpdateTrust {
    fn id(&self) -> Technique {
        Technique::UpdateTrust
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        let mut out = Vec::new();
        for members in ctx.by_account.values() {
            let roles: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| ctx.principal(i).is_some_and(|p| p.as_role().is_some()))
                .collect();
            for &src in members {
                if !ctx.is_source(src) || !ctx.may(src, ACTION) {
                    continue;
                }
                let src_arn = ctx.arn(src);
                for &role in &roles {
                    let Some(labels) = rewrite_then_assume(ctx, src, role) else {
                        continue;
                    };
                    let role_arn = ctx.arn(role);
                    out.push(Edge {
                        from: src_arn.to_owned(),
                        to: Target::Principal(role_arn.to_owned()),
                        technique: Technique::UpdateTrust,
                        actions: vec![ACTION.to_owned(), "sts:AssumeRole".to_owned()],
                        detail: format!(
                            "`{src_arn}` may rewrite the trust policy of `{role_arn}` to name \
                             itself, then assume it; allowed by: {}",
                            labels.join(", ")
                        ),
                    });
                }
            }
        }
        out
    }
}
