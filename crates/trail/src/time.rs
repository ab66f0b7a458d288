//! Timestamps and calendar dates without a date library and without the clock.
//!
//! CloudTrail writes `eventTime` as `YYYY-MM-DDTHH:MM:SSZ` (UTC). Usage keeps whole seconds
//! since the Unix epoch; JSON output shows them in the same RFC 3339 form.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Seconds in one day.
pub const DAY: i64 = 86_400;

/// A UTC instant in whole seconds since 1970-01-01T00:00:00Z.
///
/// Serialises as an RFC 3339 string (`2026-03-01T12:00:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` or a bare date `YYYY-MM-DD`
    /// (midnight UTC). Returns `None` for anything else.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        parse_rfc3339(s.as_bytes()).map(Self)
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
        let (y, m, d) = civil_from_days(self.0.div_euclid(DAY));
        let secs = self.0.rem_euclid(DAY);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        )
    }
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

/// A calendar date (UTC), as days since 1970-01-01.
///
/// Serialises as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i64);

impl Date {
    /// The date with this year, month (1–12) and day (1–31), if it exists.
    #[must_use]
    pub fn from_ymd(y: i64, m: u32, d: u32) -> Option<Self> {
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        Some(Self(days_from_civil(y, m, d)))
    }

    /// Parses `YYYY-MM-DD`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return None;
        }
        let y = digits(b, 0, 4)?;
        let m = digits(b, 5, 2)?;
        let d = digits(b, 8, 2)?;
        Self::from_ymd(i64::from(y), m, d)
    }

    /// `(year, month, day)`.
    #[must_use]
    pub fn ymd(self) -> (i64, u32, u32) {
        civil_from_days(self.0)
    }

    /// Midnight UTC at the start of this date.
    #[must_use]
    pub fn start(self) -> Timestamp {
        Timestamp(self.0 * DAY)
    }

    /// The date `n` days later (earlier for negative `n`).
    #[must_use]
    pub fn add_days(self, n: i64) -> Self {
        Self(self.0 + n)
    }

    /// Day of the week, 0 = Monday … 6 = Sunday.
    #[must_use]
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        u32::try_from((self.0 + 3).rem_euclid(7)).unwrap_or(0)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
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

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Works in 400-year eras (146,097
/// days each) with years starting in March so that the leap day falls at the end.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let m = i64::from(m);
    let month_from_march = if m > 2 { m - 3 } else { m + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(d) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let d = day_of_year - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = year_of_era + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let mut v: u32 = 0;
    for &c in b.get(at..at + n)? {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn parse_rfc3339(b: &[u8]) -> Option<i64> {
    let date = Date::parse(std::str::from_utf8(b.get(..10)?).ok()?)?;
    if b.len() == 10 {
        return Some(date.start().0);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let h = digits(b, 11, 2)?;
    let mi = digits(b, 14, 2)?;
    let s = digits(b, 17, 2)?;
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = b.get(19..)?;
    if rest.first() == Some(&b'.') {
        let frac = rest
            .iter()
            .skip(1)
            .take_while(|c| c.is_ascii_digit())
            .count();
        if frac == 0 {
            return None;
        }
        rest = rest.get(1 + frac..)?;
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let oh = i64::from(digits(rest, 1, 2)?);
            let om = i64::from(digits(rest, 4, 2)?);
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    Some(date.start().0 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s) - offset)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_dates_across_eras() {
        for z in (-800_000..800_000).step_by(37) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
            assert_eq!(Date::from_ymd(y, m, d), Some(Date(z)));
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z"), Some(Timestamp(0)));
        assert_eq!(
            Timestamp::parse("2024-02-29T12:34:56Z"),
            Some(Timestamp(1_709_210_096))
        );
        assert_eq!(
            Timestamp::parse("2024-02-29T14:34:56.123+02:00"),
            Some(Timestamp(1_709_210_096))
        );
        assert_eq!(Timestamp(1_709_210_096).to_string(), "2024-02-29T12:34:56Z");
        assert_eq!(Date::parse("2023-02-29"), None);
        assert_eq!(Timestamp::parse("2024-02-29T12:34Z"), None);
        assert_eq!(Timestamp::parse("2024-02-29T25:00:00Z"), None);
        assert_eq!(Date::parse("2026-11-02").unwrap().weekday(), 0);
    }
}
