//! A fake of IAM's Access Advisor (`GenerateServiceLastAccessedDetails`,
//! `GetServiceLastAccessedDetails`), which moto does not implement: it answers those two
//! operations in AWS's documented query-protocol response shapes (IAM API Reference) from a
//! fixture, through [`super::FaultProxy::start_with`], and lets every other call reach moto.
//!
//! Like AWS, a job is `IN_PROGRESS` for a while before it is `COMPLETED`, a completed report
//! comes in pages joined by `Marker`, a job can be `FAILED` with an error code and message, and
//! a busy IAM answers `Throttling`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use super::proxy::Responder;

/// One service of an identity's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeService {
    /// `s3`.
    pub namespace: String,
    /// The identity's last attempt on the service (ISO 8601), if any.
    pub last_authenticated: Option<String>,
    /// Tracked actions (`GetObject`, without the prefix, as AWS names them) and when each was
    /// last attempted.
    pub actions: Vec<(String, String)>,
}

/// What the fake answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvisorFixture {
    /// Per identity ARN, its services. An identity not listed gets an empty report.
    pub reports: BTreeMap<String, Vec<FakeService>>,
    /// Identities whose job fails.
    pub failing: BTreeSet<String>,
    /// How many times a job answers `IN_PROGRESS` before it completes.
    pub polls_before_done: u32,
    /// Services per page of a completed report.
    pub page_size: usize,
    /// Every this many calls (either operation, counting from 1) is answered `Throttling`
    /// (0: never).
    pub throttle_every: u64,
    /// The report's completion date (ISO 8601).
    pub completed_at: String,
}

/// What the fake saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvisorStats {
    /// Jobs started, per identity.
    pub jobs: BTreeMap<String, u64>,
    /// `GetServiceLastAccessedDetails` calls answered (all pages and polls).
    pub gets: u64,
    /// Calls answered `Throttling`.
    pub throttled: u64,
    /// The granularity each job asked for.
    pub granularity: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct State {
    calls: u64,
    /// job id → (identity, polls so far).
    jobs: BTreeMap<String, (String, u32)>,
    stats: AdvisorStats,
}

/// The fake; [`AccessAdvisor::responder`] plugs it into a proxy.
#[derive(Debug, Clone)]
pub struct AccessAdvisor {
    fixture: Arc<AdvisorFixture>,
    state: Arc<Mutex<State>>,
}

const NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Percent-decoding of a form value (`+` is a space).
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(v) = hex {
                    out.push(v);
                    i += 2;
                } else {
                    out.push(b);
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (form_decode(k), form_decode(v)))
        .collect()
}

fn http(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn error(status: &str, code: &str, message: &str) -> Vec<u8> {
    http(
        status,
        &format!(
            r#"<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>fake-advisor</RequestId></ErrorResponse>"#,
            xml_escape(message)
        ),
    )
}

fn ok(op: &str, result: &str) -> Vec<u8> {
    http(
        "200 OK",
        &format!(
            r#"<{op}Response xmlns="{NS}"><{op}Result>{result}</{op}Result><ResponseMetadata><RequestId>fake-advisor</RequestId></ResponseMetadata></{op}Response>"#
        ),
    )
}

impl AccessAdvisor {
    /// A fake answering from `fixture`.
    pub fn new(fixture: AdvisorFixture) -> AccessAdvisor {
        AccessAdvisor {
            fixture: Arc::new(fixture),
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    /// What it saw so far.
    pub fn stats(&self) -> AdvisorStats {
        self.state
            .lock()
            .map(|s| s.stats.clone())
            .unwrap_or_default()
    }

    /// The proxy hook: answers the two Access Advisor operations, forwards the rest.
    pub fn responder(&self) -> Responder {
        let me = self.clone();
        Arc::new(move |op: &str, body: &[u8]| me.answer(op, body))
    }

    fn answer(&self, op: &str, body: &[u8]) -> Option<Vec<u8>> {
        if op != "GenerateServiceLastAccessedDetails" && op != "GetServiceLastAccessedDetails" {
            return None;
        }
        let args = form(body);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.calls += 1;
        let f = &self.fixture;
        if f.throttle_every > 0 && state.calls % f.throttle_every == 0 {
            state.stats.throttled += 1;
            return Some(error("400 Bad Request", "Throttling", "Rate exceeded"));
        }
        if op == "GenerateServiceLastAccessedDetails" {
            let Some(arn) = args.get("Arn") else {
                return Some(error(
                    "400 Bad Request",
                    "ValidationError",
                    "1 validation error detected: Value null at 'arn' failed to satisfy constraint: Member must not be null",
                ));
            };
            let id = format!("job-{:08}", state.jobs.len() + 1);
            state.jobs.insert(id.clone(), (arn.clone(), 0));
            *state.stats.jobs.entry(arn.clone()).or_default() += 1;
            let granularity = args
                .get("Granularity")
                .cloned()
                .unwrap_or_else(|| "SERVICE_LEVEL".to_owned());
            state.stats.granularity.insert(granularity);
            return Some(ok(op, &format!("<JobId>{id}</JobId>")));
        }
        state.stats.gets += 1;
        let job = args.get("JobId").cloned().unwrap_or_default();
        let Some((arn, polls)) = state.jobs.get_mut(&job) else {
            return Some(error(
                "404 Not Found",
                "NoSuchEntity",
                &format!("The job {job} does not exist."),
            ));
        };
        let created = "2026-12-06T09:59:58Z";
        if *polls < f.polls_before_done {
            *polls += 1;
            return Some(ok(
                op,
                &format!(
                    "<JobStatus>IN_PROGRESS</JobStatus><JobType>ACTION_LEVEL</JobType><JobCreationDate>{created}</JobCreationDate><ServicesLastAccessed/><IsTruncated>false</IsTruncated>"
                ),
            ));
        }
        let arn = arn.clone();
        if f.failing.contains(&arn) {
            return Some(ok(
                op,
                &format!(
                    "<JobStatus>FAILED</JobStatus><JobType>ACTION_LEVEL</JobType><JobCreationDate>{created}</JobCreationDate><JobCompletionDate>{}</JobCompletionDate><ServicesLastAccessed/><Error><Message>An internal error occurred.</Message><Code>ServiceFailure</Code></Error>",
                    f.completed_at
                ),
            ));
        }
        let services = f.reports.get(&arn).cloned().unwrap_or_default();
        let start: usize = args
            .get("Marker")
            .and_then(|m| m.strip_prefix("page-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let size = f.page_size.max(1);
        let end = (start + size).min(services.len());
        let mut members = String::new();
        for s in services.get(start..end).unwrap_or_default() {
            let _ = write!(
                members,
                "<member><ServiceName>{} service</ServiceName><ServiceNamespace>{}</ServiceNamespace>",
                xml_escape(&s.namespace),
                xml_escape(&s.namespace)
            );
            match &s.last_authenticated {
                Some(t) => {
                    let _ = write!(
                        members,
                        "<LastAuthenticated>{t}</LastAuthenticated><LastAuthenticatedEntity>{}</LastAuthenticatedEntity><LastAuthenticatedRegion>us-east-1</LastAuthenticatedRegion><TotalAuthenticatedEntities>1</TotalAuthenticatedEntities>",
                        xml_escape(&arn)
                    );
                }
                None => {
                    members.push_str("<TotalAuthenticatedEntities>0</TotalAuthenticatedEntities>")
                }
            }
            if !s.actions.is_empty() {
                members.push_str("<TrackedActionsLastAccessed>");
                for (name, at) in &s.actions {
                    let _ = write!(
                        members,
                        "<member><ActionName>{}</ActionName><LastAccessedEntity>{}</LastAccessedEntity><LastAccessedTime>{at}</LastAccessedTime><LastAccessedRegion>us-east-1</LastAccessedRegion></member>",
                        xml_escape(name),
                        xml_escape(&arn)
                    );
                }
                members.push_str("</TrackedActionsLastAccessed>");
            }
            members.push_str("</member>");
        }
        let more = end < services.len();
        let marker = if more {
            format!("<Marker>page-{end}</Marker>")
        } else {
            String::new()
        };
        Some(ok(
            op,
            &format!(
                "<JobStatus>COMPLETED</JobStatus><JobType>ACTION_LEVEL</JobType><JobCreationDate>{created}</JobCreationDate><JobCompletionDate>{}</JobCompletionDate><ServicesLastAccessed>{members}</ServicesLastAccessed><IsTruncated>{more}</IsTruncated>{marker}",
                f.completed_at
            ),
        ))
    }
}
