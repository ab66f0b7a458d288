//! Errors of the pure parsers: a JSON path and a reason.

/// A problem in one input document: where (a JSON path such as
/// `RoleDetailList[3].RolePolicyList[0].PolicyDocument.Statement[1].Effect`) and why.
///
/// The file is not known here; [`crate::load`] adds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FormatError {
    /// JSON path of the offending element; `$` for the whole document.
    pub path: String,
    /// What is wrong with it, in lowercase prose, user input in backticks.
    pub reason: String,
}

impl FormatError {
    pub(crate) fn new(path: &str, reason: impl Into<String>) -> FormatError {
        FormatError {
            path: if path.is_empty() {
                "$".to_owned()
            } else {
                path.to_owned()
            },
            reason: reason.into(),
        }
    }
}

/// Parses JSON text, naming line and column on failure.
pub(crate) fn parse_json(text: &str) -> Result<serde_json::Value, FormatError> {
    serde_json::from_str(text).map_err(|e| {
        FormatError::new(
            "$",
            format!(
                "invalid JSON at line {} column {}: {}",
                e.line(),
                e.column(),
                strip_position(&e.to_string())
            ),
        )
    })
}

/// serde_json appends " at line L column C"; we print the position ourselves.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .and_then(|i| message.get(..i))
        .unwrap_or(message)
}
