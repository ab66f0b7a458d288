//! Latch's one date-time module: UTC instants ([`Timestamp`], whole seconds) and calendar dates
//! ([`Date`], whole days) as they appear in CloudTrail records, snapshots, plans and reports.
//!
//! The calendar is [`jiff`]'s; this crate fixes the forms Latch reads and writes: RFC 3339 with
//! seconds (`2026-03-01T12:00:00Z`, a fraction and an offset accepted on input), and
//! `YYYY-MM-DD`. Other grammars stay where their rule is defined: IAM's date condition values
//! (`latch_policy::values::parse_date`) accept ISO 8601 forms AWS documents, and build on
//! [`Date::from_ymd`] here.
//!
//! **Invariant:** no clock. "Now" always comes from the caller.

use std::fmt;
use std::str::FromStr;

use jiff::civil;
use jiff::fmt::temporal::Pieces;
use jiff::SignedDuration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Seconds in one day.
pub const DAY: i64 = 86_400;

/// 1970-01-01, day 0.
const EPOCH: civil::Date = civil::date(1970, 1, 1);

/// A UTC instant in whole seconds since 1970-01-01T00:00:00Z.
///
/// Serialises as an RFC 3339 string (`2026-03-01T12:00:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Parses RFC 3339 — `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` — or a bare date
    /// `YYYY-MM-DD` (midnight UTC). Returns `None` for anything else, including ISO 8601 forms
    /// RFC 3339 does not have (a time without seconds, no offset).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() == 10 {
            return Date::parse(s).map(Date::start);
        }
        // jiff reads the ISO 8601 profile of Temporal, which lets the seconds out; RFC 3339
        // does not.
        if b.len() < 20 || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
            return None;
        }
        let pieces = Pieces::parse(s).ok()?;
        if pieces.time_zone_annotation().is_some() {
            return None;
        }
        let offset = pieces.offset()?.to_numeric_offset().seconds();
        let time = pieces.time()?;
        let day = Date::of(pieces.date())?;
        let second = i64::from(time.hour()) * 3600
            + i64::from(time.minute()) * 60
            + i64::from(time.second());
        Some(Timestamp(day.start().0 + second - i64::from(offset)))
    }

    /// Parses an HTTP date (RFC 9110's IMF-fixdate, `Mon, 07 Dec 2026 18:05:57 GMT`), as in
    /// a `Date` header. Returns `None` for anything else.
    #[must_use]
    pub fn parse_http_date(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split_ascii_whitespace().collect();
        let [weekday, day, month, year, time, "GMT"] = parts.as_slice() else {
            return None;
        };
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        const DAYS: [&str; 7] = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"];
        let month = MONTHS.iter().position(|m| m == month)?;
        fn two(t: &str) -> Option<&str> {
            (t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit())).then_some(t)
        }
        let date = Date::from_ymd(
            year.parse().ok().filter(|_| year.len() == 4)?,
            u32::try_from(month + 1).ok()?,
            two(day)?.parse().ok()?,
        )?;
        if DAYS.get(usize::try_from(date.weekday()).ok()?) != Some(weekday) {
            return None;
        }
        let hms: Vec<i64> = time
            .split(':')
            .map(|t| two(t).and_then(|t| t.parse().ok()))
            .collect::<Option<_>>()?;
        let [h, m, sec] = hms.as_slice() else {
            return None;
        };
        if *h > 23 || *m > 59 || *sec > 60 {
            return None;
        }
        Some(Timestamp(date.start().0 + h * 3600 + m * 60 + sec))
    }

    /// The instant `millis` milliseconds after the epoch, rounded down to the second.
    #[must_use]
    pub fn from_millis(millis: i64) -> Self {
        Timestamp(millis.div_euclid(1000))
    }

    /// The calendar date of this instant (UTC).
    #[must_use]
    pub fn date(self) -> Date {
        Date(self.0.div_euclid(DAY))
    }

    /// Seconds since the epoch.
    #[must_use]
    pub fn seconds(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let second = self.0.rem_euclid(DAY);
        let (hour, minute, second) = (second / 3600, (second / 60) % 60, second % 60);
        // Years 0000–9999, every instant Latch writes in practice: straight into 20 bytes
        // (servers format several per listed grant).
        if let Some(date) = self.date().four_digit_text() {
            let mut text = [0u8; 20];
            let (head, tail) = text.split_at_mut(10);
            head.copy_from_slice(&date);
            tail.copy_from_slice(&[
                b'T',
                digit(hour / 10),
                digit(hour),
                b':',
                digit(minute / 10),
                digit(minute),
                b':',
                digit(second / 10),
                digit(second),
                b'Z',
            ]);
            return f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?);
        }
        write!(f, "{}T{hour:02}:{minute:02}:{second:02}Z", self.date())
    }
}

/// The ASCII digit of `n` (0–9).
fn digit(n: i64) -> u8 {
    b'0' + u8::try_from(n.rem_euclid(10)).unwrap_or(0)
}

/// `(year, month, day)` of `days` since 1970-01-01 in the proleptic Gregorian calendar
/// (the days-to-civil algorithm of Howard Hinnant's "chrono-compatible low-level date
/// algorithms": 400-year eras of 146,097 days, years starting in March). Exact for every `i64`
/// that does not overflow; callers keep to jiff's range.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format_args!("`{s}` is not an RFC 3339 UTC time"))
        })
    }
}

/// RFC 3339 text, to the second, of `millis` milliseconds since the epoch
/// (`2026-11-24T12:41:49Z`).
#[must_use]
pub fn rfc3339(millis: i64) -> String {
    use fmt::Write as _;
    let mut text = String::with_capacity(20);
    // Writing into a String cannot fail.
    let _ = write!(text, "{}", Timestamp::from_millis(millis));
    text
}

/// RFC 3339 text of `millis` milliseconds since the epoch, to the second, or to the
/// millisecond when there are any (`2026-11-24T12:41:49Z`, `2026-11-24T12:41:49.250Z`).
#[must_use]
pub fn rfc3339_exact(millis: i64) -> String {
    let t = Timestamp::from_millis(millis);
    match millis.rem_euclid(1000) {
        0 => t.to_string(),
        ms => {
            let mut text = t.to_string();
            text.pop();
            format!("{text}.{ms:03}Z")
        }
    }
}

/// A calendar date (UTC), as days since 1970-01-01.
///
/// Serialises as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i64);

impl Date {
    /// The date with this year, month (1–12) and day (1–31), if it exists (years -9999 to
    /// 9999).
    #[must_use]
    pub fn from_ymd(y: i64, m: u32, d: u32) -> Option<Self> {
        let date = civil::Date::new(
            i16::try_from(y).ok()?,
            i8::try_from(m).ok()?,
            i8::try_from(d).ok()?,
        );
        Self::of(date.ok()?)
    }

    /// The date of jiff's civil date.
    fn of(date: civil::Date) -> Option<Self> {
        Some(Date(date.duration_since(EPOCH).as_secs().div_euclid(DAY)))
    }

    /// Parses `YYYY-MM-DD`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let shape = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !shape {
            return None;
        }
        Self::of(civil::Date::from_str(s).ok()?)
    }

    /// `(year, month, day)`.
    #[must_use]
    pub fn ymd(self) -> (i64, u32, u32) {
        let d = self.civil();
        (
            i64::from(d.year()),
            u32::try_from(d.month()).unwrap_or(1),
            u32::try_from(d.day()).unwrap_or(1),
        )
    }

    /// Midnight UTC at the start of this date.
    #[must_use]
    pub fn start(self) -> Timestamp {
        Timestamp(self.0.saturating_mul(DAY))
    }

    /// The date `n` days later (earlier for negative `n`).
    #[must_use]
    pub fn add_days(self, n: i64) -> Self {
        Self(self.0 + n)
    }

    /// Day of the week, 0 = Monday … 6 = Sunday.
    #[must_use]
    pub fn weekday(self) -> u32 {
        u32::try_from(self.civil().weekday().to_monday_zero_offset()).unwrap_or(0)
    }

    /// `YYYY-MM-DD` as bytes, for years 0000–9999; `None` outside them.
    fn four_digit_text(self) -> Option<[u8; 10]> {
        let (y, m, d) = civil_from_days(self.0);
        if !(0..=9999).contains(&y) {
            return None;
        }
        let (m, d) = (i64::from(m), i64::from(d));
        Some([
            digit(y / 1000),
            digit(y / 100),
            digit(y / 10),
            digit(y),
            b'-',
            digit(m / 10),
            digit(m),
            b'-',
            digit(d / 10),
            digit(d),
        ])
    }

    /// jiff's civil date, clamped to the years it represents (-9999 to 9999).
    fn civil(self) -> civil::Date {
        let shift = SignedDuration::from_secs(self.0.saturating_mul(DAY));
        EPOCH.checked_add(shift).unwrap_or(if self.0 < 0 {
            civil::Date::MIN
        } else {
            civil::Date::MAX
        })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.four_digit_text() {
            Some(text) => f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?),
            // Outside years 0000–9999: jiff's form (a sign and six digits), clamped to its range.
            None => write!(f, "{}", self.civil()),
        }
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format_args!("`{s}` is not a date YYYY-MM-DD")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        // RFC 9110 section 5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`.
        assert_eq!(
            Timestamp::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Timestamp::parse("1994-11-06T08:49:37Z")
        );
        assert_eq!(
            Timestamp::parse_http_date("Mon, 07 Dec 2026 18:05:57 GMT"),
            Timestamp::parse("2026-12-07T18:05:57Z")
        );
        for bad in [
            "Mon, 06 Nov 1994 08:49:37 GMT", // the wrong weekday
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "",
        ] {
            assert_eq!(Timestamp::parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_round_trip_across_eras() {
        let first = Date::from_ymd(-9999, 1, 1).unwrap().0;
        let last = Date::from_ymd(9999, 12, 31).unwrap().0;
        for z in (first..=last).step_by(37).chain([first, last]) {
            let (y, m, d) = Date(z).ymd();
            assert_eq!(Date::from_ymd(y, m, d), Some(Date(z)), "day {z}");
        }
        assert_eq!(Date(0).ymd(), (1970, 1, 1));
        assert_eq!(Date(19_782).ymd(), (2024, 2, 29));
        assert_eq!(Date(-1).ymd(), (1969, 12, 31));
    }

    #[test]
    fn the_fast_calendar_agrees_with_jiff() {
        let first = Date::from_ymd(-9999, 1, 1).unwrap().0;
        let last = Date::from_ymd(9999, 12, 31).unwrap().0;
        for z in (first..=last).step_by(13).chain([first, last, -1, 0, 1]) {
            let d = Date(z).civil();
            let want = (
                i64::from(d.year()),
                u32::try_from(d.month()).unwrap(),
                u32::try_from(d.day()).unwrap(),
            );
            assert_eq!(civil_from_days(z), want, "day {z}");
            if (0..=9999).contains(&want.0) {
                assert_eq!(Date(z).to_string(), d.to_string(), "day {z}");
            }
        }
        assert_eq!(Date(-719_528).to_string(), "0000-01-01");
        assert_eq!(Date(-719_529).to_string(), "-000001-12-31");
        assert_eq!(
            Timestamp(-62_167_219_200).to_string(),
            "0000-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp(253_402_300_799).to_string(),
            "9999-12-31T23:59:59Z"
        );
    }

    #[test]
    fn known_instants() {
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z"), Some(Timestamp(0)));
        assert_eq!(Timestamp::parse("1970-01-02"), Some(Timestamp(DAY)));
        assert_eq!(
            Timestamp::parse("2024-02-29T12:34:56Z"),
            Some(Timestamp(1_709_210_096))
        );
        assert_eq!(
            Timestamp::parse("2024-02-29T14:34:56.123+02:00"),
            Some(Timestamp(1_709_210_096))
        );
        assert_eq!(Timestamp(1_709_210_096).to_string(), "2024-02-29T12:34:56Z");
        assert_eq!(rfc3339(1_700_000_000_999), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_exact(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_exact(1_700_000_000_025), "2023-11-14T22:13:20.025Z");
        assert_eq!(rfc3339_exact(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(Date::parse("2023-02-29"), None);
        assert_eq!(Date::parse("2024-2-29"), None);
        assert_eq!(Timestamp::parse("2024-02-29T12:34Z"), None);
        assert_eq!(Timestamp::parse("2024-02-29T25:00:00Z"), None);
        assert_eq!(Timestamp::parse("2024-02-29T12:34:56"), None);
        assert_eq!(Timestamp::parse("yesterday"), None);
        assert_eq!(Date::parse("2026-11-02").unwrap().weekday(), 0);
        assert_eq!(Date::parse("2026-11-08").unwrap().weekday(), 6);
    }

    #[test]
    fn instants_out_of_the_calendar_do_not_panic() {
        assert!(Timestamp(i64::MAX).to_string().starts_with("9999-12-31T"));
        assert!(Timestamp(i64::MIN)
            .to_string()
            .starts_with("-009999-01-01T"));
        assert_eq!(Date::from_ymd(10_000, 1, 1), None);
        assert_eq!(
            Timestamp::parse("9999-12-31T23:59:59Z"),
            Some(Timestamp(
                Date::from_ymd(9999, 12, 31).unwrap().start().0 + DAY - 1
            ))
        );
    }

    #[test]
    fn serde_forms() {
        let t: Timestamp = serde_json::from_str("\"2026-03-01T12:00:00Z\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-03-01T12:00:00Z\""
        );
        let d: Date = serde_json::from_str("\"2026-03-01\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2026-03-01\"");
        assert!(serde_json::from_str::<Date>("\"March 1st\"").is_err());
    }
}
