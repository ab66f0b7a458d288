//! The organization's directory of people — IAM Identity Center's identity store and its
//! account assignments — as the control plane keeps it: who someone is, their emails and
//! groups, and which `AWSReservedSSO_*` role they reach in which account.
//!
//! Directory data only says *who* someone is and who may approve. A grant never waits on a
//! sync: it is the `aws:userid` exemption `<role id>:<user name>` on one account's role,
//! applied and removed by Latch. What a sync changes is computed here, purely ([`sync`]):
//! people who appeared, left, were deactivated or came back, changed groups, emails or
//! assignments, each an audit entry; the pending requests of people who left or were
//! deactivated are cancelled and their live grants revoked, in the same [`Changeset`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::records::{
    AuditEvent, Changeset, GrantRecord, GrantStatus, Identity, IdentityKind, Millis, RequestRecord,
    RequestStatus, Write,
};

/// The actor of what a sync does.
pub const SYNC_ACTOR: &str = "latch:directory";

/// One role a person reaches: an Identity Center permission set assigned to them (directly or
/// through a group) on one account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AccountRole {
    /// The 12-digit account id.
    pub account: String,
    /// The permission set's name.
    pub permission_set: String,
    /// The `AWSReservedSSO_<permission set>_<hash>` role's unique id (`AROA…`) in the account;
    /// `None` when the account holds no such role (not provisioned yet, or the account could
    /// not be read).
    pub role_id: Option<String>,
}

impl AccountRole {
    /// The `aws:userid` of `user_name`'s sessions of this role (`AROA…:alice@example.com`:
    /// Identity Center names each session after the user name), when the role is known.
    #[must_use]
    pub fn userid(&self, user_name: &str) -> Option<String> {
        self.role_id.as_ref().map(|id| format!("{id}:{user_name}"))
    }
}

/// A person as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryPerson {
    /// The identity store's user id.
    pub user_id: String,
    /// The user name: their name in Latch, and their session name in every account.
    pub user_name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Primary email.
    #[serde(default)]
    pub email: Option<String>,
    /// False when deactivated in the identity store.
    pub active: bool,
    /// The groups they belong to, by display name.
    #[serde(default)]
    pub groups: BTreeSet<String>,
    /// The roles they reach, sorted.
    #[serde(default)]
    pub roles: Vec<AccountRole>,
}

/// What one read of the directory found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    /// Every user of the identity store.
    pub people: Vec<DirectoryPerson>,
    /// What could not be read (an account whose roles are unknown, …): the sync goes on, and
    /// says so.
    pub notes: Vec<String>,
}

/// A read of the directory failed as a whole: nothing is changed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("directory: {0}")]
pub struct DirectoryError(pub String);

/// Where the directory comes from (`latch-aws` reads IAM Identity Center; tests use
/// [`FakeDirectory`]). A read that cannot list every user and group must fail rather than
/// return fewer: a person missing from a read counts as gone.
#[async_trait]
pub trait DirectorySource: Send + Sync + fmt::Debug {
    /// Read every person, their groups and their roles.
    async fn read(&self) -> Result<Directory, DirectoryError>;
}

/// A directory in memory, for tests: set its people, make reads fail, count reads.
#[derive(Debug, Default)]
pub struct FakeDirectory {
    directory: Mutex<Directory>,
    fail: AtomicBool,
    reads: AtomicUsize,
}

impl FakeDirectory {
    /// An empty directory.
    #[must_use]
    pub fn new() -> Self {
        FakeDirectory::default()
    }

    /// What the next reads return.
    pub fn set(&self, directory: Directory) {
        *self
            .directory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = directory;
    }

    /// Change one person (by user name) in place.
    pub fn edit(&self, user_name: &str, f: impl FnOnce(&mut DirectoryPerson)) {
        let mut d = self
            .directory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = d.people.iter_mut().find(|p| p.user_name == user_name) {
            f(p);
        }
    }

    /// Make reads fail (true) or work (false).
    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    /// How many reads were made.
    #[must_use]
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl DirectorySource for FakeDirectory {
    async fn read(&self) -> Result<Directory, DirectoryError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(DirectoryError("the directory is unreachable (fake)".into()));
        }
        Ok(self
            .directory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone())
    }
}

/// A change to the stored directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryWrite {
    /// Insert or replace a person (by user id).
    Put(DirectoryPerson),
    /// Forget a person (by user id).
    Remove(String),
}

/// What a sync changes, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncCounts {
    /// People in the directory after the sync.
    pub people: usize,
    /// New people.
    pub added: usize,
    /// People no longer in the directory.
    pub removed: usize,
    /// People deactivated.
    pub deactivated: usize,
    /// People active again.
    pub reactivated: usize,
    /// People whose groups, email, name or roles changed.
    pub changed: usize,
    /// Pending requests cancelled.
    pub requests_cancelled: usize,
    /// Live grants revoked.
    pub grants_revoked: usize,
}

/// A sync's outcome: what to commit, and its counts.
#[derive(Debug, Clone, Default)]
pub struct SyncPlan {
    /// Directory rows, cancelled requests, revoked grants and their audit entries, to commit
    /// as one.
    pub changes: Changeset,
    /// The directory writes (also in `changes`).
    pub counts: SyncCounts,
}

impl SyncPlan {
    /// True when the sync changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

fn person_event(kind: &str, p: &DirectoryPerson, now: Millis) -> AuditEvent {
    AuditEvent::new(now, kind)
        .actor(SYNC_ACTOR)
        .subject(&p.user_name)
        .details(json!({
            "user_id": p.user_id,
            "user_name": p.user_name,
            "email": p.email,
            "active": p.active,
            "groups": p.groups,
            "roles": p.roles.len(),
        }))
}

fn set_diff<'a, T: Ord + Clone + 'a>(
    old: impl IntoIterator<Item = &'a T>,
    new: impl IntoIterator<Item = &'a T>,
) -> (Vec<T>, Vec<T>) {
    let old: BTreeSet<&T> = old.into_iter().collect();
    let new: BTreeSet<&T> = new.into_iter().collect();
    (
        new.difference(&old).map(|t| (*t).clone()).collect(),
        old.difference(&new).map(|t| (*t).clone()).collect(),
    )
}

fn role_label(r: &AccountRole) -> String {
    format!("{}/{}", r.account, r.permission_set)
}

/// What changed about one person who is in both reads, as an audit entry (`None`: nothing).
fn person_changed(old: &DirectoryPerson, new: &DirectoryPerson, now: Millis) -> Option<AuditEvent> {
    let (groups_added, groups_removed) = set_diff(&old.groups, &new.groups);
    let (roles_added, roles_removed) = set_diff(&old.roles, &new.roles);
    let mut fields = Vec::new();
    if old.user_name != new.user_name {
        fields.push("user_name");
    }
    if old.email != new.email {
        fields.push("email");
    }
    if old.display_name != new.display_name {
        fields.push("display_name");
    }
    if fields.is_empty()
        && groups_added.is_empty()
        && groups_removed.is_empty()
        && roles_added.is_empty()
        && roles_removed.is_empty()
    {
        return None;
    }
    Some(
        AuditEvent::new(now, "directory.person_changed")
            .actor(SYNC_ACTOR)
            .subject(&new.user_name)
            .details(json!({
                "user_id": new.user_id,
                "user_name": new.user_name,
                "previous_user_name": (old.user_name != new.user_name).then_some(&old.user_name),
                "fields": fields,
                "email": new.email,
                "groups_added": groups_added,
                "groups_removed": groups_removed,
                "roles_added": roles_added.iter().map(role_label).collect::<Vec<_>>(),
                "roles_removed": roles_removed.iter().map(role_label).collect::<Vec<_>>(),
            })),
    )
}

/// Compare what the store holds (`stored`) with a fresh read, and plan the changes: directory
/// rows to write, an audit entry per person who appeared, left, was deactivated or came back,
/// or whose groups, email, name or roles changed; for every person who left or was
/// deactivated, their pending requests cancelled and their live (`approved` or `active`)
/// grants revoked. `pending` and `live` are the store's pending requests and live grants; a
/// person is matched to them by user name (a person's name in Latch).
///
/// `keep` names people who remain people whatever the directory says (those of the server's
/// `[identities]`): their requests and grants are left alone.
#[must_use]
pub fn sync(
    stored: &[DirectoryPerson],
    read: &Directory,
    pending: &[RequestRecord],
    live: &[GrantRecord],
    keep: &BTreeSet<String>,
    now: Millis,
) -> SyncPlan {
    let old: BTreeMap<&str, &DirectoryPerson> =
        stored.iter().map(|p| (p.user_id.as_str(), p)).collect();
    let new: BTreeMap<&str, &DirectoryPerson> = read
        .people
        .iter()
        .map(|p| (p.user_id.as_str(), p))
        .collect();
    let mut plan = SyncPlan::default();
    let mut gone: BTreeMap<String, &'static str> = BTreeMap::new();
    for (id, p) in &new {
        match old.get(id) {
            None => {
                plan.counts.added += 1;
                plan.changes
                    .audit
                    .push(person_event("directory.person_added", p, now));
                plan.changes
                    .directory
                    .push(DirectoryWrite::Put((*p).clone()));
                if !p.active {
                    gone.insert(p.user_name.clone(), "is deactivated in the directory");
                }
            }
            Some(o) if *o == *p => {}
            Some(o) => {
                if o.active && !p.active {
                    plan.counts.deactivated += 1;
                    plan.changes
                        .audit
                        .push(person_event("directory.person_deactivated", p, now));
                    gone.insert(p.user_name.clone(), "was deactivated in the directory");
                } else if !o.active && p.active {
                    plan.counts.reactivated += 1;
                    plan.changes
                        .audit
                        .push(person_event("directory.person_reactivated", p, now));
                }
                if let Some(ev) = person_changed(o, p, now) {
                    plan.counts.changed += 1;
                    plan.changes.audit.push(ev);
                }
                if o.user_name != p.user_name && o.active {
                    // Requests and grants name the old user name, and sessions of the roles
                    // are named after the new one: the old name's grants no longer match.
                    gone.insert(o.user_name.clone(), "was renamed in the directory");
                }
                plan.changes
                    .directory
                    .push(DirectoryWrite::Put((*p).clone()));
            }
        }
    }
    for (id, o) in &old {
        if !new.contains_key(id) {
            plan.counts.removed += 1;
            plan.changes
                .audit
                .push(person_event("directory.person_removed", o, now));
            plan.changes
                .directory
                .push(DirectoryWrite::Remove((*id).to_owned()));
            if o.active {
                gone.insert(o.user_name.clone(), "was removed from the directory");
            }
        }
    }
    // Someone renamed to a name another person just left is still a person.
    for p in read.people.iter().filter(|p| p.active) {
        gone.remove(&p.user_name);
    }
    for name in keep {
        gone.remove(name);
    }
    for r in pending
        .iter()
        .filter(|r| r.status == RequestStatus::Pending)
    {
        let Some(why) = gone.get(&r.requester) else {
            continue;
        };
        let mut c = r.clone();
        c.status = RequestStatus::Cancelled;
        c.decided_at = Some(now);
        c.tier_deadline = None;
        plan.counts.requests_cancelled += 1;
        plan.changes.audit.push(
            AuditEvent::new(now, "request.cancelled")
                .actor(SYNC_ACTOR)
                .subject(&r.id)
                .details(json!({
                    "requester": r.requester,
                    "bundle": r.bundle,
                    "why": format!("{} {why}", r.requester),
                })),
        );
        plan.changes.requests.push(Write::Update(c));
    }
    for g in live
        .iter()
        .filter(|g| matches!(g.status, GrantStatus::Approved | GrantStatus::Active))
    {
        let Some(why) = gone.get(&g.requester) else {
            continue;
        };
        let t =
            crate::workflow::revoking(g, SYNC_ACTOR, &format!("{} {why}", g.requester), None, now);
        plan.counts.grants_revoked += 1;
        plan.changes.audit.extend(t.changes.audit);
        plan.changes.grants.extend(t.changes.grants);
    }
    plan.counts.people = read.people.len();
    if !plan.changes.is_empty() {
        plan.changes.audit.push(
            AuditEvent::new(now, "directory.synced")
                .actor(SYNC_ACTOR)
                .details(json!({
                    "counts": plan.counts,
                    "notes": read.notes,
                })),
        );
    }
    plan
}

/// The `aws:userid` identity of `user_name`'s sessions of `role`, when the role is known.
#[must_use]
pub fn identity_of(role: &AccountRole, user_name: &str) -> Option<Identity> {
    role.userid(user_name).map(|id| Identity {
        kind: IdentityKind::IdentityCenter,
        id,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::records::Decision;
    use crate::rules::{ApprovalPolicy, Bundle, Person, Rules, Tier};
    use crate::workflow::{self, NewRequest, RefusalCode};

    const T0: Millis = 1_800_000_000_000;

    fn role(account: &str, set: &str, id: Option<&str>) -> AccountRole {
        AccountRole {
            account: account.into(),
            permission_set: set.into(),
            role_id: id.map(str::to_owned),
        }
    }

    fn person(id: &str, name: &str, groups: &[&str], roles: Vec<AccountRole>) -> DirectoryPerson {
        DirectoryPerson {
            user_id: id.into(),
            user_name: name.into(),
            display_name: None,
            email: Some(name.into()),
            active: true,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            roles,
        }
    }

    fn alice() -> DirectoryPerson {
        person(
            "u-alice",
            "alice@example.com",
            &["Engineers"],
            vec![
                role("111111111111", "AdministratorAccess", Some("AROAPROD")),
                role("222222222222", "AdministratorAccess", Some("AROASTAGE")),
                role("222222222222", "ReadOnly", Some("AROASTAGERO")),
                role("333333333333", "AdministratorAccess", None),
            ],
        )
    }

    fn bob() -> DirectoryPerson {
        person("u-bob", "bob@example.com", &["Security"], Vec::new())
    }

    fn rules() -> Rules {
        let mut bundles = BTreeMap::new();
        bundles.insert(
            "iam-admin".to_owned(),
            Bundle {
                name: "iam-admin".into(),
                max_duration_secs: 3600,
                max_total_secs: 3600,
                self_extend_secs: 0,
                on_call: None,
                policy: ApprovalPolicy {
                    auto_approve: false,
                    required_approvals: 1,
                    tiers: vec![Tier {
                        approvers: vec!["carol".into()],
                        directory_groups: vec!["Security".into()],
                        timeout_secs: 600,
                    }],
                },
                scoped: Vec::new(),
                scope: None,
                description: None,
            },
        );
        let mut people = BTreeMap::new();
        people.insert(
            "carol".to_owned(),
            Person {
                name: "carol".into(),
                aws: Some(Identity {
                    kind: IdentityKind::Role,
                    id: "arn:aws:iam::111111111111:role/carol".into(),
                }),
                email: None,
                chat: BTreeMap::new(),
                roles: Vec::new(),
                groups: BTreeSet::new(),
            },
        );
        Rules {
            people,
            bundles,
            max_reason_chars: 1000,
            ..Rules::default()
        }
    }

    fn ask(who: &str, account: Option<&str>, set: Option<&str>) -> NewRequest {
        NewRequest {
            requester: who.into(),
            bundle: "iam-admin".into(),
            duration_secs: 600,
            reason: "INC-7".into(),
            break_glass: false,
            source: "api".into(),
            accounts: account.map(str::to_owned).into_iter().collect(),
            permission_set: set.map(str::to_owned),
            starts_at: None,
        }
    }

    fn grant_of(r: &RequestRecord, id: &str, status: GrantStatus) -> GrantRecord {
        GrantRecord {
            id: id.into(),
            request_id: r.id.clone(),
            requester: r.requester.clone(),
            identity: r.identity.clone(),
            account: r.account.clone(),
            permission_set: r.permission_set.clone(),
            starts_at: None,
            bundle: r.bundle.clone(),
            status,
            break_glass: false,
            created_at: T0,
            activated_at: Some(T0),
            expires_at: T0 + 600_000,
            ended_at: None,
            revoked_by: None,
            revoke_reason: None,
            session_cutoff: None,
            reminded_at: None,
            version: 1,
        }
    }

    fn directory(people: Vec<DirectoryPerson>) -> Directory {
        Directory {
            people,
            notes: Vec::new(),
        }
    }

    fn kinds(plan: &SyncPlan) -> Vec<&str> {
        plan.changes.audit.iter().map(|e| e.kind.as_str()).collect()
    }

    #[test]
    fn directory_people_become_people_and_groups_approve() {
        let r = rules().with_directory(&[alice(), bob()]);
        let a = &r.people["alice@example.com"];
        assert_eq!(a.aws, None);
        assert_eq!(a.roles.len(), 4);
        assert_eq!(a.email.as_deref(), Some("alice@example.com"));
        // The Security group's active member approves beside the configured approver.
        assert_eq!(
            r.bundles["iam-admin"].policy.tiers[0].approvers,
            vec!["bob@example.com".to_owned(), "carol".to_owned()]
        );
        // A deactivated member neither asks nor approves.
        let mut gone = bob();
        gone.active = false;
        let r = rules().with_directory(&[alice(), gone]);
        assert!(!r.people.contains_key("bob@example.com"));
        assert_eq!(
            r.bundles["iam-admin"].policy.tiers[0].approvers,
            vec!["carol".to_owned()]
        );
        assert_eq!(
            r.person_by_email("ALICE@example.com").unwrap().name,
            "alice@example.com"
        );
        // An email two people share identifies neither.
        let mut twin = bob();
        twin.user_id = "u-twin".into();
        twin.user_name = "alice2".into();
        twin.email = Some("alice@example.com".into());
        let r = rules().with_directory(&[alice(), twin]);
        assert!(r.person_by_email("alice@example.com").is_none());
    }

    #[test]
    fn a_request_lands_on_the_account_role_it_names_and_nothing_else() {
        let r = rules().with_directory(&[alice(), bob()]);
        let t = workflow::open_request(
            &r,
            &ask("alice@example.com", Some("111111111111"), None),
            "r-1",
            "g-1",
            T0,
        )
        .unwrap();
        let req = t.request.unwrap();
        assert_eq!(req.identity.kind, IdentityKind::IdentityCenter);
        assert_eq!(req.identity.id, "AROAPROD:alice@example.com");
        assert_eq!(req.account.as_deref(), Some("111111111111"));
        assert_eq!(req.permission_set.as_deref(), Some("AdministratorAccess"));

        let refused = |account: Option<&str>, set: Option<&str>| {
            let e = workflow::open_request(
                &r,
                &ask("alice@example.com", account, set),
                "r-2",
                "g-2",
                T0,
            )
            .unwrap_err();
            assert_eq!(e.code, RefusalCode::InvalidTarget);
            e.message
        };
        // Several accounts: name one.
        assert!(refused(None, None).contains("name the account"));
        // Two permission sets on one account: name one; naming it works.
        assert!(refused(Some("222222222222"), None).contains("AdministratorAccess, ReadOnly"));
        let t = workflow::open_request(
            &r,
            &ask("alice@example.com", Some("222222222222"), Some("readonly")),
            "r-3",
            "g-3",
            T0,
        )
        .unwrap();
        assert_eq!(
            t.request.unwrap().identity.id,
            "AROASTAGERO:alice@example.com"
        );
        // An account she is not assigned on, and one whose role is not there yet.
        assert!(refused(Some("444444444444"), None).contains("is not assigned"));
        assert!(refused(Some("333333333333"), None).contains("holds no role"));
        assert!(refused(Some("12345"), None).contains("12 digits"));
        // A configured person's grants land on their identity, not on an account.
        let e = workflow::open_request(&r, &ask("carol", Some("111111111111"), None), "r", "g", T0)
            .unwrap_err();
        assert_eq!(e.code, RefusalCode::InvalidTarget);
        // Someone who reaches nothing through Identity Center cannot ask.
        let e = workflow::open_request(&r, &ask("bob@example.com", None, None), "r", "g", T0)
            .unwrap_err();
        assert!(e.message.contains("reaches no account"), "{e}");
    }

    #[test]
    fn one_request_for_several_accounts_is_approved_once_into_one_grant_per_account() {
        let r = rules().with_directory(&[alice(), bob()]);
        let mut new = ask("alice@example.com", None, Some("AdministratorAccess"));
        new.accounts = vec![
            "111111111111".into(),
            "222222222222".into(),
            " 111111111111".into(),
        ];
        let t = workflow::open_request(&r, &new, "r-1", "g-1", T0).unwrap();
        let req = t.request.unwrap();
        // Pending: no grant before the one approval.
        assert!(t.grants.is_empty());
        let targets = req.targets();
        assert_eq!(
            targets
                .iter()
                .map(|t| (t.account_id().unwrap(), t.identity.id.as_str()))
                .collect::<Vec<_>>(),
            vec![
                ("111111111111", "AROAPROD:alice@example.com"),
                ("222222222222", "AROASTAGE:alice@example.com"),
            ]
        );
        let created = &t.changes.audit[0];
        assert_eq!(
            created.details["more_targets"][0]["account"],
            "222222222222"
        );
        // One approval: one grant per account, all with the request's id.
        let d =
            workflow::decide(&r, &req, &[], "carol", Decision::Approve, None, "g-9", T0).unwrap();
        let ids: Vec<(&str, &str, Option<&str>)> = d
            .grants
            .iter()
            .map(|g| (g.id.as_str(), g.request_id.as_str(), g.account.as_deref()))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("g-9", "r-1", Some("111111111111")),
                ("g-9-2", "r-1", Some("222222222222")),
            ]
        );
        assert_eq!(d.changes.grants.len(), 2);
        let kinds: Vec<&str> = d.changes.audit.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            vec![
                "approval.approve",
                "request.approved",
                "grant.created",
                "grant.created"
            ]
        );
        assert_eq!(d.changes.audit[1].details["grant_ids"][1], "g-9-2");
        // One account outside her reach refuses the whole request, naming it.
        new.accounts.push("444444444444".into());
        let e = workflow::open_request(&r, &new, "r-2", "g-2", T0).unwrap_err();
        assert_eq!(e.code, RefusalCode::InvalidTarget);
        assert!(e.message.contains("444444444444"), "{e}");
        // So does asking for more accounts than one request may name.
        new.accounts = (0..=workflow::MAX_TARGETS)
            .map(|i| format!("{:012}", 100_000_000_000_u64 + i as u64))
            .collect();
        let e = workflow::open_request(&r, &new, "r-3", "g-3", T0).unwrap_err();
        assert!(e.message.contains("at most 20"), "{e}");
    }

    #[test]
    fn a_sync_audits_who_appeared_changed_and_left() {
        let first = sync(
            &[],
            &directory(vec![alice(), bob()]),
            &[],
            &[],
            &BTreeSet::new(),
            T0,
        );
        assert_eq!(
            kinds(&first),
            vec![
                "directory.person_added",
                "directory.person_added",
                "directory.synced"
            ]
        );
        assert_eq!(first.counts.added, 2);
        assert_eq!(first.changes.directory.len(), 2);
        let stored = vec![alice(), bob()];
        // Nothing changed: nothing to write, not even an entry.
        let same = sync(
            &stored,
            &directory(stored.clone()),
            &[],
            &[],
            &BTreeSet::new(),
            T0,
        );
        assert!(same.is_empty());
        // Bob joins Platform and leaves Security; alice loses stage and is removed next time.
        let mut b = bob();
        b.groups = ["Platform".to_owned()].into_iter().collect();
        let mut a = alice();
        a.roles.retain(|r| r.account != "222222222222");
        let changed = sync(
            &stored,
            &directory(vec![a, b]),
            &[],
            &[],
            &BTreeSet::new(),
            T0,
        );
        assert_eq!(changed.counts.changed, 2);
        let bob_change = changed
            .changes
            .audit
            .iter()
            .find(|e| e.subject.as_deref() == Some("bob@example.com"))
            .unwrap();
        assert_eq!(bob_change.details["groups_added"], json!(["Platform"]));
        assert_eq!(bob_change.details["groups_removed"], json!(["Security"]));
        let alice_change = changed
            .changes
            .audit
            .iter()
            .find(|e| e.subject.as_deref() == Some("alice@example.com"))
            .unwrap();
        assert_eq!(
            alice_change.details["roles_removed"],
            json!(["222222222222/AdministratorAccess", "222222222222/ReadOnly"])
        );
        let removed = sync(
            &stored,
            &directory(vec![bob()]),
            &[],
            &[],
            &BTreeSet::new(),
            T0,
        );
        assert_eq!(
            kinds(&removed),
            vec!["directory.person_removed", "directory.synced"]
        );
        assert_eq!(
            removed.changes.directory,
            vec![DirectoryWrite::Remove("u-alice".into())]
        );
    }

    #[test]
    fn leaving_cancels_pending_requests_and_revokes_live_grants_only_of_who_left() {
        let r = rules().with_directory(&[alice(), bob()]);
        let pending = workflow::open_request(
            &r,
            &ask("alice@example.com", Some("111111111111"), None),
            "r-1",
            "g-1",
            T0,
        )
        .unwrap()
        .request
        .unwrap();
        let mut live = grant_of(&pending, "g-9", GrantStatus::Active);
        live.request_id = "r-0".into();
        let mut ended = live.clone();
        ended.id = "g-8".into();
        ended.status = GrantStatus::Expired;
        let mut others = live.clone();
        others.id = "g-7".into();
        others.requester = "carol".into();
        let stored = vec![alice(), bob()];
        let mut deactivated = alice();
        deactivated.active = false;
        let plan = sync(
            &stored,
            &directory(vec![deactivated, bob()]),
            std::slice::from_ref(&pending),
            &[live.clone(), ended, others],
            &BTreeSet::new(),
            T0 + 1,
        );
        assert_eq!(plan.counts.deactivated, 1);
        assert_eq!(plan.counts.requests_cancelled, 1);
        assert_eq!(plan.counts.grants_revoked, 1);
        assert_eq!(
            kinds(&plan),
            vec![
                "directory.person_deactivated",
                "request.cancelled",
                "grant.revoke_requested",
                "directory.synced"
            ]
        );
        let Write::Update(g) = &plan.changes.grants[0] else {
            panic!("an update")
        };
        assert_eq!(g.id, "g-9");
        assert_eq!(g.status, GrantStatus::Revoking);
        assert_eq!(g.revoked_by.as_deref(), Some(SYNC_ACTOR));
        assert_eq!(
            g.revoke_reason.as_deref(),
            Some("alice@example.com was deactivated in the directory")
        );
        assert_eq!(g.session_cutoff, None);
        let Write::Update(c) = &plan.changes.requests[0] else {
            panic!("an update")
        };
        assert_eq!(c.status, RequestStatus::Cancelled);
        // A person the configuration names keeps their requests and grants.
        let keep: BTreeSet<String> = ["alice@example.com".to_owned()].into_iter().collect();
        let mut deactivated = alice();
        deactivated.active = false;
        let kept = sync(
            &stored,
            &directory(vec![deactivated, bob()]),
            &[pending],
            &[live],
            &keep,
            T0 + 1,
        );
        assert_eq!(kept.counts.grants_revoked, 0);
        assert_eq!(kept.counts.requests_cancelled, 0);
    }
}
