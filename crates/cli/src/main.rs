//! The `latch` binary.
fn main() {}
