//! The IAM operations behind a permissions-on-demand grant, all idempotent:
//!
//! - put (or replace) the bundle's `latch:grant:<bundle>` tag on a role or user, its value
//!   naming the grant and its expiry ([`tag_value`]);
//! - remove it (an absent tag or identity is success);
//! - list the `latch:grant:*` tags of a set of identities;
//! - cut off sessions issued before a moment: an inline policy [`SESSION_CUTOFF_POLICY`] on
//!   the role or user that denies everything to sessions whose `aws:TokenIssueTime` is earlier
//!   (what the IAM console's "Revoke active sessions" does). Long-term access keys carry no
//!   token issue time and are not affected. A later cut-off replaces an earlier one, never
//!   the reverse.
//!
//! Identities in member accounts are reached by assuming the configured role in the account
//! the ARN names ([`AccountAccess`]); sessions are kept for [`SESSION_REUSE`] and then renewed.
//!
//! The firewall plan's own grant tags (value `standing`: protect mode's standing exemptions,
//! owned by `latch apply`) are never changed or reported here.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use serde_json::Value;

use crate::apply::{principal_tags, AccountAccess};
use crate::connect::CallerIdentity;
use crate::error::{call_err, AwsError, Result};
use crate::plan::principal_of;
use crate::time::{parse_time, rfc3339};
use crate::Aws;
use latch_contract::{GRANT_TAG_PREFIX, SESSION_CUTOFF_POLICY, STANDING_GRANT_VALUE};

/// How long an assumed-role session into a member account is reused (they last an hour).
pub const SESSION_REUSE: Duration = Duration::from_secs(30 * 60);

/// Longest bundle name (the firewall's rule: it becomes a tag key of at most 128 characters).
const MAX_BUNDLE_LEN: usize = 64;

/// Whether a grant lands on a role or a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetKind {
    /// An IAM role.
    Role,
    /// An IAM user.
    User,
}

/// An IAM role or user a grant lands on, from its ARN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GrantTarget {
    /// The ARN as given.
    pub arn: String,
    /// Its account.
    pub account: String,
    /// Role or user.
    pub kind: TargetKind,
    /// The role or user name (without path).
    pub name: String,
}

/// Reads an IAM role or user ARN (`arn:aws:iam::111122223333:role/path/name`).
///
/// # Errors
/// [`AwsError::Identity`] naming the ARN and what is wrong with it.
pub fn parse_target(arn: &str) -> Result<GrantTarget> {
    let bad = |reason: &str| AwsError::Identity {
        id: arn.to_owned(),
        reason: reason.to_owned(),
    };
    if !arn.starts_with("arn:") {
        return Err(bad("not an ARN (expected arn:aws:iam::ACCOUNT:role/NAME or arn:aws:iam::ACCOUNT:user/NAME)"));
    }
    let Some((account, kind, name)) = principal_of(arn) else {
        return Err(bad(
            "not an IAM role or user ARN with a 12-digit account (expected arn:aws:iam::ACCOUNT:role/NAME or arn:aws:iam::ACCOUNT:user/NAME)",
        ));
    };
    let kind = if kind == "role" {
        TargetKind::Role
    } else {
        TargetKind::User
    };
    Ok(GrantTarget {
        arn: arn.to_owned(),
        account: account.to_owned(),
        kind,
        name: name.to_owned(),
    })
}

/// `latch:grant:<bundle>`, after checking the bundle name (`[a-z0-9-]`, at most 64).
///
/// # Errors
/// [`AwsError::Identity`] for a name that cannot be a grant tag.
pub fn grant_tag_key(bundle: &str) -> Result<String> {
    let ok = !bundle.is_empty()
        && bundle.len() <= MAX_BUNDLE_LEN
        && bundle
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if !ok {
        return Err(AwsError::Identity {
            id: bundle.to_owned(),
            reason: "bundle names use lower-case letters, digits and `-` (at most 64)".to_owned(),
        });
    }
    Ok(latch_contract::grant_tag_key(bundle))
}

/// The tag value of a grant: `<grant id> expires=<RFC 3339>` (only characters IAM allows in
/// tag values).
pub fn tag_value(grant_id: &str, expires_at_ms: i64) -> String {
    latch_contract::grant_tag_value(grant_id, &rfc3339(expires_at_ms))
}

/// The grant id and expiry (ms) in a tag value; the expiry is `None` when unreadable (a tag
/// someone else wrote): the whole value is then the grant id.
pub fn parse_tag_value(value: &str) -> (String, Option<i64>) {
    match latch_contract::split_grant_tag_value(value) {
        Some((id, at)) => match parse_time(at) {
            Some(ms) => (id.to_owned(), Some(ms)),
            None => (value.to_owned(), None),
        },
        None => (value.to_owned(), None),
    }
}

/// A `latch:grant:*` tag found on a role or user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FoundGrantTag {
    /// The role or user ARN (as asked).
    pub arn: String,
    /// The bundle the key names.
    pub bundle: String,
    /// The raw value.
    pub value: String,
    /// The grant id in the value (the whole value when it is not Latch's format).
    pub grant_id: String,
    /// The expiry in the value, when readable.
    pub expires_at: Option<i64>,
}

/// The cut-off policy's document: deny everything to sessions issued before `cutoff_ms`
/// (rounded up to the second: a session issued in the same second is cut off too).
pub fn cutoff_document(cutoff_ms: i64) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"LatchSessionCutoff","Effect":"Deny","Action":"*","Resource":"*","Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{}"}}}}}}]}}"#,
        rfc3339(cutoff_ms.saturating_add(999))
    )
}

/// The cut-off (ms) of a policy document as IAM returns it (raw or URL-encoded), when it is
/// Latch's.
pub fn cutoff_of(document: &str) -> Option<i64> {
    let trimmed = document.trim_start();
    let text = if trimmed.starts_with('{') {
        trimmed.to_owned()
    } else {
        latch_model::document::percent_decode(trimmed).ok()?
    };
    let v: Value = serde_json::from_str(&text).ok()?;
    let statements = match v.get("Statement")? {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    statements
        .iter()
        .filter_map(|s| {
            s.get("Condition")?
                .get("DateLessThan")?
                .get("aws:TokenIssueTime")?
                .as_str()
                .and_then(parse_time)
        })
        .max()
}

/// The grant operations, for one organization.
#[derive(Debug)]
pub struct GrantOps {
    aws: Aws,
    access: AccountAccess,
    caller: tokio::sync::OnceCell<CallerIdentity>,
    sessions: tokio::sync::Mutex<BTreeMap<String, (SdkConfig, Instant)>>,
    limits: latch_catalog::Limits,
    coalescer: std::sync::Arc<crate::userid::Coalescer>,
    window: Duration,
}

impl GrantOps {
    /// Operations through `aws` (normally the management account or a delegated
    /// administrator), reaching member accounts as `access` says.
    pub fn new(aws: Aws, access: AccountAccess) -> GrantOps {
        GrantOps {
            aws,
            access,
            caller: tokio::sync::OnceCell::new(),
            sessions: tokio::sync::Mutex::new(BTreeMap::new()),
            limits: latch_catalog::Limits::AWS,
            coalescer: std::sync::Arc::default(),
            window: crate::userid::COALESCE_WINDOW,
        }
    }

    /// The same operations, coalescing Identity Center edits over `window` instead of
    /// [`COALESCE_WINDOW`](crate::userid::COALESCE_WINDOW) (zero: each edit alone, still one
    /// batch at a time).
    #[must_use]
    pub fn with_coalesce_window(mut self, window: Duration) -> GrantOps {
        self.window = window;
        self
    }

    /// How long an Identity Center edit waits for others.
    pub fn coalesce_window(&self) -> Duration {
        self.window
    }

    pub(crate) fn coalescer(&self) -> &std::sync::Arc<crate::userid::Coalescer> {
        &self.coalescer
    }

    /// The same operations held to `limits` (the firewall configuration's, when it lowers
    /// AWS's quotas): an Identity Center exemption never takes an SCP past `scp_chars`.
    #[must_use]
    pub fn with_limits(mut self, limits: latch_catalog::Limits) -> GrantOps {
        self.limits = limits;
        self
    }

    /// The quotas edits are held to (AWS's unless [`GrantOps::with_limits`] lowered them).
    pub fn limits(&self) -> latch_catalog::Limits {
        self.limits
    }

    /// The connection.
    pub fn aws(&self) -> &Aws {
        &self.aws
    }

    /// An IAM client acting in `account`.
    async fn iam(&self, account: &str) -> Result<aws_sdk_iam::Client> {
        let mut sessions = self.sessions.lock().await;
        if let Some((config, since)) = sessions.get(account) {
            if since.elapsed() < SESSION_REUSE {
                return Ok(Aws::iam(config));
            }
        }
        let caller = self
            .caller
            .get_or_try_init(|| self.aws.caller_identity())
            .await?;
        let config = self.access.config_for(&self.aws, caller, account).await?;
        let client = Aws::iam(&config);
        sessions.insert(account.to_owned(), (config, Instant::now()));
        Ok(client)
    }

    /// Put (or replace) `latch:grant:<bundle>` = [`tag_value`] on the role or user. A tag
    /// already naming this grant and expiry, or the plan's `standing` value, is left as is.
    ///
    /// # Errors
    /// Bad ARN or bundle, unreachable account, the identity does not exist, AWS refused.
    pub async fn put_grant_tag(
        &self,
        arn: &str,
        bundle: &str,
        grant_id: &str,
        expires_at_ms: i64,
    ) -> Result<()> {
        let target = parse_target(arn)?;
        let key = grant_tag_key(bundle)?;
        let value = tag_value(grant_id, expires_at_ms);
        let iam = self.iam(&target.account).await?;
        let Some(tags) = principal_tags(&iam, arn).await? else {
            return Err(AwsError::Identity {
                id: arn.to_owned(),
                reason: "no such role or user in its account (NoSuchEntity)".to_owned(),
            });
        };
        match tags.get(&key).map(String::as_str) {
            Some(v) if v == value || v == STANDING_GRANT_VALUE => return Ok(()),
            _ => {}
        }
        let tag = aws_sdk_iam::types::Tag::builder()
            .key(&key)
            .value(&value)
            .build()
            .map_err(|e| AwsError::Config(e.to_string()))?;
        match target.kind {
            TargetKind::Role => iam
                .tag_role()
                .role_name(&target.name)
                .tags(tag)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_err(format!("iam:TagRole {arn}"), e)),
            TargetKind::User => iam
                .tag_user()
                .user_name(&target.name)
                .tags(tag)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_err(format!("iam:TagUser {arn}"), e)),
        }
    }

    /// Remove `latch:grant:<bundle>` from the role or user. An absent tag or identity is
    /// success; the plan's `standing` value stays.
    ///
    /// # Errors
    /// Bad ARN or bundle, unreachable account, AWS refused.
    pub async fn remove_grant_tag(&self, arn: &str, bundle: &str) -> Result<()> {
        let target = parse_target(arn)?;
        let key = grant_tag_key(bundle)?;
        let iam = self.iam(&target.account).await?;
        let Some(tags) = principal_tags(&iam, arn).await? else {
            return Ok(());
        };
        match tags.get(&key).map(String::as_str) {
            None | Some(STANDING_GRANT_VALUE) => return Ok(()),
            Some(_) => {}
        }
        let result = match target.kind {
            TargetKind::Role => iam
                .untag_role()
                .role_name(&target.name)
                .tag_keys(&key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_err(format!("iam:UntagRole {arn}"), e)),
            TargetKind::User => iam
                .untag_user()
                .user_name(&target.name)
                .tag_keys(&key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_err(format!("iam:UntagUser {arn}"), e)),
        };
        match result {
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(()),
            other => other,
        }
    }

    /// Every `latch:grant:*` tag (but the plan's `standing` ones) on these roles and users.
    /// Identities that do not exist have none.
    ///
    /// # Errors
    /// Bad ARN, unreachable account, AWS refused.
    pub async fn list_grant_tags(&self, arns: &[String]) -> Result<Vec<FoundGrantTag>> {
        let mut out = Vec::new();
        for arn in arns {
            let target = parse_target(arn)?;
            let iam = self.iam(&target.account).await?;
            let Some(tags) = principal_tags(&iam, arn).await? else {
                continue;
            };
            for (key, value) in tags {
                let Some(bundle) = key.strip_prefix(GRANT_TAG_PREFIX) else {
                    continue;
                };
                if value == STANDING_GRANT_VALUE {
                    continue;
                }
                let (grant_id, expires_at) = parse_tag_value(&value);
                out.push(FoundGrantTag {
                    arn: arn.clone(),
                    bundle: bundle.to_owned(),
                    value,
                    grant_id,
                    expires_at,
                });
            }
        }
        out.sort();
        Ok(out)
    }

    /// The cut-off in force on the role or user (ms), if any.
    ///
    /// # Errors
    /// Bad ARN, unreachable account, AWS refused.
    pub async fn session_cutoff(&self, arn: &str) -> Result<Option<i64>> {
        let target = parse_target(arn)?;
        let iam = self.iam(&target.account).await?;
        let doc = match target.kind {
            TargetKind::Role => iam
                .get_role_policy()
                .role_name(&target.name)
                .policy_name(SESSION_CUTOFF_POLICY)
                .send()
                .await
                .map(|o| o.policy_document().to_owned())
                .map_err(|e| call_err(format!("iam:GetRolePolicy {arn}"), e)),
            TargetKind::User => iam
                .get_user_policy()
                .user_name(&target.name)
                .policy_name(SESSION_CUTOFF_POLICY)
                .send()
                .await
                .map(|o| o.policy_document().to_owned())
                .map_err(|e| call_err(format!("iam:GetUserPolicy {arn}"), e)),
        };
        match doc {
            Ok(d) => Ok(cutoff_of(&d)),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deny everything to the role's or user's sessions issued before `cutoff_ms` (the inline
    /// policy [`SESSION_CUTOFF_POLICY`]). A cut-off already at or after it is kept.
    ///
    /// # Errors
    /// Bad ARN, unreachable account, the identity does not exist, AWS refused.
    pub async fn cut_sessions(&self, arn: &str, cutoff_ms: i64) -> Result<()> {
        if self
            .session_cutoff(arn)
            .await?
            .is_some_and(|c| c >= cutoff_ms)
        {
            return Ok(());
        }
        let target = parse_target(arn)?;
        let iam = self.iam(&target.account).await?;
        let doc = cutoff_document(cutoff_ms);
        match target.kind {
            TargetKind::Role => iam
                .put_role_policy()
                .role_name(&target.name)
                .policy_name(SESSION_CUTOFF_POLICY)
                .policy_document(doc)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_err(format!("iam:PutRolePolicy {arn}"), e)),
            TargetKind::User => iam
                .put_user_policy()
                .user_name(&target.name)
                .policy_name(SESSION_CUTOFF_POLICY)
                .policy_document(doc)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_err(format!("iam:PutUserPolicy {arn}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn targets_are_validated() {
        let t = parse_target("arn:aws:iam::111122223333:role/ops/alice").unwrap();
        assert_eq!(
            (t.account.as_str(), t.kind, t.name.as_str()),
            ("111122223333", TargetKind::Role, "alice")
        );
        let u = parse_target("arn:aws-us-gov:iam::111122223333:user/bob").unwrap();
        assert_eq!(u.kind, TargetKind::User);
        for bad in [
            "alice",
            "AROAEXAMPLE:carol@example.com",
            "arn:aws:iam::1111:role/x",
            "arn:aws:iam::111122223333:group/devs",
            "arn:aws:sts::111122223333:assumed-role/x/y",
            "arn:aws:iam::111122223333:role/",
        ] {
            let e = parse_target(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
        assert_eq!(grant_tag_key("iam-admin").unwrap(), "latch:grant:iam-admin");
        assert!(grant_tag_key("IAM admin").is_err());
        assert!(grant_tag_key("").is_err());
    }

    #[test]
    fn tag_values_round_trip() {
        let v = tag_value("g-abc", 1_800_000_000_000);
        assert_eq!(v, "g-abc expires=2027-01-15T08:00:00Z");
        // Only characters IAM allows in tag values.
        assert!(v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c)));
        assert_eq!(
            parse_tag_value(&v),
            ("g-abc".to_owned(), Some(1_800_000_000_000))
        );
        assert_eq!(parse_tag_value("1"), ("1".to_owned(), None));
        assert_eq!(
            parse_tag_value("x expires=soon"),
            ("x expires=soon".to_owned(), None)
        );
    }

    #[test]
    fn cutoff_documents_round_trip() {
        let d = cutoff_document(1_800_000_000_000);
        assert!(d.contains(r#""DateLessThan":{"aws:TokenIssueTime":"2027-01-15T08:00:00Z"}"#));
        let v: Value = serde_json::from_str(&d).unwrap();
        assert_eq!(v["Statement"][0]["Effect"], "Deny");
        assert_eq!(v["Statement"][0]["Action"], "*");
        assert_eq!(cutoff_of(&d), Some(1_800_000_000_000));
        let encoded = latch_model::document::percent_encode(&d);
        assert_eq!(cutoff_of(&encoded), Some(1_800_000_000_000));
        // Rounded up to the second.
        assert_eq!(
            cutoff_of(&cutoff_document(1_800_000_000_001)),
            Some(1_800_000_001_000)
        );
        assert_eq!(cutoff_of(r#"{"Statement":{"Effect":"Deny"}}"#), None);
    }
}
