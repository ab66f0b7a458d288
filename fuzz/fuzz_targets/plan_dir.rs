//! The plan directory's files, read as their loaders read them (`latch_input::decode`, then
//! each parser): `plan.json` as `latch prove`, `apply` and `drift` read it (the one reader,
//! `latch_firewall::plan::Plan::from_json`, behind `latch_aws::plan::parse`), `applied.json`
//! (`AppliedState::parse`) and a grants file (`parse_grants`). Must never panic. Run with
//! `scripts/fuzz-loaders`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = latch_input::decode(data.to_vec(), latch_input::Expected::Json) {
        let file = Path::new("plan.json");
        let _ = latch_aws::plan::parse(&text, file);
        let _ = latch_aws::state::AppliedState::parse(&text, file);
        let _ = latch_aws::drift::parse_grants(&text, file);
    }
});
