//! The core's events, said in Teams: approval cards in the approvals channel (or, without one,
//! in each approver's personal chat), replaced once decided; personal messages to requesters
//! and holders; offers; break-glass alerts in the security channel.

use std::sync::Arc;

use async_trait::async_trait;
use latch_grant::{ApprovalRecord, ChatMessage, GrantRecord, RequestRecord};

use crate::chat;
use crate::clock::Clock;
use crate::notify::{Notifier, Posted, Recipient};
use crate::offers::Offer;

use super::{cards, TeamsBot, STYLE};

/// Teams as a [`Notifier`].
#[derive(Debug, Clone)]
pub struct TeamsNotifier {
    bot: Arc<TeamsBot>,
    clock: Arc<dyn Clock>,
}

impl TeamsNotifier {
    /// Teams through `bot`, timing its tokens by `clock`.
    #[must_use]
    pub fn new(bot: Arc<TeamsBot>, clock: Arc<dyn Clock>) -> TeamsNotifier {
        TeamsNotifier { bot, clock }
    }

    fn now(&self) -> i64 {
        self.clock.now().div_euclid(1000)
    }

    /// A message to `person` in their personal chat with the bot, when they have a Teams id.
    async fn tell(&self, person: &Recipient, text: &str) -> Result<(), String> {
        let Some(member) = &person.id else {
            return Ok(());
        };
        self.bot
            .tell(member, &cards::text_activity(text), self.now())
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Notifier for TeamsNotifier {
    fn platform(&self) -> &'static str {
        super::PLATFORM
    }

    async fn approval_requested(
        &self,
        request: &RequestRecord,
        approvers: &[Recipient],
    ) -> Result<Vec<Posted>, String> {
        let names: Vec<String> = approvers.iter().map(|a| a.name.clone()).collect();
        let activity = cards::card_activity(
            &format!("{} asks for {}", request.requester, request.bundle),
            cards::approval(request, &names),
        );
        if let Some(channel) = &self.bot.config.approvals_channel {
            let id = self.bot.post(channel, &activity, self.now()).await?;
            return Ok(vec![Posted {
                conversation: channel.clone(),
                message_id: id,
            }]);
        }
        // No channel: each approver in their personal chat.
        let mut posted = Vec::new();
        let mut failures = Vec::new();
        for a in approvers {
            let Some(member) = &a.id else { continue };
            match self.bot.tell(member, &activity, self.now()).await {
                Ok((conversation, message_id)) => posted.push(Posted {
                    conversation,
                    message_id,
                }),
                Err(e) => failures.push(format!("{}: {e}", a.name)),
            }
        }
        if posted.is_empty() && !failures.is_empty() {
            return Err(failures.join("; "));
        }
        for f in failures {
            tracing::warn!(failure = %f, "teams: an approver could not be asked");
        }
        Ok(posted)
    }

    async fn decided(
        &self,
        request: &RequestRecord,
        approvals: &[ApprovalRecord],
        actor: Option<&str>,
        posted: &[ChatMessage],
        requester: &Recipient,
    ) -> Result<(), String> {
        let activity = cards::card_activity(
            &format!("{} asked for {}", request.requester, request.bundle),
            cards::decided(request, approvals, actor),
        );
        for m in posted {
            let activity = cards::with(activity.clone(), "id", &m.message_id);
            self.bot
                .connector
                .update(
                    &self.bot.config.service_url,
                    &m.conversation,
                    &m.message_id,
                    &activity,
                    self.now(),
                )
                .await
                .map_err(|e| e.to_string())?;
        }
        match chat::decided_message(request, actor, &STYLE) {
            Some(said) => self.tell(requester, &said).await,
            None => Ok(()),
        }
    }

    async fn grant_changed(&self, grant: &GrantRecord, holder: &Recipient) -> Result<(), String> {
        self.tell(holder, &chat::grant_message(grant, &STYLE)).await
    }

    async fn ending_soon(
        &self,
        grant: &GrantRecord,
        holder: &Recipient,
        now: i64,
    ) -> Result<(), String> {
        let Some(member) = &holder.id else {
            return Ok(());
        };
        let said = chat::ending_soon_message(grant, now, &STYLE);
        let activity = cards::card_activity(&said, cards::ending_soon(grant, &said));
        self.bot.tell(member, &activity, self.now()).await?;
        Ok(())
    }

    async fn offer(
        &self,
        offer: &Offer,
        person: &Recipient,
        duration_secs: i64,
    ) -> Result<(), String> {
        let Some(member) = &person.id else {
            return Ok(());
        };
        let activity = cards::card_activity(
            &format!("AWS denied {}", offer.action),
            cards::offer(offer, duration_secs),
        );
        self.bot.tell(member, &activity, self.now()).await?;
        Ok(())
    }

    async fn grant_stuck(
        &self,
        grant: &GrantRecord,
        holder: &Recipient,
        error: Option<&str>,
    ) -> Result<(), String> {
        let said = chat::stuck_message(grant, error, &STYLE);
        self.tell(holder, &said).await?;
        if let Some(channel) = &self.bot.config.security_channel {
            self.bot
                .post(
                    channel,
                    &cards::text_activity(&format!("⚠️ {said}")),
                    self.now(),
                )
                .await?;
        }
        Ok(())
    }

    async fn break_glass(
        &self,
        request: &RequestRecord,
        grant: &GrantRecord,
    ) -> Result<(), String> {
        let Some(channel) = &self.bot.config.security_channel else {
            return Ok(());
        };
        let said = format!("🚨 {}", chat::break_glass_alert(request, grant, &STYLE));
        self.bot
            .post(channel, &cards::text_activity(&said), self.now())
            .await?;
        Ok(())
    }
}
