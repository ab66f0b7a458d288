//! IAM action wildcards: `*` matches any run of characters (also none), `?`
//! matches exactly one character, and letters compare without regard to case,
//! as IAM compares action names.

/// Whether `pattern` contains a wildcard character.
pub(crate) fn has_wildcard(pattern: &str) -> bool {
    pattern.bytes().any(|b| b == b'*' || b == b'?')
}

/// Matches `text` against `pattern`. Both must already be ASCII-lowercased
/// (the catalog keeps lowercased names; callers lowercase the pattern once).
///
/// Linear-time greedy matching with one backtrack point: on a mismatch after a
/// `*`, the star absorbs one more character and matching resumes. That is
/// enough for `*`-globs because a later star can always absorb what an earlier
/// one would have.
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // (index of the last `*` in pattern, text index it is matched up to)
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = text.get(t) {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&q) if q == b'?' || q == c => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    while pattern.get(p) == Some(&b'*') {
        p += 1;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        glob_match(p.as_bytes(), t.as_bytes())
    }

    #[test]
    fn literal_and_wildcards() {
        assert!(m("iam:passrole", "iam:passrole"));
        assert!(!m("iam:passrole", "iam:passroles"));
        assert!(!m("iam:passroles", "iam:passrole"));
        assert!(m("iam:put*", "iam:putrolepolicy"));
        assert!(m("iam:put*", "iam:put"));
        assert!(!m("iam:put*", "iam:getrole"));
        assert!(m("*:get*", "s3:getobject"));
        assert!(!m("*:get*", "s3:listgetter"));
        assert!(m("*", "anything:atall"));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("s?:getobject", "s3:getobject"));
        assert!(!m("s?:getobject", "s:getobject"));
        assert!(m("*policy", "iam:putrolepolicy"));
        assert!(m("iam:*role*policy", "iam:putrolepolicy"));
        assert!(!m("iam:*role*policy", "iam:putrolepolicyx"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(m("a*a*a", "aaa"));
        assert!(!m("a*a*a", "aa"));
        assert!(m("**", ""));
        assert!(m("?*", "x"));
        assert!(!m("?*", ""));
    }

    #[test]
    fn wildcard_detection() {
        assert!(has_wildcard("iam:*"));
        assert!(has_wildcard("iam:Get?"));
        assert!(!has_wildcard("iam:GetRole"));
    }

    /// A reference matcher written the obvious, exponential way.
    fn reference(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => {
                (0..=t.len()).any(|i| t.get(i..).is_some_and(|s| reference(rest, s)))
            }
            Some((&c, rest)) => match t.split_first() {
                Some((&d, trest)) => (c == b'?' || c == d) && reference(rest, trest),
                None => false,
            },
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_reference(p in "[ab*?]{0,8}", t in "[ab]{0,10}") {
            proptest::prop_assert_eq!(glob_match(p.as_bytes(), t.as_bytes()), reference(p.as_bytes(), t.as_bytes()));
        }
    }
}
