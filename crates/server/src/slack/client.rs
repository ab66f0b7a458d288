//! The Slack Web API client (`chat.postMessage`, `chat.update`, and to find people by email
//! `users.lookupByEmail` and `users.info`) and `response_url` replies.

use std::fmt;

use serde_json::{json, Value};

use crate::config::Secret;

/// A Web API call failed.
#[derive(Debug, thiserror::Error)]
#[error("slack {method}: {reason}")]
pub struct SlackError {
    method: String,
    reason: String,
}

/// The Slack Web API (`chat.postMessage`, `chat.update`) and `response_url` replies.
#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackClient")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish()
    }
}

impl SlackClient {
    /// A client for `base` (e.g. `https://slack.com/api`).
    #[must_use]
    pub fn new(base: &str, token: Secret) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        SlackClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    async fn call(&self, method: &str, body: Value) -> Result<Value, SlackError> {
        let err = |reason: String| SlackError {
            method: method.to_owned(),
            reason,
        };
        let resp = self
            .http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(self.token.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| err(e.without_url().to_string()))?;
        let value: Value = resp
            .json()
            .await
            .map_err(|e| err(e.without_url().to_string()))?;
        if value.get("ok").and_then(Value::as_bool) == Some(true) {
            Ok(value)
        } else {
            Err(err(value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("not ok")
                .to_owned()))
        }
    }

    /// Whether the bot token is valid (`auth.test`): the workspace and the bot user it
    /// belongs to.
    ///
    /// # Errors
    /// Slack refused the token or could not be reached.
    pub async fn auth_test(&self) -> Result<(String, String), SlackError> {
        let v = self.call("auth.test", json!({})).await?;
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
        Ok((field("team"), field("user")))
    }

    /// Post a message; returns its channel and `ts`.
    ///
    /// # Errors
    /// Network failure or Slack said no.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: Option<Value>,
    ) -> Result<(String, String), SlackError> {
        let mut body = json!({"channel": channel, "text": text});
        if let (Some(b), Some(obj)) = (blocks, body.as_object_mut()) {
            obj.insert("blocks".into(), b);
        }
        let v = self.call("chat.postMessage", body).await?;
        Ok((
            v.get("channel")
                .and_then(Value::as_str)
                .unwrap_or(channel)
                .to_owned(),
            v.get("ts")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        ))
    }

    /// Replace a message.
    ///
    /// # Errors
    /// Network failure or Slack said no.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Option<Value>,
    ) -> Result<(), SlackError> {
        let mut body = json!({"channel": channel, "ts": ts, "text": text});
        if let (Some(b), Some(obj)) = (blocks, body.as_object_mut()) {
            obj.insert("blocks".into(), b);
        }
        self.call("chat.update", body).await.map(|_| ())
    }

    /// A form-encoded call (the read methods take their arguments as a form).
    async fn call_form(&self, method: &str, form: &[(&str, &str)]) -> Result<Value, SlackError> {
        let err = |reason: String| SlackError {
            method: method.to_owned(),
            reason,
        };
        let resp = self
            .http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(self.token.expose())
            .form(form)
            .send()
            .await
            .map_err(|e| err(e.without_url().to_string()))?;
        resp.json()
            .await
            .map_err(|e| err(e.without_url().to_string()))
    }

    /// The Slack user whose email is `email` (`users.lookupByEmail`, scope `users:read.email`):
    /// `None` when the workspace has no such user, or they are deactivated.
    ///
    /// # Errors
    /// Network failure or Slack said no for another reason.
    pub async fn lookup_by_email(&self, email: &str) -> Result<Option<String>, SlackError> {
        let v = self
            .call_form("users.lookupByEmail", &[("email", email)])
            .await?;
        user_field(&v, "users.lookupByEmail", "users_not_found", |u| {
            u.get("id").and_then(Value::as_str)
        })
    }

    /// The email of Slack user `id` (`users.info`, scopes `users:read` and
    /// `users:read.email`): `None` when there is no such user, they are deactivated, or their
    /// profile shows no email.
    ///
    /// # Errors
    /// Network failure or Slack said no for another reason.
    pub async fn user_email(&self, id: &str) -> Result<Option<String>, SlackError> {
        let v = self.call_form("users.info", &[("user", id)]).await?;
        user_field(&v, "users.info", "user_not_found", |u| {
            u.get("profile")
                .and_then(|p| p.get("email"))
                .and_then(Value::as_str)
        })
    }

    /// Answer through a `response_url` (ephemeral to the user who acted).
    ///
    /// # Errors
    /// Network failure.
    pub async fn respond(&self, response_url: &str, text: &str) -> Result<(), SlackError> {
        self.http
            .post(response_url)
            .json(&json!({"response_type": "ephemeral", "replace_original": false, "text": text}))
            .send()
            .await
            .map_err(|e| SlackError {
                method: "response_url".into(),
                reason: e.without_url().to_string(),
            })?;
        Ok(())
    }
}

/// One field of the `user` of a `users.*` answer; `not_found` (and a deactivated user) is
/// `None`, any other error an error.
fn user_field(
    v: &Value,
    method: &str,
    not_found: &str,
    field: impl Fn(&Value) -> Option<&str>,
) -> Result<Option<String>, SlackError> {
    if v.get("ok").and_then(Value::as_bool) != Some(true) {
        let error = v.get("error").and_then(Value::as_str).unwrap_or("not ok");
        if error == not_found {
            return Ok(None);
        }
        return Err(SlackError {
            method: method.to_owned(),
            reason: error.to_owned(),
        });
    }
    let Some(user) = v.get("user") else {
        return Ok(None);
    };
    if user.get("deleted").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    Ok(field(user).map(str::to_owned))
}
