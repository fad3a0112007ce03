-- Channels are listed by name, compared byte by byte as SQLite compares them: under the database's default
-- collation (en_US.utf8 in the postgres image, C elsewhere) the same channels came in another order, and the
-- list's keyset cursor followed it. The unique index on (tenant_id, name) is rebuilt with the column.
ALTER TABLE channels ALTER COLUMN name TYPE text COLLATE "C";
