//! IAM policy documents: the syntax tree and a strict parser.
//!
//! The grammar follows "IAM JSON policy element reference" and "Grammar of the IAM JSON policy
//! language": `Statement` is an object or an array; `Action`, `NotAction`, `Resource`,
//! `NotResource` a string or an array of strings; `Principal`/`NotPrincipal` `"*"` or a map of
//! `AWS`/`Service`/`Federated`/`CanonicalUser` to a string or array; `Condition` a map of
//! operator to a map of key to value(s). Wrong types and unknown elements are errors that name
//! the JSON path; nothing is defaulted silently.

use serde_json::{Map, Value};

/// A parse error: where in the document, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ParseError {
    /// JSON path of the offending element, e.g. `Statement[1].Condition.StringEquals`.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
    /// Line and column (1-based) in the text, for a document that is not JSON.
    pub at: Option<(usize, usize)>,
}

impl ParseError {
    fn new(path: &str, reason: impl Into<String>) -> Self {
        ParseError {
            path: path.to_owned(),
            reason: reason.into(),
            at: None,
        }
    }
}

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
    /// `2008-10-17`: `${...}` is literal text.
    V2008_10_17,
    /// No `Version` element: AWS treats the policy as `2008-10-17` ("IAM JSON policy elements:
    /// Version": "If you do not include a Version element, the value defaults to 2008-10-17").
    Absent,
}

impl Version {
    /// Whether policy variables are substituted.
    pub fn has_variables(self) -> bool {
        self == Version::V2012_10_17
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Denies; an explicit deny wins over every allow.
    Deny,
}

/// A list element that may be negated (`Action`/`NotAction`, `Resource`/`NotResource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matchers {
    /// True for `NotAction` / `NotResource`.
    pub negated: bool,
    /// The patterns as written.
    pub values: Vec<String>,
}

/// The kind of a principal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalType {
    /// `AWS`: accounts, users, roles, sessions, federated users.
    Aws,
    /// `Service`: service principals such as `lambda.amazonaws.com`.
    Service,
    /// `Federated`: identity providers.
    Federated,
    /// `CanonicalUser`: S3 canonical user ids.
    CanonicalUser,
}

/// A `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principals {
    /// True for `NotPrincipal`.
    pub negated: bool,
    /// True for `"*"` (everyone, including anonymous).
    pub any: bool,
    /// The entries of the map form.
    pub entries: Vec<(PrincipalType, Vec<String>)>,
}

/// One `operator: { key: values }` entry of a `Condition` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionEntry {
    /// The operator as written, e.g. `ForAnyValue:StringLikeIfExists`.
    pub operator: String,
    /// The condition key as written.
    pub key: String,
    /// The values (numbers and booleans in their JSON text form).
    pub values: Vec<String>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Principal` / `NotPrincipal`, if any.
    pub principal: Option<Principals>,
    /// `Action` / `NotAction`.
    pub action: Matchers,
    /// `Resource` / `NotResource`, if any (role trust policies have none).
    pub resource: Option<Matchers>,
    /// Every entry of `Condition`, in document order.
    pub conditions: Vec<ConditionEntry>,
}

/// A policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `Version`.
    pub version: Version,
    /// `Id`, if any.
    pub id: Option<String>,
    /// The statements, in document order.
    pub statements: Vec<Statement>,
}

/// Parses JSON text like `serde_json::from_str`, but refuses an object that repeats a key
/// (`{"Effect":"Deny","Effect":"Allow"}`, where a plain parser keeps the last one silently);
/// the error names the JSON path of the repeated key. IAM refuses such a document too.
pub fn parse_json(text: &str) -> Result<Value, ParseError> {
    use serde::de::DeserializeSeed as _;
    let duplicate = std::cell::RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = strict::Seed {
        path: String::new(),
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => Err(match duplicate.into_inner() {
            Some((path, key)) => ParseError::new(
                &path,
                format!("duplicate key `{key}`: a JSON object may name each key once (a policy with a repeated key is refused)"),
            ),
            None => ParseError {
                at: Some((e.line(), e.column())),
                ..ParseError::new("$", format!("invalid JSON: {e}"))
            },
        }),
    }
}

/// The duplicate-refusing JSON reader behind [`parse_json`].
mod strict {
    use std::cell::RefCell;
    use std::fmt;

    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number, Value};

    pub(super) struct Seed<'d> {
        pub(super) path: String,
        pub(super) duplicate: &'d RefCell<Option<(String, String)>>,
    }

    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = Value;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Seed<'_> {
        type Value = Value;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
            Number::from_f64(v)
                .map(Value::Number)
                .ok_or_else(|| E::custom("a number that is not finite"))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut out = Vec::new();
            loop {
                let seed = Seed {
                    path: format!("{}[{}]", self.path, out.len()),
                    duplicate: self.duplicate,
                };
                match seq.next_element_seed(seed)? {
                    Some(v) => out.push(v),
                    None => return Ok(Value::Array(out)),
                }
            }
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let path = if self.path.is_empty() {
                    key.clone()
                } else {
                    format!("{}.{key}", self.path)
                };
                if out.contains_key(&key) {
                    *self.duplicate.borrow_mut() = Some((path, key));
                    return Err(de::Error::custom("duplicate key"));
                }
                let value = map.next_value_seed(Seed {
                    path,
                    duplicate: self.duplicate,
                })?;
                out.insert(key, value);
            }
            Ok(Value::Object(out))
        }
    }
}

impl Policy {
    /// Parses a policy from JSON text (refusing repeated keys, see [`parse_json`]).
    pub fn from_json_str(text: &str) -> Result<Policy, ParseError> {
        Policy::from_value(&parse_json(text)?, "")
    }

    /// Parses a policy from a JSON value; `path` prefixes error paths.
    pub fn from_value(value: &Value, path: &str) -> Result<Policy, ParseError> {
        let root = if path.is_empty() { "$" } else { path };
        let obj = value
            .as_object()
            .ok_or_else(|| ParseError::new(root, "a policy must be a JSON object"))?;
        let child = |name: &str| {
            if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        };
        let mut version = Version::Absent;
        let mut id = None;
        let mut statements = None;
        for (k, v) in obj {
            match k.as_str() {
                "Version" => {
                    version = match v.as_str() {
                        Some("2012-10-17") => Version::V2012_10_17,
                        Some("2008-10-17") => Version::V2008_10_17,
                        Some(other) => {
                            return Err(ParseError::new(
                                &child("Version"),
                                format!(
                                "unsupported version `{other}`: use `2012-10-17` or `2008-10-17`"
                            ),
                            ))
                        }
                        None => return Err(ParseError::new(&child("Version"), "must be a string")),
                    }
                }
                "Id" => id = Some(string(v, &child("Id"))?),
                "Statement" => {
                    let p = child("Statement");
                    statements = Some(match v {
                        Value::Array(items) => items
                            .iter()
                            .enumerate()
                            .map(|(i, s)| parse_statement(s, &format!("{p}[{i}]")))
                            .collect::<Result<Vec<_>, _>>()?,
                        Value::Object(_) => vec![parse_statement(v, &p)?],
                        _ => {
                            return Err(ParseError::new(
                                &p,
                                "must be a statement object or an array of statements",
                            ))
                        }
                    });
                }
                other => {
                    return Err(ParseError::new(
                        &child(other),
                        format!(
                            "unknown policy element `{other}` (expected Version, Id, Statement)"
                        ),
                    ))
                }
            }
        }
        let statements =
            statements.ok_or_else(|| ParseError::new(root, "missing `Statement` element"))?;
        Ok(Policy {
            version,
            id,
            statements,
        })
    }
}

fn string(v: &Value, path: &str) -> Result<String, ParseError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| ParseError::new(path, "must be a string"))
}

/// A string or a non-empty array of strings: IAM refuses an empty `Action`, `Resource` or
/// principal list ("Policy statement must contain actions", "... resources"), and an empty
/// list in a Deny would otherwise deny nothing without a word.
fn string_or_array(v: &Value, path: &str) -> Result<Vec<String>, ParseError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if items.is_empty() => Err(ParseError::new(
            path,
            "must not be an empty list (AWS refuses a policy with one)",
        )),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| string(item, &format!("{path}[{i}]")))
            .collect(),
        _ => Err(ParseError::new(
            path,
            "must be a string or an array of strings",
        )),
    }
}

fn scalar_text(v: &Value, path: &str) -> Result<String, ParseError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(ParseError::new(
            path,
            "condition values must be strings, numbers or booleans",
        )),
    }
}

fn parse_principals(v: &Value, path: &str, negated: bool) -> Result<Principals, ParseError> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals {
            negated,
            any: true,
            entries: Vec::new(),
        }),
        Value::String(s) => Err(ParseError::new(
            path,
            format!("`{s}` is not valid here: use \"*\" or a map such as {{\"AWS\": \"{s}\"}}"),
        )),
        Value::Object(map) => {
            let mut entries = Vec::new();
            for (k, v) in map {
                let kind = match k.as_str() {
                    "AWS" => PrincipalType::Aws,
                    "Service" => PrincipalType::Service,
                    "Federated" => PrincipalType::Federated,
                    "CanonicalUser" => PrincipalType::CanonicalUser,
                    other => {
                        return Err(ParseError::new(
                            &format!("{path}.{other}"),
                            format!("unknown principal type `{other}` (expected AWS, Service, Federated, CanonicalUser)"),
                        ))
                    }
                };
                entries.push((kind, string_or_array(v, &format!("{path}.{k}"))?));
            }
            Ok(Principals {
                negated,
                any: false,
                entries,
            })
        }
        _ => Err(ParseError::new(
            path,
            "must be \"*\" or a map of principal types",
        )),
    }
}

fn parse_condition(v: &Value, path: &str) -> Result<Vec<ConditionEntry>, ParseError> {
    let ops = v
        .as_object()
        .ok_or_else(|| ParseError::new(path, "must be a map of condition operators"))?;
    let mut out = Vec::new();
    for (op, keys) in ops {
        let op_path = format!("{path}.{op}");
        let keys: &Map<String, Value> = keys.as_object().ok_or_else(|| {
            ParseError::new(&op_path, "must be a map of condition keys to values")
        })?;
        let numeric = crate::condition::is_numeric_operator(op);
        for (key, values) in keys {
            let key_path = format!("{op_path}.{key}");
            let checked = |item: &Value, path: &str| -> Result<String, ParseError> {
                let text = scalar_text(item, path)?;
                if numeric && crate::values::parse_number(&text).is_none() {
                    return Err(ParseError::new(
                        path,
                        format!("`{text}` is not a number: `{op}` compares decimal numbers such as 10 or -2.5 (AWS refuses the policy)"),
                    ));
                }
                Ok(text)
            };
            let values = match values {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| checked(item, &format!("{key_path}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                other => vec![checked(other, &key_path)?],
            };
            out.push(ConditionEntry {
                operator: op.clone(),
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

fn parse_statement(v: &Value, path: &str) -> Result<Statement, ParseError> {
    let obj = v
        .as_object()
        .ok_or_else(|| ParseError::new(path, "a statement must be a JSON object"))?;
    let mut sid = None;
    let mut effect = None;
    let mut principal: Option<Principals> = None;
    let mut action: Option<Matchers> = None;
    let mut resource: Option<Matchers> = None;
    let mut conditions = Vec::new();
    for (k, v) in obj {
        let p = format!("{path}.{k}");
        match k.as_str() {
            "Sid" => sid = Some(string(v, &p)?),
            "Effect" => {
                effect = Some(match v.as_str() {
                    Some("Allow") => Effect::Allow,
                    Some("Deny") => Effect::Deny,
                    _ => return Err(ParseError::new(&p, "must be \"Allow\" or \"Deny\"")),
                })
            }
            "Principal" | "NotPrincipal" => {
                if principal.is_some() {
                    return Err(ParseError::new(
                        &p,
                        "a statement cannot have both Principal and NotPrincipal",
                    ));
                }
                principal = Some(parse_principals(v, &p, k == "NotPrincipal")?);
            }
            "Action" | "NotAction" => {
                if action.is_some() {
                    return Err(ParseError::new(
                        &p,
                        "a statement cannot have both Action and NotAction",
                    ));
                }
                action = Some(Matchers {
                    negated: k == "NotAction",
                    values: string_or_array(v, &p)?,
                });
            }
            "Resource" | "NotResource" => {
                if resource.is_some() {
                    return Err(ParseError::new(
                        &p,
                        "a statement cannot have both Resource and NotResource",
                    ));
                }
                resource = Some(Matchers {
                    negated: k == "NotResource",
                    values: string_or_array(v, &p)?,
                });
            }
            "Condition" => conditions = parse_condition(v, &p)?,
            other => {
                return Err(ParseError::new(
                    &p,
                    format!("unknown statement element `{other}` (expected Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition)"),
                ))
            }
        }
    }
    let effect = effect.ok_or_else(|| ParseError::new(path, "missing `Effect`"))?;
    let action = action.ok_or_else(|| ParseError::new(path, "missing `Action` or `NotAction`"))?;
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn single_statement_object_and_string_lists() {
        let p = Policy::from_json_str(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(p.statements.len(), 1);
        assert_eq!(p.statements[0].action.values, vec!["s3:*"]);
        assert_eq!(p.version, Version::V2012_10_17);
    }

    #[test]
    fn errors_name_the_path() {
        let e = Policy::from_json_str(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*"},{"Effect":"Allow","Action":5}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.path, "Statement[1].Action");
        let e = Policy::from_json_str(r#"{"Statement":[{"Effect":"allow","Action":"x"}]}"#)
            .unwrap_err();
        assert_eq!(e.path, "Statement[0].Effect");
        let e = Policy::from_json_str(r#"{"Statement":[],"Foo":1}"#).unwrap_err();
        assert_eq!(e.path, "Foo");
        let e = Policy::from_json_str(
            r#"{"Statement":[{"Effect":"Allow","Action":"x","Condition":{"Bool":{"k":[{}]}}}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.path, "Statement[0].Condition.Bool.k[0]");
    }

    #[test]
    fn repeated_keys_are_refused_with_their_path() {
        let e = Policy::from_json_str(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.path, "Statement[1].Effect");
        assert!(e.reason.contains("duplicate key `Effect`"), "{e}");
        let e = Policy::from_json_str(
            r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false","aws:SecureTransport":"true"}}},"Version":"2012-10-17"}"#,
        )
        .unwrap_err();
        assert_eq!(e.path, "Statement.Condition.Bool.aws:SecureTransport");
        let e = Policy::from_json_str(r#"{"Statement":[],"Statement":[]}"#).unwrap_err();
        assert_eq!(e.path, "Statement");
        // The same key in different objects is fine; so are numbers of every kind.
        let v = parse_json(r#"{"a":{"k":1},"b":{"k":[-2,3.5,1e3,true,null,"s"]}}"#).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a":{"k":1},"b":{"k":[-2,3.5,1000.0,true,null,"s"]}})
        );
        assert_eq!(parse_json("{} x").unwrap_err().path, "$");
        assert_eq!(parse_json("{").unwrap_err().path, "$");
    }

    #[test]
    fn empty_lists_and_bad_numbers_are_refused_with_their_path() {
        for (text, path) in [
            (
                r#"{"Statement":{"Effect":"Deny","Action":[],"Resource":"*"}}"#,
                "Statement.Action",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","NotAction":[],"Resource":"*"}}"#,
                "Statement.NotAction",
            ),
            (
                r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":[]}}"#,
                "Statement.Resource",
            ),
            (
                r#"{"Statement":{"Effect":"Deny","Action":"*","Principal":{"AWS":[]}}}"#,
                "Statement.Principal.AWS",
            ),
            (
                r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"n":"nan"}}}}"#,
                "Statement.Condition.NumericLessThan.n",
            ),
            (
                r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForAllValues:NumericEqualsIfExists":{"n":["1","inf"]}}}}"#,
                "Statement.Condition.ForAllValues:NumericEqualsIfExists.n[1]",
            ),
        ] {
            let e = Policy::from_json_str(text).unwrap_err();
            assert_eq!(e.path, path, "{text}: {e}");
        }
        // A number-like string for a string operator is just a string.
        assert!(Policy::from_json_str(
            r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"n":"nan"}}}}"#
        )
        .is_ok());
    }

    #[test]
    fn principals_and_conditions() {
        let p = Policy::from_json_str(
            r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333"],"Service":"ec2.amazonaws.com"},"Action":"*","Condition":{"Bool":{"aws:SecureTransport":false},"NumericLessThan":{"s3:max-keys":[10, "20"]}}}}"#,
        )
        .unwrap();
        let s = &p.statements[0];
        let pr = s.principal.as_ref().unwrap();
        assert!(pr.negated);
        assert_eq!(pr.entries.len(), 2);
        assert_eq!(s.conditions.len(), 2);
        assert_eq!(s.conditions[0].values, vec!["false"]);
        assert_eq!(s.conditions[1].values, vec!["10", "20"]);
        assert_eq!(p.version, Version::Absent);
    }
}
