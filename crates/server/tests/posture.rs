//! The posture page, on SQLite and on a real PostgreSQL: an admin pushes a scan report, a plan
//! and a prove report through the API (the same document twice is kept once; what is not one
//! of them, or comes from a requester, is refused); the page shows the counts by severity, the
//! identities with standing privilege, the escalation path as its chain of steps with how to
//! fix it, the plan's layers and budget, the scenarios blocked and three trend charts; an
//! auditor reads it, a requester gets a 403. And the posture folder: a scan written there
//! reaches the page without a push.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[macro_use]
mod common;

use common::*;
use latch_grant::{AuditSearch, Role};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

on_both!(pushing_and_reading_the_posture);

fn scan_doc(standing: usize) -> Value {
    let unused: Vec<String> = (0..standing).map(|i| format!("iam:Action{i}")).collect();
    json!({
        "as_of": "2026-11-20T00:00:00Z",
        "as_of_source": "given",
        "window_days": 90,
        "usage_analysed": true,
        "not_analysed": [],
        "accounts_without_events": [],
        "unused_services": [],
        "unused_services_by_ou": [],
        "people": [],
        "principals": [
            {"arn": "arn:aws:iam::300000000004:role/ci-deploy", "account": "300000000004",
             "kind": "role", "sensitive_actions": unused, "used": [], "unused": unused,
             "unknown": [], "unconditional_actions": 5, "allowed_actions": 9,
             "admin_equivalent": false, "last_activity": "2026-11-19T10:00:00Z",
             "blast_radius": ["300000000004"]},
            {"arn": "arn:aws:iam::300000000004:role/<img src=x>", "account": "300000000004",
             "kind": "role", "sensitive_actions": [], "used": [], "unused": [], "unknown": [],
             "unconditional_actions": 0, "allowed_actions": 0, "admin_equivalent": false,
             "last_activity": null, "blast_radius": []}
        ],
        "findings": [
            {"id": "escalation-path:ci", "kind": "escalation-path", "severity": "critical",
             "principal": "arn:aws:iam::300000000004:role/ci-deploy", "account": "300000000004",
             "detail": "can make itself admin-equivalent in 1 step", "items": [],
             "usage_unknown": []},
            {"id": "standing-privilege:ci", "kind": "standing-privilege", "severity": "high",
             "principal": "arn:aws:iam::300000000004:role/ci-deploy", "account": "300000000004",
             "detail": "holds sensitive permissions it did not use", "items": ["iam:Action0"],
             "usage_unknown": []},
            {"id": "zombie-identity:old", "kind": "zombie-identity", "severity": "medium",
             "principal": "arn:aws:iam::300000000004:user/<img src=x>", "account": "300000000004",
             "detail": "no activity for 90 days", "items": [], "usage_unknown": []}
        ],
        "escalation_paths": [
            {"from": "arn:aws:iam::300000000004:role/ci-deploy", "to": "arn:aws:iam::300000000004:role/data-admin",
             "steps": [{"technique": "update-trust", "actions": ["iam:UpdateAssumeRolePolicy"],
                        "from": "arn:aws:iam::300000000004:role/ci-deploy",
                        "to": "arn:aws:iam::300000000004:role/data-admin",
                        "detail": "rewrites the trust of data-admin"}]}
        ]
    })
}

fn plan_doc() -> Value {
    use latch_firewall::plan::{LayerSummary, PlanOrganization, TargetBudget, TypeBudget};
    let plan = latch_firewall::Plan {
        format: latch_firewall::plan::FORMAT.into(),
        organization: PlanOrganization {
            root_id: "r-x1y2".into(),
            management_account_id: "100000000001".into(),
        },
        limits: None,
        policies: Vec::new(),
        tags: Vec::new(),
        exemptions: Vec::new(),
        summary: latch_firewall::plan::PlanSummary {
            mode: "enforce".into(),
            accounts: 6,
            layers: vec![LayerSummary {
                layer: "permission".into(),
                rules: 5,
                permissions_removed: 12939,
                identities: 33,
                used_calls_broken: 0,
                line: "12939 sensitive permissions removed from 33 identities".into(),
            }],
            budget: vec![TargetBudget {
                target: "r-x1y2".into(),
                name: "Root".into(),
                kind: "root".into(),
                scp: Some(TypeBudget {
                    existing: 3,
                    latch: 4,
                    slots: 10,
                    chars: 31417,
                    max_chars: 40960,
                }),
                rcp: None,
            }],
            ..latch_firewall::plan::PlanSummary::default()
        },
    };
    serde_json::to_value(plan).unwrap()
}

fn prove_doc() -> Value {
    json!({
        "format": "latch.prove/v1",
        "region": "us-east-1",
        "summary": {"scenarios": 2, "blocked": 1, "not_blocked": 1, "skipped": 0, "detected": 2, "feasible_today": 2},
        "scenarios": [
            {"id": "access-key-for-admin-user", "name": "Access key for a more privileged user",
             "kind": "persistence", "technique": "create-credentials", "status": "blocked",
             "attacker": null, "attacker_chosen": "named in the scenario", "target": null,
             "detection": {"method": "escalation-path", "status": "detected", "detail": "found"},
             "feasible_today": true, "blocked_by": ["latch-scp-r-x1y2-3/LatchPermission2"],
             "problem": null, "steps": []},
            {"id": "stop-cloudtrail", "name": "Stop the organization trail",
             "kind": "defense-evasion", "technique": null, "status": "not-blocked",
             "attacker": null, "attacker_chosen": "named in the scenario", "target": null,
             "detection": {"method": "effective-permissions", "status": "detected", "detail": "found"},
             "feasible_today": true, "blocked_by": [],
             "problem": "no statement of the plan denies cloudtrail:StopLogging", "steps": []}
        ]
    })
}

async fn push(server: &TestServer, token: &str, body: &Value) -> (u16, Value) {
    let r = server
        .http
        .post(format!("{}/api/v1/posture", server.url))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The page as `token`'s holder sees it after signing in: status and body.
async fn posture_page(server: &TestServer, token: &str) -> (u16, String) {
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/login", server.url))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let r = http
        .get(format!("{}/posture", server.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn pushing_and_reading_the_posture(backend: Backend) {
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let server = start_server(&slack_base, "a", &store, &cloud, &clock).await;
    let admin = token(&store, "carol", Role::Admin).await;
    let auditor = token(&store, "erin", Role::Auditor).await;
    let alice = token(&store, "alice", Role::Requester).await;

    // Nothing pushed yet: the page says how to push.
    let (status, body) = posture_page(&server, &admin).await;
    assert_eq!(status, 200);
    assert!(body.contains("latch report push"), "{body}");

    // An older scan first, for the trend; then the current one.
    clock.advance(86_400_000);
    let (status, first) = push(&server, &admin, &scan_doc(4)).await;
    assert_eq!(
        (status, first["kind"].as_str()),
        (201, Some("scan")),
        "{first}"
    );
    assert_eq!(first["figures"]["standing_permissions"], 4);
    clock.advance(86_400_000);
    let (status, second) = push(&server, &admin, &scan_doc(12)).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["figures"]["critical"], 1);
    // The same document again is known: nothing new is kept.
    let (status, again) = push(&server, &admin, &scan_doc(12)).await;
    assert_eq!((status, again["unchanged"].as_bool()), (200, Some(true)));
    assert_eq!(again["digest"], second["digest"]);
    let (status, plan) = push(&server, &admin, &plan_doc()).await;
    assert_eq!(
        (status, plan["kind"].as_str()),
        (201, Some("plan")),
        "{plan}"
    );
    assert_eq!(plan["figures"]["permissions_removed"], 12939);
    let (status, prove) = push(&server, &admin, &prove_doc()).await;
    assert_eq!(
        (status, prove["kind"].as_str()),
        (201, Some("prove")),
        "{prove}"
    );

    // Refused: not one of the three, a plan the planner's reader refuses, a requester.
    let (status, bad) = push(&server, &admin, &json!({"hello": "world"})).await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("bad_posture"))
    );
    let mut broken = plan_doc();
    broken["policies"] = json!([{"name": "not-latch", "type": "SERVICE_CONTROL_POLICY",
        "content": "{}", "targets": ["r-x1y2"]}]);
    let (status, bad) = push(&server, &admin, &broken).await;
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("not a plan"),
        "{bad}"
    );
    let (status, _) = push(&server, &alice, &scan_doc(1)).await;
    assert_eq!(status, 403);

    // Each kept push is audited, by whom and with its digest.
    let (pushed, total) = store
        .audit_search(&AuditSearch {
            kind_prefix: Some("posture.".into()),
            ..AuditSearch::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 4, "{pushed:?}");
    assert!(pushed.iter().all(|e| e.actor.as_deref() == Some("carol")));
    assert_eq!(pushed[3].details["sha256"], first["digest"]);

    // The API gives the latest of each kind.
    let latest: Value = server
        .http
        .get(format!("{}/api/v1/posture", server.url))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(latest["scan"]["summary"]["standing_permissions"], 12);
    assert_eq!(latest["plan"]["summary"]["mode"], "enforce");
    assert_eq!(latest["prove"]["summary"]["summary"]["not_blocked"], 1);

    // The page, as an admin and as an auditor.
    for who in [&admin, &auditor] {
        let (status, body) = posture_page(&server, who).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(r#"<li class="tile critical"><span class="n">1</span> critical</li>"#),
            "{body}"
        );
        assert!(body.contains("1 of 1 identities"), "{body}");
        assert!(body.contains("12 / 12"), "{body}");
        // The path as a chain of steps, and how to break it from the rule file's guide.
        assert!(
            body.contains(
                r##"<li class="step"><a href="#technique-update-trust">update-trust</a>"##
            ),
            "{body}"
        );
        assert!(
            body.contains("To break it, close the first step: Grant <code>iam:UpdateAssumeRolePolicy</code> only to the identity administrators"),
            "{body}"
        );
        // Every finding's kind says how to fix it.
        assert!(body.contains(r#"id="kind-zombie-identity""#), "{body}");
        assert!(body.contains("Find the owner; if there is none"), "{body}");
        // The plan's layers and budget, the scenarios.
        assert!(body.contains("<td>12939</td>"), "{body}");
        assert!(body.contains("7/10 (4 Latch)"), "{body}");
        assert!(body.contains("<strong>1 of 2 blocked</strong>"), "{body}");
        assert!(body.contains("no statement of the plan denies cloudtrail:StopLogging"));
        assert!(
            body.contains(r#"id="technique-create-credentials""#),
            "{body}"
        );
        // Three charts; the standing-privilege one has the two scans.
        assert_eq!(body.matches("<svg").count(), 3, "{body}");
        assert!(
            body.contains("Identities with standing privilege, per scan: from 1 on"),
            "{body}"
        );
        // What the documents say is text, never markup.
        assert!(!body.contains("<img src=x>"));
        assert!(body.contains("user/&lt;img src=x&gt;"), "{body}");
    }
    let (status, body) = posture_page(&server, &alice).await;
    assert_eq!(status, 403, "{body}");
    server.shutdown().await;
}

/// A scan written to the posture folder reaches the page without a push; once read, the same
/// file is not kept again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_posture_folder_is_read_by_the_leader() {
    let backend = Backend::sqlite();
    let (_slack, slack_base, store, cloud, clock) = setup(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plan")).unwrap();
    std::fs::write(
        dir.path().join("scan.json"),
        serde_json::to_vec(&scan_doc(7)).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("plan").join("plan.json"),
        serde_json::to_vec(&plan_doc()).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("prove.json"), b"{not json").unwrap();
    let mut config = test_config(&slack_base, "a");
    config.web.posture_dir = Some(dir.path().to_owned());
    config.web.posture_every_ms = 1_000;
    let server = TestServer::start(config, store.clone(), cloud.clone(), clock.clone()).await;
    let admin = token(&store, "carol", Role::Admin).await;
    let kept = eventually(5_000, "the folder read", || async {
        let plan = store.posture_latest("plan").await.unwrap();
        let scan = store.posture_latest("scan").await.unwrap();
        scan.zip(plan)
    })
    .await;
    assert!(kept.0.pushed_by.starts_with("directory:"), "{:?}", kept.0);
    assert!(kept.0.body.contains("\"standing_permissions\":7"));
    // The unreadable prove.json is not kept; read again later, nothing more is kept.
    clock.advance(5_000);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(store.posture_latest("prove").await.unwrap().is_none());
    assert_eq!(
        store.posture_figures("scan", 0).await.unwrap().len(),
        1,
        "an unchanged file is kept once"
    );
    let (status, body) = posture_page(&server, &admin).await;
    assert_eq!(status, 200);
    assert!(body.contains("7 / 7"), "{body}");
    server.shutdown().await;
    backend.cleanup().await;
}
