//! The console's sessions: a signed cookie (HMAC-SHA256 under the server's session key) that
//! names the API token the person signed in with, their role, when it ends, and the session's
//! CSRF secret. Nothing is kept on the server; the token is looked up on every page, so a
//! revoked token ends its sessions at once.

use hmac::{Hmac, Mac};
use latch_grant::{Millis, Role};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The cookie's name.
pub const COOKIE: &str = "latch_session";

/// What a session cookie carries.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The API token it was opened with (its id, never its secret).
    pub token_id: String,
    /// Who.
    pub subject: String,
    /// Their role.
    pub role: Role,
    /// When it was issued (or last rotated).
    pub issued_at: Millis,
    /// When it ends.
    pub expires_at: Millis,
    /// The secret every form of this session carries (`csrf`).
    pub csrf: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token_id", &self.token_id)
            .field("subject", &self.subject)
            .field("role", &self.role)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The key sessions are signed with.
#[derive(Clone)]
pub struct SessionKey(Vec<u8>);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

impl SessionKey {
    /// A key from configured bytes.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> SessionKey {
        SessionKey(bytes)
    }

    /// A fresh random key (sessions then last as long as this process).
    ///
    /// # Errors
    /// The system's randomness is unavailable.
    pub fn random() -> Result<SessionKey, getrandom::Error> {
        let mut bytes = vec![0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(SessionKey(bytes))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable_mac())
    }

    /// The cookie value of `value` for `purpose` (`session`, `oidc`): `<payload>.<mac>`, both
    /// hex, the MAC over the purpose and the payload, so that one cookie is never taken for
    /// another.
    #[must_use]
    pub fn seal_as<T: Serialize>(&self, purpose: &str, value: &T) -> String {
        let payload = hex(serde_json::to_string(value).unwrap_or_default().as_bytes());
        let mut mac = self.mac();
        mac.update(purpose.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        format!("{payload}.{}", hex(&mac.finalize().into_bytes()))
    }

    /// What a cookie value sealed for `purpose` holds, if its signature holds.
    #[must_use]
    pub fn open_as<T: serde::de::DeserializeOwned>(&self, purpose: &str, value: &str) -> Option<T> {
        let (payload, tag) = value.split_once('.')?;
        let mut mac = self.mac();
        mac.update(purpose.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac.verify_slice(&unhex(tag)?).ok()?;
        serde_json::from_slice(&unhex(payload)?).ok()
    }

    /// The cookie value of `session`.
    #[must_use]
    pub fn seal(&self, session: &Session) -> String {
        self.seal_as("session", session)
    }

    /// The session in a cookie value, if its signature holds and it has not ended at `now`.
    #[must_use]
    pub fn open(&self, value: &str, now: Millis) -> Option<Session> {
        let session: Session = self.open_as("session", value)?;
        (session.expires_at > now).then_some(session)
    }
}

#[allow(clippy::panic)]
fn unreachable_mac() -> Hmac<Sha256> {
    panic!("HMAC accepts keys of every length")
}

/// Random hex of `n` bytes.
///
/// # Errors
/// The system's randomness is unavailable.
pub fn random_hex(n: usize) -> Result<String, getrandom::Error> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    latch_grant::audit::hex(bytes)
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// True when two secrets are equal, compared in constant time.
#[must_use]
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn session() -> Session {
        Session {
            token_id: "t-1".into(),
            subject: "alice".into(),
            role: Role::Approver,
            issued_at: 1_000,
            expires_at: 10_000,
            csrf: "abcd".into(),
        }
    }

    #[test]
    fn a_cookie_opens_only_with_its_key_unaltered_and_before_it_ends() {
        let key = SessionKey::new(b"k1".to_vec());
        let sealed = key.seal(&session());
        assert_eq!(key.open(&sealed, 5_000), Some(session()));
        // Ended.
        assert_eq!(key.open(&sealed, 10_000), None);
        // Another key.
        assert_eq!(SessionKey::new(b"k2".to_vec()).open(&sealed, 5_000), None);
        // A payload changed to admin with the old signature.
        let mut forged = session();
        forged.role = Role::Admin;
        let other = key.seal(&forged);
        let (payload, _) = other.split_once('.').unwrap();
        let (_, tag) = sealed.split_once('.').unwrap();
        assert_eq!(key.open(&format!("{payload}.{tag}"), 5_000), None);
        assert_eq!(key.open("garbage", 5_000), None);
        assert_eq!(key.open("zz.zz", 5_000), None);
        // Debug output names no secret.
        assert!(!format!("{:?} {key:?}", session()).contains("abcd"));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
