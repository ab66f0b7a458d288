//! Properties of the parsers behind the firewall's loaders: the configuration (`latch.toml`,
//! `Config::parse`) and `plan.json` as `latch prove` reads it (`Plan::from_json`). Arbitrary
//! bytes and mutations of real files never panic, and every error names a key or the file.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::sync::OnceLock;

use latch_firewall::build;
use latch_firewall::config::{Config, STARTER};
use latch_firewall::plan::Plan;
use latch_input::{decode, Expected};
use proptest::prelude::*;

/// The plan of the example organization (default configuration, no CloudTrail).
fn plan_json() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| {
        let config = Config::default();
        build(&common::without_usage(&config), None)
            .unwrap()
            .plan
            .to_json()
    })
}

fn edits() -> impl Strategy<Value = Vec<(f64, u8, u8)>> {
    let byte = prop_oneof![
        3 => prop::sample::select(b"{}[]=\",:#. \n0a-".to_vec()),
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

fn config_ok(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    if let Ok(text) = decode(bytes, Expected::TomlOrEmpty) {
        if let Err(e) = Config::parse(&text) {
            prop_assert!(!e.key.is_empty() && !e.reason.is_empty(), "{e}");
            // A syntax error (no key yet) shows its line.
            prop_assert!(e.key != "(file)" || e.reason.contains("line "), "{e}");
        }
    }
    Ok(())
}

fn plan_ok(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    if let Ok(text) = decode(bytes, Expected::Json) {
        if let Err(e) = Plan::from_json(&text) {
            // Every refusal names where: a line and column, or the field.
            let place = [
                "line ",
                "policies[",
                "tags[",
                "format",
                "organization.",
                "limits.",
                "$",
            ];
            prop_assert!(
                place.iter().any(|p| e.field.starts_with(p)),
                "no place: {e}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        config_ok(bytes.clone())?;
        plan_ok(bytes)?;
    }

    #[test]
    fn a_mutated_starter_configuration_never_panics(edits in edits()) {
        config_ok(mutate(STARTER.as_bytes().to_vec(), &edits))?;
    }

    #[test]
    fn a_mutated_plan_never_panics(edits in edits()) {
        plan_ok(mutate(plan_json().as_bytes().to_vec(), &edits))?;
    }
}

#[test]
fn the_seeds_are_valid() {
    Config::parse(STARTER).unwrap();
    let plan = Plan::from_json(plan_json()).unwrap();
    assert!(!plan.policies.is_empty());
}
