//! Reading AWS Organizations: the tree with the SCPs and RCPs attached at each node (as
//! `organization.json`, docs/snapshot-format.md), the accounts, and the policies Latch manages.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_organizations::types::{PolicySummary, PolicyType as SdkPolicyType, PolicyTypeStatus};
use futures::{StreamExt, TryStreamExt};
pub use latch_catalog::PolicyType;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::{call_err, AwsError, Result};
use crate::progress::{self, Progress};
use crate::Aws;
use latch_contract::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, POLICY_NAME_PREFIX};

/// What the AWS adapter adds to a [`PolicyType`]: its SDK value and AWS's own policy of it.
pub trait PolicyTypeExt {
    /// The SDK's value.
    fn sdk(self) -> SdkPolicyType;
    /// AWS's own allow-everything policy of this type, attached by default.
    fn full_access_id(self) -> &'static str;
}

impl PolicyTypeExt for PolicyType {
    fn sdk(self) -> SdkPolicyType {
        match self {
            PolicyType::Scp => SdkPolicyType::ServiceControlPolicy,
            PolicyType::Rcp => SdkPolicyType::ResourceControlPolicy,
        }
    }

    fn full_access_id(self) -> &'static str {
        match self {
            PolicyType::Scp => latch_model::orgfile::FULL_AWS_ACCESS_ID,
            PolicyType::Rcp => latch_model::orgfile::RCP_FULL_AWS_ACCESS_ID,
        }
    }
}

/// An account of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgAccount {
    /// 12-digit id.
    pub id: String,
    /// Account name.
    pub name: String,
    /// Root email.
    pub email: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`.
    pub status: String,
}

/// The organization as read from the API.
#[derive(Debug, Clone)]
pub struct LiveOrganization {
    /// `o-...`.
    pub id: String,
    /// The management account.
    pub management_account_id: String,
    /// `r-...`.
    pub root_id: String,
    /// Policy types enabled on the root.
    pub enabled_types: BTreeSet<PolicyType>,
    /// Every account, sorted by id.
    pub accounts: Vec<OrgAccount>,
    /// organization.json (`latch.organization/v1`).
    pub document: Value,
    /// Things worth telling (a node without SCPs because the type is disabled, ...).
    pub notes: Vec<String>,
}

/// `organizations:DescribeOrganization` and `ListRoots`: the organization id, management
/// account, root id and the policy types enabled on the root.
pub async fn describe(aws: &Aws) -> Result<(String, String, String, String, BTreeSet<PolicyType>)> {
    let org = aws.organizations();
    let described = org
        .describe_organization()
        .send()
        .await
        .map_err(|e| call_err("organizations:DescribeOrganization", e))?;
    let o = described.organization().ok_or_else(|| AwsError::Call {
        call: "organizations:DescribeOrganization".to_owned(),
        code: None,
        message: "the response holds no organization".to_owned(),
    })?;
    let id = o.id().unwrap_or_default().to_owned();
    let management = o.master_account_id().unwrap_or_default().to_owned();
    let roots: Vec<_> = org
        .list_roots()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map(|pages: Vec<_>| {
            pages
                .iter()
                .flat_map(|p| p.roots().to_vec())
                .collect::<Vec<_>>()
        })
        .map_err(|e| call_err("organizations:ListRoots", e))?;
    let root = roots.first().ok_or_else(|| AwsError::Call {
        call: "organizations:ListRoots".to_owned(),
        code: None,
        message: "the organization has no root".to_owned(),
    })?;
    let enabled = root
        .policy_types()
        .iter()
        .filter(|t| t.status() == Some(&PolicyTypeStatus::Enabled))
        .filter_map(|t| match t.r#type() {
            Some(SdkPolicyType::ServiceControlPolicy) => Some(PolicyType::Scp),
            Some(SdkPolicyType::ResourceControlPolicy) => Some(PolicyType::Rcp),
            _ => None,
        })
        .collect();
    Ok((
        id,
        management,
        root.id().unwrap_or_default().to_owned(),
        root.name().unwrap_or("Root").to_owned(),
        enabled,
    ))
}

/// The policies of `kind` attached directly to `target`; `None` when the policy type is not
/// enabled in the organization.
pub async fn policies_for_target(
    org: &aws_sdk_organizations::Client,
    target: &str,
    kind: PolicyType,
) -> Result<Option<Vec<PolicySummary>>> {
    let listed: std::result::Result<Vec<_>, _> = org
        .list_policies_for_target()
        .target_id(target)
        .filter(kind.sdk())
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map(|pages: Vec<_>| {
            pages
                .iter()
                .flat_map(|p| p.policies().to_vec())
                .collect::<Vec<_>>()
        });
    match listed {
        Ok(list) => Ok(Some(list)),
        Err(e) => {
            let err = call_err(
                format!(
                    "organizations:ListPoliciesForTarget {target} {}",
                    kind.api_name()
                ),
                e,
            );
            if err.code() == Some("PolicyTypeNotEnabledException") {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

#[derive(Debug)]
struct Node {
    kind: &'static str,
    id: String,
    name: String,
    email: Option<String>,
    children: Vec<String>,
    tags: BTreeMap<String, String>,
}

/// Reads the whole tree, every account and the SCPs/RCPs attached at every node, and writes it
/// as organization.json.
pub async fn read_organization(aws: &Aws, progress: &dyn Progress) -> Result<LiveOrganization> {
    let org = aws.organizations();
    let (id, management_account_id, root_id, root_name, enabled_types) = describe(aws).await?;
    progress::phase(progress, "organization", 0);
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    let mut accounts = Vec::new();
    let mut queue = vec![root_id.clone()];
    nodes.insert(
        root_id.clone(),
        Node {
            kind: "root",
            id: root_id.clone(),
            name: root_name,
            email: None,
            tags: BTreeMap::new(),
            children: Vec::new(),
        },
    );
    while let Some(parent) = queue.pop() {
        let ous: Vec<_> = org
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map(|pages: Vec<_>| {
                pages
                    .iter()
                    .flat_map(|p| p.organizational_units().to_vec())
                    .collect::<Vec<_>>()
            })
            .map_err(|e| {
                call_err(
                    format!("organizations:ListOrganizationalUnitsForParent {parent}"),
                    e,
                )
            })?;
        let accs: Vec<_> = org
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map(|pages: Vec<_>| {
                pages
                    .iter()
                    .flat_map(|p| p.accounts().to_vec())
                    .collect::<Vec<_>>()
            })
            .map_err(|e| call_err(format!("organizations:ListAccountsForParent {parent}"), e))?;
        let mut children = Vec::new();
        for ou in &ous {
            let ou_id = ou.id().unwrap_or_default().to_owned();
            nodes.insert(
                ou_id.clone(),
                Node {
                    kind: "ou",
                    id: ou_id.clone(),
                    name: ou.name().unwrap_or(&ou_id).to_owned(),
                    email: None,
                    tags: BTreeMap::new(),
                    children: Vec::new(),
                },
            );
            children.push(ou_id.clone());
            queue.push(ou_id);
        }
        for a in &accs {
            let acc_id = a.id().unwrap_or_default().to_owned();
            let name = a.name().unwrap_or(&acc_id).to_owned();
            let email = a.email().unwrap_or_default().to_owned();
            accounts.push(OrgAccount {
                id: acc_id.clone(),
                name: name.clone(),
                email: email.clone(),
                status: a
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_else(|| "ACTIVE".to_owned()),
            });
            nodes.insert(
                acc_id.clone(),
                Node {
                    kind: "account",
                    id: acc_id.clone(),
                    name,
                    email: Some(email),
                    children: Vec::new(),
                    tags: BTreeMap::new(),
                },
            );
            children.push(acc_id);
        }
        if let Some(node) = nodes.get_mut(&parent) {
            node.children = children;
        }
        progress::item(
            progress,
            &parent,
            true,
            format!("{} OUs, {} accounts", ous.len(), accs.len()),
        );
    }
    accounts.sort_by(|a, b| a.id.cmp(&b.id));

    // Every account's tags (approval rules and bundles may be scoped by them): a read that
    // fails fails the collection, as a rule scoped by a tag must not silently match nothing.
    let tagged: Vec<(String, BTreeMap<String, String>)> =
        futures::stream::iter(accounts.iter().map(|a| a.id.clone()))
            .map(|id| async move {
                let pages: Vec<_> = org_tags(aws, &id).await?;
                Ok::<_, AwsError>((id, pages.into_iter().collect()))
            })
            .buffer_unordered(aws.concurrency())
            .try_collect()
            .await?;
    for (id, tags) in tagged {
        if let Some(node) = nodes.get_mut(&id) {
            node.tags = tags;
        }
    }

    // Policies attached at every node, listed concurrently.
    let ids: Vec<String> = nodes.keys().cloned().collect();
    let org_ref = &org;
    let attached: Vec<(String, PolicyType, Option<Vec<PolicySummary>>)> = futures::stream::iter(
        ids.iter()
            .flat_map(|n| PolicyType::ALL.map(|k| (n.clone(), k))),
    )
    .map(|(node, kind)| async move {
        let list = policies_for_target(org_ref, &node, kind).await?;
        Ok::<_, AwsError>((node, kind, list))
    })
    .buffer_unordered(aws.concurrency())
    .try_collect()
    .await?;

    // Documents of every non-AWS policy, fetched once each.
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    for (_, _, list) in &attached {
        for p in list.iter().flatten() {
            if !p.aws_managed() {
                wanted.insert(p.id().unwrap_or_default().to_owned());
            }
        }
    }
    let documents: BTreeMap<String, String> = futures::stream::iter(wanted)
        .map(|pid| async move {
            let out = org_ref
                .describe_policy()
                .policy_id(&pid)
                .send()
                .await
                .map_err(|e| call_err(format!("organizations:DescribePolicy {pid}"), e))?;
            let content = out
                .policy()
                .and_then(|p| p.content())
                .unwrap_or_default()
                .to_owned();
            Ok::<_, AwsError>((pid, content))
        })
        .buffer_unordered(aws.concurrency())
        .try_collect()
        .await?;

    let mut per_node: BTreeMap<(String, PolicyType), Vec<Value>> = BTreeMap::new();
    let mut notes = Vec::new();
    for (node, kind, list) in attached {
        let mut entries = Vec::new();
        for p in list.iter().flatten() {
            let pid = p.id().unwrap_or_default();
            let mut entry = Map::new();
            entry.insert("id".into(), json!(pid));
            entry.insert("name".into(), json!(p.name().unwrap_or(pid)));
            if let Some(content) = documents.get(pid) {
                let doc = serde_json::from_str::<Value>(content)
                    .unwrap_or_else(|_| Value::String(content.clone()));
                entry.insert("document".into(), doc);
            }
            entries.push(Value::Object(entry));
        }
        entries.sort_by(|a, b| {
            a.get("id")
                .and_then(Value::as_str)
                .cmp(&b.get("id").and_then(Value::as_str))
        });
        if kind == PolicyType::Scp && entries.is_empty() {
            // With the SCP type disabled nothing is restricted: the same as FullAWSAccess alone.
            notes.push(format!(
                "{node}: no SCP attached ({}); recorded as FullAWSAccess",
                if list.is_none() {
                    "the SCP policy type is not enabled"
                } else {
                    "none listed"
                }
            ));
            entries.push(json!({"id": kind.full_access_id(), "name": "FullAWSAccess"}));
        }
        per_node.insert((node, kind), entries);
    }
    notes.sort();

    let document = json!({
        "format": latch_model::orgfile::FORMAT,
        "id": id,
        "management_account_id": management_account_id,
        "root": node_json(&nodes, &per_node, &root_id, 0),
    });
    Ok(LiveOrganization {
        id,
        management_account_id,
        root_id,
        enabled_types,
        accounts,
        document,
        notes,
    })
}

fn node_json(
    nodes: &BTreeMap<String, Node>,
    policies: &BTreeMap<(String, PolicyType), Vec<Value>>,
    id: &str,
    depth: usize,
) -> Value {
    let Some(node) = nodes.get(id) else {
        return Value::Null;
    };
    let mut m = Map::new();
    m.insert("type".into(), json!(node.kind));
    m.insert("id".into(), json!(node.id));
    m.insert("name".into(), json!(node.name));
    if let Some(email) = &node.email {
        m.insert("email".into(), json!(email));
    }
    if !node.tags.is_empty() {
        m.insert("tags".into(), json!(node.tags));
    }
    for (key, kind) in [("scps", PolicyType::Scp), ("rcps", PolicyType::Rcp)] {
        let list = policies
            .get(&(node.id.clone(), kind))
            .cloned()
            .unwrap_or_default();
        m.insert(key.into(), Value::Array(list));
    }
    if node.kind != "account" && depth < 16 {
        let mut children: Vec<&String> = node.children.iter().collect();
        children.sort();
        m.insert(
            "children".into(),
            Value::Array(
                children
                    .into_iter()
                    .map(|c| node_json(nodes, policies, c, depth + 1))
                    .collect(),
            ),
        );
    }
    Value::Object(m)
}

/// A policy Latch created (name `latch-*` and tagged `latch:managed=true`), as it is in AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LivePolicy {
    /// `p-...`.
    pub id: String,
    /// `latch-...`.
    pub name: String,
    /// SCP or RCP.
    pub kind: PolicyType,
    /// Description.
    pub description: String,
    /// The document as stored.
    pub content: String,
    /// Roots, OUs and accounts it is attached to.
    pub targets: BTreeSet<String>,
    /// The Identity Center grants the server wrote into it (bundle, `aws:userid`), from its
    /// `latch:icgrant:*` record tags: `apply` keeps them and drift does not report them.
    pub userid_grants: Vec<(String, String)>,
}

/// The `latch-*` policies of the organization.
#[derive(Debug, Clone, Default)]
pub struct LatchPolicies {
    /// Latch's own, by kind and name.
    pub managed: BTreeMap<(PolicyType, String), LivePolicy>,
    /// Named `latch-*` but without Latch's tag: someone else's, never touched. Id by kind and
    /// name.
    pub foreign: BTreeMap<(PolicyType, String), String>,
}

/// Lists every `latch-*` SCP and RCP, tells Latch's own (tagged) from others, and reads the
/// content and targets of Latch's own.
pub async fn latch_policies(aws: &Aws) -> Result<LatchPolicies> {
    let org = aws.organizations();
    let mut out = LatchPolicies::default();
    for kind in PolicyType::ALL {
        let listed: std::result::Result<Vec<_>, _> = org
            .list_policies()
            .filter(kind.sdk())
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map(|pages: Vec<_>| {
                pages
                    .iter()
                    .flat_map(|p| p.policies().to_vec())
                    .collect::<Vec<_>>()
            });
        let list = match listed {
            Ok(list) => list,
            Err(e) => {
                let err = call_err(format!("organizations:ListPolicies {}", kind.api_name()), e);
                if err.code() == Some("PolicyTypeNotEnabledException") {
                    continue;
                }
                return Err(err);
            }
        };
        for p in list {
            let name = p.name().unwrap_or_default().to_owned();
            let id = p.id().unwrap_or_default().to_owned();
            if !name.starts_with(POLICY_NAME_PREFIX) || p.aws_managed() {
                continue;
            }
            let tags: Vec<_> = org
                .list_tags_for_resource()
                .resource_id(&id)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map(|pages: Vec<_>| {
                    pages
                        .iter()
                        .flat_map(|p| p.tags().to_vec())
                        .collect::<Vec<_>>()
                })
                .map_err(|e| call_err(format!("organizations:ListTagsForResource {id}"), e))?;
            let ours = tags
                .iter()
                .any(|t| t.key() == MANAGED_TAG_KEY && t.value() == MANAGED_TAG_VALUE);
            if !ours {
                out.foreign.insert((kind, name), id);
                continue;
            }
            let described = org
                .describe_policy()
                .policy_id(&id)
                .send()
                .await
                .map_err(|e| call_err(format!("organizations:DescribePolicy {id}"), e))?;
            let content = described
                .policy()
                .and_then(|p| p.content())
                .unwrap_or_default()
                .to_owned();
            let targets: Vec<_> = org
                .list_targets_for_policy()
                .policy_id(&id)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map(|pages: Vec<_>| {
                    pages
                        .iter()
                        .flat_map(|p| p.targets().to_vec())
                        .collect::<Vec<_>>()
                })
                .map_err(|e| call_err(format!("organizations:ListTargetsForPolicy {id}"), e))?;
            out.managed.insert(
                (kind, name.clone()),
                LivePolicy {
                    id,
                    name,
                    kind,
                    description: p.description().unwrap_or_default().to_owned(),
                    content,
                    userid_grants: tags
                        .iter()
                        .filter(|t| t.key().starts_with(latch_contract::IC_GRANT_TAG_PREFIX))
                        .filter_map(|t| {
                            let mut words = t.value().split(' ');
                            Some((words.next()?.to_owned(), words.next()?.to_owned()))
                        })
                        .collect(),
                    targets: targets
                        .iter()
                        .filter_map(|t| t.target_id().map(str::to_owned))
                        .collect(),
                },
            );
        }
    }
    Ok(out)
}

/// Every account of the organization (`organizations:ListAccounts`), sorted by id.
pub async fn read_accounts(aws: &Aws) -> Result<Vec<OrgAccount>> {
    let list: Vec<_> = aws
        .organizations()
        .list_accounts()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map(|pages: Vec<_>| {
            pages
                .iter()
                .flat_map(|p| p.accounts().to_vec())
                .collect::<Vec<_>>()
        })
        .map_err(|e| call_err("organizations:ListAccounts", e))?;
    let mut out: Vec<OrgAccount> = list
        .iter()
        .map(|a| {
            let id = a.id().unwrap_or_default().to_owned();
            OrgAccount {
                name: a.name().unwrap_or(&id).to_owned(),
                email: a.email().unwrap_or_default().to_owned(),
                status: a
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_else(|| "ACTIVE".to_owned()),
                id,
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The tags of an account (`organizations:ListTagsForResource`), every page.
async fn org_tags(aws: &Aws, id: &str) -> Result<Vec<(String, String)>> {
    let pages: Vec<_> = aws
        .organizations()
        .list_tags_for_resource()
        .resource_id(id)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| call_err(format!("organizations:ListTagsForResource {id}"), e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.tags().to_vec())
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect())
}
