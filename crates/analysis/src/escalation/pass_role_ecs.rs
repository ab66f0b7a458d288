//! Rule `pass-role-ecs`: `iam:PassRole` into an ECS task.
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role trusting `ecs-tasks.amazonaws.com` (passed to
//! ECS tasks), register a task definition (`ecs:RegisterTaskDefinition`) and run it
//! (`ecs:RunTask`, `ecs:StartTask` or `ecs:CreateService`); or run an existing task definition
//! with a task-role override (`ecs:RunTask` or `ecs:StartTask` with `overrides.taskRoleArn`),
//! which needs no new task definition. The snapshot has no task-definition inventory: the
//! override needs the action on every task definition of the account, and the edge says one is
//! assumed to exist.
//!
//! ## Why it is bad
//! The task's containers run the caller's image and command (a container override replaces the
//! command of an existing definition) with the task role's credentials.
//!
//! ## Example
//! A deploy role may register task definitions, run tasks and pass `role/*`;
//! `batch-admin-task` trusts ECS tasks and can write IAM: a task running the AWS CLI escalates
//! the deployer.
//!
//! ## How to fix
//! Scope `iam:PassRole` for ECS to the task roles of the services deployed; keep task roles
//! narrow.
//!
//! ## References
//! - Amazon ECS Developer Guide, "Amazon ECS task IAM role".
//! - Amazon ECS API Reference, "TaskOverride" (`taskRoleArn`, `containerOverrides`); AWS IAM
//!   User Guide, "Grant a user permissions to pass a role to an AWS service".
//! - Bishop Fox, "IAM Vulnerable" (PassRole to ECS tasks).

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const TASK_DEFINITION: &str = "arn:aws:ecs:{region}:{account}:task-definition/{name}:1";
/// Any revision of any family, for existing task definitions.
const EXISTING_TASK_DEFINITION: &str =
    "arn:aws:ecs:{region}:{account}:task-definition/{name}:{name}";

const SPEC: PassRoleSpec = PassRoleSpec {
    technique: Technique::PassRoleEcs,
    service: "ecs-tasks.amazonaws.com",
    ways: &[
        &[
            ("ecs:RegisterTaskDefinition", TASK_DEFINITION, Need::Chosen),
            ("ecs:RunTask", TASK_DEFINITION, Need::Chosen),
        ],
        &[
            ("ecs:RegisterTaskDefinition", TASK_DEFINITION, Need::Chosen),
            ("ecs:StartTask", TASK_DEFINITION, Need::Chosen),
        ],
        &[
            ("ecs:RegisterTaskDefinition", TASK_DEFINITION, Need::Chosen),
            (
                "ecs:CreateService",
                "arn:aws:ecs:{region}:{account}:service/default/{name}",
                Need::Chosen,
            ),
        ],
        &[("ecs:RunTask", EXISTING_TASK_DEFINITION, Need::Every)],
        &[("ecs:StartTask", EXISTING_TASK_DEFINITION, Need::Every)],
    ],
    passed_to: None,
    instance_profile: Profile::Any,
    vehicle: "a new ECS task",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleEcs;

impl Rule for PassRoleEcs {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        pass_role_edges(ctx, &SPEC)
    }
}
