//! Rule `pass-role-glue`: `iam:PassRole` into a Glue dev endpoint or job.
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role trusting `glue.amazonaws.com` (passed to Glue)
//! and may create a Glue dev endpoint (`glue:CreateDevEndpoint`), or create and start a job
//! (`glue:CreateJob`, `glue:StartJobRun`).
//!
//! ## Why it is bad
//! A dev endpoint is a machine the creator can log in to with its own SSH key, and a job runs
//! the creator's script; both run with the passed role, whose credentials the creator can then
//! use.
//!
//! ## Example
//! A data engineer may pass `role/*` and create dev endpoints; `glue-admin` trusts Glue and
//! has AdministratorAccess: a dev endpoint created with it gives the engineer a shell with
//! admin credentials.
//!
//! ## How to fix
//! Scope `iam:PassRole` for Glue to the job roles actually used, with `iam:PassedToService`;
//! keep Glue roles to the data they process.
//!
//! ## References
//! - AWS Glue Developer Guide, "Setting up IAM permissions for AWS Glue".
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation"
//!   (PassRole with `glue:CreateDevEndpoint`).

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const JOB: &str = "arn:aws:glue:{region}:{account}:job/{name}";

const SPEC: PassRoleSpec = PassRoleSpec {
    technique: Technique::PassRoleGlue,
    service: "glue.amazonaws.com",
    ways: &[
        &[(
            "glue:CreateDevEndpoint",
            "arn:aws:glue:{region}:{account}:devEndpoint/{name}",
            Need::Chosen,
        )],
        &[
            ("glue:CreateJob", JOB, Need::Chosen),
            ("glue:StartJobRun", JOB, Need::Chosen),
        ],
    ],
    passed_to: None,
    instance_profile: Profile::Any,
    vehicle: "a new Glue dev endpoint or job",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleGlue;

impl Rule for PassRoleGlue {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        pass_role_edges(ctx, &SPEC)
    }
}
