//! Sending to Teams: the Bot Connector service's REST API, authenticated with a token the
//! bot's Entra ID tenant issues by client credentials (scope
//! `https://api.botframework.com/.default`). The token is cached until five minutes before it
//! expires. Conversation and activity ids are percent-encoded into the URL, never spliced.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::Secret;

/// The scope of the tokens the Bot Connector service accepts.
pub const SCOPE: &str = "https://api.botframework.com/.default";
/// A token is fetched again this long before it expires, in seconds.
pub const TOKEN_MARGIN_SECS: i64 = 300;

/// The token endpoint of an Entra ID tenant.
#[must_use]
pub fn token_url(tenant: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
}

/// A call to the token endpoint or the connector failed.
#[derive(Debug, thiserror::Error)]
#[error("teams {call}: {reason}")]
pub struct ConnectorError {
    call: &'static str,
    reason: String,
}

fn err(call: &'static str) -> impl Fn(String) -> ConnectorError {
    move |reason| ConnectorError { call, reason }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
}

#[derive(Deserialize)]
struct ResourceResponse {
    #[serde(default)]
    id: String,
}

/// The Bot Connector client of one bot.
pub struct Connector {
    http: reqwest::Client,
    token_url: String,
    app_id: String,
    secret: Secret,
    token: Mutex<Option<(Secret, i64)>>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("token_url", &self.token_url)
            .field("app_id", &self.app_id)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// The bot `app_id`, authenticating with `secret` at `token_url` ([`token_url`] of the
    /// bot's tenant outside tests).
    #[must_use]
    pub fn new(token_url: &str, app_id: &str, secret: Secret) -> Connector {
        Connector {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            token_url: token_url.to_owned(),
            app_id: app_id.to_owned(),
            secret,
            token: Mutex::new(None),
        }
    }

    /// A bearer token for the connector at `now` (seconds since the epoch): the cached one
    /// until five minutes before it expires, else a new one.
    async fn token(&self, now: i64) -> Result<Secret, ConnectorError> {
        let mut cached = self.token.lock().await;
        if let Some((token, expires)) = cached.as_ref() {
            if now < expires.saturating_sub(TOKEN_MARGIN_SECS) {
                return Ok(token.clone());
            }
        }
        let e = err("token");
        let response = self
            .http
            .post(&self.token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.app_id.as_str()),
                ("client_secret", self.secret.expose()),
                ("scope", SCOPE),
            ])
            .send()
            .await
            .map_err(|x| e(x.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            // The body may echo what was sent; only the status is reported.
            return Err(e(format!("the token endpoint answered {status}")));
        }
        let t: TokenResponse = response.json().await.map_err(|x| e(x.to_string()))?;
        let token = Secret::new(t.access_token);
        *cached = Some((token.clone(), now.saturating_add(t.expires_in)));
        Ok(token)
    }

    /// Whether the app id and secret obtain a token from the Bot Framework's token endpoint
    /// (`now` in seconds since the epoch).
    ///
    /// # Errors
    /// The endpoint refused them or could not be reached.
    pub async fn check_credentials(&self, now: i64) -> Result<(), ConnectorError> {
        self.token(now).await.map(|_| ())
    }

    fn url(service_url: &str, segments: &[&str]) -> Result<reqwest::Url, String> {
        let mut url = reqwest::Url::parse(service_url).map_err(|e| format!("service URL: {e}"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(format!("service URL `{service_url}` is not HTTP(S)"));
        }
        url.path_segments_mut()
            .map_err(|()| format!("service URL `{service_url}` cannot take a path"))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// `method` `activity` to the connector at `segments` under `service_url`, with a token.
    async fn call(
        &self,
        what: &'static str,
        method: reqwest::Method,
        service_url: &str,
        segments: &[&str],
        activity: &Value,
        now: i64,
    ) -> Result<reqwest::Response, ConnectorError> {
        let e = err(what);
        let url = Self::url(service_url, segments).map_err(&e)?;
        let token = self.token(now).await?;
        let response = self
            .http
            .request(method, url)
            .bearer_auth(token.expose())
            .json(activity)
            .send()
            .await
            .map_err(|x| e(x.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(e(format!("the connector answered {status}")));
        }
        Ok(response)
    }

    /// Post `activity` to a conversation; returns the new activity's id.
    ///
    /// # Errors
    /// The token or the connector refused, or could not be reached.
    pub async fn send(
        &self,
        service_url: &str,
        conversation: &str,
        activity: &Value,
        now: i64,
    ) -> Result<String, ConnectorError> {
        let segments = ["v3", "conversations", conversation, "activities"];
        let response = self
            .call(
                "send",
                reqwest::Method::POST,
                service_url,
                &segments,
                activity,
                now,
            )
            .await?;
        let r: ResourceResponse = response
            .json()
            .await
            .map_err(|x| err("send")(x.to_string()))?;
        Ok(r.id)
    }

    /// The personal chat between the bot and the person whose Entra object id is `member`
    /// in `tenant` (created the first time; the connector answers with the same conversation
    /// afterwards). Returns its conversation id.
    ///
    /// # Errors
    /// The token or the connector refused (the bot is not installed for that person), or
    /// could not be reached.
    pub async fn personal_chat(
        &self,
        service_url: &str,
        tenant: &str,
        member: &str,
        now: i64,
    ) -> Result<String, ConnectorError> {
        let body = serde_json::json!({
            "bot": {"id": format!("28:{}", self.app_id)},
            "isGroup": false,
            "members": [{"id": member}],
            "tenantId": tenant,
            "channelData": {"tenant": {"id": tenant}},
        });
        let response = self
            .call(
                "create conversation",
                reqwest::Method::POST,
                service_url,
                &["v3", "conversations"],
                &body,
                now,
            )
            .await?;
        let r: ResourceResponse = response
            .json()
            .await
            .map_err(|x| err("create conversation")(x.to_string()))?;
        if r.id.is_empty() {
            return Err(err("create conversation")(
                "the connector answered without a conversation id".to_owned(),
            ));
        }
        Ok(r.id)
    }

    /// Replace an activity (a card, once its request is decided).
    ///
    /// # Errors
    /// The token or the connector refused, or could not be reached.
    pub async fn update(
        &self,
        service_url: &str,
        conversation: &str,
        activity_id: &str,
        activity: &Value,
        now: i64,
    ) -> Result<(), ConnectorError> {
        let segments = [
            "v3",
            "conversations",
            conversation,
            "activities",
            activity_id,
        ];
        self.call(
            "update",
            reqwest::Method::PUT,
            service_url,
            &segments,
            activity,
            now,
        )
        .await?;
        Ok(())
    }
}
