//! What every rule needs, computed once per snapshot: each principal's compiled policy set,
//! request context and catalog-wide action set, and the engine checks built on them.
//!
//! ## Admin-equivalence
//!
//! A principal is **admin-equivalent** when the engine — with the principal's own request
//! context, its SCP chain, boundary and identity policies — allows every probe of
//! [`ADMIN_PROBES`] on *every* resource of that type in its own account (the request's
//! resource is the literal wildcard ARN, e.g. `arn:aws:iam::ACCT:role/*`, which only a grant
//! on all roles matches). Those probes are the IAM write actions that let a principal give
//! itself or anyone any permission and use it (attach or put a policy on any role or user,
//! rewrite any managed policy, rewrite any trust policy, create keys for any user, pass any
//! role): whoever holds all of them is one API call away from `*` on `*` in its account,
//! within what its SCPs and boundary permit. `AdministratorAccess` qualifies; `PowerUserAccess`
//! (no IAM) and grants scoped to some roles do not.
//!
//! A principal that can raise *itself* to admin in one step (for example `iam:PutRolePolicy`
//! on its own ARN only) is not admin-equivalent by this definition; it gets an edge to the
//! [`Target::Admin`](super::Target::Admin) node, so its path (one step) is reported.
//!
//! ## Probes for resources that may not exist yet
//!
//! Rules check resource-level permissions with the engine on concrete ARNs. Two shapes:
//! - [`Need::Chosen`]: the attacker creates and names the resource (a Lambda function, a
//!   stack, an instance): some name must be allowed. Tried: a neutral name, and each resource
//!   pattern the principal's own Allow statements name for that action, with its wildcards
//!   filled in (so `function:ci-*` yields `function:ci-x`).
//! - [`Need::Every`]: the resource exists but the snapshot has no inventory of it (functions,
//!   instances, dev endpoints): the principal must hold the action on every such resource of
//!   the account (the literal wildcard ARN), so a grant on `function:ci-*` does not count.
//!
//! Requests carry `aws:RequestedRegion` = [`GraphOptions::region`], since region guardrails in
//! SCPs condition on it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use latch_catalog::{ActionId, Catalog};
use latch_model::{
    EffectivePolicies, ManagedPolicy, OrgLevel, PolicyDocument, PolicySource, Principal, Snapshot,
    SourcedPolicy,
};
use latch_policy::compile::CPolicy;
use latch_policy::context::{Context, ContextPool};
use latch_policy::document::Effect;
use latch_policy::eval::Matched;
use latch_policy::{Decision, Layer, Policy, PolicySet, Request, Unevaluable};

use crate::{combine, effective_permissions, ActionSet, PolicyActions, PrincipalPolicies};

/// Settings of the graph construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphOptions {
    /// The region of every probe request (`aws:RequestedRegion`, regional ARNs).
    pub region: String,
    /// The time the graph is judged at (Unix seconds; the scan's as-of time, passed in: the
    /// analysis reads no clock). With it every probe request carries `aws:CurrentTime` and
    /// `aws:EpochTime`, and a role's requests `aws:TokenIssueTime` too (whoever can act as a
    /// role can mint a fresh session at that time); a user's long-term keys have no token issue
    /// time, so their requests carry none. Without it none of the three is set, so a grant
    /// conditioned on one of them never applies (and a Deny conditioned on one is handled
    /// as an unevaluable statement).
    pub now: Option<i64>,
}

impl Default for GraphOptions {
    fn default() -> GraphOptions {
        GraphOptions {
            region: "us-east-1".to_owned(),
            now: None,
        }
    }
}

/// The time keys of a probe request at `now` (Unix seconds) for principal `p`: see
/// [`GraphOptions::now`]. Global condition keys, "AWS global condition context keys":
/// `aws:CurrentTime` and `aws:EpochTime` are in every request; `aws:TokenIssueTime` only in
/// requests signed with temporary credentials.
fn insert_time_keys(context: &mut Context, p: &Principal<'_>, now: i64) {
    let rfc3339 = latch_trail::Timestamp(now).to_string();
    context.insert("aws:CurrentTime", vec![rfc3339.clone()], false);
    context.insert("aws:EpochTime", vec![now.to_string()], false);
    if matches!(p.kind, latch_model::PrincipalKind::Role(_)) {
        context.insert("aws:TokenIssueTime", vec![rfc3339], false);
    }
}

/// The probes that define admin-equivalence: action and resource ARN template (`{account}`
/// is the principal's account). See the module documentation.
pub const ADMIN_PROBES: &[(&str, &str)] = &[
    ("iam:AttachRolePolicy", "arn:aws:iam::{account}:role/*"),
    ("iam:PutRolePolicy", "arn:aws:iam::{account}:role/*"),
    ("iam:AttachUserPolicy", "arn:aws:iam::{account}:user/*"),
    ("iam:PutUserPolicy", "arn:aws:iam::{account}:user/*"),
    ("iam:CreatePolicyVersion", "arn:aws:iam::{account}:policy/*"),
    (
        "iam:UpdateAssumeRolePolicy",
        "arn:aws:iam::{account}:role/*",
    ),
    ("iam:CreateAccessKey", "arn:aws:iam::{account}:user/*"),
    ("iam:PassRole", "arn:aws:iam::{account}:role/*"),
];

/// How a rule needs a resource (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The attacker creates and names it: some name must be allowed.
    Chosen,
    /// It exists but is not inventoried: every such resource of the account must be allowed.
    Every,
}

/// The name used for attacker-chosen resources when no pattern of the principal suggests one.
pub const PROBE_NAME: &str = "latch-escalation-probe";

/// One principal, prepared for evaluation.
#[derive(Debug)]
pub struct Node<'a> {
    /// The principal.
    pub principal: Principal<'a>,
    /// A superset of the actions allowed on some resource under some context (built from
    /// `effective_permissions` of each document and of the guardrails): a request whose
    /// action is not here is never allowed by identity policies.
    pub allowed: Arc<ActionSet>,
    /// The compiled trust policy (roles).
    trust: Option<CPolicy>,
    set: Mutex<PolicySet>,
    context: Context,
    identity: Vec<&'a Policy>,
    labels: Vec<String>,
}

/// A principal that may assume a role: its node, and the policies that allow it.
pub type Assumer = (usize, Vec<String>);

/// Precomputed state shared by the rules.
#[derive(Debug)]
pub struct GraphContext<'a> {
    /// The snapshot.
    pub snapshot: &'a Snapshot,
    /// The options.
    pub options: GraphOptions,
    /// Every principal whose policies compiled, in snapshot order.
    pub nodes: Vec<Node<'a>>,
    /// Node index by ARN.
    pub by_arn: BTreeMap<&'a str, usize>,
    /// Node indices by account id.
    pub by_account: BTreeMap<&'a str, Vec<usize>>,
    /// Whether each node is admin-equivalent.
    pub admin: Vec<bool>,
    /// Principals left out, with why (their policies did not compile).
    pub not_analysed: Vec<String>,
    rcps: BTreeMap<&'a str, Option<Vec<Vec<CPolicy>>>>,
    /// The roles trusting each service principal asked about, found once for all the rules
    /// that ask (see [`GraphContext::roles_trusting`]).
    trusting: Mutex<HashMap<String, Arc<OnceLock<Vec<usize>>>>>,
    /// Who may assume each role, found once for the blast radius and the `assume-role` rule
    /// (see [`GraphContext::assumers`]).
    assumers: OnceLock<Vec<Vec<Assumer>>>,
}

fn fill(template: &str, account: &str, region: &str, name: &str) -> String {
    template
        .replace("{account}", account)
        .replace("{region}", region)
        .replace("{name}", name)
}

/// Compiled policies and catalog-wide action sets shared between principals, so that an AWS
/// managed policy or an SCP is compiled and expanded once, not once per principal. Keys name a
/// document: managed policies by ARN and default version (AWS-managed ones are the same in
/// every account), other documents (inline, SCP, RCP) by their address in the snapshot.
#[derive(Debug, Default)]
struct Cache {
    compiled: HashMap<(Layer, String), CPolicy>,
    doc_allowed: HashMap<String, ActionSet>,
    guard_allowed: HashMap<Vec<String>, ActionSet>,
    interned: HashMap<ActionSet, Arc<ActionSet>>,
    contexts: ContextPool,
}

fn managed_key(policy: &ManagedPolicy) -> String {
    format!(
        "m:{}@{}:{:?}",
        policy.arn, policy.default_version_id, policy.origin
    )
}

/// The cache key of an identity policy; `None` for a principal's own inline policy, which no
/// other principal has (caching it would only hold memory).
fn source_key(p: &SourcedPolicy<'_>) -> Option<String> {
    match p.source {
        PolicySource::Managed { policy } | PolicySource::GroupManaged { policy, .. } => {
            Some(managed_key(policy))
        }
        PolicySource::GroupInline { .. } => Some(format!("d:{:p}", p.document)),
        PolicySource::Inline { .. } => None,
    }
}

impl Cache {
    fn compile(
        &mut self,
        key: Option<String>,
        doc: &PolicyDocument,
        layer: Layer,
        place: &dyn Fn() -> String,
    ) -> Result<CPolicy, String> {
        let Some(key) = key else {
            return CPolicy::compile(&doc.policy, layer).map_err(|e| format!("{}: {e}", place()));
        };
        let entry = (layer, key);
        if let Some(c) = self.compiled.get(&entry) {
            return Ok(c.clone());
        }
        let c = CPolicy::compile(&doc.policy, layer).map_err(|e| format!("{}: {e}", place()))?;
        self.compiled.insert(entry, c.clone());
        Ok(c)
    }

    fn levels(
        &mut self,
        levels: Option<&Vec<OrgLevel<'_>>>,
        layer: Layer,
    ) -> Result<Option<Vec<Vec<CPolicy>>>, String> {
        let Some(levels) = levels else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(levels.len());
        for (i, level) in levels.iter().enumerate() {
            let mut compiled = Vec::with_capacity(level.policies.len());
            for cp in level.policies {
                compiled.push(self.compile(
                    Some(format!("d:{:p}", &cp.document)),
                    &cp.document,
                    layer,
                    &|| format!("{}:{i}:{}", layer.name(), cp.id),
                )?);
            }
            out.push(compiled);
        }
        Ok(Some(out))
    }

    /// The engine's policy set of a principal: what `EffectivePolicies::to_policy_set`
    /// builds, from cached compilations.
    fn policy_set(&mut self, eff: &EffectivePolicies<'_>) -> Result<PolicySet, String> {
        let mut identity = Vec::with_capacity(eff.identity.len());
        for p in &eff.identity {
            identity.push(
                self.compile(source_key(p), p.document, Layer::Identity, &|| {
                    p.source.label()
                })?,
            );
        }
        let boundary = match eff.boundary {
            Some(b) => Some(self.compile(
                Some(managed_key(b)),
                &b.document,
                Layer::PermissionBoundary,
                &|| format!("boundary:{}", b.arn),
            )?),
            None => None,
        };
        Ok(PolicySet {
            identity,
            boundary,
            session: None,
            resource: None,
            scps: self.levels(eff.scps.as_ref(), Layer::Scp)?,
            rcps: self.levels(eff.rcps.as_ref(), Layer::Rcp)?,
            management_account: eff.management_account.map(str::to_owned),
            rcp_services: Catalog::get().rcp_services(),
        })
    }

    /// A superset of `effective_permissions(..).allowed` of a principal, built from parts
    /// cached across principals: the union over its identity policies of what each allows on
    /// its own (minus its own Denies), intersected with what its boundary and SCP chain let
    /// through (an `Allow *` identity under them, minus their Denies). Each document is
    /// expanded over the catalog once. A superset is what a pre-check needs: an action outside
    /// it is never allowed; one inside it is still decided by the engine.
    fn allowed(&mut self, eff: &EffectivePolicies<'_>) -> Arc<ActionSet> {
        let mut allowed = ActionSet::empty();
        for s in &eff.identity {
            // `effective_permissions` of this document alone, without copying it.
            let alone = || combine(&[&PolicyActions::of(&s.document.policy)], None, &[], false);
            match source_key(s) {
                Some(key) => {
                    allowed.union_with(
                        self.doc_allowed
                            .entry(key)
                            .or_insert_with(|| alone().allowed),
                    );
                }
                None => allowed.union_with(&alone().allowed),
            }
        }
        let scp_levels = eff.binding_scps();
        let mut key = vec![eff
            .boundary
            .map_or_else(|| "no boundary".to_owned(), managed_key)];
        for (i, level) in scp_levels.iter().enumerate() {
            key.push(format!("level {i}"));
            for cp in level.policies {
                key.push(format!("{:p}", &cp.document));
            }
        }
        let guard = self.guard_allowed.entry(key).or_insert_with(|| {
            let everything = Policy::from_json_str(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            )
            .ok();
            effective_permissions(&PrincipalPolicies {
                identity: everything.into_iter().collect(),
                boundary: eff.boundary.map(|b| b.document.policy.clone()),
                scps: PrincipalPolicies::scp_documents(scp_levels),
                is_root: false,
            })
            .allowed
        });
        allowed.intersect_with(guard);
        // Principals with the same policies have the same set: one copy is kept.
        Arc::clone(
            self.interned
                .entry(allowed)
                .or_insert_with_key(|set| Arc::new(set.clone())),
        )
    }
}

/// A principal prepared by one worker thread.
struct Prepared<'a> {
    node: Node<'a>,
    rcps: Option<Vec<Vec<CPolicy>>>,
}

fn prepare<'a>(
    p: Principal<'a>,
    cache: &mut Cache,
    region: &str,
    now: Option<i64>,
) -> Result<Prepared<'a>, String> {
    let eff = p.effective_policies();
    let set = cache
        .policy_set(&eff)
        .map_err(|e| format!("escalation: `{}` left out: its policy {e}", p.arn()))?;
    // Roles made from one template trust the same principals: their trust policies, equal
    // as text, are compiled once.
    let trust = match p.trust_policy() {
        Some(doc) => Some(
            cache
                .compile(
                    Some(format!("t:{}", doc.json())),
                    doc,
                    Layer::Resource,
                    &|| "its trust policy does not compile".to_owned(),
                )
                .map_err(|e| format!("escalation: `{}` left out: {e}", p.arn()))?,
        ),
        None => None,
    };
    let mut context = p.request_context();
    context.insert("aws:RequestedRegion", vec![region.to_owned()], false);
    if let Some(now) = now {
        insert_time_keys(&mut context, &p, now);
    }
    // Every probe of this principal clones the context: the keys the engine derives from the
    // principal are added once here, and the whole is shared by the clones. A principal the
    // engine cannot parse keeps its context as it is; each of its requests fails the same way.
    let _ = Request::add_principal_keys(p.arn(), &mut context);
    // The keys principals have in common (account, organization, region, time) are held once.
    context.share_in(&mut cache.contexts);
    let rcps = set.rcps.clone();
    Ok(Prepared {
        node: Node {
            principal: p,
            allowed: cache.allowed(&eff),
            trust,
            set: Mutex::new(set),
            context,
            identity: eff.identity.iter().map(|s| &s.document.policy).collect(),
            labels: eff.identity.iter().map(|s| s.source.label()).collect(),
        },
        rcps,
    })
}

/// "unless ... holds" for a Deny statement the engine could not evaluate and set aside.
fn unless_label(m: &Matched<'_>) -> String {
    let mut what = format!("{} statement {}", m.layer.name(), m.statement);
    if let Some(sid) = m.sid {
        what.push_str(&format!(" (Sid {sid})"));
    }
    match (m.level, m.policy_id) {
        (Some(level), Some(id)) => what.push_str(&format!(" of policy `{id}` at level {level}")),
        (Some(level), None) => what.push_str(&format!(" of policy {} at level {level}", m.policy)),
        (None, Some(id)) => what.push_str(&format!(" of policy `{id}`")),
        (None, None) => {}
    }
    format!(
        "exposed unless {what} holds (it cannot be evaluated: {})",
        m.unevaluable.as_deref().unwrap_or("unknown")
    )
}

thread_local! {
    /// Action name to catalog id: rules ask about the same few dozen actions millions of times.
    static RESOLVED: std::cell::RefCell<HashMap<String, Option<ActionId>>> =
        std::cell::RefCell::new(HashMap::new());
}

fn resolve(action: &str) -> Option<ActionId> {
    RESOLVED.with(|cache| {
        if let Some(id) = cache.borrow().get(action) {
            return *id;
        }
        let id = Catalog::get().resolve(action);
        cache.borrow_mut().insert(action.to_owned(), id);
        id
    })
}

/// Whether some Allow statement of a trust policy could match the service principal
/// `service`: one without `Principal`, or whose `Principal` is `"*"` or lists `service` (in
/// any case) or `"*"` under any type. The engine matches a service caller only through such a
/// statement, and only an Allow statement can let it in; a trust policy without one is
/// not worth a request.
fn may_let_in_service(trust: &Policy, service: &str) -> bool {
    trust.statements.iter().any(|s| {
        s.effect == Effect::Allow
            && s.principal.as_ref().is_none_or(|p| {
                !p.negated
                    && (p.any
                        || p.entries.iter().any(|(_, values)| {
                            values
                                .iter()
                                .any(|v| v == "*" || v.eq_ignore_ascii_case(service))
                        }))
            })
    })
}

/// Fills the wildcards of a resource pattern with a letter, giving one concrete ARN it
/// matches; `None` for patterns with policy variables.
fn instantiate(pattern: &str) -> Option<String> {
    if pattern.contains("${") {
        return None;
    }
    Some(pattern.replace(['*', '?'], "x"))
}

/// The stored, non-default managed-policy versions the engine cannot compile (as an identity
/// policy or, for a policy that is a boundary, as a boundary): no rule can judge making them
/// the default, so each is reported rather than passed over in silence.
fn uncompiled_versions(snapshot: &Snapshot) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    for account in snapshot.accounts.values() {
        for policy in account.managed_policies.values() {
            for version in &policy.other_versions {
                let failed = [Layer::Identity, Layer::PermissionBoundary]
                    .into_iter()
                    .find_map(|layer| {
                        CPolicy::compile(&version.document.policy, layer)
                            .err()
                            .map(|e| (layer, e))
                    });
                if let Some((layer, e)) = failed {
                    out.insert(format!(
                        "escalation: version `{}` of `{}` is not considered as a default: it \
                         does not compile as a {} policy: {e}",
                        version.id,
                        policy.arn,
                        layer.name()
                    ));
                }
            }
        }
    }
    out.into_iter().collect()
}

impl<'a> GraphContext<'a> {
    /// Prepares every principal of the snapshot.
    pub fn new(snapshot: &'a Snapshot, options: GraphOptions) -> GraphContext<'a> {
        let mut ctx = GraphContext {
            snapshot,
            options,
            nodes: Vec::new(),
            by_arn: BTreeMap::new(),
            by_account: BTreeMap::new(),
            admin: Vec::new(),
            not_analysed: Vec::new(),
            rcps: BTreeMap::new(),
            trusting: Mutex::new(HashMap::new()),
            assumers: OnceLock::new(),
        };
        let principals: Vec<Principal<'a>> = snapshot.principals().collect();
        let region = ctx.options.region.clone();
        let now = ctx.options.now;
        let prepared = crate::parallel::in_parallel(&principals, |part| {
            let mut cache = Cache::default();
            part.iter()
                .map(|p| prepare(*p, &mut cache, &region, now))
                .collect()
        });
        ctx.nodes.reserve_exact(prepared.len());
        for result in prepared {
            let prepared = match result {
                Ok(p) => p,
                Err(why) => {
                    ctx.not_analysed.push(why);
                    continue;
                }
            };
            let p = prepared.node.principal;
            ctx.rcps.entry(p.account_id()).or_insert(prepared.rcps);
            let index = ctx.nodes.len();
            ctx.by_arn.insert(p.arn(), index);
            ctx.by_account
                .entry(p.account_id())
                .or_default()
                .push(index);
            ctx.nodes.push(prepared.node);
        }
        // Every member account's RCP chain, also of the accounts none of whose principals
        // compiled (or that hold none): a step onto a resource there is checked against that
        // account's RCPs, never against none.
        if let Some(org) = &snapshot.organization {
            let mut cache = Cache::default();
            for account in org.accounts() {
                if ctx.rcps.contains_key(account.id.as_str()) {
                    continue;
                }
                let chain: Option<Vec<OrgLevel<'_>>> = org.path_to(&account.id).map(|path| {
                    path.into_iter()
                        .map(|node| OrgLevel {
                            node,
                            policies: &node.rcps,
                        })
                        .collect()
                });
                match cache.levels(chain.as_ref(), Layer::Rcp) {
                    Ok(levels) => {
                        ctx.rcps.insert(account.id.as_str(), levels);
                    }
                    Err(why) => ctx
                        .not_analysed
                        .push(format!("the RCPs of account {}: {why}", account.id)),
                }
            }
        }
        ctx.not_analysed.extend(uncompiled_versions(snapshot));
        let indices: Vec<usize> = (0..ctx.nodes.len()).collect();
        ctx.admin = crate::parallel::in_parallel(&indices, |part| {
            part.iter().map(|&i| ctx.is_admin(i)).collect()
        });
        ctx
    }

    /// The node with this ARN.
    pub fn node(&self, arn: &str) -> Option<usize> {
        self.by_arn.get(arn).copied()
    }

    /// The principal of node `i`.
    pub fn principal(&self, i: usize) -> Option<&Principal<'a>> {
        self.nodes.get(i).map(|n| &n.principal)
    }

    /// The ARN of node `i` (empty when out of range).
    pub fn arn(&self, i: usize) -> &'a str {
        self.nodes.get(i).map_or("", |n| n.principal.arn())
    }

    /// The account of node `i` (empty when out of range).
    pub fn account(&self, i: usize) -> &'a str {
        self.nodes.get(i).map_or("", |n| n.principal.account_id())
    }

    /// Whether node `i` is a source of edges: every principal that is neither admin-equivalent
    /// (an admin can already do what any technique would give it, so its edges are noise) nor
    /// a service-linked role (only its AWS service can assume it, and its policy is AWS's).
    pub fn is_source(&self, i: usize) -> bool {
        self.nodes
            .get(i)
            .is_some_and(|n| !n.principal.is_service_linked() && !self.is_admin_node(i))
    }

    /// Whether node `i` is admin-equivalent.
    pub fn is_admin_node(&self, i: usize) -> bool {
        self.admin.get(i).copied().unwrap_or(false)
    }

    /// Whether the action is in node `i`'s catalog-wide allowed set (a cheap necessary
    /// condition for any identity-policy grant). Actions unknown to the catalog are assumed
    /// possible.
    pub fn may(&self, i: usize, action: &str) -> bool {
        let Some(node) = self.nodes.get(i) else {
            return false;
        };
        match resolve(action) {
            Some(id) => node.allowed.contains(id),
            None => true,
        }
    }

    /// [`GraphContext::may`] for an action already looked up with [`GraphContext::action`]:
    /// for loops that ask about one action for many principals.
    pub fn may_id(&self, i: usize, action: Option<ActionId>) -> bool {
        let Some(node) = self.nodes.get(i) else {
            return false;
        };
        match action {
            Some(id) => node.allowed.contains(id),
            None => true,
        }
    }

    /// The catalog id of an action (`None` when the catalog does not know it), for
    /// [`GraphContext::may_id`].
    pub fn action(&self, action: &str) -> Option<ActionId> {
        resolve(action)
    }

    /// Whether every action is in node `i`'s allowed set.
    pub fn may_all(&self, i: usize, actions: &[&str]) -> bool {
        actions.iter().all(|a| self.may(i, a))
    }

    /// Evaluates with the engine whether node `i` may call `action` on `resource` (in
    /// `resource_account`, or the ARN's account), with its own request context plus `extra`
    /// keys, and `resource_policy` as the resource-based policy (for `sts:AssumeRole`, the
    /// target role's trust policy). Cross-account, the RCPs of the resource's account apply.
    pub fn can_with(
        &self,
        i: usize,
        action: &str,
        resource: &str,
        resource_account: Option<&str>,
        resource_policy: Option<&CPolicy>,
        extra: &[(&str, &str)],
    ) -> bool {
        self.evaluate(
            i,
            action,
            resource,
            resource_account,
            resource_policy,
            extra,
        )
        .is_some()
    }

    /// Like [`GraphContext::can_with`], but on `Allow` returns the policies whose Allow
    /// statements matched (source labels such as `inline:NAME` or a managed policy's ARN, with
    /// the `Sid` when there is one; `trust policy` for the resource policy).
    pub fn evaluate(
        &self,
        i: usize,
        action: &str,
        resource: &str,
        resource_account: Option<&str>,
        resource_policy: Option<&CPolicy>,
        extra: &[(&str, &str)],
    ) -> Option<Vec<String>> {
        let node = self.nodes.get(i)?;
        let mut set = node.set.lock().ok()?;
        self.evaluate_in(
            node,
            &mut set,
            action,
            resource,
            resource_account,
            resource_policy,
            extra,
        )
    }

    /// [`GraphContext::evaluate`] with the node's policy set already locked.
    #[expect(
        clippy::too_many_arguments,
        reason = "the request's parts, spelled out"
    )]
    fn evaluate_in(
        &self,
        node: &Node<'_>,
        set: &mut PolicySet,
        action: &str,
        resource: &str,
        resource_account: Option<&str>,
        resource_policy: Option<&CPolicy>,
        extra: &[(&str, &str)],
    ) -> Option<Vec<String>> {
        let mut context = node.context.clone();
        for (k, v) in extra {
            context.insert(k, vec![(*v).to_owned()], false);
        }
        let req = Request::new(
            node.principal.arn(),
            action,
            resource,
            resource_account,
            context,
        )
        .ok()?;
        let own_account = node.principal.account_id();
        let other_rcps = req
            .resource_account
            .as_deref()
            .filter(|a| *a != own_account)
            .map(|a| self.rcps.get(a).cloned().flatten());
        let saved_rcps = other_rcps.map(|r| std::mem::replace(&mut set.rcps, r));
        set.resource = resource_policy.cloned();
        let mut evaluation = set.evaluate(&req);
        // Detection answers the other way round from enforcement: a Deny the engine cannot
        // evaluate (an unknown operator in an SCP, say) must not hide a path. When only such
        // Denies stand in the way, the step counts, and its labels say which statements would
        // have to hold to stop it.
        let mut unless = Vec::new();
        if evaluation.decision == Decision::ExplicitDeny
            && evaluation
                .statements
                .iter()
                .any(|m| m.unevaluable.is_some())
        {
            let exposure = set.evaluate_with(&req, Unevaluable::DenyDoesNotMatch);
            if exposure.decision == Decision::Allow {
                unless = exposure.set_aside.iter().map(unless_label).collect();
                evaluation = exposure;
            }
        }
        let labels = (evaluation.decision == Decision::Allow).then(|| {
            let mut labels: Vec<String> = evaluation
                .statements
                .iter()
                .filter(|m| m.effect == Effect::Allow)
                .filter_map(|m| {
                    let place = match m.layer {
                        Layer::Identity => node
                            .labels
                            .get(m.policy)
                            .cloned()
                            .unwrap_or_else(|| "the added policy".to_owned()),
                        Layer::Resource => "trust policy".to_owned(),
                        _ => return None,
                    };
                    Some(match m.sid {
                        Some(sid) => format!("{place} (Sid {sid})"),
                        None => place,
                    })
                })
                .collect();
            labels.dedup();
            labels.extend(unless);
            labels
        });
        drop(evaluation);
        set.resource = None;
        if let Some(r) = saved_rcps {
            set.rcps = r;
        }
        labels
    }

    /// [`GraphContext::can_with`] without a resource policy, after the cheap
    /// [`GraphContext::may`] pre-check.
    pub fn can(&self, i: usize, action: &str, resource: &str, extra: &[(&str, &str)]) -> bool {
        self.may(i, action) && self.can_with(i, action, resource, None, None, extra)
    }

    /// The first resource of the shape `template` in `account` (`{region}`, `{account}` and
    /// `{name}` filled in, as [`Need`] says) on which node `i` may call `action`, with the
    /// policies that allow it.
    pub fn allowed_on(
        &self,
        i: usize,
        action: &str,
        template: &str,
        account: &str,
        need: Need,
        extra: &[(&str, &str)],
    ) -> Option<(String, Vec<String>)> {
        if !self.may(i, action) {
            return None;
        }
        let candidates = match need {
            Need::Every => vec![fill(template, account, &self.options.region, "*")],
            Need::Chosen => self.chosen_resources(i, action, template, account),
        };
        candidates.into_iter().find_map(|r| {
            self.evaluate(i, action, &r, Some(account), None, extra)
                .map(|labels| (r, labels))
        })
    }

    /// Concrete ARNs of shape `template` the principal could name for `action`: the neutral
    /// probe name and its own Allow patterns for the action, instantiated.
    fn chosen_resources(
        &self,
        i: usize,
        action: &str,
        template: &str,
        account: &str,
    ) -> Vec<String> {
        let region = &self.options.region;
        let shape = fill(template, account, region, "*");
        let mut out = vec![fill(template, account, region, PROBE_NAME)];
        let Some(node) = self.nodes.get(i) else {
            return out;
        };
        let action_lc = action.to_ascii_lowercase();
        for policy in &node.identity {
            for s in &policy.statements {
                if s.effect != Effect::Allow || s.action.negated {
                    continue;
                }
                let names_action =
                    s.action.values.iter().any(|a| {
                        latch_policy::glob::matches_str(&a.to_ascii_lowercase(), &action_lc)
                    });
                let Some(resources) = s.resource.as_ref().filter(|r| names_action && !r.negated)
                else {
                    continue;
                };
                for r in &resources.values {
                    if let Some(arn) = instantiate(r) {
                        if latch_policy::glob::matches_str(&shape, &arn) && !out.contains(&arn) {
                            out.push(arn);
                        }
                    }
                }
            }
        }
        out
    }

    /// The compiled trust policy of node `i` (roles).
    pub fn trust(&self, i: usize) -> Option<&CPolicy> {
        self.nodes.get(i).and_then(|n| n.trust.as_ref())
    }

    /// Whether the role of node `role` trusts the service principal `service` (its trust
    /// policy allows `sts:AssumeRole` by it).
    pub fn trusts_service(&self, role: usize, service: &str) -> bool {
        let Some(node) = self.nodes.get(role) else {
            return false;
        };
        let Some(trust) = &node.trust else {
            return false;
        };
        if !node
            .principal
            .trust_policy()
            .is_some_and(|doc| may_let_in_service(&doc.policy, service))
        {
            return false;
        }
        let Ok(req) = Request::new(
            service,
            "sts:AssumeRole",
            node.principal.arn(),
            Some(node.principal.account_id()),
            Context::default(),
        ) else {
            return false;
        };
        // The trust policy as the resource policy of an otherwise empty set.
        let set = PolicySet {
            resource: Some(trust.clone()),
            ..PolicySet::default()
        };
        set.evaluate(&req).decision == Decision::Allow
    }

    /// Whether node `src` may assume the role of node `role`: its identity side (policies,
    /// boundary, SCPs) and the role's trust policy, same- or cross-account, as the engine
    /// decides.
    pub fn can_assume(&self, src: usize, role: usize) -> bool {
        let Some(target) = self.nodes.get(role) else {
            return false;
        };
        let Some(trust) = self.trust(role) else {
            return false;
        };
        self.can_with(
            src,
            "sts:AssumeRole",
            target.principal.arn(),
            Some(target.principal.account_id()),
            Some(trust),
            &[],
        )
    }

    /// The principals that may assume the role of node `role` (every other node its trust
    /// policy may let in, [`candidate_sources`](super::assume_role::candidate_sources), that
    /// passes [`GraphContext::can_assume`]), each with the policies that allow it (as
    /// [`GraphContext::evaluate`] names them), in the order of the candidates. Computed for
    /// every role on the first call, over the available cores.
    pub fn assumers(&self, role: usize) -> &[Assumer] {
        let all = self.assumers.get_or_init(|| {
            let roles: Vec<usize> = (0..self.nodes.len()).collect();
            crate::parallel::in_parallel(&roles, |part| {
                part.iter().map(|&role| self.find_assumers(role)).collect()
            })
        });
        all.get(role).map_or(&[], Vec::as_slice)
    }

    fn find_assumers(&self, role: usize) -> Vec<Assumer> {
        let (Some(target), Some(trust)) = (self.nodes.get(role), self.trust(role)) else {
            return Vec::new();
        };
        let Some(doc) = target.principal.trust_policy() else {
            return Vec::new();
        };
        super::assume_role::candidate_sources(self, &doc.policy)
            .into_iter()
            .filter(|&src| src != role)
            .filter_map(|src| {
                self.evaluate(
                    src,
                    "sts:AssumeRole",
                    target.principal.arn(),
                    Some(target.principal.account_id()),
                    Some(trust),
                    &[],
                )
                .map(|labels| (src, labels))
            })
            .collect()
    }

    /// Role nodes that trust `service`, in snapshot order. Each service is looked up once;
    /// the rules that ask about the same one (several run code on EC2 or Lambda) share it.
    pub fn roles_trusting(&self, service: &str) -> Vec<usize> {
        let cell = match self.trusting.lock() {
            Ok(mut cells) => Arc::clone(cells.entry(service.to_owned()).or_default()),
            Err(_) => Arc::default(),
        };
        cell.get_or_init(|| {
            (0..self.nodes.len())
                .filter(|&i| self.trusts_service(i, service))
                .collect()
        })
        .clone()
    }

    /// Node indices of one account.
    pub fn in_account(&self, account: &str) -> &[usize] {
        self.by_account.get(account).map_or(&[], Vec::as_slice)
    }

    fn is_admin(&self, i: usize) -> bool {
        let account = self.account(i);
        ADMIN_PROBES.iter().all(|(action, template)| {
            let resource = fill(template, account, &self.options.region, "*");
            self.can(i, action, &resource, &[])
        })
    }

    /// Whether node `i` would be admin-equivalent if the managed policy `policy_arn` had
    /// `document` as its default version: every place the policy applies to the principal —
    /// attached to it, attached to one of its groups, its permissions boundary — holds the new
    /// document instead of today's, and the admin probes are asked again (as
    /// [`GraphContext::admin_with`] does). False when the document does not compile.
    pub fn admin_with_document(&self, i: usize, policy_arn: &str, document: &Policy) -> bool {
        let Some(node) = self.nodes.get(i) else {
            return false;
        };
        let Ok(identity) = CPolicy::compile(document, Layer::Identity) else {
            return false;
        };
        let as_boundary = node
            .principal
            .permissions_boundary()
            .is_some_and(|b| b.arn == policy_arn);
        let boundary = if as_boundary {
            match CPolicy::compile(document, Layer::PermissionBoundary) {
                Ok(b) => Some(b),
                Err(_) => return false,
            }
        } else {
            None
        };
        // The policy set's identity policies are the principal's `identity_policies()`, in
        // that order (see `Cache::policy_set`).
        let places: Vec<usize> =
            node.principal
                .identity_policies()
                .iter()
                .enumerate()
                .filter(|(_, p)| match p.source {
                    PolicySource::Managed { policy }
                    | PolicySource::GroupManaged { policy, .. } => policy.arn == policy_arn,
                    PolicySource::Inline { .. } | PolicySource::GroupInline { .. } => false,
                })
                .map(|(k, _)| k)
                .collect();
        // Locked for the whole hypothetical state, as in `admin_with`.
        let Ok(mut set) = node.set.lock() else {
            return false;
        };
        let mut saved = Vec::with_capacity(places.len());
        for &k in &places {
            if let Some(slot) = set.identity.get_mut(k) {
                saved.push((k, std::mem::replace(slot, identity.clone())));
            }
        }
        let saved_boundary = boundary.map(|b| set.boundary.replace(b));
        let account = self.account(i);
        let result = ADMIN_PROBES.iter().all(|(action, template)| {
            let resource = fill(template, account, &self.options.region, "*");
            self.evaluate_in(node, &mut set, action, &resource, None, None, &[])
                .is_some()
        });
        for (k, original) in saved {
            if let Some(slot) = set.identity.get_mut(k) {
                *slot = original;
            }
        }
        if let Some(original) = saved_boundary {
            set.boundary = original;
        }
        result
    }

    /// Whether node `i` would be admin-equivalent with `extra` identity policies added (for
    /// example an `Allow *` put on it by someone else): its boundary and SCPs still apply.
    pub fn admin_with(&self, i: usize, extra: &[CPolicy]) -> bool {
        let Some(node) = self.nodes.get(i) else {
            return false;
        };
        // The set stays locked while it holds the extra policies, so that no other rule
        // (running in another thread) evaluates the principal in this hypothetical state.
        let Ok(mut set) = node.set.lock() else {
            return false;
        };
        let n = set.identity.len();
        set.identity.extend(extra.iter().cloned());
        let account = self.account(i);
        let result = ADMIN_PROBES.iter().all(|(action, template)| {
            let resource = fill(template, account, &self.options.region, "*");
            self.evaluate_in(node, &mut set, action, &resource, None, None, &[])
                .is_some()
        });
        set.identity.truncate(n);
        result
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// What the engine answers for `service` assuming a role with this trust policy.
    fn engine_allows(trust: &Policy, service: &str) -> bool {
        let set = PolicySet {
            resource: Some(CPolicy::compile(trust, Layer::Resource).unwrap()),
            ..PolicySet::default()
        };
        let req = Request::new(
            service,
            "sts:AssumeRole",
            "arn:aws:iam::111122223333:role/r",
            Some("111122223333"),
            Context::default(),
        )
        .unwrap();
        set.evaluate(&req).decision == Decision::Allow
    }

    #[test]
    fn the_service_pre_check_never_hides_a_trust_the_engine_grants() {
        let statement = |body: &str| {
            Policy::from_json_str(&format!(
                r#"{{"Version":"2012-10-17","Statement":[{{{body},"Action":"sts:AssumeRole"}}]}}"#
            ))
            .unwrap()
        };
        let service = "lambda.amazonaws.com";
        let cases = [
            (
                r#""Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"}"#,
                true,
            ),
            (
                r#""Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]}"#,
                true,
            ),
            (
                r#""Effect":"Allow","Principal":{"Service":"LAMBDA.amazonaws.com"}"#,
                true,
            ),
            (r#""Effect":"Allow","Principal":"*""#, true),
            (r#""Effect":"Allow","Principal":{"AWS":"*"}"#, true),
            (
                r#""Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}"#,
                false,
            ),
            (
                r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"}"#,
                false,
            ),
            (
                r#""Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/x"}"#,
                false,
            ),
            (
                r#""Effect":"Deny","Principal":{"Service":"lambda.amazonaws.com"}"#,
                false,
            ),
            (
                r#""Effect":"Allow","NotPrincipal":{"Service":"ec2.amazonaws.com"}"#,
                false,
            ),
        ];
        for (body, pre) in cases {
            let trust = statement(body);
            assert_eq!(may_let_in_service(&trust, service), pre, "{body}");
            // Whatever the engine grants passes the pre-check.
            assert!(!engine_allows(&trust, service) || pre, "{body}");
        }
        assert!(engine_allows(&statement(cases[0].0), service));
    }
}
