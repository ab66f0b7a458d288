//! Rule `update-stack`: update existing CloudFormation stacks, which keep their service role.
//!
//! ## What it finds
//! A principal that may `cloudformation:UpdateStack` on every stack of its account, or create
//! and execute change sets on them (`cloudformation:CreateChangeSet` and
//! `cloudformation:ExecuteChangeSet`), and a role of that account that trusts
//! `cloudformation.amazonaws.com`. No `iam:PassRole` is needed. The snapshot has no stack
//! inventory: the rule assumes a stack runs with each such role as its service role, and says
//! so in the edge. Grants on some stacks only (`stack/app-*`) are not counted, since which
//! role those stacks use is unknown.
//!
//! ## Why it is bad
//! An update or change set that names no role ARN runs with the role already associated with
//! the stack, and CloudFormation uses that role even when the caller may not pass it. A new
//! template of the caller's choosing (an IAM user with an admin policy, an access key in the
//! outputs) then runs with the service role's permissions.
//!
//! ## Example
//! A developer may update stacks to change parameters; the `network` stack was deployed with
//! `cfn-admin` (AdministratorAccess) as its service role. The developer updates it with a
//! template that adds an IAM user with `AdministratorAccess` and an access key in its outputs.
//!
//! ## How to fix
//! Scope `cloudformation:UpdateStack`, `CreateChangeSet` and `ExecuteChangeSet` to the stacks a
//! principal owns (by name or `aws:ResourceTag`); keep stack service roles narrow; protect
//! sensitive stacks with a stack policy and termination protection.
//!
//! ## References
//! - AWS CloudFormation API Reference, "CreateChangeSet" and "UpdateStack" (`RoleARN`: without
//!   a value CloudFormation uses the role previously associated with the stack, even if the
//!   caller does not have permission to pass it).
//! - AWS CloudFormation User Guide, "CloudFormation service role".

use latch_model::workloads::WorkloadKind;

use super::context::{GraphContext, Need};
use super::runs_as::{runs_as_edges, RunsAsSpec};
use super::{Edge, Rule, Technique};

const STACK: &str = "arn:aws:cloudformation:{region}:{account}:stack/{name}/{name}";

const SPEC: RunsAsSpec = RunsAsSpec {
    technique: Technique::UpdateStack,
    service: "cloudformation.amazonaws.com",
    kind: Some(WorkloadKind::CloudFormationStack),
    needs_instance_profile: false,
    ways: &[
        &[("cloudformation:UpdateStack", STACK, Need::Every)],
        &[
            ("cloudformation:CreateChangeSet", STACK, Need::Every),
            ("cloudformation:ExecuteChangeSet", STACK, Need::Every),
        ],
    ],
    resources: "CloudFormation stacks",
    takeover: "update (or create and execute change sets on)",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct UpdateStack;

impl Rule for UpdateStack {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        runs_as_edges(ctx, &SPEC)
    }
}
