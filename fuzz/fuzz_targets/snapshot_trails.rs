//! A snapshot's `trails.json` (what the organization's trails record), read as the loader reads
//! it (`latch_input::decode`, then `parse_trails_str`): must never panic. Run with
//! `scripts/fuzz-loaders`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = latch_input::decode(data.to_vec(), latch_input::Expected::Json) {
        let _ = latch_model::trails::parse_trails_str(&text);
    }
});
