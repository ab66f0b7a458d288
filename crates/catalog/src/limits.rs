//! AWS Organizations' quotas on service control policies (SCPs) and resource control policies
//! (RCPs), the rate at which it accepts the calls that write them, and IAM's quota of tags per
//! identity: the one place Latch writes them down.
//!
//! The planner packs within them, `plan.json` records the ones a plan was packed for, the AWS
//! adapter checks every document (and every edit of one) against them, and the organization
//! file reader refuses what AWS would never have stored. A configuration may lower them (an
//! organization or a partition that has not caught up), never raise them: [`Limits::check`].
//!
//! The AWS adapter paces its policy writes to [`RequestRate::ORGANIZATIONS_POLICY_WRITES`]
//! and tells people, before a long run, the least time that rate allows
//! ([`RequestRate::min_duration_ms`]).
//!
//! **Architecture invariant:** no other crate spells these numbers; quotas change, so re-check
//! [`Limits::AWS`] and [`RequestRate::ORGANIZATIONS_POLICY_WRITES`] against the page they cite.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Tags one IAM user or role may carry (IAM API Reference, `TagRole` / `TagUser`: a list of
/// at most 50 tags; a request that would exceed it fails as a whole). Latch's exemption and
/// quarantine tags count toward it with the organization's own.
pub const IAM_TAGS_PER_IDENTITY: usize = 50;

/// The two kinds of organization policy Latch writes: the one type the planner, the plan
/// format, the AWS adapter and its records name them by. In JSON (`plan.json`,
/// `applied.json`) it is the Organizations API's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PolicyType {
    /// A service control policy (governs the principals of member accounts).
    #[serde(rename = "SERVICE_CONTROL_POLICY")]
    Scp,
    /// A resource control policy (governs the resources of member accounts).
    #[serde(rename = "RESOURCE_CONTROL_POLICY")]
    Rcp,
}

impl PolicyType {
    /// Both, SCPs first.
    pub const ALL: [PolicyType; 2] = [PolicyType::Scp, PolicyType::Rcp];

    /// `SCP` or `RCP`.
    pub fn short(self) -> &'static str {
        match self {
            PolicyType::Scp => "SCP",
            PolicyType::Rcp => "RCP",
        }
    }

    /// `scp` or `rcp` (in generated policy names).
    pub fn lower(self) -> &'static str {
        match self {
            PolicyType::Scp => "scp",
            PolicyType::Rcp => "rcp",
        }
    }

    /// The Organizations API's name: `SERVICE_CONTROL_POLICY` or `RESOURCE_CONTROL_POLICY`.
    pub fn api_name(self) -> &'static str {
        match self {
            PolicyType::Scp => "SERVICE_CONTROL_POLICY",
            PolicyType::Rcp => "RESOURCE_CONTROL_POLICY",
        }
    }
}

impl fmt::Display for PolicyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

/// How large an SCP or RCP may be, and how many of each may be attached to one root, OU or
/// account. Sizes are in characters of the document as sent (whitespace counts: documents are
/// minified). The per-target counts include AWS's own policies attached there: `FullAWSAccess`
/// for SCPs, `RCPFullAWSAccess` (attached everywhere implicitly) for RCPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Characters of one SCP document.
    pub scp_chars: usize,
    /// SCPs attached to one root, OU or account.
    pub scp_per_target: usize,
    /// Characters of one RCP document.
    pub rcp_chars: usize,
    /// RCPs attached to one root, OU or account.
    pub rcp_per_target: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::AWS
    }
}

/// A limit that is not a quota Latch may work to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Zero: nothing would fit.
    #[error("must be at least 1")]
    Zero {
        /// The field (`scp_chars`, …).
        key: &'static str,
    },
    /// Above what AWS allows: AWS would refuse what Latch plans.
    #[error("{value} is above AWS's quota of {aws}: a limit can be lowered, never raised")]
    AboveAws {
        /// The field (`scp_chars`, …).
        key: &'static str,
        /// The value given.
        value: usize,
        /// AWS's quota ([`Limits::AWS`]).
        aws: usize,
    },
}

impl LimitError {
    /// The field at fault (`scp_chars`, `scp_per_target`, `rcp_chars`, `rcp_per_target`).
    pub fn key(&self) -> &'static str {
        match self {
            LimitError::Zero { key } | LimitError::AboveAws { key, .. } => key,
        }
    }
}

impl Limits {
    /// AWS's quotas, from the AWS Organizations User Guide, "Quotas and service limits"
    /// (<https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html>),
    /// as changed in May 2026: an SCP may hold 10,240 characters (was 5,120) and 10 SCPs may be
    /// attached to one root, OU or account (was 5; `FullAWSAccess` counts); an RCP holds 5,120
    /// characters and 5 RCPs may be attached to one target (`RCPFullAWSAccess` counts).
    pub const AWS: Limits = Limits {
        scp_chars: 10_240,
        scp_per_target: 10,
        rcp_chars: 5_120,
        rcp_per_target: 5,
    };

    /// Characters one document of this type may hold.
    pub fn chars(&self, kind: PolicyType) -> usize {
        match kind {
            PolicyType::Scp => self.scp_chars,
            PolicyType::Rcp => self.rcp_chars,
        }
    }

    /// Policies of this type one root, OU or account may hold (AWS's own included).
    pub fn per_target(&self, kind: PolicyType) -> usize {
        match kind {
            PolicyType::Scp => self.scp_per_target,
            PolicyType::Rcp => self.rcp_per_target,
        }
    }

    /// The fields with their names and AWS's value, in the order they are documented.
    pub fn fields(&self) -> [(&'static str, usize, usize); 4] {
        let aws = Limits::AWS;
        [
            ("scp_chars", self.scp_chars, aws.scp_chars),
            ("scp_per_target", self.scp_per_target, aws.scp_per_target),
            ("rcp_chars", self.rcp_chars, aws.rcp_chars),
            ("rcp_per_target", self.rcp_per_target, aws.rcp_per_target),
        ]
    }

    /// Whether every limit is at least 1 and at most AWS's.
    ///
    /// # Errors
    /// The first field that is zero or above [`Limits::AWS`].
    pub fn check(&self) -> Result<(), LimitError> {
        for (key, value, aws) in self.fields() {
            if value == 0 {
                return Err(LimitError::Zero { key });
            }
            if value > aws {
                return Err(LimitError::AboveAws { key, value, aws });
            }
        }
        Ok(())
    }
}

/// How fast AWS accepts a family of API calls from one account: a token bucket that holds at
/// most `burst` requests and refills at `per_second` requests a second. Calls beyond it are
/// refused (`TooManyRequestsException`) and must be retried later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRate {
    /// Requests a second, sustained.
    pub per_second: u32,
    /// Requests that may be sent at once after a quiet spell.
    pub burst: u32,
}

impl RequestRate {
    /// AWS Organizations' throttle on the calls that write policies and their attachments —
    /// `CreatePolicy`, `UpdatePolicy`, `AttachPolicy`, `DetachPolicy` and `DeletePolicy`: 2
    /// requests a second with a burst of 3, per account. From the AWS Organizations User
    /// Guide, "Quotas and service limits", throttling
    /// (<https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html>).
    pub const ORGANIZATIONS_POLICY_WRITES: RequestRate = RequestRate {
        per_second: 2,
        burst: 3,
    };

    /// The least time, in milliseconds, that `requests` calls take at this rate when the
    /// bucket starts full: the first `burst` go at once, each further one waits its turn.
    /// A rate of 0 requests a second never refills: `u64::MAX` once the burst is spent.
    pub fn min_duration_ms(&self, requests: usize) -> u64 {
        let beyond = u64::try_from(requests)
            .unwrap_or(u64::MAX)
            .saturating_sub(u64::from(self.burst));
        if beyond == 0 {
            return 0;
        }
        if self.per_second == 0 {
            return u64::MAX;
        }
        beyond
            .saturating_mul(1000)
            .div_ceil(u64::from(self.per_second))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn aws_quotas_are_the_may_2026_ones() {
        let aws = Limits::AWS;
        assert_eq!(aws.chars(PolicyType::Scp), 10_240);
        assert_eq!(aws.per_target(PolicyType::Scp), 10);
        assert_eq!(aws.chars(PolicyType::Rcp), 5_120);
        assert_eq!(aws.per_target(PolicyType::Rcp), 5);
        assert_eq!(Limits::default(), aws);
        aws.check().unwrap();
    }

    #[test]
    fn limits_can_be_lowered_never_raised_or_zeroed() {
        let lagging = Limits {
            scp_chars: 5_120,
            scp_per_target: 5,
            ..Limits::AWS
        };
        lagging.check().unwrap();
        let raised = Limits {
            rcp_per_target: 6,
            ..Limits::AWS
        };
        let e = raised.check().unwrap_err();
        assert_eq!(e.key(), "rcp_per_target");
        assert_eq!(
            e.to_string(),
            "6 is above AWS's quota of 5: a limit can be lowered, never raised"
        );
        let zero = Limits {
            scp_chars: 0,
            ..Limits::AWS
        };
        assert_eq!(
            zero.check().unwrap_err(),
            LimitError::Zero { key: "scp_chars" }
        );
    }

    #[test]
    fn the_recorded_form_names_every_field() {
        let json = serde_json::to_string(&Limits::AWS).unwrap();
        assert_eq!(
            json,
            r#"{"scp_chars":10240,"scp_per_target":10,"rcp_chars":5120,"rcp_per_target":5}"#
        );
        assert!(serde_json::from_str::<Limits>(r#"{"scp_chars":1}"#).is_err());
    }

    #[test]
    fn organizations_policy_writes_are_two_a_second_with_a_burst_of_three() {
        let rate = RequestRate::ORGANIZATIONS_POLICY_WRITES;
        assert_eq!((rate.per_second, rate.burst), (2, 3));
        assert_eq!(rate.min_duration_ms(0), 0);
        assert_eq!(rate.min_duration_ms(3), 0);
        assert_eq!(rate.min_duration_ms(4), 500);
        assert_eq!(rate.min_duration_ms(5), 1000);
        // 200 detaches: 3 at once, 197 more at 2 a second.
        assert_eq!(rate.min_duration_ms(200), 98_500);
        let odd = RequestRate {
            per_second: 3,
            burst: 1,
        };
        assert_eq!(odd.min_duration_ms(2), 334);
        let never = RequestRate {
            per_second: 0,
            burst: 2,
        };
        assert_eq!(never.min_duration_ms(2), 0);
        assert_eq!(never.min_duration_ms(3), u64::MAX);
    }
}
