//! Rule `ec2-user-data`: replace the user data of instances whose profile holds a role, then
//! restart them.
//!
//! ## What it finds
//! A principal that may `ec2:ModifyInstanceAttribute`, `ec2:StopInstances` and
//! `ec2:StartInstances` on every instance of its account, and a role of that account that
//! trusts `ec2.amazonaws.com` and has an instance profile. The snapshot has no instance
//! inventory: the rule assumes an instance runs with each such profile, and says so in the
//! edge.
//!
//! ## Why it is bad
//! User data can only be changed while the instance is stopped; a script in it (a
//! `#cloud-boothook`, or cloud-config set to run on every boot) runs as root when the instance
//! starts again, where the profile role's credentials are one metadata request away. No
//! `iam:PassRole` is needed: the instance keeps its profile.
//!
//! ## Example
//! A deployment role may stop, start and modify instances to change their type; `batch-admin`
//! is the role of an instance profile with AdministratorAccess: the deployment role stops a
//! batch instance, sets user data that posts the role's credentials out, and starts it.
//!
//! ## How to fix
//! Deny `ec2:ModifyInstanceAttribute` with `ec2:Attribute/UserData` (or scope it by instance
//! tag) outside the pipelines that build instances; keep instance roles narrow.
//!
//! ## References
//! - Amazon EC2 User Guide, "Run commands when you launch an EC2 instance with user data input"
//!   (user data is changed while the instance is stopped and run at start).
//! - Amazon EC2 API Reference, "ModifyInstanceAttribute" (`UserData`).

use latch_model::workloads::WorkloadKind;

use super::context::{GraphContext, Need};
use super::runs_as::{runs_as_edges, RunsAsSpec};
use super::{Edge, Rule, Technique};

const INSTANCE: &str = "arn:aws:ec2:{region}:{account}:instance/{name}";

const SPEC: RunsAsSpec = RunsAsSpec {
    technique: Technique::Ec2UserData,
    service: "ec2.amazonaws.com",
    kind: Some(WorkloadKind::Ec2Instance),
    needs_instance_profile: true,
    ways: &[&[
        ("ec2:ModifyInstanceAttribute", INSTANCE, Need::Every),
        ("ec2:StopInstances", INSTANCE, Need::Every),
        ("ec2:StartInstances", INSTANCE, Need::Every),
    ]],
    resources: "EC2 instances",
    takeover: "stop, replace the user data of and restart",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct Ec2UserData;

impl Rule for Ec2UserData {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        runs_as_edges(ctx, &SPEC)
    }
}
