//! An in-process AWS Organizations for tests and benchmarks of the pacing: the SDK's HTTP
//! client is replaced ([`FakeOrganizations::sdk_config`]), so no socket is opened and a paused
//! tokio clock runs a long paced run at once.
//!
//! It keeps policies (with tags and targets) and answers the calls Latch's policy writes and
//! reads make (`CreatePolicy`, `UpdatePolicy`, `AttachPolicy`, `DetachPolicy`, `DeletePolicy`,
//! `ListPolicies`, `DescribePolicy`, `ListTargetsForPolicy`, `ListTagsForResource`,
//! `TagResource`, `UntagResource`), in AWS's JSON shapes. Like AWS, it throttles the policy
//! writes: a token bucket of its own (tokens refilled continuously, as floating point), and a
//! write beyond it is answered `400 TooManyRequestsException`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use latch_catalog::RequestRate;
use serde_json::{json, Value};
use tokio::time::Instant;

/// One policy the fake holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePolicy {
    /// `SERVICE_CONTROL_POLICY` or `RESOURCE_CONTROL_POLICY`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Document.
    pub content: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Roots, OUs and accounts it is attached to.
    pub targets: BTreeSet<String>,
}

#[derive(Debug)]
struct Throttle {
    rate: RequestRate,
    tokens: f64,
    at: Instant,
}

impl Throttle {
    fn admit(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        let burst = f64::from(self.rate.burst);
        self.tokens = (self.tokens + elapsed * f64::from(self.rate.per_second)).min(burst);
        // A hair of tolerance for the clock's rounding: a request exactly on time is on time.
        if self.tokens >= 1.0 - 1e-6 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug, Default)]
struct State {
    policies: BTreeMap<String, FakePolicy>,
    next_id: u64,
    throttle: Option<Throttle>,
    calls: BTreeMap<String, u64>,
    throttled: u64,
    write_times: Vec<Instant>,
}

/// The fake: clone it freely, every clone sees the same organization.
#[derive(Debug, Clone)]
pub struct FakeOrganizations {
    state: Arc<Mutex<State>>,
    latency: Duration,
}

use super::POLICY_WRITES as WRITES;
use latch_contract::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE};

fn answer(status: u16, body: &Value) -> Result<HttpResponse, ConnectorError> {
    let code = StatusCode::try_from(status).map_err(|e| ConnectorError::other(e.into(), None))?;
    let mut resp = HttpResponse::new(code, SdkBody::from(body.to_string()));
    resp.headers_mut()
        .insert("content-type", "application/x-amz-json-1.1");
    Ok(resp)
}

/// An error in AWS Organizations' JSON shape.
pub fn error_body(code: &str, message: &str) -> Value {
    json!({"__type": code, "Message": message})
}

fn summary(id: &str, p: &FakePolicy) -> Value {
    json!({
        "Id": id,
        "Arn": format!("arn:aws:organizations::123456789012:policy/o-fake/{}/{id}",
            p.kind.to_ascii_lowercase()),
        "Name": p.name,
        "Description": p.description,
        "Type": p.kind,
        "AwsManaged": false,
    })
}

fn target_type(t: &str) -> &'static str {
    if t.starts_with("r-") {
        "ROOT"
    } else if t.starts_with("ou-") {
        "ORGANIZATIONAL_UNIT"
    } else {
        "ACCOUNT"
    }
}

impl FakeOrganizations {
    /// An empty organization that throttles policy writes at `rate` (none: never).
    pub fn new(rate: Option<RequestRate>) -> FakeOrganizations {
        let state = State {
            throttle: rate.map(|rate| Throttle {
                rate,
                tokens: f64::from(rate.burst),
                at: Instant::now(),
            }),
            ..State::default()
        };
        FakeOrganizations {
            state: Arc::new(Mutex::new(state)),
            latency: Duration::ZERO,
        }
    }

    /// The same fake, answering each call after `latency` (tokio time).
    #[must_use]
    pub fn with_latency(mut self, latency: Duration) -> FakeOrganizations {
        self.latency = latency;
        self
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut s)
    }

    /// Adds a policy (a Latch one when `managed`), attached to `targets`; returns its id.
    pub fn add_policy(
        &self,
        name: &str,
        content: &str,
        managed: bool,
        targets: &[String],
    ) -> String {
        self.with(|s| {
            s.next_id += 1;
            let id = format!("p-fake{:08}", s.next_id);
            let mut tags = BTreeMap::new();
            if managed {
                tags.insert(MANAGED_TAG_KEY.to_owned(), MANAGED_TAG_VALUE.to_owned());
            }
            s.policies.insert(
                id.clone(),
                FakePolicy {
                    kind: "SERVICE_CONTROL_POLICY".to_owned(),
                    name: name.to_owned(),
                    description: String::new(),
                    content: content.to_owned(),
                    tags,
                    targets: targets.iter().cloned().collect(),
                },
            );
            id
        })
    }

    /// The policies, by id.
    pub fn policies(&self) -> BTreeMap<String, FakePolicy> {
        self.with(|s| s.policies.clone())
    }

    /// Calls answered (throttled ones included), by operation.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.with(|s| s.calls.clone())
    }

    /// Writes refused as too fast.
    pub fn throttled(&self) -> u64 {
        self.with(|s| s.throttled)
    }

    /// When each admitted policy write arrived (tokio time).
    pub fn write_times(&self) -> Vec<Instant> {
        self.with(|s| s.write_times.clone())
    }

    /// SDK configuration whose every call lands here (test credentials, no SDK retries).
    pub fn sdk_config(&self) -> SdkConfig {
        let me = self.clone();
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                super::ACCESS_KEY,
                super::SECRET_KEY,
                None,
                None,
                "fake",
            )))
            .http_client(http_client_fn(move |_, _| {
                SharedHttpConnector::new(me.clone())
            }))
            .retry_config(crate::connect::retry_config(1))
            .build()
    }

    /// An [`Aws`](crate::Aws) on this fake, pacing its writes with `pacer` in account
    /// 123456789012.
    pub fn aws(&self, pacer: Arc<crate::pacing::Pacer>) -> crate::Aws {
        crate::Aws::from_sdk_config(self.sdk_config(), true, 4)
            .with_pacer(pacer)
            .with_account("123456789012")
    }

    fn handle(&self, op: &str, input: &Value) -> (u16, Value) {
        let now = Instant::now();
        self.with(|s| {
            *s.calls.entry(op.to_owned()).or_default() += 1;
            if WRITES.contains(&op) {
                if let Some(t) = s.throttle.as_mut() {
                    if !t.admit(now) {
                        s.throttled += 1;
                        return (
                            400,
                            error_body("TooManyRequestsException", "Rate exceeded"),
                        );
                    }
                }
                s.write_times.push(now);
            }
            let text = |k: &str| input.get(k).and_then(Value::as_str).unwrap_or_default();
            let not_found = || {
                (
                    400,
                    error_body("PolicyNotFoundException", "We can't find a policy with the PolicyId that you specified."),
                )
            };
            match op {
                "CreatePolicy" => {
                    if s.policies.values().any(|p| p.name == text("Name")) {
                        return (400, error_body("DuplicatePolicyException", "A policy with the same name already exists."));
                    }
                    s.next_id += 1;
                    let id = format!("p-fake{:08}", s.next_id);
                    let tags = input
                        .get("Tags")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|t| {
                                    Some((
                                        t.get("Key")?.as_str()?.to_owned(),
                                        t.get("Value")?.as_str()?.to_owned(),
                                    ))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let p = FakePolicy {
                        kind: text("Type").to_owned(),
                        name: text("Name").to_owned(),
                        description: text("Description").to_owned(),
                        content: text("Content").to_owned(),
                        tags,
                        targets: BTreeSet::new(),
                    };
                    let body = json!({"Policy": {"PolicySummary": summary(&id, &p), "Content": p.content}});
                    s.policies.insert(id, p);
                    (200, body)
                }
                "UpdatePolicy" => {
                    let Some(p) = s.policies.get_mut(text("PolicyId")) else {
                        return not_found();
                    };
                    if let Some(c) = input.get("Content").and_then(Value::as_str) {
                        c.clone_into(&mut p.content);
                    }
                    if let Some(d) = input.get("Description").and_then(Value::as_str) {
                        d.clone_into(&mut p.description);
                    }
                    let body = json!({"Policy": {"PolicySummary": summary(text("PolicyId"), p), "Content": p.content}});
                    (200, body)
                }
                "AttachPolicy" | "DetachPolicy" => {
                    let Some(p) = s.policies.get_mut(text("PolicyId")) else {
                        return not_found();
                    };
                    let target = text("TargetId").to_owned();
                    if op == "AttachPolicy" {
                        if !p.targets.insert(target) {
                            return (400, error_body("DuplicatePolicyAttachmentException", "The selected policy is already attached to the specified target."));
                        }
                    } else if !p.targets.remove(&target) {
                        return (400, error_body("PolicyNotAttachedException", "The policy isn't attached to the specified target in the specified root."));
                    }
                    (200, json!({}))
                }
                "DeletePolicy" => {
                    match s.policies.get(text("PolicyId")) {
                        None => return not_found(),
                        Some(p) if !p.targets.is_empty() => {
                            return (400, error_body("PolicyInUseException", "The policy is attached to one or more entities."))
                        }
                        Some(_) => {}
                    }
                    s.policies.remove(text("PolicyId"));
                    (200, json!({}))
                }
                "ListPolicies" => {
                    let list: Vec<Value> = s
                        .policies
                        .iter()
                        .filter(|(_, p)| p.kind == text("Filter"))
                        .map(|(id, p)| summary(id, p))
                        .collect();
                    (200, json!({"Policies": list}))
                }
                "DescribePolicy" => match s.policies.get(text("PolicyId")) {
                    None => not_found(),
                    Some(p) => (
                        200,
                        json!({"Policy": {"PolicySummary": summary(text("PolicyId"), p), "Content": p.content}}),
                    ),
                },
                "ListTargetsForPolicy" => match s.policies.get(text("PolicyId")) {
                    None => not_found(),
                    Some(p) => {
                        let list: Vec<Value> = p
                            .targets
                            .iter()
                            .map(|t| json!({"TargetId": t, "Arn": format!("arn:aws:organizations::123456789012:target/{t}"), "Name": t, "Type": target_type(t)}))
                            .collect();
                        (200, json!({"Targets": list}))
                    }
                },
                "ListTagsForResource" => match s.policies.get(text("ResourceId")) {
                    None => (400, error_body("TargetNotFoundException", "no such resource")),
                    Some(p) => {
                        let list: Vec<Value> = p
                            .tags
                            .iter()
                            .map(|(k, v)| json!({"Key": k, "Value": v}))
                            .collect();
                        (200, json!({"Tags": list}))
                    }
                },
                "TagResource" | "UntagResource" => {
                    let Some(p) = s.policies.get_mut(text("ResourceId")) else {
                        return (400, error_body("TargetNotFoundException", "no such resource"));
                    };
                    if op == "TagResource" {
                        for t in input.get("Tags").and_then(Value::as_array).into_iter().flatten() {
                            if let (Some(k), Some(v)) = (
                                t.get("Key").and_then(Value::as_str),
                                t.get("Value").and_then(Value::as_str),
                            ) {
                                p.tags.insert(k.to_owned(), v.to_owned());
                            }
                        }
                    } else {
                        for k in input.get("TagKeys").and_then(Value::as_array).into_iter().flatten() {
                            if let Some(k) = k.as_str() {
                                p.tags.remove(k);
                            }
                        }
                    }
                    (200, json!({}))
                }
                other => (
                    400,
                    error_body("UnsupportedAPIEndpointException", &format!("the fake does not answer {other}")),
                ),
            }
        })
    }
}

impl HttpConnector for FakeOrganizations {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let op = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_owned();
        let input: Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let me = self.clone();
        let latency = self.latency;
        HttpConnectorFuture::new(async move {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let (status, body) = me.handle(&op, &input);
            answer(status, &body)
        })
    }
}
