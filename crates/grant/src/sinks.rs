//! Where streaming the audit log to each SIEM sink stands: a cursor per sink (the last entry
//! the sink acknowledged) and the entries delivery gave up on. The server's delivery loop reads
//! entries after the cursor, sends them and moves the cursor forward with
//! [`Store::advance_sink`](crate::Store::advance_sink), a compare-and-set, so two servers never
//! move it backwards; the log itself is never copied.

use serde::{Deserialize, Serialize};

use crate::Millis;

/// One sink's cursor, as read with [`StoreRead::sink_cursor`](crate::StoreRead::sink_cursor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkCursor {
    /// The sink's name (`[[siem]] name`).
    pub name: String,
    /// Every entry up to this `seq` was acknowledged by the sink (0: none yet).
    pub delivered_seq: i64,
    /// How many times the sink refused the entries after the cursor (a refusal retrying does
    /// not change); back to 0 when the cursor moves.
    pub attempts: i32,
    /// The last failure at this cursor (a refusal, an error status, a network error).
    pub last_error: Option<String>,
    /// When the cursor last moved or failed.
    pub updated_at: Option<Millis>,
    /// The log's newest `seq` when the cursor was read (0: an empty log), so that
    /// `head_seq - delivered_seq` is how far the sink lags.
    pub head_seq: i64,
}

impl SinkCursor {
    /// Entries in the log the sink has not acknowledged.
    #[must_use]
    pub fn lag(&self) -> i64 {
        self.head_seq.saturating_sub(self.delivered_seq).max(0)
    }
}

/// An entry a sink refused until delivery gave up on it and moved on. The entry itself stays
/// in the log; this says which sink never took it, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The sink.
    pub name: String,
    /// The audit entry's `seq`.
    pub seq: i64,
    /// The sink's last answer.
    pub error: String,
    /// When delivery gave up.
    pub at: Millis,
}
