//! Zombie quarantine: identities in scope with no activity for `zombies.threshold_days` —
//! idleness resting on IAM's own last-used record, or on CloudTrail only where its trails
//! record every action the identity may call — get the `latch:quarantine` tag, and a rule at
//! each target denies everything to identities that carry it. Identity Center roles cannot be
//! tagged: they are listed instead.

use std::collections::BTreeSet;

use latch_analysis::{idle_evidence, IdleEvidence};
use latch_catalog::PolicyType;
use latch_contract::QUARANTINE_TAG;
use latch_policy::glob;
use latch_trail::Timestamp;

use super::{allowed_actions, Ctx, Out, TagAssignment};
use crate::intent::{Actions, Cond, LayerKind, Rule};

/// Tags the zombies (with usage, when the layer is on); warns about the identities whose
/// idleness cannot be told.
pub(super) fn tag(cx: &Ctx<'_>, out: &mut Out) {
    let cfg = cx.cfg;
    let (true, Some(u)) = (cfg.zombies.enabled, cx.usage) else {
        return;
    };
    let w = u.window;
    let cutoff = Timestamp(w.until.0 - i64::from(cfg.zombies.threshold_days) * 86_400);
    for p in cx.snapshot.principals() {
        if !cx.scope.accounts.contains(p.account_id())
            || cx.scope.no_data.contains(p.account_id())
            || p.is_service_linked()
        {
            continue;
        }
        if cx
            .gates
            .base_arns
            .iter()
            .any(|a| glob::matches_str(a, p.arn()))
        {
            continue;
        }
        let trail_last = u
            .table
            .principals
            .get(p.arn())
            .and_then(|x| x.last_activity);
        let role_last = p
            .as_role()
            .and_then(|r| r.last_used.as_ref())
            .and_then(|l| l.date.as_ref())
            .map(|t| Timestamp(t.epoch_millis.div_euclid(1000)));
        let created = p
            .create_date()
            .map(|t| Timestamp(t.epoch_millis.div_euclid(1000)));
        let credentials = p.as_user().and_then(|_| {
            cx.snapshot
                .account(p.account_id())
                .and_then(|a| a.credential_report.as_ref())
                .and_then(|r| r.row(p.arn()))
        });
        let credential_last = credentials
            .and_then(latch_model::CredentialRow::last_used)
            .map(|ms| Timestamp(ms.div_euclid(1000)));
        let active = |t: Option<Timestamp>| t.is_some_and(|t| t >= cutoff);
        if active(trail_last) || active(role_last) || active(created) || active(credential_last) {
            continue;
        }
        // The same rule as `latch scan` (`latch_analysis::usage::IdleEvidence`): idleness
        // rests on IAM's own last-used record, or on CloudTrail only when its trails
        // record every action the identity may call.
        let iam_record = match p.as_role() {
            Some(r) => r.last_used.is_some(),
            None => credentials.is_some(),
        };
        let evidence = if iam_record {
            IdleEvidence::IamRecord
        } else {
            idle_evidence(
                false,
                true,
                &allowed_actions(&p),
                cx.observability.unknown_in(p.account_id()),
                cx.observability.never_recorded(),
            )
        };
        if let IdleEvidence::Unknown(hidden) = &evidence {
            let why = cx.observability.explain(p.account_id(), hidden);
            let names: Vec<&str> = why.iter().take(3).map(|u| u.name.as_str()).collect();
            out.warnings.push(format!(
                "`{}` shows no activity, but it may call actions whose use the trails cannot show ({}: {}{}) and has no IAM last-used record: not quarantined as a zombie",
                p.arn(),
                why.first().map_or("usage unknown", |u| u.says),
                names.join(", "),
                if why.len() > names.len() { ", ..." } else { "" }
            ));
        }
        if !evidence.supports_verdict() {
            continue;
        }
        let why = format!(
            "zombie: no activity in the {} days before {} (CloudTrail: {}; RoleLastUsed: {})",
            cfg.zombies.threshold_days,
            w.as_of,
            trail_last.map_or_else(|| "none in the window".to_owned(), |t| t.to_string()),
            role_last.map_or_else(|| "none".to_owned(), |t| t.to_string()),
        );
        if p.as_role().is_some_and(|r| r.is_sso_permission_set()) {
            out.untaggable_zombies.push(format!(
                "{} — {why}; Identity Center roles cannot be tagged: remove the permission set's assignment instead",
                p.arn()
            ));
            continue;
        }
        out.tags.insert(
            (p.arn().to_owned(), QUARANTINE_TAG.to_owned()),
            TagAssignment {
                principal_arn: p.arn().to_owned(),
                key: QUARANTINE_TAG.to_owned(),
                value: "zombie".to_owned(),
                reason: why,
            },
        );
    }
}

/// The quarantine rule at one target, when the layer is on: everything denied to identities
/// tagged `latch:quarantine`, but the control plane and break-glass identities.
pub(super) fn rule_at(cx: &Ctx<'_>, target: &str, rules: &mut Vec<Rule>) {
    if !cx.cfg.zombies.enabled {
        return;
    }
    let bg_cp: Vec<String> = {
        let mut v = vec![cx.cfg.control_plane.role_arn.clone()];
        v.extend(cx.cfg.control_plane.break_glass.iter().cloned());
        v.sort();
        v.dedup();
        v
    };
    rules.push(Rule {
        layer: LayerKind::Role,
        kind: PolicyType::Scp,
        target: target.to_owned(),
        actions: Actions::AllExcept(BTreeSet::new()),
        resources: vec!["*".to_owned()],
        not_resource: false,
        cond: Cond {
            present_tag: Some(QUARANTINE_TAG.to_owned()),
            arn_not_like: bg_cp,
            ..Cond::default()
        },
        label: "quarantine of identities tagged latch:quarantine".to_owned(),
    });
}
