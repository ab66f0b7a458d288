//! `aws iam get-account-authorization-details` (GAAD) output: parsing and writing.
//!
//! Accepted: one response object (`UserDetailList`, `GroupDetailList`, `RoleDetailList`,
//! `Policies`, `IsTruncated`, `Marker`, and `ResponseMetadata` from SDKs), or a JSON array of
//! such pages, which are merged. Policy documents may be JSON objects, JSON text or URL-encoded
//! JSON text. Managed policies keep their default version (`IsDefaultVersion`) as their
//! document and every other version beside it, each parsed as strictly as the default. A missing
//! `PolicyName` or `PolicyId` is tolerated (some emulators leave them out): the name is derived
//! from the ARN. Unknown fields are errors naming their JSON path, so a typo never silently drops
//! a policy.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::account::{
    policy_name_from_arn, Account, Group, InlinePolicy, InstanceProfile, ManagedPolicy,
    PolicyOrigin, PolicyVersion, Role, RoleLastUsed, Tags, Timestamp, User,
};
use crate::document::{percent_encode, PolicyDocument};
use crate::error::{parse_json, FormatError};
use crate::json::{as_str, index, Obj};

const TOP: &[&str] = &[
    "UserDetailList",
    "GroupDetailList",
    "RoleDetailList",
    "Policies",
    "IsTruncated",
    "Marker",
    "ResponseMetadata",
];
const USER: &[&str] = &[
    "Path",
    "UserName",
    "UserId",
    "Arn",
    "CreateDate",
    "UserPolicyList",
    "GroupList",
    "AttachedManagedPolicies",
    "PermissionsBoundary",
    "Tags",
];
const GROUP: &[&str] = &[
    "Path",
    "GroupName",
    "GroupId",
    "Arn",
    "CreateDate",
    "GroupPolicyList",
    "AttachedManagedPolicies",
];
const ROLE: &[&str] = &[
    "Path",
    "RoleName",
    "RoleId",
    "Arn",
    "CreateDate",
    "AssumeRolePolicyDocument",
    "InstanceProfileList",
    "RolePolicyList",
    "AttachedManagedPolicies",
    "PermissionsBoundary",
    "Tags",
    "RoleLastUsed",
    "Description",
    "MaxSessionDuration",
];
const POLICY: &[&str] = &[
    "PolicyName",
    "PolicyId",
    "Arn",
    "Path",
    "DefaultVersionId",
    "AttachmentCount",
    "PermissionsBoundaryUsageCount",
    "IsAttachable",
    "Description",
    "CreateDate",
    "UpdateDate",
    "PolicyVersionList",
    "Tags",
];
const VERSION: &[&str] = &["Document", "VersionId", "IsDefaultVersion", "CreateDate"];

/// Parses GAAD JSON text for account `account_id` (see [`parse_gaad`]).
pub fn parse_gaad_str(text: &str, account_id: &str) -> Result<Account, FormatError> {
    parse_gaad(&parse_json(text)?, account_id)
}

/// Parses a GAAD response (or an array of pages) into the IAM contents of `account_id`.
///
/// Every user, group, role and customer-managed policy ARN must belong to `account_id`.
/// `Account::name` is set to the id and `resource_policies` to `None`; the caller fills them in.
pub fn parse_gaad(value: &Value, account_id: &str) -> Result<Account, FormatError> {
    let mut account = Account {
        id: account_id.to_owned(),
        name: account_id.to_owned(),
        ..Account::default()
    };
    match value {
        Value::Array(pages) => {
            if pages.is_empty() {
                return Err(FormatError::new("$", "an empty list of GAAD pages"));
            }
            for (i, page) in pages.iter().enumerate() {
                parse_page(page, &index("", i), &mut account)?;
            }
        }
        page => parse_page(page, "", &mut account)?,
    }
    Ok(account)
}

fn parse_page(page: &Value, path: &str, account: &mut Account) -> Result<(), FormatError> {
    let o = Obj::new(page, path)?;
    o.only(TOP)?;
    if !TOP.iter().take(4).any(|k| o.get(k).is_some()) {
        return Err(FormatError::new(
            path,
            "not a GetAccountAuthorizationDetails response: none of UserDetailList, \
             GroupDetailList, RoleDetailList, Policies is present",
        ));
    }
    for (i, v) in o.opt_array("UserDetailList")?.iter().enumerate() {
        let p = index(&o.path_of("UserDetailList"), i);
        let user = parse_user(v, &p, &account.id)?;
        if account.users.contains_key(&user.name) {
            return Err(FormatError::new(
                &p,
                format!("user `{}` appears twice", user.name),
            ));
        }
        account.users.insert(user.name.clone(), user);
    }
    for (i, v) in o.opt_array("GroupDetailList")?.iter().enumerate() {
        let p = index(&o.path_of("GroupDetailList"), i);
        let group = parse_group(v, &p, &account.id)?;
        if account.groups.contains_key(&group.name) {
            return Err(FormatError::new(
                &p,
                format!("group `{}` appears twice", group.name),
            ));
        }
        account.groups.insert(group.name.clone(), group);
    }
    for (i, v) in o.opt_array("RoleDetailList")?.iter().enumerate() {
        let p = index(&o.path_of("RoleDetailList"), i);
        let role = parse_role(v, &p, &account.id)?;
        if account.roles.contains_key(&role.name) {
            return Err(FormatError::new(
                &p,
                format!("role `{}` appears twice", role.name),
            ));
        }
        account.roles.insert(role.name.clone(), role);
    }
    for (i, v) in o.opt_array("Policies")?.iter().enumerate() {
        let p = index(&o.path_of("Policies"), i);
        let policy = parse_managed(v, &p, &account.id)?;
        if account.managed_policies.contains_key(&policy.arn) {
            return Err(FormatError::new(
                &p,
                format!("policy `{}` appears twice", policy.arn),
            ));
        }
        account.managed_policies.insert(policy.arn.clone(), policy);
    }
    Ok(())
}

/// The `Arn` field, checked to be an IAM ARN of `account_id` (or of `aws` when allowed).
fn arn_of(o: &Obj<'_>, account_id: &str, allow_aws: bool) -> Result<String, FormatError> {
    let arn = o.req_str("Arn")?;
    let path = o.path_of("Arn");
    let parts = latch_policy::arn::split(arn)
        .ok_or_else(|| FormatError::new(&path, format!("`{arn}` is not an ARN")))?;
    let [_, _, service, _, account, _] = parts;
    if service != "iam" {
        return Err(FormatError::new(
            &path,
            format!("`{arn}` is not an IAM ARN"),
        ));
    }
    if account != account_id && !(allow_aws && account == "aws") {
        return Err(FormatError::new(
            &path,
            format!("`{arn}` belongs to account `{account}`, not to `{account_id}`"),
        ));
    }
    Ok(arn.to_owned())
}

fn date(o: &Obj<'_>, key: &str) -> Result<Option<Timestamp>, FormatError> {
    match o.opt_str(key)? {
        None => Ok(None),
        Some(text) => Timestamp::parse(text).map(Some).ok_or_else(|| {
            FormatError::new(
                &o.path_of(key),
                format!("`{text}` is not an ISO 8601 date-time"),
            )
        }),
    }
}

fn tags(o: &Obj<'_>) -> Result<Tags, FormatError> {
    let mut out = Tags::new();
    for (i, t) in o.opt_array("Tags")?.iter().enumerate() {
        let p = index(&o.path_of("Tags"), i);
        let t = Obj::new(t, &p)?;
        t.only(&["Key", "Value"])?;
        let key = t.req_str("Key")?;
        if out
            .insert(key.to_owned(), t.req_str("Value")?.to_owned())
            .is_some()
        {
            return Err(FormatError::new(&p, format!("tag `{key}` appears twice")));
        }
    }
    Ok(out)
}

fn inline_policies(o: &Obj<'_>, key: &str) -> Result<Vec<InlinePolicy>, FormatError> {
    let mut out = Vec::new();
    for (i, v) in o.opt_array(key)?.iter().enumerate() {
        let p = index(&o.path_of(key), i);
        let po = Obj::new(v, &p)?;
        po.only(&["PolicyName", "PolicyDocument"])?;
        let name = po.req_str("PolicyName")?;
        let document =
            PolicyDocument::parse(po.req("PolicyDocument")?, &po.path_of("PolicyDocument"))?;
        out.push(InlinePolicy {
            name: name.to_owned(),
            document,
        });
    }
    Ok(out)
}

fn attached(o: &Obj<'_>) -> Result<Vec<String>, FormatError> {
    let mut out = Vec::new();
    for (i, v) in o.opt_array("AttachedManagedPolicies")?.iter().enumerate() {
        let p = index(&o.path_of("AttachedManagedPolicies"), i);
        let a = Obj::new(v, &p)?;
        a.only(&["PolicyName", "PolicyArn"])?;
        out.push(a.req_str("PolicyArn")?.to_owned());
    }
    Ok(out)
}

fn boundary(o: &Obj<'_>) -> Result<Option<String>, FormatError> {
    match o.get("PermissionsBoundary") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let path = o.path_of("PermissionsBoundary");
            let b = Obj::new(v, &path)?;
            b.only(&["PermissionsBoundaryType", "PermissionsBoundaryArn"])?;
            Ok(Some(b.req_str("PermissionsBoundaryArn")?.to_owned()))
        }
    }
}

fn parse_user(v: &Value, path: &str, account_id: &str) -> Result<User, FormatError> {
    let o = Obj::new(v, path)?;
    o.only(USER)?;
    let mut groups = Vec::new();
    for (i, g) in o.opt_array("GroupList")?.iter().enumerate() {
        groups.push(as_str(g, &index(&o.path_of("GroupList"), i))?.to_owned());
    }
    Ok(User {
        arn: arn_of(&o, account_id, false)?,
        name: o.req_str("UserName")?.to_owned(),
        path: o.opt_str("Path")?.unwrap_or("/").to_owned(),
        id: o.req_str("UserId")?.to_owned(),
        create_date: date(&o, "CreateDate")?,
        tags: tags(&o)?,
        inline_policies: inline_policies(&o, "UserPolicyList")?,
        attached_policies: attached(&o)?,
        permissions_boundary: boundary(&o)?,
        groups,
    })
}

fn parse_group(v: &Value, path: &str, account_id: &str) -> Result<Group, FormatError> {
    let o = Obj::new(v, path)?;
    o.only(GROUP)?;
    Ok(Group {
        arn: arn_of(&o, account_id, false)?,
        name: o.req_str("GroupName")?.to_owned(),
        path: o.opt_str("Path")?.unwrap_or("/").to_owned(),
        id: o.req_str("GroupId")?.to_owned(),
        create_date: date(&o, "CreateDate")?,
        inline_policies: inline_policies(&o, "GroupPolicyList")?,
        attached_policies: attached(&o)?,
    })
}

fn parse_role(v: &Value, path: &str, account_id: &str) -> Result<Role, FormatError> {
    let o = Obj::new(v, path)?;
    o.only(ROLE)?;
    let last_used = match o.get("RoleLastUsed") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let p = o.path_of("RoleLastUsed");
            let lu = Obj::new(v, &p)?;
            lu.only(&["LastUsedDate", "Region"])?;
            Some(RoleLastUsed {
                date: date(&lu, "LastUsedDate")?,
                region: lu.opt_str("Region")?.map(str::to_owned),
            })
        }
    };
    let mut instance_profiles = Vec::new();
    for (i, ip) in o.opt_array("InstanceProfileList")?.iter().enumerate() {
        // The nested copies of the role inside each profile are not read.
        let p = index(&o.path_of("InstanceProfileList"), i);
        let ip = Obj::new(ip, &p)?;
        ip.only(&[
            "Path",
            "InstanceProfileName",
            "InstanceProfileId",
            "Arn",
            "CreateDate",
            "Roles",
            "Tags",
        ])?;
        instance_profiles.push(InstanceProfile {
            name: ip.req_str("InstanceProfileName")?.to_owned(),
            arn: ip.req_str("Arn")?.to_owned(),
        });
    }
    Ok(Role {
        arn: arn_of(&o, account_id, false)?,
        name: o.req_str("RoleName")?.to_owned(),
        path: o.opt_str("Path")?.unwrap_or("/").to_owned(),
        id: o.req_str("RoleId")?.to_owned(),
        create_date: date(&o, "CreateDate")?,
        tags: tags(&o)?,
        trust_policy: PolicyDocument::parse(
            o.req("AssumeRolePolicyDocument")?,
            &o.path_of("AssumeRolePolicyDocument"),
        )?,
        inline_policies: inline_policies(&o, "RolePolicyList")?,
        attached_policies: attached(&o)?,
        permissions_boundary: boundary(&o)?,
        last_used,
        instance_profiles,
    })
}

fn parse_managed(v: &Value, path: &str, account_id: &str) -> Result<ManagedPolicy, FormatError> {
    let o = Obj::new(v, path)?;
    o.only(POLICY)?;
    let arn = arn_of(&o, account_id, true)?;
    let versions = o.req_array("PolicyVersionList")?;
    let vpath = o.path_of("PolicyVersionList");
    let mut default = None;
    let mut other_versions = Vec::new();
    let mut ids = BTreeSet::new();
    for (i, ver) in versions.iter().enumerate() {
        let p = index(&vpath, i);
        let vo = Obj::new(ver, &p)?;
        vo.only(VERSION)?;
        let is_default = vo.opt_bool("IsDefaultVersion")? == Some(true);
        if is_default && default.is_some() {
            return Err(FormatError::new(
                &p,
                "a second version marked `IsDefaultVersion: true`",
            ));
        }
        // Every version is read as strictly as the default: whoever may
        // `iam:SetDefaultPolicyVersion` makes any stored version the one in force, so one the
        // engine cannot parse is an error, never dropped.
        let document = PolicyDocument::parse(vo.req("Document")?, &vo.path_of("Document"))?;
        let id = if is_default {
            vo.opt_str("VersionId")?.unwrap_or("v1").to_owned()
        } else {
            vo.req_str("VersionId")?.to_owned()
        };
        if !ids.insert(id.clone()) {
            return Err(FormatError::new(
                &p,
                format!("version `{id}` appears twice"),
            ));
        }
        if is_default {
            default = Some((id, document));
        } else {
            other_versions.push(PolicyVersion {
                id,
                create_date: date(&vo, "CreateDate")?,
                document,
            });
        }
    }
    let (version_id, document) = default.ok_or_else(|| {
        FormatError::new(
            &vpath,
            "no version is marked `IsDefaultVersion: true`, so the policy's effect is unknown",
        )
    })?;
    if let Some(declared) = o.opt_str("DefaultVersionId")? {
        if declared != version_id {
            return Err(FormatError::new(
                &o.path_of("DefaultVersionId"),
                format!("`{declared}` differs from the version marked default (`{version_id}`)"),
            ));
        }
    }
    Ok(ManagedPolicy {
        name: o
            .opt_str("PolicyName")?
            .unwrap_or_else(|| policy_name_from_arn(&arn))
            .to_owned(),
        id: o.opt_str("PolicyId")?.map(str::to_owned),
        path: o.opt_str("Path")?.unwrap_or("/").to_owned(),
        arn,
        default_version_id: version_id,
        document,
        other_versions,
        origin: PolicyOrigin::Gaad,
    })
}

/// How [`to_gaad`] writes policy documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentStyle {
    /// As JSON objects (what the AWS CLI prints).
    Object,
    /// URL-encoded JSON text (what the IAM API returns).
    UrlEncoded,
}

fn doc(d: &PolicyDocument, style: DocumentStyle) -> Value {
    match style {
        DocumentStyle::Object => d.value(),
        DocumentStyle::UrlEncoded => Value::String(percent_encode(d.json())),
    }
}

fn tags_value(tags: &Tags) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

fn inline_value(list: &[InlinePolicy], style: DocumentStyle) -> Value {
    Value::Array(
        list.iter()
            .map(|p| json!({"PolicyName": p.name, "PolicyDocument": doc(&p.document, style)}))
            .collect(),
    )
}

fn attached_value(list: &[String]) -> Value {
    Value::Array(
        list.iter()
            .map(|arn| json!({"PolicyName": policy_name_from_arn(arn), "PolicyArn": arn}))
            .collect(),
    )
}

fn put_common(m: &mut Map<String, Value>, date: Option<&Timestamp>, boundary: Option<&String>) {
    if let Some(d) = date {
        m.insert("CreateDate".into(), Value::String(d.text.clone()));
    }
    if let Some(b) = boundary {
        m.insert(
            "PermissionsBoundary".into(),
            json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": b}),
        );
    }
}

/// Writes an account's IAM contents as one GAAD response (the inverse of [`parse_gaad`] for
/// everything the model keeps). Bundled AWS-managed policies are left out, as a GAAD filtered
/// to local policies would.
pub fn to_gaad(account: &Account, style: DocumentStyle) -> Value {
    let users: Vec<Value> = account
        .users
        .values()
        .map(|u| {
            let mut m = Map::new();
            m.insert("Path".into(), json!(u.path));
            m.insert("UserName".into(), json!(u.name));
            m.insert("UserId".into(), json!(u.id));
            m.insert("Arn".into(), json!(u.arn));
            m.insert(
                "UserPolicyList".into(),
                inline_value(&u.inline_policies, style),
            );
            m.insert("GroupList".into(), json!(u.groups));
            m.insert(
                "AttachedManagedPolicies".into(),
                attached_value(&u.attached_policies),
            );
            m.insert("Tags".into(), tags_value(&u.tags));
            put_common(
                &mut m,
                u.create_date.as_ref(),
                u.permissions_boundary.as_ref(),
            );
            Value::Object(m)
        })
        .collect();
    let groups: Vec<Value> = account
        .groups
        .values()
        .map(|g| {
            let mut m = Map::new();
            m.insert("Path".into(), json!(g.path));
            m.insert("GroupName".into(), json!(g.name));
            m.insert("GroupId".into(), json!(g.id));
            m.insert("Arn".into(), json!(g.arn));
            m.insert(
                "GroupPolicyList".into(),
                inline_value(&g.inline_policies, style),
            );
            m.insert(
                "AttachedManagedPolicies".into(),
                attached_value(&g.attached_policies),
            );
            put_common(&mut m, g.create_date.as_ref(), None);
            Value::Object(m)
        })
        .collect();
    let roles: Vec<Value> = account
        .roles
        .values()
        .map(|r| {
            let mut m = Map::new();
            m.insert("Path".into(), json!(r.path));
            m.insert("RoleName".into(), json!(r.name));
            m.insert("RoleId".into(), json!(r.id));
            m.insert("Arn".into(), json!(r.arn));
            m.insert(
                "AssumeRolePolicyDocument".into(),
                doc(&r.trust_policy, style),
            );
            m.insert(
                "InstanceProfileList".into(),
                Value::Array(
                    r.instance_profiles
                        .iter()
                        .map(|ip| {
                            json!({"Path": "/", "InstanceProfileName": ip.name,
                                   "InstanceProfileId": format!("AIPA{}", id_suffix(&ip.arn)),
                                   "Arn": ip.arn, "Roles": []})
                        })
                        .collect(),
                ),
            );
            m.insert(
                "RolePolicyList".into(),
                inline_value(&r.inline_policies, style),
            );
            m.insert(
                "AttachedManagedPolicies".into(),
                attached_value(&r.attached_policies),
            );
            m.insert("Tags".into(), tags_value(&r.tags));
            if let Some(lu) = &r.last_used {
                let mut l = Map::new();
                if let Some(d) = &lu.date {
                    l.insert("LastUsedDate".into(), json!(d.text));
                }
                if let Some(region) = &lu.region {
                    l.insert("Region".into(), json!(region));
                }
                m.insert("RoleLastUsed".into(), Value::Object(l));
            }
            put_common(
                &mut m,
                r.create_date.as_ref(),
                r.permissions_boundary.as_ref(),
            );
            Value::Object(m)
        })
        .collect();
    let policies: Vec<Value> = account
        .managed_policies
        .values()
        .filter(|p| p.origin != PolicyOrigin::Bundled)
        .map(|p| {
            let mut m = Map::new();
            m.insert("PolicyName".into(), json!(p.name));
            if let Some(id) = &p.id {
                m.insert("PolicyId".into(), json!(id));
            }
            m.insert("Arn".into(), json!(p.arn));
            m.insert("Path".into(), json!(p.path));
            m.insert("DefaultVersionId".into(), json!(p.default_version_id));
            m.insert("IsAttachable".into(), json!(true));
            let default = json!({"Document": doc(&p.document, style),
                                 "VersionId": p.default_version_id, "IsDefaultVersion": true});
            let others = p.other_versions.iter().map(|v| {
                let mut o = Map::new();
                o.insert("Document".into(), doc(&v.document, style));
                o.insert("VersionId".into(), json!(v.id));
                o.insert("IsDefaultVersion".into(), json!(false));
                if let Some(d) = &v.create_date {
                    o.insert("CreateDate".into(), json!(d.text));
                }
                Value::Object(o)
            });
            m.insert(
                "PolicyVersionList".into(),
                Value::Array(std::iter::once(default).chain(others).collect()),
            );
            Value::Object(m)
        })
        .collect();
    json!({
        "UserDetailList": users,
        "GroupDetailList": groups,
        "RoleDetailList": roles,
        "Policies": policies,
        "IsTruncated": false,
    })
}

/// A stable pseudo-id suffix (uppercase alphanumerics) derived from a string.
pub(crate) fn id_suffix(seed: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(17);
    for _ in 0..17 {
        let i = usize::try_from(h % 32).unwrap_or(0);
        out.push(alphabet.get(i).map_or('A', |&c| char::from(c)));
        h = h.rotate_right(5) ^ 0x9e37_79b9_7f4a_7c15;
    }
    out
}
