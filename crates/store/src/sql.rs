//! SQL shared by both backends. Both accept `$N` parameters, `ON CONFLICT` and the same
//! column types through sqlx, so one macro expands the same statements for each backend's
//! connection and row types; what differs (locking, leadership) stays in each backend file.

/// Expands the shared statements for one backend: `$db` is its sqlx database, `$conn` its
/// connection type, `$row` its row type, `$lock_audit` a statement that serialises audit
/// appends inside a transaction (empty string for none).
macro_rules! shared_sql {
    ($db:ty, $conn:ty, $row:ty, $lock_audit:expr) => {
        use sqlx::Row as _;

        use crate::db::Db as _;
        use latch_grant::audit;
        use latch_grant::records::*;
        use latch_grant::StoreError;

        fn corrupt(e: sqlx::Error) -> StoreError {
            StoreError::Corrupt(e.to_string())
        }

        pub(crate) fn request_from_row(row: &$row) -> Result<RequestRecord, StoreError> {
            Ok(RequestRecord {
                id: row.try_get("id").map_err(corrupt)?,
                requester: row.try_get("requester").map_err(corrupt)?,
                identity: Identity {
                    kind: row
                        .try_get::<String, _>("identity_kind")
                        .map_err(corrupt)?
                        .parse()?,
                    id: row.try_get("identity_id").map_err(corrupt)?,
                },
                account: row.try_get("account").map_err(corrupt)?,
                permission_set: row.try_get("permission_set").map_err(corrupt)?,
                extends: row.try_get("extends").map_err(corrupt)?,
                starts_at: row.try_get("starts_at").map_err(corrupt)?,
                more_targets: serde_json::from_str(
                    &row.try_get::<String, _>("more_targets").map_err(corrupt)?,
                )
                .map_err(|e| StoreError::Corrupt(format!("request targets: {e}")))?,
                bundle: row.try_get("bundle").map_err(corrupt)?,
                duration_secs: row.try_get("duration_secs").map_err(corrupt)?,
                reason: row.try_get("reason").map_err(corrupt)?,
                status: row.try_get::<String, _>("status").map_err(corrupt)?.parse()?,
                source: row.try_get("source").map_err(corrupt)?,
                break_glass: row.try_get("break_glass").map_err(corrupt)?,
                tier: row.try_get("tier").map_err(corrupt)?,
                tier_deadline: row.try_get("tier_deadline").map_err(corrupt)?,
                required_approvals: row.try_get("required_approvals").map_err(corrupt)?,
                created_at: row.try_get("created_at").map_err(corrupt)?,
                decided_at: row.try_get("decided_at").map_err(corrupt)?,
                version: row.try_get("version").map_err(corrupt)?,
            })
        }

        pub(crate) fn grant_from_row(row: &$row) -> Result<GrantRecord, StoreError> {
            Ok(GrantRecord {
                id: row.try_get("id").map_err(corrupt)?,
                request_id: row.try_get("request_id").map_err(corrupt)?,
                requester: row.try_get("requester").map_err(corrupt)?,
                identity: Identity {
                    kind: row
                        .try_get::<String, _>("identity_kind")
                        .map_err(corrupt)?
                        .parse()?,
                    id: row.try_get("identity_id").map_err(corrupt)?,
                },
                account: row.try_get("account").map_err(corrupt)?,
                permission_set: row.try_get("permission_set").map_err(corrupt)?,
                starts_at: row.try_get("starts_at").map_err(corrupt)?,
                bundle: row.try_get("bundle").map_err(corrupt)?,
                status: row.try_get::<String, _>("status").map_err(corrupt)?.parse()?,
                break_glass: row.try_get("break_glass").map_err(corrupt)?,
                created_at: row.try_get("created_at").map_err(corrupt)?,
                activated_at: row.try_get("activated_at").map_err(corrupt)?,
                expires_at: row.try_get("expires_at").map_err(corrupt)?,
                ended_at: row.try_get("ended_at").map_err(corrupt)?,
                revoked_by: row.try_get("revoked_by").map_err(corrupt)?,
                revoke_reason: row.try_get("revoke_reason").map_err(corrupt)?,
                session_cutoff: row.try_get("session_cutoff").map_err(corrupt)?,
                reminded_at: row.try_get("reminded_at").map_err(corrupt)?,
                version: row.try_get("version").map_err(corrupt)?,
            })
        }

        pub(crate) fn approval_from_row(row: &$row) -> Result<ApprovalRecord, StoreError> {
            Ok(ApprovalRecord {
                request_id: row.try_get("request_id").map_err(corrupt)?,
                approver: row.try_get("approver").map_err(corrupt)?,
                decision: row.try_get::<String, _>("decision").map_err(corrupt)?.parse()?,
                at: row.try_get("at").map_err(corrupt)?,
                comment: row.try_get("comment").map_err(corrupt)?,
            })
        }

        pub(crate) fn audit_from_row(row: &$row) -> Result<AuditRecord, StoreError> {
            let details: String = row.try_get("details").map_err(corrupt)?;
            Ok(AuditRecord {
                seq: row.try_get("seq").map_err(corrupt)?,
                at: row.try_get("at").map_err(corrupt)?,
                kind: row.try_get("kind").map_err(corrupt)?,
                actor: row.try_get("actor").map_err(corrupt)?,
                subject: row.try_get("subject").map_err(corrupt)?,
                details: serde_json::from_str(&details).map_err(|e| {
                    StoreError::Corrupt(format!("audit details are not JSON: {e}"))
                })?,
                prev_hash: row.try_get("prev_hash").map_err(corrupt)?,
                hash: row.try_get("hash").map_err(corrupt)?,
            })
        }

        pub(crate) fn token_from_row(row: &$row) -> Result<TokenRecord, StoreError> {
            Ok(TokenRecord {
                id: row.try_get("id").map_err(corrupt)?,
                subject: row.try_get("subject").map_err(corrupt)?,
                role: row.try_get::<String, _>("role").map_err(corrupt)?.parse()?,
                secret_hash: row.try_get("secret_hash").map_err(corrupt)?,
                created_at: row.try_get("created_at").map_err(corrupt)?,
                revoked_at: row.try_get("revoked_at").map_err(corrupt)?,
            })
        }

        /// The token whose secret hashes to `$1`, in [`token_from_row`]'s columns.
        pub(crate) const TOKEN_BY_HASH: &str =
            "SELECT id, subject, role, secret_hash, created_at, revoked_at FROM api_tokens \
             WHERE secret_hash = $1";

        const REQUEST_COLUMNS: &str = "id, requester, identity_kind, identity_id, bundle, \
            duration_secs, reason, status, source, break_glass, tier, tier_deadline, \
            required_approvals, created_at, decided_at, version, account, permission_set, extends, \
            starts_at, more_targets";

        pub(crate) const GRANT_COLUMNS: &str = "id, request_id, requester, identity_kind, identity_id, \
            bundle, status, break_glass, created_at, activated_at, expires_at, ended_at, \
            revoked_by, revoke_reason, session_cutoff, reminded_at, version, account, \
            permission_set, starts_at";

        async fn write_request(
            conn: &mut $conn,
            write: &Write<RequestRecord>,
            head: &(i64, String),
        ) -> Result<(), StoreError> {
            let (r, sql) = match write {
                Write::Insert(r) => (
                    r,
                    format!(
                        "INSERT INTO requests ({REQUEST_COLUMNS}, audit_seq, audit_hash) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                         $16, $19, $20, $21, $22, $23, $17, $18) ON CONFLICT (id) DO NOTHING"
                    ),
                ),
                Write::Update(r) => (
                    r,
                    "UPDATE requests SET requester = $2, identity_kind = $3, identity_id = $4, \
                     bundle = $5, duration_secs = $6, reason = $7, status = $8, source = $9, \
                     break_glass = $10, tier = $11, tier_deadline = $12, \
                     required_approvals = $13, created_at = $14, decided_at = $15, \
                     version = $16 + 1, audit_seq = $17, audit_hash = $18, account = $19, \
                     permission_set = $20, extends = $21, starts_at = $22, \
                     more_targets = $23 WHERE id = $1 AND version = $16"
                        .to_owned(),
                ),
            };
            let done = sqlx::query(&sql)
                .bind(&r.id)
                .bind(&r.requester)
                .bind(r.identity.kind.as_str())
                .bind(&r.identity.id)
                .bind(&r.bundle)
                .bind(r.duration_secs)
                .bind(&r.reason)
                .bind(r.status.as_str())
                .bind(&r.source)
                .bind(r.break_glass)
                .bind(r.tier)
                .bind(r.tier_deadline)
                .bind(r.required_approvals)
                .bind(r.created_at)
                .bind(r.decided_at)
                .bind(r.version)
                .bind(head.0)
                .bind(&head.1)
                .bind(&r.account)
                .bind(&r.permission_set)
                .bind(&r.extends)
                .bind(r.starts_at)
                .bind(serde_json::to_string(&r.more_targets).map_err(|e| {
                    StoreError::Corrupt(format!("request targets: {e}"))
                })?)
                .execute(&mut *conn)
                .await.db()?;
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(StoreError::Conflict(format!(
                    "request `{}` was changed by someone else (or already exists)",
                    r.id
                )))
            }
        }

        async fn write_grant(
            conn: &mut $conn,
            write: &Write<GrantRecord>,
            head: &(i64, String),
        ) -> Result<(), StoreError> {
            let (g, sql) = match write {
                Write::Insert(g) => (
                    g,
                    format!(
                        "INSERT INTO grants ({GRANT_COLUMNS}, audit_seq, audit_hash) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                         $16, $17, $20, $21, $22, $18, $19) ON CONFLICT (id) DO NOTHING"
                    ),
                ),
                Write::Update(g) => (
                    g,
                    "UPDATE grants SET request_id = $2, requester = $3, identity_kind = $4, \
                     identity_id = $5, bundle = $6, status = $7, break_glass = $8, \
                     created_at = $9, activated_at = $10, expires_at = $11, ended_at = $12, \
                     revoked_by = $13, revoke_reason = $14, session_cutoff = $15, \
                     reminded_at = $16, version = $17 + 1, audit_seq = $18, audit_hash = $19, \
                     account = $20, permission_set = $21, starts_at = $22 \
                     WHERE id = $1 AND version = $17"
                        .to_owned(),
                ),
            };
            let done = sqlx::query(&sql)
                .bind(&g.id)
                .bind(&g.request_id)
                .bind(&g.requester)
                .bind(g.identity.kind.as_str())
                .bind(&g.identity.id)
                .bind(&g.bundle)
                .bind(g.status.as_str())
                .bind(g.break_glass)
                .bind(g.created_at)
                .bind(g.activated_at)
                .bind(g.expires_at)
                .bind(g.ended_at)
                .bind(&g.revoked_by)
                .bind(&g.revoke_reason)
                .bind(g.session_cutoff)
                .bind(g.reminded_at)
                .bind(g.version)
                .bind(head.0)
                .bind(&head.1)
                .bind(&g.account)
                .bind(&g.permission_set)
                .bind(g.starts_at)
                .execute(&mut *conn)
                .await.db()?;
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(StoreError::Conflict(format!(
                    "grant `{}` was changed by someone else (or already exists)",
                    g.id
                )))
            }
        }

        /// The log's newest entry (`0` and the genesis hash when it is empty).
        async fn audit_head(conn: &mut $conn) -> Result<(i64, String), StoreError> {
            let head = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *conn)
                .await.db()?;
            match head {
                Some(row) => Ok((
                    row.try_get("seq").map_err(corrupt)?,
                    row.try_get("hash").map_err(corrupt)?,
                )),
                None => Ok((0, audit::GENESIS_HASH.to_owned())),
            }
        }

        /// Take the append lock (held until the transaction ends) and read the log's head.
        async fn lock_head(conn: &mut $conn) -> Result<(i64, String), StoreError> {
            let lock: &str = $lock_audit;
            if !lock.is_empty() {
                sqlx::query(lock).execute(&mut *conn).await.db()?;
            }
            audit_head(conn).await
        }

        /// Seal `events` after `head` (`0` for an empty log).
        fn seal_after(head: &(i64, String), events: &[AuditEvent]) -> Vec<AuditRecord> {
            let mut out: Vec<AuditRecord> = Vec::with_capacity(events.len());
            for event in events {
                let prev = match out.last() {
                    Some(last) => Some((last.seq, last.hash.as_str())),
                    None if head.0 > 0 => Some((head.0, head.1.as_str())),
                    None => None,
                };
                let rec = audit::seal(prev, event);
                out.push(rec);
            }
            out
        }

        /// Audit rows per `INSERT` (8 parameters each, well within both backends' limits).
        const AUDIT_ROWS_PER_INSERT: usize = 64;

        async fn insert_audit(conn: &mut $conn, records: &[AuditRecord]) -> Result<(), StoreError> {
            for chunk in records.chunks(AUDIT_ROWS_PER_INSERT) {
                let mut sql = String::from(
                    "INSERT INTO audit_log (seq, at, kind, actor, subject, details, prev_hash, \
                     hash) VALUES ",
                );
                for i in 0..chunk.len() {
                    let n = i * 8;
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        n + 1, n + 2, n + 3, n + 4, n + 5, n + 6, n + 7, n + 8
                    ));
                }
                let mut query = sqlx::query(&sql);
                for rec in chunk {
                    query = query
                        .bind(rec.seq)
                        .bind(rec.at)
                        .bind(&rec.kind)
                        .bind(&rec.actor)
                        .bind(&rec.subject)
                        .bind(audit::canonical_json(&rec.details))
                        .bind(&rec.prev_hash)
                        .bind(&rec.hash);
                }
                query.execute(&mut *conn).await.db()?;
            }
            Ok(())
        }

        /// Write a batch of changesets in the transaction `conn` is in, each on its own, in
        /// order, with the audit append lock taken once for all of them. With `savepoints`,
        /// each changeset runs inside a savepoint and one that fails is undone alone, the
        /// others going on; without, the first failure stops the batch (its outcome is the
        /// last one returned) and the caller must roll the transaction back. An `Err` means
        /// the transaction itself is unusable: roll it back, nothing of it is written.
        pub(crate) async fn write_batch(
            conn: &mut $conn,
            batch: &[Changeset],
            savepoints: bool,
        ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
            let needs_head = batch.iter().any(|c| {
                !c.audit.is_empty() || !c.requests.is_empty() || !c.grants.is_empty()
            });
            // Taken before any savepoint: a lock taken inside one would be released when
            // that savepoint is rolled back, while the head read under it is still used.
            let mut head = if needs_head {
                lock_head(conn).await?
            } else {
                (0, audit::GENESIS_HASH.to_owned())
            };
            let mut outcomes = Vec::with_capacity(batch.len());
            for changes in batch {
                if !savepoints {
                    match apply_changeset(conn, changes, &head).await {
                        Ok(next) => {
                            head = next;
                            outcomes.push(Ok(()));
                        }
                        Err(e) => {
                            outcomes.push(Err(e));
                            return Ok(outcomes);
                        }
                    }
                    continue;
                }
                sqlx::query("SAVEPOINT changeset").execute(&mut *conn).await.db()?;
                match apply_changeset(conn, changes, &head).await {
                    Ok(next) => {
                        head = next;
                        outcomes.push(Ok(()));
                    }
                    Err(e) => {
                        sqlx::query("ROLLBACK TO SAVEPOINT changeset")
                            .execute(&mut *conn)
                            .await
                            .db()?;
                        outcomes.push(Err(e));
                    }
                }
                sqlx::query("RELEASE SAVEPOINT changeset").execute(&mut *conn).await.db()?;
            }
            Ok(outcomes)
        }

        /// Commit a batch of changesets (see [`crate::group`]): first in one transaction
        /// without savepoints (conflicts are rare); when one fails, the transaction is rolled
        /// back and the batch written again with a savepoint per changeset, so that the one
        /// that failed fails alone. `begin` opens a transaction.
        pub(crate) async fn commit_batch(
            pool: &sqlx::Pool<$db>,
            begin: &'static str,
            batch: &[Changeset],
        ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
            let mut tx = pool.begin_with(begin).await.db()?;
            let outcomes = write_batch(&mut tx, batch, false).await?;
            if outcomes.len() == batch.len() && outcomes.iter().all(Result::is_ok) {
                tx.commit().await.db()?;
                return Ok(outcomes);
            }
            tx.rollback().await.db()?;
            if batch.len() == 1 {
                return Ok(outcomes);
            }
            let mut tx = pool.begin_with(begin).await.db()?;
            let outcomes = write_batch(&mut tx, batch, true).await?;
            if outcomes.iter().any(Result::is_ok) {
                tx.commit().await.db()?;
            } else {
                tx.rollback().await.db()?;
            }
            Ok(outcomes)
        }

        /// Write one changeset after the log's `head` (read under the append lock); returns
        /// the head it leaves.
        async fn apply_changeset(
            conn: &mut $conn,
            changes: &Changeset,
            head: &(i64, String),
        ) -> Result<(i64, String), StoreError> {
            // The entries are sealed first so every row written can name the head they end at
            // (rows without entries of their own name the head as it stands).
            let records = seal_after(head, &changes.audit);
            let head = match records.last() {
                Some(last) => (last.seq, last.hash.clone()),
                None => head.clone(),
            };
            for w in &changes.requests {
                write_request(conn, w, &head).await?;
            }
            for a in &changes.approvals {
                let done = sqlx::query(
                    "INSERT INTO approvals (request_id, approver, decision, at, comment) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id, approver) DO NOTHING",
                )
                .bind(&a.request_id)
                .bind(&a.approver)
                .bind(a.decision.as_str())
                .bind(a.at)
                .bind(&a.comment)
                .execute(&mut *conn)
                .await.db()?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict(format!(
                        "`{}` has already answered request `{}`",
                        a.approver, a.request_id
                    )));
                }
            }
            for t in &changes.tokens {
                create_token(conn, t).await?;
            }
            for m in &changes.messages {
                sqlx::query(
                    "INSERT INTO chat_messages (request_id, platform, conversation, message_id) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(&m.request_id)
                .bind(&m.platform)
                .bind(&m.conversation)
                .bind(&m.message_id)
                .execute(&mut *conn)
                .await
                .db()?;
            }
            for r in &changes.token_revocations {
                if !revoke_token(conn, &r.id, r.at).await? {
                    return Err(StoreError::Conflict(format!("no live token `{}`", r.id)));
                }
            }
            for w in &changes.grants {
                write_grant(conn, w, &head).await?;
            }
            for d in &changes.directory {
                write_directory(conn, d).await?;
            }
            for p in &changes.posture {
                write_posture(conn, p).await?;
            }
            insert_audit(conn, &records).await?;
            Ok(head)
        }

        pub(crate) async fn audit_references(
            conn: &mut $conn,
        ) -> Result<Vec<AuditReference>, StoreError> {
            let rows = sqlx::query(
                "SELECT tbl, id, audit_seq, audit_hash FROM (\
                 SELECT 'request' AS tbl, id, audit_seq, audit_hash FROM requests \
                 UNION ALL SELECT 'grant' AS tbl, id, audit_seq, audit_hash FROM grants) refs \
                 ORDER BY COALESCE(audit_seq, -1) DESC, tbl DESC, id",
            )
            .fetch_all(&mut *conn)
            .await.db()?;
            rows.iter()
                .map(|row| {
                    Ok(AuditReference {
                        table: row.try_get("tbl").map_err(corrupt)?,
                        id: row.try_get("id").map_err(corrupt)?,
                        seq: row.try_get("audit_seq").map_err(corrupt)?,
                        hash: row.try_get("audit_hash").map_err(corrupt)?,
                    })
                })
                .collect()
        }

        pub(crate) async fn request(
            conn: &mut $conn,
            id: &str,
        ) -> Result<Option<RequestRecord>, StoreError> {
            let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1");
            let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await.db()?;
            row.as_ref().map(request_from_row).transpose()
        }

        pub(crate) async fn requests(
            conn: &mut $conn,
            q: &RequestQuery,
        ) -> Result<Vec<RequestRecord>, StoreError> {
            let limit = if q.limit > 0 { q.limit } else { i64::MAX };
            // Only the filters given, so that the indexes on them are used.
            let mut sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE TRUE");
            let mut n = 0;
            let mut param = |column: &str, sql: &mut String| {
                n += 1;
                sql.push_str(&format!(" AND {column} = ${n}"));
            };
            if q.status.is_some() {
                param("status", &mut sql);
            }
            if q.requester.is_some() {
                param("requester", &mut sql);
            }
            sql.push_str(&format!(" ORDER BY created_at DESC, id LIMIT ${}", n + 1));
            let mut query = sqlx::query(&sql);
            if let Some(status) = q.status {
                query = query.bind(status.as_str());
            }
            if let Some(requester) = &q.requester {
                query = query.bind(requester);
            }
            let rows = query.bind(limit).fetch_all(&mut *conn).await.db()?;
            rows.iter().map(request_from_row).collect()
        }

        pub(crate) async fn approvals(
            conn: &mut $conn,
            request_id: &str,
        ) -> Result<Vec<ApprovalRecord>, StoreError> {
            let rows = sqlx::query(
                "SELECT request_id, approver, decision, at, comment FROM approvals \
                 WHERE request_id = $1 ORDER BY at, approver",
            )
            .bind(request_id)
            .fetch_all(&mut *conn)
            .await.db()?;
            rows.iter().map(approval_from_row).collect()
        }

        pub(crate) async fn grant(
            conn: &mut $conn,
            id: &str,
        ) -> Result<Option<GrantRecord>, StoreError> {
            let sql = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1");
            let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await.db()?;
            row.as_ref().map(grant_from_row).transpose()
        }

        /// Grants, soonest expiry first. With several statuses, each status is read
        /// straight from an index in expiry order (at most `limit` of each) and the reads are
        /// merged: a first page of thousands of live grants is read without sorting them all.
        pub(crate) async fn grants(
            conn: &mut $conn,
            q: &GrantQuery,
        ) -> Result<Vec<GrantRecord>, StoreError> {
            let sql = grants_sql(q);
            let rows = bind_grants(sqlx::query(&sql), q)
                .fetch_all(&mut *conn)
                .await
                .db()?;
            rows.iter().map(grant_from_row).collect()
        }

        /// The statement of [`grants`]: its parameters are bound by [`bind_grants`].
        pub(crate) fn grants_sql(q: &GrantQuery) -> String {
            // Only the filters given, so that the indexes on them are used.
            let mut filters = String::new();
            let mut n = 0;
            let mut param = |condition: &str, filters: &mut String| {
                n += 1;
                filters.push_str(&format!(" AND {condition}${n}"));
            };
            if q.identity_id.is_some() {
                param("identity_id = ", &mut filters);
            }
            if q.bundle.is_some() {
                param("bundle = ", &mut filters);
            }
            if q.requester.is_some() {
                param("requester = ", &mut filters);
            }
            if q.expires_at_most.is_some() {
                param("expires_at <= ", &mut filters);
            }
            if q.request_id.is_some() {
                param("request_id = ", &mut filters);
            }
            if q.unreminded {
                filters.push_str(" AND reminded_at IS NULL");
            }
            let limit_param = n + 1;
            let mut statuses = q.statuses.clone();
            statuses.sort();
            statuses.dedup();
            // Statuses are a closed set of identifiers: inlined.
            let select = |status: Option<GrantStatus>| {
                let status = status
                    .map(|s| format!(" AND status = '{}'", s.as_str()))
                    .unwrap_or_default();
                format!(
                    "SELECT {GRANT_COLUMNS} FROM grants WHERE TRUE{status}{filters} \
                     ORDER BY expires_at, id LIMIT ${limit_param}"
                )
            };
            if statuses.len() <= 1 {
                select(statuses.first().copied())
            } else {
                let parts: Vec<String> = statuses
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("SELECT * FROM ({}) s{i}", select(Some(*s))))
                    .collect();
                format!(
                    "{} ORDER BY expires_at, id LIMIT ${limit_param}",
                    parts.join(" UNION ALL ")
                )
            }
        }

        /// [`grants_sql`]'s parameters, in its order.
        pub(crate) fn bind_grants<'q>(
            mut query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
            q: &'q GrantQuery,
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            let limit = if q.limit > 0 { q.limit } else { i64::MAX };
            if let Some(identity_id) = &q.identity_id {
                query = query.bind(identity_id);
            }
            if let Some(bundle) = &q.bundle {
                query = query.bind(bundle);
            }
            if let Some(requester) = &q.requester {
                query = query.bind(requester);
            }
            if let Some(at_most) = q.expires_at_most {
                query = query.bind(at_most);
            }
            if let Some(request_id) = &q.request_id {
                query = query.bind(request_id);
            }
            query.bind(limit)
        }

        pub(crate) async fn audit_after(
            conn: &mut $conn,
            after_seq: i64,
            limit: i64,
        ) -> Result<Vec<AuditRecord>, StoreError> {
            let limit = if limit > 0 { limit } else { i64::MAX };
            let rows = sqlx::query(
                "SELECT seq, at, kind, actor, subject, details, prev_hash, hash FROM audit_log \
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await.db()?;
            rows.iter().map(audit_from_row).collect()
        }

        /// `text` as a `LIKE` pattern that finds it anywhere (`\\` escapes `%`, `_` and
        /// itself), lower-cased as the search compares.
        fn like_anywhere(text: &str) -> String {
            let mut out = String::with_capacity(text.len() + 2);
            out.push('%');
            for c in text.to_ascii_lowercase().chars() {
                if matches!(c, '%' | '_' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('%');
            out
        }

        /// The audit entries `search` finds, newest first, and how many match: the same
        /// filters as [`AuditSearch::matches`], in the query.
        pub(crate) async fn audit_search(
            conn: &mut $conn,
            search: &AuditSearch,
        ) -> Result<(Vec<AuditRecord>, i64), StoreError> {
            let mut filters = String::new();
            let mut n = 0;
            // Each `?` becomes the next `$N`, bound in the same order below.
            let mut param = |condition: &str, filters: &mut String| {
                filters.push_str(" AND ");
                let mut pieces = condition.split('?');
                filters.push_str(pieces.next().unwrap_or_default());
                for piece in pieces {
                    n += 1;
                    filters.push_str(&format!("${n}"));
                    filters.push_str(piece);
                }
            };
            if search.actor.is_some() {
                param("actor = ?", &mut filters);
            }
            // A kind prefix is compared with `substr`: no pattern, nothing to escape.
            let kind = search
                .kind_prefix
                .as_deref()
                .map(|k| (k, i32::try_from(k.chars().count()).unwrap_or(i32::MAX)));
            if kind.is_some() {
                param("substr(kind, 1, ?) = ?", &mut filters);
            }
            if search.from.is_some() {
                param("at >= ?", &mut filters);
            }
            if search.to.is_some() {
                param("at <= ?", &mut filters);
            }
            if search.text.is_some() {
                param(
                    "(LOWER(COALESCE(subject, '')) LIKE ? ESCAPE '\\' OR LOWER(details) LIKE ? ESCAPE '\\')",
                    &mut filters,
                );
            }
            macro_rules! bound {
                ($q:expr) => {{
                    let mut q = $q;
                    if let Some(a) = &search.actor {
                        q = q.bind(a);
                    }
                    if let Some((k, len)) = kind {
                        q = q.bind(len).bind(k);
                    }
                    if let Some(t) = search.from {
                        q = q.bind(t);
                    }
                    if let Some(t) = search.to {
                        q = q.bind(t);
                    }
                    if let Some(t) = &search.text {
                        q = q.bind(like_anywhere(t)).bind(like_anywhere(t));
                    }
                    q
                }};
            }
            let count = format!("SELECT COUNT(*) FROM audit_log WHERE TRUE{filters}");
            let total: i64 = bound!(sqlx::query_scalar(&count))
            .fetch_one(&mut *conn)
            .await
            .db()?;
            let limit = if search.limit > 0 { search.limit } else { i64::MAX };
            let sql = format!(
                "SELECT seq, at, kind, actor, subject, details, prev_hash, hash FROM audit_log \
                 WHERE TRUE{filters} ORDER BY seq DESC LIMIT {limit} OFFSET {}",
                search.offset.max(0)
            );
            let rows = bound!(sqlx::query(&sql)).fetch_all(&mut *conn).await.db()?;
            Ok((rows.iter().map(audit_from_row).collect::<Result<_, _>>()?, total))
        }

        pub(crate) async fn messages(
            conn: &mut $conn,
            request_id: &str,
        ) -> Result<Vec<ChatMessage>, StoreError> {
            let rows = sqlx::query(
                "SELECT request_id, platform, conversation, message_id FROM chat_messages \
                 WHERE request_id = $1 ORDER BY platform, conversation, message_id",
            )
            .bind(request_id)
            .fetch_all(&mut *conn)
            .await
            .db()?;
            rows.iter()
                .map(|row| {
                    Ok(ChatMessage {
                        request_id: row.try_get("request_id").map_err(corrupt)?,
                        platform: row.try_get("platform").map_err(corrupt)?,
                        conversation: row.try_get("conversation").map_err(corrupt)?,
                        message_id: row.try_get("message_id").map_err(corrupt)?,
                    })
                })
                .collect()
        }

        async fn write_directory(
            conn: &mut $conn,
            write: &latch_grant::directory::DirectoryWrite,
        ) -> Result<(), StoreError> {
            use latch_grant::directory::DirectoryWrite;
            match write {
                DirectoryWrite::Put(p) => {
                    let body = serde_json::to_string(p)
                        .map_err(|e| StoreError::Corrupt(format!("directory person: {e}")))?;
                    sqlx::query(
                        "INSERT INTO directory_people (user_id, body) VALUES ($1, $2) \
                         ON CONFLICT (user_id) DO UPDATE SET body = excluded.body",
                    )
                    .bind(&p.user_id)
                    .bind(body)
                    .execute(&mut *conn)
                    .await
                    .db()?;
                }
                DirectoryWrite::Remove(id) => {
                    sqlx::query("DELETE FROM directory_people WHERE user_id = $1")
                        .bind(id)
                        .execute(&mut *conn)
                        .await
                        .db()?;
                }
            }
            Ok(())
        }

        pub(crate) async fn directory(
            conn: &mut $conn,
        ) -> Result<Vec<latch_grant::directory::DirectoryPerson>, StoreError> {
            let rows = sqlx::query("SELECT user_id, body FROM directory_people ORDER BY user_id")
                .fetch_all(&mut *conn)
                .await
                .db()?;
            rows.iter()
                .map(|row| {
                    let body: String = row.try_get("body").map_err(corrupt)?;
                    serde_json::from_str(&body).map_err(|e| {
                        StoreError::Corrupt(format!("directory person is not readable: {e}"))
                    })
                })
                .collect()
        }

        pub(crate) async fn create_token(
            conn: &mut $conn,
            t: &TokenRecord,
        ) -> Result<(), StoreError> {
            let done = sqlx::query(
                "INSERT INTO api_tokens (id, subject, role, secret_hash, created_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(&t.id)
            .bind(&t.subject)
            .bind(t.role.as_str())
            .bind(&t.secret_hash)
            .bind(t.created_at)
            .bind(t.revoked_at)
            .execute(&mut *conn)
            .await.db()?;
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(StoreError::Conflict(format!("token `{}` already exists", t.id)))
            }
        }

        pub(crate) async fn tokens(conn: &mut $conn) -> Result<Vec<TokenRecord>, StoreError> {
            let rows = sqlx::query(
                "SELECT id, subject, role, secret_hash, created_at, revoked_at FROM api_tokens \
                 ORDER BY id",
            )
            .fetch_all(&mut *conn)
            .await.db()?;
            rows.iter().map(token_from_row).collect()
        }

        pub(crate) async fn revoke_token(
            conn: &mut $conn,
            id: &str,
            at: Millis,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(at)
            .execute(&mut *conn)
            .await.db()?;
            Ok(done.rows_affected() == 1)
        }

        pub(crate) async fn remember_nonce(
            conn: &mut $conn,
            key: &str,
            now: Millis,
            expires_at: Millis,
        ) -> Result<bool, StoreError> {
            sqlx::query("DELETE FROM nonces WHERE expires_at < $1")
                .bind(now)
                .execute(&mut *conn)
                .await.db()?;
            let done = sqlx::query(
                "INSERT INTO nonces (key, expires_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(expires_at)
            .execute(&mut *conn)
            .await.db()?;
            Ok(done.rows_affected() == 1)
        }

        pub(crate) async fn sink_cursor(
            conn: &mut $conn,
            name: &str,
        ) -> Result<latch_grant::sinks::SinkCursor, StoreError> {
            // The cursor first, then the head: the head only grows, so the lag is never
            // negative.
            let row = sqlx::query(
                "SELECT delivered_seq, attempts, last_error, updated_at FROM audit_sinks \
                 WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .db()?;
            let head = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS head FROM audit_log")
                .fetch_one(&mut *conn)
                .await
                .db()?;
            let mut cursor = latch_grant::sinks::SinkCursor {
                name: name.to_owned(),
                delivered_seq: 0,
                attempts: 0,
                last_error: None,
                updated_at: None,
                head_seq: head.try_get("head").map_err(corrupt)?,
            };
            if let Some(row) = row {
                cursor.delivered_seq = row.try_get("delivered_seq").map_err(corrupt)?;
                cursor.attempts = row.try_get("attempts").map_err(corrupt)?;
                cursor.last_error = row.try_get("last_error").map_err(corrupt)?;
                cursor.updated_at = row.try_get("updated_at").map_err(corrupt)?;
            }
            Ok(cursor)
        }

        pub(crate) async fn advance_sink(
            conn: &mut $conn,
            name: &str,
            from_seq: i64,
            to_seq: i64,
            now: Millis,
        ) -> Result<bool, StoreError> {
            if to_seq <= from_seq {
                return Ok(false);
            }
            let done = sqlx::query(
                "UPDATE audit_sinks SET delivered_seq = $3, attempts = 0, last_error = NULL, \
                 updated_at = $4 WHERE name = $1 AND delivered_seq = $2",
            )
            .bind(name)
            .bind(from_seq)
            .bind(to_seq)
            .bind(now)
            .execute(&mut *conn)
            .await
            .db()?;
            if done.rows_affected() == 1 {
                return Ok(true);
            }
            if from_seq != 0 {
                return Ok(false);
            }
            // No cursor yet: the first delivery creates it (of two servers, one).
            let done = sqlx::query(
                "INSERT INTO audit_sinks (name, delivered_seq, attempts, last_error, updated_at) \
                 VALUES ($1, $2, 0, NULL, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(to_seq)
            .bind(now)
            .execute(&mut *conn)
            .await
            .db()?;
            Ok(done.rows_affected() == 1)
        }

        pub(crate) async fn sink_failure(
            conn: &mut $conn,
            name: &str,
            at_seq: i64,
            error: &str,
            refused: bool,
            now: Millis,
        ) -> Result<i32, StoreError> {
            sqlx::query(
                "INSERT INTO audit_sinks (name, delivered_seq, attempts, last_error, updated_at) \
                 VALUES ($1, 0, 0, NULL, NULL) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .execute(&mut *conn)
            .await
            .db()?;
            let row = sqlx::query(
                "UPDATE audit_sinks SET attempts = attempts + $3, last_error = $4, \
                 updated_at = $5 WHERE name = $1 AND delivered_seq = $2 RETURNING attempts",
            )
            .bind(name)
            .bind(at_seq)
            .bind(i32::from(refused))
            .bind(error)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await
            .db()?;
            match row {
                Some(row) => row.try_get("attempts").map_err(corrupt),
                None => Ok(0),
            }
        }

        /// Record the dead letter and move the cursor past it; the caller runs it in one
        /// transaction.
        pub(crate) async fn dead_letter(
            conn: &mut $conn,
            name: &str,
            seq: i64,
            error: &str,
            now: Millis,
        ) -> Result<bool, StoreError> {
            if !advance_sink(conn, name, seq.saturating_sub(1), seq, now).await? {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO audit_sink_dead_letters (name, seq, error, at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (name, seq) DO NOTHING",
            )
            .bind(name)
            .bind(seq)
            .bind(error)
            .bind(now)
            .execute(&mut *conn)
            .await
            .db()?;
            Ok(true)
        }

        pub(crate) async fn dead_letters(
            conn: &mut $conn,
            name: &str,
        ) -> Result<Vec<latch_grant::sinks::DeadLetter>, StoreError> {
            let rows = sqlx::query(
                "SELECT name, seq, error, at FROM audit_sink_dead_letters WHERE name = $1 \
                 ORDER BY seq",
            )
            .bind(name)
            .fetch_all(&mut *conn)
            .await
            .db()?;
            rows.iter()
                .map(|row| {
                    Ok(latch_grant::sinks::DeadLetter {
                        name: row.try_get("name").map_err(corrupt)?,
                        seq: row.try_get("seq").map_err(corrupt)?,
                        error: row.try_get("error").map_err(corrupt)?,
                        at: row.try_get("at").map_err(corrupt)?,
                    })
                })
                .collect()
        }

        async fn write_posture(conn: &mut $conn, p: &PostureRecord) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO posture (kind, pushed_at, pushed_by, digest, figures, body) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&p.kind)
            .bind(p.pushed_at)
            .bind(&p.pushed_by)
            .bind(&p.digest)
            .bind(&p.figures)
            .bind(&p.body)
            .execute(&mut *conn)
            .await
            .db()?;
            Ok(())
        }

        fn posture_from_row(row: &$row, with_body: bool) -> Result<PostureRecord, StoreError> {
            Ok(PostureRecord {
                kind: row.try_get("kind").map_err(corrupt)?,
                pushed_at: row.try_get("pushed_at").map_err(corrupt)?,
                pushed_by: row.try_get("pushed_by").map_err(corrupt)?,
                digest: row.try_get("digest").map_err(corrupt)?,
                figures: row.try_get("figures").map_err(corrupt)?,
                body: if with_body {
                    row.try_get("body").map_err(corrupt)?
                } else {
                    String::new()
                },
            })
        }

        pub(crate) async fn posture_latest(
            conn: &mut $conn,
            kind: &str,
        ) -> Result<Option<PostureRecord>, StoreError> {
            let row = sqlx::query(
                "SELECT kind, pushed_at, pushed_by, digest, figures, body FROM posture \
                 WHERE kind = $1 ORDER BY pushed_at DESC, id DESC LIMIT 1",
            )
            .bind(kind)
            .fetch_optional(&mut *conn)
            .await
            .db()?;
            row.as_ref().map(|r| posture_from_row(r, true)).transpose()
        }

        pub(crate) async fn posture_figures(
            conn: &mut $conn,
            kind: &str,
            since: Millis,
        ) -> Result<Vec<PostureRecord>, StoreError> {
            let rows = sqlx::query(
                "SELECT kind, pushed_at, pushed_by, digest, figures FROM posture \
                 WHERE kind = $1 AND pushed_at >= $2 ORDER BY pushed_at, id",
            )
            .bind(kind)
            .bind(since)
            .fetch_all(&mut *conn)
            .await
            .db()?;
            rows.iter().map(|r| posture_from_row(r, false)).collect()
        }

        /// `(day, count)` rows of one per-day count.
        async fn per_day(
            conn: &mut $conn,
            sql: &str,
            from: Millis,
            now: Millis,
        ) -> Result<Vec<(i64, i64)>, StoreError> {
            let rows = sqlx::query(sql)
                .bind(from)
                .bind(now)
                .fetch_all(&mut *conn)
                .await
                .db()?;
            rows.iter()
                .map(|row| {
                    Ok((
                        row.try_get::<i64, _>("day").map_err(corrupt)?,
                        row.try_get::<i64, _>("n").map_err(corrupt)?,
                    ))
                })
                .collect()
        }

        pub(crate) async fn activity(
            conn: &mut $conn,
            since: Millis,
            now: Millis,
        ) -> Result<Activity, StoreError> {
            const DAY: i64 = 86_400_000;
            let from = since.div_euclid(DAY) * DAY;
            let requests = per_day(
                conn,
                "SELECT created_at / 86400000 AS day, COUNT(*) AS n FROM requests \
                 WHERE created_at >= $1 AND created_at <= $2 GROUP BY created_at / 86400000",
                from,
                now,
            )
            .await?;
            let started = per_day(
                conn,
                "SELECT activated_at / 86400000 AS day, COUNT(*) AS n FROM grants \
                 WHERE activated_at >= $1 AND activated_at <= $2 GROUP BY activated_at / 86400000",
                from,
                now,
            )
            .await?;
            let ended = per_day(
                conn,
                "SELECT COALESCE(ended_at, expires_at) / 86400000 AS day, COUNT(*) AS n \
                 FROM grants WHERE activated_at IS NOT NULL \
                 AND COALESCE(ended_at, expires_at) >= $1 AND COALESCE(ended_at, expires_at) <= $2 \
                 GROUP BY COALESCE(ended_at, expires_at) / 86400000",
                from,
                now,
            )
            .await?;
            let active_before: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM grants WHERE activated_at < $1 \
                 AND COALESCE(ended_at, expires_at) >= $1",
            )
            .bind(from)
            .fetch_one(&mut *conn)
            .await
            .db()?;
            let mut days: std::collections::BTreeMap<i64, DayActivity> =
                std::collections::BTreeMap::new();
            let mut add = |rows: Vec<(i64, i64)>, set: fn(&mut DayActivity, i64)| {
                for (day, n) in rows {
                    let d = days.entry(day).or_insert_with(|| DayActivity {
                        day,
                        ..DayActivity::default()
                    });
                    set(d, n);
                }
            };
            add(requests, |d, n| d.requests = n);
            add(started, |d, n| d.grants_started = n);
            add(ended, |d, n| d.grants_ended = n);
            Ok(Activity {
                active_before,
                days: days.into_values().collect(),
            })
        }
    };
}

pub(crate) use shared_sql;
