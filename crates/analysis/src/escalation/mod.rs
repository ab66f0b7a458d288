//! The privilege-escalation graph: how an identity can climb to an admin-equivalent one.
//!
//! Nodes are the principals (users and roles) of a snapshot, plus one terminal node,
//! [`Target::Admin`], for principals that can make *themselves* admin. Edges are known
//! escalation techniques, one [`Rule`] per file of this module, each documented in fixed
//! sections (what it finds, why it is bad, an example, how to fix it, references). Every check
//! is a request to the policy engine over the principal's merged policy set (identity policies,
//! boundary, SCPs, and for `sts:AssumeRole` the target's trust policy), so a technique whose
//! permissions come from several policies — each harmless alone — is found.
//!
//! [`paths`] then searches, from every principal that is not admin-equivalent (the definition
//! is in [`context`]), the shortest path (breadth-first) to every admin-equivalent principal
//! or to `admin` that it can reach; a path ends at the first admin-equivalent node it meets.
//! Output order is deterministic: the same snapshot gives the same paths in the same order.
//!
//! Start with [`escalation_paths`], which does it all and returns a serialisable
//! [`EscalationReport`].

pub mod context;

// Shared by the rules (not rules themselves).
mod pass_role;
mod runs_as;

use std::collections::{BTreeMap, VecDeque};

use latch_model::Snapshot;
use serde::{Serialize, Serializer};

pub use context::{GraphContext, GraphOptions, Need, ADMIN_PROBES};

/// The registry of escalation rules: one line per rule, in output order — the technique
/// (documented), its stable id, and the module and type of the rule that finds it. Adding a
/// rule is its file plus one line here: the module, the [`Technique`] variant, its id, and
/// its place in [`rules`] all come from that line.
macro_rules! registry {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $id:literal => $vis:vis $module:ident :: $rule:ident,
    )*) => {
        $($vis mod $module;)*

        /// A known escalation technique: the id of the rule that finds it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Technique {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Technique {
            /// Every technique, in output order.
            pub const ALL: &'static [Technique] = &[$(Technique::$variant,)*];

            /// The stable id used in output (`assume-role`, `pass-role-lambda`, ...).
            pub fn id(self) -> &'static str {
                match self {
                    $(Technique::$variant => $id,)*
                }
            }

            /// What the technique is, why it is bad and how to fix it, from its rule file's
            /// documentation ([`crate::guide`]).
            pub fn guide(self) -> &'static crate::guide::Guide {
                match self {
                    $(Technique::$variant => {
                        static GUIDE: std::sync::OnceLock<crate::guide::Guide> =
                            std::sync::OnceLock::new();
                        GUIDE.get_or_init(|| {
                            crate::guide::parse(include_str!(concat!(stringify!($module), ".rs")))
                        })
                    })*
                }
            }
        }

        /// Every rule, in [`Technique::ALL`] order.
        pub fn rules() -> Vec<Box<dyn Rule>> {
            vec![$(Box::new($module::$rule),)*]
        }
    };
}

registry! {
    /// `sts:AssumeRole` allowed by both the trust policy and the caller's permissions.
    AssumeRole = "assume-role" => pub(crate) assume_role::AssumeRole,
    /// Update a trust policy, then assume the role.
    UpdateTrust = "update-trust" => update_trust::UpdateTrust,
    /// Create an access key or a console password for a user.
    CreateCredentials = "create-credentials" => create_credentials::CreateCredentials,
    /// Change the policies that apply to oneself (or to a principal one can act as).
    ModifyPolicy = "modify-policy" => modify_policy::ModifyPolicy,
    /// `iam:PassRole` to a new Lambda function, then invoke it.
    PassRoleLambda = "pass-role-lambda" => pass_role_lambda::PassRoleLambda,
    /// `iam:PassRole` to a new EC2 instance through an instance profile.
    PassRoleEc2 = "pass-role-ec2" => pass_role_ec2::PassRoleEc2,
    /// `iam:PassRole` to a Glue dev endpoint or job.
    PassRoleGlue = "pass-role-glue" => pass_role_glue::PassRoleGlue,
    /// `iam:PassRole` to a CloudFormation stack.
    PassRoleCloudFormation = "pass-role-cloudformation" => pass_role_cloudformation::PassRoleCloudFormation,
    /// `iam:PassRole` to a CodeBuild project.
    PassRoleCodeBuild = "pass-role-codebuild" => pass_role_codebuild::PassRoleCodeBuild,
    /// `iam:PassRole` to a SageMaker notebook, training or processing job.
    PassRoleSageMaker = "pass-role-sagemaker" => pass_role_sagemaker::PassRoleSageMaker,
    /// `iam:PassRole` to a Data Pipeline.
    PassRoleDataPipeline = "pass-role-datapipeline" => pass_role_datapipeline::PassRoleDataPipeline,
    /// `iam:PassRole` to an ECS task.
    PassRoleEcs = "pass-role-ecs" => pass_role_ecs::PassRoleEcs,
    /// Update the code or configuration of a Lambda function that runs as a role.
    UpdateCode = "update-code" => update_code::UpdateCode,
    /// Run commands through SSM on an instance whose profile holds a role.
    SsmCommand = "ssm-command" => ssm_command::SsmCommand,
    /// Push an SSH key with EC2 Instance Connect to an instance whose profile holds a role.
    InstanceConnect = "instance-connect" => instance_connect::InstanceConnect,
    /// Update a Glue dev endpoint (its SSH key) that runs as a role.
    GlueDevEndpoint = "glue-dev-endpoint" => glue_dev_endpoint::GlueDevEndpoint,
    /// Replace the user data of a stopped instance whose profile holds a role, then start it.
    Ec2UserData = "ec2-user-data" => ec2_user_data::Ec2UserData,
    /// Update a CloudFormation stack (or execute a change set) that keeps its service role.
    UpdateStack = "update-stack" => update_stack::UpdateStack,
    /// Open a SageMaker notebook instance that runs as a role (presigned URL).
    SageMakerPresignedUrl = "sagemaker-presigned-url" => sagemaker_presigned_url::SageMakerPresignedUrl,
    /// `iam:PassRole` to an App Runner service (its instance role).
    PassRoleAppRunner = "pass-role-apprunner" => pass_role_apprunner::PassRoleAppRunner,
    /// `iam:PassRole` to an Auto Scaling group's instances (launch configuration or template).
    PassRoleAutoScaling = "pass-role-autoscaling" => pass_role_autoscaling::PassRoleAutoScaling,
    /// Put a role into a new instance profile, then pass it to EC2.
    PassRoleNewInstanceProfile = "pass-role-new-instance-profile" => pass_role_new_instance_profile::PassRoleNewInstanceProfile,
    /// `iam:PassRole` to a Bedrock AgentCore code interpreter.
    PassRoleCodeInterpreter = "pass-role-code-interpreter" => pass_role_code_interpreter::PassRoleCodeInterpreter,
    /// `iam:PassRole` of a StackSets administration role, reaching the roles it may assume.
    PassRoleStackSet = "pass-role-stackset" => pass_role_stackset::PassRoleStackSet,
    /// Start a build of a CodeBuild project, with a buildspec override, as its service role.
    CodeBuildStartBuild = "codebuild-start-build" => codebuild_start_build::CodeBuildStartBuild,
    /// Run code in a Bedrock AgentCore code interpreter that runs as a role.
    CodeInterpreterSession = "code-interpreter-session" => code_interpreter_session::CodeInterpreterSession,
    /// Make a stored, more powerful version of a managed policy its default.
    SetDefaultPolicyVersion = "set-default-policy-version" => set_default_version::SetDefaultVersion,
}

impl Technique {
    /// The technique with this id.
    pub fn from_id(id: &str) -> Option<Technique> {
        Technique::ALL.iter().copied().find(|t| t.id() == id)
    }
}

impl std::fmt::Display for Technique {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Technique {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// Where an edge leads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// Another principal, by ARN: the source gains its permissions.
    Principal(String),
    /// Admin-equivalence itself: the source can make itself admin.
    Admin,
}

impl Target {
    /// The ARN, or `admin`.
    pub fn as_str(&self) -> &str {
        match self {
            Target::Principal(arn) => arn,
            Target::Admin => "admin",
        }
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One escalation step that is possible now.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    /// The principal that acts.
    pub from: String,
    /// What it gains.
    pub to: Target,
    /// How.
    pub technique: Technique,
    /// The IAM actions the step needs.
    pub actions: Vec<String>,
    /// A human explanation naming the policies and resources involved.
    pub detail: String,
}

/// One escalation technique.
pub trait Rule: Sync {
    /// The technique it finds.
    fn id(&self) -> Technique;
    /// Every edge of this technique in the snapshot.
    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge>;
}

/// The escalation graph of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// Every principal's ARN, in snapshot order.
    pub nodes: Vec<String>,
    /// Admin-equivalent principals' ARNs, sorted.
    pub admins: Vec<String>,
    /// Every edge, sorted by (from, to, technique, fewest actions); one per (from, to,
    /// technique).
    pub edges: Vec<Edge>,
    /// What the graph could not cover, and why.
    pub not_analysed: Vec<String>,
}

/// Builds the graph with the default options.
pub fn build_graph(snapshot: &Snapshot) -> Graph {
    build_graph_with(snapshot, GraphOptions::default())
}

/// Builds the graph: prepares every principal once, then runs every rule (in parallel
/// threads).
pub fn build_graph_with(snapshot: &Snapshot, options: GraphOptions) -> Graph {
    build_graph_in(&GraphContext::new(snapshot, options))
}

/// Builds the graph on principals already prepared (shared with the blast radius).
pub fn build_graph_in(ctx: &GraphContext<'_>) -> Graph {
    let per_rule = run_rules(ctx, &rules());
    // One allocation of the right size: a graph of a large organization has millions of edges.
    let mut edges: Vec<Edge> = Vec::with_capacity(per_rule.iter().map(Vec::len).sum());
    for rule_edges in per_rule {
        edges.extend(rule_edges);
    }
    edges.retain(|e| e.to.as_str() != e.from);
    edges.sort_unstable_by(edge_order);
    edges.dedup_by(|a, b| a.from == b.from && a.to == b.to && a.technique == b.technique);
    let mut admins: Vec<String> = (0..ctx.nodes.len())
        .filter(|&i| ctx.is_admin_node(i))
        .map(|i| ctx.arn(i).to_owned())
        .collect();
    admins.sort();
    Graph {
        nodes: (0..ctx.nodes.len())
            .map(|i| ctx.arn(i).to_owned())
            .collect(),
        admins,
        edges,
        not_analysed: ctx.not_analysed.clone(),
    }
}

/// Every rule's edges, each rule in its own thread. A rule that panics fails the whole graph
/// (the panic goes on in the caller): a graph silently missing a technique's edges would report
/// an organization as safer than it is.
fn run_rules(ctx: &GraphContext<'_>, rules: &[Box<dyn Rule>]) -> Vec<Vec<Edge>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = rules
            .iter()
            .map(|rule| {
                scope.spawn(move || {
                    // Each rule's edges ordered and de-duplicated in its own thread, in
                    // parallel and before they are all held at once.
                    let mut edges = rule.edges(ctx);
                    edges.retain(|e| e.to.as_str() != e.from);
                    edges.sort_unstable_by(edge_order);
                    edges.dedup_by(|a, b| {
                        a.from == b.from && a.to == b.to && a.technique == b.technique
                    });
                    edges
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The order of the graph's edges: by source, target, technique, then the fewest actions and
/// the least explanation, so that of several edges with the same source, target and technique
/// the first is the one kept. Edges equal in this order are equal in every field.
pub(crate) fn edge_order(a: &Edge, b: &Edge) -> std::cmp::Ordering {
    (
        &a.from,
        &a.to,
        a.technique,
        a.actions.len(),
        &a.actions,
        &a.detail,
    )
        .cmp(&(
            &b.from,
            &b.to,
            b.technique,
            b.actions.len(),
            &b.actions,
            &b.detail,
        ))
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// How.
    pub technique: Technique,
    /// The IAM actions the step needs.
    pub actions: Vec<String>,
    /// The principal acting.
    pub from: String,
    /// What it gains: an ARN or `admin`.
    pub to: String,
    /// Explanation.
    pub detail: String,
}

/// A way from a non-admin principal to an admin-equivalent one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationPath {
    /// The starting principal.
    pub from: String,
    /// The admin-equivalent principal reached, or `admin`.
    pub to: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// For every non-admin principal, the shortest path to every admin-equivalent principal (or
/// `admin`) it can reach, stopping at the first admin-equivalent node on the way. Ties between
/// equally short paths go to the edge that sorts first (target ARN, then technique). Sorted by
/// start ARN, then length, then destination.
pub fn paths(graph: &Graph) -> Vec<EscalationPath> {
    let mut out_edges: BTreeMap<&str, Vec<&Edge>> = BTreeMap::new();
    for e in &graph.edges {
        out_edges.entry(e.from.as_str()).or_default().push(e);
    }
    let is_admin = |arn: &str| {
        graph
            .admins
            .binary_search_by(|a| a.as_str().cmp(arn))
            .is_ok()
    };
    let mut out = Vec::new();
    for start in out_edges.keys().copied().filter(|s| !is_admin(s)) {
        // Predecessor edge of each reached node ("admin" included).
        let mut pred: BTreeMap<&str, &Edge> = BTreeMap::new();
        let mut reached_admins: Vec<&str> = Vec::new();
        let mut queue = VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            for e in out_edges.get(node).into_iter().flatten() {
                let to = e.to.as_str();
                if to == start || pred.contains_key(to) {
                    continue;
                }
                pred.insert(to, e);
                if to == "admin" || is_admin(to) {
                    reached_admins.push(to);
                } else {
                    queue.push_back(to);
                }
            }
        }
        let mut found: Vec<EscalationPath> = reached_admins
            .into_iter()
            .map(|dest| {
                let mut steps = Vec::new();
                let mut at = dest;
                while let Some(e) = pred.get(at) {
                    steps.push(Step {
                        technique: e.technique,
                        actions: e.actions.clone(),
                        from: e.from.clone(),
                        to: e.to.as_str().to_owned(),
                        detail: e.detail.clone(),
                    });
                    if e.from == start {
                        break;
                    }
                    at = e.from.as_str();
                }
                steps.reverse();
                EscalationPath {
                    from: start.to_owned(),
                    to: dest.to_owned(),
                    steps,
                }
            })
            .collect();
        found.sort_by(|a, b| a.steps.len().cmp(&b.steps.len()).then(a.to.cmp(&b.to)));
        out.extend(found);
    }
    out
}

/// Everything the escalation analysis found, ready to print as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationReport {
    /// Paths from non-admin principals to admin-equivalent ones.
    pub paths: Vec<EscalationPath>,
    /// Admin-equivalent principals (ARNs, sorted).
    pub admins: Vec<String>,
    /// Every edge of the graph.
    pub edges: Vec<Edge>,
    /// What could not be analysed, and why.
    pub not_analysed: Vec<String>,
}

/// Builds the graph of a snapshot and finds every escalation path.
pub fn escalation_paths(snapshot: &Snapshot) -> EscalationReport {
    escalation_paths_with(snapshot, GraphOptions::default())
}

/// [`escalation_paths`] with options.
pub fn escalation_paths_with(snapshot: &Snapshot, options: GraphOptions) -> EscalationReport {
    escalation_paths_in(&GraphContext::new(snapshot, options))
}

/// [`escalation_paths`] on principals already prepared.
pub fn escalation_paths_in(ctx: &GraphContext<'_>) -> EscalationReport {
    let graph = build_graph_in(ctx);
    EscalationReport {
        paths: paths(&graph),
        admins: graph.admins,
        edges: graph.edges,
        not_analysed: graph.not_analysed,
    }
}

/// `Allow *` on `*`: what an attacker puts on a principal whose policies it controls.
pub(crate) fn allow_everything() -> Option<latch_policy::compile::CPolicy> {
    let policy = latch_policy::Policy::from_json_str(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )
    .ok()?;
    latch_policy::compile::CPolicy::compile(&policy, latch_policy::Layer::Identity).ok()
}

#[cfg(test)]
mod rule_threads {
    use super::*;

    /// A rule with a bug.
    struct Broken;

    impl Rule for Broken {
        fn id(&self) -> Technique {
            Technique::AssumeRole
        }
        #[allow(clippy::panic)]
        fn edges(&self, _: &GraphContext<'_>) -> Vec<Edge> {
            panic!("rule bug")
        }
    }

    #[test]
    #[should_panic(expected = "rule bug")]
    fn a_panicking_rule_fails_the_graph_instead_of_yielding_no_edges() {
        let snapshot = Snapshot::default();
        let ctx = GraphContext::new(&snapshot, GraphOptions::default());
        let mut all = rules();
        all.push(Box::new(Broken));
        let _ = run_rules(&ctx, &all);
    }
}
