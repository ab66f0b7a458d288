//! The plan directory's files, read as their loaders read them (`latch_input::decode`, then
//! each parser): `plan.json` as `latch prove` reads it (`latch_firewall::plan::Plan::from_json`)
//! and as `latch apply`/`drift` read it (`latch_aws::plan::Plan::parse`), `applied.json`
//! (`AppliedState::parse`) and a grants file (`parse_grants`). Must never panic. Run with
//! `scripts/fuzz-loaders`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = latch_input::decode(data.to_vec(), latch_input::Expected::Json) {
        let file = Path::new("plan.json");
        let _ = latch_firewall::plan::Plan::from_json(&text);
        let _ = latch_aws::plan::Plan::parse(&text, file);
        let _ = latch_aws::state::AppliedState::parse(&text, file);
        let _ = latch_aws::drift::parse_grants(&text, file);
    }
});
