//! Rule `pass-role-datapipeline`: `iam:PassRole` into a Data Pipeline.
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role trusting `datapipeline.amazonaws.com` (passed to
//! Data Pipeline) and may create, define and activate a pipeline
//! (`datapipeline:CreatePipeline`, `datapipeline:PutPipelineDefinition`,
//! `datapipeline:ActivatePipeline`).
//!
//! ## Why it is bad
//! A pipeline definition can hold a shell command activity; the pipeline runs it with the
//! roles named in the definition, so its author acts with the passed role.
//!
//! ## Example
//! An analyst may pass `role/*` and manage pipelines; `pipeline-admin` trusts Data Pipeline
//! and can write IAM: a `ShellCommandActivity` calling IAM escalates the analyst.
//!
//! ## How to fix
//! Scope `iam:PassRole` for Data Pipeline to the pipeline roles in use; restrict who may put
//! pipeline definitions. (Data Pipeline also passes a resource role trusted by EC2; this rule
//! looks at the pipeline role.)
//!
//! ## References
//! - AWS Data Pipeline Developer Guide, "IAM roles for AWS Data Pipeline".
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation"
//!   (PassRole with `datapipeline:CreatePipeline`).

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const PIPELINE: &str = "arn:aws:datapipeline:{region}:{account}:pipeline/{name}";

const SPEC: PassRoleSpec = PassRoleSpec {
    technique: Technique::PassRoleDataPipeline,
    service: "datapipeline.amazonaws.com",
    ways: &[&[
        ("datapipeline:CreatePipeline", "*", Need::Chosen),
        ("datapipeline:PutPipelineDefinition", PIPELINE, Need::Chosen),
        ("datapipeline:ActivatePipeline", PIPELINE, Need::Chosen),
    ]],
    passed_to: None,
    instance_profile: Profile::Any,
    vehicle: "a new Data Pipeline",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleDataPipeline;

impl Rule for PassRoleDataPipeline {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        pass_role_edges(ctx, &SPEC)
    }
}
