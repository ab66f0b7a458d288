//! Properties of the server configuration's parser (`Config::parse`, what `Config::load` runs
//! on the file's text): arbitrary bytes and mutations of the example configuration never
//! panic, every error names a field or a line, and a TOML syntax error names the right line.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use latch_input::{decode, Expected};
use latch_server::config::{Config, ConfigError};
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../../deploy/latch.example.toml");

/// Every `*_env` secret is set.
fn env(_: &str) -> Option<String> {
    Some("secret".to_owned())
}

fn located(e: &ConfigError) -> Result<(), TestCaseError> {
    prop_assert_eq!(e.file.as_str(), "latch.toml");
    prop_assert!(!e.field.is_empty() && !e.reason.is_empty(), "{e}");
    prop_assert!(e.field != "line 0" && e.field != "(document)", "{e}");
    Ok(())
}

fn edits() -> impl Strategy<Value = Vec<(f64, u8, u8)>> {
    let byte = prop_oneof![
        3 => prop::sample::select(b"[]=\"'.,#{} \n0a-".to_vec()),
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
        if let Ok(text) = decode(bytes, Expected::Toml) {
            if let Err(e) = Config::parse(&text, "latch.toml", &env) {
                located(&e)?;
            }
        }
    }

    #[test]
    fn a_mutated_example_never_panics(edits in edits()) {
        let bytes = mutate(EXAMPLE.as_bytes().to_vec(), &edits);
        if let Ok(text) = decode(bytes, Expected::Toml) {
            if let Err(e) = Config::parse(&text, "latch.toml", &env) {
                located(&e)?;
            }
        }
    }

    #[test]
    fn a_syntax_error_names_its_line(line in 0usize..40, indent in 0usize..3) {
        let mut lines: Vec<&str> = EXAMPLE.lines().collect();
        let at = line.min(lines.len());
        let bad = format!("{}= =", " ".repeat(indent));
        lines.insert(at, &bad);
        let text = lines.join("\n");
        let e = Config::parse(&text, "latch.toml", &env).unwrap_err();
        prop_assert_eq!(e.field, format!("line {}", at + 1));
    }
}

#[test]
fn the_seed_is_valid() {
    Config::parse(EXAMPLE, "latch.toml", &env).unwrap();
}
