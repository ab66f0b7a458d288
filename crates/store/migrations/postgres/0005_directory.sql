-- The people directory (IAM Identity Center), as the last sync found it: one row per person,
-- the record as JSON. And where each request's grant lands for a person from the directory:
-- the account and the permission set whose role receives it.
CREATE TABLE directory_people (
    user_id TEXT PRIMARY KEY,
    body    TEXT NOT NULL
);

ALTER TABLE requests ADD COLUMN account TEXT, ADD COLUMN permission_set TEXT;
ALTER TABLE grants ADD COLUMN account TEXT, ADD COLUMN permission_set TEXT;
