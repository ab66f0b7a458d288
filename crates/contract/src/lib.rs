//! The names Latch owns in an AWS organization, written once: the planner writes them into
//! the plan, the AWS adapter finds and changes what carries them, the control plane's grants
//! put them on identities. A name that two crates spelled separately could drift apart and
//! leave a grant that the firewall does not honour, or a policy Latch no longer recognises
//! as its own; here there is one spelling.
//!
//! No dependencies, no IO.

/// Prefix of every policy Latch creates (SCPs, RCPs, the inline `latch-session-cutoff`) and of
/// the plan's policy files.
pub const POLICY_NAME_PREFIX: &str = "latch-";

/// Tag key marking an Organizations policy as created by Latch; Latch never changes a
/// `latch-` policy without it.
pub const MANAGED_TAG_KEY: &str = "latch:managed";
/// The value of [`MANAGED_TAG_KEY`].
pub const MANAGED_TAG_VALUE: &str = "true";

/// Prefix of every tag key Latch owns on users, roles and sessions; the tamper layer denies
/// everyone else writing them.
pub const TAG_PREFIX: &str = "latch:";
/// Prefix of the grant tags: `latch:grant:<bundle>` on an identity lifts that bundle's denial.
pub const GRANT_TAG_PREFIX: &str = "latch:grant:";
/// The value the firewall plan gives a standing exemption's grant tag (the control plane's
/// grants never write or remove it).
pub const STANDING_GRANT_VALUE: &str = "standing";
/// Prefix of the tags recording an Identity Center person's grant on the role they reach.
pub const IC_GRANT_TAG_PREFIX: &str = "latch:icgrant:";
/// Prefix of the unlock tags (`latch:unlock:services`).
pub const UNLOCK_TAG_PREFIX: &str = "latch:unlock:";
/// Lifts the service layer's quarantine for one identity.
pub const UNLOCK_SERVICES_TAG: &str = "latch:unlock:services";
/// Puts an identity in the role layer's quarantine.
pub const QUARANTINE_TAG: &str = "latch:quarantine";
/// Prefix of the keep tags: `latch:keep:<hash>` names the standing exemptions of one scope
/// when they are too many to name in the policy.
pub const KEEP_TAG_PREFIX: &str = "latch:keep:";

/// The name of the inline policy that cuts off sessions issued before a revocation.
pub const SESSION_CUTOFF_POLICY: &str = "latch-session-cutoff";

/// The organization's event bus the denial pipeline forwards denials to
/// (`deploy/cloudformation/denial-central.yaml`, `deploy/terraform/denials.tf`); the
/// control-plane role may put `latch doctor`'s probe on it and on no other bus.
pub const DENIAL_BUS_NAME: &str = "latch-denials";

/// The `source` of `latch doctor`'s probe on the denial bus (AWS reserves `aws.*`).
pub const PIPELINE_PROBE_SOURCE: &str = "latch.doctor";
/// The `eventSource` of the CloudTrail-shaped record the probe carries: `latch serve` records
/// such a record's arrival (`pipeline.probe`) and offers nothing for it.
pub const PIPELINE_PROBE_EVENT_SOURCE: &str = "doctor.latch.dev";
/// The `eventName` of that record.
pub const PIPELINE_PROBE_EVENT_NAME: &str = "PipelineProbe";

/// Prefix of the statement ids of the permission layer's denials: the control plane's
/// Identity Center grants edit only statements whose Sid starts with it.
pub const PERMISSION_SID_PREFIX: &str = "LatchPermission";
/// Prefix of the tamper layer's statement ids.
pub const TAMPER_SID_PREFIX: &str = "LatchTamper";
/// Prefix of the role layer's (quarantine) statement ids.
pub const ROLE_SID_PREFIX: &str = "LatchQuarantine";
/// Prefix of the region layer's statement ids.
pub const REGION_SID_PREFIX: &str = "LatchRegion";
/// Prefix of the service layer's statement ids.
pub const SERVICE_SID_PREFIX: &str = "LatchService";

/// The root id a plan names when its snapshot held no `organization.json`: the plan was made
/// for the accounts directly under a root, and `latch apply` binds it to the root of the
/// organization its credentials reach (once every account the plan names is found there).
pub const UNKNOWN_ROOT: &str = "r-unknown";

/// The grant tag key of a bundle: `latch:grant:<bundle>`.
#[must_use]
pub fn grant_tag_key(bundle: &str) -> String {
    format!("{GRANT_TAG_PREFIX}{bundle}")
}

/// The bundle a grant tag key names, if it is one.
#[must_use]
pub fn grant_tag_bundle(key: &str) -> Option<&str> {
    key.strip_prefix(GRANT_TAG_PREFIX).filter(|b| !b.is_empty())
}

/// The value of a grant tag the control plane writes: `<grant id> expires=<RFC 3339>` (only
/// characters IAM allows in tag values). `expires` is already formatted.
#[must_use]
pub fn grant_tag_value(grant_id: &str, expires_rfc3339: &str) -> String {
    format!("{grant_id}{GRANT_VALUE_EXPIRES}{expires_rfc3339}")
}

/// The grant id and the expiry text of a grant tag value; `None` when the value is not in the
/// form [`grant_tag_value`] writes (a standing exemption's, or a tag someone else wrote).
#[must_use]
pub fn split_grant_tag_value(value: &str) -> Option<(&str, &str)> {
    value
        .split_once(GRANT_VALUE_EXPIRES)
        .filter(|(id, at)| !id.is_empty() && !at.is_empty())
}

const GRANT_VALUE_EXPIRES: &str = " expires=";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_tags_round_trip() {
        assert_eq!(grant_tag_key("iam-admin"), "latch:grant:iam-admin");
        assert_eq!(grant_tag_bundle("latch:grant:iam-admin"), Some("iam-admin"));
        assert_eq!(grant_tag_bundle("latch:grant:"), None);
        assert_eq!(grant_tag_bundle("latch:icgrant:x"), None);
        let v = grant_tag_value("g-abc", "2026-12-07T10:00:00Z");
        assert_eq!(v, "g-abc expires=2026-12-07T10:00:00Z");
        assert_eq!(
            split_grant_tag_value(&v),
            Some(("g-abc", "2026-12-07T10:00:00Z"))
        );
        assert_eq!(split_grant_tag_value(STANDING_GRANT_VALUE), None);
        assert_eq!(split_grant_tag_value(" expires=x"), None);
    }

    #[test]
    fn every_owned_tag_is_under_the_prefix() {
        for key in [
            MANAGED_TAG_KEY,
            GRANT_TAG_PREFIX,
            IC_GRANT_TAG_PREFIX,
            UNLOCK_TAG_PREFIX,
            UNLOCK_SERVICES_TAG,
            QUARANTINE_TAG,
            KEEP_TAG_PREFIX,
        ] {
            assert!(key.starts_with(TAG_PREFIX), "{key}");
        }
        assert!(UNLOCK_SERVICES_TAG.starts_with(UNLOCK_TAG_PREFIX));
        assert!(SESSION_CUTOFF_POLICY.starts_with(POLICY_NAME_PREFIX));
    }
}
