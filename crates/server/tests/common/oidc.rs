//! A fake OpenID Connect provider on 127.0.0.1: discovery, its published key (the test RSA
//! key of `teams`), `/authorize` that signs the configured person in at once and sends the
//! browser back with a code, and `/token` that checks the client's secret and the PKCE
//! verifier before it hands out an ID token signed RS256.
#![allow(clippy::unwrap_used, clippy::panic, dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::teams::{sign, KEY, PUBLIC_KEYS};

pub const CLIENT_ID: &str = "latch-console";
pub const CLIENT_SECRET: &str = "oidc-client-secret-never-logged";
pub const KID: &str = "oidc-test-1";

/// What the provider does at the next sign-in.
#[derive(Clone)]
pub struct Script {
    /// The claims besides `iss`, `aud`, `exp`, `nonce`.
    pub claims: Value,
    /// The key the ID token is signed with.
    pub key: &'static [u8],
    /// Replace the nonce asked for with this one.
    pub nonce: Option<String>,
}

#[derive(Clone)]
pub struct FakeOidc {
    pub issuer: String,
    pub script: Arc<Mutex<Script>>,
    /// What each code was issued for.
    codes: Arc<Mutex<BTreeMap<String, Asked>>>,
}

/// What an `/authorize` asked for: the nonce, the PKCE challenge and where to send the code.
#[derive(Clone)]
struct Asked {
    nonce: String,
    challenge: String,
    redirect: String,
}

impl FakeOidc {
    pub async fn start() -> FakeOidc {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeOidc {
            issuer: issuer.clone(),
            script: Arc::new(Mutex::new(Script {
                claims: json!({"sub": "u-1"}),
                key: KEY,
                nonce: None,
            })),
            codes: Arc::new(Mutex::new(BTreeMap::new())),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(fake.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        fake
    }

    /// Sign `claims` in at the next `/authorize`.
    pub fn next(&self, script: Script) {
        *self.script.lock().unwrap() = script;
    }
}

async fn discovery(State(f): State<FakeOidc>) -> Json<Value> {
    Json(json!({
        "issuer": f.issuer,
        "authorization_endpoint": format!("{}/authorize", f.issuer),
        "token_endpoint": format!("{}/token", f.issuer),
        "jwks_uri": format!("{}/jwks", f.issuer),
    }))
}

async fn jwks() -> Json<Value> {
    let keys: Value = serde_json::from_str(PUBLIC_KEYS).unwrap();
    Json(
        json!({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
        "n": keys["test"]["n"], "e": keys["test"]["e"]}]}),
    )
}

async fn authorize(
    State(f): State<FakeOidc>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let code = format!("code-{}", f.codes.lock().unwrap().len() + 1);
    f.codes.lock().unwrap().insert(
        code.clone(),
        Asked {
            nonce: q["nonce"].clone(),
            challenge: q["code_challenge"].clone(),
            redirect: q["redirect_uri"].clone(),
        },
    );
    let back = format!(
        "{}?{}",
        q["redirect_uri"],
        serde_urlencoded::to_string([("code", code.as_str()), ("state", q["state"].as_str())])
            .unwrap()
    );
    Redirect::to(&back).into_response()
}

async fn token(
    State(f): State<FakeOidc>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(basic.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let Some(Asked {
        nonce,
        challenge,
        redirect,
    }) = f.codes.lock().unwrap().remove(&form["code"])
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    };
    let verified = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(form["code_verifier"].as_bytes()));
    if verified != challenge || form["redirect_uri"] != redirect {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    let script = f.script.lock().unwrap().clone();
    let mut claims = script.claims.clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let o = claims.as_object_mut().unwrap();
    o.insert("iss".into(), json!(f.issuer));
    o.insert("aud".into(), json!(CLIENT_ID));
    // The server's clock may be a test's: a script may set `exp` itself.
    o.entry("exp").or_insert(json!(now + 300));
    o.entry("iat").or_insert(json!(now));
    o.insert("nonce".into(), json!(script.nonce.unwrap_or(nonce)));
    let id_token = sign(script.key, KID, &claims);
    Json(json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token}))
        .into_response()
}
