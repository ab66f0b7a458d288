//! The `/latch` slash command's grammar.

use crate::clock::parse_duration;

/// A parsed `/latch` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/latch request <bundle> <duration> <reason…>`
    Request {
        /// Bundle.
        bundle: String,
        /// Seconds.
        duration_secs: i64,
        /// Reason.
        reason: String,
    },
    /// `/latch grants`
    Grants,
    /// `/latch revoke <id> [reason…]`
    Revoke {
        /// Grant id.
        id: String,
        /// Reason.
        reason: String,
    },
    /// Anything else: usage.
    Help(Option<String>),
}

/// Usage text.
pub const USAGE: &str = "Usage: `/latch request <bundle> <duration> <reason>` (e.g. `/latch request iam-admin 1h incident 4411`), `/latch grants`, `/latch revoke <grant-id> [reason]`";

/// Parse the text after `/latch`.
#[must_use]
pub fn parse_command(text: &str) -> Command {
    let mut words = text.split_whitespace();
    match words.next() {
        Some("request") => {
            let (Some(bundle), Some(duration)) = (words.next(), words.next()) else {
                return Command::Help(Some(
                    "`request` needs a bundle, a duration and a reason".into(),
                ));
            };
            let reason = words.collect::<Vec<_>>().join(" ");
            match parse_duration(duration) {
                Ok(duration_secs) => Command::Request {
                    bundle: bundle.to_owned(),
                    duration_secs,
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
                        "revoked from Slack".to_owned()
                    } else {
                        r
                    }
                },
            },
            None => Command::Help(Some("`revoke` needs a grant id".into())),
        },
        _ => Command::Help(None),
    }
}
