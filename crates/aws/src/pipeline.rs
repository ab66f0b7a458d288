//! A synthetic denial sent through the denial pipeline, so `latch doctor` can see it arrive:
//! an event on the organization's Latch event bus (`deploy/cloudformation/denial-central.yaml`)
//! shaped like the CloudTrail events the bus carries, which the bus's rule posts to `latch
//! serve` like any other. The server recognises it by its source and records its arrival in
//! the audit log instead of offering anything.

use serde_json::json;

use crate::error::{call_err, AwsError};
use crate::Aws;

use latch_contract::{
    PIPELINE_PROBE_EVENT_NAME as PROBE_EVENT_NAME,
    PIPELINE_PROBE_EVENT_SOURCE as PROBE_EVENT_SOURCE, PIPELINE_PROBE_SOURCE as PROBE_SOURCE,
};

/// Puts a probe named `probe` on the event bus `bus` (a name or an ARN).
///
/// # Errors
/// EventBridge refused the event (no such bus, no permission) or could not be reached.
pub async fn send_probe(aws: &Aws, bus: &str, probe: &str) -> Result<(), AwsError> {
    let call = format!("events:PutEvents ({bus})");
    let detail = json!({
        "eventVersion": "1.08",
        "eventSource": PROBE_EVENT_SOURCE,
        "eventName": PROBE_EVENT_NAME,
        "errorCode": "AccessDenied",
        "requestParameters": {"probe": probe},
    });
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(PROBE_SOURCE)
        .detail_type("AWS API Call via CloudTrail")
        .detail(detail.to_string())
        .build();
    let out = aws_sdk_eventbridge::Client::new(aws.sdk_config())
        .put_events()
        .entries(entry)
        .send()
        .await
        .map_err(|e| call_err(call.clone(), e))?;
    if out.failed_entry_count() > 0 {
        let why = out
            .entries()
            .iter()
            .find_map(|e| e.error_message().or(e.error_code()))
            .unwrap_or("refused")
            .to_owned();
        return Err(AwsError::Call {
            call,
            code: None,
            message: why,
        });
    }
    Ok(())
}
