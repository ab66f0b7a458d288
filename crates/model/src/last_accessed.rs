//! `accounts/<id>/last-accessed.json`: IAM's last-accessed data (Access Advisor) for the users
//! and roles of one account, in Latch's versioned format (docs/snapshot-format.md).
//!
//! IAM records, per identity, when it last *attempted* to call each AWS service (service
//! level, every service) and, for the services AWS tracks at action level, each tracked
//! action — over at least the last 400 days, whatever CloudTrail logs. `latch collect
//! --last-accessed` writes it from `GenerateServiceLastAccessedDetails` /
//! `GetServiceLastAccessedDetails`; a user may write it by hand. How the analysis weighs it
//! against CloudTrail is in `latch_analysis::usage`.
//!
//! Every identity the file names was asked about; one whose report could not be had is in
//! `failed` with why, and the snapshot's `not_analysed` lists it.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::account::Timestamp;
use crate::error::{parse_json, FormatError};
use crate::json::{index, Obj};

/// The `format` value this version of Latch reads and writes.
pub const FORMAT: &str = "latch.last-accessed/v1";

/// One account's last-accessed data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastAccessed {
    /// Per identity ARN (user or role of the account).
    pub principals: BTreeMap<String, PrincipalAccess>,
    /// Identities whose report could not be had, with why.
    pub failed: BTreeMap<String, String>,
}

/// The report of one identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalAccess {
    /// When IAM completed the report: it says nothing of the hours before (recent activity
    /// usually appears within four hours).
    pub job_completed: Timestamp,
    /// Per service namespace (`s3`): the services the identity's permissions policies allow.
    pub services: BTreeMap<String, ServiceAccess>,
}

/// One service of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccess {
    /// The identity's last attempt to call any action of the service; `None` when it made
    /// none in the tracking period.
    pub last_authenticated: Option<Timestamp>,
    /// Tracked actions (`s3:PutBucketPolicy`) with the identity's last attempt to call each.
    pub actions: BTreeMap<String, Timestamp>,
}

/// Parses a last-accessed.json document of account `account_id` (see [`parse_last_accessed`]).
///
/// # Errors
/// As [`parse_last_accessed`].
pub fn parse_last_accessed_str(text: &str, account_id: &str) -> Result<LastAccessed, FormatError> {
    parse_last_accessed(&parse_json(text)?, account_id)
}

fn identity_arn(arn: &str, account_id: &str, path: &str) -> Result<(), FormatError> {
    let what = if arn.contains(":user/") {
        "user/"
    } else {
        "role/"
    };
    crate::workloads::role_arn_of(arn, account_id, path, what)
}

fn timestamp(value: &str, path: &str) -> Result<Timestamp, FormatError> {
    Timestamp::parse(value).ok_or_else(|| {
        FormatError::new(
            path,
            format!("`{value}` is not an ISO 8601 date-time (`2026-12-01T10:00:00Z`)"),
        )
    })
}

fn is_namespace(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The full name of an action of service `namespace`: `GetObject` and `s3:GetObject` both
/// give `s3:GetObject` (AWS's `ActionName` is the action's name without the prefix).
fn action_name(namespace: &str, name: &str, path: &str) -> Result<String, FormatError> {
    let (ns, action) = name.split_once(':').unwrap_or((namespace, name));
    if !ns.eq_ignore_ascii_case(namespace) {
        return Err(FormatError::new(
            path,
            format!("`{name}` is not an action of service `{namespace}`"),
        ));
    }
    if action.is_empty() || !action.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FormatError::new(
            path,
            format!("`{name}` is not an action name (`GetObject` or `{namespace}:GetObject`)"),
        ));
    }
    Ok(format!("{namespace}:{action}"))
}

/// Parses a last-accessed.json document. Every identity is a user or role ARN of
/// `account_id` and appears once (in `principals` or in `failed`); every time is an ISO 8601
/// date-time; every action belongs to its service.
///
/// # Errors
/// A [`FormatError`] naming the JSON path of the first problem.
pub fn parse_last_accessed(value: &Value, account_id: &str) -> Result<LastAccessed, FormatError> {
    let top = Obj::new(value, "")?;
    top.only(&["format", "principals", "failed"])?;
    let format = top.req_str("format")?;
    if format != FORMAT {
        return Err(FormatError::new(
            "format",
            format!("unsupported format `{format}` (this Latch reads `{FORMAT}`)"),
        ));
    }
    let mut out = LastAccessed::default();
    for (i, p) in top.req_array("principals")?.iter().enumerate() {
        let path = index("principals", i);
        let o = Obj::new(p, &path)?;
        o.only(&["arn", "job_completed", "services"])?;
        let arn = o.req_str("arn")?;
        identity_arn(arn, account_id, &o.path_of("arn"))?;
        let job_completed = timestamp(o.req_str("job_completed")?, &o.path_of("job_completed"))?;
        let mut services = BTreeMap::new();
        let services_path = o.path_of("services");
        for (j, s) in o.req_array("services")?.iter().enumerate() {
            let spath = index(&services_path, j);
            let so = Obj::new(s, &spath)?;
            so.only(&["namespace", "last_authenticated", "actions"])?;
            let namespace = so.req_str("namespace")?;
            if !is_namespace(namespace) {
                return Err(FormatError::new(
                    &so.path_of("namespace"),
                    format!("`{namespace}` is not a service namespace (`s3`)"),
                ));
            }
            let namespace = namespace.to_ascii_lowercase();
            let last_authenticated = so
                .opt_str("last_authenticated")?
                .map(|t| timestamp(t, &so.path_of("last_authenticated")))
                .transpose()?;
            let mut actions = BTreeMap::new();
            let apath = so.path_of("actions");
            for (k, a) in so.opt_array("actions")?.iter().enumerate() {
                let path = index(&apath, k);
                let ao = Obj::new(a, &path)?;
                ao.only(&["name", "last_accessed"])?;
                let name = action_name(&namespace, ao.req_str("name")?, &ao.path_of("name"))?;
                let at = timestamp(ao.req_str("last_accessed")?, &ao.path_of("last_accessed"))?;
                if actions.insert(name.clone(), at).is_some() {
                    return Err(FormatError::new(&path, format!("`{name}` appears twice")));
                }
            }
            let service = ServiceAccess {
                last_authenticated,
                actions,
            };
            if services.insert(namespace.clone(), service).is_some() {
                return Err(FormatError::new(
                    &spath,
                    format!("service `{namespace}` appears twice"),
                ));
            }
        }
        if out
            .principals
            .insert(
                arn.to_owned(),
                PrincipalAccess {
                    job_completed,
                    services,
                },
            )
            .is_some()
        {
            return Err(FormatError::new(&path, format!("`{arn}` appears twice")));
        }
    }
    for (i, f) in top.opt_array("failed")?.iter().enumerate() {
        let path = index("failed", i);
        let o = Obj::new(f, &path)?;
        o.only(&["arn", "reason"])?;
        let arn = o.req_str("arn")?;
        identity_arn(arn, account_id, &o.path_of("arn"))?;
        let reason = o.req_str("reason")?;
        if out.principals.contains_key(arn)
            || out
                .failed
                .insert(arn.to_owned(), reason.to_owned())
                .is_some()
        {
            return Err(FormatError::new(&path, format!("`{arn}` appears twice")));
        }
    }
    Ok(out)
}

/// The document of `data`, as [`parse_last_accessed`] reads it.
pub fn to_value(data: &LastAccessed) -> Value {
    let principals: Vec<Value> = data
        .principals
        .iter()
        .map(|(arn, p)| {
            let services: Vec<Value> = p
                .services
                .iter()
                .map(|(ns, s)| {
                    let mut v = Map::new();
                    v.insert("namespace".to_owned(), json!(ns));
                    if let Some(t) = &s.last_authenticated {
                        v.insert("last_authenticated".to_owned(), json!(t.text));
                    }
                    if !s.actions.is_empty() {
                        let actions = s
                            .actions
                            .iter()
                            .map(|(a, t)| json!({ "name": a, "last_accessed": t.text }))
                            .collect();
                        v.insert("actions".to_owned(), Value::Array(actions));
                    }
                    Value::Object(v)
                })
                .collect();
            json!({ "arn": arn, "job_completed": p.job_completed.text, "services": services })
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("format".to_owned(), json!(FORMAT));
    doc.insert("principals".to_owned(), Value::Array(principals));
    if !data.failed.is_empty() {
        let failed = data
            .failed
            .iter()
            .map(|(arn, why)| json!({ "arn": arn, "reason": why }))
            .collect();
        doc.insert("failed".to_owned(), Value::Array(failed));
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const A: &str = "111122223333";

    fn doc() -> Value {
        json!({
            "format": FORMAT,
            "principals": [{
                "arn": "arn:aws:iam::111122223333:role/app",
                "job_completed": "2026-12-01T10:00:00Z",
                "services": [
                    {"namespace": "s3", "last_authenticated": "2026-11-30T08:00:00Z",
                     "actions": [{"name": "PutBucketPolicy", "last_accessed": "2026-11-02T00:00:00Z"}]},
                    {"namespace": "dynamodb"}
                ]
            }],
            "failed": [{"arn": "arn:aws:iam::111122223333:user/bob", "reason": "job FAILED: internal error"}]
        })
    }

    #[test]
    fn reads_services_tracked_actions_and_failures_and_writes_the_same() {
        let got = parse_last_accessed(&doc(), A).unwrap();
        let p = &got.principals["arn:aws:iam::111122223333:role/app"];
        assert_eq!(p.job_completed.text, "2026-12-01T10:00:00Z");
        let s3 = &p.services["s3"];
        assert_eq!(
            s3.last_authenticated.as_ref().unwrap().text,
            "2026-11-30T08:00:00Z"
        );
        assert!(s3.actions.contains_key("s3:PutBucketPolicy"));
        assert!(p.services["dynamodb"].last_authenticated.is_none());
        assert_eq!(
            got.failed["arn:aws:iam::111122223333:user/bob"],
            "job FAILED: internal error"
        );
        let again = parse_last_accessed(&to_value(&got), A).unwrap();
        assert_eq!(again, got);
    }

    #[test]
    fn bad_input_names_the_field() {
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                json!({"format": "latch.last-accessed/v9", "principals": []}),
                "format",
                "unsupported format",
            ),
            (
                {
                    let mut d = doc();
                    d["principals"][0]["arn"] = json!("arn:aws:iam::999999999999:role/app");
                    d
                },
                "principals[0].arn",
                "not to `111122223333`",
            ),
            (
                {
                    let mut d = doc();
                    d["principals"][0]["job_completed"] = json!("yesterday");
                    d
                },
                "principals[0].job_completed",
                "ISO 8601",
            ),
            (
                {
                    let mut d = doc();
                    d["principals"][0]["services"][0]["actions"][0]["name"] =
                        json!("iam:CreateRole");
                    d
                },
                "principals[0].services[0].actions[0].name",
                "not an action of service `s3`",
            ),
            (
                {
                    let mut d = doc();
                    d["principals"][0]["services"][1]["namespace"] = json!("s3");
                    d
                },
                "principals[0].services[1]",
                "appears twice",
            ),
            (
                {
                    let mut d = doc();
                    d["failed"][0]["arn"] = json!("arn:aws:iam::111122223333:role/app");
                    d
                },
                "failed[0]",
                "appears twice",
            ),
            (
                {
                    let mut d = doc();
                    d["principals"][0]["extra"] = json!(1);
                    d
                },
                "principals[0].extra",
                "unknown field",
            ),
        ];
        for (value, path, says) in cases {
            let e = parse_last_accessed(&value, A).unwrap_err();
            assert_eq!(e.path, path, "{e}");
            assert!(e.reason.contains(says), "{e}");
        }
    }
}
