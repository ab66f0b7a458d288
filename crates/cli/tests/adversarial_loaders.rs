//! Every loader of the `latch` binary against files that are not what they should be: a folder,
//! a symbolic link loop, a UTF-8 byte-order mark, an empty file, bytes that are not UTF-8 and
//! UTF-16 text. Each refusal names the file and the problem and exits with status 2; nothing
//! panics; a byte-order mark is skipped (the file is then read as if it had none).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const PLAN: &str = r#"{"format":"latch.plan/v1","organization":{"root_id":"r-ab12","management_account_id":"123456789012"},"policies":[],"tags":[]}"#;
const TRAIL_FIXTURE: &str = "crates/trail/tests/fixtures/cloudtrail/AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/30/111122223333_CloudTrail_us-east-1_20260330T0915Z_fixture000000001.json";

/// What a file holding `body` after a UTF-8 byte-order mark leads to.
enum AfterBom {
    /// The command succeeds (exit status 0).
    Success,
    /// The command reaches the content and refuses a deliberate mistake in it: exit status 2,
    /// and the error holds this text (never "line 1 column 1").
    ContentError(&'static str),
}

/// What an empty file leads to.
enum IfEmpty {
    /// Exit status 2 and this text.
    Error(&'static str),
    /// The command documents an empty file as valid: exit status 0.
    Valid,
}

struct Loader {
    name: &'static str,
    /// Prepares `dir` (everything the command needs except the file under test) and returns
    /// the arguments and the file under test.
    setup: fn(&Path) -> (Vec<String>, PathBuf),
    /// Content written after a byte-order mark.
    body: fn() -> Vec<u8>,
    after_bom: AfterBom,
    if_empty: IfEmpty,
    /// The folder case is a symbolic link to a folder (the command walks real folders).
    folder_as_link: bool,
    /// How the command words bytes that are not UTF-8.
    not_utf8: &'static str,
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn example(rel: &str) -> Vec<u8> {
    fs::read(Path::new(REPO).join(rel)).unwrap()
}

/// A copy of the example organization; the file under test is `rel` in it.
fn snapshot(dir: &Path, rel: &str) -> (Vec<String>, PathBuf) {
    let snap = dir.join("snap");
    copy_dir(&Path::new(REPO).join("examples/org"), &snap);
    fs::remove_file(snap.join(rel)).unwrap();
    let args = vec![
        "plan".into(),
        "--snapshot".into(),
        s(&snap),
        "--out".into(),
        s(&dir.join("out")),
    ];
    (args, snap.join(rel))
}

fn plan_dir(dir: &Path) -> PathBuf {
    let plan = dir.join("plan");
    fs::create_dir_all(&plan).unwrap();
    plan
}

fn audit_export() -> Vec<u8> {
    use latch_grant::audit::{seal, to_json_line};
    let first = seal(
        None,
        &latch_grant::AuditEvent::new(1_000, "test.one").actor("alice"),
    );
    let second = seal(
        Some((first.seq, first.hash.as_str())),
        &latch_grant::AuditEvent::new(2_000, "test.two").actor("bob"),
    );
    format!("{}\n{}\n", to_json_line(&first), to_json_line(&second)).into_bytes()
}

fn loaders() -> Vec<Loader> {
    let json = "not UTF-8: invalid byte 0xFF at byte offset 1 (line 1)";
    vec![
        Loader {
            name: "snapshot organization.json",
            setup: |d| snapshot(d, "organization.json"),
            body: || example("examples/org/organization.json"),
            after_bom: AfterBom::Success,
            if_empty: IfEmpty::Error("empty: expected a JSON document"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "snapshot gaad.json",
            setup: |d| snapshot(d, "accounts/100000000001/gaad.json"),
            body: || example("examples/org/accounts/100000000001/gaad.json"),
            after_bom: AfterBom::Success,
            if_empty: IfEmpty::Error("empty: expected a JSON document"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "snapshot resource-policies.json",
            setup: |d| snapshot(d, "accounts/200000000002/resource-policies.json"),
            body: || example("examples/org/accounts/200000000002/resource-policies.json"),
            after_bom: AfterBom::Success,
            if_empty: IfEmpty::Error("empty: expected a JSON document"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "snapshot credential-report.csv",
            setup: |d| snapshot(d, "accounts/300000000005/credential-report.csv"),
            body: || example("examples/org/accounts/300000000005/credential-report.csv"),
            after_bom: AfterBom::Success,
            if_empty: IfEmpty::Error("empty: expected CSV with a header line"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "snapshot trails.json",
            setup: |d| snapshot(d, "trails.json"),
            body: || example("examples/org/trails.json"),
            after_bom: AfterBom::Success,
            if_empty: IfEmpty::Error("empty: expected a JSON document"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "plan.json read by prove",
            setup: |d| {
                let plan = plan_dir(d);
                let args = vec![
                    "prove".into(),
                    "--snapshot".into(),
                    s(&Path::new(REPO).join("examples/org")),
                    "--plan".into(),
                    s(&plan),
                ];
                (args, plan.join("plan.json"))
            },
            // A field the format does not have (prove and apply read plans with one reader).
            body: || {
                PLAN.replace(r#""tags":[]"#, r#""tags":[],"stats":{}"#)
                    .into_bytes()
            },
            after_bom: AfterBom::ContentError("unknown field `stats`"),
            if_empty: IfEmpty::Error("empty: expected a JSON document"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "plan.json read by apply",
            setup: |d| {
                let plan = plan_dir(d);
                let args = vec![
                    "apply".into(),
                    "--plan".into(),
                    s(&plan),
                    "--dry-run".into(),
                ];
                (args, plan.join("plan.json"))
            },
            body: || PLAN.replace("r-ab12", "bad-root").into_bytes(),
            after_bom: AfterBom::ContentError("organization.root_id: `bad-root` is not a root id"),
            if_empty: IfEmpty::Error("empty: expected a JSON document"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "applied.json read by drift",
            setup: |d| {
                let plan = plan_dir(d);
                fs::write(plan.join("plan.json"), PLAN).unwrap();
                let args = vec!["drift".into(), "--plan".into(), s(&plan)];
                (args, plan.join("applied.json"))
            },
            body: || {
                let state = latch_aws::state::AppliedState::default();
                let mut v = serde_json::to_value(&state).unwrap();
                v["format"] = "latch.applied/v0".into();
                v.to_string().into_bytes()
            },
            after_bom: AfterBom::ContentError("format: `latch.applied/v0` is not"),
            if_empty: IfEmpty::Error("empty: expected a JSON document"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "grants file read by drift",
            setup: |d| {
                let plan = plan_dir(d);
                fs::write(plan.join("plan.json"), PLAN).unwrap();
                let grants = d.join("grants.json");
                let args = vec![
                    "drift".into(),
                    "--plan".into(),
                    s(&plan),
                    "--grants".into(),
                    s(&grants),
                ];
                (args, grants)
            },
            body: || br#"[{"principal_arn": "not-an-arn", "key": "latch:grant:x"}]"#.to_vec(),
            after_bom: AfterBom::ContentError("grants[0].principal_arn"),
            if_empty: IfEmpty::Error("empty: expected a JSON document"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "CloudTrail log file",
            setup: |d| {
                let day = d.join("ct/AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/30");
                fs::create_dir_all(&day).unwrap();
                let args = vec![
                    "trail".into(),
                    "usage".into(),
                    "--dir".into(),
                    s(&d.join("ct")),
                    "--strict".into(),
                    "--quiet".into(),
                ];
                (args, day.join("log.json"))
            },
            body: || example(TRAIL_FIXTURE),
            after_bom: AfterBom::Success,
            if_empty: IfEmpty::Error("empty: expected a JSON document"),
            folder_as_link: true,
            not_utf8: "not UTF-8 text (line 1, column 2)",
        },
        Loader {
            name: "server configuration",
            setup: |d| {
                let f = d.join("server.toml");
                (vec!["serve".into(), "--config".into(), s(&f)], f)
            },
            body: || b"[server]\nmax_duration = \"forever\"\n".to_vec(),
            after_bom: AfterBom::ContentError("server.max_duration"),
            if_empty: IfEmpty::Error("empty: expected a TOML document"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "firewall configuration",
            setup: |d| {
                let f = d.join("latch.toml");
                let args = vec![
                    "plan".into(),
                    "--snapshot".into(),
                    s(&Path::new(REPO).join("examples/org")),
                    "--config".into(),
                    s(&f),
                    "--out".into(),
                    s(&d.join("out")),
                ];
                (args, f)
            },
            body: || b"mode = \"bogus\"\n".to_vec(),
            after_bom: AfterBom::ContentError("mode"),
            // Every key has a default (docs/configuration.md).
            if_empty: IfEmpty::Valid,
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "audit export",
            setup: |d| {
                let f = d.join("audit.jsonl");
                (
                    vec!["audit".into(), "verify".into(), "--file".into(), s(&f)],
                    f,
                )
            },
            body: audit_export,
            after_bom: AfterBom::Success,
            if_empty: IfEmpty::Error("empty: expected JSON Lines"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "validate",
            setup: |d| {
                let f = d.join("policy.json");
                (vec!["validate".into(), s(&f)], f)
            },
            body: || {
                br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#
                    .to_vec()
            },
            after_bom: AfterBom::Success,
            if_empty: IfEmpty::Error("empty: expected a JSON document"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "eval --case",
            setup: |d| {
                let f = d.join("case.json");
                (vec!["eval".into(), "--case".into(), s(&f)], f)
            },
            body: || example("examples/eval/s3-delete-denied-by-scp.json"),
            after_bom: AfterBom::Success,
            if_empty: IfEmpty::Error("empty: expected a JSON document"),
            folder_as_link: false,
            not_utf8: json,
        },
        Loader {
            name: "eval --cases",
            setup: |d| {
                let f = d.join("cases.jsonl");
                (vec!["eval".into(), "--cases".into(), s(&f)], f)
            },
            body: || example("examples/eval/cases.jsonl"),
            after_bom: AfterBom::Success,
            if_empty: IfEmpty::Error("empty: expected JSON Lines"),
            folder_as_link: false,
            // Line by line: the bad line is reported and the run goes on (exit status 1).
            not_utf8: "line 1: not UTF-8: invalid byte 0xFF at byte offset 1 of the line",
        },
    ]
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Case {
    Folder,
    LinkLoop,
    Bom,
    Empty,
    NotUtf8,
    Utf16,
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, args: &[String]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        // No AWS call is ever reached; keep the SDK from looking anywhere if one were.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "example")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Whether an error points at the very first byte (`line 1 column 1`, not `column 125`).
fn at_first_byte(text: &str) -> bool {
    text.match_indices("line 1 column 1").any(|(i, m)| {
        !text[i + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// Checks one loader against one case; the reason when it does not hold.
fn check(loader: &Loader, case: Case) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let (args, file) = (loader.setup)(tmp.path());
    match case {
        Case::Folder if loader.folder_as_link => {
            let target = tmp.path().join("a-folder");
            fs::create_dir_all(&target).unwrap();
            std::os::unix::fs::symlink(&target, &file).unwrap();
        }
        Case::Folder => fs::create_dir_all(&file).unwrap(),
        Case::LinkLoop => std::os::unix::fs::symlink(file.file_name().unwrap(), &file).unwrap(),
        Case::Bom => {
            let mut bytes = vec![0xEF, 0xBB, 0xBF];
            bytes.extend((loader.body)());
            fs::write(&file, bytes).unwrap();
        }
        Case::Empty => fs::write(&file, "").unwrap(),
        Case::NotUtf8 => fs::write(&file, b"{\xFF\xFE}\n").unwrap(),
        Case::Utf16 => {
            let mut bytes = vec![0xFF, 0xFE];
            for u in String::from_utf8_lossy(&(loader.body)()).encode_utf16() {
                bytes.extend_from_slice(&u.to_le_bytes());
            }
            fs::write(&file, bytes).unwrap();
        }
    }
    let r = run(tmp.path(), &args);
    let shown = format!(
        "exit status {:?}\n--- stderr\n{}--- stdout (first 300 bytes)\n{}",
        r.code,
        r.stderr,
        r.stdout.chars().take(300).collect::<String>()
    );
    if r.stderr.contains("panicked") || r.code.is_none() {
        return Err(format!("crashed: {shown}"));
    }
    let name = s(&file);
    let refused = |problem: &str| -> Result<(), String> {
        if r.code == Some(2) && r.stderr.contains(&name) && r.stderr.contains(problem) {
            Ok(())
        } else {
            Err(format!(
                "expected exit status 2 and an error naming `{name}` and `{problem}`: {shown}"
            ))
        }
    };
    match case {
        Case::Folder => refused("a folder, not a file"),
        Case::LinkLoop => refused("a symbolic link loop"),
        Case::Utf16 => {
            refused("UTF-16 text (little-endian byte-order mark FF FE): save it as UTF-8")
        }
        Case::Empty => match loader.if_empty {
            IfEmpty::Error(problem) => refused(problem),
            IfEmpty::Valid if r.code == Some(0) => Ok(()),
            IfEmpty::Valid => Err(format!("an empty file is documented as valid: {shown}")),
        },
        Case::NotUtf8 if loader.name == "eval --cases" => {
            if r.code == Some(1) && r.stdout.contains(loader.not_utf8) {
                Ok(())
            } else {
                Err(format!(
                    "expected exit status 1 and `{}` on its line: {shown}",
                    loader.not_utf8
                ))
            }
        }
        Case::NotUtf8 => refused(loader.not_utf8),
        Case::Bom => match loader.after_bom {
            AfterBom::Success if r.code == Some(0) => Ok(()),
            AfterBom::Success => Err(format!("expected success: {shown}")),
            AfterBom::ContentError(text) => {
                if at_first_byte(&r.stderr) || r.stderr.contains("expected value") {
                    Err(format!("the byte-order mark was not skipped: {shown}"))
                } else {
                    refused(text)
                }
            }
        },
    }
}

#[cfg(unix)]
#[test]
fn every_loader_names_the_file_and_the_problem() {
    let cases = [
        Case::Folder,
        Case::LinkLoop,
        Case::Bom,
        Case::Empty,
        Case::NotUtf8,
        Case::Utf16,
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for loader in loaders() {
        for case in cases {
            checked += 1;
            if let Err(why) = check(&loader, case) {
                failures.push(format!("== {} / {case:?}: {why}", loader.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
