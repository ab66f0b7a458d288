//! The workflow's rules, as the server's configuration sets them: who may ask (people and the
//! AWS identity their grants land on), for what (bundles, their longest grant and how they are
//! decided), who may break glass, and how long a person's text may be. The workflow
//! ([`crate::workflow`]) decides by these; where they come from (`latch.toml`) is the server's
//! business.

use std::collections::{BTreeMap, BTreeSet};

use crate::records::Identity;

/// A person who may request or approve, and where their grants land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Name (the `[identities.NAME]` key).
    pub name: String,
    /// The AWS identity their grants land on.
    pub aws: Identity,
    /// Email, for messages.
    pub email: Option<String>,
    /// Their id on each chat platform they use, by platform name (`slack`, `teams`).
    pub chat: BTreeMap<String, String>,
}

impl Person {
    /// Their id on a chat platform, if they have one there.
    #[must_use]
    pub fn chat_id(&self, platform: &str) -> Option<&str> {
        self.chat.get(platform).map(String::as_str)
    }
}

/// One approver tier: who may answer and how long they have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// People (group references already expanded), sorted.
    pub approvers: Vec<String>,
    /// Seconds before escalating to the next tier (or expiring the request).
    pub timeout_secs: i64,
}

/// How requests for one bundle are decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalPolicy {
    /// Granted without approvers.
    pub auto_approve: bool,
    /// Distinct approvals needed (1, or 2 for a second approver).
    pub required_approvals: i32,
    /// Tiers in escalation order.
    pub tiers: Vec<Tier>,
}

impl ApprovalPolicy {
    /// True when `person` is an approver of any tier.
    #[must_use]
    pub fn names(&self, person: &str) -> bool {
        self.tiers
            .iter()
            .any(|t| t.approvers.iter().any(|a| a == person))
    }
}

/// A bundle as the workflow sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Name.
    pub name: String,
    /// Longest grant, seconds.
    pub max_duration_secs: i64,
    /// Approval policy.
    pub policy: ApprovalPolicy,
    /// Description for messages.
    pub description: Option<String>,
}

/// The rules the workflow decides by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// People by name.
    pub people: BTreeMap<String, Person>,
    /// Bundles by name.
    pub bundles: BTreeMap<String, Bundle>,
    /// People allowed to break glass.
    pub break_glass: BTreeSet<String>,
    /// Longest reason, comment or revoke reason a person may write, in characters.
    pub max_reason_chars: usize,
    /// How long before a grant ends its holder is told (0: never).
    pub remind_before_secs: i64,
}

impl Rules {
    /// The person whose id on chat `platform` is `id`.
    #[must_use]
    pub fn person_by_chat(&self, platform: &str, id: &str) -> Option<&Person> {
        self.people
            .values()
            .find(|p| p.chat_id(platform) == Some(id))
    }
}
