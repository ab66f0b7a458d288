//! Properties of the per-file parser (`parse_log`, what the directory reader runs on each
//! decompressed file): arbitrary bytes and mutations of a real log file never panic, and every
//! error names a place (record, line and column) unless it is about the whole file (empty,
//! UTF-16 or UTF-32 text).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use latch_trail::{parse_log, ParseError, Window};
use proptest::prelude::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/cloudtrail/AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/30/",
    "111122223333_CloudTrail_us-east-1_20260330T0915Z_fixture000000001.json"
);

fn located(e: &ParseError) -> Result<(), TestCaseError> {
    let whole_file = ["empty:", "UTF-16 text", "UTF-32 text"]
        .iter()
        .any(|p| e.message.starts_with(p));
    prop_assert!(
        whole_file || (e.line > 0 && e.column > 0),
        "no line and column: {e}"
    );
    prop_assert!(!e.message.is_empty());
    Ok(())
}

fn edits() -> impl Strategy<Value = Vec<(f64, u8, u8)>> {
    let byte = prop_oneof![
        3 => prop::sample::select(b"{}[]\",:\\ \n0aZ".to_vec()),
        1 => any::<u8>(),
    ];
    // (where, what, how: 0 replace, 1 insert, 2 delete)
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
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = parse_log(&bytes, &Window::all()) {
            located(&e)?;
        }
    }

    #[test]
    fn a_mutated_log_never_panics(edits in edits(), bom in any::<bool>()) {
        let mut bytes = if bom { vec![0xEF, 0xBB, 0xBF] } else { Vec::new() };
        bytes.extend(mutate(std::fs::read(FIXTURE).unwrap(), &edits));
        if let Err(e) = parse_log(&bytes, &Window::all()) {
            located(&e)?;
        }
    }
}

#[test]
fn the_seed_is_valid_with_or_without_a_byte_order_mark() {
    let plain = std::fs::read(FIXTURE).unwrap();
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(&plain);
    assert_eq!(
        parse_log(&plain, &Window::all()).unwrap(),
        parse_log(&bom, &Window::all()).unwrap()
    );
}
