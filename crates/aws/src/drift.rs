//! `latch drift`, `latch emergency-stop`: compare the organization with the plan (and with
//! the grants Latch knows), and the break-glass that detaches every Latch policy.

use std::collections::BTreeSet;
use std::path::Path;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::apply::{plan_changes, principal_key, AccountAccess, Change};
use crate::error::{AwsError, Result};
use crate::org::{latch_policies, read_accounts};
use crate::plan::Plan;
use crate::state::AppliedState;
use crate::{gaad, Aws};
use latch_contract::TAG_PREFIX;

/// (principal ARN, key, value) triples.
type TagList = Vec<(String, String, String)>;

/// A grant Latch knows about (from the grant store): a `latch:*` tag that is expected on a
/// principal although the plan does not list it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KnownGrant {
    /// User or role ARN.
    pub principal_arn: String,
    /// `latch:...`.
    pub key: String,
    /// Expected value; any value when absent.
    #[serde(default)]
    pub value: Option<String>,
}

/// Reads a grants file: `{"format": "latch.grants/v1", "grants": [...]}` or a bare array of
/// `{"principal_arn", "key", "value"?}`.
pub fn load_grants(file: &Path) -> Result<Vec<KnownGrant>> {
    let text = latch_input::read(file, latch_input::Expected::Json)?;
    parse_grants(&text, file)
}

/// Parses grants text (see [`load_grants`]); `file` names it in errors.
pub fn parse_grants(text: &str, file: &Path) -> Result<Vec<KnownGrant>> {
    let invalid = |field: String, reason: String| AwsError::Invalid {
        file: file.to_owned(),
        field,
        reason,
    };
    let value: Value = serde_json::from_str(text).map_err(|e| {
        invalid(
            format!("line {} column {}", e.line(), e.column()),
            e.to_string(),
        )
    })?;
    let list = match value {
        Value::Array(_) => value,
        Value::Object(mut m) => m
            .remove("grants")
            .ok_or_else(|| invalid("grants".to_owned(), "missing".to_owned()))?,
        _ => {
            return Err(invalid(
                "$".to_owned(),
                "expected an object with `grants` or an array".to_owned(),
            ))
        }
    };
    let grants: Vec<KnownGrant> =
        serde_json::from_value(list).map_err(|e| invalid("grants".to_owned(), e.to_string()))?;
    for (i, g) in grants.iter().enumerate() {
        if principal_key(&g.principal_arn).is_none() {
            return Err(invalid(
                format!("grants[{i}].principal_arn"),
                format!("`{}` is not an IAM user or role ARN", g.principal_arn),
            ));
        }
    }
    Ok(grants)
}

/// One difference between the organization and the plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriftItem {
    /// A policy type the plan uses is disabled.
    PolicyTypeDisabled {
        /// The type.
        policy_type: String,
    },
    /// A planned policy does not exist.
    PolicyMissing {
        /// Name.
        name: String,
    },
    /// A Latch policy's document or description was edited.
    PolicyEdited {
        /// Name.
        name: String,
        /// `p-...`.
        policy_id: String,
    },
    /// A Latch policy was detached from a planned target.
    Detached {
        /// Name.
        name: String,
        /// Target.
        target: String,
    },
    /// A Latch policy is attached where the plan does not put it.
    UnplannedAttachment {
        /// Name.
        name: String,
        /// Target.
        target: String,
    },
    /// A Latch policy the plan does not have.
    UnplannedPolicy {
        /// Name.
        name: String,
        /// `p-...`.
        policy_id: String,
    },
    /// A planned tag is missing or has another value.
    TagMissing {
        /// Principal.
        principal_arn: String,
        /// Key.
        key: String,
        /// Planned value.
        expected: String,
        /// Current value.
        actual: Option<String>,
    },
    /// A `latch:*` tag that neither the plan nor a known grant explains.
    UnexplainedTag {
        /// Principal.
        principal_arn: String,
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
    /// An account could not be checked for tags (drift there is unknown).
    Unchecked {
        /// Account.
        account_id: String,
        /// Why.
        reason: String,
    },
}

impl DriftItem {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            DriftItem::PolicyTypeDisabled { policy_type } => {
                format!("policy type {policy_type} is disabled")
            }
            DriftItem::PolicyMissing { name } => format!("policy {name} is missing"),
            DriftItem::PolicyEdited { name, policy_id } => {
                format!("policy {name} ({policy_id}) was edited")
            }
            DriftItem::Detached { name, target } => {
                format!("policy {name} was detached from {target}")
            }
            DriftItem::UnplannedAttachment { name, target } => {
                format!("policy {name} is attached to {target}, which the plan does not say")
            }
            DriftItem::UnplannedPolicy { name, policy_id } => {
                format!("policy {name} ({policy_id}) is not in the plan")
            }
            DriftItem::TagMissing {
                principal_arn,
                key,
                expected,
                actual,
            } => match actual {
                Some(a) => format!("{principal_arn} has {key}={a}, the plan says {expected}"),
                None => format!("{principal_arn} lacks {key}={expected}"),
            },
            DriftItem::UnexplainedTag {
                principal_arn,
                key,
                value,
            } => format!(
                "{principal_arn} carries {key}={value}, which neither the plan nor a known \
                 grant explains"
            ),
            DriftItem::Unchecked { account_id, reason } => {
                format!("account {account_id} could not be checked: {reason}")
            }
        }
    }
}

/// The drift found, and the changes that repair it.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    /// Differences, sorted.
    pub items: Vec<DriftItem>,
    /// Changes `--repair` makes, in execution order.
    pub repair: Vec<Change>,
}

impl DriftReport {
    /// Whether the organization matches the plan (and every account could be checked).
    pub fn is_clean(&self) -> bool {
        self.items.is_empty()
    }
}

fn item_for(change: &Change) -> Option<DriftItem> {
    Some(match change {
        Change::EnablePolicyType { kind, .. } => DriftItem::PolicyTypeDisabled {
            policy_type: kind.api_name().to_owned(),
        },
        Change::CreatePolicy { name, .. } => DriftItem::PolicyMissing { name: name.clone() },
        Change::UpdatePolicy {
            name, policy_id, ..
        } => DriftItem::PolicyEdited {
            name: name.clone(),
            policy_id: policy_id.clone(),
        },
        // Attachments of a missing policy are part of "missing".
        Change::Attach {
            policy_id: None, ..
        } => return None,
        Change::Attach { name, target, .. } => DriftItem::Detached {
            name: name.clone(),
            target: target.clone(),
        },
        Change::Detach { name, target, .. } => DriftItem::UnplannedAttachment {
            name: name.clone(),
            target: target.clone(),
        },
        Change::DeletePolicy {
            name, policy_id, ..
        } => DriftItem::UnplannedPolicy {
            name: name.clone(),
            policy_id: policy_id.clone(),
        },
        Change::Tag {
            principal_arn,
            key,
            value,
            previous,
            ..
        } => DriftItem::TagMissing {
            principal_arn: principal_arn.clone(),
            key: key.clone(),
            expected: value.clone(),
            actual: previous.clone(),
        },
        Change::Untag {
            principal_arn,
            key,
            value,
            ..
        } => DriftItem::UnexplainedTag {
            principal_arn: principal_arn.clone(),
            key: key.clone(),
            value: value.clone(),
        },
    })
}

/// Compares the organization with `plan`: Latch's policies (missing, edited, detached,
/// attached elsewhere, unplanned), the plan's tags, and every `latch:*` tag on every user and
/// role of every active account that neither the plan nor `grants` explains.
pub async fn detect(
    aws: &Aws,
    plan: &Plan,
    state: &AppliedState,
    grants: &[KnownGrant],
    access: &AccountAccess,
) -> Result<DriftReport> {
    let diff = plan_changes(aws, plan, state, access).await?;
    let mut repair = diff.changes;
    let mut items: Vec<DriftItem> = repair.iter().filter_map(item_for).collect();

    // Every latch:* tag in the organization, account by account.
    let planned: BTreeSet<((String, String, String), String)> = plan
        .tags
        .iter()
        .filter_map(|t| principal_key(&t.principal_arn).map(|k| (k, t.key.clone())))
        .collect();
    let already: BTreeSet<((String, String, String), String)> = repair
        .iter()
        .filter_map(|c| match c {
            Change::Untag {
                principal_arn, key, ..
            } => principal_key(principal_arn).map(|k| (k, key.clone())),
            _ => None,
        })
        .collect();
    let explained = |arn: &str, key: &str, value: &str| {
        let Some(pk) = principal_key(arn) else {
            return false;
        };
        planned.contains(&(pk.clone(), key.to_owned()))
            || grants.iter().any(|g| {
                principal_key(&g.principal_arn).as_ref() == Some(&pk)
                    && g.key == key
                    && g.value.as_deref().is_none_or(|v| v == value)
            })
    };
    let caller = aws.caller_identity().await?;
    let accounts = read_accounts(aws).await?;
    let caller_ref = &caller;
    let scans: Vec<(String, Result<TagList>)> = futures::stream::iter(accounts.iter())
        .map(|a| async move {
            if a.status != "ACTIVE" {
                return (a.id.clone(), Ok(Vec::new()));
            }
            let role = access
                .role_overrides
                .get(&a.id)
                .unwrap_or(&access.role_name);
            let scanned = async {
                let cfg = aws
                    .config_for_account(caller_ref, &a.id, role, &access.session_name)
                    .await?;
                let pages = gaad::fetch_pages(&Aws::iam(&cfg), &a.id).await?;
                Ok(gaad::principal_tags(&pages, TAG_PREFIX))
            }
            .await;
            (a.id.clone(), scanned)
        })
        .buffer_unordered(aws.concurrency())
        .collect()
        .await;
    for (account_id, scanned) in scans {
        match scanned {
            Err(e) => items.push(DriftItem::Unchecked {
                account_id,
                reason: e.to_string(),
            }),
            Ok(tags) => {
                for (arn, key, value) in tags {
                    if explained(&arn, &key, &value) {
                        continue;
                    }
                    let Some(pk) = principal_key(&arn) else {
                        continue;
                    };
                    if already.contains(&(pk, key.clone())) {
                        continue;
                    }
                    items.push(DriftItem::UnexplainedTag {
                        principal_arn: arn.clone(),
                        key: key.clone(),
                        value: value.clone(),
                    });
                    repair.push(Change::Untag {
                        principal_arn: arn,
                        key,
                        value,
                        reason: "not in the plan nor a known grant".to_owned(),
                    });
                }
            }
        }
    }
    items.sort();
    repair.sort_by_key(Change::rank);
    Ok(DriftReport { items, repair })
}

/// The changes of an emergency stop: detach every Latch policy (`latch-*` and tagged
/// `latch:managed=true`) from every target. Policies stay, so `latch resync` puts them back.
pub async fn emergency_stop_changes(aws: &Aws) -> Result<Vec<Change>> {
    let live = latch_policies(aws).await?;
    let mut changes = Vec::new();
    for p in live.managed.values() {
        for t in &p.targets {
            changes.push(Change::Detach {
                kind: p.kind,
                name: p.name.clone(),
                policy_id: p.id.clone(),
                target: t.clone(),
            });
        }
    }
    Ok(changes)
}
