-- When the holder of a grant was told it ends soon: set once, so that a reminder is sent once,
-- across restarts and replicas.
ALTER TABLE grants ADD COLUMN reminded_at INTEGER;
