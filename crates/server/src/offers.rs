//! Denial-triggered offers: when the usage feed shows a principal denied on an action a bundle
//! holds, the person mapped to that principal gets a direct message (Slack, Teams) with one
//! button that files the request for the bundle.
//!
//! The feed is `POST /api/v1/events` (admin token): CloudTrail records as an EventBridge API
//! destination forwards them (`{"detail": {…record…}}`), bare records, arrays of either, or a
//! log file's `{"Records": […]}`. Records are classified by `latch-trail` (the one table from
//! `eventSource`/`eventName`/`errorCode` to IAM actions and denials, and who the caller was:
//! the role, not the session; the person behind an Identity Center role). The bundle offered
//! is the smallest one holding the action among those the server can grant (`[offers]` names
//! the firewall configuration that says which actions each bundle holds). One offer per person
//! and bundle per `[offers] every`, across servers (the store's nonce table).

use std::collections::{BTreeMap, BTreeSet};

use latch_grant::IdentityKind;
use latch_trail::PrincipalKind;
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::format_duration;
use crate::config::Config;
use latch_grant::Rules;

/// The Slack `action_id` of the offer's button.
pub const OFFER_ACTION: &str = "latch_offer_request";

/// A principal denied on an action.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Denial {
    /// The role or user (for a role session, the role).
    pub principal: String,
    /// The person behind an Identity Center role or a federated user (session name).
    pub session: Option<String>,
    /// `service:Action`.
    pub action: String,
}

/// An offer to make.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Offer {
    /// The person (`[identities]` name).
    pub person: String,
    /// The bundle offered.
    pub bundle: String,
    /// The action that was denied.
    pub action: String,
    /// Who was denied.
    pub principal: String,
    /// The account of the Identity Center role denied: the one-click request names it.
    pub account: Option<String>,
}

/// A denial that leads to no offer, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Skipped {
    /// Who was denied.
    pub principal: String,
    /// The action.
    pub action: String,
    /// Why no offer.
    pub why: String,
}

/// The records in a feed body.
///
/// # Errors
/// A body that is none of the accepted shapes.
pub fn records_of(body: &Value) -> Result<Vec<Value>, String> {
    fn one(v: &Value, out: &mut Vec<Value>) -> Result<(), String> {
        match v {
            Value::Object(m) if m.contains_key("Records") => match m.get("Records") {
                Some(Value::Array(list)) => {
                    for r in list {
                        one(r, out)?;
                    }
                    Ok(())
                }
                _ => Err("`Records` must be an array".to_owned()),
            },
            Value::Object(m) if m.contains_key("detail") => match m.get("detail") {
                Some(d @ Value::Object(_)) => one(d, out),
                _ => Err("an EventBridge event's `detail` must be an object".to_owned()),
            },
            Value::Object(m) if m.contains_key("eventName") => {
                out.push(v.clone());
                Ok(())
            }
            Value::Array(list) => {
                for r in list {
                    one(r, out)?;
                }
                Ok(())
            }
            _ => Err(
                "expected CloudTrail records: an EventBridge event with `detail`, a record with `eventName`, an array of them, or {\"Records\": [...]}"
                    .to_owned(),
            ),
        }
    }
    let mut out = Vec::new();
    one(body, &mut out)?;
    Ok(out)
}

/// Takes `latch doctor`'s pipeline probes out of `records`: the ids of the records whose
/// `eventSource` and `eventName` are the probe's (`requestParameters.probe`, at most 64 plain
/// characters; a probe without a usable id is dropped, never classified as a denial).
pub fn take_probes(records: &mut Vec<Value>) -> Vec<String> {
    let mut probes = Vec::new();
    records.retain(|r| {
        let is_probe = r.get("eventSource").and_then(Value::as_str)
            == Some(latch_contract::PIPELINE_PROBE_EVENT_SOURCE)
            && r.get("eventName").and_then(Value::as_str)
                == Some(latch_contract::PIPELINE_PROBE_EVENT_NAME);
        if is_probe {
            let id = r
                .pointer("/requestParameters/probe")
                .and_then(Value::as_str)
                .filter(|id| {
                    !id.is_empty()
                        && id.len() <= 64
                        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if let Some(id) = id {
                if !probes.iter().any(|p| p == id) {
                    probes.push(id.to_owned());
                }
            }
        }
        !is_probe
    });
    probes
}

/// The denials among `records`, classified by `latch-trail`.
///
/// # Errors
/// A record `latch-trail` cannot read (the reason names it).
pub fn denials(records: &[Value]) -> Result<Vec<Denial>, String> {
    let log = json!({ "Records": records }).to_string();
    let table = latch_trail::parse_log(log.as_bytes(), &latch_trail::Window::all())
        .map_err(|e| e.to_string())?;
    let mut out = BTreeSet::new();
    for (arn, p) in &table.principals {
        for (action, u) in &p.actions {
            if u.denied > 0 {
                out.insert(Denial {
                    principal: arn.clone(),
                    session: None,
                    action: action.clone(),
                });
            }
        }
        for (session, s) in &p.sessions {
            for (action, u) in &s.actions {
                if u.denied > 0 {
                    out.insert(Denial {
                        principal: arn.clone(),
                        session: Some(session.clone()),
                        action: action.clone(),
                    });
                }
            }
        }
        // An Identity Center role's denials are also counted on the role: keep only the
        // per-person ones there.
        if p.kind == PrincipalKind::IdentityCenterRole {
            out.retain(|d| d.principal != *arn || d.session.is_some());
        }
    }
    Ok(out.into_iter().collect())
}

/// The smallest bundle holding `action` (case-insensitive) among those `known` accepts; ties
/// go to the first name.
pub fn covering<'a>(
    bundle_actions: &'a BTreeMap<String, BTreeSet<String>>,
    action: &str,
    known: impl Fn(&str) -> bool,
) -> Option<&'a str> {
    let wanted = action.to_ascii_lowercase();
    bundle_actions
        .iter()
        .filter(|(name, actions)| known(name) && actions.contains(&wanted))
        .min_by_key(|(name, actions)| (actions.len(), name.as_str()))
        .map(|(name, _)| name.as_str())
}

/// Who a denial is about: the person whose AWS identity is the denied role or user; for an
/// Identity Center role, the person whose `aws:userid` ends with the session name, or the
/// directory's person of that user name who reaches the role's account.
fn person_of<'a>(rules: &'a Rules, d: &Denial) -> Option<&'a crate::config::Person> {
    let account = account_of(&d.principal);
    rules.people.values().find(|p| {
        let configured = p
            .aws
            .as_ref()
            .is_some_and(|aws| match (&d.session, aws.kind) {
                (None, IdentityKind::Role | IdentityKind::User) => aws.id == d.principal,
                (Some(session), IdentityKind::IdentityCenter) => aws
                    .id
                    .rsplit_once(':')
                    .is_some_and(|(_, who)| who == session),
                _ => false,
            });
        configured
            || d.session.as_deref() == Some(p.name.as_str())
                && p.roles.iter().any(|r| Some(r.account.as_str()) == account)
    })
}

/// The account of an IAM ARN.
fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The offers the denials call for (one per person and bundle), and the denials that call for
/// none, with why.
#[must_use]
pub fn plan(
    config: &Config,
    rules: &Rules,
    bundle_actions: &BTreeMap<String, BTreeSet<String>>,
    denials: &[Denial],
) -> (Vec<Offer>, Vec<Skipped>) {
    let mut offers: BTreeMap<(String, String), Offer> = BTreeMap::new();
    let mut skipped = Vec::new();
    for d in denials {
        let skip = |why: String| Skipped {
            principal: d.principal.clone(),
            action: d.action.clone(),
            why,
        };
        let Some(person) = person_of(rules, d) else {
            skipped.push(skip(
                "no person in [identities] or the directory maps to this principal".into(),
            ));
            continue;
        };
        // On Slack, a person without a configured id is found by email when the offer is sent.
        let by_email = person.email.is_some() && config.slack.is_some();
        if !by_email
            && !config
                .chat_platforms()
                .into_iter()
                .any(|p| person.chat_id(p).is_some())
        {
            skipped.push(skip(format!(
                "`{}` has no user on a chat platform Latch is configured for",
                person.name
            )));
            continue;
        }
        let Some(bundle) = covering(bundle_actions, &d.action, |b| rules.bundles.contains_key(b))
        else {
            skipped.push(skip("no bundle this server grants holds the action".into()));
            continue;
        };
        offers
            .entry((person.name.clone(), bundle.to_owned()))
            .or_insert_with(|| Offer {
                person: person.name.clone(),
                bundle: bundle.to_owned(),
                action: d.action.clone(),
                principal: d.principal.clone(),
                account: (!person.roles.is_empty() && d.session.is_some())
                    .then(|| account_of(&d.principal).map(str::to_owned))
                    .flatten(),
            });
    }
    (offers.into_values().collect(), skipped)
}

/// What the button carries: the bundle, the duration and the denied action. The requester is
/// never taken from it (it is the signed payload's user).
#[must_use]
pub fn button_value(offer: &Offer, duration_secs: i64) -> String {
    let mut v =
        json!({"bundle": offer.bundle, "duration_secs": duration_secs, "action": offer.action});
    if let (Some(a), Some(obj)) = (&offer.account, v.as_object_mut()) {
        obj.insert("account".into(), json!(a));
    }
    v.to_string()
}

/// The DM: text fallback and blocks with the one-click request button.
#[must_use]
pub fn message(offer: &Offer, duration_secs: i64) -> (String, Value) {
    let text = format!(
        "You were denied `{}` on `{}`. It is in bundle {}: request it for {}?",
        offer.action,
        offer.principal,
        offer.bundle,
        format_duration(duration_secs)
    );
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "AWS denied `{}` to `{}`. Latch grants it on demand in bundle *{}*.",
            offer.action, offer.principal, offer.bundle)}},
        {"type": "actions", "block_id": format!("latch-offer:{}", offer.bundle), "elements": [
            {"type": "button", "action_id": OFFER_ACTION, "style": "primary",
             "value": button_value(offer, duration_secs),
             "text": {"type": "plain_text", "text": format!("Request {} for {}", offer.bundle, format_duration(duration_secs))}}
        ]}
    ]);
    (text, blocks)
}

/// What a pressed offer button asks for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ButtonValue {
    /// The bundle.
    pub bundle: String,
    /// Seconds.
    pub duration_secs: i64,
    /// The action that was denied (for the reason).
    pub action: String,
    /// The account the request names (a denied Identity Center role's).
    #[serde(default)]
    pub account: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn record(
        kind: &str,
        arn: &str,
        issuer: Option<&str>,
        event: &str,
        error: Option<&str>,
    ) -> Value {
        let mut r = json!({
            "eventVersion": "1.08",
            "eventTime": "2026-11-24T12:00:00Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": event,
            "awsRegion": "us-east-1",
            "recipientAccountId": "111122223333",
            "userIdentity": {"type": kind, "arn": arn, "accountId": "111122223333"}
        });
        if let Some(i) = issuer {
            r["userIdentity"]["sessionContext"] =
                json!({"sessionIssuer": {"type": "Role", "arn": i, "accountId": "111122223333"}});
        }
        if let Some(e) = error {
            r["errorCode"] = json!(e);
        }
        r
    }

    // alice is on Slack, carol on Teams only: either is somewhere to offer.
    const CFG: &str = r#"
[slack]
signing_secret = "s"
bot_token = "xoxb-t"
[teams]
app_id = "00000000-0000-0000-0000-00000000b07a"
tenant = "11111111-1111-1111-1111-111111111111"
app_secret = "t"

[identities.alice]
slack = "UALICE"
aws = "arn:aws:iam::111122223333:role/alice"
[identities.dave]
aws = "arn:aws:iam::111122223333:user/dave"
[identities.carol]
teams = "0c0c0c0c-0000-0000-0000-0000000ca201"
aws = "AROAEXAMPLE:carol@example.com"
kind = "identity_center"
[bundles.iam-admin]
approvers = ["alice"]
[bundles.iam-all]
approvers = ["alice"]
"#;

    fn bundles() -> BTreeMap<String, BTreeSet<String>> {
        let set = |v: &[&str]| v.iter().map(|s| s.to_ascii_lowercase()).collect();
        BTreeMap::from([
            (
                "iam-admin".to_owned(),
                set(&["iam:PassRole", "iam:CreateAccessKey"]),
            ),
            (
                "iam-all".to_owned(),
                set(&["iam:PassRole", "iam:CreateAccessKey", "iam:DeleteRole"]),
            ),
            ("not-served".to_owned(), set(&["s3:DeleteBucket"])),
        ])
    }

    #[test]
    fn shapes_of_the_feed() {
        let r = record(
            "IAMUser",
            "arn:aws:iam::111122223333:user/dave",
            None,
            "CreateAccessKey",
            None,
        );
        for body in [
            r.clone(),
            json!({"version": "0", "detail-type": "AWS API Call via CloudTrail", "detail": r.clone()}),
            json!([r.clone()]),
            json!({"Records": [r.clone()]}),
        ] {
            assert_eq!(records_of(&body).unwrap(), vec![r.clone()], "{body}");
        }
        assert!(records_of(&json!({"foo": 1}))
            .unwrap_err()
            .contains("expected CloudTrail records"));
        assert!(records_of(&json!({"Records": 1})).is_err());
    }

    #[test]
    fn denials_become_offers_for_the_smallest_bundle() {
        let config = Config::parse(CFG, "t.toml", &|_| None).unwrap();
        let records = vec![
            // alice's role session denied iam:CreateAccessKey (twice): one offer.
            record("AssumedRole", "arn:aws:sts::111122223333:assumed-role/alice/s1", Some("arn:aws:iam::111122223333:role/alice"), "CreateAccessKey", Some("AccessDenied")),
            record("AssumedRole", "arn:aws:sts::111122223333:assumed-role/alice/s2", Some("arn:aws:iam::111122223333:role/alice"), "PassRole", Some("AccessDenied")),
            // Allowed: no offer.
            record("AssumedRole", "arn:aws:sts::111122223333:assumed-role/alice/s1", Some("arn:aws:iam::111122223333:role/alice"), "DeleteRole", None),
            // Failed for another reason: no offer.
            record("AssumedRole", "arn:aws:sts::111122223333:assumed-role/alice/s1", Some("arn:aws:iam::111122223333:role/alice"), "DeleteRole", Some("NoSuchEntity")),
            // dave has no chat user; bob is nobody.
            record("IAMUser", "arn:aws:iam::111122223333:user/dave", None, "CreateAccessKey", Some("AccessDenied")),
            record("IAMUser", "arn:aws:iam::111122223333:user/bob", None, "CreateAccessKey", Some("AccessDenied")),
            // carol through Identity Center.
            record("AssumedRole", "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123/carol@example.com", Some("arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123"), "DeleteRole", Some("AccessDenied")),
        ];
        let d = denials(&records).unwrap();
        assert_eq!(d.len(), 5, "{d:#?}");
        let (offers, skipped) = plan(&config, &config.rules, &bundles(), &d);
        let got: Vec<_> = offers
            .iter()
            .map(|o| (o.person.as_str(), o.bundle.as_str()))
            .collect();
        assert_eq!(got, vec![("alice", "iam-admin"), ("carol", "iam-all")]);
        let why: Vec<_> = skipped
            .iter()
            .map(|s| (s.principal.as_str(), s.why.as_str()))
            .collect();
        assert_eq!(
            why,
            vec![
                (
                    "arn:aws:iam::111122223333:user/bob",
                    "no person in [identities] or the directory maps to this principal"
                ),
                (
                    "arn:aws:iam::111122223333:user/dave",
                    "`dave` has no user on a chat platform Latch is configured for"
                ),
            ]
        );
        // A bundle the server does not grant is never offered.
        assert_eq!(
            covering(&bundles(), "s3:DeleteBucket", |b| config
                .rules
                .bundles
                .contains_key(b)),
            None
        );
        assert_eq!(
            covering(&bundles(), "S3:deletebucket", |_| true),
            Some("not-served")
        );
        // The button carries what to request, not who.
        let (text, blocks) = message(&offers[0], 3600);
        assert!(
            text.contains("iam:CreateAccessKey") || text.contains("iam:PassRole"),
            "{text}"
        );
        let v: ButtonValue =
            serde_json::from_str(blocks[1]["elements"][0]["value"].as_str().unwrap()).unwrap();
        assert_eq!((v.bundle.as_str(), v.duration_secs), ("iam-admin", 3600));
        assert_eq!(blocks[1]["elements"][0]["action_id"], OFFER_ACTION);
    }
}
