//! What every chat platform shares: the commands people type (`request`, `grants`, `revoke`),
//! running them through the [`Core`], and the words Latch answers with. A platform supplies a
//! [`Style`] (its name, how a command is typed, how text is set in bold); the handlers in its
//! folder only verify, map the sender to a person and deliver.

use std::sync::Arc;

use latch_grant::{GrantQuery, GrantRecord, GrantStatus, RequestRecord, RequestStatus};

use crate::clock::{format_duration, parse_duration, rfc3339};
use crate::config::Person;
use crate::service::{Core, ServiceError};
use latch_grant::workflow::NewRequest;

/// How one platform says things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// The platform, as message references and people's ids name it (`slack`).
    pub platform: &'static str,
    /// Its name, for people (`Slack`).
    pub name: &'static str,
    /// What comes before a command when it is typed (`/latch `, or nothing in a bot chat).
    pub prefix: &'static str,
    /// The bold marker of the platform's markup (`*` in Slack, `**` in Markdown).
    pub bold: &'static str,
}

impl Style {
    /// `text` in bold.
    #[must_use]
    pub fn b(&self, text: &str) -> String {
        format!("{0}{text}{0}", self.bold)
    }

    /// `command` as a person types it, as code.
    #[must_use]
    pub fn cmd(&self, command: &str) -> String {
        format!("`{}{command}`", self.prefix)
    }

    /// The usage text.
    #[must_use]
    pub fn usage(&self) -> String {
        format!(
            "Usage: {} (e.g. {}), {}, {}, {}, {}",
            self.cmd("request <bundle> <duration> [account=<id>[,<id>…]] [as=<permission set>] [start=<time>] <reason>"),
            self.cmd("request iam-admin 1h account=111122223333 incident 4411"),
            self.cmd("grants"),
            self.cmd("extend <grant-id> <duration> [reason]"),
            self.cmd("done <grant-id> [reason]"),
            self.cmd("revoke <grant-id> [reason]")
        )
    }
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `request <bundle> <duration> <reason…>`
    Request {
        /// Bundle.
        bundle: String,
        /// Seconds.
        duration_secs: i64,
        /// `account=<id>[,<id>…]`: the accounts the grants are for (one grant each).
        accounts: Vec<String>,
        /// `as=<permission set>`: whose role on that account receives it.
        permission_set: Option<String>,
        /// `start=<RFC 3339>`: when the access starts (a change window).
        starts_at: Option<latch_grant::Millis>,
        /// Reason.
        reason: String,
    },
    /// `grants`
    Grants,
    /// `revoke <id> [reason…]`
    Revoke {
        /// Grant id.
        id: String,
        /// Reason.
        reason: String,
    },
    /// `extend <id> <duration> [reason…]`: more time on one's own grant.
    Extend {
        /// Grant id.
        id: String,
        /// Seconds more.
        by_secs: i64,
        /// Reason.
        reason: String,
    },
    /// `done <id> [reason…]`: give one's own grant back.
    Done {
        /// Grant id.
        id: String,
        /// Reason.
        reason: String,
    },
    /// Anything else: usage, with what was wrong.
    Help(Option<String>),
}

/// Parse a command typed on the platform `style` describes.
#[must_use]
pub fn parse_command(text: &str, style: &Style) -> Command {
    let mut words = text.split_whitespace();
    match words.next() {
        Some("request") => {
            let (Some(bundle), Some(duration)) = (words.next(), words.next()) else {
                return Command::Help(Some(
                    "`request` needs a bundle, a duration and a reason".into(),
                ));
            };
            let mut words = words.peekable();
            let (mut accounts, mut permission_set, mut starts_at) = (Vec::new(), None, None);
            while let Some(w) = words.peek() {
                if let Some(a) = w.strip_prefix("account=") {
                    accounts.extend(a.split(',').filter(|a| !a.is_empty()).map(str::to_owned));
                } else if let Some(p) = w.strip_prefix("as=") {
                    permission_set = Some(p.to_owned());
                } else if let Some(t) = w.strip_prefix("start=") {
                    let Some(at) = latch_time::Timestamp::parse(t) else {
                        return Command::Help(Some(format!(
                            "bad start `{t}`: an RFC 3339 time, e.g. start=2026-12-08T09:00:00Z"
                        )));
                    };
                    starts_at = Some(at.seconds().saturating_mul(1000));
                } else {
                    break;
                }
                words.next();
            }
            let reason = words.collect::<Vec<_>>().join(" ");
            match parse_duration(duration) {
                Ok(duration_secs) => Command::Request {
                    bundle: bundle.to_owned(),
                    duration_secs,
                    accounts,
                    permission_set,
                    starts_at,
                    reason,
                },
                Err(e) => Command::Help(Some(format!("bad duration {e}"))),
            }
        }
        Some("grants") => Command::Grants,
        Some("revoke") => match words.next() {
            Some(id) => Command::Revoke {
                id: id.to_owned(),
                reason: {
                    let r = words.collect::<Vec<_>>().join(" ");
                    if r.is_empty() {
                        format!("revoked from {}", style.name)
                    } else {
                        r
                    }
                },
            },
            None => Command::Help(Some("`revoke` needs a grant id".into())),
        },
        Some("extend") => {
            let (Some(id), Some(duration)) = (words.next(), words.next()) else {
                return Command::Help(Some(
                    "`extend` needs a grant id and a duration (e.g. `extend g-… 30m`)".into(),
                ));
            };
            let reason = words.collect::<Vec<_>>().join(" ");
            match parse_duration(duration) {
                Ok(by_secs) => Command::Extend {
                    id: id.to_owned(),
                    by_secs,
                    reason: if reason.is_empty() {
                        format!("extended from {}", style.name)
                    } else {
                        reason
                    },
                },
                Err(e) => Command::Help(Some(format!("bad duration {e}"))),
            }
        }
        Some("done") => match words.next() {
            Some(id) => Command::Done {
                id: id.to_owned(),
                reason: {
                    let r = words.collect::<Vec<_>>().join(" ");
                    if r.is_empty() {
                        "done".to_owned()
                    } else {
                        r
                    }
                },
            },
            None => Command::Help(Some("`done` needs a grant id".into())),
        },
        _ => Command::Help(None),
    }
}

/// Where a grant lands, for people: `account 111122223333 as AdministratorAccess`, or the
/// identity.
#[must_use]
pub fn target(
    identity: &latch_grant::Identity,
    account: Option<&str>,
    permission_set: Option<&str>,
) -> String {
    match (account, permission_set) {
        (Some(a), Some(p)) => format!("account {a} as {p}"),
        (Some(a), None) => format!("account {a}"),
        _ => format!("`{}`", identity.id),
    }
}

/// ` on account A, account B` for a request of several targets; empty for one (its messages
/// name the one target already).
#[must_use]
pub fn on_targets(r: &latch_grant::RequestRecord) -> String {
    if r.more_targets.is_empty() {
        return String::new();
    }
    format!(" on {}", targets(r))
}

/// Where a request's grants land, for people: each target as [`target`] says it.
#[must_use]
pub fn targets(r: &latch_grant::RequestRecord) -> String {
    r.targets()
        .iter()
        .map(|t| {
            target(
                &t.identity,
                t.account.as_deref(),
                t.permission_set.as_deref(),
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What to say to a chat user who is not one of Latch's people.
#[must_use]
pub fn unknown_user(style: &Style, id: &str) -> String {
    format!(
        "Your {} user `{id}` is not one of Latch's people (not in [identities], and no active Identity Center user has your email); ask an administrator.",
        style.name
    )
}

/// Run `text`, typed by `person`, and say what became of it.
pub async fn run(core: &Arc<Core>, person: &Person, text: &str, style: &Style) -> String {
    let actor = person.name.clone();
    match parse_command(text, style) {
        Command::Help(None) => style.usage(),
        Command::Help(Some(problem)) => format!("{problem}. {}", style.usage()),
        Command::Request {
            bundle,
            duration_secs,
            accounts,
            permission_set,
            starts_at,
            reason,
        } => {
            let new = NewRequest {
                requester: actor,
                bundle,
                duration_secs,
                reason,
                break_glass: false,
                source: style.platform.into(),
                accounts,
                permission_set,
                starts_at,
            };
            file_request(core, new, style).await
        }
        Command::Grants => {
            let query = GrantQuery {
                statuses: GrantStatus::LIVE.to_vec(),
                requester: Some(actor),
                ..GrantQuery::default()
            };
            match core.view().grants(&query).await {
                Ok(gs) if gs.is_empty() => "You hold no grants.".to_owned(),
                Ok(gs) => gs
                    .iter()
                    .map(|g| {
                        format!(
                            "• `{}` {} {} until {}",
                            g.id,
                            style.b(&g.bundle),
                            g.status,
                            rfc3339(g.expires_at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                Err(e) => format!("Error: {e}"),
            }
        }
        Command::Extend {
            id,
            by_secs,
            reason,
        } => extend(core, &actor, &id, Some(by_secs), &reason, style).await,
        Command::Done { id, reason } => match core.relinquish(&id, &actor, &reason, None).await {
            Ok(g) => format!(
                "Giving back grant `{}` ({}): it is being removed{}.",
                g.id,
                style.b(&g.bundle),
                g.session_cutoff.map_or_else(String::new, |cut| format!(
                    "; this {}",
                    latch_grant::workflow::session_cutoff_reach(
                        &format!("`{}`", g.identity.id),
                        &rfc3339(cut)
                    )
                ))
            ),
            Err(ServiceError::Refused(refusal)) => format!("Refused: {}", refusal.message),
            Err(e) => format!("Error: {e}"),
        },
        Command::Revoke { id, reason } => {
            match core.revoke(&id, &actor, false, &reason, None).await {
                Ok(g) => match g.session_cutoff {
                    Some(cut) => format!(
                        "Revoking grant `{}` ({}); this {}.",
                        g.id,
                        style.b(&g.bundle),
                        latch_grant::workflow::session_cutoff_reach(
                            &format!("`{}`", g.identity.id),
                            &rfc3339(cut)
                        )
                    ),
                    None => format!("Revoking grant `{}` ({}).", g.id, style.b(&g.bundle)),
                },
                Err(ServiceError::Refused(refusal)) => format!("Refused: {}", refusal.message),
                Err(e) => format!("Error: {e}"),
            }
        }
    }
}

/// Ask for more time on `grant_id` from chat and say what became of it. Without `by_secs`
/// (an Extend button), as long as first asked for, within what the bundle still allows.
pub async fn extend(
    core: &Arc<Core>,
    actor: &str,
    grant_id: &str,
    by_secs: Option<i64>,
    reason: &str,
    style: &Style,
) -> String {
    let by_secs = match by_secs {
        Some(s) => s,
        None => default_extension(core, grant_id).await,
    };
    match core
        .extend(grant_id, actor, by_secs, reason, style.platform)
        .await
    {
        Ok((_, gs)) if !gs.is_empty() => gs.first().map_or_else(String::new, |g| {
            format!(
                "Extended: grant `{}` ({}) now ends at {}.",
                g.id,
                style.b(&g.bundle),
                rfc3339(g.expires_at)
            )
        }),
        Ok((r, _)) => format!(
            "Extension request `{}` ({} more of grant `{grant_id}`) sent to approvers: {}.",
            r.id,
            format_duration(r.duration_secs),
            latch_grant::workflow::eligible_approvers(&core.rules(), &r).join(", ")
        ),
        Err(ServiceError::Refused(refusal)) => format!("Refused: {}", refusal.message),
        Err(e) => format!("Error: {e}"),
    }
}

/// What an Extend button asks for: the duration first asked for, capped at what the bundle
/// still allows (at least a second, so that a grant at its limit is refused with the reason).
async fn default_extension(core: &Arc<Core>, grant_id: &str) -> i64 {
    let Ok(Some(g)) = core.view().grant(grant_id).await else {
        return 1;
    };
    let asked = match core.view().request(&g.request_id).await {
        Ok(Some(r)) => r.duration_secs,
        _ => 3600,
    };
    let lasts = g.expires_at.saturating_sub(g.created_at).div_euclid(1000);
    let room = core
        .rules()
        .bundles
        .get(&g.bundle)
        .map_or(0, |b| b.max_total_secs.saturating_sub(lasts));
    asked.min(room).max(1)
}

/// Open a request from chat and say what became of it.
pub async fn file_request(core: &Arc<Core>, new: NewRequest, style: &Style) -> String {
    match core.request(new).await {
        Ok((r, gs)) => match gs.as_slice() {
            [] => format!(
                "Request `{}` for {}{} ({}) sent to approvers: {}.",
                r.id,
                style.b(&r.bundle),
                on_targets(&r),
                format_duration(r.duration_secs),
                latch_grant::workflow::eligible_approvers(&core.rules(), &r).join(", ")
            ),
            [g] => match g.starts_at {
                Some(start) => format!(
                    "Approved ahead (auto-approved): {} from {} until {} — request `{}`, grant `{}`; cancel before the start with {}.",
                    style.b(&r.bundle),
                    rfc3339(start),
                    rfc3339(g.expires_at),
                    r.id,
                    g.id,
                    style.cmd(&format!("done {}", g.id))
                ),
                None => format!(
                    "Granted at once (auto-approved): {} until {} — request `{}`, grant `{}`.",
                    style.b(&r.bundle),
                    rfc3339(g.expires_at),
                    r.id,
                    g.id
                ),
            },
            many => format!(
                "{} (auto-approved): {} until {} — request `{}`, one grant per account: {}.",
                if r.starts_at.is_some_and(|s| many.iter().any(|g| g.starts_at == Some(s))) {
                    "Approved ahead"
                } else {
                    "Granted at once"
                },
                style.b(&r.bundle),
                many.first().map_or_else(String::new, |g| rfc3339(g.expires_at)),
                r.id,
                many.iter()
                    .map(|g| format!(
                        "`{}` on {}",
                        g.id,
                        target(&g.identity, g.account.as_deref(), g.permission_set.as_deref())
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        Err(ServiceError::Refused(refusal)) => format!("Refused: {}", refusal.message),
        Err(e) => format!("Error: {e}"),
    }
}

/// What the holder is told about their grant's state.
#[must_use]
pub fn grant_message(g: &GrantRecord, style: &Style) -> String {
    match g.status {
        GrantStatus::Active => format!(
            "Granted: {} on {} until {} (grant `{}`). Done early? Give it back with {}.",
            style.b(&g.bundle),
            target(
                &g.identity,
                g.account.as_deref(),
                g.permission_set.as_deref()
            ),
            rfc3339(g.expires_at),
            g.id,
            style.cmd(&format!("done {}", g.id))
        ),
        GrantStatus::Expired => format!(
            "Your grant `{}` for {} expired and was removed.",
            g.id,
            style.b(&g.bundle)
        ),
        GrantStatus::Revoked => format!(
            "Your grant `{}` for {} was revoked by {}{}.",
            g.id,
            style.b(&g.bundle),
            g.revoked_by.as_deref().unwrap_or("someone"),
            match g.session_cutoff {
                Some(cut) => format!(
                    "; the revocation {}",
                    latch_grant::workflow::session_cutoff_reach("this identity", &rfc3339(cut))
                ),
                None => String::new(),
            }
        ),
        other => format!(
            "Your grant `{}` for {} is {other}.",
            g.id,
            style.b(&g.bundle)
        ),
    }
}

/// What the holder of an active grant is told when it ends soon (`now` is when it is said).
#[must_use]
pub fn ending_soon_message(g: &GrantRecord, now: i64, style: &Style) -> String {
    format!(
        "Your grant `{}` for {} on `{}` ends in {} (at {}). Need longer? {}. Done already? End it now with {}.",
        g.id,
        style.b(&g.bundle),
        g.identity.id,
        format_duration((g.expires_at - now).div_euclid(1000).max(1)),
        rfc3339(g.expires_at),
        style.cmd(&format!("extend {} 30m", g.id)),
        style.cmd(&format!("done {}", g.id))
    )
}

/// What the holder (and the security channel) is told when an approved grant is still not
/// applied after `[server] stuck_after`.
#[must_use]
pub fn stuck_message(g: &GrantRecord, error: Option<&str>, style: &Style) -> String {
    format!(
        "Grant `{}` ({} for `{}` on {}) was approved but is not applied in AWS yet: Latch keeps retrying, and it is not active until it is.{}",
        g.id,
        style.b(&g.bundle),
        g.requester,
        target(&g.identity, g.account.as_deref(), g.permission_set.as_deref()),
        error.map(|e| format!(" Last error: {e}")).unwrap_or_default()
    )
}

/// What the requester is told once their request is decided; nothing while it is pending.
#[must_use]
pub fn decided_message(r: &RequestRecord, actor: Option<&str>, style: &Style) -> Option<String> {
    Some(match r.status {
        RequestStatus::Approved => format!(
            "Your request `{}` for {} ({}) was approved; {}.",
            r.id,
            style.b(&r.bundle),
            format_duration(r.duration_secs),
            if r.more_targets.is_empty() {
                "the grant is being applied".to_owned()
            } else {
                format!(
                    "one grant per account is being applied ({}), and you will hear of each",
                    targets(r)
                )
            }
        ),
        RequestStatus::Denied => format!(
            "Your request `{}` for {} was denied{}.",
            r.id,
            style.b(&r.bundle),
            actor.map(|a| format!(" by {a}")).unwrap_or_default()
        ),
        RequestStatus::Expired => format!(
            "Your request `{}` for {} expired: no approver answered in time.",
            r.id,
            style.b(&r.bundle)
        ),
        RequestStatus::Cancelled => format!(
            "Your request `{}` for {} was cancelled: you are no longer an active Identity Center user.",
            r.id,
            style.b(&r.bundle)
        ),
        RequestStatus::Pending => return None,
    })
}

/// The security channel's alert when someone breaks glass.
#[must_use]
pub fn break_glass_alert(r: &RequestRecord, g: &GrantRecord, style: &Style) -> String {
    format!(
        "BREAK-GLASS: {} granted themselves {} on {} until {} without approval. Reason: {}",
        style.b(&r.requester),
        style.b(&r.bundle),
        targets(r),
        rfc3339(g.expires_at),
        r.reason
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK: Style = crate::slack::STYLE;
    const TEAMS: Style = crate::teams::STYLE;

    #[test]
    fn commands_parse_the_same_on_every_platform() {
        for style in [SLACK, TEAMS] {
            assert_eq!(
                parse_command("request iam-admin 1h incident 4411", &style),
                Command::Request {
                    bundle: "iam-admin".into(),
                    duration_secs: 3600,
                    accounts: Vec::new(),
                    permission_set: None,
                    starts_at: None,
                    reason: "incident 4411".into()
                }
            );
            assert_eq!(parse_command("grants", &style), Command::Grants);
            assert!(
                matches!(parse_command("request iam-admin soon x", &style), Command::Help(Some(m)) if m.contains("bad duration"))
            );
            assert!(matches!(parse_command("", &style), Command::Help(None)));
            assert!(
                matches!(parse_command("revoke", &style), Command::Help(Some(m)) if m.contains("grant id"))
            );
        }
        assert_eq!(
            parse_command("revoke g-1", &SLACK),
            Command::Revoke {
                id: "g-1".into(),
                reason: "revoked from Slack".into()
            }
        );
        assert_eq!(
            parse_command(
                "request iam-admin 1h account=111122223333 as=ReadOnly INC 7",
                &TEAMS
            ),
            Command::Request {
                bundle: "iam-admin".into(),
                duration_secs: 3600,
                accounts: vec!["111122223333".into()],
                permission_set: Some("ReadOnly".into()),
                starts_at: None,
                reason: "INC 7".into()
            }
        );
        // Several accounts, comma-separated or repeated: one grant each.
        assert_eq!(
            parse_command(
                "request iam-admin 1h account=111122223333,444455556666 account=777788889999 INC 8",
                &SLACK
            ),
            Command::Request {
                bundle: "iam-admin".into(),
                duration_secs: 3600,
                accounts: vec![
                    "111122223333".into(),
                    "444455556666".into(),
                    "777788889999".into()
                ],
                permission_set: None,
                starts_at: None,
                reason: "INC 8".into()
            }
        );
        assert_eq!(
            parse_command("revoke g-1  all done ", &TEAMS),
            Command::Revoke {
                id: "g-1".into(),
                reason: "all done".into()
            }
        );
    }

    #[test]
    fn each_platform_says_it_in_its_own_markup() {
        assert_eq!(
            SLACK.usage(),
            "Usage: `/latch request <bundle> <duration> [account=<id>[,<id>…]] [as=<permission set>] [start=<time>] <reason>` (e.g. `/latch request iam-admin 1h account=111122223333 incident 4411`), `/latch grants`, `/latch extend <grant-id> <duration> [reason]`, `/latch done <grant-id> [reason]`, `/latch revoke <grant-id> [reason]`"
        );
        assert!(TEAMS.usage().starts_with("Usage: `request <bundle>"));
        assert_eq!(SLACK.b("iam-admin"), "*iam-admin*");
        assert_eq!(TEAMS.b("iam-admin"), "**iam-admin**");
    }
}
