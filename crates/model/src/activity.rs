//! `activity.json`: a usage plan per principal, from which `latch-trail`'s generator writes
//! CloudTrail logs (the example organization ships one; `latch example generate` writes one).
//!
//! The schema is shared with `latch-trail` (its `generate` module documents each field and is
//! the reader that matters); as there, unknown fields are ignored so the schema can grow.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::error::{parse_json, FormatError};
use crate::json::{as_str, index, type_name, Obj};

/// What one principal does day to day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalActivity {
    /// IAM actions it calls (`service:Action`), in a stable order.
    pub actions: Vec<String>,
    /// Calls per active day, spread over `actions`.
    pub daily_calls: u32,
    /// Days since its last call (0 = active today); a principal is active every day from the
    /// start of the window up to that day.
    pub last_active_days_ago: u32,
    /// Actions attempted and denied now and then (optional).
    pub denied_actions: Vec<String>,
    /// People (session names) using an Identity Center role (optional).
    pub sessions: Vec<String>,
    /// Regions of regional calls (optional; the trail generator defaults to `us-east-1`).
    pub regions: Vec<String>,
}

/// Usage plans by principal ARN.
pub type ActivityPlan = BTreeMap<String, PrincipalActivity>;

/// Parses activity.json text.
pub fn parse_activity_str(text: &str) -> Result<ActivityPlan, FormatError> {
    parse_activity(&parse_json(text)?)
}

/// Parses an activity.json document: `{ principal_arn: {actions, daily_calls,
/// last_active_days_ago} }`.
pub fn parse_activity(value: &Value) -> Result<ActivityPlan, FormatError> {
    let Value::Object(top) = value else {
        return Err(FormatError::new(
            "$",
            format!(
                "expected an object keyed by principal ARN, found {}",
                type_name(value)
            ),
        ));
    };
    let mut out = ActivityPlan::new();
    for (arn, entry) in top {
        let path = format!("[\"{arn}\"]");
        if latch_policy::arn::split(arn).is_none() {
            return Err(FormatError::new(&path, format!("`{arn}` is not an ARN")));
        }
        let o = Obj::new(entry, &path)?;
        let actions = action_list(&o, "actions", true)?;
        let number = |key: &str| -> Result<u32, FormatError> {
            o.req(key)?
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    FormatError::new(&o.path_of(key), "expected a non-negative 32-bit integer")
                })
        };
        let strings = |key: &str| -> Result<Vec<String>, FormatError> {
            let mut out = Vec::new();
            for (i, v) in o.opt_array(key)?.iter().enumerate() {
                out.push(as_str(v, &index(&o.path_of(key), i))?.to_owned());
            }
            Ok(out)
        };
        let sessions = strings("sessions")?;
        let regions = strings("regions")?;
        out.insert(
            arn.clone(),
            PrincipalActivity {
                actions,
                daily_calls: number("daily_calls")?,
                last_active_days_ago: number("last_active_days_ago")?,
                denied_actions: action_list(&o, "denied_actions", false)?,
                sessions,
                regions,
            },
        );
    }
    Ok(out)
}

fn action_list(o: &Obj<'_>, key: &str, required: bool) -> Result<Vec<String>, FormatError> {
    let list = if required {
        o.req_array(key)?
    } else {
        o.opt_array(key)?
    };
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let ap = index(&o.path_of(key), i);
        let a = as_str(a, &ap)?;
        match a.split_once(':') {
            Some((s, n)) if !s.is_empty() && !n.is_empty() && !a.contains('*') => {}
            _ => {
                return Err(FormatError::new(
                    &ap,
                    format!("`{a}` is not one action of the form `service:Action`"),
                ))
            }
        }
        out.push(a.to_owned());
    }
    Ok(out)
}

/// Writes an activity plan as activity.json (optional lists only when not empty).
pub fn to_value(plan: &ActivityPlan) -> Value {
    let mut m = Map::new();
    for (arn, a) in plan {
        let mut e = Map::new();
        e.insert("actions".into(), json!(a.actions));
        e.insert("daily_calls".into(), json!(a.daily_calls));
        e.insert("last_active_days_ago".into(), json!(a.last_active_days_ago));
        for (key, list) in [
            ("denied_actions", &a.denied_actions),
            ("sessions", &a.sessions),
            ("regions", &a.regions),
        ] {
            if !list.is_empty() {
                e.insert(key.into(), json!(list));
            }
        }
        m.insert(arn.clone(), Value::Object(e));
    }
    Value::Object(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_bad_fields() {
        let text = r#"{"arn:aws:iam::123456789012:role/r": {"actions": ["s3:GetObject"],
            "daily_calls": 5, "last_active_days_ago": 0, "sessions": ["a@example.com"],
            "denied_actions": ["iam:CreateUser"], "future_field": true}}"#;
        let plan = parse_activity_str(text).unwrap();
        let a = &plan["arn:aws:iam::123456789012:role/r"];
        assert_eq!(a.sessions, ["a@example.com"]);
        assert_eq!(a.denied_actions, ["iam:CreateUser"]);
        assert_eq!(parse_activity(&to_value(&plan)).unwrap(), plan);
        let bad = r#"{"arn:aws:iam::123456789012:role/r": {"actions": ["s3:*"], "daily_calls": 1, "last_active_days_ago": 0}}"#;
        let e = parse_activity_str(bad).unwrap_err();
        assert_eq!(e.path, r#"["arn:aws:iam::123456789012:role/r"].actions[0]"#);
    }
}
