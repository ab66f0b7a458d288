//! Rule `create-credentials`: create an access key or a console password for a user.
//!
//! ## What it finds
//! A principal that may call `iam:CreateAccessKey`, `iam:CreateLoginProfile` or
//! `iam:UpdateLoginProfile` on another IAM user of its account.
//!
//! ## Why it is bad
//! A new access key, or a console password the caller sets, lets the caller sign in as that
//! user and use all of its permissions. (Whether the user already has two keys or a login
//! profile is not in the snapshot: a full key slot or an existing password makes one of the
//! three calls fail, never all of them.)
//!
//! ## Example
//! The CI role `github-actions-deploy` may `iam:CreateAccessKey` on `user/ops-admin` (to
//! "rotate ops keys"); `ops-admin` has AdministratorAccess: a pushed workflow creates a key and
//! is admin.
//!
//! ## How to fix
//! Let users manage only their own credentials (`${aws:username}` in the resource); rotate
//! keys of other users through a dedicated, tightly held role; prefer roles over users.
//!
//! ## References
//! - AWS IAM User Guide, "Manage access keys for IAM users" and "Permissions required to
//!   access IAM resources".
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation"
//!   (`iam:CreateAccessKey`, `iam:CreateLoginProfile`, `iam:UpdateLoginProfile`).

use super::context::GraphContext;
use super::{Edge, Rule, Target, Technique};

/// The calls that give credentials for a user, in the order tried.
pub(super) const CREDENTIAL_ACTIONS: [&str; 3] = [
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
];

/// See the module documentation.
#[derive(Debug)]
pub(super) struct CreateCredentials;

/// The first credential action node `src` may call on the user of node `user`, with the
/// policies that allow it.
pub(super) fn credentials_for(
    ctx: &GraphContext<'_>,
    src: usize,
    user: usize,
) -> Option<(&'static str, Vec<String>)> {
    let arn = ctx.arn(user);
    if ctx.principal(user)?.as_user().is_none() || ctx.account(src) != ctx.account(user) {
        return None;
    }
    CREDENTIAL_ACTIONS.into_iter().find_map(|action| {
        if !ctx.may(src, action) {
            return None;
        }
        ctx.evaluate(src, action, arn, None, None, &[])
            .map(|labels| (action, labels))
    })
}

impl Rule for CreateCredentials {
    fn id(&self) -> Technique {
        Technique::CreateCredentials
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        let mut out = Vec::new();
        for (account, members) in &ctx.by_account {
            let users: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| ctx.principal(i).is_some_and(|p| p.as_user().is_some()))
                .collect();
            if users.is_empty() {
                continue;
            }
            for &src in members {
                if !ctx.is_source(src) || !CREDENTIAL_ACTIONS.iter().any(|a| ctx.may(src, a)) {
                    continue;
                }
                for &user in &users {
                    if user == src {
                        continue;
                    }
                    let Some((action, labels)) = credentials_for(ctx, src, user) else {
                        continue;
                    };
                    let what = if action == "iam:CreateAccessKey" {
                        "create an access key"
                    } else {
                        "set a console password"
                    };
                    out.push(Edge {
                        from: ctx.arn(src).to_owned(),
                        to: Target::Principal(ctx.arn(user).to_owned()),
                        technique: Technique::CreateCredentials,
                        actions: vec![action.to_owned()],
                        detail: format!(
                            "`{}` may {what} for `{}` (account {account}) and sign in as it; \
                             allowed by: {}",
                            ctx.arn(src),
                            ctx.arn(user),
                            labels.join(", ")
                        ),
                    });
                }
            }
        }
        out
    }
}
