//! The plan directory that `latch apply` enforces: `DIR/plan.json`, format `latch.plan/v1`.
//! The format and its checks have one owner, the firewall planner that writes it
//! ([`latch_firewall::plan`]: the types, [`Plan::from_json`]); this module reads the file and
//! writes the directory (`plan.json`, `policies/<name>.json`, `main.tf`) as a whole.
//!
//! ```json
//! { "format": "latch.plan/v1",
//!   "organization": { "root_id": "r-ab12", "management_account_id": "123456789012" },
//!   "limits": { "scp_chars": 10240, "scp_per_target": 10, "rcp_chars": 5120, "rcp_per_target": 5 },
//!   "policies": [ { "name": "latch-deny-sensitive", "type": "SERVICE_CONTROL_POLICY",
//!                   "description": "…", "file": "scp/latch-deny-sensitive.json",
//!                   "content": "{\"Version\":\"2012-10-17\",…}",
//!                   "targets": ["r-ab12", "ou-ab12-prod0001", "210987654321"] } ],
//!   "tags": [ { "principal_arn": "arn:aws:iam::210987654321:role/latch-control-plane",
//!               "key": "latch:control-plane", "value": "true", "reason": "…" } ] }
//! ```

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{AwsError, Result};

pub use latch_firewall::plan::{
    is_account_id, is_target_id, principal_of, MayBreak, Plan, PlanFileError, PlanOrganization,
    PlanPolicy, PlanSummary, PlanTag, FORMAT as PLAN_FORMAT,
};

/// The plan's file name inside the plan directory.
pub const PLAN_FILE: &str = "plan.json";
/// The Terraform rendering of the plan, inside the plan directory (`latch plan --format
/// terraform`).
pub const TERRAFORM_FILE: &str = "main.tf";

/// Reads and checks `dir/plan.json`.
///
/// # Errors
/// The directory or file is unreadable ([`latch_input`]'s reasons), or the plan is wrong
/// ([`AwsError::Invalid`], naming the field).
pub fn load(dir: &Path) -> Result<Plan> {
    latch_input::folder(dir)?;
    let file = dir.join(PLAN_FILE);
    let text = latch_input::read(&file, latch_input::Expected::Json)?;
    parse(&text, &file)
}

/// Parses and checks plan text; `file` names it in errors.
///
/// # Errors
/// The plan is wrong ([`AwsError::Invalid`], naming the field).
pub fn parse(text: &str, file: &Path) -> Result<Plan> {
    Plan::from_json(text).map_err(|e| AwsError::Invalid {
        file: file.to_owned(),
        field: e.field,
        reason: e.reason,
    })
}

/// `dir/plan.json`.
pub fn plan_file(dir: &Path) -> PathBuf {
    dir.join(PLAN_FILE)
}

/// Writes the plan directory `out` — `plan.json`, `policies/<name>.json` (each policy's exact
/// content) and, when given, `main.tf` — as a whole: see [`replace_dir`]. Returns a warning
/// when the previous directory, already replaced, could not be removed.
///
/// # Errors
/// [`AwsError::PlanDir`]: what could not be written, and that the previous plan is as it was.
pub fn write_dir(out: &Path, plan: &Plan, terraform: Option<&str>) -> Result<Option<String>> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = plan
        .policies
        .iter()
        .map(|p| (PathBuf::from(&p.file), p.content.clone().into_bytes()))
        .collect();
    files.push((PathBuf::from(PLAN_FILE), plan.to_json().into_bytes()));
    if let Some(tf) = terraform {
        files.push((PathBuf::from(TERRAFORM_FILE), tf.as_bytes().to_vec()));
    }
    replace_dir(out, &files, &mut write_synced).map_err(AwsError::PlanDir)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// What `latch plan` writes into a plan directory: `plan.json`, `main.tf` and
/// `policies/latch-*.json`. Anything else there (`applied.json`, notes) belongs to others.
fn is_plan_output(rel: &Path) -> bool {
    let mut parts = rel.components().map(|c| c.as_os_str().to_str());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Some(PLAN_FILE | TERRAFORM_FILE)), None, None) => true,
        (Some(Some("policies")), Some(Some(name)), None) => {
            name.starts_with(latch_contract::POLICY_NAME_PREFIX) && name.ends_with(".json")
        }
        _ => false,
    }
}

/// Replaces the directory `out` as a whole with one holding `files` (paths relative to it,
/// written by `write`) plus everything of the previous `out` that is not plan output
/// ([`is_plan_output`]; `applied.json` above all), so that `latch prove` and `latch apply`
/// see the previous plan or the new one, never a mixture.
///
/// The new directory is written next to `out` (same parent, so the same file system) under a
/// temporary name; the previous one is renamed aside, the new one renamed into place, and the
/// previous one removed. Any failure before the swap leaves `out` untouched and removes the
/// temporary directory. Returns a warning when the previous directory, already replaced,
/// could not be removed.
fn replace_dir(
    out: &Path,
    files: &[(PathBuf, Vec<u8>)],
    write: &mut dyn FnMut(&Path, &[u8]) -> std::io::Result<()>,
) -> std::result::Result<Option<String>, String> {
    // A symbolic link to a plan directory: replace the directory it points to.
    let out = match fs::symlink_metadata(out) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(out).with_context(|| format!("cannot resolve `{}`", out.display()))?
        }
        _ => out.to_path_buf(),
    };
    let exists = match fs::metadata(&out) {
        Ok(m) if m.is_dir() => true,
        Ok(_) => return Err(format!("`{}` exists and is not a directory", out.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", out.display())),
    };
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("`{}`: name a directory", out.display()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
    let stamp = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let tmp = parent.join(format!(".{name}.latch-new-{stamp}"));
    fs::create_dir(&tmp).with_context(|| {
        format!(
            "cannot create `{}` to write the new plan in (the plan directory's parent must be writable)",
            tmp.display()
        )
    })?;
    let filled = fill(&tmp, files, write).and_then(|()| {
        if exists {
            carry_over(&out, &tmp, Path::new(""))
        } else {
            Ok(())
        }
    });
    if let Err(e) = filled {
        let _ = fs::remove_dir_all(&tmp);
        return Err(format!(
            "{e}; the plan in `{}` was not changed",
            out.display()
        ));
    }
    if !exists {
        if let Err(e) = fs::rename(&tmp, &out) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e)
                .with_context(|| format!("cannot move the new plan to `{}`", out.display()));
        }
        sync_dir(&parent);
        return Ok(None);
    }
    let aside = parent.join(format!(".{name}.latch-old-{stamp}"));
    if let Err(e) = fs::rename(&out, &aside) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e).with_context(|| {
            format!(
                "cannot move the previous plan `{}` aside; it was not changed",
                out.display()
            )
        });
    }
    if let Err(e) = fs::rename(&tmp, &out) {
        let restored = fs::rename(&aside, &out).is_ok();
        let _ = fs::remove_dir_all(&tmp);
        return Err(e).with_context(|| {
            if restored {
                format!(
                    "cannot move the new plan to `{}`; the previous one was put back",
                    out.display()
                )
            } else {
                format!(
                    "cannot move the new plan to `{}`; the previous one is in `{}`",
                    out.display(),
                    aside.display()
                )
            }
        });
    }
    sync_dir(&parent);
    Ok(fs::remove_dir_all(&aside).err().map(|e| {
        format!(
            "the new plan is in `{}`, but the previous one could not be removed from `{}`: {e}",
            out.display(),
            aside.display()
        )
    }))
}

/// `with_context` for the directory writer: "what was being done: the OS error".
trait Context<T> {
    fn with_context<F: FnOnce() -> String>(self, what: F) -> std::result::Result<T, String>;
}

impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn with_context<F: FnOnce() -> String>(self, what: F) -> std::result::Result<T, String> {
        self.map_err(|e| format!("{}: {e}", what()))
    }
}

/// Writes `files` under `dir`.
fn fill(
    dir: &Path,
    files: &[(PathBuf, Vec<u8>)],
    write: &mut dyn FnMut(&Path, &[u8]) -> std::io::Result<()>,
) -> std::result::Result<(), String> {
    fs::create_dir(dir.join("policies"))
        .with_context(|| format!("cannot create `{}`", dir.join("policies").display()))?;
    for (rel, bytes) in files {
        let path = dir.join(rel);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p).with_context(|| format!("cannot create `{}`", p.display()))?;
        }
        write(&path, bytes).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(())
}

/// Copies everything under `from/rel` that is not plan output into `to/rel`.
fn carry_over(from: &Path, to: &Path, rel: &Path) -> std::result::Result<(), String> {
    let dir = from.join(rel);
    for entry in fs::read_dir(&dir).with_context(|| format!("cannot read `{}`", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read `{}`", dir.display()))?;
        let rel = rel.join(entry.file_name());
        if is_plan_output(&rel) {
            continue;
        }
        let (src, dst) = (from.join(&rel), to.join(&rel));
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read `{}`", src.display()))?;
        if kind.is_dir() {
            fs::create_dir_all(&dst)
                .with_context(|| format!("cannot create `{}`", dst.display()))?;
            carry_over(from, to, &rel)?;
        } else if kind.is_symlink() {
            copy_link(&src, &dst).with_context(|| format!("cannot copy `{}`", src.display()))?;
        } else {
            // A hard link where possible (same file system): the previous directory is
            // removed after the swap, and nothing writes these files in place.
            fs::hard_link(&src, &dst)
                .or_else(|_| fs::copy(&src, &dst).map(|_| ()))
                .with_context(|| {
                    format!(
                        "cannot copy `{}` into the new plan directory",
                        src.display()
                    )
                })?;
        }
    }
    Ok(())
}

/// Copies a symbolic link as a link (where the platform has them; its target's content
/// otherwise).
#[cfg(unix)]
fn copy_link(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(fs::read_link(src)?, dst)
}

#[cfg(not(unix))]
fn copy_link(src: &Path, dst: &Path) -> std::io::Result<()> {
    fs::copy(src, dst).map(|_| ())
}

/// Makes renames in `dir` durable where the platform allows (best effort).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use latch_catalog::PolicyType;
    use serde_json::Value;

    const DENY: &str = r#"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"s3:DeleteBucket\",\"Resource\":\"*\"}]}"#;

    fn plan_text(policy_extra: &str, content: &str) -> String {
        plan_with_limits("", policy_extra, content)
    }

    /// A plan whose top level has `limits` (a `"limits":{…},` member, or nothing).
    fn plan_with_limits(limits: &str, policy_extra: &str, content: &str) -> String {
        format!(
            r#"{{"format":"latch.plan/v1",{limits}"organization":{{"root_id":"r-ab12","management_account_id":"123456789012"}},
            "policies":[{{"name":"latch-a","type":"SERVICE_CONTROL_POLICY","description":"d","content":"{content}","targets":["r-ab12","ou-ab12-abcdefgh","210987654321"]{policy_extra}}}],
            "tags":[{{"principal_arn":"arn:aws:iam::210987654321:role/x","key":"latch:control-plane","value":"true","reason":"r"}}]}}"#
        )
    }

    fn err(text: &str) -> String {
        parse(text, Path::new("plan.json")).unwrap_err().to_string()
    }

    #[test]
    fn reads_who_the_plan_may_break() {
        let p = parse(&plan_text("", DENY), Path::new("plan.json")).unwrap();
        assert!(p.may_break_principals().is_empty());
        let mut v: Value = serde_json::from_str(&plan_text("", DENY)).unwrap();
        v["summary"] = serde_json::json!({"mode": "protect", "may_break": [
            {"principal": "arn:aws:iam::111122223333:role/b", "account": "111122223333",
             "reason": "usage unknown: data events not logged", "actions": ["s3:GetObject"]},
            {"principal": "arn:aws:iam::111122223333:role/a", "account": "111122223333",
             "reason": "usage unknown: data events not logged", "actions": ["dynamodb:Scan"]},
            {"principal": "arn:aws:iam::111122223333:role/b", "account": "111122223333",
             "reason": "usage unknown: management events not logged", "actions": ["iam:PassRole"]}]});
        let p = parse(&v.to_string(), Path::new("plan.json")).unwrap();
        assert_eq!(
            p.may_break_principals(),
            [
                "arn:aws:iam::111122223333:role/a",
                "arn:aws:iam::111122223333:role/b"
            ]
        );
        // Fail closed: a list that is not one is an error, not "nothing may break".
        v["summary"]["may_break"] = serde_json::json!("none");
        assert!(parse(&v.to_string(), Path::new("plan.json")).is_err());
    }

    #[test]
    fn reads_a_valid_plan_and_refuses_fields_the_format_does_not_have() {
        let plan = parse(&plan_text("", DENY), Path::new("plan.json")).unwrap();
        assert_eq!(plan.policies.len(), 1);
        assert_eq!(plan.policies[0].kind, PolicyType::Scp);
        assert_eq!(plan.tags[0].key, "latch:control-plane");
        // A plan is read by the Latch that wrote it: a field it does not know is a mistake
        // (a typo, another version), never silently ignored.
        let mut v: Value = serde_json::from_str(&plan_text("", DENY)).unwrap();
        v["stats"] = serde_json::json!({"anything": 1});
        let e = err(&v.to_string());
        assert!(e.contains("unknown field `stats`"), "{e}");
        let twice =
            plan_text("", DENY).replace("\"210987654321\"]", "\"210987654321\",\"r-ab12\"]");
        assert!(
            err(&twice).contains("`r-ab12` is named twice"),
            "{}",
            err(&twice)
        );
    }

    #[test]
    fn rejects_what_aws_or_latch_would_refuse() {
        assert!(err(&plan_text("", "{not json")).contains("policies[0].content"));
        let big = format!(
            r#"{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Sid\":\"{}\",\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"*\"}}]}}"#,
            "A".repeat(10_300)
        );
        assert!(err(&plan_text("", &big)).contains("AWS allows 10240 for an SCP"));
        let text = plan_text("", DENY).replace("latch-a", "guardrail");
        assert!(err(&text).contains("policies[0].name"));
        let text = plan_text("", DENY).replace("\"ou-ab12-abcdefgh\"", "\"ou-x\"");
        assert!(err(&text).contains("policies[0].targets"));
        let text = plan_text("", DENY).replace("latch:control-plane", "team");
        assert!(err(&text).contains("tags[0].key"));
        let text = plan_text("", DENY).replace("role/x", "group/x");
        assert!(err(&text).contains("tags[0].principal_arn"));
        let text = plan_text("", DENY).replace("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY");
        assert!(parse(&text, Path::new("plan.json")).is_ok());
        let allow = DENY.replace("Deny", "Allow");
        let text =
            plan_text("", &allow).replace("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY");
        assert!(err(&text).contains("only Deny"));
        assert!(
            err(&plan_text("", DENY).replace("latch.plan/v1", "latch.plan/v9")).contains("format")
        );
    }

    /// A policy document of exactly `n` characters.
    fn doc_of(n: usize) -> String {
        let empty = r#"{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;
        let doc = empty.replace(
            r#""Sid":"""#,
            &format!(r#""Sid":"{}""#, "A".repeat(n - empty.len())),
        );
        assert_eq!(doc.chars().count(), n);
        doc.replace('"', "\\\"")
    }

    #[test]
    fn documents_are_held_to_the_limits_the_plan_records() {
        const LAGGING: &str = r#""limits":{"scp_chars":5120,"scp_per_target":5,"rcp_chars":5120,"rcp_per_target":5},"#;
        // An SCP between the old and the new quota: within AWS's, over what was recorded.
        let scp = doc_of(6000);
        parse(&plan_text("", &scp), Path::new("plan.json")).unwrap();
        let e = err(&plan_with_limits(LAGGING, "", &scp));
        assert!(e.contains("policies[0].content"), "{e}");
        assert!(
            e.contains(
                "is 6000 characters; the plan was packed for 5120 (AWS allows 10240) for an SCP"
            ),
            "{e}"
        );
        let plan = parse(
            &plan_with_limits(LAGGING, "", &doc_of(5120)),
            Path::new("plan.json"),
        )
        .unwrap();
        assert_eq!(plan.limits().scp_chars, 5120);
        // RCPs kept their 5,120 characters.
        let rcp = plan_text("", &doc_of(5121))
            .replace("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY");
        assert!(err(&rcp).contains("AWS allows 5120 for an RCP"));
        // Recorded limits above AWS's are refused, naming the key.
        let raised = r#""limits":{"scp_chars":20480,"scp_per_target":10,"rcp_chars":5120,"rcp_per_target":5},"#;
        let e = err(&plan_with_limits(raised, "", DENY));
        assert!(e.contains("limits.scp_chars"), "{e}");
        assert!(e.contains("20480 is above AWS's quota of 10240"), "{e}");
        let zero = LAGGING.replace(r#""rcp_per_target":5"#, r#""rcp_per_target":0"#);
        assert!(err(&plan_with_limits(&zero, "", DENY)).contains("limits.rcp_per_target"));
    }

    #[test]
    fn a_target_holds_no_more_of_the_plans_policies_than_allowed() {
        let one = |name: &str| {
            format!(
                r#"{{"name":"{name}","type":"RESOURCE_CONTROL_POLICY","content":"{DENY}","targets":["r-ab12"]}}"#
            )
        };
        let policies: Vec<String> = (1..=6).map(|i| one(&format!("latch-r{i}"))).collect();
        let text = format!(
            r#"{{"format":"latch.plan/v1","organization":{{"root_id":"r-ab12","management_account_id":"123456789012"}},"policies":[{}],"tags":[]}}"#,
            policies.join(",")
        );
        let e = err(&text);
        assert!(e.contains("policies[5].targets"), "{e}");
        assert!(
            e.contains("`r-ab12` would hold 6 RCPs of the plan alone; 5 may be attached"),
            "{e}"
        );
        let five = text.replace(&format!(",{}", one("latch-r6")), "");
        parse(&five, Path::new("plan.json")).unwrap();
    }

    #[test]
    fn principal_arns() {
        assert_eq!(
            principal_of("arn:aws:iam::210987654321:role/path/x"),
            Some(("210987654321", "role", "x"))
        );
        assert_eq!(principal_of("arn:aws:iam::210987654321:policy/x"), None);
        assert_eq!(principal_of("arn:aws:s3:::bucket"), None);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod dir_tests {
    use std::collections::BTreeMap;

    use super::*;

    fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for e in fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
                if p.is_dir() {
                    out.insert(format!("{rel}/"), Vec::new());
                    walk(root, &p, out);
                } else {
                    out.insert(rel, fs::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(dir, dir, &mut out);
        out
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    fn previous(out: &Path) {
        fs::create_dir_all(out.join("policies")).unwrap();
        fs::write(out.join("plan.json"), "old plan").unwrap();
        fs::write(out.join("main.tf"), "old terraform").unwrap();
        fs::write(out.join("policies/latch-a.json"), "old a").unwrap();
        fs::write(out.join("policies/latch-b.json"), "old b").unwrap();
        fs::write(out.join("applied.json"), "record").unwrap();
    }

    fn new_files() -> Vec<(PathBuf, Vec<u8>)> {
        vec![
            (PathBuf::from("policies/latch-b.json"), b"new b".to_vec()),
            (PathBuf::from("policies/latch-c.json"), b"new c".to_vec()),
            (PathBuf::from("plan.json"), b"new plan".to_vec()),
        ]
    }

    #[test]
    fn a_failed_write_leaves_the_previous_plan_byte_identical() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("plan");
        previous(&out);
        let before = tree(&out);
        for fail_at in 0..3 {
            let mut n = 0;
            let mut write = |p: &Path, b: &[u8]| {
                n += 1;
                if n > fail_at {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::StorageFull,
                        "no space left on device",
                    ));
                }
                write_synced(p, b)
            };
            let e = replace_dir(&out, &new_files(), &mut write).unwrap_err();
            let msg = e.clone();
            assert!(msg.contains("was not changed"), "{msg}");
            assert!(msg.contains("no space left"), "{msg}");
            assert_eq!(tree(&out), before);
            assert_eq!(names(tmp.path()), vec!["plan"]);
        }
    }

    #[test]
    fn the_directory_is_replaced_whole_and_keeps_what_is_not_plan_output() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("plan");
        previous(&out);
        fs::create_dir_all(out.join("notes/deep")).unwrap();
        fs::write(out.join("notes/deep/n.txt"), "mine").unwrap();
        fs::write(out.join("policies/README"), "mine too").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("applied.json", out.join("link")).unwrap();
        let warning = replace_dir(&out, &new_files(), &mut write_synced).unwrap();
        assert_eq!(warning, None);
        let got = tree(&out);
        let mut want: BTreeMap<String, Vec<u8>> = [
            ("applied.json", "record"),
            ("notes/", ""),
            ("notes/deep/", ""),
            ("notes/deep/n.txt", "mine"),
            ("plan.json", "new plan"),
            ("policies/", ""),
            ("policies/README", "mine too"),
            ("policies/latch-b.json", "new b"),
            ("policies/latch-c.json", "new c"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.as_bytes().to_vec()))
        .collect();
        #[cfg(unix)]
        {
            want.insert("link".to_owned(), b"record".to_vec());
            assert_eq!(
                fs::read_link(out.join("link")).unwrap(),
                Path::new("applied.json")
            );
        }
        assert_eq!(got, want);
        assert_eq!(names(tmp.path()), vec!["plan"]);
    }

    #[test]
    fn a_missing_directory_is_created_and_a_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("a/b/plan");
        replace_dir(&out, &new_files(), &mut write_synced).unwrap();
        assert_eq!(
            tree(&out).keys().collect::<Vec<_>>(),
            vec![
                "plan.json",
                "policies/",
                "policies/latch-b.json",
                "policies/latch-c.json"
            ]
        );
        assert_eq!(names(&tmp.path().join("a/b")), vec!["plan"]);
        let file = tmp.path().join("file");
        fs::write(&file, "x").unwrap();
        let e = replace_dir(&file, &new_files(), &mut write_synced).unwrap_err();
        assert!(e.contains("not a directory"), "{e}");
        assert_eq!(fs::read(&file).unwrap(), b"x");
    }

    #[test]
    fn plan_output_is_plan_json_main_tf_and_latch_policies() {
        for (p, yes) in [
            ("plan.json", true),
            ("main.tf", true),
            ("policies/latch-x.json", true),
            ("policies/README", false),
            ("policies/x.json", false),
            ("applied.json", false),
            ("notes/plan.json", false),
            ("policies/sub/latch-x.json", false),
        ] {
            assert_eq!(is_plan_output(Path::new(p)), yes, "{p}");
        }
    }
}
