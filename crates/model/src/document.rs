//! Policy documents as found in AWS exports: raw JSON (kept as written) plus the engine's
//! parsed form, so the analysis can compile them with `latch_policy::compile`.

use latch_policy::Policy;
use serde_json::Value;

use crate::error::FormatError;
use crate::json::type_name;

/// A policy document: the JSON as written (after URL-decoding) and its parsed form.
///
/// Every document in a snapshot parses with the engine's strict parser; one that does not is a
/// load error naming the file and JSON path, never silently dropped.
///
/// The JSON is kept as compact text (keys sorted, as `serde_json` prints a `Value`), a
/// fraction of the memory of a `Value` tree: an organization holds hundreds of thousands of
/// documents. [`PolicyDocument::value`] gives it back as a `Value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// The document as compact JSON text (decoded when the export URL-encoded it).
    json: Box<str>,
    /// The engine's parsed form.
    pub policy: Policy,
}

impl PolicyDocument {
    /// Parses a document given as a JSON object, or as a string holding JSON or URL-encoded
    /// JSON (as `GetAccountAuthorizationDetails` returns them). `path` names the element in
    /// errors.
    ///
    /// Strings are decoded defensively: text starting with `{` is parsed as is; otherwise it is
    /// percent-decoded first (RFC 3986; `+` stays `+`).
    pub fn parse(value: &Value, path: &str) -> Result<PolicyDocument, FormatError> {
        match value {
            Value::Object(_) => PolicyDocument::of(value, path),
            Value::String(text) => PolicyDocument::of(&decode_text(text, path)?, path),
            other => Err(FormatError::new(
                path,
                format!(
                    "expected a policy document (an object or a string), found {}",
                    type_name(other)
                ),
            )),
        }
    }

    /// Parses an already decoded JSON document.
    pub fn from_json(value: Value, path: &str) -> Result<PolicyDocument, FormatError> {
        PolicyDocument::of(&value, path)
    }

    fn of(value: &Value, path: &str) -> Result<PolicyDocument, FormatError> {
        let policy = Policy::from_value(value, "").map_err(|e| {
            let inner = if e.path.is_empty() || e.path == "$" {
                path.to_owned()
            } else {
                crate::json::field(path, &e.path)
            };
            FormatError::new(&inner, format!("invalid policy: {}", e.reason))
        })?;
        Ok(PolicyDocument {
            json: value.to_string().into_boxed_str(),
            policy,
        })
    }

    /// The document as JSON (decoded when the export URL-encoded it).
    pub fn value(&self) -> Value {
        // The text was printed from a `Value`: it parses back to the same value.
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }

    /// The document as compact JSON text, keys sorted.
    pub fn json(&self) -> &str {
        &self.json
    }
}

fn decode_text(text: &str, path: &str) -> Result<Value, FormatError> {
    let trimmed = text.trim_start();
    let decoded;
    let json_text = if trimmed.starts_with('{') {
        trimmed
    } else {
        decoded = percent_decode(trimmed).map_err(|reason| FormatError::new(path, reason))?;
        decoded.as_str()
    };
    latch_policy::document::parse_json(json_text).map_err(|e| {
        if e.path == "$" {
            FormatError::new(
                path,
                format!("the policy document is not valid JSON: {}", e.reason),
            )
        } else {
            // A repeated key: name it inside the document.
            FormatError::new(
                &crate::json::field(path, &e.path),
                format!("invalid policy: {}", e.reason),
            )
        }
    })
}

/// Percent-decodes `text` (RFC 3986): `%XX` becomes the byte `XX`; the result must be UTF-8.
pub fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    format!("malformed percent-encoding at byte {i} of the policy document")
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL-decoded policy document is not UTF-8".to_owned())
}

/// Percent-encodes `text` the way IAM's API does (everything but unreserved characters).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_string_and_encoded_forms_agree() {
        let obj = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]});
        let text = obj.to_string();
        let a = PolicyDocument::parse(&obj, "d").unwrap();
        let b = PolicyDocument::parse(&Value::String(text.clone()), "d").unwrap();
        let c = PolicyDocument::parse(&Value::String(percent_encode(&text)), "d").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(percent_encode(&text).starts_with("%7B%22Statement%22%3A%5B%7B"));
    }

    #[test]
    fn errors_name_the_path_inside_the_document() {
        let bad = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]});
        let e = PolicyDocument::parse(&bad, "RolePolicyList[0].PolicyDocument").unwrap_err();
        assert!(
            e.path
                .starts_with("RolePolicyList[0].PolicyDocument.Statement"),
            "{e}"
        );
        let e = PolicyDocument::parse(&json!("%7Bnope"), "X").unwrap_err();
        assert_eq!(e.path, "X");
        assert!(e.reason.contains("not valid JSON"), "{e}");
        let e = PolicyDocument::parse(&json!("%ZZ"), "X").unwrap_err();
        assert!(e.reason.contains("malformed percent-encoding"), "{e}");
        assert!(PolicyDocument::parse(&json!(3), "X").is_err());
    }

    #[test]
    fn a_repeated_key_in_an_encoded_document_is_an_error_naming_it() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Effect":"Allow"}]}"#;
        for v in [json!(text), json!(percent_encode(text))] {
            let e = PolicyDocument::parse(&v, "RolePolicyList[0].PolicyDocument").unwrap_err();
            assert_eq!(
                e.path, "RolePolicyList[0].PolicyDocument.Statement[0].Effect",
                "{e}"
            );
            assert!(e.reason.contains("duplicate key"), "{e}");
        }
    }

    #[test]
    fn plus_is_literal() {
        assert_eq!(percent_decode("a+b%20c").unwrap(), "a+b c");
    }
}
