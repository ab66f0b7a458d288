//! Parse + compile + evaluate arbitrary input as an evaluation case: must never panic.
//! Run: `scripts/fuzz-loaders 60 evaluate`, or `cargo fuzz run evaluate -- -max_total_time=60` (seeds in `fuzz/seeds/*.json`: copy them into `fuzz/corpus/evaluate` first).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            let _ = latch_policy::case::evaluate_json(&value);
        }
        // Policies alone, too.
        let _ = latch_policy::Policy::from_json_str(text);
    }
});
