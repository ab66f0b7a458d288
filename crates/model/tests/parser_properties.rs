//! Properties of the snapshot's parsers (the pure half of `load::snapshot`): arbitrary bytes
//! and mutations of the example organization's files never panic, and every error names where
//! (a JSON path, `$` for the whole document, or a CSV line or row) and why.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use latch_input::{decode, Expected};
use latch_model::credentials::parse_credential_report_str;
use latch_model::gaad::parse_gaad_str;
use latch_model::orgfile::parse_organization_str;
use latch_model::resources::parse_resource_policies_str;
use latch_model::FormatError;
use proptest::prelude::*;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/org");
const ACCT: &str = "100000000001";

fn example(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{EXAMPLE}/{rel}")).unwrap()
}

/// One edit of a valid file: replace, insert or delete a byte at a relative position.
#[derive(Debug, Clone)]
enum Edit {
    Replace(f64, u8),
    Insert(f64, u8),
    Delete(f64),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    // Bytes that matter to JSON and CSV syntax are likelier than others.
    let byte = prop_oneof![
        3 => prop::sample::select(b"{}[]\",:\\ \n0a-".to_vec()),
        1 => any::<u8>(),
    ];
    let edit = prop_oneof![
        (0.0..1.0f64, byte.clone()).prop_map(|(p, b)| Edit::Replace(p, b)),
        (0.0..1.0f64, byte).prop_map(|(p, b)| Edit::Insert(p, b)),
        (0.0..1.0f64).prop_map(Edit::Delete),
    ];
    prop::collection::vec(edit, 1..6)
}

fn mutate(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let at = |p: f64, len: usize| ((p * len as f64) as usize).min(len.saturating_sub(1));
        match *e {
            Edit::Replace(p, b) if !bytes.is_empty() => {
                let i = at(p, bytes.len());
                bytes[i] = b;
            }
            Edit::Insert(p, b) => {
                let i = at(p, bytes.len() + 1);
                bytes.insert(i, b);
            }
            Edit::Delete(p) if !bytes.is_empty() => {
                let i = at(p, bytes.len());
                bytes.remove(i);
            }
            _ => {}
        }
    }
    bytes
}

/// An error names a place and a reason; a JSON syntax error gives line and column.
fn located(e: &FormatError) -> Result<(), TestCaseError> {
    prop_assert!(!e.path.is_empty() && !e.reason.is_empty(), "{e:?}");
    if e.reason.starts_with("invalid JSON") {
        prop_assert!(
            e.reason.contains(" line ") && e.reason.contains(" column "),
            "{e}"
        );
    }
    Ok(())
}

/// Every parser of the snapshot on the same bytes, read as the loader reads them.
fn parse_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(text) = decode(bytes.to_vec(), Expected::Json) {
        if let Err(e) = parse_gaad_str(&text, ACCT) {
            located(&e)?;
        }
        if let Err(e) = parse_organization_str(&text) {
            located(&e)?;
        }
        if let Err(e) = parse_resource_policies_str(&text, ACCT) {
            located(&e)?;
        }
    }
    if let Ok(text) = decode(bytes.to_vec(), Expected::Csv) {
        if let Err(e) = parse_credential_report_str(&text) {
            located(&e)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_all(&bytes)?;
    }

    #[test]
    fn mutated_gaad_never_panics(edits in edits()) {
        let bytes = mutate(example(&format!("accounts/{ACCT}/gaad.json")), &edits);
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = parse_gaad_str(&text, ACCT) {
            located(&e)?;
        }
    }

    #[test]
    fn mutated_organization_never_panics(edits in edits()) {
        let bytes = mutate(example("organization.json"), &edits);
        if let Err(e) = parse_organization_str(&String::from_utf8_lossy(&bytes)) {
            located(&e)?;
        }
    }

    #[test]
    fn mutated_resource_policies_never_panic(edits in edits()) {
        let bytes = mutate(example("accounts/200000000002/resource-policies.json"), &edits);
        if let Err(e) = parse_resource_policies_str(&String::from_utf8_lossy(&bytes), "200000000002") {
            located(&e)?;
        }
    }

    #[test]
    fn mutated_credential_report_never_panics(edits in edits()) {
        let bytes = mutate(example(&format!("accounts/{ACCT}/credential-report.csv")), &edits);
        if let Err(e) = parse_credential_report_str(&String::from_utf8_lossy(&bytes)) {
            located(&e)?;
        }
    }
}

#[test]
fn the_seeds_are_valid() {
    parse_gaad_str(
        &String::from_utf8(example(&format!("accounts/{ACCT}/gaad.json"))).unwrap(),
        ACCT,
    )
    .unwrap();
    parse_organization_str(&String::from_utf8(example("organization.json")).unwrap()).unwrap();
    parse_resource_policies_str(
        &String::from_utf8(example("accounts/200000000002/resource-policies.json")).unwrap(),
        "200000000002",
    )
    .unwrap();
    parse_credential_report_str(
        &String::from_utf8(example(&format!("accounts/{ACCT}/credential-report.csv"))).unwrap(),
    )
    .unwrap();
}
