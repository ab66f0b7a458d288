//! Errors of the AWS adapter: which call or file failed, and why.

use std::path::PathBuf;

use aws_sdk_organizations::error::ProvideErrorMetadata;

/// Why an AWS operation, or reading/writing one of Latch's files, failed.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// An AWS API call failed. `code` is AWS's error code (e.g. `AccessDeniedException`) when
    /// the service sent one.
    #[error("{call} failed{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Call {
        /// The call, as `service:Operation` with its main argument.
        call: String,
        /// AWS's error code.
        code: Option<String>,
        /// AWS's message, or the transport error.
        message: String,
    },
    /// A file could not be read or written.
    #[error("cannot {action} `{}`: {source}", file.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        file: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file could not be read as text: missing, a folder, a link loop, not UTF-8, UTF-16,
    /// empty (the error names the file).
    #[error(transparent)]
    Input(#[from] latch_input::InputError),
    /// The plan directory could not be written: what failed, and that the previous plan was
    /// left as it was.
    #[error("{0}")]
    PlanDir(String),
    /// A plan or state file is invalid: the file, the JSON path and the reason.
    #[error("{}: {field}: {reason}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The JSON path of the bad field (`policies[2].content`).
        field: String,
        /// Why it is wrong.
        reason: String,
    },
    /// The organization is not in a state Latch can work with (a foreign policy squats a
    /// `latch-` name, the plan was made for another organization, a limit would be exceeded).
    #[error("{0}")]
    Conflict(String),
    /// An identity (role or user ARN) or bundle name a grant names is unusable.
    #[error("grant target `{id}`: {reason}")]
    Identity {
        /// The ARN or name as given.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The AWS configuration is unusable (no region, bad endpoint URL).
    #[error("AWS configuration: {0}")]
    Config(String),
}

impl AwsError {
    /// AWS's error code, when this is a failed call that carried one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Call { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// Turns an SDK error into [`AwsError::Call`] naming `call`.
pub(crate) fn call_err<E>(call: impl Into<String>, err: E) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    let code = err.code().map(str::to_owned);
    let message = match err.message() {
        Some(m) => m.to_owned(),
        None => error_chain(&err),
    };
    AwsError::Call {
        call: call.into(),
        code,
        message,
    }
}

/// The error and its sources, joined: transport errors hide their cause in the chain.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// `Result` with [`AwsError`].
pub type Result<T, E = AwsError> = std::result::Result<T, E>;
