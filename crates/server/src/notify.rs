//! What a person should see, said on every chat platform the server is configured for.
//!
//! The core decides what happened and to whom it matters (the approvers of a request, its
//! requester, a grant's holder, the security channel); a [`Notifier`] says it on one platform.
//! Slack (`slack::SlackNotifier`) and Teams (`teams::TeamsNotifier`) are two; a new platform implements this trait in a folder of
//! its own and is added to the list the server builds at start (`crate::core`). Notifications
//! are best effort: a failure is logged, and never undoes or delays the transition it reports.

use std::fmt;

use async_trait::async_trait;
use latch_grant::{ApprovalRecord, ChatMessage, GrantRecord, RequestRecord};

use crate::offers::Offer;

/// Where a message was posted, so that it can be updated once the request is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The channel or chat.
    pub conversation: String,
    /// The message.
    pub message_id: String,
}

/// A person to address on one platform: their Latch name and, when they have one there, their
/// id on the platform (to mention or message them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The `[identities]` name.
    pub name: String,
    /// Their id on the platform.
    pub id: Option<String>,
}

/// One chat platform's way of telling people what happened.
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// The platform's name, as message references and people's ids name it (`slack`).
    fn platform(&self) -> &'static str;

    /// Ask `approvers` to decide a pending request (with buttons where the platform has them).
    /// Returns where the question was posted (a channel, or each approver's chat); nothing
    /// when the platform has nowhere to post it.
    async fn approval_requested(
        &self,
        request: &RequestRecord,
        approvers: &[Recipient],
    ) -> Result<Vec<Posted>, String>;

    /// A request was decided, escalated past its last tier or expired: update each of
    /// `posted` (this platform's messages about it) and tell `requester`.
    async fn decided(
        &self,
        request: &RequestRecord,
        approvals: &[ApprovalRecord],
        actor: Option<&str>,
        posted: &[ChatMessage],
        requester: &Recipient,
    ) -> Result<(), String>;

    /// A grant became active, or ended (expired or revoked): tell its holder.
    async fn grant_changed(&self, grant: &GrantRecord, holder: &Recipient) -> Result<(), String>;

    /// An active grant ends soon (`[server] remind_before`; once per grant, `now` being the
    /// moment it is said): tell its holder.
    async fn ending_soon(
        &self,
        grant: &GrantRecord,
        holder: &Recipient,
        now: i64,
    ) -> Result<(), String>;

    /// A grant approved a while ago is still not applied (`[server] stuck_after`; `error` is
    /// the cloud's last answer): tell its holder, and the security channel.
    async fn grant_stuck(
        &self,
        grant: &GrantRecord,
        holder: &Recipient,
        error: Option<&str>,
    ) -> Result<(), String>;

    /// Offer `person` a one-click request after a denial (`[offers]`).
    async fn offer(
        &self,
        offer: &Offer,
        person: &Recipient,
        duration_secs: i64,
    ) -> Result<(), String>;

    /// Someone granted themselves a bundle under break-glass: alert the security channel.
    async fn break_glass(&self, request: &RequestRecord, grant: &GrantRecord)
        -> Result<(), String>;
}
