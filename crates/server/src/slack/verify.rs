//! Verifying Slack's requests: the v0 signature, the timestamp window and the replay key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

/// How far a request's timestamp may be from now.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a Slack request was refused before it was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Missing `X-Slack-Request-Timestamp` / `X-Slack-Signature`.
    #[error("missing Slack signature headers")]
    MissingHeaders,
    /// The timestamp is not a number or is more than five minutes away.
    #[error("stale or invalid timestamp: more than 5 minutes from now")]
    StaleTimestamp,
    /// The signature does not match.
    #[error("invalid signature")]
    BadSignature,
    /// The same signed request was already received.
    #[error("replayed request: this signed payload was already received")]
    Replayed,
}

impl Rejection {
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Rejection::MissingHeaders => "missing_headers",
            Rejection::StaleTimestamp => "stale_timestamp",
            Rejection::BadSignature => "bad_signature",
            Rejection::Replayed => "replayed",
        }
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// The `v0=` signature Slack would send for `body` at `timestamp`.
#[must_use]
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(), // HMAC accepts keys of any length
    };
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!(
        "v0={}",
        latch_grant::audit::hex(&mac.finalize().into_bytes())
    )
}

/// A verified request's identity for replay detection: the lower-case hex of the MAC Latch
/// computed itself. It never depends on how the sender spelled the header (hex digits in
/// either case are accepted), so a re-cased copy of a captured request is the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayKey(String);

impl ReplayKey {
    /// The key under which the store remembers this request.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Check the timestamp window and the signature over the raw body (constant-time compare).
/// On success, the key that identifies the signed request for replay detection.
///
/// # Errors
/// The reason the request must be refused.
pub fn verify_signature(
    secret: &Secret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<ReplayKey, Rejection> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(Rejection::MissingHeaders);
    };
    let t: i64 = ts.parse().map_err(|_| Rejection::StaleTimestamp)?;
    if (now_secs - t).abs() > MAX_SKEW_SECS {
        return Err(Rejection::StaleTimestamp);
    }
    let given = sig
        .strip_prefix("v0=")
        .and_then(decode_hex)
        .ok_or(Rejection::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| Rejection::BadSignature)?;
    mac.update(b"v0:");
    mac.update(ts.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| Rejection::BadSignature)?;
    // `given` now equals the MAC; its canonical spelling is the key.
    Ok(ReplayKey(format!(
        "slack-sig:{}",
        latch_grant::audit::hex(&given)
    )))
}
