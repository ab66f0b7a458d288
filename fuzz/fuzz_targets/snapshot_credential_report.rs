//! A snapshot's `accounts/<id>/credential-report.csv`, read as the loader reads it
//! (`latch_input::decode`, then `parse_credential_report_str`): must never panic. Run with
//! `scripts/fuzz-loaders`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = latch_input::decode(data.to_vec(), latch_input::Expected::Csv) {
        let _ = latch_model::credentials::parse_credential_report_str(&text);
    }
});
