//! [`AwsCloud`]: the control plane's [`CloudAdapter`] on AWS, through [`GrantOps`].
//!
//! `latch-aws` depends on `latch-server` (for the trait it implements), never the reverse:
//! the server stays free of the AWS SDK and is tested with its in-memory cloud, and the
//! binary wires this adapter in.
//!
//! - Roles and users: the bundle's `latch:grant:<bundle>` tag, its value naming the grant and
//!   its expiry; revocation removes it and, with a cut-off, puts the
//!   [`SESSION_CUTOFF_POLICY`](latch_contract::SESSION_CUTOFF_POLICY) inline policy.
//! - Identity Center users (`aws:userid`): the userid joins the exemption list of the
//!   bundle's statements in the applied Latch SCPs ([`crate::userid`]); a session cut-off does
//!   not apply to them (the exemption's removal ends the permission of every session at once).

use async_trait::async_trait;
use latch_grant::cloud::{CloudAdapter, CloudError, LatchTag};
use latch_grant::{Identity, IdentityKind, Millis};

use crate::apply::AccountAccess;
use crate::grants::GrantOps;
use crate::{Aws, AwsError};

/// The control plane's cloud, on AWS.
#[derive(Debug)]
pub struct AwsCloud {
    ops: GrantOps,
}

fn cloud_err(e: &AwsError) -> CloudError {
    CloudError(e.to_string())
}

impl AwsCloud {
    /// The adapter over `aws`, reaching member accounts as `access` says.
    pub fn new(aws: Aws, access: AccountAccess) -> AwsCloud {
        AwsCloud {
            ops: GrantOps::new(aws, access),
        }
    }

    /// The same adapter held to `limits` ([`GrantOps::with_limits`]).
    #[must_use]
    pub fn with_limits(self, limits: latch_catalog::Limits) -> AwsCloud {
        AwsCloud {
            ops: self.ops.with_limits(limits),
        }
    }

    /// The grant operations underneath.
    pub fn ops(&self) -> &GrantOps {
        &self.ops
    }
}

#[async_trait]
impl CloudAdapter for AwsCloud {
    async fn probe(&self) -> Result<String, CloudError> {
        let me = self
            .ops
            .aws()
            .caller_identity()
            .await
            .map_err(|e| cloud_err(&e))?;
        Ok(format!("AWS as {} (account {})", me.arn, me.account))
    }

    async fn apply_grant(
        &self,
        identity: &Identity,
        bundle: &str,
        grant_id: &str,
        expires_at: Millis,
    ) -> Result<(), CloudError> {
        match identity.kind {
            IdentityKind::Role | IdentityKind::User => self
                .ops
                .put_grant_tag(&identity.id, bundle, grant_id, expires_at)
                .await
                .map_err(|e| cloud_err(&e)),
            IdentityKind::IdentityCenter => self
                .ops
                .add_userid_exemption(bundle, &identity.id, grant_id, expires_at)
                .await
                .map_err(|e| cloud_err(&e)),
        }
    }

    async fn revoke_grant(
        &self,
        identity: &Identity,
        bundle: &str,
        _grant_id: &str,
        session_cutoff: Option<Millis>,
    ) -> Result<(), CloudError> {
        match identity.kind {
            IdentityKind::Role | IdentityKind::User => {
                // The permission first; then the sessions issued before the cut-off.
                self.ops
                    .remove_grant_tag(&identity.id, bundle)
                    .await
                    .map_err(|e| cloud_err(&e))?;
                if let Some(cutoff) = session_cutoff {
                    self.ops
                        .cut_sessions(&identity.id, cutoff)
                        .await
                        .map_err(|e| cloud_err(&e))?;
                }
                Ok(())
            }
            IdentityKind::IdentityCenter => self
                .ops
                .remove_userid_exemption(bundle, &identity.id)
                .await
                .map_err(|e| cloud_err(&e)),
        }
    }

    async fn list_latch_tags(&self, identities: &[Identity]) -> Result<Vec<LatchTag>, CloudError> {
        let (mut arns, mut userids) = (Vec::new(), Vec::new());
        for i in identities {
            match i.kind {
                IdentityKind::Role | IdentityKind::User => arns.push(i.id.clone()),
                IdentityKind::IdentityCenter => userids.push(i.id.clone()),
            }
        }
        let mut found = self
            .ops
            .list_grant_tags(&arns)
            .await
            .map_err(|e| cloud_err(&e))?;
        found.extend(
            self.ops
                .list_userid_exemptions(&userids)
                .await
                .map_err(|e| cloud_err(&e))?,
        );
        Ok(found
            .into_iter()
            .filter_map(|t| {
                let identity = identities.iter().find(|i| i.id == t.arn)?.clone();
                Some(LatchTag {
                    identity,
                    bundle: t.bundle,
                    grant_id: t.grant_id,
                    expires_at: t.expires_at,
                })
            })
            .collect())
    }
}
