//! Copying CloudTrail log files from their S3 bucket into a snapshot's `cloudtrail/` folder,
//! for a time window, keeping the layout CloudTrail writes
//! (`AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz`).
//!
//! Only the day folders inside the window are listed, so a bucket holding years of logs costs
//! a few listings per account, region and day.

use std::path::{Component, Path, PathBuf};

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::Value;

use crate::error::{call_err, AwsError, Result};
use crate::progress::{self, Progress};
use crate::Aws;

/// Where the logs are and which period to copy.
#[derive(Debug, Clone)]
pub struct CloudTrailSource {
    /// Bucket name.
    pub bucket: String,
    /// Prefix above `AWSLogs/` (the trail's `S3KeyPrefix`), may be empty.
    pub prefix: String,
    /// Window start, milliseconds since the epoch (inclusive).
    pub start_millis: i64,
    /// Window end, milliseconds since the epoch (inclusive).
    pub end_millis: i64,
}

/// What was copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CloudTrailCopy {
    /// Log files written.
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Accounts that had logs in the window.
    pub accounts: Vec<String>,
}

/// Sub-prefixes one level below `prefix` (S3 "folders").
async fn folders(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<String>> {
    let pages: Vec<_> = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .delimiter("/")
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| call_err(format!("s3:ListObjectsV2 s3://{bucket}/{prefix}"), e))?;
    let mut out: Vec<String> = pages
        .iter()
        .flat_map(|p| p.common_prefixes())
        .filter_map(|c| c.prefix().map(str::to_owned))
        .collect();
    out.sort();
    Ok(out)
}

/// Object keys below `prefix`.
async fn keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<String>> {
    let pages: Vec<_> = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| call_err(format!("s3:ListObjectsV2 s3://{bucket}/{prefix}"), e))?;
    let mut out: Vec<String> = pages
        .iter()
        .flat_map(|p| p.contents())
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    out.sort();
    Ok(out)
}

fn last_segment(prefix: &str) -> &str {
    prefix
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

/// The delivery time in a CloudTrail file name
/// (`<account>_CloudTrail_<region>_20261124T1235Z_<id>.json.gz`), in epoch milliseconds.
pub fn file_time(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next()?;
    let stamp = name.split('_').find(|part| {
        part.len() == 14 && part.as_bytes().get(8) == Some(&b'T') && part.ends_with('Z')
    })?;
    let text = format!(
        "{}-{}-{}T{}:{}:00Z",
        stamp.get(0..4)?,
        stamp.get(4..6)?,
        stamp.get(6..8)?,
        stamp.get(9..11)?,
        stamp.get(11..13)?
    );
    latch_policy::values::parse_date(&text)
}

/// Where `key` goes below `out/cloudtrail/`: the key from `AWSLogs/` on, refusing anything
/// that would leave the folder.
fn local_path(out: &Path, key: &str) -> Option<PathBuf> {
    let rel = key.get(key.find("AWSLogs/")?..)?;
    let rel = Path::new(rel);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(out.join(latch_model::load::CLOUDTRAIL_DIR).join(rel))
}

/// Copies the log files of the window into `out/cloudtrail/`.
pub async fn copy_logs(
    aws: &Aws,
    source: &CloudTrailSource,
    out: &Path,
    progress: &dyn Progress,
) -> Result<CloudTrailCopy> {
    let s3 = aws.s3();
    let bucket = source.bucket.as_str();
    let mut base = source.prefix.trim_matches('/').to_owned();
    if !base.is_empty() {
        base.push('/');
    }
    base.push_str("AWSLogs/");

    // AWSLogs/<account>/ or, for organization trails, AWSLogs/<org-id>/<account>/.
    let mut account_prefixes = Vec::new();
    for p in folders(&s3, bucket, &base).await? {
        if last_segment(&p).starts_with("o-") {
            account_prefixes.extend(folders(&s3, bucket, &p).await?);
        } else {
            account_prefixes.push(p);
        }
    }
    let first_day = source.start_millis.div_euclid(86_400_000);
    let last_day = source.end_millis.div_euclid(86_400_000);
    let mut day_prefixes = Vec::new();
    let mut accounts = Vec::new();
    for acc in &account_prefixes {
        let regions = folders(&s3, bucket, &format!("{acc}CloudTrail/")).await?;
        if !regions.is_empty() {
            accounts.push(last_segment(acc).to_owned());
        }
        for region in regions {
            for day in first_day..=last_day {
                let (y, m, d) = latch_time::Date(day).ymd();
                day_prefixes.push(format!("{region}{y:04}/{m:02}/{d:02}/"));
            }
        }
    }
    progress::phase(progress, "cloudtrail", day_prefixes.len());
    let s3_ref = &s3;
    let listed: Vec<Vec<String>> = futures::stream::iter(day_prefixes)
        .map(|p| async move { keys(s3_ref, bucket, &p).await })
        .buffer_unordered(aws.concurrency())
        .try_collect()
        .await?;
    let mut wanted: Vec<String> = listed
        .into_iter()
        .flatten()
        .filter(|k| file_time(k).is_none_or(|t| t >= source.start_millis && t <= source.end_millis))
        .collect();
    wanted.sort();
    let results: Vec<u64> = futures::stream::iter(wanted)
        .map(|key| async move {
            let dest = local_path(out, &key).ok_or_else(|| {
                AwsError::Conflict(format!(
                    "s3://{bucket}/{key}: not a CloudTrail log key (expected .../AWSLogs/...)"
                ))
            })?;
            let obj = s3_ref
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| call_err(format!("s3:GetObject s3://{bucket}/{key}"), e))?;
            let bytes = obj
                .body
                .collect()
                .await
                .map_err(|e| AwsError::Call {
                    call: format!("s3:GetObject s3://{bucket}/{key}"),
                    code: None,
                    message: e.to_string(),
                })?
                .into_bytes();
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|source| AwsError::Io {
                        action: "create",
                        file: parent.to_owned(),
                        source,
                    })?;
            }
            tokio::fs::write(&dest, &bytes)
                .await
                .map_err(|source| AwsError::Io {
                    action: "write",
                    file: dest.clone(),
                    source,
                })?;
            progress::item(progress, &key, true, format!("{} bytes", bytes.len()));
            Ok::<_, AwsError>(u64::try_from(bytes.len()).unwrap_or(u64::MAX))
        })
        .buffer_unordered(aws.concurrency())
        .try_collect()
        .await?;
    accounts.sort();
    accounts.dedup();
    Ok(CloudTrailCopy {
        files: results.len(),
        bytes: results.iter().sum(),
        accounts,
    })
}

/// The trails an account can see and what each one records (`DescribeTrails` with shadow
/// trails, then `GetEventSelectors` in each trail's home region), as `trails.json` entries
/// (`latch.trails/v1`, docs/snapshot-format.md). An organization trail is listed by the
/// account that owns it only; trails of other accounts seen as shadows are left out.
///
/// # Errors
/// A call that fails: the caller decides whether trails.json can still be written.
pub async fn describe_trails(config: &aws_config::SdkConfig, account: &str) -> Result<Vec<Value>> {
    let client = aws_sdk_cloudtrail::Client::new(config);
    let listed = client
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|e| call_err(format!("cloudtrail:DescribeTrails in {account}"), e))?;
    let mut out = Vec::new();
    for t in listed.trail_list() {
        let (Some(name), Some(arn)) = (t.name(), t.trail_arn()) else {
            continue;
        };
        let owner = arn.split(':').nth(4).unwrap_or_default();
        if owner != account {
            continue;
        }
        let home = t
            .home_region()
            .or_else(|| config.region().map(|r| r.as_ref()))
            .unwrap_or(crate::connect::FALLBACK_REGION)
            .to_owned();
        let regional = config
            .to_builder()
            .region(aws_config::Region::new(home.clone()))
            .build();
        let selectors = aws_sdk_cloudtrail::Client::new(&regional)
            .get_event_selectors()
            .trail_name(arn)
            .send()
            .await
            .map_err(|e| call_err(format!("cloudtrail:GetEventSelectors {arn}"), e))?;
        let mut entry = serde_json::Map::new();
        entry.insert("name".into(), name.into());
        entry.insert("arn".into(), arn.into());
        entry.insert("account".into(), account.into());
        entry.insert("home_region".into(), home.into());
        entry.insert(
            "organization_trail".into(),
            t.is_organization_trail().unwrap_or(false).into(),
        );
        entry.insert(
            "multi_region".into(),
            t.is_multi_region_trail().unwrap_or(false).into(),
        );
        let advanced = selectors.advanced_event_selectors();
        if advanced.is_empty() {
            let basic: Vec<Value> = selectors
                .event_selectors()
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "ReadWriteType": s.read_write_type().map_or("All", |r| r.as_str()),
                        "IncludeManagementEvents": s.include_management_events().unwrap_or(true),
                        "ExcludeManagementEventSources": s.exclude_management_event_sources(),
                        "DataResources": s.data_resources().iter().map(|d| serde_json::json!({
                            "Type": d.r#type().unwrap_or_default(),
                            "Values": d.values(),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            entry.insert("event_selectors".into(), basic.into());
        } else {
            let advanced: Vec<Value> = advanced
                .iter()
                .map(|s| {
                    let fields: Vec<Value> = s
                        .field_selectors()
                        .iter()
                        .map(|f| {
                            let mut v = serde_json::Map::new();
                            v.insert("Field".into(), f.field().into());
                            for (op, values) in [
                                ("Equals", f.equals()),
                                ("StartsWith", f.starts_with()),
                                ("EndsWith", f.ends_with()),
                                ("NotEquals", f.not_equals()),
                                ("NotStartsWith", f.not_starts_with()),
                                ("NotEndsWith", f.not_ends_with()),
                            ] {
                                if !values.is_empty() {
                                    v.insert(op.into(), values.into());
                                }
                            }
                            Value::Object(v)
                        })
                        .collect();
                    let mut v = serde_json::Map::new();
                    v.insert("FieldSelectors".into(), fields.into());
                    if let Some(n) = s.name() {
                        v.insert("Name".into(), n.into());
                    }
                    Value::Object(v)
                })
                .collect();
            entry.insert("advanced_event_selectors".into(), advanced.into());
        }
        out.push(Value::Object(entry));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_times() {
        assert_eq!(
            file_time("AWSLogs/1/CloudTrail/us-east-1/2023/11/14/111122223333_CloudTrail_us-east-1_20231114T2210Z_abc.json.gz"),
            latch_policy::values::parse_date("2023-11-14T22:10:00Z")
        );
        assert_eq!(file_time("AWSLogs/1/CloudTrail/x/other.json.gz"), None);
    }

    #[test]
    fn local_paths_stay_inside() {
        let out = Path::new("/snap");
        assert_eq!(
            local_path(out, "trail/AWSLogs/1/CloudTrail/r/2023/01/01/f.json.gz"),
            Some(PathBuf::from(
                "/snap/cloudtrail/AWSLogs/1/CloudTrail/r/2023/01/01/f.json.gz"
            ))
        );
        assert_eq!(local_path(out, "AWSLogs/../../etc/passwd"), None);
        assert_eq!(local_path(out, "nothing/here"), None);
    }
}
