//! `identity-center.json`: the organization's IAM Identity Center — its permission sets, who is
//! assigned which on which account, and the people and groups of its identity store — in
//! Latch's versioned format `latch.identity-center/v1` (docs/snapshot-format.md).
//!
//! People reach an account as a role AWS provisions per permission set and account,
//! `AWSReservedSSO_<PermissionSetName>_<hash>` under the path `/aws-reserved/sso.amazonaws.com/`
//! (with the instance's region after it outside `us-east-1`). [`IdentityCenter`] links the two
//! directions: an assignment to the role in the account's GAAD ([`IdentityCenter::role_for`]),
//! and a role back to its permission set and the people who reach it, directly or through a
//! group ([`IdentityCenter::people_of`]).
//!
//! Fail closed: an assignment naming a permission set, user or group the file does not hold,
//! a user without a user name, or a duplicate id is an error naming the JSON path; nothing is
//! dropped.
//!
//! Pure: text and values in, values out.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::error::{parse_json, FormatError};
use crate::json::{as_str, field, index, Obj};
use crate::{PolicyDocument, Snapshot};

/// The `format` value this version of Latch reads and writes.
pub const FORMAT: &str = "latch.identity-center/v1";

/// The IAM path of the roles Identity Center provisions (a region may follow).
pub const ROLE_PATH: &str = "/aws-reserved/sso.amazonaws.com/";

/// The name prefix of those roles.
pub const ROLE_PREFIX: &str = "AWSReservedSSO_";

/// An organization's Identity Center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCenter {
    /// The instance.
    pub instance: Instance,
    /// Permission sets by ARN.
    pub permission_sets: BTreeMap<String, PermissionSet>,
    /// Who is assigned which permission set on which account, in file order.
    pub assignments: Vec<Assignment>,
    /// Users by id.
    pub users: BTreeMap<String, User>,
    /// Groups by id.
    pub groups: BTreeMap<String, Group>,
    /// What the collector could not read, and why.
    pub not_analysed: Vec<String>,
}

/// The Identity Center instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// `arn:aws:sso:::instance/ssoins-…`.
    pub arn: String,
    /// `d-…`: the identity store of its people and groups.
    pub identity_store_id: String,
    /// The region it lives in.
    pub region: String,
}

/// A permission set: what its role holds in every account it is assigned on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionSet {
    /// Its ARN.
    pub arn: String,
    /// Its name: the middle of its roles' names.
    pub name: String,
    /// ISO 8601 session duration (`PT8H`), when set.
    pub session_duration: Option<String>,
    /// The inline policy, when it has one.
    pub inline_policy: Option<PolicyDocument>,
    /// AWS managed policies attached, by ARN.
    pub aws_managed_policies: Vec<String>,
    /// Customer managed policies attached, by name and path: the account's own policy of that
    /// name and path, in each account.
    pub customer_managed_policies: Vec<PolicyReference>,
    /// The permissions boundary, when set.
    pub permissions_boundary: Option<Boundary>,
}

/// A customer managed policy named by a permission set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PolicyReference {
    /// The policy's name.
    pub name: String,
    /// Its path (`/` when not given).
    pub path: String,
}

impl PolicyReference {
    /// The policy's ARN in `account`.
    #[must_use]
    pub fn arn_in(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:policy{}{}", self.path, self.name)
    }
}

/// A permission set's permissions boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boundary {
    /// An AWS managed policy, by ARN.
    Managed(String),
    /// A customer managed policy of each account, by name and path.
    CustomerManaged(PolicyReference),
}

/// Who reaches an account through a permission set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalRef {
    /// A user, by id.
    User(String),
    /// A group, by id.
    Group(String),
}

/// One account assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The account.
    pub account: String,
    /// The permission set's ARN.
    pub permission_set: String,
    /// Who.
    pub principal: PrincipalRef,
}

/// A person of the identity store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Identity store id.
    pub id: String,
    /// User name: what their role sessions are named after.
    pub user_name: String,
    /// Display name, when set.
    pub display_name: Option<String>,
    /// Email addresses, primary first.
    pub emails: Vec<String>,
    /// Whether they may sign in; `None` when the directory does not say.
    pub active: Option<bool>,
}

/// A group of the identity store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Identity store id.
    pub id: String,
    /// Its name.
    pub display_name: String,
    /// Its members' user ids.
    pub members: BTreeSet<String>,
}

/// How one person reaches one role: the permission set, and the group it comes through (none
/// for a direct assignment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach<'a> {
    /// The user.
    pub user: &'a User,
    /// The group the assignment names, when it names one.
    pub through: Option<&'a Group>,
}

/// Where an assignment's role is, or why it is not there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleOf<'a> {
    /// The provisioned role of the account's GAAD.
    Found(&'a crate::Role),
    /// The account's GAAD holds no role of this permission set: not provisioned (yet).
    NotProvisioned,
    /// The snapshot has no GAAD of the account.
    NoGaad,
}

impl IdentityCenter {
    /// The permission set whose provisioned role `role_name` is (`AWSReservedSSO_<name>_<hash>`).
    #[must_use]
    pub fn permission_set_of_role(&self, role_name: &str) -> Option<&PermissionSet> {
        let name = permission_set_name(role_name)?;
        self.permission_sets.values().find(|p| p.name == name)
    }

    /// The role of `assignment` in `snapshot`: by the Identity Center path and the permission
    /// set's name.
    #[must_use]
    pub fn role_for<'s>(&self, snapshot: &'s Snapshot, assignment: &Assignment) -> RoleOf<'s> {
        let Some(account) = snapshot.account(&assignment.account) else {
            return RoleOf::NoGaad;
        };
        let Some(set) = self.permission_sets.get(&assignment.permission_set) else {
            return RoleOf::NotProvisioned;
        };
        account
            .roles
            .values()
            .find(|r| is_role_path(&r.path) && permission_set_name(&r.name) == Some(&set.name))
            .map_or(RoleOf::NotProvisioned, RoleOf::Found)
    }

    /// The people who reach the permission set `set_arn` on `account`, each with the group it
    /// comes through (a person assigned both directly and through groups appears once per
    /// way), sorted by user name.
    #[must_use]
    pub fn people_of(&self, account: &str, set_arn: &str) -> Vec<Reach<'_>> {
        let mut out = Vec::new();
        for a in self
            .assignments
            .iter()
            .filter(|a| a.account == account && a.permission_set == set_arn)
        {
            match &a.principal {
                PrincipalRef::User(id) => out.extend(self.users.get(id).map(|user| Reach {
                    user,
                    through: None,
                })),
                PrincipalRef::Group(id) => {
                    if let Some(group) = self.groups.get(id) {
                        out.extend(group.members.iter().filter_map(|m| {
                            self.users.get(m).map(|user| Reach {
                                user,
                                through: Some(group),
                            })
                        }));
                    }
                }
            }
        }
        out.sort_by(|a, b| {
            (&a.user.user_name, a.through.map(|g| &g.display_name))
                .cmp(&(&b.user.user_name, b.through.map(|g| &g.display_name)))
        });
        out.dedup();
        out
    }

    /// The groups `user_id` belongs to.
    pub fn groups_of<'a>(&'a self, user_id: &'a str) -> impl Iterator<Item = &'a Group> + 'a {
        self.groups
            .values()
            .filter(move |g| g.members.contains(user_id))
    }
}

/// Whether `path` is where Identity Center puts its roles (`/aws-reserved/sso.amazonaws.com/`,
/// or with a region segment after it).
#[must_use]
pub fn is_role_path(path: &str) -> bool {
    path.strip_prefix(ROLE_PATH).is_some_and(|rest| {
        rest.is_empty()
            || rest
                .strip_suffix('/')
                .is_some_and(|region| !region.is_empty() && !region.contains('/'))
    })
}

/// The permission set name in a provisioned role's name: `AWSReservedSSO_<name>_<hash>`
/// (names may hold `_`; the hash is after the last one).
#[must_use]
pub fn permission_set_name(role_name: &str) -> Option<&str> {
    let rest = role_name.strip_prefix(ROLE_PREFIX)?;
    let (name, hash) = rest.rsplit_once('_')?;
    (!name.is_empty() && !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(name)
}

/// Parses an identity-center.json text.
///
/// # Errors
/// Not JSON, or not of the format: the error names the JSON path.
pub fn parse_identity_center_str(text: &str) -> Result<IdentityCenter, FormatError> {
    parse_identity_center(&parse_json(text)?)
}

/// Parses an identity-center.json document.
///
/// # Errors
/// Not of the format: the error names the JSON path.
pub fn parse_identity_center(value: &Value) -> Result<IdentityCenter, FormatError> {
    let top = Obj::new(value, "")?;
    top.only(&[
        "format",
        "instance",
        "permission_sets",
        "assignments",
        "users",
        "groups",
        "not_analysed",
    ])?;
    let format = top.req_str("format")?;
    if format != FORMAT {
        return Err(FormatError::new(
            "format",
            format!("unsupported format `{format}` (this Latch reads `{FORMAT}`)"),
        ));
    }
    let inst = Obj::new(top.req("instance")?, "instance")?;
    inst.only(&["arn", "identity_store_id", "region"])?;
    let instance = Instance {
        arn: inst.req_str("arn")?.to_owned(),
        identity_store_id: inst.req_str("identity_store_id")?.to_owned(),
        region: inst.req_str("region")?.to_owned(),
    };

    let mut permission_sets = BTreeMap::new();
    let mut names = BTreeSet::new();
    for (i, v) in top.opt_array("permission_sets")?.iter().enumerate() {
        let path = index("permission_sets", i);
        let set = parse_permission_set(v, &path)?;
        if !names.insert(set.name.clone()) {
            return Err(FormatError::new(
                &field(&path, "name"),
                format!("permission set `{}` appears twice", set.name),
            ));
        }
        if permission_sets.insert(set.arn.clone(), set).is_some() {
            return Err(FormatError::new(
                &field(&path, "arn"),
                "this permission set ARN appears twice",
            ));
        }
    }

    let mut users = BTreeMap::new();
    for (i, v) in top.opt_array("users")?.iter().enumerate() {
        let path = index("users", i);
        let u = Obj::new(v, &path)?;
        u.only(&["id", "user_name", "display_name", "emails", "active"])?;
        let user_name = u.req_str("user_name")?;
        if user_name.trim().is_empty() {
            return Err(FormatError::new(
                &u.path_of("user_name"),
                "a user needs a user name: it names their role sessions",
            ));
        }
        let user = User {
            id: u.req_str("id")?.to_owned(),
            user_name: user_name.to_owned(),
            display_name: u.opt_str("display_name")?.map(str::to_owned),
            emails: strings(u.opt_array("emails")?, &u.path_of("emails"))?,
            active: u.opt_bool("active")?,
        };
        if users.insert(user.id.clone(), user).is_some() {
            return Err(FormatError::new(
                &u.path_of("id"),
                "this user id appears twice",
            ));
        }
    }

    // Group ids, to say so when a group is listed as a member: Identity Center groups do not
    // nest, and a file where they did could hold a cycle.
    let group_ids: BTreeSet<&str> = top
        .opt_array("groups")?
        .iter()
        .filter_map(|g| g.get("id").and_then(Value::as_str))
        .collect();
    let mut groups = BTreeMap::new();
    for (i, v) in top.opt_array("groups")?.iter().enumerate() {
        let path = index("groups", i);
        let g = Obj::new(v, &path)?;
        g.only(&["id", "display_name", "members"])?;
        let members_path = g.path_of("members");
        let mut members = BTreeSet::new();
        for (j, m) in strings(g.opt_array("members")?, &members_path)?
            .into_iter()
            .enumerate()
        {
            if !users.contains_key(&m) {
                let why = if group_ids.contains(m.as_str()) {
                    format!("`{m}` is a group: Identity Center groups have users as members, never groups (a group in a group could also make a cycle)")
                } else {
                    format!("`{m}` is no user of the file")
                };
                return Err(FormatError::new(&index(&members_path, j), why));
            }
            members.insert(m);
        }
        let group = Group {
            id: g.req_str("id")?.to_owned(),
            display_name: g.req_str("display_name")?.to_owned(),
            members,
        };
        if groups.insert(group.id.clone(), group).is_some() {
            return Err(FormatError::new(
                &g.path_of("id"),
                "this group id appears twice",
            ));
        }
    }

    let mut assignments = Vec::new();
    for (i, v) in top.opt_array("assignments")?.iter().enumerate() {
        let path = index("assignments", i);
        let a = Obj::new(v, &path)?;
        a.only(&[
            "account",
            "permission_set",
            "principal_type",
            "principal_id",
        ])?;
        let account = a.req_str("account")?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FormatError::new(
                &a.path_of("account"),
                format!("`{account}` is not a 12-digit account id"),
            ));
        }
        let set = a.req_str("permission_set")?;
        if !permission_sets.contains_key(set) {
            return Err(FormatError::new(
                &a.path_of("permission_set"),
                format!("`{set}` is no permission set of the file"),
            ));
        }
        let id = a.req_str("principal_id")?.to_owned();
        let principal = match a.req_str("principal_type")? {
            "USER" if users.contains_key(&id) => PrincipalRef::User(id),
            "GROUP" if groups.contains_key(&id) => PrincipalRef::Group(id),
            "USER" | "GROUP" => {
                return Err(FormatError::new(
                    &a.path_of("principal_id"),
                    format!(
                        "`{id}` is no {} of the file",
                        a.req_str("principal_type")?.to_lowercase()
                    ),
                ))
            }
            other => {
                return Err(FormatError::new(
                    &a.path_of("principal_type"),
                    format!("`{other}` is not `USER` or `GROUP`"),
                ))
            }
        };
        assignments.push(Assignment {
            account: account.to_owned(),
            permission_set: set.to_owned(),
            principal,
        });
    }
    let not_analysed = strings(top.opt_array("not_analysed")?, "not_analysed")?;
    Ok(IdentityCenter {
        instance,
        permission_sets,
        assignments,
        users,
        groups,
        not_analysed,
    })
}

fn parse_permission_set(v: &Value, path: &str) -> Result<PermissionSet, FormatError> {
    let p = Obj::new(v, path)?;
    p.only(&[
        "arn",
        "name",
        "description",
        "session_duration",
        "inline_policy",
        "aws_managed_policies",
        "customer_managed_policies",
        "permissions_boundary",
    ])?;
    p.opt_str("description")?;
    let inline_policy = match p.get("inline_policy") {
        None | Some(Value::Null) => None,
        Some(doc) => Some(
            PolicyDocument::from_json(doc.clone(), &p.path_of("inline_policy"))
                .map_err(|e| FormatError::new(&p.path_of("inline_policy"), e.to_string()))?,
        ),
    };
    let refs_path = p.path_of("customer_managed_policies");
    let customer_managed_policies = p
        .opt_array("customer_managed_policies")?
        .iter()
        .enumerate()
        .map(|(i, r)| reference(r, &index(&refs_path, i)))
        .collect::<Result<Vec<_>, _>>()?;
    let permissions_boundary = match p.get("permissions_boundary") {
        None | Some(Value::Null) => None,
        Some(b) => {
            let bpath = p.path_of("permissions_boundary");
            let b = Obj::new(b, &bpath)?;
            b.only(&["managed_policy_arn", "customer_managed"])?;
            match (b.opt_str("managed_policy_arn")?, b.get("customer_managed")) {
                (Some(arn), None) => Some(Boundary::Managed(arn.to_owned())),
                (None, Some(r)) => Some(Boundary::CustomerManaged(reference(
                    r,
                    &b.path_of("customer_managed"),
                )?)),
                _ => {
                    return Err(FormatError::new(
                        &bpath,
                        "give exactly one of `managed_policy_arn` and `customer_managed`",
                    ))
                }
            }
        }
    };
    Ok(PermissionSet {
        arn: p.req_str("arn")?.to_owned(),
        name: p.req_str("name")?.to_owned(),
        session_duration: p.opt_str("session_duration")?.map(str::to_owned),
        inline_policy,
        aws_managed_policies: strings(
            p.opt_array("aws_managed_policies")?,
            &p.path_of("aws_managed_policies"),
        )?,
        customer_managed_policies,
        permissions_boundary,
    })
}

fn reference(v: &Value, path: &str) -> Result<PolicyReference, FormatError> {
    let r = Obj::new(v, path)?;
    r.only(&["name", "path"])?;
    let p = r.opt_str("path")?.unwrap_or("/");
    if !p.starts_with('/') || !p.ends_with('/') {
        return Err(FormatError::new(
            &r.path_of("path"),
            format!("`{p}` is not an IAM path (it starts and ends with `/`)"),
        ));
    }
    Ok(PolicyReference {
        name: r.req_str("name")?.to_owned(),
        path: p.to_owned(),
    })
}

fn strings(values: &[Value], path: &str) -> Result<Vec<String>, FormatError> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| as_str(v, &index(path, i)).map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const DOC: &str = r#"{
      "format": "latch.identity-center/v1",
      "instance": {"arn": "arn:aws:sso:::instance/ssoins-1111111111111111",
                   "identity_store_id": "d-1111111111", "region": "eu-west-1"},
      "permission_sets": [
        {"arn": "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-1", "name": "Admin_Ops",
         "session_duration": "PT8H",
         "aws_managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"],
         "customer_managed_policies": [{"name": "ops-extra"}],
         "permissions_boundary": {"customer_managed": {"name": "cap", "path": "/guard/"}}},
        {"arn": "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-2", "name": "ReadOnly",
         "inline_policy": {"Version": "2012-10-17", "Statement": [
           {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}
      ],
      "users": [
        {"id": "u-alice", "user_name": "alice@example.com", "display_name": "Alice",
         "emails": ["alice@example.com"], "active": true},
        {"id": "u-bob", "user_name": "bob@example.com", "active": false}
      ],
      "groups": [{"id": "g-ops", "display_name": "ops", "members": ["u-alice", "u-bob"]}],
      "assignments": [
        {"account": "111111111111", "permission_set": "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-1",
         "principal_type": "GROUP", "principal_id": "g-ops"},
        {"account": "111111111111", "permission_set": "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-1",
         "principal_type": "USER", "principal_id": "u-alice"}
      ]
    }"#;

    #[test]
    fn reads_the_format_and_links_people_through_groups() {
        let ic = parse_identity_center_str(DOC).unwrap();
        let ps1 = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-1";
        let set = &ic.permission_sets[ps1];
        assert_eq!(
            set.customer_managed_policies[0].arn_in("111111111111"),
            "arn:aws:iam::111111111111:policy/ops-extra"
        );
        assert_eq!(
            set.permissions_boundary,
            Some(Boundary::CustomerManaged(PolicyReference {
                name: "cap".into(),
                path: "/guard/".into()
            }))
        );
        let people: Vec<(&str, Option<&str>)> = ic
            .people_of("111111111111", ps1)
            .iter()
            .map(|r| {
                (
                    r.user.user_name.as_str(),
                    r.through.map(|g| g.display_name.as_str()),
                )
            })
            .collect();
        assert_eq!(
            people,
            vec![
                ("alice@example.com", None),
                ("alice@example.com", Some("ops")),
                ("bob@example.com", Some("ops")),
            ]
        );
        assert!(ic.people_of("222222222222", ps1).is_empty());
        assert_eq!(ic.users["u-bob"].active, Some(false));
        assert_eq!(ic.groups_of("u-bob").count(), 1);
    }

    #[test]
    fn role_names_and_paths_of_identity_center() {
        assert_eq!(
            permission_set_name("AWSReservedSSO_Admin_Ops_0123456789abcdef"),
            Some("Admin_Ops")
        );
        assert_eq!(
            permission_set_name("AWSReservedSSO_ReadOnly_9d8c7b6a5f4e3d2c"),
            Some("ReadOnly")
        );
        assert_eq!(permission_set_name("AWSReservedSSO_"), None);
        assert_eq!(permission_set_name("deploy"), None);
        assert!(is_role_path("/aws-reserved/sso.amazonaws.com/"));
        assert!(is_role_path("/aws-reserved/sso.amazonaws.com/eu-west-1/"));
        assert!(!is_role_path(
            "/aws-reserved/sso.amazonaws.com/eu-west-1/x/"
        ));
        assert!(!is_role_path("/"));
    }

    #[test]
    fn bad_input_names_the_field() {
        let err = |from: &str, to: &str| {
            let text = DOC.replacen(from, to, 1);
            assert_ne!(text, DOC, "{from}");
            parse_identity_center_str(&text).unwrap_err().to_string()
        };
        assert!(err(
            "\"principal_id\": \"g-ops\"",
            "\"principal_id\": \"g-nope\""
        )
        .starts_with("assignments[0].principal_id: `g-nope` is no group"));
        assert!(err(
            "/ps-1\",\n         \"principal_type\": \"GROUP\"",
            "/ps-9\",\n         \"principal_type\": \"GROUP\""
        )
        .starts_with("assignments[0].permission_set: "));
        assert!(
            err("\"user_name\": \"bob@example.com\"", "\"user_name\": \" \"")
                .starts_with("users[1].user_name: a user needs a user name")
        );
        assert!(err(
            "\"members\": [\"u-alice\", \"u-bob\"]",
            "\"members\": [\"u-alice\", \"u-carol\"]"
        )
        .starts_with("groups[0].members[1]: `u-carol` is no user"));
        assert!(err(
            "\"members\": [\"u-alice\", \"u-bob\"]",
            "\"members\": [\"u-alice\", \"g-ops\"]"
        )
        .starts_with("groups[0].members[1]: `g-ops` is a group: Identity Center groups have users as members, never groups"));
        assert!(err("\"name\": \"ReadOnly\"", "\"name\": \"Admin_Ops\"")
            .starts_with("permission_sets[1].name: permission set `Admin_Ops` appears twice"));
        assert!(err("\"active\": true", "\"enabled\": true")
            .starts_with("users[0].enabled: unknown field"));
        assert!(err("latch.identity-center/v1", "latch.identity-center/v9").starts_with("format: "));
    }
}
