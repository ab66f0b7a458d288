//! The snapshot: what Latch knows about an organization at one point in time.

use std::collections::BTreeMap;

use crate::account::{Account, ResourcePolicy};
use crate::org::Organization;
use crate::principal::{Principal, PrincipalKind};

/// An organization snapshot: the org tree (when known), every account's IAM contents and a
/// list of the parts that could not be analysed and why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// The organization; `None` when the snapshot has no organization.json (the accounts are
    /// then treated as directly under a root with no SCPs or RCPs).
    pub organization: Option<Organization>,
    /// Accounts with IAM data, by account id.
    pub accounts: BTreeMap<String, Account>,
    /// Optional parts that were missing or could not be resolved, each with why; people and
    /// reports must see these, since the analysis is blind there.
    pub not_analysed: Vec<String>,
    /// The CloudTrail trails and what they record (`trails.json`), when the snapshot has them;
    /// see [`Snapshot::visibility`].
    pub trails: Option<crate::trails::Trails>,
    /// The organization's IAM Identity Center (`identity-center.json`), when the snapshot has
    /// it: its people, groups, permission sets and assignments.
    pub identity_center: Option<crate::identity_center::IdentityCenter>,
}

/// Numbers of things in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Accounts with IAM data.
    pub accounts: usize,
    /// Organizational units.
    pub organizational_units: usize,
    /// IAM users.
    pub users: usize,
    /// IAM groups.
    pub groups: usize,
    /// IAM roles (including service-linked ones).
    pub roles: usize,
    /// Managed policies across accounts (an AWS-managed policy counts once per account using
    /// it).
    pub managed_policies: usize,
    /// Inline policies of users, groups and roles.
    pub inline_policies: usize,
    /// Resource-based policies.
    pub resource_policies: usize,
    /// SCP attachments across the organization tree.
    pub scp_attachments: usize,
    /// RCP attachments across the organization tree (including implicit `RCPFullAWSAccess`).
    pub rcp_attachments: usize,
}

impl Snapshot {
    /// Per account and action, whether CloudTrail would have shown a call: from `trails.json`
    /// when the snapshot has one, otherwise management events recorded everywhere and data
    /// events nowhere ([`crate::trails::Visibility::assumed`]).
    pub fn visibility(&self) -> crate::trails::Visibility {
        match &self.trails {
            Some(t) => crate::trails::Visibility::from_trails(
                t,
                self.accounts.keys().map(String::as_str).chain(
                    self.organization
                        .iter()
                        .flat_map(|o| o.accounts().into_iter().map(|n| n.id.as_str())),
                ),
            ),
            None => crate::trails::Visibility::assumed(),
        }
    }

    /// Every principal (users, then roles, of each account in account-id order; names sorted).
    pub fn principals(&self) -> impl Iterator<Item = Principal<'_>> {
        self.accounts.values().flat_map(move |account| {
            let users = account.users.values().map(move |u| Principal {
                snapshot: self,
                account,
                kind: PrincipalKind::User(u),
            });
            let roles = account.roles.values().map(move |r| Principal {
                snapshot: self,
                account,
                kind: PrincipalKind::Role(r),
            });
            users.chain(roles)
        })
    }

    /// The user or role with this ARN.
    pub fn principal(&self, arn: &str) -> Option<Principal<'_>> {
        let account_id = latch_policy::arn::account(arn)?;
        let account = self.accounts.get(account_id)?;
        if let Some(u) = account.users.values().find(|u| u.arn == arn) {
            return Some(Principal {
                snapshot: self,
                account,
                kind: PrincipalKind::User(u),
            });
        }
        account
            .roles
            .values()
            .find(|r| r.arn == arn)
            .map(|r| Principal {
                snapshot: self,
                account,
                kind: PrincipalKind::Role(r),
            })
    }

    /// The account with this id.
    pub fn account(&self, account_id: &str) -> Option<&Account> {
        self.accounts.get(account_id)
    }

    /// The management account's id, when the organization is known.
    pub fn management_account_id(&self) -> Option<&str> {
        self.organization
            .as_ref()
            .map(|o| o.management_account_id.as_str())
    }

    /// Whether `account_id` belongs to the organization (or, without organization.json, is one
    /// of the snapshot's accounts). Trust in any other account is external trust.
    pub fn is_internal_account(&self, account_id: &str) -> bool {
        match &self.organization {
            Some(org) => org.contains_account(account_id),
            None => self.accounts.contains_key(account_id),
        }
    }

    /// Every resource-based policy with its account.
    pub fn resource_policies(&self) -> impl Iterator<Item = (&Account, &ResourcePolicy)> {
        self.accounts
            .values()
            .flat_map(|a| a.resource_policies.iter().flatten().map(move |p| (a, p)))
    }

    /// How many of each thing the snapshot holds.
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            accounts: self.accounts.len(),
            ..Counts::default()
        };
        for a in self.accounts.values() {
            c.users += a.users.len();
            c.groups += a.groups.len();
            c.roles += a.roles.len();
            c.managed_policies += a.managed_policies.len();
            c.inline_policies += a
                .users
                .values()
                .map(|u| u.inline_policies.len())
                .sum::<usize>()
                + a.groups
                    .values()
                    .map(|g| g.inline_policies.len())
                    .sum::<usize>()
                + a.roles
                    .values()
                    .map(|r| r.inline_policies.len())
                    .sum::<usize>();
            c.resource_policies += a.resource_policies.as_ref().map_or(0, Vec::len);
        }
        if let Some(org) = &self.organization {
            c.organizational_units = org.organizational_units().len();
            let mut stack = vec![&org.root];
            while let Some(n) = stack.pop() {
                c.scp_attachments += n.scps.len();
                c.rcp_attachments += n.rcps.len();
                stack.extend(&n.children);
            }
        }
        c
    }
}
