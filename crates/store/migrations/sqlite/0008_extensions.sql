-- A request may ask for more time on a grant rather than for a grant of its own: the grant it
-- extends.
ALTER TABLE requests ADD COLUMN extends TEXT;
