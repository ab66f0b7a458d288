//! ARNs: splitting, and wildcard matching segment by segment.
//!
//! "IAM JSON policy elements: Resource" and the `ArnLike` operator: an ARN is
//! `arn:partition:service:region:account-id:resource`; each of the six colon-delimited parts is
//! matched separately (a wildcard does not cross a colon in the first five), case-sensitively;
//! the resource part keeps any further colons. Partitions `aws`, `aws-cn` and `aws-us-gov` are
//! ordinary values of the second part.

use crate::glob::{self, Piece};

/// The six parts of an ARN: `arn`, partition, service, region, account, resource.
pub fn split(text: &str) -> Option<[&str; 6]> {
    let mut it = text.splitn(6, ':');
    let parts = [
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ];
    (parts[0] == "arn").then_some(parts)
}

/// The account id of an ARN, when it has one.
pub fn account(text: &str) -> Option<&str> {
    split(text).map(|p| p[4]).filter(|a| !a.is_empty())
}

/// A pattern compiled for ARN matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnPattern {
    whole: Vec<Piece>,
    segments: Option<Vec<Vec<Piece>>>,
    /// Set for a `Resource` pattern AWS would not accept; it matches nothing.
    malformed: Option<String>,
}

impl ArnPattern {
    /// Compiles resolved pieces of an ARN condition value (`ArnLike` and friends): six
    /// segments compared one by one; any other shape is compared as a whole string.
    pub fn new(whole: Vec<Piece>) -> ArnPattern {
        let segments = split_pieces(&whole);
        let segments = segments.filter(|s| s.len() == 6 && starts_with_arn(s));
        ArnPattern {
            whole,
            segments,
            malformed: None,
        }
    }

    /// Compiles resolved pieces of a `Resource` / `NotResource` pattern, following "IAM JSON
    /// policy elements: Resource" (using wildcards in resource ARNs): `*` alone matches every
    /// resource; otherwise the pattern is an ARN, `arn:partition:service:region:account:resource`,
    /// with `*` and `?` inside segments; a `*` that ends a segment may run on past the colons
    /// after it, which is what lets a pattern with fewer segments (`arn:aws:sns:*`) cover every
    /// ARN that begins like it; the service segment cannot hold a wildcard. Anything else —
    /// not beginning with `arn:` (`not-an-arn`), an empty partition or service (`arn:::::`), a
    /// wildcard in the service (`arn:aws:s3*`), or fewer than six segments without a final `*`
    /// (`arn:aws:s3`) — is malformed: it matches nothing, and the statement reports it
    /// ([`ArnPattern::malformed`]).
    pub fn resource(whole: Vec<Piece>) -> ArnPattern {
        if whole == [Piece::Star] {
            return ArnPattern {
                whole,
                segments: None,
                malformed: None,
            };
        }
        let segments = split_pieces(&whole);
        let malformed = match &segments {
            None => Some("it does not begin with `arn:`".to_owned()),
            Some(s) if !starts_with_arn(s) => Some("it does not begin with `arn:`".to_owned()),
            Some(s) if s.len() < 3 => Some("it names no service".to_owned()),
            Some(s) => {
                let partition = s.get(1).map_or(&[][..], Vec::as_slice);
                let service = s.get(2).map_or(&[][..], Vec::as_slice);
                let last_open = s.last().and_then(|l| l.last()) == Some(&Piece::Star);
                if partition.is_empty() {
                    Some("its partition is empty".to_owned())
                } else if service.is_empty() {
                    Some("its service is empty".to_owned())
                } else if !glob::is_literal(service) {
                    Some("its service holds a wildcard, which AWS does not allow".to_owned())
                } else if s.len() < 6 && !last_open {
                    Some(format!(
                        "it has {} of the 6 ARN segments and does not end with `*`",
                        s.len()
                    ))
                } else {
                    None
                }
            }
        };
        ArnPattern {
            whole,
            segments: if malformed.is_none() { segments } else { None },
            malformed,
        }
    }

    /// True for the pattern `*`.
    pub fn is_any(&self) -> bool {
        self.whole == [Piece::Star]
    }

    /// Why AWS would not accept this `Resource` pattern, when it would not.
    pub fn malformed(&self) -> Option<&str> {
        self.malformed.as_deref()
    }

    /// Matches a resource (an ARN, or any other text such as `*`). A malformed pattern
    /// matches nothing.
    pub fn matches(&self, text: &str) -> bool {
        if self.is_any() {
            return true;
        }
        if self.malformed.is_some() {
            return false;
        }
        let Some(segs) = &self.segments else {
            return glob::matches(&self.whole, text);
        };
        if segs.len() == 6 {
            return match split(text) {
                Some(parts) => segs
                    .iter()
                    .zip(parts.iter())
                    .all(|(seg, part)| glob::matches(seg, part)),
                None => glob::matches(&self.whole, text),
            };
        }
        // Fewer segments, the last ending with `*`: the segments before it one by one, the
        // last against the rest of the ARN, colons included.
        if split(text).is_none() {
            return false;
        }
        let mut parts = text.splitn(segs.len(), ':');
        segs.iter()
            .all(|seg| parts.next().is_some_and(|part| glob::matches(seg, part)))
    }
}

fn starts_with_arn(segs: &[Vec<Piece>]) -> bool {
    matches!(segs.first().map(Vec::as_slice), Some([Piece::Lit(a)]) if a == "arn")
}

/// Splits pieces at the first five literal colons (the sixth segment keeps later colons).
fn split_pieces(pieces: &[Piece]) -> Option<Vec<Vec<Piece>>> {
    let mut segs: Vec<Vec<Piece>> = vec![Vec::new()];
    for piece in pieces {
        match piece {
            Piece::Lit(s) => {
                let mut rest = s.as_str();
                while segs.len() < 6 {
                    match rest.split_once(':') {
                        Some((head, tail)) => {
                            if let Some(last) = segs.last_mut() {
                                glob::push_lit(last, head);
                            }
                            segs.push(Vec::new());
                            rest = tail;
                        }
                        None => break,
                    }
                }
                if let Some(last) = segs.last_mut() {
                    glob::push_lit(last, rest);
                }
            }
            other => {
                if let Some(last) = segs.last_mut() {
                    last.push(other.clone());
                }
            }
        }
    }
    Some(segs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        ArnPattern::new(glob::pieces_of(pattern)).matches(text)
    }

    #[test]
    fn segment_wise() {
        assert!(m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c"));
        assert!(!m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket2/a"));
        // A wildcard in the region part does not swallow the account part.
        assert!(m(
            "arn:aws:ec2:*:111122223333:instance/*",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-1"
        ));
        assert!(!m(
            "arn:aws:ec2:*:111122223333:instance/*",
            "arn:aws:ec2:us-east-1:444455556666:instance/i-1"
        ));
        assert!(m(
            "arn:aws:iam::*:role/*",
            "arn:aws:iam::111122223333:role/a/b"
        ));
        // Case-sensitive.
        assert!(!m("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/x"));
        // Partitions are plain values.
        assert!(m("arn:*:s3:::b", "arn:aws-cn:s3:::b"));
        assert!(!m("arn:aws:s3:::b", "arn:aws-us-gov:s3:::b"));
        assert!(m("*", "*"));
        assert!(!m("arn:aws:s3:::*", "*"));
    }

    fn r(pattern: &str, text: &str) -> bool {
        ArnPattern::resource(glob::pieces_of(pattern)).matches(text)
    }

    fn bad(pattern: &str) -> bool {
        ArnPattern::resource(glob::pieces_of(pattern))
            .malformed()
            .is_some()
    }

    #[test]
    fn resource_patterns_follow_the_aws_rule() {
        // Six segments, as for conditions.
        assert!(r("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c"));
        assert!(!r("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket2/a"));
        assert!(r("*", "anything"));
        // A final `*` runs on over the colons after it.
        assert!(r(
            "arn:aws:sns:*",
            "arn:aws:sns:us-east-1:111122223333:topic"
        ));
        assert!(r("arn:aws:iam::*", "arn:aws:iam::111122223333:role/a"));
        assert!(!r("arn:aws:sns:*", "arn:aws:sqs:us-east-1:111122223333:q"));
        assert!(r(
            "arn:aws:ec2:us-*",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-1"
        ));
        assert!(!r(
            "arn:aws:ec2:us-*",
            "arn:aws:ec2:eu-west-1:111122223333:instance/i-1"
        ));
        assert!(!r("arn:aws:sns:*", "*"));
        // Malformed: never matches.
        for p in [
            "arn:aws:s3*",
            "arn:aws:s3",
            "arn:::::",
            "not-an-arn",
            "arn:*",
            "*/x",
            "arn:aws:*:::b",
            "arn::s3:::b",
            "arn:aws",
        ] {
            assert!(bad(p), "{p}");
        }
        assert!(!r("arn:aws:s3*", "arn:aws:s3:::prod-data"));
        assert!(!r("arn:aws:s3", "arn:aws:s3"));
        assert!(!r("not-an-arn", "not-an-arn"));
        for p in [
            "*",
            "arn:aws:s3:::b",
            "arn:*:s3:::b",
            "arn:aws:sns:*",
            "arn:aws:s3:::",
        ] {
            assert!(!bad(p), "{p}");
        }
    }

    #[test]
    fn split_parts() {
        assert_eq!(
            account("arn:aws:iam::111122223333:user/a"),
            Some("111122223333")
        );
        assert_eq!(account("arn:aws:s3:::bucket"), None);
        assert!(split("not-an-arn").is_none());
    }
}
