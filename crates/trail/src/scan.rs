//! A purpose-built JSON scanner for CloudTrail log files.
//!
//! A general JSON deserializer spends most of its time on what usage never reads: every key
//! and string of request parameters, response elements and TLS details is decoded and
//! checked. This scanner works in two passes over a file:
//!
//! 1. **Index**: one vectorised pass (`memchr` over `"` and `\`) lists every quote that is
//!    not escaped, with a flag on the closing quote of each string that holds an escape; the
//!    whole file is checked to be UTF-8 once.
//! 2. **Scan**: the records are walked reading only the fields in [`RawRecord`]. The end of
//!    any string is the next entry of the index, so skipping a string — most of a record —
//!    costs one lookup, and a kept string is borrowed from the file without further checks
//!    unless it holds an escape.
//!
//! It is strict about structure (objects, arrays, separators, string termination, literals)
//! and about the strings it keeps (escapes, control characters); the file must be UTF-8
//! (RFC 8259, section 8.1). Errors carry the byte offset, turned into line and column.

use std::borrow::Cow;

use crate::record::{RawIdentity, RawIssuer, RawRecord, RawSessionContext, Str};

/// A scan error at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

type R<T> = Result<T, ScanError>;

/// In the quote index, the flag on a closing quote whose string holds a backslash escape.
const ESCAPED: u32 = 1 << 31;

/// Largest file the index can address (offsets below [`ESCAPED`]).
const MAX_LEN: usize = ESCAPED as usize;

struct Scanner<'a, 'q> {
    b: &'a [u8],
    /// The same bytes, known to be UTF-8.
    s: &'a str,
    i: usize,
    /// Offsets of the unescaped quotes, in order (see [`index_quotes`]).
    quotes: &'q [u32],
    /// The next entry of `quotes`: the first quote at or after `i`.
    q: usize,
}

/// Fills `out` with the offset of every `"` of `b` not escaped by a backslash, in order;
/// the closing quote of a string that holds an escape carries [`ESCAPED`]. Outside strings a
/// backslash is not JSON: the scanner reports the quote it hides as unexpected.
///
/// The file is read in blocks of 64 bytes, each turned into two bit masks (quotes,
/// backslashes) by [`block_masks`]; only the set bits are visited.
fn index_quotes(b: &[u8], out: &mut Vec<u32>) {
    out.clear();
    out.reserve(b.len() / 8);
    let mut escaped_at = usize::MAX;
    let mut flag = 0;
    let mut visit = |block: &[u8; 64], base: usize, out: &mut Vec<u32>| {
        let (quotes, backslashes) = block_masks(block);
        if backslashes == 0 && flag == 0 && escaped_at != base {
            // The common case: no escape touches this block, every quote counts.
            let base = u32::try_from(base).unwrap_or(ESCAPED - 64);
            let mut m = quotes;
            out.extend((0..m.count_ones()).map(|_| {
                let bit = m.trailing_zeros();
                m &= m - 1;
                base + bit
            }));
            return;
        }
        let mut m = quotes | backslashes;
        while m != 0 {
            let bit = m.trailing_zeros();
            m &= m - 1;
            let p = base + bit as usize;
            if p == escaped_at {
                continue;
            }
            if backslashes >> bit & 1 == 1 {
                escaped_at = p + 1;
                // Inside a string when an odd number of quotes precede.
                if out.len() % 2 == 1 {
                    flag = ESCAPED;
                }
            } else {
                // `b.len() < MAX_LEN` was checked, so the offset fits below the flag bit.
                out.push(u32::try_from(p).unwrap_or(ESCAPED - 1) | flag);
                flag = 0;
            }
        }
    };
    let mut blocks = b.chunks_exact(64);
    let mut base = 0;
    for block in blocks.by_ref() {
        if let Ok(block) = <&[u8; 64]>::try_from(block) {
            visit(block, base, out);
        }
        base += 64;
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 64];
        if let Some(head) = last.get_mut(..rest.len()) {
            head.copy_from_slice(rest);
        }
        visit(&last, base, out);
    }
}

/// Bit `i` of the first mask is set when `block[i]` is `"`, of the second when it is `\`:
/// SSE2 compares, 16 bytes at a time (every x86_64 processor has SSE2).
#[cfg(target_arch = "x86_64")]
#[inline]
fn block_masks(block: &[u8; 64]) -> (u64, u64) {
    use safe_arch::{cmp_eq_mask_i8_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i};
    let quote = set_splat_i8_m128i(b'"' as i8);
    let backslash = set_splat_i8_m128i(b'\\' as i8);
    let mut q = 0u64;
    let mut e = 0u64;
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let Ok(lane) = <[u8; 16]>::try_from(lane) else {
            continue;
        };
        let v = m128i::from(lane);
        // `move_mask` sets the low 16 bits only.
        let mq = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(v, quote)) as u16;
        let me = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(v, backslash)) as u16;
        q |= u64::from(mq) << (16 * k);
        e |= u64::from(me) << (16 * k);
    }
    (q, e)
}

/// Bit `i` of the first mask is set when `block[i]` is `"`, of the second when it is `\`.
#[cfg(any(not(target_arch = "x86_64"), test))]
fn block_masks_portable(block: &[u8; 64]) -> (u64, u64) {
    let mut q = 0u64;
    let mut e = 0u64;
    for (i, c) in block.iter().enumerate() {
        q |= u64::from(*c == b'"') << i;
        e |= u64::from(*c == b'\\') << i;
    }
    (q, e)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn block_masks(block: &[u8; 64]) -> (u64, u64) {
    block_masks_portable(block)
}

/// Calls `on_record` for each element of the top-level `Records` array. Returns the number
/// of records, or where and why the input is not a CloudTrail log; `index` holds the index
/// of the record being read (`None` outside `Records`). `quotes` is scratch space, reused
/// across files.
pub(crate) fn for_each_record<'a>(
    json: &'a [u8],
    quotes: &mut Vec<u32>,
    index: &mut Option<usize>,
    on_record: &mut dyn FnMut(RawRecord<'a>) -> Result<(), String>,
) -> R<usize> {
    if json.len() >= MAX_LEN {
        return Err(ScanError {
            offset: 0,
            message: "file larger than 2 GiB uncompressed".to_owned(),
        });
    }
    let text = std::str::from_utf8(json).map_err(|e| ScanError {
        offset: e.valid_up_to(),
        message: "not UTF-8 text".to_owned(),
    })?;
    index_quotes(json, quotes);
    let mut s = Scanner {
        b: json,
        s: text,
        i: 0,
        quotes,
        q: 0,
    };
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

impl<'a> Scanner<'a, '_> {
    fn err(&self, message: &str) -> ScanError {
        ScanError {
            offset: self.i,
            message: message.to_owned(),
        }
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline(always)]
    fn peek(&mut self) -> R<u8> {
        self.ws();
        self.b
            .get(self.i)
            .copied()
            .ok_or_else(|| self.err("unexpected end of input"))
    }

    #[inline(always)]
    fn expect(&mut self, c: u8) -> R<()> {
        if self.peek()? == c {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected `{}`", char::from(c))))
        }
    }

    /// Consumes `c` if it is next.
    #[inline(always)]
    fn eat(&mut self, c: u8) -> R<bool> {
        if self.peek()? == c {
            self.i += 1;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// After a member or element: `,` (more follow) or `close` (done).
    #[inline(always)]
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

    /// At the opening quote of a string (`self.i`): moves past the closing quote and returns
    /// the string's raw contents (between the quotes) and whether they hold an escape.
    #[inline(always)]
    fn raw_string(&mut self) -> R<(usize, usize, bool)> {
        let open = self.quotes.get(self.q).copied();
        if open != Some(u32::try_from(self.i).unwrap_or(ESCAPED)) {
            // The quote at `i` is not in the index: a backslash outside a string hides it.
            return Err(self.err("unexpected character"));
        }
        let Some(&close) = self.quotes.get(self.q + 1) else {
            return Err(self.err("unterminated string"));
        };
        self.q += 2;
        let end = (close & !ESCAPED) as usize;
        let start = self.i + 1;
        self.i = end + 1;
        Ok((start, end, close & ESCAPED != 0))
    }

    /// An object key followed by `:`. Keys are compared as bytes: a key without escapes is
    /// not decoded (it only has to equal one of the known ASCII field names).
    #[inline]
    fn key(&mut self) -> R<Cow<'a, [u8]>> {
        if self.peek()? != b'"' {
            return Err(self.err("expected a string key"));
        }
        let (start, end, escaped) = self.raw_string()?;
        let raw = self.b.get(start..end).unwrap_or_default();
        let k = if escaped {
            Cow::Owned(decode_escaped(raw, start)?.into_bytes())
        } else {
            Cow::Borrowed(raw)
        };
        self.expect(b':')?;
        Ok(k)
    }

    /// A string, decoded: borrowed unless it holds escapes.
    #[inline]
    fn string(&mut self) -> R<Str<'a>> {
        let (start, end, escaped) = self.raw_string()?;
        let raw = self.b.get(start..end).unwrap_or_default();
        if escaped {
            return decode_escaped(raw, start).map(|s| Str(Cow::Owned(s)));
        }
        if let Some(n) = raw.iter().position(|c| *c < 0x20) {
            return Err(ScanError {
                offset: start + n,
                message: "control character in string".to_owned(),
            });
        }
        // Both ends are next to an ASCII quote, so they are character boundaries.
        self.s
            .get(start..end)
            .map(|s| Str(Cow::Borrowed(s)))
            .ok_or_else(|| self.err("string is not UTF-8"))
    }

    /// Skips a string whose opening quote is at `self.i`.
    #[inline]
    fn skip_string(&mut self) -> R<()> {
        self.raw_string().map(|_| ())
    }

    /// Skips any JSON value.
    #[inline]
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
    #[inline]
    fn opt_string(&mut self, field: &[u8]) -> R<Option<Str<'a>>> {
        match self.peek()? {
            b'"' => self.string().map(Some),
            b'n' => self.literal(b"null").map(|()| None),
            _ => Err(self.err(&format!("`{}` must be a string", field_name(field)))),
        }
    }

    /// An object handled member by member, or `null`.
    #[inline]
    fn opt_object<F>(&mut self, field: &[u8], mut member: F) -> R<bool>
    where
        F: FnMut(&mut Self, &[u8]) -> R<()>,
    {
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
        let present = self.opt_object(b"record", |s, k| {
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
        let present = self.opt_object(b"userIdentity", |s, k| {
            match k {
                b"type" => id.kind = s.opt_string(k)?,
                b"arn" => id.arn = s.opt_string(k)?,
                b"accountId" => id.account_id = s.opt_string(k)?,
                b"sessionContext" => {
                    let mut ctx = RawSessionContext::default();
                    let present = s.opt_object(k, |s, k| {
                        if k == b"sessionIssuer" {
                            let mut iss = RawIssuer::default();
                            let present = s.opt_object(k, |s, k| {
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

/// Decodes the contents of a string holding escapes (`raw`, between the quotes, starting at
/// byte `base` of the file), checking every escape and refusing control characters.
fn decode_escaped(raw: &[u8], base: usize) -> R<String> {
    let err = |at: usize, message: &str| ScanError {
        offset: base + at,
        message: message.to_owned(),
    };
    let hex4 = |at: usize| -> R<u32> {
        // Exactly four hex digits (`from_str_radix` alone would also take a sign).
        raw.get(at..at + 4)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| err(at, "invalid `\\u` escape"))
    };
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&c) = raw.get(i) {
        i += 1;
        match c {
            b'\\' => {
                let e = *raw.get(i).ok_or_else(|| err(i, "unterminated string"))?;
                i += 1;
                match e {
                    b'"' | b'\\' | b'/' => out.push(e),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'u' => {
                        let mut cp = hex4(i)?;
                        i += 4;
                        if (0xD800..0xDC00).contains(&cp) {
                            if raw.get(i..i + 2) != Some(b"\\u") {
                                return Err(err(i, "unpaired surrogate in string"));
                            }
                            let lo = hex4(i + 2)?;
                            if !(0xDC00..0xE000).contains(&lo) {
                                return Err(err(i, "unpaired surrogate in string"));
                            }
                            i += 6;
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        }
                        let ch =
                            char::from_u32(cp).ok_or_else(|| err(i, "invalid `\\u` escape"))?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return Err(err(i - 1, "invalid escape in string")),
                }
            }
            c if c < 0x20 => return Err(err(i - 1, "control character in string")),
            c => out.push(c),
        }
    }
    // The file is UTF-8 and escapes decode to whole characters.
    String::from_utf8(out).map_err(|_| err(0, "string is not UTF-8"))
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
#[allow(clippy::unwrap_used, clippy::type_complexity, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn records(json: &str) -> Result<Vec<(String, String, String)>, (Option<usize>, String)> {
        let mut out = Vec::new();
        let mut index = None;
        for_each_record(json.as_bytes(), &mut Vec::new(), &mut index, &mut |r| {
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
    fn escapes_and_stray_backslashes() {
        // Escaped quotes and backslashes inside skipped and kept strings, and keys with escapes.
        let json = r#"{"Records": [{"x": "a\\", "y": "\"}\\\"", "event\u0054ime": "t",
            "eventSource": "s\\\"q", "eventName": "n"}]}"#;
        let r = records(json).unwrap();
        assert_eq!(r, vec![("t".into(), "n".into(), String::new())]);
        let mut source = String::new();
        for_each_record(json.as_bytes(), &mut Vec::new(), &mut None, &mut |r| {
            source = r.event_source.to_string();
            Ok(())
        })
        .unwrap();
        assert_eq!(source, "s\\\"q");
        // A backslash outside a string is not JSON, even where it would hide a quote.
        let (_, m) = records(r#"{"Records": [], "x": [\"a"]}"#).unwrap_err();
        assert_eq!(m, "unexpected character");
        let (_, m) = records(r#"{"Records": [], "x": \1}"#).unwrap_err();
        assert_eq!(m, "expected a JSON value");
        // Control characters and bad escapes in kept strings.
        let (_, m) = records("{\"Records\": [{\"eventTime\": \"t\u{1}\"}]}").unwrap_err();
        assert_eq!(m, "control character in string");
        let (_, m) = records(r#"{"Records": [{"eventTime": "t\q"}]}"#).unwrap_err();
        assert_eq!(m, "invalid escape in string");
        let (_, m) = records(r#"{"Records": [{"eventTime": "\ud800x"}]}"#).unwrap_err();
        assert_eq!(m, "unpaired surrogate in string");
        let (_, m) = records(r#"{"Records": [{"eventTime": "\u+041"}]}"#).unwrap_err();
        assert_eq!(m, "invalid `\\u` escape");
    }

    #[test]
    fn the_file_must_be_utf8() {
        let mut json = br#"{"Records": [], "x": "ab"}"#.to_vec();
        json[22] = 0xFF;
        let err = for_each_record(&json, &mut Vec::new(), &mut None, &mut |_| Ok(())).unwrap_err();
        assert_eq!((err.offset, err.message.as_str()), (22, "not UTF-8 text"));
    }

    #[test]
    fn block_masks_agree_with_the_portable_reference() {
        let mut block = [0u8; 64];
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            for c in &mut block {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *c = [b'"', b'\\', b'a', b'{', 0x80, 0xFF, b' '][(x >> 16) as usize % 7];
            }
            assert_eq!(block_masks(&block), block_masks_portable(&block));
        }
    }

    #[test]
    fn quote_index_across_blocks() {
        // A backslash at the end of one 64-byte block escapes the quote that starts the next.
        let mut json = String::from(r#"{"Records": [], "x": ""#);
        json.push_str(&"a".repeat(63 - json.len()));
        json.push_str(r#"\"", "y": "\\", "z": "q"}"#);
        assert_eq!(json.as_bytes()[63], b'\\');
        let mut quotes = Vec::new();
        index_quotes(json.as_bytes(), &mut quotes);
        let plain: Vec<usize> = quotes.iter().map(|q| (q & !ESCAPED) as usize).collect();
        let expected: Vec<usize> = json
            .char_indices()
            .filter(|(i, c)| *c == '"' && ![64].contains(i))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(plain, expected);
        let flagged: Vec<usize> = quotes
            .iter()
            .filter(|q| *q & ESCAPED != 0)
            .map(|q| (q & !ESCAPED) as usize)
            .collect();
        assert_eq!(flagged, vec![65, json.find(r#"\\""#).unwrap() + 2]);
        assert_eq!(records(&json).unwrap(), vec![]);
    }

    mod differential {
        //! The scanner against `serde_json` on generated records: any strings (quotes,
        //! backslashes, control characters, non-ASCII), any values around the fields it reads,
        //! compact or pretty-printed.
        use proptest::prelude::*;
        use serde_json::{json, Map, Value};

        use super::super::for_each_record;

        fn noise() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                any::<String>().prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                    prop::collection::vec((any::<String>(), inner), 0..5)
                        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]
            #[test]
            fn reads_what_serde_json_reads(
                time in any::<String>(),
                source in any::<String>(),
                name in any::<String>(),
                arn in any::<String>(),
                before in noise(),
                after in noise(),
                pretty in any::<bool>(),
            ) {
                let doc = json!({"Records": [{
                    "aNoise": before,
                    "eventTime": time,
                    "eventSource": source,
                    "eventName": name,
                    "userIdentity": {"x": after.clone(), "arn": arn},
                    "zNoise": after,
                }], "Other": [1]});
                let bytes = if pretty {
                    serde_json::to_vec_pretty(&doc).unwrap()
                } else {
                    serde_json::to_vec(&doc).unwrap()
                };
                let mut got = None;
                let n = for_each_record(&bytes, &mut Vec::new(), &mut None, &mut |r| {
                    got = Some((
                        r.event_time.to_string(),
                        r.event_source.to_string(),
                        r.event_name.to_string(),
                        r.user_identity.and_then(|i| i.arn).map(|a| a.to_string()),
                    ));
                    Ok(())
                });
                prop_assert_eq!(n, Ok(1));
                prop_assert_eq!(got, Some((time, source, name, Some(arn))));
                // Any strict prefix of the document is not JSON: an error, never a record count.
                let cut = bytes.len() * 7 / 11;
                let r = for_each_record(&bytes[..cut], &mut Vec::new(), &mut None, &mut |_| Ok(()));
                prop_assert!(r.is_err());
            }
        }
    }

    mod mutations {
        //! Damaged logs never panic or loop: a valid log with bytes replaced, inserted or
        //! removed (JSON's structural bytes, quotes, backslashes, non-ASCII) gives an answer.
        use proptest::prelude::*;

        use super::super::for_each_record;

        const LOG: &str = r#"{"Records":[{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/s\"1","accountId":"111122223333","sessionContext":{"attributes":{"mfaAuthenticated":"false"},"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/app"}}},"eventTime":"2026-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","requestParameters":{"bucketName":"b","key":"a\\b\u00e9","list":[1,-2.5e3,true,null,{"x":"]}"}]},"responseElements":null,"errorCode":"AccessDenied"}]}"#;

        fn edit() -> impl Strategy<Value = (usize, u8, u8)> {
            let bytes = prop_oneof![
                Just(b'"'),
                Just(b'\\'),
                Just(b'{'),
                Just(b'}'),
                Just(b'['),
                Just(b']'),
                Just(b','),
                Just(b':'),
                Just(b'u'),
                Just(0xC3),
                Just(0x80),
                Just(0),
                any::<u8>(),
            ];
            (0..LOG.len(), bytes, 0u8..3)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn damaged_logs_get_an_answer(edits in prop::collection::vec(edit(), 1..4)) {
                let mut log = LOG.as_bytes().to_vec();
                for (at, byte, how) in edits {
                    let at = at.min(log.len().saturating_sub(1));
                    match how {
                        0 => log[at] = byte,
                        1 => log.insert(at, byte),
                        _ => {
                            log.remove(at);
                        }
                    }
                }
                let mut seen = 0;
                let r = for_each_record(&log, &mut Vec::new(), &mut None, &mut |_| {
                    seen += 1;
                    Ok(())
                });
                if let Ok(n) = r {
                    prop_assert_eq!(n, seen);
                }
            }
        }

        #[test]
        fn the_undamaged_log_reads() {
            let mut seen = Vec::new();
            for_each_record(LOG.as_bytes(), &mut Vec::new(), &mut None, &mut |r| {
                seen.push((
                    r.event_name.to_string(),
                    r.error_code.map(|c| c.to_string()),
                ));
                Ok(())
            })
            .unwrap();
            assert_eq!(
                seen,
                vec![("GetObject".into(), Some("AccessDenied".into()))]
            );
        }
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_column(b"ab\ncd", 4), (2, 2));
        assert_eq!(line_column(b"ab", 0), (1, 1));
    }
}
