-- The organization's posture as pushed by `latch report push` (or read from the posture
-- directory): every scan, plan and prove summary is kept, the latest shown, the figures of
-- all of them drawn as trends.
CREATE TABLE posture (
    id        BIGSERIAL PRIMARY KEY,
    kind      TEXT NOT NULL,
    pushed_at BIGINT NOT NULL,
    pushed_by TEXT NOT NULL,
    digest    TEXT NOT NULL,
    figures   TEXT NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX posture_kind ON posture (kind, pushed_at, id);
-- Requests per day, for the posture page's trends.
CREATE INDEX requests_created ON requests (created_at);
CREATE INDEX grants_activated ON grants (activated_at);
