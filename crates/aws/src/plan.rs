//! The firewall plan that `latch apply` enforces: `DIR/plan.json`, format `latch.plan/v1`,
//! written by the firewall planner. This module reads it and checks everything AWS would
//! check (and some things an emulator would not): names, types, JSON, the size of each
//! document and the number of the plan's policies on each target — against the quotas the plan
//! records it was packed for (`limits`), themselves never above AWS's ([`Limits::AWS`]), or
//! AWS's when the plan records none —, targets, tag keys.
//!
//! ```json
//! { "format": "latch.plan/v1",
//!   "organization": { "root_id": "r-ab12", "management_account_id": "123456789012" },
//!   "limits": { "scp_chars": 10240, "scp_per_target": 10, "rcp_chars": 5120, "rcp_per_target": 5 },
//!   "policies": [ { "name": "latch-deny-sensitive", "type": "SERVICE_CONTROL_POLICY",
//!                   "description": "…", "file": "scp/latch-deny-sensitive.json",
//!                   "content": "{\"Version\":\"2012-10-17\",…}",
//!                   "targets": ["r-ab12", "ou-ab12-prod0001", "210987654321"] } ],
//!   "tags": [ { "principal_arn": "arn:aws:iam::210987654321:role/latch-control-plane",
//!               "key": "latch:control-plane", "value": "true", "reason": "…" } ] }
//! ```
//!
//! Fields this adapter does not use are allowed (the planner may add its own).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use latch_catalog::Limits;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{AwsError, Result};
use crate::org::PolicyKind;
use latch_contract::{POLICY_NAME_PREFIX, TAG_PREFIX};

/// The `format` value read here.
pub const PLAN_FORMAT: &str = "latch.plan/v1";
/// The plan's file name inside the plan directory.
pub const PLAN_FILE: &str = "plan.json";

/// The organization the plan was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOrganization {
    /// `r-...`.
    pub root_id: String,
    /// 12-digit id.
    pub management_account_id: String,
}

/// One SCP or RCP of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPolicy {
    /// `latch-...`, unique per type.
    pub name: String,
    /// SCP or RCP.
    #[serde(rename = "type")]
    pub kind: PolicyKind,
    /// Shown in the console.
    #[serde(default)]
    pub description: String,
    /// The pretty-printed copy in the plan directory (informational).
    #[serde(default)]
    pub file: Option<String>,
    /// The minified document sent to AWS.
    pub content: String,
    /// Root, OU ids and account ids it is attached to.
    pub targets: BTreeSet<String>,
}

/// One principal tag the plan puts in place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlanTag {
    /// An IAM user or role ARN.
    pub principal_arn: String,
    /// `latch:...`.
    pub key: String,
    /// The value.
    pub value: String,
    /// Why (shown in the diff).
    #[serde(default)]
    pub reason: String,
}

/// A validated plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// `latch.plan/v1`.
    pub format: String,
    /// Where it applies.
    pub organization: PlanOrganization,
    /// The quotas the planner packed for; AWS's when absent (plans written before they were
    /// recorded).
    #[serde(default)]
    pub limits: Option<Limits>,
    /// The policies, in file order.
    #[serde(default)]
    pub policies: Vec<PlanPolicy>,
    /// The principal tags.
    #[serde(default)]
    pub tags: Vec<PlanTag>,
    /// What the planner says about the plan; only `may_break` is read here.
    #[serde(default)]
    pub summary: PlanSummary,
}

/// The part of `summary` this adapter reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Identities that hold, today, an action the plan protects whose use the trails cannot
    /// show: they may break. `latch apply` refuses such a plan unless told to accept it.
    #[serde(default)]
    pub may_break: Vec<MayBreak>,
}

/// `summary.may_break[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MayBreak {
    /// The user or role.
    pub principal: String,
    /// Why the use of its actions is unknown.
    #[serde(default)]
    pub reason: String,
    /// The protected actions it holds.
    #[serde(default)]
    pub actions: Vec<String>,
}

impl Plan {
    /// The identities the plan may break (`summary.may_break`), each named once, sorted.
    pub fn may_break_principals(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self
            .summary
            .may_break
            .iter()
            .map(|m| m.principal.as_str())
            .collect();
        set.into_iter().collect()
    }
}

fn invalid(file: &Path, field: impl Into<String>, reason: impl Into<String>) -> AwsError {
    AwsError::Invalid {
        file: file.to_owned(),
        field: field.into(),
        reason: reason.into(),
    }
}

/// Whether `id` is a root, OU or account id.
pub fn is_target_id(id: &str) -> bool {
    let tail_ok = |s: &str, min: usize| {
        s.len() >= min
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if let Some(rest) = id.strip_prefix("r-") {
        tail_ok(rest, 4)
    } else if let Some(rest) = id.strip_prefix("ou-") {
        tail_ok(rest, 8)
    } else {
        is_account_id(id)
    }
}

/// Whether `id` is a 12-digit account id.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// The account and kind (`user`/`role`) of an IAM user or role ARN.
pub fn principal_of(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_lit, _partition, service, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if arn_lit != "arn" || service != "iam" || !is_account_id(account) {
        return None;
    }
    let (kind, path_and_name) = resource.split_once('/')?;
    let name = path_and_name.rsplit('/').next()?;
    match kind {
        "user" | "role" if !name.is_empty() => Some((account, kind, name)),
        _ => None,
    }
}

impl Plan {
    /// Reads and validates `dir/plan.json`.
    pub fn load(dir: &Path) -> Result<Plan> {
        latch_input::folder(dir)?;
        let file = dir.join(PLAN_FILE);
        let text = latch_input::read(&file, latch_input::Expected::Json)?;
        Plan::parse(&text, &file)
    }

    /// Parses and validates plan text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Plan> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            invalid(
                file,
                format!("line {} column {}", e.line(), e.column()),
                format!("invalid JSON: {e}"),
            )
        })?;
        let format = value.get("format").and_then(Value::as_str).unwrap_or("");
        if format != PLAN_FORMAT {
            return Err(invalid(
                file,
                "format",
                format!("`{format}` is not a plan format this Latch reads (`{PLAN_FORMAT}`)"),
            ));
        }
        let plan: Plan = serde_json::from_value(value)
            .map_err(|e| invalid(file, "$", format!("not a {PLAN_FORMAT} plan: {e}")))?;
        plan.validate(file)?;
        Ok(plan)
    }

    fn validate(&self, file: &Path) -> Result<()> {
        let org = &self.organization;
        if !org.root_id.starts_with("r-") || !is_target_id(&org.root_id) {
            return Err(invalid(
                file,
                "organization.root_id",
                format!("`{}` is not a root id (`r-...`)", org.root_id),
            ));
        }
        let unknown =
            org.root_id == latch_contract::UNKNOWN_ROOT && org.management_account_id.is_empty();
        if !unknown && !is_account_id(&org.management_account_id) {
            return Err(invalid(
                file,
                "organization.management_account_id",
                format!(
                    "`{}` is not a 12-digit account id",
                    org.management_account_id
                ),
            ));
        }
        if let Some(recorded) = &self.limits {
            recorded.check().map_err(|e| {
                invalid(
                    file,
                    format!("limits.{}", e.key()),
                    format!("{e} (AWS would refuse what was packed for it)"),
                )
            })?;
        }
        let limits = self.limits();
        let mut names = BTreeSet::new();
        let mut per_target: BTreeMap<(PolicyKind, &str), usize> = BTreeMap::new();
        for (i, p) in self.policies.iter().enumerate() {
            let at = |field: &str| format!("policies[{i}].{field}");
            if !p.name.starts_with(POLICY_NAME_PREFIX) || p.name.len() > 128 {
                return Err(invalid(
                    file,
                    at("name"),
                    format!(
                        "`{}`: Latch manages only policies named `{POLICY_NAME_PREFIX}...` (at \
                         most 128 characters)",
                        p.name
                    ),
                ));
            }
            if !names.insert((p.kind, p.name.clone())) {
                return Err(invalid(
                    file,
                    at("name"),
                    format!("`{}` appears twice for {}", p.name, p.kind.api_name()),
                ));
            }
            if p.description.chars().count() > 512 {
                return Err(invalid(
                    file,
                    at("description"),
                    "longer than the 512 characters AWS allows",
                ));
            }
            check_content(p, &limits, file, &at("content"))?;
            if p.targets.is_empty() {
                return Err(invalid(
                    file,
                    at("targets"),
                    "empty: a policy attached nowhere does nothing (leave it out of the plan)",
                ));
            }
            if let Some(bad) = p.targets.iter().find(|t| !is_target_id(t)) {
                return Err(invalid(
                    file,
                    at("targets"),
                    format!("`{bad}` is not a root (`r-`), OU (`ou-`) or 12-digit account id"),
                ));
            }
            let allowed = limits.per_target(p.kind.policy_type());
            for t in &p.targets {
                let n = per_target.entry((p.kind, t.as_str())).or_default();
                *n += 1;
                if *n > allowed {
                    return Err(invalid(
                        file,
                        at("targets"),
                        format!(
                            "`{t}` would hold {n} {}s of the plan alone; {allowed} may be attached to one target",
                            p.kind.short()
                        ),
                    ));
                }
            }
        }
        let mut seen = BTreeSet::new();
        for (i, t) in self.tags.iter().enumerate() {
            let at = |field: &str| format!("tags[{i}].{field}");
            if principal_of(&t.principal_arn).is_none() {
                return Err(invalid(
                    file,
                    at("principal_arn"),
                    format!("`{}` is not an IAM user or role ARN", t.principal_arn),
                ));
            }
            if !t.key.starts_with(TAG_PREFIX) || t.key.chars().count() > 128 {
                return Err(invalid(
                    file,
                    at("key"),
                    format!(
                        "`{}`: Latch sets only `{TAG_PREFIX}*` tag keys (at most 128 characters)",
                        t.key
                    ),
                ));
            }
            if t.value.chars().count() > 256 {
                return Err(invalid(
                    file,
                    at("value"),
                    "longer than the 256 characters AWS allows",
                ));
            }
            if !seen.insert((t.principal_arn.clone(), t.key.clone())) {
                return Err(invalid(
                    file,
                    at("key"),
                    format!("`{}` is set twice on `{}`", t.key, t.principal_arn),
                ));
            }
        }
        Ok(())
    }

    /// The quotas the plan was packed for: the recorded ones, else AWS's.
    pub fn limits(&self) -> Limits {
        self.limits.unwrap_or(Limits::AWS)
    }

    /// The tags, sorted.
    pub fn sorted_tags(&self) -> Vec<PlanTag> {
        let mut t = self.tags.clone();
        t.sort();
        t
    }
}

/// JSON, size and grammar of a policy document, checked before AWS sees it.
fn check_content(p: &PlanPolicy, limits: &Limits, file: &Path, field: &str) -> Result<()> {
    let chars = p.content.chars().count();
    let max = limits.chars(p.kind.policy_type());
    if chars > max {
        let aws = Limits::AWS.chars(p.kind.policy_type());
        let whose = if max == aws {
            format!("AWS allows {aws}")
        } else {
            format!("the plan was packed for {max} (AWS allows {aws})")
        };
        return Err(invalid(
            file,
            field,
            format!(
                "`{}` is {chars} characters; {whose} for an {}",
                p.name,
                p.kind.short()
            ),
        ));
    }
    let value: Value = serde_json::from_str(&p.content)
        .map_err(|e| invalid(file, field, format!("`{}` is not valid JSON: {e}", p.name)))?;
    latch_policy::Policy::from_json_str(&p.content).map_err(|e| {
        invalid(
            file,
            field,
            format!("`{}` is not a valid policy: {e}", p.name),
        )
    })?;
    if p.kind == PolicyKind::Rcp {
        let statements = match value.get("Statement") {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(single) => vec![single],
            None => Vec::new(),
        };
        if statements
            .iter()
            .any(|s| s.get("Effect").and_then(Value::as_str) != Some("Deny"))
        {
            return Err(invalid(
                file,
                field,
                format!(
                    "`{}`: resource control policies may hold only Deny statements",
                    p.name
                ),
            ));
        }
    }
    Ok(())
}

/// `dir/plan.json`.
pub fn plan_file(dir: &Path) -> PathBuf {
    dir.join(PLAN_FILE)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const DENY: &str = r#"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"s3:DeleteBucket\",\"Resource\":\"*\"}]}"#;

    fn plan_text(policy_extra: &str, content: &str) -> String {
        plan_with_limits("", policy_extra, content)
    }

    /// A plan whose top level has `limits` (a `"limits":{…},` member, or nothing).
    fn plan_with_limits(limits: &str, policy_extra: &str, content: &str) -> String {
        format!(
            r#"{{"format":"latch.plan/v1",{limits}"organization":{{"root_id":"r-ab12","management_account_id":"123456789012"}},
            "policies":[{{"name":"latch-a","type":"SERVICE_CONTROL_POLICY","description":"d","content":"{content}","targets":["r-ab12","ou-ab12-abcdefgh","210987654321"]{policy_extra}}}],
            "tags":[{{"principal_arn":"arn:aws:iam::210987654321:role/x","key":"latch:control-plane","value":"true","reason":"r"}}],
            "stats":{{"anything":1}}}}"#
        )
    }

    fn err(text: &str) -> String {
        Plan::parse(text, Path::new("plan.json"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn reads_who_the_plan_may_break() {
        let p = Plan::parse(&plan_text("", DENY), Path::new("plan.json")).unwrap();
        assert!(p.may_break_principals().is_empty());
        let mut v: Value = serde_json::from_str(&plan_text("", DENY)).unwrap();
        v["summary"] = serde_json::json!({"mode": "protect", "may_break": [
            {"principal": "arn:aws:iam::111122223333:role/b", "account": "111122223333",
             "reason": "usage unknown: data events not logged", "actions": ["s3:GetObject"]},
            {"principal": "arn:aws:iam::111122223333:role/a", "account": "111122223333",
             "reason": "usage unknown: data events not logged", "actions": ["dynamodb:Scan"]},
            {"principal": "arn:aws:iam::111122223333:role/b", "account": "111122223333",
             "reason": "usage unknown: management events not logged", "actions": ["iam:PassRole"]}]});
        let p = Plan::parse(&v.to_string(), Path::new("plan.json")).unwrap();
        assert_eq!(
            p.may_break_principals(),
            [
                "arn:aws:iam::111122223333:role/a",
                "arn:aws:iam::111122223333:role/b"
            ]
        );
        // Fail closed: a list that is not one is an error, not "nothing may break".
        v["summary"]["may_break"] = serde_json::json!("none");
        assert!(Plan::parse(&v.to_string(), Path::new("plan.json")).is_err());
    }

    #[test]
    fn reads_a_valid_plan_and_ignores_extra_fields() {
        let plan = Plan::parse(&plan_text("", DENY), Path::new("plan.json")).unwrap();
        assert_eq!(plan.policies.len(), 1);
        assert_eq!(plan.policies[0].kind, PolicyKind::Scp);
        assert_eq!(plan.tags[0].key, "latch:control-plane");
    }

    #[test]
    fn rejects_what_aws_or_latch_would_refuse() {
        assert!(err(&plan_text("", "{not json")).contains("policies[0].content"));
        let big = format!(
            r#"{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Sid\":\"{}\",\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"*\"}}]}}"#,
            "A".repeat(10_300)
        );
        assert!(err(&plan_text("", &big)).contains("AWS allows 10240 for an SCP"));
        let text = plan_text("", DENY).replace("latch-a", "guardrail");
        assert!(err(&text).contains("policies[0].name"));
        let text = plan_text("", DENY).replace("\"ou-ab12-abcdefgh\"", "\"ou-x\"");
        assert!(err(&text).contains("policies[0].targets"));
        let text = plan_text("", DENY).replace("latch:control-plane", "team");
        assert!(err(&text).contains("tags[0].key"));
        let text = plan_text("", DENY).replace("role/x", "group/x");
        assert!(err(&text).contains("tags[0].principal_arn"));
        let text = plan_text("", DENY).replace("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY");
        assert!(Plan::parse(&text, Path::new("plan.json")).is_ok());
        let allow = DENY.replace("Deny", "Allow");
        let text =
            plan_text("", &allow).replace("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY");
        assert!(err(&text).contains("only Deny"));
        assert!(
            err(&plan_text("", DENY).replace("latch.plan/v1", "latch.plan/v9")).contains("format")
        );
    }

    /// A policy document of exactly `n` characters.
    fn doc_of(n: usize) -> String {
        let empty = r#"{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;
        let doc = empty.replace(
            r#""Sid":"""#,
            &format!(r#""Sid":"{}""#, "A".repeat(n - empty.len())),
        );
        assert_eq!(doc.chars().count(), n);
        doc.replace('"', "\\\"")
    }

    #[test]
    fn documents_are_held_to_the_limits_the_plan_records() {
        const LAGGING: &str = r#""limits":{"scp_chars":5120,"scp_per_target":5,"rcp_chars":5120,"rcp_per_target":5},"#;
        // An SCP between the old and the new quota: within AWS's, over what was recorded.
        let scp = doc_of(6000);
        Plan::parse(&plan_text("", &scp), Path::new("plan.json")).unwrap();
        let e = err(&plan_with_limits(LAGGING, "", &scp));
        assert!(e.contains("policies[0].content"), "{e}");
        assert!(
            e.contains(
                "is 6000 characters; the plan was packed for 5120 (AWS allows 10240) for an SCP"
            ),
            "{e}"
        );
        let plan = Plan::parse(
            &plan_with_limits(LAGGING, "", &doc_of(5120)),
            Path::new("plan.json"),
        )
        .unwrap();
        assert_eq!(plan.limits().scp_chars, 5120);
        // RCPs kept their 5,120 characters.
        let rcp = plan_text("", &doc_of(5121))
            .replace("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY");
        assert!(err(&rcp).contains("AWS allows 5120 for an RCP"));
        // Recorded limits above AWS's are refused, naming the key.
        let raised = r#""limits":{"scp_chars":20480,"scp_per_target":10,"rcp_chars":5120,"rcp_per_target":5},"#;
        let e = err(&plan_with_limits(raised, "", DENY));
        assert!(e.contains("limits.scp_chars"), "{e}");
        assert!(e.contains("20480 is above AWS's quota of 10240"), "{e}");
        let zero = LAGGING.replace(r#""rcp_per_target":5"#, r#""rcp_per_target":0"#);
        assert!(err(&plan_with_limits(&zero, "", DENY)).contains("limits.rcp_per_target"));
    }

    #[test]
    fn a_target_holds_no_more_of_the_plans_policies_than_allowed() {
        let one = |name: &str| {
            format!(
                r#"{{"name":"{name}","type":"RESOURCE_CONTROL_POLICY","content":"{DENY}","targets":["r-ab12"]}}"#
            )
        };
        let policies: Vec<String> = (1..=6).map(|i| one(&format!("latch-r{i}"))).collect();
        let text = format!(
            r#"{{"format":"latch.plan/v1","organization":{{"root_id":"r-ab12","management_account_id":"123456789012"}},"policies":[{}],"tags":[]}}"#,
            policies.join(",")
        );
        let e = err(&text);
        assert!(e.contains("policies[5].targets"), "{e}");
        assert!(
            e.contains("`r-ab12` would hold 6 RCPs of the plan alone; 5 may be attached"),
            "{e}"
        );
        let five = text.replace(&format!(",{}", one("latch-r6")), "");
        Plan::parse(&five, Path::new("plan.json")).unwrap();
    }

    #[test]
    fn principal_arns() {
        assert_eq!(
            principal_of("arn:aws:iam::210987654321:role/path/x"),
            Some(("210987654321", "role", "x"))
        );
        assert_eq!(principal_of("arn:aws:iam::210987654321:policy/x"), None);
        assert_eq!(principal_of("arn:aws:s3:::bucket"), None);
    }
}
