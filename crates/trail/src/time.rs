//! Timestamps and calendar dates: Latch's one date-time module ([`latch_time`]).
//!
//! CloudTrail writes `eventTime` as `YYYY-MM-DDTHH:MM:SSZ` (UTC). Usage keeps whole seconds
//! since the Unix epoch; JSON output shows them in the same RFC 3339 form.

pub use latch_time::{Date, Timestamp, DAY};
