-- A request may name several accounts: the targets after the first, as JSON
-- ([{"identity": {"kind", "id"}, "account", "permission_set"}]); one grant each.
ALTER TABLE requests ADD COLUMN more_targets TEXT NOT NULL DEFAULT '[]';
