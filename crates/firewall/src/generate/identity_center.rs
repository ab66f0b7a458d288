//! Identity Center grants (`identity_center_grants` in the configuration, and the grants
//! active now): Identity Center roles cannot be tagged, so the person keeps the bundle through
//! an `aws:userid` exemption on the role (`ROLEID:person`) in the bundle's gate.

use std::collections::BTreeSet;

use super::gates::Gates;
use super::scope::Scope;
use super::{Exemption, GenerateError, IdentityCenterGrant, PlanInput};

/// Adds every grant to its bundle's gate and says so in `exemptions`; an error names a grant
/// that matches no role in scope, names a role the snapshot does not have, or a bundle that
/// does not exist.
pub(super) fn grant(
    input: &PlanInput<'_>,
    scope: &Scope,
    gates: &mut Gates,
    exemptions: &mut BTreeSet<Exemption>,
) -> Result<(), GenerateError> {
    let mut ic_grants: Vec<(String, IdentityCenterGrant)> = Vec::new();
    for (i, g) in input.config.identity_center_grants.iter().enumerate() {
        let key = format!("identity_center_grants[{i}]");
        let mut found = 0;
        for p in input.snapshot.principals() {
            let Some(role) = p.as_role() else { continue };
            let Some(ps) = role.permission_set_name() else {
                continue;
            };
            if !scope.accounts.contains(p.account_id())
                || (!g.permission_set.is_empty() && ps != g.permission_set)
                || (!g.accounts.is_empty() && !g.accounts.iter().any(|a| a == p.account_id()))
            {
                continue;
            }
            found += 1;
            ic_grants.push((
                key.clone(),
                IdentityCenterGrant {
                    bundle: g.bundle.clone(),
                    role_arn: role.arn.clone(),
                    user: g.user.clone(),
                },
            ));
        }
        if found == 0 {
            return Err(GenerateError::Config {
                key,
                reason: format!(
                    "no Identity Center role{} in the accounts in scope{}",
                    if g.permission_set.is_empty() {
                        String::new()
                    } else {
                        format!(" of permission set `{}`", g.permission_set)
                    },
                    if g.accounts.is_empty() {
                        String::new()
                    } else {
                        format!(" among {}", g.accounts.join(", "))
                    }
                ),
            });
        }
    }
    for g in input.active_grants {
        ic_grants.push(("active grant".to_owned(), g.clone()));
    }
    for (source, g) in &ic_grants {
        let Some(p) = input.snapshot.principal(&g.role_arn) else {
            return Err(GenerateError::Config {
                key: source.clone(),
                reason: format!("role `{}` is not in the snapshot", g.role_arn),
            });
        };
        let Some(gate) = gates.bundles.get_mut(&g.bundle) else {
            return Err(GenerateError::Config {
                key: source.clone(),
                reason: format!("`{}` is not a bundle", g.bundle),
            });
        };
        let userid = format!("{}:{}", p.id(), g.user);
        gate.userids.insert(userid.clone());
        exemptions.insert(Exemption {
            kind: "identity-center-grant".to_owned(),
            layer: "permission".to_owned(),
            gate: g.bundle.clone(),
            principal: g.role_arn.clone(),
            session: Some(g.user.clone()),
            mechanism: "userid".to_owned(),
            value: userid,
            actions: Vec::new(),
            reason: format!("Identity Center grant ({source}); the role cannot be tagged"),
        });
    }
    Ok(())
}
