//! Properties of the shared reader over arbitrary bytes: it never panics, accepts exactly the
//! UTF-8 texts (minus a leading byte-order mark), and every refusal names a place or a reason.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use latch_input::{check_start, decode, Expected, Problem, UTF8_BOM};
use proptest::prelude::*;

const ALL: [Expected; 5] = [
    Expected::Json,
    Expected::JsonLines,
    Expected::Toml,
    Expected::TomlOrEmpty,
    Expected::Csv,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_and_bad_bytes_are_located(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
        which in 0usize..5,
    ) {
        let expected = ALL[which];
        match decode(bytes.clone(), expected) {
            Ok(text) => {
                let body = bytes.strip_prefix(&UTF8_BOM[..]).unwrap_or(&bytes);
                prop_assert_eq!(text.as_bytes(), body);
            }
            Err(Problem::NotUtf8 { offset, line, byte }) => {
                let e = std::str::from_utf8(&bytes).unwrap_err();
                prop_assert_eq!(offset, e.valid_up_to());
                prop_assert_eq!(byte, bytes[offset]);
                let newlines = bytes[..offset].iter().filter(|&&b| b == b'\n').count();
                prop_assert_eq!(line, newlines + 1);
            }
            Err(Problem::Empty(e)) => {
                prop_assert_eq!(e, expected);
                prop_assert!(expected != Expected::TomlOrEmpty);
            }
            Err(Problem::WideText { .. }) => {
                prop_assert!(bytes.len() >= 2);
                prop_assert!(bytes[..2].contains(&0) || bytes[..2] == [0xFF, 0xFE] || bytes[..2] == [0xFE, 0xFF]);
            }
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
        // The cheap check agrees with the full one wherever it decides.
        if let Ok(rest) = check_start(&bytes, expected) {
            if let Ok(text) = decode(bytes.clone(), expected) {
                prop_assert_eq!(rest, text.as_bytes());
            }
        }
    }

    #[test]
    fn text_with_or_without_a_byte_order_mark_reads_the_same(
        text in "[ -~\n\t\u{00e9}\u{4e2d}\u{1f600}]{1,64}",
        bom in any::<bool>(),
    ) {
        prop_assume!(!text.trim().is_empty());
        prop_assume!(!text.as_bytes()[..text.len().min(2)].contains(&0));
        let mut bytes = if bom { UTF8_BOM.to_vec() } else { Vec::new() };
        bytes.extend_from_slice(text.as_bytes());
        for expected in ALL {
            prop_assert_eq!(decode(bytes.clone(), expected).unwrap(), text.clone());
        }
    }
}
