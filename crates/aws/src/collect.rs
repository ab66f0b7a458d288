//! `latch collect`: the organization, every account's IAM, its trails, IAM Identity Center
//! (`identity-center.json`, [`crate::identity_center`]) and CloudTrail logs, written as a
//! snapshot directory that `latch-model` loads (docs/snapshot-format.md).
//!
//! One account that cannot be reached does not sink the run: it is reported, its
//! `accounts/<id>/gaad.json` is not written, and the loaded snapshot's `not_analysed` says its
//! principals were not analysed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::cloudtrail::{copy_logs, CloudTrailCopy, CloudTrailSource};
use crate::credential_report;
use crate::error::{AwsError, Result};
use crate::gaad;
use crate::org::{read_organization, OrgAccount};
use crate::progress::{self, Progress};
use crate::{time, Aws};

/// What to collect and where to write it.
#[derive(Debug, Clone)]
pub struct CollectConfig {
    /// The snapshot directory to create (absent or empty).
    pub out: PathBuf,
    /// Role assumed in member accounts.
    pub role_name: String,
    /// Per-account role names that differ from `role_name` (accounts invited into the
    /// organization often lack `OrganizationAccountAccessRole`).
    pub role_overrides: BTreeMap<String, String>,
    /// `RoleSessionName` of the assumed sessions (shows in the accounts' CloudTrail).
    pub session_name: String,
    /// CloudTrail logs to copy, if any.
    pub cloudtrail: Option<CloudTrailSource>,
    /// Where to list the resources that run as roles (`workloads.json`).
    pub workloads: WorkloadRegions,
    /// IAM's last-accessed data of every user and role (`last-accessed.json`), when asked
    /// for.
    pub last_accessed: Option<crate::last_accessed::LastAccessedOptions>,
}

/// The regions in which `collect` lists each account's workloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadRegions {
    /// Every region enabled for the account (`ec2:DescribeRegions`).
    Enabled,
    /// These regions only: the inventory then says nothing of the others.
    Listed(Vec<String>),
    /// No inventory: the escalation graph assumes resources exist.
    Skip,
}

impl CollectConfig {
    /// Collects into `out` with the default role and no CloudTrail.
    pub fn new(out: impl Into<PathBuf>) -> CollectConfig {
        CollectConfig {
            out: out.into(),
            role_name: crate::DEFAULT_ROLE_NAME.to_owned(),
            role_overrides: BTreeMap::new(),
            session_name: "latch-collect".to_owned(),
            cloudtrail: None,
            workloads: WorkloadRegions::Enabled,
            last_accessed: None,
        }
    }
}

/// What happened to one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountOutcome {
    /// 12-digit id.
    pub account_id: String,
    /// Account name.
    pub name: String,
    /// `collected`, `failed` or `skipped`.
    pub status: &'static str,
    /// Counts when collected; the reason otherwise.
    pub detail: String,
    /// GAAD pages fetched.
    pub pages: usize,
}

/// The result of a collection.
#[derive(Debug, Clone, Serialize)]
pub struct CollectReport {
    /// The snapshot directory.
    pub out: PathBuf,
    /// `o-...`.
    pub organization_id: String,
    /// The management account.
    pub management_account_id: String,
    /// Every account, sorted by id.
    pub accounts: Vec<AccountOutcome>,
    /// CloudTrail files copied, when asked for.
    pub cloudtrail: Option<CloudTrailCopy>,
    /// Why CloudTrail could not be copied, when it failed.
    pub cloudtrail_error: Option<String>,
    /// Why `trails.json` (the trails and their event selectors) was not written, when not.
    pub trails_error: Option<String>,
    /// What `identity-center.json` (IAM Identity Center's permission sets, assignments and
    /// people) holds, when it was written.
    pub identity_center: Option<String>,
    /// Why `identity-center.json` was not written, when not.
    pub identity_center_error: Option<String>,
    /// Remarks about the organization (disabled policy types, ...).
    pub notes: Vec<String>,
    /// What the written snapshot does not cover, as the loader reports it.
    pub not_analysed: Vec<String>,
    /// When the collection started and ended (RFC 3339).
    pub started_at: String,
    /// End time.
    pub finished_at: String,
}

impl CollectReport {
    /// Accounts that could not be collected.
    pub fn failed(&self) -> impl Iterator<Item = &AccountOutcome> {
        self.accounts.iter().filter(|a| a.status != "collected")
    }
}

fn io<'a>(action: &'static str, file: &'a Path) -> impl FnOnce(std::io::Error) -> AwsError + 'a {
    move |source| AwsError::Io {
        action,
        file: file.to_owned(),
        source,
    }
}

pub(crate) fn write_json(file: &Path, value: &Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| AwsError::Io {
        action: "write",
        file: file.to_owned(),
        source: std::io::Error::other(e),
    })?;
    text.push('\n');
    write_text(file, &text)
}

/// Writes then renames, so that an interrupted run never leaves half a file.
fn write_text(file: &Path, text: &str) -> Result<()> {
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, file).map_err(io("write", file))
}

async fn collect_account(
    aws: &Aws,
    caller: &crate::connect::CallerIdentity,
    config: &CollectConfig,
    account: &OrgAccount,
) -> Result<(usize, String, Option<Vec<Value>>)> {
    let role = config
        .role_overrides
        .get(&account.id)
        .unwrap_or(&config.role_name);
    let sdk = aws
        .config_for_account(caller, &account.id, role, &config.session_name)
        .await?;
    let pages = gaad::fetch_pages(&Aws::iam(&sdk), &account.id).await?;
    let count = |key: &str| {
        pages
            .iter()
            .filter_map(|p| p.get(key).and_then(Value::as_array))
            .map(Vec::len)
            .sum::<usize>()
    };
    let mut detail = format!(
        "{} users, {} groups, {} roles, {} policies",
        count("UserDetailList"),
        count("GroupDetailList"),
        count("RoleDetailList"),
        count("Policies")
    );
    let n = pages.len();
    let identities = crate::last_accessed::identities(&pages);
    let inventory = match &config.workloads {
        WorkloadRegions::Skip => None,
        WorkloadRegions::Listed(regions) => Some(Ok(regions.clone())),
        WorkloadRegions::Enabled => {
            Some(crate::workloads::enabled_regions(&sdk, &account.id).await)
        }
    };
    let inventory = match inventory {
        None => None,
        Some(Ok(regions)) => Some(
            crate::workloads::inventory(&sdk, &account.id, &caller.partition, &regions, &pages)
                .await,
        ),
        Some(Err(e)) => {
            detail.push_str(&format!("; workloads not collected: {e}"));
            None
        }
    };
    let file = config
        .out
        .join(latch_model::load::ACCOUNTS_DIR)
        .join(&account.id)
        .join(latch_model::load::GAAD_FILE);
    write_json(&file, &gaad::to_file_value(pages))?;
    if let Some(inv) = inventory {
        detail.push_str(&format!(
            "; {} workloads in {} regions",
            inv.workloads.items.len(),
            inv.workloads.regions.len()
        ));
        for (kind, why) in &inv.failures {
            detail.push_str(&format!("; {} not inventoried: {why}", kind.plural()));
        }
        write_json(
            &file.with_file_name(latch_model::load::WORKLOADS_FILE),
            &latch_model::workloads::to_value(&inv.workloads),
        )?;
    }
    // IAM's last-accessed data, when asked for: what each identity attempted, per service and
    // tracked action, whatever CloudTrail logs.
    if let Some(opts) = &config.last_accessed {
        let data =
            crate::last_accessed::fetch(&Aws::iam(&sdk), &account.id, &identities, opts).await;
        detail.push_str(&format!(
            "; last-accessed data of {} identities",
            data.principals.len()
        ));
        if let Some((arn, why)) = data.failed.iter().next() {
            detail.push_str(&format!(
                " ({} could not be had, e.g. `{arn}`: {why})",
                data.failed.len()
            ));
        }
        write_json(
            &file.with_file_name(latch_model::load::LAST_ACCESSED_FILE),
            &latch_model::last_accessed::to_value(&data),
        )?;
    }
    // The credential report is optional: without it, the account's access keys are reported
    // as not analysed, not failed.
    let report = credential_report::fetch(&Aws::iam(&sdk), &account.id)
        .await
        .and_then(|csv| {
            latch_model::credentials::parse_credential_report_str(&csv)
                .map(|_| csv)
                .map_err(|e| AwsError::Conflict(format!("the credential report is malformed: {e}")))
        });
    match report {
        Ok(csv) => write_text(
            &file.with_file_name(latch_model::load::CREDENTIAL_REPORT_FILE),
            &csv,
        )?,
        Err(e) => detail.push_str(&format!("; credential report not collected: {e}")),
    }
    // The trails and their event selectors: which calls CloudTrail records at all.
    let trails = match crate::cloudtrail::describe_trails(&sdk, &account.id).await {
        Ok(t) => {
            detail.push_str(&format!("; {} trails", t.len()));
            Some(t)
        }
        Err(e) => {
            detail.push_str(&format!("; trails not collected: {e}"));
            None
        }
    };
    Ok((n, detail, trails))
}

/// Collects the organization into `config.out` (see the module docs). Fails only when nothing
/// usable could be written (the organization cannot be read, the directory is not empty, or
/// no account at all could be collected); per-account and CloudTrail failures are in the
/// report.
pub async fn collect(
    aws: &Aws,
    config: &CollectConfig,
    progress: &dyn Progress,
) -> Result<CollectReport> {
    let started = time::now_millis();
    let out = &config.out;
    if out.exists() {
        let mut listing = std::fs::read_dir(out).map_err(io("read", out))?;
        if listing.next().is_some() {
            return Err(AwsError::Conflict(format!(
                "`{}` is not empty: collect writes a fresh snapshot directory (choose a new one \
                 or empty it)",
                out.display()
            )));
        }
    }
    let caller = aws.caller_identity().await?;
    let live = read_organization(aws, progress).await?;
    write_json(
        &out.join(latch_model::load::ORGANIZATION_FILE),
        &live.document,
    )?;

    progress::phase(progress, "accounts", live.accounts.len());
    let caller_ref = &caller;
    let results: Vec<(AccountOutcome, Option<Vec<Value>>)> =
        futures::stream::iter(live.accounts.iter())
            .map(|account| async move {
                let (status, detail, pages, trails) = if account.status != "ACTIVE" {
                    (
                        "skipped",
                        format!("account is {}: AWS refuses sessions in it", account.status),
                        0,
                        None,
                    )
                } else {
                    match collect_account(aws, caller_ref, config, account).await {
                        Ok((pages, detail, trails)) => ("collected", detail, pages, trails),
                        Err(e) => ("failed", e.to_string(), 0, None),
                    }
                };
                progress::item(progress, &account.id, status == "collected", detail.clone());
                let outcome = AccountOutcome {
                    account_id: account.id.clone(),
                    name: account.name.clone(),
                    status,
                    detail,
                    pages,
                };
                (outcome, trails)
            })
            .buffer_unordered(aws.concurrency())
            .collect()
            .await;
    let mut trails_by_account: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut outcomes: Vec<AccountOutcome> = Vec::with_capacity(results.len());
    for (outcome, trails) in results {
        if let Some(t) = trails {
            trails_by_account.insert(outcome.account_id.clone(), t);
        }
        outcomes.push(outcome);
    }
    outcomes.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    if !outcomes.iter().any(|o| o.status == "collected") {
        let reasons: Vec<String> = outcomes
            .iter()
            .take(5)
            .map(|o| format!("{}: {}", o.account_id, o.detail))
            .collect();
        return Err(AwsError::Conflict(format!(
            "no account could be collected, so there is no snapshot ({})",
            reasons.join("; ")
        )));
    }

    // trails.json only when the management account's trails (the organization trail's home)
    // were read: without them the file would say less than the documented default.
    let trails_error = if trails_by_account.contains_key(&live.management_account_id) {
        let trails: Vec<Value> = trails_by_account.into_values().flatten().collect();
        write_json(
            &out.join(latch_model::load::TRAILS_FILE),
            &serde_json::json!({ "format": latch_model::trails::FORMAT, "trails": trails }),
        )?;
        None
    } else {
        Some(format!(
            "the trails of the management account {} could not be read, so no trails.json was written (see its account entry)",
            live.management_account_id
        ))
    };

    // identity-center.json: from the sso-admin and identitystore APIs of the base credentials
    // (the management account or a delegated administrator), assignments on every account.
    let account_ids: Vec<String> = live.accounts.iter().map(|a| a.id.clone()).collect();
    let (identity_center, identity_center_error) =
        match crate::identity_center::read(aws, &account_ids, progress).await {
            Err(e) => (
                None,
                Some(format!("{e}; no identity-center.json was written")),
            ),
            Ok(read) => {
                let value = crate::identity_center::document(&read);
                match latch_model::identity_center::parse_identity_center(&value) {
                    Ok(ic) => {
                        write_json(&out.join(latch_model::load::IDENTITY_CENTER_FILE), &value)?;
                        (Some(crate::identity_center::summary(&ic)), None)
                    }
                    Err(e) => (
                        None,
                        Some(format!(
                            "what was read of Identity Center does not pass Latch's reader ({e}), \
                             so no identity-center.json was written"
                        )),
                    ),
                }
            }
        };

    let (cloudtrail, cloudtrail_error) = match &config.cloudtrail {
        None => (None, None),
        Some(source) => match copy_logs(aws, source, out, progress).await {
            Ok(copy) => (Some(copy), None),
            Err(e) => (None, Some(e.to_string())),
        },
    };

    let snapshot = latch_model::load::snapshot(out).map_err(|e| {
        AwsError::Conflict(format!(
            "the collected snapshot does not load (the files are left for inspection): {e}"
        ))
    })?;
    let mut report = CollectReport {
        out: out.clone(),
        organization_id: live.id,
        management_account_id: live.management_account_id,
        accounts: outcomes,
        cloudtrail,
        cloudtrail_error,
        trails_error,
        identity_center,
        identity_center_error,
        notes: live.notes,
        not_analysed: snapshot.not_analysed,
        started_at: time::rfc3339(started),
        finished_at: time::rfc3339(time::now_millis()),
    };
    report.notes.sort();
    let value = serde_json::to_value(&report).unwrap_or(Value::Null);
    write_json(&out.join("collect-report.json"), &value)?;
    Ok(report)
}
