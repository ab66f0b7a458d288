//! The workflow's rules, as the server's configuration sets them: who may ask (people and the
//! AWS identity their grants land on), for what (bundles, their longest grant and how they are
//! decided), who may break glass, and how long a person's text may be. The workflow
//! ([`crate::workflow`]) decides by these; where they come from (`latch.toml`) is the server's
//! business.

use std::collections::{BTreeMap, BTreeSet};

use crate::directory::{AccountRole, DirectoryPerson};
use crate::records::Identity;

/// A person who may request or approve, and where their grants land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Name (the `[identities.NAME]` key, or the directory's user name).
    pub name: String,
    /// The one AWS identity their grants land on, when the configuration names it; a person
    /// from the directory has none, and each request names the account instead (`roles`).
    pub aws: Option<Identity>,
    /// Email, for messages and to find them on chat platforms.
    pub email: Option<String>,
    /// Their id on each chat platform they use, by platform name (`slack`, `teams`), as the
    /// configuration sets it (others are looked up by email).
    pub chat: BTreeMap<String, String>,
    /// The Identity Center roles they reach, from the directory.
    pub roles: Vec<AccountRole>,
    /// Their directory groups, by display name.
    pub groups: BTreeSet<String>,
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
    /// People (group references already expanded; directory groups' members added by
    /// [`Rules::with_directory`]), sorted.
    pub approvers: Vec<String>,
    /// Directory (Identity Center) groups whose active members approve too, by display name.
    pub directory_groups: Vec<String>,
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
    /// Longest a grant may last in all, extensions included, seconds (at least
    /// `max_duration_secs`).
    pub max_total_secs: i64,
    /// How much longer than asked the holder may make a grant last without approval, seconds
    /// (0: every extension is decided like a request).
    pub self_extend_secs: i64,
    /// The on-call schedule whose on-call person is granted at once (`pagerduty:<id>`,
    /// `opsgenie:<name>`).
    pub on_call: Option<String>,
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
    /// These rules with the directory's people: each active person becomes a person of the
    /// rules under their user name (one of the configuration's people of the same name keeps
    /// its settings and gains the directory's roles, groups and, unless set, email), and every
    /// tier's directory groups add their active members to its approvers.
    #[must_use]
    pub fn with_directory(&self, directory: &[DirectoryPerson]) -> Rules {
        let mut out = self.clone();
        let mut members: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for d in directory.iter().filter(|d| d.active) {
            for g in &d.groups {
                members.entry(g.as_str()).or_default().push(&d.user_name);
            }
            let p = out
                .people
                .entry(d.user_name.clone())
                .or_insert_with(|| Person {
                    name: d.user_name.clone(),
                    aws: None,
                    email: None,
                    chat: BTreeMap::new(),
                    roles: Vec::new(),
                    groups: BTreeSet::new(),
                });
            if p.email.is_none() {
                p.email.clone_from(&d.email);
            }
            p.roles.clone_from(&d.roles);
            p.groups.clone_from(&d.groups);
        }
        for b in out.bundles.values_mut() {
            for t in &mut b.policy.tiers {
                let mut all: BTreeSet<String> = t.approvers.iter().cloned().collect();
                for g in &t.directory_groups {
                    for m in members.get(g.as_str()).into_iter().flatten() {
                        all.insert((*m).to_owned());
                    }
                }
                t.approvers = all.into_iter().collect();
            }
        }
        out
    }

    /// The one person whose email is `email` (compared without case); `None` when nobody or
    /// several people have it (an email shared by two people identifies neither).
    #[must_use]
    pub fn person_by_email(&self, email: &str) -> Option<&Person> {
        let mut found = self.people.values().filter(|p| {
            p.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        });
        let one = found.next()?;
        found.next().is_none().then_some(one)
    }

    /// The person whose id on chat `platform` is `id`.
    #[must_use]
    pub fn person_by_chat(&self, platform: &str, id: &str) -> Option<&Person> {
        self.people
            .values()
            .find(|p| p.chat_id(platform) == Some(id))
    }
}
