//! Latch's own roles are exactly enough, proven with Latch's own policy engine.
//!
//! The installation describes the control-plane role twice — CloudFormation
//! (`deploy/cloudformation/management.yaml`, `member-stackset.yaml`) and Terraform
//! (`deploy/terraform`) — and these tests read both (the YAML with its intrinsic functions
//! resolved, the HCL evaluated), require them to grant the same, and evaluate the policies
//! with `latch_policy`:
//!
//! - every IAM action of every call Latch makes (`latch_aws::calls::CALLS`) is allowed on the
//!   resources Latch touches, from where Latch makes it (the management account, or every
//!   account through the member role);
//! - the roles grant no action that no call needs;
//! - what Latch must never do is denied: creating users or roles, attaching policies, leaving
//!   the organization, changing its own role, tagging with keys that are not `latch:`,
//!   touching policies other than SCPs and RCPs, reading other buckets;
//! - the member role trusts only the control-plane role, which trusts only the principal
//!   that runs Latch;
//! - the firewall's tamper protection (the plan of the example organization under the
//!   default configuration) spares exactly these roles: the member role may still tag and
//!   cut sessions, anyone else is denied.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use latch_aws::calls::{self, Reach};
use serde_json::{json, Value};
use serde_yaml_ng::Value as Yaml;

/// The account of the control plane (the management account here).
const MGMT: &str = "111111111111";
/// A member account.
const MEMBER: &str = "222222222222";
/// Who runs Latch.
const RUNNER: &str = "arn:aws:iam::111111111111:role/latch-server";
const TRAIL_BUCKET: &str = "org-trail";
const CHECKPOINT_BUCKET: &str = "latch-checkpoints";
const ROLE: &str = "latch-control-plane";
const ORG: &str = "o-abcdefghij";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A role as the installation describes it.
#[derive(Debug, Clone, PartialEq)]
struct RoleDoc {
    name: String,
    trust: Value,
    /// Inline policies by name.
    policies: BTreeMap<String, Value>,
}

// ---------------------------------------------------------------------------------------
// CloudFormation: the templates with their intrinsic functions resolved.

struct Stack<'a> {
    account: &'a str,
    params: BTreeMap<String, String>,
    conditions: BTreeMap<String, bool>,
}

impl Stack<'_> {
    fn reference(&self, name: &str) -> String {
        match name {
            "AWS::Partition" => "aws".to_owned(),
            "AWS::AccountId" => self.account.to_owned(),
            "AWS::Region" => "us-east-1".to_owned(),
            other => self
                .params
                .get(other)
                .unwrap_or_else(|| panic!("no parameter {other}"))
                .clone(),
        }
    }

    fn sub(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            out.push_str(&self.reference(&rest[start + 2..end]));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The value, or `None` for `AWS::NoValue`.
    fn resolve(&self, v: &Yaml) -> Option<Value> {
        Some(match v {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => json!(b),
            Yaml::Number(n) => serde_json::to_value(n).unwrap(),
            Yaml::String(s) => json!(s),
            Yaml::Sequence(items) => {
                Value::Array(items.iter().filter_map(|i| self.resolve(i)).collect())
            }
            Yaml::Mapping(m) => Value::Object(
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str().unwrap().to_owned(), self.resolve(v)?)))
                    .collect(),
            ),
            Yaml::Tagged(t) => match t.tag.to_string().as_str() {
                "!Sub" => json!(self.sub(t.value.as_str().unwrap())),
                "!Ref" if t.value.as_str() == Some("AWS::NoValue") => return None,
                "!Ref" => json!(self.reference(t.value.as_str().unwrap())),
                "!GetAtt" => json!(format!("<{}>", t.value.as_str().unwrap())),
                "!If" => {
                    let args = t.value.as_sequence().unwrap();
                    let cond = self.conditions[args[0].as_str().unwrap()];
                    return self.resolve(&args[if cond { 1 } else { 2 }]);
                }
                other => panic!("intrinsic function {other} is not read by this test"),
            },
        })
    }

    fn condition(&self, v: &Yaml) -> bool {
        let Yaml::Tagged(t) = v else {
            panic!("not a condition: {v:?}")
        };
        let args = t.value.as_sequence();
        match t.tag.to_string().as_str() {
            "!Not" => !self.condition(&args.unwrap()[0]),
            "!Equals" => {
                let a = args.unwrap();
                self.resolve(&a[0]) == self.resolve(&a[1])
            }
            "!Condition" => self.conditions[t.value.as_str().unwrap()],
            other => panic!("condition function {other} is not read by this test"),
        }
    }
}

/// The `latch-control-plane` role of a template, deployed in `account` with `params`.
fn cfn_role(file: &str, account: &str, params: &[(&str, &str)]) -> RoleDoc {
    let doc: Yaml = serde_yaml_ng::from_str(&read(&format!("deploy/cloudformation/{file}")))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut stack = Stack {
        account,
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        conditions: BTreeMap::new(),
    };
    // Every parameter without a default must be given.
    for (name, p) in doc["Parameters"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if !stack.params.contains_key(name) {
            let default = p
                .get("Default")
                .unwrap_or_else(|| panic!("{file}: {name} has no default and was not given"));
            let default = match default {
                Yaml::Number(n) => n.to_string(),
                other => other.as_str().unwrap().to_owned(),
            };
            stack.params.insert(name.to_owned(), default);
        }
    }
    if let Some(conds) = doc.get("Conditions").and_then(Yaml::as_mapping) {
        for (name, c) in conds {
            let v = stack.condition(c);
            stack
                .conditions
                .insert(name.as_str().unwrap().to_owned(), v);
        }
    }
    let roles: Vec<&Yaml> = doc["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| {
            r["Type"].as_str() == Some("AWS::IAM::Role")
                && r["Properties"]["RoleName"].as_str() == Some(ROLE)
        })
        .collect();
    assert_eq!(roles.len(), 1, "{file}: one role named {ROLE}");
    let props = stack.resolve(&roles[0]["Properties"]).unwrap();
    RoleDoc {
        name: props["RoleName"].as_str().unwrap().to_owned(),
        trust: props["AssumeRolePolicyDocument"].clone(),
        policies: props["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["PolicyName"].as_str().unwrap().to_owned(),
                    p["PolicyDocument"].clone(),
                )
            })
            .collect(),
    }
}

/// The control-plane role of management.yaml in the management account.
fn cfn_management(trail: &str, checkpoint: &str) -> RoleDoc {
    cfn_role(
        "management.yaml",
        MGMT,
        &[
            ("LatchPrincipalArn", RUNNER),
            ("CloudTrailBucket", trail),
            ("CheckpointBucket", checkpoint),
        ],
    )
}

/// The member role of member-stackset.yaml in `account`.
fn cfn_member(account: &str) -> RoleDoc {
    cfn_role(
        "member-stackset.yaml",
        account,
        &[("ControlPlaneAccountId", MGMT)],
    )
}

// ---------------------------------------------------------------------------------------
// Terraform: the module's HCL, parsed and evaluated.

fn jsonencode(args: hcl::eval::FuncArgs) -> Result<hcl::Value, String> {
    let v = args
        .into_values()
        .into_iter()
        .next()
        .ok_or("jsonencode: no argument")?;
    serde_json::to_string(&v)
        .map(hcl::Value::String)
        .map_err(|e| e.to_string())
}

fn concat(args: hcl::eval::FuncArgs) -> Result<hcl::Value, String> {
    let mut out = Vec::new();
    for v in args.into_values() {
        match v {
            hcl::Value::Array(a) => out.extend(a),
            other => return Err(format!("concat: not a list: {other:?}")),
        }
    }
    Ok(hcl::Value::Array(out))
}

fn merge(args: hcl::eval::FuncArgs) -> Result<hcl::Value, String> {
    let mut out = hcl::Map::new();
    for v in args.into_values() {
        match v {
            hcl::Value::Object(o) => out.extend(o),
            other => return Err(format!("merge: not an object: {other:?}")),
        }
    }
    Ok(hcl::Value::Object(out))
}

/// The control-plane role of deploy/terraform in `account` with these variables.
fn terraform_management(trail: &str, checkpoint: &str) -> RoleDoc {
    use hcl::eval::{Context, Evaluate, FuncDef, ParamType};
    let body: hcl::Body = hcl::parse(&read("deploy/terraform/main.tf")).unwrap();
    let mut ctx = Context::new();
    let vars = json!({
        "latch_principal_arn": RUNNER,
        "cloudtrail_bucket": trail,
        "checkpoint_bucket": checkpoint,
    });
    ctx.declare_var("var", hcl::to_value(vars).unwrap());
    let data = json!({
        "aws_partition": {"current": {"partition": "aws"}},
        "aws_caller_identity": {"current": {"account_id": MGMT}},
    });
    ctx.declare_var("data", hcl::to_value(data).unwrap());
    ctx.declare_func(
        "jsonencode",
        FuncDef::builder().param(ParamType::Any).build(jsonencode),
    );
    ctx.declare_func(
        "concat",
        FuncDef::builder()
            .variadic_param(ParamType::Any)
            .build(concat),
    );
    ctx.declare_func(
        "merge",
        FuncDef::builder()
            .variadic_param(ParamType::Any)
            .build(merge),
    );
    // Locals, in as many passes as their references need.
    let mut pending: Vec<(String, hcl::Expression)> = body
        .blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes())
        .map(|a| (a.key().to_owned(), a.expr().clone()))
        .collect();
    let mut locals = hcl::Map::new();
    while !pending.is_empty() {
        ctx.declare_var("local", hcl::Value::Object(locals.clone()));
        let before = pending.len();
        pending.retain(|(name, expr)| match expr.evaluate(&ctx) {
            Ok(v) => {
                locals.insert(name.clone(), v);
                false
            }
            Err(_) => true,
        });
        assert!(
            pending.len() < before,
            "locals that never evaluate: {:?}",
            pending.iter().map(|p| &p.0).collect::<Vec<_>>()
        );
    }
    ctx.declare_var("local", hcl::Value::Object(locals));
    let eval = |expr: &hcl::Expression| -> Value {
        serde_json::to_value(expr.evaluate(&ctx).unwrap()).unwrap()
    };
    let json_of = |v: Value| -> Value { serde_json::from_str(v.as_str().unwrap()).unwrap() };
    let resource = |kind: &str, name: &str| -> &hcl::Body {
        body.blocks()
            .find(|b| {
                b.identifier() == "resource"
                    && b.labels().len() == 2
                    && b.labels()[0].as_str() == kind
                    && b.labels()[1].as_str() == name
            })
            .unwrap_or_else(|| panic!("no resource {kind}.{name}"))
            .body()
    };
    let attr = |b: &hcl::Body, key: &str| -> hcl::Expression {
        b.attributes()
            .find(|a| a.key() == key)
            .unwrap_or_else(|| panic!("no {key}"))
            .expr()
            .clone()
    };
    let role = resource("aws_iam_role", "control_plane");
    let mut policies = BTreeMap::new();
    for block in body
        .blocks()
        .filter(|b| b.identifier() == "resource" && b.labels()[0].as_str() == "aws_iam_role_policy")
    {
        let b = block.body();
        let name = eval(&attr(b, "name")).as_str().unwrap().to_owned();
        policies.insert(name, json_of(eval(&attr(b, "policy"))));
    }
    RoleDoc {
        name: eval(&attr(role, "name")).as_str().unwrap().to_owned(),
        trust: json_of(eval(&attr(role, "assume_role_policy"))),
        policies,
    }
}

// ---------------------------------------------------------------------------------------
// Evaluation with latch_policy.

/// A policy document with `Action` and `Resource` always lists, sorted.
fn normalized(doc: &Value) -> Value {
    let mut doc = doc.clone();
    for st in doc["Statement"].as_array_mut().unwrap() {
        for key in ["Action", "Resource", "NotAction", "NotResource"] {
            if let Some(v) = st.get_mut(key) {
                let mut list: Vec<String> = match v {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
                    other => panic!("{key}: {other}"),
                };
                list.sort();
                *v = json!(list);
            }
        }
    }
    doc
}

fn session(account: &str, role: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/{role}/latch")
}

/// `decision` of `principal` calling `action` on `resource` with `context`, under `identity`
/// (and the case's other layers in `extra`).
fn decide(
    principal: &str,
    identity: &[Value],
    action: &str,
    resource: &str,
    context: &Value,
    extra: &Value,
) -> String {
    let mut case = json!({
        "request": {"principal": principal, "action": action, "resource": resource, "context": context},
        "identity_policies": identity,
    });
    for (k, v) in extra.as_object().unwrap() {
        case[k] = v.clone();
    }
    let out = latch_policy::case::evaluate_json(&case).unwrap_or_else(|e| panic!("{case}: {e}"));
    out["decision"].as_str().unwrap().to_owned()
}

fn org_arn(kind: &str, tail: &str) -> String {
    format!("arn:aws:organizations::{MGMT}:{kind}/{ORG}/{tail}")
}

fn scp_policy() -> String {
    org_arn("policy", "service_control_policy/p-abcd1234")
}

fn policy_type(t: &str) -> Value {
    json!({"organizations:PolicyType": t})
}

/// The requests Latch makes with `action` in `account`: the resources it touches and the
/// context AWS sees.
fn requests(action: &str, account: &str) -> Vec<(String, Value)> {
    calls::sample_requests(
        action,
        &calls::Place {
            account,
            management_account: MGMT,
            organization: ORG,
            member_account: MEMBER,
            member_role: ROLE,
            trail_bucket: Some(TRAIL_BUCKET),
            checkpoint_bucket: Some(CHECKPOINT_BUCKET),
        },
    )
}

/// What Latch must never do, as (action, resource, context): with the role's own account
/// (`account`) and the role's own ARN.
fn never(account: &str) -> Vec<(String, String, Value)> {
    let own = format!("arn:aws:iam::{account}:role/{ROLE}");
    let role = format!("arn:aws:iam::{account}:role/app");
    let user = format!("arn:aws:iam::{account}:user/alice");
    let none = json!({});
    let mut out: Vec<(&str, String, Value)> = vec![
        ("iam:CreateUser", user.clone(), none.clone()),
        ("iam:CreateRole", role.clone(), none.clone()),
        ("iam:CreateAccessKey", user.clone(), none.clone()),
        ("iam:CreateLoginProfile", user.clone(), none.clone()),
        (
            "iam:AttachRolePolicy",
            role.clone(),
            json!({"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        ),
        ("iam:AttachUserPolicy", user.clone(), none.clone()),
        (
            "iam:CreatePolicyVersion",
            format!("arn:aws:iam::{account}:policy/app"),
            none.clone(),
        ),
        ("iam:PassRole", role.clone(), none.clone()),
        ("iam:DeleteRolePolicy", role.clone(), none.clone()),
        ("iam:UpdateAssumeRolePolicy", role.clone(), none.clone()),
        // Its own role: never changed, not even through the calls it may make elsewhere.
        ("iam:UpdateAssumeRolePolicy", own.clone(), none.clone()),
        ("iam:PutRolePolicy", own.clone(), none.clone()),
        ("iam:AttachRolePolicy", own.clone(), none.clone()),
        (
            "iam:TagRole",
            own.clone(),
            json!({"aws:TagKeys": ["latch:grant:ops"]}),
        ),
        ("iam:DeleteRole", own.clone(), none.clone()),
        // Tags that are not Latch's.
        (
            "iam:TagRole",
            role.clone(),
            json!({"aws:TagKeys": ["owner"]}),
        ),
        (
            "iam:TagRole",
            role.clone(),
            json!({"aws:TagKeys": ["latch:grant:ops", "owner"]}),
        ),
        (
            "iam:UntagUser",
            user.clone(),
            json!({"aws:TagKeys": ["env"]}),
        ),
        (
            "iam:TagUser",
            user.clone(),
            json!({"aws:TagKeys": ["latchgrant"]}),
        ),
        // Another account's IAM, with its own credentials.
        (
            "iam:TagRole",
            "arn:aws:iam::333333333333:role/app".to_owned(),
            json!({"aws:TagKeys": ["latch:grant:ops"]}),
        ),
        (
            "iam:PutRolePolicy",
            "arn:aws:iam::333333333333:role/app".to_owned(),
            none.clone(),
        ),
        // The organization.
        (
            "organizations:LeaveOrganization",
            "*".to_owned(),
            none.clone(),
        ),
        ("organizations:CreateAccount", "*".to_owned(), none.clone()),
        (
            "organizations:RemoveAccountFromOrganization",
            org_arn("account", MEMBER),
            none.clone(),
        ),
        (
            "organizations:DeleteOrganization",
            "*".to_owned(),
            none.clone(),
        ),
        (
            "organizations:UpdatePolicy",
            org_arn("policy", "tag_policy/p-tag00001"),
            policy_type("TAG_POLICY"),
        ),
        (
            "organizations:AttachPolicy",
            org_arn("policy", "backup_policy/p-bak00001"),
            policy_type("BACKUP_POLICY"),
        ),
        (
            "organizations:EnablePolicyType",
            org_arn("root", "r-ab12"),
            policy_type("TAG_POLICY"),
        ),
        (
            "organizations:DisablePolicyType",
            org_arn("root", "r-ab12"),
            policy_type("SERVICE_CONTROL_POLICY"),
        ),
        (
            "organizations:CreatePolicy",
            org_arn("policy", "service_control_policy/p-new00001"),
            json!({"aws:TagKeys": [], "organizations:PolicyType": "SERVICE_CONTROL_POLICY"}),
        ),
        (
            "organizations:TagResource",
            org_arn("account", MEMBER),
            json!({"aws:TagKeys": ["latch:managed"]}),
        ),
        (
            "organizations:TagResource",
            scp_policy(),
            json!({"aws:TagKeys": ["owner"], "organizations:PolicyType": "SERVICE_CONTROL_POLICY"}),
        ),
        (
            "organizations:MoveAccount",
            org_arn("account", MEMBER),
            none.clone(),
        ),
        // Other roles, other buckets, other services.
        (
            "sts:AssumeRole",
            format!("arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole"),
            none.clone(),
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::payroll/2026.csv".to_owned(),
            none.clone(),
        ),
        (
            "s3:DeleteObject",
            format!("arn:aws:s3:::{CHECKPOINT_BUCKET}/checkpoints/0000000042.json"),
            none.clone(),
        ),
        (
            "s3:BypassGovernanceRetention",
            format!("arn:aws:s3:::{CHECKPOINT_BUCKET}/checkpoints/0000000042.json"),
            none.clone(),
        ),
        (
            "s3:PutBucketPolicy",
            format!("arn:aws:s3:::{TRAIL_BUCKET}"),
            none.clone(),
        ),
        ("sso:CreateAccountAssignment", "*".to_owned(), none.clone()),
        (
            "sso:PutInlinePolicyToPermissionSet",
            "*".to_owned(),
            none.clone(),
        ),
        ("identitystore:CreateUser", "*".to_owned(), none.clone()),
        ("ec2:RunInstances", "*".to_owned(), none.clone()),
        ("lambda:UpdateFunctionCode", "*".to_owned(), none.clone()),
        ("cloudtrail:StopLogging", "*".to_owned(), none.clone()),
        ("cloudtrail:DeleteTrail", "*".to_owned(), none),
    ];
    out.sort_by(|a, b| a.0.cmp(b.0));
    out.into_iter()
        .map(|(a, r, c)| (a.to_owned(), r, c))
        .collect()
}

fn identity(role: &RoleDoc) -> Vec<Value> {
    role.policies.values().cloned().collect()
}

/// The actions of the role's Allow statements.
fn allowed_actions(role: &RoleDoc) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for doc in role.policies.values() {
        for st in normalized(doc)["Statement"].as_array().unwrap() {
            assert!(
                st.get("NotAction").is_none() && st.get("NotResource").is_none(),
                "{st}"
            );
            if st["Effect"] == "Allow" {
                for a in st["Action"].as_array().unwrap() {
                    let a = a.as_str().unwrap();
                    assert!(!a.contains(['*', '?']), "a wildcard action: {a}");
                    out.insert(a.to_owned());
                }
            }
        }
    }
    out
}

fn strings(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------------------------------

#[test]
fn cloudformation_and_terraform_grant_the_same() {
    for (trail, checkpoint) in [
        ("", ""),
        (TRAIL_BUCKET, ""),
        (TRAIL_BUCKET, CHECKPOINT_BUCKET),
        ("", CHECKPOINT_BUCKET),
    ] {
        let cfn = cfn_management(trail, checkpoint);
        let tf = terraform_management(trail, checkpoint);
        assert_eq!(cfn.name, tf.name);
        assert_eq!(normalized(&cfn.trust), normalized(&tf.trust));
        assert_eq!(
            cfn.policies.keys().collect::<Vec<_>>(),
            tf.policies.keys().collect::<Vec<_>>()
        );
        for (name, doc) in &cfn.policies {
            assert_eq!(
                normalized(doc),
                normalized(&tf.policies[name]),
                "{name} with buckets {trail:?} {checkpoint:?}"
            );
        }
    }
    // The member role: Terraform deploys the very template (a service-managed StackSet).
    let members = read("deploy/terraform/members.tf");
    assert!(
        members.contains("file(\"${path.module}/../cloudformation/member-stackset.yaml\")"),
        "{members}"
    );
    assert!(members.contains("SERVICE_MANAGED"));
    // And the member role grants in each account what the control-plane role grants in its own.
    let member = cfn_member(MEMBER);
    let own = cfn_management("", "");
    assert_eq!(member.policies.len(), 1);
    let member_doc = normalized(&member.policies["LatchAccount"])
        .to_string()
        .replace(MEMBER, "ACCOUNT");
    let own_doc = normalized(&own.policies["LatchAccount"])
        .to_string()
        .replace(MGMT, "ACCOUNT");
    assert_eq!(member_doc, own_doc);
}

#[test]
fn the_roles_grant_exactly_the_actions_of_latchs_calls() {
    let org = calls::actions(Reach::Organization);
    let every = calls::actions(Reach::EveryAccount);
    let mgmt = cfn_management(TRAIL_BUCKET, CHECKPOINT_BUCKET);
    let mut expected = strings(&org);
    expected.extend(strings(&every));
    assert_eq!(allowed_actions(&mgmt), expected, "the control-plane role");
    assert_eq!(
        allowed_actions(&cfn_member(MEMBER)),
        strings(&every),
        "the member role"
    );
    // Inline policies of a role: at most 10,240 characters together, white space aside.
    for role in [&mgmt, &cfn_member(MEMBER)] {
        let size: usize = role
            .policies
            .values()
            .map(|d| d.to_string().chars().filter(|c| !c.is_whitespace()).count())
            .sum();
        assert!(size <= 10_240, "{size} characters of inline policies");
    }
}

#[test]
fn every_call_is_allowed_where_latch_makes_it() {
    let mgmt = cfn_management(TRAIL_BUCKET, CHECKPOINT_BUCKET);
    let member = cfn_member(MEMBER);
    let none = json!({});
    let mut checked = 0;
    for call in calls::CALLS {
        for action in call.actions {
            // The control plane, in its own account: everything.
            // Into another account, the member role's trust policy has its say too.
            let extra = if *action == "sts:AssumeRole" {
                json!({"resource_policy": member.trust})
            } else {
                none.clone()
            };
            for (resource, context) in requests(action, MGMT) {
                let d = decide(
                    &session(MGMT, ROLE),
                    &identity(&mgmt),
                    action,
                    &resource,
                    &context,
                    &extra,
                );
                assert_eq!(
                    d, "Allow",
                    "control plane: {action} on {resource} ({}::{})",
                    call.service, call.operation
                );
                checked += 1;
            }
            // The member role, in its account: what is made in every account, and nothing else.
            for (resource, context) in requests(action, MEMBER) {
                let d = decide(
                    &session(MEMBER, ROLE),
                    &identity(&member),
                    action,
                    &resource,
                    &context,
                    &none,
                );
                let expected = if call.reach == Reach::EveryAccount {
                    "Allow"
                } else {
                    "ImplicitDeny"
                };
                assert_eq!(d, expected, "member role: {action} on {resource}");
                checked += 1;
            }
        }
    }
    assert!(checked > 150, "{checked}");
}

#[test]
fn what_latch_must_never_do_is_denied() {
    let mgmt = cfn_management(TRAIL_BUCKET, CHECKPOINT_BUCKET);
    let member = cfn_member(MEMBER);
    let none = json!({});
    for (who, account, role) in [
        ("control plane", MGMT, &mgmt),
        ("member role", MEMBER, &member),
    ] {
        for (action, resource, context) in never(account) {
            let d = decide(
                &session(account, ROLE),
                &identity(role),
                &action,
                &resource,
                &context,
                &none,
            );
            assert_ne!(
                d, "Allow",
                "{who} may {action} on {resource} with {context}"
            );
        }
    }
    // Its own role is denied explicitly, though the calls it makes elsewhere are allowed.
    for (account, role) in [(MGMT, &mgmt), (MEMBER, &member)] {
        let own = format!("arn:aws:iam::{account}:role/{ROLE}");
        let d = decide(
            &session(account, ROLE),
            &identity(role),
            "iam:PutRolePolicy",
            &own,
            &none,
            &none,
        );
        assert_eq!(d, "ExplicitDeny");
    }
    // Without the buckets, no S3 at all.
    let bare = cfn_management("", "");
    for (action, resource) in [
        ("s3:ListBucket", format!("arn:aws:s3:::{TRAIL_BUCKET}")),
        (
            "s3:PutObject",
            format!("arn:aws:s3:::{CHECKPOINT_BUCKET}/x"),
        ),
    ] {
        let d = decide(
            &session(MGMT, ROLE),
            &identity(&bare),
            action,
            &resource,
            &none,
            &none,
        );
        assert_eq!(d, "ImplicitDeny", "{action}");
    }
}

#[test]
fn only_latch_assumes_the_control_plane_and_only_the_control_plane_the_member_role() {
    let mgmt = cfn_management("", "");
    let member = cfn_member(MEMBER);
    let admin = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let mgmt_arn = format!("arn:aws:iam::{MGMT}:role/{ROLE}");
    let member_arn = format!("arn:aws:iam::{MEMBER}:role/{ROLE}");
    let trust = |role: &RoleDoc| json!({"resource_policy": role.trust});
    let none = json!({});
    // The principal that runs Latch (same account: the trust policy alone allows).
    assert_eq!(
        decide(
            RUNNER,
            &[],
            "sts:AssumeRole",
            &mgmt_arn,
            &none,
            &trust(&mgmt)
        ),
        "Allow"
    );
    assert_eq!(
        decide(
            "arn:aws:iam::111111111111:role/someone-else",
            std::slice::from_ref(&admin),
            "sts:AssumeRole",
            &mgmt_arn,
            &none,
            &trust(&mgmt)
        ),
        "ImplicitDeny"
    );
    // The control plane reaches the member role; nobody else does, not even an administrator
    // of the member account or of the management account.
    assert_eq!(
        decide(
            &session(MGMT, ROLE),
            &identity(&mgmt),
            "sts:AssumeRole",
            &member_arn,
            &none,
            &trust(&member)
        ),
        "Allow"
    );
    for other in [
        session(MGMT, "admin"),
        session(MEMBER, "admin"),
        session("333333333333", ROLE),
        RUNNER.to_owned(),
    ] {
        assert_ne!(
            decide(
                &other,
                std::slice::from_ref(&admin),
                "sts:AssumeRole",
                &member_arn,
                &none,
                &trust(&member)
            ),
            "Allow",
            "{other}"
        );
    }
}

#[test]
fn the_firewall_spares_these_roles_and_nobody_else() {
    let config = latch_firewall::Config::default();
    let cp = config.control_plane.role_arn.clone();
    // The role name of every template is the one the firewall's configuration names.
    for account in [MGMT, MEMBER] {
        let arn = format!("arn:aws:iam::{account}:role/{}", cfn_member(account).name);
        assert!(
            latch_policy::glob::matches_str(&cp, &arn),
            "{arn} is not {cp}"
        );
        let arn = format!(
            "arn:aws:iam::{account}:role/{}",
            cfn_management("", "").name
        );
        assert!(
            latch_policy::glob::matches_str(&cp, &arn),
            "{arn} is not {cp}"
        );
    }
    assert_eq!(terraform_management("", "").name, ROLE);
    // The example organization planned with the default configuration: its SCPs, all of them
    // at one level under FullAWSAccess.
    let snapshot = latch_model::load::snapshot(&root().join("examples/org")).unwrap();
    let input = latch_firewall::PlanInput {
        snapshot: &snapshot,
        config: &config,
        usage: None,
        as_of: None,
        reading: None,
        active_grants: &[],
    };
    let intent = latch_firewall::generate(&input).unwrap();
    let packed = latch_firewall::pack(&intent, &latch_firewall::Limits::AWS).unwrap();
    let mut level: Vec<Value> = vec![
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    ];
    let mut tamper = 0;
    for p in packed
        .iter()
        .filter(|p| p.kind == latch_catalog::PolicyType::Scp)
    {
        if p.content.contains(latch_contract::TAMPER_SID_PREFIX) {
            tamper += 1;
        }
        level.push(serde_json::from_str(&p.content).unwrap());
    }
    assert!(tamper > 0, "the plan has no tamper protection");
    let scps = json!({"scps": [level], "management_account": MGMT});
    let member = cfn_member(MEMBER);
    let admin = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let role = format!("arn:aws:iam::{MEMBER}:role/app");
    let own = format!("arn:aws:iam::{MEMBER}:role/{ROLE}");
    let grant_tag = json!({"aws:TagKeys": ["latch:grant:ops"], "aws:RequestTag/latch:grant:ops": "g-1 expires=2026-11-20T10:00:00Z"});
    let none = json!({});
    // The member role still does its work under the plan.
    for (action, resource, context) in [
        ("iam:TagRole", role.as_str(), &grant_tag),
        (
            "iam:UntagRole",
            role.as_str(),
            &json!({"aws:TagKeys": ["latch:grant:ops"]}),
        ),
        ("iam:PutRolePolicy", role.as_str(), &none),
        ("iam:GetAccountAuthorizationDetails", "*", &none),
    ] {
        let d = decide(
            &session(MEMBER, ROLE),
            &identity(&member),
            action,
            resource,
            context,
            &scps,
        );
        assert_eq!(d, "Allow", "member role: {action} under the plan");
    }
    // An administrator of the account may not: tamper protection.
    for (action, resource, context) in [
        ("iam:TagRole", role.as_str(), &grant_tag),
        ("iam:UpdateAssumeRolePolicy", own.as_str(), &none),
        ("iam:PutRolePolicy", own.as_str(), &none),
        ("iam:DeleteRole", own.as_str(), &none),
        ("organizations:LeaveOrganization", "*", &none),
    ] {
        let d = decide(
            &session(MEMBER, "admin"),
            std::slice::from_ref(&admin),
            action,
            resource,
            context,
            &scps,
        );
        assert_eq!(
            d, "ExplicitDeny",
            "an administrator: {action} on {resource}"
        );
    }
    // A role named like it in a path, or with a longer name, is not spared.
    for impostor in ["latch-control-plane-2", "xlatch-control-plane"] {
        let d = decide(
            &session(MEMBER, impostor),
            std::slice::from_ref(&admin),
            "iam:TagRole",
            &role,
            &grant_tag,
            &scps,
        );
        assert_eq!(d, "ExplicitDeny", "{impostor}");
    }
}
