-- Grants are listed by status, by holder and status, and by identity, bundle and status,
-- soonest expiry first (then id): these indexes hold them in that order, so a first page is
-- read without sorting every match.
DROP INDEX grants_status;
DROP INDEX grants_identity;
CREATE INDEX grants_status_expiry ON grants (status, expires_at, id);
CREATE INDEX grants_requester ON grants (requester, status, expires_at, id);
CREATE INDEX grants_identity_status ON grants (identity_id, bundle, status, expires_at, id);
-- A request's grants (one per target), read together.
CREATE INDEX grants_request ON grants (request_id, expires_at, id);
