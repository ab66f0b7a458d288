//! `accounts/<id>/workloads.json`: the resources of one account that run as an IAM role —
//! Lambda functions, EC2 instances, CloudFormation stacks, CodeBuild projects, Glue jobs and
//! dev endpoints, SageMaker notebook instances, ECS task definitions — in Latch's versioned
//! format (docs/snapshot-format.md).
//!
//! The escalation graph uses it to know which role a resource runs as, so a grant on one named
//! resource (a function's ARN, not `*`) leads to that resource's role. Each file says which
//! kinds it lists completely (`inventoried`): for those, a resource that is not listed does not
//! exist; for the others, the graph keeps assuming that resources exist.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::error::{parse_json, FormatError};
use crate::json::{index, Obj};

/// The `format` value this version of Latch reads and writes.
pub const FORMAT: &str = "latch.workloads/v1";

/// A kind of resource that runs as a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    /// A Lambda function (its execution role).
    LambdaFunction,
    /// An EC2 instance (the role of its instance profile).
    Ec2Instance,
    /// A CloudFormation stack (its service role).
    CloudFormationStack,
    /// A CodeBuild project (its service role).
    CodeBuildProject,
    /// A Glue job (its role).
    GlueJob,
    /// A Glue development endpoint (its role).
    GlueDevEndpoint,
    /// A SageMaker notebook instance (its execution role).
    SageMakerNotebook,
    /// An ECS task definition (its task role).
    EcsTaskDefinition,
}

impl WorkloadKind {
    /// Every kind, in a fixed order.
    pub const ALL: [WorkloadKind; 8] = [
        WorkloadKind::LambdaFunction,
        WorkloadKind::Ec2Instance,
        WorkloadKind::CloudFormationStack,
        WorkloadKind::CodeBuildProject,
        WorkloadKind::GlueJob,
        WorkloadKind::GlueDevEndpoint,
        WorkloadKind::SageMakerNotebook,
        WorkloadKind::EcsTaskDefinition,
    ];

    /// The name used in workloads.json.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::LambdaFunction => "lambda-function",
            WorkloadKind::Ec2Instance => "ec2-instance",
            WorkloadKind::CloudFormationStack => "cloudformation-stack",
            WorkloadKind::CodeBuildProject => "codebuild-project",
            WorkloadKind::GlueJob => "glue-job",
            WorkloadKind::GlueDevEndpoint => "glue-dev-endpoint",
            WorkloadKind::SageMakerNotebook => "sagemaker-notebook",
            WorkloadKind::EcsTaskDefinition => "ecs-task-definition",
        }
    }

    /// The kind with this name.
    pub fn from_name(name: &str) -> Option<WorkloadKind> {
        WorkloadKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The service prefix of its ARNs.
    pub fn service(self) -> &'static str {
        match self {
            WorkloadKind::LambdaFunction => "lambda",
            WorkloadKind::Ec2Instance => "ec2",
            WorkloadKind::CloudFormationStack => "cloudformation",
            WorkloadKind::CodeBuildProject => "codebuild",
            WorkloadKind::GlueJob | WorkloadKind::GlueDevEndpoint => "glue",
            WorkloadKind::SageMakerNotebook => "sagemaker",
            WorkloadKind::EcsTaskDefinition => "ecs",
        }
    }

    /// What the explanation of an edge calls them ("Lambda functions").
    pub fn plural(self) -> &'static str {
        match self {
            WorkloadKind::LambdaFunction => "Lambda functions",
            WorkloadKind::Ec2Instance => "EC2 instances",
            WorkloadKind::CloudFormationStack => "CloudFormation stacks",
            WorkloadKind::CodeBuildProject => "CodeBuild projects",
            WorkloadKind::GlueJob => "Glue jobs",
            WorkloadKind::GlueDevEndpoint => "Glue dev endpoints",
            WorkloadKind::SageMakerNotebook => "SageMaker notebook instances",
            WorkloadKind::EcsTaskDefinition => "ECS task definitions",
        }
    }
}

/// One resource that runs as a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// What it is.
    pub kind: WorkloadKind,
    /// Its ARN.
    pub arn: String,
    /// The ARN of the role it runs as.
    pub role_arn: String,
    /// For EC2 instances: the ARN of the instance profile that holds the role.
    pub instance_profile_arn: Option<String>,
}

/// The workloads of one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workloads {
    /// The kinds listed completely: a resource of such a kind that is not in `items` does not
    /// exist (in the regions listed). Kinds not here were not (or could not be) listed.
    pub inventoried: BTreeSet<WorkloadKind>,
    /// The regions listed.
    pub regions: Vec<String>,
    /// The resources found, sorted by ARN.
    pub items: Vec<Workload>,
}

impl Workloads {
    /// Whether every resource of this kind is listed.
    pub fn knows(&self, kind: WorkloadKind) -> bool {
        self.inventoried.contains(&kind)
    }

    /// The resources of this kind.
    pub fn of(&self, kind: WorkloadKind) -> impl Iterator<Item = &Workload> {
        self.items.iter().filter(move |w| w.kind == kind)
    }
}

/// Parses workloads.json text of account `account_id`.
pub fn parse_workloads_str(text: &str, account_id: &str) -> Result<Workloads, FormatError> {
    parse_workloads(&parse_json(text)?, account_id)
}

/// `arn` is an IAM ARN of `account_id` whose resource starts with `what` (`role/`, `user/`,
/// `instance-profile/`).
pub(crate) fn role_arn_of(
    arn: &str,
    account_id: &str,
    path: &str,
    what: &str,
) -> Result<(), FormatError> {
    match latch_policy::arn::split(arn) {
        Some([_, _, "iam", "", account, rest]) if rest.starts_with(what) => {
            if account == account_id {
                Ok(())
            } else {
                Err(FormatError::new(
                    path,
                    format!("`{arn}` belongs to account `{account}`, not to `{account_id}`"),
                ))
            }
        }
        _ => Err(FormatError::new(
            path,
            format!("`{arn}` is not an IAM {} ARN", what.trim_end_matches('/')),
        )),
    }
}

/// Parses a workloads.json document. Every ARN must be of its kind's service and of
/// `account_id`; roles and instance profiles are IAM ARNs of the same account; every item's
/// kind must be among `inventoried` (a file cannot list some resources of a kind and claim
/// nothing of the rest).
pub fn parse_workloads(value: &Value, account_id: &str) -> Result<Workloads, FormatError> {
    let top = Obj::new(value, "")?;
    top.only(&["format", "inventoried", "regions", "workloads"])?;
    let format = top.req_str("format")?;
    if format != FORMAT {
        return Err(FormatError::new(
            "format",
            format!("unsupported format `{format}` (this Latch reads `{FORMAT}`)"),
        ));
    }
    let known = || {
        WorkloadKind::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut inventoried = BTreeSet::new();
    for (i, k) in top.req_array("inventoried")?.iter().enumerate() {
        let path = index("inventoried", i);
        let name = k
            .as_str()
            .ok_or_else(|| FormatError::new(&path, "must be a string"))?;
        let kind = WorkloadKind::from_name(name).ok_or_else(|| {
            FormatError::new(
                &path,
                format!("unknown kind `{name}` (expected one of: {})", known()),
            )
        })?;
        if !inventoried.insert(kind) {
            return Err(FormatError::new(&path, format!("`{name}` appears twice")));
        }
    }
    let mut regions = Vec::new();
    for (i, r) in top.req_array("regions")?.iter().enumerate() {
        let path = index("regions", i);
        let r = r
            .as_str()
            .filter(|r| {
                !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
            .ok_or_else(|| FormatError::new(&path, "must be a region name (`us-east-1`)"))?;
        regions.push(r.to_owned());
    }
    let mut items: Vec<Workload> = Vec::new();
    for (i, w) in top.req_array("workloads")?.iter().enumerate() {
        let path = index("workloads", i);
        let o = Obj::new(w, &path)?;
        o.only(&["kind", "arn", "role_arn", "instance_profile_arn"])?;
        let name = o.req_str("kind")?;
        let kind = WorkloadKind::from_name(name).ok_or_else(|| {
            FormatError::new(
                &o.path_of("kind"),
                format!("unknown kind `{name}` (expected one of: {})", known()),
            )
        })?;
        if !inventoried.contains(&kind) {
            return Err(FormatError::new(
                &o.path_of("kind"),
                format!("`{name}` is not in `inventoried`: list it there, with every resource of that kind"),
            ));
        }
        let arn = o.req_str("arn")?;
        let arn_path = o.path_of("arn");
        let [_, _, service, _, account, _] = latch_policy::arn::split(arn)
            .ok_or_else(|| FormatError::new(&arn_path, format!("`{arn}` is not an ARN")))?;
        if service != kind.service() {
            return Err(FormatError::new(
                &arn_path,
                format!("`{arn}` is not a {} ARN (kind `{name}`)", kind.service()),
            ));
        }
        if account != account_id {
            return Err(FormatError::new(
                &arn_path,
                format!("`{arn}` belongs to account `{account}`, not to `{account_id}`"),
            ));
        }
        if items.iter().any(|x| x.arn == arn) {
            return Err(FormatError::new(
                &arn_path,
                format!("`{arn}` appears twice"),
            ));
        }
        let role_arn = o.req_str("role_arn")?;
        role_arn_of(role_arn, account_id, &o.path_of("role_arn"), "role/")?;
        let instance_profile_arn = match o.get("instance_profile_arn") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let p = o.path_of("instance_profile_arn");
                let s = v
                    .as_str()
                    .ok_or_else(|| FormatError::new(&p, "must be a string"))?;
                role_arn_of(s, account_id, &p, "instance-profile/")?;
                Some(s.to_owned())
            }
        };
        items.push(Workload {
            kind,
            arn: arn.to_owned(),
            role_arn: role_arn.to_owned(),
            instance_profile_arn,
        });
    }
    items.sort_by(|a, b| a.arn.cmp(&b.arn));
    Ok(Workloads {
        inventoried,
        regions,
        items,
    })
}

/// Writes workloads as workloads.json.
pub fn to_value(w: &Workloads) -> Value {
    json!({
        "format": FORMAT,
        "inventoried": w.inventoried.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "regions": w.regions,
        "workloads": w.items.iter().map(|x| {
            let mut o = serde_json::Map::new();
            o.insert("kind".into(), json!(x.kind.name()));
            o.insert("arn".into(), json!(x.arn));
            o.insert("role_arn".into(), json!(x.role_arn));
            if let Some(p) = &x.instance_profile_arn {
                o.insert("instance_profile_arn".into(), json!(p));
            }
            Value::Object(o)
        }).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const A: &str = "111122223333";

    fn parse(v: Value) -> Result<Workloads, FormatError> {
        parse_workloads(&v, A)
    }

    #[test]
    fn reads_and_writes_the_same_document() {
        let doc = json!({
            "format": FORMAT,
            "inventoried": ["lambda-function", "ec2-instance"],
            "regions": ["us-east-1"],
            "workloads": [
                {"kind": "lambda-function", "arn": "arn:aws:lambda:us-east-1:111122223333:function:etl",
                 "role_arn": "arn:aws:iam::111122223333:role/etl"},
                {"kind": "ec2-instance", "arn": "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc",
                 "role_arn": "arn:aws:iam::111122223333:role/batch",
                 "instance_profile_arn": "arn:aws:iam::111122223333:instance-profile/batch"},
            ],
        });
        let w = parse(doc).unwrap();
        assert!(w.knows(WorkloadKind::LambdaFunction));
        assert!(!w.knows(WorkloadKind::GlueJob));
        assert_eq!(w.of(WorkloadKind::Ec2Instance).count(), 1);
        assert_eq!(parse(to_value(&w)).unwrap(), w);
    }

    #[test]
    fn names_the_path_of_each_error() {
        let base = |workloads: Value| {
            json!({"format": FORMAT, "inventoried": ["lambda-function"], "regions": ["us-east-1"],
                   "workloads": workloads})
        };
        let cases = [
            (
                base(
                    json!([{"kind": "glue-job", "arn": "arn:aws:glue:us-east-1:111122223333:job/x", "role_arn": "arn:aws:iam::111122223333:role/r"}]),
                ),
                "workloads[0].kind",
                "not in `inventoried`",
            ),
            (
                base(
                    json!([{"kind": "lambda-function", "arn": "arn:aws:s3:::b", "role_arn": "arn:aws:iam::111122223333:role/r"}]),
                ),
                "workloads[0].arn",
                "not a lambda ARN",
            ),
            (
                base(
                    json!([{"kind": "lambda-function", "arn": "arn:aws:lambda:us-east-1:999999999999:function:f", "role_arn": "arn:aws:iam::111122223333:role/r"}]),
                ),
                "workloads[0].arn",
                "belongs to account",
            ),
            (
                base(
                    json!([{"kind": "lambda-function", "arn": "arn:aws:lambda:us-east-1:111122223333:function:f", "role_arn": "arn:aws:iam::111122223333:user/u"}]),
                ),
                "workloads[0].role_arn",
                "not an IAM role ARN",
            ),
            (
                base(
                    json!([{"kind": "lambda-function", "arn": "arn:aws:lambda:us-east-1:111122223333:function:f", "role_arn": "arn:aws:iam::111122223333:role/r", "extra": 1}]),
                ),
                "workloads[0]",
                "extra",
            ),
            (
                json!({"format": FORMAT, "inventoried": ["lambda", "x"], "regions": [], "workloads": []}),
                "inventoried[0]",
                "unknown kind",
            ),
            (
                json!({"format": FORMAT, "inventoried": [], "regions": ["US East"], "workloads": []}),
                "regions[0]",
                "region name",
            ),
            (
                json!({"format": "latch.workloads/v9", "inventoried": [], "regions": [], "workloads": []}),
                "format",
                "unsupported format",
            ),
        ];
        for (doc, path, reason) in cases {
            let e = parse(doc).unwrap_err();
            assert!(e.path.starts_with(path), "{path}: {e}");
            assert!(e.reason.contains(reason), "{reason}: {e}");
        }
    }

    #[test]
    fn a_duplicate_resource_is_refused() {
        let f = json!({"kind": "lambda-function", "arn": "arn:aws:lambda:us-east-1:111122223333:function:f", "role_arn": "arn:aws:iam::111122223333:role/r"});
        let e = parse(json!({"format": FORMAT, "inventoried": ["lambda-function"], "regions": ["us-east-1"], "workloads": [f.clone(), f]})).unwrap_err();
        assert_eq!(e.path, "workloads[1].arn");
    }
}
