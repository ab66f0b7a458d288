//! Problems in the files people write are shown in place, through the binary: `latch validate`
//! (policy documents), `latch eval --case` and `latch plan --config` (`latch.toml`) name a code
//! and draw the offending line with a mark under the offending text; `--format json` gives the
//! line and column.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn latch(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("latch-diag-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

/// The line of a drawing that marks the text, and the line it marks: the mark's column is
/// where the offending text starts.
fn marked<'o>(out: &'o str, text: &str) -> &'o str {
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("`{text}` is not drawn:\n{out}"));
    lines[at + 1]
}

#[test]
fn validate_draws_each_problem_under_its_code_and_json_gives_line_and_column() {
    let d = dir("validate");
    let bad = write(
        &d,
        "bad.json",
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"},\n    {\"Effect\": \"Alow\", \"Action\": \"*\", \"Resource\": \"*\"}\n  ]\n}\n",
    );
    let syntax = write(
        &d,
        "syntax.json",
        "{\n  \"Statement\": [\n    {\"Effect\": \"Allow\" \"Action\": \"*\"}\n  ]\n}\n",
    );
    let typo = write(
        &d,
        "typo.json",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObjectx\",\"Resource\":\"*\"}]}",
    );
    let (code, out, _) = latch(&["validate", &bad, &syntax, &typo]);
    assert_eq!(code, 1, "{out}");
    // The one-line form comes first, as before; then the drawing.
    assert!(out.contains("error    "), "{out}");
    assert!(out.contains("× latch::policy::element"), "{out}");
    assert!(out.contains("× latch::syntax"), "{out}");
    assert!(out.contains("× latch::policy::lint"), "{out}");
    assert!(out.contains("bad.json:5:6]"), "{out}");
    assert!(out.contains("syntax.json:3:24]"), "{out}");
    // The mark sits under the offending member and says what is wrong with it, without
    // repeating the path.
    let mark = marked(&out, "{\"Effect\": \"Alow\"");
    assert!(mark.contains('─') || mark.contains('┬'), "{out}");
    assert!(out.contains("╰── must be \"Allow\" or \"Deny\""), "{out}");
    assert!(out.contains("did you mean `s3:GetObject`?"), "{out}");

    let (_, out, _) = latch(&["validate", &bad, &syntax, &typo, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let detail = |file: usize, kind: &str| v["files"][file][kind][0].clone();
    assert_eq!(detail(0, "error_details")["code"], "latch::policy::element");
    assert_eq!(
        (
            detail(0, "error_details")["line"].as_u64(),
            detail(0, "error_details")["column"].as_u64()
        ),
        (Some(5), Some(6))
    );
    assert_eq!(detail(1, "error_details")["code"], "latch::syntax");
    assert_eq!(detail(1, "error_details")["line"], 3);
    assert_eq!(detail(2, "warning_details")["code"], "latch::policy::lint");
    assert_eq!(detail(2, "warning_details")["column"], 56);
    // The plain messages stay where they were.
    assert_eq!(
        v["files"][0]["errors"][0],
        "Statement[1].Effect: must be \"Allow\" or \"Deny\""
    );
}

#[test]
fn a_config_key_and_a_case_are_drawn_where_they_are_wrong() {
    let d = dir("config");
    let config = write(
        &d,
        "latch.toml",
        "[bundles.ops]\nactions = [\"iam:PassRole\", \"iam:PassRol\"]\n",
    );
    let (code, _, err) = latch(&["plan", "--config", &config, "--snapshot", "examples/org"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`bundles.ops.actions[1]`"), "{err}");
    assert!(err.contains("× latch::config"), "{err}");
    assert!(err.contains("latch.toml:2:28]"), "{err}");
    assert!(marked(&err, "actions = [").contains('┬'), "{err}");

    let case = write(
        &d,
        "case.json",
        "{\"request\": {\"action\": \"s3:GetObject\",}}",
    );
    let (code, _, err) = latch(&["eval", "--case", &case]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a valid case"), "{err}");
    assert!(err.contains("× latch::syntax"), "{err}");
    assert!(err.contains("case.json:1:39]"), "{err}");
}
