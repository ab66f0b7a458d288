//! What AWS refuses whatever the policies say: resources that belong to AWS or to one of its
//! services, which no policy of the account can open up.
//!
//! Each row of [`PROTECTIONS`] names the resources it covers, the actions AWS refuses on them
//! and the documentation page that says so. A request for one of those actions on one of those
//! resources is an `ImplicitDeny` whose reason names the protection, before any policy is
//! read: not even the account root user or an `Allow *` gets past it. Reads (and every action
//! not listed) stay with the policies.
//!
//! The table is the only place these rules live; the evaluator asks [`refusal`] once per
//! request.

use crate::arn;
use crate::request::Request;

/// Which resources a protection covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Covers {
    /// IAM roles whose path begins with this (`role/` followed by the path without its
    /// leading slash, e.g. `role/aws-service-role/`).
    RolePath(&'static str),
    /// Policies owned by AWS: `arn:PARTITION:iam::aws:policy/...`.
    AwsManagedPolicy,
    /// KMS aliases whose name begins with this (`alias/aws/`).
    KmsAlias(&'static str),
}

impl Covers {
    fn covers(self, parts: &[&str; 6]) -> bool {
        let [_, _, service, _, account, resource] = *parts;
        match self {
            Covers::RolePath(prefix) => service == "iam" && resource.starts_with(prefix),
            Covers::AwsManagedPolicy => {
                service == "iam" && account == "aws" && resource.starts_with("policy/")
            }
            Covers::KmsAlias(prefix) => service == "kms" && resource.starts_with(prefix),
        }
    }
}

/// One protected kind of resource.
#[derive(Debug, PartialEq, Eq)]
pub struct Protection {
    /// A short stable name, e.g. `identity-center-role` (in `latch eval` output as
    /// `refused_by`).
    pub name: &'static str,
    /// The resources it covers.
    pub covers: Covers,
    /// The actions AWS refuses on them, `service:Action` (compared case-insensitively).
    pub actions: &'static [&'static str],
    /// Why, in one sentence: the evaluation's reason.
    pub reason: &'static str,
    /// The AWS documentation page that says so.
    pub citation: &'static str,
}

/// Every protection AWS applies whatever the policies say.
pub const PROTECTIONS: &[Protection] = &[
    // IAM Identity Center creates one role per permission set and account, on the path
    // `/aws-reserved/sso.amazonaws.com/` (names `AWSReservedSSO_*`), and keeps it in step with
    // the permission set; IAM refuses changes made directly with "Cannot perform the operation
    // on the protected role ... this role is only modifiable by AWS". Creating a role on that
    // path is refused the same way. "IAM roles created by IAM Identity Center",
    // https://docs.aws.amazon.com/singlesignon/latest/userguide/identity-center-and-iam-roles.html
    // and "Using service-linked roles for IAM Identity Center" (only the service-linked role
    // AWSServiceRoleForSSO may create and change them),
    // https://docs.aws.amazon.com/singlesignon/latest/userguide/using-service-linked-roles.html
    Protection {
        name: "identity-center-role",
        covers: Covers::RolePath("role/aws-reserved/sso.amazonaws.com/"),
        actions: &[
            "iam:AttachRolePolicy",
            "iam:DetachRolePolicy",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:PutRolePermissionsBoundary",
            "iam:DeleteRolePermissionsBoundary",
            "iam:UpdateAssumeRolePolicy",
            "iam:UpdateRole",
            "iam:UpdateRoleDescription",
            "iam:DeleteRole",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:CreateRole",
        ],
        reason: "IAM Identity Center roles (path /aws-reserved/sso.amazonaws.com/) are protected: only IAM Identity Center may create or change them, whatever the policies say",
        citation: "https://docs.aws.amazon.com/singlesignon/latest/userguide/identity-center-and-iam-roles.html",
    },
    // Service-linked roles (path `/aws-service-role/`): their permissions, trust and boundary
    // belong to the service, and IAM answers `UnmodifiableEntity`; they are deleted through
    // the service (`iam:DeleteServiceLinkedRole`), not `DeleteRole`. Their description may be
    // edited. "Update a service-linked role",
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-service-linked-role.html
    // and the `UnmodifiableEntity` error of the IAM API Reference (e.g. PutRolePolicy),
    // https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html
    Protection {
        name: "service-linked-role",
        covers: Covers::RolePath("role/aws-service-role/"),
        actions: &[
            "iam:AttachRolePolicy",
            "iam:DetachRolePolicy",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:PutRolePermissionsBoundary",
            "iam:DeleteRolePermissionsBoundary",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRole",
        ],
        reason: "service-linked roles (path /aws-service-role/) are protected: only their service may change their policies, trust or boundary, or delete them (UnmodifiableEntity), whatever the policies say",
        citation: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-service-linked-role.html",
    },
    // AWS managed policies (`arn:aws:iam::aws:policy/...`) are created and updated by AWS:
    // "You cannot change the permissions defined in AWS managed policies". "AWS managed
    // policies", https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html#aws-managed-policies
    Protection {
        name: "aws-managed-policy",
        covers: Covers::AwsManagedPolicy,
        actions: &[
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:DeletePolicyVersion",
            "iam:DeletePolicy",
            "iam:TagPolicy",
            "iam:UntagPolicy",
        ],
        reason: "AWS managed policies (arn:aws:iam::aws:policy/...) belong to AWS: no account can change, tag or delete them, whatever the policies say",
        citation: "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html#aws-managed-policies",
    },
    // KMS aliases under `alias/aws/` name AWS managed keys: "The alias/aws/ prefix is reserved
    // for AWS managed keys", and their aliases cannot be managed. "Create aliases",
    // https://docs.aws.amazon.com/kms/latest/developerguide/alias-create.html
    Protection {
        name: "aws-managed-key-alias",
        covers: Covers::KmsAlias("alias/aws/"),
        actions: &["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"],
        reason: "KMS aliases under alias/aws/ are reserved for AWS managed keys: no account can create, repoint or delete them, whatever the policies say",
        citation: "https://docs.aws.amazon.com/kms/latest/developerguide/alias-create.html",
    },
];

/// The protection that refuses this request, if any.
pub fn refusal(req: &Request) -> Option<&'static Protection> {
    // Cheap exit: every protection is on IAM or KMS.
    if req.service != "iam" && req.service != "kms" {
        return None;
    }
    let parts = arn::split(&req.resource)?;
    PROTECTIONS.iter().find(|p| {
        p.covers.covers(&parts)
            && p.actions
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&req.action_lc))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::context::Context;

    fn refused(action: &str, resource: &str) -> Option<&'static str> {
        let req = Request::new(
            "arn:aws:iam::111122223333:user/admin",
            action,
            resource,
            None,
            Context::default(),
        )
        .unwrap();
        refusal(&req).map(|p| p.name)
    }

    #[test]
    fn each_protection_covers_its_resources_only() {
        let ic = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123";
        assert_eq!(
            refused("iam:AttachRolePolicy", ic),
            Some("identity-center-role")
        );
        assert_eq!(refused("IAM:updaterole", ic), Some("identity-center-role"));
        assert_eq!(refused("iam:GetRole", ic), None);
        let slr = "arn:aws:iam::111122223333:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS";
        assert_eq!(refused("iam:DeleteRole", slr), Some("service-linked-role"));
        assert_eq!(refused("iam:UpdateRoleDescription", slr), None);
        assert_eq!(
            refused(
                "iam:CreatePolicyVersion",
                "arn:aws:iam::aws:policy/ReadOnlyAccess"
            ),
            Some("aws-managed-policy")
        );
        assert_eq!(
            refused(
                "iam:CreatePolicyVersion",
                "arn:aws-cn:iam::aws:policy/job-function/ViewOnlyAccess"
            ),
            Some("aws-managed-policy")
        );
        assert_eq!(
            refused(
                "iam:CreatePolicyVersion",
                "arn:aws:iam::111122223333:policy/aws/Mine"
            ),
            None
        );
        assert_eq!(
            refused(
                "kms:DeleteAlias",
                "arn:aws:kms:us-east-1:111122223333:alias/aws/ebs"
            ),
            Some("aws-managed-key-alias")
        );
        assert_eq!(
            refused(
                "kms:DeleteAlias",
                "arn:aws:kms:us-east-1:111122223333:alias/awsome"
            ),
            None
        );
        assert_eq!(refused("iam:AttachRolePolicy", "*"), None);
        assert_eq!(
            refused(
                "iam:AttachRolePolicy",
                "arn:aws:iam::111122223333:role/Admin"
            ),
            None
        );
    }

    #[test]
    fn the_table_is_well_formed() {
        for p in PROTECTIONS {
            assert!(p.citation.starts_with("https://docs.aws.amazon.com/"));
            assert!(!p.actions.is_empty());
            for a in p.actions {
                let (svc, name) = a.split_once(':').unwrap();
                assert!(
                    svc == "iam" || svc == "kms",
                    "{a}: refusal() only looks at iam and kms"
                );
                assert!(!name.is_empty() && !name.contains('*'));
            }
        }
    }
}
