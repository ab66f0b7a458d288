//! The console at `/`, over HTTP as a browser speaks it (forms, cookies, redirects), on SQLite
//! and on a real PostgreSQL: signing in with a token; alice asks, bob sees the request in his
//! queue and approves it, alice sees her grant, an admin revokes it and the audit page shows
//! the chain verified; self-approval, a requester on the admin pages, a forged CSRF token and a
//! revoked token are all refused; every page carries the security headers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[macro_use]
mod common;
#[path = "common/oidc.rs"]
mod oidc;

use common::*;
use latch_grant::{GrantQuery, GrantStatus, Role};
use reqwest::redirect::Policy;

on_both!(the_console_from_request_to_revocation);
on_both!(signing_in_through_the_identity_provider);

/// A browser of one person: its own cookie.
struct Browser {
    base: String,
    http: reqwest::Client,
    /// The session cookie (`name=value`), as the jar holds it.
    cookie: Option<String>,
    /// Every cookie by name.
    jar: std::collections::BTreeMap<String, String>,
}

impl Browser {
    fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookie: None,
            jar: std::collections::BTreeMap::new(),
        }
    }

    fn cookies(&self) -> Option<String> {
        let mut all: Vec<String> = self
            .jar
            .iter()
            .filter(|(k, _)| k.as_str() != "latch_session")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        all.extend(self.cookie.clone());
        (!all.is_empty()).then(|| all.join("; "))
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap().to_owned();
            let (name, value) = pair.split_once('=').unwrap();
            if name == "latch_session" {
                self.cookie = (!value.is_empty()).then_some(pair.clone());
            } else if value.is_empty() {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn get(&mut self, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let mut req = self
            .http
            .get(format!("{}{path}", self.base))
            .header("accept", "text/html");
        if let Some(c) = self.cookies() {
            req = req.header("cookie", c);
        }
        let r = req.send().await.unwrap();
        self.keep(&r);
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        (status, r.text().await.unwrap(), headers)
    }

    /// Post a form; the answer's status and where it redirects (or its body).
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = self.cookies() {
            req = req.header("cookie", c);
        }
        let r = req.send().await.unwrap();
        self.keep(&r);
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location.unwrap_or(r.text().await.unwrap()))
    }

    async fn sign_in(&mut self, token: &str) {
        let (status, to) = self.post("/login", &[("token", token)]).await;
        assert_eq!((status, to.as_str()), (303, "/request"));
        assert!(self.cookie.is_some());
    }

    /// The CSRF secret of the forms of `path`.
    async fn csrf(&mut self, path: &str) -> String {
        let (_, body, _) = self.get(path).await;
        let at = body.find("name=\"csrf\" value=\"").unwrap() + 19;
        body[at..at + 32].to_owned()
    }
}

async fn the_console_from_request_to_revocation(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let alice_token = token(&store, "alice", Role::Requester).await;
    let bob_token = token(&store, "bob", Role::Approver).await;
    let admin_token = token(&store, "carol", Role::Admin).await;

    // Signed out: every page leads to sign-in; a wrong token is said plainly.
    let mut alice = Browser::new(&server.url);
    let (status, _, headers) = alice.get("/approvals").await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/login");
    let (status, body) = alice.post("/login", &[("token", "latch_nope")]).await;
    assert_eq!(status, 401);
    assert!(body.contains("unknown or was revoked"), "{body}");
    alice.sign_in(&alice_token).await;
    let cookie = alice.cookie.clone().unwrap();

    // The headers of every page, and the cookie's attributes.
    let (status, body, headers) = alice.get("/request").await;
    assert_eq!(status, 200);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        body.contains("iam-admin") && body.contains("bob, carol"),
        "{body}"
    );
    assert!(
        !body.contains("href=\"/grants\""),
        "a requester sees no admin page"
    );

    // alice asks; the answer is on the page at once.
    let csrf = alice.csrf("/request").await;
    let (status, body) = alice
        .post(
            "/request",
            &[
                ("csrf", &csrf),
                ("bundle", "iam-admin"),
                ("duration", "30m"),
                ("reason", "INC-77 <script>alert(1)</script>"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("is pending: sent to bob, carol"), "{body}");
    let request_id = store
        .requests(&latch_grant::RequestQuery::default())
        .await
        .unwrap()[0]
        .id
        .clone();
    // A refusal is said on the page (and nothing is created).
    let (status, body) = alice
        .post(
            "/request",
            &[
                ("csrf", &csrf),
                ("bundle", "iam-admin"),
                ("duration", "9h"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        body.contains("Refused:") && body.contains("at most 1h"),
        "{body}"
    );
    // A forged CSRF token is refused, and audited.
    let (status, _) = alice
        .post(
            "/request",
            &[
                ("csrf", "0000"),
                ("bundle", "iam-admin"),
                ("duration", "30m"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    // She cannot approve her own request, nor open the admin pages.
    let (status, _, _) = alice.get("/grants").await;
    assert_eq!(status, 403);
    let (status, _, _) = alice.get("/audit").await;
    assert_eq!(status, 403);

    // bob sees it in his queue, with her reason escaped, and approves it.
    let mut bob = Browser::new(&server.url);
    bob.sign_in(&bob_token).await;
    let (_, queue, _) = bob.get("/approvals?fragment=true").await;
    assert!(queue.contains(&request_id), "{queue}");
    assert!(queue.contains("&lt;script&gt;"), "escaped: {queue}");
    assert!(!queue.contains("<script>alert"));
    let csrf_bob = bob.csrf("/approvals").await;
    let (status, to) = bob
        .post(
            &format!("/approvals/{request_id}"),
            &[
                ("csrf", &csrf_bob),
                ("decision", "approve"),
                ("comment", "ok"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert!(to.starts_with("/approvals?said="), "{to}");
    // bob's own request is not in his queue, and approving it anyway is refused.
    let csrf_req = bob.csrf("/request").await;
    bob.post(
        "/request",
        &[
            ("csrf", &csrf_req),
            ("bundle", "prod-db"),
            ("duration", "1h"),
            ("reason", "mine"),
        ],
    )
    .await;
    let own = store
        .requests(&latch_grant::RequestQuery::default())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.requester == "bob")
        .unwrap();
    let (_, queue, _) = bob.get("/approvals?fragment=true").await;
    assert!(!queue.contains(&own.id), "{queue}");
    let (status, to) = bob
        .post(
            &format!("/approvals/{}", own.id),
            &[("csrf", &csrf_bob), ("decision", "approve")],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = bob.get(&to).await;
    assert!(page.contains("cannot answer"), "{page}");
    // A message a link brings is shown only when this server sealed it.
    let (_, page, _) = bob
        .get("/approvals?said=Your+session+expired%2C+call+555")
        .await;
    assert!(!page.contains("call 555"), "{page}");
    // A form sent from another site is refused, whatever its cookie and CSRF field.
    let forged = reqwest::Client::new()
        .post(format!("{}/request", server.url))
        .header("cookie", bob.cookies().unwrap())
        .header("origin", "https://evil.example")
        .form(&[
            ("csrf", csrf_bob.as_str()),
            ("bundle", "read-logs"),
            ("duration", "1h"),
            ("reason", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let signin = reqwest::Client::new()
        .post(format!("{}/login", server.url))
        .header("origin", "https://evil.example")
        .form(&[("token", alice_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        signin.status().as_u16(),
        403,
        "no sign-in from another site"
    );
    let grant = eventually(3000, "grant active", || async {
        store
            .grants(&GrantQuery::default())
            .await
            .unwrap()
            .into_iter()
            .find(|g| g.status == GrantStatus::Active)
    })
    .await;

    // alice sees it on My access; the admin revokes it; the audit page shows the story.
    let (_, body, _) = alice.get("/access").await;
    assert!(
        body.contains(&grant.id) && body.contains("active"),
        "{body}"
    );
    let mut admin = Browser::new(&server.url);
    admin.sign_in(&admin_token).await;
    let (_, body, _) = admin.get("/grants?person=alice").await;
    assert!(body.contains(&grant.id), "{body}");
    let csrf_admin = admin.csrf("/grants").await;
    let (status, _) = admin
        .post(
            &format!("/grants/{}/revoke", grant.id),
            &[
                ("csrf", &csrf_admin),
                ("reason", "done"),
                ("cut_sessions", "true"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    eventually(3000, "grant revoked", || async {
        let g = store.grant(&grant.id).await.unwrap().unwrap();
        (g.status == GrantStatus::Revoked).then_some(())
    })
    .await;
    let (status, body, _) = admin.get("/audit").await;
    assert_eq!(status, 200);
    assert!(body.contains("Chain verified"), "{body}");
    for kind in [
        "request.created",
        "request.approved",
        "grant.revoke_requested",
        "grant.revoked",
    ] {
        assert!(body.contains(kind), "{kind}: {body}");
    }
    let (_, body, _) = admin.get("/audit?kind=web.refused").await;
    assert!(body.contains("CSRF"), "the forged form is audited: {body}");
    let (status, export, headers) = admin.get("/audit/export").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    assert!(export.lines().count() > 5);

    // A page that does not exist is a page; the API keeps its JSON.
    let (status, body, _) = admin.get("/nowhere").await;
    assert_eq!(status, 404);
    assert!(body.contains("There is no such page"), "{body}");

    // An auditor reads every grant and the audit log, and changes nothing, in the console
    // and through the API.
    let dana_token = token(&store, "dana", Role::Auditor).await;
    let mut dana = Browser::new(&server.url);
    let (status, to) = dana.post("/login", &[("token", &dana_token)]).await;
    assert_eq!((status, to.as_str()), (303, "/audit"));
    let (status, body, _) = dana.get("/audit").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Chain verified") && !body.contains("href=\"/request\""),
        "{body}"
    );
    let (status, body, _) = dana.get("/grants").await;
    assert_eq!(status, 200);
    assert!(
        !body.contains("/revoke"),
        "no revoke form for an auditor: {body}"
    );
    for path in ["/request", "/approvals", "/access"] {
        assert_eq!(dana.get(path).await.0, 403, "{path}");
    }
    let csrf_dana = dana.csrf("/grants?page=0").await;
    let (status, _) = dana
        .post(
            "/request",
            &[
                ("csrf", &csrf_dana),
                ("bundle", "read-logs"),
                ("duration", "1h"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = server
        .api("GET", "/api/v1/audit?limit=5", &dana_token, None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .api("GET", "/api/v1/grants?status=all", &dana_token, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["grants"].to_string().contains(&grant.id), "{body}");
    for (method, path) in [
        ("POST", "/api/v1/requests"),
        ("POST", "/api/v1/tokens"),
        ("POST", "/api/v1/reconcile"),
    ] {
        let (status, body) = server
            .api(
                method,
                path,
                &dana_token,
                Some(serde_json::json!({"bundle": "read-logs", "duration": "1h", "reason": "x", "subject": "x", "role": "admin"})),
            )
            .await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("only reads"),
            "{body}"
        );
    }

    // Revoking alice's token ends her session at once; signing out ends bob's.
    store
        .commit(latch_grant::workflow::token_revoked(
            "carol",
            &store
                .tokens()
                .await
                .unwrap()
                .iter()
                .find(|t| t.subject == "alice")
                .unwrap()
                .id,
            T0,
        ))
        .await
        .unwrap();
    let (status, _, _) = alice.get("/access").await;
    assert_eq!(status, 303);
    let (status, to) = bob.post("/logout", &[("csrf", &csrf_bob)]).await;
    assert_eq!((status, to.as_str()), (303, "/login"));
    assert!(bob.cookie.is_none());
    // An old cookie replayed still names a revoked token: nothing.
    alice.cookie = Some(cookie);
    let (status, _, _) = alice.get("/request").await;
    assert_eq!(status, 303);
    server.shutdown().await;
}

/// OpenID Connect against a fake provider: the code flow with PKCE, the person by their user
/// name, the role by their groups; a forged, replayed or misdirected answer is refused.
async fn signing_in_through_the_identity_provider(backend: Backend) {
    use oidc::{FakeOidc, Script, CLIENT_ID, CLIENT_SECRET};
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let idp = FakeOidc::start().await;
    let text = format!(
        "{}\n[web]\npublic_url = \"http://console.test\"\n[web.oidc]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret_env = \"OIDC_SECRET\"\nuser_claim = \"preferred_username\"\nadmin_groups = [\"latch-admins\"]\n",
        config_text(&slack_base),
        idp.issuer
    );
    let mut config = latch_server::config::Config::parse(&text, "test.toml", &|v| {
        (v == "OIDC_SECRET").then(|| CLIENT_SECRET.to_owned())
    })
    .unwrap();
    config.poll_interval_ms = 50;
    let server = TestServer::start(config, store.clone(), cloud.clone(), clock.clone()).await;
    let exp = T0 / 1000 + 300;
    let script = |user: &str, groups: &[&str]| Script {
        claims: serde_json::json!({"sub": format!("u-{user}"), "preferred_username": user,
            "groups": groups, "exp": exp}),
        key: common::teams::KEY,
        nonce: None,
    };

    // One round: to the provider and back; the callback's answer.
    async fn round(b: &mut Browser, tamper: impl Fn(String) -> String) -> (u16, String) {
        let (status, _, headers) = b.get("/login/oidc").await;
        assert_eq!(status, 303);
        let to_idp = headers["location"].to_str().unwrap().to_owned();
        let back = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap()
            .get(&to_idp)
            .send()
            .await
            .unwrap();
        let back = back.headers()["location"].to_str().unwrap().to_owned();
        let query = back
            .strip_prefix("http://console.test/login/callback")
            .unwrap();
        let (status, body, _) = b
            .get(&format!("/login/callback{}", tamper(query.to_owned())))
            .await;
        (status, body)
    }

    // The sign-in page offers the provider; alice signs in as a requester.
    let mut alice = Browser::new(&server.url);
    let (_, page, _) = alice.get("/login").await;
    assert!(page.contains("Sign in with your organization"), "{page}");
    idp.next(script("alice", &["engineers"]));
    let (status, body) = round(&mut alice, |q| q).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("url=/request"), "{body}");
    let (status, body, _) = alice.get("/request").await;
    assert_eq!(status, 200);
    assert!(body.contains("alice (requester)"), "{body}");
    assert_eq!(alice.get("/audit").await.0, 403);

    // carol, in latch-admins, is an admin; bob, whom an approval rule names, an approver.
    let mut carol = Browser::new(&server.url);
    idp.next(script("carol", &["latch-admins"]));
    assert_eq!(round(&mut carol, |q| q).await.0, 200);
    assert_eq!(carol.get("/audit").await.0, 200);
    let mut bob = Browser::new(&server.url);
    idp.next(script("bob", &[]));
    assert_eq!(round(&mut bob, |q| q).await.0, 200);
    assert_eq!(bob.get("/approvals").await.0, 200);
    // Behind a proxy that rewrites `Host`, a form from `[web] public_url` is this server's.
    let csrf = bob.csrf("/approvals").await;
    let proxied = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/logout", server.url))
        .header("cookie", bob.cookies().unwrap())
        .header("origin", "http://console.test")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status().as_u16(), 303);

    // Refused: a state that is not this browser's, a token signed with another key, a token
    // for another sign-in (nonce), someone who is not one of the people, a lapsed sign-in.
    let mut mallory = Browser::new(&server.url);
    idp.next(script("alice", &["latch-admins"]));
    let (status, body) = round(&mut mallory, |q| q.replace("state=", "state=0")).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("state"), "{body}");
    idp.next(Script {
        key: common::teams::OTHER_KEY,
        ..script("alice", &["latch-admins"])
    });
    let (status, body) = round(&mut mallory, |q| q).await;
    assert_eq!(status, 401);
    assert!(body.contains("does not verify"), "{body}");
    idp.next(Script {
        nonce: Some("another-sign-in".into()),
        ..script("alice", &["latch-admins"])
    });
    let (status, body) = round(&mut mallory, |q| q).await;
    assert_eq!(status, 401);
    assert!(body.contains("nonce"), "{body}");
    idp.next(script("eve", &["latch-admins"]));
    let (status, body) = round(&mut mallory, |q| q).await;
    assert_eq!(status, 401);
    assert!(body.contains("not one of Latch"), "{body}");
    assert!(mallory
        .cookie
        .as_deref()
        .is_none_or(|c| !c.starts_with("latch_session=")));
    // The code of a completed sign-in cannot be used again, and without the browser's cookie
    // nothing starts.
    let mut stranger = Browser::new(&server.url);
    let (status, _, _) = stranger.get("/login/callback?code=code-1&state=x").await;
    assert_eq!(status, 401);
    let refusals = store
        .audit(0, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "web.refused" && e.details.to_string().contains("identity provider"))
        .count();
    assert!(
        refusals >= 5,
        "every failed sign-in is audited ({refusals})"
    );
    server.shutdown().await;
}

/// An entry edited in the database after the console verified it: the whole chain is verified
/// again within a minute (in the background) and the audit page then says where it breaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_audit_entry_shows_as_a_broken_chain() {
    let dir = tempfile::tempdir().unwrap();
    let raw = latch_store::SqliteStore::open(&dir.path().join("latch.db"))
        .await
        .unwrap();
    let store: std::sync::Arc<dyn latch_grant::Store> = std::sync::Arc::new(raw.clone());
    let (_slack, slack_base) = FakeSlack::start().await;
    let clock = latch_server::ManualClock::new(T0);
    let cloud = std::sync::Arc::new(latch_grant::FakeCloud::new());
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let admin = token(&store, "carol", Role::Admin).await;
    let mut carol = Browser::new(&server.url);
    carol.sign_in(&admin).await;
    let (_, body, _) = carol.get("/audit").await;
    assert!(body.contains("Chain verified"), "{body}");
    raw.execute_raw(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE seq = 1",
    )
    .await
    .unwrap();
    // Within the minute, only new entries are checked; past it, the whole chain again.
    clock.advance(61_000);
    let body = eventually(3000, "the break shown", || async {
        let mut carol = Browser {
            cookie: carol.cookie.clone(),
            ..Browser::new(&server.url)
        };
        let (_, body, _) = carol.get("/audit").await;
        body.contains("The audit chain is broken").then_some(body)
    })
    .await;
    assert!(body.contains("at entry 1"), "{body}");
    server.shutdown().await;
}
