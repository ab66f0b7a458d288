//! Pretty JSON with sorted keys, written one element of the large arrays at a time.
//!
//! `serde_json::to_value` followed by `to_writer_pretty` sorts every object's keys, but builds
//! the whole document as a tree first: for a report of 200,000 principals that tree is larger
//! than the report itself and takes seconds to build and to free. [`write_sorted`] gives the
//! same bytes from a small object (the document without its large arrays) and the large
//! arrays, each element converted and written on its own.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Map, Value};

/// A large array of a document, written element by element.
pub trait Rows {
    /// Writes the array's elements, each pretty-printed and indented by `indent`, separated
    /// as `serde_json`'s pretty printer separates array elements.
    fn write_rows(&self, w: &mut dyn Write, indent: &str) -> io::Result<()>;
    /// Whether the array is empty (printed `[]`).
    fn is_empty(&self) -> bool;
}

impl<T: Serialize> Rows for Vec<T> {
    fn write_rows(&self, w: &mut dyn Write, indent: &str) -> io::Result<()> {
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                w.write_all(b",\n")?;
            }
            w.write_all(indent.as_bytes())?;
            let value = serde_json::to_value(item).map_err(io::Error::other)?;
            let text = serde_json::to_string_pretty(&value).map_err(io::Error::other)?;
            write_indented(w, &text, indent)?;
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        <[T]>::is_empty(self)
    }
}

/// Writes `text` (pretty JSON), its lines after the first indented by `indent`. JSON strings
/// hold no raw line break, so every line break is the printer's.
fn write_indented(w: &mut dyn Write, text: &str, indent: &str) -> io::Result<()> {
    let mut lines = text.split('\n');
    if let Some(first) = lines.next() {
        w.write_all(first.as_bytes())?;
    }
    for line in lines {
        w.write_all(b"\n")?;
        w.write_all(indent.as_bytes())?;
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Writes the object `small` with the arrays of `large` in the places their keys sort to, as
/// `serde_json::to_writer_pretty` writes the `Value` holding all of them (keys sorted, two
/// spaces per level). A key of `large` replaces the same key of `small`.
pub fn write_sorted(
    w: &mut dyn Write,
    small: &Map<String, Value>,
    large: &[(&str, &dyn Rows)],
) -> io::Result<()> {
    let mut keys: Vec<&str> = small.keys().map(String::as_str).collect();
    keys.extend(large.iter().map(|(k, _)| *k));
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return w.write_all(b"{}");
    }
    w.write_all(b"{\n")?;
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        w.write_all(b"  ")?;
        serde_json::to_writer(&mut *w, key).map_err(io::Error::other)?;
        w.write_all(b": ")?;
        if let Some((_, rows)) = large.iter().find(|(k, _)| k == key) {
            if rows.is_empty() {
                w.write_all(b"[]")?;
            } else {
                w.write_all(b"[\n")?;
                rows.write_rows(w, "    ")?;
                w.write_all(b"\n  ]")?;
            }
        } else if let Some(value) = small.get(*key) {
            let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
            write_indented(w, &text, "  ")?;
        }
    }
    w.write_all(b"\n}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[derive(Serialize)]
    struct Row {
        zeta: Vec<u32>,
        alpha: Option<String>,
        nested: Map<String, Value>,
        empty: Vec<u32>,
    }

    fn rows() -> Vec<Row> {
        vec![
            Row {
                zeta: vec![1, 2],
                alpha: Some("line\nbreak \"quoted\"".to_owned()),
                nested: json!({"b": [], "a": {}, "c": {"y": 1, "x": [true]}})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                empty: Vec::new(),
            },
            Row {
                zeta: Vec::new(),
                alpha: None,
                nested: Map::new(),
                empty: vec![3],
            },
        ]
    }

    fn streamed(small: &Value, large: &[(&str, &dyn Rows)]) -> String {
        let mut out = Vec::new();
        write_sorted(&mut out, small.as_object().unwrap(), large).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn gives_the_bytes_of_the_whole_value_pretty_printed() {
        let rows = rows();
        let none: Vec<Row> = Vec::new();
        let small = json!({"b": 1, "z": {"k": [1, {"q": null}]}, "a": "x", "rows": "replaced"});
        let whole = json!({"b": 1, "z": {"k": [1, {"q": null}]}, "a": "x",
                           "rows": serde_json::to_value(&rows).unwrap(),
                           "m_none": serde_json::to_value(&none).unwrap()});
        assert_eq!(
            streamed(&small, &[("rows", &rows), ("m_none", &none)]),
            serde_json::to_string_pretty(&whole).unwrap()
        );
    }

    #[test]
    fn empty_object_and_only_large_arrays() {
        assert_eq!(streamed(&json!({}), &[]), "{}");
        let rows = rows();
        let whole = json!({"rows": serde_json::to_value(&rows).unwrap()});
        assert_eq!(
            streamed(&json!({}), &[("rows", &rows)]),
            serde_json::to_string_pretty(&whole).unwrap()
        );
    }
}
