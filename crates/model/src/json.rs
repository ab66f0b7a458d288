//! Strict reading of JSON objects with path tracking: every accessor names the JSON path of
//! what it rejects, and unknown fields are errors rather than silently ignored.

use serde_json::{Map, Value};

use crate::error::FormatError;

/// `parent.key` (or `key` at the top).
pub(crate) fn field(parent: &str, key: &str) -> String {
    if parent.is_empty() || parent == "$" {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    if parent.is_empty() {
        format!("$[{i}]")
    } else {
        format!("{parent}[{i}]")
    }
}

/// The JSON type name used in messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An object being read, with its path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Obj<'a> {
    pub(crate) map: &'a Map<String, Value>,
    pub(crate) path: &'a str,
}

impl<'a> Obj<'a> {
    /// `value` must be an object.
    pub(crate) fn new(value: &'a Value, path: &'a str) -> Result<Obj<'a>, FormatError> {
        match value {
            Value::Object(map) => Ok(Obj { map, path }),
            other => Err(FormatError::new(
                path,
                format!("expected an object, found {}", type_name(other)),
            )),
        }
    }

    /// Rejects any field not in `known`.
    pub(crate) fn only(&self, known: &[&str]) -> Result<(), FormatError> {
        for key in self.map.keys() {
            if !known.contains(&key.as_str()) {
                return Err(FormatError::new(
                    &field(self.path, key),
                    format!(
                        "unknown field `{key}` (expected one of: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn path_of(&self, key: &str) -> String {
        field(self.path, key)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    pub(crate) fn req(&self, key: &str) -> Result<&'a Value, FormatError> {
        self.map
            .get(key)
            .ok_or_else(|| FormatError::new(self.path, format!("missing required field `{key}`")))
    }

    pub(crate) fn req_str(&self, key: &str) -> Result<&'a str, FormatError> {
        let v = self.req(key)?;
        as_str(v, &self.path_of(key))
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>, FormatError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => as_str(v, &self.path_of(key)).map(Some),
        }
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>, FormatError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(FormatError::new(
                &self.path_of(key),
                format!("expected a boolean, found {}", type_name(other)),
            )),
        }
    }

    /// An optional array: absent and `null` read as empty.
    pub(crate) fn opt_array(&self, key: &str) -> Result<&'a [Value], FormatError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(v) => as_array(v, &self.path_of(key)),
        }
    }

    pub(crate) fn req_array(&self, key: &str) -> Result<&'a [Value], FormatError> {
        let v = self.req(key)?;
        as_array(v, &self.path_of(key))
    }
}

pub(crate) fn as_str<'a>(v: &'a Value, path: &str) -> Result<&'a str, FormatError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(FormatError::new(
            path,
            format!("expected a string, found {}", type_name(other)),
        )),
    }
}

pub(crate) fn as_array<'a>(v: &'a Value, path: &str) -> Result<&'a [Value], FormatError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(FormatError::new(
            path,
            format!("expected an array, found {}", type_name(other)),
        )),
    }
}
