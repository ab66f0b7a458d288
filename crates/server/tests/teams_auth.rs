//! The Bot Framework's signing keys, fetched from a fake issuer on loopback: fetched once,
//! fetched again when a token names a key they do not hold (a rotation), and not fetched again
//! for every forged key id.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use latch_server::teams::auth::{BotFrameworkAuth, Rejection, ISSUER};
use serde_json::{json, Value};
use tokio::net::TcpListener;

const APP: &str = "00000000-0000-0000-0000-00000000b07a";
const SERVICE: &str = "https://smba.trafficmanager.net/emea/";
const NOW: i64 = 1_800_000_000;
const TEST_KEY: &[u8] = include_bytes!("fixtures/teams-test-key.pem");

/// A fake issuer: its OpenID metadata, and a JWKS it can change; counts key fetches.
struct Issuer {
    url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

async fn issuer() -> Issuer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let keys = Arc::new(Mutex::new(json!({"keys": []})));
    let fetches = Arc::new(AtomicUsize::new(0));
    let jwks_uri = format!("{base}/keys");
    let (k, f) = (Arc::clone(&keys), Arc::clone(&fetches));
    let app = Router::new()
        .route(
            "/openid",
            get(move || {
                let jwks_uri = jwks_uri.clone();
                async move { Json(json!({"issuer": ISSUER, "jwks_uri": jwks_uri})) }
            }),
        )
        .route(
            "/keys",
            get(move || {
                let (k, f) = (Arc::clone(&k), Arc::clone(&f));
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    Json(k.lock().unwrap().clone())
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Issuer {
        url: format!("{base}/openid"),
        keys,
        fetches,
    }
}

fn published(kids: &[&str]) -> Value {
    let k: Value = serde_json::from_str(include_str!("fixtures/teams-test-keys.json")).unwrap();
    json!({"keys": kids.iter().map(|kid| json!({"kty": "RSA", "kid": kid,
        "n": k["test"]["n"], "e": k["test"]["e"], "endorsements": ["msteams"]})).collect::<Vec<_>>()})
}

/// A token for the key `kid`, valid for ten minutes from `NOW` (or from `at`).
fn bearer(kid: &str) -> String {
    bearer_at(kid, NOW)
}

fn bearer_at(kid: &str, at: i64) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let claims = json!({"iss": ISSUER, "aud": APP, "exp": at + 600, "serviceurl": SERVICE});
    let t = encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(TEST_KEY).unwrap(),
    )
    .unwrap();
    format!("Bearer {t}")
}

#[tokio::test]
async fn keys_are_cached_refreshed_on_rotation_and_not_hammered_by_forged_ids() {
    let fake = issuer().await;
    *fake.keys.lock().unwrap() = published(&["k1"]);
    let auth = BotFrameworkAuth::new(APP, &fake.url);
    let ok = |h: String, at: i64| {
        let auth = &auth;
        async move { auth.validate(Some(&h), SERVICE, "msteams", at).await }
    };
    assert!(ok(bearer("k1"), NOW).await.is_ok());
    assert!(ok(bearer("k1"), NOW + 1).await.is_ok());
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 1, "cached");

    // The issuer rotates to k2: the first token naming it makes the keys be fetched again.
    *fake.keys.lock().unwrap() = published(&["k1", "k2"]);
    assert!(ok(bearer("k2"), NOW + 2).await.is_ok());
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 2);

    // A forged key id is refused, and a stream of them fetches at most once a minute.
    for i in 0..20 {
        assert_eq!(
            ok(bearer(&format!("forged-{i}")), NOW + 3).await,
            Err(Rejection::UnknownKey)
        );
    }
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 2);
    assert_eq!(
        ok(bearer("forged-x"), NOW + 70).await,
        Err(Rejection::UnknownKey)
    );
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 3);

    // A day after the last fetch the keys are fetched again, also for a known id.
    let later = NOW + 70 + 24 * 3600;
    assert!(ok(bearer_at("k1", later), later).await.is_ok());
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 4);

    // No header, or no issuer to ask when nothing is cached: refused.
    assert_eq!(
        auth.validate(None, SERVICE, "msteams", NOW).await,
        Err(Rejection::MissingToken)
    );
    let unreachable = BotFrameworkAuth::new(APP, "http://127.0.0.1:9/openid");
    assert!(matches!(
        unreachable
            .validate(Some(&bearer("k1")), SERVICE, "msteams", NOW)
            .await,
        Err(Rejection::KeysUnavailable(_))
    ));
}
