//! How protect mode exempts an identity: by tag (users and roles), by `aws:userid` (the people
//! of an Identity Center role, which cannot be tagged) or by ARN (root users) — and the probe
//! that asks whether a layer already spares one of its calls.

use std::collections::BTreeMap;

use latch_catalog::ActionId;
use latch_model::{Principal, Snapshot};
use latch_trail::PrincipalKind as UsageKind;

use crate::intent::Probe;

/// How an identity can be exempted.
#[derive(Debug, Clone)]
pub(super) struct Who {
    pub(super) arn: String,
    pub(super) userid_base: Option<String>,
    pub(super) tags: BTreeMap<String, String>,
    pub(super) how: Mechanism,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mechanism {
    Tag,
    UserId,
    Arn,
}

pub(super) fn is_service_linked(arn: &str) -> bool {
    arn.contains(":role/aws-service-role/")
}

pub(super) fn who_for(s: &Snapshot, arn: &str, kind: UsageKind) -> Option<Who> {
    if kind == UsageKind::Root || arn.ends_with(":root") {
        let account = latch_policy::arn::account(arn)?.to_owned();
        return Some(Who {
            arn: arn.to_owned(),
            userid_base: Some(account),
            tags: BTreeMap::new(),
            how: Mechanism::Arn,
        });
    }
    let p: Principal<'_> = s.principal(arn)?;
    let ic = p.as_role().is_some_and(|r| r.is_sso_permission_set());
    Some(Who {
        arn: arn.to_owned(),
        userid_base: Some(p.id().to_owned()),
        tags: p
            .tags()
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect(),
        how: if ic {
            Mechanism::UserId
        } else {
            Mechanism::Tag
        },
    })
}

pub(super) fn userid_of(who: &Who, session: Option<&str>) -> Option<String> {
    let base = who.userid_base.as_ref()?;
    match who.how {
        Mechanism::Arn => Some(base.clone()),
        Mechanism::UserId => Some(format!("{base}:{}", session.unwrap_or("*"))),
        Mechanism::Tag => {
            if who.arn.contains(":role/") {
                Some(format!(
                    "{base}:{}",
                    session.unwrap_or("latch-simulated-session")
                ))
            } else {
                Some(base.clone())
            }
        }
    }
}

pub(super) fn probe_for(who: &Who, session: Option<&str>, action: Option<ActionId>) -> Probe {
    Probe {
        action,
        principal_arn: who.arn.clone(),
        userid: userid_of(who, session),
        tags: who.tags.clone(),
        request_tag_keys: None,
        region: None,
        resource: "*".to_owned(),
    }
}
