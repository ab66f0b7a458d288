//! Rule `pass-role-sagemaker`: `iam:PassRole` into a SageMaker notebook or job.
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role trusting `sagemaker.amazonaws.com` (passed to
//! SageMaker) and may create a notebook instance and open it
//! (`sagemaker:CreateNotebookInstance`, `sagemaker:CreatePresignedNotebookInstanceUrl`), or
//! create a training job or a processing job (each runs a container of the caller's choosing).
//!
//! ## Why it is bad
//! A notebook is a Jupyter server with a terminal; jobs run arbitrary containers. Both hold
//! the passed role's credentials, which the creator can use directly.
//!
//! ## Example
//! A data scientist may pass `role/*` and create notebooks; `sagemaker-admin` trusts
//! SageMaker and has AdministratorAccess: the notebook's terminal is an admin shell.
//!
//! ## How to fix
//! Scope `iam:PassRole` for SageMaker to the execution roles in use; keep those roles to the
//! buckets and services the work needs.
//!
//! ## References
//! - Amazon SageMaker Developer Guide, "How to use SageMaker AI execution roles".
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation, Part 2"
//!   (SageMaker notebooks and jobs).

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const NOTEBOOK: &str = "arn:aws:sagemaker:{region}:{account}:notebook-instance/{name}";

const SPEC: PassRoleSpec = PassRoleSpec {
    technique: Technique::PassRoleSageMaker,
    service: "sagemaker.amazonaws.com",
    ways: &[
        &[
            ("sagemaker:CreateNotebookInstance", NOTEBOOK, Need::Chosen),
            (
                "sagemaker:CreatePresignedNotebookInstanceUrl",
                NOTEBOOK,
                Need::Chosen,
            ),
        ],
        &[(
            "sagemaker:CreateTrainingJob",
            "arn:aws:sagemaker:{region}:{account}:training-job/{name}",
            Need::Chosen,
        )],
        &[(
            "sagemaker:CreateProcessingJob",
            "arn:aws:sagemaker:{region}:{account}:processing-job/{name}",
            Need::Chosen,
        )],
    ],
    passed_to: None,
    instance_profile: Profile::Any,
    vehicle: "a new SageMaker notebook, training or processing job",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleSageMaker;

impl Rule for PassRoleSageMaker {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        pass_role_edges(ctx, &SPEC)
    }
}
