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
}

impl ArnPattern {
    /// Compiles resolved pieces.
    pub fn new(whole: Vec<Piece>) -> ArnPattern {
        let segments = split_pieces(&whole);
        ArnPattern { whole, segments }
    }

    /// True for the pattern `*`.
    pub fn is_any(&self) -> bool {
        self.whole == [Piece::Star]
    }

    /// Matches a resource (an ARN, or any other text such as `*`).
    pub fn matches(&self, text: &str) -> bool {
        if self.is_any() {
            return true;
        }
        match (&self.segments, split(text)) {
            (Some(segs), Some(parts)) => segs
                .iter()
                .zip(parts.iter())
                .all(|(seg, part)| glob::matches(seg, part)),
            _ => glob::matches(&self.whole, text),
        }
    }
}

/// Splits pieces at the first five literal colons; `None` unless the pattern has six parts
/// beginning with a literal `arn`.
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
    let starts_arn = matches!(segs.first().map(Vec::as_slice), Some([Piece::Lit(a)]) if a == "arn");
    (segs.len() == 6 && starts_arn).then_some(segs)
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
