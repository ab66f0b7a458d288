//! Rule `pass-role-code-interpreter`: `iam:PassRole` into a Bedrock AgentCore code
//! interpreter.
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role trusting `bedrock-agentcore.amazonaws.com`
//! (passed to AgentCore), create a custom code interpreter with it as the execution role
//! (`bedrock-agentcore:CreateCodeInterpreter`), start a session of it
//! (`bedrock-agentcore:StartCodeInterpreterSession`) and run code or terminal commands in the
//! session (`bedrock-agentcore:InvokeCodeInterpreter`).
//!
//! ## Why it is bad
//! The code interpreter assumes its execution role when it runs code: the code and commands
//! the caller sends (the AWS CLI included) act with the role's permissions.
//!
//! ## Example
//! An agent developer may use every AgentCore action and pass `role/*`; `agentcore-admin`
//! trusts `bedrock-agentcore.amazonaws.com` and has AdministratorAccess: a code interpreter
//! created with it runs `aws iam attach-user-policy` for the developer.
//!
//! ## How to fix
//! Scope `iam:PassRole` for AgentCore to the execution roles in use, and condition their trust
//! on `aws:SourceArn`/`aws:SourceAccount`; keep execution roles to the data the tools need.
//!
//! ## References
//! - Amazon Bedrock AgentCore Developer Guide, "Creating an AgentCore Code Interpreter" (the
//!   IAM role the code interpreter assumes when executing code).
//! - Amazon Bedrock AgentCore Developer Guide, "Resource and session management" (the actions
//!   and the execution role's trust in `bedrock-agentcore.amazonaws.com`) and "Using Terminal
//!   Commands with an execution role".

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const CODE_INTERPRETER: &str =
    "arn:aws:bedrock-agentcore:{region}:{account}:code-interpreter-custom/{name}";

const SPEC: PassRoleSpec = PassRoleSpec {
    technique: Technique::PassRoleCodeInterpreter,
    service: "bedrock-agentcore.amazonaws.com",
    passed_to: None,
    ways: &[&[
        ("bedrock-agentcore:CreateCodeInterpreter", "*", Need::Chosen),
        (
            "bedrock-agentcore:StartCodeInterpreterSession",
            CODE_INTERPRETER,
            Need::Chosen,
        ),
        (
            "bedrock-agentcore:InvokeCodeInterpreter",
            CODE_INTERPRETER,
            Need::Chosen,
        ),
    ]],
    instance_profile: Profile::Any,
    vehicle: "a new AgentCore code interpreter",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleCodeInterpreter;

impl Rule for PassRoleCodeInterpreter {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        pass_role_edges(ctx, &SPEC)
    }
}
