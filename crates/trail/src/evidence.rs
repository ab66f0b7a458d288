//! What CloudTrail can be trusted to say.
//!
//! - **When usage counts as analysed at all** ([`usage_verdict`], the one rule `latch scan`
//!   and `latch plan` share): enough of the log files parsed, and the window holds events.
//!   Unreadable CloudTrail is not "nothing was used"; when the rule says no, a run makes no
//!   usage claim (nothing unused, idle or a zombie on CloudTrail's evidence) and says why.
//! - **The bound on an event's time** ([`event_bound`]). CloudTrail delivers a file into the
//!   `YYYY/MM/DD` folder of the day it wrote it, holding that day's events and, near midnight,
//!   a few minutes of the days either side. An event more than [`TOLERANCE`] before its
//!   folder's day or after its end — or after the current time, which the caller passes in —
//!   is not believed: a single record dated 9999-12-31 would otherwise become "the newest
//!   activity", move the usage window past every real call and make everyone look idle.
//! - **The per-account floor** ([`account_has_events`]): an account for which the window holds
//!   no event at all has *no data*, not *no activity*: nothing may be called unused, idle or a
//!   zombie there on the evidence of CloudTrail.
//!
//! Pure: the current time is an argument.

use serde::{Deserialize, Serialize};

use crate::ingest::Window;
use crate::time::{Date, Timestamp, DAY};
use crate::usage::UsageTable;

/// Usage counts as analysed only when at least this share (in percent) of the log files
/// opened could be read and parsed.
pub const MIN_READ_PERCENT: u64 = 90;

/// Why usage read from CloudTrail cannot be used for claims about use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAnalysed(pub String);

/// The rule: whether `usage` (read as `reading` says, when it came from log files) may be
/// used to say who used what in `window`. It may when at least [`MIN_READ_PERCENT`] % of the
/// log files opened parsed and the window holds at least one event; otherwise the reason.
///
/// # Errors
/// [`NotAnalysed`], saying why, when usage may not be claimed.
pub fn usage_verdict(
    reading: Option<&Reading>,
    usage: &UsageTable,
    window: &Window,
) -> Result<(), NotAnalysed> {
    if let Some(r) = reading {
        let opened = r.files_read + r.files_skipped;
        if opened == 0 {
            return Err(NotAnalysed(
                "no CloudTrail log file (`.json.gz` or `.json`) was found".to_owned(),
            ));
        }
        if r.files_read == 0 {
            return Err(NotAnalysed(format!(
                "none of the {opened} CloudTrail log file(s) could be read"
            )));
        }
        if r.files_read.saturating_mul(100) < opened.saturating_mul(MIN_READ_PERCENT) {
            return Err(NotAnalysed(format!(
                "only {} of {opened} CloudTrail log files could be read (at least {MIN_READ_PERCENT} % must be)",
                r.files_read
            )));
        }
    }
    let in_window: u64 = usage
        .account_days
        .keys()
        .map(|a| usage.account_events(a, window))
        .sum();
    if in_window == 0 {
        return Err(NotAnalysed(format!(
            "no CloudTrail event in the usage window{}",
            match (window.since, window.until) {
                (Some(s), Some(u)) => format!(" ({s} to {u})"),
                _ => String::new(),
            }
        )));
    }
    Ok(())
}

/// How far an event's time may lie outside its file's day folder, or after the current time,
/// and still be believed: one day.
pub const TOLERANCE: i64 = DAY;

/// The instant a usage window ends at, and where it came from: the one rule of `latch scan` and
/// `latch plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsOf {
    /// The instant.
    pub at: Timestamp,
    /// Where it came from.
    pub source: AsOfSource,
}

/// Where an [`AsOf`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOfSource {
    /// Given (`--as-of`).
    Given,
    /// The newest activity in the data.
    NewestActivity,
    /// The clock: the data's newest activity is later than the current time.
    ClockDataLater,
    /// The clock: the data has no activity.
    ClockNoData,
}

impl AsOfSource {
    /// For people (and the scan report's `as_of_source`).
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            AsOfSource::Given => "--as-of",
            AsOfSource::NewestActivity => "newest activity in the data",
            AsOfSource::ClockDataLater => {
                "the clock (the data's newest activity is later than the current time)"
            }
            AsOfSource::ClockNoData => "the clock (the data has no activity)",
        }
    }
}

/// When a usage window ends: `given` when there is one (refused when it lies more than
/// [`TOLERANCE`] after `clock`: a window in the future holds no calls and makes every identity
/// look idle); otherwise the newest activity in the data, never after `clock`; otherwise
/// `clock`.
///
/// # Errors
/// `given` is in the future; the message says why that is refused.
pub fn as_of(
    given: Option<Timestamp>,
    newest_activity: Option<Timestamp>,
    clock: Timestamp,
) -> Result<AsOf, String> {
    let (at, source) = match (given, newest_activity) {
        (Some(t), _) if t.0 > clock.0.saturating_add(TOLERANCE) => {
            return Err(format!(
                "{t} is after the current time ({clock}): a usage window in the future holds \
                 no calls and makes every identity look idle"
            ))
        }
        (Some(t), _) => (t, AsOfSource::Given),
        (None, Some(t)) if t.0 > clock.0 => (clock, AsOfSource::ClockDataLater),
        (None, Some(t)) => (t, AsOfSource::NewestActivity),
        (None, None) => (clock, AsOfSource::ClockNoData),
    };
    Ok(AsOf { at, source })
}

/// What reading a CloudTrail folder gave, in numbers (for reports; [`crate::fs::LoadReport`]
/// has the file names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    /// Log files read and counted.
    pub files_read: u64,
    /// Log files that could not be read or parsed (nothing of them is counted).
    pub files_skipped: u64,
    /// Events ignored because their time lies outside what their file can hold
    /// ([`event_bound`]).
    pub events_out_of_bounds: u64,
}

/// The times a log file can plausibly hold: within [`TOLERANCE`] of its day folder (when its
/// path has one), and not more than [`TOLERANCE`] after `now` (when given).
#[must_use]
pub fn event_bound(day: Option<Date>, now: Option<Timestamp>) -> Window {
    let folder_until = day.map(|d| d.start().0 + DAY + TOLERANCE);
    let clock_until = now.map(|n| n.0.saturating_add(TOLERANCE));
    let until = match (folder_until, clock_until) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Window {
        since: day.map(|d| Timestamp(d.start().0 - TOLERANCE)),
        until: until.map(Timestamp),
    }
}

/// The per-account floor: whether `window` holds at least one event recorded for `account`
/// (counted per UTC day, [`UsageTable::account_events`]). When it does not, the account has
/// no data in the window: none of its identities or services may be called unused or idle.
#[must_use]
pub fn account_has_events(usage: &UsageTable, account: &str, window: &Window) -> bool {
    usage.account_events(account, window) > 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn as_of_is_given_else_the_newest_activity_else_the_clock() {
        let clock = Timestamp(1_800_000_000);
        let earlier = Timestamp(clock.0 - 5 * DAY);
        let given = as_of(Some(earlier), Some(clock), clock).unwrap();
        assert_eq!((given.at, given.source), (earlier, AsOfSource::Given));
        // A day of slack for clocks and time zones ahead; more is refused.
        assert!(as_of(Some(Timestamp(clock.0 + DAY)), None, clock).is_ok());
        let future = as_of(Some(Timestamp(clock.0 + DAY + 1)), None, clock).unwrap_err();
        assert!(future.contains("in the future"), "{future}");
        let data = as_of(None, Some(earlier), clock).unwrap();
        assert_eq!(
            (data.at, data.source),
            (earlier, AsOfSource::NewestActivity)
        );
        let later = as_of(None, Some(Timestamp(clock.0 + 60)), clock).unwrap();
        assert_eq!(
            (later.at, later.source),
            (clock, AsOfSource::ClockDataLater)
        );
        let none = as_of(None, None, clock).unwrap();
        assert_eq!((none.at, none.source), (clock, AsOfSource::ClockNoData));
    }

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn reading(read: u64, skipped: u64) -> Reading {
        Reading {
            files_read: read,
            files_skipped: skipped,
            events_out_of_bounds: 0,
        }
    }

    #[test]
    fn usage_is_analysed_only_when_enough_files_parsed_and_the_window_has_events() {
        let mut u = UsageTable::new();
        u.note_account_events("111122223333", Date::parse("2026-11-19").unwrap(), 5);
        let w = Window {
            since: Some(t("2026-08-22T00:00:00Z")),
            until: Some(t("2026-11-20T00:00:00Z")),
        };
        assert_eq!(usage_verdict(Some(&reading(10, 0)), &u, &w), Ok(()));
        assert_eq!(usage_verdict(Some(&reading(9, 1)), &u, &w), Ok(()));
        assert_eq!(usage_verdict(None, &u, &w), Ok(()));
        let why = |r: Option<Reading>, u: &UsageTable, w: &Window| {
            usage_verdict(r.as_ref(), u, w).unwrap_err().to_string()
        };
        assert!(why(Some(reading(8, 2)), &u, &w).contains("only 8 of 10"));
        assert!(why(Some(reading(0, 12)), &u, &w).contains("none of the 12"));
        assert!(why(Some(reading(0, 0)), &u, &w).contains("no CloudTrail log file"));
        // Every file read, but nothing in the window: no evidence either way.
        let later = Window {
            since: Some(t("2026-11-21T00:00:00Z")),
            until: Some(t("2026-12-01T00:00:00Z")),
        };
        assert!(why(Some(reading(10, 0)), &u, &later).contains("no CloudTrail event"));
        assert!(why(None, &UsageTable::new(), &w).contains("no CloudTrail event"));
    }

    #[test]
    fn the_bound_is_the_folder_day_with_a_day_either_side_and_never_after_now() {
        let day = Date::parse("2026-11-19");
        let b = event_bound(day, None);
        assert!(b.contains(t("2026-11-18T00:00:00Z")));
        assert!(!b.contains(t("2026-11-17T23:59:59Z")));
        assert!(b.contains(t("2026-11-20T23:59:59Z")));
        assert!(!b.contains(t("2026-11-21T00:00:00Z")));
        assert!(!b.contains(t("9999-12-31T00:00:00Z")));
        // The clock cuts it shorter when it is earlier.
        let b = event_bound(day, Some(t("2026-11-19T06:00:00Z")));
        assert!(b.contains(t("2026-11-20T05:59:59Z")));
        assert!(!b.contains(t("2026-11-20T06:00:00Z")));
        // Without a day folder only the clock bounds it.
        let b = event_bound(None, Some(t("2026-12-06T00:00:00Z")));
        assert!(b.contains(t("1999-01-01T00:00:00Z")));
        assert!(!b.contains(t("9999-12-31T00:00:00Z")));
        assert_eq!(event_bound(None, None), Window::all());
    }
}
