//! IAM Identity Center as the control plane's directory of people
//! ([`latch_grant::directory::DirectorySource`]): every user of the identity store with their
//! primary email, whether they may sign in, their groups, and the `AWSReservedSSO_*` role
//! (with its unique id, the `AROA…` of their sessions' `aws:userid`) of every permission set
//! they are assigned on every account, directly or through a group.
//!
//! A read lists the organization's accounts ([`crate::org::read_accounts`]), reads Identity
//! Center with the collector of `identity-center.json` ([`crate::identity_center::read`],
//! through the connection's region), checks the file with `latch-model`'s reader, and then
//! lists, in each account that has an assignment, the roles under
//! `/aws-reserved/sso.amazonaws.com/` (`iam:ListRoles`, every page): in member accounts through
//! the role the grants assume ([`AccountAccess`]), in the credentials' own account directly.
//! Accounts are read [`Aws::concurrency`] at a time; calls are retried as the connection's
//! SDK configuration says.
//!
//! Fail closed: a person missing from a read counts as gone (their requests are cancelled and
//! their grants revoked), so a read that could not list every user, group, group membership or
//! permission set fails as a whole ([`DirectoryError`] names what failed) rather than return
//! fewer. What is limited to one account — its assignments of a permission set, or its roles —
//! is a note of the [`Directory`]; an account whose roles could not be listed gives roles
//! without an id (`role_id: None`).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use futures::StreamExt;
use latch_grant::directory::{
    AccountRole, Directory, DirectoryError, DirectoryPerson, DirectorySource,
};
use latch_model::identity_center::{
    is_role_path, parse_identity_center, permission_set_name, IdentityCenter, ROLE_PATH,
};

use crate::apply::AccountAccess;
use crate::connect::CallerIdentity;
use crate::error::{call_err, AwsError, Result};
use crate::identity_center::{self, Collected};
use crate::progress::Silent;
use crate::Aws;

/// Page size of `iam:ListRoles` (the most it accepts).
const ROLES_PAGE_SIZE: i32 = 1000;

/// An error in a note or a [`DirectoryError`] is cut to its first line and this many
/// characters (an endpoint that does not implement an operation may answer a whole HTML page).
const MESSAGE_MAX: usize = 300;

/// The roles of one account under the Identity Center path, as `(role name, role id)`, by
/// account id.
pub type AccountRoles = BTreeMap<String, Vec<(String, String)>>;

/// The organization's IAM Identity Center, read as a directory of people.
#[derive(Debug, Clone)]
pub struct IdentityCenterDirectory {
    aws: Aws,
    access: AccountAccess,
    instance_arn: Option<String>,
    identity_store_id: Option<String>,
}

impl IdentityCenterDirectory {
    /// The directory of the Identity Center instance of `aws`'s region, read with its
    /// credentials (the management account or a delegated administrator for IAM Identity
    /// Center), reaching member accounts' roles as `access` says (the grants' access).
    pub fn new(aws: Aws, access: AccountAccess) -> IdentityCenterDirectory {
        IdentityCenterDirectory {
            aws,
            access,
            instance_arn: None,
            identity_store_id: None,
        }
    }

    /// The same directory, pinned to an instance and identity store (the server's
    /// `[identity_center]`): a read that finds another one fails. `None` leaves that part to
    /// discovery (the one instance `sso:ListInstances` lists in the region).
    #[must_use]
    pub fn with_instance(
        mut self,
        instance_arn: Option<String>,
        identity_store_id: Option<String>,
    ) -> IdentityCenterDirectory {
        self.instance_arn = instance_arn;
        self.identity_store_id = identity_store_id;
        self
    }

    /// The connection.
    pub fn aws(&self) -> &Aws {
        &self.aws
    }

    /// Fails when the instance read is not the pinned one, or when the region holds several
    /// and none is pinned.
    fn check_instance(&self, c: &Collected) -> std::result::Result<(), DirectoryError> {
        if let Some(pin) = self.instance_arn.as_deref() {
            if pin != c.instance_arn {
                return Err(DirectoryError(format!(
                    "the configured Identity Center instance `{pin}` is not the instance found \
                     in {}, `{}` (check `instance_arn` and the region)",
                    c.region, c.instance_arn
                )));
            }
        }
        if let Some(pin) = self.identity_store_id.as_deref() {
            if pin != c.identity_store_id {
                return Err(DirectoryError(format!(
                    "the configured identity store `{pin}` is not the identity store of the \
                     Identity Center instance `{}`, `{}` (check `identity_store_id`)",
                    c.instance_arn, c.identity_store_id
                )));
            }
        }
        let pinned = self.instance_arn.is_some() || self.identity_store_id.is_some();
        if let Some(several) = c
            .not_analysed
            .iter()
            .find(|n| n.starts_with("sso:ListInstances"))
        {
            if !pinned {
                return Err(DirectoryError(format!(
                    "{}; set the Identity Center `instance_arn` to say which one is the \
                     directory",
                    cut(several)
                )));
            }
        }
        Ok(())
    }

    /// The `AWSReservedSSO_*` roles of `account` under the Identity Center path.
    async fn account_roles(
        &self,
        caller: &CallerIdentity,
        account: &str,
    ) -> Result<Vec<(String, String)>> {
        let config = self.access.config_for(&self.aws, caller, account).await?;
        let roles: Vec<aws_sdk_iam::types::Role> = Aws::iam(&config)
            .list_roles()
            .path_prefix(ROLE_PATH)
            .max_items(ROLES_PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| call_err(format!("iam:ListRoles in {account}"), e))?;
        Ok(roles
            .iter()
            .filter(|r| is_role_path(r.path()))
            .map(|r| (r.role_name().to_owned(), r.role_id().to_owned()))
            .collect())
    }

    /// Every account's roles, `concurrency` accounts at a time, and a note per account whose
    /// roles could not be listed (left out of the map), in account order.
    async fn roles_of(
        &self,
        caller: &CallerIdentity,
        accounts: Vec<String>,
    ) -> (AccountRoles, Vec<String>) {
        // Owned account ids: a closure over borrowed ones makes rustc unable to see that the
        // future is `Send` (rust-lang/rust#110338).
        let mut got: Vec<_> = futures::stream::iter(accounts)
            .map(|account: String| async move {
                let listed = self.account_roles(caller, &account).await;
                (account, listed)
            })
            .buffer_unordered(self.aws.concurrency())
            .collect()
            .await;
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let mut roles = AccountRoles::new();
        let mut notes = Vec::new();
        for (account, listed) in got {
            match listed {
                Ok(list) => {
                    roles.insert(account, list);
                }
                Err(e) => notes.push(format!(
                    "account {account}: its Identity Center roles could not be listed ({}); \
                     the role ids there are unknown",
                    cut(&e.to_string())
                )),
            }
        }
        (roles, notes)
    }

    /// One read of the directory (what [`DirectorySource::read`] does).
    ///
    /// # Errors
    /// The accounts, the instance, the users, groups, group memberships or permission sets
    /// could not be read completely, or the instance is not the pinned one.
    pub async fn read_directory(&self) -> std::result::Result<Directory, DirectoryError> {
        let fail =
            |what: &str, e: &AwsError| DirectoryError(format!("{what}: {}", cut(&e.to_string())));
        let accounts = crate::org::read_accounts(&self.aws)
            .await
            .map_err(|e| fail("the organization's accounts could not be listed", &e))?;
        let ids: Vec<String> = accounts.into_iter().map(|a| a.id).collect();
        let collected = collect_identity_center(&self.aws, ids)
            .await
            .map_err(|e| fail("IAM Identity Center could not be read", &e))?;
        self.check_instance(&collected)?;
        let ic = parse_identity_center(&identity_center::document(&collected)).map_err(|e| {
            DirectoryError(format!(
                "what was read of IAM Identity Center does not pass Latch's reader: {e}"
            ))
        })?;
        let mut notes = gaps(&collected, &ic)?;
        let caller = self
            .aws
            .caller_identity()
            .await
            .map_err(|e| fail("the credentials' account could not be had", &e))?;
        let assigned: BTreeSet<&str> = ic.assignments.iter().map(|a| a.account.as_str()).collect();
        let assigned: Vec<String> = assigned.into_iter().map(str::to_owned).collect();
        let (roles, role_notes) = self.roles_of(&caller, assigned).await;
        notes.extend(role_notes);
        let mut directory = directory_of(&ic, &roles);
        notes.append(&mut directory.notes);
        directory.notes = notes;
        Ok(directory)
    }
}

#[async_trait]
impl DirectorySource for IdentityCenterDirectory {
    async fn read(&self) -> std::result::Result<Directory, DirectoryError> {
        self.read_directory().await
    }
}

/// [`identity_center::read`], with its failure said as a directory read's.
async fn collect_identity_center(aws: &Aws, accounts: Vec<String>) -> Result<Collected> {
    let stopped = |why: String| AwsError::Conflict(format!("reading Identity Center {why}"));
    identity_center::read(aws, &accounts, &Silent)
        .await
        .map_err(|e| stopped(e.to_string()))
}

/// `text`'s first line, cut to [`MESSAGE_MAX`] characters.
fn cut(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(MESSAGE_MAX).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// What one of the collector's `not_analysed` entries means for the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// People, groups, memberships or whole permission sets are missing: the read fails.
    Fatal,
    /// Limited to an account's assignments: the directory says so.
    Note,
    /// About what a permission set allows (policies, boundary), or a group's name: nothing
    /// the directory holds.
    Irrelevant,
}

/// Sorts a `not_analysed` entry of [`identity_center::read`] and [`identity_center::document`].
fn gap(note: &str) -> Gap {
    const FATAL: &[&str] = &[
        // ListUsers, ListGroups, ListGroupMemberships.
        "identitystore:",
        // No permission set, or one, and all their assignments.
        "sso:ListPermissionSets",
        "sso:DescribePermissionSet",
        "described without a name",
        // A user the file cannot hold, and what follows from a failed listing.
        "gives no user name",
        "could not be listed",
    ];
    if FATAL.iter().any(|f| note.contains(f)) || note.starts_with("a permission set ") {
        Gap::Fatal
    } else if note.starts_with("sso:ListInstances") {
        // Several instances: judged with the pins (`check_instance`).
        Gap::Irrelevant
    } else if note.to_ascii_lowercase().contains("assign") {
        Gap::Note
    } else {
        Gap::Irrelevant
    }
}

/// The notes of what was read about assignments, or why the read cannot be a directory.
fn gaps(c: &Collected, ic: &IdentityCenter) -> std::result::Result<Vec<String>, DirectoryError> {
    let mut fatal = Vec::new();
    let mut notes = Vec::new();
    for n in &ic.not_analysed {
        match gap(n) {
            Gap::Fatal => fatal.push(cut(n)),
            Gap::Note => notes.push(n.clone()),
            Gap::Irrelevant => {}
        }
    }
    // Whatever the notes' words: every listed user and permission set is in the file.
    if fatal.is_empty() {
        if !c.users_listed || !c.groups_listed {
            fatal.push("the users or groups of the identity store could not be listed".into());
        }
        let dropped = c
            .users
            .iter()
            .filter(|u| !ic.users.contains_key(u.user_id()))
            .count();
        if dropped > 0 {
            fatal.push(format!(
                "{dropped} users of the identity store are not readable"
            ));
        }
        let sets = c
            .permission_sets
            .iter()
            .filter(|p| {
                !p.set
                    .permission_set_arn()
                    .is_some_and(|a| ic.permission_sets.contains_key(a))
            })
            .count();
        if sets > 0 {
            fatal.push(format!("{sets} permission sets are not readable"));
        }
    }
    if fatal.is_empty() {
        Ok(notes)
    } else {
        Err(DirectoryError(format!(
            "IAM Identity Center could not be read completely, so the directory is left as it \
             was: {}",
            fatal.join("; ")
        )))
    }
}

/// The directory of `ic`: every user, with the roles of the permission sets they are assigned
/// (directly or through a group) on each account, the role id taken from `roles` (each
/// account's `(role name, role id)` under the Identity Center path). A role the account does
/// not hold, or whose account is not in `roles`, has no id; so has a permission set with two
/// roles in one account, which a note names.
///
/// A user whose directory says nothing of their status is active. People are sorted by user
/// name, their roles sorted and without repeats.
#[must_use]
pub fn directory_of(ic: &IdentityCenter, roles: &AccountRoles) -> Directory {
    let mut notes = Vec::new();
    // Account → permission set name → role id (`None`: several roles).
    let mut ids: BTreeMap<&str, BTreeMap<&str, Option<&str>>> = BTreeMap::new();
    for (account, list) in roles {
        let by_set = ids.entry(account.as_str()).or_default();
        let mut several: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, id) in list {
            let Some(set) = permission_set_name(name) else {
                continue;
            };
            if by_set.insert(set, Some(id.as_str())).is_some() {
                by_set.insert(set, None);
                several.entry(set).or_default();
            }
        }
        for (set, names) in &mut several {
            names.extend(
                list.iter()
                    .filter(|(n, _)| permission_set_name(n) == Some(*set))
                    .map(|(n, _)| n.as_str()),
            );
            names.sort_unstable();
            notes.push(format!(
                "account {account}: permission set `{set}` has several roles ({}); its role id \
                 there is unknown",
                names.join(", ")
            ));
        }
    }

    let pairs: BTreeSet<(&str, &str)> = ic
        .assignments
        .iter()
        .map(|a| (a.account.as_str(), a.permission_set.as_str()))
        .collect();
    let mut reached: BTreeMap<&str, BTreeSet<AccountRole>> = BTreeMap::new();
    for (account, set_arn) in pairs {
        let Some(set) = ic.permission_sets.get(set_arn) else {
            continue;
        };
        let role_id = ids
            .get(account)
            .and_then(|by_set| by_set.get(set.name.as_str()))
            .copied()
            .flatten()
            .map(str::to_owned);
        for reach in ic.people_of(account, set_arn) {
            reached
                .entry(reach.user.id.as_str())
                .or_default()
                .insert(AccountRole {
                    account: account.to_owned(),
                    permission_set: set.name.clone(),
                    role_id: role_id.clone(),
                });
        }
    }

    let mut people: Vec<DirectoryPerson> = ic
        .users
        .values()
        .map(|u| DirectoryPerson {
            user_id: u.id.clone(),
            user_name: u.user_name.clone(),
            display_name: u.display_name.clone(),
            // The file lists the primary address first.
            email: u.emails.first().cloned(),
            active: u.active.unwrap_or(true),
            groups: ic
                .groups_of(&u.id)
                .map(|g| g.display_name.clone())
                .collect(),
            roles: reached
                .remove(u.id.as_str())
                .map(|r| r.into_iter().collect())
                .unwrap_or_default(),
        })
        .collect();
    people.sort_by(|a, b| (&a.user_name, &a.user_id).cmp(&(&b.user_name, &b.user_id)));
    Directory { people, notes }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;
    use latch_model::identity_center::parse_identity_center_str;

    const A: &str = "111111111111";
    const B: &str = "222222222222";
    const ADMIN: &str = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-admin";
    const READ: &str = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-read";

    /// alice: direct Admin on A; bob: ReadOnly on A and B through `Platform` and again
    /// through `Oncall`; carol: deactivated, in `Oncall`; dave: nothing.
    fn center() -> IdentityCenter {
        let assignment = |account: &str, set: &str, kind: &str, id: &str| {
            serde_json::json!({"account": account, "permission_set": set,
                               "principal_type": kind, "principal_id": id})
        };
        let doc = serde_json::json!({
            "format": "latch.identity-center/v1",
            "instance": {"arn": "arn:aws:sso:::instance/ssoins-1111111111111111",
                         "identity_store_id": "d-1111111111", "region": "us-east-1"},
            "permission_sets": [
                {"arn": ADMIN, "name": "AdministratorAccess"},
                {"arn": READ, "name": "ReadOnly"}
            ],
            "users": [
                {"id": "u-alice", "user_name": "alice", "display_name": "Alice",
                 "emails": ["alice@example.com", "alice@old.example.com"], "active": true},
                {"id": "u-bob", "user_name": "bob", "emails": ["bob@example.com"]},
                {"id": "u-carol", "user_name": "carol", "emails": [], "active": false},
                {"id": "u-dave", "user_name": "dave"}
            ],
            "groups": [
                {"id": "g-platform", "display_name": "Platform", "members": ["u-bob"]},
                {"id": "g-oncall", "display_name": "Oncall", "members": ["u-bob", "u-carol"]}
            ],
            "assignments": [
                assignment(A, ADMIN, "USER", "u-alice"),
                assignment(A, READ, "GROUP", "g-platform"),
                assignment(B, READ, "GROUP", "g-platform"),
                assignment(B, READ, "GROUP", "g-oncall")
            ]
        });
        parse_identity_center_str(&doc.to_string()).unwrap()
    }

    fn role(account: &str, set: &str, id: Option<&str>) -> AccountRole {
        AccountRole {
            account: account.to_owned(),
            permission_set: set.to_owned(),
            role_id: id.map(str::to_owned),
        }
    }

    fn roles(list: &[(&str, &[(&str, &str)])]) -> AccountRoles {
        list.iter()
            .map(|(account, roles)| {
                (
                    (*account).to_owned(),
                    roles
                        .iter()
                        .map(|(n, i)| ((*n).to_owned(), (*i).to_owned()))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn people_reach_roles_directly_and_through_groups() {
        // B's ReadOnly is not provisioned; A holds an unrelated role.
        let roles = roles(&[
            (
                A,
                &[
                    (
                        "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
                        "AROAADMIN",
                    ),
                    ("AWSReservedSSO_ReadOnly_fedcba9876543210", "AROAREAD"),
                    ("deployer", "AROADEPLOY"),
                ],
            ),
            (B, &[]),
        ]);
        let d = directory_of(&center(), &roles);
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        let names: Vec<&str> = d.people.iter().map(|p| p.user_name.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol", "dave"]);
        let [alice, bob, carol, dave] = &d.people[..] else {
            panic!()
        };

        // Direct assignment, primary email, no group.
        assert_eq!(alice.user_id, "u-alice");
        assert_eq!(alice.display_name.as_deref(), Some("Alice"));
        assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
        assert!(alice.active && alice.groups.is_empty());
        assert_eq!(
            alice.roles,
            [role(A, "AdministratorAccess", Some("AROAADMIN"))]
        );

        // Through a group, twice on B (two groups): once each, sorted; unprovisioned → None.
        assert!(bob.active, "no status: active");
        assert_eq!(
            bob.groups.iter().collect::<Vec<_>>(),
            ["Oncall", "Platform"]
        );
        assert_eq!(
            bob.roles,
            [
                role(A, "ReadOnly", Some("AROAREAD")),
                role(B, "ReadOnly", None)
            ]
        );

        // Deactivated: kept, inactive, with what they are assigned.
        assert!(!carol.active);
        assert_eq!(carol.email, None);
        assert_eq!(carol.roles, [role(B, "ReadOnly", None)]);

        // Nothing assigned: still a person.
        assert!(dave.roles.is_empty() && dave.groups.is_empty() && dave.email.is_none());
    }

    #[test]
    fn unread_accounts_and_ambiguous_roles_have_no_role_id() {
        // A could not be read (absent); B holds two roles of ReadOnly.
        let roles = roles(&[(
            B,
            &[
                ("AWSReservedSSO_ReadOnly_bbbbbbbbbbbbbbbb", "AROAB2"),
                ("AWSReservedSSO_ReadOnly_aaaaaaaaaaaaaaaa", "AROAB1"),
            ],
        )]);
        let d = directory_of(&center(), &roles);
        let alice = &d.people[0];
        assert_eq!(alice.roles, [role(A, "AdministratorAccess", None)]);
        assert_eq!(
            d.people[1].roles,
            [role(A, "ReadOnly", None), role(B, "ReadOnly", None)]
        );
        assert_eq!(
            d.notes,
            [format!(
                "account {B}: permission set `ReadOnly` has several roles \
                 (AWSReservedSSO_ReadOnly_aaaaaaaaaaaaaaaa, \
                 AWSReservedSSO_ReadOnly_bbbbbbbbbbbbbbbb); its role id there is unknown"
            )]
        );
    }

    #[test]
    fn a_role_id_is_the_userid_prefix_of_the_users_sessions() {
        let roles = roles(&[(
            A,
            &[(
                "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
                "AROAADMIN",
            )],
        )]);
        let d = directory_of(&center(), &roles);
        assert_eq!(
            d.people[0].roles[0].userid("alice").as_deref(),
            Some("AROAADMIN:alice")
        );
    }

    /// The collector's own words, as `identity_center::read` and `document` write them.
    #[test]
    fn gaps_in_people_fail_the_read_and_account_gaps_are_notes() {
        let fatal = [
            "identitystore:ListUsers d-1 failed (AccessDeniedException): no; no user is listed, nor the assignments to users and group members",
            "identitystore:ListGroups d-1 failed (AccessDeniedException): no; no group is listed, nor the assignments to groups",
            "group `ops` (g-1): identitystore:ListGroupMemberships failed (ThrottlingException): slow; its members are unknown",
            "sso:ListPermissionSets arn:aws:sso:::instance/ssoins-1 failed: HTTP 500: x; no permission set and no assignment is listed",
            "permission set ps-4: sso:DescribePermissionSet failed (AccessDeniedException): no; it and its assignments are not listed",
            "permission set ps-4: sso:DescribePermissionSet gave no permission set; it and its assignments are not listed",
            "permission set ps-4: described without a name; it and its assignments are not listed",
            "a permission set `X` without an ARN: not listed",
            "user u-1: the identity store gives no user name; they, their assignments and group memberships are not listed",
            "3 group memberships are not listed: the users could not be listed",
        ];
        for n in fatal {
            assert_eq!(gap(n), Gap::Fatal, "{n}");
        }
        let notes = [
            "permission set `Ops` (ps-1): sso:ListAccountAssignments failed (AccessDeniedException): no on account 222222222222; who is assigned it there is unknown",
            "account 222222222222: permission set `Ops` (ps-1) is assigned to user u-9, who is not among the listed users: not listed",
            "an incomplete account assignment (AccountAssignment { .. }): not listed",
        ];
        for n in notes {
            assert_eq!(gap(n), Gap::Note, "{n}");
        }
        let irrelevant = [
            "permission set `Ops` (ps-1): sso:GetPermissionsBoundaryForPermissionSet failed: HTTP 500: <html>; its boundary is unknown",
            "permission set `Ops` (ps-1): sso:GetInlinePolicyForPermissionSet failed: x; its inline policy is unknown",
            "permission set `Ops` (ps-1): an AWS managed policy `x` without an ARN: not listed",
            "group g-1: the identity store gives no display name; it is named by its id",
            "sso:ListInstances in us-east-1 listed 2 instances: this file holds a only; the permission sets, assignments and people of b are not analysed",
        ];
        for n in irrelevant {
            assert_eq!(gap(n), Gap::Irrelevant, "{n}");
        }
    }

    #[test]
    fn a_failed_membership_listing_fails_the_whole_read() {
        let mut c = Collected {
            users_listed: true,
            groups_listed: true,
            ..Collected::default()
        };
        let ic = center();
        assert_eq!(gaps(&c, &ic).unwrap(), Vec::<String>::new());
        c.users_listed = false;
        let e = gaps(&c, &ic).unwrap_err().to_string();
        assert!(e.contains("users or groups"), "{e}");
        c.users_listed = true;
        let mut ic = ic;
        ic.not_analysed = vec![
            "group `ops` (g-1): identitystore:ListGroupMemberships failed (ThrottlingException): slow; its members are unknown".into(),
            "permission set `Ops` (ps-1): sso:ListAccountAssignments failed: x on account 222222222222; who is assigned it there is unknown".into(),
        ];
        let e = gaps(&c, &ic).unwrap_err().to_string();
        assert!(
            e.starts_with("directory: IAM Identity Center could not be read completely")
                && e.contains("identitystore:ListGroupMemberships failed"),
            "{e}"
        );
        ic.not_analysed.remove(0);
        assert_eq!(gaps(&c, &ic).unwrap().len(), 1);
    }
}
