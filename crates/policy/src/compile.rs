//! Compiled policies: patterns pre-parsed, lower-cased and split once, so that evaluating a
//! request does no parsing and (for policies without variables) no allocation.

use std::sync::Arc;

use crate::arn::{self, ArnPattern};
use crate::condition::{Condition, Outcome};
use crate::document::{Effect, Policy, PrincipalType, Principals, Statement};
use crate::glob::{self, Piece};
use crate::request::Request;
use crate::template::Template;

/// What role a policy plays; decides which elements it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// Service control policy.
    Scp,
    /// Resource control policy.
    Rcp,
    /// Identity-based policy (attached to a user, group or role, inline or managed).
    Identity,
    /// Permissions boundary.
    PermissionBoundary,
    /// Session policy.
    SessionPolicy,
    /// Resource-based policy (bucket policy, key policy, role trust policy, ...).
    Resource,
}

impl Layer {
    /// The name used in explanations and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Scp => "scp",
            Layer::Rcp => "rcp",
            Layer::Identity => "identity",
            Layer::PermissionBoundary => "permission_boundary",
            Layer::SessionPolicy => "session_policy",
            Layer::Resource => "resource",
        }
    }

    fn takes_principal(self) -> bool {
        matches!(self, Layer::Resource | Layer::Rcp)
    }
}

/// A policy that cannot serve in its layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct CompileError {
    /// JSON path relative to the policy.
    pub path: String,
    /// Why.
    pub reason: String,
}

#[derive(Debug, Clone)]
enum ActionPat {
    Any,
    Service(String),
    Exact(String),
    Glob(Vec<Piece>),
}

#[derive(Debug, Clone)]
struct ResourcePat {
    /// The pattern as written (for explanations).
    text: String,
    template: Template,
    fixed: Option<ArnPattern>,
}

/// A reference in the `AWS` part of a `Principal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AwsRef {
    Any,
    Account(String),
    User(String),
    Role { account: String, name: String },
    Session(String),
    Other(String),
}

#[derive(Debug, Clone)]
struct CPrincipals {
    negated: bool,
    any: bool,
    aws: Vec<AwsRef>,
    others: Vec<(PrincipalType, String)>,
}

/// How a resource-based policy's `Principal` matched the caller. The order matters: a
/// stronger match wins when several entries match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalMatch {
    /// The caller's account (id or root ARN): a delegation to the account, which its identity
    /// policies must complete.
    Account,
    /// The caller's role by role ARN: capped by the session's boundary and session policy.
    Role,
    /// The caller itself: user ARN, session ARN, federated-user ARN, service; and `*`, which
    /// names every principal, the caller itself included (Latch's reading: AWS documents the
    /// cap only for grants to a role ARN).
    Direct,
}

/// A compiled statement.
#[derive(Debug, Clone)]
pub struct CStatement {
    /// Index in the policy.
    pub index: usize,
    /// `Sid`.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    actions_negated: bool,
    actions: Vec<ActionPat>,
    resources: Option<(bool, Vec<ResourcePat>)>,
    principal: Option<CPrincipals>,
    /// Conditions, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// A compiled policy. Cloning is cheap and allocates nothing: everything in it is shared, so
/// one policy attached to thousands of principals is held once.
#[derive(Debug, Clone)]
pub struct CPolicy {
    /// `Id`, if any.
    pub id: Option<Arc<str>>,
    /// Statements.
    pub statements: Arc<[CStatement]>,
    /// Findings from compilation that do not stop evaluation (e.g. a `Principal` element in an
    /// identity policy, an `Allow` in an RCP).
    pub lints: Arc<[String]>,
}

/// Does the statement apply to the request?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applies {
    /// No.
    No,
    /// Yes; for resource policies, how the principal matched.
    Yes(PrincipalMatch),
    /// Action, resource and principal match, but a condition cannot be evaluated.
    Unevaluable(PrincipalMatch, String),
    /// An Allow that would match only through a policy variable without a value: not granted.
    Unresolved(String),
}

fn compile_action(text: &str) -> ActionPat {
    let lower = text.to_ascii_lowercase();
    if lower == "*" {
        return ActionPat::Any;
    }
    if let Some((svc, name)) = lower.split_once(':') {
        if name == "*" && !svc.contains(['*', '?']) {
            return ActionPat::Service(svc.to_owned());
        }
    }
    let pieces = glob::pieces_of(&lower);
    if glob::is_literal(&pieces) {
        ActionPat::Exact(lower)
    } else {
        ActionPat::Glob(pieces)
    }
}

fn compile_aws_ref(text: &str) -> AwsRef {
    if text == "*" {
        return AwsRef::Any;
    }
    if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
        return AwsRef::Account(text.to_owned());
    }
    if let Some([_, _, service, _, account, resource]) = arn::split(text) {
        match (service, resource) {
            ("iam", "root") => return AwsRef::Account(account.to_owned()),
            ("iam", r) if r.starts_with("user/") => return AwsRef::User(text.to_owned()),
            ("iam", r) if r.starts_with("role/") => {
                let name = r.rsplit('/').next().unwrap_or(r);
                return AwsRef::Role {
                    account: account.to_owned(),
                    name: name.to_owned(),
                };
            }
            ("sts", r) if r.starts_with("assumed-role/") || r.starts_with("federated-user/") => {
                return AwsRef::Session(text.to_owned())
            }
            _ => {}
        }
    }
    AwsRef::Other(text.to_owned())
}

fn compile_principals(p: &Principals) -> CPrincipals {
    let mut aws = Vec::new();
    let mut others = Vec::new();
    let mut any = p.any;
    for (kind, values) in &p.entries {
        for v in values {
            match kind {
                PrincipalType::Aws => {
                    let r = compile_aws_ref(v);
                    if r == AwsRef::Any {
                        any = true;
                    }
                    aws.push(r);
                }
                other => others.push((*other, v.clone())),
            }
        }
    }
    CPrincipals {
        negated: p.negated,
        any,
        aws,
        others,
    }
}

impl CPolicy {
    /// Compiles a policy for a layer.
    pub fn compile(policy: &Policy, layer: Layer) -> Result<CPolicy, CompileError> {
        let vars = policy.version.has_variables();
        let mut lints = Vec::new();
        if policy.version != crate::document::Version::V2012_10_17 {
            lints.push(
                "policy has no `\"Version\": \"2012-10-17\"`: policy variables are not substituted"
                    .to_owned(),
            );
        }
        let statements = policy
            .statements
            .iter()
            .enumerate()
            .map(|(i, s)| compile_statement(i, s, layer, vars, &mut lints))
            .collect::<Result<Arc<[_]>, _>>()?;
        Ok(CPolicy {
            id: policy.id.as_deref().map(Arc::from),
            statements,
            lints: lints.into(),
        })
    }
}

fn compile_statement(
    index: usize,
    s: &Statement,
    layer: Layer,
    vars: bool,
    lints: &mut Vec<String>,
) -> Result<CStatement, CompileError> {
    let path = format!("Statement[{index}]");
    let principal = match (&s.principal, layer.takes_principal()) {
        (Some(p), true) => Some(compile_principals(p)),
        (Some(_), false) => {
            return Err(CompileError {
                path: format!("{path}.Principal"),
                reason: format!(
                "a {} policy cannot name a principal (only resource-based policies and RCPs can)",
                layer.name()
            ),
            })
        }
        (None, _) if layer == Layer::Resource => {
            return Err(CompileError {
                path,
                reason: "a resource-based policy statement needs `Principal` or `NotPrincipal`"
                    .into(),
            })
        }
        (None, _) => None,
    };
    let resources = match &s.resource {
        Some(m) => Some((
            m.negated,
            m.values
                .iter()
                .map(|v| {
                    let template = Template::compile(v, true, vars);
                    let fixed = template.fixed().map(|p| ArnPattern::resource(p.to_vec()));
                    ResourcePat {
                        text: v.clone(),
                        template,
                        fixed,
                    }
                })
                .collect(),
        )),
        None if layer == Layer::Resource => None,
        None => {
            return Err(CompileError {
                path,
                reason: "missing `Resource` or `NotResource`".into(),
            })
        }
    };
    if let Some(m) = &s.resource {
        let element = if m.negated { "NotResource" } else { "Resource" };
        for (i, v) in m.values.iter().enumerate() {
            // Variables take a placeholder value here; a resolved pattern is checked again when
            // a request is evaluated.
            let shape = Template::compile(v, true, vars).placeholder_pieces();
            if let Some(why) = ArnPattern::resource(shape).malformed() {
                let verdict = match (s.effect, m.negated) {
                    (Effect::Deny, false) => {
                        "this Deny counts as matching every resource (fail closed)"
                    }
                    (Effect::Deny, true) => "this Deny excludes no resource by it (fail closed)",
                    (Effect::Allow, false) => "this Allow matches nothing by it",
                    (Effect::Allow, true) => "this Allow never applies (fail closed)",
                };
                lints.push(format!(
                    "{path}.{element}[{i}]: `{v}` is not an ARN pattern AWS accepts: {why}; {verdict}"
                ));
            }
        }
    }
    if s.effect == Effect::Allow && s.principal.as_ref().is_some_and(|p| p.negated) {
        lints.push(format!(
            "{path}: NotPrincipal with Allow is not supported by AWS (\"IAM JSON policy elements: NotPrincipal\"); this statement never matches"
        ));
    }
    if layer == Layer::Rcp && s.effect == Effect::Allow {
        lints.push(format!(
            "{path}: RCPs may only deny; an Allow adds nothing to the implicit RCPFullAWSAccess"
        ));
    }
    let conditions: Vec<Condition> = s
        .conditions
        .iter()
        .map(|c| Condition::compile(c, vars))
        .collect();
    for c in conditions.iter().filter(|c| !c.is_valid()) {
        lints.push(format!(
            "{path}.Condition.{}.{}: cannot be evaluated ({})",
            c.operator,
            c.key,
            if s.effect == Effect::Deny {
                "this Deny is treated as matching: fail closed"
            } else {
                "this Allow never matches"
            }
        ));
    }
    Ok(CStatement {
        index,
        sid: s.sid.clone(),
        effect: s.effect,
        actions_negated: s.action.negated,
        actions: s.action.values.iter().map(|a| compile_action(a)).collect(),
        resources,
        principal,
        conditions,
    })
}

impl CStatement {
    fn action_matches(&self, req: &Request, action_lc: &str) -> bool {
        let hit = self.actions.iter().any(|p| match p {
            ActionPat::Any => true,
            ActionPat::Service(s) => *s == req.service,
            ActionPat::Exact(a) => a == action_lc,
            ActionPat::Glob(g) => glob::matches(g, action_lc),
        });
        hit != self.actions_negated
    }

    /// Whether the resource element matches; records a policy variable without a value (a
    /// pattern holding one matches nothing: "Policy variables with no value"). `Err` when no
    /// well-formed pattern settles it and some pattern is malformed: the element cannot be
    /// evaluated (a Deny then counts as matching, an Allow does not).
    fn resource_matches(
        &self,
        req: &Request,
        unresolved: &mut Option<String>,
    ) -> Result<bool, String> {
        let Some((negated, pats)) = &self.resources else {
            // A resource-based policy without Resource applies to the resource it is on.
            return Ok(true);
        };
        let mut malformed = None;
        let mut check = |pattern: &ArnPattern, text: &str| {
            if let Some(why) = pattern.malformed() {
                malformed.get_or_insert_with(|| format!("Resource `{text}`: {why}"));
                false
            } else {
                pattern.matches(&req.resource)
            }
        };
        let hit = pats.iter().any(|p| match &p.fixed {
            Some(f) => check(f, &p.text),
            None => match p.template.resolve(&req.context) {
                Ok(pieces) => check(&ArnPattern::resource(pieces), &p.text),
                Err(u) => {
                    unresolved.get_or_insert(u.key);
                    false
                }
            },
        });
        match malformed {
            Some(why) if !hit => Err(why),
            _ => Ok(hit != *negated),
        }
    }

    /// Whether the statement applies to the request. `has_boundary`: the caller has a
    /// permissions boundary (for the documented `NotPrincipal` rule).
    pub fn applies(&self, req: &Request, action_lc: &str, has_boundary: bool) -> Applies {
        let mut unresolved = None;
        if !self.action_matches(req, action_lc) {
            return Applies::No;
        }
        let mut unevaluable = None;
        match self.resource_matches(req, &mut unresolved) {
            Ok(true) => {}
            Ok(false) => return Applies::No,
            Err(why) => unevaluable = Some(why),
        }
        let pm = match &self.principal {
            None => PrincipalMatch::Direct,
            Some(p) => match principal_match(p, req, has_boundary, self.effect) {
                Some(m) => m,
                None => return Applies::No,
            },
        };
        for c in &self.conditions {
            match c.evaluate(&req.context) {
                Outcome::True => {}
                Outcome::False | Outcome::Unresolved(false, _) => return Applies::No,
                Outcome::Unresolved(true, key) => {
                    unresolved.get_or_insert(key);
                }
                Outcome::Unevaluable(why) => {
                    unevaluable.get_or_insert(format!("{}.{}: {why}", c.operator, c.key));
                }
            }
        }
        if let Some(why) = unevaluable {
            return Applies::Unevaluable(pm, why);
        }
        match unresolved {
            // Latch never grants on a variable without a value (fail closed); a Deny follows
            // AWS's null rule, under which it matched.
            Some(key) if self.effect == Effect::Allow => Applies::Unresolved(key),
            _ => Applies::Yes(pm),
        }
    }
}

/// The facets a caller presents to a `Principal` element: itself, its role, its account.
fn aws_ref_match(r: &AwsRef, req: &Request) -> Option<PrincipalMatch> {
    use crate::request::Caller;
    match (r, &req.caller) {
        (AwsRef::Any, Caller::Service(_)) => None,
        (AwsRef::Any, _) => Some(PrincipalMatch::Direct),
        (AwsRef::Account(a), c) => {
            (c.account() == Some(a.as_str())).then_some(PrincipalMatch::Account)
        }
        (AwsRef::User(arn), Caller::User { .. }) => {
            (*arn == req.principal).then_some(PrincipalMatch::Direct)
        }
        (
            AwsRef::Role { account, name },
            Caller::RoleSession {
                account: a, role, ..
            },
        ) => (account == a && name == role).then_some(PrincipalMatch::Role),
        (AwsRef::Session(arn), Caller::RoleSession { .. } | Caller::FederatedUser { .. }) => {
            (*arn == req.principal).then_some(PrincipalMatch::Direct)
        }
        (AwsRef::Other(o), _) => (*o == req.principal).then_some(PrincipalMatch::Direct),
        _ => None,
    }
}

fn principal_match(
    p: &CPrincipals,
    req: &Request,
    has_boundary: bool,
    effect: Effect,
) -> Option<PrincipalMatch> {
    use crate::request::Caller;
    let other_hit = p.others.iter().any(|(kind, v)| match (kind, &req.caller) {
        (PrincipalType::Service, Caller::Service(s)) => s == v,
        (PrincipalType::Service, _) => false,
        (_, _) => *v == req.principal,
    });
    if !p.negated {
        if p.any || other_hit {
            return Some(PrincipalMatch::Direct);
        }
        return p.aws.iter().filter_map(|r| aws_ref_match(r, req)).max();
    }
    // NotPrincipal ("IAM JSON policy elements: NotPrincipal"): the statement applies unless
    // every facet of the caller is listed — its own ARN, its role (for a session) and its
    // account — which is why AWS tells you to list the account too. A Deny with NotPrincipal
    // always applies to a caller with a permissions boundary ("Permissions boundaries for IAM
    // entities").
    if effect == Effect::Allow {
        // Unsupported by AWS; never grants (see the compile lint).
        return None;
    }
    if has_boundary {
        return Some(PrincipalMatch::Direct);
    }
    if p.any {
        return None;
    }
    let listed = |want: PrincipalMatch| p.aws.iter().any(|r| aws_ref_match(r, req) == Some(want));
    let all_listed = match &req.caller {
        Caller::User { .. } | Caller::FederatedUser { .. } => {
            listed(PrincipalMatch::Direct) && listed(PrincipalMatch::Account)
        }
        Caller::RoleSession { session, .. } => {
            (session.is_none() || listed(PrincipalMatch::Direct))
                && listed(PrincipalMatch::Role)
                && listed(PrincipalMatch::Account)
        }
        Caller::Root { .. } => listed(PrincipalMatch::Account),
        Caller::Service(_) | Caller::Anonymous | Caller::Other(_) => {
            other_hit || listed(PrincipalMatch::Direct)
        }
    };
    (!all_listed).then_some(PrincipalMatch::Direct)
}
