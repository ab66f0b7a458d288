//! Authenticating what the Bot Framework sends to the bot's messaging endpoint.
//!
//! Every inbound activity carries `Authorization: Bearer <JWT>` issued by the Bot Framework.
//! It is accepted only when, as the Bot Framework's authentication rules require:
//!
//! - it is an RS256 JWT signed with a key from the Bot Framework's OpenID metadata
//!   (`jwks_uri`), cached and fetched again when a token names a key the cache does not hold
//!   (at most once a minute, so that forged key ids cannot make the server hammer the issuer);
//! - the key, when it lists endorsements, endorses the activity's channel (`msteams`);
//! - its issuer is `https://api.botframework.com` and its audience the bot's app id;
//! - it has not expired, nor is it used before its start, with five minutes of clock skew;
//! - its `serviceurl` claim equals the activity's `serviceUrl`: a token minted for one service
//!   URL cannot send the bot's answers somewhere else.
//!
//! The checks on the token ([`validate_with`]) are pure; [`BotFrameworkAuth`] adds the key cache
//! and its fetching.

use std::collections::BTreeMap;
use std::fmt;

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;

/// The issuer of the Bot Framework's tokens to bots.
pub const ISSUER: &str = "https://api.botframework.com";
/// Where the Bot Framework publishes its OpenID metadata.
pub const OPENID_METADATA_URL: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";
/// Clock skew allowed on `exp` and `nbf`, in seconds.
pub const CLOCK_SKEW_SECS: u64 = 300;
/// How long fetched keys are used before they are fetched again, in seconds.
pub const KEYS_MAX_AGE_SECS: i64 = 24 * 3600;
/// The least time between two fetches caused by unknown key ids, in seconds.
pub const REFRESH_MIN_INTERVAL_SECS: i64 = 60;

/// Why an inbound activity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No `Authorization: Bearer` header.
    #[error("missing `Authorization: Bearer` token")]
    MissingToken,
    /// Not a JWT, or not RS256, or no key id.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// Signed with a key the Bot Framework does not publish (after fetching its keys again).
    #[error("the token's signing key is not one of the Bot Framework's")]
    UnknownKey,
    /// The key does not endorse the activity's channel.
    #[error("the signing key is not endorsed for channel `{0}`")]
    NotEndorsed(String),
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// Another issuer.
    #[error("the token was not issued by the Bot Framework")]
    WrongIssuer,
    /// Another audience.
    #[error("the token is not for this bot")]
    WrongAudience,
    /// Expired or not yet valid.
    #[error("the token has expired or is not yet valid")]
    Expired,
    /// The token's `serviceurl` differs from the activity's `serviceUrl`.
    #[error("the token's service URL does not match the activity's")]
    ServiceUrlMismatch,
    /// The signing keys could not be fetched.
    #[error("the Bot Framework's signing keys are unavailable: {0}")]
    KeysUnavailable(String),
}

impl Rejection {
    /// A stable code, for the audit log and metrics.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::MissingToken => "missing_token",
            Rejection::Malformed(_) => "malformed_token",
            Rejection::UnknownKey => "unknown_key",
            Rejection::NotEndorsed(_) => "not_endorsed",
            Rejection::BadSignature => "bad_signature",
            Rejection::WrongIssuer => "wrong_issuer",
            Rejection::WrongAudience => "wrong_audience",
            Rejection::Expired => "expired",
            Rejection::ServiceUrlMismatch => "service_url_mismatch",
            Rejection::KeysUnavailable(_) => "keys_unavailable",
        }
    }
}

/// One published signing key.
#[derive(Clone)]
pub struct SigningKey {
    key: DecodingKey,
    /// The channels it is endorsed for (empty: not restricted).
    endorsements: Vec<String>,
}

impl SigningKey {
    /// The key, to verify a signature with.
    #[must_use]
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("endorsements", &self.endorsements)
            .finish_non_exhaustive()
    }
}

/// The published keys, by key id.
pub type Keys = BTreeMap<String, SigningKey>;

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: Option<String>,
    n: Option<String>,
    e: Option<String>,
    #[serde(default)]
    endorsements: Vec<String>,
}

/// The RSA keys of a JWKS document (`{"keys": [...]}`), by key id; others are left out.
///
/// # Errors
/// Not a JWKS document.
pub fn parse_jwks(text: &str) -> Result<Keys, String> {
    let jwks: Jwks = serde_json::from_str(text).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = Keys::new();
    for k in jwks.keys {
        let (Some(kid), Some("RSA"), Some(n), Some(e)) = (k.kid, k.kty.as_deref(), k.n, k.e) else {
            continue;
        };
        if let Ok(key) = DecodingKey::from_rsa_components(&n, &e) {
            keys.insert(
                kid,
                SigningKey {
                    key,
                    endorsements: k.endorsements,
                },
            );
        }
    }
    Ok(keys)
}

/// Who sent an activity, once its token is valid: the service to answer through and the
/// channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The activity's (and the token's) service URL.
    pub service_url: String,
}

/// The key id of a bearer token, without verifying anything.
///
/// # Errors
/// Not a JWT signed with RS256, or no key id.
pub fn key_id(token: &str) -> Result<String, Rejection> {
    let header = decode_header(token).map_err(|e| Rejection::Malformed(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(Rejection::Malformed(format!(
            "signed with {:?}, not RS256",
            header.alg
        )));
    }
    header
        .kid
        .ok_or_else(|| Rejection::Malformed("no key id (`kid`)".to_owned()))
}

/// Checks `token` against `keys` for an activity from `channel_id` whose `serviceUrl` is
/// `service_url`, sent to the bot `app_id`, at `now` (seconds since the epoch).
///
/// # Errors
/// Why the token is refused.
pub fn validate_with(
    keys: &Keys,
    token: &str,
    app_id: &str,
    service_url: &str,
    channel_id: &str,
    now: u64,
) -> Result<Verified, Rejection> {
    let kid = key_id(token)?;
    let key = keys.get(&kid).ok_or(Rejection::UnknownKey)?;
    if !key.endorsements.is_empty() && !key.endorsements.iter().any(|e| e == channel_id) {
        return Err(Rejection::NotEndorsed(channel_id.to_owned()));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[app_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    // jsonwebtoken would read the clock itself: `exp` and `nbf` are checked below against
    // `now`, with the skew.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let data = decode::<Times>(token, &key.key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidSignature => Rejection::BadSignature,
            ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
            ErrorKind::InvalidAudience => Rejection::WrongAudience,
            ErrorKind::ImmatureSignature | ErrorKind::ExpiredSignature => Rejection::Expired,
            other => Rejection::Malformed(format!("{other:?}")),
        }
    })?;
    let t = data.claims;
    if t.exp.saturating_add(CLOCK_SKEW_SECS) < now
        || t.nbf
            .is_some_and(|nbf| nbf > now.saturating_add(CLOCK_SKEW_SECS))
    {
        return Err(Rejection::Expired);
    }
    if t.serviceurl.as_deref() != Some(service_url) {
        return Err(Rejection::ServiceUrlMismatch);
    }
    Ok(Verified {
        service_url: service_url.to_owned(),
    })
}

#[derive(Deserialize)]
struct Times {
    exp: u64,
    nbf: Option<u64>,
    serviceurl: Option<String>,
}

#[derive(Deserialize)]
struct OpenIdMetadata {
    jwks_uri: String,
}

#[derive(Default)]
struct Cache {
    keys: Keys,
    fetched_at: Option<i64>,
    /// When an unknown key id last caused a fetch.
    refreshed_for_unknown_at: Option<i64>,
}

/// The Bot Framework's signing keys, cached, and the checks on inbound tokens.
pub struct BotFrameworkAuth {
    http: reqwest::Client,
    metadata_url: String,
    app_id: String,
    cache: RwLock<Cache>,
}

impl fmt::Debug for BotFrameworkAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BotFrameworkAuth")
            .field("metadata_url", &self.metadata_url)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl BotFrameworkAuth {
    /// Checks tokens for the bot `app_id`, with the keys the OpenID metadata at
    /// `metadata_url` publishes ([`OPENID_METADATA_URL`] outside tests).
    #[must_use]
    pub fn new(app_id: &str, metadata_url: &str) -> BotFrameworkAuth {
        BotFrameworkAuth {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            metadata_url: metadata_url.to_owned(),
            app_id: app_id.to_owned(),
            cache: RwLock::new(Cache::default()),
        }
    }

    async fn fetch(&self) -> Result<Keys, String> {
        let metadata: OpenIdMetadata = self
            .http
            .get(&self.metadata_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("OpenID metadata: {e}"))?
            .json()
            .await
            .map_err(|e| format!("OpenID metadata: {e}"))?;
        let text = self
            .http
            .get(&metadata.jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("signing keys: {e}"))?
            .text()
            .await
            .map_err(|e| format!("signing keys: {e}"))?;
        parse_jwks(&text)
    }

    /// Checks the `Authorization` header of an activity from `channel_id` whose `serviceUrl`
    /// is `service_url`, at `now` (seconds since the epoch): the keys are fetched when there
    /// are none, when they are a day old, and when the token names a key they do not hold.
    ///
    /// # Errors
    /// Why the activity is refused.
    pub async fn validate(
        &self,
        authorization: Option<&str>,
        service_url: &str,
        channel_id: &str,
        now: i64,
    ) -> Result<Verified, Rejection> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Rejection::MissingToken)?;
        let kid = key_id(token)?;
        let now_u = u64::try_from(now).unwrap_or(0);
        let (stale, known, may_refresh) = {
            let c = self.cache.read().await;
            (
                c.fetched_at
                    .is_none_or(|at| now.saturating_sub(at) >= KEYS_MAX_AGE_SECS),
                c.keys.contains_key(&kid),
                c.refreshed_for_unknown_at
                    .is_none_or(|at| now.saturating_sub(at) >= REFRESH_MIN_INTERVAL_SECS),
            )
        };
        if stale || (!known && may_refresh) {
            let mut c = self.cache.write().await;
            match self.fetch().await {
                Ok(keys) => {
                    c.keys = keys;
                    c.fetched_at = Some(now);
                }
                // Old keys stay usable while the issuer is unreachable; none at all is a refusal.
                Err(e) if c.keys.is_empty() => return Err(Rejection::KeysUnavailable(e)),
                Err(e) => tracing::warn!(error = %e, "teams: could not refresh signing keys"),
            }
            // Only fetches an unknown key id caused count against its rate.
            if !known && !stale {
                c.refreshed_for_unknown_at = Some(now);
            }
        }
        let c = self.cache.read().await;
        validate_with(&c.keys, token, &self.app_id, service_url, channel_id, now_u)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const APP: &str = "00000000-0000-0000-0000-00000000b07a";
    const SERVICE: &str = "https://smba.trafficmanager.net/emea/";
    const NOW: u64 = 1_800_000_000;

    fn keys_json() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/fixtures/teams-test-keys.json")).unwrap()
    }

    fn jwks(endorsements: &[&str]) -> Keys {
        let k = &keys_json()["test"];
        parse_jwks(
            &json!({"keys": [{"kty": "RSA", "kid": "k1", "n": k["n"], "e": k["e"],
                              "endorsements": endorsements}]})
            .to_string(),
        )
        .unwrap()
    }

    fn token(pem: &[u8], kid: &str, claims: serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        encode(&header, &claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
    }

    const TEST_KEY: &[u8] = include_bytes!("../../tests/fixtures/teams-test-key.pem");
    const OTHER_KEY: &[u8] = include_bytes!("../../tests/fixtures/teams-other-key.pem");

    fn claims() -> serde_json::Value {
        json!({"iss": ISSUER, "aud": APP, "exp": NOW + 600, "nbf": NOW - 60,
               "serviceurl": SERVICE})
    }

    fn check(t: &str) -> Result<Verified, Rejection> {
        validate_with(&jwks(&["msteams"]), t, APP, SERVICE, "msteams", NOW)
    }

    #[test]
    fn a_token_the_bot_framework_signed_for_this_bot_is_accepted() {
        let v = check(&token(TEST_KEY, "k1", claims())).unwrap();
        assert_eq!(v.service_url, SERVICE);
    }

    #[test]
    fn forged_misdirected_stale_and_redirected_tokens_are_refused() {
        let with = |patch: serde_json::Value| {
            let mut c = claims();
            for (k, v) in patch.as_object().unwrap() {
                c[k] = v.clone();
            }
            c
        };
        // Signed with another key under the published key's id.
        assert_eq!(
            check(&token(OTHER_KEY, "k1", claims())),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            check(&token(TEST_KEY, "k1", with(json!({"aud": "another-bot"})))),
            Err(Rejection::WrongAudience)
        );
        assert_eq!(
            check(&token(
                TEST_KEY,
                "k1",
                with(json!({"iss": "https://evil.example"}))
            )),
            Err(Rejection::WrongIssuer)
        );
        // Five minutes of skew, and not a second more.
        assert!(check(&token(TEST_KEY, "k1", with(json!({"exp": NOW - 299})))).is_ok());
        assert_eq!(
            check(&token(TEST_KEY, "k1", with(json!({"exp": NOW - 301})))),
            Err(Rejection::Expired)
        );
        assert_eq!(
            check(&token(TEST_KEY, "k1", with(json!({"nbf": NOW + 301})))),
            Err(Rejection::Expired)
        );
        assert_eq!(
            check(&token(
                TEST_KEY,
                "k1",
                with(json!({"serviceurl": "https://evil.example/"}))
            )),
            Err(Rejection::ServiceUrlMismatch)
        );
        assert_eq!(
            check(&token(TEST_KEY, "k9", claims())),
            Err(Rejection::UnknownKey)
        );
        // A key endorsed for other channels only.
        assert_eq!(
            validate_with(
                &jwks(&["skype"]),
                &token(TEST_KEY, "k1", claims()),
                APP,
                SERVICE,
                "msteams",
                NOW
            ),
            Err(Rejection::NotEndorsed("msteams".into()))
        );
        // A token that picks its own algorithm (HS256 with the public key as secret) is not
        // even considered.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let hs = encode(&header, &claims(), &EncodingKey::from_secret(b"k")).unwrap();
        assert!(matches!(check(&hs), Err(Rejection::Malformed(_))));
        assert!(matches!(check("not a jwt"), Err(Rejection::Malformed(_))));
    }
}
