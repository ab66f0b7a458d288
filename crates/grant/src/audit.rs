//! The audit log's hash chain: canonical JSON, hashing, verification and JSON Lines.
//!
//! Entry `n` stores `prev_hash` (entry `n-1`'s hash, 64 zeros for the first) and
//! `hash = hex(SHA-256(prev_hash ‖ "\n" ‖ canonical_json(entry without hash)))`, where the
//! canonical JSON has keys sorted at every level and no whitespace. Editing an entry changes
//! its hash; removing or reordering entries breaks `seq` continuity and the `prev_hash` links.
//! Truncating the tail is only visible against a head anchored elsewhere: [`Verification`]
//! reports the head (`count`, `head_hash`), and compares the log with one recorded earlier
//! ([`Verification::expect_count`], [`Verification::expect_head`]), with what a signed
//! checkpoint says it held ([`Verification::expect_prefix`], see [`crate::checkpoint`]), and
//! with the entries the store's request and grant rows name
//! ([`Verification::check_references`]).

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::records::{AuditEvent, AuditRecord, AuditReference, Millis};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Write `value` as canonical JSON: object keys sorted (by UTF-8 bytes), no whitespace.
#[must_use]
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The canonical JSON of an entry without its hash (what the hash covers besides `prev_hash`).
#[must_use]
pub fn entry_body(seq: i64, event: &AuditEvent, prev_hash: &str) -> String {
    let body = serde_json::json!({
        "seq": seq,
        "at": event.at,
        "kind": event.kind,
        "actor": event.actor,
        "subject": event.subject,
        "details": event.details,
        "prev_hash": prev_hash,
    });
    canonical_json(&body)
}

/// Hex SHA-256 of `prev_hash ‖ "\n" ‖ body`.
#[must_use]
pub fn chain_hash(prev_hash: &str, body: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(body.as_bytes());
    hex(&hasher.finalize())
}

/// Lower-case hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Build the record that follows `prev` (`None` for the first entry).
#[must_use]
pub fn seal(prev: Option<(i64, &str)>, event: &AuditEvent) -> AuditRecord {
    let (seq, prev_hash) = match prev {
        Some((seq, hash)) => (seq + 1, hash.to_owned()),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let body = entry_body(seq, event, &prev_hash);
    let hash = chain_hash(&prev_hash, &body);
    AuditRecord {
        seq,
        at: event.at,
        kind: event.kind.clone(),
        actor: event.actor.clone(),
        subject: event.subject.clone(),
        details: event.details.clone(),
        prev_hash,
        hash,
    }
}

/// One problem found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    /// Position in the input (0-based) of the entry where the chain breaks.
    pub index: usize,
    /// The entry's `seq` as stored.
    pub seq: i64,
    /// What is wrong.
    pub problem: String,
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Entries checked.
    pub count: usize,
    /// The last entry's hash: anchor it elsewhere to detect truncation later.
    pub head_hash: String,
    /// Time of the first and last entry.
    pub first_at: Option<Millis>,
    /// Time of the last entry.
    pub last_at: Option<Millis>,
    /// Every break found, in order.
    pub breaks: Vec<Break>,
    /// What is wrong with the log as a whole: it ends before (or after) where an anchor says
    /// it ends — an expected head or count, a checkpoint, rows of the database that name
    /// entries the log no longer holds.
    pub problems: Vec<String>,
}

impl Verification {
    /// Every break and problem, one line each (`entry seq 7: …`).
    #[must_use]
    pub fn faults(&self) -> Vec<String> {
        self.breaks
            .iter()
            .map(|b| format!("entry seq {}: {}", b.seq, b.problem))
            .chain(self.problems.iter().cloned())
            .collect()
    }

    /// True when no entry was edited, removed or reordered, and every anchor checked holds.
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty() && self.problems.is_empty()
    }

    /// The log must hold exactly `expected` entries.
    pub fn expect_count(&mut self, expected: usize) {
        let count = self.count;
        if count == expected {
            return;
        }
        self.problems.push(if count == 0 {
            format!("the log is empty where {expected} entries were expected")
        } else if count < expected {
            format!(
                "the log holds {count} entries where {expected} were expected: its newest {} \
                 entries are missing (removed, or the log was cut short)",
                expected - count
            )
        } else {
            format!(
                "the log holds {count} entries where exactly {expected} were expected ({} more)",
                count - expected
            )
        });
    }

    /// The log (`records`, the ones this verification checked) must end at the entry whose
    /// hash is `head`.
    pub fn expect_head(&mut self, records: &[AuditRecord], head: &str) {
        let head = head.to_ascii_lowercase();
        let Some(last) = records.last() else {
            self.problems.push(format!(
                "the log is empty where it was expected to end at {head}"
            ));
            return;
        };
        if last.hash == head {
            return;
        }
        self.problems
            .push(match records.iter().position(|r| r.hash == head) {
                Some(i) => format!(
                    "the log continues past the expected head: {head} is entry #{} (seq {}), and \
                     {} entries follow",
                    i + 1,
                    records.get(i).map_or(0, |r| r.seq),
                    records.len() - i - 1
                ),
                None => format!(
                    "the expected head {head} is not in the log, which ends at {} (entry #{}, \
                     seq {}): entries were removed or rewritten",
                    last.hash,
                    records.len(),
                    last.seq
                ),
            });
    }

    /// The log (`records`) must hold at least `count` entries, the `count`-th with hash `head`:
    /// what an earlier, independently kept statement of the log (`source`, e.g. a signed
    /// checkpoint) says it held.
    pub fn expect_prefix(&mut self, records: &[AuditRecord], count: u64, head: &str, source: &str) {
        let held = records.len();
        let Some(index) = usize::try_from(count).ok().and_then(|c| c.checked_sub(1)) else {
            if count == 0 && head != GENESIS_HASH {
                self.problems
                    .push(format!("{source} says the log was empty, with head {head}"));
            }
            return;
        };
        match records.get(index) {
            None if held == 0 => self.problems.push(format!(
                "the log is empty, but {source} says it held {count} entries (head {head})"
            )),
            None => self.problems.push(format!(
                "the log holds {held} entries, but {source} says it held {count} (head {head}): \
                 its newest {} entries are missing (removed, or the log was cut short)",
                count.saturating_sub(u64::try_from(held).unwrap_or(u64::MAX))
            )),
            Some(r) if r.hash != head || usize::try_from(r.seq).ok() != Some(index + 1) => {
                self.problems.push(format!(
                    "entry #{count} has hash {} (seq {}), but {source} says it had hash {head}: \
                 the log was rewritten at or before that entry",
                    r.hash, r.seq
                ));
            }
            Some(_) => {}
        }
    }

    /// Every request and grant row must name an entry the log (`records`) holds, with the
    /// hash the row remembers: a log cut short below a row's last write, emptied, or rewritten
    /// from there fails. The first few rows are named, then how many more.
    pub fn check_references(&mut self, records: &[AuditRecord], refs: &[AuditReference]) {
        const NAMED: usize = 10;
        let by_seq: std::collections::HashMap<i64, &str> =
            records.iter().map(|r| (r.seq, r.hash.as_str())).collect();
        let holds = if records.is_empty() {
            "it is empty".to_owned()
        } else {
            format!("it holds {} entries", records.len())
        };
        let mut found = Vec::new();
        for r in refs {
            let row = format!("{} `{}`", r.table, r.id);
            let problem = match (r.seq, r.hash.as_deref()) {
                (Some(0), Some(GENESIS_HASH)) => None,
                (Some(seq), Some(hash)) if seq > 0 => match by_seq.get(&seq) {
                    Some(h) if *h == hash => None,
                    Some(h) => Some(format!(
                        "{row} was last written at audit entry seq {seq} with hash {hash}, but the \
                         log's entry seq {seq} has hash {h}: the log was rewritten from there"
                    )),
                    None => Some(format!(
                        "{row} was last written at audit entry seq {seq}, which the log does not \
                         hold ({holds}): entries were removed"
                    )),
                },
                _ => Some(format!(
                    "{row} names no audit entry: rows are written together with the log's head"
                )),
            };
            found.extend(problem);
        }
        let more = found.len().saturating_sub(NAMED);
        self.problems.extend(found.into_iter().take(NAMED));
        if more > 0 {
            self.problems.push(format!(
                "… and {more} more requests or grants name audit entries the log does not hold"
            ));
        }
    }
}

/// True for a hash as the log writes it: 64 hex digits (either case accepted).
#[must_use]
pub fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Check a sequence of records in the order given (the log's order): `seq` runs 1, 2, 3, …;
/// each `prev_hash` is the previous entry's `hash`; each `hash` recomputes.
#[must_use]
pub fn verify(records: &[AuditRecord]) -> Verification {
    verify_after(None, records)
}

/// [`verify`] for the entries that follow `prev` (`seq`, `hash` of an entry already checked;
/// `None` for the start of the log). `count` is then the number of entries given.
#[must_use]
pub fn verify_after(prev: Option<(i64, &str)>, records: &[AuditRecord]) -> Verification {
    let mut breaks = Vec::new();
    let (mut prev_seq, mut expected_prev) = match prev {
        Some((seq, hash)) => (seq, hash.to_owned()),
        None => (0, GENESIS_HASH.to_owned()),
    };
    // Each entry must follow the previous one's seq; after a gap, checking resumes from the
    // entry found, so one removal is reported once rather than for every later entry.
    for (index, rec) in records.iter().enumerate() {
        let expected_seq = prev_seq.saturating_add(1);
        prev_seq = rec.seq;
        if rec.seq != expected_seq {
            breaks.push(Break {
                index,
                seq: rec.seq,
                problem: format!(
                    "sequence number is {} where {expected_seq} was expected: an entry was removed, inserted or moved",
                    rec.seq
                ),
            });
        }
        if rec.prev_hash != expected_prev {
            breaks.push(Break {
                index,
                seq: rec.seq,
                problem:
                    "prev_hash does not match the previous entry's hash: the chain is broken here"
                        .to_owned(),
            });
        }
        let event = AuditEvent {
            at: rec.at,
            kind: rec.kind.clone(),
            actor: rec.actor.clone(),
            subject: rec.subject.clone(),
            details: rec.details.clone(),
        };
        let body = entry_body(rec.seq, &event, &rec.prev_hash);
        if chain_hash(&rec.prev_hash, &body) != rec.hash {
            breaks.push(Break {
                index,
                seq: rec.seq,
                problem: "hash does not match the entry's content: the entry was edited".to_owned(),
            });
        }
        expected_prev = rec.hash.clone();
    }
    Verification {
        count: records.len(),
        head_hash: expected_prev,
        first_at: records.first().map(|r| r.at),
        last_at: records.last().map(|r| r.at),
        breaks,
        problems: Vec::new(),
    }
}

/// One record as a JSON Lines line (canonical JSON, no newline).
#[must_use]
pub fn to_json_line(record: &AuditRecord) -> String {
    canonical_json(&serde_json::to_value(record).unwrap_or(Value::Null))
}

/// The fields of an exported record, exactly: the ones the hash covers, and `hash`.
pub const RECORD_FIELDS: [&str; 8] = [
    "seq",
    "at",
    "kind",
    "actor",
    "subject",
    "details",
    "prev_hash",
    "hash",
];

/// Parse JSON Lines written by [`to_json_line`]; errors name the line.
///
/// Each line must hold exactly the fields of [`RECORD_FIELDS`] (`null` where there is no
/// actor or subject): a field the hash does not cover is refused rather than ignored, and a
/// key repeated anywhere in the line is refused, since readers disagree on which copy counts.
///
/// # Errors
/// A line that is not an audit record, or holds unknown, missing or repeated fields.
pub fn parse_json_lines(text: &str) -> Result<Vec<AuditRecord>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec = parse_record(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        out.push(rec);
    }
    Ok(out)
}

fn parse_record(line: &str) -> Result<AuditRecord, String> {
    let value = parse_exact(line, "an audit record", &RECORD_FIELDS)?;
    serde_json::from_value(value).map_err(|e| format!("not an audit record: {e}"))
}

/// Parse one JSON object that must hold exactly `fields` (no other, none missing, no key
/// repeated at any level); errors say which.
pub(crate) fn parse_exact(line: &str, what: &str, fields: &[&str]) -> Result<Value, String> {
    let StrictValue(value) = serde_json::from_str(line).map_err(|e| format!("not {what}: {e}"))?;
    let Value::Object(map) = &value else {
        return Err(format!("not {what}: expected a JSON object"));
    };
    if let Some(unknown) = map.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(format!(
            "unknown field `{unknown}` ({what} has exactly: {})",
            fields.join(", ")
        ));
    }
    if let Some(missing) = fields.iter().find(|f| !map.contains_key(**f)) {
        return Err(format!("missing field `{missing}`"));
    }
    Ok(value)
}

/// A JSON value parsed with every object's keys checked for repeats (serde_json keeps the
/// last of repeated keys silently).
pub(crate) struct StrictValue(pub(crate) Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number JSON cannot hold"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = serde_json::Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("repeated key `{key}`")));
            }
            let StrictValue(v) = access.next_value()?;
            map.insert(key, v);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn chain(n: usize) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let ev = AuditEvent::new(1000 + i64::try_from(i).unwrap(), "test.event")
                .actor("alice")
                .details(serde_json::json!({"i": i, "z": [1, {"b": 2, "a": 1}]}));
            let prev = out.last().map(|r| (r.seq, r.hash.as_str()));
            let rec = seal(prev, &ev);
            out.push(rec);
        }
        out
    }

    #[test]
    fn canonical_sorts_keys_at_every_level() {
        let v = serde_json::json!({"b": {"y": 1, "x": [ {"d": 1, "c": 2} ]}, "a": "s"});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":"s","b":{"x":[{"c":2,"d":1}],"y":1}}"#
        );
    }

    #[test]
    fn intact_chain_verifies() {
        let v = verify(&chain(5));
        assert!(v.is_intact(), "{v:?}");
        assert_eq!(v.count, 5);
    }

    #[test]
    fn edit_remove_reorder_are_detected() {
        let mut edited = chain(4);
        edited[2].actor = Some("mallory".into());
        let v = verify(&edited);
        assert_eq!(v.breaks.len(), 1);
        assert_eq!(v.breaks[0].seq, 3);
        assert!(v.breaks[0].problem.contains("edited"));

        let mut removed = chain(6);
        removed.remove(1);
        let v = verify(&removed);
        assert_eq!(v.breaks.len(), 2, "one gap, one broken link: {v:?}");
        assert!(v.breaks.iter().all(|b| b.index == 1 && b.seq == 3));

        let mut reordered = chain(4);
        reordered.swap(1, 2);
        assert!(!verify(&reordered).is_intact());

        // Re-numbering after a removal does not help: the hash covers seq and prev_hash.
        let mut renumbered = chain(4);
        renumbered.remove(1);
        for (i, r) in renumbered.iter_mut().enumerate() {
            r.seq = i64::try_from(i).unwrap() + 1;
        }
        assert!(!verify(&renumbered).is_intact());
    }

    #[test]
    fn a_log_cut_short_fails_against_its_head_or_count() {
        let full = chain(5);
        let head = full[4].hash.clone();

        let mut v = verify(&full);
        v.expect_count(5);
        v.expect_head(&full, &head);
        assert!(v.is_intact(), "{v:?}");

        // The newest two entries removed: the chain itself is still consistent.
        let cut = &full[..3];
        assert!(verify(cut).is_intact());
        let mut v = verify(cut);
        v.expect_count(5);
        assert!(!v.is_intact());
        assert_eq!(v.problems.len(), 1, "{v:?}");
        assert!(
            v.problems[0].contains("holds 3 entries where 5 were expected")
                && v.problems[0].contains("newest 2"),
            "{v:?}"
        );
        let mut v = verify(cut);
        v.expect_head(cut, &head);
        assert!(!v.is_intact());
        assert!(v.problems[0].contains("is not in the log"), "{v:?}");

        // Empty.
        let mut v = verify(&[]);
        v.expect_count(5);
        v.expect_head(&[], &head);
        assert_eq!(v.problems.len(), 2, "{v:?}");
        assert!(v.problems.iter().all(|p| p.contains("empty")), "{v:?}");

        // Longer than anchored: exactly means exactly.
        let mut v = verify(&full);
        v.expect_count(3);
        v.expect_head(&full, &full[2].hash);
        assert_eq!(v.problems.len(), 2, "{v:?}");
        assert!(v.problems[0].contains("2 more"), "{v:?}");
        assert!(
            v.problems[1].contains("entry #3 (seq 3)")
                && v.problems[1].contains("2 entries follow"),
            "{v:?}"
        );
    }

    #[test]
    fn a_log_must_hold_what_a_checkpoint_says_it_held() {
        let full = chain(5);
        let check = |records: &[AuditRecord], count: u64, head: &str| {
            let mut v = verify(records);
            v.expect_prefix(records, count, head, "the checkpoint");
            v.problems
        };
        assert!(
            check(&full, 3, &full[2].hash).is_empty(),
            "a longer log is fine"
        );
        assert!(check(&full, 5, &full[4].hash).is_empty());
        assert!(check(&full, 0, GENESIS_HASH).is_empty());
        let p = check(&full[..2], 3, &full[2].hash);
        assert!(
            p[0].contains("holds 2 entries, but the checkpoint says it held 3"),
            "{p:?}"
        );
        let p = check(&[], 3, &full[2].hash);
        assert!(p[0].contains("empty"), "{p:?}");
        let p = check(&full, 3, &full[1].hash);
        assert!(p[0].contains("rewritten"), "{p:?}");
    }

    #[test]
    fn json_lines_round_trip() {
        let c = chain(3);
        let text: String = c.iter().map(|r| to_json_line(r) + "\n").collect();
        let back = parse_json_lines(&text).unwrap();
        assert_eq!(back, c);
        assert!(verify(&back).is_intact());
        let err = parse_json_lines("{}\n").unwrap_err();
        assert!(err.starts_with("line 1"), "{err}");
    }

    #[test]
    fn exported_lines_take_exactly_the_record_fields() {
        let c = chain(2);
        let first = to_json_line(&c[0]);
        let second = to_json_line(&c[1]);
        let with_second = |line: String| format!("{first}\n{line}\n");

        // A field the hash does not cover is refused, not ignored.
        let added = second.replacen('{', r#"{"approved_by":"mallory","#, 1);
        let err = parse_json_lines(&with_second(added)).unwrap_err();
        assert!(
            err.starts_with("line 2:") && err.contains("unknown field `approved_by`"),
            "{err}"
        );

        // Every field must be there, null included.
        let missing = second.replace(r#""actor":"alice","#, "");
        let err = parse_json_lines(&with_second(missing)).unwrap_err();
        assert!(
            err.starts_with("line 2:") && err.contains("missing field `actor`"),
            "{err}"
        );
        let mut no_subject = c[1].clone();
        no_subject.subject = None;
        let line = to_json_line(&no_subject).replace(r#","subject":null"#, "");
        let err = parse_json_lines(&with_second(line)).unwrap_err();
        assert!(err.contains("missing field `subject`"), "{err}");

        // A repeated key, at the top or inside the details, is ambiguous: refused.
        let repeated = second.replacen('{', r#"{"seq":7,"#, 1);
        let err = parse_json_lines(&with_second(repeated)).unwrap_err();
        assert!(
            err.starts_with("line 2:") && err.contains("repeated key `seq`"),
            "{err}"
        );
        let nested = second.replacen(r#""details":{"#, r#""details":{"i":9,"#, 1);
        let err = parse_json_lines(&with_second(nested)).unwrap_err();
        assert!(
            err.starts_with("line 2:") && err.contains("repeated key `i`"),
            "{err}"
        );

        // Blank lines are still skipped and counted.
        let text = format!("{first}\n\n{second}\n");
        assert_eq!(parse_json_lines(&text).unwrap(), c);
        let err = parse_json_lines(&format!("{first}\n\n[]\n")).unwrap_err();
        assert!(err.starts_with("line 3:"), "{err}");
    }
}
