//! Signing in to the console through the organization's identity provider: OpenID Connect,
//! authorization code with PKCE (S256), discovery from the issuer.
//!
//! `/login/oidc` sends the browser to the provider with a fresh `state`, `nonce` and PKCE
//! challenge, remembered in a short-lived signed cookie; `/login/callback` checks the `state`,
//! trades the code (with the verifier and the client secret, HTTP Basic) for an ID token, and
//! accepts it only when its RS256 signature verifies against the provider's published keys
//! and its issuer, audience (the client id), expiry and `nonce` are right. The person is the
//! one whose email (or name) the configured claim holds; their role comes from their groups.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::{decode, decode_header, Algorithm, Validation};
use latch_grant::{Millis, Role, Rules};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::OidcConfig;
use crate::teams::auth::{parse_jwks, Keys};

/// The cookie that carries a sign-in under way.
pub const COOKIE: &str = "latch_oidc";

/// How long a sign-in at the provider may take.
pub const PENDING_MS: Millis = 10 * 60 * 1000;

/// What the provider's discovery document says.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    /// Must be the configured issuer.
    pub issuer: String,
    /// Where people sign in.
    pub authorization_endpoint: String,
    /// Where a code becomes tokens.
    pub token_endpoint: String,
    /// The provider's signing keys.
    pub jwks_uri: String,
}

/// A sign-in under way: what the callback must see again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Pending {
    /// Echoed by the provider.
    pub state: String,
    /// Must be in the ID token.
    pub nonce: String,
    /// The PKCE verifier (its S256 hash went to the provider).
    pub verifier: String,
    /// When this sign-in attempt lapses.
    pub expires_at: Millis,
}

/// The S256 PKCE challenge of `verifier`.
#[must_use]
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The provider, as discovered.
#[derive(Debug)]
pub struct Provider {
    config: OidcConfig,
    redirect_uri: String,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<Option<(Discovery, Keys)>>,
}

/// Why a sign-in failed (said to the person; details are audited).
pub type Failure = String;

impl Provider {
    /// A provider for `config`, sending people back to `{public_url}/login/callback`.
    #[must_use]
    pub fn new(config: OidcConfig, public_url: &str) -> Provider {
        Provider {
            redirect_uri: format!("{}/login/callback", public_url.trim_end_matches('/')),
            config,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// The issuer, for the sign-in button.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    async fn get_json(&self, url: &str) -> Result<Value, Failure> {
        let r = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url} is unreachable: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("{url} answered {}", r.status()));
        }
        r.json()
            .await
            .map_err(|e| format!("{url} did not answer JSON: {e}"))
    }

    /// The discovery document and keys, read once and again when a token names an unknown key.
    async fn discovered(&self, refresh: bool) -> Result<(Discovery, Keys), Failure> {
        let mut cache = self.cache.lock().await;
        if let (Some(c), false) = (cache.as_ref(), refresh) {
            return Ok(c.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.config.issuer);
        let d: Discovery = serde_json::from_value(self.get_json(&url).await?)
            .map_err(|e| format!("{url} is not an OpenID Connect discovery document: {e}"))?;
        if d.issuer.trim_end_matches('/') != self.config.issuer {
            return Err(format!(
                "the provider says its issuer is `{}`, not `{}`",
                d.issuer, self.config.issuer
            ));
        }
        let jwks = self.get_json(&d.jwks_uri).await?;
        let keys = parse_jwks(&jwks.to_string())?;
        *cache = Some((d.clone(), keys.clone()));
        Ok((d, keys))
    }

    /// Whether the provider answers: its discovery document names this issuer and its
    /// keys parse. Returns how many signing keys it publishes.
    ///
    /// # Errors
    /// The provider cannot be reached or discovered.
    pub async fn check(&self) -> Result<usize, Failure> {
        let (_, keys) = self.discovered(true).await?;
        Ok(keys.len())
    }

    /// Where to send the browser for `pending`.
    ///
    /// # Errors
    /// The provider cannot be discovered.
    pub async fn authorize_url(&self, pending: &Pending) -> Result<String, Failure> {
        let (d, _) = self.discovered(false).await?;
        let scope = if self.config.groups_claim == "groups" {
            "openid email profile groups"
        } else {
            "openid email profile"
        };
        let query = serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", self.config.client_id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("scope", scope),
            ("state", pending.state.as_str()),
            ("nonce", pending.nonce.as_str()),
            ("code_challenge", challenge(&pending.verifier).as_str()),
            ("code_challenge_method", "S256"),
        ])
        .map_err(|e| e.to_string())?;
        let sep = if d.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!("{}{sep}{query}", d.authorization_endpoint))
    }

    /// The verified claims of the ID token the provider gives for `code`.
    ///
    /// # Errors
    /// The exchange failed, or the token is not one this provider signed for this client and
    /// this sign-in.
    pub async fn claims(
        &self,
        code: &str,
        pending: &Pending,
        now: Millis,
    ) -> Result<Value, Failure> {
        let (d, _) = self.discovered(false).await?;
        let r = self
            .http
            .post(&d.token_endpoint)
            .basic_auth(
                &self.config.client_id,
                Some(self.config.client_secret.expose()),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("client_id", self.config.client_id.as_str()),
                ("code_verifier", pending.verifier.as_str()),
            ])
            .send()
            .await
            .map_err(|e| format!("the token endpoint is unreachable: {e}"))?;
        let status = r.status();
        let body: Value = r
            .json()
            .await
            .map_err(|e| format!("the token endpoint did not answer JSON: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "the provider refused the code ({status}): {}",
                body.get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
            ));
        }
        let token = body
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or("the provider gave no ID token")?;
        let header = decode_header(token).map_err(|e| format!("the ID token is malformed: {e}"))?;
        if header.alg != Algorithm::RS256 {
            return Err(format!(
                "the ID token is signed with {:?}, not RS256",
                header.alg
            ));
        }
        let kid = header.kid.unwrap_or_default();
        let mut keys = self.discovered(false).await?.1;
        if !keys.contains_key(&kid) {
            keys = self.discovered(true).await?.1;
        }
        let key = keys.get(&kid).ok_or_else(|| {
            format!("the ID token names a key (`{kid}`) the provider does not publish")
        })?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.config.issuer, &format!("{}/", self.config.issuer)]);
        validation.set_audience(&[&self.config.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims: Value = decode::<Value>(token, key.decoding_key(), &validation)
            .map_err(|e| format!("the ID token does not verify: {e}"))?
            .claims;
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if exp.saturating_mul(1000).saturating_add(60_000) < now {
            return Err("the ID token has expired".into());
        }
        if claims.get("nonce").and_then(Value::as_str) != Some(pending.nonce.as_str()) {
            return Err("the ID token is not for this sign-in (nonce)".into());
        }
        Ok(claims)
    }

    /// The person and role `claims` give, by the configured claims and groups.
    ///
    /// # Errors
    /// The claim is missing, or names nobody of Latch's people.
    pub fn person(&self, claims: &Value, rules: &Rules) -> Result<(String, Role), Failure> {
        let c = &self.config;
        let value = claims
            .get(&c.user_claim)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the ID token has no `{}` claim", c.user_claim))?;
        let person = if value.contains('@') {
            rules.person_by_email(value)
        } else {
            rules.people.get(value)
        }
        .ok_or_else(|| {
            format!("`{value}` is not one of Latch's people (not in [identities], and no active Identity Center user has that email)")
        })?;
        let groups: BTreeSet<&str> = claims
            .get(&c.groups_claim)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let in_any = |list: &[String]| list.iter().any(|g| groups.contains(g.as_str()));
        let approves = rules
            .bundles
            .values()
            .flat_map(|b| b.policies())
            .any(|p| p.names(&person.name));
        let role = if in_any(&c.admin_groups) {
            Role::Admin
        } else if in_any(&c.auditor_groups) {
            Role::Auditor
        } else if in_any(&c.approver_groups) || approves {
            Role::Approver
        } else {
            Role::Requester
        };
        Ok((person.name.clone(), role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
