//! Rule `pass-role-autoscaling`: `iam:PassRole` into instances an Auto Scaling group launches.
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role that has an instance profile and trusts
//! `ec2.amazonaws.com` (passed to EC2), and may create an Auto Scaling group
//! (`autoscaling:CreateAutoScalingGroup`) from a launch configuration it creates
//! (`autoscaling:CreateLaunchConfiguration`) or from a launch template it creates
//! (`ec2:CreateLaunchTemplate`; Auto Scaling then also checks `ec2:RunInstances` of the
//! caller).
//!
//! ## Why it is bad
//! The group launches instances with the profile and the caller's user data: code of the
//! caller's choosing runs where the role's credentials are one metadata request away, as with
//! `ec2:RunInstances` itself.
//!
//! ## Example
//! A platform engineer may create launch configurations and Auto Scaling groups and pass
//! `role/*` to EC2; `fleet-admin` has an instance profile and AdministratorAccess: a group of
//! one instance whose user data calls IAM escalates the engineer.
//!
//! ## How to fix
//! Scope `iam:PassRole` for EC2 to the instance roles a fleet needs; restrict
//! `autoscaling:CreateAutoScalingGroup` and the launch templates it may use
//! (`autoscaling:LaunchConfigurationName`, `ec2:LaunchTemplate`); keep instance roles narrow.
//! (Accounts created since late 2024 can no longer create launch configurations.)
//!
//! ## References
//! - Amazon EC2 Auto Scaling User Guide, "Amazon EC2 Auto Scaling API permissions"
//!   (`CreateAutoScalingGroup` needs `iam:PassRole` for a launch template that specifies an
//!   instance profile, and `ec2:RunInstances` when a launch template is provided).
//! - Amazon EC2 Auto Scaling User Guide, "IAM role for applications that run on Amazon EC2
//!   instances".

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const LAUNCH_CONFIGURATION: &str = "arn:aws:autoscaling:{region}:{account}:launchConfiguration:\
     00000000-0000-0000-0000-000000000000:launchConfigurationName/{name}";
const GROUP: &str = "arn:aws:autoscaling:{region}:{account}:autoScalingGroup:\
     00000000-0000-0000-0000-000000000000:autoScalingGroupName/{name}";
const LAUNCH_TEMPLATE: &str = "arn:aws:ec2:{region}:{account}:launch-template/{name}";
const INSTANCE: &str = "arn:aws:ec2:{region}:{account}:instance/{name}";

const SPEC: PassRoleSpec = PassRoleSpec {
    technique: Technique::PassRoleAutoScaling,
    service: "ec2.amazonaws.com",
    passed_to: None,
    ways: &[
        &[
            (
                "autoscaling:CreateLaunchConfiguration",
                LAUNCH_CONFIGURATION,
                Need::Chosen,
            ),
            ("autoscaling:CreateAutoScalingGroup", GROUP, Need::Chosen),
        ],
        &[
            ("ec2:CreateLaunchTemplate", LAUNCH_TEMPLATE, Need::Chosen),
            ("autoscaling:CreateAutoScalingGroup", GROUP, Need::Chosen),
            ("ec2:RunInstances", INSTANCE, Need::Chosen),
        ],
    ],
    instance_profile: Profile::Required,
    vehicle: "instances of a new Auto Scaling group",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleAutoScaling;

impl Rule for PassRoleAutoScaling {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        pass_role_edges(ctx, &SPEC)
    }
}
