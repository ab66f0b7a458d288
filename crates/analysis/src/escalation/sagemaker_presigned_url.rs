//! Rule `sagemaker-presigned-url`: open existing SageMaker notebook instances, which run as
//! their execution role.
//!
//! ## What it finds
//! A principal that may `sagemaker:CreatePresignedNotebookInstanceUrl` on every notebook
//! instance of its account, and a role of that account that trusts `sagemaker.amazonaws.com`.
//! No `iam:PassRole` is needed. The snapshot has no notebook inventory: the rule assumes a
//! notebook instance runs with each such role, and says so in the edge. Grants on some
//! notebooks only are not counted, since which role those notebooks use is unknown.
//!
//! ## Why it is bad
//! The presigned URL opens the notebook's Jupyter server, whose terminals and kernels run on
//! the notebook instance with its execution role's credentials. Whoever may create the URL
//! runs code as that role; once created, opening the URL needs no further permission.
//!
//! ## Example
//! A data analyst may open every notebook instance; the `ml-platform` notebook runs as
//! `sagemaker-admin` (AdministratorAccess). The analyst opens it, starts a terminal and calls
//! IAM with the role's credentials.
//!
//! ## How to fix
//! Scope `sagemaker:CreatePresignedNotebookInstanceUrl` to the notebooks a principal owns (by
//! name or `aws:ResourceTag`), restrict it by source IP; keep notebook execution roles narrow.
//!
//! ## References
//! - Amazon SageMaker API Reference, "CreatePresignedNotebookInstanceUrl" (the caller's IAM
//!   permissions define access to the notebook instance; the URL needs no further permission).
//! - Amazon SageMaker API Reference, "CreateNotebookInstance" (`RoleArn`: the role the notebook
//!   instance runs as).

use latch_model::workloads::WorkloadKind;

use super::context::{GraphContext, Need};
use super::runs_as::{runs_as_edges, RunsAsSpec};
use super::{Edge, Rule, Technique};

const NOTEBOOK: &str = "arn:aws:sagemaker:{region}:{account}:notebook-instance/{name}";

const SPEC: RunsAsSpec = RunsAsSpec {
    technique: Technique::SageMakerPresignedUrl,
    service: "sagemaker.amazonaws.com",
    kind: Some(WorkloadKind::SageMakerNotebook),
    needs_instance_profile: false,
    ways: &[&[(
        "sagemaker:CreatePresignedNotebookInstanceUrl",
        NOTEBOOK,
        Need::Every,
    )]],
    resources: "SageMaker notebook instances",
    takeover: "open a Jupyter terminal on",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct SageMakerPresignedUrl;

impl Rule for SageMakerPresignedUrl {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        runs_as_edges(ctx, &SPEC)
    }
}
