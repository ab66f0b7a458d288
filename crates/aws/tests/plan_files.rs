//! The plan directory's files (`plan.json`, `applied.json`) and a grants file, read from disk:
//! every bad file is named with its problem; a UTF-8 byte-order mark is skipped.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::fs;
use std::path::Path;

use latch_aws::drift::load_grants;
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
    assert_eq!(
        latch_aws::plan::load(d.path())
            .unwrap()
            .organization
            .root_id,
        "r-ab12"
    );
    fs::write(&f, utf16(PLAN)).unwrap();
    says(latch_aws::plan::load(d.path()).unwrap_err(), &f, "UTF-16");
    fs::write(&f, b"{\"format\": \"\xFF\"}").unwrap();
    says(
        latch_aws::plan::load(d.path()).unwrap_err(),
        &f,
        "not UTF-8",
    );
    fs::write(&f, "").unwrap();
    says(
        latch_aws::plan::load(d.path()).unwrap_err(),
        &f,
        "empty: expected a JSON document",
    );
    fs::remove_file(&f).unwrap();
    says(latch_aws::plan::load(d.path()).unwrap_err(), &f, "missing");
    fs::create_dir(&f).unwrap();
    says(
        latch_aws::plan::load(d.path()).unwrap_err(),
        &f,
        "a folder, not a file",
    );
    // --plan names a file, not the plan directory.
    let file = d.path().join("plan-file.json");
    fs::write(&file, PLAN).unwrap();
    says(
        latch_aws::plan::load(&file).unwrap_err(),
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
    says(
        latch_aws::plan::load(d.path()).unwrap_err(),
        &p,
        "symbolic link loop",
    );
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

mod properties {
    //! The parsers behind those files on arbitrary bytes and mutations of valid ones: no panic,
    //! and every error names the file and a field or a line and column.
    use std::path::Path;

    use latch_aws::drift::parse_grants;
    use latch_aws::error::AwsError;
    use latch_aws::state::AppliedState;
    use latch_input::{decode, Expected};
    use proptest::prelude::*;

    const FULL_PLAN: &str = r#"{"format":"latch.plan/v1","organization":{"root_id":"r-ab12","management_account_id":"123456789012"},
        "policies":[{"name":"latch-deny","type":"SERVICE_CONTROL_POLICY","description":"d","file":"scp/latch-deny.json",
          "content":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"s3:DeleteBucket\",\"Resource\":\"*\"}]}",
          "targets":["r-ab12","ou-ab12-abcdefgh","210987654321"]}],
        "tags":[{"principal_arn":"arn:aws:iam::210987654321:role/x","key":"latch:control-plane","value":"true","reason":"r"}]}"#;

    fn located(r: Result<(), AwsError>) -> Result<(), TestCaseError> {
        match r {
            Ok(()) => Ok(()),
            Err(AwsError::Invalid {
                file,
                field,
                reason,
            }) => {
                prop_assert_eq!(file, Path::new("f.json"));
                prop_assert!(!field.is_empty() && !reason.is_empty());
                Ok(())
            }
            Err(other) => Err(TestCaseError::fail(format!("unexpected error: {other}"))),
        }
    }

    fn all(bytes: Vec<u8>) -> Result<(), TestCaseError> {
        if let Ok(text) = decode(bytes, Expected::Json) {
            let f = Path::new("f.json");
            located(latch_aws::plan::parse(&text, f).map(drop))?;
            located(AppliedState::parse(&text, f).map(drop))?;
            located(parse_grants(&text, f).map(drop))?;
        }
        Ok(())
    }

    fn edits() -> impl Strategy<Value = Vec<(f64, u8, u8)>> {
        let byte = prop_oneof![
            3 => prop::sample::select(b"{}[]\",:\\ \n0a-".to_vec()),
            1 => any::<u8>(),
        ];
        prop::collection::vec((0.0..1.0f64, byte, 0u8..3), 1..6)
    }

    fn mutate(mut bytes: Vec<u8>, edits: &[(f64, u8, u8)]) -> Vec<u8> {
        for &(p, b, how) in edits {
            let i = ((p * bytes.len() as f64) as usize).min(bytes.len().saturating_sub(1));
            match how {
                0 if !bytes.is_empty() => bytes[i] = b,
                1 => bytes.insert(i, b),
                2 if !bytes.is_empty() => {
                    bytes.remove(i);
                }
                _ => {}
            }
        }
        bytes
    }

    fn seeds() -> [String; 3] {
        [
            FULL_PLAN.to_owned(),
            serde_json::to_string(&AppliedState::default()).unwrap(),
            super::GRANTS.to_owned(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            all(bytes)?;
        }

        #[test]
        fn mutated_files_never_panic(which in 0usize..3, edits in edits()) {
            all(mutate(seeds()[which].clone().into_bytes(), &edits))?;
        }
    }

    #[test]
    fn the_seeds_are_valid() {
        let f = Path::new("f.json");
        latch_aws::plan::parse(FULL_PLAN, f).unwrap();
        AppliedState::parse(&seeds()[1], f).unwrap();
        parse_grants(super::GRANTS, f).unwrap();
    }
}
