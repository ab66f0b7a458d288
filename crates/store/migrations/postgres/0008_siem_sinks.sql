-- Streaming the audit log to SIEM sinks, at least once: a cursor per sink (the last entry it
-- acknowledged, and the failures since), not copies of the log; and the entries a sink refused
-- until delivery gave up on them and moved on (dead letters).
CREATE TABLE audit_sinks (
    name          TEXT PRIMARY KEY,
    delivered_seq BIGINT NOT NULL,
    attempts      INTEGER NOT NULL,
    last_error    TEXT,
    updated_at    BIGINT
);

CREATE TABLE audit_sink_dead_letters (
    name  TEXT NOT NULL,
    seq   BIGINT NOT NULL,
    error TEXT NOT NULL,
    at    BIGINT NOT NULL,
    PRIMARY KEY (name, seq)
);
