-- A request may ask for access from a later time (a change window): when its grant starts.
ALTER TABLE requests ADD COLUMN starts_at INTEGER;
ALTER TABLE grants ADD COLUMN starts_at INTEGER;
