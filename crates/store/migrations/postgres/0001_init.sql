-- Latch control-plane store, PostgreSQL. Released migrations are never edited; add a new file.
CREATE TABLE requests (
    id                 TEXT PRIMARY KEY,
    requester          TEXT NOT NULL,
    identity_kind      TEXT NOT NULL,
    identity_id        TEXT NOT NULL,
    bundle             TEXT NOT NULL,
    duration_secs      BIGINT NOT NULL,
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL,
    source             TEXT NOT NULL,
    break_glass        BOOLEAN NOT NULL,
    tier               INTEGER NOT NULL,
    tier_deadline      BIGINT,
    required_approvals INTEGER NOT NULL,
    created_at         BIGINT NOT NULL,
    decided_at         BIGINT,
    slack_channel      TEXT,
    slack_ts           TEXT,
    version            BIGINT NOT NULL
);
CREATE INDEX requests_status ON requests (status);
CREATE INDEX requests_requester ON requests (requester);

CREATE TABLE approvals (
    request_id TEXT NOT NULL REFERENCES requests (id),
    approver   TEXT NOT NULL,
    decision   TEXT NOT NULL,
    at         BIGINT NOT NULL,
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
    break_glass    BOOLEAN NOT NULL,
    created_at     BIGINT NOT NULL,
    activated_at   BIGINT,
    expires_at     BIGINT NOT NULL,
    ended_at       BIGINT,
    revoked_by     TEXT,
    revoke_reason  TEXT,
    session_cutoff BIGINT,
    version        BIGINT NOT NULL
);
CREATE INDEX grants_status ON grants (status, expires_at);
CREATE INDEX grants_identity ON grants (identity_id, bundle);

-- details is TEXT, not JSONB: the hash covers its exact canonical form.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    actor     TEXT,
    subject   TEXT,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
-- Append-only: the database itself refuses edits and deletes made through it.
CREATE FUNCTION latch_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION latch_audit_append_only();

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    role        TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE nonces (
    key        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
