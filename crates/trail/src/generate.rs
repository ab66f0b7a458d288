//! Realistic CloudTrail logs for a set of principals: for the example organization and for
//! scale tests. Seeded and deterministic: the same activity, options and seed give the same
//! bytes.
//!
//! The input is an *activity* document (`activity.json`), one entry per principal ARN:
//!
//! ```json
//! {
//!   "arn:aws:iam::111122223333:role/ci-deploy": {
//!     "actions": ["s3:PutObject", "lambda:UpdateFunctionCode"],
//!     "daily_calls": 40,
//!     "last_active_days_ago": 0,
//!     "denied_actions": ["iam:CreateUser"],
//!     "sessions": [],
//!     "regions": ["eu-west-1"]
//!   }
//! }
//! ```
//!
//! - `actions`: IAM actions the principal uses, spelled as in the catalog (`s3:GetObject`).
//!   Every listed action is called at least once in the period the principal is active
//!   (when `daily_calls` allows); earlier entries are called more often. Actions that no
//!   CloudTrail event records (`iam:PassRole`, …, see [`crate::mapping::NOT_OBSERVABLE`])
//!   and wildcards are not generated and are listed in [`Summary::not_generated`].
//! - `daily_calls`: calls per active day (people vary it by ±25 % and rest at weekends).
//! - `last_active_days_ago`: days before the end date of the last activity; a value at
//!   least the number of days generated means no activity at all (a zombie).
//! - `denied_actions` (optional): actions attempted and denied now and then, and always
//!   on the last active day.
//! - `sessions` (optional): for Identity Center roles (`AWSReservedSSO_*`), the people
//!   (session names) who use the role; default `person@example.com`.
//! - `passes` (optional): for role-passing actions, the role each call passes.
//! - `acts_on` (optional): for actions whose requests name their resource
//!   ([`crate::resources`]: `sts:AssumeRole`, Lambda function calls), the ARN of the resource
//!   each call acts on. Such actions not listed here name nothing readable.
//! - `regions` (optional): regions of regional calls; default `us-east-1`. Global services
//!   (IAM, Organizations, CloudFront, Route 53) always log in `us-east-1`.
//!
//! Principal kinds come from the ARN: `:root` (root user), `:user/` (IAM user), `:role/`
//! (assumed-role sessions, with `sessionContext`; Identity Center roles by their
//! `AWSReservedSSO_` name). Unknown fields are ignored so the schema can grow.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::mapping::event_for_action;
use crate::record::PrincipalKind;
use crate::time::{Date, Timestamp, DAY};
use crate::usage::{ActionUsage, Outcome, UsageTable};

/// The activity document: principal ARN → what it does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Activity(pub BTreeMap<String, PrincipalActivity>);

/// What one principal does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalActivity {
    /// Actions used.
    pub actions: Vec<String>,
    /// Calls per active day.
    pub daily_calls: u32,
    /// Days before the end date of the last activity.
    pub last_active_days_ago: u32,
    /// Actions attempted and denied.
    #[serde(default)]
    pub denied_actions: Vec<String>,
    /// People using an Identity Center role (session names).
    #[serde(default)]
    pub sessions: Vec<String>,
    /// Regions of regional calls.
    #[serde(default)]
    pub regions: Vec<String>,
    /// For role-passing actions among `actions` ([`crate::passrole`]): the role each call
    /// passes, as the request names it — a role ARN or name, or for EC2 an instance profile
    /// ARN. Role-passing actions not listed here name no role in their requests.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub passes: BTreeMap<String, String>,
    /// For actions among `actions` whose requests name their resource
    /// ([`crate::resources`]): the ARN of the resource each call acts on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub acts_on: BTreeMap<String, String>,
}

/// A principal of the activity document that cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("activity for `{principal}`: {reason}")]
pub struct ActivityError {
    /// The principal ARN as written.
    pub principal: String,
    /// What is wrong.
    pub reason: String,
}

/// How much to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Number of days, ending with `end_date` (inclusive).
    pub days: u32,
    /// The last day generated.
    pub end_date: Date,
    /// Seed of all randomness.
    pub seed: u64,
    /// Records per log file at most (CloudTrail writes many small files; 0 means 5,000).
    pub max_records_per_file: usize,
}

/// One log file: its path under `cloudtrail/` (`AWSLogs/<acct>/CloudTrail/<region>/Y/M/D/…
/// .json.gz`) and its uncompressed JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Relative path, `/`-separated, ending in `.json.gz`.
    pub path: String,
    /// `{"Records":[...]}`, uncompressed.
    pub json: Vec<u8>,
    /// Records in the file.
    pub records: usize,
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events written.
    pub events: u64,
    /// Files written.
    pub files: u64,
    /// The usage table the files must parse back into.
    pub expected: UsageTable,
    /// Per principal, listed actions that were not generated (not observable in CloudTrail,
    /// or not a plain `service:Name`).
    pub not_generated: BTreeMap<String, BTreeSet<String>>,
}

impl Summary {
    /// Adds another (day's) summary.
    pub fn merge(&mut self, o: Self) {
        self.events += o.events;
        self.files += o.files;
        self.expected.merge(o.expected);
        for (p, a) in o.not_generated {
            self.not_generated.entry(p).or_default().extend(a);
        }
    }
}

/// A generatable action: name and its event.
#[derive(Debug, Clone)]
struct GenAction {
    action: String,
    source: String,
    event: String,
    /// The role the call passes (from `passes`).
    passes: Option<String>,
    /// The resource the call acts on (from `acts_on`).
    acts_on: Option<String>,
}

#[derive(Debug, Clone)]
struct GenPrincipal {
    arn: String,
    kind: PrincipalKind,
    account: String,
    name: String,
    unique_id: String,
    access_key: String,
    person: bool,
    actions: Vec<GenAction>,
    denied: Vec<GenAction>,
    daily_calls: u32,
    last_active_days_ago: u32,
    sessions: Vec<String>,
    regions: Vec<String>,
}

/// A validated activity document, ready to generate any day.
#[derive(Debug, Clone)]
pub struct Plan {
    principals: Vec<GenPrincipal>,
    not_generated: BTreeMap<String, BTreeSet<String>>,
}

impl Plan {
    /// Validates the activity document.
    ///
    /// # Errors
    /// A principal whose ARN is not an IAM root, user or role ARN with a 12-digit account.
    pub fn new(activity: &Activity) -> Result<Self, ActivityError> {
        let mut principals = Vec::new();
        let mut not_generated: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (arn, a) in &activity.0 {
            let err = |reason: &str| ActivityError {
                principal: arn.clone(),
                reason: reason.to_owned(),
            };
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let [_, partition, service, _, account, resource] = parts.as_slice() else {
                return Err(err("not an ARN (`arn:aws:iam::<account>:user/<name>`)"));
            };
            if *service != "iam" {
                return Err(err("not an IAM ARN"));
            }
            if account.len() != 12 || !account.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err("the account is not 12 digits"));
            }
            let (kind, name) = if *resource == "root" {
                (PrincipalKind::Root, "root".to_owned())
            } else if let Some(rest) = resource.strip_prefix("user/") {
                (PrincipalKind::User, last_segment(rest))
            } else if let Some(rest) = resource.strip_prefix("role/") {
                let name = last_segment(rest);
                if name.starts_with("AWSReservedSSO_") {
                    (PrincipalKind::IdentityCenterRole, name)
                } else {
                    (PrincipalKind::Role, name)
                }
            } else {
                return Err(err(
                    "only root, `user/` and `role/` principals can be generated",
                ));
            };
            if name.is_empty() {
                return Err(err("the name is empty"));
            }
            let mut split = |list: &[String]| {
                let mut out = Vec::new();
                for action in list {
                    match event_for_action(action) {
                        Some((source, event)) => out.push(GenAction {
                            action: action.clone(),
                            source,
                            event,
                            passes: a.passes.get(action).cloned(),
                            acts_on: a.acts_on.get(action).cloned(),
                        }),
                        None => {
                            not_generated
                                .entry(arn.clone())
                                .or_default()
                                .insert(action.clone());
                        }
                    }
                }
                out
            };
            for action in a.passes.keys() {
                if !a.actions.contains(action) || !crate::passrole::passes_role(action) {
                    return Err(err(&format!(
                        "`passes` names `{action}`, which is not a role-passing action among `actions`"
                    )));
                }
            }
            for (action, resource) in &a.acts_on {
                if !a.actions.contains(action) || crate::resources::naming(action).is_none() {
                    return Err(err(&format!(
                        "`acts_on` names `{action}`, which is not an action among `actions` whose requests name their resource"
                    )));
                }
                if !resource.starts_with("arn:") {
                    return Err(err(&format!(
                        "`acts_on` for `{action}`: `{resource}` is not an ARN"
                    )));
                }
            }
            let actions = split(&a.actions);
            let denied = split(&a.denied_actions);
            let h = hash_str(arn);
            let id_prefix = match kind {
                PrincipalKind::User => "AIDA",
                _ => "AROA",
            };
            let sessions = if kind == PrincipalKind::IdentityCenterRole && a.sessions.is_empty() {
                vec!["person@example.com".to_owned()]
            } else {
                a.sessions.clone()
            };
            principals.push(GenPrincipal {
                arn: arn.clone(),
                kind,
                account: (*account).to_owned(),
                name,
                unique_id: format!("{id_prefix}{}", base32(h, 17)),
                access_key: format!("AKIA{}", base32(h.rotate_left(17), 16)),
                person: matches!(
                    kind,
                    PrincipalKind::User | PrincipalKind::IdentityCenterRole | PrincipalKind::Root
                ),
                actions,
                denied,
                daily_calls: a.daily_calls,
                last_active_days_ago: a.last_active_days_ago,
                sessions,
                regions: if a.regions.is_empty() {
                    vec!["us-east-1".to_owned()]
                } else {
                    a.regions.clone()
                },
            });
            let _ = partition;
        }
        Ok(Self {
            principals,
            not_generated,
        })
    }

    /// Generates day `index` (0 = the first, `days - 1` = the end date), handing each file to
    /// `sink`. Days are independent, so they can be generated in parallel.
    ///
    /// # Errors
    /// Whatever `sink` returns.
    pub fn day<E>(
        &self,
        index: u32,
        opts: &Options,
        sink: &mut dyn FnMut(GeneratedFile) -> Result<(), E>,
    ) -> Result<Summary, E> {
        let days_ago = opts.days.saturating_sub(1).saturating_sub(index);
        let date = opts.end_date.add_days(-i64::from(days_ago));
        let weekend = date.weekday() >= 5;
        let mut events: Vec<Event> = Vec::new();
        for (pi, p) in self.principals.iter().enumerate() {
            if days_ago < p.last_active_days_ago || p.actions.is_empty() && p.denied.is_empty() {
                continue;
            }
            let last_day = days_ago == p.last_active_days_ago;
            if p.person && weekend && !last_day {
                continue;
            }
            let mut rng =
                Rng::new(opts.seed ^ hash_str(&p.arn) ^ u64::from(index).wrapping_mul(0x9E37_79B9));
            let mut n = p.daily_calls;
            if p.person && n >= 4 {
                let spread = n / 4;
                n = n - spread + rng.below(2 * spread + 1);
            }
            if last_day {
                n = n.max(1);
            }
            let k = p.actions.len() as u64;
            for j in 0..n {
                if k == 0 {
                    break;
                }
                let slot = if u64::from(j) < k {
                    (u64::from(j) + u64::from(index) * u64::from(p.daily_calls)) % k
                } else {
                    let r = rng.unit();
                    ((r * r) * k as f64) as u64 % k
                };
                events.push(self.event(pi, slot as usize, false, date, &mut rng));
            }
            for (di, _) in p.denied.iter().enumerate() {
                let attempts = if last_day {
                    1
                } else if rng.below(5) == 0 {
                    1 + rng.below(2)
                } else {
                    0
                };
                for _ in 0..attempts {
                    events.push(self.event(pi, di, true, date, &mut rng));
                }
            }
        }
        self.write_day(events, date, opts, sink)
    }

    fn event(&self, pi: usize, slot: usize, denied: bool, date: Date, rng: &mut Rng) -> Event {
        let p = self.principals.get(pi);
        let person = p.is_some_and(|p| p.person);
        let seconds = if person {
            8 * 3600 + rng.below(10 * 3600)
        } else {
            rng.below(24 * 3600)
        };
        let sessions = p.map_or(0, |p| p.sessions.len());
        let regions = p.map_or(1, |p| p.regions.len());
        Event {
            at: date.start().0 + i64::from(seconds),
            principal: u32::try_from(pi).unwrap_or(u32::MAX),
            action: u32::try_from(slot).unwrap_or(u32::MAX),
            denied,
            session: if sessions > 0 {
                rng.below(u32::try_from(sessions).unwrap_or(1))
            } else {
                0
            },
            region: rng.below(u32::try_from(regions).unwrap_or(1)),
            id: rng.next(),
        }
    }

    fn write_day<E>(
        &self,
        mut events: Vec<Event>,
        date: Date,
        opts: &Options,
        sink: &mut dyn FnMut(GeneratedFile) -> Result<(), E>,
    ) -> Result<Summary, E> {
        let mut summary = Summary {
            not_generated: self.not_generated.clone(),
            ..Summary::default()
        };
        // Expected usage, aggregated per (principal, session, action, denied).
        let mut agg: FxHashMap<(u32, u32, u32, bool), ActionUsage> = FxHashMap::default();
        let mut keyed: Vec<(String, String, Event)> = Vec::with_capacity(events.len());
        for e in events.drain(..) {
            let Some(p) = self.principals.get(e.principal as usize) else {
                continue;
            };
            let Some(a) = p.action(e.action, e.denied) else {
                continue;
            };
            let region = if is_global(&a.source) {
                "us-east-1"
            } else {
                p.regions
                    .get(e.region as usize)
                    .map_or("us-east-1", String::as_str)
            };
            agg.entry((e.principal, e.session, e.action, e.denied))
                .or_default()
                .add(
                    Timestamp(e.at),
                    if e.denied {
                        Outcome::Denied
                    } else {
                        Outcome::Success
                    },
                    1,
                );
            keyed.push((p.account.clone(), region.to_owned(), e));
        }
        for ((pi, si, ai, denied), u) in &agg {
            let Some(p) = self.principals.get(*pi as usize) else {
                continue;
            };
            let Some(a) = p.action(*ai, *denied) else {
                continue;
            };
            let session = if p.kind == PrincipalKind::IdentityCenterRole {
                p.sessions.get(*si as usize).map(String::as_str)
            } else {
                None
            };
            summary
                .expected
                .add_aggregate(&p.arn, p.kind, &p.account, session, Some(&a.action), u);
            if !*denied && crate::passrole::passes_role(&a.action) {
                // What ingestion will read back from the requests written below.
                let mut params = String::new();
                request_parameters(&mut params, a, &p.account, "us-east-1", 0);
                let roles = crate::passrole::passed_roles(params.as_bytes());
                for r in if roles.is_empty() {
                    vec![String::new()]
                } else {
                    roles
                } {
                    summary
                        .expected
                        .add_passed(&p.arn, p.kind, &p.account, &a.action, &r, u);
                }
            }
            if let (false, Some(naming)) = (*denied, crate::resources::naming(&a.action)) {
                // What ingestion will read back: the ARN written below, or nothing readable.
                let mut params = String::new();
                request_parameters(&mut params, a, &p.account, "us-east-1", 0);
                let named = crate::resources::named_resource(
                    naming,
                    params.as_bytes(),
                    &p.account,
                    "us-east-1",
                )
                .unwrap_or_default();
                summary
                    .expected
                    .add_resource(&p.arn, p.kind, &p.account, &a.action, &named, u);
                if let Some(s) = session {
                    summary
                        .expected
                        .add_session_resource(&p.arn, p.kind, &p.account, s, &a.action, &named, u);
                }
            }
        }
        if let (Some(f), Some(l)) = (
            keyed.iter().map(|k| k.2.at).min(),
            keyed.iter().map(|k| k.2.at).max(),
        ) {
            summary
                .expected
                .note_events(keyed.len() as u64, Timestamp(f), Timestamp(l));
        }
        for (account, _, e) in &keyed {
            summary
                .expected
                .note_account_events(account, Timestamp(e.at).date(), 1);
        }
        keyed.sort_by(|a, b| (&a.0, &a.1, a.2.at, a.2.id).cmp(&(&b.0, &b.1, b.2.at, b.2.id)));
        let max = if opts.max_records_per_file == 0 {
            5_000
        } else {
            opts.max_records_per_file
        };
        let (y, m, d) = date.ymd();
        let mut start = 0;
        while start < keyed.len() {
            let Some((acct, region, _)) = keyed.get(start) else {
                break;
            };
            let mut end = start;
            while end < keyed.len()
                && end - start < max
                && keyed
                    .get(end)
                    .is_some_and(|k| &k.0 == acct && &k.1 == region)
            {
                end += 1;
            }
            let chunk = keyed.get(start..end).unwrap_or_default();
            let mut json = Vec::with_capacity(chunk.len() * 1200 + 16);
            json.extend_from_slice(b"{\"Records\":[");
            for (i, (_, region, e)) in chunk.iter().enumerate() {
                if i > 0 {
                    json.push(b',');
                }
                self.render(&mut json, e, region);
            }
            json.extend_from_slice(b"]}");
            let last = chunk.last().map_or(0, |k| k.2.at);
            let mins = (last.rem_euclid(DAY) / 60) / 5 * 5;
            let file_id = base32(
                hash_str(acct) ^ hash_str(region) ^ last as u64 ^ start as u64,
                16,
            );
            let path = format!(
                "AWSLogs/{acct}/CloudTrail/{region}/{y:04}/{m:02}/{d:02}/{acct}_CloudTrail_{region}_{y:04}{m:02}{d:02}T{:02}{:02}Z_{file_id}.json.gz",
                mins / 60,
                mins % 60
            );
            summary.events += chunk.len() as u64;
            summary.files += 1;
            sink(GeneratedFile {
                path,
                json,
                records: chunk.len(),
            })?;
            start = end;
        }
        Ok(summary)
    }

    fn render(&self, out: &mut Vec<u8>, e: &Event, region: &str) {
        let Some(p) = self.principals.get(e.principal as usize) else {
            return;
        };
        let Some(a) = p.action(e.action, e.denied) else {
            return;
        };
        let mut s = String::with_capacity(1200);
        let time = Timestamp(e.at);
        let acct = &p.account;
        let _ = write!(s, "{{\"eventVersion\":\"1.09\",\"userIdentity\":");
        match p.kind {
            PrincipalKind::Root => {
                let _ = write!(
                    s,
                    "{{\"type\":\"Root\",\"principalId\":\"{acct}\",\"arn\":\"{}\",\"accountId\":\"{acct}\",\"accessKeyId\":\"{}\"}}",
                    esc(&p.arn),
                    p.access_key
                );
            }
            PrincipalKind::User => {
                let _ = write!(
                    s,
                    "{{\"type\":\"IAMUser\",\"principalId\":\"{}\",\"arn\":\"{}\",\"accountId\":\"{acct}\",\"accessKeyId\":\"{}\",\"userName\":\"{}\"}}",
                    p.unique_id,
                    esc(&p.arn),
                    p.access_key,
                    esc(&p.name)
                );
            }
            PrincipalKind::Role | PrincipalKind::IdentityCenterRole => {
                let session = if p.kind == PrincipalKind::IdentityCenterRole {
                    p.sessions
                        .get(e.session as usize)
                        .cloned()
                        .unwrap_or_default()
                } else {
                    format!(
                        "{}-{:08x}",
                        session_prefix(&p.name),
                        (e.at / 3600) as u64 ^ hash_str(&p.arn) & 0xffff_ffff
                    )
                };
                let issued = Timestamp(e.at - (e.id % 3000) as i64);
                let _ = write!(
                    s,
                    "{{\"type\":\"AssumedRole\",\"principalId\":\"{}:{}\",\"arn\":\"arn:aws:sts::{acct}:assumed-role/{}/{}\",\"accountId\":\"{acct}\",\"accessKeyId\":\"ASIA{}\",\"sessionContext\":{{\"sessionIssuer\":{{\"type\":\"Role\",\"principalId\":\"{}\",\"arn\":\"{}\",\"accountId\":\"{acct}\",\"userName\":\"{}\"}},\"attributes\":{{\"creationDate\":\"{issued}\",\"mfaAuthenticated\":\"false\"}}}}}}",
                    p.unique_id,
                    esc(&session),
                    esc(&p.name),
                    esc(&session),
                    base32(e.id, 16),
                    p.unique_id,
                    esc(&p.arn),
                    esc(&p.name)
                );
            }
        }
        let service = a.source.strip_suffix(".amazonaws.com").unwrap_or(&a.source);
        let read_only = ["Get", "List", "Describe", "Head", "Lookup", "Search"]
            .iter()
            .any(|w| a.event.starts_with(w));
        let data = is_data_event(service, &a.event);
        let ip = if p.person {
            format!("203.0.113.{}", 1 + hash_str(&p.arn) % 254)
        } else {
            format!("198.51.100.{}", 1 + hash_str(&p.arn) % 254)
        };
        let agent = user_agent(p, service, e.id);
        let _ = write!(
            s,
            ",\"eventTime\":\"{time}\",\"eventSource\":\"{}\",\"eventName\":\"{}\",\"awsRegion\":\"{region}\",\"sourceIPAddress\":\"{ip}\",\"userAgent\":\"{agent}\"",
            a.source, a.event
        );
        if e.denied {
            let (code, message) = denial(service);
            let _ = write!(
                s,
                ",\"errorCode\":\"{code}\",\"errorMessage\":\"{message}User: {} is not authorized to perform: {} because no identity-based policy allows the {} action\"",
                esc(&p.arn),
                a.action,
                a.action
            );
        }
        s.push_str(",\"requestParameters\":");
        request_parameters(&mut s, a, acct, region, e.id);
        let _ = write!(
            s,
            ",\"responseElements\":null,\"requestID\":\"{}\",\"eventID\":\"{}\",\"readOnly\":{read_only},\"eventType\":\"AwsApiCall\",\"managementEvent\":{},\"recipientAccountId\":\"{acct}\",\"eventCategory\":\"{}\",\"tlsDetails\":{{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":\"{service}.{region}.amazonaws.com\"}}}}",
            uuid(e.id.rotate_left(29)),
            uuid(e.id),
            !data,
            if data { "Data" } else { "Management" }
        );
        out.extend_from_slice(s.as_bytes());
    }
}

impl GenPrincipal {
    fn action(&self, i: u32, denied: bool) -> Option<&GenAction> {
        if denied {
            self.denied.get(i as usize)
        } else {
            self.actions.get(i as usize)
        }
    }
}

/// Generates every day in order, handing files to `sink`.
///
/// # Errors
/// An invalid activity document, or whatever `sink` returns.
pub fn generate<E: From<ActivityError>>(
    activity: &Activity,
    opts: &Options,
    sink: &mut dyn FnMut(GeneratedFile) -> Result<(), E>,
) -> Result<Summary, E> {
    let plan = Plan::new(activity)?;
    let mut summary = Summary {
        not_generated: plan.not_generated.clone(),
        ..Summary::default()
    };
    for i in 0..opts.days {
        summary.merge(plan.day(i, opts, sink)?);
    }
    Ok(summary)
}

#[derive(Debug, Clone, Copy)]
struct Event {
    at: i64,
    principal: u32,
    action: u32,
    denied: bool,
    session: u32,
    region: u32,
    id: u64,
}

fn last_segment(path: &str) -> String {
    path.rsplit('/').next().unwrap_or_default().to_owned()
}

fn is_global(source: &str) -> bool {
    matches!(
        source,
        "iam.amazonaws.com"
            | "organizations.amazonaws.com"
            | "cloudfront.amazonaws.com"
            | "route53.amazonaws.com"
            | "account.amazonaws.com"
    )
}

fn is_data_event(service: &str, event: &str) -> bool {
    match service {
        "s3" => event.contains("Object") && event != "ListObjects" && event != "ListObjectsV2",
        "lambda" => event == "Invoke",
        "dynamodb" => matches!(
            event,
            "GetItem"
                | "PutItem"
                | "UpdateItem"
                | "DeleteItem"
                | "Query"
                | "Scan"
                | "BatchGetItem"
                | "BatchWriteItem"
        ),
        _ => false,
    }
}

fn denial(service: &str) -> (&'static str, &'static str) {
    match service {
        "ec2" => (
            "Client.UnauthorizedOperation",
            "You are not authorized to perform this operation. ",
        ),
        "s3" | "iam" | "sts" | "organizations" | "cloudfront" | "route53" => ("AccessDenied", ""),
        "sns" => ("AuthorizationError", ""),
        _ => ("AccessDeniedException", ""),
    }
}

fn session_prefix(role: &str) -> &'static str {
    let r = role.to_ascii_lowercase();
    if r.contains("lambda") {
        "lambda"
    } else if r.contains("ec2") || r.contains("instance") {
        "i"
    } else if r.contains("ci") || r.contains("deploy") || r.contains("github") {
        "GitHubActions"
    } else {
        "botocore-session"
    }
}

fn user_agent(p: &GenPrincipal, service: &str, id: u64) -> String {
    if p.person {
        match id % 3 {
            0 => "AWS Internal".to_owned(),
            1 => format!("aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/command#{service}"),
            _ => "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15".to_owned(),
        }
    } else if session_prefix(&p.name) == "lambda" {
        format!("Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10.220-209.869.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.4 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.144 api/{service}")
    } else {
        format!("aws-sdk-go-v2/1.30.3 ua/2.1 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/{service}#1.58.2")
    }
}

fn request_parameters(s: &mut String, a: &GenAction, acct: &str, region: &str, id: u64) {
    let service = a.source.strip_suffix(".amazonaws.com").unwrap_or(&a.source);
    let event = a.event.as_str();
    let (passes, acts_on) = (a.passes.as_deref(), a.acts_on.as_deref());
    if let Some(role) = passes {
        // The member each service names its role with (see each API reference).
        let name = format!("{}-{:06x}", event.to_ascii_lowercase(), id & 0xff_ffff);
        let role = esc(role);
        let _ = match (service, event) {
            ("ec2", _) => write!(
                s,
                "{{\"instancesSet\":{{\"items\":[{{\"imageId\":\"ami-0abcdef1234567890\",\"minCount\":1,\"maxCount\":1}}]}},\"instanceType\":\"t3.micro\",\"iamInstanceProfile\":{{\"arn\":\"{role}\"}}}}"
            ),
            ("cloudformation", _) => write!(
                s,
                "{{\"stackName\":\"{name}\",\"roleARN\":\"{role}\"}}"
            ),
            ("ecs", _) => write!(
                s,
                "{{\"family\":\"{name}\",\"taskRoleArn\":\"{role}\"}}"
            ),
            ("sagemaker", _) => write!(
                s,
                "{{\"notebookInstanceName\":\"{name}\",\"roleArn\":\"{role}\"}}"
            ),
            ("codebuild", _) => write!(
                s,
                "{{\"name\":\"{name}\",\"serviceRole\":\"{role}\"}}"
            ),
            _ => write!(s, "{{\"name\":\"{name}\",\"role\":\"{role}\"}}"),
        };
        return;
    }
    if let Some(resource) = acts_on {
        let resource = esc(resource);
        if service == "sts" {
            let _ = write!(
                s,
                "{{\"roleArn\":\"{resource}\",\"roleSessionName\":\"session-{:06x}\",\"durationSeconds\":3600}}",
                id & 0xff_ffff
            );
        } else {
            let _ = write!(s, "{{\"functionName\":\"{resource}\"}}");
        }
        return;
    }
    match service {
        "s3" => {
            let bucket = format!("{acct}-{region}-data");
            let _ = write!(
                s,
                "{{\"bucketName\":\"{bucket}\",\"Host\":\"{bucket}.s3.{region}.amazonaws.com\""
            );
            if event.contains("Object") && !event.starts_with("List") {
                let _ = write!(
                    s,
                    ",\"key\":\"reports/{:04}/{:016x}.parquet\"",
                    id % 1000,
                    id
                );
            }
            s.push('}');
        }
        _ if ["Get", "List", "Describe"]
            .iter()
            .any(|w| event.starts_with(w)) =>
        {
            s.push_str("null");
        }
        _ => {
            let _ = write!(
                s,
                "{{\"name\":\"{}-{:06x}\"}}",
                event.to_ascii_lowercase(),
                id & 0xff_ffff
            );
        }
    }
}

/// Escapes a string for a JSON string literal.
fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.bytes().any(|c| c == b'"' || c == b'\\' || c < 0x20) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn uuid(x: u64) -> String {
    let y = x.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ (x >> 31);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xfff,
        0x8000 | (y >> 48) & 0x3fff,
        y & 0xffff_ffff_ffff
    )
}

fn base32(mut x: u64, n: usize) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(n);
    for i in 0..n {
        if i % 12 == 11 {
            x = mix(x);
        }
        out.push(char::from(
            *ALPHABET.get((x & 31) as usize).unwrap_or(&b'A'),
        ));
        x >>= 5;
    }
    out
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hash_str(s: &str) -> u64 {
    // FNV-1a, then a final mix: stable across platforms and releases.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// splitmix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    fn below(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        u32::try_from(self.next() % u64::from(n)).unwrap_or(0)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ingest::{parse_log, Window};

    fn activity() -> Activity {
        serde_json::from_str(
            r#"{
            "arn:aws:iam::111122223333:role/ci-deploy": {"actions": ["s3:PutObject", "s3:ListBucket", "lambda:UpdateFunctionCode", "iam:PassRole", "sts:AssumeRole"], "acts_on": {"lambda:UpdateFunctionCode": "arn:aws:lambda:eu-west-1:111122223333:function:billing"}, "daily_calls": 30, "last_active_days_ago": 0, "denied_actions": ["iam:CreateUser"], "regions": ["eu-west-1", "us-east-1"]},
            "arn:aws:iam::111122223333:user/alice": {"actions": ["ec2:DescribeInstances", "cloudwatch:GetMetricData", "sts:AssumeRole"], "acts_on": {"sts:AssumeRole": "arn:aws:iam::444455556666:role/ops/admin"}, "daily_calls": 8, "last_active_days_ago": 3, "denied_actions": ["ec2:RunInstances"]},
            "arn:aws:iam::444455556666:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd": {"actions": ["iam:ListRoles", "sts:GetCallerIdentity", "sts:AssumeRole"], "acts_on": {"sts:AssumeRole": "arn:aws:iam::444455556666:role/ops/admin"}, "daily_calls": 5, "last_active_days_ago": 1, "sessions": ["bob@example.com", "carol@example.com"]},
            "arn:aws:iam::444455556666:root": {"actions": ["iam:CreateAccessKey"], "daily_calls": 1, "last_active_days_ago": 6},
            "arn:aws:iam::444455556666:role/old-batch": {"actions": ["glue:StartJobRun"], "daily_calls": 10, "last_active_days_ago": 400},
            "arn:aws:iam::111122223333:role/fleet": {"actions": ["ec2:RunInstances", "lambda:CreateFunction", "ecs:RegisterTaskDefinition"], "passes": {"ec2:RunInstances": "arn:aws:iam::111122223333:instance-profile/web", "lambda:CreateFunction": "arn:aws:iam::111122223333:role/fn-exec"}, "daily_calls": 30, "last_active_days_ago": 0}
        }"#,
        )
        .unwrap()
    }

    fn opts() -> Options {
        Options {
            days: 10,
            end_date: Date::parse("2026-03-31").unwrap(),
            seed: 7,
            max_records_per_file: 50,
        }
    }

    #[test]
    fn files_parse_back_into_the_expected_table() {
        let mut parsed = UsageTable::new();
        let mut paths = Vec::new();
        let summary = generate::<ActivityError>(&activity(), &opts(), &mut |f| {
            parsed.merge(parse_log(&f.json, &Window::all()).unwrap());
            paths.push(f.path);
            Ok(())
        })
        .unwrap();
        assert!(summary.events > 300, "{}", summary.events);
        assert_eq!(parsed, summary.expected);
        assert_eq!(parsed.events, summary.events);
        // The roles role-passing calls name are read back from their requests; a call that
        // names none is kept as "".
        let fleet = parsed
            .principal("arn:aws:iam::111122223333:role/fleet")
            .unwrap();
        let passed: Vec<(&str, Vec<&str>)> = fleet
            .passed_roles
            .iter()
            .map(|(a, m)| (a.as_str(), m.keys().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            passed,
            [
                (
                    "ec2:RunInstances",
                    vec!["instance-profile:arn:aws:iam::111122223333:instance-profile/web"]
                ),
                ("ecs:RegisterTaskDefinition", vec![""]),
                (
                    "lambda:CreateFunction",
                    vec!["arn:aws:iam::111122223333:role/fn-exec"]
                ),
            ]
        );
        assert_eq!(
            fleet
                .passed_roles
                .get("lambda:CreateFunction")
                .and_then(|m| m.get("arn:aws:iam::111122223333:role/fn-exec"))
                .map(|u| u.count),
            fleet.action("lambda:CreateFunction").map(|u| u.count)
        );
        let deploy = parsed
            .principal("arn:aws:iam::111122223333:role/ci-deploy")
            .unwrap();
        assert_eq!(deploy.actions.len(), 5, "four used, one denied");
        // The resources named by the calls that name one are read back from their requests;
        // a call whose request names none readably is kept as "".
        let named = |p: &crate::usage::PrincipalUsage| -> Vec<(String, Vec<String>)> {
            p.resources
                .iter()
                .map(|(a, m)| (a.clone(), m.keys().cloned().collect()))
                .collect()
        };
        assert_eq!(
            named(deploy),
            [
                (
                    "lambda:UpdateFunctionCode".to_owned(),
                    vec!["arn:aws:lambda:eu-west-1:111122223333:function:billing".to_owned()]
                ),
                ("sts:AssumeRole".to_owned(), vec![String::new()]),
            ]
        );
        let alice_usage = parsed
            .principal("arn:aws:iam::111122223333:user/alice")
            .unwrap();
        assert_eq!(
            named(alice_usage),
            [(
                "sts:AssumeRole".to_owned(),
                vec!["arn:aws:iam::444455556666:role/ops/admin".to_owned()]
            )]
        );
        assert_eq!(
            alice_usage
                .resources
                .get("sts:AssumeRole")
                .and_then(|m| m.get("arn:aws:iam::444455556666:role/ops/admin"))
                .map(|u| u.count),
            alice_usage.action("sts:AssumeRole").map(|u| u.count)
        );
        // For the people of an Identity Center role, each person's own resources too.
        let sso = parsed
            .principal("arn:aws:iam::444455556666:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd")
            .unwrap();
        assert_eq!(sso.sessions.len(), 2);
        for su in sso.sessions.values() {
            let mine = su.resources.get("sts:AssumeRole").unwrap();
            assert_eq!(
                mine.keys().collect::<Vec<_>>(),
                ["arn:aws:iam::444455556666:role/ops/admin"]
            );
            assert_eq!(
                mine.values().map(|u| u.count).sum::<u64>(),
                su.actions.get("sts:AssumeRole").unwrap().count
            );
        }
        assert!(deploy.action("iam:CreateUser").unwrap().denied >= 1);
        assert_eq!(
            summary
                .not_generated
                .get("arn:aws:iam::111122223333:role/ci-deploy")
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            vec!["iam:PassRole"]
        );
        let alice = parsed
            .last_activity("arn:aws:iam::111122223333:user/alice")
            .unwrap();
        assert_eq!(alice.date(), Date::parse("2026-03-28").unwrap());
        assert!(parsed
            .principal("arn:aws:iam::444455556666:role/old-batch")
            .is_none());
        let sso = parsed
            .principal("arn:aws:iam::444455556666:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd")
            .unwrap();
        assert_eq!(sso.kind, PrincipalKind::IdentityCenterRole);
        assert_eq!(
            sso.sessions.keys().collect::<Vec<_>>(),
            vec!["bob@example.com", "carol@example.com"]
        );
        assert!(paths.iter().all(|p| p.starts_with("AWSLogs/")
            && p.contains("/CloudTrail/")
            && p.ends_with(".json.gz")));
        assert!(paths.iter().any(|p| p.contains("/eu-west-1/2026/03/31/")));
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let run = |seed| {
            let mut out = Vec::new();
            generate::<ActivityError>(&activity(), &Options { seed, ..opts() }, &mut |f| {
                out.push((f.path, f.json));
                Ok(())
            })
            .unwrap();
            out
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn rejects_bad_principals() {
        let bad: Activity = serde_json::from_str(r#"{"arn:aws:s3:::bucket": {"actions": [], "daily_calls": 1, "last_active_days_ago": 0}}"#).unwrap();
        let e = Plan::new(&bad).unwrap_err();
        assert!(e.to_string().contains("arn:aws:s3:::bucket"), "{e}");
    }

    #[test]
    fn rejects_acts_on_that_no_call_can_name() {
        let plan = |entry: &str| {
            let a: Activity = serde_json::from_str(&format!(
                r#"{{"arn:aws:iam::111122223333:user/u": {{"daily_calls": 1, "last_active_days_ago": 0, {entry}}}}}"#
            ))
            .unwrap();
            Plan::new(&a).map(|_| ()).map_err(|e| e.to_string())
        };
        let e =
            plan(r#""actions": ["s3:GetObject"], "acts_on": {"s3:GetObject": "arn:aws:s3:::b/k"}"#)
                .unwrap_err();
        assert!(e.contains("`acts_on` names `s3:GetObject`"), "{e}");
        let e = plan(r#""actions": [], "acts_on": {"sts:AssumeRole": "arn:aws:iam::1:role/r"}"#)
            .unwrap_err();
        assert!(e.contains("`acts_on` names `sts:AssumeRole`"), "{e}");
        let e = plan(r#""actions": ["sts:AssumeRole"], "acts_on": {"sts:AssumeRole": "admin"}"#)
            .unwrap_err();
        assert!(e.contains("`admin` is not an ARN"), "{e}");
        plan(r#""actions": ["sts:AssumeRole"], "acts_on": {"sts:AssumeRole": "arn:aws:iam::1:role/r"}"#)
            .unwrap();
    }
}
