//! The boundary to the cloud: what the grant workflow needs from AWS, and an in-memory fake.
//!
//! The real adapter (crate `latch-aws`) puts the bundle's `latch:grant:<bundle>` tag on the
//! IAM role or user (value: grant id and expiry) or re-applies the SCP with an `aws:userid`
//! exemption for Identity Center users. Every call must be idempotent: the scheduler may
//! repeat one after a crash.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::records::{Identity, Millis};
use async_trait::async_trait;
use serde::Serialize;

/// A cloud call failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cloud: {0}")]
pub struct CloudError(pub String);

/// A `latch:grant:*` tag found on an identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LatchTag {
    /// Who carries it.
    pub identity: Identity,
    /// The bundle named by the tag key.
    pub bundle: String,
    /// The grant id in the tag value.
    pub grant_id: String,
    /// The expiry in the tag value, when readable.
    pub expires_at: Option<Millis>,
}

/// What the grant workflow needs from the cloud.
#[async_trait]
pub trait CloudAdapter: Send + Sync + fmt::Debug {
    /// Give `identity` the bundle (tag value names `grant_id` and `expires_at`). Idempotent;
    /// replaces an existing tag for the same bundle.
    async fn apply_grant(
        &self,
        identity: &Identity,
        bundle: &str,
        grant_id: &str,
        expires_at: Millis,
    ) -> Result<(), CloudError>;

    /// Take the bundle away from `identity`. Idempotent (absent tag = success). With
    /// `session_cutoff`, also deny sessions issued before it (`aws:TokenIssueTime`).
    async fn revoke_grant(
        &self,
        identity: &Identity,
        bundle: &str,
        grant_id: &str,
        session_cutoff: Option<Millis>,
    ) -> Result<(), CloudError>;

    /// Every `latch:grant:*` tag on these identities.
    async fn list_latch_tags(&self, identities: &[Identity]) -> Result<Vec<LatchTag>, CloudError>;

    /// Whether the cloud answers, with who Latch is there (for `/readyz`): one cheap call
    /// with the credentials the grants use.
    async fn probe(&self) -> Result<String, CloudError>;
}

/// One call the fake saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum FakeCall {
    /// `apply_grant`.
    Apply {
        /// Identity id.
        identity: String,
        /// Bundle.
        bundle: String,
        /// Grant id.
        grant_id: String,
        /// Expiry.
        expires_at: Millis,
    },
    /// `revoke_grant`.
    Revoke {
        /// Identity id.
        identity: String,
        /// Bundle.
        bundle: String,
        /// Grant id.
        grant_id: String,
        /// Session cut-off.
        session_cutoff: Option<Millis>,
    },
}

#[derive(Debug, Default)]
struct FakeState {
    tags: BTreeMap<(Identity, String), (String, Millis)>,
    calls: Vec<FakeCall>,
    cutoffs: BTreeMap<String, Millis>,
    /// Identities whose applies fail (AWS refusing one account, say).
    refusing: BTreeMap<String, String>,
}

/// An in-memory cloud for tests: tags per identity, a log of completed calls, and switches
/// that make calls fail or hang (a hung call never completes: the test then kills the server).
#[derive(Debug, Default)]
pub struct FakeCloud {
    state: Mutex<FakeState>,
    fail: AtomicBool,
    hang_apply: AtomicBool,
    hang_revoke: AtomicBool,
    lose_applies: AtomicBool,
    notify: tokio::sync::Notify,
}

impl FakeCloud {
    /// An empty cloud.
    #[must_use]
    pub fn new() -> Self {
        FakeCloud::default()
    }

    /// Make every call fail (true) or work (false).
    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    /// Make every `apply_grant` on `identity` fail with `error` (`None`: work again), as an
    /// account whose role AWS will not change would.
    pub fn set_refusing(&self, identity: &str, error: Option<&str>) {
        self.with(|s| match error {
            Some(e) => {
                s.refusing.insert(identity.to_owned(), e.to_owned());
            }
            None => {
                s.refusing.remove(identity);
            }
        });
    }

    /// Make `apply_grant` never return.
    pub fn set_hang_apply(&self, hang: bool) {
        self.hang_apply.store(hang, Ordering::SeqCst);
    }

    /// Make `apply_grant` answer success without keeping the tag (as an eventually consistent
    /// or misbehaving API might): only reading back tells.
    pub fn set_lose_applies(&self, lose: bool) {
        self.lose_applies.store(lose, Ordering::SeqCst);
    }

    /// Make `revoke_grant` never return.
    pub fn set_hang_revoke(&self, hang: bool) {
        self.hang_revoke.store(hang, Ordering::SeqCst);
    }

    /// The grant id on `identity`'s tag for `bundle`.
    #[must_use]
    pub fn tag(&self, identity: &str, bundle: &str) -> Option<String> {
        self.with(|s| {
            s.tags
                .iter()
                .find(|((i, b), _)| i.id == identity && b == bundle)
                .map(|(_, (g, _))| g.clone())
        })
    }

    /// The end `identity`'s tag for `bundle` names.
    #[must_use]
    pub fn tag_expiry(&self, identity: &str, bundle: &str) -> Option<Millis> {
        self.with(|s| {
            s.tags
                .iter()
                .find(|((i, b), _)| i.id == identity && b == bundle)
                .map(|(_, (_, e))| *e)
        })
    }

    /// Put a tag there directly (as someone bypassing Latch would).
    pub fn plant_tag(&self, identity: Identity, bundle: &str, grant_id: &str, expires_at: Millis) {
        self.with(|s| {
            s.tags.insert(
                (identity, bundle.to_owned()),
                (grant_id.to_owned(), expires_at),
            );
        });
    }

    /// Every completed call, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<FakeCall> {
        self.with(|s| s.calls.clone())
    }

    /// Completed `apply_grant` calls naming `grant_id`.
    #[must_use]
    pub fn applies_of(&self, grant_id: &str) -> usize {
        self.with(|s| {
            s.calls
                .iter()
                .filter(|c| matches!(c, FakeCall::Apply { grant_id: g, .. } if g == grant_id))
                .count()
        })
    }

    /// Completed `revoke_grant` calls naming `grant_id`.
    #[must_use]
    pub fn revokes_of(&self, grant_id: &str) -> usize {
        self.with(|s| {
            s.calls
                .iter()
                .filter(|c| matches!(c, FakeCall::Revoke { grant_id: g, .. } if g == grant_id))
                .count()
        })
    }

    /// The session cut-off recorded for an identity.
    #[must_use]
    pub fn session_cutoff(&self, identity: &str) -> Option<Millis> {
        self.with(|s| s.cutoffs.get(identity).copied())
    }

    /// Wait until the next completed call (tests use it with a timeout).
    pub async fn changed(&self) {
        self.notify.notified().await;
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    async fn gate(&self, hang: &AtomicBool) -> Result<(), CloudError> {
        if hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(CloudError("the fake cloud is set to fail".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl CloudAdapter for FakeCloud {
    async fn apply_grant(
        &self,
        identity: &Identity,
        bundle: &str,
        grant_id: &str,
        expires_at: Millis,
    ) -> Result<(), CloudError> {
        self.gate(&self.hang_apply).await?;
        if let Some(e) = self.with(|s| s.refusing.get(&identity.id).cloned()) {
            return Err(CloudError(e));
        }
        let lose = self.lose_applies.load(Ordering::SeqCst);
        self.with(|s| {
            if !lose {
                s.tags.insert(
                    (identity.clone(), bundle.to_owned()),
                    (grant_id.to_owned(), expires_at),
                );
            }
            s.calls.push(FakeCall::Apply {
                identity: identity.id.clone(),
                bundle: bundle.to_owned(),
                grant_id: grant_id.to_owned(),
                expires_at,
            });
        });
        self.notify.notify_waiters();
        Ok(())
    }

    async fn revoke_grant(
        &self,
        identity: &Identity,
        bundle: &str,
        grant_id: &str,
        session_cutoff: Option<Millis>,
    ) -> Result<(), CloudError> {
        self.gate(&self.hang_revoke).await?;
        self.with(|s| {
            s.tags.remove(&(identity.clone(), bundle.to_owned()));
            if let Some(c) = session_cutoff {
                s.cutoffs.insert(identity.id.clone(), c);
            }
            s.calls.push(FakeCall::Revoke {
                identity: identity.id.clone(),
                bundle: bundle.to_owned(),
                grant_id: grant_id.to_owned(),
                session_cutoff,
            });
        });
        self.notify.notify_waiters();
        Ok(())
    }

    async fn probe(&self) -> Result<String, CloudError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(CloudError("the fake cloud is set to fail".into()));
        }
        Ok("an in-memory cloud".into())
    }

    async fn list_latch_tags(&self, identities: &[Identity]) -> Result<Vec<LatchTag>, CloudError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(CloudError("the fake cloud is set to fail".into()));
        }
        Ok(self.with(|s| {
            s.tags
                .iter()
                .filter(|((i, _), _)| identities.contains(i))
                .map(|((i, b), (g, e))| LatchTag {
                    identity: i.clone(),
                    bundle: b.clone(),
                    grant_id: g.clone(),
                    expires_at: Some(*e),
                })
                .collect()
        }))
    }
}
