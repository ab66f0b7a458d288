//! IAM's last-accessed data (Access Advisor) of one account's users and roles:
//! `iam:GenerateServiceLastAccessedDetails` at action level for each identity, then
//! `iam:GetServiceLastAccessedDetails` polled with backoff until the job completes, every page
//! read. Written as `accounts/<id>/last-accessed.json` (`latch_model::last_accessed`).
//!
//! Jobs run a bounded number at a time. A throttled call is retried by the SDK's standard
//! retry (exponential backoff with jitter, `AwsOptions::max_attempts`). An identity whose job
//! fails, does not complete in time, or whose calls keep failing is recorded in the file's
//! `failed` list with why — never an empty report — and the snapshot's `not_analysed` lists
//! it.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_iam::primitives::{DateTime, DateTimeFormat};
use aws_sdk_iam::types::{AccessAdvisorUsageGranularityType, JobStatusType};
use aws_sdk_iam::Client;
use futures::StreamExt;
use latch_model::account::Timestamp;
use latch_model::last_accessed::{LastAccessed, PrincipalAccess, ServiceAccess};
use serde_json::Value;

use crate::error::call_err;

/// How jobs are run and awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastAccessedOptions {
    /// Jobs under way at once in one account.
    pub concurrency: usize,
    /// The first wait before asking again whether a job is done (doubled each time).
    pub first_poll: Duration,
    /// The longest wait between two asks.
    pub max_poll: Duration,
    /// How long one identity's job may take before it is given up (and reported).
    pub timeout: Duration,
}

impl Default for LastAccessedOptions {
    fn default() -> Self {
        LastAccessedOptions {
            concurrency: 4,
            first_poll: Duration::from_millis(500),
            max_poll: Duration::from_secs(10),
            timeout: Duration::from_secs(300),
        }
    }
}

/// The users and roles of GAAD pages, as ARNs, sorted.
pub fn identities(pages: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = pages
        .iter()
        .flat_map(|page| {
            ["UserDetailList", "RoleDetailList"]
                .into_iter()
                .filter_map(|list| page.get(list).and_then(Value::as_array))
                .flatten()
        })
        .filter_map(|p| p.get("Arn").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn timestamp(d: &DateTime) -> Option<Timestamp> {
    d.fmt(DateTimeFormat::DateTime)
        .ok()
        .and_then(|t| Timestamp::parse(&t))
}

/// The report of one identity, or why there is none.
async fn one(
    iam: &Client,
    account: &str,
    arn: &str,
    opts: &LastAccessedOptions,
) -> Result<PrincipalAccess, String> {
    let job = iam
        .generate_service_last_accessed_details()
        .arn(arn)
        .granularity(AccessAdvisorUsageGranularityType::ActionLevel)
        .send()
        .await
        .map_err(|e| {
            call_err(
                format!("iam:GenerateServiceLastAccessedDetails ({account})"),
                e,
            )
            .to_string()
        })?;
    let job_id = job
        .job_id()
        .ok_or_else(|| "IAM started a job without giving its id".to_owned())?
        .to_owned();
    let started = tokio::time::Instant::now();
    let mut delay = opts.first_poll;
    let mut services: BTreeMap<String, ServiceAccess> = BTreeMap::new();
    let mut marker: Option<String> = None;
    let mut completed: Option<Timestamp> = None;
    loop {
        let out = iam
            .get_service_last_accessed_details()
            .job_id(&job_id)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| {
                call_err(format!("iam:GetServiceLastAccessedDetails ({account})"), e).to_string()
            })?;
        match out.job_status() {
            JobStatusType::Completed => {}
            JobStatusType::Failed => {
                let why = out
                    .error()
                    .map(|e| format!("{}: {}", e.code(), e.message()))
                    .unwrap_or_else(|| "no reason given".to_owned());
                return Err(format!("the job failed ({why})"));
            }
            other => {
                // IN_PROGRESS (or a status this Latch does not know): ask again later.
                if marker.is_some() {
                    return Err(format!(
                        "the job went back to `{}` while its pages were read",
                        other.as_str()
                    ));
                }
                if started.elapsed() + delay > opts.timeout {
                    return Err(format!(
                        "the job did not complete within {} s",
                        opts.timeout.as_secs()
                    ));
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(opts.max_poll);
                continue;
            }
        }
        completed = completed
            .or_else(|| timestamp(out.job_completion_date()).filter(|t| t.epoch_millis > 0));
        for s in out.services_last_accessed() {
            let entry = services
                .entry(s.service_namespace().to_ascii_lowercase())
                .or_default();
            if let Some(t) = s.last_authenticated().and_then(timestamp) {
                entry.last_authenticated = entry.last_authenticated.clone().max(Some(t));
            }
            for a in s.tracked_actions_last_accessed() {
                let (Some(name), Some(at)) =
                    (a.action_name(), a.last_accessed_time().and_then(timestamp))
                else {
                    continue;
                };
                let full = match name.split_once(':') {
                    Some(_) => name.to_owned(),
                    None => format!("{}:{name}", s.service_namespace().to_ascii_lowercase()),
                };
                let slot = entry.actions.entry(full).or_insert_with(|| at.clone());
                if at > *slot {
                    *slot = at;
                }
            }
        }
        match (out.is_truncated(), out.marker()) {
            (true, Some(next)) if Some(next) != marker.as_deref() => {
                marker = Some(next.to_owned());
            }
            (true, _) => return Err("a page was truncated without a marker".to_owned()),
            _ => break,
        }
    }
    let job_completed =
        completed.ok_or_else(|| "the completed job gives no completion date".to_owned())?;
    Ok(PrincipalAccess {
        job_completed,
        services,
    })
}

/// The last-accessed data of every identity of `identities` (ARNs of the account), a bounded
/// number at a time. Never fails as a whole: what could not be had is in `failed`.
pub async fn fetch(
    iam: &Client,
    account: &str,
    identities: &[String],
    opts: &LastAccessedOptions,
) -> LastAccessed {
    let results: Vec<(String, Result<PrincipalAccess, String>)> =
        futures::stream::iter(identities.iter())
            .map(|arn| async move { (arn.clone(), one(iam, account, arn, opts).await) })
            .buffer_unordered(opts.concurrency.max(1))
            .collect()
            .await;
    let mut out = LastAccessed::default();
    for (arn, r) in results {
        match r {
            Ok(p) => {
                out.principals.insert(arn, p);
            }
            Err(why) => {
                out.failed.insert(arn, why);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn identities_are_the_users_and_roles_of_every_page() {
        let pages = vec![
            serde_json::json!({"UserDetailList": [{"Arn": "arn:aws:iam::111122223333:user/b"}],
                               "RoleDetailList": [{"Arn": "arn:aws:iam::111122223333:role/a"}],
                               "GroupDetailList": [{"Arn": "arn:aws:iam::111122223333:group/g"}]}),
            serde_json::json!({"RoleDetailList": [{"Arn": "arn:aws:iam::111122223333:role/c"}]}),
        ];
        assert_eq!(
            identities(&pages),
            [
                "arn:aws:iam::111122223333:role/a",
                "arn:aws:iam::111122223333:role/c",
                "arn:aws:iam::111122223333:user/b",
            ]
        );
    }
}
