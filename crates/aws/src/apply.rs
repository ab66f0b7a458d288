//! `latch apply`: make the organization match a plan.
//!
//! [`plan_changes`] reads the live organization and returns the [`Change`]s needed, in the
//! order they must run so that access is never briefly widened:
//!
//! 1. enable the policy types the plan uses;
//! 2. create new policies (not attached yet, so they change nothing) and update edited ones;
//! 3. put principal tags (exemptions such as the control plane's must exist before the denies
//!    that honour them);
//! 4. attach, **then** detach (a new deny is in force before an old one is removed);
//! 5. delete Latch policies the plan dropped (already detached), remove tags it dropped.
//!
//! [`execute`] carries them out one by one, recording each in `applied.json`; AWS's
//! "already attached" / "not attached" / "already enabled" answers count as done, so a rerun
//! after a failure converges. Only policies named `latch-*` **and** tagged
//! `latch:managed=true` are ever changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aws_config::SdkConfig;
use aws_sdk_organizations::types::Tag as OrgTag;
use latch_catalog::Limits;
use serde::Serialize;
use serde_json::Value;

use crate::connect::CallerIdentity;
use crate::error::{call_err, AwsError, Result};
use crate::org::{
    describe, latch_policies, policies_for_target, LatchPolicies, PolicyType, PolicyTypeExt,
};
use crate::pacing::Family;
use crate::plan::{principal_of, Plan};
use crate::progress::{self, Progress};
use crate::state::{policy_key, AppliedPolicy, AppliedState, AppliedTag};
use crate::{time, Aws};
use latch_contract::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, UNKNOWN_ROOT};

/// One call (or a few) that moves the organization towards the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// Enable SCPs or RCPs on the root.
    EnablePolicyType {
        /// Which.
        kind: PolicyType,
        /// `r-...`.
        root_id: String,
    },
    /// Create a policy (tagged `latch:managed=true`).
    CreatePolicy {
        /// Type.
        kind: PolicyType,
        /// `latch-...`.
        name: String,
        /// Description.
        description: String,
        /// Document.
        content: String,
    },
    /// Replace the document and/or description of a Latch policy.
    UpdatePolicy {
        /// Type.
        kind: PolicyType,
        /// Name.
        name: String,
        /// `p-...`.
        policy_id: String,
        /// New document, when it changes.
        content: Option<String>,
        /// New description, when it changes.
        description: Option<String>,
    },
    /// Put a tag on a user or role.
    Tag {
        /// The principal.
        principal_arn: String,
        /// `latch:...`.
        key: String,
        /// New value.
        value: String,
        /// Current value, when the tag exists with another value.
        previous: Option<String>,
        /// From the plan.
        reason: String,
    },
    /// Attach a policy to a root, OU or account.
    Attach {
        /// Type.
        kind: PolicyType,
        /// Name.
        name: String,
        /// `p-...`, unknown until a policy created in the same run exists.
        policy_id: Option<String>,
        /// Target id.
        target: String,
    },
    /// Detach a Latch policy from a target.
    Detach {
        /// Type.
        kind: PolicyType,
        /// Name.
        name: String,
        /// `p-...`.
        policy_id: String,
        /// Target id.
        target: String,
    },
    /// Delete a Latch policy the plan no longer has (detached first).
    DeletePolicy {
        /// Type.
        kind: PolicyType,
        /// Name.
        name: String,
        /// `p-...`.
        policy_id: String,
    },
    /// Remove a `latch:*` tag from a user or role.
    Untag {
        /// The principal.
        principal_arn: String,
        /// `latch:...`.
        key: String,
        /// Its current value.
        value: String,
        /// Why it goes.
        reason: String,
    },
}

impl Change {
    /// Position in the safe order (see the module docs).
    pub fn rank(&self) -> u8 {
        match self {
            Change::EnablePolicyType { .. } => 0,
            Change::CreatePolicy { .. } => 1,
            Change::UpdatePolicy { .. } => 2,
            Change::Tag { .. } => 3,
            Change::Attach { .. } => 4,
            Change::Detach { .. } => 5,
            Change::DeletePolicy { .. } => 6,
            Change::Untag { .. } => 7,
        }
    }

    /// Whether it is an AWS Organizations policy write (`CreatePolicy`, `UpdatePolicy`,
    /// `AttachPolicy`, `DetachPolicy`, `DeletePolicy`): paced to AWS's rate ([`crate::pacing`]).
    pub fn is_policy_write(&self) -> bool {
        matches!(
            self,
            Change::CreatePolicy { .. }
                | Change::UpdatePolicy { .. }
                | Change::Attach { .. }
                | Change::Detach { .. }
                | Change::DeletePolicy { .. }
        )
    }

    /// The verb shown in the diff.
    pub fn verb(&self) -> &'static str {
        match self {
            Change::EnablePolicyType { .. } => "enable",
            Change::CreatePolicy { .. } => "create",
            Change::UpdatePolicy { .. } => "update",
            Change::Tag { .. } => "tag",
            Change::Attach { .. } => "attach",
            Change::Detach { .. } => "detach",
            Change::DeletePolicy { .. } => "delete",
            Change::Untag { .. } => "untag",
        }
    }

    /// What it does, in one line for people.
    pub fn describe(&self) -> String {
        match self {
            Change::EnablePolicyType { kind, root_id } => {
                format!("{} policy type on {root_id}", kind.api_name())
            }
            Change::CreatePolicy {
                kind,
                name,
                content,
                ..
            } => format!("{} {name} ({} characters)", kind.short(), content.len()),
            Change::UpdatePolicy {
                kind,
                name,
                policy_id,
                content,
                description,
            } => {
                let what: Vec<&str> = [
                    content.as_ref().map(|_| "content"),
                    description.as_ref().map(|_| "description"),
                ]
                .into_iter()
                .flatten()
                .collect();
                format!("{} {name} ({policy_id}): {}", kind.short(), what.join(", "))
            }
            Change::Tag {
                principal_arn,
                key,
                value,
                previous,
                ..
            } => match previous {
                Some(p) => format!("{principal_arn} {key}={value} (was {p})"),
                None => format!("{principal_arn} {key}={value}"),
            },
            Change::Attach {
                kind,
                name,
                policy_id,
                target,
            } => format!(
                "{} {name} ({}) -> {target}",
                kind.short(),
                policy_id.as_deref().unwrap_or("new")
            ),
            Change::Detach {
                kind,
                name,
                policy_id,
                target,
            } => format!("{} {name} ({policy_id}) from {target}", kind.short()),
            Change::DeletePolicy {
                kind,
                name,
                policy_id,
            } => format!("{} {name} ({policy_id})", kind.short()),
            Change::Untag {
                principal_arn,
                key,
                value,
                reason,
            } => format!("{principal_arn} {key}={value} ({reason})"),
        }
    }

    /// The AWS call(s) it makes, as `--dry-run` prints them.
    pub fn api_call(&self) -> String {
        match self {
            Change::EnablePolicyType { kind, root_id } => format!(
                "organizations:EnablePolicyType RootId={root_id} PolicyType={}",
                kind.api_name()
            ),
            Change::CreatePolicy {
                kind,
                name,
                description,
                content,
            } => format!(
                "organizations:CreatePolicy Name={name} Type={} Description={description:?} \
                 Tags=[{MANAGED_TAG_KEY}={MANAGED_TAG_VALUE}] Content={content}",
                kind.api_name()
            ),
            Change::UpdatePolicy {
                policy_id,
                content,
                description,
                ..
            } => {
                let mut s = format!("organizations:UpdatePolicy PolicyId={policy_id}");
                if let Some(d) = description {
                    s.push_str(&format!(" Description={d:?}"));
                }
                if let Some(c) = content {
                    s.push_str(&format!(" Content={c}"));
                }
                s
            }
            Change::Tag {
                principal_arn,
                key,
                value,
                ..
            } => {
                let (account, kind, name) = principal_of(principal_arn).unwrap_or_default();
                format!(
                    "iam:Tag{} (account {account}) {}Name={name} Tags=[{key}={value}]",
                    capital(kind),
                    capital(kind)
                )
            }
            Change::Attach {
                name,
                policy_id,
                target,
                ..
            } => format!(
                "organizations:AttachPolicy PolicyId={} TargetId={target}",
                policy_id
                    .clone()
                    .unwrap_or_else(|| format!("<id of {name}>"))
            ),
            Change::Detach {
                policy_id, target, ..
            } => format!("organizations:DetachPolicy PolicyId={policy_id} TargetId={target}"),
            Change::DeletePolicy { policy_id, .. } => {
                format!("organizations:DeletePolicy PolicyId={policy_id}")
            }
            Change::Untag {
                principal_arn, key, ..
            } => {
                let (account, kind, name) = principal_of(principal_arn).unwrap_or_default();
                format!(
                    "iam:Untag{} (account {account}) {}Name={name} TagKeys=[{key}]",
                    capital(kind),
                    capital(kind)
                )
            }
        }
    }
}

fn capital(kind: &str) -> &'static str {
    if kind == "role" {
        "Role"
    } else {
        "User"
    }
}

/// How to reach member accounts (for principal tags).
#[derive(Debug, Clone)]
pub struct AccountAccess {
    /// Role assumed in member accounts.
    pub role_name: String,
    /// Per-account exceptions.
    pub role_overrides: BTreeMap<String, String>,
    /// `RoleSessionName`.
    pub session_name: String,
}

impl Default for AccountAccess {
    fn default() -> Self {
        AccountAccess {
            role_name: crate::DEFAULT_ROLE_NAME.to_owned(),
            role_overrides: BTreeMap::new(),
            session_name: "latch-apply".to_owned(),
        }
    }
}

impl AccountAccess {
    /// The role assumed in `account`.
    pub fn role_for(&self, account: &str) -> &str {
        self.role_overrides
            .get(account)
            .map_or(self.role_name.as_str(), String::as_str)
    }

    /// The SDK configuration to act in `account` (the base one in the caller's own account).
    pub(crate) async fn config_for(
        &self,
        aws: &Aws,
        caller: &CallerIdentity,
        account: &str,
    ) -> Result<SdkConfig> {
        aws.config_for_account(caller, account, self.role_for(account), &self.session_name)
            .await
    }
}

/// SDK configurations per account, made on first use.
pub(crate) struct Sessions<'a> {
    aws: &'a Aws,
    access: &'a AccountAccess,
    caller: Option<CallerIdentity>,
    configs: BTreeMap<String, SdkConfig>,
}

impl<'a> Sessions<'a> {
    pub(crate) fn new(aws: &'a Aws, access: &'a AccountAccess) -> Sessions<'a> {
        Sessions {
            aws,
            access,
            caller: None,
            configs: BTreeMap::new(),
        }
    }

    pub(crate) async fn iam(&mut self, account: &str) -> Result<aws_sdk_iam::Client> {
        if let Some(c) = self.configs.get(account) {
            return Ok(Aws::iam(c));
        }
        let caller = match &self.caller {
            Some(c) => c.clone(),
            None => {
                let c = self.aws.caller_identity().await?;
                self.caller = Some(c.clone());
                c
            }
        };
        let config = self.access.config_for(self.aws, &caller, account).await?;
        let client = Aws::iam(&config);
        self.configs.insert(account.to_owned(), config);
        Ok(client)
    }
}

/// The tags of a user or role; `None` when it does not exist.
pub(crate) async fn principal_tags(
    iam: &aws_sdk_iam::Client,
    arn: &str,
) -> Result<Option<BTreeMap<String, String>>> {
    let Some((_, kind, name)) = principal_of(arn) else {
        return Ok(None);
    };
    let listed: std::result::Result<Vec<(String, String)>, AwsError> = if kind == "role" {
        iam.list_role_tags()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map(|tags: Vec<_>| {
                tags.iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect()
            })
            .map_err(|e| call_err(format!("iam:ListRoleTags {arn}"), e))
    } else {
        iam.list_user_tags()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map(|tags: Vec<_>| {
                tags.iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect()
            })
            .map_err(|e| call_err(format!("iam:ListUserTags {arn}"), e))
    };
    match listed {
        Ok(list) => Ok(Some(list.into_iter().collect())),
        Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Identity of a principal regardless of the ARN's path: (account, kind, name).
pub(crate) fn principal_key(arn: &str) -> Option<(String, String, String)> {
    principal_of(arn).map(|(a, k, n)| (a.to_owned(), k.to_owned(), n.to_owned()))
}

pub(crate) fn same_document(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The policy-side changes: policy types, create/update, attach/detach, delete.
/// `content` with the recorded Identity Center exemptions added; an exemption that no longer
/// fits (`max_chars`, the plan's SCP character limit) or whose bundle the plan no longer
/// denies is left out, and the server's reconciler then reports it.
fn with_userid_grants(content: &str, grants: &[(String, String)], max_chars: usize) -> String {
    grants
        .iter()
        .fold(
            content.to_owned(),
            |doc, (bundle, userid)| match crate::userid::edit_exemption(
                &doc, bundle, userid, true, max_chars,
            ) {
                Ok((Some(new), _)) => new,
                _ => doc,
            },
        )
}

pub(crate) fn policy_changes(
    plan: &Plan,
    root_id: &str,
    enabled: &BTreeSet<PolicyType>,
    live: &LatchPolicies,
) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    let used: BTreeSet<PolicyType> = plan.policies.iter().map(|p| p.kind).collect();
    for kind in used {
        if !enabled.contains(&kind) {
            changes.push(Change::EnablePolicyType {
                kind,
                root_id: root_id.to_owned(),
            });
        }
    }
    let mut planned = BTreeSet::new();
    for p in &plan.policies {
        let key = (p.kind, p.name.clone());
        planned.insert(key.clone());
        if let Some(foreign) = live.foreign.get(&key) {
            return Err(AwsError::Conflict(format!(
                "{} `{}` ({foreign}) exists but was not created by Latch (it lacks the tag \
                 {MANAGED_TAG_KEY}={MANAGED_TAG_VALUE}); Latch never touches it. Rename or \
                 delete it, or rename the plan's policy",
                p.kind.short(),
                p.name
            )));
        }
        match live.managed.get(&key) {
            None => {
                changes.push(Change::CreatePolicy {
                    kind: p.kind,
                    name: p.name.clone(),
                    description: p.description.clone(),
                    content: p.content.clone(),
                });
                for t in &p.targets {
                    changes.push(Change::Attach {
                        kind: p.kind,
                        name: p.name.clone(),
                        policy_id: None,
                        target: t.clone(),
                    });
                }
            }
            Some(l) => {
                // Identity Center grants the server wrote into the policy are part of the
                // wanted state while they last (the server's reconciler removes them on expiry).
                let wanted =
                    with_userid_grants(&p.content, &l.userid_grants, plan.limits().chars(p.kind));
                let content = (!same_document(&l.content, &wanted)).then(|| wanted.clone());
                let description = (l.description != p.description).then(|| p.description.clone());
                if content.is_some() || description.is_some() {
                    changes.push(Change::UpdatePolicy {
                        kind: p.kind,
                        name: p.name.clone(),
                        policy_id: l.id.clone(),
                        content,
                        description,
                    });
                }
                for t in p.targets.iter().filter(|t| !l.targets.contains(*t)) {
                    changes.push(Change::Attach {
                        kind: p.kind,
                        name: p.name.clone(),
                        policy_id: Some(l.id.clone()),
                        target: t.clone(),
                    });
                }
                for t in l.targets.iter().filter(|t| !p.targets.contains(*t)) {
                    changes.push(Change::Detach {
                        kind: p.kind,
                        name: p.name.clone(),
                        policy_id: l.id.clone(),
                        target: t.clone(),
                    });
                }
            }
        }
    }
    for (key, l) in &live.managed {
        if planned.contains(key) {
            continue;
        }
        for t in &l.targets {
            changes.push(Change::Detach {
                kind: l.kind,
                name: l.name.clone(),
                policy_id: l.id.clone(),
                target: t.clone(),
            });
        }
        changes.push(Change::DeletePolicy {
            kind: l.kind,
            name: l.name.clone(),
            policy_id: l.id.clone(),
        });
    }
    Ok(changes)
}

/// The tag-side changes: the plan's tags that are missing or different, and tags Latch put
/// earlier (per `state`) that the plan no longer has.
async fn tag_changes(
    plan: &Plan,
    state: &AppliedState,
    sessions: &mut Sessions<'_>,
) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    let mut cache: BTreeMap<(String, String, String), Option<BTreeMap<String, String>>> =
        BTreeMap::new();
    let planned: BTreeSet<((String, String, String), String)> = plan
        .tags
        .iter()
        .filter_map(|t| principal_key(&t.principal_arn).map(|k| (k, t.key.clone())))
        .collect();
    for t in plan.sorted_tags() {
        let Some(pk) = principal_key(&t.principal_arn) else {
            continue;
        };
        if !cache.contains_key(&pk) {
            let iam = sessions.iam(&pk.0).await?;
            cache.insert(pk.clone(), principal_tags(&iam, &t.principal_arn).await?);
        }
        let Some(current) = cache.get(&pk).and_then(Option::as_ref) else {
            return Err(AwsError::Conflict(format!(
                "the plan tags `{}`, which does not exist",
                t.principal_arn
            )));
        };
        let previous = current.get(&t.key).cloned();
        if previous.as_deref() != Some(t.value.as_str()) {
            changes.push(Change::Tag {
                principal_arn: t.principal_arn.clone(),
                key: t.key.clone(),
                value: t.value.clone(),
                previous,
                reason: t.reason.clone(),
            });
        }
    }
    for t in &state.tags {
        let Some(pk) = principal_key(&t.principal_arn) else {
            continue;
        };
        if planned.contains(&(pk.clone(), t.key.clone())) {
            continue;
        }
        if !cache.contains_key(&pk) {
            let iam = sessions.iam(&pk.0).await?;
            cache.insert(pk.clone(), principal_tags(&iam, &t.principal_arn).await?);
        }
        if let Some(value) = cache
            .get(&pk)
            .and_then(Option::as_ref)
            .and_then(|c| c.get(&t.key))
        {
            changes.push(Change::Untag {
                principal_arn: t.principal_arn.clone(),
                key: t.key.clone(),
                value: value.clone(),
                reason: "put by an earlier apply, no longer in the plan".to_owned(),
            });
        }
    }
    Ok(changes)
}

/// Checks that no target would hold more policies of a type than the plan's limits allow
/// (`limits`: AWS's quotas unless the plan was packed for lower ones) while the changes run
/// (attaches happen before detaches).
async fn check_target_limits(aws: &Aws, changes: &[Change], limits: &Limits) -> Result<()> {
    let mut attaches: BTreeMap<(PolicyType, String), usize> = BTreeMap::new();
    for c in changes {
        if let Change::Attach { kind, target, .. } = c {
            *attaches.entry((*kind, target.clone())).or_default() += 1;
        }
    }
    let org = aws.organizations();
    for ((kind, target), added) in attaches {
        let current = policies_for_target(&org, &target, kind)
            .await?
            .map(|l| l.len())
            .unwrap_or(0);
        let allowed = limits.per_target(kind);
        if current + added > allowed {
            return Err(AwsError::Conflict(format!(
                "{target} holds {current} {kind}s and the plan attaches {added} more before \
                 detaching any (so that access is never widened); {allowed} may be attached \
                 ({source}). Merge policies in the plan or detach others first",
                kind = kind.short(),
                source = if allowed == Limits::AWS.per_target(kind) {
                    "AWS's quota"
                } else {
                    "the plan's limits"
                }
            )));
        }
    }
    Ok(())
}

/// Everything [`plan_changes`] found.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// The changes, in execution order.
    pub changes: Vec<Change>,
    /// The live Latch policies the diff was computed against.
    #[serde(skip)]
    pub live: LatchPolicies,
    /// The root the plan was bound to, when it was made for the unknown root (see
    /// [`bind_to_organization`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound_root: Option<String>,
}

/// Reads the organization and returns what must change to match `plan`, in the safe order.
pub async fn plan_changes(
    aws: &Aws,
    plan: &Plan,
    state: &AppliedState,
    access: &AccountAccess,
) -> Result<Diff> {
    let (_, management, root_id, _, enabled) = describe(aws).await?;
    let members: BTreeSet<String> = if plan.organization.root_id == UNKNOWN_ROOT {
        crate::org::read_accounts(aws)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect()
    } else {
        BTreeSet::new()
    };
    let plan = bind_to_organization(plan, &root_id, &management, &members)?;
    let bound_root = matches!(plan, std::borrow::Cow::Owned(_)).then(|| root_id.clone());
    let plan = plan.as_ref();
    let live = latch_policies(aws).await?;
    let mut changes = policy_changes(plan, &root_id, &enabled, &live)?;
    let mut sessions = Sessions::new(aws, access);
    changes.extend(tag_changes(plan, state, &mut sessions).await?);
    changes.sort_by_key(Change::rank);
    check_target_limits(aws, &changes, &plan.limits()).await?;
    Ok(Diff {
        changes,
        live,
        bound_root,
    })
}
/// The plan as it applies to the organization the credentials reach, whose root is `root_id`
/// and management account `management`: itself when it names that root; bound to it when the
/// plan names the unknown root ([`UNKNOWN_ROOT`], made from a snapshot without
/// `organization.json`): the root id and the targets that name it become `root_id`, once every
/// account the plan names (as a target or in a tag's principal) is a member (`members`).
///
/// # Errors
/// [`AwsError::Conflict`] when the plan names another root or management account, or, bound to
/// the unknown root, accounts that are not members.
pub fn bind_to_organization<'p>(
    plan: &'p Plan,
    root_id: &str,
    management: &str,
    members: &BTreeSet<String>,
) -> Result<std::borrow::Cow<'p, Plan>> {
    let org = &plan.organization;
    if org.root_id != UNKNOWN_ROOT {
        if org.root_id != root_id || org.management_account_id != management {
            return Err(AwsError::Conflict(format!(
                "the plan was made for root {} (management account {}), but these credentials \
                 reach root {root_id} (management account {management})",
                org.root_id, org.management_account_id
            )));
        }
        return Ok(std::borrow::Cow::Borrowed(plan));
    }
    if !org.management_account_id.is_empty() && org.management_account_id != management {
        return Err(AwsError::Conflict(format!(
            "the plan was made for management account {}, but these credentials reach \
             management account {management}",
            org.management_account_id
        )));
    }
    let named: BTreeSet<&str> = plan
        .policies
        .iter()
        .flat_map(|p| p.targets.iter().map(String::as_str))
        .filter(|t| crate::plan::is_account_id(t))
        .chain(
            plan.tags
                .iter()
                .filter_map(|t| principal_of(&t.principal_arn).map(|(account, _, _)| account)),
        )
        .collect();
    let strangers: Vec<&str> = named
        .into_iter()
        .filter(|a| !members.contains(*a))
        .collect();
    if !strangers.is_empty() {
        return Err(AwsError::Conflict(format!(
            "the plan was made without organization.json (its root is {UNKNOWN_ROOT}), and \
             {} of the accounts it names are not members of the organization these credentials \
             reach (root {root_id}): {}; make the plan from a snapshot of this organization",
            strangers.len(),
            strangers.join(", ")
        )));
    }
    let mut bound = plan.clone();
    bound.organization.root_id = root_id.to_owned();
    bound.organization.management_account_id = management.to_owned();
    for p in &mut bound.policies {
        if let Some(t) = p.targets.iter_mut().find(|t| *t == UNKNOWN_ROOT) {
            root_id.clone_into(t);
            p.targets.sort();
        }
    }
    Ok(std::borrow::Cow::Owned(bound))
}

/// How many AWS Organizations policy writes `changes` make, and the least time (ms) AWS's
/// rate for them allows ([`latch_catalog::RequestRate::min_duration_ms`]).
pub fn least_time(changes: &[Change]) -> (usize, u64) {
    let writes = changes.iter().filter(|c| c.is_policy_write()).count();
    let ms = Family::PolicyWrite
        .rate()
        .map_or(0, |rate| rate.min_duration_ms(writes));
    (writes, ms)
}

/// What [`execute`] did.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyOutcome {
    /// Changes carried out (all of them when the call returns `Ok`).
    pub done: Vec<Change>,
    /// Ids of the policies created, by name.
    pub created: BTreeMap<String, String>,
}

async fn wait_enabled(aws: &Aws, kind: PolicyType) -> Result<()> {
    for _ in 0..60 {
        let (_, _, _, _, enabled) = describe(aws).await?;
        if enabled.contains(&kind) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(AwsError::Conflict(format!(
        "the {} policy type is still not enabled after 30 s; run apply again",
        kind.api_name()
    )))
}

fn tolerate(result: Result<()>, ok_codes: &[&str]) -> Result<()> {
    match result {
        Err(e) if e.code().is_some_and(|c| ok_codes.contains(&c)) => Ok(()),
        other => other,
    }
}

/// The id of the Latch policy `name` when it exists with `content` (a create that landed
/// although its answer was lost).
async fn created_earlier(
    aws: &Aws,
    kind: PolicyType,
    name: &str,
    content: &str,
) -> Result<Option<String>> {
    let live = latch_policies(aws).await?;
    Ok(live
        .managed
        .get(&(kind, name.to_owned()))
        .filter(|p| same_document(&p.content, content))
        .map(|p| p.id.clone()))
}

async fn run_one(
    aws: &Aws,
    change: &Change,
    ids: &mut BTreeMap<(PolicyType, String), String>,
    sessions: &mut Sessions<'_>,
) -> Result<Option<String>> {
    match change {
        Change::EnablePolicyType { kind, root_id } => {
            let r = aws
                .organizations()
                .enable_policy_type()
                .root_id(root_id)
                .policy_type(kind.sdk())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_err(change.api_call(), e));
            tolerate(r, &["PolicyTypeAlreadyEnabledException"])?;
            wait_enabled(aws, *kind).await?;
            Ok(None)
        }
        Change::CreatePolicy {
            kind,
            name,
            description,
            content,
        } => {
            let tag = OrgTag::builder()
                .key(MANAGED_TAG_KEY)
                .value(MANAGED_TAG_VALUE)
                .build()
                .map_err(|e| AwsError::Config(e.to_string()))?;
            let out = aws
                .org_write(
                    Family::PolicyWrite,
                    &format!("organizations:CreatePolicy {name}"),
                    |org| {
                        org.create_policy()
                            .name(name)
                            .r#type(kind.sdk())
                            .description(description)
                            .content(content)
                            .tags(tag.clone())
                            .send()
                    },
                )
                .await;
            let id = match out {
                Ok(out) => out
                    .policy()
                    .and_then(|p| p.policy_summary())
                    .and_then(|s| s.id())
                    .unwrap_or_default()
                    .to_owned(),
                // A retried create whose first attempt landed although its answer was lost:
                // the policy is there, Latch's, with this document.
                Err(e) if e.code() == Some("DuplicatePolicyException") => {
                    created_earlier(aws, *kind, name, content).await?.ok_or(e)?
                }
                Err(e) => return Err(e),
            };
            ids.insert((*kind, name.clone()), id.clone());
            Ok(Some(id))
        }
        Change::UpdatePolicy {
            policy_id,
            content,
            description,
            ..
        } => {
            aws.org_write(
                Family::PolicyWrite,
                &format!("organizations:UpdatePolicy {policy_id}"),
                |org| {
                    org.update_policy()
                        .policy_id(policy_id)
                        .set_content(content.clone())
                        .set_description(description.clone())
                        .send()
                },
            )
            .await?;
            Ok(None)
        }
        Change::Attach {
            kind,
            name,
            policy_id,
            target,
        } => {
            let id = policy_id
                .clone()
                .or_else(|| ids.get(&(*kind, name.clone())).cloned())
                .ok_or_else(|| {
                    AwsError::Conflict(format!("no id for policy `{name}`; it was not created"))
                })?;
            let r = aws
                .org_write(
                    Family::PolicyWrite,
                    &format!("organizations:AttachPolicy {id} -> {target}"),
                    |org| org.attach_policy().policy_id(&id).target_id(target).send(),
                )
                .await
                .map(|_| ());
            tolerate(r, &["DuplicatePolicyAttachmentException"])?;
            Ok(Some(id))
        }
        Change::Detach {
            policy_id, target, ..
        } => {
            let r = aws
                .org_write(
                    Family::PolicyWrite,
                    &format!("organizations:DetachPolicy {policy_id} from {target}"),
                    |org| {
                        org.detach_policy()
                            .policy_id(policy_id)
                            .target_id(target)
                            .send()
                    },
                )
                .await
                .map(|_| ());
            tolerate(r, &["PolicyNotAttachedException"])?;
            Ok(None)
        }
        Change::DeletePolicy { policy_id, .. } => {
            let r = aws
                .org_write(
                    Family::PolicyWrite,
                    &format!("organizations:DeletePolicy {policy_id}"),
                    |org| org.delete_policy().policy_id(policy_id).send(),
                )
                .await
                .map(|_| ());
            tolerate(r, &["PolicyNotFoundException"])?;
            Ok(None)
        }
        Change::Tag {
            principal_arn,
            key,
            value,
            ..
        } => {
            let (account, kind, name) = principal_of(principal_arn).unwrap_or_default();
            let iam = sessions.iam(account).await?;
            let tag = aws_sdk_iam::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| AwsError::Config(e.to_string()))?;
            let r = if kind == "role" {
                iam.tag_role()
                    .role_name(name)
                    .tags(tag)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| call_err(format!("iam:TagRole {principal_arn}"), e))
            } else {
                iam.tag_user()
                    .user_name(name)
                    .tags(tag)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| call_err(format!("iam:TagUser {principal_arn}"), e))
            };
            r?;
            Ok(None)
        }
        Change::Untag {
            principal_arn, key, ..
        } => {
            let (account, kind, name) = principal_of(principal_arn).unwrap_or_default();
            let iam = sessions.iam(account).await?;
            let r = if kind == "role" {
                iam.untag_role()
                    .role_name(name)
                    .tag_keys(key)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| call_err(format!("iam:UntagRole {principal_arn}"), e))
            } else {
                iam.untag_user()
                    .user_name(name)
                    .tag_keys(key)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| call_err(format!("iam:UntagUser {principal_arn}"), e))
            };
            tolerate(r, &["NoSuchEntity"])?;
            Ok(None)
        }
    }
}

fn record(state: &mut AppliedState, change: &Change, id: Option<&str>, at: &str) {
    match change {
        Change::CreatePolicy { kind, name, .. } => {
            state.policies.insert(
                policy_key(*kind, name),
                AppliedPolicy {
                    id: id.unwrap_or_default().to_owned(),
                    kind: *kind,
                    name: name.clone(),
                    targets: BTreeSet::new(),
                    updated_at: at.to_owned(),
                },
            );
        }
        Change::UpdatePolicy {
            kind,
            name,
            policy_id,
            ..
        } => {
            let entry = state
                .policies
                .entry(policy_key(*kind, name))
                .or_insert_with(|| AppliedPolicy {
                    id: policy_id.clone(),
                    kind: *kind,
                    name: name.clone(),
                    targets: BTreeSet::new(),
                    updated_at: at.to_owned(),
                });
            entry.updated_at = at.to_owned();
        }
        Change::Attach {
            kind, name, target, ..
        } => {
            let entry = state
                .policies
                .entry(policy_key(*kind, name))
                .or_insert_with(|| AppliedPolicy {
                    id: id.unwrap_or_default().to_owned(),
                    kind: *kind,
                    name: name.clone(),
                    targets: BTreeSet::new(),
                    updated_at: at.to_owned(),
                });
            entry.targets.insert(target.clone());
        }
        Change::Detach {
            kind, name, target, ..
        } => {
            if let Some(entry) = state.policies.get_mut(&policy_key(*kind, name)) {
                entry.targets.remove(target);
            }
        }
        Change::DeletePolicy { kind, name, .. } => {
            state.policies.remove(&policy_key(*kind, name));
        }
        Change::Tag {
            principal_arn,
            key,
            value,
            ..
        } => {
            state
                .tags
                .retain(|t| !(t.principal_arn == *principal_arn && t.key == *key));
            state.tags.push(AppliedTag {
                principal_arn: principal_arn.clone(),
                key: key.clone(),
                value: value.clone(),
                applied_at: at.to_owned(),
            });
            state.tags.sort();
        }
        Change::Untag {
            principal_arn, key, ..
        } => {
            state
                .tags
                .retain(|t| !(t.principal_arn == *principal_arn && t.key == *key));
        }
        Change::EnablePolicyType { .. } => {}
    }
    state.record(at, format!("{} {}", change.verb(), change.describe()));
}

/// Where [`execute`] keeps its record, and what it records.
#[derive(Debug, Clone, Copy)]
pub enum Record<'a> {
    /// `applied.json` in this plan directory, for this plan.
    Plan(&'a Path, &'a Plan),
    /// The same, after an emergency stop (no plan involved).
    EmergencyStop(Option<&'a Path>),
}

/// Carries out `changes` in order, one at a time, saving `applied.json` after each. Stops at
/// the first failure, with the record saying how far it got (the next apply converges from
/// there).
pub async fn execute(
    aws: &Aws,
    changes: &[Change],
    access: &AccountAccess,
    record_in: Record<'_>,
    progress: &dyn Progress,
) -> Result<ApplyOutcome> {
    let dir = match record_in {
        Record::Plan(dir, _) => Some(dir),
        Record::EmergencyStop(dir) => dir,
    };
    let mut state = match dir {
        Some(d) => AppliedState::load(d)?,
        None => AppliedState::default(),
    };
    if let Record::Plan(_, plan) = record_in {
        state.organization = Some(plan.organization.clone());
        state.emergency_stopped_at = None;
    }
    state.complete = false;
    state.last_error = None;
    let mut ids: BTreeMap<(PolicyType, String), String> = BTreeMap::new();
    let mut sessions = Sessions::new(aws, access);
    let mut outcome = ApplyOutcome {
        done: Vec::new(),
        created: BTreeMap::new(),
    };
    progress::phase(progress, "apply", changes.len());
    for change in changes {
        let result = run_one(aws, change, &mut ids, &mut sessions).await;
        let at = time::rfc3339(time::now_millis());
        match result {
            Ok(id) => {
                if let (Change::CreatePolicy { name, .. }, Some(id)) = (change, &id) {
                    outcome.created.insert(name.clone(), id.clone());
                }
                record(&mut state, change, id.as_deref(), &at);
                progress::item(progress, change.verb(), true, change.describe());
                outcome.done.push(change.clone());
                if let Some(d) = dir {
                    state.save(d)?;
                }
            }
            Err(e) => {
                state.last_error = Some(format!("{at}: {e}"));
                state.updated_at = at;
                progress::item(progress, change.verb(), false, e.to_string());
                if let Some(d) = dir {
                    state.save(d)?;
                }
                return Err(e);
            }
        }
    }
    let at = time::rfc3339(time::now_millis());
    state.complete = true;
    state.updated_at = at.clone();
    if let Record::EmergencyStop(_) = record_in {
        state.emergency_stopped_at = Some(at);
    }
    if let Some(d) = dir {
        state.save(d)?;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::org::LivePolicy;

    const DENY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;

    fn plan(targets: &[&str]) -> Plan {
        let text = serde_json::json!({
            "format": "latch.plan/v1",
            "organization": {"root_id": "r-ab12", "management_account_id": "123456789012"},
            "policies": [{"name": "latch-a", "type": "SERVICE_CONTROL_POLICY", "description": "d",
                          "content": DENY, "targets": targets}],
        })
        .to_string();
        crate::plan::parse(&text, Path::new("plan.json")).unwrap()
    }

    fn live(targets: &[&str], content: &str) -> LatchPolicies {
        let mut l = LatchPolicies::default();
        l.managed.insert(
            (PolicyType::Scp, "latch-a".to_owned()),
            LivePolicy {
                id: "p-1".to_owned(),
                name: "latch-a".to_owned(),
                kind: PolicyType::Scp,
                description: "d".to_owned(),
                content: content.to_owned(),
                targets: targets.iter().map(|t| (*t).to_owned()).collect(),
                userid_grants: Vec::new(),
            },
        );
        l
    }

    fn enabled() -> BTreeSet<PolicyType> {
        [PolicyType::Scp].into_iter().collect()
    }

    /// A plan made from a snapshot without organization.json (root `r-unknown`, management
    /// account unknown), attached at the root and at one account, tagging a role in another.
    fn unbound_plan() -> Plan {
        let text = serde_json::json!({
            "format": "latch.plan/v1",
            "organization": {"root_id": "r-unknown", "management_account_id": ""},
            "policies": [{"name": "latch-a", "type": "SERVICE_CONTROL_POLICY", "description": "d",
                          "content": DENY, "targets": ["r-unknown", "210987654321"]}],
            "tags": [{"principal_arn": "arn:aws:iam::333333333333:role/ci",
                      "key": "latch:control-plane", "value": "true", "reason": "r"}],
        })
        .to_string();
        crate::plan::parse(&text, Path::new("plan.json")).unwrap()
    }

    fn members(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn a_plan_for_the_unknown_root_is_bound_to_the_reached_root() {
        let plan = unbound_plan();
        let all = members(&["123456789012", "210987654321", "333333333333"]);
        let bound = bind_to_organization(&plan, "r-ab12", "123456789012", &all).unwrap();
        assert_eq!(bound.organization.root_id, "r-ab12");
        assert_eq!(bound.organization.management_account_id, "123456789012");
        let targets: Vec<&str> = bound.policies[0]
            .targets
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(targets, ["210987654321", "r-ab12"]);
        // The diff against the organization then attaches at its real root.
        let c = policy_changes(&bound, "r-ab12", &enabled(), &LatchPolicies::default()).unwrap();
        assert!(c.iter().any(|c| c.describe().contains("r-ab12")), "{c:?}");
        assert!(
            !c.iter().any(|c| c.describe().contains(UNKNOWN_ROOT)),
            "{c:?}"
        );
    }

    #[test]
    fn a_plan_for_the_unknown_root_naming_strangers_is_refused() {
        let plan = unbound_plan();
        let some = members(&["123456789012", "210987654321"]);
        let e = bind_to_organization(&plan, "r-ab12", "123456789012", &some).unwrap_err();
        assert!(e.to_string().contains("333333333333"), "{e}");
        assert!(e.to_string().contains("without organization.json"), "{e}");
    }

    #[test]
    fn a_plan_for_another_root_is_refused_and_its_own_passes_unchanged() {
        let p = plan(&["r-ab12"]);
        let all = members(&["123456789012"]);
        let e = bind_to_organization(&p, "r-zz99", "123456789012", &all).unwrap_err();
        assert!(e.to_string().contains("made for root r-ab12"), "{e}");
        let same = bind_to_organization(&p, "r-ab12", "123456789012", &all).unwrap();
        assert!(matches!(same, std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn new_policy_is_created_then_attached_and_the_type_enabled_first() {
        let mut c = policy_changes(
            &plan(&["r-ab12"]),
            "r-ab12",
            &BTreeSet::new(),
            &LatchPolicies::default(),
        )
        .unwrap();
        c.sort_by_key(Change::rank);
        let verbs: Vec<&str> = c.iter().map(Change::verb).collect();
        assert_eq!(verbs, ["enable", "create", "attach"]);
    }

    #[test]
    fn moving_a_policy_attaches_before_it_detaches() {
        let mut c = policy_changes(
            &plan(&["ou-ab12-aaaaaaaa"]),
            "r-ab12",
            &enabled(),
            &live(&["ou-ab12-bbbbbbbb"], DENY),
        )
        .unwrap();
        c.sort_by_key(Change::rank);
        let verbs: Vec<&str> = c.iter().map(Change::verb).collect();
        assert_eq!(verbs, ["attach", "detach"]);
    }

    #[test]
    fn matching_state_needs_nothing_and_whitespace_is_not_an_edit() {
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(DENY).unwrap()).unwrap();
        let c = policy_changes(
            &plan(&["r-ab12"]),
            "r-ab12",
            &enabled(),
            &live(&["r-ab12"], &pretty),
        )
        .unwrap();
        assert!(c.is_empty(), "{c:?}");
        let edited = DENY.replace("DeleteBucket", "PutObject");
        let c = policy_changes(
            &plan(&["r-ab12"]),
            "r-ab12",
            &enabled(),
            &live(&["r-ab12"], &edited),
        )
        .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].verb(), "update");
    }

    /// An Identity Center grant the server wrote into an applied SCP (recorded by a
    /// `latch:icgrant:*` tag) is neither drift nor removed by the next apply.
    #[test]
    fn recorded_identity_center_grants_survive_apply() {
        let statement = |action: &str| {
            let cond = serde_json::json!({"Null": {"aws:PrincipalTag/latch:grant:admin": "true"}});
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "LatchPermission0",
                "Effect": "Deny", "Action": action, "Resource": "*", "Condition": cond}]})
            .to_string()
        };
        let plan_of = |content: &str| {
            let text = serde_json::json!({
                "format": "latch.plan/v1",
                "organization": {"root_id": "r-ab12", "management_account_id": "123456789012"},
                "policies": [{"name": "latch-a", "type": "SERVICE_CONTROL_POLICY",
                              "description": "d", "content": content, "targets": ["r-ab12"]}],
            })
            .to_string();
            crate::plan::parse(&text, Path::new("plan.json")).unwrap()
        };
        let grants = vec![(
            "admin".to_owned(),
            "AROAEXAMPLEID0000001:carol@example.com".to_owned(),
        )];
        // What the server wrote (crate::userid) into the applied policy.
        let granted = |content: &str| with_userid_grants(content, &grants, Limits::AWS.scp_chars);
        assert!(granted(&statement("iam:*")).contains("carol@example.com"));
        let mut l = live(&["r-ab12"], &granted(&statement("iam:*")));
        l.managed
            .values_mut()
            .for_each(|p| p.userid_grants.clone_from(&grants));
        let plan = plan_of(&statement("iam:*"));
        let c = policy_changes(&plan, "r-ab12", &enabled(), &l).unwrap();
        assert!(c.is_empty(), "{c:?}");

        // A changed plan keeps the grant in the new content.
        let c = policy_changes(
            &plan_of(&statement("iam:Create*")),
            "r-ab12",
            &enabled(),
            &l,
        )
        .unwrap();
        let new = match c.as_slice() {
            [Change::UpdatePolicy {
                content: Some(new), ..
            }] => new,
            other => unreachable!("one content update expected: {other:?}"),
        };
        assert!(
            same_document(new, &granted(&statement("iam:Create*"))),
            "{new}"
        );

        // A plan packed for a lower SCP limit keeps the grant only while it fits that limit:
        // one that would take the document past it is left out (the reconciler reports it).
        let plain = statement("iam:*");
        let limited = |scp_chars: usize| {
            let text = serde_json::json!({
                "format": "latch.plan/v1",
                "organization": {"root_id": "r-ab12", "management_account_id": "123456789012"},
                "limits": {"scp_chars": scp_chars, "scp_per_target": 10,
                           "rcp_chars": 5120, "rcp_per_target": 5},
                "policies": [{"name": "latch-a", "type": "SERVICE_CONTROL_POLICY",
                              "description": "d", "content": plain, "targets": ["r-ab12"]}],
            })
            .to_string();
            crate::plan::parse(&text, Path::new("plan.json")).unwrap()
        };
        let with_grant = granted(&plain).chars().count();
        let c = policy_changes(&limited(with_grant), "r-ab12", &enabled(), &l).unwrap();
        assert!(c.is_empty(), "{c:?}");
        let c = policy_changes(&limited(with_grant - 1), "r-ab12", &enabled(), &l).unwrap();
        match c.as_slice() {
            [Change::UpdatePolicy {
                content: Some(new), ..
            }] => assert!(same_document(new, &plain), "{new}"),
            other => unreachable!("the grant left out: {other:?}"),
        }

        // Without the record, the exemption is an edit that apply undoes.
        l.managed.values_mut().for_each(|p| p.userid_grants.clear());
        let c = policy_changes(&plan, "r-ab12", &enabled(), &l).unwrap();
        assert_eq!(c.len(), 1, "{c:?}");
    }

    #[test]
    fn dropped_policy_is_detached_then_deleted_and_foreign_names_block() {
        let mut empty = plan(&["r-ab12"]);
        empty.policies.clear();
        let c = policy_changes(&empty, "r-ab12", &enabled(), &live(&["r-ab12"], DENY)).unwrap();
        let verbs: Vec<&str> = c.iter().map(Change::verb).collect();
        assert_eq!(verbs, ["detach", "delete"]);

        let mut foreign = LatchPolicies::default();
        foreign
            .foreign
            .insert((PolicyType::Scp, "latch-a".to_owned()), "p-9".to_owned());
        let err = policy_changes(&plan(&["r-ab12"]), "r-ab12", &enabled(), &foreign).unwrap_err();
        assert!(err.to_string().contains("not created by Latch"));
    }
}
