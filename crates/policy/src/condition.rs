//! Condition operators, compiled once and evaluated against a request context.
//!
//! Rules implemented ("IAM JSON policy elements: Condition operators" and "Multivalued context
//! keys"):
//! - entries of a `Condition` block are ANDed (across operators and keys); the values of one
//!   key are ORed;
//! - a negated operator (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, ...) is the negation
//!   of its positive form, and is true when the key is missing;
//! - `...IfExists`: true when the key is missing, otherwise the operator as usual;
//! - `Null`: `true` matches a missing key, `false` a present one;
//! - `ForAllValues:` is true when the key is missing or empty, otherwise every context value
//!   must match; `ForAnyValue:` is false when the key is missing, otherwise at least one must;
//! - without a set qualifier, a multivalued key matches a positive operator when any of its
//!   values does.
//!
//! An unknown operator, a policy value that cannot be read for its operator, or a key with an
//! empty list of values compiles to [`Kind::Invalid`]: it evaluates to
//! [`Outcome::Unevaluable`], which the evaluator counts as *matching* in a Deny statement (fail
//! closed) and as not matching in an Allow. So does a request value the operator cannot read
//! (`not-an-ip` for `IpAddress`, `abc` for a number, `yesterday` for a date, `nope` for `Bool`,
//! a non-ARN for `ArnLike`) when the other values do not settle the condition.

use std::net::IpAddr;

use crate::arn::{self, ArnPattern};
use crate::context::Context;
use crate::document::ConditionEntry;
use crate::glob;
use crate::template::Template;
use crate::values::{parse_date, parse_number, Cidr};

/// Splits an operator into its set qualifier, base and `IfExists` suffix.
fn split_operator(op: &str) -> (SetOp, &str, bool) {
    let (set, rest) = if let Some(r) = op.strip_prefix("ForAllValues:") {
        (SetOp::ForAll, r)
    } else if let Some(r) = op.strip_prefix("ForAnyValue:") {
        (SetOp::ForAny, r)
    } else {
        (SetOp::Single, op)
    };
    match rest.strip_suffix("IfExists") {
        Some(b) if b != "Null" => (set, b, true),
        _ => (set, rest, false),
    }
}

/// Whether an operator (with any set qualifier or `IfExists`) compares numbers: its policy
/// values must then be numbers, or AWS refuses the policy.
pub fn is_numeric_operator(op: &str) -> bool {
    matches!(
        split_operator(op).1,
        "NumericEquals"
            | "NumericNotEquals"
            | "NumericLessThan"
            | "NumericLessThanEquals"
            | "NumericGreaterThan"
            | "NumericGreaterThanEquals"
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Single,
    ForAll,
    ForAny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, ctx: T, policy: T) -> bool {
        match self {
            Cmp::Eq => ctx == policy,
            Cmp::Lt => ctx < policy,
            Cmp::Le => ctx <= policy,
            Cmp::Gt => ctx > policy,
            Cmp::Ge => ctx >= policy,
        }
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Str {
        ignore_case: bool,
        values: Vec<Template>,
    },
    Num {
        cmp: Cmp,
        values: Vec<f64>,
    },
    Date {
        cmp: Cmp,
        values: Vec<i64>,
    },
    Bool {
        values: Vec<bool>,
    },
    Binary {
        values: Vec<String>,
    },
    Ip {
        values: Vec<Cidr>,
    },
    Arn {
        values: Vec<Template>,
    },
    Null {
        values: Vec<bool>,
    },
    Invalid {
        reason: String,
    },
}

/// The result of evaluating one condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The condition cannot be evaluated (unknown operator, unreadable value).
    Unevaluable(String),
    /// A policy variable in the values has no value in the request. AWS treats such a value as
    /// null, which nothing equals or is like ("Policy variables with no value"); the `bool` is
    /// the outcome under that rule. Deny statements use it; Allow statements never grant on it.
    Unresolved(bool, String),
}

/// A compiled condition entry.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The operator as written.
    pub operator: String,
    /// The key as written.
    pub key: String,
    key_lc: String,
    set: SetOp,
    if_exists: bool,
    negated: bool,
    kind: Kind,
}

fn invalid(reason: String) -> Kind {
    Kind::Invalid { reason }
}

impl Condition {
    /// Compiles a condition entry. `variables`: whether policy variables are substituted
    /// (policy version 2012-10-17).
    pub fn compile(entry: &ConditionEntry, variables: bool) -> Condition {
        let (set, base, if_exists) = split_operator(&entry.operator);
        let vals = &entry.values;
        let strings = |wild: bool, lower: bool| -> Vec<Template> {
            vals.iter()
                .map(|v| {
                    let t = Template::compile(v, wild, variables);
                    if lower {
                        t.to_lowercase()
                    } else {
                        t
                    }
                })
                .collect()
        };
        let numbers = |cmp: Cmp| -> Kind {
            match vals.iter().map(|v| parse_number(v)).collect() {
                Some(values) => Kind::Num { cmp, values },
                None => invalid(format!("`{}` needs numeric values", entry.operator)),
            }
        };
        let dates = |cmp: Cmp| -> Kind {
            match vals
                .iter()
                .map(|v| parse_date(v))
                .collect::<Option<Vec<_>>>()
            {
                Some(values) => Kind::Date { cmp, values },
                None => invalid(format!(
                    "`{}` needs ISO 8601 dates or epoch seconds",
                    entry.operator
                )),
            }
        };
        let bools = || -> Option<Vec<bool>> {
            vals.iter()
                .map(|v| match v.to_ascii_lowercase().as_str() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                })
                .collect()
        };
        let (negated, kind) = match base {
            "StringEquals" => (
                false,
                Kind::Str {
                    ignore_case: false,
                    values: strings(false, false),
                },
            ),
            "StringNotEquals" => (
                true,
                Kind::Str {
                    ignore_case: false,
                    values: strings(false, false),
                },
            ),
            "StringEqualsIgnoreCase" => (
                false,
                Kind::Str {
                    ignore_case: true,
                    values: strings(false, true),
                },
            ),
            "StringNotEqualsIgnoreCase" => (
                true,
                Kind::Str {
                    ignore_case: true,
                    values: strings(false, true),
                },
            ),
            "StringLike" => (
                false,
                Kind::Str {
                    ignore_case: false,
                    values: strings(true, false),
                },
            ),
            "StringNotLike" => (
                true,
                Kind::Str {
                    ignore_case: false,
                    values: strings(true, false),
                },
            ),
            "NumericEquals" => (false, numbers(Cmp::Eq)),
            "NumericNotEquals" => (true, numbers(Cmp::Eq)),
            "NumericLessThan" => (false, numbers(Cmp::Lt)),
            "NumericLessThanEquals" => (false, numbers(Cmp::Le)),
            "NumericGreaterThan" => (false, numbers(Cmp::Gt)),
            "NumericGreaterThanEquals" => (false, numbers(Cmp::Ge)),
            "DateEquals" => (false, dates(Cmp::Eq)),
            "DateNotEquals" => (true, dates(Cmp::Eq)),
            "DateLessThan" => (false, dates(Cmp::Lt)),
            "DateLessThanEquals" => (false, dates(Cmp::Le)),
            "DateGreaterThan" => (false, dates(Cmp::Gt)),
            "DateGreaterThanEquals" => (false, dates(Cmp::Ge)),
            "Bool" => match bools() {
                Some(values) => (false, Kind::Bool { values }),
                None => (false, invalid("`Bool` needs `true` or `false`".into())),
            },
            "BinaryEquals" => (
                false,
                Kind::Binary {
                    values: vals.clone(),
                },
            ),
            "IpAddress" | "NotIpAddress" => {
                let neg = base == "NotIpAddress";
                match vals
                    .iter()
                    .map(|v| Cidr::parse(v))
                    .collect::<Option<Vec<_>>>()
                {
                    Some(values) => (neg, Kind::Ip { values }),
                    None => (
                        neg,
                        invalid(format!("`{base}` needs IP addresses or CIDR blocks")),
                    ),
                }
            }
            "ArnEquals" | "ArnLike" => (
                false,
                Kind::Arn {
                    values: strings(true, false),
                },
            ),
            "ArnNotEquals" | "ArnNotLike" => (
                true,
                Kind::Arn {
                    values: strings(true, false),
                },
            ),
            "Null" => match bools() {
                Some(values) if set == SetOp::Single => (false, Kind::Null { values }),
                Some(_) => (false, invalid("`Null` cannot take a set qualifier".into())),
                None => (false, invalid("`Null` needs `true` or `false`".into())),
            },
            _ => (
                false,
                invalid(format!("unknown condition operator `{}`", entry.operator)),
            ),
        };
        // A key with no values to compare with: nothing would ever equal one of them, so a
        // Deny would silently deny nothing. Unevaluable instead (fail closed).
        let kind = if vals.is_empty() && !matches!(kind, Kind::Invalid { .. }) {
            invalid(format!(
                "`{}` lists no values for `{}`",
                entry.operator, entry.key
            ))
        } else {
            kind
        };
        Condition {
            operator: entry.operator.clone(),
            key: entry.key.clone(),
            key_lc: entry.key.to_ascii_lowercase(),
            set,
            if_exists,
            negated,
            kind,
        }
    }

    /// Whether the condition compiled to something evaluable.
    pub fn is_valid(&self) -> bool {
        !matches!(self.kind, Kind::Invalid { .. })
    }

    /// Evaluates against a context.
    pub fn evaluate(&self, ctx: &Context) -> Outcome {
        if let Kind::Invalid { reason } = &self.kind {
            return Outcome::Unevaluable(reason.clone());
        }
        let values: &[String] = ctx
            .get(&self.key_lc)
            .map(|e| e.values.as_slice())
            .unwrap_or(&[]);
        let missing = values.is_empty();
        if let Kind::Null { values: wanted } = &self.kind {
            return to_outcome(wanted.contains(&missing));
        }
        let mut unresolved = None;
        // A context value the operator cannot read (`not-an-ip` for IpAddress, `abc` for a
        // number) decides nothing: when the readable values do not settle the condition, it
        // is unevaluable, so a Deny counts as matching and an Allow does not (fail closed).
        let mut unreadable = None;
        let mut test = |v: &String| {
            let r = self.positive(v, ctx, &mut unresolved);
            if r.is_none() {
                unreadable.get_or_insert_with(|| v.clone());
            }
            r
        };
        let holds = match self.set {
            SetOp::Single if missing => Some(self.if_exists || self.negated),
            SetOp::Single => any_gives(values, &mut test, true).map(|hit| hit != self.negated),
            SetOp::ForAll if missing => Some(true),
            SetOp::ForAll => {
                // Every value satisfies the operator: no value is a counterexample.
                any_gives(values, |v| test(v).map(|b| b != self.negated), false).map(|c| !c)
            }
            SetOp::ForAny if missing => Some(self.if_exists),
            SetOp::ForAny => any_gives(values, |v| test(v).map(|b| b != self.negated), true),
        };
        let Some(holds) = holds else {
            return Outcome::Unevaluable(format!(
                "the request's value `{}` of `{}` cannot be read by `{}`",
                unreadable.unwrap_or_default(),
                self.key,
                self.operator
            ));
        };
        match unresolved {
            Some(key) => Outcome::Unresolved(holds, key),
            None => to_outcome(holds),
        }
    }

    /// Does one context value match any policy value (positive sense)? `None` when the value
    /// cannot be read as the operator's type (a number, date, boolean, IP address or ARN).
    fn positive(&self, v: &str, ctx: &Context, unresolved: &mut Option<String>) -> Option<bool> {
        match &self.kind {
            Kind::Str {
                ignore_case,
                values,
            } => Some({
                let lowered;
                let v = if *ignore_case {
                    lowered = v.to_lowercase();
                    lowered.as_str()
                } else {
                    v
                };
                values.iter().any(|t| match t.fixed() {
                    Some(p) => glob::matches(p, v),
                    None => match t.resolve(ctx) {
                        Ok(p) if *ignore_case => {
                            let p: Vec<glob::Piece> = p
                                .into_iter()
                                .map(|x| match x {
                                    glob::Piece::Lit(s) => glob::Piece::Lit(s.to_lowercase()),
                                    o => o,
                                })
                                .collect();
                            glob::matches(&p, v)
                        }
                        Ok(p) => glob::matches(&p, v),
                        Err(u) => {
                            unresolved.get_or_insert(u.key);
                            false
                        }
                    },
                })
            }),
            Kind::Num { cmp, values } => {
                parse_number(v).map(|n| values.iter().any(|&p| cmp.holds(n, p)))
            }
            Kind::Date { cmp, values } => {
                parse_date(v).map(|d| values.iter().any(|&p| cmp.holds(d, p)))
            }
            Kind::Bool { values } => {
                let b = match v.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return None,
                };
                Some(values.contains(&b))
            }
            Kind::Binary { values } => Some(values.iter().any(|p| p == v)),
            Kind::Ip { values } => v
                .trim()
                .parse::<IpAddr>()
                .ok()
                .map(|ip| values.iter().any(|c| c.contains(ip))),
            Kind::Arn { values } => {
                arn::split(v)?;
                Some(values.iter().any(|t| match t.resolve(ctx) {
                    Ok(p) => ArnPattern::new(p).matches(v),
                    Err(u) => {
                        unresolved.get_or_insert(u.key);
                        false
                    }
                }))
            }
            Kind::Null { .. } | Kind::Invalid { .. } => Some(false),
        }
    }
}

/// Whether some value's result is `want`: `Some(true)` as soon as one is; otherwise `None`
/// when some value could not be read, else `Some(false)`.
fn any_gives(
    values: &[String],
    mut f: impl FnMut(&String) -> Option<bool>,
    want: bool,
) -> Option<bool> {
    let mut unknown = false;
    for v in values {
        match f(v) {
            Some(b) if b == want => return Some(true),
            Some(_) => {}
            None => unknown = true,
        }
    }
    (!unknown).then_some(false)
}

fn to_outcome(b: bool) -> Outcome {
    if b {
        Outcome::True
    } else {
        Outcome::False
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        Condition::compile(
            &ConditionEntry {
                operator: op.into(),
                key: key.into(),
                values: values.iter().map(|s| (*s).to_owned()).collect(),
            },
            true,
        )
    }

    fn ctx(pairs: &[(&str, &[&str])]) -> Context {
        let mut c = Context::default();
        for (k, v) in pairs {
            c.insert(k, v.iter().map(|s| (*s).to_owned()).collect(), v.len() != 1);
        }
        c
    }

    #[test]
    fn negated_operators_are_true_on_missing_keys() {
        let c = ctx(&[]);
        assert_eq!(
            cond("StringNotEquals", "k", &["a"]).evaluate(&c),
            Outcome::True
        );
        assert_eq!(
            cond("StringEquals", "k", &["a"]).evaluate(&c),
            Outcome::False
        );
        assert_eq!(
            cond("NotIpAddress", "aws:SourceIp", &["10.0.0.0/8"]).evaluate(&c),
            Outcome::True
        );
        assert_eq!(
            cond("StringEqualsIfExists", "k", &["a"]).evaluate(&c),
            Outcome::True
        );
    }

    #[test]
    fn set_operators() {
        let tags = ctx(&[("aws:TagKeys", &["a", "b"])]);
        assert_eq!(
            cond("ForAllValues:StringEquals", "aws:TagKeys", &["a", "b", "c"]).evaluate(&tags),
            Outcome::True
        );
        assert_eq!(
            cond("ForAllValues:StringEquals", "aws:TagKeys", &["a"]).evaluate(&tags),
            Outcome::False
        );
        assert_eq!(
            cond("ForAnyValue:StringEquals", "aws:TagKeys", &["b"]).evaluate(&tags),
            Outcome::True
        );
        assert_eq!(
            cond("ForAllValues:StringEquals", "aws:TagKeys", &["x"]).evaluate(&ctx(&[])),
            Outcome::True
        );
        assert_eq!(
            cond("ForAnyValue:StringEquals", "aws:TagKeys", &["x"]).evaluate(&ctx(&[])),
            Outcome::False
        );
        assert_eq!(
            cond("ForAnyValue:StringNotEquals", "aws:TagKeys", &["a"]).evaluate(&tags),
            Outcome::True
        );
        assert_eq!(
            cond("ForAllValues:StringNotEquals", "aws:TagKeys", &["a"]).evaluate(&tags),
            Outcome::False
        );
    }

    #[test]
    fn typed_operators() {
        let c = ctx(&[
            ("n", &["5"]),
            ("d", &["2020-06-01T00:00:00Z"]),
            ("ip", &["2001:db8::1"]),
            ("b", &["true"]),
        ]);
        assert_eq!(
            cond("NumericLessThan", "n", &["10"]).evaluate(&c),
            Outcome::True
        );
        assert_eq!(
            cond("NumericGreaterThanEquals", "n", &["5.0"]).evaluate(&c),
            Outcome::True
        );
        assert_eq!(
            cond("DateGreaterThan", "d", &["2020-01-01"]).evaluate(&c),
            Outcome::True
        );
        assert_eq!(
            cond("DateLessThan", "d", &["1577836800"]).evaluate(&c),
            Outcome::False
        );
        assert_eq!(
            cond("IpAddress", "ip", &["2001:db8::/32"]).evaluate(&c),
            Outcome::True
        );
        assert_eq!(cond("Bool", "b", &["True"]).evaluate(&c), Outcome::True);
        assert_eq!(
            cond("Null", "missing", &["true"]).evaluate(&c),
            Outcome::True
        );
        assert_eq!(cond("Null", "n", &["true"]).evaluate(&c), Outcome::False);
    }

    #[test]
    fn unknown_and_unreadable_are_unevaluable() {
        let c = ctx(&[("n", &["5"])]);
        assert!(matches!(
            cond("StringEqualz", "n", &["5"]).evaluate(&c),
            Outcome::Unevaluable(_)
        ));
        assert!(matches!(
            cond("NumericEquals", "n", &["five"]).evaluate(&c),
            Outcome::Unevaluable(_)
        ));
    }

    #[test]
    fn variables_in_values() {
        let c = ctx(&[
            ("aws:username", &["alice"]),
            ("s3:prefix", &["home/alice/x"]),
        ]);
        assert_eq!(
            cond("StringLike", "s3:prefix", &["home/${aws:username}/*"]).evaluate(&c),
            Outcome::True
        );
        assert_eq!(
            cond("StringLike", "s3:prefix", &["home/${aws:userid}/*"]).evaluate(&c),
            Outcome::Unresolved(false, "aws:userid".into())
        );
        // Nothing equals a variable without a value, so the negated operator holds.
        assert_eq!(
            cond("StringNotEquals", "s3:prefix", &["${aws:userid}"]).evaluate(&c),
            Outcome::Unresolved(true, "aws:userid".into())
        );
    }
}
