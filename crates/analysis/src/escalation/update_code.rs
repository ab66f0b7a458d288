//! Rule `update-code`: update the code or configuration of Lambda functions that run as a role.
//!
//! ## What it finds
//! A principal that may `lambda:UpdateFunctionCode` or `lambda:UpdateFunctionConfiguration`
//! on every function of its account, and a role of that account that trusts
//! `lambda.amazonaws.com`. The snapshot has no function inventory: the rule assumes a function
//! runs with each such role, and says so in the edge. Grants on some functions only
//! (`function:ci-*`) are not counted, since which role those functions run as is unknown.
//!
//! ## Why it is bad
//! New code (or a configuration that adds a layer or an exec wrapper) runs with the
//! function's execution role the next time the function is triggered: no `iam:PassRole` is
//! needed, the role is already attached.
//!
//! ## Example
//! A developer holding `lambda:*` on `*` in an account where `lambda-admin-exec`
//! (AdministratorAccess) is the execution role of some function replaces that function's code
//! with one that calls IAM.
//!
//! ## How to fix
//! Scope `lambda:Update*` to the functions a principal owns (by name prefix or tag); keep
//! execution roles narrow so that owning a function never means owning admin.
//!
//! ## References
//! - AWS Lambda Developer Guide, "Identity-based IAM policies for Lambda" (resources and
//!   conditions for function actions).
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation"
//!   (`lambda:UpdateFunctionCode`).

use latch_model::workloads::WorkloadKind;

use super::context::{GraphContext, Need};
use super::runs_as::{runs_as_edges, RunsAsSpec};
use super::{Edge, Rule, Technique};

const FUNCTION: &str = "arn:aws:lambda:{region}:{account}:function:{name}";

const SPEC: RunsAsSpec = RunsAsSpec {
    technique: Technique::UpdateCode,
    service: "lambda.amazonaws.com",
    kind: Some(WorkloadKind::LambdaFunction),
    needs_instance_profile: false,
    ways: &[
        &[("lambda:UpdateFunctionCode", FUNCTION, Need::Every)],
        &[("lambda:UpdateFunctionConfiguration", FUNCTION, Need::Every)],
    ],
    resources: "Lambda functions",
    takeover: "replace the code or configuration of",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct UpdateCode;

impl Rule for UpdateCode {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        runs_as_edges(ctx, &SPEC)
    }
}
