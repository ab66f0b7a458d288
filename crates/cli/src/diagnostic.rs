//! Diagnostics for the files people write — policy documents, evaluation cases, `latch.toml`:
//! a stable code, the message, and the offending text shown in place.
//!
//! The libraries name what is wrong by path (`Statement[1].Condition`, `bundles.ops.actions[2]`)
//! and stay free of presentation; here the path is found in the text (the JSON through
//! `jsonc-parser`'s syntax tree, the TOML through `toml_edit`'s) and rendered by `miette`. A
//! path that cannot be found (the element is missing) points at the nearest enclosing element
//! that exists.

use std::fmt;
use std::io::IsTerminal;
use std::ops::Range;

use jsonc_parser::ast::Value as Json;
use jsonc_parser::common::Ranged;
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

/// One problem in one file.
#[derive(Debug)]
pub struct Problem {
    /// Stable code (`latch::policy::syntax`, `latch::config`, ...).
    pub code: &'static str,
    /// What is wrong, naming the path.
    pub message: String,
    /// Its text and the offending part, when it could be found.
    source: NamedSource<String>,
    span: Option<Range<usize>>,
    /// What marks the offending text: the message without the path it starts with.
    label: String,
    /// How to fix it, when there is more to say.
    pub help: Option<String>,
}

/// Codes of [`Problem`]s.
pub mod code {
    /// Not JSON (or not TOML): the text does not parse.
    pub const SYNTAX: &str = "latch::syntax";
    /// A policy element that is malformed.
    pub const POLICY: &str = "latch::policy::element";
    /// A policy element not allowed where the policy is used (`--layer`).
    pub const LAYER: &str = "latch::policy::layer";
    /// A policy that parses but deserves a look (an unknown action, a condition that cannot be
    /// evaluated).
    pub const LINT: &str = "latch::policy::lint";
    /// A key of `latch.toml` that does not make sense.
    pub const CONFIG: &str = "latch::config";
}

impl Problem {
    /// A problem at `path` of the JSON document `text`.
    pub fn in_json(
        code: &'static str,
        file: &str,
        text: &str,
        path: &str,
        message: String,
    ) -> Self {
        Self::new(code, file, text, json_span(text, path), message).naming(path)
    }

    /// A problem whose message names its JSON path first, as the engine's and the catalog's
    /// messages do (`Statement[1].Condition.StringEquals.aws:SourceIp: cannot be evaluated`);
    /// without a path, the problem is the document's.
    pub fn in_json_message(code: &'static str, file: &str, text: &str, message: String) -> Self {
        let path = message
            .split_once(": ")
            .map(|(p, _)| p.to_owned())
            .filter(|p| {
                ["Statement", "Version", "Id"]
                    .iter()
                    .any(|e| p.starts_with(e))
            });
        let span = path.as_deref().and_then(|p| json_span(text, p));
        let problem = Self::new(code, file, text, span, message);
        match path {
            Some(p) => problem.naming(&p),
            None => problem,
        }
    }

    /// A problem at the dotted key `key` of the TOML document `text`.
    pub fn in_toml(code: &'static str, file: &str, text: &str, key: &str, message: String) -> Self {
        Self::new(code, file, text, toml_span(text, key), message).naming(key)
    }

    /// A problem at `line` and `column` (1-based, as JSON and TOML parsers report them) of
    /// `text`.
    pub fn at(
        code: &'static str,
        file: &str,
        text: &str,
        (line, column): (usize, usize),
        message: String,
    ) -> Self {
        let start = text
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum::<usize>();
        let offset = text.get(start..).map_or(start, |rest| {
            start
                + rest
                    .char_indices()
                    .nth(column.saturating_sub(1))
                    .map_or(rest.len(), |(i, _)| i)
        });
        let span = (offset <= text.len()).then_some(offset..offset);
        Self::new(code, file, text, span, message).naming("$")
    }

    /// A problem at byte `span` of `text`.
    pub fn new(
        code: &'static str,
        file: &str,
        text: &str,
        span: Option<Range<usize>>,
        message: String,
    ) -> Self {
        Problem {
            code,
            label: message.clone(),
            message,
            source: NamedSource::new(file, text.to_owned()),
            span,
            help: None,
        }
    }

    /// The label is what the message says after naming `path` (`Statement[0].Effect: ...`,
    /// `` `bundles.ops`: ... ``): the drawing already shows where.
    fn naming(mut self, path: &str) -> Self {
        for named in [format!("{path}: "), format!("`{path}`: ")] {
            if let Some((_, after)) = self.message.split_once(named.as_str()) {
                after.clone_into(&mut self.label);
                break;
            }
        }
        self
    }

    /// Line and column (1-based) of the offending text.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        let span = self.span.as_ref()?;
        let before = self.source.inner().get(..span.start)?;
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Some((line, column))
    }

    /// The offending lines drawn for people, under the code and marked with the message (in
    /// colour on a terminal); empty when the text could not be found. Shown under the one-line
    /// message, so the message is not repeated above.
    pub fn render(&self) -> String {
        if self.span.is_none() {
            return String::new();
        }
        let theme = if std::io::stderr().is_terminal() && std::io::stdout().is_terminal() {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let mut out = String::new();
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        if handler.render_report(&mut out, self).is_err() {
            return String::new();
        }
        out
    }

    /// The problem for machines: code, message, and where (line and column) when found.
    pub fn json(&self) -> serde_json::Value {
        let at = self.line_column();
        serde_json::json!({
            "code": self.code,
            "message": self.message,
            "line": at.map(|(l, _)| l),
            "column": at.map(|(_, c)| c),
        })
    }
}

/// The code: what heads the drawing (the message labels the offending text).
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl std::error::Error for Problem {}

impl miette::Diagnostic for Problem {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.span
            .as_ref()
            .map(|_| &self.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span.clone()?;
        let span = SourceSpan::from(span.start..span.end.max(span.start + 1));
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(self.label.clone()),
            span,
        ))))
    }
}

/// The error for a configuration file whose `key` is wrong (`error`, which names the file and
/// the key): the message, then the key shown in place when the file still reads.
pub fn config_error(path: &std::path::Path, key: &str, error: impl fmt::Display) -> anyhow::Error {
    let file = path.display().to_string();
    let drawn = latch_input::read(path, latch_input::Expected::TomlOrEmpty)
        .map(|text| Problem::in_toml(code::CONFIG, &file, &text, key, error.to_string()).render())
        .unwrap_or_default();
    if drawn.is_empty() {
        anyhow::anyhow!("{error}")
    } else {
        anyhow::anyhow!("{error}\n{}", drawn.trim_end())
    }
}

/// One step of a path: a key or an index.
enum Step<'p> {
    Key(&'p str),
    Index(usize),
}

/// The bytes of `text` the JSON `path` (`Statement[1].Condition.StringEquals`, `$` for the
/// whole document) names: the member (key and value) or array element; where the path leaves
/// the document, the opening of the last element on it that exists.
pub fn json_span(text: &str, path: &str) -> Option<Range<usize>> {
    let parsed = jsonc_parser::parse_to_ast(
        text,
        &jsonc_parser::CollectOptions::default(),
        &jsonc_parser::ParseOptions::default(),
    )
    .ok()?;
    let mut node = parsed.value.as_ref()?;
    let mut span = node.range().start..node.range().end;
    let mut rest = path.strip_prefix('$').unwrap_or(path);
    while let Some((step, after)) = next_step(rest, |key| match node {
        Json::Object(o) => o
            .properties
            .iter()
            .map(|p| p.name.as_str())
            .filter(|n| {
                key.starts_with(n)
                    && matches!(key.as_bytes().get(n.len()), None | Some(b'.' | b'['))
            })
            .max_by_key(|n| n.len())
            .map(str::len),
        _ => None,
    }) {
        let found = match (step, node) {
            (Step::Key(k), Json::Object(o)) => o.get(k).map(|p| (&p.value, p.range)),
            (Step::Index(i), Json::Array(a)) => a.elements.get(i).map(|e| (e, e.range())),
            _ => None,
        };
        let Some((value, range)) = found else {
            // Missing: the opening of the element that should have held it.
            let open = node.range().start;
            return Some(open..open + 1);
        };
        node = value;
        span = range.start..range.end;
        rest = after;
    }
    Some(span)
}

/// The first step of `rest` and what follows it; `key_len` says how long the key at the start
/// of `rest` is (keys may hold `.`, as `aws:PrincipalTag/team.name` could).
fn next_step<'p>(
    rest: &'p str,
    key_len: impl Fn(&str) -> Option<usize>,
) -> Option<(Step<'p>, &'p str)> {
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    if rest.is_empty() {
        return None;
    }
    if let Some(inner) = rest.strip_prefix('[') {
        let (index, after) = inner.split_once(']')?;
        return Some((Step::Index(index.parse().ok()?), after));
    }
    let len = key_len(rest).unwrap_or_else(|| rest.find(['.', '[']).unwrap_or(rest.len()));
    let (key, after) = rest.split_at(len);
    Some((Step::Key(key), after))
}

/// The bytes of `text` the dotted TOML `key` (`bundles.ops.actions[2]`, `server.listen`)
/// names; where the key leaves the document, the last part of it that exists.
pub fn toml_span(text: &str, key: &str) -> Option<Range<usize>> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let mut node = Toml::Item(doc.as_item());
    let mut span = None;
    let mut rest = key;
    while let Some((step, after)) = next_step(rest, |k| {
        node.table()?
            .iter()
            .map(|(name, _)| name)
            .filter(|n| {
                k.starts_with(n) && matches!(k.as_bytes().get(n.len()), None | Some(b'.' | b'['))
            })
            .max_by_key(|n| n.len())
            .map(str::len)
    }) {
        let next = match step {
            Step::Key(k) => node.table().and_then(|t| {
                let (name, item) = t.get_key_value(k)?;
                Some((Toml::Item(item), join(name.span(), item.span())))
            }),
            Step::Index(i) => node.element(i),
        };
        let Some((found, found_span)) = next else {
            break;
        };
        node = found;
        span = found_span.or(span);
        rest = after;
    }
    span
}

/// A place in a TOML document: an item (a table's entry) or a value (an array's element).
#[derive(Clone, Copy)]
enum Toml<'d> {
    Item(&'d toml_edit::Item),
    Value(&'d toml_edit::Value),
    Table(&'d toml_edit::Table),
}

impl<'d> Toml<'d> {
    fn table(self) -> Option<&'d dyn toml_edit::TableLike> {
        match self {
            Toml::Item(i) => i.as_table_like(),
            Toml::Value(v) => v.as_inline_table().map(|t| t as &dyn toml_edit::TableLike),
            Toml::Table(t) => Some(t as &dyn toml_edit::TableLike),
        }
    }

    fn element(self, i: usize) -> Option<(Toml<'d>, Option<Range<usize>>)> {
        let array = match self {
            Toml::Item(item) => {
                if let Some(tables) = item.as_array_of_tables() {
                    return tables.get(i).map(|t| (Toml::Table(t), t.span()));
                }
                item.as_array()
            }
            Toml::Value(v) => v.as_array(),
            Toml::Table(_) => None,
        };
        array?.get(i).map(|v| (Toml::Value(v), v.span()))
    }
}

fn join(a: Option<Range<usize>>, b: Option<Range<usize>>) -> Option<Range<usize>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.start.min(b.start)..a.end.max(b.end)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, span: Option<Range<usize>>) -> &str {
        span.and_then(|s| text.get(s)).unwrap_or("<none>")
    }

    #[test]
    fn json_paths_point_at_the_member_or_the_element_that_should_hold_it() {
        let text = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    {"Effect": "Deny", "Action": 5, "Resource": "*",
     "Condition": {"StringEquals": {"aws:PrincipalTag/team.name": "x"}}}
  ]
}"#;
        assert_eq!(
            at(text, json_span(text, "Statement[1].Action")),
            r#""Action": 5"#
        );
        assert_eq!(
            at(text, json_span(text, "Statement[0]")),
            r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}"#
        );
        assert_eq!(
            at(
                text,
                json_span(
                    text,
                    "Statement[1].Condition.StringEquals.aws:PrincipalTag/team.name"
                )
            ),
            r#""aws:PrincipalTag/team.name": "x""#
        );
        // Missing: the opening of the statement that should hold it.
        assert_eq!(at(text, json_span(text, "Statement[0].Principal")), "{");
        assert_eq!(at(text, json_span(text, "Statement[7]")), "[");
        assert_eq!(json_span(text, "$"), Some(0..text.len()));
        assert_eq!(json_span("{not json", "$"), None);
    }

    #[test]
    fn toml_keys_point_at_the_entry() {
        let text = "[bundles.ops]\nactions = [\"iam:PassRole\", \"iam:Nope\"]\n\n[[approval]]\nbundle = \"ops\"\n\n[[approval]]\nbundle = \"nope\"\n";
        assert_eq!(
            at(text, toml_span(text, "bundles.ops.actions[1]")),
            "\"iam:Nope\""
        );
        assert_eq!(
            at(text, toml_span(text, "approval[1].bundle")),
            "bundle = \"nope\""
        );
        assert_eq!(
            at(text, toml_span(text, "bundles.ops.missing")),
            "[bundles.ops]"
        );
        assert_eq!(toml_span(text, ""), None);
    }

    #[test]
    fn problems_know_their_line_and_column() {
        let text = "{\n  \"Statement\": 5\n}";
        let p = Problem::in_json(code::POLICY, "p.json", text, "Statement", "bad".into());
        assert_eq!(p.line_column(), Some((2, 3)));
        let drawn = p.render();
        assert!(drawn.contains("latch::policy::element"), "{drawn}");
        assert!(drawn.contains("p.json:2:3"), "{drawn}");
        assert!(drawn.contains("\"Statement\": 5"), "{drawn}");
        assert!(drawn.contains("bad"), "{drawn}");
        let nowhere = Problem::new(code::POLICY, "p.json", text, None, "bad".into());
        assert_eq!(nowhere.render(), "");
        assert_eq!(p.json().get("line"), Some(&serde_json::json!(2)));
    }
}
