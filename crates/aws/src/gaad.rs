//! `iam:GetAccountAuthorizationDetails`, every page, written in the AWS output shape that
//! `latch-model` reads (docs/snapshot-format.md): one response object, or a JSON array of
//! them when there were several pages. Documents stay as the API sends them (URL-encoded
//! JSON text on AWS); the loader decodes them.

use aws_sdk_iam::primitives::{DateTime, DateTimeFormat};
use aws_sdk_iam::types::{
    AttachedPermissionsBoundary, AttachedPolicy, InstanceProfile, PolicyDetail, Tag,
};
use aws_sdk_iam::Client;
use serde_json::{json, Map, Value};

use crate::error::{call_err, Result};

/// Page size asked for (the API's maximum).
const PAGE_SIZE: i32 = 1000;

fn date(d: &DateTime) -> Value {
    d.fmt(DateTimeFormat::DateTime)
        .map(Value::String)
        .unwrap_or(Value::Null)
}

fn put_date(m: &mut Map<String, Value>, key: &str, d: Option<&DateTime>) {
    if let Some(d) = d {
        m.insert(key.to_owned(), date(d));
    }
}

fn put_str(m: &mut Map<String, Value>, key: &str, v: Option<&str>) {
    if let Some(v) = v {
        m.insert(key.to_owned(), json!(v));
    }
}

fn tags(list: &[Tag]) -> Value {
    Value::Array(
        list.iter()
            .map(|t| json!({"Key": t.key(), "Value": t.value()}))
            .collect(),
    )
}

fn inline(list: &[PolicyDetail]) -> Value {
    Value::Array(
        list.iter()
            .map(|p| {
                let mut m = Map::new();
                put_str(&mut m, "PolicyName", p.policy_name());
                put_str(&mut m, "PolicyDocument", p.policy_document());
                Value::Object(m)
            })
            .collect(),
    )
}

fn attached(list: &[AttachedPolicy]) -> Value {
    Value::Array(
        list.iter()
            .map(|p| {
                let mut m = Map::new();
                put_str(&mut m, "PolicyName", p.policy_name());
                put_str(&mut m, "PolicyArn", p.policy_arn());
                Value::Object(m)
            })
            .collect(),
    )
}

fn boundary(m: &mut Map<String, Value>, b: Option<&AttachedPermissionsBoundary>) {
    if let Some(b) = b {
        let mut o = Map::new();
        put_str(
            &mut o,
            "PermissionsBoundaryType",
            b.permissions_boundary_type().map(|t| t.as_str()),
        );
        put_str(
            &mut o,
            "PermissionsBoundaryArn",
            b.permissions_boundary_arn(),
        );
        m.insert("PermissionsBoundary".into(), Value::Object(o));
    }
}

fn instance_profile(p: &InstanceProfile) -> Value {
    let roles: Vec<Value> = p
        .roles()
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("Path".into(), json!(r.path()));
            m.insert("RoleName".into(), json!(r.role_name()));
            m.insert("RoleId".into(), json!(r.role_id()));
            m.insert("Arn".into(), json!(r.arn()));
            m.insert("CreateDate".into(), date(r.create_date()));
            put_str(
                &mut m,
                "AssumeRolePolicyDocument",
                r.assume_role_policy_document(),
            );
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("Path".into(), json!(p.path()));
    m.insert(
        "InstanceProfileName".into(),
        json!(p.instance_profile_name()),
    );
    m.insert("InstanceProfileId".into(), json!(p.instance_profile_id()));
    m.insert("Arn".into(), json!(p.arn()));
    m.insert("CreateDate".into(), date(p.create_date()));
    m.insert("Roles".into(), Value::Array(roles));
    if !p.tags().is_empty() {
        m.insert("Tags".into(), tags(p.tags()));
    }
    Value::Object(m)
}

/// One GAAD response page as JSON in the AWS output shape.
fn page_json(
    out: &aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput,
) -> Value {
    let users: Vec<Value> = out
        .user_detail_list()
        .iter()
        .map(|u| {
            let mut m = Map::new();
            put_str(&mut m, "Path", u.path());
            put_str(&mut m, "UserName", u.user_name());
            put_str(&mut m, "UserId", u.user_id());
            put_str(&mut m, "Arn", u.arn());
            put_date(&mut m, "CreateDate", u.create_date());
            m.insert("UserPolicyList".into(), inline(u.user_policy_list()));
            m.insert("GroupList".into(), json!(u.group_list()));
            m.insert(
                "AttachedManagedPolicies".into(),
                attached(u.attached_managed_policies()),
            );
            boundary(&mut m, u.permissions_boundary());
            m.insert("Tags".into(), tags(u.tags()));
            Value::Object(m)
        })
        .collect();
    let groups: Vec<Value> = out
        .group_detail_list()
        .iter()
        .map(|g| {
            let mut m = Map::new();
            put_str(&mut m, "Path", g.path());
            put_str(&mut m, "GroupName", g.group_name());
            put_str(&mut m, "GroupId", g.group_id());
            put_str(&mut m, "Arn", g.arn());
            put_date(&mut m, "CreateDate", g.create_date());
            m.insert("GroupPolicyList".into(), inline(g.group_policy_list()));
            m.insert(
                "AttachedManagedPolicies".into(),
                attached(g.attached_managed_policies()),
            );
            Value::Object(m)
        })
        .collect();
    let roles: Vec<Value> = out
        .role_detail_list()
        .iter()
        .map(|r| {
            let mut m = Map::new();
            put_str(&mut m, "Path", r.path());
            put_str(&mut m, "RoleName", r.role_name());
            put_str(&mut m, "RoleId", r.role_id());
            put_str(&mut m, "Arn", r.arn());
            put_date(&mut m, "CreateDate", r.create_date());
            put_str(
                &mut m,
                "AssumeRolePolicyDocument",
                r.assume_role_policy_document(),
            );
            m.insert(
                "InstanceProfileList".into(),
                Value::Array(
                    r.instance_profile_list()
                        .iter()
                        .map(instance_profile)
                        .collect(),
                ),
            );
            m.insert("RolePolicyList".into(), inline(r.role_policy_list()));
            m.insert(
                "AttachedManagedPolicies".into(),
                attached(r.attached_managed_policies()),
            );
            boundary(&mut m, r.permissions_boundary());
            m.insert("Tags".into(), tags(r.tags()));
            if let Some(lu) = r.role_last_used() {
                let mut o = Map::new();
                put_date(&mut o, "LastUsedDate", lu.last_used_date());
                put_str(&mut o, "Region", lu.region());
                m.insert("RoleLastUsed".into(), Value::Object(o));
            }
            Value::Object(m)
        })
        .collect();
    let policies: Vec<Value> = out
        .policies()
        .iter()
        .map(|p| {
            let mut m = Map::new();
            put_str(&mut m, "PolicyName", p.policy_name());
            put_str(&mut m, "PolicyId", p.policy_id());
            put_str(&mut m, "Arn", p.arn());
            put_str(&mut m, "Path", p.path());
            put_str(&mut m, "DefaultVersionId", p.default_version_id());
            if let Some(n) = p.attachment_count() {
                m.insert("AttachmentCount".into(), json!(n));
            }
            if let Some(n) = p.permissions_boundary_usage_count() {
                m.insert("PermissionsBoundaryUsageCount".into(), json!(n));
            }
            m.insert("IsAttachable".into(), json!(p.is_attachable()));
            put_str(&mut m, "Description", p.description());
            put_date(&mut m, "CreateDate", p.create_date());
            put_date(&mut m, "UpdateDate", p.update_date());
            let versions: Vec<Value> = p
                .policy_version_list()
                .iter()
                .map(|v| {
                    let mut o = Map::new();
                    put_str(&mut o, "Document", v.document());
                    put_str(&mut o, "VersionId", v.version_id());
                    o.insert("IsDefaultVersion".into(), json!(v.is_default_version()));
                    put_date(&mut o, "CreateDate", v.create_date());
                    Value::Object(o)
                })
                .collect();
            m.insert("PolicyVersionList".into(), Value::Array(versions));
            Value::Object(m)
        })
        .collect();
    let mut page = Map::new();
    page.insert("UserDetailList".into(), Value::Array(users));
    page.insert("GroupDetailList".into(), Value::Array(groups));
    page.insert("RoleDetailList".into(), Value::Array(roles));
    page.insert("Policies".into(), Value::Array(policies));
    page.insert("IsTruncated".into(), json!(out.is_truncated()));
    put_str(&mut page, "Marker", out.marker());
    Value::Object(page)
}

/// Fetches every page of `GetAccountAuthorizationDetails`, following `Marker` until
/// `IsTruncated` is false. Returns the pages, each in the AWS output shape.
pub async fn fetch_pages(iam: &Client, account: &str) -> Result<Vec<Value>> {
    let mut pages = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = iam
            .get_account_authorization_details()
            .max_items(PAGE_SIZE)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| call_err(format!("iam:GetAccountAuthorizationDetails ({account})"), e))?;
        pages.push(page_json(&out));
        match (out.is_truncated(), out.marker()) {
            (true, Some(next)) if Some(next) != marker.as_deref() => marker = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(pages)
}

/// The pages as written to `gaad.json`: the single response object, or the array of pages.
pub fn to_file_value(mut pages: Vec<Value>) -> Value {
    if pages.len() == 1 {
        pages.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(pages)
    }
}

/// The `latch:*` tags (or all tags, with `prefix` empty) of every user and role in the pages:
/// (principal ARN, key, value), sorted.
pub fn principal_tags(pages: &[Value], prefix: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for page in pages {
        for list in ["UserDetailList", "RoleDetailList"] {
            let principals = page.get(list).and_then(Value::as_array);
            for p in principals.into_iter().flatten() {
                let arn = p.get("Arn").and_then(Value::as_str).unwrap_or_default();
                let tags = p.get("Tags").and_then(Value::as_array);
                for t in tags.into_iter().flatten() {
                    let key = t.get("Key").and_then(Value::as_str).unwrap_or_default();
                    let value = t.get("Value").and_then(Value::as_str).unwrap_or_default();
                    if key.starts_with(prefix) {
                        out.push((arn.to_owned(), key.to_owned(), value.to_owned()));
                    }
                }
            }
        }
    }
    out.sort();
    out
}
