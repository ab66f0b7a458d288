//! Rule `ssm-command`: run commands through SSM on instances whose profile holds a role.
//!
//! ## What it finds
//! A principal that may `ssm:SendCommand` (on every instance of its account and with the
//! `AWS-RunShellScript` document) or `ssm:StartSession` (on every instance), and a role of
//! that account that trusts `ec2.amazonaws.com` and has an instance profile. The snapshot has
//! no instance inventory: the rule assumes an instance runs with each such profile, and says
//! so in the edge.
//!
//! ## Why it is bad
//! A command or shell on the instance reads the profile role's credentials from the instance
//! metadata service: SSM access to an instance is access to its role.
//!
//! ## Example
//! The Identity Center permission set `SupportOps` may `ssm:SendCommand` and
//! `ssm:StartSession` on `instance/*`; `app-ec2-admin-role` (AdministratorAccess) is the role
//! of instance profile `app-ec2-admin-profile`: a support engineer runs a shell command there
//! and holds admin credentials.
//!
//! ## How to fix
//! Scope SSM access to instances by tag (`ssm:resourceTag/...`), never to `instance/*`; keep
//! instance roles narrow; separate support access from instances with privileged roles.
//!
//! ## References
//! - AWS Systems Manager User Guide, "Restrict access to commands by tags" and "Control user
//!   session access to instances".
//! - AWS IAM User Guide, "Using an IAM role to grant permissions to applications running on
//!   Amazon EC2 instances".

use latch_model::workloads::WorkloadKind;

use super::context::{GraphContext, Need};
use super::runs_as::{runs_as_edges, RunsAsSpec};
use super::{Edge, Rule, Technique};

const INSTANCE: &str = "arn:aws:ec2:{region}:{account}:instance/{name}";

const SPEC: RunsAsSpec = RunsAsSpec {
    technique: Technique::SsmCommand,
    service: "ec2.amazonaws.com",
    kind: Some(WorkloadKind::Ec2Instance),
    needs_instance_profile: true,
    ways: &[
        &[
            ("ssm:SendCommand", INSTANCE, Need::Every),
            (
                "ssm:SendCommand",
                "arn:aws:ssm:{region}::document/AWS-RunShellScript",
                Need::Chosen,
            ),
        ],
        &[("ssm:StartSession", INSTANCE, Need::Every)],
    ],
    resources: "EC2 instances",
    takeover: "run commands on",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct SsmCommand;

impl Rule for SsmCommand {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        runs_as_edges(ctx, &SPEC)
    }
}
