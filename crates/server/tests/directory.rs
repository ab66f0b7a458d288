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
use latch_server::ManualClock;
use serde_json::Value;

on_both!(identity_center_people_request_approve_and_leave);
on_both!(one_request_for_several_accounts);
on_both!(approval_rules_scoped_by_ou_and_tag);

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

/// A server with `config` whose directory holds `people`, once the leader's first sync has
/// stored them all.
async fn serve_people(
    config: Config,
    people: Vec<DirectoryPerson>,
    store: &Arc<dyn latch_grant::Store>,
    cloud: &Arc<latch_grant::FakeCloud>,
    clock: &ManualClock,
) -> TestServer {
    let n = people.len();
    let directory = Arc::new(FakeDirectory::new());
    directory.set(Directory {
        people,
        notes: Vec::new(),
    });
    let server = TestServer::start_with_directory(
        config,
        store.clone(),
        cloud.clone(),
        clock.clone(),
        Some(directory),
    )
    .await;
    eventually(3000, "first sync", || async {
        (store.directory().await.unwrap().len() == n).then_some(())
    })
    .await;
    server
}

/// One request for two accounts, approved once, becomes one grant per account with the
/// request's id; each is applied or fails on its own, and the one AWS refuses is reported to
/// the requester with AWS's error (in the API and, past `stuck_after`, in Slack). A request
/// naming an account that is not hers is refused whole.
async fn one_request_for_several_accounts(backend: Backend) {
    let (slack, slack_base, store, cloud, clock) = setup(&backend).await;
    slack.add_user("UALICE", "alice@example.com");
    slack.add_user("UBOB", "bob@example.com");
    let people = vec![
        person(
            "u-1",
            "alice@example.com",
            &["Engineers"],
            vec![
                role("111111111111", "AdministratorAccess", "AROAPROD"),
                role("222222222222", "AdministratorAccess", "AROASTAGE"),
                role("333333333333", "AdministratorAccess", "AROADEV"),
            ],
        ),
        person("u-2", "bob@example.com", &["Security"], Vec::new()),
    ];
    let server = serve_people(config(&slack_base), people, &store, &cloud, &clock).await;
    let alice = token(&store, "alice@example.com", Role::Requester).await;
    let bob = token(&store, "bob@example.com", Role::Approver).await;

    // An account she is not assigned on refuses the whole request: nothing is created.
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(
                serde_json::json!({"bundle": "iam-admin", "duration": "30m", "reason": "CHG-1",
                "accounts": ["111111111111", "999999999999"]}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_target", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("999999999999"),
        "{body}"
    );
    assert!(store
        .requests(&latch_grant::RequestQuery::default())
        .await
        .unwrap()
        .is_empty());

    // Two accounts: one pending request naming both.
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            Some(
                serde_json::json!({"bundle": "iam-admin", "duration": "30m", "reason": "CHG-2",
                "account": "111111111111", "accounts": ["222222222222"]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["request"]["status"], "pending");
    let targets: Vec<&str> = body["request"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["account"].as_str().unwrap())
        .collect();
    assert_eq!(targets, vec!["111111111111", "222222222222"]);
    let rid = body["request"]["id"].as_str().unwrap().to_owned();
    // The approvers' message names both accounts.
    let msg = slack
        .wait_for("chat.postMessage", |v| v["channel"] == "CAPPROVALS")
        .await;
    let blocks = msg["blocks"].to_string();
    assert!(
        blocks.contains("account 111111111111 as AdministratorAccess, account 222222222222 as AdministratorAccess"),
        "{blocks}"
    );

    // AWS refuses the second account's role; one approval makes both grants.
    cloud.set_refusing(
        "AROASTAGE:alice@example.com",
        Some("AccessDenied: not authorized to perform iam:TagRole"),
    );
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &bob,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let grants: Vec<(String, String)> = body["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert_eq!(g["request_id"], rid.as_str());
            (
                g["id"].as_str().unwrap().to_owned(),
                g["account"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(grants.len(), 2);
    assert_eq!(grants[0].1, "111111111111");
    assert_eq!(grants[1].1, "222222222222");
    assert_eq!(body["grant"]["id"], grants[0].0.as_str());

    // The first is applied; the second stays pending, with AWS's error in the request's view.
    eventually(3000, "first account applied", || async {
        let g = store.grant(&grants[0].0).await.unwrap().unwrap();
        (g.status == GrantStatus::Active).then_some(())
    })
    .await;
    assert!(cloud
        .tag("AROAPROD:alice@example.com", "iam-admin")
        .is_some());
    let detail = eventually(3000, "the refusal seen", || async {
        let (_, d) = server
            .api("GET", &format!("/api/v1/requests/{rid}"), &alice, None)
            .await;
        d["grants"][1]["cloud_error"].is_string().then_some(d)
    })
    .await;
    assert_eq!(detail["grants"][0]["cloud_state"], "applied", "{detail}");
    assert_eq!(detail["grants"][1]["cloud_state"], "pending", "{detail}");
    assert!(detail["grants"][1]["cloud_error"]
        .as_str()
        .unwrap()
        .contains("iam:TagRole"));
    assert_eq!(
        store.grant(&grants[1].0).await.unwrap().unwrap().status,
        GrantStatus::Approved
    );
    // Past `stuck_after`, she is told which account failed and why.
    clock.advance(2 * 60_000 + 1);
    let dm = slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "UALICE"
                && v["text"]
                    .as_str()
                    .unwrap()
                    .contains("not applied in AWS yet")
        })
        .await;
    let said = dm["text"].as_str().unwrap();
    assert!(said.contains("account 222222222222"), "{said}");
    assert!(said.contains("iam:TagRole"), "{said}");
    // AWS relents: the second is applied too, under the same request.
    cloud.set_refusing("AROASTAGE:alice@example.com", None);
    clock.advance(60_000);
    eventually(5000, "second account applied", || async {
        let g = store.grant(&grants[1].0).await.unwrap().unwrap();
        (g.status == GrantStatus::Active).then_some(())
    })
    .await;
    let created = store
        .audit(0, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "grant.created" && e.details["request_id"] == rid.as_str())
        .count();
    assert_eq!(created, 2);
    server.shutdown().await;
}

/// `iam-admin` may be asked for in the Prod and Sandbox OUs only; in Prod it needs two
/// approvers from the Security group, in accounts tagged `env = sandbox` it is granted at once.
/// A request spanning both rules, or naming an account outside the bundle's scope, is refused
/// with the reason (and audited).
async fn approval_rules_scoped_by_ou_and_tag(backend: Backend) {
    let (_slack, _, store, cloud, clock) = setup(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let account = |id: &str, tags: &str| {
        format!(
            r#"{{"type": "account", "id": "{id}", "scps": [{{"id": "p-FullAWSAccess"}}], "tags": {{{tags}}}}}"#
        )
    };
    let org = format!(
        r#"{{"format": "latch.organization/v1", "management_account_id": "444444444444",
          "root": {{"id": "r-q1w2", "scps": [{{"id": "p-FullAWSAccess"}}], "children": [{},
            {{"type": "ou", "id": "ou-q1w2-aaaaaaaa", "name": "Prod", "scps": [{{"id": "p-FullAWSAccess"}}], "children": [{}, {}]}},
            {{"type": "ou", "id": "ou-q1w2-bbbbbbbb", "name": "Sandbox", "scps": [{{"id": "p-FullAWSAccess"}}], "children": [{}]}}]}}}}"#,
        account("444444444444", ""),
        account("111111111111", r#""env": "prod""#),
        account("222222222222", r#""env": "prod""#),
        account("333333333333", r#""env": "sandbox""#),
    );
    std::fs::write(dir.path().join("organization.json"), org).unwrap();
    let text = r#"
[server]
id = "server-a"
organization = "organization.json"

[identity_center]
refresh = "1h"

[identities.admin]
aws = "arn:aws:iam::444444444444:role/admin"

[bundles.iam-admin]
max_duration = "1h"
approvers = ["ic-group:Security"]
scope = { ous = ["Prod", "Sandbox"] }

[[approval]]
bundles = ["iam-admin"]
scope = { ous = ["Prod"] }
required_approvals = 2
tiers = [{ approvers = ["ic-group:Security"] }]

[[approval]]
bundles = ["iam-admin"]
scope = { tags = { env = "sandbox" } }
auto_approve = true
"#;
    let file = dir.path().join("latch.toml").display().to_string();
    let mut config = Config::parse(text, &file, &|_| None).unwrap();
    config.poll_interval_ms = 50;
    let set = "AdministratorAccess";
    let people = vec![
        person(
            "u-1",
            "alice@example.com",
            &["Engineers"],
            vec![
                role("111111111111", set, "AROAPRODA"),
                role("222222222222", set, "AROAPRODB"),
                role("333333333333", set, "AROASANDBOX"),
                role("444444444444", set, "AROAMGMT"),
            ],
        ),
        person("u-2", "bob@example.com", &["Security"], Vec::new()),
        person("u-3", "carol@example.com", &["Security"], Vec::new()),
    ];
    let server = serve_people(config, people, &store, &cloud, &clock).await;
    let alice = token(&store, "alice@example.com", Role::Requester).await;
    let bob = token(&store, "bob@example.com", Role::Approver).await;
    let carol = token(&store, "carol@example.com", Role::Approver).await;
    let ask = |accounts: &[&str]| {
        Some(
            serde_json::json!({"bundle": "iam-admin", "duration": "30m", "reason": "CHG-3",
            "accounts": accounts}),
        )
    };

    // The sandbox: granted at once.
    let (status, body) = server
        .api("POST", "/api/v1/requests", &alice, ask(&["333333333333"]))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["request"]["status"], "approved", "{body}");
    assert_eq!(body["grant"]["account"], "333333333333");

    // Prod: two approvals from the Security group, for both accounts at once.
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            ask(&["111111111111", "222222222222"]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["request"]["status"], "pending", "{body}");
    assert_eq!(body["request"]["required_approvals"], 2, "{body}");
    let rid = body["request"]["id"].as_str().unwrap().to_owned();
    let (_, detail) = server
        .api("GET", &format!("/api/v1/requests/{rid}"), &alice, None)
        .await;
    assert_eq!(
        detail["approvers"],
        serde_json::json!(["bob@example.com", "carol@example.com"])
    );
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &bob,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["status"], "pending", "{body}");
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/requests/{rid}/approve"),
            &carol,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["grants"].as_array().unwrap().len(), 2, "{body}");

    // Prod and the sandbox in one request: two rules, so two requests.
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/requests",
            &alice,
            ask(&["111111111111", "333333333333"]),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_target", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("different approval rules"),
        "{body}"
    );
    // The management account is outside the bundle's scope.
    let (status, body) = server
        .api("POST", "/api/v1/requests", &alice, ask(&["444444444444"]))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "out_of_scope", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(r#"ous = ["Prod", "Sandbox"]"#),
        "{body}"
    );
    let refused = store
        .audit(0, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "request.refused")
        .count();
    assert_eq!(refused, 2);
    server.shutdown().await;
}
