-- Which process holds the scheduler lease, besides the server id it runs as: a restarted
-- server (same id, new process) resumes its lease at once, and of two live processes
-- configured with the same id only the newer one leads.
ALTER TABLE leases ADD COLUMN instance TEXT NOT NULL DEFAULT '';
