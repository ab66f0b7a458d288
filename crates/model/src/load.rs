//! Reading a snapshot directory from disk.
//!
//! **This module is the crate's only IO edge** (reading files; no network, no clock): the rest
//! of `latch-model` is pure and works on text and JSON values. Layout
//! (docs/snapshot-format.md):
//!
//! ```text
//! DIR/organization.json                      optional
//! DIR/accounts/<12-digit id>/gaad.json       required for each account folder
//! DIR/accounts/<id>/resource-policies.json   optional
//! DIR/accounts/<id>/credential-report.csv    optional
//! DIR/accounts/<id>/workloads.json           optional
//! DIR/accounts/<id>/last-accessed.json       optional
//! DIR/trails.json                            optional: the trails and their event selectors
//! DIR/identity-center.json                   optional: Identity Center people, groups, permission sets, assignments
//! DIR/cloudtrail/AWSLogs/...                 optional, read by latch-trail
//! ```
//!
//! Errors name the file and, for bad content, the JSON path. Files are read through
//! `latch-input`: a folder, a symbolic link loop, UTF-16, bytes that are not UTF-8 or an empty
//! file are named as such; a UTF-8 byte-order mark is skipped.

use std::fs;
use std::path::{Path, PathBuf};

use latch_input::{Expected, InputError};

use crate::account::Account;
use crate::assemble::{assemble, CloudTrail};
use crate::error::FormatError;
use crate::gaad::parse_gaad_str;
use crate::orgfile::parse_organization_str;
use crate::resources::parse_resource_policies_str;
use crate::snapshot::Snapshot;

/// File names inside a snapshot directory.
pub const ORGANIZATION_FILE: &str = "organization.json";
/// Folder of per-account data.
pub const ACCOUNTS_DIR: &str = "accounts";
/// GAAD file inside an account folder.
pub const GAAD_FILE: &str = "gaad.json";
/// Resource policies file inside an account folder.
pub const RESOURCE_POLICIES_FILE: &str = "resource-policies.json";
/// The IAM credential report of an account (`aws iam get-credential-report`, decoded CSV).
pub const CREDENTIAL_REPORT_FILE: &str = "credential-report.csv";
/// The resources that run as roles in an account (`latch.workloads/v1`).
pub const WORKLOADS_FILE: &str = "workloads.json";
/// IAM's last-accessed data of an account's users and roles (`latch.last-accessed/v1`).
pub const LAST_ACCESSED_FILE: &str = "last-accessed.json";
/// The trails and what they record (`latch.trails/v1`).
pub const TRAILS_FILE: &str = "trails.json";
/// IAM Identity Center: people, groups, permission sets, assignments
/// (`latch.identity-center/v1`).
pub const IDENTITY_CENTER_FILE: &str = "identity-center.json";
/// CloudTrail folder.
pub const CLOUDTRAIL_DIR: &str = "cloudtrail";

/// A snapshot that could not be loaded: which file, and why.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A folder could not be listed.
    #[error("cannot read `{}`: {source}", file.display())]
    Io {
        /// The folder.
        file: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file could not be read as text: missing, a folder, a link loop, not UTF-8, UTF-16,
    /// empty (the error names the file).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The file's content is wrong; `error.path` is the JSON path.
    #[error("{}: {error}", file.display())]
    Format {
        /// The file.
        file: PathBuf,
        /// Where in it, and why.
        error: FormatError,
    },
    /// The directory layout is wrong, or files contradict each other.
    #[error("{}: {reason}", file.display())]
    Layout {
        /// The file or folder.
        file: PathBuf,
        /// Why.
        reason: String,
    },
}

/// An optional file of the snapshot: `None` when there is nothing at the path.
fn read_optional(file: &Path, expected: Expected) -> Result<Option<String>, LoadError> {
    Ok(latch_input::read_optional(file, expected)?)
}

fn format_err(file: &Path) -> impl Fn(FormatError) -> LoadError + '_ {
    move |error| LoadError::Format {
        file: file.to_owned(),
        error,
    }
}

/// Loads the snapshot in `dir`.
pub fn snapshot(dir: &Path) -> Result<Snapshot, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError::Layout {
            file: dir.to_owned(),
            reason: "not a snapshot directory (expected a folder holding accounts/<id>/gaad.json)"
                .to_owned(),
        });
    }
    let org_file = dir.join(ORGANIZATION_FILE);
    let organization = match read_optional(&org_file, Expected::Json)? {
        Some(text) => Some(parse_organization_str(&text).map_err(format_err(&org_file))?),
        None => None,
    };
    let accounts_dir = dir.join(ACCOUNTS_DIR);
    if !accounts_dir.is_dir() {
        return Err(LoadError::Layout {
            file: accounts_dir,
            reason: "missing: a snapshot holds accounts/<account-id>/gaad.json for each account"
                .to_owned(),
        });
    }
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    let listing = fs::read_dir(&accounts_dir).map_err(|source| LoadError::Io {
        file: accounts_dir.clone(),
        source,
    })?;
    for entry in listing {
        let entry = entry.map_err(|source| LoadError::Io {
            file: accounts_dir.clone(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let is_id = name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit());
        if is_id {
            // A file, a link loop or a broken link named like an account: say which.
            latch_input::folder(&path)?;
        }
        if !is_id || !path.is_dir() {
            return Err(LoadError::Layout {
                file: path,
                reason: "accounts/ holds only folders named by 12-digit account id".to_owned(),
            });
        }
        entries.push((name, path));
    }
    entries.sort();
    if entries.is_empty() {
        return Err(LoadError::Layout {
            file: accounts_dir,
            reason: "no account folders (accounts/<account-id>/gaad.json)".to_owned(),
        });
    }
    let accounts = load_accounts(&entries)?;
    let cloudtrail = if dir.join(CLOUDTRAIL_DIR).is_dir() {
        CloudTrail::Present
    } else {
        CloudTrail::Absent
    };
    let trails_file = dir.join(TRAILS_FILE);
    let trails = match read_optional(&trails_file, Expected::Json)? {
        Some(text) => {
            Some(crate::trails::parse_trails_str(&text).map_err(format_err(&trails_file))?)
        }
        None => None,
    };
    let mut snapshot =
        assemble(organization, accounts, cloudtrail).map_err(|e| LoadError::Layout {
            file: accounts_dir.join(&e.account_id).join(GAAD_FILE),
            reason: e.reason,
        })?;
    snapshot.trails = trails;
    let ic_file = dir.join(IDENTITY_CENTER_FILE);
    if let Some(text) = read_optional(&ic_file, Expected::Json)? {
        let ic = crate::identity_center::parse_identity_center_str(&text)
            .map_err(format_err(&ic_file))?;
        snapshot.not_analysed.extend(
            ic.not_analysed
                .iter()
                .map(|n| format!("identity-center: {n}")),
        );
        snapshot.identity_center = Some(ic);
    }
    Ok(snapshot)
}

/// One account folder: its GAAD and the optional files beside it.
fn load_account(id: &str, path: &Path) -> Result<Account, LoadError> {
    let gaad_file = path.join(GAAD_FILE);
    let Some(gaad) = read_optional(&gaad_file, Expected::Json)? else {
        return Err(LoadError::Layout {
            file: gaad_file,
            reason: "missing: each account folder holds the output of `aws iam \
                     get-account-authorization-details`"
                .to_owned(),
        });
    };
    let mut account = parse_gaad_str(&gaad, id).map_err(format_err(&gaad_file))?;
    let rp_file = path.join(RESOURCE_POLICIES_FILE);
    if let Some(text) = read_optional(&rp_file, Expected::Json)? {
        account.resource_policies =
            Some(parse_resource_policies_str(&text, id).map_err(format_err(&rp_file))?);
    }
    let wl_file = path.join(WORKLOADS_FILE);
    if let Some(text) = read_optional(&wl_file, Expected::Json)? {
        account.workloads =
            Some(crate::workloads::parse_workloads_str(&text, id).map_err(format_err(&wl_file))?);
    }
    let la_file = path.join(LAST_ACCESSED_FILE);
    if let Some(text) = read_optional(&la_file, Expected::Json)? {
        account.last_accessed = Some(
            crate::last_accessed::parse_last_accessed_str(&text, id)
                .map_err(format_err(&la_file))?,
        );
    }
    let cr_file = path.join(CREDENTIAL_REPORT_FILE);
    if let Some(text) = read_optional(&cr_file, Expected::Csv)? {
        let report =
            crate::credentials::parse_credential_report_str(&text).map_err(format_err(&cr_file))?;
        let ours = format!(":{id}:");
        if let Some((no, row)) = report
            .rows
            .iter()
            .enumerate()
            .find(|(_, r)| !r.arn.contains(&ours))
        {
            return Err(LoadError::Format {
                file: cr_file,
                error: FormatError {
                    path: format!("row {}.arn", no + 1),
                    reason: format!(
                        "`{}` is not in account {id}: is this another account's report?",
                        row.arn
                    ),
                },
            });
        }
        account.credential_report = Some(report);
    }
    Ok(account)
}

/// Every account folder, read and parsed over the available cores (each worker takes the next
/// account not yet taken, as accounts differ in size), in `entries` order. The error reported
/// is that of the first failing account in that order, whatever the number of threads.
fn load_accounts(entries: &[(String, PathBuf)]) -> Result<Vec<Account>, LoadError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(entries.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, Result<Account, LoadError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((id, path)) = entries.get(i) else {
                            return out;
                        };
                        let result = load_account(id, path);
                        let failed = result.is_err();
                        out.push((i, result));
                        if failed {
                            // Later accounts are not needed: an earlier error is reported
                            // first, and this one is kept in case none is.
                            return out;
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
