//! From a CloudTrail event (`eventSource`, `eventName`, `errorCode`) to an IAM action.
//!
//! This file is the one place that knows how CloudTrail names differ from IAM action names.
//! The rules, in order:
//!
//! 1. **Service prefix** — `eventSource` minus `.amazonaws.com`, except for the sources in
//!    [`SOURCE_PREFIX`]: CloudWatch logs as `monitoring.amazonaws.com` but its actions are
//!    `cloudwatch:*`; the Resource Groups Tagging API logs as `tagging` with prefix `tag`.
//!    Sources in [`NOT_ACTIONS`] (console sign-in) record no IAM action at all; they still
//!    show that the identity is alive. A source not ending in `.amazonaws.com` is unmapped and
//!    counted, never guessed.
//! 2. **Version suffixes** — some services append the API version to the event name
//!    (Lambda: `UpdateFunctionCode20150331v2`, `ListFunctions20150331`; CloudFront:
//!    `CreateDistribution2020_05_31`). A trailing `YYYYMMDD`, `YYYYMMDDvN` or `YYYY_MM_DD`
//!    is removed. No IAM action name ends in eight digits, so this never harms a real name.
//! 3. **Renames** — where the API operation and the permission it needs have different
//!    names, [`RENAMES`] says which permission is used: mostly S3 (`ListObjects` needs
//!    `s3:ListBucket`, `HeadObject` needs `s3:GetObject`, `DeleteBucketCors` needs
//!    `s3:PutBucketCORS` …), following the S3 API reference's "Permissions" section of
//!    each operation. API Gateway management calls are authorised by HTTP verb
//!    (`apigateway:GET`, `POST`, `PUT`, `PATCH`, `DELETE`); the verb is inferred from the
//!    operation's first word ([`apigateway_verb`]).
//! 4. Otherwise the event name is the action name (`iam:CreateUser`, `ec2:RunInstances`).
//!
//! **Denied** — see [`is_denied`]: `AccessDenied`, `AccessDeniedException` and any code
//! containing `AccessDenied`; `UnauthorizedOperation` / `Client.UnauthorizedOperation`
//! (EC2) and any code ending in `UnauthorizedAccess`; SNS's `AuthorizationError`. Any
//! other error code is an authorised call that failed for another reason (throttling,
//! validation, not found): it counts as use, and is also counted in `errors`.
//!
//! **Not observable** — a few permissions are checked without an event of their own
//! ([`NOT_OBSERVABLE`]): `iam:PassRole` (checked inside the call that passes the role),
//! `sts:TagSession` and `sts:SetSourceIdentity` (inside `AssumeRole*`). CloudTrail can never
//! show them used; the analysis must not call them unused on that evidence alone.

use std::borrow::Cow;

/// Event sources whose IAM service prefix is not the host name.
pub const SOURCE_PREFIX: &[(&str, &str)] = &[("monitoring", "cloudwatch"), ("tagging", "tag")];

/// Event sources that are not IAM actions (the event shows activity, not a permission).
pub const NOT_ACTIONS: &[&str] = &["signin"];

/// Permissions that no CloudTrail event records by itself.
pub const NOT_OBSERVABLE: &[&str] = &["iam:PassRole", "sts:TagSession", "sts:SetSourceIdentity"];

/// `(service prefix, event name, IAM action name)`: operations that need a permission of
/// another name. Sorted by prefix and event name.
pub const RENAMES: &[(&str, &str, &str)] = &[
    ("s3", "CompleteMultipartUpload", "PutObject"),
    ("s3", "CopyObject", "PutObject"),
    ("s3", "CreateMultipartUpload", "PutObject"),
    ("s3", "DeleteBucketCors", "PutBucketCORS"),
    ("s3", "DeleteBucketEncryption", "PutEncryptionConfiguration"),
    ("s3", "DeleteBucketLifecycle", "PutLifecycleConfiguration"),
    (
        "s3",
        "DeleteBucketReplication",
        "PutReplicationConfiguration",
    ),
    ("s3", "DeleteBucketTagging", "PutBucketTagging"),
    ("s3", "DeleteObjects", "DeleteObject"),
    (
        "s3",
        "GetBucketAccelerateConfiguration",
        "GetAccelerateConfiguration",
    ),
    (
        "s3",
        "GetBucketAnalyticsConfiguration",
        "GetAnalyticsConfiguration",
    ),
    ("s3", "GetBucketCors", "GetBucketCORS"),
    ("s3", "GetBucketEncryption", "GetEncryptionConfiguration"),
    (
        "s3",
        "GetBucketIntelligentTieringConfiguration",
        "GetIntelligentTieringConfiguration",
    ),
    (
        "s3",
        "GetBucketInventoryConfiguration",
        "GetInventoryConfiguration",
    ),
    ("s3", "GetBucketLifecycle", "GetLifecycleConfiguration"),
    (
        "s3",
        "GetBucketLifecycleConfiguration",
        "GetLifecycleConfiguration",
    ),
    (
        "s3",
        "GetBucketMetricsConfiguration",
        "GetMetricsConfiguration",
    ),
    (
        "s3",
        "GetBucketNotificationConfiguration",
        "GetBucketNotification",
    ),
    ("s3", "GetBucketReplication", "GetReplicationConfiguration"),
    (
        "s3",
        "GetObjectLockConfiguration",
        "GetBucketObjectLockConfiguration",
    ),
    ("s3", "HeadBucket", "ListBucket"),
    ("s3", "HeadObject", "GetObject"),
    ("s3", "ListBuckets", "ListAllMyBuckets"),
    ("s3", "ListMultipartUploads", "ListBucketMultipartUploads"),
    ("s3", "ListObjectVersions", "ListBucketVersions"),
    ("s3", "ListObjects", "ListBucket"),
    ("s3", "ListObjectsV2", "ListBucket"),
    ("s3", "ListParts", "ListMultipartUploadParts"),
    (
        "s3",
        "PutBucketAccelerateConfiguration",
        "PutAccelerateConfiguration",
    ),
    ("s3", "PutBucketCors", "PutBucketCORS"),
    ("s3", "PutBucketEncryption", "PutEncryptionConfiguration"),
    ("s3", "PutBucketLifecycle", "PutLifecycleConfiguration"),
    (
        "s3",
        "PutBucketLifecycleConfiguration",
        "PutLifecycleConfiguration",
    ),
    (
        "s3",
        "PutBucketNotificationConfiguration",
        "PutBucketNotification",
    ),
    ("s3", "PutBucketReplication", "PutReplicationConfiguration"),
    (
        "s3",
        "PutObjectLockConfiguration",
        "PutBucketObjectLockConfiguration",
    ),
    ("s3", "SelectObjectContent", "GetObject"),
    ("s3", "UploadPart", "PutObject"),
    ("s3", "UploadPartCopy", "PutObject"),
];

/// For the generator: the event name CloudTrail records for an action whose name differs
/// (a fixed preference where several operations need it, else its row in [`RENAMES`]).
const PREFERRED_EVENT: &[(&str, &str, &str)] = &[
    ("s3", "GetLifecycleConfiguration", "GetBucketLifecycle"),
    ("s3", "ListBucket", "ListObjects"),
    ("s3", "PutLifecycleConfiguration", "PutBucketLifecycle"),
    ("s3", "PutObject", "PutObject"),
    ("s3", "DeleteObject", "DeleteObject"),
    ("s3", "GetObject", "GetObject"),
    ("s3", "GetBucketNotification", "GetBucketNotification"),
    ("s3", "PutBucketNotification", "PutBucketNotification"),
    ("s3", "PutBucketTagging", "PutBucketTagging"),
    ("s3", "PutBucketCORS", "PutBucketCors"),
    ("s3", "PutEncryptionConfiguration", "PutBucketEncryption"),
    ("s3", "PutReplicationConfiguration", "PutBucketReplication"),
];

/// What an event is, as far as permissions go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAction {
    /// An IAM action: `service` is the prefix, `action` the full `service:Name`.
    Action {
        /// The IAM service prefix (`s3`, `cloudwatch`).
        service: String,
        /// `service:ActionName`.
        action: String,
    },
    /// Activity that is not an IAM action (console sign-in).
    NotAnAction,
    /// The event source is not an AWS service endpoint this table knows.
    Unmapped,
}

/// Maps an event source and name to the IAM action it exercised.
#[must_use]
pub fn event_action(event_source: &str, event_name: &str) -> EventAction {
    let Some(host) = event_source.strip_suffix(".amazonaws.com") else {
        return EventAction::Unmapped;
    };
    if host.is_empty() || event_name.is_empty() {
        return EventAction::Unmapped;
    }
    if NOT_ACTIONS.contains(&host) {
        return EventAction::NotAnAction;
    }
    let service = SOURCE_PREFIX
        .iter()
        .find(|(h, _)| *h == host)
        .map_or(host, |(_, p)| p);
    let name = strip_version_suffix(event_name);
    let name: Cow<'_, str> = if service == "apigateway" {
        Cow::Borrowed(apigateway_verb(name))
    } else {
        match RENAMES
            .binary_search_by(|(s, e, _)| (*s, *e).cmp(&(service, name)))
            .ok()
            .and_then(|i| RENAMES.get(i))
        {
            Some((_, _, to)) => Cow::Borrowed(to),
            None => Cow::Borrowed(name),
        }
    };
    EventAction::Action {
        service: service.to_owned(),
        action: format!("{service}:{name}"),
    }
}

/// The HTTP verb that authorises an API Gateway management operation, from its first word.
#[must_use]
pub fn apigateway_verb(event_name: &str) -> &'static str {
    const VERBS: &[(&str, &str)] = &[
        ("Create", "POST"),
        ("Delete", "DELETE"),
        ("Flush", "DELETE"),
        ("Get", "GET"),
        ("Import", "PUT"),
        ("Put", "PUT"),
        ("Tag", "PUT"),
        ("Untag", "DELETE"),
        ("Update", "PATCH"),
    ];
    VERBS
        .iter()
        .find(|(w, _)| event_name.starts_with(w))
        .map_or("POST", |(_, v)| v)
}

/// Removes a trailing API version (`20150331`, `20150331v2`, `2020_05_31`) from an event name.
#[must_use]
pub fn strip_version_suffix(name: &str) -> &str {
    let b = name.as_bytes();
    // `…YYYYMMDDvN`
    let mut end = b.len();
    let digits_before = |end: usize| {
        b.iter()
            .take(end)
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let tail = digits_before(end);
    if tail > 0 && tail < end && b.get(end - tail - 1) == Some(&b'v') {
        end = end - tail - 1;
    }
    if digits_before(end) == 8 && end > 8 {
        return name.get(..end - 8).unwrap_or(name);
    }
    // `…YYYY_MM_DD`
    if b.len() > 10 {
        let t = b.get(b.len() - 10..).unwrap_or_default();
        let shape = t.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'_'
            } else {
                c.is_ascii_digit()
            }
        });
        if shape {
            return name.get(..b.len() - 10).unwrap_or(name);
        }
    }
    name
}

/// Whether an `errorCode` means the caller was not authorised.
#[must_use]
pub fn is_denied(error_code: &str) -> bool {
    error_code.contains("AccessDenied")
        || error_code.ends_with("UnauthorizedOperation")
        || error_code.ends_with("UnauthorizedAccess")
        || error_code == "AuthorizationError"
}

/// For the generator: the `(eventSource, eventName)` CloudTrail records for an IAM action,
/// or `None` when the action is not observable ([`NOT_OBSERVABLE`]) or is not a plain
/// `service:Name` (wildcards).
#[must_use]
pub fn event_for_action(action: &str) -> Option<(String, String)> {
    if NOT_OBSERVABLE.contains(&action) {
        return None;
    }
    let (service, name) = action.split_once(':')?;
    let valid = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    };
    if !valid(service) || !valid(name) {
        return None;
    }
    let host = SOURCE_PREFIX
        .iter()
        .find(|(_, p)| *p == service)
        .map_or(service, |(h, _)| h);
    let event = if service == "apigateway" {
        match name {
            "GET" => "GetRestApis".to_owned(),
            "POST" => "CreateRestApi".to_owned(),
            "PUT" => "PutRestApi".to_owned(),
            "PATCH" => "UpdateRestApi".to_owned(),
            "DELETE" => "DeleteRestApi".to_owned(),
            _ => return None,
        }
    } else if let Some((_, _, e)) = PREFERRED_EVENT
        .iter()
        .find(|(s, a, _)| *s == service && *a == name)
    {
        (*e).to_owned()
    } else if let Some((_, e, _)) = RENAMES.iter().find(|(s, _, a)| *s == service && *a == name) {
        (*e).to_owned()
    } else if service == "lambda" && name != "Invoke" {
        // Lambda's management events carry the API version.
        format!("{name}20150331")
    } else {
        name.to_owned()
    };
    Some((format!("{host}.amazonaws.com"), event))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn action(source: &str, name: &str) -> String {
        match event_action(source, name) {
            EventAction::Action { action, .. } => action,
            other => panic!("{source} {name}: {other:?}"),
        }
    }

    #[test]
    fn renames_are_sorted_for_binary_search() {
        assert!(RENAMES
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
    }

    #[test]
    fn maps_sources_and_names() {
        assert_eq!(action("s3.amazonaws.com", "GetObject"), "s3:GetObject");
        assert_eq!(action("s3.amazonaws.com", "ListObjects"), "s3:ListBucket");
        assert_eq!(action("s3.amazonaws.com", "ListObjectsV2"), "s3:ListBucket");
        assert_eq!(
            action("s3.amazonaws.com", "GetBucketLocation"),
            "s3:GetBucketLocation"
        );
        assert_eq!(
            action("s3.amazonaws.com", "ListBuckets"),
            "s3:ListAllMyBuckets"
        );
        assert_eq!(
            action("monitoring.amazonaws.com", "PutMetricAlarm"),
            "cloudwatch:PutMetricAlarm"
        );
        assert_eq!(
            action("tagging.amazonaws.com", "GetResources"),
            "tag:GetResources"
        );
        assert_eq!(
            action("lambda.amazonaws.com", "UpdateFunctionCode20150331v2"),
            "lambda:UpdateFunctionCode"
        );
        assert_eq!(
            action("lambda.amazonaws.com", "ListFunctions20150331"),
            "lambda:ListFunctions"
        );
        assert_eq!(action("lambda.amazonaws.com", "Invoke"), "lambda:Invoke");
        assert_eq!(
            action("cloudfront.amazonaws.com", "CreateDistribution2020_05_31"),
            "cloudfront:CreateDistribution"
        );
        assert_eq!(
            action("elasticloadbalancing.amazonaws.com", "CreateLoadBalancer"),
            "elasticloadbalancing:CreateLoadBalancer"
        );
        assert_eq!(
            action("sso.amazonaws.com", "ListPermissionSets"),
            "sso:ListPermissionSets"
        );
        assert_eq!(
            action("identitystore.amazonaws.com", "ListUsers"),
            "identitystore:ListUsers"
        );
        assert_eq!(
            action("apigateway.amazonaws.com", "GetRestApis"),
            "apigateway:GET"
        );
        assert_eq!(
            action("apigateway.amazonaws.com", "UpdateStage"),
            "apigateway:PATCH"
        );
        assert_eq!(
            action("ec2.amazonaws.com", "RunInstances"),
            "ec2:RunInstances"
        );
        // An eight-digit tail that is not a version is still removed only when something precedes it.
        assert_eq!(strip_version_suffix("20150331"), "20150331");
        assert_eq!(strip_version_suffix("GetThingV2"), "GetThingV2");
        assert_eq!(
            event_action("signin.amazonaws.com", "ConsoleLogin"),
            EventAction::NotAnAction
        );
        assert_eq!(event_action("example.com", "Foo"), EventAction::Unmapped);
    }

    #[test]
    fn denied_codes() {
        for c in [
            "AccessDenied",
            "AccessDeniedException",
            "Client.UnauthorizedOperation",
            "UnauthorizedOperation",
            "AuthorizationError",
            "Client.UnauthorizedAccess",
        ] {
            assert!(is_denied(c), "{c}");
        }
        for c in [
            "NoSuchBucket",
            "ThrottlingException",
            "ValidationException",
            "Client.InvalidParameterValue",
        ] {
            assert!(!is_denied(c), "{c}");
        }
    }

    #[test]
    fn generator_events_map_back_to_their_action() {
        let mut actions: Vec<String> = RENAMES.iter().map(|(s, _, a)| format!("{s}:{a}")).collect();
        actions.extend(
            [
                "s3:GetObject",
                "cloudwatch:PutMetricData",
                "tag:GetResources",
                "lambda:UpdateFunctionCode",
                "lambda:Invoke",
                "apigateway:GET",
                "apigateway:DELETE",
                "iam:CreateUser",
                "ec2:DescribeInstances",
            ]
            .map(String::from),
        );
        for a in actions {
            let (src, name) = event_for_action(&a).unwrap();
            assert_eq!(action(&src, &name), a, "via {src} {name}");
        }
        assert_eq!(event_for_action("iam:PassRole"), None);
        assert_eq!(event_for_action("s3:*"), None);
        assert_eq!(event_for_action("nonsense"), None);
    }
}
