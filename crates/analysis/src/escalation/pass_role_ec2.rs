//! Rule `pass-role-ec2`: `iam:PassRole` into a new EC2 instance (instance profile).
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role that has an instance profile and trusts
//! `ec2.amazonaws.com` (the request carries `iam:PassedToService` = `ec2.amazonaws.com`, so
//! grants conditioned on it are honoured), and may launch an instance (`ec2:RunInstances`),
//! request a Spot Instance whose launch specification names the profile
//! (`ec2:RequestSpotInstances`), or attach the profile to any existing instance
//! (`ec2:AssociateIamInstanceProfile`; the snapshot has no instance inventory, so the rule
//! requires it on every instance of the account and the edge says one is assumed).
//!
//! ## Why it is bad
//! Code on the instance reads the role's credentials from the instance metadata service.
//! Launching an instance with a privileged profile (and user data, or an SSH key of one's
//! choosing) hands those credentials to the launcher.
//!
//! ## Example
//! `dev-build-agent` has two policies, each harmless alone: `pass-ec2-roles` (PassRole on
//! `role/ec2-*` when passed to EC2) and `ec2-launch` (`ec2:RunInstances`). Together they launch
//! an instance with profile `ec2-fleet-admin`, an administrator role.
//!
//! ## How to fix
//! Allow `iam:PassRole` only for the instance roles a pipeline must use, never for
//! administrative ones; keep instance roles narrow; require IMDSv2.
//!
//! ## References
//! - AWS IAM User Guide, "Using an IAM role to grant permissions to applications running on
//!   Amazon EC2 instances" and "iam:PassedToService".
//! - Amazon EC2 API Reference, "RequestSpotInstances" (`LaunchSpecification.IamInstanceProfile`);
//!   AWS managed policy `AWSEC2SpotServiceRolePolicy` (Spot launches pass the role to
//!   `ec2.amazonaws.com`).
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation"
//!   (PassRole with `ec2:RunInstances`).

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const INSTANCE: &str = "arn:aws:ec2:{region}:{account}:instance/{name}";

const SPEC: PassRoleSpec = PassRoleSpec {
    technique: Technique::PassRoleEc2,
    service: "ec2.amazonaws.com",
    ways: &[
        &[("ec2:RunInstances", INSTANCE, Need::Chosen)],
        &[(
            "ec2:RequestSpotInstances",
            "arn:aws:ec2:{region}:{account}:spot-instances-request/{name}",
            Need::Chosen,
        )],
        &[("ec2:AssociateIamInstanceProfile", INSTANCE, Need::Every)],
    ],
    passed_to: None,
    instance_profile: Profile::Required,
    vehicle: "an EC2 instance (launched, requested or running)",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleEc2;

impl Rule for PassRoleEc2 {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        pass_role_edges(ctx, &SPEC)
    }
}
