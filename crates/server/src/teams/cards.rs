//! What Latch shows in Teams: Adaptive Cards with `Action.Execute` buttons (approval, offer),
//! the cards that replace them once decided, and the activities that carry them.
//!
//! A button carries only what it is about (a request id, or the bundle an offer names); who
//! pressed it is always the activity's sender, never the card's data.

use latch_grant::{ApprovalRecord, GrantRecord, RequestRecord, RequestStatus};
use serde_json::{json, Value};

use crate::clock::format_duration;
use crate::offers::Offer;

/// The verb of the Approve button.
pub const APPROVE: &str = "latch.approve";
/// The verb of the Deny button.
pub const DENY: &str = "latch.deny";
/// The verb of an offer's one-click request.
pub const OFFER: &str = "latch.offer";

/// The content type of an Adaptive Card, as an attachment and in an invoke response.
pub const CARD_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// The content type of a text answer to an invoke.
pub const MESSAGE_TYPE: &str = "application/vnd.microsoft.activity.message";

fn card(body: Vec<Value>, actions: Vec<Value>) -> Value {
    json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
        "actions": actions,
    })
}

fn text(t: &str) -> Value {
    json!({"type": "TextBlock", "text": t, "wrap": true})
}

fn facts(pairs: &[(&str, String)]) -> Value {
    json!({"type": "FactSet", "facts": pairs.iter()
        .map(|(title, value)| json!({"title": title, "value": value}))
        .collect::<Vec<_>>()})
}

fn request_facts(r: &RequestRecord) -> Value {
    let mut pairs = Vec::new();
    if r.more_targets.is_empty() {
        pairs.push(("Identity", r.identity.id.clone()));
        pairs.push((
            "Account",
            match (&r.account, &r.permission_set) {
                (Some(a), Some(p)) => format!("{a} as {p}"),
                (Some(a), None) => a.clone(),
                _ => "the identity's own".to_owned(),
            },
        ));
    } else {
        // One grant per account, all decided by this one answer.
        pairs.push(("Accounts", crate::chat::targets(r)));
    }
    pairs.push(("Reason", r.reason.clone()));
    pairs.push(("Request", r.id.clone()));
    facts(&pairs)
}

/// What a request asks for, in the card's words: a bundle for a while, from a start, or more
/// time on a grant.
fn asks(r: &RequestRecord) -> String {
    match (&r.extends, r.starts_at) {
        (Some(g), _) => format!(
            "**{}** asks for **{}** more of grant `{g}` (**{}**)",
            r.requester,
            format_duration(r.duration_secs),
            r.bundle
        ),
        (None, Some(start)) => format!(
            "**{}** asks for **{}** for **{}** from **{}**",
            r.requester,
            r.bundle,
            format_duration(r.duration_secs),
            crate::clock::rfc3339(start)
        ),
        (None, None) => format!(
            "**{}** asks for **{}** for **{}**",
            r.requester,
            r.bundle,
            format_duration(r.duration_secs)
        ),
    }
}

/// The approval card: who asks for what, for how long and why, with Approve and Deny.
#[must_use]
pub fn approval(r: &RequestRecord, approvers: &[String]) -> Value {
    let data = json!({"request": r.id});
    card(
        vec![
            text(&asks(r)),
            request_facts(r),
            text(&format!(
                "{} approval(s) needed · tier {} · approvers: {}",
                r.required_approvals,
                r.tier + 1,
                approvers.join(", ")
            )),
        ],
        vec![
            json!({"type": "Action.Execute", "title": "Approve", "verb": APPROVE,
                   "style": "positive", "data": data}),
            json!({"type": "Action.Execute", "title": "Deny", "verb": DENY,
                   "style": "destructive", "data": data}),
        ],
    )
}

/// The card after the decision (or while a second approval is awaited): no buttons once
/// decided.
#[must_use]
pub fn decided(r: &RequestRecord, approvals: &[ApprovalRecord], actor: Option<&str>) -> Value {
    let outcome = match r.status {
        RequestStatus::Approved => "✅ Approved",
        RequestStatus::Denied => "⛔ Denied",
        RequestStatus::Expired => "⌛ Expired (no answer)",
        RequestStatus::Cancelled => "✖ Cancelled (the requester left the directory)",
        RequestStatus::Pending => "⏳ Waiting for more approvals",
    };
    let answers: Vec<String> = approvals
        .iter()
        .map(|a| format!("{} ({})", a.approver, a.decision))
        .collect();
    let body = vec![
        text(&format!(
            "**{}** asked for **{}** for **{}**",
            r.requester,
            r.bundle,
            format_duration(r.duration_secs)
        )),
        request_facts(r),
        text(&format!(
            "{outcome}{} · {}",
            actor.map(|a| format!(" by {a}")).unwrap_or_default(),
            if answers.is_empty() {
                "no answers".to_owned()
            } else {
                answers.join(", ")
            }
        )),
    ];
    card(body, Vec::new())
}

/// The offer after a denial: one button files the request.
#[must_use]
pub fn offer(o: &Offer, duration_secs: i64) -> Value {
    card(
        vec![text(&format!(
            "AWS denied `{}` to `{}`. Latch grants it on demand in bundle **{}**.",
            o.action, o.principal, o.bundle
        ))],
        vec![json!({
            "type": "Action.Execute",
            "title": format!("Request {} for {}", o.bundle, format_duration(duration_secs)),
            "verb": OFFER,
            "style": "positive",
            "data": {"bundle": o.bundle, "duration_secs": duration_secs, "action": o.action},
        })],
    )
}

/// The `verb` of the reminder's Extend button.
pub const EXTEND: &str = "latch.extend";

/// The reminder before a grant ends: what it says, and an Extend button naming the grant.
#[must_use]
pub fn ending_soon(g: &GrantRecord, said: &str) -> Value {
    card(
        vec![text(said)],
        vec![json!({
            "type": "Action.Execute",
            "title": "Extend",
            "verb": EXTEND,
            "data": {"grant": g.id},
        })],
    )
}

/// A card with one line of text (what replaces an offer once used).
#[must_use]
pub fn note(t: &str) -> Value {
    card(vec![text(t)], Vec::new())
}

/// A message activity carrying `card`, with `summary` for notifications and search.
#[must_use]
pub fn card_activity(summary: &str, card: Value) -> Value {
    json!({
        "type": "message",
        "summary": summary,
        "attachments": [{"contentType": CARD_TYPE, "content": card}],
    })
}

/// `activity` with `key` set to `value` (an id, a reply's `replyToId`).
#[must_use]
pub fn with(mut activity: Value, key: &str, value: &str) -> Value {
    if let Some(o) = activity.as_object_mut() {
        o.insert(key.to_owned(), Value::String(value.to_owned()));
    }
    activity
}

/// A Markdown text message activity.
#[must_use]
pub fn text_activity(t: &str) -> Value {
    json!({"type": "message", "textFormat": "markdown", "text": t})
}

/// The answer to an `Action.Execute` that replaces the card.
#[must_use]
pub fn replace_with(card: Value) -> Value {
    json!({"statusCode": 200, "type": CARD_TYPE, "value": card})
}

/// The answer to an `Action.Execute` that leaves the card as it is and says `t`.
#[must_use]
pub fn answer(t: &str) -> Value {
    json!({"statusCode": 200, "type": MESSAGE_TYPE, "value": t})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;
    use latch_grant::{Identity, IdentityKind};

    fn request() -> RequestRecord {
        RequestRecord {
            id: "r-1".into(),
            requester: "alice".into(),
            identity: Identity {
                kind: IdentityKind::Role,
                id: "arn:aws:iam::111122223333:role/alice".into(),
            },
            account: None,
            permission_set: None,
            more_targets: Vec::new(),
            starts_at: None,
            extends: None,
            bundle: "iam-admin".into(),
            duration_secs: 3600,
            reason: "incident 4411".into(),
            status: RequestStatus::Pending,
            break_glass: false,
            source: "teams".into(),
            required_approvals: 1,
            tier: 0,
            tier_deadline: None,
            created_at: 0,
            decided_at: None,
            version: 1,
        }
    }

    #[test]
    fn the_approval_card_carries_only_the_request_id_and_loses_its_buttons_once_decided() {
        let c = approval(&request(), &["bob".into(), "carol".into()]);
        let actions = c["actions"].as_array().cloned().unwrap_or_default();
        let verbs: Vec<&str> = actions.iter().filter_map(|a| a["verb"].as_str()).collect();
        assert_eq!(verbs, [APPROVE, DENY]);
        for a in &actions {
            assert_eq!(a["type"], "Action.Execute");
            assert_eq!(a["data"], json!({"request": "r-1"}));
        }
        let mut r = request();
        r.status = RequestStatus::Approved;
        let d = decided(&r, &[], Some("bob"));
        assert_eq!(d["actions"], json!([]));
        assert!(d.to_string().contains("Approved by bob"), "{d}");
    }

    #[test]
    fn the_card_says_a_start_or_an_extension() {
        let mut r = request();
        r.starts_at = Some(1_800_000_000_000);
        assert!(approval(&r, &[])
            .to_string()
            .contains("for **1h** from **2027-01-15T08:00:00Z**"));
        r.starts_at = None;
        r.extends = Some("g-7".into());
        assert!(approval(&r, &[])
            .to_string()
            .contains("asks for **1h** more of grant `g-7`"));
    }
}
