//! The store's conformance story (`latch_grant::conformance`), and the backends' own stories,
//! run against both backends: SQLite in a temporary file and a real PostgreSQL
//! (`LATCH_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`) in a schema of its
//! own, dropped afterwards.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use latch_grant::conformance::{grant, request, story};
use latch_grant::*;
use latch_store::{open, PostgresStore, SqliteStore};
use serde_json::json;

pub fn postgres_url() -> String {
    std::env::var("LATCH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn unique_schema(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("latch_test_{tag}_{}_{nanos}", std::process::id())
}

/// Tampering with rows of the stored log (as someone with database access could, after
/// disabling the append-only triggers) is detected by `audit_verify`.
async fn tamper_story(
    store: Arc<dyn Store>,
    raw: impl Fn(&'static str) -> tokio::task::JoinHandle<()>,
) {
    let t0: Millis = 1_700_000_000_000;
    for i in 0..4 {
        store
            .commit(Changeset::audit_only(vec![AuditEvent::new(
                t0 + i,
                "test.entry",
            )
            .details(json!({"i": i}))]))
            .await
            .unwrap();
    }
    assert!(store.audit_verify().await.unwrap().is_intact());
    raw("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
        .await
        .unwrap();
    let v = store.audit_verify().await.unwrap();
    assert_eq!(v.breaks.len(), 1, "{v:?}");
    assert_eq!(v.breaks[0].seq, 2);
    assert!(v.breaks[0].problem.contains("edited"));
    raw("DELETE FROM audit_log WHERE seq = 3").await.unwrap();
    let v = store.audit_verify().await.unwrap();
    assert!(
        v.breaks
            .iter()
            .any(|b| b.seq == 4 && b.problem.contains("sequence")),
        "{v:?}"
    );
}

/// The log cut short (its newest entries deleted, or all of them) while the requests and grants
/// they explain remain: `audit_verify` fails, naming the rows, although the chain that is left
/// is consistent. Replacing the removed entries with others fails too.
async fn truncation_story(
    store: Arc<dyn Store>,
    raw: impl Fn(&'static str) -> tokio::task::JoinHandle<()>,
) {
    let t0: Millis = 1_700_000_000_000;
    let r1 = request("r-1", "alice", t0);
    store
        .commit(Changeset {
            requests: vec![Write::Insert(r1.clone())],
            audit: vec![AuditEvent::new(t0, "request.created").subject("r-1")],
            ..Changeset::default()
        })
        .await
        .unwrap();
    for i in 0..3 {
        store
            .commit(Changeset::audit_only(vec![AuditEvent::new(
                t0 + i,
                "test.tick",
            )]))
            .await
            .unwrap();
    }
    let mut approved = r1.clone();
    approved.status = RequestStatus::Approved;
    store
        .commit(Changeset {
            requests: vec![Write::Update(approved)],
            grants: vec![Write::Insert(grant("g-1", &r1, t0 + 10))],
            audit: vec![
                AuditEvent::new(t0 + 10, "request.approved").subject("r-1"),
                AuditEvent::new(t0 + 10, "grant.created").subject("g-1"),
            ],
            ..Changeset::default()
        })
        .await
        .unwrap();
    // A row written without an entry of its own names the head it was written at.
    let mut g = store.grant("g-1").await.unwrap().unwrap();
    g.status = GrantStatus::Active;
    store
        .commit(Changeset {
            grants: vec![Write::Update(g)],
            ..Changeset::default()
        })
        .await
        .unwrap();
    store
        .commit(Changeset::audit_only(vec![AuditEvent::new(
            t0 + 20,
            "test.tick",
        )]))
        .await
        .unwrap();
    let v = store.audit_verify().await.unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.count, 7);

    // The newest entry alone (about no row) cannot be missed by the rows: that is what an
    // anchored head or count is for.
    raw("DELETE FROM audit_log WHERE seq = 7").await.unwrap();
    let v = store.audit_verify().await.unwrap();
    assert!(v.is_intact(), "{v:?}");

    // Remove the entries of the approval: the chain left is consistent, the rows are not.
    raw("DELETE FROM audit_log WHERE seq >= 5").await.unwrap();
    let left = store.audit(0, 0).await.unwrap();
    assert!(audit::verify(&left).is_intact());
    let v = store.audit_verify().await.unwrap();
    assert!(!v.is_intact(), "{v:?}");
    let all = v.problems.join("\n");
    assert!(
        all.contains("request `r-1`") && all.contains("grant `g-1`") && all.contains("seq 6"),
        "{all}"
    );
    assert!(all.contains("holds 4"), "{all}");

    // Put other entries in their place: the rows remember the hashes, so that fails too.
    store
        .commit(Changeset::audit_only(vec![
            AuditEvent::new(t0 + 30, "test.forged"),
            AuditEvent::new(t0 + 31, "test.forged"),
        ]))
        .await
        .unwrap();
    let v = store.audit_verify().await.unwrap();
    assert!(v.breaks.is_empty(), "{v:?}");
    let all = v.problems.join("\n");
    assert!(
        all.contains("request `r-1`") && all.contains("rewritten"),
        "{all}"
    );

    // Empty the log: every row names an entry that is gone.
    raw("DELETE FROM audit_log").await.unwrap();
    let v = store.audit_verify().await.unwrap();
    assert_eq!(v.count, 0);
    assert!(!v.is_intact(), "{v:?}");
    let all = v.problems.join("\n");
    assert!(
        all.contains("request `r-1`") && all.contains("empty"),
        "{all}"
    );
}

/// Rows written before rows named their entry get the newest entry about them when the
/// database is upgraded (the backfill statements of the migration, run again here).
async fn backfill_story(
    store: Arc<dyn Store>,
    backfill: &str,
    raw: impl Fn(String) -> tokio::task::JoinHandle<()>,
) {
    let t0: Millis = 1_700_000_000_000;
    let r1 = request("r-1", "alice", t0);
    store
        .commit(Changeset {
            requests: vec![Write::Insert(r1.clone())],
            grants: vec![Write::Insert(grant("g-1", &r1, t0))],
            audit: vec![
                AuditEvent::new(t0, "request.created").subject("r-1"),
                AuditEvent::new(t0, "grant.created").subject("g-1"),
                AuditEvent::new(t0, "test.tick"),
            ],
            ..Changeset::default()
        })
        .await
        .unwrap();
    let before = store.audit_references().await.unwrap();
    assert!(before.iter().all(|r| r.seq == Some(3)), "{before:?}");
    let statements: String = backfill
        .lines()
        .filter(|l| l.starts_with("UPDATE"))
        .collect::<Vec<_>>()
        .join("\n");
    raw("UPDATE requests SET audit_seq = NULL, audit_hash = NULL; \
         UPDATE grants SET audit_seq = NULL, audit_hash = NULL"
        .to_owned())
    .await
    .unwrap();
    let v = store.audit_verify().await.unwrap();
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("request `r-1` names no audit entry")),
        "{v:?}"
    );
    raw(statements).await.unwrap();
    let refs = store.audit_references().await.unwrap();
    let seq = |id: &str| refs.iter().find(|r| r.id == id).unwrap().seq;
    assert_eq!((seq("r-1"), seq("g-1")), (Some(1), Some(2)), "{refs:?}");
    assert!(store.audit_verify().await.unwrap().is_intact());
}

#[tokio::test]
async fn sqlite_story() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latch.db");
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    story(a, b).await;
}

#[tokio::test]
async fn sqlite_tamper_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
    // The append-only triggers refuse edits first.
    store
        .commit(Changeset::audit_only(vec![AuditEvent::new(1, "x")]))
        .await
        .unwrap();
    let err = store
        .execute_raw("UPDATE audit_log SET kind = 'y'")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    store
        .execute_raw("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log")
        .await
        .unwrap();
    let raw_store = store.clone();
    tamper_story(store.clone(), move |sql| {
        let s = raw_store.clone();
        tokio::spawn(async move {
            s.execute_raw(sql).await.unwrap();
        })
    })
    .await;
}

#[tokio::test]
async fn sqlite_truncation_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
    store
        .execute_raw("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete")
        .await
        .unwrap();
    let raw_store = store.clone();
    truncation_story(store.clone(), move |sql| {
        let s = raw_store.clone();
        tokio::spawn(async move {
            s.execute_raw(sql).await.unwrap();
        })
    })
    .await;
}

#[tokio::test]
async fn postgres_truncation_detected() {
    let schema = unique_schema("trunc");
    let url = postgres_url();
    let store = Arc::new(PostgresStore::connect(&url, Some(&schema)).await.unwrap());
    store
        .execute_raw("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
        .await
        .unwrap();
    let raw_store = store.clone();
    truncation_story(store.clone(), move |sql| {
        let s = raw_store.clone();
        tokio::spawn(async move {
            s.execute_raw(sql).await.unwrap();
        })
    })
    .await;
    store
        .execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test]
async fn sqlite_backfill() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
    let raw_store = store.clone();
    backfill_story(
        store.clone(),
        include_str!("../migrations/sqlite/0002_audit_references.sql"),
        move |sql| {
            let s = raw_store.clone();
            tokio::spawn(async move {
                s.execute_raw(&sql).await.unwrap();
            })
        },
    )
    .await;
}

#[tokio::test]
async fn postgres_backfill() {
    let schema = unique_schema("backfill");
    let url = postgres_url();
    let store = Arc::new(PostgresStore::connect(&url, Some(&schema)).await.unwrap());
    let raw_store = store.clone();
    backfill_story(
        store.clone(),
        include_str!("../migrations/postgres/0002_audit_references.sql"),
        move |sql| {
            let s = raw_store.clone();
            tokio::spawn(async move {
                s.execute_raw(&sql).await.unwrap();
            })
        },
    )
    .await;
    store
        .execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test]
async fn postgres_story() {
    let schema = unique_schema("story");
    let url = postgres_url();
    let a = Arc::new(PostgresStore::connect(&url, Some(&schema)).await.unwrap());
    let b = Arc::new(PostgresStore::connect(&url, Some(&schema)).await.unwrap());
    story(a.clone(), b.clone()).await;
    a.execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn postgres_tamper_detected() {
    let schema = unique_schema("tamper");
    let url = postgres_url();
    let store = Arc::new(PostgresStore::connect(&url, Some(&schema)).await.unwrap());
    store
        .commit(Changeset::audit_only(vec![AuditEvent::new(1, "x")]))
        .await
        .unwrap();
    let err = store
        .execute_raw("DELETE FROM audit_log")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    store
        .execute_raw(
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change; DELETE FROM audit_log",
        )
        .await
        .unwrap();
    let raw_store = store.clone();
    tamper_story(store.clone(), move |sql| {
        let s = raw_store.clone();
        tokio::spawn(async move {
            s.execute_raw(sql).await.unwrap();
        })
    })
    .await;
    store
        .execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test]
async fn postgres_leader_released_when_connection_dies() {
    let schema = unique_schema("lead");
    let url = postgres_url();
    let a = PostgresStore::connect(&url, Some(&schema)).await.unwrap();
    let b = PostgresStore::connect(&url, Some(&schema)).await.unwrap();
    assert!(a.try_lead("a", 0, 1000).await.unwrap());
    assert!(!b.try_lead("b", 0, 1000).await.unwrap());
    // "Kill" server a: its connections go away without a release.
    a.close().await;
    drop(a);
    let mut took_over = false;
    for _ in 0..50 {
        if b.try_lead("b", 0, 1000).await.unwrap() {
            took_over = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(took_over);
    b.execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    b.close().await;
}

#[tokio::test]
async fn sqlite_restarted_server_resumes_its_lease_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lease.db");
    let ttl = 60_000;
    let old = SqliteStore::open(&path).await.unwrap();
    assert!(old.try_lead("srv-1", 0, ttl).await.unwrap());
    // The process dies without releasing; the same server (same id) starts again long before
    // the lease expires: it leads at once, so nothing due meanwhile waits for the lease.
    let restarted = SqliteStore::open(&path).await.unwrap();
    assert!(restarted.try_lead("srv-1", 1_000, ttl).await.unwrap());
    // Another server still waits for the lease to expire.
    let other = SqliteStore::open(&path).await.unwrap();
    assert!(!other.try_lead("srv-2", 2_000, ttl).await.unwrap());
    // Had the old process been alive (two processes configured with the same id), it lost the
    // lease to the newer one and does not take it back: one leader, not two.
    assert!(!old.try_lead("srv-1", 3_000, ttl).await.unwrap());
    assert!(
        restarted.try_lead("srv-1", 4_000, ttl).await.unwrap(),
        "renewal"
    );
    assert!(!old.try_lead("srv-1", 5_000, ttl).await.unwrap());
    // Releasing is the holder's: the superseded process cannot release the newer one's lease.
    old.release_lead("srv-1").await.unwrap();
    assert!(!other.try_lead("srv-2", 6_000, ttl).await.unwrap());
    // Once it expires, anyone may take it.
    assert!(other.try_lead("srv-2", 4_000 + ttl + 1, ttl).await.unwrap());
}

/// The database holds token hashes and who asked for what: a new file, and the `-wal` and
/// `-shm` files SQLite makes beside it, are readable by their owner only, whatever the umask.
#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .commit(Changeset::audit_only(vec![AuditEvent::new(
            1,
            "test.write",
        )]))
        .await
        .unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("private.db{suffix}"));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    assert!(latch_store::exposed_files(path.to_str().unwrap()).is_empty());
    // An older file others can read is reported (the server warns at start-up), not changed.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exposed = latch_store::exposed_files(&format!("sqlite://{}", path.display()));
    assert_eq!(exposed, vec![(path.clone(), 0o644)]);
    assert!(latch_store::exposed_files("postgres://u@h/db").is_empty());
}

#[tokio::test]
async fn open_picks_the_backend_from_the_location() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path().join("x.db").to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(s.backend(), "sqlite");
    let err = open("postgres://nobody:secret@127.0.0.1:1/none")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(!msg.contains("secret"), "{msg}");
}

/// A database written before chat messages had a table of their own: opening it moves each
/// request's Slack message reference there, and the request rows keep everything else.
#[tokio::test]
async fn sqlite_slack_message_references_are_migrated() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let pool = SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    // The schema as the releases before it left it.
    let mut old = sqlx::migrate!("./migrations/sqlite");
    old.migrations = std::borrow::Cow::Owned(
        old.migrations
            .iter()
            .filter(|m| m.version < 4)
            .cloned()
            .collect(),
    );
    old.run(&pool).await.unwrap();
    for (id, channel, ts) in [
        ("r-1", Some("C1"), Some("1700000000.000100")),
        ("r-2", None, None),
    ] {
        sqlx::query(
            "INSERT INTO requests (id, requester, identity_kind, identity_id, bundle, \
             duration_secs, reason, status, source, break_glass, tier, tier_deadline, \
             required_approvals, created_at, decided_at, slack_channel, slack_ts, version) \
             VALUES ($1, 'alice', 'role', 'arn:aws:iam::111122223333:role/alice', 'iam-admin', \
             3600, 'incident 4411', 'pending', 'slack', 0, 0, NULL, 1, 1700000000000, NULL, \
             $2, $3, 0)",
        )
        .bind(id)
        .bind(channel)
        .bind(ts)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.messages("r-1").await.unwrap(),
        [ChatMessage {
            request_id: "r-1".into(),
            platform: "slack".into(),
            conversation: "C1".into(),
            message_id: "1700000000.000100".into(),
        }]
    );
    assert!(store.messages("r-2").await.unwrap().is_empty());
    let r1 = store.request("r-1").await.unwrap().unwrap();
    assert_eq!(
        (r1.requester.as_str(), r1.status),
        ("alice", RequestStatus::Pending)
    );
}

/// Many commits at once, as a loaded server makes them (they share transactions): each lands
/// or fails on its own. Duplicates and stale updates in the same batches as good changesets
/// fail alone, with nothing of theirs written; every good one is stored with its entries in
/// order, consecutive; the chain and the rows' references verify. `second` is another handle
/// (another server) committing at the same time.
async fn concurrent_commits_story(store: Arc<dyn Store>, second: Arc<dyn Store>) {
    let t0: Millis = 1_700_000_000_000;
    let r0 = request("r-base", "alice", t0);
    store
        .commit(Changeset {
            requests: vec![Write::Insert(r0.clone())],
            audit: vec![AuditEvent::new(t0, "request.created").subject("r-base")],
            ..Changeset::default()
        })
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..120_i64 {
        let handle = if i % 3 == 0 { &second } else { &store };
        let handle = Arc::clone(handle);
        let r0 = r0.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("r-{i}");
            let (changes, should_land) = match i % 10 {
                // A duplicate of a stored request.
                3 => (
                    Changeset {
                        requests: vec![Write::Insert(r0.clone())],
                        audit: vec![AuditEvent::new(t0 + i, "dup.a").subject(&id)],
                        ..Changeset::default()
                    },
                    false,
                ),
                // An update from a version that never was.
                7 => {
                    let mut stale = r0.clone();
                    stale.version = 41;
                    stale.reason = "stale".into();
                    (
                        Changeset {
                            requests: vec![Write::Update(stale)],
                            audit: vec![AuditEvent::new(t0 + i, "stale.a").subject(&id)],
                            ..Changeset::default()
                        },
                        false,
                    )
                }
                _ => {
                    let r = request(&id, "bob", t0 + i);
                    let g = grant(&format!("g-{i}"), &r, t0 + i);
                    (
                        Changeset {
                            requests: vec![Write::Insert(r)],
                            grants: vec![Write::Insert(g)],
                            audit: vec![
                                AuditEvent::new(t0 + i, "request.created").subject(&id),
                                AuditEvent::new(t0 + i, "grant.created").subject(&id),
                            ],
                            ..Changeset::default()
                        },
                        true,
                    )
                }
            };
            let outcome = handle.commit(changes).await;
            (i, should_land, outcome)
        }));
    }
    let mut landed = 0;
    for t in tasks {
        let (i, should_land, outcome) = t.await.unwrap();
        if should_land {
            outcome.unwrap_or_else(|e| panic!("commit {i} failed: {e}"));
            landed += 1;
        } else {
            assert!(
                matches!(outcome, Err(StoreError::Conflict(_))),
                "commit {i}: {outcome:?}"
            );
        }
    }
    // Nothing of the refused ones, everything of the others, each one's entries together.
    let stored = store.request("r-base").await.unwrap().unwrap();
    assert_eq!(stored, r0);
    let log = second.audit(0, 0).await.unwrap();
    assert_eq!(log.len(), 1 + 2 * landed);
    assert!(log.iter().all(|e| e.kind != "dup.a" && e.kind != "stale.a"));
    for pair in log[1..].chunks(2) {
        assert_eq!(pair[0].kind, "request.created");
        assert_eq!(pair[1].kind, "grant.created");
        assert_eq!(pair[0].subject, pair[1].subject);
        let id = pair[0].subject.clone().unwrap();
        assert!(store.request(&id).await.unwrap().is_some(), "{id}");
    }
    let refs = store.audit_references().await.unwrap();
    assert_eq!(refs.len(), 1 + 2 * landed);
    let check = store.audit_verify().await.unwrap();
    assert!(check.is_intact(), "{check:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latch.db");
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    concurrent_commits_story(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_commits() {
    let schema = unique_schema("concurrent");
    let url = postgres_url();
    let a = Arc::new(PostgresStore::connect(&url, Some(&schema)).await.unwrap());
    let b = Arc::new(PostgresStore::connect(&url, Some(&schema)).await.unwrap());
    concurrent_commits_story(a.clone(), b.clone()).await;
    a.execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    a.close().await;
    b.close().await;
}

/// SQLite reads a page of grants (a limit of 1 to 1,000) on the caller's thread, and every other
/// list through sqlx: for every filter the API and the scheduler use, a page is exactly the
/// first grants of the whole list, in the same order, and the same as PostgreSQL's.
#[tokio::test]
async fn pages_of_grants_are_the_head_of_the_whole_list_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("p.db")).await.unwrap());
    let schema = unique_schema("pages");
    let pg = Arc::new(
        PostgresStore::connect(&postgres_url(), Some(&schema))
            .await
            .unwrap(),
    );
    let postgres: Arc<dyn Store> = pg.clone();
    let t0: Millis = 1_700_000_000_000;
    let statuses = [
        GrantStatus::Approved,
        GrantStatus::Active,
        GrantStatus::Expiring,
        GrantStatus::Revoking,
        GrantStatus::Expired,
        GrantStatus::Revoked,
    ];
    for store in [&sqlite, &postgres] {
        let mut changes = Changeset::default();
        for i in 0..150_i64 {
            let mut r = request(&format!("r-{i:03}"), &format!("p{}", i % 6), t0);
            r.bundle = format!("b{}", i % 3);
            r.status = RequestStatus::Approved;
            // Expiries collide in threes: the id decides between them.
            let mut g = grant(&format!("g-{:03}", (i * 37) % 150), &r, t0);
            g.expires_at = t0 + (i / 3) * 60_000;
            g.status = statuses[usize::try_from(i % 6).unwrap()];
            changes.requests.push(Write::Insert(r));
            changes.grants.push(Write::Insert(g));
        }
        store.commit(changes).await.unwrap();
    }
    let live = GrantStatus::LIVE.to_vec();
    let mut checked = 0;
    for statuses in [
        vec![],
        vec![GrantStatus::Active],
        live.clone(),
        vec![GrantStatus::Expired, GrantStatus::Revoked],
    ] {
        for requester in [None, Some("p1".to_owned())] {
            for bundle in [None, Some("b2".to_owned())] {
                for expires_at_most in [None, Some(t0 + 20 * 60_000)] {
                    let whole = GrantQuery {
                        statuses: statuses.clone(),
                        requester: requester.clone(),
                        bundle: bundle.clone(),
                        expires_at_most,
                        ..GrantQuery::default()
                    };
                    let all = sqlite.grants(&whole).await.unwrap();
                    assert_eq!(all, postgres.grants(&whole).await.unwrap(), "{whole:?}");
                    for limit in [1, 7, 50, 1000] {
                        let page = GrantQuery {
                            limit,
                            ..whole.clone()
                        };
                        let head: Vec<_> = all
                            .iter()
                            .take(usize::try_from(limit).unwrap())
                            .cloned()
                            .collect();
                        assert_eq!(sqlite.grants(&page).await.unwrap(), head, "sqlite {page:?}");
                        assert_eq!(
                            postgres.grants(&page).await.unwrap(),
                            head,
                            "postgres {page:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 4 * 2 * 2 * 2 * 4);
    // The identity and request filters, and a query that matches nothing.
    for q in [
        GrantQuery {
            identity_id: Some("arn:aws:iam::111122223333:role/p2".into()),
            bundle: Some("b2".into()),
            statuses: live.clone(),
            limit: 5,
            ..GrantQuery::default()
        },
        GrantQuery {
            request_id: Some("r-010".into()),
            limit: 5,
            ..GrantQuery::default()
        },
        GrantQuery {
            requester: Some("nobody".into()),
            limit: 5,
            ..GrantQuery::default()
        },
    ] {
        let page = sqlite.grants(&q).await.unwrap();
        assert_eq!(page, postgres.grants(&q).await.unwrap(), "{q:?}");
        assert_eq!(
            page.is_empty(),
            q.requester.as_deref() == Some("nobody"),
            "{q:?}"
        );
    }
    pg.execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
}
