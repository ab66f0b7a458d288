//! Requests: who calls, what, on which resource, with which context.

use crate::arn;
use crate::context::Context;

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An IAM user, `arn:aws:iam::ACCT:user/path/name`.
    User {
        /// Account id.
        account: String,
        /// User name (last path segment).
        name: String,
    },
    /// A role session, `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`, or a role ARN given
    /// directly (then the session name is unknown).
    RoleSession {
        /// Account id.
        account: String,
        /// Role name.
        role: String,
        /// The role's ARN as known (with path when given as a role ARN).
        role_arn: String,
        /// Session name, when known.
        session: Option<String>,
    },
    /// A federated user session, `arn:aws:sts::ACCT:federated-user/NAME`.
    FederatedUser {
        /// Account id.
        account: String,
        /// Federated user name.
        name: String,
    },
    /// The account root user, `arn:aws:iam::ACCT:root`.
    Root {
        /// Account id.
        account: String,
    },
    /// A service principal such as `lambda.amazonaws.com`.
    Service(String),
    /// An unauthenticated caller.
    Anonymous,
    /// Any other principal (an identity provider, a canonical user id).
    Other(String),
}

/// An error in a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct RequestError {
    /// The request field.
    pub field: String,
    /// Why it is invalid.
    pub reason: String,
}

fn req_err(field: &str, reason: impl Into<String>) -> RequestError {
    RequestError {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

impl Caller {
    /// Parses a principal as given in a request.
    pub fn parse(principal: &str) -> Result<Caller, RequestError> {
        if principal == "anonymous" || principal == "*" {
            return Ok(Caller::Anonymous);
        }
        if let Some(parts) = arn::split(principal) {
            let [_, _, service, _, account, resource] = parts;
            let account = account.to_owned();
            let bad = || {
                req_err(
                    "request.principal",
                    format!("`{principal}` is not a user, role, assumed-role, federated-user or root ARN"),
                )
            };
            if account.is_empty() {
                return Err(bad());
            }
            return match (service, resource.split_once('/')) {
                ("iam", None) if resource == "root" => Ok(Caller::Root { account }),
                ("iam", Some(("user", rest))) => Ok(Caller::User {
                    account,
                    name: rest.rsplit('/').next().unwrap_or(rest).to_owned(),
                }),
                ("iam", Some(("role", rest))) => Ok(Caller::RoleSession {
                    account,
                    role: rest.rsplit('/').next().unwrap_or(rest).to_owned(),
                    role_arn: principal.to_owned(),
                    session: None,
                }),
                ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
                    Some((role, session)) if !role.is_empty() && !session.is_empty() => {
                        let partition = parts[1];
                        Ok(Caller::RoleSession {
                            role_arn: format!("arn:{partition}:iam::{account}:role/{role}"),
                            account,
                            role: role.to_owned(),
                            session: Some(session.to_owned()),
                        })
                    }
                    _ => Err(bad()),
                },
                ("sts", Some(("federated-user", name))) if !name.is_empty() => {
                    Ok(Caller::FederatedUser {
                        account,
                        name: name.to_owned(),
                    })
                }
                _ => Err(bad()),
            };
        }
        if principal.ends_with(".amazonaws.com") || principal.ends_with(".amazonaws.com.cn") {
            return Ok(Caller::Service(principal.to_owned()));
        }
        if principal.is_empty() {
            return Err(req_err("request.principal", "must not be empty"));
        }
        Ok(Caller::Other(principal.to_owned()))
    }

    /// The caller's account, if it has one.
    pub fn account(&self) -> Option<&str> {
        match self {
            Caller::User { account, .. }
            | Caller::RoleSession { account, .. }
            | Caller::FederatedUser { account, .. }
            | Caller::Root { account } => Some(account),
            _ => None,
        }
    }
}

/// A request, prepared once and evaluated any number of times.
#[derive(Debug, Clone)]
pub struct Request {
    /// The principal as given.
    pub principal: String,
    /// The parsed caller.
    pub caller: Caller,
    /// The action as given, e.g. `s3:GetObject`.
    pub action: String,
    /// Lower-cased service prefix.
    pub service: String,
    /// Lower-cased action name (after the colon).
    pub action_name: String,
    /// Lower-cased `service:action`.
    pub action_lc: String,
    /// The resource ARN (or `*`).
    pub resource: String,
    /// The account owning the resource (the caller's for resources AWS owns, account `aws`).
    pub resource_account: Option<String>,
    /// Condition keys, including the derived ones.
    pub context: Context,
    /// Whether the caller is a service-linked role (path `/aws-service-role/`).
    pub service_linked: bool,
}

impl Request {
    /// Builds a request and derives the context keys AWS fills in from the principal
    /// ("AWS global condition context keys"): `aws:PrincipalArn`, `aws:PrincipalAccount`,
    /// `aws:PrincipalType`, `aws:username` (IAM users), `aws:userid` (root, federated users,
    /// anonymous), `aws:PrincipalIsAWSService`, `aws:PrincipalServiceName`,
    /// `aws:ResourceAccount`. Keys the caller supplied win.
    pub fn new(
        principal: &str,
        action: &str,
        resource: &str,
        resource_account: Option<&str>,
        mut context: Context,
    ) -> Result<Request, RequestError> {
        let caller = Caller::parse(principal)?;
        let (service, name) = action.split_once(':').ok_or_else(|| {
            req_err(
                "request.action",
                format!("`{action}` is not of the form `service:Action`"),
            )
        })?;
        if service.is_empty() || name.is_empty() || action.contains(['*', '?']) {
            return Err(req_err(
                "request.action",
                format!("`{action}` must name one action, like `s3:GetObject`"),
            ));
        }
        if resource.is_empty() {
            return Err(req_err(
                "request.resource",
                "must not be empty (use `*` for actions without a resource)",
            ));
        }
        // `aws` in the account part names resources AWS owns and shares with every account
        // (AWS managed policies, `arn:aws:iam::aws:policy/...`): no resource-based policy
        // guards them, so they count as the caller's own ("AWS managed policies": attach and
        // read them like your own).
        let resource_account = resource_account
            .map(str::to_owned)
            .or_else(|| {
                arn::account(resource)
                    .filter(|a| *a != "aws")
                    .map(str::to_owned)
            })
            .or_else(|| caller.account().map(str::to_owned));
        caller.insert_keys(principal, &mut context);
        if let Some(acct) = &resource_account {
            context.insert_default_with("aws:ResourceAccount", || acct.clone());
        }
        let service_linked = context
            .single("aws:principalarn")
            .is_some_and(|arn| arn.contains(":role/aws-service-role/"));
        Ok(Request {
            principal: principal.to_owned(),
            caller,
            service: service.to_ascii_lowercase(),
            action_name: name.to_ascii_lowercase(),
            action: action.to_owned(),
            action_lc: action.to_ascii_lowercase(),
            resource: resource.to_owned(),
            resource_account,
            context,
            service_linked,
        })
    }

    /// Adds to `context`, as defaults (keys already there win), the keys [`Request::new`]
    /// derives from the principal alone: `aws:PrincipalArn`, `aws:PrincipalAccount`,
    /// `aws:PrincipalType`, `aws:username`, `aws:userid`, `aws:PrincipalIsAWSService`,
    /// `aws:PrincipalServiceName`. A context prepared so once (and
    /// [shared](Context::share)) serves every request of that principal with the same keys,
    /// without deriving them again for each.
    pub fn add_principal_keys(principal: &str, context: &mut Context) -> Result<(), RequestError> {
        Caller::parse(principal)?.insert_keys(principal, context);
        Ok(())
    }

    /// Whether principal and resource are in different accounts.
    pub fn is_cross_account(&self) -> bool {
        match (self.caller.account(), &self.resource_account) {
            (Some(p), Some(r)) => p != r,
            _ => false,
        }
    }
}

impl Caller {
    /// The keys derived from the caller (see [`Request::add_principal_keys`]).
    fn insert_keys(&self, principal: &str, context: &mut Context) {
        let partition = arn::split(principal).map_or("aws", |p| p[1]);
        match self {
            Caller::User { account, name } => {
                context.insert_default_with("aws:PrincipalArn", || principal.to_owned());
                context.insert_default_with("aws:PrincipalAccount", || account.clone());
                context.insert_default_with("aws:PrincipalType", || "User".into());
                context.insert_default_with("aws:username", || name.clone());
            }
            Caller::RoleSession {
                account, role_arn, ..
            } => {
                context.insert_default_with("aws:PrincipalArn", || role_arn.clone());
                context.insert_default_with("aws:PrincipalAccount", || account.clone());
                context.insert_default_with("aws:PrincipalType", || "AssumedRole".into());
            }
            Caller::FederatedUser { account, name } => {
                context.insert_default_with("aws:PrincipalArn", || principal.to_owned());
                context.insert_default_with("aws:PrincipalAccount", || account.clone());
                context.insert_default_with("aws:PrincipalType", || "FederatedUser".into());
                context.insert_default_with("aws:userid", || format!("{account}:{name}"));
            }
            Caller::Root { account } => {
                context.insert_default_with("aws:PrincipalArn", || {
                    format!("arn:{partition}:iam::{account}:root")
                });
                context.insert_default_with("aws:PrincipalAccount", || account.clone());
                context.insert_default_with("aws:PrincipalType", || "Account".into());
                context.insert_default_with("aws:userid", || account.clone());
            }
            Caller::Anonymous => {
                context.insert_default_with("aws:PrincipalType", || "Anonymous".into());
                context.insert_default_with("aws:userid", || "anonymous".into());
            }
            Caller::Service(name) => {
                context.insert_default_with("aws:PrincipalServiceName", || name.clone());
            }
            Caller::Other(_) => {}
        }
        context.insert_default_with("aws:PrincipalIsAWSService", || {
            matches!(self, Caller::Service(_)).to_string()
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_context_prepared_with_the_principal_keys_gives_the_same_requests() {
        for principal in [
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:role/Deploy",
            "arn:aws:sts::111122223333:assumed-role/Admin/alice",
            "arn:aws:sts::111122223333:federated-user/bob",
            "arn:aws:iam::111122223333:root",
            "lambda.amazonaws.com",
            "anonymous",
        ] {
            let mut base = Context::default();
            base.insert("aws:PrincipalTag/team", vec!["red".into()], false);
            let mut prepared = base.clone();
            Request::add_principal_keys(principal, &mut prepared).unwrap();
            prepared.share();
            for (resource, account) in [
                ("arn:aws:s3:::b/k", None),
                ("arn:aws:iam::444455556666:role/Other", None),
                ("arn:aws:iam::111122223333:role/Other", Some("777788889999")),
            ] {
                let plain =
                    Request::new(principal, "sts:AssumeRole", resource, account, base.clone())
                        .unwrap();
                let fast = Request::new(
                    principal,
                    "sts:AssumeRole",
                    resource,
                    account,
                    prepared.clone(),
                )
                .unwrap();
                assert_eq!(fast.context, plain.context, "{principal} on {resource}");
                assert_eq!(fast.service_linked, plain.service_linked);
                assert_eq!(fast.resource_account, plain.resource_account);
            }
        }
    }

    #[test]
    fn derives_principal_keys() {
        let r = Request::new(
            "arn:aws:sts::111122223333:assumed-role/Admin/alice",
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            None,
            Context::default(),
        )
        .unwrap();
        assert_eq!(
            r.context.single("aws:principalarn"),
            Some("arn:aws:iam::111122223333:role/Admin")
        );
        assert_eq!(r.context.single("aws:principaltype"), Some("AssumedRole"));
        assert_eq!(r.resource_account.as_deref(), Some("111122223333"));
        assert_eq!(r.service, "s3");
        assert_eq!(r.action_name, "getobject");
        let u = Request::new(
            "arn:aws:iam::111122223333:user/dev/bob",
            "iam:GetUser",
            "*",
            None,
            Context::default(),
        )
        .unwrap();
        assert_eq!(u.context.single("aws:username"), Some("bob"));
    }

    #[test]
    fn bad_requests() {
        assert!(Request::new("x", "s3GetObject", "*", None, Context::default()).is_err());
        assert!(Request::new("x", "s3:Get*", "*", None, Context::default()).is_err());
        assert!(Caller::parse("arn:aws:iam::111122223333:group/g").is_err());
    }
}
