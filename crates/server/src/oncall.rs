//! On-call approval: a bundle may grant at once to a requester who is on call right now in a
//! named PagerDuty or Opsgenie schedule, asked through their REST APIs.
//!
//! - PagerDuty: `GET /oncalls?schedule_ids[]=<id>&include[]=users` (REST API v2, header
//!   `Authorization: Token token=<token>`, `Accept: application/vnd.pagerduty+json;version=2`);
//!   without `since`/`until` it lists the on-call entries active now, each with its `user`
//!   (`email` with `include[]=users`), `schedule`, `start` and `end`.
//! - Opsgenie: `GET /v2/schedules/<name>/on-calls?scheduleIdentifierType=name&flat=true`
//!   (header `Authorization: GenieKey <key>`), whose `data.onCallRecipients` are the emails of
//!   who is on call now.
//!
//! The person matches by email. Answers are cached for `[on_call] cache` (a minute by
//! default). Fail closed: an API that cannot be reached or answers something else is no
//! proof, and the request goes to its approvers as any other (the refusal to auto-approve is
//! audited by the caller).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::clock::Clock;
use crate::config::{OnCallConfig, Schedule};
use latch_grant::workflow::OnCallProof;
use latch_grant::Millis;

/// Who is on call now in one schedule, as the provider said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// Their email.
    pub email: String,
    /// The provider's id for the entry (PagerDuty: the user id; Opsgenie: the email).
    pub who: String,
    /// Start and end of the entry, when the provider says (RFC 3339).
    pub start: Option<String>,
    /// End of the entry.
    pub end: Option<String>,
}

/// The on-call APIs, with a short cache.
#[derive(Debug)]
pub struct OnCall {
    http: reqwest::Client,
    config: OnCallConfig,
    cache: Mutex<HashMap<Schedule, (Vec<Shift>, Millis)>>,
}

impl OnCall {
    /// A client for `config`.
    #[must_use]
    pub fn new(config: OnCallConfig) -> OnCall {
        OnCall {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            config,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the person with `email` is on call in `schedule` now: the proof, or why not
    /// (`Err`: the API could not say — fail closed).
    ///
    /// # Errors
    /// The provider is not configured, unreachable, or answered something unreadable.
    pub async fn proof(
        &self,
        schedule: &Schedule,
        email: &str,
        clock: &dyn Clock,
    ) -> Result<Option<OnCallProof>, String> {
        let shifts = self.shifts(schedule, clock).await?;
        Ok(shifts
            .into_iter()
            .find(|s| s.email.eq_ignore_ascii_case(email))
            .map(|s| OnCallProof {
                schedule: schedule.to_string(),
                who: s.who,
                start: s.start,
                end: s.end,
            }))
    }

    async fn shifts(&self, schedule: &Schedule, clock: &dyn Clock) -> Result<Vec<Shift>, String> {
        let now = clock.now();
        if let Some((shifts, until)) = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(schedule)
        {
            if *until > now {
                return Ok(shifts.clone());
            }
        }
        let shifts = match schedule {
            Schedule::PagerDuty(id) => self.pagerduty(id).await?,
            Schedule::Opsgenie(name) => self.opsgenie(name).await?,
        };
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                schedule.clone(),
                (shifts.clone(), now.saturating_add(self.config.cache_ms)),
            );
        Ok(shifts)
    }

    async fn get(&self, url: &str, auth: String, accept: Option<&str>) -> Result<Value, String> {
        let mut req = self.http.get(url).header("Authorization", auth);
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        let resp = req.send().await.map_err(|e| e.without_url().to_string())?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        resp.json()
            .await
            .map_err(|e| format!("answered something that is not JSON: {}", e.without_url()))
    }

    async fn pagerduty(&self, id: &str) -> Result<Vec<Shift>, String> {
        let token = self
            .config
            .pagerduty_token
            .as_ref()
            .ok_or("PagerDuty is not configured ([on_call] pagerduty_token_env)")?;
        let url = format!(
            "{}/oncalls?schedule_ids%5B%5D={}&include%5B%5D=users&limit=100",
            self.config.pagerduty_api,
            urlencode(id)
        );
        let v = self
            .get(
                &url,
                format!("Token token={}", token.expose()),
                Some("application/vnd.pagerduty+json;version=2"),
            )
            .await
            .map_err(|e| format!("PagerDuty {e}"))?;
        let entries = v
            .get("oncalls")
            .and_then(Value::as_array)
            .ok_or("PagerDuty answered without `oncalls`")?;
        Ok(entries
            .iter()
            .filter(|e| {
                e.get("schedule")
                    .and_then(|s| s.get("id"))
                    .and_then(Value::as_str)
                    == Some(id)
            })
            .filter_map(|e| {
                let user = e.get("user")?;
                Some(Shift {
                    email: user.get("email")?.as_str()?.to_owned(),
                    who: user.get("id")?.as_str()?.to_owned(),
                    start: e.get("start").and_then(Value::as_str).map(str::to_owned),
                    end: e.get("end").and_then(Value::as_str).map(str::to_owned),
                })
            })
            .collect())
    }

    async fn opsgenie(&self, name: &str) -> Result<Vec<Shift>, String> {
        let key = self
            .config
            .opsgenie_key
            .as_ref()
            .ok_or("Opsgenie is not configured ([on_call] opsgenie_key_env)")?;
        let url = format!(
            "{}/v2/schedules/{}/on-calls?scheduleIdentifierType=name&flat=true",
            self.config.opsgenie_api,
            urlencode(name)
        );
        let v = self
            .get(&url, format!("GenieKey {}", key.expose()), None)
            .await
            .map_err(|e| format!("Opsgenie {e}"))?;
        let who = v
            .get("data")
            .and_then(|d| d.get("onCallRecipients"))
            .and_then(Value::as_array)
            .ok_or("Opsgenie answered without `data.onCallRecipients`")?;
        Ok(who
            .iter()
            .filter_map(Value::as_str)
            .map(|email| Shift {
                email: email.to_owned(),
                who: email.to_owned(),
                start: None,
                end: None,
            })
            .collect())
    }
}

/// Percent-encode one path or query component.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(
            super::urlencode("Primary Schedule/x"),
            "Primary%20Schedule%2Fx"
        );
        assert_eq!(super::urlencode("PABC123"), "PABC123");
    }
}
