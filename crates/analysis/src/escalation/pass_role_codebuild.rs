//! Rule `pass-role-codebuild`: `iam:PassRole` into a CodeBuild project.
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role trusting `codebuild.amazonaws.com` (passed to
//! CodeBuild), create a project (`codebuild:CreateProject`) or give an existing one the role
//! (`codebuild:UpdateProject`), and start a build of it (`codebuild:StartBuild` or
//! `codebuild:StartBuildBatch`). The snapshot has no project inventory: updating needs the
//! actions on every project of the account, and the edge says one is assumed to exist.
//!
//! ## Why it is bad
//! The buildspec is arbitrary shell run in a container holding the project's service role
//! credentials: the project's creator runs code as that role.
//!
//! ## Example
//! A CI user may create and start projects and pass `role/*`; `codebuild-deployer` trusts
//! CodeBuild and can write IAM: a build with `aws iam attach-user-policy ...` in its buildspec
//! makes the CI user an administrator.
//!
//! ## How to fix
//! Scope `iam:PassRole` for CodeBuild to the project roles in use; separate who may define
//! projects from who may run them; keep build roles narrow.
//!
//! ## References
//! - AWS CodeBuild User Guide, "Allow CodeBuild to interact with other AWS services" (service
//!   role).
//! - AWS CodeBuild API Reference, "UpdateProject" (`serviceRole`).
//! - Bishop Fox, "IAM Vulnerable" (privilege-escalation playground, PassRole to CodeBuild).

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const PROJECT: &str = "arn:aws:codebuild:{region}:{account}:project/{name}";

const SPEC: PassRoleSpec = PassRoleSpec {
    technique: Technique::PassRoleCodeBuild,
    service: "codebuild.amazonaws.com",
    ways: &[
        &[
            ("codebuild:CreateProject", PROJECT, Need::Chosen),
            ("codebuild:StartBuild", PROJECT, Need::Chosen),
        ],
        &[
            ("codebuild:CreateProject", PROJECT, Need::Chosen),
            ("codebuild:StartBuildBatch", PROJECT, Need::Chosen),
        ],
        &[
            ("codebuild:UpdateProject", PROJECT, Need::Every),
            ("codebuild:StartBuild", PROJECT, Need::Every),
        ],
        &[
            ("codebuild:UpdateProject", PROJECT, Need::Every),
            ("codebuild:StartBuildBatch", PROJECT, Need::Every),
        ],
    ],
    passed_to: None,
    instance_profile: Profile::Any,
    vehicle: "a new or updated CodeBuild project",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleCodeBuild;

impl Rule for PassRoleCodeBuild {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        pass_role_edges(ctx, &SPEC)
    }
}
