//! Usage in three states. Over a usage window, for an identity and an action it holds,
//! CloudTrail's evidence says one of three things:
//!
//! - **used**: a call was seen;
//! - **not used**: the organization's trails would have shown a call and show none;
//! - **unknown**: the trails do not record that action in that account — a data event
//!   (`s3:GetObject`, `dynamodb:Scan`, `lambda:InvokeFunction`, ...) whose resource type no
//!   trail logs, a management event no trail of the account logs —, or CloudTrail never records
//!   it on its own (`iam:PassRole`, checked inside the call that passes the role).
//!
//! Nothing unknown is ever called unused: standing privilege, unused services and zombie
//! identities rest only on what the trails could have shown ([`Observability`], built from
//! the snapshot's `trails.json` through [`latch_model::Visibility`]), and the firewall never
//! protects an action whose use is unknown without listing who may break.
//!
//! A second source, IAM's last-accessed data (`accounts/<id>/last-accessed.json`, see
//! [`last_accessed_advice`]), refines what CloudTrail leaves unknown and never overrides what
//! CloudTrail shows.
//!
//! Pure: the snapshot in, sets and verdicts out.

use std::collections::BTreeMap;

use latch_catalog::{ActionId, Catalog};
use latch_model::{Gap, Snapshot, Visibility};
use serde::Serialize;

use crate::ActionSet;

/// Why the use of an action (or a service) is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownReason {
    /// A data event whose resource type no trail of the account logs (in full).
    DataEventsNotLogged,
    /// A management event no trail of the account logs.
    ManagementEventsNotLogged,
    /// No CloudTrail event records it by itself (`iam:PassRole`, `sts:TagSession`,
    /// `sts:SetSourceIdentity`: AWS checks them inside other calls).
    NeverRecorded,
}

impl UnknownReason {
    /// What reports say, e.g. `usage unknown: data events not logged`.
    pub fn phrase(self) -> &'static str {
        match self {
            UnknownReason::DataEventsNotLogged => Gap::DataEventsNotLogged.phrase(),
            UnknownReason::ManagementEventsNotLogged => Gap::ManagementEventsNotLogged.phrase(),
            UnknownReason::NeverRecorded => {
                "usage unknown: CloudTrail never records it (AWS checks it inside other calls)"
            }
        }
    }
}

impl From<Gap> for UnknownReason {
    fn from(g: Gap) -> Self {
        match g {
            Gap::DataEventsNotLogged => UnknownReason::DataEventsNotLogged,
            Gap::ManagementEventsNotLogged => UnknownReason::ManagementEventsNotLogged,
        }
    }
}

/// An action or a service whose use is unknown, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct UnknownUsage {
    /// The action (`s3:GetObject`) or service prefix (`sns`).
    pub name: String,
    /// Why its use is unknown.
    pub reason: UnknownReason,
    /// The same for people: `usage unknown: data events not logged`.
    pub says: &'static str,
}

impl UnknownUsage {
    /// `name`, unknown for `reason`.
    pub fn new(name: impl Into<String>, reason: UnknownReason) -> UnknownUsage {
        UnknownUsage {
            name: name.into(),
            reason,
            says: reason.phrase(),
        }
    }
}

/// The usage of one action held by one identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A call was seen in the window.
    Used,
    /// The trails would have shown a call and show none.
    NotUsed,
    /// The trails cannot show a call.
    Unknown(UnknownReason),
}

/// Per account, which actions' use CloudTrail can show.
#[derive(Debug, Clone)]
pub struct Observability {
    visibility: Visibility,
    /// The actions whose use is unknown, per class of accounts the trails cover alike.
    classes: Vec<ActionSet>,
    /// Account → its class.
    class_of: BTreeMap<String, usize>,
    /// Every action: what an account this was not built for is unknown for.
    all: ActionSet,
    /// What CloudTrail never records by itself.
    never_recorded: ActionSet,
}

impl Observability {
    /// For every account of the snapshot (collected or only in the organization tree).
    pub fn of(snapshot: &Snapshot) -> Observability {
        let accounts: Vec<&str> = snapshot
            .accounts
            .keys()
            .map(String::as_str)
            .chain(
                snapshot
                    .organization
                    .iter()
                    .flat_map(|o| o.accounts().into_iter().map(|n| n.id.as_str())),
            )
            .collect();
        Observability::new(snapshot.visibility(), accounts)
    }

    /// From a visibility and the accounts to answer for. Accounts whose trails record the
    /// same calls share one set, so the catalog is swept once per distinct coverage.
    pub fn new<'a>(
        visibility: Visibility,
        accounts: impl IntoIterator<Item = &'a str>,
    ) -> Observability {
        let catalog = Catalog::get();
        let mut representatives: Vec<&str> = Vec::new();
        let mut classes = Vec::new();
        let mut class_of = BTreeMap::new();
        for a in accounts {
            if class_of.contains_key(a) {
                continue;
            }
            let class = match representatives
                .iter()
                .position(|r| visibility.same_coverage(r, a))
            {
                Some(i) => i,
                None => {
                    let mut set = ActionSet::empty();
                    for info in catalog.actions() {
                        if visibility.gap(a, info.id()).is_some() {
                            set.insert(info.id());
                        }
                    }
                    representatives.push(a);
                    classes.push(set);
                    classes.len() - 1
                }
            };
            class_of.insert(a.to_owned(), class);
        }
        Observability {
            visibility,
            classes,
            class_of,
            all: ActionSet::all(),
            never_recorded: ActionSet::from_patterns(
                latch_trail::mapping::NOT_OBSERVABLE.iter().copied(),
                false,
            ),
        }
    }

    /// The actions whose use in `account` the trails cannot show (not those CloudTrail never
    /// records by itself: see [`Observability::never_recorded`]). An account this was not
    /// built for: every action (fail closed).
    pub fn unknown_in(&self, account: &str) -> &ActionSet {
        self.class_of
            .get(account)
            .and_then(|&i| self.classes.get(i))
            .unwrap_or(&self.all)
    }

    /// The actions no CloudTrail event records by itself.
    pub fn never_recorded(&self) -> &ActionSet {
        &self.never_recorded
    }

    /// Why the use of `action` in `account` is unknown, or `None` when the trails would show
    /// a call.
    pub fn reason(&self, account: &str, action: ActionId) -> Option<UnknownReason> {
        if self.never_recorded.contains(action) {
            return Some(UnknownReason::NeverRecorded);
        }
        if !self.class_of.contains_key(account) {
            return Some(UnknownReason::ManagementEventsNotLogged);
        }
        self.visibility
            .gap(account, action)
            .map(UnknownReason::from)
    }

    /// The usage of `action` in `account`, given whether a call was seen. A call seen is a
    /// use whatever the trails are said to log.
    pub fn usage(&self, account: &str, action: ActionId, seen: bool) -> Usage {
        if seen {
            return Usage::Used;
        }
        match self.reason(account, action) {
            Some(why) => Usage::Unknown(why),
            None => Usage::NotUsed,
        }
    }

    /// The actions of `set` whose use in `account` is unknown, each with why, in catalog
    /// order.
    pub fn explain(&self, account: &str, set: &ActionSet) -> Vec<UnknownUsage> {
        set.ids()
            .filter_map(|id| {
                let name = Catalog::get().action_by_id(id)?.full_name();
                Some(UnknownUsage::new(name, self.reason(account, id)?))
            })
            .collect()
    }

    /// What people must know about the trails (no trails.json, selectors Latch does not
    /// interpret, single-region trails, accounts no trail covers).
    pub fn notes(&self) -> &[String] {
        self.visibility.notes()
    }
}

/// How long before the end of a usage window IAM's last-accessed report may have been
/// completed and still say that a service was *not* used in the window. IAM's own lag (recent
/// activity "usually appears within four hours") is inside this bound.
pub const LAST_ACCESSED_FRESHNESS_MS: i64 = 86_400_000;

/// What IAM's last-accessed data says of one identity over a usage window
/// `[since, until]` (epoch milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastAccessedAdvice {
    /// Tracked actions the identity attempted in the window.
    pub used: ActionSet,
    /// Every action of the services it made no attempt on in the window, when the report was
    /// completed within [`LAST_ACCESSED_FRESHNESS_MS`] of the window's end.
    pub not_used: ActionSet,
    /// Its last attempt on any service, in the window or not.
    pub last_activity_ms: Option<i64>,
}

/// The rule for IAM's last-accessed data (Access Advisor).
///
/// IAM records, for each identity, its last *attempt* on each service its permissions policies
/// allow — successful or denied, from the console, the CLI or an SDK — and, for the services
/// AWS tracks at action level, its last attempt on each tracked action; at least the last 400
/// days (IAM User Guide, "Refining permissions using last accessed information";
/// `GetServiceLastAccessedDetails`). So:
///
/// - a tracked action attempted in the window is *used* (an attempt, perhaps denied: never
///   called unused, never taken away);
/// - a service listed with no attempt since the window began was not used at all in the
///   window, whatever its events are: every one of its actions is *not used* — but only when
///   the report is fresh (completed within [`LAST_ACCESSED_FRESHNESS_MS`] of the window's
///   end), since it says nothing of what came after;
/// - an attempt on a service that tracks no action says that *some* action of it was used, not
///   which: nothing changes.
///
/// Callers apply the advice only to actions whose use CloudTrail cannot show
/// ([`Observability`]): it turns *unknown* into *used* or *not used*, and never overrides a
/// CloudTrail fact. Actions CloudTrail never records by itself (`iam:PassRole`) are only ever
/// turned into *used*: IAM checks them inside another service's call, and a service-level
/// silence says nothing of them.
pub fn last_accessed_advice(
    access: &latch_model::last_accessed::PrincipalAccess,
    since_ms: i64,
    until_ms: i64,
) -> LastAccessedAdvice {
    let catalog = Catalog::get();
    let fresh = access.job_completed.epoch_millis >= until_ms - LAST_ACCESSED_FRESHNESS_MS;
    let mut advice = LastAccessedAdvice::default();
    for (namespace, service) in &access.services {
        let last = service.last_authenticated.as_ref().map(|t| t.epoch_millis);
        advice.last_activity_ms = advice.last_activity_ms.max(last);
        for (action, at) in &service.actions {
            if (since_ms..=until_ms).contains(&at.epoch_millis) {
                if let Some(id) = catalog.resolve(action) {
                    advice.used.insert(id);
                }
            }
            advice.last_activity_ms = advice.last_activity_ms.max(Some(at.epoch_millis));
        }
        if fresh && last.is_none_or(|t| t < since_ms) {
            for id in catalog
                .service(namespace)
                .into_iter()
                .flat_map(|s| s.action_ids())
            {
                advice.not_used.insert(id);
            }
        }
    }
    advice
}

/// An identity's held actions in three states, with last-accessed data applied to those
/// CloudTrail leaves unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreeStates {
    /// Used in the window.
    pub used: ActionSet,
    /// Not used, where the evidence would have shown a use.
    pub unused: ActionSet,
    /// Of unknown use.
    pub unknown: ActionSet,
    /// Of `used` and `unused`, those whose state rests on IAM's last-accessed data.
    pub from_last_accessed: ActionSet,
}

/// Splits `held` by `seen` (the actions CloudTrail shows used in the window), the account's
/// observability, and the identity's last-accessed advice when there is any.
pub fn three_states(
    obs: &Observability,
    account: &str,
    held: &ActionSet,
    seen: &ActionSet,
    advice: Option<&LastAccessedAdvice>,
) -> ThreeStates {
    let mut hidden = obs.unknown_in(account).clone();
    hidden.union_with(obs.never_recorded());
    let mut used = held.clone();
    used.intersect_with(seen);
    let mut rest = held.clone();
    rest.subtract(seen);
    let mut unknown = rest.clone();
    unknown.intersect_with(&hidden);
    let mut unused = rest;
    unused.subtract(&hidden);
    let mut from_last_accessed = ActionSet::empty();
    if let Some(a) = advice {
        let mut now_used = unknown.clone();
        now_used.intersect_with(&a.used);
        unknown.subtract(&now_used);
        used.union_with(&now_used);
        let mut now_unused = unknown.clone();
        now_unused.intersect_with(&a.not_used);
        now_unused.subtract(obs.never_recorded());
        unknown.subtract(&now_unused);
        unused.union_with(&now_unused);
        from_last_accessed.union_with(&now_used);
        from_last_accessed.union_with(&now_unused);
    }
    ThreeStates {
        used,
        unused,
        unknown,
        from_last_accessed,
    }
}

/// What a zombie verdict ("no activity for N days") may rest on.
///
/// The rule: a verdict of idleness needs evidence that would have shown *any* call of the
/// identity. IAM's own last-used record does — a role's `RoleLastUsed`, a user's credential
/// report (password and access keys last used) — whatever the trails log. CloudTrail does
/// only when its trails record every action the identity may call in its account: an
/// identity that may call an action whose use is unknown (a data event no trail logs, say
/// `s3:GetObject`) may be calling exactly that every day, and CloudTrail's silence says
/// nothing. Actions CloudTrail never records by itself (`iam:PassRole`) do not count: they
/// are only ever checked inside another, recorded, call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdleEvidence {
    /// IAM's own last-used record of the identity.
    IamRecord,
    /// CloudTrail, whose trails record every action the identity may call.
    Trail,
    /// CloudTrail only, and the identity may call these actions, whose use the trails cannot
    /// show: no verdict.
    Unknown(ActionSet),
    /// Neither: no verdict.
    Nothing,
}

impl IdleEvidence {
    /// Whether a zombie verdict may rest on it.
    pub fn supports_verdict(&self) -> bool {
        matches!(self, IdleEvidence::IamRecord | IdleEvidence::Trail)
    }
}

/// The evidence of an identity's idleness: `iam_record` when IAM's own last-used record of
/// it is in the snapshot, `trail` when CloudTrail was analysed for its account, `allowed` the
/// actions it may call, `unknown` those whose use the trails of its account cannot show.
pub fn idle_evidence(
    iam_record: bool,
    trail: bool,
    allowed: &ActionSet,
    unknown: &ActionSet,
    never_recorded: &ActionSet,
) -> IdleEvidence {
    if iam_record {
        return IdleEvidence::IamRecord;
    }
    if !trail {
        return IdleEvidence::Nothing;
    }
    let mut hidden = allowed.clone();
    hidden.intersect_with(unknown);
    hidden.subtract(never_recorded);
    if hidden.is_empty() {
        IdleEvidence::Trail
    } else {
        IdleEvidence::Unknown(hidden)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use latch_model::trails::parse_trails;

    fn id(name: &str) -> ActionId {
        Catalog::get().resolve(name).unwrap()
    }

    const A: &str = "111122223333";
    const B: &str = "444455556666";

    fn observability(trails: Option<serde_json::Value>) -> Observability {
        let v = match trails {
            None => Visibility::assumed(),
            Some(t) => Visibility::from_trails(&parse_trails(&t).unwrap(), [A, B]),
        };
        Observability::new(v, [A, B])
    }

    fn org_trail(data_resources: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"format": "latch.trails/v1", "trails": [{
            "name": "org", "account": A, "home_region": "us-east-1",
            "organization_trail": true, "multi_region": true,
            "event_selectors": [{"ReadWriteType": "All", "IncludeManagementEvents": true,
                                 "DataResources": data_resources}]}]})
    }

    // AWS CloudTrail User Guide, "Logging data events": "By default, trails and event data
    // stores do not log data events"; management events are logged by default.
    #[test]
    fn without_trails_json_data_events_are_unknown_and_management_events_known() {
        let o = observability(None);
        assert_eq!(
            o.usage(A, id("s3:GetObject"), false),
            Usage::Unknown(UnknownReason::DataEventsNotLogged)
        );
        assert_eq!(
            o.usage(A, id("dynamodb:Scan"), false),
            Usage::Unknown(UnknownReason::DataEventsNotLogged)
        );
        assert_eq!(o.usage(A, id("iam:CreateRole"), false), Usage::NotUsed);
        assert_eq!(o.usage(A, id("iam:CreateRole"), true), Usage::Used);
        // A call seen is a use even where the trails are said not to log it.
        assert_eq!(o.usage(A, id("s3:GetObject"), true), Usage::Used);
        assert!(o.unknown_in(A).contains(id("s3:GetObject")));
        assert!(!o.unknown_in(A).contains(id("iam:CreateRole")));
        assert!(o.notes()[0].contains("no trails.json"));
    }

    // CloudTrail API reference, `DataResource`: `arn:aws:s3` (or `arn:aws:s3:::`) selects the
    // data events of every bucket; a bucket's ARN prefix selects only that bucket's.
    #[test]
    fn an_s3_data_event_selector_for_every_bucket_makes_object_reads_known() {
        let all = observability(Some(org_trail(serde_json::json!([
            {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}
        ]))));
        for a in [A, B] {
            assert_eq!(all.usage(a, id("s3:GetObject"), false), Usage::NotUsed);
            assert_eq!(all.usage(a, id("s3:PutObject"), false), Usage::NotUsed);
            // Another data-event type stays unknown.
            assert_eq!(
                all.usage(a, id("dynamodb:Scan"), false),
                Usage::Unknown(UnknownReason::DataEventsNotLogged)
            );
            assert_eq!(all.usage(a, id("iam:CreateRole"), false), Usage::NotUsed);
        }
        let one_bucket = observability(Some(org_trail(serde_json::json!([
            {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::payroll/"]}
        ]))));
        // Calls on other buckets would not show: still unknown.
        assert_eq!(
            one_bucket.usage(A, id("s3:GetObject"), false),
            Usage::Unknown(UnknownReason::DataEventsNotLogged)
        );
    }

    #[test]
    fn never_recorded_actions_are_unknown_whatever_the_trails_log() {
        let o = observability(Some(org_trail(serde_json::json!([]))));
        assert_eq!(
            o.usage(A, id("iam:PassRole"), false),
            Usage::Unknown(UnknownReason::NeverRecorded)
        );
        assert!(!o.unknown_in(A).contains(id("iam:PassRole")));
        assert!(o.never_recorded().contains(id("iam:PassRole")));
        // An account the observability was not built for: nothing is known there.
        assert!(o.unknown_in("999999999999").contains(id("iam:CreateRole")));
        assert_eq!(
            o.reason("999999999999", id("iam:CreateRole")),
            Some(UnknownReason::ManagementEventsNotLogged)
        );
    }

    #[test]
    fn explain_names_each_unknown_action_with_why() {
        let o = observability(None);
        let set =
            ActionSet::from_patterns(["s3:GetObject", "iam:CreateRole", "iam:PassRole"], false);
        let got = o.explain(A, &set);
        let names: Vec<(&str, &str)> = got.iter().map(|u| (u.name.as_str(), u.says)).collect();
        assert_eq!(
            names,
            [
                ("iam:PassRole", UnknownReason::NeverRecorded.phrase()),
                ("s3:GetObject", "usage unknown: data events not logged"),
            ]
        );
    }

    #[test]
    fn a_zombie_verdict_never_rests_on_unknown_actions() {
        let o = observability(None);
        let unknown = o.unknown_in(A);
        let never = o.never_recorded();
        let mgmt = ActionSet::from_patterns(["iam:CreateRole", "iam:PassRole"], false);
        let data = ActionSet::from_patterns(["iam:CreateRole", "s3:GetObject"], false);
        // IAM's own record covers every call.
        assert_eq!(
            idle_evidence(true, false, &data, unknown, never),
            IdleEvidence::IamRecord
        );
        // CloudTrail alone covers an identity that may only make recorded calls
        // (iam:PassRole is only ever checked inside a recorded call).
        assert_eq!(
            idle_evidence(false, true, &mgmt, unknown, never),
            IdleEvidence::Trail
        );
        // ... but not one that may read S3 objects while data events are not logged.
        let e = idle_evidence(false, true, &data, unknown, never);
        assert!(!e.supports_verdict());
        let IdleEvidence::Unknown(hidden) = e else {
            panic!("{e:?}")
        };
        assert_eq!(hidden.names(), ["s3:GetObject"]);
        assert_eq!(
            idle_evidence(false, false, &mgmt, unknown, never),
            IdleEvidence::Nothing
        );
    }
}
