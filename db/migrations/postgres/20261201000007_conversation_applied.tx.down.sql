ALTER TABLE conversations DROP COLUMN applied_inbox_ids;
