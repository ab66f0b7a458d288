//! One CloudTrail log file (decompressed), as the directory reader parses each file
//! (`latch_trail::parse_log`: byte-order mark, UTF-16 and empty checks, then the scanner): must
//! never panic. Run with `scripts/fuzz-loaders`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = latch_trail::parse_log(data, &latch_trail::Window::all());
});
