//! An audit export, read as `latch audit verify --file` reads it (`latch_input::decode`, then
//! `parse_json_lines`, then the chain check): must never panic. Run with
//! `scripts/fuzz-loaders`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = latch_input::decode(data.to_vec(), latch_input::Expected::JsonLines) {
        if let Ok(records) = latch_store::audit::parse_json_lines(&text) {
            let _ = latch_store::audit::verify(&records);
        }
    }
});
