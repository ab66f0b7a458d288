//! Putting parsed parts together into a [`Snapshot`]: account names from the organization,
//! AWS-managed policies resolved from Latch's bundle, and every gap recorded in
//! `not_analysed`.

use std::collections::BTreeMap;

use crate::account::{is_aws_managed_arn, Account};
use crate::managed::aws_managed_policy;
use crate::org::Organization;
use crate::snapshot::Snapshot;

/// Why parts could not be assembled: they contradict each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account `{account_id}`: {reason}")]
pub struct AssembleError {
    /// The account concerned.
    pub account_id: String,
    /// What is inconsistent.
    pub reason: String,
}

/// Whether a snapshot directory had CloudTrail logs (read by `latch-trail`, recorded here so
/// that its absence is reported with the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudTrail {
    /// A `cloudtrail/` folder is present.
    Present,
    /// No `cloudtrail/` folder.
    Absent,
}

/// Builds a snapshot from its parsed parts (accounts as [`crate::gaad::parse_gaad`] returns
/// them, with `resource_policies` filled in when the snapshot had them).
///
/// - Accounts take their names from the organization; an account with IAM data that is not in
///   the organization is an error.
/// - AWS-managed policies referenced but not included are resolved from Latch's bundle;
///   whatever stays unresolved is listed in `not_analysed`, as are a missing organization,
///   organization accounts without IAM data, missing resource policies and missing CloudTrail.
pub fn assemble(
    organization: Option<Organization>,
    accounts: Vec<Account>,
    cloudtrail: CloudTrail,
) -> Result<Snapshot, AssembleError> {
    let mut not_analysed = Vec::new();
    if organization.is_none() {
        not_analysed.push(
            "organization.json: absent, so accounts are treated as directly under a root with \
             no SCPs or RCPs (guardrails and organization boundaries not analysed)"
                .to_owned(),
        );
    }
    let mut by_id = BTreeMap::new();
    for mut account in accounts {
        if let Some(org) = &organization {
            let node = org.account(&account.id).ok_or_else(|| AssembleError {
                account_id: account.id.clone(),
                reason: "has IAM data but is not in organization.json".to_owned(),
            })?;
            account.name = node.name.clone();
        }
        if by_id.contains_key(&account.id) {
            return Err(AssembleError {
                account_id: account.id.clone(),
                reason: "appears twice".to_owned(),
            });
        }
        for (who, arn) in account.unresolved_policy_references() {
            match aws_managed_policy(&arn) {
                Some(p) if is_aws_managed_arn(&arn) => {
                    account.managed_policies.insert(arn, p.clone());
                }
                _ => not_analysed.push(format!(
                    "account {}: policy `{arn}` used by `{who}` is neither in the account's \
                     GAAD nor among Latch's bundled AWS managed policies, so `{who}`'s \
                     permissions are only partly known",
                    account.id
                )),
            }
        }
        for user in account.users.values() {
            for g in &user.groups {
                if !account.groups.contains_key(g) {
                    not_analysed.push(format!(
                        "account {}: group `{g}` of `{}` is not in the account's GAAD, so its \
                         policies are not analysed",
                        account.id, user.arn
                    ));
                }
            }
        }
        if account.resource_policies.is_none() {
            not_analysed.push(format!(
                "account {}: no resource-policies.json, so resource-based policies (buckets, \
                 keys, queues, secrets, functions) are not analysed",
                account.id
            ));
        }
        match &account.workloads {
            None => not_analysed.push(format!(
                "account {}: no workloads.json, so the roles that functions, instances, stacks, \
                 projects, jobs, notebooks and task definitions run as are not known: escalation \
                 through them is assumed for every role their service may run as, and a grant \
                 on one named resource is not followed",
                account.id
            )),
            Some(w) => {
                let missing: Vec<&str> = crate::workloads::WorkloadKind::ALL
                    .into_iter()
                    .filter(|k| !w.knows(*k))
                    .map(|k| k.name())
                    .collect();
                if !missing.is_empty() {
                    not_analysed.push(format!(
                        "account {}: workloads.json does not inventory {}: for those, escalation \
                         is assumed for every role their service may run as",
                        account.id,
                        missing.join(", ")
                    ));
                }
            }
        }
        if let Some(la) = &account.last_accessed {
            for (arn, why) in &la.failed {
                not_analysed.push(format!(
                    "account {}: IAM last-accessed data of `{arn}` could not be had ({why}), so \
                     its usage rests on CloudTrail alone",
                    account.id
                ));
            }
        }
        if account.credential_report.is_none() {
            not_analysed.push(format!(
                "account {}: no credential-report.csv, so access keys and passwords (the root \
                 user's included) are not analysed",
                account.id
            ));
        }
        by_id.insert(account.id.clone(), account);
    }
    if let Some(org) = &organization {
        for node in org.accounts() {
            if !by_id.contains_key(&node.id) {
                not_analysed.push(format!(
                    "account {} ({}): no IAM data (accounts/{}/gaad.json), so its principals \
                     are not analysed",
                    node.id, node.name, node.id
                ));
            }
        }
    }
    if cloudtrail == CloudTrail::Absent {
        not_analysed.push(
            "cloudtrail/: absent, so actual usage is unknown (standing privilege and zombie \
             identities cannot be told from activity)"
                .to_owned(),
        );
    }
    Ok(Snapshot {
        organization,
        accounts: by_id,
        not_analysed,
        trails: None,
        identity_center: None,
    })
}
