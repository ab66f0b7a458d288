//! Rule `update-trust`: rewrite a role's trust policy, then assume the role.
//!
//! ## What it finds
//! A principal that may call `iam:UpdateAssumeRolePolicy` on a role of its account and,
//! once the trust policy names it, may assume the role: the engine evaluates
//! `sts:AssumeRole` against a trust policy that allows exactly this principal, so identity
//! denies, boundaries and SCPs on `sts:AssumeRole` still count.
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
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation"
//!   (`iam:UpdateAssumeRolePolicy` with `sts:AssumeRole`).

use latch_policy::compile::CPolicy;
use latch_policy::{Layer, Policy};

use super::context::GraphContext;
use super::{Edge, Rule, Target, Technique};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct UpdateTrust;

fn trust_naming(arn: &str) -> Option<CPolicy> {
    let value = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}]
    });
    let policy = Policy::from_value(&value, "").ok()?;
    CPolicy::compile(&policy, Layer::Resource).ok()
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
                if !ctx.is_source(src) || !ctx.may(src, "iam:UpdateAssumeRolePolicy") {
                    continue;
                }
                let src_arn = ctx.arn(src);
                let Some(trust) = trust_naming(src_arn) else {
                    continue;
                };
                for &role in &roles {
                    if role == src {
                        continue;
                    }
                    let role_arn = ctx.arn(role);
                    let Some(labels) =
                        ctx.evaluate(src, "iam:UpdateAssumeRolePolicy", role_arn, None, None, &[])
                    else {
                        continue;
                    };
                    if !ctx.can_with(
                        src,
                        "sts:AssumeRole",
                        role_arn,
                        Some(ctx.account(role)),
                        Some(&trust),
                        &[],
                    ) {
                        continue;
                    }
                    out.push(Edge {
                        from: src_arn.to_owned(),
                        to: Target::Principal(role_arn.to_owned()),
                        technique: Technique::UpdateTrust,
                        actions: vec![
                            "iam:UpdateAssumeRolePolicy".to_owned(),
                            "sts:AssumeRole".to_owned(),
                        ],
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
