//! The usage table: who used which action, when, how often, and who was denied.
//!
//! All maps are `BTreeMap`s, so iteration and serialised output are in a stable order.
//! Tables merge ([`UsageTable::merge`]) associatively and commutatively, so a directory can be
//! read in any order by any number of threads and give the same table.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ingest::Window;
use crate::record::PrincipalKind;
use crate::time::{Date, Timestamp, DAY};

/// What happened to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Authorised and succeeded.
    Success,
    /// Authorised but failed for another reason (an `errorCode` that is not a denial).
    Error,
    /// Not authorised (see [`crate::mapping::is_denied`]).
    Denied,
}

/// Use of one action by one principal (or one person of an Identity Center role).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionUsage {
    /// Authorised calls (successful or failed for a reason other than authorisation).
    pub count: u64,
    /// Of `count`, the calls that returned an error other than a denial.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errors: u64,
    /// Denied attempts, not included in `count`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub denied: u64,
    /// First authorised call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    /// Last authorised call: the date that decides whether a permission is "used".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// First denied attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_denied: Option<Timestamp>,
    /// Last denied attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_denied: Option<Timestamp>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    a.max(b)
}

impl ActionUsage {
    /// Adds `n` calls at `at` with this outcome.
    pub fn add(&mut self, at: Timestamp, outcome: Outcome, n: u64) {
        if outcome == Outcome::Denied {
            self.denied += n;
            self.first_denied = min_opt(self.first_denied, Some(at));
            self.last_denied = max_opt(self.last_denied, Some(at));
        } else {
            self.count += n;
            if outcome == Outcome::Error {
                self.errors += n;
            }
            self.first_seen = min_opt(self.first_seen, Some(at));
            self.last_seen = max_opt(self.last_seen, Some(at));
        }
    }

    /// Adds another record of the same action.
    pub fn merge(&mut self, o: &Self) {
        self.count += o.count;
        self.errors += o.errors;
        self.denied += o.denied;
        self.first_seen = min_opt(self.first_seen, o.first_seen);
        self.last_seen = max_opt(self.last_seen, o.last_seen);
        self.first_denied = min_opt(self.first_denied, o.first_denied);
        self.last_denied = max_opt(self.last_denied, o.last_denied);
    }

    /// The last time anything happened, authorised or denied.
    #[must_use]
    pub fn last_any(&self) -> Option<Timestamp> {
        max_opt(self.last_seen, self.last_denied)
    }

    fn first_any(&self) -> Option<Timestamp> {
        min_opt(self.first_seen, self.first_denied)
    }
}

/// Activity of one person behind an Identity Center role (or a federated user).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUsage {
    /// First event of this person, authorised or denied.
    pub first_activity: Option<Timestamp>,
    /// Last event of this person, authorised or denied (including console sign-in).
    pub last_activity: Option<Timestamp>,
    /// Per action.
    pub actions: BTreeMap<String, ActionUsage>,
    /// The resources this person's calls named, for the actions whose calls name one
    /// ([`crate::resources`]): action → resource ARN (`""` when a call named none readably) →
    /// use. The principal's `resources` holds the same for all its people together.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, BTreeMap<String, ActionUsage>>,
}

/// Usage by one IAM principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalUsage {
    /// Root, user, role or Identity Center role.
    pub kind: PrincipalKind,
    /// The principal's account.
    pub account: String,
    /// First event of this principal, authorised or denied.
    pub first_activity: Option<Timestamp>,
    /// Last event of this principal, authorised or denied, including console sign-ins:
    /// the date that decides whether an identity is a zombie.
    pub last_activity: Option<Timestamp>,
    /// Console sign-ins (`signin.amazonaws.com` events), which use no IAM action.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sign_ins: u64,
    /// Per action `service:Name`.
    pub actions: BTreeMap<String, ActionUsage>,
    /// Per person (session name), for Identity Center roles and federated users.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sessions: BTreeMap<String, SessionUsage>,
    /// The roles its successful role-passing calls named ([`crate::passrole`]): action →
    /// role as written in the request (ARN, name, or `instance-profile:<arn or name>`; `""`
    /// when the call named none) → use. CloudTrail never records `iam:PassRole` itself.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub passed_roles: BTreeMap<String, BTreeMap<String, ActionUsage>>,
    /// The resources its calls named, for the actions whose calls name one
    /// ([`crate::resources`]): action → resource ARN (`""` when the call named none
    /// readably) → use.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, BTreeMap<String, ActionUsage>>,
}

impl PrincipalUsage {
    fn new(kind: PrincipalKind, account: &str) -> Self {
        Self {
            kind,
            account: account.to_owned(),
            first_activity: None,
            last_activity: None,
            sign_ins: 0,
            actions: BTreeMap::new(),
            sessions: BTreeMap::new(),
            passed_roles: BTreeMap::new(),
            resources: BTreeMap::new(),
        }
    }

    /// The action's usage, matching the action name without regard to case
    /// (`s3:getobject` finds `s3:GetObject`).
    #[must_use]
    pub fn action(&self, action: &str) -> Option<&ActionUsage> {
        self.actions.get(action).or_else(|| {
            self.actions
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(action))
                .map(|(_, v)| v)
        })
    }

    /// Last authorised use of any action of a service prefix (`iam`).
    #[must_use]
    pub fn last_used_service(&self, service: &str) -> Option<Timestamp> {
        self.actions
            .iter()
            .filter(|(k, _)| {
                k.split_once(':')
                    .is_some_and(|(s, _)| s.eq_ignore_ascii_case(service))
            })
            .filter_map(|(_, v)| v.last_seen)
            .max()
    }
}

/// Use of one service in one account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceUsage {
    /// Authorised calls.
    pub count: u64,
    /// Denied attempts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub denied: u64,
    /// Last authorised call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
}

/// Counts of events that do not attribute to an IAM action of a principal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherEvents {
    /// Calls made by AWS services themselves (`userIdentity.type` `AWSService`).
    pub aws_service: u64,
    /// Calls whose caller maps to no IAM principal, by `userIdentity.type`.
    pub unattributed: BTreeMap<String, u64>,
    /// Calls from an event source the mapping table does not know, by source.
    pub unmapped_sources: BTreeMap<String, u64>,
}

impl OtherEvents {
    fn merge(&mut self, o: &Self) {
        self.aws_service += o.aws_service;
        for (k, v) in &o.unattributed {
            *self.unattributed.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.unmapped_sources {
            *self.unmapped_sources.entry(k.clone()).or_default() += v;
        }
    }
}

/// Usage of a whole organization over a window of time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageTable {
    /// Events read inside the window (all of them, attributed or not).
    pub events: u64,
    /// Earliest event inside the window.
    pub first_event: Option<Timestamp>,
    /// Latest event inside the window.
    pub last_event: Option<Timestamp>,
    /// Per principal ARN (the role, not the session).
    pub principals: BTreeMap<String, PrincipalUsage>,
    /// Per account (the caller's account), per service prefix: for service quarantine.
    pub accounts: BTreeMap<String, BTreeMap<String, ServiceUsage>>,
    /// Events per account that recorded them (`recipientAccountId`, else the caller's
    /// account) and UTC day, attributed or not: which accounts the logs cover, and when.
    /// An account absent here on the days of a window has no data there — not "no activity".
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub account_days: BTreeMap<String, BTreeMap<Date, u64>>,
    /// Events that are not a principal's use of an action.
    pub other: OtherEvents,
}

/// One call, as the slow path of [`UsageTable::record`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The principal ARN.
    pub principal: &'a str,
    /// Its kind.
    pub kind: PrincipalKind,
    /// Its account.
    pub account: &'a str,
    /// The person, for Identity Center roles and federated users.
    pub session: Option<&'a str>,
    /// `service:Name`, or `None` for a console sign-in.
    pub action: Option<&'a str>,
    /// When.
    pub at: Timestamp,
    /// What happened.
    pub outcome: Outcome,
}

impl UsageTable {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` identical calls. The ingestion path aggregates first and then adds each
    /// principal × action once with [`UsageTable::add_aggregate`]; the generator and tests
    /// call this directly.
    pub fn record(&mut self, c: &Call<'_>, n: u64) {
        if n == 0 {
            return;
        }
        let mut u = ActionUsage::default();
        u.add(c.at, c.outcome, n);
        self.add_aggregate(c.principal, c.kind, c.account, c.session, c.action, &u);
    }

    /// Adds aggregated use of one action (`None`: console sign-ins, counted in `count`)
    /// by one principal, or by one person of it when `session` is given (which counts for
    /// the principal too).
    pub fn add_aggregate(
        &mut self,
        principal: &str,
        kind: PrincipalKind,
        account: &str,
        session: Option<&str>,
        action: Option<&str>,
        u: &ActionUsage,
    ) {
        let (first, last) = (u.first_any(), u.last_any());
        if first.is_none() {
            return;
        }
        let p = match self.principals.get_mut(principal) {
            Some(p) => p,
            None => self
                .principals
                .entry(principal.to_owned())
                .or_insert_with(|| PrincipalUsage::new(kind, account)),
        };
        p.first_activity = min_opt(p.first_activity, first);
        p.last_activity = max_opt(p.last_activity, last);
        let session = session.map(|s| {
            let s = p.sessions.entry(s.to_owned()).or_default();
            s.first_activity = min_opt(s.first_activity, first);
            s.last_activity = max_opt(s.last_activity, last);
            s
        });
        let Some(action) = action else {
            p.sign_ins += u.count + u.denied;
            return;
        };
        if let Some(s) = session {
            merge_one(&mut s.actions, action, u);
        }
        merge_one(&mut p.actions, action, u);
        let service = action.split_once(':').map_or(action, |(s, _)| s);
        let su = self
            .accounts
            .entry(account.to_owned())
            .or_default()
            .entry(service.to_owned())
            .or_default();
        su.count += u.count;
        su.denied += u.denied;
        su.last_seen = max_opt(su.last_seen, u.last_seen);
    }

    fn principal_entry(
        &mut self,
        principal: &str,
        kind: PrincipalKind,
        account: &str,
    ) -> &mut PrincipalUsage {
        self.principals
            .entry(principal.to_owned())
            .or_insert_with(|| PrincipalUsage::new(kind, account))
    }

    /// Adds use of a role-passing `action` by `principal` that passed `role` (`""`: the call
    /// named no role). The call itself is counted by [`UsageTable::add_aggregate`].
    pub fn add_passed(
        &mut self,
        principal: &str,
        kind: PrincipalKind,
        account: &str,
        action: &str,
        role: &str,
        u: &ActionUsage,
    ) {
        let p = self.principal_entry(principal, kind, account);
        merge_one(
            p.passed_roles.entry(action.to_owned()).or_default(),
            role,
            u,
        );
    }

    /// Adds use of a resource-naming `action` by `principal` on `resource` (`""`: the call
    /// named none readably). The call itself is counted by [`UsageTable::add_aggregate`].
    pub fn add_resource(
        &mut self,
        principal: &str,
        kind: PrincipalKind,
        account: &str,
        action: &str,
        resource: &str,
        u: &ActionUsage,
    ) {
        let p = self.principal_entry(principal, kind, account);
        merge_one(
            p.resources.entry(action.to_owned()).or_default(),
            resource,
            u,
        );
    }

    /// Adds the use of `resource` by `action` for one person (`session`) of a principal,
    /// beside [`UsageTable::add_resource`], which counts it for the principal.
    #[allow(clippy::too_many_arguments, reason = "one record of many parts")]
    pub fn add_session_resource(
        &mut self,
        principal: &str,
        kind: PrincipalKind,
        account: &str,
        session: &str,
        action: &str,
        resource: &str,
        u: &ActionUsage,
    ) {
        let p = self.principal_entry(principal, kind, account);
        let s = p.sessions.entry(session.to_owned()).or_default();
        merge_one(
            s.resources.entry(action.to_owned()).or_default(),
            resource,
            u,
        );
    }

    /// Notes `n` events in the window between `first` and `last` (attributed or not).
    pub fn note_events(&mut self, n: u64, first: Timestamp, last: Timestamp) {
        if n == 0 {
            return;
        }
        self.events += n;
        self.first_event = min_opt(self.first_event, Some(first));
        self.last_event = max_opt(self.last_event, Some(last));
    }

    /// Notes `n` events recorded for `account` on `day` (see [`UsageTable::account_days`]).
    pub fn note_account_events(&mut self, account: &str, day: Date, n: u64) {
        if n == 0 {
            return;
        }
        let days = match self.account_days.get_mut(account) {
            Some(d) => d,
            None => self.account_days.entry(account.to_owned()).or_default(),
        };
        *days.entry(day).or_default() += n;
    }

    /// Events recorded for `account` on the UTC days that overlap `window`. The table counts
    /// events per day, so a window that starts or ends inside a day counts that whole day.
    #[must_use]
    pub fn account_events(&self, account: &str, window: &Window) -> u64 {
        let Some(days) = self.account_days.get(account) else {
            return 0;
        };
        days.iter()
            .filter(|(d, _)| {
                let start = d.start().0;
                window.since.is_none_or(|s| start + DAY > s.0)
                    && window.until.is_none_or(|u| start < u.0)
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// Adds another table into this one.
    pub fn merge(&mut self, o: Self) {
        self.events += o.events;
        self.first_event = min_opt(self.first_event, o.first_event);
        self.last_event = max_opt(self.last_event, o.last_event);
        for (arn, op) in o.principals {
            match self.principals.entry(arn) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(op);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    let p = e.get_mut();
                    p.first_activity = min_opt(p.first_activity, op.first_activity);
                    p.last_activity = max_opt(p.last_activity, op.last_activity);
                    p.sign_ins += op.sign_ins;
                    merge_actions(&mut p.actions, &op.actions);
                    for (action, roles) in &op.passed_roles {
                        merge_actions(p.passed_roles.entry(action.clone()).or_default(), roles);
                    }
                    for (action, named) in &op.resources {
                        merge_actions(p.resources.entry(action.clone()).or_default(), named);
                    }
                    for (name, os) in op.sessions {
                        let s = p.sessions.entry(name).or_default();
                        s.first_activity = min_opt(s.first_activity, os.first_activity);
                        s.last_activity = max_opt(s.last_activity, os.last_activity);
                        merge_actions(&mut s.actions, &os.actions);
                        for (action, named) in &os.resources {
                            merge_actions(s.resources.entry(action.clone()).or_default(), named);
                        }
                    }
                }
            }
        }
        for (acct, services) in o.accounts {
            let mine = self.accounts.entry(acct).or_default();
            for (svc, ou) in services {
                let su = mine.entry(svc).or_default();
                su.count += ou.count;
                su.denied += ou.denied;
                su.last_seen = max_opt(su.last_seen, ou.last_seen);
            }
        }
        for (acct, days) in o.account_days {
            let mine = self.account_days.entry(acct).or_default();
            for (day, n) in days {
                *mine.entry(day).or_default() += n;
            }
        }
        self.other.merge(&o.other);
    }

    /// Usage of one principal.
    #[must_use]
    pub fn principal(&self, arn: &str) -> Option<&PrincipalUsage> {
        self.principals.get(arn)
    }

    /// Usage of `action` by `principal` (action matched without regard to case).
    #[must_use]
    pub fn action(&self, principal: &str, action: &str) -> Option<&ActionUsage> {
        self.principal(principal)?.action(action)
    }

    /// The last authorised use of `action` by `principal`, if any in the window.
    #[must_use]
    pub fn last_used(&self, principal: &str, action: &str) -> Option<Timestamp> {
        self.action(principal, action)?.last_seen
    }

    /// The last event of any kind by `principal` (zombie detection).
    #[must_use]
    pub fn last_activity(&self, principal: &str) -> Option<Timestamp> {
        self.principal(principal)?.last_activity
    }

    /// Every `(principal, action, usage)` with at least one denied attempt, in order.
    pub fn denied(&self) -> impl Iterator<Item = (&str, &str, &ActionUsage)> + '_ {
        self.principals.iter().flat_map(|(p, u)| {
            u.actions
                .iter()
                .filter(|(_, a)| a.denied > 0)
                .map(move |(a, usage)| (p.as_str(), a.as_str(), usage))
        })
    }

    /// Service prefixes with at least one authorised call by a principal of `account`.
    #[must_use]
    pub fn services_used(&self, account: &str) -> BTreeSet<&str> {
        self.accounts
            .get(account)
            .map(|m| {
                m.iter()
                    .filter(|(_, u)| u.count > 0)
                    .map(|(s, _)| s.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn merge_actions(into: &mut BTreeMap<String, ActionUsage>, from: &BTreeMap<String, ActionUsage>) {
    for (k, v) in from {
        match into.get_mut(k) {
            Some(mine) => mine.merge(v),
            None => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

fn merge_one(into: &mut BTreeMap<String, ActionUsage>, action: &str, u: &ActionUsage) {
    match into.get_mut(action) {
        Some(mine) => mine.merge(u),
        None => {
            into.insert(action.to_owned(), u.clone());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn call(p: &'static str, action: &'static str, at: i64, outcome: Outcome) -> Call<'static> {
        Call {
            principal: p,
            kind: PrincipalKind::Role,
            account: "111122223333",
            session: None,
            action: Some(action),
            at: Timestamp(at),
            outcome,
        }
    }

    #[test]
    fn merge_is_order_independent() {
        let calls = [
            call("arn:r1", "s3:GetObject", 10, Outcome::Success),
            call("arn:r1", "s3:GetObject", 5, Outcome::Error),
            call("arn:r1", "iam:CreateUser", 7, Outcome::Denied),
            call("arn:r2", "ec2:RunInstances", 3, Outcome::Success),
        ];
        let mut whole = UsageTable::new();
        for c in &calls {
            whole.record(c, 1);
        }
        let mut a = UsageTable::new();
        let mut b = UsageTable::new();
        for (i, c) in calls.iter().enumerate() {
            if i % 2 == 0 { &mut a } else { &mut b }.record(c, 1);
        }
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        assert_eq!(ab, whole);
        assert_eq!(ba, whole);
        let u = whole.action("arn:r1", "S3:getobject").unwrap();
        assert_eq!((u.count, u.errors, u.denied), (2, 1, 0));
        assert_eq!(u.first_seen, Some(Timestamp(5)));
        assert_eq!(whole.last_used("arn:r1", "iam:CreateUser"), None);
        assert_eq!(whole.denied().count(), 1);
        assert_eq!(whole.last_activity("arn:r1"), Some(Timestamp(10)));
        assert_eq!(
            whole
                .services_used("111122223333")
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["ec2", "s3"]
        );
    }
}
