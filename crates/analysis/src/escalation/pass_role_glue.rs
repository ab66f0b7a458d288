//! Rule `pass-role-glue`: `iam:PassRole` into a Glue dev endpoint, job or interactive session.
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role trusting `glue.amazonaws.com` (passed to Glue)
//! and may:
//! - create a Glue dev endpoint (`glue:CreateDevEndpoint`);
//! - create a job and start it (`glue:CreateJob`, then `glue:StartJobRun` or a trigger that
//!   starts it, `glue:CreateTrigger`);
//! - create an interactive session and run a statement in it (`glue:CreateSession`,
//!   `glue:RunStatement`);
//! - give an existing job the role and start it (`glue:UpdateJob`, then `glue:StartJobRun` or
//!   `glue:CreateTrigger`). The snapshot has no job inventory: this needs the actions on every
//!   job of the account, and the edge says a job is assumed to exist.
//!
//! ## Why it is bad
//! A dev endpoint is a machine the creator can log in to with its own SSH key, a job runs the
//! creator's script, and a session runs the statements sent to it; all run with the passed
//! role, whose credentials the caller can then use.
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
//! - AWS Glue Developer Guide, "Interactive sessions with IAM" (the runtime role passed to
//!   `CreateSession` runs the session's statements; the client needs `iam:PassRole` on it).
//! - AWS Glue Developer Guide, "IAM permissions for auto upgrade" (editing a job takes
//!   `glue:UpdateJob` and `iam:PassRole` on the job role).
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation"
//!   (PassRole with `glue:CreateDevEndpoint`).

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const JOB: &str = "arn:aws:glue:{region}:{account}:job/{name}";
const TRIGGER: &str = "arn:aws:glue:{region}:{account}:trigger/{name}";
const SESSION: &str = "arn:aws:glue:{region}:{account}:session/{name}";

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
        &[
            ("glue:CreateJob", JOB, Need::Chosen),
            ("glue:CreateTrigger", TRIGGER, Need::Chosen),
        ],
        &[
            ("glue:CreateSession", SESSION, Need::Chosen),
            ("glue:RunStatement", SESSION, Need::Chosen),
        ],
        &[
            ("glue:UpdateJob", JOB, Need::Every),
            ("glue:StartJobRun", JOB, Need::Every),
        ],
        &[
            ("glue:UpdateJob", JOB, Need::Every),
            ("glue:CreateTrigger", TRIGGER, Need::Chosen),
        ],
    ],
    passed_to: None,
    instance_profile: Profile::Any,
    vehicle: "a Glue dev endpoint, job or interactive session",
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
