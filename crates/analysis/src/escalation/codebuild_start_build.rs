//! Rule `codebuild-start-build`: start builds of existing CodeBuild projects with a buildspec of
//! one's own; the build runs as the project's service role.
//!
//! ## What it finds
//! A principal that may `codebuild:StartBuild` or `codebuild:StartBuildBatch` on every project
//! of its account, and a role of that account that trusts `codebuild.amazonaws.com`. No
//! `iam:PassRole` is needed. The snapshot has no project inventory: the rule assumes a project
//! runs with each such role as its service role, and says so in the edge. Grants on some
//! projects only are not counted, since which role those projects use is unknown.
//!
//! ## Why it is bad
//! `StartBuild` accepts a `buildspecOverride`: the caller's commands run in the build container
//! for that build only, with the credentials of the project's service role. Starting a build is
//! often granted as harmless ("re-run the pipeline"), but with an override it is running
//! arbitrary code as the project's role.
//!
//! ## Example
//! A developer may start any build; the `deploy-prod` project runs as `codebuild-deployer`,
//! which may write IAM. The developer starts a build of `deploy-prod` whose buildspec override
//! runs `aws iam attach-user-policy` on the developer's own user.
//!
//! ## How to fix
//! Scope `codebuild:StartBuild` and `StartBuildBatch` to the projects a principal owns, and deny
//! overrides where they are not needed (condition keys such as `codebuild:source.buildspec`);
//! keep project service roles narrow.
//!
//! ## References
//! - AWS CodeBuild API Reference, "StartBuild" (`buildspecOverride`: a buildspec that overrides
//!   the project's for this build only; the project is not changed).
//! - AWS CodeBuild User Guide, "Allow CodeBuild to interact with other AWS services" (the
//!   service role is used for every operation of the build).

use latch_model::workloads::WorkloadKind;

use super::context::{GraphContext, Need};
use super::runs_as::{runs_as_edges, RunsAsSpec};
use super::{Edge, Rule, Technique};

const PROJECT: &str = "arn:aws:codebuild:{region}:{account}:project/{name}";

const SPEC: RunsAsSpec = RunsAsSpec {
    technique: Technique::CodeBuildStartBuild,
    service: "codebuild.amazonaws.com",
    kind: Some(WorkloadKind::CodeBuildProject),
    needs_instance_profile: false,
    ways: &[
        &[("codebuild:StartBuild", PROJECT, Need::Every)],
        &[("codebuild:StartBuildBatch", PROJECT, Need::Every)],
    ],
    resources: "CodeBuild projects",
    takeover: "start builds, with a buildspec override, of",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct CodeBuildStartBuild;

impl Rule for CodeBuildStartBuild {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        runs_as_edges(ctx, &SPEC)
    }
}
