//! `organization.json`: Latch's documented, versioned format for the organization tree
//! (docs/snapshot-format.md). Parsing is strict: unknown fields, missing SCPs, duplicate ids and
//! AWS-impossible shapes (more SCPs or RCPs on a node than AWS's quotas allow,
//! [`latch_catalog::Limits::AWS`]; OUs nested deeper than 5) are errors naming the JSON path.

use std::collections::BTreeSet;

use latch_catalog::{Limits, PolicyType};
use serde_json::{json, Map, Value};

use crate::document::PolicyDocument;
use crate::error::{parse_json, FormatError};
use crate::json::{as_str, field, index, type_name, Obj};
use crate::org::{ControlPolicy, NodeKind, OrgNode, Organization};

/// The `format` value this version of Latch reads and writes.
pub const FORMAT: &str = "latch.organization/v1";
/// Id of AWS's `FullAWSAccess` SCP.
pub const FULL_AWS_ACCESS_ID: &str = "p-FullAWSAccess";
/// Id of AWS's `RCPFullAWSAccess` RCP.
pub const RCP_FULL_AWS_ACCESS_ID: &str = "p-RCPFullAWSAccess";
/// OU nesting depth below the root (AWS Organizations quota).
pub const MAX_OU_DEPTH: usize = 5;

/// AWS's own SCP/RCP with this id, documents as AWS publishes them.
pub fn well_known(id: &str) -> Option<ControlPolicy> {
    let (name, document) = match id {
        FULL_AWS_ACCESS_ID => (
            "FullAWSAccess",
            json!({"Version": "2012-10-17",
                   "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        ),
        RCP_FULL_AWS_ACCESS_ID => (
            "RCPFullAWSAccess",
            json!({"Version": "2012-10-17",
                   "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}),
        ),
        _ => return None,
    };
    let document = PolicyDocument::from_json(document, "").ok()?;
    Some(ControlPolicy {
        id: id.to_owned(),
        name: name.to_owned(),
        document,
    })
}

/// Parses organization.json text.
pub fn parse_organization_str(text: &str) -> Result<Organization, FormatError> {
    parse_organization(&parse_json(text)?)
}

/// Parses an organization.json document.
pub fn parse_organization(value: &Value) -> Result<Organization, FormatError> {
    let top = Obj::new(value, "")?;
    top.only(&["format", "id", "management_account_id", "root"])?;
    let format = top.req_str("format")?;
    if format != FORMAT {
        return Err(FormatError::new(
            "format",
            format!("unsupported format `{format}` (this Latch reads `{FORMAT}`)"),
        ));
    }
    let management_account_id = top.req_str("management_account_id")?.to_owned();
    check_account_id(&management_account_id, "management_account_id")?;
    let id = top.opt_str("id")?.map(str::to_owned);
    if let Some(id) = &id {
        if !id.starts_with("o-") {
            return Err(FormatError::new(
                "id",
                format!("organization id `{id}` must start with `o-`"),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    let root = parse_node(top.req("root")?, "root", NodeKind::Root, 0, &mut seen)?;
    let org = Organization::new(id, management_account_id, root);
    if !org.contains_account(&org.management_account_id) {
        return Err(FormatError::new(
            "management_account_id",
            format!(
                "account `{}` is not in the organization tree",
                org.management_account_id
            ),
        ));
    }
    Ok(org)
}

fn check_account_id(id: &str, path: &str) -> Result<(), FormatError> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(FormatError::new(
            path,
            format!("`{id}` is not a 12-digit account id"),
        ))
    }
}

fn parse_node(
    value: &Value,
    path: &str,
    expected: NodeKind,
    depth: usize,
    seen: &mut BTreeSet<String>,
) -> Result<OrgNode, FormatError> {
    let o = Obj::new(value, path)?;
    let kind = match (expected, o.opt_str("type")?) {
        (NodeKind::Root, None | Some("root")) => NodeKind::Root,
        (NodeKind::Root, Some(other)) => {
            return Err(FormatError::new(
                &o.path_of("type"),
                format!("the root must have type `root`, not `{other}`"),
            ))
        }
        (_, Some("ou")) => NodeKind::OrganizationalUnit,
        (_, Some("account")) => NodeKind::Account,
        (_, Some(other)) => {
            return Err(FormatError::new(
                &o.path_of("type"),
                format!("unknown node type `{other}` (expected `ou` or `account`)"),
            ))
        }
        (_, None) => {
            return Err(FormatError::new(
                path,
                "missing required field `type` (`ou` or `account`)",
            ))
        }
    };
    match kind {
        NodeKind::Account => o.only(&["type", "id", "name", "email", "scps", "rcps", "tags"])?,
        _ => o.only(&["type", "id", "name", "scps", "rcps", "children"])?,
    }
    let id = o.req_str("id")?.to_owned();
    let id_path = o.path_of("id");
    match kind {
        NodeKind::Root if !id.starts_with("r-") => {
            return Err(FormatError::new(
                &id_path,
                format!("root id `{id}` must start with `r-`"),
            ))
        }
        NodeKind::OrganizationalUnit if !id.starts_with("ou-") => {
            return Err(FormatError::new(
                &id_path,
                format!("OU id `{id}` must start with `ou-`"),
            ))
        }
        NodeKind::Account => check_account_id(&id, &id_path)?,
        _ => {}
    }
    if kind == NodeKind::OrganizationalUnit && depth > MAX_OU_DEPTH {
        return Err(FormatError::new(
            path,
            format!("OUs nest at most {MAX_OU_DEPTH} levels below the root"),
        ));
    }
    if !seen.insert(id.clone()) {
        return Err(FormatError::new(
            &id_path,
            format!("id `{id}` appears twice in the tree"),
        ));
    }
    let name = o.opt_str("name")?.unwrap_or(&id).to_owned();
    let scps = parse_policies(&o, "scps", true)?;
    let mut rcps = parse_policies(&o, "rcps", false)?;
    if !rcps.iter().any(|p| p.id == RCP_FULL_AWS_ACCESS_ID) {
        if let Some(full) = well_known(RCP_FULL_AWS_ACCESS_ID) {
            rcps.insert(0, full);
        }
    }
    check_attached(&o, "scps", scps.len(), PolicyType::Scp)?;
    check_attached(&o, "rcps", rcps.len(), PolicyType::Rcp)?;
    let mut tags = std::collections::BTreeMap::new();
    if let Some(v) = o.get("tags") {
        let Some(map) = v.as_object() else {
            return Err(FormatError::new(
                &o.path_of("tags"),
                format!(
                    "expected an object of tag keys to values, found {}",
                    type_name(v)
                ),
            ));
        };
        for (k, v) in map {
            tags.insert(
                k.clone(),
                as_str(v, &field(&o.path_of("tags"), k))?.to_owned(),
            );
        }
    }
    let mut children = Vec::new();
    if kind != NodeKind::Account {
        for (i, child) in o.opt_array("children")?.iter().enumerate() {
            children.push(parse_node(
                child,
                &index(&o.path_of("children"), i),
                NodeKind::OrganizationalUnit,
                depth + 1,
                seen,
            )?);
        }
    }
    Ok(OrgNode {
        kind,
        id,
        name,
        scps,
        rcps,
        children,
        tags,
    })
}

/// What AWS would never have stored: more policies of a type on one node than its quota
/// (`RCPFullAWSAccess`, attached implicitly, counts).
fn check_attached(o: &Obj<'_>, key: &str, n: usize, kind: PolicyType) -> Result<(), FormatError> {
    let max = Limits::AWS.per_target(kind);
    if n > max {
        let implicit = if kind == PolicyType::Rcp {
            ", `RCPFullAWSAccess` included"
        } else {
            ""
        };
        return Err(FormatError::new(
            &o.path_of(key),
            format!("{n} {kind}s attached{implicit}; AWS allows at most {max} per node"),
        ));
    }
    Ok(())
}

fn parse_policies(
    o: &Obj<'_>,
    key: &str,
    required: bool,
) -> Result<Vec<ControlPolicy>, FormatError> {
    let list = if required {
        o.req_array(key)?
    } else {
        o.opt_array(key)?
    };
    let lpath = o.path_of(key);
    if required && list.is_empty() {
        return Err(FormatError::new(
            &lpath,
            "every root, OU and account has at least one SCP (AWS attaches `FullAWSAccess` by \
             default; with none attached, everything is denied)",
        ));
    }
    let mut out: Vec<ControlPolicy> = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let ppath = index(&lpath, i);
        let po = Obj::new(p, &ppath)?;
        po.only(&["id", "name", "document"])?;
        let id = po.req_str("id")?;
        if out.iter().any(|q| q.id == id) {
            return Err(FormatError::new(
                &po.path_of("id"),
                format!("policy `{id}` is attached twice"),
            ));
        }
        let policy = match (po.get("document"), well_known(id)) {
            (Some(doc), _) => ControlPolicy {
                id: id.to_owned(),
                name: po.opt_str("name")?.unwrap_or(id).to_owned(),
                document: PolicyDocument::parse(doc, &po.path_of("document"))?,
            },
            (None, Some(known)) => known,
            (None, None) => {
                return Err(FormatError::new(
                    &ppath,
                    format!(
                        "missing required field `document` (only `{FULL_AWS_ACCESS_ID}` and \
                         `{RCP_FULL_AWS_ACCESS_ID}` may omit it)"
                    ),
                ))
            }
        };
        out.push(policy);
    }
    Ok(out)
}

/// Writes an organization as organization.json (the inverse of [`parse_organization`]).
/// AWS's own `FullAWSAccess`/`RCPFullAWSAccess` are written by id only.
pub fn to_value(org: &Organization) -> Value {
    let mut m = Map::new();
    m.insert("format".into(), json!(FORMAT));
    if let Some(id) = &org.id {
        m.insert("id".into(), json!(id));
    }
    m.insert(
        "management_account_id".into(),
        json!(org.management_account_id),
    );
    m.insert("root".into(), node_value(&org.root));
    Value::Object(m)
}

fn node_value(n: &OrgNode) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(n.kind.name()));
    m.insert("id".into(), json!(n.id));
    m.insert("name".into(), json!(n.name));
    let policies = |list: &[ControlPolicy]| {
        Value::Array(
            list.iter()
                .map(|p| match well_known(&p.id) {
                    Some(known) if known.document == p.document => {
                        json!({"id": p.id, "name": p.name})
                    }
                    _ => json!({"id": p.id, "name": p.name, "document": p.document.value()}),
                })
                .collect(),
        )
    };
    m.insert("scps".into(), policies(&n.scps));
    m.insert("rcps".into(), policies(&n.rcps));
    if !n.tags.is_empty() {
        m.insert("tags".into(), json!(n.tags));
    }
    if n.kind != NodeKind::Account {
        m.insert(
            "children".into(),
            Value::Array(n.children.iter().map(node_value).collect()),
        );
    }
    Value::Object(m)
}
