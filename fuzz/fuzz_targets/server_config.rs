//! The server's configuration, read as `Config::load` reads it (`latch_input::decode`, then
//! `Config::parse` with every `*_env` secret set): must never panic. Run with
//! `scripts/fuzz-loaders`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = latch_input::decode(data.to_vec(), latch_input::Expected::Toml) {
        let _ = latch_server::config::Config::parse(&text, "latch.toml", &|_| {
            Some("secret".to_owned())
        });
    }
});
