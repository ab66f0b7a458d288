//! Rule `glue-dev-endpoint`: update a Glue dev endpoint that runs as a role.
//!
//! ## What it finds
//! A principal that may `glue:UpdateDevEndpoint` on every dev endpoint of its account, and a
//! role of that account that trusts `glue.amazonaws.com`. The snapshot has no dev-endpoint
//! inventory: the rule assumes an endpoint runs with each such role, and says so in the edge.
//!
//! ## Why it is bad
//! Updating an endpoint can set a new public SSH key; logging in gives a shell holding the
//! endpoint role's credentials, without `iam:PassRole`.
//!
//! ## Example
//! An analyst may `glue:UpdateDevEndpoint` on `devEndpoint/*`; `glue-admin` trusts Glue and
//! has AdministratorAccess: the analyst adds a key to the endpoint running as `glue-admin` and
//! logs in.
//!
//! ## How to fix
//! Scope `glue:UpdateDevEndpoint` to the endpoints a principal owns; keep Glue roles to the
//! data they process; retire dev endpoints (deprecated in favour of interactive sessions).
//!
//! ## References
//! - AWS Glue Developer Guide, "Identity-based policies for AWS Glue" (dev endpoint
//!   resources).
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation"
//!   (`glue:UpdateDevEndpoint`).

use latch_model::workloads::WorkloadKind;

use super::context::{GraphContext, Need};
use super::runs_as::{runs_as_edges, RunsAsSpec};
use super::{Edge, Rule, Technique};

const SPEC: RunsAsSpec = RunsAsSpec {
    technique: Technique::GlueDevEndpoint,
    service: "glue.amazonaws.com",
    kind: Some(WorkloadKind::GlueDevEndpoint),
    needs_instance_profile: false,
    ways: &[&[(
        "glue:UpdateDevEndpoint",
        "arn:aws:glue:{region}:{account}:devEndpoint/{name}",
        Need::Every,
    )]],
    resources: "Glue dev endpoints",
    takeover: "replace the SSH key of",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct GlueDevEndpoint;

impl Rule for GlueDevEndpoint {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        runs_as_edges(ctx, &SPEC)
    }
}
