//! The firewall's configuration (`latch.toml`), read as `latch plan --config` reads it
//! (`latch_input::decode`, then `Config::parse`): must never panic. Run with
//! `scripts/fuzz-loaders`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = latch_input::decode(data.to_vec(), latch_input::Expected::TomlOrEmpty) {
        let _ = latch_firewall::config::Config::parse(&text);
    }
});
