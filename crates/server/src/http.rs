//! The JSON API under `/api/v1`, `/healthz`, the OpenAPI document and the Slack endpoints.
//!
//! Callers authenticate with `Authorization: Bearer <token>`; only the SHA-256 of a token is
//! stored. Roles: `requester` (ask, see and revoke one's own), `approver` (also answer when
//! named by the bundle's policy, see everything), `admin` (also the audit log, tokens and
//! anyone's grants).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use latch_store::{
    audit, AuditEvent, Changeset, Decision, GrantQuery, GrantRecord, GrantStatus, RequestQuery,
    RequestRecord, RequestStatus, Role, StoreError, TokenRecord,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::clock::{format_duration, parse_duration, rfc3339};
use crate::domain::{NewRequest, Refusal, RefusalCode};
use crate::service::{new_id, Core, ServiceError};

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
            Json(json!({"error": {"code": self.code, "message": self.message}})),
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
            | RefusalCode::MissingReason => StatusCode::UNPROCESSABLE_ENTITY,
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
        .store
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

async fn require(core: &Core, caller: &Caller, at_least: Role, what: &str) -> Result<(), ApiError> {
    if caller.role >= at_least {
        return Ok(());
    }
    let refusal = Refusal {
        code: RefusalCode::Forbidden,
        message: format!(
            "{what} needs the `{at_least}` role (this token has `{}`)",
            caller.role
        ),
    };
    core.store
        .commit(Changeset::audit_only(vec![crate::domain::refusal_event(
            "api",
            &refusal,
            Some(&caller.subject),
            None,
            json!({"action": what, "token": caller.token_id}),
            core.now(),
        )]))
        .await?;
    Err(refusal.into())
}

/// A request as the API shows it.
#[must_use]
pub fn request_json(r: &RequestRecord) -> Value {
    json!({
        "id": r.id,
        "requester": r.requester,
        "identity": r.identity.id,
        "identity_kind": r.identity.kind.as_str(),
        "bundle": r.bundle,
        "duration": format_duration(r.duration_secs),
        "duration_secs": r.duration_secs,
        "reason": r.reason,
        "status": r.status.as_str(),
        "source": r.source,
        "break_glass": r.break_glass,
        "tier": r.tier,
        "tier_deadline": r.tier_deadline.map(rfc3339),
        "required_approvals": r.required_approvals,
        "created_at": rfc3339(r.created_at),
        "decided_at": r.decided_at.map(rfc3339),
    })
}

/// A grant as the API shows it.
#[must_use]
pub fn grant_json(g: &GrantRecord) -> Value {
    json!({
        "id": g.id,
        "request_id": g.request_id,
        "requester": g.requester,
        "identity": g.identity.id,
        "identity_kind": g.identity.kind.as_str(),
        "bundle": g.bundle,
        "status": g.status.as_str(),
        "break_glass": g.break_glass,
        "created_at": rfc3339(g.created_at),
        "activated_at": g.activated_at.map(rfc3339),
        "expires_at": rfc3339(g.expires_at),
        "expires_at_ms": g.expires_at,
        "ended_at": g.ended_at.map(rfc3339),
        "revoked_by": g.revoked_by,
        "revoke_reason": g.revoke_reason,
        "session_cutoff": g.session_cutoff.map(rfc3339),
    })
}

/// The router: API, health, OpenAPI and Slack.
pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/requests", post(create_request).get(list_requests))
        .route("/api/v1/requests/{id}", get(show_request))
        .route("/api/v1/requests/{id}/approve", post(approve))
        .route("/api/v1/requests/{id}/deny", post(deny))
        .route("/api/v1/grants", get(list_grants))
        .route("/api/v1/grants/{id}", get(show_grant))
        .route("/api/v1/grants/{id}/revoke", post(revoke))
        .route("/api/v1/audit", get(audit_list))
        .route("/api/v1/audit/verify", get(audit_verify))
        .route("/api/v1/audit/export", get(audit_export))
        .route("/api/v1/reconcile", post(reconcile))
        .route("/api/v1/events", post(events))
        .route("/api/v1/tokens", post(create_token))
        .route("/slack/commands", post(crate::slack::commands))
        .route("/slack/interactions", post(crate::slack::interactions))
        .with_state(core)
}

async fn healthz(State(core): State<Arc<Core>>) -> Response {
    // Healthy when the store answers.
    match core.store.audit(i64::MAX - 1, 1).await {
        Ok(_) => Json(json!({"status": "ok", "backend": core.store.backend()})).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    bundle: String,
    /// `1h`, `30m`, …
    duration: String,
    reason: String,
    #[serde(default)]
    break_glass: bool,
    /// `api` (default) or `cli`.
    source: Option<String>,
}

async fn create_request(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Json(body): Json<CreateRequest>,
) -> Result<Response, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    let duration_secs = match parse_duration(&body.duration) {
        Ok(d) => d,
        Err(e) => {
            let refusal = Refusal {
                code: RefusalCode::InvalidDuration,
                message: format!("duration {e}"),
            };
            core.store
                .commit(Changeset::audit_only(vec![crate::domain::refusal_event(
                    "request",
                    &refusal,
                    Some(&caller.subject),
                    None,
                    json!({"bundle": body.bundle, "duration": body.duration}),
                    core.now(),
                )]))
                .await?;
            return Err(refusal.into());
        }
    };
    let source = match body.source.as_deref() {
        Some("cli") => "cli",
        _ => "api",
    };
    let (request, grant) = core
        .request(NewRequest {
            requester: caller.subject,
            bundle: body.bundle,
            duration_secs,
            reason: body.reason,
            break_glass: body.break_glass,
            source: source.to_owned(),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"request": request_json(&request), "grant": grant.as_ref().map(grant_json)})),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct ListRequests {
    status: Option<String>,
    limit: Option<i64>,
}

async fn list_requests(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(q): Query<ListRequests>,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    let status = match q.status.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(
            s.parse::<RequestStatus>()
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.to_string()))?,
        ),
    };
    let rs = core
        .store
        .requests(&RequestQuery {
            status,
            requester: (caller.role == Role::Requester).then(|| caller.subject.clone()),
            limit: q.limit.unwrap_or(100),
        })
        .await?;
    Ok(Json(
        json!({"requests": rs.iter().map(request_json).collect::<Vec<_>>()}),
    ))
}

async fn show_request(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    let r = core
        .store
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
    let approvals = core.store.approvals(&id).await?;
    Ok(Json(json!({
        "request": request_json(&r),
        "approvals": approvals.iter().map(|a| json!({
            "approver": a.approver, "decision": a.decision.as_str(), "at": rfc3339(a.at), "comment": a.comment,
        })).collect::<Vec<_>>(),
        "approvers": crate::domain::eligible_approvers(&core.config, &r),
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    comment: Option<String>,
}

async fn decide(
    core: Arc<Core>,
    headers: HeaderMap,
    id: String,
    body: Option<Json<DecisionBody>>,
    decision: Decision,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    require(
        &core,
        &caller,
        Role::Approver,
        &format!("{} a request", decision.as_str()),
    )
    .await?;
    let comment = body.and_then(|Json(b)| b.comment);
    let (r, g) = core
        .decide(&id, &caller.subject, decision, comment.as_deref())
        .await?;
    Ok(Json(
        json!({"request": request_json(&r), "grant": g.as_ref().map(grant_json)}),
    ))
}

async fn approve(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<DecisionBody>>,
) -> Result<Json<Value>, ApiError> {
    decide(core, headers, id, body, Decision::Approve).await
}

async fn deny(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<DecisionBody>>,
) -> Result<Json<Value>, ApiError> {
    decide(core, headers, id, body, Decision::Deny).await
}

#[derive(Debug, Deserialize)]
struct ListGrants {
    /// `live` (default), `all`, or one status.
    status: Option<String>,
    limit: Option<i64>,
}

async fn list_grants(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(q): Query<ListGrants>,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    let statuses = match q.status.as_deref() {
        None | Some("live") => GrantStatus::LIVE.to_vec(),
        Some("all") => Vec::new(),
        Some(s) => vec![s
            .parse::<GrantStatus>()
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.to_string()))?],
    };
    let gs = core
        .store
        .grants(&GrantQuery {
            statuses,
            requester: (caller.role == Role::Requester).then(|| caller.subject.clone()),
            limit: q.limit.unwrap_or(0),
            ..GrantQuery::default()
        })
        .await?;
    Ok(Json(
        json!({"grants": gs.iter().map(grant_json).collect::<Vec<_>>()}),
    ))
}

async fn show_grant(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    let g = core
        .store
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
    Ok(Json(json!({"grant": grant_json(&g)})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: Option<String>,
    cut_sessions: Option<bool>,
}

async fn revoke(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<RevokeBody>>,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
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
    Ok(Json(json!({"grant": grant_json(&g)})))
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn audit_list(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    require(&core, &caller, Role::Admin, "reading the audit log").await?;
    let entries = core
        .store
        .audit(q.after.unwrap_or(0), q.limit.unwrap_or(100))
        .await?;
    Ok(Json(json!({"entries": entries})))
}

async fn audit_verify(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    require(&core, &caller, Role::Admin, "verifying the audit log").await?;
    let v = core.store.audit_verify().await?;
    Ok(Json(json!({"intact": v.is_intact(), "verification": v})))
}

async fn audit_export(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    require(&core, &caller, Role::Admin, "exporting the audit log").await?;
    let entries = core.store.audit(0, 0).await?;
    let mut text = String::new();
    for e in &entries {
        text.push_str(&audit::to_json_line(e));
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], text).into_response())
}

async fn reconcile(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    require(&core, &caller, Role::Admin, "reconciling").await?;
    core.request_reconcile();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "reconciliation requested"})),
    )
        .into_response())
}

/// `POST /api/v1/events`: the usage feed. Denials on actions a bundle holds become Slack offers
/// to the person mapped to the denied principal (at most one per person and bundle per
/// `[offers] every`).
async fn events(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    require(&core, &caller, Role::Admin, "posting usage events").await?;
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
    let records = crate::offers::records_of(&value).map_err(bad)?;
    let denials = crate::offers::denials(&records).map_err(bad)?;
    let (planned, skipped) = crate::offers::plan(&core.config, &cfg.bundle_actions, &denials);
    let now = core.now();
    let until = now.saturating_add(cfg.every_secs.saturating_mul(1000));
    let (mut sent, mut repeated) = (Vec::new(), Vec::new());
    for o in planned {
        let key = format!("offer:{}:{}", o.person, o.bundle);
        if core.store.remember_nonce(&key, now, until).await? {
            sent.push(o);
        } else {
            repeated.push(o);
        }
    }
    for (list, outcome) in [(&sent, "sent"), (&repeated, "deduplicated")] {
        for _ in list.iter() {
            core.metrics
                .inc("offers_total", &format!("outcome=\"{outcome}\""));
        }
    }
    if !sent.is_empty() {
        let audit = sent
            .iter()
            .map(|o| {
                AuditEvent::new(now, "offer.sent")
                    .actor(&caller.subject)
                    .subject(&o.person)
                    .details(
                        json!({"bundle": o.bundle, "action": o.action, "principal": o.principal}),
                    )
            })
            .collect();
        core.store.commit(Changeset::audit_only(audit)).await?;
        core.spawn_offers(&sent, cfg.duration_secs);
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "records": records.len(),
            "denials": denials,
            "offers": sent,
            "deduplicated": repeated,
            "skipped": skipped,
        })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    subject: String,
    role: Role,
}

async fn create_token(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Json(body): Json<CreateToken>,
) -> Result<Response, ApiError> {
    let caller = authenticate(&core, &headers).await?;
    require(&core, &caller, Role::Admin, "creating tokens").await?;
    let now = core.now();
    let (record, secret) = mint_token(&body.subject, body.role, now)?;
    core.store.create_token(&record).await?;
    core.store
        .commit(Changeset::audit_only(vec![AuditEvent::new(
            now,
            "token.created",
        )
        .actor(&caller.subject)
        .subject(&record.id)
        .details(
            json!({"for": record.subject, "role": record.role.as_str()}),
        )]))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": record.id, "subject": record.subject, "role": record.role.as_str(), "token": secret})),
    )
        .into_response())
}
