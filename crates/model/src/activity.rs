//! `activity.json`: a usage plan per principal, from which a generator writes CloudTrail logs
//! (the example organization ships one; `latch example generate` writes one).

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
    pub daily_calls: u64,
    /// Days since its last call (0 = active today); a principal is active every day from the
    /// start of the window up to that day.
    pub last_active_days_ago: u32,
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
        o.only(&["actions", "daily_calls", "last_active_days_ago"])?;
        let mut actions = Vec::new();
        for (i, a) in o.req_array("actions")?.iter().enumerate() {
            let ap = index(&o.path_of("actions"), i);
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
            actions.push(a.to_owned());
        }
        let number = |key: &str| -> Result<u64, FormatError> {
            o.req(key)?
                .as_u64()
                .ok_or_else(|| FormatError::new(&o.path_of(key), "expected a non-negative integer"))
        };
        let last = number("last_active_days_ago")?;
        out.insert(
            arn.clone(),
            PrincipalActivity {
                actions,
                daily_calls: number("daily_calls")?,
                last_active_days_ago: u32::try_from(last).map_err(|_| {
                    FormatError::new(&o.path_of("last_active_days_ago"), "too large")
                })?,
            },
        );
    }
    Ok(out)
}

/// Writes an activity plan as activity.json.
pub fn to_value(plan: &ActivityPlan) -> Value {
    let mut m = Map::new();
    for (arn, a) in plan {
        m.insert(
            arn.clone(),
            json!({"actions": a.actions, "daily_calls": a.daily_calls,
                   "last_active_days_ago": a.last_active_days_ago}),
        );
    }
    Value::Object(m)
}
