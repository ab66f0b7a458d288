//! The few fields of a CloudTrail record that usage needs, borrowed from the file's bytes,
//! and who the caller was.
//!
//! Strings are [`Str`]: borrowed from the input unless the JSON string holds an escape.
//! Every other field of the record (request parameters, response elements, TLS details) is
//! skipped by the scanner (`scan`) without being decoded.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// A JSON string borrowed from the input when it has no escapes, owned otherwise.
///
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Str<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Default for Str<'_> {
    fn default() -> Self {
        Self(Cow::Borrowed(""))
    }
}

impl std::fmt::Display for Str<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One CloudTrail record, reduced to what usage needs.
#[derive(Debug, Default)]
pub struct RawRecord<'a> {
    /// `eventTime`, `YYYY-MM-DDTHH:MM:SSZ`.
    pub event_time: Str<'a>,
    /// `eventSource`, e.g. `s3.amazonaws.com`.
    pub event_source: Str<'a>,
    /// `eventName`, the API operation.
    pub event_name: Str<'a>,
    /// `awsRegion`.
    pub aws_region: Option<Str<'a>>,
    /// `errorCode`, present when the call failed.
    pub error_code: Option<Str<'a>>,
    /// `userIdentity`: who made the call.
    pub user_identity: Option<RawIdentity<'a>>,
    /// `recipientAccountId`: the account that received the call.
    pub recipient_account_id: Option<Str<'a>>,
    /// `sourceIPAddress` (an IP address, or a service name for calls made by a service).
    pub source_ip_address: Option<Str<'a>>,
    /// `requestParameters`, raw and undecoded (read only for calls that pass a role).
    pub request_parameters: Option<&'a [u8]>,
}

/// The `userIdentity` element.
#[derive(Debug, Default)]
pub struct RawIdentity<'a> {
    /// `type`: `IAMUser`, `AssumedRole`, `Root`, `FederatedUser`, `AWSService`, …
    pub kind: Option<Str<'a>>,
    /// `arn` of the caller (for a role session, the `sts` assumed-role ARN).
    pub arn: Option<Str<'a>>,
    /// `accountId` of the caller.
    pub account_id: Option<Str<'a>>,
    /// `sessionContext`, for temporary credentials.
    pub session_context: Option<RawSessionContext<'a>>,
}

/// The `sessionContext` element.
#[derive(Debug, Default)]
pub struct RawSessionContext<'a> {
    /// `sessionIssuer`: the role (or user, for a federated user) that issued the session.
    pub session_issuer: Option<RawIssuer<'a>>,
}

/// The `sessionIssuer` element.
#[derive(Debug, Default)]
pub struct RawIssuer<'a> {
    /// `type`: `Role` or `IAMUser`.
    pub kind: Option<Str<'a>>,
    /// `arn` of the role or user.
    pub arn: Option<Str<'a>>,
}

/// What kind of IAM principal used a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// The account's root user.
    Root,
    /// An IAM user (also the issuer of a federated-user session).
    User,
    /// An IAM role (sessions are folded into the role).
    Role,
    /// A role created by IAM Identity Center for a permission set (`AWSReservedSSO_*`);
    /// the person is kept as the session dimension.
    IdentityCenterRole,
}

/// Who made a call, for usage.
#[derive(Debug, PartialEq, Eq)]
pub enum Actor<'r> {
    /// An IAM principal whose permissions were used.
    Principal {
        /// The principal's ARN: the role (not the session), the user, or the root user.
        arn: Cow<'r, str>,
        /// Which kind of principal.
        kind: PrincipalKind,
        /// The principal's account.
        account: Cow<'r, str>,
        /// The person behind the session, for Identity Center roles (session name) and
        /// federated users (federated user name).
        session: Option<&'r str>,
    },
    /// A call made by an AWS service itself (`userIdentity.type` `AWSService`).
    AwsService,
    /// A caller that maps to no IAM principal of the organization (SAML/web-identity users
    /// before they assume a role, Identity Center portal users, another account known only by
    /// its number, a missing identity). The string is the identity type, or `none`.
    Unattributed(&'r str),
}

/// Classifies the caller of a record.
#[must_use]
pub fn actor<'r>(id: Option<&'r RawIdentity<'_>>) -> Actor<'r> {
    let Some(id) = id else {
        return Actor::Unattributed("none");
    };
    let kind = id.kind.as_deref().unwrap_or("none");
    let account = || -> Option<Cow<'r, str>> {
        id.account_id
            .as_deref()
            .map(Cow::Borrowed)
            .or_else(|| id.arn.as_deref().and_then(arn_account).map(Cow::Borrowed))
    };
    match kind {
        "Root" => {
            let Some(acct) = account() else {
                return Actor::Unattributed(kind);
            };
            let arn = match id.arn.as_deref() {
                Some(a) => Cow::Borrowed(a),
                None => Cow::Owned(format!("arn:aws:iam::{acct}:root")),
            };
            Actor::Principal {
                arn,
                kind: PrincipalKind::Root,
                account: acct,
                session: None,
            }
        }
        "IAMUser" => match (id.arn.as_deref(), account()) {
            (Some(arn), Some(acct)) => Actor::Principal {
                arn: Cow::Borrowed(arn),
                kind: PrincipalKind::User,
                account: acct,
                session: None,
            },
            _ => Actor::Unattributed(kind),
        },
        "AssumedRole" => {
            let session_arn = id.arn.as_deref();
            let role = issuer_arn(id, "Role")
                .map(Cow::Borrowed)
                .or_else(|| session_arn.and_then(role_from_session_arn).map(Cow::Owned));
            let (Some(role), Some(acct)) = (role, account()) else {
                return Actor::Unattributed(kind);
            };
            let name = role.rsplit('/').next().unwrap_or_default();
            if name.starts_with("AWSReservedSSO_") {
                Actor::Principal {
                    session: session_arn.and_then(session_name),
                    arn: role,
                    kind: PrincipalKind::IdentityCenterRole,
                    account: acct,
                }
            } else {
                Actor::Principal {
                    arn: role,
                    kind: PrincipalKind::Role,
                    account: acct,
                    session: None,
                }
            }
        }
        "FederatedUser" => {
            let (Some(user), Some(acct)) = (issuer_arn(id, "IAMUser"), account()) else {
                return Actor::Unattributed(kind);
            };
            Actor::Principal {
                arn: Cow::Borrowed(user),
                kind: PrincipalKind::User,
                account: acct,
                session: id.arn.as_deref().and_then(|a| a.rsplit('/').next()),
            }
        }
        "AWSService" => Actor::AwsService,
        _ => Actor::Unattributed(kind),
    }
}

fn issuer_arn<'r>(id: &'r RawIdentity<'_>, want: &str) -> Option<&'r str> {
    let issuer = id.session_context.as_ref()?.session_issuer.as_ref()?;
    match issuer.kind.as_deref() {
        Some(k) if k != want => None,
        _ => issuer.arn.as_deref(),
    }
}

/// `arn:aws:sts::123456789012:assumed-role/Name/session` → `arn:aws:iam::123456789012:role/Name`.
/// The role's path is not in the session ARN; the session issuer (preferred) has it.
fn role_from_session_arn(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    let (_, partition, _, _, acct, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let rest = resource.strip_prefix("assumed-role/")?;
    let role = rest.split('/').next()?;
    Some(format!("arn:{partition}:iam::{acct}:role/{role}"))
}

fn session_name(session_arn: &str) -> Option<&str> {
    let resource = session_arn.splitn(6, ':').nth(5)?;
    let rest = resource.strip_prefix("assumed-role/")?;
    rest.split_once('/').map(|(_, s)| s)
}

fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn identity(json: &str) -> RawIdentity<'_> {
        let doc = format!(
            r#"{{"Records":[{{"eventTime":"t","eventSource":"s","eventName":"n","userIdentity":{json}}}]}}"#
        );
        let doc: &'static str = Box::leak(doc.into_boxed_str());
        let mut out = None;
        crate::scan::for_each_record(doc.as_bytes(), &mut Vec::new(), &mut None, &mut |r| {
            out = r.user_identity;
            Ok(())
        })
        .unwrap();
        out.unwrap()
    }

    #[test]
    fn role_session_is_folded_into_the_role() {
        let id = identity(
            r#"{"type":"AssumedRole","principalId":"AROAEXAMPLE:build-42","arn":"arn:aws:sts::111122223333:assumed-role/deploy/build-42","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/ci/deploy","accountId":"111122223333","userName":"deploy"}}}"#,
        );
        assert_eq!(
            actor(Some(&id)),
            Actor::Principal {
                arn: Cow::Borrowed("arn:aws:iam::111122223333:role/ci/deploy"),
                kind: PrincipalKind::Role,
                account: Cow::Borrowed("111122223333"),
                session: None
            }
        );
    }

    #[test]
    fn role_without_issuer_is_derived_from_the_session_arn() {
        let id = identity(
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/deploy/build-42","accountId":"111122223333"}"#,
        );
        let Actor::Principal { arn, .. } = actor(Some(&id)) else {
            unreachable!()
        };
        assert_eq!(arn, "arn:aws:iam::111122223333:role/deploy");
    }

    #[test]
    fn identity_center_keeps_the_person() {
        let id = identity(
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123abcd/alice@example.com","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd"}}}"#,
        );
        let Actor::Principal { kind, session, .. } = actor(Some(&id)) else {
            unreachable!()
        };
        assert_eq!(kind, PrincipalKind::IdentityCenterRole);
        assert_eq!(session, Some("alice@example.com"));
    }

    #[test]
    fn other_types() {
        let root = identity(
            r#"{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"}"#,
        );
        assert!(matches!(
            actor(Some(&root)),
            Actor::Principal {
                kind: PrincipalKind::Root,
                ..
            }
        ));
        let svc = identity(r#"{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}"#);
        assert_eq!(actor(Some(&svc)), Actor::AwsService);
        let saml = identity(r#"{"type":"SAMLUser","principalId":"x","userName":"bob"}"#);
        assert_eq!(actor(Some(&saml)), Actor::Unattributed("SAMLUser"));
        assert_eq!(actor(None), Actor::Unattributed("none"));
        let fed = identity(
            r#"{"type":"FederatedUser","arn":"arn:aws:sts::111122223333:federated-user/bob","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/broker"}}}"#,
        );
        assert_eq!(
            actor(Some(&fed)),
            Actor::Principal {
                arn: Cow::Borrowed("arn:aws:iam::111122223333:user/broker"),
                kind: PrincipalKind::User,
                account: Cow::Borrowed("111122223333"),
                session: Some("bob")
            }
        );
    }
}
