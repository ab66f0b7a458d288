-- Latch control-plane store, SQLite. Released migrations are never edited; add a new file.
CREATE TABLE requests (
    id                 TEXT PRIMARY KEY,
    requester          TEXT NOT NULL,
    identity_kind      TEXT NOT NULL,
    identity_id        TEXT NOT NULL,
    bundle             TEXT NOT NULL,
    duration_secs      INTEGER NOT NULL,
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL,
    source             TEXT NOT NULL,
    break_glass        INTEGER NOT NULL,
    tier               INTEGER NOT NULL,
    tier_deadline      INTEGER,
    required_approvals INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    decided_at         INTEGER,
    slack_channel      TEXT,
    slack_ts           TEXT,
    version            INTEGER NOT NULL
);
CREATE INDEX requests_status ON requests (status);
CREATE INDEX requests_requester ON requests (requester);

CREATE TABLE approvals (
    request_id TEXT NOT NULL REFERENCES requests (id),
    approver   TEXT NOT NULL,
    decision   TEXT NOT NULL,
    at         INTEGER NOT NULL,
    comment    TEXT,
    PRIMARY KEY (request_id, approver)
);

CREATE TABLE grants (
    id             TEXT PRIMARY KEY,
    request_id     TEXT NOT NULL REFERENCES requests (id),
    requester      TEXT NOT NULL,
    identity_kind  TEXT NOT NULL,
    identity_id    TEXT NOT NULL,
    bundle         TEXT NOT NULL,
    status         TEXT NOT NULL,
    break_glass    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    activated_at   INTEGER,
    expires_at     INTEGER NOT NULL,
    ended_at       INTEGER,
    revoked_by     TEXT,
    revoke_reason  TEXT,
    session_cutoff INTEGER,
    version        INTEGER NOT NULL
);
CREATE INDEX grants_status ON grants (status, expires_at);
CREATE INDEX grants_identity ON grants (identity_id, bundle);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    actor     TEXT,
    subject   TEXT,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
-- Append-only: the database itself refuses edits and deletes made through it.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    role        TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE nonces (
    key        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
