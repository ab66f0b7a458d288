//! Rule `pass-role-stackset`: `iam:PassRole` of a StackSets administration role, whose stack
//! instances deploy with an execution role it may assume.
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role trusting `cloudformation.amazonaws.com` (passed
//! to CloudFormation) as the administration role of a self-managed stack set, create a stack
//! set (`cloudformation:CreateStackSet`) and add stack instances to it
//! (`cloudformation:CreateStackInstances`) — or update every stack set of the account
//! (`cloudformation:UpdateStackSet`; the snapshot has no stack-set inventory, so one is assumed
//! and the edge says so). The edge leads to every role, in any account, that the
//! administration role may assume (as the engine decides, its trust policy and the
//! administration role's own permissions): the caller names it as the execution role.
//!
//! ## Why it is bad
//! CloudFormation uses the administration role only to assume the execution role, named by
//! the caller, in each target account, and deploys the caller's template with the execution
//! role's permissions. Execution roles are commonly administrators of their accounts, so
//! passing the administration role reaches every account that trusts it.
//!
//! ## Example
//! A deployer may pass `AWSCloudFormationStackSetAdministrationRole` and create stack sets; the
//! role may assume `AWSCloudFormationStackSetExecutionRole` (AdministratorAccess) in every
//! member account. The deployer creates a stack set whose template adds an IAM user with an
//! admin policy, and deploys it to the production account.
//!
//! ## How to fix
//! Scope `iam:PassRole` on administration roles to the people who own stack sets; use
//! customized administration roles that may assume only narrow execution roles; scope
//! execution roles to the resources the stack sets deploy.
//!
//! ## References
//! - AWS CloudFormation User Guide, "Grant self-managed permissions" (the administration role
//!   trusts CloudFormation and assumes the execution role named by the stack set in each target
//!   account).
//! - AWS CloudFormation API Reference, "CreateStackSet" (`AdministrationRoleARN`,
//!   `ExecutionRoleName`) and "UpdateStackSet".

use std::collections::BTreeMap;

use super::context::{GraphContext, Need};
use super::pass_role::{pass_labels, usable_way, way_text, ServiceAction};
use super::{Edge, Rule, Target, Technique};

const SERVICE: &str = "cloudformation.amazonaws.com";
const STACK_SET: &str = "arn:aws:cloudformation:{region}:{account}:stackset/{name}:{name}";

const WAYS: &[&[ServiceAction]] = &[
    &[
        ("cloudformation:CreateStackSet", "*", Need::Chosen),
        (
            "cloudformation:CreateStackInstances",
            STACK_SET,
            Need::Chosen,
        ),
    ],
    &[("cloudformation:UpdateStackSet", STACK_SET, Need::Every)],
];

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleStackSet;

impl Rule for PassRoleStackSet {
    fn id(&self) -> Technique {
        Technique::PassRoleStackSet
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        let mut out = Vec::new();
        // The roles each administration role may assume, computed when first needed.
        let mut executions: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for admin in ctx.roles_trusting(SERVICE) {
            for &src in ctx.in_account(ctx.account(admin)) {
                if src == admin || !ctx.is_source(src) || !ctx.may(src, "iam:PassRole") {
                    continue;
                }
                let Some(way) = usable_way(ctx, src, WAYS) else {
                    continue;
                };
                let Some(passed) = pass_labels(ctx, src, admin, SERVICE) else {
                    continue;
                };
                let text = way_text(&way, passed);
                let targets = executions
                    .entry(admin)
                    .or_insert_with(|| assumable(ctx, admin));
                for &execution in targets.iter() {
                    if execution == src {
                        continue;
                    }
                    out.push(Edge {
                        from: ctx.arn(src).to_owned(),
                        to: Target::Principal(ctx.arn(execution).to_owned()),
                        technique: Technique::PassRoleStackSet,
                        actions: text.actions.clone(),
                        detail: format!(
                            "`{}` may pass `{}` (which trusts {SERVICE}) as the administration \
                             role of a self-managed stack set ({}), and that role may assume \
                             `{}` (account {}), which the stack set can name as its execution \
                             role: the caller's template deploys with its permissions{}; \
                             allowed by: {}",
                            ctx.arn(src),
                            ctx.arn(admin),
                            text.uses,
                            ctx.arn(execution),
                            ctx.account(execution),
                            text.assumed,
                            text.labels.join(", ")
                        ),
                    });
                }
            }
        }
        out
    }
}

/// Every role the role of node `admin` may assume (itself excepted), in snapshot order.
fn assumable(ctx: &GraphContext<'_>, admin: usize) -> Vec<usize> {
    (0..ctx.nodes.len())
        .filter(|&r| r != admin && ctx.trust(r).is_some() && ctx.can_assume(admin, r))
        .collect()
}
