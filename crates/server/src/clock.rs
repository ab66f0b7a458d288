//! Time, injected: the scheduler and the domain never read the system clock directly, so
//! tests drive expiry deterministically with [`ManualClock`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use latch_grant::Millis;
use tokio::sync::watch;

/// A source of "now" that can also sleep until a moment.
#[async_trait]
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, in Unix milliseconds.
    fn now(&self) -> Millis;
    /// Resolve once `now() >= deadline`.
    async fn sleep_until(&self, deadline: Millis);
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> Millis {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }

    async fn sleep_until(&self, deadline: Millis) {
        let now = self.now();
        if deadline > now {
            let wait = u64::try_from(deadline - now).unwrap_or(0);
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        }
    }
}

/// A clock that moves only when told: `set`/`advance` wake every sleeper whose moment came.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<Millis>>,
}

impl ManualClock {
    /// Start at `start`.
    #[must_use]
    pub fn new(start: Millis) -> Self {
        let (tx, _rx) = watch::channel(start);
        ManualClock { now: Arc::new(tx) }
    }

    /// Jump to `at` (never backwards).
    pub fn set(&self, at: Millis) {
        self.now.send_modify(|n| *n = (*n).max(at));
    }

    /// Move forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.now.send_modify(|n| *n = n.saturating_add(ms));
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> Millis {
        *self.now.borrow()
    }

    async fn sleep_until(&self, deadline: Millis) {
        let mut rx = self.now.subscribe();
        // `wait_for` checks the current value first, then every change.
        let _ = rx.wait_for(|now| *now >= deadline).await;
    }
}

/// RFC 3339 (UTC, seconds precision unless there are milliseconds) for people and the API.
pub use latch_time::rfc3339_exact as rfc3339;

/// Parse a duration such as `90s`, `15m`, `1h`, `1h30m`, `2d` into seconds.
///
/// # Errors
/// Anything else, with the reason.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration (expected e.g. `30m`, `1h`, `1h30m`)".to_owned());
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut saw_unit = true;
    for c in t.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            saw_unit = false;
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            other => {
                return Err(format!(
                    "`{t}`: unknown unit `{other}` (use s, m, h or d, e.g. `1h30m`)"
                ))
            }
        };
        if number.is_empty() {
            return Err(format!("`{t}`: a unit must follow a number (e.g. `15m`)"));
        }
        let n: i64 = number
            .parse()
            .map_err(|_| format!("`{t}`: number too large"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{t}`: duration too large"))?;
        number.clear();
        saw_unit = true;
    }
    if !saw_unit {
        return Err(format!(
            "`{t}`: missing unit after `{number}` (use s, m, h or d)"
        ));
    }
    if total <= 0 {
        return Err(format!("`{t}`: duration must be positive"));
    }
    Ok(total)
}

pub use latch_grant::workflow::format_duration;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), 90);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400);
        assert_eq!(parse_duration("2d").unwrap(), 172_800);
        assert!(parse_duration("10").unwrap_err().contains("missing unit"));
        assert!(parse_duration("1x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("h").unwrap_err().contains("must follow"));
        assert!(parse_duration("0s").is_err());
        assert_eq!(format_duration(5400), "1h30m");
        assert_eq!(format_duration(45), "45s");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1500), "1970-01-01T00:00:01.500Z");
    }

    #[tokio::test]
    async fn manual_clock_wakes_sleepers() {
        let c = ManualClock::new(1000);
        let c2 = c.clone();
        let h = tokio::spawn(async move { c2.sleep_until(5000).await });
        tokio::task::yield_now().await;
        c.advance(3000);
        tokio::task::yield_now().await;
        assert!(!h.is_finished());
        c.advance(1000);
        h.await.unwrap();
        assert_eq!(c.now(), 5000);
    }
}
