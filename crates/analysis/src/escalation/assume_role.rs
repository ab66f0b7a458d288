//! Rule `assume-role`: `sts:AssumeRole` into a role, same- or cross-account.
//!
//! ## What it finds
//! A principal that may assume a role: the role's trust policy allows it (naming it, its
//! account, or everyone under conditions it meets) **and** the request is allowed on the
//! caller's side as the engine decides — identity policies, boundary and SCPs; across
//! accounts both sides must allow, and the RCPs of the role's account apply. Within one
//! account a trust policy that names the caller itself needs no identity permission.
//!
//! ## Why it is bad
//! Assuming a role gives the caller the role's permissions. When the role is more powerful
//! than the caller, every chain of such hops (role chaining, also across accounts) is a way
//! up; a trust policy naming a whole account delegates the decision to every principal there
//! that holds `sts:AssumeRole`.
//!
//! ## Example
//! `ProdDeployAdmin` (AdministratorAccess, in Prod) trusts `sandbox-automation` (in Sandbox),
//! whose inline policy allows `sts:AssumeRole` on it; `sandbox-automation` trusts its own
//! account, where `sandbox-bob` holds PowerUserAccess (which includes `sts:*`). Bob assumes
//! `sandbox-automation`, then `ProdDeployAdmin`: Sandbox reaches admin in Prod.
//!
//! ## How to fix
//! Trust named roles, not accounts; add conditions (`aws:PrincipalOrgID`, `sts:ExternalId`,
//! MFA); never let a lower environment's role into a higher environment's admin role; scope
//! `sts:AssumeRole` in identity policies to the roles a principal needs.
//!
//! ## References
//! - AWS IAM User Guide, "Cross account resource access in IAM" and "Policy evaluation logic:
//!   cross-account policy evaluation".
//! - AWS IAM User Guide, "Role chaining" (Roles terms and concepts).
//! - NCC Group, "PMapper" (Principal Mapper), graph of `sts:AssumeRole` edges.

use latch_policy::document::{Effect, PrincipalType};

use super::context::GraphContext;
use super::{Edge, Rule, Target, Technique};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct AssumeRole;

/// Who a trust policy may let in.
enum Candidates<'s> {
    Everyone,
    Accounts(Vec<&'s str>),
    Named(Vec<&'s str>),
}

fn account_of(value: &str) -> Option<&str> {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value);
    }
    let parts = latch_policy::arn::split(value)?;
    let [_, _, service, _, account, resource] = parts;
    (service == "iam" && resource == "root").then_some(account)
}

fn candidates(trust: &latch_policy::Policy) -> Candidates<'_> {
    let mut accounts = Vec::new();
    let mut named = Vec::new();
    for s in &trust.statements {
        let Some(principal) = s.principal.as_ref().filter(|_| s.effect == Effect::Allow) else {
            continue;
        };
        if principal.any || principal.negated {
            return Candidates::Everyone;
        }
        for (kind, values) in &principal.entries {
            if *kind != PrincipalType::Aws {
                continue;
            }
            for v in values {
                if v == "*" {
                    return Candidates::Everyone;
                }
                match account_of(v) {
                    Some(a) => accounts.push(a),
                    None => named.push(v.as_str()),
                }
            }
        }
    }
    if accounts.is_empty() {
        Candidates::Named(named)
    } else {
        accounts.extend(named.iter().filter_map(|n| latch_policy::arn::account(n)));
        Candidates::Accounts(accounts)
    }
}

/// The principals a role's trust policy may let in and that may call `sts:AssumeRole` at all
/// (a cheap superset; the engine decides each).
pub(crate) fn candidate_sources(
    ctx: &GraphContext<'_>,
    trust: &latch_policy::Policy,
) -> Vec<usize> {
    let assume = ctx.action("sts:AssumeRole");
    match candidates(trust) {
        Candidates::Everyone => (0..ctx.nodes.len())
            .filter(|&s| ctx.may_id(s, assume))
            .collect(),
        Candidates::Accounts(accounts) => {
            let mut v: Vec<usize> = accounts
                .iter()
                .flat_map(|a| ctx.in_account(a).iter().copied())
                .filter(|&s| ctx.may_id(s, assume))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        }
        Candidates::Named(arns) => arns.iter().filter_map(|a| ctx.node(a)).collect(),
    }
}

impl Rule for AssumeRole {
    fn id(&self) -> Technique {
        Technique::AssumeRole
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        let mut out = Vec::new();
        for role in 0..ctx.nodes.len() {
            let role_arn = ctx.arn(role);
            let role_account = ctx.account(role);
            for (src, labels) in ctx.assumers(role) {
                let src = *src;
                if !ctx.is_source(src) {
                    continue;
                }
                let src_account = ctx.account(src);
                let scope = if src_account == role_account {
                    String::new()
                } else {
                    format!(" (cross-account, from {src_account} into {role_account})")
                };
                out.push(Edge {
                    from: ctx.arn(src).to_owned(),
                    to: Target::Principal(role_arn.to_owned()),
                    technique: Technique::AssumeRole,
                    actions: vec!["sts:AssumeRole".to_owned()],
                    detail: format!(
                        "`{}` may assume `{role_arn}`{scope}: its trust policy lets it in; \
                         allowed by: {}",
                        ctx.arn(src),
                        labels.join(", ")
                    ),
                });
            }
        }
        out
    }
}
