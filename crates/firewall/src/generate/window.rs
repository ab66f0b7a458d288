//! The usage window, and whether CloudTrail usage counts at all: the rule shared with
//! `latch scan` (`latch_trail::evidence::usage_verdict`). Every layer that rests on usage reads
//! it from here, so that none uses what the verdict turned down.

use latch_trail::evidence::usage_verdict;
use latch_trail::UsageTable;

use super::{GenerateError, PlanInput, UsageWindow};

/// CloudTrail usage that counts, and its window.
#[derive(Debug, Clone, Copy)]
pub(super) struct Usage<'a> {
    pub(super) table: &'a UsageTable,
    pub(super) window: UsageWindow,
}

/// The usage that counts, if any; warns when there is none, and when reading the logs lost
/// some of it.
pub(super) fn usage<'a>(
    input: &PlanInput<'a>,
    warnings: &mut Vec<String>,
) -> Result<Option<Usage<'a>>, GenerateError> {
    let window = match (input.usage, input.as_of) {
        (Some(_), Some(d)) => Some(UsageWindow::ending(d, input.config.usage.window_days)),
        (Some(_), None) => return Err(GenerateError::NoAsOf),
        (None, _) => None,
    };
    // The one rule shared with `latch scan`: usage counts only when enough of the log files
    // parsed and the window holds events.
    let not_analysed = match (input.usage, window) {
        (Some(u), Some(w)) => usage_verdict(input.reading.as_ref(), u, &w.trail_window()).err(),
        _ => None,
    };
    let usage = match (input.usage, window) {
        (Some(table), Some(window)) if not_analysed.is_none() => Some(Usage { table, window }),
        _ => None,
    };
    if usage.is_none() {
        let why = not_analysed.map_or_else(String::new, |e| format!(" ({e})"));
        warnings.push(format!(
            "NO CLOUDTRAIL DATA: usage is unknown{why}, so no usage-based exemptions were made, no zombies were found and no unused service was quarantined. In protect mode this plan may break identities that use protected actions today: add CloudTrail (snapshot `cloudtrail/` or `--cloudtrail DIR`) before enforcing."
        ));
    }
    if let Some(r) = input.reading.filter(|_| usage.is_some()) {
        if r.files_skipped > 0 {
            warnings.push(format!(
                "{} CloudTrail file(s) could not be read and were not counted: usage seen in them is missing from this plan",
                r.files_skipped
            ));
        }
        if r.events_out_of_bounds > 0 {
            warnings.push(format!(
                "{} CloudTrail event(s) were ignored: their time lies more than a day outside their log file's date folder, or after the current time (`latch trail usage` lists the files)",
                r.events_out_of_bounds
            ));
        }
    }
    Ok(usage)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use latch_trail::{Date, Timestamp};

    #[test]
    fn window_is_inclusive_of_as_of() {
        let d = Date::parse("2026-11-20").unwrap();
        let w = UsageWindow::ending(d, 90);
        assert!(w.contains(Timestamp::parse("2026-11-20T23:59:59Z")));
        assert!(!w.contains(Timestamp::parse("2026-11-21T00:00:00Z")));
        assert!(w.contains(Timestamp::parse("2026-08-23T00:00:00Z")));
        assert!(!w.contains(Timestamp::parse("2026-08-22T23:59:59Z")));
    }
}
