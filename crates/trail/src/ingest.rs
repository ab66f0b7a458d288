//! Parsing CloudTrail log files into an [`Aggregator`], fast and without IO.
//!
//! A log file is `{"Records": [ … ]}`. The scanner (`scan`) walks the `Records` array one record at a
//! time, reading only the fields in [`RawRecord`] (borrowed from the file's bytes) and
//! resolving each record to small integers: an interned principal, an interned action, a
//! time and an outcome. Strings are copied only the first time a principal or an
//! `eventSource`/`eventName` pair is seen. Aggregation is a hash map keyed by
//! `(principal, action)`; the sorted [`UsageTable`] is built once at the end.
//!
//! A file is applied whole or not at all: records are staged while the file is parsed and
//! added to the aggregate only when the whole file has parsed.

use std::fmt;

use rustc_hash::FxHashMap;

use crate::mapping::{event_action, is_denied, EventAction};
use crate::record::{actor, Actor, PrincipalKind, RawRecord};
use crate::resources::{named_resource, Naming};
use crate::time::{Date, Timestamp, DAY};
use crate::usage::{ActionUsage, Outcome, UsageTable};

/// A half-open window of time `[since, until)`; `None` leaves a side open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Earliest instant included.
    pub since: Option<Timestamp>,
    /// First instant excluded.
    pub until: Option<Timestamp>,
}

impl Window {
    /// Every instant.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether `t` is inside the window.
    #[must_use]
    pub fn contains(&self, t: Timestamp) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }
}

/// Why a log file could not be read. Names the record (0-based index in `Records`) when
/// the problem is inside one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// Index of the record in `Records`, when the error is inside one.
    pub record: Option<usize>,
    /// Line in the (decompressed) file, 1-based; 0 when unknown.
    pub line: usize,
    /// Column, 1-based; 0 when unknown.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(i) = self.record {
            write!(f, "record {i}: ")?;
        }
        f.write_str(&self.message)?;
        if self.line > 0 {
            write!(f, " (line {}, column {})", self.line, self.column)?;
        }
        Ok(())
    }
}

/// Counts for one parsed file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Records in the file.
    pub records: u64,
    /// Records inside the window (the others are ignored).
    pub in_window: u64,
    /// Records whose time lies outside the bound given for the file (ignored; see
    /// [`Aggregator::add_log_within`]).
    pub out_of_bounds: u64,
}

#[derive(Debug)]
enum ActionSlot {
    /// An IAM action, whether AWS checks `iam:PassRole` inside it, and how its calls name
    /// their resource ([`crate::resources`]).
    Action(Box<str>, bool, Option<Naming>),
    SignIn,
    Unmapped(Box<str>),
}

#[derive(Debug)]
struct PrincipalSlot {
    arn: Box<str>,
    kind: PrincipalKind,
    account: Box<str>,
    /// For a person slot: the principal slot it belongs to, and the person's name.
    person_of: Option<(u32, Box<str>)>,
    persons: FxHashMap<Box<str>, u32>,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Principal(u32),
    AwsService,
    Unattributed(u32),
}

#[derive(Debug, Clone)]
struct Staged {
    target: Target,
    action: u32,
    at: i64,
    outcome: Outcome,
    /// For a successful call that passes a role: the roles it names (rare, so boxed).
    passed: Option<Box<[String]>>,
    /// For a call of an action that names its resource: the resource's ARN, `""` when the
    /// call does not name it readably.
    resource: Option<Box<str>>,
    /// The account that recorded the event ([`NO_ACCOUNT`] when the record names none).
    account: u32,
}

/// [`Staged::account`] of a record that names no account.
const NO_ACCOUNT: u32 = u32::MAX;

/// Aggregates usage from any number of log files; turn it into a [`UsageTable`] at the end.
///
/// One aggregator per thread; merge the resulting tables.
#[derive(Debug, Default)]
pub struct Aggregator {
    principals: Vec<PrincipalSlot>,
    principal_index: FxHashMap<Box<str>, u32>,
    actions: Vec<ActionSlot>,
    action_index: FxHashMap<Box<str>, FxHashMap<Box<str>, u32>>,
    kinds: Vec<Box<str>>,
    cells: FxHashMap<(u32, u32), ActionUsage>,
    /// (principal, role-passing action, role passed or "" when the call names none).
    passed: FxHashMap<(u32, u32, Box<str>), ActionUsage>,
    /// (principal or person, resource-naming action, resource ARN or "" when the call names
    /// none).
    resources: FxHashMap<(u32, u32, Box<str>), ActionUsage>,
    aws_service: u64,
    unattributed: FxHashMap<u32, u64>,
    unmapped: FxHashMap<u32, u64>,
    events: u64,
    first_event: Option<i64>,
    last_event: Option<i64>,
    /// Accounts that recorded events (`recipientAccountId`, else the caller's account).
    accounts: Vec<Box<str>>,
    account_index: FxHashMap<Box<str>, u32>,
    /// The account of the previous record (a cache for [`Aggregator::intern_account`]).
    last_account: u32,
    /// (account, UTC day) → events.
    account_days: FxHashMap<(u32, i64), u64>,
    /// Records ignored because their time lies outside their file's bound.
    out_of_bounds: u64,
    staged: Vec<Staged>,
    /// Scratch for the scanner's quote index, reused across files.
    quotes: Vec<u32>,
}

impl Aggregator {
    /// An empty aggregator.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Events added so far (inside the window).
    #[must_use]
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Records ignored so far because their time lay outside their file's bound.
    #[must_use]
    pub fn out_of_bounds(&self) -> u64 {
        self.out_of_bounds
    }

    /// Parses one log file's JSON (`{"Records": [...]}`) and adds its records inside
    /// `window`. On error nothing of the file is added. A UTF-8 byte-order mark is skipped.
    ///
    /// # Errors
    /// An empty file, UTF-16 text, bytes that are not UTF-8, malformed JSON, a missing
    /// `Records` array, a record without `eventTime`, `eventSource` or `eventName`, or an
    /// `eventTime` that is not a time.
    pub fn add_log(&mut self, json: &[u8], window: &Window) -> Result<FileStats, ParseError> {
        self.add_log_within(json, window, &Window::all())
    }

    /// As [`Aggregator::add_log`], but a record whose time lies outside `bound` — the times
    /// the file can plausibly hold ([`crate::evidence::event_bound`]) — is not believed: it
    /// is counted in [`FileStats::out_of_bounds`] and otherwise ignored, so that it moves
    /// neither the table's first and last event nor anyone's use.
    ///
    /// # Errors
    /// As [`Aggregator::add_log`].
    pub fn add_log_within(
        &mut self,
        json: &[u8],
        window: &Window,
        bound: &Window,
    ) -> Result<FileStats, ParseError> {
        let json = latch_input::check_start(json, latch_input::Expected::Json).map_err(|p| {
            ParseError {
                record: None,
                line: 0,
                column: 0,
                message: p.to_string(),
            }
        })?;
        let mut staged = std::mem::take(&mut self.staged);
        staged.clear();
        let mut quotes = std::mem::take(&mut self.quotes);
        let mut index = None;
        let mut out_of_bounds = 0_u64;
        let result = crate::scan::for_each_record(json, &mut quotes, &mut index, &mut |r| {
            self.stage(&r, window, bound, &mut out_of_bounds, &mut staged)
        });
        self.quotes = quotes;
        let records = match result {
            Ok(n) => n,
            Err(e) => {
                self.staged = staged;
                let (line, column) = crate::scan::line_column(json, e.offset);
                return Err(ParseError {
                    record: index,
                    line,
                    column,
                    message: e.message,
                });
            }
        };
        let stats = FileStats {
            records: records as u64,
            in_window: staged.len() as u64,
            out_of_bounds,
        };
        self.out_of_bounds += out_of_bounds;
        self.commit(&staged);
        self.staged = staged;
        Ok(stats)
    }

    fn stage(
        &mut self,
        r: &RawRecord<'_>,
        window: &Window,
        bound: &Window,
        out_of_bounds: &mut u64,
        staged: &mut Vec<Staged>,
    ) -> Result<(), String> {
        let at = Timestamp::parse(&r.event_time)
            .ok_or_else(|| format!("`eventTime` `{}` is not an RFC 3339 time", &*r.event_time))?;
        if !bound.contains(at) {
            *out_of_bounds += 1;
            return Ok(());
        }
        if !window.contains(at) {
            return Ok(());
        }
        let recorded_by = r
            .recipient_account_id
            .as_deref()
            .filter(|a| !a.is_empty())
            .or_else(|| {
                r.user_identity
                    .as_ref()
                    .and_then(|u| u.account_id.as_deref())
                    .filter(|a| !a.is_empty())
            });
        let account = recorded_by.map_or(NO_ACCOUNT, |a| self.intern_account(a));
        let action = self.intern_action(&r.event_source, &r.event_name);
        let target = match actor(r.user_identity.as_ref()) {
            Actor::Principal {
                arn,
                kind,
                account,
                session,
            } => {
                let pid = self.intern_principal(&arn, kind, &account);
                match session {
                    Some(s) => Target::Principal(self.intern_person(pid, s)),
                    None => Target::Principal(pid),
                }
            }
            Actor::AwsService => Target::AwsService,
            Actor::Unattributed(k) => Target::Unattributed(self.intern_kind(k)),
        };
        let outcome = match r.error_code.as_deref() {
            None | Some("") => Outcome::Success,
            Some(c) if is_denied(c) => Outcome::Denied,
            Some(_) => Outcome::Error,
        };
        let passed = match (
            self.actions.get(action as usize),
            &target,
            r.request_parameters,
        ) {
            (Some(ActionSlot::Action(_, true, _)), Target::Principal(_), Some(params))
                if outcome == Outcome::Success =>
            {
                Some(crate::passrole::passed_roles(params).into_boxed_slice())
            }
            _ => None,
        };
        let resource = match (self.actions.get(action as usize), &target) {
            (Some(ActionSlot::Action(_, _, Some(naming))), Target::Principal(_))
                if outcome != Outcome::Denied =>
            {
                Some(
                    r.request_parameters
                        .and_then(|params| {
                            named_resource(
                                *naming,
                                params,
                                recorded_by.unwrap_or_default(),
                                r.aws_region.as_deref().unwrap_or_default(),
                            )
                        })
                        .unwrap_or_default()
                        .into_boxed_str(),
                )
            }
            _ => None,
        };
        staged.push(Staged {
            target,
            action,
            at: at.0,
            outcome,
            passed,
            resource,
            account,
        });
        Ok(())
    }

    fn commit(&mut self, staged: &[Staged]) {
        for s in staged {
            self.events += 1;
            self.first_event = Some(self.first_event.map_or(s.at, |f| f.min(s.at)));
            self.last_event = Some(self.last_event.map_or(s.at, |l| l.max(s.at)));
            if s.account != NO_ACCOUNT {
                *self
                    .account_days
                    .entry((s.account, s.at.div_euclid(DAY)))
                    .or_default() += 1;
            }
            if let Some(ActionSlot::Unmapped(_)) = self.actions.get(s.action as usize) {
                *self.unmapped.entry(s.action).or_default() += 1;
                continue;
            }
            match s.target {
                Target::Principal(pid) => {
                    self.cells.entry((pid, s.action)).or_default().add(
                        Timestamp(s.at),
                        s.outcome,
                        1,
                    );
                    // Passed roles count for the principal (the role, not the person);
                    // named resources for the person too, whose exemption may be scoped.
                    let owner = self
                        .principals
                        .get(pid as usize)
                        .and_then(|p| p.person_of.as_ref().map(|(o, _)| *o))
                        .unwrap_or(pid);
                    if let Some(resource) = &s.resource {
                        self.resources
                            .entry((pid, s.action, resource.clone()))
                            .or_default()
                            .add(Timestamp(s.at), s.outcome, 1);
                    }
                    if let Some(roles) = &s.passed {
                        let roles: &[String] = if roles.is_empty() {
                            &[String::new()]
                        } else {
                            roles
                        };
                        for r in roles {
                            self.passed
                                .entry((owner, s.action, r.clone().into_boxed_str()))
                                .or_default()
                                .add(Timestamp(s.at), s.outcome, 1);
                        }
                    }
                }
                Target::AwsService => self.aws_service += 1,
                Target::Unattributed(k) => *self.unattributed.entry(k).or_default() += 1,
            }
        }
    }

    fn intern_action(&mut self, source: &str, name: &str) -> u32 {
        if let Some(id) = self.action_index.get(source).and_then(|m| m.get(name)) {
            return *id;
        }
        let id = u32::try_from(self.actions.len()).unwrap_or(u32::MAX);
        self.actions.push(match event_action(source, name) {
            EventAction::Action { action, .. } => {
                let passes = crate::passrole::passes_role(&action);
                let naming = crate::resources::naming(&action);
                ActionSlot::Action(action.into(), passes, naming)
            }
            EventAction::NotAnAction => ActionSlot::SignIn,
            EventAction::Unmapped => ActionSlot::Unmapped(source.into()),
        });
        self.action_index
            .entry(source.into())
            .or_default()
            .insert(name.into(), id);
        id
    }

    fn intern_principal(&mut self, arn: &str, kind: PrincipalKind, account: &str) -> u32 {
        if let Some(id) = self.principal_index.get(arn) {
            return *id;
        }
        let id = u32::try_from(self.principals.len()).unwrap_or(u32::MAX);
        self.principals.push(PrincipalSlot {
            arn: arn.into(),
            kind,
            account: account.into(),
            person_of: None,
            persons: FxHashMap::default(),
        });
        self.principal_index.insert(arn.into(), id);
        id
    }

    fn intern_person(&mut self, pid: u32, person: &str) -> u32 {
        let next = u32::try_from(self.principals.len()).unwrap_or(u32::MAX);
        let Some(slot) = self.principals.get_mut(pid as usize) else {
            return pid;
        };
        if let Some(id) = slot.persons.get(person) {
            return *id;
        }
        slot.persons.insert(person.into(), next);
        let new = PrincipalSlot {
            arn: slot.arn.clone(),
            kind: slot.kind,
            account: slot.account.clone(),
            person_of: Some((pid, person.into())),
            persons: FxHashMap::default(),
        };
        self.principals.push(new);
        next
    }

    fn intern_account(&mut self, account: &str) -> u32 {
        // A file holds one account's events: the previous record's is almost always it.
        if let Some(last) = self.accounts.get(self.last_account as usize) {
            if **last == *account {
                return self.last_account;
            }
        }
        let id = match self.account_index.get(account) {
            Some(id) => *id,
            None => {
                let id = u32::try_from(self.accounts.len()).unwrap_or(NO_ACCOUNT);
                self.accounts.push(account.into());
                self.account_index.insert(account.into(), id);
                id
            }
        };
        self.last_account = id;
        id
    }

    fn intern_kind(&mut self, kind: &str) -> u32 {
        if let Some(i) = self.kinds.iter().position(|k| &**k == kind) {
            return u32::try_from(i).unwrap_or(u32::MAX);
        }
        self.kinds.push(kind.into());
        u32::try_from(self.kinds.len() - 1).unwrap_or(u32::MAX)
    }

    /// The sorted, serialisable table of everything added.
    #[must_use]
    pub fn into_table(self) -> UsageTable {
        let mut t = UsageTable::new();
        if let (Some(f), Some(l)) = (self.first_event, self.last_event) {
            t.note_events(self.events, Timestamp(f), Timestamp(l));
        }
        for ((pid, aid), u) in &self.cells {
            let (Some(p), Some(a)) = (
                self.principals.get(*pid as usize),
                self.actions.get(*aid as usize),
            ) else {
                continue;
            };
            let action = match a {
                ActionSlot::Action(name, _, _) => Some(&**name),
                ActionSlot::SignIn => None,
                ActionSlot::Unmapped(_) => continue,
            };
            let session = p.person_of.as_ref().map(|(_, s)| &**s);
            t.add_aggregate(&p.arn, p.kind, &p.account, session, action, u);
        }
        for ((pid, aid, role), u) in &self.passed {
            if let (Some(p), Some(ActionSlot::Action(name, _, _))) = (
                self.principals.get(*pid as usize),
                self.actions.get(*aid as usize),
            ) {
                t.add_passed(&p.arn, p.kind, &p.account, name, role, u);
            }
        }
        for ((pid, aid, resource), u) in &self.resources {
            if let (Some(p), Some(ActionSlot::Action(name, _, _))) = (
                self.principals.get(*pid as usize),
                self.actions.get(*aid as usize),
            ) {
                t.add_resource(&p.arn, p.kind, &p.account, name, resource, u);
                if let Some((_, session)) = &p.person_of {
                    t.add_session_resource(&p.arn, p.kind, &p.account, session, name, resource, u);
                }
            }
        }
        for ((a, day), n) in &self.account_days {
            if let Some(account) = self.accounts.get(*a as usize) {
                t.note_account_events(account, Date(*day), *n);
            }
        }
        t.other.aws_service = self.aws_service;
        for (k, n) in &self.unattributed {
            if let Some(kind) = self.kinds.get(*k as usize) {
                *t.other.unattributed.entry(kind.to_string()).or_default() += n;
            }
        }
        for (a, n) in &self.unmapped {
            if let Some(ActionSlot::Unmapped(src)) = self.actions.get(*a as usize) {
                *t.other.unmapped_sources.entry(src.to_string()).or_default() += n;
            }
        }
        t
    }
}

/// Parses one log file into a fresh table (convenience for single files and tests).
///
/// # Errors
/// As [`Aggregator::add_log`].
pub fn parse_log(json: &[u8], window: &Window) -> Result<UsageTable, ParseError> {
    let mut a = Aggregator::new();
    a.add_log(json, window)?;
    Ok(a.into_table())
}
