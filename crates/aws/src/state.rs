//! `applied.json`: Latch's record of what it applied (policy ids, targets, tags, with times),
//! written after every single change so that an interrupted apply is visible and the next one
//! converges from where it stopped. AWS stays the source of truth: apply always diffs against
//! the live organization; the record tells which tags Latch put (to remove them when the plan
//! drops them) and keeps a history.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{AwsError, Result};
use crate::org::PolicyType;
use crate::plan::PlanOrganization;

/// The record's file name inside the plan directory.
pub const STATE_FILE: &str = "applied.json";
/// Its `format`.
pub const STATE_FORMAT: &str = "latch.applied/v1";
/// History entries kept (the oldest are dropped).
const HISTORY_LIMIT: usize = 1000;

/// A policy Latch created, as last applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPolicy {
    /// `p-...`.
    pub id: String,
    /// SCP or RCP.
    pub kind: PolicyType,
    /// `latch-...`.
    pub name: String,
    /// Targets it was attached to.
    pub targets: BTreeSet<String>,
    /// When it was last created or changed (RFC 3339).
    pub updated_at: String,
}

/// A tag Latch put on a principal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AppliedTag {
    /// User or role ARN.
    pub principal_arn: String,
    /// `latch:...`.
    pub key: String,
    /// Value set.
    pub value: String,
    /// When (RFC 3339).
    pub applied_at: String,
}

/// One change that was carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When (RFC 3339).
    pub at: String,
    /// What, as the diff shows it.
    pub change: String,
}

/// The record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedState {
    /// `latch.applied/v1`.
    pub format: String,
    /// The organization it applies to.
    pub organization: Option<PlanOrganization>,
    /// Last write (RFC 3339).
    pub updated_at: String,
    /// Whether the last run carried out every change it planned.
    pub complete: bool,
    /// Why the last run stopped, when it failed.
    pub last_error: Option<String>,
    /// When `emergency-stop` last detached everything (cleared by the next apply).
    pub emergency_stopped_at: Option<String>,
    /// Policies by `SCP/latch-...` or `RCP/latch-...`.
    pub policies: BTreeMap<String, AppliedPolicy>,
    /// Tags Latch put, sorted.
    pub tags: Vec<AppliedTag>,
    /// Changes carried out, oldest first.
    pub history: Vec<HistoryEntry>,
}

impl Default for AppliedState {
    fn default() -> Self {
        AppliedState {
            format: STATE_FORMAT.to_owned(),
            organization: None,
            updated_at: String::new(),
            complete: true,
            last_error: None,
            emergency_stopped_at: None,
            policies: BTreeMap::new(),
            tags: Vec::new(),
            history: Vec::new(),
        }
    }
}

/// Key of a policy in [`AppliedState::policies`].
pub fn policy_key(kind: PolicyType, name: &str) -> String {
    format!("{}/{name}", kind.short())
}

impl AppliedState {
    /// `dir/applied.json`.
    pub fn file(dir: &Path) -> PathBuf {
        dir.join(STATE_FILE)
    }

    /// Reads the record in `dir`, or an empty one when there is none yet.
    pub fn load(dir: &Path) -> Result<AppliedState> {
        let file = AppliedState::file(dir);
        match latch_input::read_optional(&file, latch_input::Expected::Json)? {
            Some(text) => AppliedState::parse(&text, &file),
            None => Ok(AppliedState::default()),
        }
    }

    /// Parses record text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<AppliedState> {
        let state: AppliedState = serde_json::from_str(text).map_err(|e| AwsError::Invalid {
            file: file.to_owned(),
            field: format!("line {} column {}", e.line(), e.column()),
            reason: e.to_string(),
        })?;
        if state.format != STATE_FORMAT {
            return Err(AwsError::Invalid {
                file: file.to_owned(),
                field: "format".to_owned(),
                reason: format!("`{}` is not `{STATE_FORMAT}`", state.format),
            });
        }
        Ok(state)
    }

    /// Writes the record to `dir/applied.json` (atomically).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let value = serde_json::to_value(self).map_err(|e| AwsError::Io {
            action: "write",
            file: AppliedState::file(dir),
            source: std::io::Error::other(e),
        })?;
        crate::collect::write_json(&AppliedState::file(dir), &value)
    }

    /// Appends a history entry.
    pub fn record(&mut self, at: &str, change: String) {
        self.updated_at = at.to_owned();
        self.history.push(HistoryEntry {
            at: at.to_owned(),
            change,
        });
        if self.history.len() > HISTORY_LIMIT {
            let excess = self.history.len() - HISTORY_LIMIT;
            self.history.drain(..excess);
        }
    }
}
