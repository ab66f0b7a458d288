//! Timestamps in files and S3 key prefixes (UTC), on Latch's one date-time module
//! ([`latch_time`]); and the one place this crate reads the clock.

pub use latch_time::rfc3339;

/// Parses RFC 3339 / ISO 8601 date-times, or plain dates (`2026-11-01`, midnight UTC), to
/// milliseconds since the epoch.
pub fn parse_time(text: &str) -> Option<i64> {
    if text.len() == 10 {
        return latch_policy::values::parse_date(&format!("{text}T00:00:00Z"));
    }
    latch_policy::values::parse_date(text)
}

/// Milliseconds since the epoch, now. The one place this crate reads the clock.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn parses_dates_and_times() {
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(parse_time("yesterday"), None);
    }
}
