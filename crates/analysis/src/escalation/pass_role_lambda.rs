//! Rule `pass-role-lambda`: `iam:PassRole` into a new Lambda function.
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role trusting `lambda.amazonaws.com` (with
//! `iam:PassedToService` = `lambda.amazonaws.com` in the request context) and may create a
//! Lambda function (`lambda:CreateFunction`) and run it, by invoking it
//! (`lambda:InvokeFunction`) or by wiring it to an event source
//! (`lambda:CreateEventSourceMapping`).
//!
//! ## Why it is bad
//! The function's code runs with the execution role's credentials. Whoever can create a
//! function with a privileged execution role and trigger it can make that role do anything,
//! including return its temporary credentials: the role's permissions become the caller's.
//!
//! ## Example
//! `dev-carol` holds `iam:PassRole` on `role/*`, `lambda:CreateFunction` and
//! `lambda:InvokeFunction`. `lambda-admin-exec` trusts Lambda and has AdministratorAccess:
//! Carol creates a function with it as execution role and invokes it.
//!
//! ## How to fix
//! Scope `iam:PassRole` to the exact execution roles a principal must pass, with an
//! `iam:PassedToService` condition; keep execution roles narrow; never give a Lambda
//! execution role administrative permissions.
//!
//! ## References
//! - AWS IAM User Guide, "Granting a user permissions to pass a role to an AWS service".
//! - AWS Lambda Developer Guide, "Lambda execution role".
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation"
//!   (PassRole with `lambda:CreateFunction`).

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const FUNCTION: &str = "arn:aws:lambda:{region}:{account}:function:{name}";

const SPEC: PassRoleSpec = PassRoleSpec {
    technique: Technique::PassRoleLambda,
    service: "lambda.amazonaws.com",
    ways: &[
        &[
            ("lambda:CreateFunction", FUNCTION, Need::Chosen),
            ("lambda:InvokeFunction", FUNCTION, Need::Chosen),
        ],
        &[
            ("lambda:CreateFunction", FUNCTION, Need::Chosen),
            ("lambda:CreateEventSourceMapping", "*", Need::Chosen),
        ],
    ],
    passed_to: None,
    instance_profile: Profile::Any,
    vehicle: "a new Lambda function",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleLambda;

impl Rule for PassRoleLambda {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        pass_role_edges(ctx, &SPEC)
    }
}
