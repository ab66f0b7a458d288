//! IAM Identity Center people, end to end through the `latch` binary against the moto emulator
//! and a fake Slack on loopback: users, a group, two permission sets and assignments over two
//! accounts in moto's Identity Center; `latch collect` and `latch scan` (the people section);
//! then `latch serve` with `[identity_center]` syncs them. alice (found in Slack by her email)
//! asks for a bundle on one account, bob approves as a member of the `Security` group, and her
//! `aws:userid` on that account's role — only that one — joins the applied Latch SCP's
//! exemptions; expiry removes it; a second request, for both accounts at once from the command
//! line, is approved once into an exemption on each account's role, both revoked when she is
//! removed from the identity store and the directory is synced.
//!
//! moto 5.2.5 provisions no `AWSReservedSSO_*` role (the test creates them where AWS would)
//! and its users have no status, so "deactivated" is played by deleting the user: the sync
//! treats both alike (unit tests of `latch_grant::directory` cover deactivation).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../server/tests/common/mod.rs"]
mod common;
mod serve_process;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serve_process::serve;

use aws_sdk_identitystore::types::{Email, MemberId, Name};
use aws_sdk_ssoadmin::types::{PrincipalType, TargetType};
use common::{click_body, slash_body, FakeSlack, SIGNING_SECRET};
use latch_aws::testing::{self, build_org, iam_in};
use serde_json::Value;

const SSO_PATH: &str = "/aws-reserved/sso.amazonaws.com/";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:saml-provider/AWSSSO_0123456789abcdef_DO_NOT_DELETE"},"Action":["sts:AssumeRoleWithSAML","sts:TagSession"]}]}"#;
/// The applied Latch SCP: `privilege-escalation`'s actions denied unless the bundle is granted (a
/// principal tag, or an exemption by `aws:userid` for Identity Center people).
const LATCH_SCP: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"LatchPermission1","Effect":"Deny","Action":["iam:PassRole","iam:CreateAccessKey"],"Resource":"*","Condition":{"Null":{"aws:PrincipalTag/latch:grant:privilege-escalation":"true"},"StringNotLike":{"aws:userid":"AROAPLAN0001:maria@example.com"}}}]}"#;

fn latch(dir: &Path, env: &[(&str, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latch"))
        .current_dir(dir)
        .envs(env.iter().cloned())
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

async fn slack_post(http: &reqwest::Client, url: &str, path: &str, body: &str) {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let sig = latch_server::slack::sign(SIGNING_SECRET, &ts, body.as_bytes());
    let resp = http
        .post(format!("{url}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// Wait up to 20 s for `f` to give something.
async fn until<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn identity_center_people_get_grants_on_one_account_role() {
    let _guard = testing::lock();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(story());
}

#[allow(clippy::too_many_lines)]
async fn story() {
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let aws = moto.aws();
    let fx = build_org(&aws).await.unwrap();
    let env = moto.env();

    // Identity Center: alice is assigned AdministratorAccess on two accounts, bob is in
    // Security (the approvers), and everyone in Engineers reads both.
    let sso = aws_sdk_ssoadmin::Client::new(aws.sdk_config());
    let ids = aws_sdk_identitystore::Client::new(aws.sdk_config());
    let instance = sso.list_instances().send().await.unwrap().instances()[0].clone();
    let instance_arn = instance.instance_arn().unwrap().to_owned();
    let store_id = instance.identity_store_id().unwrap().to_owned();
    let mut users = Vec::new();
    for name in ["alice", "bob"] {
        let email = Email::builder()
            .value(format!("{name}@example.com"))
            .primary(true)
            .build();
        let id = ids
            .create_user()
            .identity_store_id(&store_id)
            .user_name(name)
            .display_name(name)
            .name(
                Name::builder()
                    .given_name(name)
                    .family_name("Example")
                    .build(),
            )
            .emails(email)
            .send()
            .await
            .unwrap()
            .user_id()
            .to_owned();
        users.push(id);
    }
    let (alice, bob) = (users[0].clone(), users[1].clone());
    let mut groups = Vec::new();
    for (group, member) in [("Security", &bob), ("Engineers", &alice)] {
        let id = ids
            .create_group()
            .identity_store_id(&store_id)
            .display_name(group)
            .send()
            .await
            .unwrap()
            .group_id()
            .to_owned();
        ids.create_group_membership()
            .identity_store_id(&store_id)
            .group_id(&id)
            .member_id(MemberId::UserId(member.clone()))
            .send()
            .await
            .unwrap();
        groups.push(id);
    }
    let mut sets = Vec::new();
    for name in ["AdministratorAccess", "ReadOnly"] {
        let arn = sso
            .create_permission_set()
            .instance_arn(&instance_arn)
            .name(name)
            .session_duration("PT8H")
            .send()
            .await
            .unwrap()
            .permission_set()
            .unwrap()
            .permission_set_arn()
            .unwrap()
            .to_owned();
        sets.push(arn);
    }
    for account in [&fx.app_prod, &fx.app_dev] {
        for (set, kind, principal) in [
            (&sets[0], PrincipalType::User, &alice),
            (&sets[1], PrincipalType::Group, &groups[1]),
        ] {
            sso.create_account_assignment()
                .instance_arn(&instance_arn)
                .permission_set_arn(set)
                .target_id(account)
                .target_type(TargetType::AwsAccount)
                .principal_type(kind)
                .principal_id(principal)
                .send()
                .await
                .unwrap();
        }
    }
    // The roles AWS provisions for the assignments (moto does not).
    let mut admin_role = std::collections::BTreeMap::new();
    for account in [&fx.app_prod, &fx.app_dev] {
        let iam = iam_in(&aws, account).await.unwrap();
        for set in ["AdministratorAccess", "ReadOnly"] {
            let id = iam
                .create_role()
                .role_name(format!("AWSReservedSSO_{set}_0123456789abcdef"))
                .path(SSO_PATH)
                .assume_role_policy_document(TRUST)
                .send()
                .await
                .unwrap()
                .role()
                .unwrap()
                .role_id()
                .to_owned();
            if set == "AdministratorAccess" {
                admin_role.insert(account.clone(), id);
            }
        }
    }
    // The firewall's applied SCP, as `latch apply` leaves it.
    let org = aws.organizations();
    let managed = aws_sdk_organizations::types::Tag::builder()
        .key("latch:managed")
        .value("true")
        .build()
        .unwrap();
    let scp = org
        .create_policy()
        .name("latch-scp-root-1")
        .description("Latch")
        .r#type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .content(LATCH_SCP)
        .tags(managed)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .policy_summary()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    org.attach_policy()
        .policy_id(&scp)
        .target_id(&fx.root)
        .send()
        .await
        .unwrap();
    let exemptions = || async {
        let d = org.describe_policy().policy_id(&scp).send().await.unwrap();
        let v: Value = serde_json::from_str(d.policy().unwrap().content().unwrap()).unwrap();
        let list = &v["Statement"][0]["Condition"]["StringNotLike"]["aws:userid"];
        match list {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_owned()).collect(),
            _ => Vec::new(),
        }
    };

    // Collect, then scan per person: alice reaches both accounts as AdministratorAccess.
    let dir = tempfile::tempdir().unwrap();
    ok(&latch(
        dir.path(),
        &env,
        &[
            "collect",
            "--out",
            "snap",
            "--endpoint-url",
            &moto.endpoint,
            "--max-attempts",
            "1",
        ],
    ));
    assert!(dir.path().join("snap/identity-center.json").is_file());
    let scan: Value = serde_json::from_str(&ok(&latch(
        dir.path(),
        &env,
        &["scan", "--snapshot", "snap", "--format", "json"],
    )))
    .unwrap();
    let people = scan["people"].as_array().unwrap();
    let alice_report = people.iter().find(|p| p["user_name"] == "alice").unwrap();
    let reached: Vec<(&str, &str)> = alice_report["access"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["account"].as_str().unwrap(),
                a["permission_set"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        reached.contains(&(fx.app_prod.as_str(), "AdministratorAccess"))
            && reached.contains(&(fx.app_dev.as_str(), "AdministratorAccess")),
        "{reached:?}"
    );

    // The server: people and groups from Identity Center, Slack found by email.
    let (slack, slack_base) = FakeSlack::start().await;
    slack.add_user("UALICE", "alice@example.com");
    slack.add_user("UBOB", "bob@example.com");
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

[slack]
signing_secret = "{SIGNING_SECRET}"
bot_token = "xoxb-test-token"
api_base = "{slack_base}/api"
approvals_channel = "CAPPROVALS"

[identity_center]
instance_arn = "{instance_arn}"
refresh = "1h"

[bundles.privilege-escalation]
max_duration = "1h"
approvers = ["ic-group:Security"]
"#,
        endpoint = moto.endpoint,
    );
    std::fs::write(dir.path().join("latch.toml"), config).unwrap();
    let admin = ok(&latch(
        dir.path(),
        &env,
        &[
            "token",
            "create",
            "--database",
            "latch.db",
            "--subject",
            "admin",
            "--role",
            "admin",
        ],
    ))
    .lines()
    .next()
    .unwrap()
    .to_owned();
    let _server = serve(dir.path(), port, &env);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    // alice asks for privilege-escalation on app-prod as AdministratorAccess (she also reads it
    // through Engineers) in Slack; bob, in Security, is asked and approves.
    let ask = |text: &str, n: u32| slash_body("UALICE", text, &format!("{slack_base}/respond/{n}"));
    // The leader's first sync runs at start; ask until alice is known.
    let mut n = 0;
    until("alice known to the server", || {
        n += 1;
        let body = ask(
            &format!(
                "request privilege-escalation 3s account={} as=AdministratorAccess INC-1",
                fx.app_prod
            ),
            n,
        );
        let (http, url, slack) = (http.clone(), url.clone(), slack.clone());
        async move {
            slack_post(&http, &url, "/slack/commands", &body).await;
            let reply = slack.wait_for(&format!("respond/{n}"), |_| true).await;
            reply["text"]
                .as_str()
                .unwrap()
                .contains("sent to approvers: bob")
                .then_some(())
        }
    })
    .await;
    let msg = slack
        .wait_for("chat.postMessage", |v| v["channel"] == "CAPPROVALS")
        .await;
    assert!(msg["blocks"].to_string().contains("<@UBOB>"), "{msg}");
    let request_id = msg["blocks"][2]["elements"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let click = click_body(
        "UBOB",
        "latch_approve",
        &request_id,
        &format!("{slack_base}/respond/90"),
    );
    slack_post(&http, &url, "/slack/interactions", &click).await;

    // Her exemption is her user id on app-prod's role, and nothing on app-dev's.
    let on_prod = format!("{}:alice", admin_role[&fx.app_prod]);
    let on_dev = format!("{}:alice", admin_role[&fx.app_dev]);
    let granted = until("alice's exemption in the SCP", || async {
        let e = exemptions().await;
        e.contains(&on_prod).then_some(e)
    })
    .await;
    assert!(!granted.contains(&on_dev), "{granted:?}");
    assert!(granted.contains(&"AROAPLAN0001:maria@example.com".to_owned()));
    // Expiry (3 s) removes exactly it.
    until("alice's exemption removed at expiry", || async {
        let e = exemptions().await;
        (!e.contains(&on_prod) && e.contains(&"AROAPLAN0001:maria@example.com".to_owned()))
            .then_some(())
    })
    .await;

    // A second request, for both accounts at once from the command line, live when alice
    // leaves the identity store: approved once, one exemption per account's role; the next
    // sync revokes both.
    let alice_token = ok(&latch(
        dir.path(),
        &env,
        &[
            "token",
            "create",
            "--database",
            "latch.db",
            "--subject",
            "alice",
            "--role",
            "requester",
        ],
    ))
    .lines()
    .next()
    .unwrap()
    .to_owned();
    let asked = ok(&latch(
        dir.path(),
        &[("LATCH_SERVER", url.clone()), ("LATCH_TOKEN", alice_token)],
        &[
            "request",
            "privilege-escalation",
            "30m",
            "INC-2",
            "--account",
            &format!("{},{}", fx.app_prod, fx.app_dev),
            "--permission-set",
            "AdministratorAccess",
            "--format",
            "json",
        ],
    ));
    let asked: Value = serde_json::from_str(&asked).unwrap();
    assert_eq!(asked["request"]["status"], "pending", "{asked}");
    assert_eq!(
        asked["request"]["targets"].as_array().unwrap().len(),
        2,
        "{asked}"
    );
    let msg = slack
        .wait_for("chat.postMessage", |v| {
            v["channel"] == "CAPPROVALS" && !v["blocks"].to_string().contains(&request_id)
        })
        .await;
    let second = msg["blocks"][2]["elements"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let click = click_body(
        "UBOB",
        "latch_approve",
        &second,
        &format!("{slack_base}/respond/91"),
    );
    slack_post(&http, &url, "/slack/interactions", &click).await;
    until("both grants applied", || async {
        let e = exemptions().await;
        (e.contains(&on_prod) && e.contains(&on_dev)).then_some(())
    })
    .await;
    ids.delete_user()
        .identity_store_id(&store_id)
        .user_id(&alice)
        .send()
        .await
        .unwrap();
    let synced = ok(&latch(
        dir.path(),
        &[
            ("LATCH_SERVER", url.clone()),
            ("LATCH_TOKEN", admin.clone()),
        ],
        &["directory", "sync", "--format", "json"],
    ));
    let synced: Value = serde_json::from_str(&synced).unwrap();
    assert_eq!(synced["synced"]["removed"], 1, "{synced}");
    assert_eq!(synced["synced"]["grants_revoked"], 2, "{synced}");
    until("alice's exemptions removed after she left", || async {
        let e = exemptions().await;
        (!e.contains(&on_prod) && !e.contains(&on_dev)).then_some(())
    })
    .await;
}
