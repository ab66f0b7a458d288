//! Unused access keys: an active key of a user not used for the zombie threshold (or never,
//! since it was made that long ago), and any active key of an account's root user.
//!
//! ## Why it is bad
//! A long-term key that is not used is a credential that can only leak: it never expires, it is
//! often copied into scripts and laptops, and its theft is invisible until it is used. A root
//! user's key can do anything, and nothing can restrict it.
//!
//! ## How to fix
//! Deactivate the key, wait to see that nothing breaks, then delete it. Move workloads to roles
//! with temporary credentials. Never keep an access key on a root user.

use super::principal::Facts;
use super::{Check, Context, Finding, FindingKind, Found, Organization, Severity};

pub(super) struct UnusedKeys;

impl Check for UnusedKeys {
    fn principal(&self, cx: &Context<'_>, f: &Facts<'_>, out: &mut Found) {
        let Some(row) = f.credentials else {
            return;
        };
        let p = &f.principal;
        let severity = if f.admin_equivalent {
            Severity::Critical
        } else if !f.held.is_empty() {
            Severity::High
        } else {
            Severity::Medium
        };
        let holding = if f.held.is_empty() {
            String::new()
        } else {
            format!(" (the user holds {} sensitive actions)", f.held.len())
        };
        for (slot, idle) in unused_keys(row, cx.zombie_threshold_ms(), cx.opts.now_millis) {
            let detail = format!("access key {slot} is active but {idle}{holding}; deactivate it");
            out.push(Finding {
                id: format!("unused-access-key:{}:{slot}", p.arn()),
                ..Finding::about(FindingKind::UnusedAccessKey, p, severity, detail)
            });
        }
    }

    /// The root user is no principal of the GAAD, but its keys are in the credential report;
    /// any active root key is critical (AWS: "do not create root user access keys").
    fn organization(&self, cx: &Context<'_>, _org: &Organization<'_>, out: &mut Found) {
        for account in cx.snapshot.accounts.values() {
            let Some(root) = account
                .credential_report
                .as_ref()
                .and_then(|r| r.rows.iter().find(|r| r.is_root()))
            else {
                continue;
            };
            for key in root.access_keys.iter().filter(|k| k.active) {
                let used = key.last_used.as_ref().map_or("never used".to_owned(), |t| {
                    format!("last used {} days ago", t.days_before(cx.opts.now_millis))
                });
                out.push(Finding {
                    id: format!("unused-access-key:{}:{}", root.arn, key.slot),
                    kind: FindingKind::UnusedAccessKey,
                    severity: Severity::Critical,
                    principal: Some(root.arn.clone()),
                    account: account.id.clone(),
                    detail: format!(
                        "the root user has an active access key {} ({used}); delete it and use roles",
                        key.slot
                    ),
                    items: Vec::new(),
                    usage_unknown: Vec::new(),
                });
            }
        }
    }
}

/// The active keys of `row` not used since `threshold` (never used and older than it, or last
/// used before it): slot and a phrase saying how idle.
fn unused_keys(
    row: &latch_model::CredentialRow,
    threshold: i64,
    now_millis: i64,
) -> impl Iterator<Item = (u8, String)> + '_ {
    row.access_keys
        .iter()
        .filter(|k| k.active)
        .filter_map(move |k| match (&k.last_used, &k.last_rotated) {
            (Some(used), _) if used.epoch_millis < threshold => Some((
                k.slot,
                format!("unused for {} days", used.days_before(now_millis)),
            )),
            (Some(_), _) => None,
            (None, Some(made)) if made.epoch_millis >= threshold => None,
            (None, made) => Some((
                k.slot,
                made.as_ref().map_or("never used".to_owned(), |m| {
                    format!(
                        "never used in the {} days since it was made",
                        m.days_before(now_millis)
                    )
                }),
            )),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::DAY_MS;
    use latch_model::{AccessKey, CredentialRow, Timestamp};

    fn at(day: i64) -> Option<Timestamp> {
        Some(Timestamp {
            epoch_millis: day * DAY_MS,
            text: format!("day {day}"),
        })
    }

    fn key(slot: u8, active: bool, made: i64, used: Option<i64>) -> AccessKey {
        AccessKey {
            slot,
            active,
            last_rotated: at(made),
            last_used: used.and_then(at),
            last_used_service: None,
        }
    }

    #[test]
    fn unused_keys_are_the_active_ones_idle_past_the_threshold() {
        let now = 1000 * DAY_MS;
        let threshold = now - 90 * DAY_MS;
        let row = |keys: Vec<AccessKey>| CredentialRow {
            user: "u".into(),
            arn: "arn:aws:iam::111122223333:user/u".into(),
            created: at(0),
            password_enabled: false,
            password_last_used: None,
            mfa_active: false,
            access_keys: keys,
        };
        let found = |keys| unused_keys(&row(keys), threshold, now).collect::<Vec<_>>();
        // Used within the window; made recently and not yet used: fine.
        assert!(found(vec![key(1, true, 100, Some(950)), key(2, true, 980, None)]).is_empty());
        // Inactive keys are not a risk, however old.
        assert!(found(vec![key(1, false, 10, None)]).is_empty());
        // Last used before the threshold, and never used since made long ago.
        assert_eq!(
            found(vec![key(1, true, 10, Some(800)), key(2, true, 500, None)]),
            vec![
                (1, "unused for 200 days".to_owned()),
                (2, "never used in the 500 days since it was made".to_owned())
            ]
        );
        // Exactly at the threshold is still within it.
        assert!(found(vec![key(1, true, 10, Some(910))]).is_empty());
    }
}
