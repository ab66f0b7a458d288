//! The JSON API under `/api/v1`, `/healthz`, the OpenAPI document and the Slack endpoints.
//!
//! Callers authenticate with `Authorization: Bearer <token>`; only the SHA-256 of a token is
//! stored. Roles: `requester` (ask, see and revoke one's own), `approver` (also answer when
//! named by the bundle's policy, see everything), `admin` (also the audit log, tokens and
//! anyone's grants).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use latch_grant::{
    audit, Decision, GrantQuery, GrantStatus, RequestQuery, RequestStatus, Role, StoreError,
    TokenRecord,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::api::{
    ApprovalView, DecisionBody, ExtendBody, GrantAnswer, GrantList, GrantView, NewRequestBody,
    NewToken, NewTokenBody, RequestAnswer, RequestDetail, RequestList, RequestView, RevokeBody,
};
use crate::clock::parse_duration;
use crate::service::{new_id, Core, ServiceError};
use latch_grant::workflow::{NewRequest, Refusal, RefusalCode};

/// An API error: status, stable code, message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(crate::api::ErrorBody {
                error: crate::api::ErrorDetail {
                    code: self.code,
                    message: self.message,
                },
            }),
        )
            .into_response()
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let status = match r.code {
            RefusalCode::NotFound => StatusCode::NOT_FOUND,
            RefusalCode::SelfApproval
            | RefusalCode::NotAnApprover
            | RefusalCode::Forbidden
            | RefusalCode::BreakGlassNotAllowed => StatusCode::FORBIDDEN,
            RefusalCode::NotPending | RefusalCode::AlreadyAnswered | RefusalCode::NotLive => {
                StatusCode::CONFLICT
            }
            RefusalCode::UnknownBundle
            | RefusalCode::UnknownPerson
            | RefusalCode::DurationTooLong
            | RefusalCode::InvalidDuration
            | RefusalCode::MissingReason
            | RefusalCode::TooLong
            | RefusalCode::ForbiddenCharacter
            | RefusalCode::InvalidName
            | RefusalCode::InvalidTarget
            | RefusalCode::OutOfScope
            | RefusalCode::InvalidStart => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, r.code.as_str(), r.message)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Refused(r) => r.into(),
            ServiceError::Store(StoreError::Conflict(m)) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", m)
            }
            other => {
                tracing::error!(error = %other, "api: internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    other.to_string(),
                )
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ServiceError::Store(e).into()
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Token id.
    pub token_id: String,
    /// Person.
    pub subject: String,
    /// Role.
    pub role: Role,
}

/// SHA-256 (hex) of a token secret: what the store keeps.
#[must_use]
pub fn hash_token(secret: &str) -> String {
    audit::hex(&Sha256::digest(secret.as_bytes()))
}

/// Make a token: the record to store (hash only) and the secret to hand out once.
///
/// # Errors
/// The system's randomness is unavailable.
pub fn mint_token(
    subject: &str,
    role: Role,
    now: i64,
) -> Result<(TokenRecord, String), ServiceError> {
    latch_grant::workflow::check_name("subject", subject, latch_grant::workflow::MAX_NAME_CHARS)
        .map_err(ServiceError::Refused)?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let secret = format!("latch_{}", audit::hex(&bytes));
    let record = TokenRecord {
        id: new_id("t")?,
        subject: subject.to_owned(),
        role,
        secret_hash: hash_token(&secret),
        created_at: now,
        revoked_at: None,
    };
    Ok((record, secret))
}

async fn authenticate(core: &Core, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", m);
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("missing `Authorization: Bearer <token>` header"))?;
    let secret = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
    let token = core
        .view()
        .token_by_hash(&hash_token(secret.trim()))
        .await?
        .ok_or_else(|| unauthorized("unknown token"))?;
    if token.revoked_at.is_some() {
        return Err(unauthorized("this token was revoked"));
    }
    Ok(Caller {
        token_id: token.id,
        subject: token.subject,
        role: token.role,
    })
}

async fn require(
    core: &Core,
    caller: &Caller,
    at_least: Role,
    what: &str,
    read_only: bool,
) -> Result<(), ApiError> {
    if caller.role.allows(at_least, read_only) {
        return Ok(());
    }
    let refusal = Refusal {
        code: RefusalCode::Forbidden,
        message: if caller.role == Role::Auditor {
            format!("{what} changes something: an `auditor` token only reads")
        } else if caller.role == Role::Ingest {
            format!("{what} is not for an `ingest` token: it only posts usage events")
        } else if at_least == Role::Ingest {
            format!(
                "{what} needs an `ingest` or `admin` token (this token has `{}`)",
                caller.role
            )
        } else {
            format!(
                "{what} needs the `{at_least}` role (this token has `{}`)",
                caller.role
            )
        },
    };
    Err(core
        .refuse(
            "api",
            refusal,
            Some(&caller.subject),
            None,
            json!({"action": what, "token": caller.token_id}),
        )
        .await
        .into())
}

/// Audit a refusal of `caller`'s input and turn it into the API's answer.
async fn refused(
    core: &Core,
    what: &str,
    refusal: Refusal,
    caller: &Caller,
    details: Value,
) -> ApiError {
    core.refuse(what, refusal, Some(&caller.subject), None, details)
        .await
        .into()
}

/// The authentication (and role check) in front of every route that needs a token. It runs
/// before the handler's extractors, so a caller without a valid token is answered 401 before
/// anything in the request's body, path or query is read; the [`Caller`] it finds is what
/// handlers see.
async fn guard(
    State((core, at_least, what)): State<(Arc<Core>, Role, &'static str)>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match authenticate(&core, request.headers()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let read_only = matches!(*request.method(), Method::GET | Method::HEAD);
    if let Err(e) = require(&core, &caller, at_least, what, read_only).await {
        return e.into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        // Only [`guard`] puts a caller there: a route without it has no caller (fail closed).
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "missing `Authorization: Bearer <token>` header",
            )
        })
    }
}

/// Largest body of an API call, in bytes (a reason of the longest length a configuration
/// allows, written entirely in `\u` escapes, fits several times over).
pub const API_BODY_LIMIT: usize = 64 * 1024;

/// Largest body of `POST /api/v1/events` (CloudTrail records, possibly a whole log file's
/// worth), in bytes.
pub const EVENTS_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Largest body of `POST /api/v1/posture` (the scan report of a large organization), in
/// bytes.
pub const POSTURE_BODY_LIMIT: usize = 512 * 1024 * 1024;

fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// The body, read within the route's limit (`body_too_large` beyond it).
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the body is too large: at most {API_BODY_LIMIT} bytes ({EVENTS_BODY_LIMIT} for /api/v1/events, {POSTURE_BODY_LIMIT} for /api/v1/posture)"
                ),
            )
        } else {
            bad_request("bad_body", format!("the body could not be read: {}", r.body_text()))
        }
    })
}

/// True when the request says its body is JSON (`application/json` or `application/*+json`).
fn says_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A JSON body read as `Option<T>`: `None` when the body is empty; otherwise it must say it is
/// JSON (`unsupported_media_type`), fit the limit (`body_too_large`), parse (`bad_json`) and
/// match `T` (`unknown_field`, `invalid_body`).
async fn json_body<T: DeserializeOwned, S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<Option<T>, ApiError> {
    let declared = request.headers().contains_key(header::CONTENT_TYPE);
    let is_json = says_json(request.headers());
    if declared && !is_json {
        return Err(unsupported_media_type());
    }
    let bytes = read_body(request, state).await?;
    if bytes.is_empty() {
        return Ok(None);
    }
    if !is_json {
        return Err(unsupported_media_type());
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data if e.to_string().starts_with("unknown field") => bad_request(
                "unknown_field",
                format!("the body has a field this call does not take: {e}"),
            ),
            Category::Data => bad_request(
                "invalid_body",
                format!("the body does not have the shape this call takes: {e}"),
            ),
            Category::Syntax | Category::Eof | Category::Io => {
                bad_request("bad_json", format!("the body is not valid JSON: {e}"))
            }
        }
    })
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "the body must be JSON: send `Content-Type: application/json`",
    )
}

/// A required JSON body (see [`json_body`]; an empty body is `bad_json`).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        json_body(request, state)
            .await?
            .map(ApiJson)
            .ok_or_else(|| {
                bad_request(
                    "bad_json",
                    "the body is empty: this call takes a JSON object",
                )
            })
    }
}

/// An optional JSON body (see [`json_body`]).
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        json_body(request, state).await.map(OptionalJson)
    }
}

/// The raw body, within the route's limit.
#[derive(Debug)]
pub struct ApiBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        read_body(request, state).await.map(ApiBody)
    }
}

/// Query parameters; unknown or malformed ones are `bad_query`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
            .map(ApiQuery)
            .map_err(|e| bad_request("bad_query", format!("bad query parameters: {e}")))
    }
}

/// The `{id}` of a path: one of Latch's ids is short and plain, so anything else is
/// `bad_path` before any lookup.
#[derive(Debug)]
pub struct ApiId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ApiId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|r| bad_request("bad_path", r.body_text()))?;
        latch_grant::workflow::check_text("id", &id, latch_grant::workflow::MAX_NAME_CHARS)
            .map_err(|r| bad_request("bad_path", r.message))?;
        Ok(ApiId(id))
    }
}

async fn not_found(uri: Uri, headers: HeaderMap) -> Response {
    // A person's browser gets a page; everything else the API's JSON error.
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html && !uri.path().starts_with("/api/") {
        return crate::web::not_found_page();
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no such endpoint `{}` (the API is described at /api/v1/openapi.json)",
            latch_grant::workflow::clip(uri.path(), latch_grant::workflow::MAX_NAME_CHARS)
        ),
    )
    .into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "`{}` does not take {method} (the API is described at /api/v1/openapi.json)",
            latch_grant::workflow::clip(uri.path(), latch_grant::workflow::MAX_NAME_CHARS)
        ),
    )
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, the OpenAPI document).
    Public,
    /// A chat platform, proved by its own means (Slack's signature, the Bot Framework's
    /// token), checked by its handler before anything in the body is trusted.
    Chat,
    /// A bearer token with at least this role; the text names the action in refusals.
    Token(Role, &'static str),
}

fn routes() -> Vec<(&'static str, Access, MethodRouter<Arc<Core>>)> {
    use Access::{Chat, Public, Token};
    use Role::{Admin, Approver, Ingest, Requester};
    vec![
        ("/healthz", Public, get(healthz)),
        ("/readyz", Public, get(readyz)),
        ("/api/v1/openapi.json", Public, get(openapi)),
        (
            "/api/v1/requests",
            Token(Requester, "asking for or listing requests"),
            post(create_request).get(list_requests),
        ),
        (
            "/api/v1/requests/{id}",
            Token(Requester, "reading a request"),
            get(show_request),
        ),
        (
            "/api/v1/requests/{id}/approve",
            Token(Approver, "approve a request"),
            post(approve),
        ),
        (
            "/api/v1/requests/{id}/deny",
            Token(Approver, "deny a request"),
            post(deny),
        ),
        (
            "/api/v1/grants",
            Token(Requester, "listing grants"),
            get(list_grants),
        ),
        (
            "/api/v1/grants/{id}",
            Token(Requester, "reading a grant"),
            get(show_grant),
        ),
        (
            "/api/v1/grants/{id}/revoke",
            Token(Requester, "revoking a grant"),
            post(revoke),
        ),
        (
            "/api/v1/grants/{id}/extend",
            Token(Requester, "extending a grant"),
            post(extend),
        ),
        (
            "/api/v1/grants/{id}/relinquish",
            Token(Requester, "giving a grant back"),
            post(relinquish),
        ),
        (
            "/api/v1/audit",
            Token(Admin, "reading the audit log"),
            get(audit_list),
        ),
        (
            "/api/v1/audit/verify",
            Token(Admin, "verifying the audit log"),
            get(audit_verify),
        ),
        (
            "/api/v1/audit/export",
            Token(Admin, "exporting the audit log"),
            get(audit_export),
        ),
        (
            "/api/v1/reconcile",
            Token(Admin, "reconciling"),
            post(reconcile),
        ),
        (
            "/api/v1/directory/sync",
            Token(Admin, "syncing the directory"),
            post(directory_sync),
        ),
        (
            "/api/v1/events",
            Token(Ingest, "posting usage events"),
            post(events).layer(DefaultBodyLimit::max(EVENTS_BODY_LIMIT)),
        ),
        (
            "/api/v1/posture",
            Token(Admin, "pushing or reading the posture"),
            get(posture_show)
                .merge(post(posture_push).layer(DefaultBodyLimit::max(POSTURE_BODY_LIMIT))),
        ),
        (
            "/api/v1/tokens",
            Token(Admin, "creating tokens"),
            post(create_token),
        ),
        ("/slack/commands", Chat, post(crate::slack::commands)),
        (
            "/slack/interactions",
            Chat,
            post(crate::slack::interactions),
        ),
        ("/teams/messages", Chat, post(crate::teams::messages)),
    ]
}

/// Every route of [`router`] and who may call it (the OpenAPI document describes exactly
/// these).
#[must_use]
pub fn route_access() -> Vec<(&'static str, Access)> {
    routes().into_iter().map(|(p, a, _)| (p, a)).collect()
}

/// The router: API, health, OpenAPI and Slack. Every route that needs a token is behind
/// [`guard`]; an unknown path, a method a path does not take, and every malformed input get
/// the API's JSON error.
pub fn router(core: Arc<Core>) -> Router {
    let web = match crate::web::Web::new(&core.config.web) {
        Ok(w) => Some(Arc::new(w)),
        Err(e) => {
            tracing::error!(error = %e, "console: no session key; the console is off");
            None
        }
    };
    let mut router = match web {
        Some(w) => crate::web::routes(w),
        None => Router::new(),
    };
    for (path, access, methods) in routes() {
        let methods = match access {
            Access::Token(role, what) => methods.route_layer(middleware::from_fn_with_state(
                (Arc::clone(&core), role, what),
                guard,
            )),
            Access::Public | Access::Chat => methods,
        };
        router = router.route(path, methods);
    }
    router
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .layer(middleware::from_fn(request_id))
        .with_state(core)
}

/// The header that carries a request's id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// Every request gets an id: the caller's `X-Request-Id` when it is a plain token (at most
/// 64 letters, digits, `-`, `_`, `.`), else a fresh one. Everything logged while serving it
/// carries the id, and the answer names it in the same header.
async fn request_id(request: Request, next: Next) -> Response {
    use tracing::Instrument as _;
    let given = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| crate::service::new_id("req").unwrap_or_default());
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = %request.uri().path()
    );
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_millis();
    // Every change is logged; reads only at debug level (they are most of the traffic).
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, ms, "request failed");
        } else if reads {
            tracing::debug!(status, ms, "request served");
        } else {
            tracing::info!(status, ms, "request served");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    response
}

async fn healthz(State(core): State<Arc<Core>>) -> Response {
    // Healthy when the store answers. Public, like `/readyz`: the store's own words (a host, a
    // schema, a file path) go to the log, not to the caller.
    match core.view().audit(i64::MAX - 1, 1).await {
        Ok(_) => Json(json!({"status": "ok", "backend": core.view().backend()})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not healthy: the store does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable",
                            "error": "the store does not answer (the server's log says why)"})),
            )
                .into_response()
        }
    }
}

/// Ready to serve: the store answers, the scheduler's lease check succeeded recently (so a
/// leader is known: this server or another), and the cloud answers. 503 with the checks that
/// failed otherwise. The answer is public (load balancers call it), so it names no identity,
/// account or address: what went wrong is logged, with the request id.
async fn readyz(State(core): State<Arc<Core>>) -> Response {
    let failed = |check: &str, detail: &str| {
        tracing::warn!(check, error = %detail, "not ready");
        json!({"ok": false, "error": format!("{check} check failed (the server's log says why)")})
    };
    let store = match core.view().audit(i64::MAX - 1, 1).await {
        Ok(_) => json!({"ok": true, "backend": core.view().backend()}),
        Err(e) => failed("store", &e.to_string()),
    };
    let lease = core.lease_check();
    let fresh = lease.at > 0
        && core.now().saturating_sub(lease.at)
            <= core
                .config
                .lease_ttl_ms
                .max(core.config.poll_interval_ms.saturating_mul(3));
    let leader = match (&lease.error, fresh) {
        (Some(e), _) => failed("leader", e),
        (None, false) if lease.at == 0 => {
            json!({"ok": false, "error": "the scheduler has not checked the lease yet"})
        }
        (None, false) => json!({"ok": false, "error": format!(
            "the scheduler last checked the lease at {}", latch_time::rfc3339(lease.at))}),
        (None, true) => {
            json!({"ok": true, "leader": if lease.leading { "this server" } else { "another server" }})
        }
    };
    let cloud = match core.probe_cloud().await {
        Ok(_) => json!({"ok": true}),
        Err(e) => failed("cloud", &e),
    };
    let ready = [&store, &leader, &cloud]
        .iter()
        .all(|c| c["ok"] == Value::Bool(true));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not ready" },
            "checks": {"store": store, "leader": leader, "cloud": cloud},
        })),
    )
        .into_response()
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

async fn create_request(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiJson(body): ApiJson<NewRequestBody>,
) -> Result<Response, ApiError> {
    let duration_secs = match parse_duration(&body.duration) {
        Ok(d) => d,
        Err(e) => {
            let refusal = Refusal {
                code: RefusalCode::InvalidDuration,
                message: format!("duration {e}"),
            };
            let details = json!({"bundle": body.bundle, "duration": body.duration});
            return Err(refused(&core, "request", refusal, &caller, details).await);
        }
    };
    let source = match body.source.as_deref() {
        Some("cli") => "cli",
        _ => "api",
    };
    let starts_at = match body
        .start
        .as_deref()
        .map(|t| (t, latch_time::Timestamp::parse(t)))
    {
        None => None,
        Some((_, Some(t))) => Some(t.seconds().saturating_mul(1000)),
        Some((text, None)) => {
            let refusal = Refusal {
                code: RefusalCode::InvalidStart,
                message: format!(
                    "`start` `{}` is not an RFC 3339 time (e.g. 2026-12-08T09:00:00Z)",
                    latch_grant::workflow::clip(text, 64)
                ),
            };
            let details = json!({"bundle": body.bundle, "start": body.start});
            return Err(refused(&core, "request", refusal, &caller, details).await);
        }
    };
    let (request, grant) = core
        .request(NewRequest {
            requester: caller.subject,
            bundle: body.bundle,
            duration_secs,
            reason: body.reason,
            break_glass: body.break_glass,
            source: source.to_owned(),
            accounts: body.account.into_iter().chain(body.accounts).collect(),
            permission_set: body.permission_set,
            starts_at,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(RequestAnswer::of(&request, &grant)),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListRequests {
    status: Option<String>,
    limit: Option<i64>,
}

async fn list_requests(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListRequests>,
) -> Result<Json<RequestList>, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(
            s.parse::<RequestStatus>()
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.to_string()))?,
        ),
    };
    let rs = core
        .view()
        .requests(&RequestQuery {
            status,
            requester: (caller.role == Role::Requester).then(|| caller.subject.clone()),
            limit: q.limit.unwrap_or(100),
        })
        .await?;
    Ok(Json(RequestList {
        requests: rs.iter().map(RequestView::of).collect(),
    }))
}

async fn show_request(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiId(id): ApiId,
) -> Result<Json<RequestDetail>, ApiError> {
    let r = core
        .view()
        .request(&id)
        .await?
        .filter(|r| caller.role != Role::Requester || r.requester == caller.subject)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no request `{id}`"),
            )
        })?;
    let approvals = core.view().approvals(&id).await?;
    let grants = core
        .view()
        .grants(&GrantQuery {
            request_id: Some(r.id.clone()),
            ..GrantQuery::default()
        })
        .await?;
    let views = core.grant_views(&grants);
    Ok(Json(RequestDetail {
        request: RequestView::of(&r),
        approvals: approvals.iter().map(ApprovalView::of).collect(),
        approvers: latch_grant::workflow::eligible_approvers(&core.rules(), &r),
        grants: views,
    }))
}

async fn decide(
    core: Arc<Core>,
    caller: Caller,
    id: String,
    body: Option<DecisionBody>,
    decision: Decision,
) -> Result<Json<RequestAnswer>, ApiError> {
    let comment = body.and_then(|b| b.comment);
    let (r, g) = core
        .decide(&id, &caller.subject, decision, comment.as_deref())
        .await?;
    Ok(Json(RequestAnswer::of(&r, &g)))
}

async fn approve(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiId(id): ApiId,
    OptionalJson(body): OptionalJson<DecisionBody>,
) -> Result<Json<RequestAnswer>, ApiError> {
    decide(core, caller, id, body, Decision::Approve).await
}

async fn deny(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiId(id): ApiId,
    OptionalJson(body): OptionalJson<DecisionBody>,
) -> Result<Json<RequestAnswer>, ApiError> {
    decide(core, caller, id, body, Decision::Deny).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListGrants {
    /// `live` (default), `all`, or one status.
    status: Option<String>,
    limit: Option<i64>,
}

async fn list_grants(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListGrants>,
) -> Result<Json<GrantList>, ApiError> {
    let statuses = match q.status.as_deref() {
        None | Some("live") => GrantStatus::LIVE.to_vec(),
        Some("all") => Vec::new(),
        Some(s) => vec![s
            .parse::<GrantStatus>()
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.to_string()))?],
    };
    let gs = core
        .view()
        .grants(&GrantQuery {
            statuses,
            requester: (caller.role == Role::Requester).then(|| caller.subject.clone()),
            limit: q.limit.unwrap_or(0),
            ..GrantQuery::default()
        })
        .await?;
    Ok(Json(GrantList {
        grants: core.grant_views(&gs),
    }))
}

async fn show_grant(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiId(id): ApiId,
) -> Result<Json<GrantAnswer>, ApiError> {
    let g = core
        .view()
        .grant(&id)
        .await?
        .filter(|g| caller.role != Role::Requester || g.requester == caller.subject)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no grant `{id}`"),
            )
        })?;
    Ok(Json(GrantAnswer {
        grant: GrantView::of(&g),
    }))
}

async fn revoke(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiId(id): ApiId,
    OptionalJson(body): OptionalJson<RevokeBody>,
) -> Result<Json<GrantAnswer>, ApiError> {
    let body = body.unwrap_or_default();
    let reason = body
        .reason
        .unwrap_or_else(|| "revoked through the API".to_owned());
    let g = core
        .revoke(
            &id,
            &caller.subject,
            caller.role == Role::Admin,
            &reason,
            body.cut_sessions,
        )
        .await?;
    Ok(Json(GrantAnswer {
        grant: GrantView::of(&g),
    }))
}

/// `POST /api/v1/grants/{id}/extend`: the holder asks for more time.
async fn extend(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiId(id): ApiId,
    ApiJson(body): ApiJson<ExtendBody>,
) -> Result<Response, ApiError> {
    let by_secs = match parse_duration(&body.duration) {
        Ok(d) => d,
        Err(e) => {
            let refusal = Refusal {
                code: RefusalCode::InvalidDuration,
                message: format!("duration {e}"),
            };
            let details = json!({"grant": id, "duration": body.duration});
            return Err(refused(&core, "extension", refusal, &caller, details).await);
        }
    };
    let (request, grant) = core
        .extend(&id, &caller.subject, by_secs, &body.reason, "api")
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(RequestAnswer::of(&request, &grant)),
    )
        .into_response())
}

/// `POST /api/v1/grants/{id}/relinquish`: the holder gives their grant back.
async fn relinquish(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiId(id): ApiId,
    OptionalJson(body): OptionalJson<RevokeBody>,
) -> Result<Json<GrantAnswer>, ApiError> {
    let body = body.unwrap_or_default();
    let reason = body.reason.unwrap_or_else(|| "done".to_owned());
    let g = core
        .relinquish(&id, &caller.subject, &reason, body.cut_sessions)
        .await?;
    Ok(Json(GrantAnswer {
        grant: GrantView::of(&g),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn audit_list(
    State(core): State<Arc<Core>>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let entries = core
        .view()
        .audit(q.after.unwrap_or(0), q.limit.unwrap_or(100))
        .await?;
    Ok(Json(json!({"entries": entries})))
}

async fn audit_verify(State(core): State<Arc<Core>>) -> Result<Json<Value>, ApiError> {
    let v = core.view().audit_verify().await?;
    Ok(Json(json!({"intact": v.is_intact(), "verification": v})))
}

async fn audit_export(State(core): State<Arc<Core>>) -> Result<Response, ApiError> {
    let entries = core.view().audit(0, 0).await?;
    let mut text = String::new();
    for e in &entries {
        text.push_str(&audit::to_json_line(e));
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], text).into_response())
}

/// `POST /api/v1/posture`: a scan report, a plan (`plan.json`) or a prove report, told apart
/// by their content, summarized and kept for the console's posture page.
async fn posture_push(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    let summarized = tokio::task::spawn_blocking(move || {
        crate::posture::detect(&body).and_then(|kind| crate::posture::summarize(kind, &body))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
    .map_err(|e| bad_request("bad_posture", e.to_string()))?;
    let pushed = core.push_posture(summarized, &caller.subject).await?;
    let status = if pushed.unchanged {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(json!(pushed))).into_response())
}

/// `GET /api/v1/posture`: the latest scan, plan and prove summaries kept.
async fn posture_show(State(core): State<Arc<Core>>) -> Result<Json<Value>, ApiError> {
    let mut out = serde_json::Map::new();
    for kind in crate::posture::Kind::ALL {
        let latest = core.view().posture_latest(kind.as_str()).await?;
        let value = match latest {
            None => Value::Null,
            Some(p) => json!({
                "pushed_at": latch_time::rfc3339(p.pushed_at),
                "pushed_by": p.pushed_by,
                "sha256": p.digest,
                "figures": serde_json::from_str::<Value>(&p.figures).unwrap_or(Value::Null),
                "summary": serde_json::from_str::<Value>(&p.body).unwrap_or(Value::Null),
            }),
        };
        out.insert(kind.as_str().to_owned(), value);
    }
    Ok(Json(Value::Object(out)))
}

async fn reconcile(State(core): State<Arc<Core>>) -> Result<Response, ApiError> {
    core.request_reconcile();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "reconciliation requested"})),
    )
        .into_response())
}

/// `POST /api/v1/directory/sync`: read the directory (`[identity_center]`) now and commit what
/// changed, as the leader does every `refresh`: for offboarding that cannot wait.
async fn directory_sync(
    State(core): State<Arc<Core>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    match core.sync_directory(Some(&caller.subject)).await {
        Ok(counts) => Ok((StatusCode::OK, Json(json!({"synced": counts}))).into_response()),
        Err(crate::people::SyncError::NotConfigured) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "directory_disabled",
            "no directory is configured (add an [identity_center] section)",
        )),
        Err(crate::people::SyncError::Read(e)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "directory_unreachable",
            format!("{e}; nothing was changed"),
        )),
        Err(crate::people::SyncError::Store(e)) => Err(e.into()),
    }
}

/// `POST /api/v1/events`: the usage feed. Denials on actions a bundle holds become chat offers
/// to the person mapped to the denied principal (at most one per person and bundle per
/// `[offers] every`).
async fn events(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    let Some(cfg) = core.config.offers.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "offers_disabled",
            "denial-triggered offers are not configured (add an [offers] section)",
        ));
    };
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_events", m);
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    let mut records = crate::offers::records_of(&value).map_err(bad)?;
    let probes = crate::offers::take_probes(&mut records);
    if !probes.is_empty() {
        core.record_probes(&caller.subject, &probes).await?;
    }
    let denials = crate::offers::denials(&records).map_err(bad)?;
    let (planned, skipped) =
        crate::offers::plan(&core.config, &core.rules(), &cfg.bundle_actions, &denials);
    let (sent, repeated) = core
        .send_offers(&caller.subject, planned, cfg.every_secs, cfg.duration_secs)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "records": records.len() + probes.len(),
            "probes": probes,
            "denials": denials,
            "offers": sent,
            "deduplicated": repeated,
            "skipped": skipped,
        })),
    )
        .into_response())
}

async fn create_token(
    State(core): State<Arc<Core>>,
    caller: Caller,
    ApiJson(body): ApiJson<NewTokenBody>,
) -> Result<Response, ApiError> {
    let (record, secret) = core
        .create_token(&caller.subject, &body.subject, body.role)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewToken {
            id: record.id,
            subject: record.subject,
            role: record.role,
            token: secret,
        }),
    )
        .into_response())
}
