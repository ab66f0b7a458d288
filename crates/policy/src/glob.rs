//! Wildcard matching over pre-tokenised patterns.
//!
//! A pattern is a sequence of [`Piece`]s: literal text, `*` (any run of characters, possibly
//! empty) and `?` (exactly one character). Literal text never acts as a wildcard, so a
//! substituted policy variable or an escaped `${*}` is matched literally, as AWS documents
//! ("Policy variables": the special characters `${*}`, `${?}` and `${$}`).

/// One element of a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text matched literally.
    Lit(String),
    /// `*`: any sequence of characters, including none.
    Star,
    /// `?`: exactly one character.
    One,
}

/// Builds pieces from a string in which `*` and `?` are wildcards and nothing else is special.
pub fn pieces_of(pattern: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut lit = String::new();
    for c in pattern.chars() {
        match c {
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                // Consecutive stars are one star.
                if c == '*' {
                    if out.last() != Some(&Piece::Star) {
                        out.push(Piece::Star);
                    }
                } else {
                    out.push(Piece::One);
                }
            }
            _ => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    out
}

/// Appends literal text to a piece list, merging with a preceding literal.
pub fn push_lit(out: &mut Vec<Piece>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Piece::Lit(prev)) = out.last_mut() {
        prev.push_str(text);
    } else {
        out.push(Piece::Lit(text.to_owned()));
    }
}

fn char_len_at(text: &str, at: usize) -> usize {
    text.get(at..)
        .and_then(|rest| rest.chars().next())
        .map_or(1, char::len_utf8)
}

/// Does `text` match the whole pattern? Case-sensitive; callers lower-case both sides for
/// case-insensitive matching.
pub fn matches(pieces: &[Piece], text: &str) -> bool {
    let bytes = text.as_bytes();
    let (mut p, mut t) = (0usize, 0usize);
    // After a mismatch, resume just after the last star, with the star eating one more char.
    let mut resume: Option<(usize, usize)> = None;
    loop {
        let advanced = match pieces.get(p) {
            Some(Piece::Star) => {
                resume = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some(Piece::One) => {
                if t < bytes.len() {
                    t += char_len_at(text, t);
                    true
                } else {
                    false
                }
            }
            Some(Piece::Lit(s)) => {
                if bytes.get(t..t + s.len()) == Some(s.as_bytes()) {
                    t += s.len();
                    true
                } else {
                    false
                }
            }
            None => {
                if t == bytes.len() {
                    return true;
                }
                false
            }
        };
        if advanced {
            p += 1;
            continue;
        }
        match resume {
            Some((after_star, from)) if from < bytes.len() => {
                let next = from + char_len_at(text, from);
                resume = Some((after_star, next));
                p = after_star;
                t = next;
            }
            _ => return false,
        }
    }
}

/// Whole-string wildcard match of a plain pattern (`*` and `?` are wildcards).
pub fn matches_str(pattern: &str, text: &str) -> bool {
    matches(&pieces_of(pattern), text)
}

/// True when the pattern has no wildcard piece.
pub fn is_literal(pieces: &[Piece]) -> bool {
    pieces.iter().all(|p| matches!(p, Piece::Lit(_)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_questions() {
        assert!(matches_str("*", ""));
        assert!(matches_str("*", "anything"));
        assert!(matches_str("get*", "getobject"));
        assert!(!matches_str("get*", "putobject"));
        assert!(matches_str("*object", "getobject"));
        assert!(matches_str("g?t*", "getobject"));
        assert!(!matches_str("g?t", "gt"));
        assert!(matches_str("a*b*c", "aXXbYYc"));
        assert!(!matches_str("a*b*c", "aXXbYY"));
        assert!(matches_str("*a*a*a", "aaaa"));
        assert!(matches_str("?", "é"));
        assert!(!matches_str("??", "é"));
        assert!(matches_str("", ""));
        assert!(!matches_str("", "x"));
    }

    #[test]
    fn literal_pieces_do_not_act_as_wildcards() {
        let pieces = vec![Piece::Lit("a*".into()), Piece::Star];
        assert!(matches(&pieces, "a*bc"));
        assert!(!matches(&pieces, "abc"));
    }
}
