//! The scheduler: the only part of the server that calls the cloud.
//!
//! One server at a time leads (the store's lease: an advisory lock on PostgreSQL, a lease row
//! on SQLite). The leader, in one sequential loop: reconciles when it becomes leader and then
//! periodically; escalates or expires unanswered requests; applies approved grants; persists
//! due grants as `expiring` and then removes them, exactly when due by the injected clock;
//! finishes revocations. Within a pass, the grants of one identity and bundle are handled in
//! order and different ones at once (up to 16), so that the cloud adapter can write edits to
//! one policy together. Each transition is committed before the cloud call it announces and
//! confirmed after it, with version checks, so a crash at any point converges on restart
//! (cloud calls are idempotent) and no grant is applied or revoked twice in normal operation.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;

use latch_grant::{
    AuditEvent, Changeset, GrantQuery, GrantRecord, GrantStatus, Identity, Millis, RequestQuery,
    RequestStatus, StoreError,
};
use serde_json::json;

use crate::service::Core;
use latch_grant::cloud::CloudError;
use latch_grant::workflow::{self, CloudStep, Repair, Transition};

/// Run until `shutdown` resolves.
pub async fn run(core: Arc<Core>, shutdown: impl Future<Output = ()> + Send) {
    let mut shutdown = std::pin::pin!(shutdown);
    let id = core.config.server_id.clone();
    let mut leading = false;
    let mut next_reconcile: Millis = 0;
    let mut next_directory: Millis = 0;
    let mut next_posture: Millis = 0;
    let mut backoff: BTreeMap<String, (Millis, u32)> = BTreeMap::new();
    loop {
        let now = core.now();
        let lead = match core
            .store()
            .try_lead(&id, now, core.config.lease_ttl_ms)
            .await
        {
            Ok(l) => {
                core.lease_checked(l, None);
                l
            }
            Err(e) => {
                tracing::warn!(error = %e, "scheduler: lease check failed");
                core.lease_checked(false, Some(e.to_string()));
                false
            }
        };
        if lead && !leading {
            tracing::info!(server = %id, "scheduler: leading");
            let _ = core
                .store()
                .commit(Changeset::audit_only(vec![AuditEvent::new(
                    now,
                    "scheduler.leader",
                )
                .actor(&id)
                .details(json!({"server": id}))]))
                .await;
            next_reconcile = now; // reconcile on start
        }
        leading = lead;
        core.metrics.set_leader(leading);
        if !leading {
            // Only the leader looks at the grants: a server that stopped leading says 0.
            core.metrics
                .set_gauge(&crate::metrics::GRANTS_OVERDUE, "", 0);
        }
        if let Some(ic) = &core.config.identity_center {
            if core.now() >= next_directory {
                // The leader reads the directory; every server reloads what it stored.
                let done = if leading {
                    core.sync_directory(None)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                } else {
                    core.load_directory()
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                };
                if let Err(e) = done {
                    tracing::warn!(error = %e, "directory: sync failed; people stay as last synced");
                }
                next_directory = core
                    .now()
                    .saturating_add(ic.refresh_secs.saturating_mul(1000));
            }
        }

        let mut next_due: Option<Millis> = None;
        if leading {
            let asked = core.reconcile_requested.swap(false, Ordering::SeqCst);
            if asked || core.now() >= next_reconcile {
                if let Err(e) = reconcile(&core).await {
                    tracing::warn!(error = %e, "scheduler: reconcile failed");
                }
                next_reconcile = core.now().saturating_add(core.config.reconcile_interval_ms);
            }
            if core.config.web.posture_dir.is_some() && core.now() >= next_posture {
                core.read_posture_dir().await;
                next_posture = core.now().saturating_add(core.config.web.posture_every_ms);
            }
            match step(&core, &mut backoff).await {
                Ok(due) => next_due = due,
                Err(e) => tracing::warn!(error = %e, "scheduler: step failed"),
            }
            next_due = Some(next_due.map_or(next_reconcile, |d| d.min(next_reconcile)));
        }

        let poll =
            Duration::from_millis(u64::try_from(core.config.poll_interval_ms).unwrap_or(500));
        let clock = Arc::clone(&core.clock);
        tokio::select! {
            () = &mut shutdown => break,
            () = core.wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
            () = async move {
                match next_due {
                    Some(d) => clock.sleep_until(d).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
    if leading {
        let _ = core.store().release_lead(&id).await;
        core.metrics.set_leader(false);
        core.metrics
            .set_gauge(&crate::metrics::GRANTS_OVERDUE, "", 0);
    }
}

/// Why a scheduler pass stopped early.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cloud failed.
    #[error(transparent)]
    Cloud(#[from] CloudError),
}

async fn commit(core: &Core, t: Transition) -> Result<bool, StoreError> {
    match core.store().commit(t.changes).await {
        Ok(()) => Ok(true),
        // Someone else moved it first (a revoke racing an expiry): re-read next pass.
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

async fn perform(
    core: &Core,
    g: &GrantRecord,
    step: &CloudStep,
    ending: bool,
) -> Result<(), CloudError> {
    match step {
        CloudStep::Covered { .. } => Ok(()),
        CloudStep::Apply {
            grant_id,
            expires_at,
        } => {
            core.cloud
                .apply_grant(&g.identity, &g.bundle, grant_id, *expires_at)
                .await?;
            // Applied means read back: a call that answered yes without the tag (or the
            // exemption's record) being there is a failure, retried like any other.
            let tags = core
                .cloud
                .list_latch_tags(std::slice::from_ref(&g.identity))
                .await?;
            if tags
                .iter()
                .any(|t| t.bundle == g.bundle && t.grant_id == *grant_id)
            {
                Ok(())
            } else {
                Err(CloudError(format!(
                    "the grant was written but reading {} back found no latch:grant:{} naming {grant_id}",
                    g.identity.id, g.bundle
                )))
            }
        }
        CloudStep::Remove if ending => {
            core.cloud
                .revoke_grant(&g.identity, &g.bundle, &g.id, g.session_cutoff)
                .await
        }
        CloudStep::Remove => Ok(()),
    }
}

/// One pass over everything due. Returns the next moment something falls due.
///
/// # Errors
/// Storage failure (cloud failures are audited and retried with back-off).
pub async fn step(
    core: &Arc<Core>,
    backoff: &mut BTreeMap<String, (Millis, u32)>,
) -> Result<Option<Millis>, StepError> {
    let mut next: Option<Millis> = None;
    let soonest = |t: Millis, next: &mut Option<Millis>| {
        *next = Some(next.map_or(t, |n| n.min(t)));
    };

    // Grants approved but still not applied after `[server] stuck_after`: said once, loudly.
    if core.config.stuck_after_ms > 0 {
        let horizon = core.now().saturating_sub(core.config.stuck_after_ms);
        let stuck = core
            .store()
            .grants(&GrantQuery {
                statuses: vec![GrantStatus::Approved],
                ..GrantQuery::default()
            })
            .await?;
        // A scheduled grant is due at its start, not at its approval.
        let due = |g: &GrantRecord| g.starts_at.unwrap_or(g.created_at);
        for g in stuck.iter().filter(|g| due(g) <= horizon) {
            if let Err(e) = core.alert_stuck(g).await {
                tracing::warn!(grant = %g.id, error = %e, "could not alert on a stuck grant");
            }
        }
        for g in stuck.iter().filter(|g| due(g) > horizon) {
            soonest(due(g).saturating_add(core.config.stuck_after_ms), &mut next);
        }
    }

    // Unanswered requests: escalate or expire.
    let pending = core
        .store()
        .requests(&RequestQuery {
            status: Some(RequestStatus::Pending),
            ..RequestQuery::default()
        })
        .await?;
    for r in &pending {
        let now = core.now();
        if let Some(t) = workflow::tick_request(&core.rules(), r, now) {
            let updated = t.request.clone();
            if commit(core, t).await? {
                if let Some(u) = updated {
                    core.metrics.inc(
                        &crate::metrics::REQUESTS,
                        &format!(
                            "outcome=\"{}\"",
                            if u.status == RequestStatus::Expired {
                                "expired"
                            } else {
                                "escalated"
                            }
                        ),
                    );
                    if let Some(d) = u.tier_deadline {
                        soonest(d, &mut next);
                    }
                    core.spawn_notify_decided(&u, None);
                }
            }
        } else if let Some(d) = r.tier_deadline {
            soonest(d, &mut next);
        }
    }

    // Grants with work to do: to apply, to finish removing, and active ones now due. Only
    // these are read, plus the active grants sharing each one's identity and bundle (overlap).
    let now = core.now();
    let mut todo = core
        .store()
        .grants(&GrantQuery {
            statuses: vec![
                GrantStatus::Approved,
                GrantStatus::Expiring,
                GrantStatus::Revoking,
            ],
            ..GrantQuery::default()
        })
        .await?;
    todo.extend(
        core.store()
            .grants(&GrantQuery {
                statuses: vec![GrantStatus::Active],
                expires_at_most: Some(now),
                ..GrantQuery::default()
            })
            .await?,
    );
    todo.sort_by(|a, b| {
        a.expires_at
            .cmp(&b.expires_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    let overdue = todo
        .iter()
        .filter(|g| {
            matches!(g.status, GrantStatus::Active | GrantStatus::Expiring)
                && g.expires_at <= now.saturating_sub(OVERDUE_AFTER_MS)
        })
        .count();
    core.metrics.set_gauge(
        &crate::metrics::GRANTS_OVERDUE,
        "",
        i64::try_from(overdue).unwrap_or(i64::MAX),
    );
    // Grants of one identity and bundle one after another (their overlap is decided on what
    // the one before left); different ones at once, so that the cloud can write edits that
    // land on the same policy together (Identity Center grants share the Latch SCPs).
    let mut groups: BTreeMap<(String, String), Vec<GrantRecord>> = BTreeMap::new();
    let mut order = Vec::new();
    for g in todo {
        let key = (g.identity.id.clone(), g.bundle.clone());
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(g);
    }
    let shared = Shared {
        backoff: Mutex::new(std::mem::take(backoff)),
        next: Mutex::new(next),
    };
    let outcomes: Vec<Result<(), StepError>> =
        futures::stream::iter(order.into_iter().filter_map(|k| groups.remove(&k)))
            .map(|group| {
                let shared = &shared;
                async move {
                    for g in group {
                        one_grant(core, g, shared).await?;
                    }
                    Ok(())
                }
            })
            .buffer_unordered(CLOUD_CONCURRENCY)
            .collect()
            .await;
    *backoff = shared
        .backoff
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    next = shared
        .next
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = outcomes.into_iter().find_map(Result::err) {
        return Err(e);
    }
    // Holders of grants that end soon, told once (the grant's version decides which server
    // tells them when several run).
    if core.rules().remind_before_secs > 0 {
        let now = core.now();
        let horizon = now.saturating_add(core.rules().remind_before_secs.saturating_mul(1000));
        let due = core
            .store()
            .grants(&GrantQuery {
                statuses: vec![GrantStatus::Active],
                unreminded: true,
                expires_at_most: Some(horizon),
                ..GrantQuery::default()
            })
            .await?;
        for g in &due {
            if let Some(t) = workflow::remind(&core.rules(), g, now) {
                let reminded = t.grants.first().cloned();
                if commit(core, t).await? {
                    if let Some(g) = reminded {
                        core.spawn_notify_ending_soon(&g, now);
                    }
                }
            }
        }
        // The next reminder to fall due.
        let next_unreminded = core
            .store()
            .grants(&GrantQuery {
                statuses: vec![GrantStatus::Active],
                unreminded: true,
                limit: 1,
                ..GrantQuery::default()
            })
            .await?;
        if let Some(at) = next_unreminded
            .first()
            .and_then(|g| workflow::reminder_due(&core.rules(), g))
            .filter(|at| *at > now)
        {
            soonest(at, &mut next);
        }
    }

    // The next active grant to fall due.
    let first = core
        .store()
        .grants(&GrantQuery {
            statuses: vec![GrantStatus::Active],
            limit: 1,
            ..GrantQuery::default()
        })
        .await?;
    if let Some(g) = first.first() {
        soonest(g.expires_at, &mut next);
    }
    Ok(next)
}

/// Back-off and the next moment something falls due, shared by the grants handled at once.
struct Shared {
    backoff: Mutex<BTreeMap<String, (Millis, u32)>>,
    next: Mutex<Option<Millis>>,
}

impl Shared {
    fn soonest(&self, t: Millis) {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        *next = Some(next.map_or(t, |n| n.min(t)));
    }

    /// When grant `id` may be tried again, if that is after `now`.
    fn waiting(&self, id: &str, now: Millis) -> Option<Millis> {
        let backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        backoff.get(id).map(|(at, _)| *at).filter(|at| now < *at)
    }

    fn clear(&self, id: &str) {
        self.backoff
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    /// Records one more failure of grant `id`; returns the delay and whether it was the first.
    fn failure(&self, id: &str, now: Millis) -> (Millis, bool) {
        let mut backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        let attempts = backoff.get(id).map_or(0, |(_, n)| *n);
        let delay = 1000i64.saturating_mul(1i64 << attempts.min(6)).min(60_000);
        backoff.insert(
            id.to_owned(),
            (now.saturating_add(delay), attempts.saturating_add(1)),
        );
        (delay, attempts == 0)
    }
}

/// Grants a pass works on at once (each identity and bundle is one).
const CLOUD_CONCURRENCY: usize = 16;

/// How long past its expiry a grant still applied in the cloud counts as overdue
/// (`latch_grants_overdue`): the scheduler ends a grant within a second or two of its expiry
/// unless the cloud keeps failing.
const OVERDUE_AFTER_MS: i64 = 60_000;

/// One grant of a pass: apply it, or begin or finish its end.
async fn one_grant(core: &Arc<Core>, g: GrantRecord, shared: &Shared) -> Result<(), StepError> {
    let now = core.now();
    if let Some(at) = shared.waiting(&g.id, now) {
        shared.soonest(at);
        return Ok(());
    }
    let others = core
        .store()
        .grants(&GrantQuery {
            statuses: vec![GrantStatus::Active],
            identity_id: Some(g.identity.id.clone()),
            bundle: Some(g.bundle.clone()),
            ..GrantQuery::default()
        })
        .await?;
    match g.status {
        GrantStatus::Approved if g.starts_at.is_some_and(|s| now < s) => {
            // Scheduled: applied at its start (the store keeps it across restarts).
            shared.soonest(g.starts_at.unwrap_or(now));
        }
        GrantStatus::Approved => {
            // Read again just before writing to AWS: a grant revoked or relinquished since
            // this pass listed it (a change window cancelled before its start) is not applied.
            let Some(g) = core.store().grant(&g.id).await? else {
                return Ok(());
            };
            if g.status != GrantStatus::Approved {
                return Ok(());
            }
            let step = workflow::plan_apply(&g, &others);
            match perform(core, &g, &step, false).await {
                Err(e) => failed(core, &g, "apply", &e, shared).await?,
                Ok(()) => {
                    shared.clear(&g.id);
                    core.cloud_errors
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&g.id);
                    core.stuck_alerted
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&g.id);
                    let t = workflow::activate(&g, &step, core.now());
                    let active = t.grants.first().cloned();
                    if commit(core, t).await? {
                        if let Some(a) = active {
                            core.metrics.inc(&crate::metrics::GRANTS_APPLIED, "");
                            if let Ok(Some(r)) = core.store().request(&a.request_id).await {
                                core.metrics
                                    .observe_grant_latency_ms(core.now() - r.created_at);
                            }
                            core.spawn_notify_grant(&a);
                        }
                    }
                }
            }
        }
        GrantStatus::Active => {
            if let Some(t) = workflow::begin_expiry(&g, now) {
                let expiring = t.grants.first().cloned();
                // Persist "expiring" before the cloud call.
                if commit(core, t).await? {
                    if let Some(e) = expiring {
                        end(core, &committed(&e), &others, shared).await?;
                    }
                }
            }
        }
        GrantStatus::Expiring | GrantStatus::Revoking => {
            end(core, &g, &others, shared).await?;
        }
        GrantStatus::Expired | GrantStatus::Revoked => {}
    }
    Ok(())
}

/// A grant as stored after a successful commit (the store bumps the version).
fn committed(g: &GrantRecord) -> GrantRecord {
    let mut fresh = g.clone();
    fresh.version = g.version.saturating_add(1);
    fresh
}

async fn end(
    core: &Arc<Core>,
    g: &GrantRecord,
    others: &[GrantRecord],
    shared: &Shared,
) -> Result<(), StepError> {
    let step = workflow::plan_end(g, others);
    match perform(core, g, &step, true).await {
        Err(e) => failed(core, g, "revoke", &e, shared).await?,
        Ok(()) => {
            shared.clear(&g.id);
            if let Some(t) = workflow::finish_end(g, &step, core.now()) {
                let done = t.grants.first().cloned();
                if commit(core, t).await? {
                    if let Some(d) = done {
                        core.metrics.inc(
                            &crate::metrics::GRANTS_ENDED,
                            &format!("status=\"{}\"", d.status.as_str()),
                        );
                        core.spawn_notify_grant(&d);
                    }
                }
            }
        }
    }
    Ok(())
}

async fn failed(
    core: &Core,
    g: &GrantRecord,
    op: &str,
    e: &CloudError,
    shared: &Shared,
) -> Result<(), StoreError> {
    let now = core.now();
    let (delay, first) = shared.failure(&g.id, now);
    if op == "apply" {
        core.cloud_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(g.id.clone(), e.to_string());
    }
    shared.soonest(now.saturating_add(delay));
    core.metrics
        .inc(&crate::metrics::CLOUD_FAILURES, &format!("op=\"{op}\""));
    tracing::warn!(grant = %g.id, op, error = %e, "cloud call failed; will retry");
    if first {
        core.store()
            .commit(Changeset::audit_only(vec![AuditEvent::new(
                now,
                &format!("grant.{op}_failed"),
            )
            .subject(&g.id)
            .details(json!({"error": e.to_string(), "retry_in_ms": delay}))]))
            .await?;
    }
    Ok(())
}

/// Compare the cloud's `latch:*` grant tags with the live grants and repair the difference:
/// remove tags no live grant explains, restore missing or wrong ones. Audits every repair.
///
/// # Errors
/// Storage or cloud failure.
pub async fn reconcile(core: &Arc<Core>) -> Result<Vec<Repair>, StepError> {
    let live = core
        .store()
        .grants(&GrantQuery {
            statuses: GrantStatus::LIVE.to_vec(),
            ..GrantQuery::default()
        })
        .await?;
    // Every identity a grant could land on: the configured ones, and each directory person's
    // session of each role they reach.
    let rules = core.rules();
    let mut identities: Vec<Identity> = rules
        .people
        .values()
        .flat_map(|p| {
            p.aws.iter().cloned().chain(
                p.roles
                    .iter()
                    .filter_map(|r| latch_grant::directory::identity_of(r, &p.name)),
            )
        })
        .collect();
    identities.extend(live.iter().map(|g| g.identity.clone()));
    identities.sort();
    identities.dedup();
    let tags = core.cloud.list_latch_tags(&identities).await?;
    let repairs = workflow::reconcile(&tags, &live);
    for r in &repairs {
        let now = core.now();
        let (event, result) = match r {
            Repair::RemoveTag(t) => (
                AuditEvent::new(now, "drift.tag_removed").subject(&t.grant_id).details(json!({
                    "identity": t.identity.id,
                    "bundle": t.bundle,
                    "grant_id": t.grant_id,
                    "why": "no live grant explains this latch:grant tag",
                })),
                core.cloud.revoke_grant(&t.identity, &t.bundle, &t.grant_id, None).await,
            ),
            Repair::SetTag { identity, bundle, grant_id, expires_at, found } => (
                AuditEvent::new(now, "drift.tag_restored").subject(grant_id).details(json!({
                    "identity": identity.id,
                    "bundle": bundle,
                    "grant_id": grant_id,
                    "found": found,
                    "why": match found {
                        Some(f) if f == grant_id => "the tag's end was not the grant's (an extension moved it)",
                        Some(_) => "the tag named another grant",
                        None => "the tag was missing",
                    },
                })),
                core.cloud.apply_grant(identity, bundle, grant_id, *expires_at).await,
            ),
        };
        let event = match result {
            Ok(()) => event,
            Err(e) => {
                let mut ev = event;
                ev.kind.push_str("_failed");
                if let Some(obj) = ev.details.as_object_mut() {
                    obj.insert("error".into(), json!(e.to_string()));
                }
                ev
            }
        };
        core.metrics.inc(
            &crate::metrics::DRIFT_REPAIRS,
            &format!("kind=\"{}\"", event.kind),
        );
        core.store()
            .commit(Changeset::audit_only(vec![event]))
            .await?;
    }
    Ok(repairs)
}
