//! Microsoft Teams through the `latch` binary, with grants landing in the moto emulator: a
//! `latch serve` process configured with `[teams]` and `[aws]`, a fake Bot Framework (issuer,
//! token endpoint, connector) on loopback. alice types a request to the bot, bob's personal
//! chat gets the Approve/Deny card, bob presses Approve, and the grant's tag is on alice's role
//! in moto; a forged activity is refused with 401.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../server/tests/common/teams.rs"]
mod fake_teams;
mod serve_process;

use std::time::{Duration, Instant};

use serve_process::serve;

use fake_teams::FakeTeams;
use latch_aws::grants::parse_tag_value;
use latch_aws::testing::{self, build_org, iam_in};

const ALICE_AAD: &str = "a11ce000-0000-0000-0000-000000000001";
const BOB_AAD: &str = "b0b00000-0000-0000-0000-000000000002";

fn now_secs() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[test]
fn approve_in_teams_lands_the_grant_in_moto() {
    let _guard = testing::lock();
    tokio::runtime::Runtime::new().unwrap().block_on(story());
}

async fn story() {
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let aws = moto.aws();
    let fx = build_org(&aws).await.unwrap();
    let iam = iam_in(&aws, &fx.app_prod).await.unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name("alice")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let alice_arn = format!("arn:aws:iam::{}:role/alice", fx.app_prod);

    let teams = FakeTeams::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
database = "latch.db"

[aws]
endpoint_url = "{endpoint}"
region = "us-east-1"
max_attempts = 1

[identities.alice]
teams = "{ALICE_AAD}"
aws = "{alice_arn}"
[identities.bob]
teams = "{BOB_AAD}"
aws = "arn:aws:iam::111122223333:role/bob"

[bundles.privilege-escalation]
max_duration = "1h"
approvers = ["bob"]

{section}"#,
        endpoint = moto.endpoint,
        section = teams.config_section(None),
    );
    std::fs::write(dir.path().join("latch.toml"), config).unwrap();
    let _server = serve(dir.path(), port, &moto.env());
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let service = teams.service_url();
    let token = fake_teams::sign(
        fake_teams::KEY,
        fake_teams::KID,
        &fake_teams::claims(&service, now_secs()),
    );

    // A forged activity is refused.
    let forged = fake_teams::sign(
        fake_teams::OTHER_KEY,
        fake_teams::KID,
        &fake_teams::claims(&service, now_secs()),
    );
    let ask = fake_teams::message(
        &service,
        "m-1",
        ALICE_AAD,
        "request privilege-escalation 10m incident 77",
    );
    let (status, _) = fake_teams::send(&http, &url, Some(&forged), &ask).await;
    assert_eq!(status, 401);

    // alice asks the bot; bob gets the card in his personal chat.
    let (status, body) = fake_teams::send(&http, &url, Some(&token), &ask).await;
    assert_eq!(status, 200, "{body}");
    let card = teams
        .wait_for("bob's approval card", |s| {
            s.conversation == format!("a:chat-{BOB_AAD}") && s.body["attachments"].is_array()
        })
        .await;
    let data = card.body["attachments"][0]["content"]["actions"][0]["data"].clone();
    let request_id = data["request"].as_str().unwrap().to_owned();

    // bob approves: the card is replaced, and the grant lands on alice's role in moto.
    let approve = fake_teams::action(&service, "a-1", BOB_AAD, "latch.approve", data);
    let (status, answer) = fake_teams::send(&http, &url, Some(&token), &approve).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["value"].to_string().contains("Approved by bob"),
        "{answer}"
    );
    let start = Instant::now();
    let grant = loop {
        let tags = iam
            .list_role_tags()
            .role_name("alice")
            .send()
            .await
            .unwrap();
        let tag = tags
            .tags()
            .iter()
            .find(|t| t.key() == "latch:grant:privilege-escalation")
            .map(|t| parse_tag_value(t.value()).0);
        if let Some(g) = tag {
            break g;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no grant tag on alice's role in moto"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(grant.starts_with("g-"), "{grant}");
    // alice is told in her personal chat.
    teams
        .wait_for("alice told the grant is active", |s| {
            s.conversation == format!("a:chat-{ALICE_AAD}")
                && s.body["text"]
                    .as_str()
                    .is_some_and(|t| t.contains(&grant) && t.starts_with("Granted"))
        })
        .await;
    teams
        .wait_for("alice told her request was approved", |s| {
            s.body["text"]
                .as_str()
                .is_some_and(|t| t.contains(&request_id) && t.contains("was approved"))
        })
        .await;
}
