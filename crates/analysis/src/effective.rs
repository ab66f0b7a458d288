//! Effective permissions of one principal through its whole policy stack, over every action
//! of the catalog at once.
//!
//! Compiled, not interpreted: each statement's `Action`/`NotAction` is expanded once into an
//! [`ActionSet`]; the layers then combine with set algebra following the engine's rules (see
//! `latch_policy::eval`): identity Allows, intersected with the permissions boundary and with
//! every SCP level, minus what is denied everywhere.
//!
//! Two answers are kept apart:
//! - `allowed`: the principal can perform the action on *some* resource under *some* request
//!   context (an over-approximation that is sound: whenever the engine allows a request, its
//!   action is here — checked by a property test against the engine);
//! - `unconditional`: allowed on every resource (`"Resource": "*"`) with no condition in any
//!   layer, and no Deny of any kind that could apply — the engine allows such a request with
//!   any context (also checked against the engine).
//!
//! Resource-based policies are not part of a principal's own permissions: grants that come
//! only from a bucket or key policy are analysed where those policies are.

use latch_policy::document::{Effect, Statement};
use latch_policy::Policy;

use crate::ActionSet;

/// The policies that shape one principal's permissions.
#[derive(Debug, Clone, Default)]
pub struct PrincipalPolicies {
    /// Identity-based policies: inline, attached managed, and (for users) their groups'.
    pub identity: Vec<Policy>,
    /// The permissions boundary, if any.
    pub boundary: Option<Policy>,
    /// SCPs per level, root first; empty when SCPs do not apply to the principal (not in an
    /// organization, the management account, a service-linked role).
    pub scps: Vec<Vec<Policy>>,
    /// Whether the principal is an account's root user (full access in its own account).
    pub is_root: bool,
}

impl PrincipalPolicies {
    /// The documents of a principal's policies: identity, boundary and the SCPs that bind it
    /// ([`latch_model::EffectivePolicies::binding_scps`]).
    pub fn of(eff: &latch_model::EffectivePolicies<'_>) -> PrincipalPolicies {
        PrincipalPolicies {
            identity: eff
                .identity
                .iter()
                .map(|s| s.document.policy.clone())
                .collect(),
            boundary: eff.boundary.map(|b| b.document.policy.clone()),
            scps: Self::scp_documents(eff.binding_scps()),
            is_root: false,
        }
    }

    /// The documents of an SCP chain, level by level, root first.
    pub fn scp_documents(levels: &[latch_model::OrgLevel<'_>]) -> Vec<Vec<Policy>> {
        levels
            .iter()
            .map(|l| {
                l.policies
                    .iter()
                    .map(|c| c.document.policy.clone())
                    .collect()
            })
            .collect()
    }
}

/// The outcome for one principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePermissions {
    /// Actions allowed on some resource under some context.
    pub allowed: ActionSet,
    /// Actions allowed on every resource with no condition anywhere.
    pub unconditional: ActionSet,
}

impl EffectivePermissions {
    /// Allowed only on some resources or only under some conditions.
    pub fn conditional(&self) -> ActionSet {
        let mut s = self.allowed.clone();
        s.subtract(&self.unconditional);
        s
    }
}

/// What one policy does, over the whole catalog. Computed once per document and shared by every
/// principal the document applies to.
#[derive(Debug, Clone)]
pub struct PolicyActions {
    allow_any: ActionSet,
    allow_unconditional: ActionSet,
    deny_always: ActionSet,
    deny_maybe: ActionSet,
}

fn on_every_resource(s: &Statement) -> bool {
    s.resource
        .as_ref()
        .is_some_and(|r| !r.negated && r.values.iter().any(|v| v == "*"))
}

impl PolicyActions {
    /// Expands a policy's statements over the catalog.
    pub fn of(policy: &Policy) -> PolicyActions {
        let mut out = PolicyActions {
            allow_any: ActionSet::empty(),
            allow_unconditional: ActionSet::empty(),
            deny_always: ActionSet::empty(),
            deny_maybe: ActionSet::empty(),
        };
        for s in &policy.statements {
            let actions = ActionSet::from_patterns(
                s.action.values.iter().map(String::as_str),
                s.action.negated,
            );
            let certain = s.conditions.is_empty() && on_every_resource(s) && s.principal.is_none();
            match (s.effect, certain) {
                (Effect::Allow, true) => {
                    out.allow_any.union_with(&actions);
                    out.allow_unconditional.union_with(&actions);
                }
                (Effect::Allow, false) => out.allow_any.union_with(&actions),
                (Effect::Deny, true) => out.deny_always.union_with(&actions),
                (Effect::Deny, false) => out.deny_maybe.union_with(&actions),
            }
        }
        out
    }

    /// What the policies of one layer do together (the union of each part).
    pub(crate) fn union(policies: &[&PolicyActions]) -> PolicyActions {
        let mut out = PolicyActions {
            allow_any: ActionSet::empty(),
            allow_unconditional: ActionSet::empty(),
            deny_always: ActionSet::empty(),
            deny_maybe: ActionSet::empty(),
        };
        for p in policies {
            out.allow_any.union_with(&p.allow_any);
            out.allow_unconditional.union_with(&p.allow_unconditional);
            out.deny_always.union_with(&p.deny_always);
            out.deny_maybe.union_with(&p.deny_maybe);
        }
        out
    }
}

/// Combines per-policy results: identity policies, boundary, SCP levels (root first; empty
/// when SCPs do not apply).
pub fn combine(
    identity: &[&PolicyActions],
    boundary: Option<&PolicyActions>,
    scps: &[Vec<&PolicyActions>],
    is_root: bool,
) -> EffectivePermissions {
    let identity = PolicyActions::union(identity);
    let (mut allowed, mut unconditional) = if is_root {
        (ActionSet::all(), ActionSet::all())
    } else {
        (
            identity.allow_any.clone(),
            identity.allow_unconditional.clone(),
        )
    };
    let mut deny_always = identity.deny_always;
    let mut deny_maybe = identity.deny_maybe;
    let mut restrict = |l: &PolicyActions| {
        allowed.intersect_with(&l.allow_any);
        unconditional.intersect_with(&l.allow_unconditional);
        deny_always.union_with(&l.deny_always);
        deny_maybe.union_with(&l.deny_maybe);
    };
    if let Some(b) = boundary {
        restrict(b);
    }
    for level in scps {
        match level.as_slice() {
            [one] => restrict(one),
            _ => restrict(&PolicyActions::union(level)),
        }
    }
    allowed.subtract(&deny_always);
    unconditional.subtract(&deny_always);
    unconditional.subtract(&deny_maybe);
    EffectivePermissions {
        allowed,
        unconditional,
    }
}

/// Computes a principal's effective permissions over the whole catalog.
pub fn effective_permissions(p: &PrincipalPolicies) -> EffectivePermissions {
    let identity: Vec<PolicyActions> = p.identity.iter().map(PolicyActions::of).collect();
    let boundary = p.boundary.as_ref().map(PolicyActions::of);
    let scps: Vec<Vec<PolicyActions>> = p
        .scps
        .iter()
        .map(|l| l.iter().map(PolicyActions::of).collect())
        .collect();
    let scp_refs: Vec<Vec<&PolicyActions>> = scps.iter().map(|l| l.iter().collect()).collect();
    combine(
        &identity.iter().collect::<Vec<_>>(),
        boundary.as_ref(),
        &scp_refs,
        p.is_root,
    )
}
