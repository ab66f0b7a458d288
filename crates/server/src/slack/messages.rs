//! What Latch says in Slack: approval messages and their decided form.

use latch_grant::{ApprovalRecord, GrantRecord, RequestRecord, RequestStatus};
use serde_json::{json, Value};

use crate::clock::format_duration;

/// The `action_id` of the Extend button of the reminder before a grant ends.
pub const EXTEND_ACTION: &str = "latch_extend";

/// The reminder before a grant ends: its text, and an Extend button naming the grant.
#[must_use]
pub fn ending_soon_blocks(g: &GrantRecord, text: &str) -> Value {
    json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": format!("latch-extend:{}", g.id), "elements": [
            {"type": "button", "action_id": EXTEND_ACTION, "value": g.id,
             "text": {"type": "plain_text", "text": "Extend"}}
        ]}
    ])
}

/// What an approval message says is asked: a bundle, or more time on a grant.
fn asked(r: &RequestRecord) -> String {
    match &r.extends {
        Some(g) => format!(
            "{} more of grant `{g}` ({})",
            format_duration(r.duration_secs),
            r.bundle
        ),
        None => format!("{} for {}", r.bundle, format_duration(r.duration_secs)),
    }
}

/// The approval message (text fallback, blocks with Approve/Deny buttons).
#[must_use]
pub fn approval_message(r: &RequestRecord, approver_mentions: &[String]) -> (String, Value) {
    let text = format!("{} asks for {}: {}", r.requester, asked(r), r.reason);
    let what = match (&r.extends, r.starts_at) {
        (Some(g), _) => format!(
            "*{}* more of grant `{g}` (*{}*)",
            format_duration(r.duration_secs),
            r.bundle
        ),
        (None, Some(start)) => format!(
            "*{}* for *{}* from *{}*",
            r.bundle,
            format_duration(r.duration_secs),
            crate::clock::rfc3339(start)
        ),
        (None, None) => format!("*{}* for *{}*", r.bundle, format_duration(r.duration_secs)),
    };
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*{}* asks for {what} on {}\n>{}",
            r.requester, crate::chat::targets(r), r.reason)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
            "Request `{}` · {} approval(s) needed · tier {} · approvers: {}",
            r.id, r.required_approvals, r.tier + 1, approver_mentions.join(", "))}]},
        {"type": "actions", "block_id": format!("latch:{}", r.id), "elements": [
            {"type": "button", "action_id": "latch_approve", "style": "primary", "value": r.id,
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "latch_deny", "style": "danger", "value": r.id,
             "text": {"type": "plain_text", "text": "Deny"}}
        ]}
    ]);
    (text, blocks)
}

/// The approval message after the decision (no buttons).
#[must_use]
pub fn decided_message(
    r: &RequestRecord,
    approvals: &[ApprovalRecord],
    actor: Option<&str>,
) -> (String, Value) {
    let who: Vec<String> = approvals
        .iter()
        .map(|a| format!("{} ({})", a.approver, a.decision))
        .collect();
    let outcome = match r.status {
        RequestStatus::Approved => ":white_check_mark: Approved",
        RequestStatus::Denied => ":no_entry: Denied",
        RequestStatus::Expired => ":hourglass: Expired (no answer)",
        RequestStatus::Cancelled => {
            ":heavy_multiplication_x: Cancelled (the requester left the directory)"
        }
        RequestStatus::Pending => ":hourglass_flowing_sand: Waiting",
    };
    let text = format!(
        "{outcome}: {} asked for {} ({})",
        r.requester,
        r.bundle,
        format_duration(r.duration_secs)
    );
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*{}* asked for *{}* for *{}* on {}\n>{}",
            r.requester, r.bundle, format_duration(r.duration_secs), crate::chat::targets(r), r.reason)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
            "{outcome}{} · request `{}` · {}",
            actor.map(|a| format!(" by {a}")).unwrap_or_default(),
            r.id,
            if who.is_empty() { "no answers".to_owned() } else { who.join(", ") })}]}
    ]);
    (text, blocks)
}
