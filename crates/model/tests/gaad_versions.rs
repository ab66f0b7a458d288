//! Managed-policy versions in a GAAD: every version is kept (the default as the document, the
//! others beside it), each parsed as strictly as the default, and written back by `to_gaad`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use latch_model::gaad::{parse_gaad, parse_gaad_str, to_gaad, DocumentStyle};
use latch_model::FormatError;
use serde_json::{json, Value};

const ACCT: &str = "123456789012";
const ARN: &str = "arn:aws:iam::123456789012:policy/deploy";

fn statement(action: &str) -> Value {
    json!({"Version": "2012-10-17",
           "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
}

fn gaad(versions: Value) -> Value {
    json!({"Policies": [{"PolicyName": "deploy", "Arn": ARN, "DefaultVersionId": "v3",
                         "PolicyVersionList": versions}]})
}

fn three_versions() -> Value {
    gaad(json!([
        {"Document": statement("s3:GetObject"), "VersionId": "v3", "IsDefaultVersion": true,
         "CreateDate": "2024-03-01T00:00:00Z"},
        {"Document": statement("*"), "VersionId": "v1", "IsDefaultVersion": false,
         "CreateDate": "2021-01-05T10:00:00Z"},
        {"Document": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22iam%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D",
         "VersionId": "v2", "IsDefaultVersion": false}
    ]))
}

fn parse_err(v: &Value) -> FormatError {
    match parse_gaad(v, ACCT) {
        Ok(_) => panic!("parsed"),
        Err(e) => e,
    }
}

#[test]
fn every_version_is_kept_beside_the_default() {
    let account = parse_gaad(&three_versions(), ACCT).unwrap();
    let p = account.managed_policy(ARN).unwrap();
    assert_eq!(p.default_version_id, "v3");
    assert_eq!(p.document.value()["Statement"][0]["Action"], "s3:GetObject");
    let ids: Vec<&str> = p.other_versions.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["v1", "v2"]);
    assert_eq!(
        p.other_versions[0].document.value()["Statement"][0]["Action"],
        "*"
    );
    assert_eq!(
        p.other_versions[0]
            .create_date
            .as_ref()
            .map(|d| d.text.as_str()),
        Some("2021-01-05T10:00:00Z")
    );
    // URL-encoded like the default; parsed by the engine.
    assert_eq!(
        p.other_versions[1].document.value()["Statement"][0]["Action"],
        "iam:*"
    );
    assert_eq!(p.other_versions[1].document.policy.statements.len(), 1);
}

#[test]
fn a_non_default_version_the_engine_cannot_parse_is_an_error() {
    let bad = gaad(json!([
        {"Document": statement("s3:GetObject"), "VersionId": "v3", "IsDefaultVersion": true},
        {"Document": {"Version": "2012-10-17",
                      "Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]},
         "VersionId": "v1", "IsDefaultVersion": false}
    ]));
    let e = parse_err(&bad);
    assert!(
        e.path
            .starts_with("Policies[0].PolicyVersionList[1].Document"),
        "{e}"
    );
    assert!(e.reason.contains("invalid policy"), "{e}");
    // Not JSON at all.
    let bad = gaad(json!([
        {"Document": statement("s3:GetObject"), "VersionId": "v3", "IsDefaultVersion": true},
        {"Document": "%7Bnot json", "VersionId": "v1", "IsDefaultVersion": false}
    ]));
    let e = parse_err(&bad);
    assert_eq!(e.path, "Policies[0].PolicyVersionList[1].Document", "{e}");
}

#[test]
fn a_non_default_version_needs_an_id_and_ids_are_unique() {
    let no_id = gaad(json!([
        {"Document": statement("s3:GetObject"), "VersionId": "v3", "IsDefaultVersion": true},
        {"Document": statement("*"), "IsDefaultVersion": false}
    ]));
    let e = parse_err(&no_id);
    assert!(
        e.path.starts_with("Policies[0].PolicyVersionList[1]"),
        "{e}"
    );
    assert!(e.to_string().contains("VersionId"), "{e}");
    let twice = gaad(json!([
        {"Document": statement("s3:GetObject"), "VersionId": "v3", "IsDefaultVersion": true},
        {"Document": statement("*"), "VersionId": "v3", "IsDefaultVersion": false}
    ]));
    let e = parse_err(&twice);
    assert_eq!(e.path, "Policies[0].PolicyVersionList[1]", "{e}");
    assert!(e.reason.contains("version `v3` appears twice"), "{e}");
}

#[test]
fn to_gaad_writes_every_version_back() {
    let account = parse_gaad(&three_versions(), ACCT).unwrap();
    for style in [DocumentStyle::Object, DocumentStyle::UrlEncoded] {
        let written = to_gaad(&account, style);
        let list = written["Policies"][0]["PolicyVersionList"]
            .as_array()
            .unwrap();
        assert_eq!(list.len(), 3);
        let defaults = list
            .iter()
            .filter(|v| v["IsDefaultVersion"] == json!(true))
            .count();
        assert_eq!(defaults, 1);
        let again = parse_gaad_str(&written.to_string(), ACCT).unwrap();
        assert_eq!(again.managed_policies, account.managed_policies);
    }
}
