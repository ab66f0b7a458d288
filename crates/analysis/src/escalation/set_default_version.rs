//! Rule `set-default-policy-version`: make an older, more powerful version of a managed policy
//! the one in force.
//!
//! ## What it finds
//! A principal that may call `iam:SetDefaultPolicyVersion` on a managed policy that applies to
//! a target principal of its account — attached to it, attached to one of its groups, or its
//! permissions boundary — where one of the versions IAM stores besides the default would make
//! the target admin-equivalent once it is the default. The engine judges each version as
//! `modify-policy` judges `iam:CreatePolicyVersion`, but with the version's own document instead
//! of `Allow *`, and in place of today's document wherever the policy applies (so a version that
//! drops a Deny, or widens a boundary, counts; one that a boundary or SCP still caps does not).
//! As in `modify-policy`, the target is the principal itself or one it can act as (assume the
//! role, rewrite the role's trust policy and assume it, or create credentials for the user),
//! and the edge goes to `admin`.
//!
//! AWS refuses the call on AWS managed policies (`arn:aws:iam::aws:policy/...`), whatever the
//! policies say, and so does the engine (`latch_policy::protected`): their versions are never a
//! way up.
//!
//! ## Why it is bad
//! A policy's old versions stay stored (up to five in all) after it is tightened, and the
//! permission to pick the default is often granted with `iam:CreatePolicyVersion` or
//! `iam:*Policy*` to people who are not meant to write policies. Rolling back is a single call
//! that creates nothing new: the grant it restores was reviewed once, long ago, and is easy to
//! overlook.
//!
//! ## Example
//! `ci-deployer` is attached to `deploy-tools`, whose default version `v3` allows only
//! CodeDeploy; `v1`, from before it was tightened, allows `*` on `*`. `ci-deployer` may
//! `iam:SetDefaultPolicyVersion` on `deploy-tools`: it makes `v1` the default and is an
//! administrator.
//!
//! ## How to fix
//! Delete policy versions that are no longer meant to be used (`iam:DeletePolicyVersion`),
//! above all those broader than the default; grant `iam:SetDefaultPolicyVersion` only to the
//! identity administrators, and never on the policies attached to the principal holding it.
//!
//! ## References
//! - AWS IAM User Guide, "Versioning IAM policies" (rolling back by setting the default version;
//!   at most five versions are stored),
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html>.
//! - AWS IAM API Reference, "SetDefaultPolicyVersion" (the version becomes the operative one for
//!   every user, group and role the policy is attached to),
//!   <https://docs.aws.amazon.com/IAM/latest/APIReference/API_SetDefaultPolicyVersion.html>.
//! - Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and Mitigation" (setting the
//!   default policy version to an existing version).

use std::collections::BTreeMap;

use latch_model::{ManagedPolicy, PolicySource, PolicyVersion};

use super::context::GraphContext;
use super::modify_policy::acting_as;
use super::{Edge, Rule, Target, Technique};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct SetDefaultVersion;

const ACTION: &str = "iam:SetDefaultPolicyVersion";

/// The managed policies that apply to a principal and store versions besides the default:
/// attached (directly or through a group) and its permissions boundary, each once.
fn versioned_policies<'a>(ctx: &GraphContext<'a>, target: usize) -> Vec<&'a ManagedPolicy> {
    let Some(principal) = ctx.principal(target) else {
        return Vec::new();
    };
    let attached = principal
        .identity_policies()
        .into_iter()
        .filter_map(|p| match p.source {
            PolicySource::Managed { policy } | PolicySource::GroupManaged { policy, .. } => {
                Some(policy)
            }
            PolicySource::Inline { .. } | PolicySource::GroupInline { .. } => None,
        });
    let mut out: Vec<&ManagedPolicy> = Vec::new();
    for policy in attached.chain(principal.permissions_boundary()) {
        if !policy.other_versions.is_empty() && !out.iter().any(|p| p.arn == policy.arn) {
            out.push(policy);
        }
    }
    out
}

/// A version `src` may make the default, and that makes the target admin-equivalent.
struct Found<'a> {
    policy: &'a ManagedPolicy,
    version: &'a PolicyVersion,
    labels: Vec<String>,
}

/// Whether a target is admin-equivalent with a version as the default: (target, policy ARN,
/// version id).
type Verdicts = BTreeMap<(usize, String, String), bool>;

fn find<'a>(
    ctx: &GraphContext<'a>,
    verdicts: &mut Verdicts,
    src: usize,
    target: usize,
    policies: &[&'a ManagedPolicy],
) -> Option<Found<'a>> {
    for &policy in policies {
        // Asked of the engine: AWS managed policies are refused there.
        let Some(labels) = ctx.evaluate(src, ACTION, &policy.arn, None, None, &[]) else {
            continue;
        };
        for version in &policy.other_versions {
            let key = (target, policy.arn.clone(), version.id.clone());
            let admin = *verdicts.entry(key).or_insert_with(|| {
                ctx.admin_with_document(target, &policy.arn, &version.document.policy)
            });
            if admin {
                return Some(Found {
                    policy,
                    version,
                    labels,
                });
            }
        }
    }
    None
}

impl Rule for SetDefaultVersion {
    fn id(&self) -> Technique {
        Technique::SetDefaultPolicyVersion
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        let mut verdicts = Verdicts::new();
        let mut out = Vec::new();
        for members in ctx.by_account.values() {
            let targets: Vec<(usize, Vec<&ManagedPolicy>)> = members
                .iter()
                .map(|&t| (t, versioned_policies(ctx, t)))
                .filter(|(_, policies)| !policies.is_empty())
                .collect();
            if targets.is_empty() {
                continue;
            }
            for &src in members {
                if !ctx.is_source(src) || !ctx.may(src, ACTION) {
                    continue;
                }
                let src_arn = ctx.arn(src);
                for (target, policies) in &targets {
                    let target = *target;
                    if target != src && ctx.is_admin_node(target) {
                        continue;
                    }
                    let Some(act) = acting_as(ctx, src, target) else {
                        continue;
                    };
                    let Some(found) = find(ctx, &mut verdicts, src, target, policies) else {
                        continue;
                    };
                    let mut actions = vec![ACTION.to_owned()];
                    actions.extend(act.actions.iter().map(|a| (*a).to_owned()));
                    out.push(Edge {
                        from: src_arn.to_owned(),
                        to: Target::Admin,
                        technique: Technique::SetDefaultPolicyVersion,
                        actions,
                        detail: format!(
                            "`{src_arn}` may make version `{}` of `{}` (default today: `{}`) \
                             the default ({ACTION}); that version makes `{}` \
                             admin-equivalent{}; allowed by: {}",
                            found.version.id,
                            found.policy.arn,
                            found.policy.default_version_id,
                            ctx.arn(target),
                            act.then,
                            found.labels.join(", ")
                        ),
                    });
                }
            }
        }
        out
    }
}
