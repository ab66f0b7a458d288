//! Escalation rules that reach code running as a role through a service, on small snapshots
//! built in code: each rule's positive fixture (the edge and its actions) and its negative
//! fixtures (an action missing or denied, the role passed to another service, a grant on one
//! named resource, a role trusting another service).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "escalation/fixture.rs"]
#[allow(dead_code, reason = "each test crate uses part of the fixture")]
mod fixture;

use fixture::*;
use latch_analysis::escalation::Technique;

// ---------------------------------------------------------------------------------------------
// update-stack

/// CloudFormation API Reference, "UpdateStack" and "CreateChangeSet": without a role ARN the
/// stack's own service role is used, even when the caller may not pass it.
#[test]
fn update_stack_reuses_the_stack_service_role() {
    let stack = "arn:aws:cloudformation:us-east-1:111111111111:stack/network/1a2b3c4d";
    runs_as_case(
        "cloudformation.amazonaws.com",
        false,
        &["cloudformation:UpdateStack"],
        stack,
        Technique::UpdateStack,
    );
    runs_as_case(
        "cloudformation.amazonaws.com",
        false,
        &[
            "cloudformation:CreateChangeSet",
            "cloudformation:ExecuteChangeSet",
        ],
        stack,
        Technique::UpdateStack,
    );
}

// ---------------------------------------------------------------------------------------------
// sagemaker-presigned-url

/// SageMaker API Reference, "CreatePresignedNotebookInstanceUrl": the URL opens the notebook's
/// Jupyter server, which runs as the notebook's execution role.
#[test]
fn sagemaker_presigned_url_opens_a_notebook_running_as_a_role() {
    runs_as_case(
        "sagemaker.amazonaws.com",
        false,
        &["sagemaker:CreatePresignedNotebookInstanceUrl"],
        "arn:aws:sagemaker:us-east-1:111111111111:notebook-instance/team-a",
        Technique::SageMakerPresignedUrl,
    );
}
