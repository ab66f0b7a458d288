//! The loader: bad input gets an error naming the file and JSON path; missing optional parts
//! land in `not_analysed`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::Path;

use latch_model::document::percent_encode;
use latch_model::load::{self, LoadError};
use serde_json::{json, Value};

const ACCT: &str = "123456789012";

fn role(name: &str, attached: &[&str]) -> Value {
    json!({
        "Path": "/", "RoleName": name, "RoleId": format!("AROA{name}"),
        "Arn": format!("arn:aws:iam::{ACCT}:role/{name}"),
        "CreateDate": "2024-01-01T00:00:00Z",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "RolePolicyList": [], "InstanceProfileList": [],
        "AttachedManagedPolicies": attached.iter().map(|a| json!({"PolicyArn": a, "PolicyName": "x"})).collect::<Vec<_>>(),
        "Tags": [], "RoleLastUsed": {}
    })
}

fn write(dir: &Path, rel: &str, v: &Value) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

fn gaad_dir(gaad: &Value) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), &format!("accounts/{ACCT}/gaad.json"), gaad);
    d
}

fn err(dir: &Path) -> String {
    match load::snapshot(dir) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn minimal_snapshot_reports_every_missing_optional_part() {
    let d = gaad_dir(&json!({"RoleDetailList": [role("app", &[
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "arn:aws:iam::aws:policy/AWSNotBundledPolicy",
        "arn:aws:iam::123456789012:policy/missing-local",
    ])]}));
    let s = load::snapshot(d.path()).unwrap();
    assert!(s.organization.is_none());
    let text = s.not_analysed.join("\n");
    assert_eq!(s.not_analysed.len(), 7, "{text}");
    assert!(text.contains("no credential-report.csv"), "{text}");
    assert!(text.contains("no workloads.json"), "{text}");
    assert!(text.contains("organization.json: absent"), "{text}");
    assert!(text.contains("AWSNotBundledPolicy"), "{text}");
    assert!(text.contains("missing-local"), "{text}");
    assert!(text.contains("no resource-policies.json"), "{text}");
    assert!(text.contains("cloudtrail/: absent"), "{text}");
    let p = s.principals().next().unwrap();
    assert_eq!(
        p.identity_policies().len(),
        1,
        "ReadOnlyAccess resolved from the bundle"
    );
    assert_eq!(p.unresolved_policies().len(), 2);
    assert!(p.scp_chain().is_none());
    assert!(s.is_internal_account(ACCT) && !s.is_internal_account("000000000000"));
}

#[test]
fn unknown_field_names_file_and_path() {
    let mut r = role("app", &[]);
    r["RolePolicyLists"] = json!([]);
    let d = gaad_dir(&json!({"RoleDetailList": [role("ok", &[]), r]}));
    let e = err(d.path());
    assert!(e.contains(&format!("accounts/{ACCT}/gaad.json")), "{e}");
    assert!(
        e.contains("RoleDetailList[1].RolePolicyLists: unknown field `RolePolicyLists`"),
        "{e}"
    );
}

#[test]
fn broken_json_names_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join(format!("accounts/{ACCT}/gaad.json"));
    fs::create_dir_all(f.parent().unwrap()).unwrap();
    fs::write(&f, "{\n  \"RoleDetailList\": [\n    {,\n  ]\n}\n").unwrap();
    let e = load::snapshot(d.path()).unwrap_err();
    match &e {
        LoadError::Format { file, error } => {
            assert_eq!(file, &f);
            assert_eq!(error.path, "$");
            assert!(error.reason.contains("line 3 column 6"), "{e}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn bad_policy_inside_a_document_names_the_statement() {
    let mut r = role("app", &[]);
    r["RolePolicyList"] = json!([{"PolicyName": "p", "PolicyDocument": percent_encode(
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": 7}]}).to_string())}]);
    let d = gaad_dir(&json!({"RoleDetailList": [r]}));
    let e = err(d.path());
    assert!(
        e.contains("RoleDetailList[0].RolePolicyList[0].PolicyDocument.Statement"),
        "{e}"
    );
}

#[test]
fn paginated_gaad_merges_and_encoded_documents_decode() {
    let mut encoded = role("b", &["arn:aws:iam::123456789012:policy/local"]);
    encoded["AssumeRolePolicyDocument"] = json!(percent_encode(
        &encoded["AssumeRolePolicyDocument"].to_string()
    ));
    let pages = json!([
        {"RoleDetailList": [role("a", &[])], "IsTruncated": true, "Marker": "m1"},
        {"RoleDetailList": [encoded], "Policies": [{
            "Arn": "arn:aws:iam::123456789012:policy/local", "DefaultVersionId": "v2",
            "PolicyVersionList": [
                {"Document": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D",
                 "VersionId": "v2", "IsDefaultVersion": true},
                {"Document": {"Version": "2012-10-17", "Statement": []}, "VersionId": "v1", "IsDefaultVersion": false}
            ]}], "IsTruncated": false}
    ]);
    let d = gaad_dir(&pages);
    let s = load::snapshot(d.path()).unwrap();
    let a = &s.accounts[ACCT];
    assert_eq!(a.roles.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(a.roles["b"].trust_policy, a.roles["a"].trust_policy);
    let local = a
        .managed_policy("arn:aws:iam::123456789012:policy/local")
        .unwrap();
    assert_eq!(local.name, "local");
    assert_eq!(
        local.document.value()["Statement"][0]["Action"],
        "s3:GetObject"
    );
    // The same role on two pages is an error naming the second.
    let d = gaad_dir(
        &json!([{"RoleDetailList": [role("a", &[])]}, {"RoleDetailList": [role("a", &[])]}]),
    );
    let e = err(d.path());
    assert!(
        e.contains("$[1].RoleDetailList[0]: role `a` appears twice"),
        "{e}"
    );
}

#[test]
fn arns_must_belong_to_the_folder_account() {
    let mut r = role("app", &[]);
    r["Arn"] = json!("arn:aws:iam::999999999999:role/app");
    let d = gaad_dir(&json!({"RoleDetailList": [r]}));
    let e = err(d.path());
    assert!(e.contains("RoleDetailList[0].Arn"), "{e}");
    assert!(e.contains("belongs to account `999999999999`"), "{e}");
}

fn org(children: Value) -> Value {
    json!({"format": "latch.organization/v1", "management_account_id": ACCT,
           "root": {"id": "r-abcd", "name": "Root", "scps": [{"id": "p-FullAWSAccess"}], "children": children}})
}

#[test]
fn organization_errors_name_the_json_path() {
    let d = gaad_dir(&json!({"RoleDetailList": [role("app", &[])]}));
    let cases = [
        (
            org(json!([{"type": "account", "id": ACCT, "name": "m", "scps": []}])),
            "root.children[0].scps: every root, OU and account has at least one SCP",
        ),
        (
            org(
                json!([{"type": "ou", "id": "ou-1", "scps": [{"id": "p-FullAWSAccess"}], "children": [
                {"type": "account", "id": ACCT, "scps": [{"id": "p-custom", "name": "c"}]}]}]),
            ),
            "root.children[0].children[0].scps[0]: missing required field `document`",
        ),
        (
            org(
                json!([{"type": "account", "id": ACCT, "scps": [{"id": "p-FullAWSAccess"}], "ou": "x"}]),
            ),
            "root.children[0].ou: unknown field `ou`",
        ),
        (
            org(json!([{"type": "folder", "id": ACCT, "scps": [{"id": "p-FullAWSAccess"}]}])),
            "root.children[0].type: unknown node type `folder`",
        ),
        (
            org(json!([])),
            "management_account_id: account `123456789012` is not in the organization tree",
        ),
    ];
    for (o, want) in cases {
        write(d.path(), "organization.json", &o);
        let e = err(d.path());
        assert!(e.contains("organization.json: "), "{e}");
        assert!(e.contains(want), "want `{want}` in `{e}`");
    }
    // A GAAD for an account outside the organization is an inconsistency, named by file.
    let other = json!([{"type": "account", "id": ACCT, "scps": [{"id": "p-FullAWSAccess"}]}]);
    write(d.path(), "organization.json", &org(other));
    write(
        d.path(),
        "accounts/222222222222/gaad.json",
        &json!({"RoleDetailList": []}),
    );
    let e = err(d.path());
    assert!(
        e.contains("accounts/222222222222/gaad.json: has IAM data but is not in organization.json"),
        "{e}"
    );
}

/// `n` custom policies of a type (`scp` or `rcp`), each a valid document.
fn customs(kind: &str, n: usize, extra: Option<&str>) -> Vec<Value> {
    let mut out: Vec<Value> = extra.map(|id| json!({"id": id})).into_iter().collect();
    for i in 0..n {
        let principal = if kind == "rcp" {
            json!({"Principal": "*"})
        } else {
            json!({})
        };
        let mut st = json!({"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"});
        if let (Some(st), Some(p)) = (st.as_object_mut(), principal.as_object()) {
            st.extend(p.clone());
        }
        out.push(
            json!({"id": format!("p-{kind}{i:08}"), "name": format!("{kind}-{i}"),
                        "document": {"Version": "2012-10-17", "Statement": [st]}}),
        );
    }
    out
}

#[test]
fn attached_policies_are_held_to_each_types_quota() {
    let d = gaad_dir(&json!({"RoleDetailList": [role("app", &[])]}));
    let account = |scps: Vec<Value>, rcps: Vec<Value>| {
        org(json!([{"type": "account", "id": ACCT, "scps": scps, "rcps": rcps}]))
    };
    // Ten SCPs (FullAWSAccess and nine others) and five RCPs (RCPFullAWSAccess, implicit, and
    // four others) are what AWS allows on one node.
    write(
        d.path(),
        "organization.json",
        &account(
            customs("scp", 9, Some("p-FullAWSAccess")),
            customs("rcp", 4, None),
        ),
    );
    let s = load::snapshot(d.path()).unwrap();
    let node = &s.organization.as_ref().unwrap().root.children[0];
    assert_eq!((node.scps.len(), node.rcps.len()), (10, 5));
    // One more of either is refused, naming the list; the implicit RCPFullAWSAccess counts.
    write(
        d.path(),
        "organization.json",
        &account(customs("scp", 10, Some("p-FullAWSAccess")), Vec::new()),
    );
    let e = err(d.path());
    assert!(
        e.contains("root.children[0].scps: 11 SCPs attached; AWS allows at most 10 per node"),
        "{e}"
    );
    write(
        d.path(),
        "organization.json",
        &account(
            customs("scp", 0, Some("p-FullAWSAccess")),
            customs("rcp", 5, None),
        ),
    );
    let e = err(d.path());
    assert!(
        e.contains(
            "root.children[0].rcps: 6 RCPs attached, `RCPFullAWSAccess` included; AWS allows at most 5 per node"
        ),
        "{e}"
    );
}

#[test]
fn resource_policy_errors_and_layout_errors() {
    let d = gaad_dir(&json!({"RoleDetailList": []}));
    write(
        d.path(),
        &format!("accounts/{ACCT}/resource-policies.json"),
        &json!({
        "format": "latch.resource-policies/v1",
        "policies": [{"resource_arn": "arn:aws:s3:::b", "kind": "kms-key", "document": {}}]}),
    );
    let e = err(d.path());
    assert!(
        e.contains(
            "resource-policies.json: policies[0].resource_arn: `arn:aws:s3:::b` is not a kms ARN"
        ),
        "{e}"
    );
    write(
        d.path(),
        &format!("accounts/{ACCT}/resource-policies.json"),
        &json!({
        "format": "latch.resource-policies/v1",
        "policies": [{"resource_arn": "arn:aws:s3:::b", "kind": "s3-bucket", "document": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}]}),
    );
    let s = load::snapshot(d.path()).unwrap();
    assert_eq!(s.resource_policies().count(), 1);

    fs::create_dir_all(d.path().join("accounts/prod")).unwrap();
    assert!(err(d.path())
        .contains("accounts/prod: accounts/ holds only folders named by 12-digit account id"));
    let empty = tempfile::tempdir().unwrap();
    assert!(err(empty.path()).contains("accounts: missing"));
}

#[test]
fn credential_reports_are_read_checked_and_their_absence_reported() {
    let d = gaad_dir(&json!({"RoleDetailList": []}));
    let s = load::snapshot(d.path()).unwrap();
    assert!(
        s.not_analysed
            .iter()
            .any(|n| n.contains("no credential-report.csv") && n.contains(ACCT)),
        "{:#?}",
        s.not_analysed
    );
    let header = latch_model::credentials::HEADER;
    let path = d
        .path()
        .join(format!("accounts/{ACCT}/credential-report.csv"));
    let row = |acct: &str, used: &str| {
        format!("{header}\nci,arn:aws:iam::{acct}:user/ci,2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2024-01-01T00:00:00+00:00,{used},us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n")
    };
    fs::write(&path, row(ACCT, "2026-11-01T00:00:00+00:00")).unwrap();
    let s = load::snapshot(d.path()).unwrap();
    let report = s.accounts[ACCT].credential_report.as_ref().unwrap();
    assert_eq!(report.rows.len(), 1);
    assert!(!s.not_analysed.iter().any(|n| n.contains("credential")));

    // A bad date names the file, the line and the column.
    fs::write(&path, row(ACCT, "last tuesday")).unwrap();
    let e = err(d.path());
    assert!(
        e.contains("credential-report.csv: line 2.access_key_1_last_used_date: `last tuesday`"),
        "{e}"
    );
    // Another account's report in this account's folder is refused.
    fs::write(&path, row("999999999999", "N/A")).unwrap();
    let e = err(d.path());
    assert!(
        e.contains("is not in account 123456789012: is this another account's report?"),
        "{e}"
    );
}

fn minimal_gaad() -> Value {
    json!({"RoleDetailList": [role("app", &[])]})
}

#[test]
fn a_gaad_json_that_is_a_folder_is_called_a_folder() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join(format!("accounts/{ACCT}/gaad.json"));
    fs::create_dir_all(&f).unwrap();
    let e = err(d.path());
    assert!(e.contains(&f.display().to_string()), "{e}");
    assert!(e.contains("a folder, not a file"), "{e}");
    assert!(!e.contains("missing"), "{e}");
}

#[cfg(unix)]
#[test]
fn a_gaad_json_that_is_a_link_loop_is_called_a_loop() {
    let d = tempfile::tempdir().unwrap();
    let acct = d.path().join(format!("accounts/{ACCT}"));
    fs::create_dir_all(&acct).unwrap();
    std::os::unix::fs::symlink("gaad.json", acct.join("gaad.json")).unwrap();
    let e = err(d.path());
    assert!(
        e.contains(&acct.join("gaad.json").display().to_string()),
        "{e}"
    );
    assert!(e.contains("symbolic link loop"), "{e}");
    assert!(!e.contains("missing"), "{e}");
}

#[cfg(unix)]
#[test]
fn an_optional_file_behind_a_link_loop_is_an_error_not_absent() {
    for name in [
        "organization.json".to_owned(),
        format!("accounts/{ACCT}/resource-policies.json"),
        format!("accounts/{ACCT}/credential-report.csv"),
    ] {
        let d = gaad_dir(&minimal_gaad());
        let f = d.path().join(&name);
        std::os::unix::fs::symlink(f.file_name().unwrap(), &f).unwrap();
        let e = err(d.path());
        assert!(e.contains(&f.display().to_string()), "{e}");
        assert!(e.contains("symbolic link loop"), "{e}");
    }
}

#[test]
fn a_byte_order_mark_is_skipped_and_utf16_is_named() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join(format!("accounts/{ACCT}/gaad.json"));
    fs::create_dir_all(f.parent().unwrap()).unwrap();
    let text = minimal_gaad().to_string();
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(text.as_bytes());
    fs::write(&f, &bytes).unwrap();
    load::snapshot(d.path()).unwrap();

    for (bom, order) in [
        ([0xFF, 0xFE], "little-endian"),
        ([0xFE, 0xFF], "big-endian"),
    ] {
        let mut bytes = bom.to_vec();
        for u in text.encode_utf16() {
            let pair = if order == "little-endian" {
                u.to_le_bytes()
            } else {
                u.to_be_bytes()
            };
            bytes.extend_from_slice(&pair);
        }
        fs::write(&f, &bytes).unwrap();
        let e = err(d.path());
        assert!(e.contains(&f.display().to_string()), "{e}");
        assert!(e.contains("UTF-16"), "{e}");
        assert!(e.contains(order), "{e}");
        assert!(e.contains("save it as UTF-8"), "{e}");
    }
}

#[test]
fn empty_and_non_utf8_files_say_so() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join(format!("accounts/{ACCT}/gaad.json"));
    fs::create_dir_all(f.parent().unwrap()).unwrap();
    fs::write(&f, " \n").unwrap();
    let e = err(d.path());
    assert!(e.contains(&f.display().to_string()), "{e}");
    assert!(e.contains("empty: expected a JSON document"), "{e}");

    fs::write(&f, b"{\"RoleDetailList\":\n [\"\xFF\"]}").unwrap();
    let e = err(d.path());
    assert!(e.contains(&f.display().to_string()), "{e}");
    assert!(e.contains("not UTF-8"), "{e}");
    assert!(e.contains("byte offset 22 (line 2)"), "{e}");

    let cr = d
        .path()
        .join(format!("accounts/{ACCT}/credential-report.csv"));
    fs::write(&f, minimal_gaad().to_string()).unwrap();
    fs::write(&cr, "").unwrap();
    let e = err(d.path());
    assert!(e.contains(&cr.display().to_string()), "{e}");
    assert!(e.contains("empty: expected"), "{e}");
}

#[cfg(unix)]
#[test]
fn an_account_folder_that_is_a_file_or_a_link_loop_is_called_that() {
    let d = gaad_dir(&minimal_gaad());
    let other = d.path().join("accounts/210987654321");
    fs::write(&other, "not a folder").unwrap();
    let e = err(d.path());
    assert!(e.contains(&other.display().to_string()), "{e}");
    assert!(e.contains("a file, not a folder"), "{e}");
    fs::remove_file(&other).unwrap();
    std::os::unix::fs::symlink("210987654321", &other).unwrap();
    let e = err(d.path());
    assert!(e.contains("a symbolic link loop"), "{e}");
}

/// Accounts are read in parallel; the error reported is still that of the first broken
/// account in account-id order, however the reading was split, and every account before it
/// loads.
#[test]
fn of_several_broken_accounts_the_first_in_order_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..24).map(|i| format!("1000000000{i:02}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let p = d.path().join(format!("accounts/{id}/gaad.json"));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        // Accounts 7 and 15 and every one from 20 are broken, each in its own way.
        let text = match i {
            7 => "{\"RoleDetailList\": [{,]}".to_owned(),
            15 | 20.. => "{\"UnknownList\": []}".to_owned(),
            _ => "{\"RoleDetailList\": []}".to_owned(),
        };
        fs::write(p, text).unwrap();
    }
    for _ in 0..5 {
        let e = load::snapshot(d.path()).unwrap_err();
        match &e {
            LoadError::Format { file, .. } => {
                assert!(file.ends_with(format!("{}/gaad.json", ids[7])), "{e}");
            }
            other => panic!("{other}"),
        }
    }
    // Mended, the next broken one is reported.
    fs::write(
        d.path().join(format!("accounts/{}/gaad.json", ids[7])),
        "{\"RoleDetailList\": []}",
    )
    .unwrap();
    let e = err(d.path());
    assert!(e.contains(&ids[15]), "{e}");
}
