//! Microsoft Teams end to end, on SQLite and on a real PostgreSQL: activities signed as the
//! Bot Framework signs them (a test key, served by a fake issuer on loopback), the bot's
//! answers through a fake Bot Connector, the scheduler with a manual clock, and the in-memory
//! cloud.
//!
//! - a request typed to the bot → Approve/Deny cards in each approver's personal chat →
//!   Approve → the grant lands in the cloud, every card is replaced, the requester is told;
//! - forged signature, wrong audience, expired token, unknown key after a refresh, a token
//!   for another service URL, no token, a replayed activity, another tenant: refused (401 or
//!   403), audited, and nothing else changes;
//! - self-approval from Teams is refused; a card's data never names the approver.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[macro_use]
mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::teams::{self as fake, FakeTeams};
use common::*;
use latch_grant::{GrantQuery, RequestStatus, Store};
use latch_server::config::Config;
use serde_json::{json, Value};

const ALICE_AAD: &str = "a11ce000-0000-0000-0000-000000000001";
const BOB_AAD: &str = "b0b00000-0000-0000-0000-000000000002";
const CAROL_AAD: &str = "ca401000-0000-0000-0000-000000000003";
const STRANGER_AAD: &str = "57a46e40-0000-0000-0000-000000000009";

on_both!(request_in_teams_approve_in_teams_grant_lands);
on_both!(forged_and_misdirected_activities_change_nothing);
on_both!(the_reminder_extends_in_teams);

/// The test configuration with Teams beside Slack, and Teams ids for alice, bob and carol.
fn config(slack_base: &str, teams: &FakeTeams, channel: Option<&str>) -> Config {
    let text = config_text(slack_base)
        .replace(
            "slack = \"UALICE\"",
            &format!("slack = \"UALICE\"\nteams = \"{ALICE_AAD}\""),
        )
        .replace(
            "slack = \"UBOB\"",
            &format!("slack = \"UBOB\"\nteams = \"{BOB_AAD}\""),
        )
        .replace(
            "slack = \"UCAROL\"",
            &format!("slack = \"UCAROL\"\nteams = \"{CAROL_AAD}\""),
        );
    let text = format!("{text}\n{}", teams.config_section(channel));
    let mut c = Config::parse(&text, "test.toml", &|_| None).unwrap();
    c.poll_interval_ms = 50;
    c.lease_ttl_ms = 2_000;
    c
}

fn now_secs() -> i64 {
    T0 / 1000
}

async fn last_rejection(store: &Arc<dyn Store>) -> latch_grant::AuditRecord {
    store
        .audit(0, 0)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .find(|e| e.kind == "teams.rejected")
        .unwrap()
}

async fn requests(store: &Arc<dyn Store>) -> usize {
    store
        .requests(&latch_grant::RequestQuery::default())
        .await
        .unwrap()
        .len()
}

async fn request_in_teams_approve_in_teams_grant_lands(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let teams = FakeTeams::start().await;
    let server = TestServer::start(
        config(&slack_base, &teams, None),
        store.clone(),
        cloud.clone(),
        clock.clone(),
    )
    .await;
    let service = teams.service_url();
    let token = fake::sign(fake::KEY, fake::KID, &fake::claims(&service, now_secs()));
    let http = reqwest::Client::new();

    // alice asks the bot.
    let ask = fake::message(
        &service,
        "m-1",
        ALICE_AAD,
        "request iam-admin 10m incident 4411",
    );
    let (status, body) = fake::send(&http, &server.url, Some(&token), &ask).await;
    assert_eq!(status, 200, "{body}");
    let reply = teams
        .wait_for("the answer to alice", |s| {
            s.conversation == format!("a:chat-{ALICE_AAD}") && s.body["replyToId"] == "m-1"
        })
        .await;
    let said = reply.body["text"].as_str().unwrap();
    assert!(said.contains("sent to approvers: bob, carol"), "{said}");
    let request_id = said
        .split('`')
        .nth(1)
        .expect("the request id, in code")
        .to_owned();

    // No approvals channel: each approver gets the card in a personal chat.
    for who in [BOB_AAD, CAROL_AAD] {
        let card = teams
            .wait_for("an approval card", |s| {
                s.conversation == format!("a:chat-{who}") && s.body["attachments"].is_array()
            })
            .await;
        let content = &card.body["attachments"][0]["content"];
        assert_eq!(
            card.body["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let verbs: Vec<&str> = content["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["verb"].as_str().unwrap())
            .collect();
        assert_eq!(verbs, ["latch.approve", "latch.deny"]);
        assert_eq!(
            content["actions"][0]["data"],
            json!({"request": request_id})
        );
    }
    // Both cards are remembered with the request, to be replaced once it is decided.
    eventually(2000, "both cards stored", || async {
        let m = store.messages(&request_id).await.unwrap();
        (m.iter().filter(|m| m.platform == "teams").count() == 2).then_some(())
    })
    .await;
    // The chats were opened for the approvers' Entra ids, in the configured tenant.
    let opened: Vec<Value> = teams
        .sent()
        .into_iter()
        .filter(|s| s.method == "POST" && s.conversation.is_empty())
        .map(|s| s.body)
        .collect();
    assert!(
        opened
            .iter()
            .all(|b| b["tenantId"] == fake::TENANT
                && b["bot"]["id"] == format!("28:{}", fake::APP_ID))
    );

    // alice cannot approve her own request, whatever the card says.
    let own = fake::action(
        &service,
        "a-1",
        ALICE_AAD,
        "latch.approve",
        json!({"request": request_id}),
    );
    let (status, answer) = fake::send(&http, &server.url, Some(&token), &own).await;
    assert_eq!(status, 200);
    assert_eq!(answer["type"], "application/vnd.microsoft.activity.message");
    assert!(
        answer["value"]
            .as_str()
            .unwrap()
            .contains("cannot answer it"),
        "{answer}"
    );
    let r = store.request(&request_id).await.unwrap().unwrap();
    assert_eq!(r.status, RequestStatus::Pending);
    assert!(audit_kinds(&store)
        .await
        .contains(&"approval.refused".to_owned()));

    // Someone Latch does not know presses Approve: refused and audited.
    let stranger = fake::action(
        &service,
        "a-2",
        STRANGER_AAD,
        "latch.approve",
        json!({"request": request_id}),
    );
    let (_, answer) = fake::send(&http, &server.url, Some(&token), &stranger).await;
    assert!(answer["value"]
        .as_str()
        .unwrap()
        .contains("not one of Latch's people"));
    assert_eq!(
        store.request(&request_id).await.unwrap().unwrap().status,
        RequestStatus::Pending
    );

    // bob approves: the card he pressed is replaced by the outcome at once.
    let approve = fake::action(
        &service,
        "a-3",
        BOB_AAD,
        "latch.approve",
        json!({"request": request_id}),
    );
    let (status, answer) = fake::send(&http, &server.url, Some(&token), &approve).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["statusCode"], 200);
    assert_eq!(answer["type"], "application/vnd.microsoft.card.adaptive");
    assert_eq!(answer["value"]["actions"], json!([]));
    assert!(answer["value"].to_string().contains("Approved by bob"));

    // The grant lands in the cloud.
    eventually(3000, "the tag on alice's role", || async {
        cloud.tag(ALICE, "iam-admin")
    })
    .await;
    // Every approver's card is replaced; alice is told, and told when it is active.
    for who in [BOB_AAD, CAROL_AAD] {
        teams
            .wait_for("a replaced card", |s| {
                s.method == "PUT"
                    && s.conversation == format!("a:chat-{who}")
                    && s.body.to_string().contains("Approved by bob")
            })
            .await;
    }
    teams
        .wait_for("alice told it was approved", |s| {
            s.conversation == format!("a:chat-{ALICE_AAD}")
                && s.body["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("was approved"))
        })
        .await;
    teams
        .wait_for("alice told it is active", |s| {
            s.conversation == format!("a:chat-{ALICE_AAD}")
                && s.body["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Granted: **iam-admin**"))
        })
        .await;

    // `grants` lists it; `revoke` ends it.
    let list = fake::message(&service, "m-2", ALICE_AAD, "grants");
    fake::send(&http, &server.url, Some(&token), &list).await;
    let reply = teams
        .wait_for("the grants", |s| s.body["replyToId"] == "m-2")
        .await;
    let grant = store
        .grants(&GrantQuery::default())
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.request_id == request_id)
        .unwrap();
    assert!(
        reply.body["text"].as_str().unwrap().contains(&grant.id),
        "{}",
        reply.body
    );
    let revoke = fake::message(
        &service,
        "m-3",
        ALICE_AAD,
        &format!("revoke {} done early", grant.id),
    );
    fake::send(&http, &server.url, Some(&token), &revoke).await;
    teams
        .wait_for("the revocation answer", |s| s.body["replyToId"] == "m-3")
        .await;
    eventually(3000, "the tag removed", || async {
        cloud.tag(ALICE, "iam-admin").is_none().then_some(())
    })
    .await;
    let g = store.grant(&grant.id).await.unwrap().unwrap();
    assert_eq!(g.revoke_reason.as_deref(), Some("done early"));
    assert_eq!(g.revoked_by.as_deref(), Some("alice"));
    // The bot authenticated to the connector with a token the tenant issued, once.
    assert_eq!(teams.tokens_issued.load(Ordering::SeqCst), 1);
    server.shutdown().await;
}

async fn forged_and_misdirected_activities_change_nothing(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let teams = FakeTeams::start().await;
    let server = TestServer::start(
        config(&slack_base, &teams, Some("19:approvals@thread.tacv2")),
        store.clone(),
        cloud.clone(),
        clock.clone(),
    )
    .await;
    let service = teams.service_url();
    let now = now_secs();
    let http = reqwest::Client::new();
    let good = fake::claims(&service, now);
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let before_requests = requests(&store).await;
    let ask = |id: &str| fake::message(&service, id, ALICE_AAD, "request read-logs 1h look");

    let cases: Vec<(&str, Option<String>, &str)> = vec![
        (
            "forged signature",
            Some(fake::sign(fake::OTHER_KEY, fake::KID, &good)),
            "bad_signature",
        ),
        (
            "another bot's token",
            Some(fake::sign(
                fake::KEY,
                fake::KID,
                &with(json!({"aud": "another-bot"})),
            )),
            "wrong_audience",
        ),
        (
            "expired",
            Some(fake::sign(
                fake::KEY,
                fake::KID,
                &with(json!({"exp": now - 301, "nbf": now - 4000})),
            )),
            "expired",
        ),
        (
            "another issuer",
            Some(fake::sign(
                fake::KEY,
                fake::KID,
                &with(json!({"iss": "https://evil.example"})),
            )),
            "wrong_issuer",
        ),
        (
            "a token for another service URL",
            Some(fake::sign(
                fake::KEY,
                fake::KID,
                &with(json!({"serviceurl": "https://evil.example/"})),
            )),
            "service_url_mismatch",
        ),
        ("no token", None, "missing_token"),
    ];
    // The scheduler's first entry (it leads) lands before any refusal is looked for.
    eventually(2000, "the scheduler leads", || async {
        audit_kinds(&store)
            .await
            .iter()
            .any(|k| k == "scheduler.leader")
            .then_some(())
    })
    .await;
    for (i, (what, token, code)) in cases.iter().enumerate() {
        let (status, body) = fake::send(
            &http,
            &server.url,
            token.as_deref(),
            &ask(&format!("f-{i}")),
        )
        .await;
        assert_eq!(status, 401, "{what}: {body}");
        let entry = store.audit(0, 0).await.unwrap().into_iter().last().unwrap();
        // Nothing else runs yet: the refusal is the newest entry.
        assert_eq!(entry.kind, "teams.rejected", "{what}");
        assert_eq!(entry.details["code"], *code, "{what}: {}", entry.details);
    }

    // A key the Bot Framework does not publish: the keys are fetched again (a rotation?),
    // and the token is still refused.
    let fetches = teams.key_fetches.load(Ordering::SeqCst);
    let unknown = fake::sign(fake::KEY, "bf-rotated-away", &good);
    let (status, _) = fake::send(&http, &server.url, Some(&unknown), &ask("f-kid")).await;
    assert_eq!(status, 401);
    assert_eq!(teams.key_fetches.load(Ordering::SeqCst), fetches + 1);
    let entry = store.audit(0, 0).await.unwrap().into_iter().last().unwrap();
    assert_eq!(entry.details["code"], "unknown_key");

    // Another tenant, with a genuine token: forbidden.
    let token = fake::sign(fake::KEY, fake::KID, &good);
    let mut foreign = ask("f-tenant");
    foreign["channelData"]["tenant"]["id"] = json!("99999999-9999-9999-9999-999999999999");
    foreign["conversation"]["tenantId"] = json!("99999999-9999-9999-9999-999999999999");
    let (status, _) = fake::send(&http, &server.url, Some(&token), &foreign).await;
    assert_eq!(status, 403);
    let entry = store.audit(0, 0).await.unwrap().into_iter().last().unwrap();
    assert_eq!(entry.details["code"], "wrong_tenant");

    // Nothing was asked, nothing said.
    assert_eq!(requests(&store).await, before_requests);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        teams.sent().is_empty(),
        "the bot said something: {:#?}",
        teams.sent()
    );

    // The same genuine activity twice: acted on once.
    let once = ask("m-once");
    let (status, _) = fake::send(&http, &server.url, Some(&token), &once).await;
    assert_eq!(status, 200);
    let (status, _) = fake::send(&http, &server.url, Some(&token), &once).await;
    assert_eq!(status, 401);
    // The first one's grant is being applied meanwhile: the newest refusal, not the newest entry.
    let entry = last_rejection(&store).await;
    assert_eq!(entry.details["code"], "replayed");
    eventually(3000, "one auto-approved grant", || async {
        cloud.tag(ALICE, "read-logs")
    })
    .await;
    assert_eq!(requests(&store).await, before_requests + 1);

    // With an approvals channel, the card goes there (once), not to personal chats.
    let ask_admin = fake::message(&service, "m-admin", ALICE_AAD, "request iam-admin 10m x");
    fake::send(&http, &server.url, Some(&token), &ask_admin).await;
    teams
        .wait_for("a card in the approvals channel", |s| {
            s.conversation == "19:approvals@thread.tacv2" && s.body["attachments"].is_array()
        })
        .await;
    assert!(!teams
        .sent()
        .iter()
        .any(|s| s.conversation == format!("a:chat-{BOB_AAD}")));
    server.shutdown().await;
}

/// The reminder before a grant ends comes with an Extend button: its holder presses it and
/// the same grant lasts longer (read-logs is auto-approved, so at once).
async fn the_reminder_extends_in_teams(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let teams = FakeTeams::start().await;
    let mut c = config(&slack_base, &teams, None);
    let b = c.rules.bundles.get_mut("read-logs").unwrap();
    b.max_total_secs = 4 * 3600;
    let server = TestServer::start(c, store.clone(), cloud.clone(), clock.clone()).await;
    let service = teams.service_url();
    let token = fake::sign(fake::KEY, fake::KID, &fake::claims(&service, now_secs()));
    let http = reqwest::Client::new();
    let ask = fake::message(&service, "m-1", ALICE_AAD, "request read-logs 1h debugging");
    let (status, body) = fake::send(&http, &server.url, Some(&token), &ask).await;
    assert_eq!(status, 200, "{body}");
    let grant = eventually(2000, "granted", || async {
        store
            .grants(&GrantQuery::default())
            .await
            .unwrap()
            .into_iter()
            .find(|g| g.status == latch_grant::GrantStatus::Active)
    })
    .await;
    // Ten minutes before the end: the reminder card, with Extend.
    clock.advance(50 * 60_000);
    let card = teams
        .wait_for("the reminder card", |s| {
            s.conversation == format!("a:chat-{ALICE_AAD}")
                && s.body["attachments"][0]["content"]["actions"][0]["verb"] == "latch.extend"
        })
        .await;
    let data = card.body["attachments"][0]["content"]["actions"][0]["data"].clone();
    assert_eq!(data["grant"], grant.id.as_str());
    let press = fake::action(&service, "a-1", ALICE_AAD, "latch.extend", data);
    let (status, answer) = fake::send(&http, &server.url, Some(&token), &press).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["value"].to_string().contains("Extended"), "{answer}");
    let g = store.grant(&grant.id).await.unwrap().unwrap();
    assert_eq!(g.expires_at, grant.expires_at + 3_600_000);
    server.shutdown().await;
}
