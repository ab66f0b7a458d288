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
//!
//! Edits are coalesced: those submitted within [`COALESCE_WINDOW`] of the first wait for it
//! and are then applied in the order they came to the policies as read once, each policy
//! written with one `UpdatePolicy` (and one `TagResource`/`UntagResource` for its records),
//! paced like every policy write ([`crate::pacing`]). Batches run one at a time, so no edit
//! overwrites another's; each caller learns its own edit's outcome.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{call_err, AwsError, Result};
use crate::grants::{grant_tag_key, parse_tag_value, tag_value, FoundGrantTag, GrantOps};
use crate::org::{latch_policies, PolicyType};
use crate::pacing::Family;
use crate::Aws;
use latch_contract::IC_GRANT_TAG_PREFIX;

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
    format!("{IC_GRANT_TAG_PREFIX}{h:016x}")
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
            .is_some_and(|s| s.starts_with(latch_contract::PERMISSION_SID_PREFIX));
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

/// How long an Identity Center grant edit waits for others to the same SCPs: edits submitted
/// within this window are written together, one `UpdatePolicy` per policy.
pub const COALESCE_WINDOW: Duration = Duration::from_millis(200);

/// One exemption edit waiting for its batch: add (with the record's value) or remove.
#[derive(Debug, Clone)]
struct Edit {
    bundle: String,
    userid: String,
    /// The record tag's value when adding; `None` removes.
    add: Option<String>,
}

type Answer = tokio::sync::oneshot::Sender<Result<()>>;

/// The edits waiting for the next batch, and the lock that keeps batches one at a time (each
/// reads the policies, edits and writes them: two at once would lose each other's edits).
#[derive(Debug, Default)]
pub(crate) struct Coalescer {
    pending: std::sync::Mutex<Vec<(Edit, Answer)>>,
    writing: tokio::sync::Mutex<()>,
}

/// The same error again, for every edit a failed write carried.
fn again(e: &AwsError) -> AwsError {
    match e {
        AwsError::Call {
            call,
            code,
            message,
        } => AwsError::Call {
            call: call.clone(),
            code: code.clone(),
            message: message.clone(),
        },
        AwsError::Conflict(m) => AwsError::Conflict(m.clone()),
        AwsError::Identity { id, reason } => AwsError::Identity {
            id: id.clone(),
            reason: reason.clone(),
        },
        AwsError::Config(m) => AwsError::Config(m.clone()),
        other => AwsError::Conflict(other.to_string()),
    }
}

/// The server's exemption records on one policy: record key → value.
async fn records(aws: &Aws, policy_id: &str) -> Result<BTreeMap<String, String>> {
    let out = aws
        .organizations()
        .list_tags_for_resource()
        .resource_id(policy_id)
        .send()
        .await
        .map_err(|e| call_err(format!("organizations:ListTagsForResource {policy_id}"), e))?;
    Ok(out
        .tags()
        .iter()
        .filter(|t| t.key().starts_with(IC_GRANT_TAG_PREFIX))
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect())
}

/// One SCP as a batch edits it.
struct Work {
    id: String,
    name: String,
    before: String,
    doc: String,
    records_before: BTreeMap<String, String>,
    records: BTreeMap<String, String>,
    /// The edits (by index) that changed it.
    edits: BTreeSet<usize>,
}

/// Applies `edits`, in order, to the applied Latch SCPs and writes each changed policy once
/// (`UpdatePolicy`, then one `TagResource` and one `UntagResource` for its records). Returns
/// each edit's outcome: an edit that cannot be made (no SCP denies its bundle, a policy would
/// grow past `max_chars`) fails alone and changes nothing; a write that fails fails every edit
/// it carried.
async fn write_batch(aws: &Aws, max_chars: usize, edits: &[Edit]) -> Result<Vec<Result<()>>> {
    let policies = latch_policies(aws).await?;
    let mut works = Vec::new();
    for ((kind, name), p) in &policies.managed {
        if *kind != PolicyType::Scp {
            continue;
        }
        let recs = records(aws, &p.id).await?;
        works.push(Work {
            id: p.id.clone(),
            name: name.clone(),
            before: p.content.clone(),
            doc: p.content.clone(),
            records_before: recs.clone(),
            records: recs,
            edits: BTreeSet::new(),
        });
    }
    let mut outcomes: Vec<Result<()>> = Vec::with_capacity(edits.len());
    for (i, e) in edits.iter().enumerate() {
        let key = record_key(&e.bundle, &e.userid);
        // Every policy's new text first: an edit is made everywhere or nowhere.
        let mut changes = Vec::new();
        let mut matched = 0;
        let mut refused = None;
        for (j, w) in works.iter().enumerate() {
            if e.add.is_none() && !w.records.contains_key(&key) {
                continue;
            }
            match edit_exemption(&w.doc, &e.bundle, &e.userid, e.add.is_some(), max_chars) {
                Ok((new, n)) => {
                    matched += n;
                    if n > 0 || e.add.is_none() {
                        changes.push((j, new));
                    }
                }
                Err(reason) => {
                    refused = Some(AwsError::Conflict(format!("`{}`: {reason}", w.name)));
                    break;
                }
            }
        }
        if refused.is_none() && e.add.is_some() && matched == 0 {
            refused = Some(AwsError::Conflict(format!(
                "no applied latch-* SCP denies bundle `{}`: apply the firewall plan (latch apply) before granting it to Identity Center users",
                e.bundle
            )));
        }
        if let Some(err) = refused {
            outcomes.push(Err(err));
            continue;
        }
        for (j, new) in changes {
            let Some(w) = works.get_mut(j) else { continue };
            if let Some(doc) = new {
                w.doc = doc;
            }
            match &e.add {
                Some(value) => w.records.insert(key.clone(), value.clone()),
                None => w.records.remove(&key),
            };
            w.edits.insert(i);
        }
        outcomes.push(Ok(()));
    }
    for w in &works {
        let written = write_policy(aws, w).await;
        if let Err(err) = written {
            for i in &w.edits {
                if let Some(slot) = outcomes.get_mut(*i) {
                    if slot.is_ok() {
                        *slot = Err(again(&err));
                    }
                }
            }
        }
    }
    Ok(outcomes)
}

/// Writes one policy's batched edits: its document (when it changed), then its records.
async fn write_policy(aws: &Aws, w: &Work) -> Result<()> {
    let id = &w.id;
    if !crate::apply::same_document(&w.before, &w.doc) {
        aws.org_write(
            Family::PolicyWrite,
            &format!("organizations:UpdatePolicy {id}"),
            |org| org.update_policy().policy_id(id).content(&w.doc).send(),
        )
        .await?;
    }
    let mut tags = Vec::new();
    for (k, v) in &w.records {
        if w.records_before.get(k) != Some(v) {
            tags.push(
                aws_sdk_organizations::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| AwsError::Config(e.to_string()))?,
            );
        }
    }
    if !tags.is_empty() {
        aws.org_write(
            Family::Tagging,
            &format!("organizations:TagResource {id}"),
            |org| {
                org.tag_resource()
                    .resource_id(id)
                    .set_tags(Some(tags.clone()))
                    .send()
            },
        )
        .await?;
    }
    let gone: Vec<String> = w
        .records_before
        .keys()
        .filter(|k| !w.records.contains_key(*k))
        .cloned()
        .collect();
    if !gone.is_empty() {
        aws.org_write(
            Family::Tagging,
            &format!("organizations:UntagResource {id}"),
            |org| {
                org.untag_resource()
                    .resource_id(id)
                    .set_tag_keys(Some(gone.clone()))
                    .send()
            },
        )
        .await?;
    }
    Ok(())
}

impl Coalescer {
    /// Queues `edit`; the first edit of a batch starts it, which waits `window`, then for the
    /// batch before it, then writes every edit queued by then.
    async fn submit(
        self: &Arc<Self>,
        aws: &Aws,
        max_chars: usize,
        window: Duration,
        edit: Edit,
    ) -> Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let first = {
            let mut pending = self
                .pending
                .lock()
                .map_err(|_| AwsError::Conflict("the grant edit queue is unusable".to_owned()))?;
            pending.push((edit, tx));
            pending.len() == 1
        };
        if first {
            let me = Arc::clone(self);
            let aws = aws.clone();
            tokio::spawn(async move {
                tokio::time::sleep(window).await;
                let _writing = me.writing.lock().await;
                let batch = match me.pending.lock() {
                    Ok(mut p) => std::mem::take(&mut *p),
                    Err(_) => return,
                };
                let (edits, answers): (Vec<Edit>, Vec<Answer>) = batch.into_iter().unzip();
                match write_batch(&aws, max_chars, &edits).await {
                    Ok(outcomes) => {
                        for (answer, outcome) in answers.into_iter().zip(outcomes) {
                            let _ = answer.send(outcome);
                        }
                    }
                    Err(e) => {
                        for answer in answers {
                            let _ = answer.send(Err(again(&e)));
                        }
                    }
                }
            });
        }
        rx.await.unwrap_or_else(|_| {
            Err(AwsError::Conflict(
                "the grant edit was not written (its batch ended without an answer); it will be retried".to_owned(),
            ))
        })
    }
}

impl GrantOps {
    /// Exempt `userid` from `bundle` in every applied Latch SCP that denies it, and record the
    /// grant. Idempotent. Edits submitted within [`COALESCE_WINDOW`] of each other (other
    /// grants and revocations) are written together: one `UpdatePolicy` per policy.
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
        grant_tag_key(bundle)?;
        let value = format!("{bundle} {userid} {}", tag_value(grant_id, expires_at_ms));
        self.coalescer()
            .submit(
                self.aws(),
                self.limits().scp_chars,
                self.coalesce_window(),
                Edit {
                    bundle: bundle.to_owned(),
                    userid: userid.to_owned(),
                    add: Some(value),
                },
            )
            .await
    }

    /// End the server's exemption of `userid` from `bundle` (and its record). Idempotent; an
    /// exemption the server did not record (the plan's) is left alone. Coalesced with other
    /// edits as [`GrantOps::add_userid_exemption`] is.
    ///
    /// # Errors
    /// Bad userid or bundle, AWS refused.
    pub async fn remove_userid_exemption(&self, bundle: &str, userid: &str) -> Result<()> {
        check_userid(userid)?;
        grant_tag_key(bundle)?;
        self.coalescer()
            .submit(
                self.aws(),
                self.limits().scp_chars,
                self.coalesce_window(),
                Edit {
                    bundle: bundle.to_owned(),
                    userid: userid.to_owned(),
                    add: None,
                },
            )
            .await
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
            if *kind != PolicyType::Scp {
                continue;
            }
            for (key, value) in records(self.aws(), &p.id).await? {
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
