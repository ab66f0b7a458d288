//! Every AWS call Latch makes, and the IAM actions each one needs: the one list the
//! installation's roles (`deploy/cloudformation`, `deploy/terraform`) are held to.
//!
//! A test reads this crate's sources and requires the table to name exactly the SDK
//! operations they call (the test harness of the `testing` module aside); the least-privilege
//! tests (`tests/least_privilege.rs`) evaluate the deployed policies with Latch's own engine
//! against every action here. Each row is also checked at compile time: `calls!` names the
//! SDK client's method, so a misspelt operation does not build.

/// Where a call is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reach {
    /// With the control plane's own credentials, in the management (or delegated
    /// administrator) account: AWS Organizations, STS, IAM Identity Center, S3.
    Organization,
    /// In every account: through the member role, and with the control plane's own
    /// credentials in its own account.
    EveryAccount,
}

/// One SDK operation Latch calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The SDK crate, without `aws-sdk-` (`iam`, `organizations`, `ssoadmin`).
    pub service: &'static str,
    /// The client's method (`get_account_authorization_details`).
    pub operation: &'static str,
    /// The IAM actions AWS authorizes the call with.
    pub actions: &'static [&'static str],
    /// Where it is called from.
    pub reach: Reach,
}

macro_rules! calls {
    ($( $svc:ident :: $op:ident => [$($action:literal),+ $(,)?], $reach:ident; )+) => {
        /// Every SDK operation Latch calls, by service and operation.
        pub const CALLS: &[Call] = &[
            $(Call {
                service: stringify!($svc),
                operation: stringify!($op),
                actions: &[$($action),+],
                reach: Reach::$reach,
            },)+
        ];

        /// Each row names a method of its service's SDK client (checked by the compiler).
        #[cfg(test)]
        #[expect(dead_code, reason = "only type-checked, never run")]
        fn every_row_is_an_sdk_operation() {
            $(
                paste_client!($svc, $op);
            )+
        }
    };
}

#[cfg(test)]
macro_rules! paste_client {
    (organizations, $op:ident) => {
        let _ = aws_sdk_organizations::Client::$op;
    };
    (iam, $op:ident) => {
        let _ = aws_sdk_iam::Client::$op;
    };
    (sts, $op:ident) => {
        let _ = aws_sdk_sts::Client::$op;
    };
    (s3, $op:ident) => {
        let _ = aws_sdk_s3::Client::$op;
    };
    (lambda, $op:ident) => {
        let _ = aws_sdk_lambda::Client::$op;
    };
    (ec2, $op:ident) => {
        let _ = aws_sdk_ec2::Client::$op;
    };
    (cloudformation, $op:ident) => {
        let _ = aws_sdk_cloudformation::Client::$op;
    };
    (codebuild, $op:ident) => {
        let _ = aws_sdk_codebuild::Client::$op;
    };
    (glue, $op:ident) => {
        let _ = aws_sdk_glue::Client::$op;
    };
    (sagemaker, $op:ident) => {
        let _ = aws_sdk_sagemaker::Client::$op;
    };
    (ecs, $op:ident) => {
        let _ = aws_sdk_ecs::Client::$op;
    };
    (cloudtrail, $op:ident) => {
        let _ = aws_sdk_cloudtrail::Client::$op;
    };
    (ssoadmin, $op:ident) => {
        let _ = aws_sdk_ssoadmin::Client::$op;
    };
    (eventbridge, $op:ident) => {
        let _ = aws_sdk_eventbridge::Client::$op;
    };
    (identitystore, $op:ident) => {
        let _ = aws_sdk_identitystore::Client::$op;
    };
}

calls! {
    // The organization: its tree, its policies and their tags (`collect`, `apply`, `drift`).
    organizations::describe_organization => ["organizations:DescribeOrganization"], Organization;
    organizations::list_roots => ["organizations:ListRoots"], Organization;
    organizations::list_organizational_units_for_parent => ["organizations:ListOrganizationalUnitsForParent"], Organization;
    organizations::list_accounts_for_parent => ["organizations:ListAccountsForParent"], Organization;
    organizations::list_accounts => ["organizations:ListAccounts"], Organization;
    organizations::list_policies => ["organizations:ListPolicies"], Organization;
    organizations::list_policies_for_target => ["organizations:ListPoliciesForTarget"], Organization;
    organizations::list_targets_for_policy => ["organizations:ListTargetsForPolicy"], Organization;
    organizations::describe_policy => ["organizations:DescribePolicy"], Organization;
    organizations::list_tags_for_resource => ["organizations:ListTagsForResource"], Organization;
    // Latch's own SCPs and RCPs (`apply`, `drift --repair`, `emergency-stop`, Identity Center
    // grants). A policy created with tags is authorized as a tagging call as well.
    organizations::enable_policy_type => ["organizations:EnablePolicyType"], Organization;
    organizations::create_policy => ["organizations:CreatePolicy", "organizations:TagResource"], Organization;
    organizations::update_policy => ["organizations:UpdatePolicy"], Organization;
    organizations::attach_policy => ["organizations:AttachPolicy"], Organization;
    organizations::detach_policy => ["organizations:DetachPolicy"], Organization;
    organizations::delete_policy => ["organizations:DeletePolicy"], Organization;
    organizations::tag_resource => ["organizations:TagResource"], Organization;
    organizations::untag_resource => ["organizations:UntagResource"], Organization;
    // Who the credentials are, and the member role.
    sts::get_caller_identity => ["sts:GetCallerIdentity"], Organization;
    sts::assume_role => ["sts:AssumeRole"], Organization;
    // CloudTrail log files (`collect --cloudtrail-bucket`) and the server's audit checkpoints
    // (an object put under object lock is authorized for its retention as well).
    s3::list_objects_v2 => ["s3:ListBucket"], Organization;
    s3::get_object => ["s3:GetObject"], Organization;
    s3::put_object => ["s3:PutObject", "s3:PutObjectRetention"], Organization;
    // A synthetic denial on the organization's Latch event bus (`latch doctor`).
    eventbridge::put_events => ["events:PutEvents"], Organization;
    // IAM Identity Center: permission sets, assignments, people (`collect`, the directory).
    ssoadmin::list_instances => ["sso:ListInstances"], Organization;
    ssoadmin::list_permission_sets => ["sso:ListPermissionSets"], Organization;
    ssoadmin::describe_permission_set => ["sso:DescribePermissionSet"], Organization;
    ssoadmin::list_account_assignments => ["sso:ListAccountAssignments"], Organization;
    ssoadmin::get_inline_policy_for_permission_set => ["sso:GetInlinePolicyForPermissionSet"], Organization;
    ssoadmin::list_managed_policies_in_permission_set => ["sso:ListManagedPoliciesInPermissionSet"], Organization;
    ssoadmin::list_customer_managed_policy_references_in_permission_set => ["sso:ListCustomerManagedPolicyReferencesInPermissionSet"], Organization;
    ssoadmin::get_permissions_boundary_for_permission_set => ["sso:GetPermissionsBoundaryForPermissionSet"], Organization;
    identitystore::list_users => ["identitystore:ListUsers"], Organization;
    identitystore::list_groups => ["identitystore:ListGroups"], Organization;
    identitystore::list_group_memberships => ["identitystore:ListGroupMemberships"], Organization;
    // Each account's IAM (`collect`), its `AWSReservedSSO_*` roles (the directory) and the
    // `latch:*` tags on its users and roles (`apply`, `drift`, grants).
    iam::get_account_authorization_details => ["iam:GetAccountAuthorizationDetails"], EveryAccount;
    iam::generate_credential_report => ["iam:GenerateCredentialReport"], EveryAccount;
    iam::get_credential_report => ["iam:GetCredentialReport"], EveryAccount;
    iam::generate_service_last_accessed_details => ["iam:GenerateServiceLastAccessedDetails"], EveryAccount;
    iam::get_service_last_accessed_details => ["iam:GetServiceLastAccessedDetails"], EveryAccount;
    iam::list_roles => ["iam:ListRoles"], EveryAccount;
    iam::list_role_tags => ["iam:ListRoleTags"], EveryAccount;
    iam::list_user_tags => ["iam:ListUserTags"], EveryAccount;
    iam::tag_role => ["iam:TagRole"], EveryAccount;
    iam::tag_user => ["iam:TagUser"], EveryAccount;
    iam::untag_role => ["iam:UntagRole"], EveryAccount;
    iam::untag_user => ["iam:UntagUser"], EveryAccount;
    // The `latch-session-cutoff` inline policy (revoking a grant ends older sessions).
    iam::get_role_policy => ["iam:GetRolePolicy"], EveryAccount;
    iam::get_user_policy => ["iam:GetUserPolicy"], EveryAccount;
    iam::put_role_policy => ["iam:PutRolePolicy"], EveryAccount;
    iam::put_user_policy => ["iam:PutUserPolicy"], EveryAccount;
    // Each account's trails and event selectors: which calls CloudTrail records at all.
    cloudtrail::describe_trails => ["cloudtrail:DescribeTrails"], EveryAccount;
    cloudtrail::get_event_selectors => ["cloudtrail:GetEventSelectors"], EveryAccount;
    // The workload inventory: what runs as which role, per account and region.
    ec2::describe_regions => ["ec2:DescribeRegions"], EveryAccount;
    ec2::describe_instances => ["ec2:DescribeInstances"], EveryAccount;
    lambda::list_functions => ["lambda:ListFunctions"], EveryAccount;
    cloudformation::describe_stacks => ["cloudformation:DescribeStacks"], EveryAccount;
    codebuild::list_projects => ["codebuild:ListProjects"], EveryAccount;
    codebuild::batch_get_projects => ["codebuild:BatchGetProjects"], EveryAccount;
    glue::get_jobs => ["glue:GetJobs"], EveryAccount;
    glue::get_dev_endpoints => ["glue:GetDevEndpoints"], EveryAccount;
    sagemaker::list_notebook_instances => ["sagemaker:ListNotebookInstances"], EveryAccount;
    sagemaker::describe_notebook_instance => ["sagemaker:DescribeNotebookInstance"], EveryAccount;
    ecs::list_task_definitions => ["ecs:ListTaskDefinitions"], EveryAccount;
    ecs::describe_task_definition => ["ecs:DescribeTaskDefinition"], EveryAccount;
}

/// Where Latch's calls land, to build the requests AWS authorizes them as
/// ([`sample_requests`]).
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The account the call is made in.
    pub account: &'a str,
    /// The organization's management account (its policies' ARNs name it).
    pub management_account: &'a str,
    /// The organization's id (`o-…`).
    pub organization: &'a str,
    /// A member account (an account-level attachment names it).
    pub member_account: &'a str,
    /// The member role's name (assumed in every account).
    pub member_role: &'a str,
    /// The bucket of the organization's trail, when Latch reads it from S3.
    pub trail_bucket: Option<&'a str>,
    /// The bucket of the audit checkpoints, when the server publishes them to S3.
    pub checkpoint_bucket: Option<&'a str>,
}

/// The requests AWS authorizes when Latch calls `action` in `place`: (resource ARN, the
/// request's context keys), one per kind of resource it touches — an SCP and an RCP, the
/// root, an OU and an account for attachments, the tags it writes (`latch:*` keys only), the
/// objects it reads and writes. Empty for an S3 action whose bucket `place` does not name.
/// The installation's policies are held to these (`tests/least_privilege.rs`), and `latch
/// doctor` evaluates the credentials' own policies on them.
#[must_use]
pub fn sample_requests(action: &str, place: &Place<'_>) -> Vec<(String, serde_json::Value)> {
    use serde_json::json;
    let account = place.account;
    let org_arn = |kind: &str, tail: &str| {
        format!(
            "arn:aws:organizations::{}:{kind}/{}/{tail}",
            place.management_account, place.organization
        )
    };
    let scp_policy = org_arn("policy", "service_control_policy/p-abcd1234");
    let rcp_policy = org_arn("policy", "resource_control_policy/p-efgh5678");
    let role = format!("arn:aws:iam::{account}:role/app");
    let user = format!("arn:aws:iam::{account}:user/alice");
    let latch_tags =
        |key: &str| json!({"aws:TagKeys": [key], format!("aws:RequestTag/{key}"): "x"});
    let policy_type = |t: &str| json!({"organizations:PolicyType": t});
    let scp = "SERVICE_CONTROL_POLICY";
    let rcp = "RESOURCE_CONTROL_POLICY";
    match action {
        "organizations:EnablePolicyType" => vec![
            (org_arn("root", "r-ab12"), policy_type(scp)),
            (org_arn("root", "r-ab12"), policy_type(rcp)),
        ],
        "organizations:CreatePolicy" => vec![
            (
                org_arn("policy", "service_control_policy/p-new00001"),
                json!({"aws:RequestTag/latch:managed": "true", "aws:TagKeys": ["latch:managed"], "organizations:PolicyType": scp}),
            ),
            (
                org_arn("policy", "resource_control_policy/p-new00002"),
                json!({"aws:RequestTag/latch:managed": "true", "aws:TagKeys": ["latch:managed"], "organizations:PolicyType": rcp}),
            ),
        ],
        "organizations:UpdatePolicy" | "organizations:DeletePolicy" => {
            vec![
                (scp_policy, policy_type(scp)),
                (rcp_policy, policy_type(rcp)),
            ]
        }
        "organizations:AttachPolicy" | "organizations:DetachPolicy" => vec![
            (scp_policy, policy_type(scp)),
            (rcp_policy, policy_type(rcp)),
            (org_arn("root", "r-ab12"), policy_type(scp)),
            (org_arn("ou", "ou-ab12-cdefgh34"), policy_type(scp)),
            (org_arn("account", place.member_account), policy_type(rcp)),
        ],
        // Tags at creation, and the Identity Center grants' records.
        "organizations:TagResource" => vec![
            (
                scp_policy.clone(),
                json!({"aws:TagKeys": ["latch:managed"], "aws:RequestTag/latch:managed": "true", "organizations:PolicyType": scp}),
            ),
            (
                scp_policy,
                json!({"aws:TagKeys": ["latch:icgrant:ops"], "aws:RequestTag/latch:icgrant:ops": "x", "organizations:PolicyType": scp}),
            ),
        ],
        "organizations:UntagResource" => {
            vec![(
                scp_policy,
                json!({"aws:TagKeys": ["latch:icgrant:ops"], "organizations:PolicyType": scp}),
            )]
        }
        "organizations:DescribePolicy"
        | "organizations:ListTargetsForPolicy"
        | "organizations:ListTagsForResource" => vec![(scp_policy, policy_type(scp))],
        "sts:AssumeRole" => vec![(
            format!(
                "arn:aws:iam::{}:role/{}",
                place.member_account, place.member_role
            ),
            json!({}),
        )],
        "s3:ListBucket" => place
            .trail_bucket
            .map(|b| {
                (
                    format!("arn:aws:s3:::{b}"),
                    json!({"s3:prefix": "AWSLogs/"}),
                )
            })
            .into_iter()
            .collect(),
        "s3:GetObject" => place
            .trail_bucket
            .map(|b| {
                (
                    format!(
                        "arn:aws:s3:::{b}/AWSLogs/{}/{}/CloudTrail/us-east-1/2026/11/01/f.json.gz",
                        place.organization, place.member_account
                    ),
                    json!({}),
                )
            })
            .into_iter()
            .collect(),
        "events:PutEvents" => vec![(
            format!(
                "arn:aws:events:us-east-1:{account}:event-bus/{}",
                latch_contract::DENIAL_BUS_NAME
            ),
            json!({}),
        )],
        "s3:PutObject" | "s3:PutObjectRetention" => place
            .checkpoint_bucket
            .map(|b| {
                (
                    format!("arn:aws:s3:::{b}/checkpoints/0000000042.json"),
                    json!({}),
                )
            })
            .into_iter()
            .collect(),
        "iam:TagRole" => vec![
            (role.clone(), latch_tags("latch:grant:ops")),
            (role, latch_tags("latch:quarantine")),
        ],
        "iam:UntagRole" => vec![(
            role,
            json!({"aws:TagKeys": ["latch:grant:ops", "latch:unlock:services"]}),
        )],
        "iam:TagUser" => vec![(user, latch_tags("latch:grant:ops"))],
        "iam:UntagUser" => vec![(user, json!({"aws:TagKeys": ["latch:grant:ops"]}))],
        "iam:PutRolePolicy" | "iam:GetRolePolicy" | "iam:ListRoleTags" => vec![(role, json!({}))],
        "iam:PutUserPolicy" | "iam:GetUserPolicy" | "iam:ListUserTags" => vec![(user, json!({}))],
        "iam:GenerateServiceLastAccessedDetails" => vec![(role, json!({})), (user, json!({}))],
        _ => vec![("*".to_owned(), json!({}))],
    }
}

/// Every IAM action of [`CALLS`] made from `reach`, sorted, each once.
#[must_use]
pub fn actions(reach: Reach) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = CALLS
        .iter()
        .filter(|c| c.reach == reach)
        .flat_map(|c| c.actions.iter().copied())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The SDK operations called in `source` (Rust text): in each chain that ends in `.send()` or
/// `.into_paginator()`, the last of the calls without arguments that open it, after what
/// builds the client (`aws.organizations().list_accounts()` → `list_accounts`,
/// `Client::new(&config).describe_regions()` → `describe_regions`). Comments are skipped.
#[must_use]
pub fn operations_in(source: &str) -> Vec<String> {
    let text = without_comments(source);
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for end in ["send()", "into_paginator()"] {
        let mut from = 0;
        while let Some(found) = text.get(from..).and_then(|t| t.find(end)) {
            let at = from + found;
            from = at + end.len();
            // `.send()` as a method, not `resend()`.
            if at == 0 || bytes.get(at - 1) != Some(&b'.') {
                continue;
            }
            let chain = chain_before(bytes, at - 1);
            // In call order: the calls that build the client (`Client::new(&config)`,
            // `Aws::iam(&sdk)`) take arguments and come first; then the accessors, the last of
            // which is the operation.
            let op = chain
                .iter()
                .rev()
                .skip_while(|(_, args)| *args)
                .take_while(|(name, args)| !args && !PAGING.contains(&name.as_str()))
                .last()
                .map(|(name, _)| name.clone());
            if let Some(op) = op {
                out.push(op);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The calls between an operation and `.send()` that take no argument.
const PAGING: [&str; 2] = ["into_paginator", "items"];

/// The methods called before the `.` at `dot`, nearest first, each with whether it took
/// arguments.
fn chain_before(bytes: &[u8], dot: usize) -> Vec<(String, bool)> {
    let mut chain = Vec::new();
    let mut pos = dot;
    while let Some(close) = skip_space_back(bytes, pos) {
        if bytes.get(close) != Some(&b')') {
            break;
        }
        let Some(open) = matching_open(bytes, close) else {
            break;
        };
        let args = bytes
            .get(open + 1..close)
            .is_some_and(|a| a.iter().any(|b| !b.is_ascii_whitespace()));
        let mut start = open;
        while start > 0
            && bytes
                .get(start - 1)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            start -= 1;
        }
        let name = String::from_utf8_lossy(bytes.get(start..open).unwrap_or_default()).into_owned();
        // A raw identifier (`.r#type(..)`).
        let before = if start >= 2 && bytes.get(start - 2..start) == Some(b"r#") {
            start - 2
        } else {
            start
        };
        chain.push((name, args));
        match skip_space_back(bytes, before) {
            Some(d) if bytes.get(d) == Some(&b'.') => pos = d,
            _ => break,
        }
    }
    chain
}

/// The last non-space byte before `pos`.
fn skip_space_back(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut i = pos;
    while i > 0 {
        i -= 1;
        if !bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            return Some(i);
        }
    }
    None
}

/// The `(` that the `)` at `close` closes.
fn matching_open(bytes: &[u8], close: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = close + 1;
    while i > 0 {
        i -= 1;
        match bytes.get(i) {
            Some(b')') => depth += 1,
            Some(b'(') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `source` with `//` comments blanked (kept in place, so positions stay).
fn without_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            // Not inside a string on that line (an URL in a literal keeps its text).
            Some(i)
                if line
                    .get(..i)
                    .is_some_and(|b| b.matches('"').count() % 2 == 0) =>
            {
                line.get(..i).unwrap_or_default().to_owned()
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::collections::BTreeSet;

    use super::*;

    /// The crate's sources, read from disk, the test harness (`testing`) aside.
    fn sources() -> Vec<(String, String)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let rel = path
                    .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if rel == "src/testing" || rel == "src/testing.rs" {
                    continue;
                }
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push((rel, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut out,
        );
        out.sort();
        assert!(out.len() > 20, "the sources were not found");
        out
    }

    #[test]
    fn the_table_lists_exactly_the_operations_the_sources_call() {
        let mut called: BTreeSet<String> = BTreeSet::new();
        for (file, text) in sources() {
            if file == "src/calls.rs" {
                continue;
            }
            called.extend(operations_in(&text));
        }
        let listed: BTreeSet<String> = CALLS.iter().map(|c| c.operation.to_owned()).collect();
        let missing: Vec<&String> = called.difference(&listed).collect();
        let extra: Vec<&String> = listed.difference(&called).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "called but not in CALLS: {missing:?}; in CALLS but never called: {extra:?}"
        );
    }

    #[test]
    fn each_operation_once_and_every_action_in_the_catalog() {
        let mut seen = BTreeSet::new();
        let catalog = latch_catalog::Catalog::get();
        for c in CALLS {
            assert!(
                seen.insert((c.service, c.operation)),
                "{}::{} twice",
                c.service,
                c.operation
            );
            for a in c.actions {
                assert!(
                    catalog.resolve(a).is_some(),
                    "{a} ({}::{}) is not an IAM action",
                    c.service,
                    c.operation
                );
            }
        }
        // An operation name is listed under one service only: the scan finds names.
        let names: BTreeSet<&str> = CALLS.iter().map(|c| c.operation).collect();
        assert_eq!(names.len(), CALLS.len());
    }

    #[test]
    fn the_scanner_reads_chains_as_written() {
        let text = r#"
            let a = aws.organizations().list_accounts().into_paginator().send();
            let b = iam
                .tag_role()
                .role_name(name) // a comment .not_an_op()
                .tags(t)
                .send()
                .await;
            let c = org.create_policy().name(n).r#type(k.sdk()).send();
            let d = self.client.put_object()
                // S3 wants a checksum
                .bucket(&b).send();
            tx.send(value);
            let e = client.clone().describe_regions().send();
            let f = aws_sdk_cloudtrail::Client::new(&regional)
                .get_event_selectors()
                .trail_name(arn)
                .send();
            let g = Aws::iam(&config).list_roles().path_prefix(p).into_paginator().items().send();
        "#;
        assert_eq!(
            operations_in(text),
            [
                "create_policy",
                "describe_regions",
                "get_event_selectors",
                "list_accounts",
                "list_roles",
                "put_object",
                "tag_role"
            ]
        );
    }
}
