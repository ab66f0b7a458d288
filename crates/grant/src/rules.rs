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

/// Where a bundle or an approval rule applies: the accounts it covers, resolved from the
/// accounts, OUs and account tags the configuration names against the organization when the
/// configuration was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// What the configuration said, for messages (`ous = ["Prod"], tags = {env = "prod"}`).
    pub said: String,
    /// The account ids it covers.
    pub accounts: BTreeSet<String>,
}

impl Scope {
    /// True when `account` is in the scope.
    #[must_use]
    pub fn covers(&self, account: &str) -> bool {
        self.accounts.contains(account)
    }
}

/// An approval policy for a bundle's requests in some accounts only (an `[[approval]]` with a
/// `scope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedPolicy {
    /// The rule, for messages (`approval[1]`).
    pub rule: String,
    /// Where it applies.
    pub scope: Scope,
    /// How requests there are decided.
    pub policy: ApprovalPolicy,
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
    /// Approval policy (for requests no scoped rule covers).
    pub policy: ApprovalPolicy,
    /// Approval policies for some accounts only, in the configuration's order: the first
    /// whose scope covers a request's accounts decides it.
    pub scoped: Vec<ScopedPolicy>,
    /// The accounts it may be asked for in (`None`: wherever the requester's grants land).
    pub scope: Option<Scope>,
    /// Description for messages.
    pub description: Option<String>,
}

impl Bundle {
    /// The policy that decides a request whose grants land in `accounts` (`None`: an identity
    /// whose account is not known): the first scoped rule that covers them all, else the
    /// bundle's own.
    ///
    /// # Errors
    /// Why no one policy can decide it: targets covered by different rules (they must be asked
    /// for separately), or a target whose account is unknown while scoped rules exist (it
    /// cannot be told which applies; refused rather than decided by the wrong one).
    pub fn policy_for(&self, accounts: &[Option<&str>]) -> Result<&ApprovalPolicy, String> {
        if self.scoped.is_empty() {
            return Ok(&self.policy);
        }
        let mut chosen: Option<(Option<usize>, &str)> = None;
        for account in accounts {
            let Some(a) = account else {
                return Err(format!(
                    "bundle `{}` has approval rules scoped by account, and the grant's account is not known (name an account, or give the person a role or user ARN)",
                    self.name
                ));
            };
            let rule = self.scoped.iter().position(|p| p.scope.covers(a));
            match chosen {
                None => chosen = Some((rule, a)),
                Some((r, first)) if r != rule => {
                    let name = |r: Option<usize>| {
                        r.and_then(|i| self.scoped.get(i)).map_or_else(
                            || "the bundle's own approvers".to_owned(),
                            |p| p.rule.clone(),
                        )
                    };
                    return Err(format!(
                        "accounts {first} and {a} are decided by different approval rules ({} and {}): ask for them in separate requests",
                        name(r),
                        name(rule)
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(chosen
            .and_then(|(r, _)| r)
            .and_then(|i| self.scoped.get(i))
            .map_or(&self.policy, |p| &p.policy))
    }

    /// Every policy of the bundle, its own first.
    pub fn policies(&self) -> impl Iterator<Item = &ApprovalPolicy> {
        std::iter::once(&self.policy).chain(self.scoped.iter().map(|p| &p.policy))
    }

    /// Every policy of the bundle, mutably.
    pub fn policies_mut(&mut self) -> impl Iterator<Item = &mut ApprovalPolicy> {
        std::iter::once(&mut self.policy).chain(self.scoped.iter_mut().map(|p| &mut p.policy))
    }
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
            for t in b.policies_mut().flat_map(|p| p.tiers.iter_mut()) {
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
