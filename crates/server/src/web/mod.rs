//! The console at `/`: server-rendered pages over the same [`Core`] as the API — *Request*,
//! *My access*, *Approvals*, *Grants* and *Audit* — for requesters, approvers and admins.
//!
//! - **Signing in**: with an API token (`latch token create`), once; the page then holds a
//!   session cookie ([`session`]): `HttpOnly`, `SameSite=Strict`, `Secure` behind `https://`,
//!   renewed while used and ended by `[web] session_ttl` of idleness, by signing out, or by the
//!   token's revocation (checked on every page).
//! - **Every change** is a form `POST` that carries the session's CSRF secret; a missing or
//!   wrong one is refused (403) and audited, whatever the cookie says.
//! - **Headers**: a Content Security Policy with no inline script or style and
//!   `frame-ancestors 'none'`, `X-Content-Type-Options: nosniff`, `Referrer-Policy:
//!   same-origin`, `Cache-Control: no-store`, and HSTS when served over HTTPS.
//! - **Assets** (one stylesheet, one small script that refreshes the approvals queue every two
//!   seconds) are compiled into the binary.

pub mod oidc;
mod posture;
pub mod session;

use std::sync::Arc;

use axum::extract::{Form, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use latch_grant::workflow::{self, NewRequest};
use latch_grant::{
    AuditEvent, Changeset, Decision, GrantQuery, GrantRecord, GrantStatus, RequestQuery,
    RequestRecord, RequestStatus, Role,
};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use serde_json::json;

use crate::clock::{format_duration, parse_duration, rfc3339};
use crate::service::{Core, ServiceError};
use session::{Session, SessionKey, COOKIE};

const CSS: &str = include_str!("assets/latch.css");
const JS: &str = include_str!("assets/latch.js");

/// How many audit entries one page of the audit log shows.
const AUDIT_PAGE: usize = 50;

/// What the console's handlers share beside the core.
#[derive(Debug)]
pub struct Web {
    key: SessionKey,
    ttl_ms: i64,
    secure: bool,
    /// How far the audit chain is verified: entries after it are checked as pages ask, and
    /// the whole chain again once a minute.
    chain: tokio::sync::Mutex<Option<Checked>>,
    /// The address people open (`[web] public_url`), when set.
    public_url: Option<String>,
    /// A whole-chain verification is running in the background.
    verifying: std::sync::atomic::AtomicBool,
    /// The identity provider people sign in through, when `[web.oidc]` names one.
    oidc: Option<oidc::Provider>,
}

/// The audit chain as last verified.
#[derive(Debug, Clone)]
struct Checked {
    /// The last entry checked (`seq`, `hash`; `0` and empty for an empty log).
    seq: i64,
    hash: String,
    /// The first break found, if any.
    broken: Option<String>,
    /// When the whole chain was last verified.
    full_at: i64,
}

/// How often the console verifies the whole audit chain again (between, it checks the
/// entries added since).
const FULL_VERIFY_EVERY_MS: i64 = 60_000;

impl Web {
    /// The console's settings from `[web]`.
    ///
    /// # Errors
    /// No randomness for a per-process session key.
    pub fn new(config: &crate::config::WebConfig) -> Result<Web, ServiceError> {
        let key = match &config.session_key {
            Some(k) => SessionKey::new(k.expose().as_bytes().to_vec()),
            None => SessionKey::random().map_err(|e| ServiceError::Internal(e.to_string()))?,
        };
        Ok(Web {
            key,
            ttl_ms: config.session_ttl_ms,
            secure: config.secure(),
            chain: tokio::sync::Mutex::new(None),
            verifying: std::sync::atomic::AtomicBool::new(false),
            public_url: config.public_url.clone(),
            oidc: match (&config.oidc, &config.public_url) {
                (Some(o), Some(url)) => Some(oidc::Provider::new(o.clone(), url)),
                _ => None,
            },
        })
    }

    /// The audit chain verified up to its head: the entries added since the last check (the
    /// whole chain the first time). Once a minute the whole chain is verified again in the
    /// background, so that no page waits for it; a break, once found, is shown until restart.
    async fn chain(self: &Arc<Self>, core: &Arc<Core>) -> Result<Checked, latch_grant::StoreError> {
        let mut cached = self.chain.lock().await;
        let now = core.now();
        let checked = match cached.as_ref() {
            Some(c) => {
                let added = core.view().audit(c.seq, 0).await?;
                let v = latch_grant::audit::verify_after(
                    (c.seq > 0).then_some((c.seq, c.hash.as_str())),
                    &added,
                );
                let mut next = c.clone();
                if let Some(last) = added.last() {
                    next.seq = last.seq;
                    next.hash.clone_from(&last.hash);
                }
                if next.broken.is_none() {
                    next.broken = first_break(&v);
                }
                let due = now.saturating_sub(c.full_at) >= FULL_VERIFY_EVERY_MS;
                if due
                    && !self
                        .verifying
                        .swap(true, std::sync::atomic::Ordering::SeqCst)
                {
                    let (web, core) = (Arc::clone(self), Arc::clone(core));
                    tokio::spawn(async move {
                        if let Ok(full) = verify_all(&core).await {
                            let mut cached = web.chain.lock().await;
                            if let Some(c) = cached.as_mut() {
                                c.full_at = full.full_at;
                                if c.broken.is_none() {
                                    c.broken = full.broken;
                                }
                            }
                        }
                        web.verifying
                            .store(false, std::sync::atomic::Ordering::SeqCst);
                    });
                }
                next
            }
            None => verify_all(core).await?,
        };
        *cached = Some(checked.clone());
        Ok(checked)
    }

    fn cookie(&self, session: &Session) -> String {
        let value = self.key.seal(session);
        let max_age = session
            .expires_at
            .saturating_sub(session.issued_at)
            .div_euclid(1000);
        format!(
            "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
            if self.secure { "; Secure" } else { "" }
        )
    }

    fn clear_cookie(&self) -> String {
        format!(
            "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            if self.secure { "; Secure" } else { "" }
        )
    }
}

fn first_break(v: &latch_grant::Verification) -> Option<String> {
    v.breaks
        .first()
        .map(|b| format!("at entry {}: {}", b.seq, b.problem))
        .or_else(|| v.problems.first().cloned())
}

/// The whole audit chain, verified now.
async fn verify_all(core: &Core) -> Result<Checked, latch_grant::StoreError> {
    let now = core.now();
    let all = core.view().audit(0, 0).await?;
    let v = latch_grant::audit::verify(&all);
    Ok(Checked {
        seq: all.last().map_or(0, |e| e.seq),
        hash: all.last().map(|e| e.hash.clone()).unwrap_or_default(),
        broken: first_break(&v),
        full_at: now,
    })
}

/// What most console handlers start from: the core, the console's settings and the request's
/// headers (the cookie, `Origin`).
struct Ctx {
    core: Arc<Core>,
    web: Arc<Web>,
    headers: HeaderMap,
}

impl FromRequestParts<Arc<Core>> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, core: &Arc<Core>) -> Result<Ctx, Response> {
        // [`routes`] puts the console's settings on every one of its requests.
        let web = parts
            .extensions
            .get::<Arc<Web>>()
            .cloned()
            .ok_or_else(not_found_page)?;
        Ok(Ctx {
            core: Arc::clone(core),
            web,
            headers: parts.headers.clone(),
        })
    }
}

/// The console's routes (merged into the server's router, which adds its state).
pub fn routes(web: Arc<Web>) -> Router<Arc<Core>> {
    let secure = web.secure;
    let public = web.public_url.clone();
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/login/oidc", get(oidc_start))
        .route("/login/callback", get(oidc_callback))
        .route("/logout", post(logout))
        .route("/request", get(request_page).post(request_submit))
        .route("/access", get(access_page))
        .route("/access/{id}/relinquish", post(relinquish))
        .route("/access/{id}/extend", post(extend))
        .route("/approvals", get(approvals_page))
        .route("/approvals/{id}", post(decide))
        .route("/grants", get(grants_page))
        .route("/grants/{id}/revoke", post(revoke))
        .route("/audit", get(audit_page))
        .route("/audit/export", get(audit_export))
        .route("/posture", get(posture::posture_page))
        .route(
            "/assets/latch.css",
            get(|| async { asset(CSS, "text/css") }),
        )
        .route(
            "/assets/latch.js",
            get(|| async { asset(JS, "text/javascript") }),
        )
        .layer(middleware::from_fn(move |r, n| {
            same_origin(public.clone(), r, n)
        }))
        .layer(middleware::from_fn(move |r, n| headers(secure, r, n)))
        .layer(Extension(web))
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// A form sent from another site is refused, whatever its cookie and CSRF field: a browser
/// names the page a `POST` comes from (`Origin`), and it must be this server — as the `Host`
/// it was asked by, or `[web] public_url` (a proxy in front may rewrite `Host`). Also what
/// stops signing someone in from another site.
async fn same_origin(public: Option<String>, request: Request, next: Next) -> Response {
    let changes = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if let (true, Some(origin)) = (changes, request.headers().get(header::ORIGIN)) {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let from = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, h)| h);
        let public_host = public
            .as_deref()
            .and_then(|u| u.split_once("://"))
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest));
        if from.is_none() || (from != host && from != public_host) {
            return problem(
                StatusCode::FORBIDDEN,
                None,
                "Not allowed",
                "This form was sent from another site, and is refused.",
            );
        }
    }
    next.run(request).await
}

/// The security headers of every console response.
async fn headers(secure: bool, request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if secure {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// A page for people: the layout around `body`, with the navigation for `who`.
fn page(title: &str, who: Option<&Session>, current: &str, body: Markup) -> Markup {
    let nav: &[(&str, &str, Role)] = &[
        ("/request", "Request", Role::Requester),
        ("/access", "My access", Role::Requester),
        ("/approvals", "Approvals", Role::Approver),
        ("/grants", "Grants", Role::Admin),
        ("/audit", "Audit", Role::Admin),
        ("/posture", "Posture", Role::Admin),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Latch" }
                link rel="stylesheet" href="/assets/latch.css";
                script src="/assets/latch.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    a.brand href="/" { "Latch" }
                    @if let Some(s) = who {
                        nav aria-label="Main" {
                            ul {
                                @for (href, label, role) in nav {
                                    @if sees(s.role, *role) {
                                        li {
                                            a href=(href) aria-current=[(*href == current).then_some("page")] { (label) }
                                        }
                                    }
                                }
                            }
                        }
                        form.signout method="post" action="/logout" {
                            (csrf_field(s))
                            span { (s.subject) " (" (s.role) ")" }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

fn csrf_field(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

fn html_response(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

/// A page that says what went wrong, in plain words.
fn problem(status: StatusCode, who: Option<&Session>, title: &str, said: &str) -> Response {
    html_response(
        status,
        page(
            title,
            who,
            "",
            html! {
                p.problem role="alert" { (said) }
                p { a href="/" { "Back to the console" } }
            },
        ),
    )
}

/// The page's session, renewed when half its time has passed; or the way to sign in.
async fn signed_in(core: &Core, web: &Web, headers: &HeaderMap) -> Result<Session, Response> {
    let to_login = || Redirect::to("/login").into_response();
    let now = core.now();
    let Some(value) = cookie(headers, COOKIE) else {
        return Err(to_login());
    };
    let Some(session) = web.key.open(&value, now) else {
        return Err(to_login());
    };
    // Signed in through the identity provider: they must still be one of the people (someone
    // who left the directory is out at once).
    if let Some(name) = session.token_id.strip_prefix(OIDC_SESSION) {
        return if name == session.subject && core.rules().people.contains_key(name) {
            Ok(session)
        } else {
            Err(to_login())
        };
    }
    // The token it was opened with must still be valid, for the same person and role.
    let tokens = core.view().tokens().await.map_err(|e| {
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "Unavailable",
            &format!("The store could not be read: {e}"),
        )
    })?;
    let valid = tokens.iter().any(|t| {
        t.id == session.token_id
            && t.revoked_at.is_none()
            && t.subject == session.subject
            && t.role == session.role
    });
    if !valid {
        return Err(to_login());
    }
    Ok(session)
}

/// The renewed cookie when `session` is past half its time.
fn renewal(web: &Web, session: &Session, now: i64) -> Option<String> {
    (now.saturating_sub(session.issued_at) > web.ttl_ms / 2).then(|| {
        let mut renewed = session.clone();
        renewed.issued_at = now;
        renewed.expires_at = now.saturating_add(web.ttl_ms);
        web.cookie(&renewed)
    })
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// True when `role` may see a page of `page_role`: its level or above; an auditor sees the
/// admins' pages (every grant, the audit log), read-only, and none of the pages for asking
/// or deciding.
fn sees(role: Role, page_role: Role) -> bool {
    if role == Role::Auditor {
        page_role == Role::Admin
    } else {
        role.allows(page_role, true)
    }
}

/// The refusal of a change to someone whose role does not allow it (an auditor, always).
async fn may_change(core: &Core, s: &Session, role: Role, what: &str) -> Result<(), Response> {
    if s.role.allows(role, false) {
        return Ok(());
    }
    Err(forbidden(
        core,
        s,
        format!("{what} needs the `{role}` role (`{}` only reads)", s.role),
        &format!("{what} changes something, and `{}` may not.", s.role),
    )
    .await)
}

/// A refusal of what `s` tried, audited (`web.refused`, with `audited`), and the 403 page that
/// says it in plain words.
async fn forbidden(core: &Core, s: &Session, audited: String, said: &str) -> Response {
    let _ = core
        .refuse(
            "web",
            workflow::Refusal {
                code: workflow::RefusalCode::Forbidden,
                message: audited,
            },
            Some(&s.subject),
            None,
            json!({"token": s.token_id}),
        )
        .await;
    problem(StatusCode::FORBIDDEN, Some(s), "Not allowed", said)
}

/// A page for someone signed in with at least `role`: the page, with a renewed cookie when
/// due; a 403 page otherwise.
async fn guarded<F, Fut>(
    core: &Arc<Core>,
    web: &Web,
    headers: &HeaderMap,
    role: Role,
    what: &str,
    render: F,
) -> Response
where
    F: FnOnce(Session) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let session = match signed_in(core, web, headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !sees(session.role, role) {
        let said = format!(
            "{what} needs the `{role}` role; you are signed in as `{}` with `{}`.",
            session.subject, session.role
        );
        return forbidden(
            core,
            &session,
            format!("{what} needs the `{role}` role"),
            &said,
        )
        .await;
    }
    let renewed = renewal(web, &session, core.now());
    let mut response = render(session).await;
    if let Some(c) = renewed.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// A form's CSRF secret must be the session's; otherwise the change is refused and audited.
async fn check_csrf(core: &Core, session: &Session, given: &str) -> Result<(), Response> {
    if session::same_secret(&session.csrf, given) {
        return Ok(());
    }
    Err(forbidden(
        core,
        session,
        "the form's CSRF token is missing or wrong".into(),
        "This form was not sent from this session's page (its security token does not match). Reload the page and try again.",
    )
    .await)
}

/// A form's change by someone signed in with at least `role`: its CSRF secret must be the
/// session's; then `act`, whose words are shown on `to`.
#[allow(clippy::too_many_arguments)]
async fn change<F, Fut>(
    core: &Arc<Core>,
    web: &Web,
    headers: &HeaderMap,
    role: Role,
    what: &str,
    csrf: &str,
    to: &str,
    act: F,
) -> Response
where
    F: FnOnce(Arc<Core>, Session) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let c = core.clone();
    guarded(core, web, headers, role, what, |s| async move {
        if let Err(r) = check_csrf(&c, &s, csrf).await {
            return r;
        }
        if let Err(r) = may_change(&c, &s, role, what).await {
            return r;
        }
        back_to(web, to, &act(c.clone(), s).await)
    })
    .await
}

/// The page said when the store cannot be read.
fn unavailable(s: &Session) -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        Some(s),
        "Unavailable",
        "The store could not be read; try again in a moment.",
    )
}

fn outcome(err: ServiceError) -> String {
    match err {
        ServiceError::Refused(r) => format!("Refused: {}", r.message),
        other => format!("Error: {other}"),
    }
}

async fn home(Ctx { core, web, headers }: Ctx) -> Response {
    match signed_in(&core, &web, &headers).await {
        Ok(s) => Redirect::to(start_page(s.role)).into_response(),
        Err(r) => r,
    }
}

/// Where a person lands: asking, or for an auditor the audit log.
fn start_page(role: Role) -> &'static str {
    if role == Role::Auditor {
        "/audit"
    } else {
        "/request"
    }
}

async fn login_page(Extension(web): Extension<Arc<Web>>) -> Response {
    html_response(StatusCode::OK, login_form(&web, None))
}

/// The `token_id` of a session opened through the identity provider (then the person's name).
const OIDC_SESSION: &str = "oidc:";

/// Off to the identity provider, with a fresh state, nonce and PKCE verifier remembered in a
/// signed cookie for ten minutes.
async fn oidc_start(
    State(core): State<Arc<Core>>,
    Extension(web): Extension<Arc<Web>>,
) -> Response {
    let Some(provider) = &web.oidc else {
        return not_found_page();
    };
    let fresh = || session::random_hex(32);
    let (Ok(state), Ok(nonce), Ok(verifier)) = (fresh(), fresh(), fresh()) else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "Unavailable",
            "No randomness.",
        );
    };
    let pending = oidc::Pending {
        state,
        nonce,
        verifier,
        expires_at: core.now().saturating_add(oidc::PENDING_MS),
    };
    match provider.authorize_url(&pending).await {
        Ok(url) => {
            let mut r = Redirect::to(&url).into_response();
            // Lax: the provider sends the browser back here from its own site.
            let c = format!(
                "{}={}; Path=/login/callback; HttpOnly; SameSite=Lax; Max-Age={}{}",
                oidc::COOKIE,
                web.key.seal_as("oidc", &pending),
                oidc::PENDING_MS / 1000,
                if web.secure { "; Secure" } else { "" }
            );
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => problem(
            StatusCode::BAD_GATEWAY,
            None,
            "Sign-in unavailable",
            &format!("The identity provider could not be reached: {e}"),
        ),
    }
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Back from the identity provider: the state must be this browser's, the ID token verify,
/// and its claim name one of the people; then a session.
async fn oidc_callback(Ctx { core, web, headers }: Ctx, Query(q): Query<Callback>) -> Response {
    let Some(provider) = &web.oidc else {
        return not_found_page();
    };
    let now = core.now();
    let fail = |why: String| {
        let core = core.clone();
        let web = web.clone();
        async move {
            let _ = core
                .refuse(
                    "web",
                    workflow::Refusal {
                        code: workflow::RefusalCode::Forbidden,
                        message: format!("sign-in through the identity provider: {why}"),
                    },
                    None,
                    None,
                    json!({}),
                )
                .await;
            html_response(
                StatusCode::UNAUTHORIZED,
                login_form(&web, Some(&format!("Signing in failed: {why}"))),
            )
        }
    };
    let pending: Option<oidc::Pending> = cookie(&headers, oidc::COOKIE)
        .and_then(|v| web.key.open_as("oidc", &v))
        .filter(|p: &oidc::Pending| p.expires_at > now);
    let Some(pending) = pending else {
        return fail("the sign-in expired or was not started here; try again".into()).await;
    };
    if let Some(e) = q.error {
        return fail(format!("the provider said `{}`", workflow::clip(&e, 100))).await;
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return fail("the provider sent no code".into()).await;
    };
    if !session::same_secret(&state, &pending.state) {
        return fail("the answer is not for this browser's sign-in (state)".into()).await;
    }
    let claims = match provider.claims(&code, &pending, now).await {
        Ok(c) => c,
        Err(e) => return fail(e).await,
    };
    let (name, role) = match provider.person(&claims, &core.rules()) {
        Ok(p) => p,
        Err(e) => return fail(e).await,
    };
    let Ok(csrf) = session::random_hex(16) else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "Unavailable",
            "No randomness.",
        );
    };
    let s = Session {
        token_id: format!("{OIDC_SESSION}{name}"),
        subject: name,
        role,
        issued_at: now,
        expires_at: now.saturating_add(web.ttl_ms),
        csrf,
    };
    let _ = core
        .store()
        .commit(Changeset::audit_only(vec![AuditEvent::new(
            now,
            "web.signed_in",
        )
        .actor(&s.subject)
        .details(
            json!({"via": "oidc", "issuer": provider.issuer(), "role": s.role.as_str()}),
        )]))
        .await;
    // A page of ours that moves on: the session cookie is SameSite=Strict, which a redirect
    // still inside the provider's cross-site navigation would not carry.
    let target = start_page(s.role);
    let mut r = html_response(
        StatusCode::OK,
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta http-equiv="refresh" content={ "0;url=" (target) };
                    title { "Signed in · Latch" }
                }
                body { p { "Signed in. " a href=(target) { "Continue" } } }
            }
        },
    );
    for c in [
        web.cookie(&s),
        format!(
            "{}=; Path=/login/callback; HttpOnly; SameSite=Lax; Max-Age=0",
            oidc::COOKIE
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

fn login_form(web: &Web, problem: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        "",
        html! {
            @if let Some(p) = problem { p.problem role="alert" { (p) } }
            @if let Some(o) = &web.oidc {
                p { a.button href="/login/oidc" { "Sign in with your organization (" (o.issuer()) ")" } }
                h2 { "Or with an API token" }
            }
            form.card method="post" action="/login" {
                label for="token" { "API token" }
                input id="token" name="token" type="password" autocomplete="off" required;
                p.hint { "A token from " code { "latch token create" } " (or your administrator)." }
                button type="submit" { "Sign in" }
            }
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    State(core): State<Arc<Core>>,
    Extension(web): Extension<Arc<Web>>,
    Form(form): Form<LoginForm>,
) -> Response {
    let now = core.now();
    let found = core
        .view()
        .token_by_hash(&crate::http::hash_token(form.token.trim()))
        .await;
    let token = match found {
        Ok(Some(t)) if t.revoked_at.is_none() => t,
        Ok(_) => {
            let _ = core
                .refuse(
                    "web",
                    workflow::Refusal {
                        code: workflow::RefusalCode::Forbidden,
                        message: "sign-in with an unknown or revoked token".into(),
                    },
                    None,
                    None,
                    json!({}),
                )
                .await;
            return html_response(
                StatusCode::UNAUTHORIZED,
                login_form(&web, Some("That token is unknown or was revoked.")),
            );
        }
        Err(e) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "Unavailable",
                &format!("The store could not be read: {e}"),
            )
        }
    };
    // An ingest token only posts usage events: it opens no session.
    if token.role == Role::Ingest {
        let _ = core
            .refuse(
                "web",
                workflow::Refusal {
                    code: workflow::RefusalCode::Forbidden,
                    message: "sign-in with an ingest token".into(),
                },
                Some(&token.subject),
                None,
                json!({"token": token.id}),
            )
            .await;
        return html_response(
            StatusCode::FORBIDDEN,
            login_form(
                &web,
                Some("That token only posts usage events; it cannot sign in."),
            ),
        );
    }
    let csrf = match session::random_hex(16) {
        Ok(c) => c,
        Err(e) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "Unavailable",
                &e.to_string(),
            )
        }
    };
    let s = Session {
        token_id: token.id.clone(),
        subject: token.subject.clone(),
        role: token.role,
        issued_at: now,
        expires_at: now.saturating_add(web.ttl_ms),
        csrf,
    };
    let _ = core
        .store()
        .commit(Changeset::audit_only(vec![AuditEvent::new(
            now,
            "web.signed_in",
        )
        .actor(&s.subject)
        .details(json!({"token": s.token_id, "role": s.role.as_str()}))]))
        .await;
    let mut response = Redirect::to(start_page(s.role)).into_response();
    if let Ok(c) = HeaderValue::from_str(&web.cookie(&s)) {
        response.headers_mut().insert(header::SET_COOKIE, c);
    }
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(Ctx { core, web, headers }: Ctx, Form(form): Form<CsrfForm>) -> Response {
    if let Ok(s) = signed_in(&core, &web, &headers).await {
        if let Err(r) = check_csrf(&core, &s, &form.csrf).await {
            return r;
        }
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(c) = HeaderValue::from_str(&web.clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, c);
    }
    response
}

/// Who approves `bundle`, for the request page.
fn approvers_of(b: &latch_grant::Bundle) -> String {
    let mut out = Vec::new();
    for (scope, p) in std::iter::once((None, &b.policy))
        .chain(b.scoped.iter().map(|s| (Some(&s.scope.said), &s.policy)))
    {
        let who = if p.auto_approve {
            "granted at once".to_owned()
        } else {
            let names: Vec<String> = p
                .tiers
                .first()
                .map(|t| {
                    t.approvers
                        .iter()
                        .cloned()
                        .chain(t.directory_groups.iter().map(|g| format!("group {g}")))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{} of {}",
                if p.required_approvals > 1 {
                    "two approvals"
                } else {
                    "one approval"
                },
                names.join(", ")
            )
        };
        out.push(match scope {
            None => who,
            Some(s) => format!("in {s}: {who}"),
        });
    }
    out.join("; ")
}

async fn request_page(Ctx { core, web, headers }: Ctx) -> Response {
    let c = core.clone();
    guarded(
        &core,
        &web,
        &headers,
        Role::Requester,
        "Request",
        |s| async move { html_response(StatusCode::OK, request_view(&c, &s, None)) },
    )
    .await
}

fn request_view(core: &Core, s: &Session, result: Option<(bool, String)>) -> Markup {
    let rules = core.rules();
    let bundles: Vec<&latch_grant::Bundle> = rules.bundles.values().collect();
    page(
        "Request",
        Some(s),
        "/request",
        html! {
            @if let Some((ok, said)) = &result {
                p class=(if *ok { "result" } else { "problem" }) role="status" { (said) }
            }
            form.card method="post" action="/request" {
                (csrf_field(s))
                label for="bundle" { "Bundle" }
                select id="bundle" name="bundle" required {
                    @for b in &bundles { option value=(b.name) { (b.name) } }
                }
                label for="accounts" { "Account(s)" }
                input id="accounts" name="accounts" inputmode="numeric" placeholder="111122223333, 444455556666";
                p.hint { "Identity Center users: the accounts the grant is for, comma-separated (one grant each)." }
                label for="duration" { "Duration" }
                input id="duration" name="duration" required value="1h";
                label for="reason" { "Reason" }
                input id="reason" name="reason" required placeholder="incident or ticket";
                details {
                    summary { "More: permission set, a later start" }
                    label for="permission_set" { "Permission set" }
                    input id="permission_set" name="permission_set" placeholder="AdministratorAccess";
                    p.hint { "When you reach an account through several." }
                    label for="start" { "Start" }
                    input id="start" name="start" placeholder="2026-12-08T09:00:00Z";
                    p.hint { "For a change window: approved ahead, applied at the start (RFC 3339, UTC)." }
                }
                button type="submit" { "Ask" }
            }
            h2 { "Bundles" }
            table {
                thead { tr { th scope="col" { "Bundle" } th scope="col" { "At most" } th scope="col" { "Who approves" } th scope="col" { "What it is" } } }
                tbody {
                    @for b in &bundles {
                        tr {
                            td { (b.name) }
                            td { (format_duration(b.max_duration_secs)) }
                            td { (approvers_of(b)) }
                            td { (b.description.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct RequestForm {
    #[serde(default)]
    csrf: String,
    bundle: String,
    #[serde(default)]
    accounts: String,
    duration: String,
    reason: String,
    #[serde(default)]
    permission_set: String,
    #[serde(default)]
    start: String,
}

async fn request_submit(
    Ctx { core, web, headers }: Ctx,
    Form(form): Form<RequestForm>,
) -> Response {
    let c = core.clone();
    guarded(
        &core,
        &web,
        &headers,
        Role::Requester,
        "Request",
        |s| async move {
            if let Err(r) = check_csrf(&c, &s, &form.csrf).await {
                return r;
            }
            if let Err(r) = may_change(&c, &s, Role::Requester, "Asking").await {
                return r;
            }
            let start = form.start.trim();
            let starts_at = if start.is_empty() {
                Ok(None)
            } else {
                latch_time::Timestamp::parse(start)
                    .map(|t| Some(t.seconds().saturating_mul(1000)))
                    .ok_or_else(|| format!("Refused: the start `{}` is not an RFC 3339 time (e.g. 2026-12-08T09:00:00Z)", workflow::clip(start, 64)))
            };
            let said = match (parse_duration(&form.duration), starts_at) {
                (Err(e), _) => (false, format!("Refused: duration {e}")),
                (_, Err(e)) => (false, e),
                (Ok(duration_secs), Ok(starts_at)) => {
                    let new = NewRequest {
                        requester: s.subject.clone(),
                        bundle: form.bundle.clone(),
                        duration_secs,
                        reason: form.reason.clone(),
                        break_glass: false,
                        source: "web".into(),
                        accounts: form
                            .accounts
                            .split([',', ' '])
                            .map(str::trim)
                            .filter(|a| !a.is_empty())
                            .map(str::to_owned)
                            .collect(),
                        permission_set: Some(form.permission_set.trim())
                            .filter(|p| !p.is_empty())
                            .map(str::to_owned),
                        starts_at,
                    };
                    match c.request(new).await {
                        Ok((r, gs)) if gs.is_empty() => (
                            true,
                            format!(
                                "Request {} for {} ({}) is pending: sent to {}.",
                                r.id,
                                r.bundle,
                                format_duration(r.duration_secs),
                                workflow::eligible_approvers(&c.rules(), &r).join(", ")
                            ),
                        ),
                        Ok((r, gs)) => (
                            true,
                            format!(
                                "Auto-approved: request {}, {} until {}.",
                                r.id,
                                gs.iter()
                                    .map(|g| format!("grant {}", g.id))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                gs.first()
                                    .map(|g| rfc3339(g.expires_at))
                                    .unwrap_or_default()
                            ),
                        ),
                        Err(e) => (false, outcome(e)),
                    }
                }
            };
            let status = if said.0 {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            html_response(status, request_view(&c, &s, Some(said)))
        },
    )
    .await
}

fn left(now: i64, until: i64) -> String {
    format_duration(until.saturating_sub(now).div_euclid(1000).max(0))
}

fn targets_of(r: &RequestRecord) -> String {
    r.targets()
        .iter()
        .map(|t| t.account.clone().unwrap_or_else(|| t.identity.id.clone()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn grant_row_target(g: &GrantRecord) -> String {
    g.account.clone().unwrap_or_else(|| g.identity.id.clone())
}

async fn access_page(Ctx { core, web, headers }: Ctx, Query(q): Query<ResultQuery>) -> Response {
    let c = core.clone();
    let said_now = said(&web, q.said.as_deref());
    guarded(&core, &web, &headers, Role::Requester, "My access", |s| async move {
        let now = c.now();
        let requests = c
            .view()
            .requests(&RequestQuery {
                status: None,
                requester: Some(s.subject.clone()),
                limit: 50,
            })
            .await;
        let grants = c
            .view()
            .grants(&GrantQuery {
                requester: Some(s.subject.clone()),
                ..GrantQuery::default()
            })
            .await;
        let (Ok(requests), Ok(grants)) = (requests, grants) else {
            return unavailable(&s);
        };
        let live: Vec<&GrantRecord> = grants.iter().filter(|g| GrantStatus::LIVE.contains(&g.status)).collect();
        let mut ended: Vec<&GrantRecord> = grants.iter().filter(|g| g.status.is_final()).collect();
        ended.sort_by_key(|g| std::cmp::Reverse(g.ended_at.unwrap_or(g.expires_at)));
        let pending: Vec<&RequestRecord> = requests.iter().filter(|r| r.status == RequestStatus::Pending).collect();
        let markup = page(
            "My access",
            Some(&s),
            "/access",
            html! {
                @if let Some(m) = &said_now { p.result role="status" { (m) } }
                h2 { "Active grants" }
                @if live.is_empty() { p { "You hold no grants." } } @else {
                    table {
                        thead { tr { th scope="col" { "Grant" } th scope="col" { "Bundle" } th scope="col" { "On" } th scope="col" { "State" } th scope="col" { "Time left" } th scope="col" { "Actions" } } }
                        tbody {
                            @for g in &live {
                                tr {
                                    td { code { (g.id) } }
                                    td { (g.bundle) }
                                    td { (grant_row_target(g)) }
                                    td { (g.status) }
                                    td { (left(now, g.expires_at)) }
                                    td.actions {
                                        form method="post" action={ "/access/" (g.id) "/extend" } {
                                            (csrf_field(&s))
                                            label for={ "by-" (g.id) } { "More time" }
                                            input id={ "by-" (g.id) } name="duration" value="30m" size="5";
                                            input type="hidden" name="reason" value="more time, from the console";
                                            button type="submit" { "Extend" }
                                        }
                                        form method="post" action={ "/access/" (g.id) "/relinquish" } {
                                            (csrf_field(&s))
                                            button type="submit" { "I'm done" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Pending requests" }
                @if pending.is_empty() { p { "Nothing waits for approval." } } @else {
                    ul { @for r in &pending { li { code { (r.id) } " " (r.bundle) " for " (format_duration(r.duration_secs)) " on " (targets_of(r)) ", asked " (rfc3339(r.created_at)) } } }
                }
                h2 { "History" }
                @if ended.is_empty() { p { "No grant has ended yet." } } @else {
                    table {
                        thead { tr { th scope="col" { "Grant" } th scope="col" { "Bundle" } th scope="col" { "On" } th scope="col" { "Ended" } th scope="col" { "How" } } }
                        tbody {
                            @for g in ended.iter().take(50) {
                                tr {
                                    td { code { (g.id) } }
                                    td { (g.bundle) }
                                    td { (grant_row_target(g)) }
                                    td { (rfc3339(g.ended_at.unwrap_or(g.expires_at))) }
                                    td { (g.status) @if let Some(by) = &g.revoked_by { " by " (by) } }
                                }
                            }
                        }
                    }
                }
            },
        );
        html_response(StatusCode::OK, markup)
    })
    .await
}

#[derive(Deserialize, Default)]
struct ResultQuery {
    said: Option<String>,
}

/// Back to `path`, which then says `said`: sealed with the session key, so that a link
/// cannot make a page say what it wants.
fn back_to(web: &Web, path: &str, said: &str) -> Response {
    let sealed = web.key.seal_as("said", &said);
    let q = serde_urlencoded::to_string([("said", sealed.as_str())]).unwrap_or_default();
    Redirect::to(&format!("{path}?{q}")).into_response()
}

/// What a page sealed by [`back_to`] says; nothing for a `said` not sealed here.
fn said(web: &Web, sealed: Option<&str>) -> Option<String> {
    sealed.and_then(|v| web.key.open_as::<String>("said", v))
}

#[derive(Deserialize)]
struct ExtendForm {
    #[serde(default)]
    csrf: String,
    duration: String,
    #[serde(default)]
    reason: String,
}

async fn extend(
    Ctx { core, web, headers }: Ctx,
    Path(id): Path<String>,
    Form(form): Form<ExtendForm>,
) -> Response {
    let what = "Extending a grant";
    change(
        &core,
        &web,
        &headers,
        Role::Requester,
        what,
        &form.csrf,
        "/access",
        |c, s| async move {
            match parse_duration(&form.duration) {
                Err(e) => format!("Refused: duration {e}"),
                Ok(by) => match c.extend(&id, &s.subject, by, &form.reason, "web").await {
                    Ok((_, gs)) if !gs.is_empty() => format!(
                        "Grant {id} now ends at {}.",
                        gs.first()
                            .map(|g| rfc3339(g.expires_at))
                            .unwrap_or_default()
                    ),
                    Ok((r, _)) => format!("Extension request {} sent to the approvers.", r.id),
                    Err(e) => outcome(e),
                },
            }
        },
    )
    .await
}

async fn relinquish(
    Ctx { core, web, headers }: Ctx,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let what = "Giving a grant back";
    change(
        &core,
        &web,
        &headers,
        Role::Requester,
        what,
        &form.csrf,
        "/access",
        |c, s| async move {
            match c
                .relinquish(&id, &s.subject, "done, from the console", None)
                .await
            {
                Ok(g) => format!("Grant {} is being removed.", g.id),
                Err(e) => outcome(e),
            }
        },
    )
    .await
}

#[derive(Deserialize, Default)]
struct QueueQuery {
    said: Option<String>,
    /// Only the queue (the script's refresh).
    #[serde(default)]
    fragment: bool,
}

async fn approvals_page(Ctx { core, web, headers }: Ctx, Query(q): Query<QueueQuery>) -> Response {
    let c = core.clone();
    let said_now = said(&web, q.said.as_deref());
    guarded(&core, &web, &headers, Role::Approver, "Approvals", |s| async move {
        let Ok(mut pending) = c
            .view()
            .requests(&RequestQuery {
                status: Some(RequestStatus::Pending),
                requester: None,
                limit: 0,
            })
            .await
        else {
            return unavailable(&s);
        };
        let rules = c.rules();
        pending.retain(|r| workflow::eligible_approvers(&rules, r).contains(&s.subject));
        pending.sort_by_key(|r| r.created_at);
        let mut history = std::collections::BTreeMap::new();
        for r in &pending {
            if !history.contains_key(&r.requester) {
                let past = c
                    .view()
                    .requests(&RequestQuery {
                        status: None,
                        requester: Some(r.requester.clone()),
                        limit: 6,
                    })
                    .await
                    .unwrap_or_default();
                history.insert(r.requester.clone(), past);
            }
        }
        let queue = html! {
            div id="queue" data-refresh="/approvals?fragment=true" aria-live="polite" {
                @if pending.is_empty() { p { "Nothing waits for you." } }
                @for r in &pending {
                    article.card {
                        h2 { (r.requester) " asks for " (r.bundle) }
                        dl {
                            dt { "For" } dd { (format_duration(r.duration_secs)) }
                            dt { "On" } dd { (targets_of(r)) }
                            dt { "Why" } dd { (r.reason) }
                            dt { "Asked" } dd { (rfc3339(r.created_at)) }
                            dt { "Request" } dd { code { (r.id) } }
                            dt { "Their recent requests" }
                            dd {
                                @let past: Vec<&RequestRecord> = history.get(&r.requester).map(|v| v.iter().filter(|p| p.id != r.id).take(5).collect()).unwrap_or_default();
                                @if past.is_empty() { "none" } @else {
                                    ul { @for p in &past { li { (p.bundle) " · " (p.status) " · " (rfc3339(p.created_at)) } } }
                                }
                            }
                        }
                        form method="post" action={ "/approvals/" (r.id) } {
                            (csrf_field(&s))
                            label for={ "c-" (r.id) } { "Comment" }
                            input id={ "c-" (r.id) } name="comment";
                            button type="submit" name="decision" value="approve" { "Approve" }
                            button.deny type="submit" name="decision" value="deny" { "Deny" }
                        }
                    }
                }
            }
        };
        if q.fragment {
            return html_response(StatusCode::OK, queue);
        }
        let markup = page(
            "Approvals",
            Some(&s),
            "/approvals",
            html! {
                @if let Some(m) = &said_now { p.result role="status" { (m) } }
                (queue)
            },
        );
        html_response(StatusCode::OK, markup)
    })
    .await
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    decision: String,
    #[serde(default)]
    comment: String,
}

async fn decide(
    Ctx { core, web, headers }: Ctx,
    Path(id): Path<String>,
    Form(form): Form<DecideForm>,
) -> Response {
    change(
        &core,
        &web,
        &headers,
        Role::Approver,
        "Approving",
        &form.csrf,
        "/approvals",
        |c, s| async move {
            let decision = match form.decision.as_str() {
                "approve" => Decision::Approve,
                "deny" => Decision::Deny,
                _ => return "Refused: approve or deny.".to_owned(),
            };
            let comment = Some(form.comment.trim()).filter(|c| !c.is_empty());
            match c.decide(&id, &s.subject, decision, comment).await {
                Ok((r, gs)) if gs.is_empty() => format!("Request {} is now {}.", r.id, r.status),
                Ok((r, gs)) => format!(
                    "Request {} is now {} ({}).",
                    r.id,
                    r.status,
                    gs.iter()
                        .map(|g| format!("grant {}", g.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Err(e) => outcome(e),
            }
        },
    )
    .await
}

#[derive(Deserialize, Default)]
struct GrantFilter {
    person: Option<String>,
    bundle: Option<String>,
    account: Option<String>,
    said: Option<String>,
    page: Option<usize>,
}

/// How many grants one page of *Grants* shows.
const GRANTS_PAGE: usize = 100;

async fn grants_page(Ctx { core, web, headers }: Ctx, Query(f): Query<GrantFilter>) -> Response {
    let c = core.clone();
    let said_now = said(&web, f.said.as_deref());
    guarded(&core, &web, &headers, Role::Admin, "Grants", |s| async move {
        let blank = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let (person, bundle, account) = (blank(&f.person), blank(&f.bundle), blank(&f.account));
        let page_no = f.page.unwrap_or(0).min(10_000);
        let Ok(grants) = c
            .view()
            .grants(&GrantQuery {
                statuses: GrantStatus::LIVE.to_vec(),
                requester: person.clone(),
                bundle: bundle.clone(),
                // Soonest expiry first; filtered by account here, so then read them all.
                limit: if account.is_some() { 0 } else { i64::try_from((page_no + 1) * GRANTS_PAGE + 1).unwrap_or(0) },
                ..GrantQuery::default()
            })
            .await
        else {
            return unavailable(&s);
        };
        let matching: Vec<&GrantRecord> = grants
            .iter()
            .filter(|g| {
                account.as_deref().is_none_or(|a| {
                    g.account.as_deref() == Some(a) || g.identity.id.contains(&format!(":{a}:"))
                })
            })
            .collect();
        let more = matching.len() > (page_no + 1) * GRANTS_PAGE;
        let shown: Vec<&GrantRecord> = matching.iter().skip(page_no * GRANTS_PAGE).take(GRANTS_PAGE).copied().collect();
        let link = |p: usize| {
            let q = serde_urlencoded::to_string([
                ("person", person.clone().unwrap_or_default()),
                ("bundle", bundle.clone().unwrap_or_default()),
                ("account", account.clone().unwrap_or_default()),
                ("page", p.to_string()),
            ])
            .unwrap_or_default();
            format!("/grants?{q}")
        };
        let now = c.now();
        let markup = page(
            "Grants",
            Some(&s),
            "/grants",
            html! {
                @if let Some(m) = &said_now { p.result role="status" { (m) } }
                form.filters method="get" action="/grants" {
                    label for="person" { "Person" }
                    input id="person" name="person" value=(person.as_deref().unwrap_or(""));
                    label for="fbundle" { "Bundle" }
                    input id="fbundle" name="bundle" value=(bundle.as_deref().unwrap_or(""));
                    label for="account" { "Account" }
                    input id="account" name="account" value=(account.as_deref().unwrap_or(""));
                    button type="submit" { "Filter" }
                }
                p { "Live grants, soonest end first: " (page_no * GRANTS_PAGE + 1) "–" (page_no * GRANTS_PAGE + shown.len()) @if more { " of more" } "." }
                table {
                    thead { tr { th scope="col" { "Grant" } th scope="col" { "Person" } th scope="col" { "Bundle" } th scope="col" { "On" } th scope="col" { "State" } th scope="col" { "Time left" } @if s.role == Role::Admin { th scope="col" { "Revoke" } } } }
                    tbody {
                        @for g in &shown {
                            tr {
                                td { code { (g.id) } }
                                td { (g.requester) }
                                td { (g.bundle) }
                                td { (grant_row_target(g)) }
                                td { (g.status) }
                                td { (left(now, g.expires_at)) }
                                @if s.role == Role::Admin {
                                    td.actions {
                                        form method="post" action={ "/grants/" (g.id) "/revoke" } {
                                            (csrf_field(&s))
                                            label for={ "r-" (g.id) } { "Reason" }
                                            input id={ "r-" (g.id) } name="reason" required;
                                            label.inline { input type="checkbox" name="cut_sessions" value="true"; " Cut sessions" }
                                            button.deny type="submit" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                nav.pages aria-label="Pages" {
                    @if page_no > 0 { a href=(link(page_no - 1)) { "Sooner" } }
                    @if more { a href=(link(page_no + 1)) { "Later" } }
                }
            },
        );
        html_response(StatusCode::OK, markup)
    })
    .await
}

#[derive(Deserialize)]
struct RevokeForm {
    #[serde(default)]
    csrf: String,
    reason: String,
    #[serde(default)]
    cut_sessions: Option<String>,
}

async fn revoke(
    Ctx { core, web, headers }: Ctx,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Response {
    change(
        &core,
        &web,
        &headers,
        Role::Admin,
        "Revoking",
        &form.csrf,
        "/grants",
        |c, s| async move {
            let cut = form.cut_sessions.as_deref() == Some("true");
            match c
                .revoke(&id, &s.subject, true, &form.reason, Some(cut))
                .await
            {
                Ok(g) => format!("Grant {} is being revoked.", g.id),
                Err(e) => outcome(e),
            }
        },
    )
    .await
}

#[derive(Deserialize, Default)]
struct AuditFilter {
    actor: Option<String>,
    kind: Option<String>,
    text: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<usize>,
}

async fn audit_page(Ctx { core, web, headers }: Ctx, Query(f): Query<AuditFilter>) -> Response {
    let c = core.clone();
    let w = web.clone();
    guarded(&core, &web, &headers, Role::Admin, "Audit", |s| async move {
        let Ok(chain) = w.chain(&c).await else {
            return unavailable(&s);
        };
        let blank = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let (actor, kind, text) = (blank(&f.actor), blank(&f.kind), blank(&f.text));
        let time = |v: &Option<String>| blank(v).and_then(|t| latch_time::Timestamp::parse(&t)).map(|t| t.seconds().saturating_mul(1000));
        let (from, to) = (time(&f.from), time(&f.to));
        let page_no = f.page.unwrap_or(0);
        let filtered = actor.is_some() || kind.is_some() || text.is_some() || from.is_some() || to.is_some();
        let per_page = i64::try_from(AUDIT_PAGE).unwrap_or(50);
        // Unfiltered, a page is read by position from the head; filtered, the store searches.
        let found = if filtered {
            let search = latch_grant::AuditSearch {
                actor: actor.clone(),
                kind_prefix: kind.clone(),
                from,
                to,
                text: text.clone(),
                offset: i64::try_from(page_no).unwrap_or(0).saturating_mul(per_page),
                limit: per_page,
            };
            c.view().audit_search(&search).await.map(|(es, total)| (es, usize::try_from(total).unwrap_or(0)))
        } else {
            let skip = i64::try_from(page_no).unwrap_or(0).saturating_add(1).saturating_mul(per_page);
            let after = chain.seq.saturating_sub(skip);
            // The oldest page may be short; past it there is nothing (a limit of 0 is "all").
            let limit = if after < 0 { per_page.saturating_add(after) } else { per_page };
            let entries = if limit > 0 { c.view().audit(after.max(0), limit).await } else { Ok(Vec::new()) };
            entries.map(|mut es| {
                es.reverse();
                (es, usize::try_from(chain.seq).unwrap_or(0))
            })
        };
        let Ok((shown, total)) = found else {
            return unavailable(&s);
        };
        let more = total > (page_no + 1).saturating_mul(AUDIT_PAGE);
        let link = |p: usize| {
            let q = serde_urlencoded::to_string([
                ("actor", actor.clone().unwrap_or_default()),
                ("kind", kind.clone().unwrap_or_default()),
                ("text", text.clone().unwrap_or_default()),
                ("from", blank(&f.from).unwrap_or_default()),
                ("to", blank(&f.to).unwrap_or_default()),
                ("page", p.to_string()),
            ])
            .unwrap_or_default();
            format!("/audit?{q}")
        };
        let markup = page(
            "Audit",
            Some(&s),
            "/audit",
            html! {
                @if let Some(broken) = &chain.broken {
                    p.problem role="alert" { "The audit chain is broken " (broken) ". Run " code { "latch audit verify" } " for the full report." }
                } @else {
                    p.verified role="status" { "Chain verified up to entry " (chain.seq) ", head " code { (chain.hash.get(..16).unwrap_or("")) "…" } " (the whole chain at " (rfc3339(chain.full_at)) ", each entry since as it came)." }
                }
                form.filters method="get" action="/audit" {
                    label for="actor" { "Actor" } input id="actor" name="actor" value=(actor.as_deref().unwrap_or(""));
                    label for="kind" { "Kind" } input id="kind" name="kind" placeholder="grant." value=(kind.as_deref().unwrap_or(""));
                    label for="text" { "Text" } input id="text" name="text" value=(text.as_deref().unwrap_or(""));
                    label for="from" { "From" } input id="from" name="from" placeholder="2026-12-01T00:00:00Z" value=(blank(&f.from).unwrap_or_default());
                    label for="to" { "To" } input id="to" name="to" value=(blank(&f.to).unwrap_or_default());
                    button type="submit" { "Filter" }
                }
                p { (total) " matching entries, newest first. " a href="/audit/export" download="latch-audit.jsonl" { "Export all as JSON Lines" } }
                table.audit {
                    thead { tr { th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "Kind" } th scope="col" { "Actor" } th scope="col" { "Subject" } th scope="col" { "Details" } } }
                    tbody {
                        @for e in &shown {
                            tr {
                                td { (e.seq) }
                                td { (rfc3339(e.at)) }
                                td { code { (e.kind) } }
                                td { (e.actor.as_deref().unwrap_or("")) }
                                td { (e.subject.as_deref().unwrap_or("")) }
                                td.details { (workflow::clip(&e.details.to_string(), 300)) }
                            }
                        }
                    }
                }
                nav.pages aria-label="Pages" {
                    @if page_no > 0 { a href=(link(page_no - 1)) { "Newer" } }
                    @if more { a href=(link(page_no + 1)) { "Older" } }
                }
            },
        );
        html_response(StatusCode::OK, markup)
    })
    .await
}

async fn audit_export(Ctx { core, web, headers }: Ctx) -> Response {
    let c = core.clone();
    guarded(
        &core,
        &web,
        &headers,
        Role::Admin,
        "Exporting the audit log",
        |s| async move {
            let Ok(entries) = c.view().audit(0, 0).await else {
                return unavailable(&s);
            };
            let mut text = String::new();
            for e in &entries {
                text.push_str(&latch_grant::audit::to_json_line(e));
                text.push('\n');
            }
            (
                [
                    (header::CONTENT_TYPE, "application/x-ndjson"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"latch-audit.jsonl\"",
                    ),
                ],
                text,
            )
                .into_response()
        },
    )
    .await
}

/// The console's page for a path it does not have.
#[must_use]
pub fn not_found_page() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        None,
        "Not found",
        "There is no such page. The console starts at /.",
    )
}
