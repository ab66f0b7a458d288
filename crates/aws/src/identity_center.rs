//! IAM Identity Center, read for `identity-center.json` (`latch.identity-center/v1`,
//! docs/snapshot-format.md): the instance, its permission sets (inline policy, AWS and customer
//! managed policies, permissions boundary), who is assigned which on which account of the
//! organization, and the users, groups and group memberships of its identity store.
//!
//! Only the `sso-admin` and `identitystore` APIs of the instance are called, with the base
//! credentials in the configured region, so it works from the management account as well as
//! from a delegated administrator for IAM Identity Center: both may call every one of them.
//! The accounts whose assignments are listed are the organization's, as `collect` already
//! listed them.
//!
//! Calls: `sso:ListInstances`, `sso:ListPermissionSets`, `sso:DescribePermissionSet`,
//! `sso:GetInlinePolicyForPermissionSet`, `sso:ListManagedPoliciesInPermissionSet`,
//! `sso:ListCustomerManagedPolicyReferencesInPermissionSet`,
//! `sso:GetPermissionsBoundaryForPermissionSet`, `sso:ListAccountAssignments` (per account ×
//! permission set), `identitystore:ListUsers`, `identitystore:ListGroups`,
//! `identitystore:ListGroupMemberships` (per group). Every list is paged; calls run
//! [`Aws::concurrency`] at a time, retried with back-off on throttling as the connection's SDK
//! configuration says (`--max-attempts`).
//!
//! Nothing is dropped silently: a call that fails (access denied, an operation the endpoint
//! does not implement) is recorded in the file's `not_analysed`, naming the call and the
//! permission set, account or group, and the rest is still read. Only when the instance itself
//! cannot be had (no instance in the region, `ListInstances` refused) is there no file, and the
//! collect report says why.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_identitystore::types::{
    Group as StoreGroup, GroupMembership, MemberId, User as StoreUser, UserStatus,
};
use aws_sdk_ssoadmin::config::http::HttpResponse;
use aws_sdk_ssoadmin::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssoadmin::types::{
    AccountAssignment, AttachedManagedPolicy, CustomerManagedPolicyReference, InstanceMetadata,
    PermissionSet as SdkPermissionSet, PermissionsBoundary, PrincipalType,
};
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::error::{call_err, AwsError, Result};
use crate::progress::{self, Progress};
use crate::Aws;

/// Page size of the list calls (the most every one of them accepts).
const PAGE_SIZE: i32 = 100;

/// A failed call's message is cut to this many characters in `not_analysed` (an endpoint that
/// does not implement an operation may answer a whole HTML page).
const MESSAGE_MAX: usize = 300;

/// What was read of one permission set, in the SDK's types.
#[derive(Debug, Clone)]
pub struct PermissionSetData {
    /// `DescribePermissionSet`'s answer.
    pub set: SdkPermissionSet,
    /// `GetInlinePolicyForPermissionSet`'s text (empty: none); `None` when it could not be read.
    pub inline_policy: Option<String>,
    /// `ListManagedPoliciesInPermissionSet`.
    pub managed_policies: Vec<AttachedManagedPolicy>,
    /// `ListCustomerManagedPolicyReferencesInPermissionSet`.
    pub customer_managed_policies: Vec<CustomerManagedPolicyReference>,
    /// `GetPermissionsBoundaryForPermissionSet` (`None`: none is set, or it could not be read).
    pub permissions_boundary: Option<PermissionsBoundary>,
}

/// What was read of the Identity Center, in the SDK's types: the input of [`document`].
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// The instance's ARN.
    pub instance_arn: String,
    /// Its identity store (`d-…`).
    pub identity_store_id: String,
    /// The region it lives in.
    pub region: String,
    /// The permission sets that could be described.
    pub permission_sets: Vec<PermissionSetData>,
    /// `ListAccountAssignments`, over every account and permission set.
    pub assignments: Vec<AccountAssignment>,
    /// `ListUsers`.
    pub users: Vec<StoreUser>,
    /// Whether `ListUsers` answered (otherwise assignments to users cannot be listed).
    pub users_listed: bool,
    /// `ListGroups`.
    pub groups: Vec<StoreGroup>,
    /// Whether `ListGroups` answered.
    pub groups_listed: bool,
    /// `ListGroupMemberships` of every group.
    pub memberships: Vec<GroupMembership>,
    /// What could not be read, and why.
    pub not_analysed: Vec<String>,
}

/// The short id of a permission set or instance ARN (`ps-…`, `ssoins-…`).
fn short_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// How a permission set is named in notes: `` `Name` (ps-…) ``, or its id alone.
fn set_label(arn: &str, name: Option<&str>) -> String {
    match name {
        Some(n) if !n.is_empty() => format!("permission set `{n}` ({})", short_id(arn)),
        _ => format!("permission set {}", short_id(arn)),
    }
}

/// [`call_err`], with the HTTP status when AWS's answer carried no error code (an endpoint
/// that does not implement the operation answers a bare 500).
fn call_failed<E>(call: impl Into<String>, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let mut e = call_err(call, err);
    if let (
        AwsError::Call {
            code: None,
            message,
            ..
        },
        Some(status),
    ) = (&mut e, status)
    {
        *message = format!("HTTP {status}: {message}");
    }
    e
}

/// A failed call as a note: the error, its message cut to [`MESSAGE_MAX`] characters and to
/// its first line.
fn failure(e: &AwsError) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    let cut: String = line.chars().take(MESSAGE_MAX).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// Reads the Identity Center instance of the connection's region and everything
/// `identity-center.json` holds, with assignments on `accounts`.
///
/// # Errors
/// `ListInstances` failed, or the region has no instance: there is nothing to write. Every
/// other failure is recorded in [`Collected::not_analysed`].
pub async fn read(aws: &Aws, accounts: &[String], progress: &dyn Progress) -> Result<Collected> {
    let config = aws.sdk_config();
    let region = config
        .region()
        .map_or(crate::connect::FALLBACK_REGION, |r| r.as_ref())
        .to_owned();
    let sso = aws_sdk_ssoadmin::Client::new(config);
    let store = aws_sdk_identitystore::Client::new(config);

    let mut instances: Vec<InstanceMetadata> = sso
        .list_instances()
        .max_results(PAGE_SIZE)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| call_failed(format!("sso:ListInstances in {region}"), e))?;
    instances.sort_by(|a, b| a.instance_arn().cmp(&b.instance_arn()));
    let mut instances = instances.into_iter();
    let Some(instance) = instances.next() else {
        return Err(AwsError::Conflict(format!(
            "IAM Identity Center has no instance in {region} (sso:ListInstances listed none): \
             collect in the region of the instance (--region) if the organization has one"
        )));
    };
    let (Some(instance_arn), Some(identity_store_id)) =
        (instance.instance_arn(), instance.identity_store_id())
    else {
        return Err(AwsError::Conflict(format!(
            "sso:ListInstances in {region} gave an instance without an ARN or identity store id"
        )));
    };
    let mut c = Collected {
        instance_arn: instance_arn.to_owned(),
        identity_store_id: identity_store_id.to_owned(),
        region: instance.primary_region().unwrap_or(&region).to_owned(),
        ..Collected::default()
    };
    let others: Vec<&str> = instances
        .as_slice()
        .iter()
        .filter_map(InstanceMetadata::instance_arn)
        .collect();
    if !others.is_empty() {
        c.not_analysed.push(format!(
            "sso:ListInstances in {region} listed {} instances: this file holds {instance_arn} \
             only; the permission sets, assignments and people of {} are not analysed",
            others.len() + 1,
            others.join(", ")
        ));
    }

    // Permission sets, then what each holds.
    let arns: Vec<String> = match sso
        .list_permission_sets()
        .instance_arn(instance_arn)
        .max_results(PAGE_SIZE)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
    {
        Ok(a) => a,
        Err(e) => {
            let e = call_failed(format!("sso:ListPermissionSets {instance_arn}"), e);
            c.not_analysed.push(format!(
                "{}; no permission set and no assignment is listed",
                failure(&e)
            ));
            Vec::new()
        }
    };
    let sso_ref = &sso;
    let mut described: Vec<(String, Option<PermissionSetData>, Vec<String>)> =
        futures::stream::iter(arns)
            .map(|arn| async move {
                let (data, notes) = read_set(sso_ref, instance_arn, &arn).await;
                (arn, data, notes)
            })
            .buffer_unordered(aws.concurrency())
            .collect()
            .await;
    described.sort_by(|a, b| a.0.cmp(&b.0));
    progress::phase(progress, "identity-center", described.len());
    for (arn, data, notes) in &described {
        if data.is_none() {
            progress::item(progress, &set_label(arn, None), false, notes.join("; "));
        }
    }

    // Who is assigned each permission set on each account: one listing per pair, the pairs
    // `concurrency` at a time; a permission set is done when its last account is.
    let readable: Vec<(&str, String)> = described
        .iter()
        .filter_map(|(arn, data, _)| {
            let d = data.as_ref()?;
            Some((arn.as_str(), set_label(arn, d.set.name())))
        })
        .collect();
    let mut pending = vec![accounts.len(); readable.len()];
    let mut found = vec![0usize; readable.len()];
    let mut failed: Vec<Vec<(String, AwsError)>> = readable.iter().map(|_| Vec::new()).collect();
    // Owned pairs: a future that borrows through a closure's argument is not provably `Send`
    // (rust-lang/rust#110338), and the server reads Identity Center from a spawned task.
    let pairs: Vec<(usize, String, String)> = readable
        .iter()
        .enumerate()
        .flat_map(|(i, (arn, _))| {
            accounts
                .iter()
                .map(move |account| (i, (*arn).to_owned(), account.clone()))
        })
        .collect();
    let mut listings = futures::stream::iter(pairs)
        .map(|(i, arn, account)| async move {
            let got = sso_ref
                .list_account_assignments()
                .instance_arn(instance_arn)
                .account_id(account.as_str())
                .permission_set_arn(arn.as_str())
                .max_results(PAGE_SIZE)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| call_failed("sso:ListAccountAssignments", e));
            (i, account, got)
        })
        .buffer_unordered(aws.concurrency());
    while let Some((i, account, got)) = listings.next().await {
        match got {
            Ok(list) => {
                if let Some(n) = found.get_mut(i) {
                    *n += list.len();
                }
                c.assignments.extend(list);
            }
            Err(e) => {
                if let Some(f) = failed.get_mut(i) {
                    f.push((account, e));
                }
            }
        }
        if let Some(p) = pending.get_mut(i) {
            *p = p.saturating_sub(1);
            if *p == 0 {
                set_done(progress, &readable, &found, &failed, i, accounts.len());
            }
        }
    }
    drop(listings);
    if accounts.is_empty() {
        for i in 0..readable.len() {
            set_done(progress, &readable, &found, &failed, i, 0);
        }
    }
    for (_, _, notes) in &described {
        c.not_analysed.extend(notes.iter().cloned());
    }
    for ((_, label), failed) in readable.iter().zip(failed.iter_mut()) {
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some((_, first)) = failed.first() {
            let ids: Vec<&str> = failed.iter().map(|(a, _)| a.as_str()).collect();
            c.not_analysed.push(format!(
                "{label}: {} on {} {}; who is assigned it there is unknown",
                failure(first),
                if ids.len() == 1 {
                    "account"
                } else {
                    "accounts"
                },
                ids.join(", ")
            ));
        }
    }
    c.permission_sets = described
        .into_iter()
        .filter_map(|(_, data, _)| data)
        .collect();

    // The people and groups of the identity store.
    match store
        .list_users()
        .identity_store_id(identity_store_id)
        .max_results(PAGE_SIZE)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
    {
        Ok(users) => {
            c.users = users;
            c.users_listed = true;
        }
        Err(e) => {
            let e = call_failed(format!("identitystore:ListUsers {identity_store_id}"), e);
            c.not_analysed.push(format!(
                "{}; no user is listed, nor the assignments to users and group members",
                failure(&e)
            ));
        }
    }
    match store
        .list_groups()
        .identity_store_id(identity_store_id)
        .max_results(PAGE_SIZE)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
    {
        Ok(groups) => {
            c.groups = groups;
            c.groups_listed = true;
        }
        Err(e) => {
            let e = call_failed(format!("identitystore:ListGroups {identity_store_id}"), e);
            c.not_analysed.push(format!(
                "{}; no group is listed, nor the assignments to groups",
                failure(&e)
            ));
        }
    }
    let store_ref = &store;
    let groups: Vec<(String, String)> = c
        .groups
        .iter()
        .map(|g| {
            (
                g.group_id().to_owned(),
                g.display_name().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let members: Vec<std::result::Result<Vec<GroupMembership>, String>> =
        futures::stream::iter(groups)
            .map(|(group_id, display_name)| async move {
                store_ref
                    .list_group_memberships()
                    .identity_store_id(identity_store_id)
                    .group_id(group_id.as_str())
                    .max_results(PAGE_SIZE)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| {
                        let e = call_failed("identitystore:ListGroupMemberships", e);
                        format!(
                            "group `{}` ({}): {}; its members are unknown",
                            display_name,
                            group_id,
                            failure(&e)
                        )
                    })
            })
            .buffer_unordered(aws.concurrency())
            .collect()
            .await;
    for m in members {
        match m {
            Ok(list) => c.memberships.extend(list),
            Err(note) => c.not_analysed.push(note),
        }
    }
    Ok(c)
}

/// One permission set: described, its policies and its boundary. `None` when it cannot be
/// described (the notes say why).
async fn read_set(
    sso: &aws_sdk_ssoadmin::Client,
    instance: &str,
    arn: &str,
) -> (Option<PermissionSetData>, Vec<String>) {
    let mut notes = Vec::new();
    let described = sso
        .describe_permission_set()
        .instance_arn(instance)
        .permission_set_arn(arn)
        .send()
        .await
        .map_err(|e| call_failed("sso:DescribePermissionSet", e));
    let set = match described.map(|o| o.permission_set().cloned()) {
        Ok(Some(set)) => set,
        Ok(None) => {
            notes.push(format!(
                "{}: sso:DescribePermissionSet gave no permission set; it and its assignments \
                 are not listed",
                set_label(arn, None)
            ));
            return (None, notes);
        }
        Err(e) => {
            notes.push(format!(
                "{}: {}; it and its assignments are not listed",
                set_label(arn, None),
                failure(&e)
            ));
            return (None, notes);
        }
    };
    let label = set_label(arn, set.name());
    let (inline, managed, customer, boundary) = futures::join!(
        sso.get_inline_policy_for_permission_set()
            .instance_arn(instance)
            .permission_set_arn(arn)
            .send(),
        sso.list_managed_policies_in_permission_set()
            .instance_arn(instance)
            .permission_set_arn(arn)
            .max_results(PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .try_collect(),
        sso.list_customer_managed_policy_references_in_permission_set()
            .instance_arn(instance)
            .permission_set_arn(arn)
            .max_results(PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .try_collect(),
        sso.get_permissions_boundary_for_permission_set()
            .instance_arn(instance)
            .permission_set_arn(arn)
            .send(),
    );
    let inline_policy = match inline {
        Ok(o) => Some(o.inline_policy().unwrap_or_default().to_owned()),
        Err(e) => {
            let e = call_failed("sso:GetInlinePolicyForPermissionSet", e);
            notes.push(format!(
                "{label}: {}; its inline policy is unknown",
                failure(&e)
            ));
            None
        }
    };
    let managed_policies = managed.unwrap_or_else(|e| {
        let e = call_failed("sso:ListManagedPoliciesInPermissionSet", e);
        notes.push(format!(
            "{label}: {}; its AWS managed policies are unknown",
            failure(&e)
        ));
        Vec::new()
    });
    let customer_managed_policies = customer.unwrap_or_else(|e| {
        let e = call_failed("sso:ListCustomerManagedPolicyReferencesInPermissionSet", e);
        notes.push(format!(
            "{label}: {}; its customer managed policies are unknown",
            failure(&e)
        ));
        Vec::new()
    });
    // AWS answers ResourceNotFoundException when the permission set has no boundary (it was
    // just described, so the set itself exists).
    let permissions_boundary = match boundary {
        Ok(o) => o.permissions_boundary().cloned(),
        Err(e) => {
            let e = call_failed("sso:GetPermissionsBoundaryForPermissionSet", e);
            if e.code() != Some("ResourceNotFoundException") {
                notes.push(format!("{label}: {}; its boundary is unknown", failure(&e)));
            }
            None
        }
    };

    let data = PermissionSetData {
        set,
        inline_policy,
        managed_policies,
        customer_managed_policies,
        permissions_boundary,
    };
    (Some(data), notes)
}

/// Tells `progress` that the `i`th permission set of `sets` is done.
fn set_done(
    progress: &dyn Progress,
    sets: &[(&str, String)],
    found: &[usize],
    failed: &[Vec<(String, AwsError)>],
    i: usize,
    accounts: usize,
) {
    let (Some((_, label)), Some(found), Some(failed)) = (sets.get(i), found.get(i), failed.get(i))
    else {
        return;
    };
    let mut detail = format!("{found} assignments on {accounts} accounts");
    if let Some((account, e)) = failed.first() {
        detail.push_str(&format!(
            "; not listed on {} accounts (e.g. {account}: {})",
            failed.len(),
            failure(e)
        ));
    }
    progress::item(progress, label, failed.is_empty(), detail);
}

#[derive(Debug, Serialize)]
struct FileOut {
    format: &'static str,
    instance: InstanceOut,
    permission_sets: Vec<SetOut>,
    assignments: Vec<AssignmentOut>,
    users: Vec<UserOut>,
    groups: Vec<GroupOut>,
    not_analysed: Vec<String>,
}

#[derive(Debug, Serialize)]
struct InstanceOut {
    arn: String,
    identity_store_id: String,
    region: String,
}

#[derive(Debug, Serialize)]
struct SetOut {
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_duration: Option<String>,
    inline_policy: Option<Value>,
    aws_managed_policies: Vec<String>,
    customer_managed_policies: Vec<RefOut>,
    permissions_boundary: Option<BoundaryOut>,
}

#[derive(Debug, Serialize)]
struct RefOut {
    name: String,
    path: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
enum BoundaryOut {
    ManagedPolicyArn(String),
    CustomerManaged(RefOut),
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct AssignmentOut {
    account: String,
    permission_set: String,
    principal_type: &'static str,
    principal_id: String,
}

#[derive(Debug, Serialize)]
struct UserOut {
    id: String,
    user_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    emails: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
}

#[derive(Debug, Serialize)]
struct GroupOut {
    id: String,
    display_name: String,
    members: BTreeSet<String>,
}

/// A customer managed policy reference as the file writes it, or why it cannot be.
fn reference(r: &CustomerManagedPolicyReference) -> std::result::Result<RefOut, String> {
    let path = r.path().unwrap_or("/");
    if r.name().is_empty() {
        return Err("a customer managed policy reference without a name".to_owned());
    }
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(format!(
            "customer managed policy `{}` has the path `{path}`, which is not an IAM path",
            r.name()
        ));
    }
    Ok(RefOut {
        name: r.name().to_owned(),
        path: path.to_owned(),
    })
}

/// `active` as the file says it: `true` for `ENABLED`, `false` for `DISABLED`, absent when the
/// directory does not say (or says something else, which `note` records).
fn active(user: &StoreUser, note: &mut Vec<String>) -> Option<bool> {
    match user.user_status()? {
        UserStatus::Enabled => Some(true),
        UserStatus::Disabled => Some(false),
        other => {
            note.push(format!(
                "user `{}` ({}): status `{}` is neither ENABLED nor DISABLED; whether they may \
                 sign in is unknown",
                user.user_name().unwrap_or_default(),
                user.user_id(),
                other.as_str()
            ));
            None
        }
    }
}

/// The `identity-center.json` document (`latch.identity-center/v1`) of what was read.
///
/// Whatever the format cannot hold is left out and said in `not_analysed`, never dropped
/// silently: a permission set without a name, an inline policy Latch's parser rejects (written
/// as `null`), a user without a user name, a group member or assignment naming someone who was
/// not listed (a failed listing, or a change between two calls), an assignment to a permission
/// set that could not be described.
pub fn document(c: &Collected) -> Value {
    let mut notes = c.not_analysed.clone();

    let mut sets: BTreeMap<String, SetOut> = BTreeMap::new();
    for data in &c.permission_sets {
        let s = &data.set;
        let Some(arn) = s.permission_set_arn().filter(|a| !a.is_empty()) else {
            notes.push(format!(
                "a permission set `{}` without an ARN: not listed",
                s.name().unwrap_or_default()
            ));
            continue;
        };
        let Some(name) = s.name().filter(|n| !n.is_empty()) else {
            notes.push(format!(
                "{}: described without a name; it and its assignments are not listed",
                set_label(arn, None)
            ));
            continue;
        };
        let label = set_label(arn, Some(name));
        let inline_policy = match data.inline_policy.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                match latch_model::PolicyDocument::parse(
                    &Value::String(text.to_owned()),
                    "inline_policy",
                ) {
                    Ok(doc) => Some(doc.value()),
                    Err(e) => {
                        notes.push(format!(
                            "{label}: its inline policy does not parse ({e}); its inline \
                             permissions are not analysed"
                        ));
                        None
                    }
                }
            }
        };
        let mut aws_managed_policies = Vec::new();
        for p in &data.managed_policies {
            match p.arn().filter(|a| !a.is_empty()) {
                Some(a) => aws_managed_policies.push(a.to_owned()),
                None => notes.push(format!(
                    "{label}: an AWS managed policy `{}` without an ARN: not listed",
                    p.name().unwrap_or_default()
                )),
            }
        }
        aws_managed_policies.sort();
        aws_managed_policies.dedup();
        let mut customer_managed_policies = Vec::new();
        for r in &data.customer_managed_policies {
            match reference(r) {
                Ok(r) => customer_managed_policies.push(r),
                Err(why) => notes.push(format!("{label}: {why}: not listed")),
            }
        }
        let permissions_boundary = match &data.permissions_boundary {
            None => None,
            Some(b) => match (
                b.managed_policy_arn(),
                b.customer_managed_policy_reference(),
            ) {
                (Some(a), None) => Some(BoundaryOut::ManagedPolicyArn(a.to_owned())),
                (None, Some(r)) => match reference(r) {
                    Ok(r) => Some(BoundaryOut::CustomerManaged(r)),
                    Err(why) => {
                        notes.push(format!("{label}: boundary: {why}; its boundary is unknown"));
                        None
                    }
                },
                (None, None) => None,
                (Some(_), Some(_)) => {
                    notes.push(format!(
                        "{label}: the boundary names both a managed policy and a customer \
                         managed policy; its boundary is unknown"
                    ));
                    None
                }
            },
        };
        sets.insert(
            arn.to_owned(),
            SetOut {
                arn: arn.to_owned(),
                name: name.to_owned(),
                description: s.description().map(str::to_owned),
                session_duration: s.session_duration().map(str::to_owned),
                inline_policy,
                aws_managed_policies,
                customer_managed_policies,
                permissions_boundary,
            },
        );
    }

    let mut users: BTreeMap<String, UserOut> = BTreeMap::new();
    for u in &c.users {
        let id = u.user_id();
        let Some(user_name) = u.user_name().filter(|n| !n.trim().is_empty()) else {
            notes.push(format!(
                "user {id}: the identity store gives no user name; they, their assignments and \
                 group memberships are not listed"
            ));
            continue;
        };
        let mut emails: Vec<&aws_sdk_identitystore::types::Email> = u.emails().iter().collect();
        // Primary first, the others in the directory's order.
        emails.sort_by_key(|e| !e.primary());
        let user = UserOut {
            id: id.to_owned(),
            user_name: user_name.to_owned(),
            display_name: u.display_name().map(str::to_owned),
            emails: emails
                .iter()
                .filter_map(|e| e.value())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect(),
            active: active(u, &mut notes),
        };
        users.entry(id.to_owned()).or_insert(user);
    }

    let mut groups: BTreeMap<String, GroupOut> = BTreeMap::new();
    for g in &c.groups {
        let id = g.group_id();
        let display_name = match g.display_name().filter(|n| !n.is_empty()) {
            Some(n) => n.to_owned(),
            None => {
                notes.push(format!(
                    "group {id}: the identity store gives no display name; it is named by its id"
                ));
                id.to_owned()
            }
        };
        groups.entry(id.to_owned()).or_insert(GroupOut {
            id: id.to_owned(),
            display_name,
            members: BTreeSet::new(),
        });
    }
    let mut unknown_members = 0usize;
    for m in &c.memberships {
        let Some(group) = m.group_id().and_then(|g| groups.get_mut(g)) else {
            continue;
        };
        match m.member_id() {
            Some(MemberId::UserId(user)) if users.contains_key(user) => {
                group.members.insert(user.clone());
            }
            Some(MemberId::UserId(user)) if c.users_listed => notes.push(format!(
                "group `{}` ({}): member {user} is not among the listed users; not listed",
                group.display_name, group.id
            )),
            Some(MemberId::UserId(_)) => unknown_members += 1,
            _ => notes.push(format!(
                "group `{}` ({}): a member that is not a user (membership {}); not listed",
                group.display_name,
                group.id,
                m.membership_id()
            )),
        }
    }
    if unknown_members > 0 {
        notes.push(format!(
            "{unknown_members} group memberships are not listed: the users could not be listed"
        ));
    }

    let mut assignments: BTreeSet<AssignmentOut> = BTreeSet::new();
    let mut unlisted: BTreeMap<&'static str, usize> = BTreeMap::new();
    for a in &c.assignments {
        let (Some(account), Some(set), Some(kind), Some(id)) = (
            a.account_id(),
            a.permission_set_arn(),
            a.principal_type(),
            a.principal_id(),
        ) else {
            notes.push(format!(
                "an incomplete account assignment ({a:?}): not listed"
            ));
            continue;
        };
        let Some(set_out) = sets.get(set) else {
            notes.push(format!(
                "account {account}: an assignment of {} that is not listed (see above)",
                set_label(set, None)
            ));
            continue;
        };
        let (principal_type, known, listed, what) = match kind {
            PrincipalType::User => ("USER", users.contains_key(id), c.users_listed, "user"),
            PrincipalType::Group => ("GROUP", groups.contains_key(id), c.groups_listed, "group"),
            other => {
                notes.push(format!(
                    "account {account}: {} is assigned to a principal of type `{}`, neither \
                     USER nor GROUP: not listed",
                    set_label(set, Some(&set_out.name)),
                    other.as_str()
                ));
                continue;
            }
        };
        if !known {
            if listed {
                notes.push(format!(
                    "account {account}: {} is assigned to {what} {id}, who is not among the \
                     listed {what}s: not listed",
                    set_label(set, Some(&set_out.name))
                ));
            } else {
                *unlisted.entry(what).or_default() += 1;
            }
            continue;
        }
        assignments.insert(AssignmentOut {
            account: account.to_owned(),
            permission_set: set.to_owned(),
            principal_type,
            principal_id: id.to_owned(),
        });
    }
    for (what, n) in unlisted {
        notes.push(format!(
            "{n} assignments to {what}s are not listed: the {what}s could not be listed"
        ));
    }

    let mut users: Vec<UserOut> = users.into_values().collect();
    users.sort_by(|a, b| (&a.user_name, &a.id).cmp(&(&b.user_name, &b.id)));
    let mut groups: Vec<GroupOut> = groups.into_values().collect();
    groups.sort_by(|a, b| (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id)));
    let file = FileOut {
        format: latch_model::identity_center::FORMAT,
        instance: InstanceOut {
            arn: c.instance_arn.clone(),
            identity_store_id: c.identity_store_id.clone(),
            region: c.region.clone(),
        },
        permission_sets: sets.into_values().collect(),
        assignments: assignments.into_iter().collect(),
        users,
        groups,
        not_analysed: notes,
    };
    serde_json::to_value(&file).unwrap_or(Value::Null)
}

/// One line on what an `identity-center.json` holds, for the collect report.
pub fn summary(ic: &latch_model::identity_center::IdentityCenter) -> String {
    let mut s = format!(
        "instance {} in {}: {} permission sets, {} assignments, {} users, {} groups",
        short_id(&ic.instance.arn),
        ic.instance.region,
        ic.permission_sets.len(),
        ic.assignments.len(),
        ic.users.len(),
        ic.groups.len()
    );
    if !ic.not_analysed.is_empty() {
        s.push_str(&format!(
            "; {} gaps (see not_analysed)",
            ic.not_analysed.len()
        ));
    }
    s
}
