//! Rule `instance-connect`: push an SSH key with EC2 Instance Connect to instances whose profile holds a role.
//!
//! ## What it finds
//! A principal that may `ec2-instance-connect:SendSSHPublicKey` on every instance of its
//! account, and a role of that account that trusts `ec2.amazonaws.com` and has an instance
//! profile. The snapshot has neither an instance inventory nor network reachability: the rule
//! assumes a reachable instance runs with each such profile, and says so in the edge.
//!
//! ## Why it is bad
//! The pushed key is valid for 60 seconds, enough to log in; on the instance the profile
//! role's credentials are one metadata request away.
//!
//! ## Example
//! An operator may `SendSSHPublicKey` on `instance/*`; `ec2-fleet-admin` is the role of an
//! instance profile and has AdministratorAccess: the operator logs in to a fleet instance and
//! uses its credentials.
//!
//! ## How to fix
//! Scope `ec2-instance-connect:SendSSHPublicKey` by instance tag and `ec2:osuser`; keep
//! instance roles narrow.
//!
//! ## References
//! - Amazon EC2 User Guide, "Grant IAM permissions for EC2 Instance Connect".
//! - AWS IAM User Guide, "Using an IAM role to grant permissions to applications running on
//!   Amazon EC2 instances".

use latch_model::workloads::WorkloadKind;

use super::context::{GraphContext, Need};
use super::runs_as::{runs_as_edges, RunsAsSpec};
use super::{Edge, Rule, Technique};

const SPEC: RunsAsSpec = RunsAsSpec {
    technique: Technique::InstanceConnect,
    service: "ec2.amazonaws.com",
    kind: Some(WorkloadKind::Ec2Instance),
    needs_instance_profile: true,
    ways: &[&[(
        "ec2-instance-connect:SendSSHPublicKey",
        "arn:aws:ec2:{region}:{account}:instance/{name}",
        Need::Every,
    )]],
    resources: "EC2 instances",
    takeover: "push an SSH key (EC2 Instance Connect) to",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct InstanceConnect;

impl Rule for InstanceConnect {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        runs_as_edges(ctx, &SPEC)
    }
}
