//! The IAM credential report of one account (`iam:GenerateCredentialReport`, then
//! `iam:GetCredentialReport`): when each user's password and access keys were last used —
//! what says an access key sits unused, which no CloudTrail event can.

use std::time::Duration;

use aws_sdk_iam::types::ReportStateType;
use aws_sdk_iam::Client;

use crate::error::{call_err, AwsError, Result};

/// How long to wait for AWS to finish generating a report (it usually takes seconds; AWS
/// documents up to four hours for very large accounts, beyond which the run goes on without).
const READY_WITHIN: Duration = Duration::from_secs(120);

/// Asks AWS for a fresh report, waits until it is ready, and returns its CSV text.
pub async fn fetch(iam: &Client, account: &str) -> Result<String> {
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let out = iam
            .generate_credential_report()
            .send()
            .await
            .map_err(|e| call_err(format!("iam:GenerateCredentialReport ({account})"), e))?;
        if out.state() == Some(&ReportStateType::Complete) {
            break;
        }
        if started.elapsed() > READY_WITHIN {
            return Err(AwsError::Conflict(format!(
                "account {account}: the credential report was not ready within {} s",
                READY_WITHIN.as_secs()
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    let out = iam
        .get_credential_report()
        .send()
        .await
        .map_err(|e| call_err(format!("iam:GetCredentialReport ({account})"), e))?;
    let bytes = out
        .content()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    String::from_utf8(bytes).map_err(|_| {
        AwsError::Conflict(format!(
            "account {account}: the credential report is not UTF-8 text"
        ))
    })
}
