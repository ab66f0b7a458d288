//! Evaluation cases: the JSON contract of `latch eval` (see `docs/eval-cases.md`).

use serde_json::{json, Map, Value};

use crate::compile::{CPolicy, Layer};
use crate::context::Context;
use crate::document::{Effect, Policy};
use crate::eval::{Evaluation, PolicySet, RcpServices};
use crate::request::Request;

/// A malformed case: the JSON path of the field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct CaseError {
    /// JSON path within the case, e.g. `identity_policies[0].Statement[2].Effect`.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

fn err(path: impl Into<String>, reason: impl Into<String>) -> CaseError {
    CaseError {
        path: path.into(),
        reason: reason.into(),
    }
}

/// A parsed and compiled case, ready to evaluate many times.
#[derive(Debug, Clone)]
pub struct Case {
    /// The request.
    pub request: Request,
    /// The compiled policies.
    pub policies: PolicySet,
}

const CASE_KEYS: &[&str] = &[
    "request",
    "identity_policies",
    "permission_boundary",
    "session_policy",
    "resource_policy",
    "scps",
    "rcps",
    "management_account",
    "rcp_services",
];

fn policy(v: &Value, path: &str, layer: Layer) -> Result<CPolicy, CaseError> {
    let doc = Policy::from_value(v, path).map_err(|e| err(e.path, e.reason))?;
    CPolicy::compile(&doc, layer).map_err(|e| err(format!("{path}.{}", e.path), e.reason))
}

fn policy_list(v: &Value, path: &str, layer: Layer) -> Result<Vec<CPolicy>, CaseError> {
    let items = v
        .as_array()
        .ok_or_else(|| err(path, "must be an array of policies"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, p)| policy(p, &format!("{path}[{i}]"), layer))
        .collect()
}

fn levels(v: &Value, path: &str, layer: Layer) -> Result<Vec<Vec<CPolicy>>, CaseError> {
    let items = v.as_array().ok_or_else(|| {
        err(
            path,
            "must be an array of levels (root, OUs, account), each an array of policies",
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, l)| policy_list(l, &format!("{path}[{i}]"), layer))
        .collect()
}

fn context_value(v: &Value, path: &str) -> Result<String, CaseError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(err(
            path,
            "context values must be strings (or numbers, booleans)",
        )),
    }
}

fn str_field<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'v str>, CaseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(format!("{path}.{key}"), "must be a string")),
    }
}

impl Case {
    /// Parses and compiles a case. Without `rcp_services` in the case, the services RCPs
    /// govern are unknown and RCPs apply to every service (fail closed); see
    /// [`Case::from_value_with`].
    pub fn from_value(v: &Value) -> Result<Case, CaseError> {
        Case::from_value_with(v, &RcpServices::unknown())
    }

    /// Parses and compiles a case; `rcp_services` is used when the case does not list the
    /// services RCPs govern itself (`latch eval` hands in the catalog's list).
    pub fn from_value_with(v: &Value, rcp_services: &RcpServices) -> Result<Case, CaseError> {
        let obj = v
            .as_object()
            .ok_or_else(|| err("$", "a case must be a JSON object"))?;
        if let Some(k) = obj.keys().find(|k| !CASE_KEYS.contains(&k.as_str())) {
            return Err(err(
                k.clone(),
                format!(
                    "unknown field `{k}` (expected one of: {})",
                    CASE_KEYS.join(", ")
                ),
            ));
        }
        let r = obj
            .get("request")
            .ok_or_else(|| err("request", "missing"))?
            .as_object()
            .ok_or_else(|| err("request", "must be an object"))?;
        for k in r.keys() {
            if ![
                "principal",
                "action",
                "resource",
                "resource_account",
                "context",
            ]
            .contains(&k.as_str())
            {
                return Err(err(
                    format!("request.{k}"),
                    "unknown field (expected principal, action, resource, resource_account, context)",
                ));
            }
        }
        let principal = str_field(r, "principal", "request")?
            .ok_or_else(|| err("request.principal", "missing"))?;
        let action =
            str_field(r, "action", "request")?.ok_or_else(|| err("request.action", "missing"))?;
        let resource = str_field(r, "resource", "request")?.unwrap_or("*");
        let resource_account = str_field(r, "resource_account", "request")?;
        let mut context = Context::default();
        match r.get("context") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let p = format!("request.context.{k}");
                    match v {
                        Value::Array(items) => {
                            let values = items
                                .iter()
                                .enumerate()
                                .map(|(i, x)| context_value(x, &format!("{p}[{i}]")))
                                .collect::<Result<Vec<_>, _>>()?;
                            context.insert(k, values, true);
                        }
                        other => context.insert(k, vec![context_value(other, &p)?], false),
                    }
                }
            }
            Some(_) => {
                return Err(err(
                    "request.context",
                    "must be an object of key → value(s)",
                ))
            }
        }
        let request = Request::new(principal, action, resource, resource_account, context)
            .map_err(|e| err(e.field, e.reason))?;

        let opt = |key: &str, layer: Layer| -> Result<Option<CPolicy>, CaseError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => policy(v, key, layer).map(Some),
            }
        };
        let identity = match obj.get("identity_policies") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => policy_list(v, "identity_policies", Layer::Identity)?,
        };
        let scps = match obj.get("scps") {
            None | Some(Value::Null) => None,
            Some(v) => Some(levels(v, "scps", Layer::Scp)?),
        };
        let rcps = match obj.get("rcps") {
            None | Some(Value::Null) => None,
            Some(v) => Some(levels(v, "rcps", Layer::Rcp)?),
        };
        let management_account = str_field(obj, "management_account", "$")
            .map_err(|_| err("management_account", "must be a string"))?
            .map(str::to_owned);
        let rcp_services = match obj.get("rcp_services") {
            None | Some(Value::Null) => rcp_services.clone(),
            Some(Value::Array(items)) => RcpServices::new(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        s.as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
                            err(
                                format!("rcp_services[{i}]"),
                                "must be a service prefix such as `s3`",
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => {
                return Err(err(
                    "rcp_services",
                    "must be an array of service prefixes such as [\"s3\", \"kms\"]",
                ))
            }
        };
        let policies = PolicySet {
            identity,
            boundary: opt("permission_boundary", Layer::PermissionBoundary)?,
            session: opt("session_policy", Layer::SessionPolicy)?,
            resource: opt("resource_policy", Layer::Resource)?,
            scps,
            rcps,
            management_account,
            rcp_services,
        };
        Ok(Case { request, policies })
    }

    /// Evaluates the case.
    pub fn evaluate(&self) -> Evaluation<'_> {
        self.policies.evaluate(&self.request)
    }
}

/// The JSON form of an evaluation (see `docs/eval-cases.md`).
pub fn evaluation_json(e: &Evaluation<'_>, lints: &[String]) -> Value {
    let statements: Vec<Value> = e
        .statements
        .iter()
        .map(|m| {
            let mut o = Map::new();
            o.insert("layer".into(), json!(m.layer.name()));
            if let Some(l) = m.level {
                o.insert("level".into(), json!(l));
            }
            o.insert("policy".into(), json!(m.policy));
            if let Some(id) = m.policy_id {
                o.insert("policy_id".into(), json!(id));
            }
            o.insert("statement".into(), json!(m.statement));
            if let Some(sid) = m.sid {
                o.insert("sid".into(), json!(sid));
            }
            o.insert(
                "effect".into(),
                json!(match m.effect {
                    Effect::Allow => "Allow",
                    Effect::Deny => "Deny",
                }),
            );
            if let Some(u) = &m.unevaluable {
                o.insert("unevaluable".into(), json!(u));
            }
            Value::Object(o)
        })
        .collect();
    let mut out = Map::new();
    out.insert("decision".into(), json!(e.decision.name()));
    if let Some(l) = e.decided_by {
        out.insert("decided_by".into(), json!(l.name()));
    }
    if let Some(l) = e.level {
        out.insert("level".into(), json!(l));
    }
    out.insert("reason".into(), json!(e.reason));
    if let Some(p) = e.refused_by {
        out.insert("refused_by".into(), json!(p.name));
    }
    out.insert("statements".into(), Value::Array(statements));
    let warnings: Vec<&String> = lints.iter().chain(e.warnings.iter()).collect();
    if !warnings.is_empty() {
        out.insert("warnings".into(), json!(warnings));
    }
    Value::Object(out)
}

/// Parses, evaluates and renders one case.
pub fn evaluate_json(case: &Value) -> Result<Value, CaseError> {
    evaluate_json_with(case, &RcpServices::unknown())
}

/// [`evaluate_json`] with the services RCPs govern when the case does not list them.
pub fn evaluate_json_with(case: &Value, rcp_services: &RcpServices) -> Result<Value, CaseError> {
    let c = Case::from_value_with(case, rcp_services)?;
    let lints = c.policies.lints();
    Ok(evaluation_json(&c.evaluate(), &lints))
}
