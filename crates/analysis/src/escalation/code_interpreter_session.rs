//! Rule `code-interpreter-session`: run code in existing Bedrock AgentCore code interpreters,
//! which run as their execution role.
//!
//! ## What it finds
//! A principal that may `bedrock-agentcore:StartCodeInterpreterSession` and
//! `bedrock-agentcore:InvokeCodeInterpreter` on every custom code interpreter of its account,
//! and a role of that account that trusts `bedrock-agentcore.amazonaws.com`. No `iam:PassRole`
//! is needed. The snapshot has no code-interpreter inventory: the rule assumes a code
//! interpreter runs with each such role, and says so in the edge (AgentCore runtimes and
//! gateways trust the same service principal, so some of these roles may belong to them).
//! Grants on some code interpreters only are not counted.
//!
//! ## Why it is bad
//! A custom code interpreter assumes its execution role when it runs code; a session accepts
//! any code or terminal command (`executeCode`, `executeCommand`) from whoever may invoke it,
//! so invoking the tool means acting with the role's permissions.
//!
//! ## Example
//! An agent developer holds `bedrock-agentcore:*` on `*`; the `data-analysis` code interpreter
//! runs as `agentcore-analytics`, which may read every S3 bucket and write IAM. The developer
//! starts a session and runs `aws iam create-access-key` in it.
//!
//! ## How to fix
//! Scope `StartCodeInterpreterSession` and `InvokeCodeInterpreter` to the code interpreters a
//! principal owns; keep execution roles to the data the tool needs.
//!
//! ## References
//! - Amazon Bedrock AgentCore Developer Guide, "Creating an AgentCore Code Interpreter" (the
//!   IAM role the code interpreter assumes when executing code).
//! - Amazon Bedrock AgentCore Developer Guide, "Code Interpreter API Reference Examples"
//!   (`executeCode`, `executeCommand` through `InvokeCodeInterpreter`) and "Resource and
//!   session management".

use super::context::{GraphContext, Need};
use super::runs_as::{runs_as_edges, RunsAsSpec};
use super::{Edge, Rule, Technique};

const CODE_INTERPRETER: &str =
    "arn:aws:bedrock-agentcore:{region}:{account}:code-interpreter-custom/{name}";

const SPEC: RunsAsSpec = RunsAsSpec {
    technique: Technique::CodeInterpreterSession,
    service: "bedrock-agentcore.amazonaws.com",
    kind: None,
    needs_instance_profile: false,
    ways: &[&[
        (
            "bedrock-agentcore:StartCodeInterpreterSession",
            CODE_INTERPRETER,
            Need::Every,
        ),
        (
            "bedrock-agentcore:InvokeCodeInterpreter",
            CODE_INTERPRETER,
            Need::Every,
        ),
    ]],
    resources: "AgentCore code interpreters",
    takeover: "run code in",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct CodeInterpreterSession;

impl Rule for CodeInterpreterSession {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        runs_as_edges(ctx, &SPEC)
    }
}
