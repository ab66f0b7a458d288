-- Every request and grant names the audit log's head when it was last written (its own
-- entries included): a log cut short below that entry, or rewritten from there, no longer
-- matches the rows, and verification says so.
ALTER TABLE requests ADD COLUMN audit_seq INTEGER;
ALTER TABLE requests ADD COLUMN audit_hash TEXT;
ALTER TABLE grants ADD COLUMN audit_seq INTEGER;
ALTER TABLE grants ADD COLUMN audit_hash TEXT;
-- Rows written before: the newest entry about them.
UPDATE requests SET audit_seq = (SELECT MAX(seq) FROM audit_log WHERE subject = requests.id);
UPDATE requests SET audit_hash = (SELECT hash FROM audit_log WHERE seq = requests.audit_seq);
UPDATE grants SET audit_seq = (SELECT MAX(seq) FROM audit_log WHERE subject = grants.id);
UPDATE grants SET audit_hash = (SELECT hash FROM audit_log WHERE seq = grants.audit_seq);
