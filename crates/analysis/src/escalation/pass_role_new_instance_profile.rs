//! Rule `pass-role-new-instance-profile`: put a role that has no instance profile into a new
//! one, then pass it to EC2.
//!
//! ## What it finds
//! A principal that may create an instance profile (`iam:CreateInstanceProfile`), add a role
//! to it (`iam:AddRoleToInstanceProfile`, which checks `iam:PassRole` on the role) and launch an
//! instance with it (`ec2:RunInstances`) or attach it to an existing instance
//! (`ec2:AssociateIamInstanceProfile`; the snapshot has no instance inventory, so this needs
//! the action on every instance of the account and the edge says one is assumed), for a role
//! that trusts `ec2.amazonaws.com` and has no instance profile yet. Roles that have one are
//! found by `pass-role-ec2`.
//!
//! ## Why it is bad
//! A role that trusts EC2 but has no profile looks unusable from an instance; whoever may
//! create the missing profile and pass the role makes it an instance role, whose credentials
//! the instance's code (the caller's user data) reads from the metadata service.
//!
//! ## Example
//! A build agent may manage instance profiles named `build-*`, launch instances and pass
//! `role/*`; `ec2-admin` trusts EC2 and has AdministratorAccess but no profile. The agent
//! creates `build-x`, adds `ec2-admin`, and launches an instance with it.
//!
//! ## How to fix
//! Scope `iam:PassRole` for EC2 to the instance roles in use; restrict
//! `iam:AddRoleToInstanceProfile` and `iam:CreateInstanceProfile` to the pipelines that own
//! instance profiles; do not let administrative roles trust `ec2.amazonaws.com`.
//!
//! ## References
//! - AWS IAM API Reference, "AddRoleToInstanceProfile" (the caller must be granted
//!   `iam:PassRole` on the role) and "CreateInstanceProfile".
//! - AWS IAM User Guide, "Using instance profiles".

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const PROFILE: &str = "arn:aws:iam::{account}:instance-profile/{name}";
const INSTANCE: &str = "arn:aws:ec2:{region}:{account}:instance/{name}";

const SPEC: PassRoleSpec = PassRoleSpec {
    technique: Technique::PassRoleNewInstanceProfile,
    service: "ec2.amazonaws.com",
    passed_to: None,
    ways: &[
        &[
            ("iam:CreateInstanceProfile", PROFILE, Need::Chosen),
            ("iam:AddRoleToInstanceProfile", PROFILE, Need::Chosen),
            ("ec2:RunInstances", INSTANCE, Need::Chosen),
        ],
        &[
            ("iam:CreateInstanceProfile", PROFILE, Need::Chosen),
            ("iam:AddRoleToInstanceProfile", PROFILE, Need::Chosen),
            ("ec2:AssociateIamInstanceProfile", INSTANCE, Need::Every),
        ],
    ],
    instance_profile: Profile::Absent,
    vehicle: "a new instance profile on an EC2 instance",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleNewInstanceProfile;

impl Rule for PassRoleNewInstanceProfile {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        pass_role_edges(ctx, &SPEC)
    }
}
