//! Evaluation: combining every policy layer into one decision, as AWS documents it.
//!
//! Order ("Policy evaluation logic", "How AWS enforcement code logic evaluates requests",
//! "Cross-account policy evaluation logic"):
//! 0. what AWS refuses whatever the policies say (`crate::protected`: Identity Center roles,
//!    service-linked roles, AWS managed policies, `alias/aws/` KMS aliases) is an
//!    `ImplicitDeny` naming the protection, before any policy is read;
//! 1. an explicit Deny in any applicable policy decides (`ExplicitDeny`);
//! 2. RCPs: every level holds the implicit `RCPFullAWSAccess`, so they only deny — and only for
//!    the services RCPs govern ([`RcpServices`], handed in), resources outside the management
//!    account, and neither calls by service-linked roles nor service-linked roles themselves;
//! 3. SCPs: every level from the root to the account must allow (a level allows when any of its
//!    policies does); they do not govern the management account or service-linked roles;
//! 4. resource-based and identity-based policies: within one account either may allow (with
//!    the documented caps by permissions boundary and session policy, and the exceptions of
//!    role trust and KMS key policies, which must allow); across accounts both must.

use std::sync::Arc;

use crate::compile::{Applies, CPolicy, CompileError, Layer, PrincipalMatch};
use crate::document::{Effect, Policy};
use crate::protected::{self, Protection};
use crate::request::{Caller, Request};

/// The final decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied by an explicit Deny statement.
    ExplicitDeny,
    /// Not allowed by some required layer.
    ImplicitDeny,
}

impl Decision {
    /// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Allow => "Allow",
            Decision::ExplicitDeny => "ExplicitDeny",
            Decision::ImplicitDeny => "ImplicitDeny",
        }
    }
}

/// The services whose resources RCPs govern ("Resource control policies (RCPs)", "List of AWS
/// services that support RCPs",
/// https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html).
///
/// The engine holds no copy of that list: it changes as AWS adds services, and the catalog
/// (`latch_catalog::Catalog::rcp_services`) carries it with the rest of AWS's service data.
/// Whoever builds a [`PolicySet`] hands it in.
///
/// Unknown (the default, when nobody handed a list in) fails closed: RCPs are applied to
/// every service, so an RCP Deny is never lost, and an evaluation where an RCP Deny applied
/// only because the list was unknown says so in a warning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcpServices(Option<Arc<[Box<str>]>>);

impl RcpServices {
    /// No list: RCPs apply to every service (fail closed).
    pub const fn unknown() -> RcpServices {
        RcpServices(None)
    }

    /// The services RCPs govern, by service prefix (`s3`, `kms`, ...; any case).
    pub fn new<I, S>(services: I) -> RcpServices
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list: Vec<Box<str>> = services
            .into_iter()
            .map(|s| s.as_ref().to_ascii_lowercase().into_boxed_str())
            .collect();
        list.sort_unstable();
        list.dedup();
        RcpServices(Some(list.into()))
    }

    /// Whether RCPs govern a (lower-case) service prefix; `None` when no list was given.
    pub fn governs(&self, service_lc: &str) -> Option<bool> {
        self.0
            .as_ref()
            .map(|list| list.binary_search_by(|s| (**s).cmp(service_lc)).is_ok())
    }

    /// The list, sorted and lower-case; `None` when unknown.
    pub fn services(&self) -> Option<&[Box<str>]> {
        self.0.as_deref()
    }
}

/// What a Deny statement that cannot be evaluated (an unknown operator, an unreadable value, a
/// malformed resource) counts as. An Allow in that situation never matches, either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unevaluable {
    /// It matches: the answer for enforcement, where assuming the Deny protects is safe
    /// (fail closed). [`PolicySet::evaluate`] answers this way.
    #[default]
    DenyMatches,
    /// It does not match: the answer for exposure — what the caller could do if the statement
    /// does not protect. Such statements are listed in [`Evaluation::set_aside`].
    DenyDoesNotMatch,
}

/// The inputs of one evaluation, compiled.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// Identity-based policies of the caller.
    pub identity: Vec<CPolicy>,
    /// Permissions boundary, if any.
    pub boundary: Option<CPolicy>,
    /// Session policy, if any.
    pub session: Option<CPolicy>,
    /// Resource-based policy, if any.
    pub resource: Option<CPolicy>,
    /// SCPs per level (root, OUs, account); `None` when no SCPs apply.
    pub scps: Option<Vec<Vec<CPolicy>>>,
    /// RCPs per level; `None` outside an organization.
    pub rcps: Option<Vec<Vec<CPolicy>>>,
    /// The organization's management account.
    pub management_account: Option<String>,
    /// The services RCPs govern; unknown applies RCPs to every service (fail closed).
    pub rcp_services: RcpServices,
}

/// A statement that took part in the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    /// Its layer.
    pub layer: Layer,
    /// Level (SCPs/RCPs: 0 = root).
    pub level: Option<usize>,
    /// Index of the policy within its layer (or level).
    pub policy: usize,
    /// The policy's `Id`.
    pub policy_id: Option<&'a str>,
    /// Index of the statement within the policy.
    pub statement: usize,
    /// `Sid`.
    pub sid: Option<&'a str>,
    /// `Effect`.
    pub effect: Effect,
    /// Set when a condition could not be evaluated.
    pub unevaluable: Option<String>,
}

/// A decision with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation<'a> {
    /// The decision.
    pub decision: Decision,
    /// The layer that decided.
    pub decided_by: Option<Layer>,
    /// The SCP/RCP level that decided, when one did.
    pub level: Option<usize>,
    /// Why, in one sentence.
    pub reason: &'static str,
    /// The statements that matched (denies and allows), in evaluation order.
    pub statements: Vec<Matched<'a>>,
    /// Problems met on the way (e.g. a Deny counted as matching because a condition could not
    /// be evaluated).
    pub warnings: Vec<String>,
    /// The protection that refused the request whatever the policies say, if one did (then
    /// `decided_by` is `None` and no statement was read).
    pub refused_by: Option<&'static Protection>,
    /// Deny statements that applied but could not be evaluated and, under
    /// [`Unevaluable::DenyDoesNotMatch`], were counted as not matching: the decision holds
    /// unless one of them protects. Empty under [`Unevaluable::DenyMatches`], where they are in
    /// `statements` with `unevaluable` set.
    pub set_aside: Vec<Matched<'a>>,
}

impl PolicySet {
    /// Compiles identity policies etc. from parsed documents.
    pub fn compile_layer(
        policies: &[Policy],
        layer: Layer,
    ) -> Result<Vec<CPolicy>, (usize, CompileError)> {
        policies
            .iter()
            .enumerate()
            .map(|(i, p)| CPolicy::compile(p, layer).map_err(|e| (i, e)))
            .collect()
    }

    /// Every compile-time lint, prefixed with its policy's place.
    pub fn lints(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |place: String, p: &CPolicy| {
            for l in p.lints.iter() {
                out.push(format!("{place}: {l}"));
            }
        };
        for (i, p) in self.identity.iter().enumerate() {
            add(format!("identity_policies[{i}]"), p);
        }
        if let Some(p) = &self.boundary {
            add("permission_boundary".into(), p);
        }
        if let Some(p) = &self.session {
            add("session_policy".into(), p);
        }
        if let Some(p) = &self.resource {
            add("resource_policy".into(), p);
        }
        for (name, levels) in [("scps", &self.scps), ("rcps", &self.rcps)] {
            for (l, level) in levels.iter().flatten().enumerate() {
                for (i, p) in level.iter().enumerate() {
                    add(format!("{name}[{l}][{i}]"), p);
                }
            }
        }
        out
    }

    /// Evaluates a request.
    pub fn evaluate<'a>(&'a self, req: &Request) -> Evaluation<'a> {
        self.evaluate_with(req, Unevaluable::DenyMatches)
    }

    /// Evaluates a request, counting Deny statements that cannot be evaluated as `mode` says:
    /// `evaluate_with(req, Unevaluable::DenyDoesNotMatch)` is the exposure answer, "allowed
    /// unless one of `set_aside` protects".
    pub fn evaluate_with<'a>(&'a self, req: &Request, mode: Unevaluable) -> Evaluation<'a> {
        if let Some(p) = protected::refusal(req) {
            return Evaluation {
                decision: Decision::ImplicitDeny,
                decided_by: None,
                level: None,
                reason: p.reason,
                statements: Vec::new(),
                warnings: Vec::new(),
                refused_by: Some(p),
                set_aside: Vec::new(),
            };
        }
        let mut st = State {
            req,
            mode,
            set_aside: Vec::new(),
            has_boundary: self.boundary.is_some(),
            statements: Vec::with_capacity(8),
            warnings: Vec::new(),
        };
        let org_member =
            |acct: Option<&str>| acct.is_some() && acct != self.management_account.as_deref();
        let has_identity = matches!(
            req.caller,
            Caller::User { .. }
                | Caller::RoleSession { .. }
                | Caller::FederatedUser { .. }
                | Caller::Root { .. }
        );
        let scps = self
            .scps
            .as_ref()
            .filter(|_| has_identity && org_member(req.caller.account()) && !req.service_linked);
        // RCPs govern resources of member accounts, for the services on AWS's list, except
        // what service-linked roles do and the service-linked roles themselves ("Resource
        // control policies (RCPs)": RCPs do not affect resources in the management account;
        // "Resources and entities not restricted by RCPs").
        let rcp_scope = self.rcp_services.governs(&req.service);
        let rcps = self.rcps.as_ref().filter(|_| {
            org_member(req.resource_account.as_deref())
                && rcp_scope != Some(false)
                && !req.service_linked
                && !is_service_linked_role(&req.resource)
        });

        // Evaluate every applicable layer once.
        let scp_levels: Vec<Scan> = scps
            .map(|levels| {
                levels
                    .iter()
                    .enumerate()
                    .map(|(l, ps)| st.scan(Layer::Scp, Some(l), ps))
                    .collect()
            })
            .unwrap_or_default();
        let rcp_levels: Vec<Scan> = rcps
            .map(|levels| {
                levels
                    .iter()
                    .enumerate()
                    .map(|(l, ps)| st.scan(Layer::Rcp, Some(l), ps))
                    .collect()
            })
            .unwrap_or_default();
        if rcp_scope.is_none() && rcp_levels.iter().any(|l| l.deny) {
            st.warnings.push(format!(
                "the services RCPs govern were not given: an RCP Deny is applied to `{}` (fail closed)",
                req.service
            ));
        }
        let none: &[CPolicy] = &[];
        let identity = if has_identity {
            st.scan(Layer::Identity, None, &self.identity)
        } else {
            Scan::default()
        };
        let boundary = match (&self.boundary, has_identity) {
            (Some(b), true) => {
                Some(st.scan(Layer::PermissionBoundary, None, std::slice::from_ref(b)))
            }
            _ => None,
        };
        let session = match (&self.session, has_identity) {
            (Some(s), true) => Some(st.scan(Layer::SessionPolicy, None, std::slice::from_ref(s))),
            _ => None,
        };
        let resource = match &self.resource {
            Some(r) => st.scan(Layer::Resource, None, std::slice::from_ref(r)),
            None => st.scan(Layer::Resource, None, none),
        };

        // 1. Explicit deny anywhere.
        let deny_layer = scp_levels
            .iter()
            .find(|s| s.deny)
            .map(|s| (Layer::Scp, s.level))
            .or_else(|| {
                rcp_levels
                    .iter()
                    .find(|s| s.deny)
                    .map(|s| (Layer::Rcp, s.level))
            })
            .or_else(|| identity.deny.then_some((Layer::Identity, None)))
            .or_else(|| {
                boundary
                    .as_ref()
                    .filter(|b| b.deny)
                    .map(|_| (Layer::PermissionBoundary, None))
            })
            .or_else(|| {
                session
                    .as_ref()
                    .filter(|s| s.deny)
                    .map(|_| (Layer::SessionPolicy, None))
            })
            .or_else(|| resource.deny.then_some((Layer::Resource, None)));
        if let Some((layer, level)) = deny_layer {
            return st.finish(
                Decision::ExplicitDeny,
                layer,
                level,
                "an explicit Deny statement applies to the request",
            );
        }

        // 2. RCPs: RCPFullAWSAccess is implicit at every level, so nothing more to check.
        // 3. SCPs: every level must allow.
        if let Some(s) = scp_levels.iter().find(|s| s.allow.is_none()) {
            return st.finish(
                Decision::ImplicitDeny,
                Layer::Scp,
                s.level,
                "no SCP at this level of the organization allows the action",
            );
        }

        // 4. Identity and resource-based policies.
        let boundary_ok = boundary.as_ref().is_none_or(|b| b.allow.is_some());
        // Without a session policy only a role session keeps its permissions; a federated user
        // session (GetFederationToken) then has none ("How AWS enforcement code logic evaluates
        // requests": step Session policies; STS GetFederationToken).
        let session_ok = match &session {
            Some(s) => s.allow.is_some(),
            None => !matches!(req.caller, Caller::FederatedUser { .. }),
        };
        let is_root = matches!(req.caller, Caller::Root { .. });
        let identity_allows = is_root || identity.allow.is_some();
        let id_allowed = identity_allows && boundary_ok && session_ok;
        let identity_fail = || {
            if !identity_allows {
                (
                    Layer::Identity,
                    "no identity-based policy allows the action",
                )
            } else if !boundary_ok {
                (
                    Layer::PermissionBoundary,
                    "the permissions boundary does not allow the action",
                )
            } else {
                (
                    Layer::SessionPolicy,
                    "the session policy does not allow the action",
                )
            }
        };
        let res_match = resource.allow;
        // A grant naming the caller directly is not capped by boundary or session policy; one
        // naming the caller's role (by role ARN) is; one naming the account is a delegation that
        // the account's identity policies must complete.
        let resource_grants = match res_match {
            Some(PrincipalMatch::Direct) => true,
            Some(PrincipalMatch::Role) => boundary_ok && session_ok,
            Some(PrincipalMatch::Account) | None => false,
        };
        let must_have_resource_policy = is_trust_request(req) || is_kms_key_request(req);

        if !has_identity {
            // Anonymous callers and service principals have no identity policies: only a
            // resource-based policy can allow.
            return if resource_grants {
                st.finish(
                    Decision::Allow,
                    Layer::Resource,
                    None,
                    "the resource-based policy allows this principal",
                )
            } else {
                st.finish(
                    Decision::ImplicitDeny,
                    Layer::Resource,
                    None,
                    "no resource-based policy allows this principal",
                )
            };
        }

        if req.is_cross_account() {
            if res_match.is_none() {
                return st.finish(
                    Decision::ImplicitDeny,
                    Layer::Resource,
                    None,
                    "cross-account access needs the resource-based policy to allow the principal",
                );
            }
            if !id_allowed {
                let (layer, why) = identity_fail();
                return st.finish(Decision::ImplicitDeny, layer, None, why);
            }
            return st.finish(
                Decision::Allow,
                Layer::Resource,
                None,
                "cross-account: both the resource-based policy and the principal's identity-based policies allow",
            );
        }

        if must_have_resource_policy {
            if resource_grants || (res_match == Some(PrincipalMatch::Account) && id_allowed) {
                return st.finish(
                    Decision::Allow,
                    Layer::Resource,
                    None,
                    "the role trust policy or KMS key policy allows the principal",
                );
            }
            if res_match == Some(PrincipalMatch::Account) {
                let (layer, why) = identity_fail();
                return st.finish(Decision::ImplicitDeny, layer, None, why);
            }
            return st.finish(
                Decision::ImplicitDeny,
                Layer::Resource,
                None,
                "role trust policies and KMS key policies must explicitly allow the principal",
            );
        }

        if id_allowed {
            let reason = if is_root && identity.allow.is_none() {
                "the account root user has full access in its own account"
            } else {
                "an identity-based policy allows the action"
            };
            return st.finish(Decision::Allow, Layer::Identity, None, reason);
        }
        if resource_grants {
            return st.finish(
                Decision::Allow,
                Layer::Resource,
                None,
                "the resource-based policy in the same account allows the principal",
            );
        }
        if res_match == Some(PrincipalMatch::Role) {
            let layer = if boundary_ok {
                Layer::SessionPolicy
            } else {
                Layer::PermissionBoundary
            };
            return st.finish(
                Decision::ImplicitDeny,
                layer,
                None,
                "a resource-based grant to the role ARN is capped by the boundary and session policy",
            );
        }
        let (layer, why) = identity_fail();
        st.finish(Decision::ImplicitDeny, layer, None, why)
    }
}

/// A service-linked role's ARN (path `/aws-service-role/`).
fn is_service_linked_role(resource: &str) -> bool {
    crate::arn::split(resource)
        .is_some_and(|p| p[2] == "iam" && p[5].starts_with("role/aws-service-role/"))
}

/// `sts:AssumeRole*` and friends on a role: the trust policy must allow.
fn is_trust_request(req: &Request) -> bool {
    req.service == "sts"
        && matches!(
            req.action_name.as_str(),
            "assumerole"
                | "assumerolewithsaml"
                | "assumerolewithwebidentity"
                | "tagsession"
                | "setsourceidentity"
                | "setcontext"
        )
        && crate::arn::split(&req.resource)
            .is_some_and(|p| p[2] == "iam" && p[5].starts_with("role/"))
}

/// A KMS action on a key: the key policy must allow.
fn is_kms_key_request(req: &Request) -> bool {
    req.service == "kms"
        && crate::arn::split(&req.resource)
            .is_some_and(|p| p[2] == "kms" && p[5].starts_with("key/"))
}

#[derive(Debug, Default)]
struct Scan {
    level: Option<usize>,
    deny: bool,
    allow: Option<PrincipalMatch>,
}

struct State<'r, 'a> {
    req: &'r Request,
    mode: Unevaluable,
    set_aside: Vec<Matched<'a>>,
    has_boundary: bool,
    statements: Vec<Matched<'a>>,
    warnings: Vec<String>,
}

impl<'a> State<'_, 'a> {
    fn scan(&mut self, layer: Layer, level: Option<usize>, policies: &'a [CPolicy]) -> Scan {
        let mut out = Scan {
            level,
            ..Scan::default()
        };
        for (pi, p) in policies.iter().enumerate() {
            for s in p.statements.iter() {
                let (pm, unevaluable) = match s.applies(
                    self.req,
                    &self.req.action_lc,
                    self.has_boundary,
                ) {
                    Applies::No => continue,
                    Applies::Yes(pm) => (pm, None),
                    Applies::Unresolved(key) => {
                        self.warnings.push(format!(
                            "{} policy {pi} statement {}: policy variable `{key}` has no value in the request; this Allow does not grant (fail closed)",
                            layer.name(),
                            s.index
                        ));
                        continue;
                    }
                    Applies::Unevaluable(pm, why) => {
                        let verdict = match (s.effect, self.mode) {
                            (Effect::Deny, Unevaluable::DenyMatches) => {
                                "counted as matching (fail closed)"
                            }
                            (Effect::Deny, Unevaluable::DenyDoesNotMatch) => {
                                "counted as not matching (exposure: the decision holds unless it protects)"
                            }
                            (Effect::Allow, _) => "not counted as allowing",
                        };
                        self.warnings.push(format!(
                            "{} policy {pi} statement {}: cannot be evaluated ({why}); {verdict}",
                            layer.name(),
                            s.index
                        ));
                        if s.effect == Effect::Allow {
                            continue;
                        }
                        if self.mode == Unevaluable::DenyDoesNotMatch {
                            self.set_aside.push(Matched {
                                layer,
                                level,
                                policy: pi,
                                policy_id: p.id.as_deref(),
                                statement: s.index,
                                sid: s.sid.as_deref(),
                                effect: s.effect,
                                unevaluable: Some(why),
                            });
                            continue;
                        }
                        (pm, Some(why))
                    }
                };
                match s.effect {
                    Effect::Deny => out.deny = true,
                    Effect::Allow => out.allow = out.allow.max(Some(pm)),
                }
                self.statements.push(Matched {
                    layer,
                    level,
                    policy: pi,
                    policy_id: p.id.as_deref(),
                    statement: s.index,
                    sid: s.sid.as_deref(),
                    effect: s.effect,
                    unevaluable,
                });
            }
        }
        out
    }

    fn finish(
        self,
        decision: Decision,
        layer: Layer,
        level: Option<usize>,
        reason: &'static str,
    ) -> Evaluation<'a> {
        let mut statements = self.statements;
        if decision == Decision::ExplicitDeny {
            statements.retain(|m| m.effect == Effect::Deny);
        }
        Evaluation {
            decision,
            decided_by: Some(layer),
            level,
            reason,
            statements,
            warnings: self.warnings,
            refused_by: None,
            set_aside: self.set_aside,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::context::Context;

    fn rcp_deny_everything() -> PolicySet {
        let doc = |text: &str, layer| {
            CPolicy::compile(&Policy::from_json_str(text).unwrap(), layer).unwrap()
        };
        PolicySet {
            identity: vec![doc(
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
                Layer::Identity,
            )],
            rcps: Some(vec![vec![doc(
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}"#,
                Layer::Rcp,
            )]]),
            ..PolicySet::default()
        }
    }

    fn lambda_call() -> Request {
        Request::new(
            "arn:aws:iam::111122223333:user/alice",
            "lambda:InvokeFunction",
            "arn:aws:lambda:us-east-1:111122223333:function:f",
            None,
            Context::default(),
        )
        .unwrap()
    }

    #[test]
    fn both_answers_for_a_deny_that_cannot_be_evaluated() {
        let doc = |text: &str| {
            CPolicy::compile(&Policy::from_json_str(text).unwrap(), Layer::Scp).unwrap()
        };
        let set = PolicySet {
            identity: vec![CPolicy::compile(
                &Policy::from_json_str(
                    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
                )
                .unwrap(),
                Layer::Identity,
            )
            .unwrap()],
            scps: Some(vec![vec![
                doc(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#),
                doc(r#"{"Version":"2012-10-17","Statement":{"Sid":"Guard","Effect":"Deny","Action":"iam:*","Resource":"*","Condition":{"StringEqualsFuture":{"aws:PrincipalTag/x":"y"}}}}"#),
            ]]),
            ..PolicySet::default()
        };
        let req = Request::new(
            "arn:aws:iam::111122223333:user/alice",
            "iam:CreateUser",
            "*",
            None,
            Context::default(),
        )
        .unwrap();
        let enforce = set.evaluate(&req);
        assert_eq!(enforce.decision, Decision::ExplicitDeny);
        assert!(enforce.set_aside.is_empty());
        assert!(enforce.statements.iter().any(|m| m.unevaluable.is_some()));
        let exposure = set.evaluate_with(&req, Unevaluable::DenyDoesNotMatch);
        assert_eq!(exposure.decision, Decision::Allow);
        assert_eq!(exposure.set_aside.len(), 1);
        assert_eq!(exposure.set_aside[0].sid, Some("Guard"));
        assert_eq!(exposure.set_aside[0].layer, Layer::Scp);
        assert!(
            exposure.warnings.iter().any(|w| w.contains("exposure")),
            "{:?}",
            exposure.warnings
        );
    }

    #[test]
    fn an_unknown_rcp_service_list_applies_rcps_everywhere_and_says_so() {
        let mut set = rcp_deny_everything();
        assert_eq!(set.rcp_services, RcpServices::unknown());
        let e = set.evaluate(&lambda_call());
        assert_eq!(e.decision, Decision::ExplicitDeny);
        assert_eq!(e.decided_by, Some(Layer::Rcp));
        assert!(
            e.warnings.iter().any(|w| w.contains("fail closed")),
            "{:?}",
            e.warnings
        );
        set.rcp_services = RcpServices::new(["S3", "kms", "s3"]);
        assert_eq!(
            set.rcp_services.services().unwrap(),
            [Box::from("kms"), Box::from("s3")]
        );
        let e = set.evaluate(&lambda_call());
        assert_eq!(e.decision, Decision::Allow);
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
        assert_eq!(set.rcp_services.governs("kms"), Some(true));
        assert_eq!(set.rcp_services.governs("lambda"), Some(false));
        assert_eq!(RcpServices::unknown().governs("lambda"), None);
    }
}
