//! Patterns that may hold policy variables (`${aws:username}`), compiled once.
//!
//! AWS ("IAM policy elements: Variables and tags"): variables are substituted only in policies
//! with `"Version": "2012-10-17"`; `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and
//! `$`; `${key, 'default'}` supplies a default when the key is absent; a substituted value is
//! matched literally (a `*` inside a user name is not a wildcard).

use crate::context::Context;
use crate::glob::{self, Piece};

/// A piece of a template: a wildcard piece or a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TPiece {
    Piece(Piece),
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A pattern compiled from policy text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Fast path: the pieces when the template has no variable.
    fixed: Option<Vec<Piece>>,
    pieces: Vec<TPiece>,
}

/// Why a template could not be resolved against a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The variable's context key, as written.
    pub key: String,
}

impl Template {
    /// Compiles `text`. `wildcards`: whether `*` and `?` are wildcards (StringLike, ARNs,
    /// Resource) or literal (StringEquals). `variables`: whether `${...}` is substituted.
    pub fn compile(text: &str, wildcards: bool, variables: bool) -> Template {
        let mut pieces: Vec<TPiece> = Vec::new();
        let mut lit = String::new();
        let flush = |lit: &mut String, pieces: &mut Vec<TPiece>| {
            if lit.is_empty() {
                return;
            }
            let text = std::mem::take(lit);
            if let Some(TPiece::Piece(Piece::Lit(prev))) = pieces.last_mut() {
                prev.push_str(&text);
            } else {
                pieces.push(TPiece::Piece(Piece::Lit(text)));
            }
        };
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if variables && rest.starts_with("${") {
                if let Some(end) = rest.find('}') {
                    let inner = rest.get(2..end).unwrap_or_default();
                    rest = rest.get(end + 1..).unwrap_or_default();
                    match inner {
                        "*" | "?" | "$" => lit.push_str(inner),
                        _ => {
                            flush(&mut lit, &mut pieces);
                            let (key, default) = split_default(inner);
                            pieces.push(TPiece::Var {
                                key: key.to_ascii_lowercase(),
                                default,
                            });
                        }
                    }
                    continue;
                }
            }
            rest = rest.get(c.len_utf8()..).unwrap_or_default();
            if wildcards && (c == '*' || c == '?') {
                flush(&mut lit, &mut pieces);
                let piece = if c == '*' { Piece::Star } else { Piece::One };
                if !(piece == Piece::Star && pieces.last() == Some(&TPiece::Piece(Piece::Star))) {
                    pieces.push(TPiece::Piece(piece));
                }
            } else {
                lit.push(c);
            }
        }
        flush(&mut lit, &mut pieces);
        let fixed = pieces
            .iter()
            .map(|p| match p {
                TPiece::Piece(p) => Some(p.clone()),
                TPiece::Var { .. } => None,
            })
            .collect::<Option<Vec<_>>>();
        Template { fixed, pieces }
    }

    /// The pieces with every variable replaced by a placeholder value (`x`, or its default):
    /// the pattern's shape, for checks made before any request is known.
    pub fn placeholder_pieces(&self) -> Vec<Piece> {
        let mut out = Vec::with_capacity(self.pieces.len());
        for p in &self.pieces {
            match p {
                TPiece::Piece(Piece::Lit(s)) => glob::push_lit(&mut out, s),
                TPiece::Piece(p) => out.push(p.clone()),
                TPiece::Var { default, .. } => {
                    glob::push_lit(&mut out, default.as_deref().unwrap_or("x"));
                }
            }
        }
        out
    }

    /// The pieces when the template holds no variable.
    pub fn fixed(&self) -> Option<&[Piece]> {
        self.fixed.as_deref()
    }

    /// True when the template is exactly `*`.
    pub fn is_any(&self) -> bool {
        matches!(self.fixed.as_deref(), Some([Piece::Star]))
    }

    /// Substitutes variables from the request context. A variable whose key is absent (and has
    /// no default) or holds several values cannot be resolved.
    pub fn resolve(&self, ctx: &Context) -> Result<Vec<Piece>, Unresolved> {
        if let Some(fixed) = &self.fixed {
            return Ok(fixed.clone());
        }
        let mut out = Vec::with_capacity(self.pieces.len());
        for p in &self.pieces {
            match p {
                TPiece::Piece(Piece::Lit(s)) => glob::push_lit(&mut out, s),
                TPiece::Piece(p) => out.push(p.clone()),
                TPiece::Var { key, default } => match ctx.single(key) {
                    Some(v) => glob::push_lit(&mut out, v),
                    None => match default {
                        Some(d) if !ctx.has(key) => glob::push_lit(&mut out, d),
                        _ => return Err(Unresolved { key: key.clone() }),
                    },
                },
            }
        }
        Ok(out)
    }

    /// Lower-cases the literal parts (for case-insensitive operators).
    pub fn to_lowercase(&self) -> Template {
        let lower = |p: &TPiece| match p {
            TPiece::Piece(Piece::Lit(s)) => TPiece::Piece(Piece::Lit(s.to_lowercase())),
            other => other.clone(),
        };
        let pieces: Vec<TPiece> = self.pieces.iter().map(lower).collect();
        let fixed = self.fixed.as_ref().map(|f| {
            f.iter()
                .map(|p| match p {
                    Piece::Lit(s) => Piece::Lit(s.to_lowercase()),
                    other => other.clone(),
                })
                .collect()
        });
        Template { fixed, pieces }
    }
}

/// `aws:PrincipalTag/team, 'none'` → (`aws:PrincipalTag/team`, Some(`none`)).
fn split_default(inner: &str) -> (&str, Option<String>) {
    if let Some((key, rest)) = inner.split_once(',') {
        let rest = rest.trim();
        if let Some(d) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            return (key.trim(), Some(d.to_owned()));
        }
    }
    (inner.trim(), None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::glob::matches;

    fn ctx() -> Context {
        let mut c = Context::default();
        c.insert("aws:username", vec!["al*ce".into()], false);
        c.insert("aws:PrincipalTag/team", vec!["blue".into()], false);
        c
    }

    #[test]
    fn substituted_values_match_literally() {
        let t = Template::compile("arn:aws:s3:::home/${aws:username}/*", true, true);
        let p = t.resolve(&ctx()).unwrap();
        assert!(matches(&p, "arn:aws:s3:::home/al*ce/file"));
        assert!(!matches(&p, "arn:aws:s3:::home/alice/file"));
    }

    #[test]
    fn escapes_and_defaults() {
        let t = Template::compile("a${*}b${?}${$}", true, true);
        assert_eq!(t.fixed().unwrap(), &[Piece::Lit("a*b?$".into())]);
        let t = Template::compile("${aws:PrincipalTag/dept, 'none'}", false, true);
        assert_eq!(t.resolve(&ctx()).unwrap(), vec![Piece::Lit("none".into())]);
        let t = Template::compile("${aws:PrincipalTag/Team, 'none'}", false, true);
        assert_eq!(t.resolve(&ctx()).unwrap(), vec![Piece::Lit("blue".into())]);
        let t = Template::compile("${aws:PrincipalTag/dept}", false, true);
        assert!(t.resolve(&ctx()).is_err());
    }

    #[test]
    fn old_version_keeps_text() {
        let t = Template::compile("home/${aws:username}", false, false);
        assert_eq!(
            t.fixed().unwrap(),
            &[Piece::Lit("home/${aws:username}".into())]
        );
    }
}
