//! `accounts/<id>/resource-policies.json`: resource-based policies of one account, in Latch's
//! versioned format (docs/snapshot-format.md).

use serde_json::{json, Value};

use crate::account::{ResourceKind, ResourcePolicy};
use crate::document::PolicyDocument;
use crate::error::{parse_json, FormatError};
use crate::json::{index, Obj};

/// The `format` value this version of Latch reads and writes.
pub const FORMAT: &str = "latch.resource-policies/v1";

/// Parses resource-policies.json text of account `account_id`.
pub fn parse_resource_policies_str(
    text: &str,
    account_id: &str,
) -> Result<Vec<ResourcePolicy>, FormatError> {
    parse_resource_policies(&parse_json(text)?, account_id)
}

/// Parses a resource-policies.json document. Each entry's ARN must be of its kind's service and,
/// where ARNs carry an account (all kinds but S3 buckets), of `account_id`. A `document` may be
/// an object or JSON text (as `get-bucket-policy` returns it).
pub fn parse_resource_policies(
    value: &Value,
    account_id: &str,
) -> Result<Vec<ResourcePolicy>, FormatError> {
    let top = Obj::new(value, "")?;
    top.only(&["format", "policies"])?;
    let format = top.req_str("format")?;
    if format != FORMAT {
        return Err(FormatError::new(
            "format",
            format!("unsupported format `{format}` (this Latch reads `{FORMAT}`)"),
        ));
    }
    let mut out: Vec<ResourcePolicy> = Vec::new();
    for (i, p) in top.req_array("policies")?.iter().enumerate() {
        let path = index("policies", i);
        let o = Obj::new(p, &path)?;
        o.only(&["resource_arn", "kind", "document"])?;
        let kind_name = o.req_str("kind")?;
        let kind = ResourceKind::from_name(kind_name).ok_or_else(|| {
            let known: Vec<&str> = ResourceKind::ALL.iter().map(|k| k.name()).collect();
            FormatError::new(
                &o.path_of("kind"),
                format!(
                    "unknown kind `{kind_name}` (expected one of: {})",
                    known.join(", ")
                ),
            )
        })?;
        let arn = o.req_str("resource_arn")?;
        let arn_path = o.path_of("resource_arn");
        let [_, _, service, _, account, _] = latch_policy::arn::split(arn)
            .ok_or_else(|| FormatError::new(&arn_path, format!("`{arn}` is not an ARN")))?;
        if service != kind.service() {
            return Err(FormatError::new(
                &arn_path,
                format!(
                    "`{arn}` is not a {} ARN (kind `{kind_name}`)",
                    kind.service()
                ),
            ));
        }
        if kind != ResourceKind::S3Bucket && account != account_id {
            return Err(FormatError::new(
                &arn_path,
                format!("`{arn}` belongs to account `{account}`, not to `{account_id}`"),
            ));
        }
        if out.iter().any(|q| q.resource_arn == arn) {
            return Err(FormatError::new(
                &arn_path,
                format!("`{arn}` appears twice"),
            ));
        }
        out.push(ResourcePolicy {
            resource_arn: arn.to_owned(),
            kind,
            document: PolicyDocument::parse(o.req("document")?, &o.path_of("document"))?,
        });
    }
    Ok(out)
}

/// Writes resource policies as resource-policies.json.
pub fn to_value(policies: &[ResourcePolicy]) -> Value {
    json!({
        "format": FORMAT,
        "policies": policies.iter().map(|p| json!({
            "resource_arn": p.resource_arn,
            "kind": p.kind.name(),
            "document": p.document.value(),
        })).collect::<Vec<_>>(),
    })
}
