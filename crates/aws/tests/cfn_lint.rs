//! The installation's CloudFormation templates (`deploy/cloudformation`) pass cfn-lint, the
//! CloudFormation linter, with no error and no warning (resource properties, intrinsic
//! functions, IAM action names). cfn-lint comes from PyPI through `deploy/cfn-lint`; where it
//! cannot be installed the test says so loudly and passes, unless `LATCH_REQUIRE_CFN_LINT` is
//! set (`scripts/test` sets it once it installed cfn-lint), where it fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::Path;
use std::process::Command;

#[test]
fn every_template_passes_cfn_lint() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("deploy/cfn-lint");
    let required = std::env::var_os("LATCH_REQUIRE_CFN_LINT").is_some();
    let install = Command::new(&script).arg("install").output().unwrap();
    if !install.status.success() {
        let why = String::from_utf8_lossy(&install.stderr);
        assert!(!required, "cfn-lint could not be installed: {why}");
        eprintln!(
            "\n!!!!!!!! SKIPPED: cfn-lint could not be installed (PyPI unreachable?), the \
             CloudFormation templates were NOT linted !!!!!!!!\n{why}\n"
        );
        return;
    }
    let templates: Vec<_> = std::fs::read_dir(root.join("deploy/cloudformation"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    assert!(templates.len() >= 4, "templates: {templates:?}");
    let out = Command::new(&script).arg("check").output().unwrap();
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
