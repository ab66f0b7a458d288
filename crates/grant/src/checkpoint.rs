//! Signed checkpoints of the audit log: "at time T, server S saw the log hold N entries, the
//! newest with hash H", signed with an Ed25519 key.
//!
//! The hash chain shows edits, removals and reorderings inside the log, but not a log cut
//! short: whoever removes the newest entries leaves a consistent chain. A checkpoint published
//! outside the database (a file, a chat channel, an S3 object under object lock) anchors the
//! log: a later log must still hold entry N with hash H. The signature shows the checkpoint
//! itself was written by a holder of the key.
//!
//! A checkpoint is one JSON object per line ([`SignedCheckpoint::to_json_line`]); the signed
//! message is the canonical JSON (keys sorted, no whitespace) of its fields without
//! `public_key` and `signature`, `format` included.

use std::fmt;

use ed25519_dalek::{Signer as _, Verifier as _};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{canonical_json, hex, is_hash, parse_exact};
use crate::records::Millis;

/// The `format` of every checkpoint this version writes and reads.
pub const FORMAT: &str = "latch.audit-checkpoint/v1";

/// The fields of a checkpoint line, exactly.
pub const CHECKPOINT_FIELDS: [&str; 7] = [
    "format",
    "count",
    "head_hash",
    "at",
    "server_id",
    "public_key",
    "signature",
];

/// What a checkpoint states about the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Entries the log held.
    pub count: u64,
    /// The newest entry's hash ([`crate::audit::GENESIS_HASH`] when empty).
    pub head_hash: String,
    /// When the server read the head.
    pub at: Millis,
    /// Which server wrote it.
    pub server_id: String,
}

/// A checkpoint with its signature, as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedCheckpoint {
    /// [`FORMAT`].
    pub format: String,
    /// Entries the log held.
    pub count: u64,
    /// The newest entry's hash.
    pub head_hash: String,
    /// When the server read the head (Unix milliseconds).
    pub at: Millis,
    /// Which server wrote it.
    pub server_id: String,
    /// The public key that signed it (hex): which key to check with, never a reason to trust.
    pub public_key: String,
    /// Ed25519 signature over the signed message (hex).
    pub signature: String,
}

fn signed_message(
    format: &str,
    count: u64,
    head_hash: &str,
    at: Millis,
    server_id: &str,
) -> String {
    canonical_json(&json!({
        "format": format,
        "count": count,
        "head_hash": head_hash,
        "at": at,
        "server_id": server_id,
    }))
}

impl SignedCheckpoint {
    /// What it states.
    #[must_use]
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            count: self.count,
            head_hash: self.head_hash.clone(),
            at: self.at,
            server_id: self.server_id.clone(),
        }
    }

    /// One line of canonical JSON (no newline).
    #[must_use]
    pub fn to_json_line(&self) -> String {
        canonical_json(&serde_json::to_value(self).unwrap_or(serde_json::Value::Null))
    }

    /// Check the signature with one of `keys` (the ones the verifier trusts).
    ///
    /// # Errors
    /// Another format, a malformed field, a key not among `keys`, or a signature that does not
    /// match.
    pub fn verify(&self, keys: &[PublicKey]) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format `{}` is not `{FORMAT}`", self.format));
        }
        if !is_hash(&self.head_hash) {
            return Err("head_hash is not 64 hex digits".to_owned());
        }
        let claimed = PublicKey::parse(&self.public_key).map_err(|e| format!("public_key: {e}"))?;
        let Some(key) = keys.iter().find(|k| **k == claimed) else {
            return Err(format!(
                "signed by key {}, which is not one of the keys given",
                self.public_key
            ));
        };
        let sig = decode_hex::<64>(&self.signature)
            .map(|b| ed25519_dalek::Signature::from_bytes(&b))
            .ok_or_else(|| "signature is not 128 hex digits".to_owned())?;
        let message = signed_message(
            &self.format,
            self.count,
            &self.head_hash,
            self.at,
            &self.server_id,
        );
        key.0
            .verify(message.as_bytes(), &sig)
            .map_err(|_| "the signature does not match: the checkpoint was altered or signed with another key".to_owned())
    }
}

/// Parse checkpoint lines (JSON Lines; blank lines skipped). Each line must hold exactly
/// [`CHECKPOINT_FIELDS`]; errors name the line. Signatures are not checked here.
///
/// # Errors
/// A line that is not a checkpoint.
pub fn parse_checkpoints(text: &str) -> Result<Vec<SignedCheckpoint>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = parse_exact(line, "a checkpoint", &CHECKPOINT_FIELDS)
            .map_err(|e| format!("line {}: {e}", i + 1))?;
        let cp: SignedCheckpoint = serde_json::from_value(value)
            .map_err(|e| format!("line {}: not a checkpoint: {e}", i + 1))?;
        out.push(cp);
    }
    Ok(out)
}

/// An Ed25519 public key (shown as 64 hex digits).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parse 64 hex digits.
    ///
    /// # Errors
    /// Not 64 hex digits, or not a valid Ed25519 point.
    pub fn parse(text: &str) -> Result<PublicKey, String> {
        let bytes = decode_hex::<32>(text.trim())
            .ok_or_else(|| "an audit public key is 64 hex digits".to_owned())?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| "not an Ed25519 public key".to_owned())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// The Ed25519 key a server signs checkpoints with. `Debug` shows only its public key; the
/// secret leaves it only through [`SigningKey::to_file_text`].
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

const KEY_FILE_HEADER: &str =
    "# Latch audit checkpoint signing key (Ed25519 seed, hex). Secret: keep it mode 0600.";

impl SigningKey {
    /// A new key from the system's randomness.
    ///
    /// # Errors
    /// The system's randomness is unavailable.
    pub fn generate() -> Result<SigningKey, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
        let key = SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed));
        seed.fill(0);
        Ok(key)
    }

    /// Read a key file's text as [`SigningKey::to_file_text`] writes it: `#` comment lines,
    /// and one line of 64 hex digits. Errors never quote the text.
    ///
    /// # Errors
    /// Anything else.
    pub fn from_file_text(text: &str) -> Result<SigningKey, String> {
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let (Some(line), None) = (lines.next(), lines.next()) else {
            return Err(
                "not an audit signing key: expected one line of 64 hex digits (from `latch audit keygen`)"
                    .to_owned(),
            );
        };
        let mut seed = decode_hex::<32>(line).ok_or_else(|| {
            "not an audit signing key: expected 64 hex digits (from `latch audit keygen`)"
                .to_owned()
        })?;
        let key = SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed));
        seed.fill(0);
        Ok(key)
    }

    /// The key file's text (holds the secret: write it only to a file only its owner reads).
    #[must_use]
    pub fn to_file_text(&self) -> String {
        format!(
            "{KEY_FILE_HEADER}\n# public key: {}\n{}\n",
            self.public_key(),
            hex(self.0.as_bytes())
        )
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Sign a checkpoint.
    #[must_use]
    pub fn sign(&self, cp: &Checkpoint) -> SignedCheckpoint {
        let message = signed_message(FORMAT, cp.count, &cp.head_hash, cp.at, &cp.server_id);
        let signature = self.0.sign(message.as_bytes());
        SignedCheckpoint {
            format: FORMAT.to_owned(),
            count: cp.count,
            head_hash: cp.head_hash.clone(),
            at: cp.at,
            server_id: cp.server_id.clone(),
            public_key: self.public_key().to_string(),
            signature: hex(&signature.to_bytes()),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey {{ public_key: {}, secret: <redacted> }}",
            self.public_key()
        )
    }
}

fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// A place checkpoints are published to.
#[async_trait::async_trait]
pub trait CheckpointPublisher: Send + Sync + fmt::Debug {
    /// Where, for logs (never a secret).
    fn describe(&self) -> String;
    /// Publish one checkpoint.
    async fn publish(&self, checkpoint: &SignedCheckpoint) -> Result<(), String>;
}

/// How long S3 keeps a checkpoint object locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Nobody, root included, can delete or shorten it before it runs out.
    Compliance,
    /// Users with `s3:BypassGovernanceRetention` can.
    Governance,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn cp(count: u64) -> Checkpoint {
        Checkpoint {
            count,
            head_hash: "ab".repeat(32),
            at: 1_700_000_000_000,
            server_id: "latch-1".into(),
        }
    }

    #[test]
    fn signed_checkpoints_verify_and_alterations_do_not() {
        let key = SigningKey::generate().unwrap();
        let public = key.public_key();
        let signed = key.sign(&cp(42));
        assert_eq!(signed.format, FORMAT);
        signed.verify(&[public]).unwrap();

        let line = signed.to_json_line();
        let back = parse_checkpoints(&format!("{line}\n")).unwrap();
        assert_eq!(back, vec![signed.clone()]);

        let mut fewer = signed.clone();
        fewer.count = 41;
        let err = fewer.verify(&[public]).unwrap_err();
        assert!(err.contains("does not match"), "{err}");

        let mut other_head = signed.clone();
        other_head.head_hash = "cd".repeat(32);
        assert!(other_head.verify(&[public]).is_err());

        // Another key: neither trusted by name, nor a match when it claims the trusted key.
        let other = SigningKey::generate().unwrap();
        let err = signed.verify(&[other.public_key()]).unwrap_err();
        assert!(err.contains("not one of the keys given"), "{err}");
        let mut forged = other.sign(&cp(42));
        forged.public_key = public.to_string();
        let err = forged.verify(&[public]).unwrap_err();
        assert!(err.contains("does not match"), "{err}");

        // Rotation: any of several keys.
        signed.verify(&[other.public_key(), public]).unwrap();
    }

    #[test]
    fn checkpoint_lines_take_exactly_their_fields() {
        let key = SigningKey::generate().unwrap();
        let line = key.sign(&cp(3)).to_json_line();
        let added = line.replacen('{', r#"{"note":"x","#, 1);
        let err = parse_checkpoints(&format!("{line}\n{added}\n")).unwrap_err();
        assert!(
            err.starts_with("line 2:") && err.contains("unknown field `note`"),
            "{err}"
        );
        let repeated = line.replacen('{', r#"{"count":9,"#, 1);
        let err = parse_checkpoints(&repeated).unwrap_err();
        assert!(err.contains("repeated key `count`"), "{err}");
    }

    #[test]
    fn key_files_round_trip_and_never_show_the_secret() {
        let key = SigningKey::generate().unwrap();
        let text = key.to_file_text();
        let secret = hex(key.0.as_bytes());
        assert!(text.contains(&secret));
        assert!(text.contains(&key.public_key().to_string()));
        let back = SigningKey::from_file_text(&text).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        let shown = format!("{key:?} {back:?}");
        assert!(!shown.contains(&secret), "{shown}");
        assert!(shown.contains(&key.public_key().to_string()));

        for bad in [
            "",
            "# only a comment\n",
            "zz\n",
            &format!("{secret}\n{secret}\n"),
        ] {
            let err = SigningKey::from_file_text(bad).unwrap_err();
            assert!(!err.contains(&secret), "{err}");
        }
        assert!(PublicKey::parse("00").is_err());
        assert_eq!(
            PublicKey::parse(&key.public_key().to_string()).unwrap(),
            key.public_key()
        );
    }
}
