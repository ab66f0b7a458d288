//! Grants to Identity Center users, whose roles (`AWSReservedSSO_*`) cannot be tagged: the
//! person's `aws:userid` (`<role unique id>:<user name>`) is added to the
//! `StringNotLike: {aws:userid: [...]}` exemption of every statement of the applied Latch SCPs
//! that denies the bundle (a `LatchPermission*` statement whose `Null` condition names
//! `aws:PrincipalTag/latch:grant:<bundle>`), and removed when the grant ends.
//!
//! Only Latch's own SCPs are edited (named `latch-*` and tagged `latch:managed=true`), never
//! beyond the SCP character limit (AWS's 10,240, [`latch_catalog::Limits`], or the lower one
//! the operations were given: a clear error instead), and only when something changes. Which
//! exemptions the server added — and for which grant — is recorded as a tag on each edited
//! policy, `latch:icgrant:<hash>` = `<bundle> <userid> <grant id> expires=<time>`: the plan's
//! own `aws:userid` exemptions (protect mode, `identity_center_grants`) carry no such record and
//! are never removed or reported here.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{call_err, AwsError, Result};
use crate::grants::{grant_tag_key, parse_tag_value, tag_value, FoundGrantTag, GrantOps};
use crate::org::{latch_policies, PolicyKind};

/// Prefix of the policy tags that record the server's exemptions.
pub const RECORD_TAG_PREFIX: &str = "latch:icgrant:";
const USERID_KEY: &str = "aws:userid";

/// Checks an Identity Center `aws:userid`: `AROA…:<user name>`, no wildcards.
///
/// # Errors
/// [`AwsError::Identity`] with the reason.
pub fn check_userid(userid: &str) -> Result<()> {
    let bad = |reason: &str| AwsError::Identity {
        id: userid.to_owned(),
        reason: reason.to_owned(),
    };
    let Some((role_id, user)) = userid.split_once(':') else {
        return Err(bad("not an aws:userid (expected `AROA…:user@example.com`: the Identity Center role's unique id, `:`, the user name)"));
    };
    if !role_id.starts_with("AROA")
        || role_id.len() < 8
        || !role_id
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err(bad("the part before `:` must be the role's unique id (`AROA…`): a session name alone is chosen by whoever assumes the role"));
    }
    if user.is_empty() || user.contains(['*', '?']) || user.len() > 128 {
        return Err(bad(
            "the user name after `:` must be 1-128 characters without wildcards",
        ));
    }
    Ok(())
}

/// The record tag's key for a bundle and user (a stable FNV-1a hash: keys are at most 128
/// characters, a user name alone could be longer).
pub fn record_key(bundle: &str, userid: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bundle.bytes().chain([0u8]).chain(userid.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{RECORD_TAG_PREFIX}{h:016x}")
}

/// Adds (`add`) or removes `userid` in the exemptions of the statements of `content` that deny
/// `bundle`. Returns the new minified document when it changed, and how many statements deny
/// the bundle.
///
/// # Errors
/// The document is not JSON, or an added exemption takes it over `max_chars` characters (the
/// SCP character limit, [`latch_catalog::Limits::scp_chars`]; the message says so). Removing
/// one is never refused for size.
pub fn edit_exemption(
    content: &str,
    bundle: &str,
    userid: &str,
    add: bool,
    max_chars: usize,
) -> std::result::Result<(Option<String>, usize), String> {
    let mut doc: Value =
        serde_json::from_str(content).map_err(|e| format!("the policy is not JSON: {e}"))?;
    let null_key = format!(
        "aws:PrincipalTag/{}",
        grant_tag_key(bundle).map_err(|e| e.to_string())?
    );
    let mut matched = 0;
    let mut changed = false;
    let statements: Vec<&mut Value> = match doc.get_mut("Statement") {
        Some(Value::Array(list)) => list.iter_mut().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Ok((None, 0)),
    };
    for st in statements {
        let is_permission = st
            .get("Sid")
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with("LatchPermission"));
        let denies_bundle = st
            .pointer("/Condition/Null")
            .and_then(|n| n.get(&null_key))
            .and_then(Value::as_str)
            == Some("true");
        if !(is_permission && denies_bundle) {
            continue;
        }
        matched += 1;
        let Some(cond) = st.get_mut("Condition").and_then(Value::as_object_mut) else {
            continue;
        };
        let op = cond
            .entry("StringNotLike")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(op_map) = op.as_object_mut() else {
            return Err("`StringNotLike` is not an object".to_owned());
        };
        let mut list: Vec<String> = match op_map.get(USERID_KEY) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let present = list.iter().any(|u| u == userid);
        if add && !present {
            list.push(userid.to_owned());
            list.sort();
            changed = true;
        } else if !add && present {
            list.retain(|u| u != userid);
            changed = true;
        }
        match list.as_slice() {
            [] => {
                op_map.remove(USERID_KEY);
            }
            [one] => {
                op_map.insert(USERID_KEY.to_owned(), Value::String(one.clone()));
            }
            _ => {
                op_map.insert(
                    USERID_KEY.to_owned(),
                    Value::Array(list.into_iter().map(Value::String).collect()),
                );
            }
        }
        if op_map.is_empty() {
            cond.remove("StringNotLike");
        }
    }
    if !changed {
        return Ok((None, matched));
    }
    let text = serde_json::to_string(&doc).map_err(|e| e.to_string())?;
    let size = text.chars().count();
    // Only a growing document is held to the limit: ending a grant must always be possible.
    if add && size > max_chars {
        return Err(format!(
            "with this exemption the policy would be {size} characters, over the {max_chars}-character limit for an SCP (end other Identity Center grants of the bundle, or re-plan with fewer exemptions)"
        ));
    }
    Ok((Some(text), matched))
}

impl GrantOps {
    /// The server's exemption records on one policy: record key → value.
    async fn records(&self, policy_id: &str) -> Result<BTreeMap<String, String>> {
        let out = self
            .aws()
            .organizations()
            .list_tags_for_resource()
            .resource_id(policy_id)
            .send()
            .await
            .map_err(|e| call_err(format!("organizations:ListTagsForResource {policy_id}"), e))?;
        Ok(out
            .tags()
            .iter()
            .filter(|t| t.key().starts_with(RECORD_TAG_PREFIX))
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect())
    }

    /// Exempt `userid` from `bundle` in every applied Latch SCP that denies it, and record the
    /// grant. Idempotent.
    ///
    /// # Errors
    /// Bad userid or bundle, no applied Latch SCP denies the bundle, a policy would exceed the
    /// SCP character limit ([`GrantOps::limits`]; nothing is changed then), AWS refused.
    pub async fn add_userid_exemption(
        &self,
        bundle: &str,
        userid: &str,
        grant_id: &str,
        expires_at_ms: i64,
    ) -> Result<()> {
        check_userid(userid)?;
        let key = record_key(bundle, userid);
        let value = format!("{bundle} {userid} {}", tag_value(grant_id, expires_at_ms));
        let policies = latch_policies(self.aws()).await?;
        let max_chars = self.limits().scp_chars;
        // Compute every edit first: nothing is half-applied when one policy would not fit.
        let mut edits = Vec::new();
        let mut matched = 0;
        for ((kind, name), p) in &policies.managed {
            if *kind != PolicyKind::Scp {
                continue;
            }
            let (new, n) = edit_exemption(&p.content, bundle, userid, true, max_chars)
                .map_err(|reason| AwsError::Conflict(format!("`{name}`: {reason}")))?;
            matched += n;
            if n > 0 {
                edits.push((p.id.clone(), new));
            }
        }
        if matched == 0 {
            return Err(AwsError::Conflict(format!(
                "no applied latch-* SCP denies bundle `{bundle}`: apply the firewall plan (latch apply) before granting it to Identity Center users"
            )));
        }
        let org = self.aws().organizations();
        for (id, new) in edits {
            if let Some(content) = new {
                org.update_policy()
                    .policy_id(&id)
                    .content(content)
                    .send()
                    .await
                    .map_err(|e| call_err(format!("organizations:UpdatePolicy {id}"), e))?;
            }
            if self.records(&id).await?.get(&key) != Some(&value) {
                let tag = aws_sdk_organizations::types::Tag::builder()
                    .key(&key)
                    .value(&value)
                    .build()
                    .map_err(|e| AwsError::Config(e.to_string()))?;
                org.tag_resource()
                    .resource_id(&id)
                    .tags(tag)
                    .send()
                    .await
                    .map_err(|e| call_err(format!("organizations:TagResource {id}"), e))?;
            }
        }
        Ok(())
    }

    /// End the server's exemption of `userid` from `bundle` (and its record). Idempotent; an
    /// exemption the server did not record (the plan's) is left alone.
    ///
    /// # Errors
    /// Bad userid or bundle, AWS refused.
    pub async fn remove_userid_exemption(&self, bundle: &str, userid: &str) -> Result<()> {
        check_userid(userid)?;
        let key = record_key(bundle, userid);
        let policies = latch_policies(self.aws()).await?;
        let max_chars = self.limits().scp_chars;
        let org = self.aws().organizations();
        for ((kind, name), p) in &policies.managed {
            if *kind != PolicyKind::Scp || !self.records(&p.id).await?.contains_key(&key) {
                continue;
            }
            let (new, _) = edit_exemption(&p.content, bundle, userid, false, max_chars)
                .map_err(|reason| AwsError::Conflict(format!("`{name}`: {reason}")))?;
            if let Some(content) = new {
                org.update_policy()
                    .policy_id(&p.id)
                    .content(content)
                    .send()
                    .await
                    .map_err(|e| call_err(format!("organizations:UpdatePolicy {}", p.id), e))?;
            }
            org.untag_resource()
                .resource_id(&p.id)
                .tag_keys(&key)
                .send()
                .await
                .map_err(|e| call_err(format!("organizations:UntagResource {}", p.id), e))?;
        }
        Ok(())
    }

    /// The server's recorded exemptions for these userids that are in place in every policy
    /// that records them (`arn` holds the userid).
    ///
    /// # Errors
    /// AWS refused.
    pub async fn list_userid_exemptions(&self, userids: &[String]) -> Result<Vec<FoundGrantTag>> {
        if userids.is_empty() {
            return Ok(Vec::new());
        }
        let policies = latch_policies(self.aws()).await?;
        let mut found = BTreeMap::new();
        for ((kind, _), p) in &policies.managed {
            if *kind != PolicyKind::Scp {
                continue;
            }
            for (key, value) in self.records(&p.id).await? {
                let mut parts = value.splitn(3, ' ');
                let (Some(bundle), Some(userid), Some(rest)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                if !userids.iter().any(|u| u == userid) {
                    continue;
                }
                // Recorded but no longer in the document (`latch apply` put the planned content
                // back): not there, so the reconciler restores it.
                let in_place = matches!(
                    edit_exemption(&p.content, bundle, userid, true, self.limits().scp_chars),
                    Ok((None, n)) if n > 0
                );
                let (grant_id, expires_at) = parse_tag_value(rest);
                let entry = found.entry(key).or_insert((
                    true,
                    FoundGrantTag {
                        arn: userid.to_owned(),
                        bundle: bundle.to_owned(),
                        value: rest.to_owned(),
                        grant_id,
                        expires_at,
                    },
                ));
                entry.0 &= in_place;
            }
        }
        let mut out: Vec<FoundGrantTag> = found
            .into_values()
            .filter_map(|(in_place, t)| in_place.then_some(t))
            .collect();
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"LatchPermission1","Effect":"Deny","Action":["iam:PassRole"],"Resource":"*","Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/cp"},"Null":{"aws:PrincipalTag/latch:grant:iam-admin":"true"}}},{"Sid":"LatchPermission2","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*","Condition":{"Null":{"aws:PrincipalTag/latch:grant:s3-admin":"true"},"StringNotLike":{"aws:userid":"AROAPLAN0001:maria@example.com"}}},{"Sid":"LatchTamper1","Effect":"Deny","Action":"iam:TagRole","Resource":"*","Condition":{"Null":{"aws:PrincipalTag/latch:grant:iam-admin":"true"}}}]}"#;
    const CAROL: &str = "AROAEXAMPLE1:carol@example.com";
    const SCP: usize = latch_catalog::Limits::AWS.scp_chars;

    #[test]
    fn userids_are_checked() {
        check_userid(CAROL).unwrap();
        for bad in [
            "carol",
            "AROAEXAMPLE1:*",
            ":carol",
            "AIDAEXAMPLE1:carol",
            "AROA:carol",
            "AROAEXAMPLE1:",
        ] {
            assert!(check_userid(bad).is_err(), "{bad}");
        }
        assert_eq!(
            record_key("iam-admin", CAROL),
            record_key("iam-admin", CAROL)
        );
        assert_ne!(
            record_key("iam-admin", CAROL),
            record_key("s3-admin", CAROL)
        );
        assert!(record_key("iam-admin", CAROL).len() <= 128);
    }

    #[test]
    fn exemptions_are_added_and_removed_in_the_bundles_statements_only() {
        let (new, n) = edit_exemption(DOC, "iam-admin", CAROL, true, SCP).unwrap();
        assert_eq!(n, 1);
        let new = new.unwrap();
        let v: Value = serde_json::from_str(&new).unwrap();
        assert_eq!(
            v["Statement"][0]["Condition"]["StringNotLike"]["aws:userid"],
            CAROL
        );
        // The tamper statement and the other bundle's statement are untouched.
        assert!(v["Statement"][2]["Condition"]
            .get("StringNotLike")
            .is_none());
        assert_eq!(
            v["Statement"][1]["Condition"]["StringNotLike"]["aws:userid"],
            "AROAPLAN0001:maria@example.com"
        );
        // Idempotent.
        assert_eq!(
            edit_exemption(&new, "iam-admin", CAROL, true, SCP).unwrap(),
            (None, 1)
        );
        // Next to the plan's own exemption: a sorted list; removing leaves the plan's.
        let (both, _) = edit_exemption(DOC, "s3-admin", CAROL, true, SCP).unwrap();
        let v: Value = serde_json::from_str(both.as_ref().unwrap()).unwrap();
        assert_eq!(
            v["Statement"][1]["Condition"]["StringNotLike"]["aws:userid"],
            serde_json::json!([
                "AROAEXAMPLE1:carol@example.com",
                "AROAPLAN0001:maria@example.com"
            ])
        );
        let (back, _) =
            edit_exemption(both.as_ref().unwrap(), "s3-admin", CAROL, false, SCP).unwrap();
        let v: Value = serde_json::from_str(back.as_ref().unwrap()).unwrap();
        assert_eq!(
            v["Statement"][1]["Condition"]["StringNotLike"]["aws:userid"],
            "AROAPLAN0001:maria@example.com"
        );
        let (gone, _) = edit_exemption(&new, "iam-admin", CAROL, false, SCP).unwrap();
        let v: Value = serde_json::from_str(gone.as_ref().unwrap()).unwrap();
        assert!(v["Statement"][0]["Condition"]
            .get("StringNotLike")
            .is_none());
        // Absent: nothing to do. Unknown bundle: no statement matched.
        assert_eq!(
            edit_exemption(DOC, "iam-admin", CAROL, false, SCP).unwrap(),
            (None, 1)
        );
        assert_eq!(
            edit_exemption(DOC, "other", CAROL, true, SCP).unwrap(),
            (None, 0)
        );
        assert!(edit_exemption("{", "iam-admin", CAROL, true, SCP)
            .unwrap_err()
            .contains("not JSON"));
    }

    /// `DOC` padded to `n` characters.
    fn doc_of(n: usize) -> String {
        let pad = "x".repeat(n - DOC.len());
        let big = DOC.replace(
            "arn:aws:iam::*:role/cp",
            &format!("arn:aws:iam::*:role/cp{pad}"),
        );
        assert_eq!(big.chars().count(), n);
        big
    }

    #[test]
    fn the_scp_size_limit_is_kept() {
        // An exemption that takes a policy past 10,240 characters is refused, whole.
        let near = doc_of(SCP - 10);
        let e = edit_exemption(&near, "iam-admin", CAROL, true, SCP).unwrap_err();
        assert!(
            e.contains(&format!(
                "the policy would be {} characters, over the 10240-character limit for an SCP",
                SCP - 10
                    + r#","StringNotLike":{"aws:userid":"AROAEXAMPLE1:carol@example.com"}"#.len()
            )),
            "{e}"
        );
        // Between the old 5,120 and the new 10,240: AWS takes it; a lower limit does not.
        let mid = doc_of(6000);
        let (new, n) = edit_exemption(&mid, "iam-admin", CAROL, true, SCP).unwrap();
        assert_eq!(n, 1);
        assert!(new.unwrap().chars().count() > 6000);
        let e = edit_exemption(&mid, "iam-admin", CAROL, true, 5120).unwrap_err();
        assert!(
            e.contains("over the 5120-character limit for an SCP"),
            "{e}"
        );
        // Removing never grows a document: allowed whatever the limit.
        let (with, _) = edit_exemption(&mid, "iam-admin", CAROL, true, SCP).unwrap();
        let (back, _) =
            edit_exemption(with.as_ref().unwrap(), "iam-admin", CAROL, false, 5120).unwrap();
        assert_eq!(back.unwrap().chars().count(), 6000);
    }
}
