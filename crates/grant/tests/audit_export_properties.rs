//! Properties of the audit export's parser (`audit::parse_json_lines`, what `latch audit
//! verify --file` runs on the file's text): arbitrary bytes and mutations of a real export
//! never panic, and every error names its line.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use latch_grant::audit::{parse_json_lines, seal, to_json_line};
use latch_grant::AuditEvent;
use latch_input::{decode, Expected};
use proptest::prelude::*;

fn export() -> String {
    let mut lines = String::new();
    let mut prev: Option<(i64, String)> = None;
    for i in 0..4i64 {
        let event = AuditEvent::new(1_000 + i, "grant.requested")
            .actor("alice")
            .details(serde_json::json!({"bundle": "iam-admin", "i": i, "why": "ticket \"42\""}));
        let rec = seal(prev.as_ref().map(|(s, h)| (*s, h.as_str())), &event);
        lines.push_str(&to_json_line(&rec));
        lines.push('\n');
        prev = Some((rec.seq, rec.hash.clone()));
    }
    lines
}

fn located(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    if let Ok(text) = decode(bytes, Expected::JsonLines) {
        if let Err(e) = parse_json_lines(&text) {
            prop_assert!(e.contains("line "), "no line: {e}");
        }
    }
    Ok(())
}

fn edits() -> impl Strategy<Value = Vec<(f64, u8, u8)>> {
    let byte = prop_oneof![
        3 => prop::sample::select(b"{}[]\",:\\ \n0a-".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec((0.0..1.0f64, byte, 0u8..3), 1..6)
}

fn mutate(mut bytes: Vec<u8>, edits: &[(f64, u8, u8)]) -> Vec<u8> {
    for &(p, b, how) in edits {
        let i = ((p * bytes.len() as f64) as usize).min(bytes.len().saturating_sub(1));
        match how {
            0 if !bytes.is_empty() => bytes[i] = b,
            1 => bytes.insert(i, b),
            2 if !bytes.is_empty() => {
                bytes.remove(i);
            }
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        located(bytes)?;
    }

    #[test]
    fn a_mutated_export_never_panics(edits in edits()) {
        located(mutate(export().into_bytes(), &edits))?;
    }
}

#[test]
fn the_seed_is_valid() {
    assert_eq!(parse_json_lines(&export()).unwrap().len(), 4);
}
