//! People from the directory (IAM Identity Center), end to end on SQLite and on a real
//! PostgreSQL: the leader's sync at start, Slack users found by email, an Identity Center
//! group approving, the grant on the one account's role the request names, and a deactivated
//! person's pending request cancelled and live grant revoked at the next sync.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use latch_grant::directory::{AccountRole, Directory, DirectoryPerson, FakeDirectory};
use latch_grant::{GrantQuery, GrantStatus, RequestStatus, Role};
use latch_server::config::Config;
use serde_json::Value;

on_both!(identity_center_people_request_approve_and_leave);

fn person(id: &str, name: &str, groups: &[&str], roles: Vec<AccountRole>) -> DirectoryPerson {
    DirectoryPerson {
        user_id: id.into(),
        user_name: name.into(),
        display_name: Some(name.split('@').next().unwrap().to_owned()),
        email: Some(name.into()),
        active: true,
        groups: groups
            .iter()
            .map(|g| (*g).to_owned())
            .collect::<BTreeSet<_>>(),
        roles,
    }
}

fn role(account: &str, set: &str, id: &str) -> AccountRole {
    AccountRole {
        account: account.into(),
        permission_set: set.into(),
        role_id: Some(id.into()),
    }
}

fn config(slack_base: &str) -> Config {
    let text = format!(
        r#"
[server]
id = "server-a"

[slack]
signing_secret = "{SIGNING_SECRET}"
bot_token = "xoxb-test-token"
api_base = "{slack_base}/api"
approvals_channel = "CAPPROVALS"

[identity_center]
refresh = "1h"

[identities.admin]
aws = "arn:aws:iam::111122223333:role/admin"

[bundles.iam-admin]
max_duration = "1h"
approvers = ["ic-group:Security"]
"#
    );
    let mut c = Config::parse(&text, "latch.toml", &|_| None).unwrap();
    c.poll_interval_ms = 50;
    c.lease_ttl_ms = 2_000;
    c
}

async fn identity_center_people_request_approve_and_leave(backend: Backend) {
    let (slack, slack_base, store, cloud, clock) = setup(&backend).await;
    slack.add_user("UALICE", "alice@example.com");
    slack.add_user("UBOB", "Bob@Example.com");
    let directory = Arc::new(FakeDirectory::new());
    directory.set(Directory {
        people: vec![
            person(
                "u-1",
                "alice@example.com",
                &["Engineers"],
                vec![
                    role("111111111111", "AdministratorAccess", "AROAPROD"),
                    role("222222222222", "AdministratorAccess", "AROASTAGE"),
                ],
            ),
            person("u-2", "bob@example.com", &["Security"], Vec::new()),
        ],
        notes: Vec::new(),
    });
    let server = TestServer::start_with_directory(
        config(&slack_base),
        store.clone(),
        cloud.clone(),
        clock.clone(),
        Some(directory.clone()),
    )
    .await;
    let ts = T0 / 1000;

    // The leader syncs at start: both people appear, audited.
    eventually(3000, "first sync", || async {
        let kinds = audit_kinds(&store).await;
        (kinds
            .iter()
            .filter(|k| *k == "directory.person_added")
            .count()
            == 2)
            .then_some(())
    })
    .await;
    assert_eq!(store.directory().await.unwrap().len(), 2);

    // alice, unknown to [identities], asks in Slack: she is found by her email, and names the
    // account her grant is for.
    let body = slash_body(
        "UALICE",
        "request iam-admin 30m account=111111111111 INC-9",
        &format!("{slack_base}/respond/1"),
    );
    server
        .slack_post("/slack/commands", &body, ts, SIGNING_SECRET)
        .await;
    let reply = slack.wait_for("respond/1", |_| true).await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("sent to approvers: bob@example.com"),
        "{reply}"
    );
    // The approvers are the Security group's members, mentioned by their Slack id (found by
    // email); the message says which account and permission set.
    let msg = slack
        .wait_for("chat.postMessage", |v| v["channel"] == "CAPPROVALS")
        .await;
    let blocks = msg["blocks"].to_string();
    assert!(blocks.contains("<@UBOB>"), "{blocks}");
    assert!(
        blocks.contains("account 111111111111 as AdministratorAccess"),
        "{blocks}"
    );
    let request_id = msg["blocks"][2]["elements"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let request = store.request(&request_id).await.unwrap().unwrap();
    assert_eq!(request.identity.id, "AROAPROD:alice@example.com");
    assert_eq!(request.account.as_deref(), Some("111111111111"));

    // bob (found by his Slack profile's email) approves: the grant lands on alice's session
    // of that account's role only.
    let click = click_body(
        "UBOB",
        "latch_approve",
        &request_id,
        &format!("{slack_base}/respond/2"),
    );
    server
        .slack_post("/slack/interactions", &click, ts, SIGNING_SECRET)
        .await;
    let grant = eventually(3000, "grant active", || async {
        store
            .grants(&GrantQuery::default())
            .await
            .unwrap()
            .into_iter()
            .find(|g| g.status == GrantStatus::Active)
    })
    .await;
    assert!(cloud
        .tag("AROAPROD:alice@example.com", "iam-admin")
        .is_some());
    assert!(cloud
        .tag("AROASTAGE:alice@example.com", "iam-admin")
        .is_none());
    assert_eq!(grant.account.as_deref(), Some("111111111111"));
    slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "UALICE" && v["text"].as_str().unwrap().contains("Granted")
        })
        .await;

    // A second request of hers waits for approval when she is deactivated.
    let body = slash_body(
        "UALICE",
        "request iam-admin 30m account=222222222222 INC-10",
        &format!("{slack_base}/respond/3"),
    );
    server
        .slack_post("/slack/commands", &body, ts, SIGNING_SECRET)
        .await;
    slack.wait_for("respond/3", |_| true).await;
    directory.edit("alice@example.com", |p| p.active = false);

    // An admin syncs now (offboarding cannot wait for the refresh): her grant is revoked and
    // her pending request cancelled, in the sync's one transaction.
    let admin = token(&store, "admin", Role::Admin).await;
    let (status, body) = server
        .api("POST", "/api/v1/directory/sync", &admin, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["synced"]["deactivated"], 1, "{body}");
    assert_eq!(body["synced"]["grants_revoked"], 1, "{body}");
    assert_eq!(body["synced"]["requests_cancelled"], 1, "{body}");
    eventually(3000, "grant revoked", || async {
        let g = store.grant(&grant.id).await.unwrap().unwrap();
        (g.status == GrantStatus::Revoked).then_some(g)
    })
    .await;
    assert!(cloud
        .tag("AROAPROD:alice@example.com", "iam-admin")
        .is_none());
    let pending = store
        .requests(&latch_grant::RequestQuery::default())
        .await
        .unwrap();
    assert!(pending
        .iter()
        .any(|r| r.status == RequestStatus::Cancelled && r.requester == "alice@example.com"));
    let kinds = audit_kinds(&store).await;
    for k in [
        "directory.person_deactivated",
        "request.cancelled",
        "grant.revoke_requested",
        "grant.revoked",
        "directory.synced",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }

    // She can no longer ask; a read that fails changes nothing and is audited.
    let body = slash_body(
        "UALICE",
        "request iam-admin 30m account=111111111111 again",
        &format!("{slack_base}/respond/4"),
    );
    server
        .slack_post("/slack/commands", &body, ts, SIGNING_SECRET)
        .await;
    let reply = slack.wait_for("respond/4", |_| true).await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("not one of Latch's people"),
        "{reply}"
    );
    directory.set_failing(true);
    let (status, body) = server
        .api("POST", "/api/v1/directory/sync", &admin, None)
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], Value::from("directory_unreachable"));
    assert_eq!(store.directory().await.unwrap().len(), 2);
    assert!(audit_kinds(&store)
        .await
        .iter()
        .any(|k| k == "directory.sync_failed"));
    server.shutdown().await;
}
