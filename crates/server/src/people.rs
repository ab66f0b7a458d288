//! Who people are: the rules' people — those of `[identities]` and, with `[identity_center]`,
//! every active Identity Center user — and where to find them on chat.
//!
//! The leading server syncs the directory every `[identity_center] refresh` (and when an
//! admin asks): it reads the [`DirectorySource`], plans the changes with
//! [`latch_grant::directory::sync`] and commits them with their audit entries, the pending
//! requests it cancels and the grants it revokes in the same transaction. Every server then
//! loads the stored directory into its rules ([`Core::load_directory`]), so a request is
//! decided by the directory as last synced, never by a call to it.
//!
//! Chat ids: a person's id on a platform is what `[identities]` says; otherwise, on Slack,
//! it is looked up by their email (`users.lookupByEmail`), and a Slack user who writes to Latch
//! is found by theirs (`users.info`), matched against the people as they stand. What Slack
//! says is cached for a day, failures and misses for ten minutes.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, PoisonError};

use latch_grant::directory::{self, SyncCounts};
use latch_grant::{AuditEvent, Changeset, StoreError};
use latch_grant::{GrantQuery, GrantStatus, Millis, Person, RequestQuery, RequestStatus, Rules};
use serde_json::json;

use crate::service::Core;

/// How long a chat id found by email is trusted.
pub const CHAT_ID_TTL_MS: Millis = 24 * 3600 * 1000;
/// How long a miss (no such user, or the lookup failed) is remembered.
pub const CHAT_MISS_TTL_MS: Millis = 10 * 60 * 1000;

/// What chat platforms said, cached: (platform, email in lower case) → user id, and
/// (platform, user id) → email; each with the time it is trusted until.
#[derive(Debug, Default)]
pub(crate) struct ChatCache {
    id_of: HashMap<(String, String), (Option<String>, Millis)>,
    email_of: HashMap<(String, String), (Option<String>, Millis)>,
}

/// Why a sync did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No `[identity_center]` source is wired in.
    #[error("no directory is configured ([identity_center])")]
    NotConfigured,
    /// The directory could not be read (nothing changed).
    #[error(transparent)]
    Read(#[from] directory::DirectoryError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

const RETRIES: usize = 5;

impl Core {
    /// The rules as they stand: the configuration's, with the directory as last loaded.
    #[must_use]
    pub fn rules(&self) -> Arc<Rules> {
        Arc::clone(&self.rules.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// True when people come from a directory too.
    #[must_use]
    pub fn has_directory(&self) -> bool {
        self.directory.is_some()
    }

    /// Load the stored directory into the rules. Returns how many active people it holds.
    ///
    /// # Errors
    /// Storage failure (the rules stay as they were).
    pub async fn load_directory(&self) -> Result<usize, StoreError> {
        let people = self.store().directory().await?;
        let active = people.iter().filter(|p| p.active).count();
        let rules = Arc::new(self.config.rules.with_directory(&people));
        *self.rules.write().unwrap_or_else(PoisonError::into_inner) = rules;
        self.metrics.set_directory_people(active);
        Ok(active)
    }

    /// Read the directory and commit what changed (people, their groups and roles, the
    /// requests and grants of people who left), then load it. Runs on the leader, on its
    /// schedule or when an admin asks; `actor` is who asked (`None`: the schedule).
    ///
    /// # Errors
    /// Not configured, the directory could not be read (audited; nothing changes), or storage
    /// failure.
    pub async fn sync_directory(
        self: &Arc<Self>,
        actor: Option<&str>,
    ) -> Result<SyncCounts, SyncError> {
        let source = self.directory.clone().ok_or(SyncError::NotConfigured)?;
        // One sync at a time on this server (the schedule and an admin's may meet).
        let _one = self.sync_lock.lock().await;
        let read = match source.read().await {
            Ok(r) => r,
            Err(e) => {
                self.metrics
                    .inc(&crate::metrics::DIRECTORY_SYNCS, "outcome=\"failed\"");
                let mut ev = AuditEvent::new(self.now(), "directory.sync_failed")
                    .details(json!({"error": e.to_string(), "note": "nothing was changed"}));
                if let Some(a) = actor {
                    ev = ev.actor(a);
                }
                self.store().commit(Changeset::audit_only(vec![ev])).await?;
                return Err(e.into());
            }
        };
        let keep: BTreeSet<String> = self.config.rules.people.keys().cloned().collect();
        for _ in 0..RETRIES {
            let now = self.now();
            let stored = self.store().directory().await?;
            let pending = self
                .store()
                .requests(&RequestQuery {
                    status: Some(RequestStatus::Pending),
                    ..RequestQuery::default()
                })
                .await?;
            let live = self
                .store()
                .grants(&GrantQuery {
                    statuses: vec![GrantStatus::Approved, GrantStatus::Active],
                    ..GrantQuery::default()
                })
                .await?;
            let mut plan = directory::sync(&stored, &read, &pending, &live, &keep, now);
            if let (Some(a), Some(obj)) = (
                actor,
                plan.changes
                    .audit
                    .last_mut()
                    .and_then(|e| e.details.as_object_mut()),
            ) {
                obj.insert("asked_by".into(), json!(a));
            }
            let cancelled: Vec<_> = plan
                .changes
                .requests
                .iter()
                .map(|w| match w {
                    latch_grant::Write::Insert(r) | latch_grant::Write::Update(r) => r.clone(),
                })
                .collect();
            let counts = plan.counts;
            if !plan.is_empty() {
                match self.store().commit(plan.changes).await {
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e.into()),
                    Ok(()) => {}
                }
            }
            self.metrics
                .inc(&crate::metrics::DIRECTORY_SYNCS, "outcome=\"ok\"");
            self.load_directory().await?;
            if counts.grants_revoked > 0 {
                self.wake.notify_one();
            }
            for r in &cancelled {
                self.spawn_notify_decided(r, Some(directory::SYNC_ACTOR));
            }
            tracing::info!(
                people = counts.people,
                added = counts.added,
                removed = counts.removed,
                deactivated = counts.deactivated,
                changed = counts.changed,
                grants_revoked = counts.grants_revoked,
                "directory synced"
            );
            return Ok(counts);
        }
        Err(SyncError::Store(StoreError::Conflict(
            "requests and grants kept changing during the directory sync; it runs again at the next refresh".into(),
        )))
    }

    /// The person `id` is on chat `platform`: from `[identities]`, else (Slack) the person
    /// whose email is their Slack profile's.
    pub async fn person_by_chat(&self, platform: &str, id: &str) -> Option<Person> {
        let rules = self.rules();
        if let Some(p) = rules.person_by_chat(platform, id) {
            return Some(p.clone());
        }
        let slack = self
            .slack
            .as_ref()
            .filter(|_| platform == crate::slack::PLATFORM)?;
        let now = self.now();
        let key = (platform.to_owned(), id.to_owned());
        let email = match self.cached(|c| &c.email_of, &key, now) {
            Some(email) => email,
            None => {
                let email = match slack.user_email(id).await {
                    Ok(email) => email,
                    Err(e) => {
                        tracing::warn!(error = %e, "slack: could not look up a user's email");
                        None
                    }
                };
                self.remember(platform, email.as_deref(), Some(id), now);
                email
            }
        }?;
        // Matched against the people as they stand now: someone synced after the lookup is
        // found at once.
        rules.person_by_email(&email).cloned()
    }

    /// `name`'s id on chat `platform`: from `[identities]`, else (Slack) the Slack user with
    /// their email.
    pub async fn chat_id(&self, platform: &str, name: &str) -> Option<String> {
        let rules = self.rules();
        let person = rules.people.get(name)?;
        if let Some(id) = person.chat_id(platform) {
            return Some(id.to_owned());
        }
        let slack = self
            .slack
            .as_ref()
            .filter(|_| platform == crate::slack::PLATFORM)?;
        let email = person.email.as_deref()?.to_ascii_lowercase();
        let now = self.now();
        let key = (platform.to_owned(), email.clone());
        if let Some(id) = self.cached(|c| &c.id_of, &key, now) {
            return id;
        }
        let found = match slack.lookup_by_email(&email).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(error = %e, "slack: could not look up a person by email");
                None
            }
        };
        self.remember(platform, Some(&email), found.as_deref(), now);
        found
    }

    /// A lookup still fresh at `now`: `Some(answer)` (the answer may be a miss).
    fn cached(
        &self,
        side: impl Fn(&ChatCache) -> &HashMap<(String, String), (Option<String>, Millis)>,
        key: &(String, String),
        now: Millis,
    ) -> Option<Option<String>> {
        let cache = self
            .chat_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        side(&cache)
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(answer, _)| answer.clone())
    }

    /// Cache what the platform said: `email` and `id` belong together, both ways, for a day
    /// when both are known; a miss (one side unknown) for ten minutes.
    fn remember(&self, platform: &str, email: Option<&str>, id: Option<&str>, now: Millis) {
        let ttl = if email.is_some() && id.is_some() {
            CHAT_ID_TTL_MS
        } else {
            CHAT_MISS_TTL_MS
        };
        let until = now.saturating_add(ttl);
        let email = email.map(str::to_ascii_lowercase);
        let id = id.map(str::to_owned);
        let mut cache = self
            .chat_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = &email {
            cache
                .id_of
                .insert((platform.to_owned(), e.clone()), (id.clone(), until));
        }
        if let Some(i) = id {
            cache
                .email_of
                .insert((platform.to_owned(), i), (email, until));
        }
    }
}
