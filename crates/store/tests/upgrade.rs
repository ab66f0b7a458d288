//! Upgrading from the first released schema: a database that only the first migration ever
//! touched, holding what a server of that release wrote (requests in every state, approvals,
//! grants, a Slack message reference, an API token, a replay nonce, the scheduler lease and a
//! hash-chained audit log), is opened by the current code. Every later migration runs, the old
//! rows read back as they were written, the rows name the audit entries the log holds, the
//! chain verifies across the upgrade and new entries extend it.
//!
//! The rows are written with the SQL of that release (its columns, its spelling of every
//! status) and the audit hashes are computed here by the chain rule as that release defined it
//! (`hash = hex(SHA-256(prev_hash ‖ "\n" ‖ canonical JSON of the entry without its hash))`),
//! not through the current code, so a change to either that breaks old databases fails this
//! test. SQLite in a temporary file; PostgreSQL (`LATCH_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`) in a schema of its own, dropped afterwards.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::str::FromStr as _;

use latch_grant::*;
use latch_store::{PostgresStore, SqliteStore};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const T0: Millis = 1_764_000_000_000;
const MIN: Millis = 60_000;

fn postgres_url() -> String {
    std::env::var("LATCH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The first release's migrations only: the schema its servers ran on.
fn first_release(mut migrator: sqlx::migrate::Migrator) -> sqlx::migrate::Migrator {
    let first: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version == 1)
        .cloned()
        .collect();
    assert_eq!(first.len(), 1, "the first migration is version 1");
    migrator.migrations = std::borrow::Cow::Owned(first);
    migrator
}

/// Every migration version the current code ships.
fn versions(migrator: &sqlx::migrate::Migrator) -> BTreeSet<i64> {
    migrator.migrations.iter().map(|m| m.version).collect()
}

// ---- The chain rule of the first release, spelled out independently of the current code ----

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// One audit entry as the first release stored it.
#[derive(Debug, Clone)]
struct OldEntry {
    seq: i64,
    at: Millis,
    kind: &'static str,
    actor: Option<&'static str>,
    subject: &'static str,
    details: Value,
    prev_hash: String,
    hash: String,
}

/// Seal `events` into a chain from the genesis hash, as the first release did.
fn chain(
    events: Vec<(
        Millis,
        &'static str,
        Option<&'static str>,
        &'static str,
        Value,
    )>,
) -> Vec<OldEntry> {
    let mut prev = "0".repeat(64);
    let mut out = Vec::new();
    for (i, (at, kind, actor, subject, details)) in events.into_iter().enumerate() {
        let seq = i64::try_from(i).unwrap() + 1;
        let mut body = String::new();
        canonical(
            &json!({
                "seq": seq, "at": at, "kind": kind, "actor": actor, "subject": subject,
                "details": details, "prev_hash": prev,
            }),
            &mut body,
        );
        let mut hasher = Sha256::new();
        hasher.update(prev.as_bytes());
        hasher.update(b"\n");
        hasher.update(body.as_bytes());
        let mut hash = String::new();
        for b in hasher.finalize() {
            write!(hash, "{b:02x}").unwrap();
        }
        out.push(OldEntry {
            seq,
            at,
            kind,
            actor,
            subject,
            details,
            prev_hash: prev.clone(),
            hash: hash.clone(),
        });
        prev = hash;
    }
    out
}

// ---- What a server of the first release wrote ----

const ALICE: &str = "arn:aws:iam::111122223333:role/alice-dev";
const CAROL: &str = "arn:aws:iam::111122223333:user/carol";
const DAVE: &str = "AROAEXAMPLEDAVE:dave@example.com";
const ERIN: &str = "arn:aws:iam::111122223333:role/erin-oncall";
const TOKEN_HASH: &str = "5d41402abc4b2a76b9719d911017c592ae1d2b0e5b1b8b5f0f2b6a1d7c3e9f00";

fn grant_details(
    request: &str,
    identity: &str,
    kind: &str,
    bundle: &str,
    expires: Millis,
    bg: bool,
) -> Value {
    json!({
        "request_id": request, "identity": identity, "identity_kind": kind, "bundle": bundle,
        "expires_at": expires, "break_glass": bg,
    })
}

/// The audit log: r-1 approved and its grant g-1 active; r-2 denied; r-3 pending; r-4 granted
/// under break-glass, its grant g-2 revoked early; then r-3 escalated to its second tier.
fn old_log() -> Vec<OldEntry> {
    let g1_expires = T0 + MIN + 3_600_000;
    let g2_expires = T0 + 5 * MIN + 900_000;
    chain(vec![
        (
            T0,
            "request.created",
            Some("alice"),
            "r-1",
            json!({
            "bundle": "iam-admin", "identity": ALICE, "duration_secs": 3600,
            "reason": "rotate the deploy key", "source": "slack", "break_glass": false}),
        ),
        (
            T0 + MIN,
            "approval.approve",
            Some("bob"),
            "r-1",
            json!({"comment": "ok", "tier": 0}),
        ),
        (
            T0 + MIN,
            "request.approved",
            Some("bob"),
            "r-1",
            json!({"approvers": ["bob"], "grant_id": "g-1"}),
        ),
        (
            T0 + MIN,
            "grant.created",
            None,
            "g-1",
            grant_details("r-1", ALICE, "role", "iam-admin", g1_expires, false),
        ),
        (
            T0 + MIN + 10_000,
            "grant.applied",
            None,
            "g-1",
            grant_details("r-1", ALICE, "role", "iam-admin", g1_expires, false),
        ),
        (
            T0 + 2 * MIN,
            "request.created",
            Some("carol"),
            "r-2",
            json!({
            "bundle": "s3-admin", "identity": CAROL, "duration_secs": 7200,
            "reason": "clean up old buckets", "source": "api", "break_glass": false}),
        ),
        (
            T0 + 3 * MIN,
            "approval.deny",
            Some("bob"),
            "r-2",
            json!({"comment": "use the lifecycle rule", "tier": 0}),
        ),
        (
            T0 + 3 * MIN,
            "request.denied",
            Some("bob"),
            "r-2",
            json!({"comment": "use the lifecycle rule"}),
        ),
        (
            T0 + 4 * MIN,
            "request.created",
            Some("dave"),
            "r-3",
            json!({
            "bundle": "billing", "identity": DAVE, "duration_secs": 1800,
            "reason": "vérifier les factures — Q3", "source": "cli", "break_glass": false}),
        ),
        (
            T0 + 5 * MIN,
            "request.created",
            Some("erin"),
            "r-4",
            json!({
            "bundle": "iam-admin", "identity": ERIN, "duration_secs": 900,
            "reason": "incident 4411", "source": "api", "break_glass": true}),
        ),
        (
            T0 + 5 * MIN,
            "request.break_glass",
            Some("erin"),
            "r-4",
            json!({
            "severity": "critical", "bundle": "iam-admin", "identity": ERIN,
            "reason": "incident 4411", "grant_id": "g-2",
            "note": "granted without approval under break-glass"}),
        ),
        (
            T0 + 5 * MIN,
            "grant.created",
            None,
            "g-2",
            grant_details("r-4", ERIN, "role", "iam-admin", g2_expires, true),
        ),
        (
            T0 + 5 * MIN + 10_000,
            "grant.applied",
            None,
            "g-2",
            grant_details("r-4", ERIN, "role", "iam-admin", g2_expires, true),
        ),
        (
            T0 + 9 * MIN + 50_000,
            "grant.revoke_requested",
            Some("bob"),
            "g-2",
            {
                let mut d = grant_details("r-4", ERIN, "role", "iam-admin", g2_expires, true);
                d["reason"] = json!("incident closed");
                d["session_cutoff"] = json!(T0 + 9 * MIN + 50_000);
                d
            },
        ),
        (T0 + 10 * MIN, "grant.revoked", None, "g-2", {
            let mut d = grant_details("r-4", ERIN, "role", "iam-admin", g2_expires, true);
            d["revoked_by"] = json!("bob");
            d["reason"] = json!("incident closed");
            d["session_cutoff"] = json!(T0 + 9 * MIN + 50_000);
            d["sessions_cut_off"] = json!(true);
            d["tag_removed"] = json!(true);
            d
        }),
        (
            T0 + 34 * MIN,
            "request.escalated",
            None,
            "r-3",
            json!({"tier": 1, "approvers": ["finance-leads"]}),
        ),
    ])
}

/// A request row of the first release.
struct OldRequest {
    id: &'static str,
    requester: &'static str,
    kind: &'static str,
    identity: &'static str,
    bundle: &'static str,
    duration_secs: i64,
    reason: &'static str,
    status: &'static str,
    source: &'static str,
    break_glass: bool,
    tier: i32,
    tier_deadline: Option<Millis>,
    created_at: Millis,
    decided_at: Option<Millis>,
    /// Channel and `ts` of its Slack approval message.
    slack: Option<(&'static str, &'static str)>,
    version: i64,
}

fn old_requests() -> [OldRequest; 4] {
    [
        OldRequest {
            id: "r-1",
            requester: "alice",
            kind: "role",
            identity: ALICE,
            bundle: "iam-admin",
            duration_secs: 3600,
            reason: "rotate the deploy key",
            status: "approved",
            source: "slack",
            break_glass: false,
            tier: 0,
            tier_deadline: None,
            created_at: T0,
            decided_at: Some(T0 + MIN),
            slack: Some(("C0LATCH", "1764000000.000100")),
            version: 1,
        },
        OldRequest {
            id: "r-2",
            requester: "carol",
            kind: "user",
            identity: CAROL,
            bundle: "s3-admin",
            duration_secs: 7200,
            reason: "clean up old buckets",
            status: "denied",
            source: "api",
            break_glass: false,
            tier: 0,
            tier_deadline: None,
            created_at: T0 + 2 * MIN,
            decided_at: Some(T0 + 3 * MIN),
            slack: None,
            version: 1,
        },
        OldRequest {
            id: "r-3",
            requester: "dave",
            kind: "identity_center",
            identity: DAVE,
            bundle: "billing",
            duration_secs: 1800,
            reason: "vérifier les factures — Q3",
            status: "pending",
            source: "cli",
            break_glass: false,
            tier: 1,
            tier_deadline: Some(T0 + 64 * MIN),
            created_at: T0 + 4 * MIN,
            decided_at: None,
            slack: Some(("C0LATCH", "1764000240.000200")),
            version: 1,
        },
        OldRequest {
            id: "r-4",
            requester: "erin",
            kind: "role",
            identity: ERIN,
            bundle: "iam-admin",
            duration_secs: 900,
            reason: "incident 4411",
            status: "approved",
            source: "api",
            break_glass: true,
            tier: 0,
            tier_deadline: None,
            created_at: T0 + 5 * MIN,
            decided_at: Some(T0 + 5 * MIN),
            slack: None,
            version: 0,
        },
    ]
}

fn text(s: Option<&str>) -> String {
    s.map_or_else(
        || "NULL".to_owned(),
        |s| format!("'{}'", s.replace('\'', "''")),
    )
}

fn int(n: Option<Millis>) -> String {
    n.map_or_else(|| "NULL".to_owned(), |n| n.to_string())
}

/// The first release's rows, as SQL both backends of that release accept (`TRUE`/`FALSE` are
/// 1/0 in SQLite's INTEGER columns).
fn old_rows(log: &[OldEntry]) -> String {
    let mut sql = String::new();
    for r in old_requests() {
        writeln!(
            sql,
            "INSERT INTO requests (id, requester, identity_kind, identity_id, bundle, \
             duration_secs, reason, status, source, break_glass, tier, tier_deadline, \
             required_approvals, created_at, decided_at, slack_channel, slack_ts, version) \
             VALUES ('{}', '{}', '{}', '{}', '{}', {}, {}, '{}', '{}', {}, {}, {}, 1, {}, {}, \
             {}, {}, {});",
            r.id,
            r.requester,
            r.kind,
            r.identity,
            r.bundle,
            r.duration_secs,
            text(Some(r.reason)),
            r.status,
            r.source,
            if r.break_glass { "TRUE" } else { "FALSE" },
            r.tier,
            int(r.tier_deadline),
            r.created_at,
            int(r.decided_at),
            text(r.slack.map(|s| s.0)),
            text(r.slack.map(|s| s.1)),
            r.version,
        )
        .unwrap();
    }
    writeln!(
        sql,
        "INSERT INTO approvals (request_id, approver, decision, at, comment) VALUES \
         ('r-1', 'bob', 'approve', {}, 'ok'), ('r-2', 'bob', 'deny', {}, 'use the lifecycle rule');",
        T0 + MIN,
        T0 + 3 * MIN
    )
    .unwrap();
    writeln!(
        sql,
        "INSERT INTO grants (id, request_id, requester, identity_kind, identity_id, bundle, \
         status, break_glass, created_at, activated_at, expires_at, ended_at, revoked_by, \
         revoke_reason, session_cutoff, version) VALUES \
         ('g-1', 'r-1', 'alice', 'role', '{ALICE}', 'iam-admin', 'active', FALSE, {}, {}, {}, \
          NULL, NULL, NULL, NULL, 1), \
         ('g-2', 'r-4', 'erin', 'role', '{ERIN}', 'iam-admin', 'revoked', TRUE, {}, {}, {}, {}, \
          'bob', 'incident closed', {}, 3);",
        T0 + MIN,
        T0 + MIN + 10_000,
        T0 + MIN + 3_600_000,
        T0 + 5 * MIN,
        T0 + 5 * MIN + 10_000,
        T0 + 5 * MIN + 900_000,
        T0 + 10 * MIN,
        T0 + 9 * MIN + 50_000,
    )
    .unwrap();
    for e in log {
        writeln!(
            sql,
            "INSERT INTO audit_log (seq, at, kind, actor, subject, details, prev_hash, hash) \
             VALUES ({}, {}, '{}', {}, '{}', {}, '{}', '{}');",
            e.seq,
            e.at,
            e.kind,
            text(e.actor),
            e.subject,
            text(Some(&e.details.to_string())),
            e.prev_hash,
            e.hash
        )
        .unwrap();
    }
    writeln!(
        sql,
        "INSERT INTO api_tokens (id, subject, role, secret_hash, created_at, revoked_at) VALUES \
         ('t-1', 'ci', 'admin', '{TOKEN_HASH}', {T0}, NULL);\n\
         INSERT INTO nonces (key, expires_at) VALUES ('slack:1764000000.000100', {});\n\
         INSERT INTO leases (name, holder, expires_at) VALUES ('scheduler', 'server-a', {});",
        T0 + 5 * MIN,
        T0 + 11 * MIN
    )
    .unwrap();
    sql
}

// ---- What the current code must find ----

async fn check_upgraded(store: &dyn Store, log: &[OldEntry]) {
    // The old rows, as written.
    let r1 = store.request("r-1").await.unwrap().unwrap();
    assert_eq!(
        (
            r1.requester.as_str(),
            r1.identity.kind,
            r1.identity.id.as_str(),
            r1.bundle.as_str()
        ),
        ("alice", IdentityKind::Role, ALICE, "iam-admin")
    );
    assert_eq!(
        (r1.status, r1.duration_secs, r1.version),
        (RequestStatus::Approved, 3600, 1)
    );
    assert_eq!(
        (r1.source.as_str(), r1.decided_at),
        ("slack", Some(T0 + MIN))
    );
    let r2 = store.request("r-2").await.unwrap().unwrap();
    assert_eq!(
        (r2.status, r2.identity.kind),
        (RequestStatus::Denied, IdentityKind::User)
    );
    let r3 = store.request("r-3").await.unwrap().unwrap();
    assert_eq!(
        (r3.status, r3.tier, r3.tier_deadline, r3.identity.kind),
        (
            RequestStatus::Pending,
            1,
            Some(T0 + 64 * MIN),
            IdentityKind::IdentityCenter
        )
    );
    assert_eq!(r3.reason, "vérifier les factures — Q3");
    let r4 = store.request("r-4").await.unwrap().unwrap();
    assert!(r4.break_glass);
    // Fields that came later have their neutral value on old rows.
    for r in [&r1, &r2, &r3, &r4] {
        assert_eq!(
            (r.account.as_ref(), r.permission_set.as_ref()),
            (None, None),
            "{}",
            r.id
        );
        assert!(r.more_targets.is_empty() && r.extends.is_none() && r.starts_at.is_none());
    }
    let pending = store
        .requests(&RequestQuery {
            status: Some(RequestStatus::Pending),
            ..RequestQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        pending.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r-3"]
    );

    let approvals = store.approvals("r-1").await.unwrap();
    assert_eq!(approvals.len(), 1);
    assert_eq!(
        (
            approvals[0].approver.as_str(),
            approvals[0].decision,
            approvals[0].comment.as_deref()
        ),
        ("bob", Decision::Approve, Some("ok"))
    );
    assert_eq!(
        store.approvals("r-2").await.unwrap()[0].decision,
        Decision::Deny
    );

    // Slack message references moved to the chat messages of their request.
    assert_eq!(
        store.messages("r-1").await.unwrap(),
        [ChatMessage {
            request_id: "r-1".into(),
            platform: "slack".into(),
            conversation: "C0LATCH".into(),
            message_id: "1764000000.000100".into(),
        }]
    );
    assert!(store.messages("r-2").await.unwrap().is_empty());
    assert_eq!(store.messages("r-3").await.unwrap().len(), 1);

    let g1 = store.grant("g-1").await.unwrap().unwrap();
    assert_eq!(
        (
            g1.status,
            g1.request_id.as_str(),
            g1.expires_at,
            g1.activated_at
        ),
        (
            GrantStatus::Active,
            "r-1",
            T0 + MIN + 3_600_000,
            Some(T0 + MIN + 10_000)
        )
    );
    assert_eq!(
        (g1.reminded_at, g1.starts_at, g1.account.as_ref()),
        (None, None, None)
    );
    let g2 = store.grant("g-2").await.unwrap().unwrap();
    assert_eq!(
        (
            g2.status,
            g2.revoked_by.as_deref(),
            g2.revoke_reason.as_deref()
        ),
        (GrantStatus::Revoked, Some("bob"), Some("incident closed"))
    );
    assert_eq!(
        (g2.session_cutoff, g2.version),
        (Some(T0 + 9 * MIN + 50_000), 3)
    );
    // The scheduler's queries over the later indexes find the old grants.
    let live = store
        .grants(&GrantQuery {
            statuses: GrantStatus::LIVE.to_vec(),
            ..GrantQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        live.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        ["g-1"]
    );
    let erin = store
        .grants(&GrantQuery {
            identity_id: Some(ERIN.into()),
            ..GrantQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(erin.len(), 1);

    let token = store.token_by_hash(TOKEN_HASH).await.unwrap().unwrap();
    assert_eq!(
        (token.id.as_str(), token.subject.as_str(), token.role),
        ("t-1", "ci", Role::Admin)
    );
    assert_eq!(token.revoked_at, None);
    // The nonce the old server remembered is still a replay until it expires.
    assert!(!store
        .remember_nonce("slack:1764000000.000100", T0 + 4 * MIN, T0 + 9 * MIN)
        .await
        .unwrap());

    // The audit log, entry for entry, and its chain.
    let entries = store.audit(0, 0).await.unwrap();
    assert_eq!(entries.len(), log.len());
    for (got, old) in entries.iter().zip(log) {
        assert_eq!(
            (
                got.seq,
                got.at,
                got.kind.as_str(),
                got.actor.as_deref(),
                got.subject.as_deref()
            ),
            (old.seq, old.at, old.kind, old.actor, Some(old.subject))
        );
        assert_eq!(
            (&got.details, &got.prev_hash, &got.hash),
            (&old.details, &old.prev_hash, &old.hash)
        );
    }
    let head = log.last().unwrap();
    let check = store.audit_verify().await.unwrap();
    assert!(check.is_intact(), "{check:?}");
    assert_eq!(
        (check.count, check.head_hash.as_str()),
        (log.len(), head.hash.as_str())
    );
    // Each old row now names the newest entry about it (the upgrade's backfill), so cutting the
    // log short below it is detected from here on.
    let refs = store.audit_references().await.unwrap();
    let named = |id: &str| {
        let r = refs.iter().find(|r| r.id == id).unwrap();
        (r.seq, r.hash.clone())
    };
    for (id, seq) in [
        ("r-1", 3),
        ("r-2", 8),
        ("r-3", 16),
        ("r-4", 11),
        ("g-1", 5),
        ("g-2", 15),
    ] {
        let entry = &log[usize::try_from(seq - 1).unwrap()];
        assert_eq!(named(id), (Some(seq), Some(entry.hash.clone())), "{id}");
    }

    // The scheduler lease of the old server lapsed; a new server takes it over.
    assert!(store
        .try_lead("server-b", T0 + 12 * MIN, 30_000)
        .await
        .unwrap());

    // The current code carries on the chain from the old head: revoke g-1.
    let mut revoking = g1.clone();
    revoking.status = GrantStatus::Revoking;
    revoking.revoked_by = Some("bob".into());
    revoking.revoke_reason = Some("rotation done".into());
    store
        .commit(Changeset {
            grants: vec![Write::Update(revoking)],
            audit: vec![AuditEvent::new(T0 + 20 * MIN, "grant.revoke_requested")
                .actor("bob")
                .subject("g-1")
                .details(json!({"reason": "rotation done"}))],
            ..Changeset::default()
        })
        .await
        .unwrap();
    let entries = store.audit(0, 0).await.unwrap();
    let new = entries.last().unwrap();
    assert_eq!(
        (new.seq, new.prev_hash.as_str()),
        (head.seq + 1, head.hash.as_str())
    );
    let check = store.audit_verify().await.unwrap();
    assert!(check.is_intact(), "{check:?}");
    assert_eq!(check.count, log.len() + 1);
    assert_eq!(named_after(store, "g-1").await, Some(head.seq + 1));
    assert_eq!(store.grant("g-1").await.unwrap().unwrap().version, 2);
}

async fn named_after(store: &dyn Store, id: &str) -> Option<i64> {
    let refs = store.audit_references().await.unwrap();
    refs.into_iter().find(|r| r.id == id).and_then(|r| r.seq)
}

#[tokio::test]
async fn sqlite_database_of_the_first_release_upgrades_in_place() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
    use sqlx::Row as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latch.db");
    let current = sqlx::migrate!("./migrations/sqlite");
    let log = old_log();
    let pool = SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    first_release(sqlx::migrate!("./migrations/sqlite"))
        .run(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(&old_rows(&log)).execute(&pool).await.unwrap();
    pool.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    check_upgraded(&store, &log).await;
    drop(store);

    let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    let applied: BTreeSet<i64> = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i64, _>("version"))
        .collect();
    assert_eq!(applied, versions(&current));
    assert!(applied.len() > 1);
    pool.close().await;
    // Opening the upgraded database again changes nothing.
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(store.audit_verify().await.unwrap().is_intact());
}

#[tokio::test]
async fn postgres_database_of_the_first_release_upgrades_in_place() {
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use sqlx::{ConnectOptions as _, Connection as _, Row as _};
    let url = postgres_url();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = format!("latch_test_upgrade_{}_{nanos}", std::process::id());
    let current = sqlx::migrate!("./migrations/postgres");
    let log = old_log();
    let options = PgConnectOptions::from_str(&url).unwrap();
    let mut conn = options.connect().await.unwrap();
    sqlx::raw_sql(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.options([("search_path", schema.as_str())]))
        .await
        .unwrap();
    first_release(sqlx::migrate!("./migrations/postgres"))
        .run(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(&old_rows(&log)).execute(&pool).await.unwrap();

    let store = PostgresStore::connect(&url, Some(&schema)).await.unwrap();
    check_upgraded(&store, &log).await;
    let applied: BTreeSet<i64> = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i64, _>("version"))
        .collect();
    assert_eq!(applied, versions(&current));
    assert!(applied.len() > 1);
    pool.close().await;
    store
        .execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    store.close().await;
}
