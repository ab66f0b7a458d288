//! The plan directory's files (`plan.json`, `applied.json`) and a grants file, read from disk:
//! every bad file is named with its problem; a UTF-8 byte-order mark is skipped.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::path::Path;

use latch_aws::drift::load_grants;
use latch_aws::plan::Plan;
use latch_aws::state::AppliedState;

const PLAN: &str = r#"{"format":"latch.plan/v1","organization":{"root_id":"r-ab12","management_account_id":"123456789012"},"policies":[],"tags":[]}"#;
const GRANTS: &str =
    r#"[{"principal_arn":"arn:aws:iam::210987654321:role/x","key":"latch:grant:b"}]"#;

fn bom(text: &str) -> Vec<u8> {
    let mut b = vec![0xEF, 0xBB, 0xBF];
    b.extend_from_slice(text.as_bytes());
    b
}

fn utf16(text: &str) -> Vec<u8> {
    let mut b = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        b.extend_from_slice(&u.to_le_bytes());
    }
    b
}

fn says(e: impl std::fmt::Display, file: &Path, problem: &str) {
    let e = e.to_string();
    assert!(
        e.contains(&file.display().to_string()) && e.contains(problem),
        "expected `{}` and `{problem}` in: {e}",
        file.display()
    );
}

#[test]
fn plan_json_problems_are_named() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("plan.json");
    fs::write(&f, bom(PLAN)).unwrap();
    assert_eq!(Plan::load(d.path()).unwrap().organization.root_id, "r-ab12");
    fs::write(&f, utf16(PLAN)).unwrap();
    says(Plan::load(d.path()).unwrap_err(), &f, "UTF-16");
    fs::write(&f, b"{\"format\": \"\xFF\"}").unwrap();
    says(Plan::load(d.path()).unwrap_err(), &f, "not UTF-8");
    fs::write(&f, "").unwrap();
    says(
        Plan::load(d.path()).unwrap_err(),
        &f,
        "empty: expected a JSON document",
    );
    fs::remove_file(&f).unwrap();
    says(Plan::load(d.path()).unwrap_err(), &f, "missing");
    fs::create_dir(&f).unwrap();
    says(
        Plan::load(d.path()).unwrap_err(),
        &f,
        "a folder, not a file",
    );
    // --plan names a file, not the plan directory.
    let file = d.path().join("plan-file.json");
    fs::write(&file, PLAN).unwrap();
    says(
        Plan::load(&file).unwrap_err(),
        &file,
        "a file, not a folder",
    );
}

#[test]
fn applied_json_problems_are_named_and_its_absence_is_a_fresh_record() {
    let d = tempfile::tempdir().unwrap();
    let f = AppliedState::file(d.path());
    assert_eq!(
        AppliedState::load(d.path()).unwrap(),
        AppliedState::default()
    );
    let text = serde_json::to_string(&AppliedState::default()).unwrap();
    fs::write(&f, bom(&text)).unwrap();
    assert_eq!(
        AppliedState::load(d.path()).unwrap(),
        AppliedState::default()
    );
    fs::write(&f, " \n").unwrap();
    says(AppliedState::load(d.path()).unwrap_err(), &f, "empty");
    fs::remove_file(&f).unwrap();
    fs::create_dir(&f).unwrap();
    says(
        AppliedState::load(d.path()).unwrap_err(),
        &f,
        "a folder, not a file",
    );
}

#[cfg(unix)]
#[test]
fn a_link_loop_is_named_not_taken_for_a_missing_record() {
    let d = tempfile::tempdir().unwrap();
    let f = AppliedState::file(d.path());
    std::os::unix::fs::symlink("applied.json", &f).unwrap();
    says(
        AppliedState::load(d.path()).unwrap_err(),
        &f,
        "symbolic link loop",
    );
    let p = d.path().join("plan.json");
    std::os::unix::fs::symlink("plan.json", &p).unwrap();
    says(Plan::load(d.path()).unwrap_err(), &p, "symbolic link loop");
}

#[test]
fn grants_file_problems_are_named() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("grants.json");
    fs::write(&f, bom(GRANTS)).unwrap();
    assert_eq!(load_grants(&f).unwrap().len(), 1);
    fs::write(&f, utf16(GRANTS)).unwrap();
    says(load_grants(&f).unwrap_err(), &f, "UTF-16");
    fs::write(&f, "").unwrap();
    says(load_grants(&f).unwrap_err(), &f, "empty");
    says(
        load_grants(d.path()).unwrap_err(),
        d.path(),
        "a folder, not a file",
    );
}
