//! The application core: the pure domain plus the store, the cloud, the clock and the chats.
//!
//! Handlers (HTTP, Slack) call [`Core`]; only the scheduler talks to the cloud. Every
//! transition is committed with its audit entries before anything else happens; refusals are
//! audited too. Handlers see the store only through [`Core::view`], its read half: whatever
//! they change (a request, a decision, a token, an audited refusal or rejection, a replay
//! nonce) is a method here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use latch_grant::{
    AuditEvent, Changeset, ChatMessage, Decision, GrantRecord, GrantStatus, Millis, PostureRecord,
    RequestRecord, RequestStatus, Role, Store, StoreError, StoreRead, TokenRecord,
};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::notify::{Notifier, Recipient};
use crate::slack::SlackClient;
use crate::teams::TeamsBot;
use latch_grant::cloud::CloudAdapter;
use latch_grant::directory::DirectorySource;
use latch_grant::workflow::{self, NewRequest, Refusal, RefusalCode};

/// Why a core call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Refused by policy (already audited).
    #[error("{0}")]
    Refused(Refusal),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something else (randomness, …).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The chat platforms a core speaks on: the clients their endpoints answer through, and the
/// notifiers the core tells things through.
#[derive(Debug, Default)]
pub struct Chats {
    /// Slack's Web API client.
    pub slack: Option<SlackClient>,
    /// The Teams bot.
    pub teams: Option<Arc<TeamsBot>>,
    /// One per platform.
    pub notifiers: Vec<Arc<dyn Notifier>>,
}

/// Shared state of one server.
#[derive(Debug)]
pub struct Core {
    /// Configuration.
    pub config: Config,
    /// Storage: written only by the methods of [`Core`] and the scheduler.
    store: Arc<dyn Store>,
    /// The cloud (used by the scheduler only).
    pub cloud: Arc<dyn CloudAdapter>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Metrics.
    pub metrics: Metrics,
    /// Wakes the scheduler (a grant to apply or revoke).
    pub wake: Notify,
    /// Slack Web API client, when Slack is configured (the Slack endpoints answer through it).
    pub slack: Option<SlackClient>,
    /// Latch's Teams bot, when Teams is configured (the Teams endpoint checks and answers
    /// through it).
    pub teams: Option<Arc<TeamsBot>>,
    /// The chat platforms people are told things on.
    notifiers: Vec<Arc<dyn Notifier>>,
    /// A reconciliation was asked for.
    pub reconcile_requested: AtomicBool,
    /// The rules as they stand: the configuration's with the directory as last loaded
    /// ([`Core::rules`]).
    pub(crate) rules: std::sync::RwLock<Arc<latch_grant::Rules>>,
    /// Where people come from besides `[identities]` (`[identity_center]`).
    pub(crate) directory: Option<Arc<dyn DirectorySource>>,
    /// Chat ids found by email.
    pub(crate) chat_cache: std::sync::Mutex<crate::people::ChatCache>,
    /// One directory sync at a time.
    pub(crate) sync_lock: tokio::sync::Mutex<()>,
    /// PagerDuty and Opsgenie, when `[on_call]` is configured.
    pub(crate) on_call: Option<crate::oncall::OnCall>,
    /// The cloud's last error per grant still being applied (the scheduler's, on the leader).
    pub(crate) cloud_errors: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Stuck grants this server has already alerted on (the store's nonce makes it once
    /// across servers; this spares the write on every later pass).
    pub(crate) stuck_alerted: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The posture folder's files as last read (size and modification time), so an unchanged
    /// file is not read again.
    /// The scheduler's last lease check: when it ended, whether this server leads, and the
    /// error if the store refused (for `/readyz`).
    pub(crate) lease: std::sync::Mutex<LeaseCheck>,
    /// The cloud's last probe and when (for `/readyz`, at most one probe per few seconds).
    pub(crate) cloud_probe: tokio::sync::Mutex<Option<(Millis, Result<String, String>)>>,
    pub(crate) posture_seen: std::sync::Mutex<
        std::collections::HashMap<std::path::PathBuf, (u64, std::time::SystemTime)>,
    >,
}

/// A fresh id: `prefix` and 12 lower-case base-32 characters.
///
/// # Errors
/// The system's randomness is unavailable.
pub fn new_id(prefix: &str) -> Result<String, ServiceError> {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let mut out = String::with_capacity(prefix.len() + 13);
    out.push_str(prefix);
    out.push('-');
    for b in bytes {
        let c = ALPHABET.get(usize::from(b % 32)).copied().unwrap_or(b'a');
        out.push(char::from(c));
    }
    Ok(out)
}

const RETRIES: usize = 5;

impl Core {
    /// A core over its configuration, store, cloud and clock, speaking on `chats`.
    #[must_use]
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        cloud: Arc<dyn CloudAdapter>,
        clock: Arc<dyn Clock>,
        chats: Chats,
        directory: Option<Arc<dyn DirectorySource>>,
    ) -> Core {
        let Chats {
            slack,
            teams,
            notifiers,
        } = chats;
        Core {
            rules: std::sync::RwLock::new(Arc::new(config.rules.clone())),
            directory,
            chat_cache: std::sync::Mutex::default(),
            sync_lock: tokio::sync::Mutex::new(()),
            cloud_errors: std::sync::Mutex::default(),
            stuck_alerted: std::sync::Mutex::default(),
            posture_seen: std::sync::Mutex::default(),
            lease: std::sync::Mutex::default(),
            cloud_probe: tokio::sync::Mutex::new(None),
            on_call: config.on_call.clone().map(crate::oncall::OnCall::new),
            notifiers,
            teams,
            config,
            store,
            cloud,
            clock,
            metrics: Metrics::default(),
            wake: Notify::new(),
            slack,
            reconcile_requested: AtomicBool::new(false),
        }
    }

    /// Now, from the injected clock.
    #[must_use]
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// What handlers may read: the store's read half.
    #[must_use]
    pub fn view(&self) -> &dyn StoreRead {
        self.store.as_ref()
    }

    /// The whole store, for the workflow's own writers: the scheduler, the reconciler and the
    /// audit checkpoints. Request handlers use [`Core::view`] and the methods of [`Core`].
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Audit a refusal of a caller's input (`<what>.refused`) and hand it back as the error
    /// to answer with (or the storage error, when it could not be audited).
    pub async fn refuse(
        &self,
        what: &str,
        refusal: Refusal,
        actor: Option<&str>,
        subject: Option<&str>,
        details: Value,
    ) -> ServiceError {
        let event = workflow::refusal_event(what, &refusal, actor, subject, details, self.now());
        match self.record_refusal(event).await {
            Ok(()) => ServiceError::Refused(refusal),
            Err(e) => e,
        }
    }

    /// An inbound chat call failed verification: audit `<platform>.rejected` with what
    /// identifies the call (never its unverified content), and count it in `counted` (the
    /// platform's `…_rejected_total`).
    ///
    /// # Errors
    /// Storage failure.
    pub async fn reject_inbound(
        &self,
        platform: &str,
        counted: &'static crate::metrics::Metric,
        code: &str,
        message: &str,
        details: Value,
    ) -> Result<(), ServiceError> {
        self.metrics.inc(counted, &format!("reason=\"{code}\""));
        let mut details = workflow::clip_json(details, workflow::AUDIT_CLIP_CHARS);
        if let Some(obj) = details.as_object_mut() {
            obj.insert("code".into(), json!(code));
            obj.insert(
                "message".into(),
                json!(workflow::clip(message, workflow::AUDIT_CLIP_CHARS)),
            );
        }
        let event = AuditEvent::new(self.now(), &format!("{platform}.rejected")).details(details);
        self.record_refusal(event).await
    }

    /// A chat user who is not one of Latch's people spoke: audit `<platform>.unknown_user`.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn unknown_chat_user(
        &self,
        platform: &str,
        details: Value,
    ) -> Result<(), ServiceError> {
        let event = AuditEvent::new(self.now(), &format!("{platform}.unknown_user"))
            .details(workflow::clip_json(details, workflow::AUDIT_CLIP_CHARS));
        self.record_refusal(event).await
    }

    /// True the first time `key` is seen (remembered until `until`); false for a replay.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn first_sight(&self, key: &str, until: Millis) -> Result<bool, ServiceError> {
        Ok(self.store.remember_nonce(key, self.now(), until).await?)
    }

    /// A grant approved `[server] stuck_after` ago is still not applied: audited
    /// (`grant.stuck`, with the cloud's last error), counted, and said to its holder and the
    /// security channel, once per grant across servers. It stays `approved` — never shown
    /// active before it is — and the scheduler keeps retrying.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn alert_stuck(self: &Arc<Self>, g: &GrantRecord) -> Result<(), ServiceError> {
        let alerted = || {
            self.stuck_alerted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if alerted().contains(&g.id) {
            return Ok(());
        }
        let key = format!("stuck:{}", g.id);
        let first = self.first_sight(&key, g.expires_at.max(self.now())).await?;
        alerted().insert(g.id.clone());
        if !first {
            return Ok(());
        }
        let error = self
            .cloud_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&g.id)
            .cloned();
        let now = self.now();
        self.store
            .commit(Changeset::audit_only(vec![AuditEvent::new(
                now,
                "grant.stuck",
            )
            .subject(&g.id)
            .details(json!({
                "requester": g.requester,
                "bundle": g.bundle,
                "identity": g.identity.id,
                "approved_ms_ago": now.saturating_sub(g.created_at),
                "error": error,
                "note": "approved but not applied yet: retried with back-off, never shown active before it is",
            }))]))
            .await?;
        self.metrics.inc(&crate::metrics::GRANTS_STUCK, "");
        let grant = g.clone();
        self.spawn_each("stuck", g.id.clone(), move |core, n| {
            let (grant, error) = (grant.clone(), error.clone());
            async move {
                let holder = core.recipient(n.as_ref(), &grant.requester).await;
                n.grant_stuck(&grant, &holder, error.as_deref()).await
            }
        });
        Ok(())
    }

    /// The views of `grants`, each pending one with the last error AWS gave this server when
    /// applying it.
    #[must_use]
    pub fn grant_views(&self, grants: &[GrantRecord]) -> Vec<crate::api::GrantView> {
        let errors = self
            .cloud_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        grants
            .iter()
            .map(|g| {
                let mut v = crate::api::GrantView::of(g);
                if g.status == GrantStatus::Approved {
                    v.cloud_error = errors.get(&g.id).cloned();
                }
                v
            })
            .collect()
    }

    /// Send the denial-triggered offers `planned` on behalf of `actor`: at most one per person
    /// and bundle per `every_secs`, each sent one audited (`offer.sent`) before it is DMed.
    /// Returns the offers sent and those left out as repeats.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn send_offers(
        self: &Arc<Self>,
        actor: &str,
        planned: Vec<crate::offers::Offer>,
        every_secs: i64,
        duration_secs: i64,
    ) -> Result<(Vec<crate::offers::Offer>, Vec<crate::offers::Offer>), ServiceError> {
        let now = self.now();
        let until = now.saturating_add(every_secs.saturating_mul(1000));
        let (mut sent, mut repeated) = (Vec::new(), Vec::new());
        for o in planned {
            let key = format!("offer:{}:{}", o.person, o.bundle);
            if self.store.remember_nonce(&key, now, until).await? {
                sent.push(o);
            } else {
                repeated.push(o);
            }
        }
        for (list, outcome) in [(&sent, "sent"), (&repeated, "deduplicated")] {
            for _ in list.iter() {
                self.metrics
                    .inc(&crate::metrics::OFFERS, &format!("outcome=\"{outcome}\""));
            }
        }
        if !sent.is_empty() {
            let audit = sent
                .iter()
                .map(|o| {
                    AuditEvent::new(now, "offer.sent")
                        .actor(actor)
                        .subject(&o.person)
                        .details(workflow::clip_json(
                            json!({"bundle": o.bundle, "action": o.action, "principal": o.principal}),
                            workflow::AUDIT_CLIP_CHARS,
                        ))
                })
                .collect();
            self.store.commit(Changeset::audit_only(audit)).await?;
            self.spawn_offers(&sent, duration_secs);
        }
        Ok((sent, repeated))
    }

    /// Create an API token for `subject`: the token and its `token.created` entry in one
    /// changeset. Returns the record and the secret, which is shown once and never stored.
    ///
    /// # Errors
    /// Refused (audited) for a bad subject, or storage failure.
    pub async fn create_token(
        &self,
        actor: &str,
        subject: &str,
        role: Role,
    ) -> Result<(TokenRecord, String), ServiceError> {
        let now = self.now();
        if let Err(refusal) = workflow::check_text("subject", subject, workflow::MAX_NAME_CHARS) {
            let details = json!({"subject": subject, "role": role.as_str()});
            return Err(self
                .refuse("token", refusal, Some(actor), None, details)
                .await);
        }
        let (record, secret) = crate::http::mint_token(subject, role, now)?;
        self.store
            .commit(workflow::token_created(actor, &record))
            .await?;
        Ok((record, secret))
    }

    async fn record_refusal(&self, event: AuditEvent) -> Result<(), ServiceError> {
        self.store
            .commit(Changeset::audit_only(vec![event]))
            .await?;
        Ok(())
    }

    /// Open a request (auto-approved and break-glass ones come back with their grant).
    ///
    /// # Errors
    /// Refused (audited), or storage failure.
    pub async fn request(
        self: &Arc<Self>,
        new: NewRequest,
    ) -> Result<(RequestRecord, Vec<GrantRecord>), ServiceError> {
        let proof = self.on_call_proof(&new).await?;
        let now = self.now();
        let (rid, gid) = (new_id("r")?, new_id("g")?);
        match workflow::open_request_with(&self.rules(), &new, proof.as_ref(), &rid, &gid, now) {
            Err(refusal) => {
                self.metrics.inc(
                    &crate::metrics::REQUESTS,
                    &format!("outcome=\"refused\",code=\"{}\"", refusal.code.as_str()),
                );
                self.record_refusal(workflow::refusal_event(
                    "request",
                    &refusal,
                    Some(&new.requester),
                    None,
                    json!({
                        "bundle": new.bundle,
                        "duration_secs": new.duration_secs,
                        "reason": new.reason,
                        "source": new.source,
                        "break_glass": new.break_glass,
                    }),
                    now,
                ))
                .await?;
                Err(ServiceError::Refused(refusal))
            }
            Ok(t) => {
                self.store.commit(t.changes).await?;
                let request = t
                    .request
                    .ok_or_else(|| ServiceError::Internal("no request".into()))?;
                self.metrics.inc(
                    &crate::metrics::REQUESTS,
                    if t.grants.is_empty() {
                        "outcome=\"pending\""
                    } else {
                        "outcome=\"granted\""
                    },
                );
                if !t.grants.is_empty() {
                    self.wake.notify_one();
                }
                self.spawn_notify_created(&request, t.grants.first());
                Ok((request, t.grants))
            }
        }
    }

    /// For a bundle with an on-call schedule: the provider's word that the requester is on
    /// call now. An answer the provider could not give is audited (`on_call.unavailable`) and
    /// is no proof: the request then goes to its approvers (fail closed).
    async fn on_call_proof(
        &self,
        new: &NewRequest,
    ) -> Result<Option<workflow::OnCallProof>, ServiceError> {
        let (Some(schedule), Some(client)) = (
            self.config.on_call_schedules.get(&new.bundle),
            self.on_call.as_ref(),
        ) else {
            return Ok(None);
        };
        if new.break_glass {
            return Ok(None);
        }
        let rules = self.rules();
        let Some(email) = rules
            .people
            .get(&new.requester)
            .and_then(|p| p.email.clone())
        else {
            return Ok(None);
        };
        match client.proof(schedule, &email, self.clock.as_ref()).await {
            Ok(found) => Ok(found),
            Err(e) => {
                self.metrics
                    .inc(&crate::metrics::ON_CALL_CHECKS, "outcome=\"unavailable\"");
                self.store
                    .commit(Changeset::audit_only(vec![AuditEvent::new(
                        self.now(),
                        "on_call.unavailable",
                    )
                    .actor(&new.requester)
                    .details(json!({
                        "bundle": new.bundle,
                        "schedule": schedule.to_string(),
                        "error": e,
                        "note": "no on-call approval without the provider's answer: the request goes to its approvers",
                    }))]))
                    .await?;
                Ok(None)
            }
        }
    }

    /// An approver answers a request.
    ///
    /// # Errors
    /// Refused (audited), not found, or storage failure.
    pub async fn decide(
        self: &Arc<Self>,
        request_id: &str,
        actor: &str,
        decision: Decision,
        comment: Option<&str>,
    ) -> Result<(RequestRecord, Vec<GrantRecord>), ServiceError> {
        for _ in 0..RETRIES {
            let now = self.now();
            let Some(request) = self.store.request(request_id).await? else {
                let refusal = Refusal {
                    code: RefusalCode::NotFound,
                    message: format!("no request `{request_id}`"),
                };
                self.record_refusal(workflow::refusal_event(
                    "approval",
                    &refusal,
                    Some(actor),
                    Some(request_id),
                    json!({"decision": decision.as_str()}),
                    now,
                ))
                .await?;
                return Err(ServiceError::Refused(refusal));
            };
            let approvals = self.store.approvals(request_id).await?;
            let gid = new_id("g")?;
            // An extension's approval lengthens the grant it names, in the same transition.
            let extending = match &request.extends {
                Some(g) => Some(self.store.grant(g).await?.ok_or_else(|| {
                    ServiceError::Internal(format!(
                        "request `{request_id}` extends a grant `{g}` the store does not hold"
                    ))
                })?),
                None => None,
            };
            match workflow::decide_with(
                &self.rules(),
                &request,
                &approvals,
                actor,
                decision,
                comment,
                &gid,
                extending.as_ref(),
                now,
            ) {
                Err(refusal) => {
                    self.metrics.inc(
                        &crate::metrics::APPROVALS,
                        &format!("outcome=\"refused\",code=\"{}\"", refusal.code.as_str()),
                    );
                    self.record_refusal(workflow::refusal_event(
                        "approval",
                        &refusal,
                        Some(actor),
                        Some(request_id),
                        json!({"decision": decision.as_str(), "bundle": request.bundle, "requester": request.requester}),
                        now,
                    ))
                    .await?;
                    return Err(ServiceError::Refused(refusal));
                }
                Ok(t) => match self.store.commit(t.changes).await {
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e.into()),
                    Ok(()) => {
                        self.metrics.inc(
                            &crate::metrics::APPROVALS,
                            &format!("outcome=\"{}\"", decision.as_str()),
                        );
                        let updated = t.request.unwrap_or(request);
                        if !t.grants.is_empty() {
                            self.wake.notify_one();
                        }
                        if extending.is_some() && !t.grants.is_empty() {
                            // The tag (or exemption record) names the grant's end: move it.
                            self.request_reconcile();
                        }
                        self.spawn_notify_decided(&updated, Some(actor));
                        return Ok((updated, t.grants));
                    }
                },
            }
        }
        Err(ServiceError::Store(StoreError::Conflict(format!(
            "request `{request_id}` kept changing; try again"
        ))))
    }

    /// The holder asks for `by_secs` more of their grant: extended at once within the bundle's
    /// `self_extend` (or for an auto-approved bundle), else a request naming the grant goes
    /// to the bundle's approvers.
    ///
    /// # Errors
    /// Refused (audited), or storage failure.
    pub async fn extend(
        self: &Arc<Self>,
        grant_id: &str,
        actor: &str,
        by_secs: i64,
        reason: &str,
        source: &str,
    ) -> Result<(RequestRecord, Vec<GrantRecord>), ServiceError> {
        for _ in 0..RETRIES {
            let now = self.now();
            let rid = new_id("r")?;
            let result = match self.store.grant(grant_id).await? {
                None => Err(Refusal {
                    code: RefusalCode::NotFound,
                    message: format!("no grant `{grant_id}`"),
                }),
                Some(g) => {
                    let asked = self.store.request(&g.request_id).await?.map_or_else(
                        || g.expires_at.saturating_sub(g.created_at).div_euclid(1000),
                        |r| r.duration_secs,
                    );
                    workflow::request_extension(
                        &self.rules(),
                        &g,
                        asked,
                        actor,
                        by_secs,
                        reason,
                        source,
                        &rid,
                        now,
                    )
                }
            };
            match result {
                Err(refusal) => {
                    self.record_refusal(workflow::refusal_event(
                        "extension",
                        &refusal,
                        Some(actor),
                        Some(grant_id),
                        json!({"duration_secs": by_secs, "reason": reason, "source": source}),
                        now,
                    ))
                    .await?;
                    return Err(ServiceError::Refused(refusal));
                }
                Ok(t) => match self.store.commit(t.changes).await {
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e.into()),
                    Ok(()) => {
                        let request = t
                            .request
                            .ok_or_else(|| ServiceError::Internal("no request".into()))?;
                        if t.grants.is_empty() {
                            self.spawn_notify_created(&request, None);
                        } else {
                            self.request_reconcile();
                        }
                        return Ok((request, t.grants));
                    }
                },
            }
        }
        Err(ServiceError::Store(StoreError::Conflict(format!(
            "grant `{grant_id}` kept changing; try again"
        ))))
    }

    /// Revoke a grant. Allowed for admins, the grant's requester and the bundle's approvers.
    ///
    /// # Errors
    /// Refused (audited), not found, or storage failure.
    pub async fn revoke(
        self: &Arc<Self>,
        grant_id: &str,
        actor: &str,
        is_admin: bool,
        reason: &str,
        cut_sessions: Option<bool>,
    ) -> Result<GrantRecord, ServiceError> {
        self.end_early(grant_id, actor, Some(is_admin), reason, cut_sessions)
            .await
    }

    /// The holder gives their grant back ("I'm done"): revoked as by an admin, recorded as
    /// relinquished.
    ///
    /// # Errors
    /// Refused (audited: someone else's grant, not live), not found, or storage failure.
    pub async fn relinquish(
        self: &Arc<Self>,
        grant_id: &str,
        actor: &str,
        reason: &str,
        cut_sessions: Option<bool>,
    ) -> Result<GrantRecord, ServiceError> {
        self.end_early(grant_id, actor, None, reason, cut_sessions)
            .await
    }

    /// End a grant early: a revocation (`revoker`: whether the actor is an admin) or the
    /// holder's relinquishment (`None`).
    async fn end_early(
        self: &Arc<Self>,
        grant_id: &str,
        actor: &str,
        revoker: Option<bool>,
        reason: &str,
        cut_sessions: Option<bool>,
    ) -> Result<GrantRecord, ServiceError> {
        let what = if revoker.is_some() {
            "revoke"
        } else {
            "relinquish"
        };
        let cut = cut_sessions.unwrap_or(self.config.revoke_sessions);
        for _ in 0..RETRIES {
            let now = self.now();
            let grant = self.store.grant(grant_id).await?;
            let is_admin = revoker.unwrap_or(false);
            let allowed = grant.as_ref().is_some_and(|g| {
                revoker.is_none()
                    || is_admin
                    || g.requester == actor
                    || self.rules().bundles.get(&g.bundle).is_some_and(|b| {
                        // The approvers of the rule that decides this grant's account.
                        let account = latch_grant::Target {
                            identity: g.identity.clone(),
                            account: g.account.clone(),
                            permission_set: None,
                        };
                        b.policy_for(&[account.account_id()])
                            .is_ok_and(|p| p.names(actor))
                    })
            });
            let result = match (&grant, allowed) {
                (None, _) => Err(Refusal {
                    code: RefusalCode::NotFound,
                    message: format!("no grant `{grant_id}`"),
                }),
                (Some(g), false) => Err(Refusal {
                    code: RefusalCode::Forbidden,
                    message: format!(
                        "`{actor}` may not revoke grant `{grant_id}` (only its requester, an approver of `{}` or an admin)",
                        g.bundle
                    ),
                }),
                (Some(g), true) if revoker.is_none() => {
                    workflow::relinquish(&self.rules(), g, actor, reason, cut, now)
                }
                (Some(g), true) => workflow::begin_revoke(&self.rules(), g, actor, reason, cut, now),
            };
            match result {
                Err(refusal) => {
                    self.record_refusal(workflow::refusal_event(
                        what,
                        &refusal,
                        Some(actor),
                        Some(grant_id),
                        json!({"reason": reason}),
                        now,
                    ))
                    .await?;
                    return Err(ServiceError::Refused(refusal));
                }
                Ok(t) => match self.store.commit(t.changes).await {
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e.into()),
                    Ok(()) => {
                        self.wake.notify_one();
                        let g = t
                            .grants
                            .into_iter()
                            .next()
                            .ok_or_else(|| ServiceError::Internal("no grant".into()))?;
                        return Ok(g);
                    }
                },
            }
        }
        Err(ServiceError::Store(StoreError::Conflict(format!(
            "grant `{grant_id}` kept changing; try again"
        ))))
    }

    /// `name` as `notifier`'s platform knows them.
    async fn recipient(&self, notifier: &dyn Notifier, name: &str) -> Recipient {
        Recipient {
            name: name.to_owned(),
            id: self.chat_id(notifier.platform(), name).await,
        }
    }

    /// Run `what` for each notifier in a task of its own, logging failures: notifications
    /// never hold up or undo the transition they report.
    fn spawn_each<F, Fut>(self: &Arc<Self>, what: &'static str, subject: String, f: F)
    where
        F: Fn(Arc<Core>, Arc<dyn Notifier>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        for n in &self.notifiers {
            let fut = f(Arc::clone(self), Arc::clone(n));
            let (platform, subject) = (n.platform(), subject.clone());
            let core = Arc::clone(self);
            tokio::spawn(async move {
                if let Err(e) = fut.await {
                    core.metrics.inc(
                        &crate::metrics::CHAT_FAILURES,
                        &format!("platform=\"{platform}\",what=\"{what}\""),
                    );
                    tracing::warn!(%platform, %subject, error = %e, "{what}: notification failed");
                }
            });
        }
    }

    fn spawn_notify_created(
        self: &Arc<Self>,
        request: &RequestRecord,
        grant: Option<&GrantRecord>,
    ) {
        let request = request.clone();
        let break_glass = grant.filter(|g| g.break_glass).cloned();
        self.spawn_each("request", request.id.clone(), move |core, n| {
            let (request, break_glass) = (request.clone(), break_glass.clone());
            async move {
                if let Some(g) = &break_glass {
                    return n.break_glass(&request, g).await;
                }
                if request.status != RequestStatus::Pending {
                    return Ok(());
                }
                core.post_approval(n.as_ref(), &request).await
            }
        });
    }

    /// Ask a pending request's approvers on one platform, and remember where.
    async fn post_approval(&self, n: &dyn Notifier, request: &RequestRecord) -> Result<(), String> {
        let mut approvers: Vec<Recipient> = Vec::new();
        for a in workflow::eligible_approvers(&self.rules(), request) {
            approvers.push(self.recipient(n, &a).await);
        }
        let posted = n.approval_requested(request, &approvers).await?;
        if posted.is_empty() {
            return Ok(());
        }
        self.store
            .commit(Changeset {
                messages: posted
                    .into_iter()
                    .map(|p| ChatMessage {
                        request_id: request.id.clone(),
                        platform: n.platform().to_owned(),
                        conversation: p.conversation,
                        message_id: p.message_id,
                    })
                    .collect(),
                ..Changeset::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        // Decided while the message was on its way: show the outcome.
        match self.store.request(&request.id).await {
            Ok(Some(current)) if current.status != RequestStatus::Pending => {
                self.tell_decided(n, &current, None).await
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Tell every platform a request was decided (or escalated): update its approval messages,
    /// tell the requester; an escalated one is posted for its new tier.
    pub fn spawn_notify_decided(self: &Arc<Self>, request: &RequestRecord, actor: Option<&str>) {
        let request = request.clone();
        let actor = actor.map(str::to_owned);
        self.spawn_each("decision", request.id.clone(), move |core, n| {
            let (request, actor) = (request.clone(), actor.clone());
            async move {
                if request.status == RequestStatus::Pending {
                    // Escalated (or still waiting for a second approver): ask the new tier.
                    if actor.is_none() {
                        return core.post_approval(n.as_ref(), &request).await;
                    }
                    return Ok(());
                }
                core.tell_decided(n.as_ref(), &request, actor.as_deref())
                    .await
            }
        });
    }

    async fn tell_decided(
        &self,
        n: &dyn Notifier,
        request: &RequestRecord,
        actor: Option<&str>,
    ) -> Result<(), String> {
        let approvals = self
            .store
            .approvals(&request.id)
            .await
            .map_err(|e| e.to_string())?;
        let posted: Vec<ChatMessage> = self
            .store
            .messages(&request.id)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|m| m.platform == n.platform())
            .collect();
        let requester = self.recipient(n, &request.requester).await;
        n.decided(request, &approvals, actor, &posted, &requester)
            .await
    }

    /// Tell the holder about their grant (applied, expired, revoked), on every platform.
    pub fn spawn_notify_grant(self: &Arc<Self>, grant: &GrantRecord) {
        let grant = grant.clone();
        self.spawn_each("grant", grant.id.clone(), move |core, n| {
            let grant = grant.clone();
            async move {
                let holder = core.recipient(n.as_ref(), &grant.requester).await;
                n.grant_changed(&grant, &holder).await
            }
        });
    }

    /// Tell the holder their grant ends soon, on every platform.
    pub fn spawn_notify_ending_soon(self: &Arc<Self>, grant: &GrantRecord, now: Millis) {
        let grant = grant.clone();
        self.spawn_each("ending-soon", grant.id.clone(), move |core, n| {
            let grant = grant.clone();
            async move {
                let holder = core.recipient(n.as_ref(), &grant.requester).await;
                n.ending_soon(&grant, &holder, now).await
            }
        });
    }

    /// Offer each person the one-click request (`[offers]`), on every platform, for
    /// `duration_secs` or the bundle's longest grant if that is shorter (a button asking for
    /// more would only be refused when pressed).
    pub fn spawn_offers(self: &Arc<Self>, offers: &[crate::offers::Offer], duration_secs: i64) {
        let offers = offers.to_vec();
        self.spawn_each("offers", String::new(), move |core, n| {
            let offers = offers.clone();
            async move {
                for o in &offers {
                    let person = core.recipient(n.as_ref(), &o.person).await;
                    let longest = core
                        .rules()
                        .bundles
                        .get(&o.bundle)
                        .map_or(duration_secs, |b| b.max_duration_secs);
                    n.offer(o, &person, duration_secs.min(longest)).await?;
                }
                Ok(())
            }
        });
    }

    /// Ask the scheduler (on the leader) to reconcile now.
    pub fn request_reconcile(&self) {
        self.reconcile_requested.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// The scheduler's last lease check.
#[derive(Debug, Clone, Default)]
pub struct LeaseCheck {
    /// When it ended (0: never).
    pub at: Millis,
    /// This server leads.
    pub leading: bool,
    /// Why the check failed, if it did.
    pub error: Option<String>,
}

/// How long `/readyz` reuses a cloud probe.
const PROBE_REUSE_MS: Millis = 5_000;

impl Core {
    /// Record a lease check (the scheduler's).
    pub(crate) fn lease_checked(&self, leading: bool, error: Option<String>) {
        if let Ok(mut l) = self.lease.lock() {
            *l = LeaseCheck {
                at: self.now(),
                leading,
                error,
            };
        }
    }

    /// The scheduler's last lease check.
    #[must_use]
    pub fn lease_check(&self) -> LeaseCheck {
        self.lease.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Whether the cloud answers: a probe, reused for a few seconds.
    pub async fn probe_cloud(&self) -> Result<String, String> {
        let mut last = self.cloud_probe.lock().await;
        let now = self.now();
        if let Some((at, r)) = last.as_ref() {
            if now.saturating_sub(*at) < PROBE_REUSE_MS && *at <= now {
                return r.clone();
            }
        }
        let r = match tokio::time::timeout(std::time::Duration::from_secs(5), self.cloud.probe())
            .await
        {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("no answer within 5 s".to_owned()),
        };
        *last = Some((now, r.clone()));
        r
    }
}

/// What keeping a posture document did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pushed {
    /// `scan`, `plan` or `prove`.
    pub kind: crate::posture::Kind,
    /// SHA-256 of the document.
    pub digest: String,
    /// Its figures.
    pub figures: Value,
    /// When it was kept (or, unchanged, when the same document was).
    pub pushed_at: Millis,
    /// The latest document of its kind was this one already: nothing was kept.
    pub unchanged: bool,
}

impl Core {
    /// Record the arrival of `latch doctor`'s pipeline probes (`pipeline.probe`, one entry per
    /// probe), posted by `by` through the denial pipeline.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn record_probes(&self, by: &str, probes: &[String]) -> Result<(), StoreError> {
        let now = self.now();
        let audit = probes
            .iter()
            .map(|p| {
                AuditEvent::new(now, "pipeline.probe")
                    .actor(by)
                    .subject(p)
                    .details(json!({"probe": p}))
            })
            .collect();
        self.store.commit(Changeset::audit_only(audit)).await
    }

    /// Keep a summarized posture document, audited (`posture.pushed`), unless the latest
    /// of its kind is the same document.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn push_posture(
        &self,
        s: crate::posture::Summarized,
        by: &str,
    ) -> Result<Pushed, StoreError> {
        let kind = s.kind.as_str();
        if let Some(latest) = self.store.posture_latest(kind).await? {
            if latest.digest == s.digest {
                return Ok(Pushed {
                    kind: s.kind,
                    digest: s.digest,
                    figures: serde_json::from_str(&latest.figures).unwrap_or(Value::Null),
                    pushed_at: latest.pushed_at,
                    unchanged: true,
                });
            }
        }
        let now = self.now();
        let record = PostureRecord {
            kind: kind.to_owned(),
            pushed_at: now,
            pushed_by: by.to_owned(),
            digest: s.digest.clone(),
            figures: s.figures.to_string(),
            body: s.body.to_string(),
        };
        let event = AuditEvent::new(now, "posture.pushed")
            .actor(by)
            .subject(kind)
            .details(json!({"kind": kind, "sha256": s.digest, "figures": s.figures}));
        self.store
            .commit(Changeset {
                posture: vec![record],
                audit: vec![event],
                ..Changeset::default()
            })
            .await?;
        self.metrics
            .inc(&crate::metrics::POSTURE_PUSHES, &format!("kind=\"{kind}\""));
        Ok(Pushed {
            kind: s.kind,
            digest: s.digest,
            figures: s.figures,
            pushed_at: now,
            unchanged: false,
        })
    }

    /// Read the posture folder (`[web] posture_dir`): `scan.json`, `plan.json` or
    /// `plan/plan.json`, and `prove.json`. A file changed since it was last read is
    /// summarized and kept (as pushed by `directory:<file>`); one that cannot be read is
    /// logged and tried again once it changes.
    pub async fn read_posture_dir(&self) {
        use crate::posture::Kind;
        let Some(dir) = self.config.web.posture_dir.clone() else {
            return;
        };
        let candidates = [
            (Kind::Scan, vec![dir.join("scan.json")]),
            (
                Kind::Plan,
                vec![dir.join("plan.json"), dir.join("plan").join("plan.json")],
            ),
            (Kind::Prove, vec![dir.join("prove.json")]),
        ];
        for (kind, paths) in candidates {
            let Some((path, meta)) = paths.into_iter().find_map(|p| {
                std::fs::metadata(&p)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| (p, m))
            }) else {
                continue;
            };
            let stamp = (meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH));
            let seen = self
                .posture_seen
                .lock()
                .map(|m| m.get(&path) == Some(&stamp))
                .unwrap_or(false);
            if seen {
                continue;
            }
            let read_path = path.clone();
            let summarized = tokio::task::spawn_blocking(move || {
                let bytes = std::fs::read(&read_path).map_err(|e| e.to_string())?;
                crate::posture::summarize(kind, &bytes).map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            // A document that cannot be read is tried again once it changes; a store that
            // failed, at the next look (the file is not marked as read).
            let file = format!("directory:{}", path.display());
            match summarized {
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "posture: cannot read; trying again when it changes");
                }
                Ok(s) => match self.push_posture(s, &file).await {
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "posture: cannot keep; trying again at the next look");
                        continue;
                    }
                    Ok(p) if !p.unchanged => {
                        tracing::info!(file = %path.display(), kind = kind.as_str(), "posture: read");
                    }
                    Ok(_) => {}
                },
            }
            if let Ok(mut m) = self.posture_seen.lock() {
                m.insert(path, stamp);
            }
        }
    }
}
