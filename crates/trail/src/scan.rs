//! A purpose-built JSON scanner for CloudTrail log files.
//!
//! A general JSON deserializer spends most of its time on what usage never reads: every key
//! and string of request parameters, response elements and TLS details is decoded and
//! checked. This scanner reads the record fields in [`RawRecord`] and *skips* everything
//! else by looking only for the bytes that end a string (`"` and `\`, found with `memchr`)
//! and for brackets. It is strict about structure (objects, arrays, separators, string
//! termination, literals) and about the strings it keeps (escapes, UTF-8); skipped strings
//! are not decoded. Errors carry the byte offset, turned into line and column.

use std::borrow::Cow;

use crate::record::{RawIdentity, RawIssuer, RawRecord, RawSessionContext, Str};

/// A scan error at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

type R<T> = Result<T, ScanError>;

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

/// Calls `on_record` for each element of the top-level `Records` array. Returns the number
/// of records, or where and why the input is not a CloudTrail log; `index` holds the index
/// of the record being read (`None` outside `Records`).
pub(crate) fn for_each_record<'a>(
    json: &'a [u8],
    index: &mut Option<usize>,
    on_record: &mut dyn FnMut(RawRecord<'a>) -> Result<(), String>,
) -> R<usize> {
    let mut s = Scanner { b: json, i: 0 };
    let mut saw = false;
    let mut count = 0;
    s.expect(b'{')?;
    if !s.eat(b'}')? {
        loop {
            let key = s.key()?;
            if &*key == b"Records" && !saw {
                saw = true;
                s.expect(b'[')?;
                if !s.eat(b']')? {
                    loop {
                        *index = Some(count);
                        let start = s.i;
                        let r = s.record()?;
                        on_record(r).map_err(|message| ScanError {
                            offset: start,
                            message,
                        })?;
                        count += 1;
                        if !s.comma_or(b']')? {
                            break;
                        }
                    }
                }
                *index = None;
            } else {
                s.skip_value()?;
            }
            if !s.comma_or(b'}')? {
                break;
            }
        }
    }
    s.ws();
    if s.i < s.b.len() {
        return Err(s.err("trailing characters after the log object"));
    }
    if !saw {
        return Err(ScanError {
            offset: 0,
            message: "no `Records` array".to_owned(),
        });
    }
    Ok(count)
}

impl<'a> Scanner<'a> {
    fn err(&self, message: &str) -> ScanError {
        ScanError {
            offset: self.i,
            message: message.to_owned(),
        }
    }

    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&mut self) -> R<u8> {
        self.ws();
        self.b
            .get(self.i)
            .copied()
            .ok_or_else(|| self.err("unexpected end of input"))
    }

    fn expect(&mut self, c: u8) -> R<()> {
        if self.peek()? == c {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected `{}`", char::from(c))))
        }
    }

    /// Consumes `c` if it is next.
    fn eat(&mut self, c: u8) -> R<bool> {
        if self.peek()? == c {
            self.i += 1;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// After a member or element: `,` (more follow) or `close` (done).
    fn comma_or(&mut self, close: u8) -> R<bool> {
        match self.peek()? {
            b',' => {
                self.i += 1;
                Ok(true)
            }
            c if c == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(self.err(&format!("expected `,` or `{}`", char::from(close)))),
        }
    }

    /// An object key followed by `:`. Keys are compared as bytes: a key without escapes is
    /// not decoded or validated (it only has to equal one of the known ASCII field names).
    fn key(&mut self) -> R<Cow<'a, [u8]>> {
        if self.peek()? != b'"' {
            return Err(self.err("expected a string key"));
        }
        let start = self.i + 1;
        let rest = self.b.get(start..).unwrap_or_default();
        let k = match find_end(rest) {
            Some(n) if rest.get(n) == Some(&b'"') => {
                self.i = start + n + 1;
                Cow::Borrowed(rest.get(..n).unwrap_or_default())
            }
            Some(_) => Cow::Owned(self.string()?.0.into_owned().into_bytes()),
            None => return Err(self.err("unterminated string")),
        };
        self.expect(b':')?;
        Ok(k)
    }

    /// A string, decoded: borrowed unless it holds escapes.
    fn string(&mut self) -> R<Str<'a>> {
        self.i += 1; // opening quote
        let start = self.i;
        let rest = self.b.get(start..).unwrap_or_default();
        match find_end(rest) {
            Some(n) if rest.get(n) == Some(&b'"') => {
                self.i = start + n + 1;
                let raw = rest.get(..n).unwrap_or_default();
                if raw.iter().any(|c| *c < 0x20) {
                    return Err(self.err("control character in string"));
                }
                std::str::from_utf8(raw)
                    .map(|s| Str(Cow::Borrowed(s)))
                    .map_err(|_| self.err("string is not UTF-8"))
            }
            Some(n) => {
                self.i = start + n;
                let mut out = Vec::from(rest.get(..n).unwrap_or_default());
                self.decode_escaped(&mut out)?;
                String::from_utf8(out)
                    .map(|s| Str(Cow::Owned(s)))
                    .map_err(|_| self.err("string is not UTF-8"))
            }
            None => Err(self.err("unterminated string")),
        }
    }

    /// Continues a string at a backslash, decoding into `out` up to the closing quote.
    fn decode_escaped(&mut self, out: &mut Vec<u8>) -> R<()> {
        loop {
            let c = *self
                .b
                .get(self.i)
                .ok_or_else(|| self.err("unterminated string"))?;
            self.i += 1;
            match c {
                b'"' => return Ok(()),
                b'\\' => {
                    let e = *self
                        .b
                        .get(self.i)
                        .ok_or_else(|| self.err("unterminated string"))?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(self.err("unpaired surrogate in string"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("unpaired surrogate in string"));
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            let ch = char::from_u32(cp)
                                .ok_or_else(|| self.err("invalid `\\u` escape"))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.err("invalid escape in string")),
                    }
                }
                c if c < 0x20 => return Err(self.err("control character in string")),
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> R<u32> {
        let h = self
            .b
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("invalid `\\u` escape"))?;
        let s = std::str::from_utf8(h).map_err(|_| self.err("invalid `\\u` escape"))?;
        let v = u32::from_str_radix(s, 16).map_err(|_| self.err("invalid `\\u` escape"))?;
        self.i += 4;
        Ok(v)
    }

    /// Skips a string whose opening quote is at `self.i`.
    fn skip_string(&mut self) -> R<()> {
        self.i += 1;
        loop {
            let rest = self.b.get(self.i..).unwrap_or_default();
            match find_end(rest) {
                Some(n) if rest.get(n) == Some(&b'"') => {
                    self.i += n + 1;
                    return Ok(());
                }
                Some(n) => self.i += n + 2,
                None => return Err(self.err("unterminated string")),
            }
        }
    }

    /// Skips any JSON value.
    fn skip_value(&mut self) -> R<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => self.skip_nested(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                {
                    self.i += 1;
                }
                if self.i == start {
                    return Err(self.err("invalid number"));
                }
                Ok(())
            }
            _ => Err(self.err("expected a JSON value")),
        }
    }

    fn literal(&mut self, word: &[u8]) -> R<()> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("expected a JSON value"))
        }
    }

    /// Skips an object or array, checking that brackets match. The open brackets are kept
    /// as bits (1 = object) of a `u128`: nesting deeper than 128 is refused.
    fn skip_nested(&mut self) -> R<()> {
        let mut stack: u128 = 0;
        let mut depth: u32 = 0;
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err(self.err("unexpected end of input"));
            };
            match c {
                b'"' => {
                    self.skip_string()?;
                    continue;
                }
                b'{' | b'[' => {
                    if depth == 128 {
                        return Err(self.err("nested too deeply"));
                    }
                    stack = (stack << 1) | u128::from(c == b'{');
                    depth += 1;
                }
                b'}' | b']' => {
                    if depth == 0 || (stack & 1 == 1) != (c == b'}') {
                        return Err(self.err("mismatched bracket"));
                    }
                    stack >>= 1;
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
    }

    /// A string, or `null` (→ `None`).
    fn opt_string(&mut self, field: &[u8]) -> R<Option<Str<'a>>> {
        match self.peek()? {
            b'"' => self.string().map(Some),
            b'n' => self.literal(b"null").map(|()| None),
            _ => Err(self.err(&format!("`{}` must be a string", field_name(field)))),
        }
    }

    /// An object handled member by member, or `null`.
    fn opt_object(
        &mut self,
        field: &[u8],
        member: &mut dyn FnMut(&mut Self, &[u8]) -> R<()>,
    ) -> R<bool> {
        match self.peek()? {
            b'{' => {
                self.i += 1;
                if !self.eat(b'}')? {
                    loop {
                        let k = self.key()?;
                        member(self, &k)?;
                        if !self.comma_or(b'}')? {
                            break;
                        }
                    }
                }
                Ok(true)
            }
            b'n' => self.literal(b"null").map(|()| false),
            _ => Err(self.err(&format!("`{}` must be an object", field_name(field)))),
        }
    }

    fn record(&mut self) -> R<RawRecord<'a>> {
        let start = self.i;
        let mut time = None;
        let mut source = None;
        let mut name = None;
        let mut r = RawRecord::default();
        let mut identity = None;
        let present = self.opt_object(b"record", &mut |s, k| {
            match k {
                b"eventTime" => time = s.opt_string(k)?,
                b"eventSource" => source = s.opt_string(k)?,
                b"eventName" => name = s.opt_string(k)?,
                b"awsRegion" => r.aws_region = s.opt_string(k)?,
                b"errorCode" => r.error_code = s.opt_string(k)?,
                b"recipientAccountId" => r.recipient_account_id = s.opt_string(k)?,
                b"sourceIPAddress" => r.source_ip_address = s.opt_string(k)?,
                b"userIdentity" => identity = s.identity()?,
                b"requestParameters" => {
                    s.peek()?;
                    let start = s.i;
                    s.skip_value()?;
                    r.request_parameters = s.b.get(start..s.i);
                }
                _ => s.skip_value()?,
            }
            Ok(())
        })?;
        let missing = |f: &str| ScanError {
            offset: start,
            message: format!("missing field `{f}`"),
        };
        if !present {
            return Err(ScanError {
                offset: start,
                message: "a record must be an object".to_owned(),
            });
        }
        r.event_time = time.ok_or_else(|| missing("eventTime"))?;
        r.event_source = source.ok_or_else(|| missing("eventSource"))?;
        r.event_name = name.ok_or_else(|| missing("eventName"))?;
        r.user_identity = identity;
        Ok(r)
    }

    fn identity(&mut self) -> R<Option<RawIdentity<'a>>> {
        let mut id = RawIdentity::default();
        let present = self.opt_object(b"userIdentity", &mut |s, k| {
            match k {
                b"type" => id.kind = s.opt_string(k)?,
                b"arn" => id.arn = s.opt_string(k)?,
                b"accountId" => id.account_id = s.opt_string(k)?,
                b"sessionContext" => {
                    let mut ctx = RawSessionContext::default();
                    let present = s.opt_object(k, &mut |s, k| {
                        if k == b"sessionIssuer" {
                            let mut iss = RawIssuer::default();
                            let present = s.opt_object(k, &mut |s, k| {
                                match k {
                                    b"type" => iss.kind = s.opt_string(k)?,
                                    b"arn" => iss.arn = s.opt_string(k)?,
                                    _ => s.skip_value()?,
                                }
                                Ok(())
                            })?;
                            ctx.session_issuer = present.then_some(iss);
                        } else {
                            s.skip_value()?;
                        }
                        Ok(())
                    })?;
                    id.session_context = present.then_some(ctx);
                }
                _ => s.skip_value()?,
            }
            Ok(())
        })?;
        Ok(present.then_some(id))
    }
}

/// The first `"` or `\` in `s`. Most strings in a record are short: a plain loop finds
/// their end sooner than a vectorised search can start; long ones go to `memchr`.
#[inline]
fn find_end(s: &[u8]) -> Option<usize> {
    for (i, c) in s.iter().take(24).enumerate() {
        if *c == b'"' || *c == b'\\' {
            return Some(i);
        }
    }
    let tail = s.get(24..)?;
    memchr::memchr2(b'"', b'\\', tail).map(|n| n + 24)
}

/// A known field name for messages (keys reaching here are ASCII field names).
fn field_name(k: &[u8]) -> &str {
    std::str::from_utf8(k).unwrap_or("field")
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_column(json: &[u8], offset: usize) -> (usize, usize) {
    let before = json.get(..offset.min(json.len())).unwrap_or_default();
    let line = 1 + memchr::memchr_iter(b'\n', before).count();
    let col = 1 + before.iter().rev().take_while(|c| **c != b'\n').count();
    (line, col)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::type_complexity)]
mod tests {
    use super::*;

    fn records(json: &str) -> Result<Vec<(String, String, String)>, (Option<usize>, String)> {
        let mut out = Vec::new();
        let mut index = None;
        for_each_record(json.as_bytes(), &mut index, &mut |r| {
            out.push((
                r.event_time.to_string(),
                r.event_name.to_string(),
                r.user_identity
                    .and_then(|i| i.session_context)
                    .and_then(|c| c.session_issuer)
                    .and_then(|i| i.arn)
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
            ));
            Ok(())
        })
        .map_err(|e| (index, e.message))?;
        Ok(out)
    }

    #[test]
    fn reads_fields_and_skips_the_rest() {
        let json = r#" {"Other": {"x": [1, -2.5e3, true, false, null, "a\"]}"]},
            "Records": [
              {"requestParameters": {"k": "v}\\", "n": [{"deep": ["]"]}]}, "eventTime": "2026-01-01T00:00:00Z",
               "eventSource": "s3.amazonaws.com", "eventName": "Get\u004fbject\ud83d\ude00",
               "userIdentity": {"type": "AssumedRole", "sessionContext": {"attributes": {}, "sessionIssuer": {"arn": "arn:r", "type": "Role"}}}},
              {"eventTime": "t", "eventSource": "s", "eventName": "n", "errorCode": null, "userIdentity": null}
            ]} "#;
        assert_eq!(
            records(json).unwrap(),
            vec![
                (
                    "2026-01-01T00:00:00Z".into(),
                    "GetObject\u{1F600}".into(),
                    "arn:r".into()
                ),
                ("t".into(), "n".into(), String::new()),
            ]
        );
        assert_eq!(records(r#"{"Records": []}"#).unwrap(), vec![]);
    }

    #[test]
    fn reports_what_and_which_record() {
        let cases = [
            (
                r#"{"Records": [{"eventTime": "t", "eventSource": "s", "eventName": "n"}, {"eventTime": "t", "eventName": "n"}]}"#,
                Some(1),
                "missing field `eventSource`",
            ),
            (
                r#"{"Records": [{"eventTime": "t", "eventSource": "s", "eventName": 5}]}"#,
                Some(0),
                "`eventName` must be a string",
            ),
            (
                r#"{"Records": [{"eventTime": "t", "eventSource": "s", "eventName": "n", "x": [1, 2}]}"#,
                Some(0),
                "mismatched bracket",
            ),
            (
                r#"{"Records": [{"eventTime": "t", "eventSource": "s", "eventName": "n"}"#,
                None,
                "unexpected end of input",
            ),
            (
                r#"{"Records": [{"eventTime": "t", "eventSource": "s", "eventName": "n}]}"#,
                Some(0),
                "unterminated string",
            ),
            (
                r#"{"Records": [], "x": tru}"#,
                None,
                "expected a JSON value",
            ),
            (
                r#"{"Records": []} x"#,
                None,
                "trailing characters after the log object",
            ),
            (r#"{"foo": 1}"#, None, "no `Records` array"),
            (r#"[1]"#, None, "expected `{`"),
        ];
        for (json, index, message) in cases {
            let (i, m) = records(json).unwrap_err();
            assert_eq!(m, message, "{json}");
            if index.is_some() {
                assert_eq!(i, index, "{json}");
            }
        }
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_column(b"ab\ncd", 4), (2, 2));
        assert_eq!(line_column(b"ab", 0), (1, 1));
    }
}
