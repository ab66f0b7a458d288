//! The conformance story of a [`Store`] backend: requests, approvals, grants and tokens
//! through their transitions, stale and duplicate writes refused as conflicts, the audit
//! chain and its references, replay nonces and the scheduler lease, on two handles of one
//! database. `latch-store` runs it against SQLite and PostgreSQL; a new backend runs it too
//! (feature `conformance`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::missing_panics_doc,
    clippy::too_many_lines
)]

use std::sync::Arc;

use serde_json::json;

use crate::*;

/// A pending request by `requester` for `iam-admin`, created at `at`.
pub fn request(id: &str, requester: &str, at: Millis) -> RequestRecord {
    RequestRecord {
        id: id.into(),
        requester: requester.into(),
        identity: Identity {
            kind: IdentityKind::Role,
            id: format!("arn:aws:iam::111122223333:role/{requester}"),
        },
        account: None,
        permission_set: None,
        more_targets: Vec::new(),
        starts_at: None,
        extends: None,
        bundle: "iam-admin".into(),
        duration_secs: 3600,
        reason: "incident 4411".into(),
        status: RequestStatus::Pending,
        source: "api".into(),
        break_glass: false,
        tier: 0,
        tier_deadline: Some(at + 900_000),
        required_approvals: 1,
        created_at: at,
        decided_at: None,
        version: 0,
    }
}

/// The approved grant of `req`, created at `at`.
pub fn grant(id: &str, req: &RequestRecord, at: Millis) -> GrantRecord {
    GrantRecord {
        id: id.into(),
        request_id: req.id.clone(),
        requester: req.requester.clone(),
        identity: req.identity.clone(),
        account: req.account.clone(),
        permission_set: req.permission_set.clone(),
        starts_at: None,
        bundle: req.bundle.clone(),
        status: GrantStatus::Approved,
        break_glass: false,
        created_at: at,
        activated_at: None,
        expires_at: at + req.duration_secs * 1000,
        ended_at: None,
        revoked_by: None,
        revoke_reason: None,
        session_cutoff: None,
        reminded_at: None,
        version: 0,
    }
}

/// The story every backend must tell the same way. `store` and `second` are two handles on
/// one empty database (two servers sharing it). Panics where the backend differs from the
/// contract.
pub async fn story(store: Arc<dyn Store>, second: Arc<dyn Store>) {
    let t0: Millis = 1_700_000_000_000;

    // A request is created with its audit entry, atomically.
    let r1 = request("r-1", "alice", t0);
    store
        .commit(Changeset {
            requests: vec![Write::Insert(r1.clone())],
            audit: vec![AuditEvent::new(t0, "request.created")
                .actor("alice")
                .subject("r-1")
                .details(json!({"bundle": "iam-admin", "duration_secs": 3600}))],
            ..Changeset::default()
        })
        .await
        .unwrap();
    assert_eq!(store.request("r-1").await.unwrap().unwrap(), r1);
    assert!(store.request("r-none").await.unwrap().is_none());

    // Inserting the same id again is a conflict and writes nothing (not even the audit).
    let err = store
        .commit(Changeset {
            requests: vec![Write::Insert(r1.clone())],
            audit: vec![AuditEvent::new(t0, "request.created")],
            ..Changeset::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(store.audit(0, 0).await.unwrap().len(), 1);

    // Where its approval messages were posted: every one of them, on every platform and
    // conversation (an escalation posts again, often in the same channel, and each message
    // must show the outcome); recording one twice keeps one; seen from the other handle too.
    let message = |platform: &str, conversation: &str, id: &str| ChatMessage {
        request_id: "r-1".into(),
        platform: platform.into(),
        conversation: conversation.into(),
        message_id: id.into(),
    };
    for m in [
        message("slack", "C1", "1700000000.000100"),
        message("teams", "19:abc@thread.tacv2", "1700000000100"),
        message("slack", "C1", "1700000000.000200"),
        message("slack", "C1", "1700000000.000200"),
    ] {
        store
            .commit(Changeset {
                messages: vec![m],
                ..Changeset::default()
            })
            .await
            .unwrap();
    }
    assert_eq!(
        second.messages("r-1").await.unwrap(),
        [
            message("slack", "C1", "1700000000.000100"),
            message("slack", "C1", "1700000000.000200"),
            message("teams", "19:abc@thread.tacv2", "1700000000100"),
        ]
    );
    assert!(store.messages("r-none").await.unwrap().is_empty());

    // Approve: request update at the version read + approval + grant + audit, in one go.
    let mut approved = r1.clone();
    approved.status = RequestStatus::Approved;
    approved.decided_at = Some(t0 + 5_000);
    let g1 = grant("g-1", &r1, t0 + 5_000);
    store
        .commit(Changeset {
            requests: vec![Write::Update(approved.clone())],
            approvals: vec![ApprovalRecord {
                request_id: "r-1".into(),
                approver: "bob".into(),
                decision: Decision::Approve,
                at: t0 + 5_000,
                comment: Some("ok".into()),
            }],
            grants: vec![Write::Insert(g1.clone())],
            audit: vec![
                AuditEvent::new(t0 + 5_000, "request.approved")
                    .actor("bob")
                    .subject("r-1"),
                AuditEvent::new(t0 + 5_000, "grant.created").subject("g-1"),
            ],
            tokens: Vec::new(),
            token_revocations: Vec::new(),
            messages: Vec::new(),
            directory: Vec::new(),
            posture: Vec::new(),
        })
        .await
        .unwrap();
    let stored = store.request("r-1").await.unwrap().unwrap();
    assert_eq!(stored.status, RequestStatus::Approved);
    assert_eq!(stored.version, 1, "the store bumps the version");

    // A second server racing with the stale version loses, and nothing of its changeset lands.
    let mut racing = r1.clone();
    racing.status = RequestStatus::Denied;
    let err = second
        .commit(Changeset {
            requests: vec![Write::Update(racing)],
            approvals: vec![ApprovalRecord {
                request_id: "r-1".into(),
                approver: "carol".into(),
                decision: Decision::Deny,
                at: t0 + 6_000,
                comment: None,
            }],
            audit: vec![AuditEvent::new(t0 + 6_000, "request.denied")],
            ..Changeset::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)));
    assert_eq!(store.approvals("r-1").await.unwrap().len(), 1);
    assert_eq!(store.audit(0, 0).await.unwrap().len(), 3);

    // The same approver cannot answer twice.
    let err = store
        .commit(Changeset {
            approvals: vec![ApprovalRecord {
                request_id: "r-1".into(),
                approver: "bob".into(),
                decision: Decision::Approve,
                at: t0 + 7_000,
                comment: None,
            }],
            ..Changeset::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already answered"), "{err}");

    // Grant lifecycle with optimistic versions.
    let mut g = store.grant("g-1").await.unwrap().unwrap();
    assert_eq!(g, g1);
    g.status = GrantStatus::Active;
    g.activated_at = Some(t0 + 5_100);
    store
        .commit(Changeset {
            grants: vec![Write::Update(g.clone())],
            ..Changeset::default()
        })
        .await
        .unwrap();
    // Replaying the same transition (as a second server would) fails: no double apply.
    assert!(second
        .commit(Changeset {
            grants: vec![Write::Update(g.clone())],
            ..Changeset::default()
        })
        .await
        .is_err());

    let r2 = request("r-2", "dave", t0 + 10_000);
    let mut g2 = grant("g-2", &r2, t0 + 10_000);
    g2.expires_at = t0 + 20_000;
    store
        .commit(Changeset {
            requests: vec![Write::Insert(r2)],
            grants: vec![Write::Insert(g2)],
            ..Changeset::default()
        })
        .await
        .unwrap();

    let live = store
        .grants(&GrantQuery {
            statuses: GrantStatus::LIVE.to_vec(),
            ..GrantQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        live.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        vec!["g-2", "g-1"],
        "soonest expiry first"
    );
    let active = store
        .grants(&GrantQuery {
            statuses: vec![GrantStatus::Active],
            identity_id: Some("arn:aws:iam::111122223333:role/alice".into()),
            bundle: Some("iam-admin".into()),
            ..GrantQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(active.len(), 1);
    let due = store
        .grants(&GrantQuery {
            statuses: GrantStatus::LIVE.to_vec(),
            expires_at_most: Some(t0 + 20_000),
            ..GrantQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        vec!["g-2"]
    );
    assert_eq!(active[0].version, 1);

    // The reminder that a grant ends soon is recorded once: the grant leaves the unreminded
    // ones, and a second server recording it too fails.
    let unreminded = |store: Arc<dyn Store>| async move {
        store
            .grants(&GrantQuery {
                statuses: vec![GrantStatus::Active],
                unreminded: true,
                ..GrantQuery::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(unreminded(Arc::clone(&store)).await, vec!["g-1"]);
    let mut reminded = active[0].clone();
    reminded.reminded_at = Some(t0 + 6_000);
    store
        .commit(Changeset {
            grants: vec![Write::Update(reminded.clone())],
            ..Changeset::default()
        })
        .await
        .unwrap();
    assert!(second
        .commit(Changeset {
            grants: vec![Write::Update(reminded)],
            ..Changeset::default()
        })
        .await
        .is_err());
    assert!(unreminded(Arc::clone(&store)).await.is_empty());
    let g1_now = store.grant("g-1").await.unwrap().unwrap();
    assert_eq!((g1_now.reminded_at, g1_now.version), (Some(t0 + 6_000), 2));

    let pending = store
        .requests(&RequestQuery {
            status: Some(RequestStatus::Pending),
            ..RequestQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        pending.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["r-2"]
    );
    let by_alice = store
        .requests(&RequestQuery {
            requester: Some("alice".into()),
            limit: 10,
            ..RequestQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_alice.len(), 1);

    // Audit: both servers append to one chain; it verifies; paging works.
    for i in 0..5 {
        let s = if i % 2 == 0 { &store } else { &second };
        s.commit(Changeset::audit_only(vec![AuditEvent::new(
            t0 + 30_000 + i,
            "test.tick",
        )
        .details(
            json!({"i": i, "nested": {"b": 1, "a": [true, null, "x"]}}),
        )]))
        .await
        .unwrap();
    }
    let all = store.audit(0, 0).await.unwrap();
    assert_eq!(all.len(), 8);
    assert_eq!(
        all.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    let page = store.audit(3, 2).await.unwrap();
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![4, 5]);
    let v = store.audit_verify().await.unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.count, 8);
    assert_eq!(v.head_hash, all[7].hash);

    // Export round trip.
    let text: String = all.iter().map(|r| audit::to_json_line(r) + "\n").collect();
    assert!(audit::verify(&audit::parse_json_lines(&text).unwrap()).is_intact());

    // Concurrent appends from both stores still form one chain.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = if i % 2 == 0 {
            store.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            s.commit(Changeset::audit_only(vec![AuditEvent::new(
                t0 + 40_000 + i,
                "test.race",
            )]))
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let v = store.audit_verify().await.unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.count, 28);

    // Tokens: stored by hash, Debug hides it, revocation.
    let token = TokenRecord {
        id: "t-1".into(),
        subject: "alice".into(),
        role: Role::Approver,
        secret_hash: "ab".repeat(32),
        created_at: t0,
        revoked_at: None,
    };
    store.create_token(&token).await.unwrap();
    assert!(!format!("{token:?}").contains(&"ab".repeat(32)));
    // A token and its audit entry land together or not at all: a second token with the same
    // id fails the whole changeset, and its entry is not appended.
    let entries = store.audit(0, 1_000_000).await.unwrap().len();
    let again = store
        .commit(Changeset {
            tokens: vec![TokenRecord {
                secret_hash: "cd".repeat(32),
                ..token.clone()
            }],
            ..Changeset::audit_only(vec![AuditEvent::new(t0, "token.created").subject("t-1")])
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.audit(0, 1_000_000).await.unwrap().len(), entries);
    assert!(store
        .token_by_hash(&"cd".repeat(32))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        second
            .token_by_hash(&"ab".repeat(32))
            .await
            .unwrap()
            .unwrap(),
        token
    );
    assert!(store.token_by_hash("nope").await.unwrap().is_none());
    assert_eq!(store.tokens().await.unwrap().len(), 1);
    assert!(store.revoke_token("t-1", t0 + 1).await.unwrap());
    assert!(!store.revoke_token("t-1", t0 + 2).await.unwrap());
    // Revoking a token that is not live fails the whole changeset: its entry is not appended.
    let entries = store.audit(0, 1_000_000).await.unwrap().len();
    let dead = store
        .commit(Changeset {
            token_revocations: vec![TokenRevocation {
                id: "t-1".into(),
                at: t0 + 3,
            }],
            ..Changeset::audit_only(vec![AuditEvent::new(t0, "token.revoked").subject("t-1")])
        })
        .await;
    assert!(matches!(dead, Err(StoreError::Conflict(_))), "{dead:?}");
    assert_eq!(store.audit(0, 1_000_000).await.unwrap().len(), entries);
    assert_eq!(
        store
            .token_by_hash(&"ab".repeat(32))
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(t0 + 1)
    );

    // The directory: people put and replaced by user id, removed, read back in user-id order
    // from either server; rows and their audit entries land together. A request and grant
    // for a person of the directory keep the account and permission set their grant is for.
    let person = |id: &str, name: &str, active: bool| directory::DirectoryPerson {
        user_id: id.into(),
        user_name: name.into(),
        display_name: Some(name.to_uppercase()),
        email: Some(format!("{name}@example.com")),
        active,
        groups: ["Platform".to_owned()].into_iter().collect(),
        roles: vec![directory::AccountRole {
            account: "111122223333".into(),
            permission_set: "AdministratorAccess".into(),
            role_id: Some("AROAEXAMPLE".into()),
        }],
    };
    store
        .commit(Changeset {
            directory: vec![
                directory::DirectoryWrite::Put(person("u-2", "bob", true)),
                directory::DirectoryWrite::Put(person("u-1", "dana", true)),
            ],
            ..Changeset::audit_only(vec![AuditEvent::new(t0, "directory.synced")])
        })
        .await
        .unwrap();
    assert_eq!(
        second.directory().await.unwrap(),
        vec![person("u-1", "dana", true), person("u-2", "bob", true)]
    );
    store
        .commit(Changeset {
            directory: vec![
                directory::DirectoryWrite::Put(person("u-1", "dana", false)),
                directory::DirectoryWrite::Remove("u-2".into()),
            ],
            ..Changeset::audit_only(vec![AuditEvent::new(t0, "directory.synced")])
        })
        .await
        .unwrap();
    assert_eq!(
        second.directory().await.unwrap(),
        vec![person("u-1", "dana", false)]
    );
    let mut ic = request("r-ic", "dana", t0);
    ic.identity = Identity {
        kind: IdentityKind::IdentityCenter,
        id: "AROAEXAMPLE:dana".into(),
    };
    ic.account = Some("111122223333".into());
    ic.permission_set = Some("AdministratorAccess".into());
    ic.extends = Some("g-1".into());
    ic.status = RequestStatus::Approved;
    // A request for several accounts keeps every target; its grants are found by its id.
    ic.more_targets = vec![Target {
        identity: Identity {
            kind: IdentityKind::IdentityCenter,
            id: "AROASECOND:dana".into(),
        },
        account: Some("444455556666".into()),
        permission_set: Some("AdministratorAccess".into()),
    }];
    let icg = grant("g-ic", &ic, t0);
    let mut icg2 = grant("g-ic-2", &ic, t0);
    icg2.identity = ic.more_targets[0].identity.clone();
    icg2.account = ic.more_targets[0].account.clone();
    store
        .commit(Changeset {
            requests: vec![Write::Insert(ic.clone())],
            grants: vec![Write::Insert(icg.clone()), Write::Insert(icg2.clone())],
            ..Changeset::audit_only(vec![AuditEvent::new(t0, "request.created").subject("r-ic")])
        })
        .await
        .unwrap();
    assert_eq!(second.request("r-ic").await.unwrap().unwrap(), ic);
    assert_eq!(second.grant("g-ic").await.unwrap().unwrap(), icg);
    let of_request = second
        .grants(&GrantQuery {
            request_id: Some("r-ic".into()),
            ..GrantQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(of_request, vec![icg.clone(), icg2.clone()]);
    let mut cancelled = ic.clone();
    cancelled.status = RequestStatus::Cancelled;
    store
        .commit(Changeset {
            requests: vec![Write::Update(cancelled)],
            ..Changeset::audit_only(vec![
                AuditEvent::new(t0, "request.cancelled").subject("r-ic")
            ])
        })
        .await
        .unwrap();
    assert_eq!(
        second.request("r-ic").await.unwrap().unwrap().status,
        RequestStatus::Cancelled
    );

    // Nonces: first sight true, replay false (from either server), forgotten after expiry.
    assert!(store
        .remember_nonce("sig-1", t0, t0 + 300_000)
        .await
        .unwrap());
    assert!(!second
        .remember_nonce("sig-1", t0 + 1, t0 + 300_001)
        .await
        .unwrap());
    assert!(second
        .remember_nonce("sig-1", t0 + 300_001, t0 + 600_000)
        .await
        .unwrap());

    // SIEM sinks: a cursor per sink, moved only forward from where it stands (compare-and-set:
    // two servers delivering at once never move it backwards), refusals counted until it moves,
    // and an entry given up on kept as a dead letter as the cursor moves past it, together.
    let head = store.audit(0, 0).await.unwrap().last().unwrap().seq;
    let fresh = second.sink_cursor("siem").await.unwrap();
    assert_eq!(fresh.lag(), head);
    assert_eq!(
        (
            fresh.delivered_seq,
            fresh.attempts,
            fresh.last_error,
            fresh.head_seq
        ),
        (0, 0, None, head)
    );
    assert!(store.advance_sink("siem", 0, 3, t0).await.unwrap());
    assert!(
        !second.advance_sink("siem", 0, 2, t0).await.unwrap(),
        "stale"
    );
    assert!(
        !second.advance_sink("siem", 3, 3, t0).await.unwrap(),
        "not forward"
    );
    assert_eq!(
        store
            .sink_failure("siem", 3, "HTTP 503", false, t0 + 1)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .sink_failure("siem", 3, "HTTP 400", true, t0 + 2)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        second
            .sink_failure("siem", 3, "HTTP 400", true, t0 + 3)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        second
            .sink_failure("siem", 2, "late", true, t0 + 4)
            .await
            .unwrap(),
        0,
        "a failure at a cursor that moved on is not counted"
    );
    let failing = store.sink_cursor("siem").await.unwrap();
    assert_eq!(
        (
            failing.delivered_seq,
            failing.attempts,
            failing.last_error,
            failing.updated_at
        ),
        (3, 2, Some("HTTP 400".to_owned()), Some(t0 + 3))
    );
    assert!(store
        .dead_letter("siem", 4, "HTTP 400", t0 + 5)
        .await
        .unwrap());
    assert!(!second
        .dead_letter("siem", 4, "HTTP 400", t0 + 6)
        .await
        .unwrap());
    assert!(!second
        .dead_letter("siem", 9, "HTTP 400", t0 + 6)
        .await
        .unwrap());
    let moved = second.sink_cursor("siem").await.unwrap();
    assert_eq!(
        (moved.delivered_seq, moved.attempts, moved.last_error),
        (4, 0, None)
    );
    assert_eq!(
        second.dead_letters("siem").await.unwrap(),
        vec![sinks::DeadLetter {
            name: "siem".into(),
            seq: 4,
            error: "HTTP 400".into(),
            at: t0 + 5,
        }]
    );
    assert!(second.advance_sink("siem", 4, head, t0 + 7).await.unwrap());
    assert_eq!(store.sink_cursor("siem").await.unwrap().lag(), 0);
    assert_eq!(store.sink_cursor("other").await.unwrap().delivered_seq, 0);
    assert!(store.dead_letters("other").await.unwrap().is_empty());

    // Searching the audit log: the store's query finds exactly what the filters say, newest
    // first, with the total, whichever filters are given; LIKE's own characters are literal.
    store
        .commit(Changeset::audit_only(vec![
            AuditEvent::new(t0 + 10, "search.one")
                .actor("zed")
                .subject("r-100%_x")
                .details(json!({"note": "Needle in a HAYSTACK"})),
            AuditEvent::new(t0 + 11, "search.two").actor("zed"),
        ]))
        .await
        .unwrap();
    let all = store.audit(0, 0).await.unwrap();
    let searches = [
        AuditSearch::default(),
        AuditSearch {
            actor: Some("zed".into()),
            ..AuditSearch::default()
        },
        AuditSearch {
            kind_prefix: Some("search.".into()),
            limit: 1,
            ..AuditSearch::default()
        },
        AuditSearch {
            kind_prefix: Some("request.".into()),
            offset: 1,
            limit: 2,
            ..AuditSearch::default()
        },
        AuditSearch {
            text: Some("needle in a haystack".into()),
            ..AuditSearch::default()
        },
        AuditSearch {
            text: Some("100%_".into()),
            ..AuditSearch::default()
        },
        AuditSearch {
            text: Some("1000".into()),
            ..AuditSearch::default()
        },
        AuditSearch {
            from: Some(t0 + 10),
            to: Some(t0 + 10),
            ..AuditSearch::default()
        },
        AuditSearch {
            text: Some("%".into()),
            actor: Some("nobody".into()),
            ..AuditSearch::default()
        },
    ];
    for search in &searches {
        let matching: Vec<AuditRecord> = all
            .iter()
            .rev()
            .filter(|e| search.matches(e))
            .cloned()
            .collect();
        let limit = if search.limit > 0 {
            search.limit
        } else {
            i64::MAX
        };
        let expected: Vec<AuditRecord> = matching
            .iter()
            .skip(usize::try_from(search.offset).unwrap())
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        let (found, total) = second.audit_search(search).await.unwrap();
        assert_eq!(found, expected, "{search:?}");
        assert_eq!(total, i64::try_from(matching.len()).unwrap(), "{search:?}");
    }
    assert_eq!(
        second
            .audit_search(&AuditSearch {
                text: Some("100%_".into()),
                ..AuditSearch::default()
            })
            .await
            .unwrap()
            .1,
        1
    );

    // Posture documents: every push is kept; the latest of a kind comes with its body, the
    // figures of all of them (the trends) without.
    let day: Millis = 86_400_000;
    let t1 = t0 + 1000 * day;
    let posture = |kind: &str, at: Millis, n: u32| PostureRecord {
        kind: kind.into(),
        pushed_at: at,
        pushed_by: "admin".into(),
        digest: format!("d{n}"),
        figures: format!("{{\"n\":{n}}}"),
        body: format!("{{\"body\":{n}}}"),
    };
    assert!(store.posture_latest("scan").await.unwrap().is_none());
    store
        .commit(Changeset {
            posture: vec![posture("scan", t1, 1)],
            audit: vec![AuditEvent::new(t1, "posture.pushed").actor("admin")],
            ..Changeset::default()
        })
        .await
        .unwrap();
    store
        .commit(Changeset {
            posture: vec![posture("scan", t1 + day, 2), posture("plan", t1 + day, 3)],
            ..Changeset::default()
        })
        .await
        .unwrap();
    assert_eq!(
        second.posture_latest("scan").await.unwrap().unwrap(),
        posture("scan", t1 + day, 2)
    );
    assert!(second.posture_latest("prove").await.unwrap().is_none());
    let figures = second.posture_figures("scan", t1).await.unwrap();
    assert_eq!(
        figures
            .iter()
            .map(|p| (p.pushed_at, p.figures.as_str(), p.body.as_str()))
            .collect::<Vec<_>>(),
        vec![(t1, "{\"n\":1}", ""), (t1 + day, "{\"n\":2}", "")]
    );
    assert_eq!(
        second.posture_figures("scan", t1 + 1).await.unwrap().len(),
        1
    );

    // Activity per UTC day: requests made, grants started and ended (up to now), and the
    // grants active when the first day began; grants never activated count nowhere.
    let d0 = (t1 / day + 10) * day;
    let hour: Millis = 3_600_000;
    let ra0 = request("r-act-0", "alice", d0 - day + 5);
    let ra1 = request("r-act-1", "alice", d0 + hour);
    let ra2 = request("r-act-2", "bob", d0 + 2 * hour);
    let ra3 = request("r-act-3", "bob", d0 + day + 5);
    let mut ga0 = grant("g-act-0", &ra0, d0 - day + 10);
    ga0.status = GrantStatus::Active;
    ga0.activated_at = Some(d0 - day + 10);
    ga0.expires_at = d0 + 2 * day + 10;
    let mut ga1 = grant("g-act-1", &ra1, d0 + hour + 1);
    ga1.status = GrantStatus::Revoked;
    ga1.activated_at = Some(d0 + hour + 1);
    ga1.ended_at = Some(d0 + hour + 100);
    let ga3 = grant("g-act-3", &ra3, d0 + day + 6);
    store
        .commit(Changeset {
            requests: [&ra0, &ra1, &ra2, &ra3]
                .into_iter()
                .map(|r| Write::Insert(r.clone()))
                .collect(),
            grants: [ga0, ga1, ga3].into_iter().map(Write::Insert).collect(),
            ..Changeset::default()
        })
        .await
        .unwrap();
    let activity = second.activity(d0 + 5, d0 + 3 * day).await.unwrap();
    let first = d0 / day;
    assert_eq!(
        activity,
        Activity {
            active_before: 1,
            days: vec![
                DayActivity {
                    day: first,
                    requests: 2,
                    grants_started: 1,
                    grants_ended: 1,
                },
                DayActivity {
                    day: first + 1,
                    requests: 1,
                    ..DayActivity::default()
                },
                DayActivity {
                    day: first + 2,
                    grants_ended: 1,
                    ..DayActivity::default()
                },
            ],
        }
    );
    // Up to now only: the grant expiring on the third day has not ended yet on the second.
    assert_eq!(
        second
            .activity(d0, d0 + day + hour)
            .await
            .unwrap()
            .days
            .len(),
        2
    );

    // Leadership: exactly one holder; released on request.
    assert!(store.try_lead("a", t0, 10_000).await.unwrap());
    assert!(
        store.try_lead("a", t0 + 1, 10_000).await.unwrap(),
        "renewal"
    );
    assert!(!second.try_lead("b", t0 + 2, 10_000).await.unwrap());
    store.release_lead("a").await.unwrap();
    assert!(second.try_lead("b", t0 + 3, 10_000).await.unwrap());
    assert!(!store.try_lead("a", t0 + 4, 10_000).await.unwrap());
    second.release_lead("b").await.unwrap();
}
