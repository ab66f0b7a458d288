//! Streaming the audit log to SIEM sinks (`[[siem]]`), at least once and in order per sink.
//!
//! The store keeps one cursor per sink: the last entry the sink acknowledged (an outbox as a
//! cursor, not copies of the log). The leader (the server running the scheduler) reads the
//! entries after each sink's cursor, at most `batch` at a time, sends them as OCSF events and
//! moves the cursor forward once the sink answers 2xx — a compare-and-set, so two servers
//! delivering during a change of leader never move it backwards. A crash between the sink's
//! answer and the cursor's move sends those entries again: receivers de-duplicate by the
//! entry's hash (`metadata.uid`).
//!
//! What a sink answers decides what happens next:
//! - 2xx: delivered; the cursor moves past the batch.
//! - a refusal — a 4xx other than 401, 403, 404, 408 and 429, which say nothing about the
//!   entries (credentials, the URL, time, load) — is about the entries: a refused batch is
//!   sent again one entry at a time to find the one refused, and an entry refused
//!   `max_attempts` times becomes a dead letter (kept in the store, the entry itself stays
//!   in the log) and delivery moves on;
//! - anything else (5xx, 429, the other 4xx above, a redirect, a network error or timeout)
//!   is retried forever, with exponential backoff (doubling from `retry_min_ms`, capped at
//!   `retry_max_ms`), the order kept: nothing after it is sent first.
//!
//! Metrics: `latch_siem_lag{sink}` (the log's head minus the sink's cursor, on every server),
//! `latch_siem_delivered_total{sink}` (entries), `latch_siem_failed_total{sink}` (failed
//! requests) and `latch_siem_dead_letters_total{sink}`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac as _};
use latch_grant::audit;
use latch_grant::AuditRecord;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::config::{SiemSink, SiemTarget};
use crate::service::Core;
use Kinds::{Any, Exact, Prefix, Suffix};

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.1.0";

/// The Splunk HTTP Event Collector endpoint for JSON events, under a sink's base URL.
pub const SPLUNK_EVENT_PATH: &str = "/services/collector/event";

/// An OCSF event class, with its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    /// `class_uid`.
    pub uid: i64,
    /// `class_name`.
    pub name: &'static str,
    /// `category_uid`.
    pub category_uid: i64,
    /// `category_name`.
    pub category_name: &'static str,
}

/// Account Change (3001, Identity & Access Management): "a user/role being created, changed,
/// deleted, renamed, disabled, enabled, locked out or unlocked"; its activities include Attach
/// Policy (7) and Detach Policy (8). <https://schema.ocsf.io/1.1.0/classes/account_change>
pub const ACCOUNT_CHANGE: Class = Class {
    uid: 3001,
    name: "Account Change",
    category_uid: 3,
    category_name: "Identity & Access Management",
};

/// Authorize Session (3003, Identity & Access Management): "privileges or groups assigned to a
/// new user session"; activity Assign Privileges (1). OCSF has no class for an approval
/// workflow: this is the documented IAM class about authorizing privileges for a user's
/// sessions, which is what an approval does (and a denial or a refusal does not).
/// <https://schema.ocsf.io/1.1.0/classes/authorize_session>
pub const AUTHORIZE_SESSION: Class = Class {
    uid: 3003,
    name: "Authorize Session",
    category_uid: 3,
    category_name: "Identity & Access Management",
};

/// Entity Management (3004, Identity & Access Management): managed entities created, read,
/// updated, deleted (Create 1, Delete 4): the API tokens.
/// <https://schema.ocsf.io/1.1.0/classes/entity_management>
pub const ENTITY_MANAGEMENT: Class = Class {
    uid: 3004,
    name: "Entity Management",
    category_uid: 3,
    category_name: "Identity & Access Management",
};

/// Base Event (0, Uncategorized): "could be used to log events that are not otherwise defined
/// by the schema" (leadership changes, offers, anything new). <https://schema.ocsf.io/1.1.0/classes/base_event>
pub const BASE_EVENT: Class = Class {
    uid: 0,
    name: "Base Event",
    category_uid: 0,
    category_name: "Uncategorized",
};

/// Which entries a row of [`MAPPING`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kinds {
    /// This kind.
    Exact(&'static str),
    /// Kinds starting so (`grant.`).
    Prefix(&'static str),
    /// Kinds ending so (`.refused`).
    Suffix(&'static str),
    /// Every kind.
    Any,
}

impl Kinds {
    fn matches(self, kind: &str) -> bool {
        match self {
            Kinds::Exact(k) => kind == k,
            Kinds::Prefix(p) => kind.starts_with(p),
            Kinds::Suffix(s) => kind.ends_with(s),
            Kinds::Any => true,
        }
    }
}

/// OCSF `status_id`: 0 Unknown, 1 Success, 2 Failure.
const UNKNOWN: (i64, &str) = (0, "Unknown");
const SUCCESS: (i64, &str) = (1, "Success");
const FAILURE: (i64, &str) = (2, "Failure");
/// OCSF `severity_id`: 1 Informational, 2 Low, 3 Medium.
const INFO: (i64, &str) = (1, "Informational");
const LOW: (i64, &str) = (2, "Low");
const MEDIUM: (i64, &str) = (3, "Medium");
/// OCSF activity 99: "Other", the entry's kind then goes in `activity_name`.
const OTHER: (i64, &str) = (99, "Other");

/// One row of [`MAPPING`]: the entries, their class, activity (`activity_id`, name), status
/// and severity.
pub type Row = (
    Kinds,
    Class,
    (i64, &'static str),
    (i64, &'static str),
    (i64, &'static str),
);

/// The one table from audit entry kinds to OCSF 1.1.0 events: the first row whose kinds match
/// an entry decides its class, activity, status and severity (refusals first: `request.refused`
/// is a refusal, not a request). Grants, extensions, revocations
/// and the directory are Account Change (a grant's tag attaches the bundle's permissions to the
/// role; its end detaches them); requests, approvals and refusals are Authorize Session; API
/// tokens are Entity Management; anything else is a Base Event.
#[rustfmt::skip]
pub const MAPPING: &[Row] = &[
    // kinds                                class              activity                  status   severity
    (Suffix(".refused"),                    AUTHORIZE_SESSION, OTHER,                    FAILURE, INFO),
    (Suffix(".rejected"),                   AUTHORIZE_SESSION, OTHER,                    FAILURE, LOW),
    (Exact("grant.applied"),                ACCOUNT_CHANGE,    (7, "Attach Policy"),     SUCCESS, INFO),
    (Exact("drift.tag_restored"),           ACCOUNT_CHANGE,    (7, "Attach Policy"),     SUCCESS, INFO),
    (Exact("grant.expired"),                ACCOUNT_CHANGE,    (8, "Detach Policy"),     SUCCESS, INFO),
    (Exact("grant.revoked"),                ACCOUNT_CHANGE,    (8, "Detach Policy"),     SUCCESS, INFO),
    (Exact("grant.relinquished"),           ACCOUNT_CHANGE,    (8, "Detach Policy"),     SUCCESS, INFO),
    (Exact("drift.tag_removed"),            ACCOUNT_CHANGE,    (8, "Detach Policy"),     SUCCESS, INFO),
    (Exact("grant.stuck"),                  ACCOUNT_CHANGE,    OTHER,                    FAILURE, LOW),
    (Prefix("grant."),                      ACCOUNT_CHANGE,    OTHER,                    SUCCESS, INFO),
    (Prefix("drift."),                      ACCOUNT_CHANGE,    OTHER,                    SUCCESS, INFO),
    (Exact("directory.person_added"),       ACCOUNT_CHANGE,    (1, "Create"),            SUCCESS, INFO),
    (Exact("directory.person_reactivated"), ACCOUNT_CHANGE,    (2, "Enable"),            SUCCESS, INFO),
    (Exact("directory.person_deactivated"), ACCOUNT_CHANGE,    (5, "Disable"),           SUCCESS, INFO),
    (Exact("directory.person_removed"),     ACCOUNT_CHANGE,    (6, "Delete"),            SUCCESS, INFO),
    (Exact("directory.sync_failed"),        ACCOUNT_CHANGE,    OTHER,                    FAILURE, LOW),
    (Prefix("directory."),                  ACCOUNT_CHANGE,    OTHER,                    SUCCESS, INFO),
    (Exact("request.approved"),             AUTHORIZE_SESSION, (1, "Assign Privileges"), SUCCESS, INFO),
    (Exact("request.break_glass"),          AUTHORIZE_SESSION, (1, "Assign Privileges"), SUCCESS, MEDIUM),
    (Exact("request.denied"),               AUTHORIZE_SESSION, (1, "Assign Privileges"), FAILURE, INFO),
    (Exact("request.expired"),              AUTHORIZE_SESSION, OTHER,                    FAILURE, INFO),
    (Exact("request.cancelled"),            AUTHORIZE_SESSION, OTHER,                    FAILURE, INFO),
    (Prefix("request."),                    AUTHORIZE_SESSION, OTHER,                    UNKNOWN, INFO),
    (Prefix("approval."),                   AUTHORIZE_SESSION, OTHER,                    SUCCESS, INFO),
    (Exact("token.created"),                ENTITY_MANAGEMENT, (1, "Create"),            SUCCESS, INFO),
    (Exact("token.revoked"),                ENTITY_MANAGEMENT, (4, "Delete"),            SUCCESS, INFO),
    (Any,                                   BASE_EVENT,        OTHER,                    SUCCESS, INFO),
];

/// The row of [`MAPPING`] for `kind`.
#[must_use]
pub fn mapping(kind: &str) -> Row {
    MAPPING
        .iter()
        .copied()
        .find(|row| row.0.matches(kind))
        .unwrap_or((Kinds::Any, BASE_EVENT, OTHER, SUCCESS, INFO))
}

/// Who an entry is about, as OCSF's `user` (the target): the identity a request or grant is
/// for, the directory's person, the token's holder, else the subject.
fn target(entry: &AuditRecord) -> Option<String> {
    ["identity", "user_name", "for", "requester"]
        .iter()
        .find_map(|k| entry.details.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
        .or_else(|| entry.subject.clone())
}

/// One audit entry as an OCSF event. The entry itself, exactly as `latch audit export` writes
/// it (canonical JSON, its `hash` included), is OCSF's `raw_data`; `metadata.uid` is its hash
/// (the key to de-duplicate by) and `metadata.sequence` its `seq`.
#[must_use]
pub fn ocsf_event(entry: &AuditRecord) -> Value {
    let (_, class, (activity_id, activity), (status_id, status), (severity_id, severity)) =
        mapping(&entry.kind);
    let activity_name = if activity_id == OTHER.0 {
        entry.kind.as_str()
    } else {
        activity
    };
    let mut event = json!({
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": class.category_uid,
        "category_name": class.category_name,
        "class_uid": class.uid,
        "class_name": class.name,
        "type_uid": class.uid.saturating_mul(100).saturating_add(activity_id),
        "type_name": format!("{}: {activity_name}", class.name),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "time": entry.at,
        "message": entry.kind,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "Latch", "vendor_name": "Latch"},
            "log_name": "audit",
            "uid": entry.hash,
            "sequence": entry.seq,
        },
        "raw_data": audit::to_json_line(entry),
    });
    if let Some(obj) = event.as_object_mut() {
        if let Some(actor) = &entry.actor {
            obj.insert("actor".into(), json!({"user": {"name": actor}}));
        }
        if let Some(user) = target(entry) {
            obj.insert("user".into(), json!({"name": user}));
        }
    }
    event
}

/// `sha256=<hex HMAC-SHA256 of body>`: the `X-Latch-Signature` of a webhook request.
#[must_use]
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(), // HMAC accepts keys of any length
    };
    mac.update(body);
    format!("sha256={}", audit::hex(&mac.finalize().into_bytes()))
}

/// A request to a sink: where, its headers (secrets included: never log them) and its body.
#[derive(Clone)]
pub struct Request {
    /// The URL posted to.
    pub url: String,
    /// Headers.
    pub headers: Vec<(&'static str, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("url", &self.url)
            .field("bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The request delivering `entries` to `sink` at `now` (Unix ms).
///
/// - webhook: a JSON array of OCSF events, `X-Latch-Signature: sha256=<hex HMAC-SHA256 of the
///   raw body with the secret>` and `X-Latch-Timestamp` (Unix seconds when sent);
/// - Splunk: the HTTP Event Collector's JSON event protocol, `POST <url>/services/collector/event`
///   with `Authorization: Splunk <token>` and a body of event objects one after another (here
///   one per line), each `{"time": <epoch seconds>, "source", "sourcetype", "event"}`; HEC
///   answers 200 `{"text":"Success","code":0}` when it took them all, an error status (400
///   "Invalid data format", 401/403 token, 503 busy) otherwise. See "Format events for HTTP
///   Event Collector" and "HTTP Event Collector REST API endpoints" in Splunk's documentation:
///   <https://help.splunk.com/splunk-enterprise/get-data-in/collect-http-event-data/format-events-for-http-event-collector>,
///   <https://help.splunk.com/en/splunk-enterprise/get-data-in/collect-http-event-data/http-event-collector-rest-api-endpoints>.
#[must_use]
pub fn request(sink: &SiemSink, entries: &[AuditRecord], now: i64) -> Request {
    let events: Vec<Value> = entries.iter().map(ocsf_event).collect();
    match &sink.target {
        SiemTarget::Webhook { secret } => {
            let body = serde_json::to_vec(&events).unwrap_or_default();
            Request {
                url: sink.url.clone(),
                headers: vec![
                    ("content-type", "application/json".to_owned()),
                    ("x-latch-signature", signature(secret.expose(), &body)),
                    ("x-latch-timestamp", now.div_euclid(1000).to_string()),
                ],
                body,
            }
        }
        SiemTarget::Splunk { token } => {
            let lines: Vec<String> = entries
                .iter()
                .zip(events)
                .map(|(entry, event)| {
                    json!({
                        "time": entry.at as f64 / 1000.0,
                        "sourcetype": "latch:audit",
                        "source": "latch",
                        "event": event,
                    })
                    .to_string()
                })
                .collect();
            let url = if sink.url.ends_with(SPLUNK_EVENT_PATH) {
                sink.url.clone()
            } else {
                format!("{}{SPLUNK_EVENT_PATH}", sink.url)
            };
            Request {
                url,
                headers: vec![
                    ("content-type", "application/json".to_owned()),
                    ("authorization", format!("Splunk {}", token.expose())),
                ],
                body: lines.join("\n").into_bytes(),
            }
        }
    }
}

/// What a sink made of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: it has them.
    Delivered,
    /// It refused them (a 4xx about the entries): counted toward `max_attempts`.
    Refused(String),
    /// Anything else: retried with backoff, never given up on.
    Failed(String),
}

/// Classify an HTTP answer: 2xx delivered; 401, 403, 404, 408 and 429 (credentials, the URL,
/// time, load: nothing about the entries) and everything not 4xx failed; other 4xx refused.
#[must_use]
pub fn outcome(status: u16, body: &str) -> Outcome {
    let clipped: String = body.chars().take(200).collect();
    let what = format!("HTTP {status}: {}", clipped.trim());
    match status {
        200..=299 => Outcome::Delivered,
        401 | 403 | 404 | 408 | 429 => Outcome::Failed(what),
        400..=499 => Outcome::Refused(what),
        _ => Outcome::Failed(what),
    }
}

async fn send(client: &reqwest::Client, req: Request) -> Outcome {
    let mut builder = client.post(&req.url);
    for (name, value) in &req.headers {
        builder = builder.header(*name, value);
    }
    match builder.body(req.body).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            outcome(status, &text)
        }
        // The error names the URL, never a header: no secret in it.
        Err(e) => Outcome::Failed(format!("request failed: {e}")),
    }
}

/// What one pass over a sink did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Nothing to send (or not the leader).
    Idle,
    /// Moved forward: go on at once.
    Progress,
    /// Failed: wait before the next attempt.
    Failed,
}

/// Delivery to one sink, between passes.
#[derive(Debug)]
struct Delivery {
    sink: SiemSink,
    client: reqwest::Client,
    label: String,
    /// Consecutive failures, for the backoff.
    failures: u32,
    /// After a refused batch, the entries up to this `seq` go one at a time.
    single_until: i64,
}

impl Delivery {
    fn backoff(&self) -> Duration {
        let shift = self.failures.saturating_sub(1).min(30);
        let ms = self
            .sink
            .retry_min_ms
            .saturating_mul(1u64 << shift)
            .min(self.sink.retry_max_ms.max(self.sink.retry_min_ms));
        Duration::from_millis(ms)
    }

    async fn pass(&mut self, core: &Core) -> Result<Pass, String> {
        let store = core.store();
        let name = self.sink.name.as_str();
        let cursor = store.sink_cursor(name).await.map_err(|e| e.to_string())?;
        core.metrics
            .set_gauge(&crate::metrics::SIEM_LAG, &self.label, cursor.lag());
        if !core.metrics.is_leader() || cursor.lag() == 0 {
            return Ok(Pass::Idle);
        }
        let from = cursor.delivered_seq;
        let size = if from < self.single_until {
            1
        } else {
            self.sink.batch
        };
        let entries = store.audit(from, size).await.map_err(|e| e.to_string())?;
        let Some(last) = entries.last().map(|e| e.seq) else {
            return Ok(Pass::Idle);
        };
        // Entries after the cursor, without a gap (appends are serialised, so none is ever
        // seen before the ones it follows).
        let contiguous = entries
            .iter()
            .zip(from.saturating_add(1)..)
            .all(|(e, seq)| e.seq == seq);
        if !contiguous {
            return Err(format!("the entries read after {from} are not contiguous"));
        }
        let req = request(&self.sink, &entries, core.now());
        match send(&self.client, req).await {
            Outcome::Delivered => {
                let n = u64::try_from(entries.len()).unwrap_or(0);
                if store
                    .advance_sink(name, from, last, core.now())
                    .await
                    .map_err(|e| e.to_string())?
                {
                    core.metrics
                        .add(&crate::metrics::SIEM_DELIVERED, &self.label, n);
                    core.metrics.set_gauge(
                        &crate::metrics::SIEM_LAG,
                        &self.label,
                        cursor.head_seq.saturating_sub(last).max(0),
                    );
                }
                Ok(Pass::Progress)
            }
            Outcome::Refused(error) if entries.len() > 1 => {
                // Something in the batch is refused: find it, one entry at a time.
                core.metrics.inc(&crate::metrics::SIEM_FAILED, &self.label);
                tracing::warn!(sink = %name, after = from, error = %error, "siem: batch refused; sending its entries one at a time");
                self.single_until = last;
                store
                    .sink_failure(name, from, &error, false, core.now())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Pass::Failed)
            }
            Outcome::Refused(error) => {
                core.metrics.inc(&crate::metrics::SIEM_FAILED, &self.label);
                let attempts = store
                    .sink_failure(name, from, &error, true, core.now())
                    .await
                    .map_err(|e| e.to_string())?;
                if attempts >= self.sink.max_attempts {
                    tracing::error!(sink = %name, seq = last, attempts, error = %error, "siem: entry refused every attempt; kept as a dead letter, delivery moves on");
                    if store
                        .dead_letter(name, last, &error, core.now())
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        core.metrics
                            .inc(&crate::metrics::SIEM_DEAD_LETTERS, &self.label);
                    }
                    return Ok(Pass::Progress);
                }
                tracing::warn!(sink = %name, seq = last, attempts, error = %error, "siem: entry refused");
                Ok(Pass::Failed)
            }
            Outcome::Failed(error) => {
                core.metrics.inc(&crate::metrics::SIEM_FAILED, &self.label);
                tracing::warn!(sink = %name, after = from, error = %error, "siem: delivery failed; retrying");
                store
                    .sink_failure(name, from, &error, false, core.now())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Pass::Failed)
            }
        }
    }

    /// Deliver until dropped.
    async fn run(mut self, core: Arc<Core>) {
        let poll =
            Duration::from_millis(u64::try_from(core.config.poll_interval_ms).unwrap_or(500));
        loop {
            let wait = match self.pass(&core).await {
                Ok(Pass::Progress) => {
                    self.failures = 0;
                    continue;
                }
                Ok(Pass::Idle) => {
                    self.failures = 0;
                    poll
                }
                Ok(Pass::Failed) => {
                    self.failures = self.failures.saturating_add(1);
                    self.backoff()
                }
                Err(e) => {
                    tracing::warn!(sink = %self.sink.name, error = %e, "siem: store error");
                    self.failures = self.failures.saturating_add(1);
                    self.backoff().max(poll)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// Stream the audit log to every `[[siem]]` sink until `shutdown` resolves (each sink on its
/// own, so one that is down holds up no other). Every server reports each sink's lag; the
/// leader delivers.
pub async fn run(core: Arc<Core>, shutdown: impl Future<Output = ()> + Send) {
    let mut deliveries = Vec::new();
    for sink in &core.config.siem {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(sink.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("latch/", env!("CARGO_PKG_VERSION")))
            .build();
        match client {
            Ok(client) => deliveries.push(
                Delivery {
                    label: format!("sink=\"{}\"", sink.name),
                    sink: sink.clone(),
                    client,
                    failures: 0,
                    single_until: 0,
                }
                .run(Arc::clone(&core)),
            ),
            Err(e) => {
                tracing::error!(sink = %sink.name, error = %e, "siem: no HTTP client; nothing is delivered to this sink");
            }
        }
    }
    if deliveries.is_empty() {
        shutdown.await;
        return;
    }
    tokio::select! {
        () = shutdown => {}
        _ = futures::future::join_all(deliveries) => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn entry(kind: &str, details: Value) -> AuditRecord {
        audit::seal(
            None,
            &latch_grant::AuditEvent::new(1_800_000_000_500, kind)
                .actor("bob")
                .subject("r-1")
                .details(details),
        )
    }

    #[test]
    fn every_kind_has_one_documented_class() {
        let cases = [
            ("grant.applied", 3001, 7, 1),
            ("grant.revoked", 3001, 8, 1),
            ("grant.extended", 3001, 99, 1),
            ("directory.person_removed", 3001, 6, 1),
            ("request.approved", 3003, 1, 1),
            ("request.denied", 3003, 1, 2),
            ("request.refused", 3003, 99, 2),
            ("slack.rejected", 3003, 99, 2),
            ("token.created", 3004, 1, 1),
            ("scheduler.leader", 0, 99, 1),
        ];
        for (kind, class, activity, status) in cases {
            let (_, c, (a, _), (s, _), _) = mapping(kind);
            assert_eq!((c.uid, a, s), (class, activity, status), "{kind}");
        }
    }

    #[test]
    fn an_event_keeps_the_entry_whole() {
        let e = entry(
            "grant.applied",
            json!({"identity": "arn:aws:iam::111122223333:role/alice", "bundle": "iam-admin"}),
        );
        let ev = ocsf_event(&e);
        assert_eq!(ev["class_uid"], 3001);
        assert_eq!(ev["type_uid"], 300_107);
        assert_eq!(ev["activity_name"], "Attach Policy");
        assert_eq!(ev["time"], e.at);
        assert_eq!(ev["metadata"]["uid"], e.hash.as_str());
        assert_eq!(ev["metadata"]["sequence"], 1);
        assert_eq!(ev["actor"]["user"]["name"], "bob");
        assert_eq!(ev["user"]["name"], "arn:aws:iam::111122223333:role/alice");
        let raw = ev["raw_data"].as_str().unwrap();
        assert_eq!(audit::parse_json_lines(raw).unwrap(), vec![e]);
        let other = ocsf_event(&entry("offer.sent", json!({})));
        assert_eq!(other["activity_name"], "offer.sent");
        assert_eq!(other["type_uid"], 99);
    }

    #[test]
    fn answers_are_classified() {
        assert_eq!(outcome(204, ""), Outcome::Delivered);
        assert!(matches!(outcome(400, "bad"), Outcome::Refused(e) if e == "HTTP 400: bad"));
        assert!(matches!(outcome(413, ""), Outcome::Refused(_)));
        for status in [301, 401, 403, 404, 408, 429, 500, 503] {
            assert!(
                matches!(outcome(status, ""), Outcome::Failed(_)),
                "{status}"
            );
        }
    }

    #[test]
    fn requests_are_signed_and_shaped() {
        let sink = |target| SiemSink {
            name: "s".into(),
            target,
            url: "https://siem.example.com/hec".into(),
            max_attempts: 10,
            batch: 100,
            retry_min_ms: 1,
            retry_max_ms: 1,
            timeout_ms: 1,
        };
        let entries = [
            entry("grant.applied", json!({})),
            entry("grant.revoked", json!({})),
        ];
        let hook = request(
            &sink(SiemTarget::Webhook {
                secret: crate::config::Secret::new("k"),
            }),
            &entries,
            1_800_000_001_999,
        );
        let header = |r: &Request, n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(
            header(&hook, "x-latch-signature"),
            signature("k", &hook.body)
        );
        assert_eq!(header(&hook, "x-latch-timestamp"), "1800000001");
        let events: Vec<Value> = serde_json::from_slice(&hook.body).unwrap();
        assert_eq!(events.len(), 2);
        assert!(!format!("{hook:?}").contains("sha256="));

        let hec = request(
            &sink(SiemTarget::Splunk {
                token: crate::config::Secret::new("t0k"),
            }),
            &entries,
            0,
        );
        assert_eq!(
            hec.url,
            "https://siem.example.com/hec/services/collector/event"
        );
        assert_eq!(header(&hec, "authorization"), "Splunk t0k");
        let text = String::from_utf8(hec.body).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["sourcetype"], "latch:audit");
        assert_eq!(lines[0]["source"], "latch");
        assert_eq!(lines[0]["time"], 1_800_000_000.5);
        assert_eq!(lines[1]["event"]["class_uid"], 3001);
    }
}
