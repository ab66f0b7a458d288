//! Rule `pass-role-cloudformation`: `iam:PassRole` into a CloudFormation stack.
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role trusting `cloudformation.amazonaws.com` (passed
//! to CloudFormation) and may create a stack (`cloudformation:CreateStack`), or update every
//! stack of the account (`cloudformation:UpdateStack`; the snapshot has no stack inventory).
//!
//! ## Why it is bad
//! CloudFormation creates every resource of the template with the service role's permissions:
//! a template of the caller's choosing (an IAM user with an admin policy, an access key in the
//! outputs) turns the role's permissions into the caller's.
//!
//! ## Example
//! A deployer may pass `role/cfn-*` and call `CreateStack`; `cfn-admin` trusts CloudFormation
//! and has AdministratorAccess: a stack creating a new admin user escalates the deployer.
//!
//! ## How to fix
//! Scope `iam:PassRole` for CloudFormation to narrow, per-pipeline service roles; review who
//! may create or update stacks with a privileged service role.
//!
//! ## References
//! - AWS CloudFormation User Guide, "AWS CloudFormation service role".
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation"
//!   (PassRole with `cloudformation:CreateStack`).

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const STACK: &str =
    "arn:aws:cloudformation:{region}:{account}:stack/{name}/00000000-0000-0000-0000-000000000000";

const SPEC: PassRoleSpec = PassRoleSpec {
    technique: Technique::PassRoleCloudFormation,
    service: "cloudformation.amazonaws.com",
    ways: &[
        &[("cloudformation:CreateStack", STACK, Need::Chosen)],
        &[("cloudformation:UpdateStack", STACK, Need::Every)],
    ],
    passed_to: None,
    instance_profile: Profile::Any,
    vehicle: "a CloudFormation stack",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleCloudFormation;

impl Rule for PassRoleCloudFormation {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        pass_role_edges(ctx, &SPEC)
    }
}
