//! The core's events, said in Slack: approval messages in the approvers' channel (updated once
//! decided), DMs to requesters and holders, offers, and break-glass alerts in the security
//! channel.

use std::collections::BTreeMap;

use async_trait::async_trait;
use latch_grant::{ApprovalRecord, ChatMessage, GrantRecord, RequestRecord};

use crate::config::Config;
use crate::notify::{Notifier, Posted, Recipient};
use crate::offers::Offer;

use super::{approval_message, decided_message, SlackClient};

/// Slack as a [`Notifier`].
#[derive(Debug, Clone)]
pub struct SlackNotifier {
    client: SlackClient,
    approvals_channel: Option<String>,
    security_channel: Option<String>,
    /// Bundles whose approval policy names a channel of their own.
    bundle_channels: BTreeMap<String, String>,
}

impl SlackNotifier {
    /// Slack as `config` sets it up (`[slack]`, and the bundles' `channel`), through `client`;
    /// `None` without `[slack]`.
    #[must_use]
    pub fn new(config: &Config, client: SlackClient) -> Option<SlackNotifier> {
        let slack = config.slack.as_ref()?;
        Some(SlackNotifier {
            client,
            approvals_channel: slack.approvals_channel.clone(),
            security_channel: slack.security_channel.clone(),
            bundle_channels: config.approval_channels.clone(),
        })
    }

    /// A direct message to `person`, when they have a Slack id.
    async fn tell(&self, person: &Recipient, text: &str) -> Result<(), String> {
        let Some(user) = &person.id else {
            return Ok(());
        };
        self.client
            .post_message(user, text, None)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

#[async_trait]
impl Notifier for SlackNotifier {
    fn platform(&self) -> &'static str {
        super::PLATFORM
    }

    async fn approval_requested(
        &self,
        request: &RequestRecord,
        approvers: &[Recipient],
    ) -> Result<Vec<Posted>, String> {
        let channel = self
            .bundle_channels
            .get(&request.bundle)
            .or(self.approvals_channel.as_ref());
        let Some(channel) = channel else {
            return Ok(Vec::new());
        };
        let mentions: Vec<String> = approvers
            .iter()
            .map(|a| match &a.id {
                Some(id) => format!("<@{id}>"),
                None => a.name.clone(),
            })
            .collect();
        let (text, blocks) = approval_message(request, &mentions);
        let (conversation, message_id) = self
            .client
            .post_message(channel, &text, Some(blocks))
            .await
            .map_err(|e| e.to_string())?;
        Ok(vec![Posted {
            conversation,
            message_id,
        }])
    }

    async fn decided(
        &self,
        request: &RequestRecord,
        approvals: &[ApprovalRecord],
        actor: Option<&str>,
        posted: &[ChatMessage],
        requester: &Recipient,
    ) -> Result<(), String> {
        let (text, blocks) = decided_message(request, approvals, actor);
        for m in posted {
            self.client
                .update_message(&m.conversation, &m.message_id, &text, Some(blocks.clone()))
                .await
                .map_err(|e| e.to_string())?;
        }
        match crate::chat::decided_message(request, actor, &super::STYLE) {
            Some(dm) => self.tell(requester, &dm).await,
            None => Ok(()),
        }
    }

    async fn grant_changed(&self, grant: &GrantRecord, holder: &Recipient) -> Result<(), String> {
        self.tell(holder, &crate::chat::grant_message(grant, &super::STYLE))
            .await
    }

    async fn ending_soon(
        &self,
        grant: &GrantRecord,
        holder: &Recipient,
        now: i64,
    ) -> Result<(), String> {
        let Some(user) = &holder.id else {
            return Ok(());
        };
        let text = crate::chat::ending_soon_message(grant, now, &super::STYLE);
        let blocks = super::messages::ending_soon_blocks(grant, &text);
        self.client
            .post_message(user, &text, Some(blocks))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn offer(
        &self,
        offer: &Offer,
        person: &Recipient,
        duration_secs: i64,
    ) -> Result<(), String> {
        let Some(user) = &person.id else {
            return Ok(());
        };
        let (text, blocks) = crate::offers::message(offer, duration_secs);
        self.client
            .post_message(user, &text, Some(blocks))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn grant_stuck(
        &self,
        grant: &GrantRecord,
        holder: &Recipient,
        error: Option<&str>,
    ) -> Result<(), String> {
        let said = crate::chat::stuck_message(grant, error, &super::STYLE);
        self.tell(holder, &said).await?;
        if let Some(channel) = &self.security_channel {
            self.client
                .post_message(channel, &format!(":warning: {said}"), None)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn break_glass(
        &self,
        request: &RequestRecord,
        grant: &GrantRecord,
    ) -> Result<(), String> {
        let Some(channel) = &self.security_channel else {
            return Ok(());
        };
        let text = format!(
            ":rotating_light: {}",
            crate::chat::break_glass_alert(request, grant, &super::STYLE)
        );
        self.client
            .post_message(channel, &text, None)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}
