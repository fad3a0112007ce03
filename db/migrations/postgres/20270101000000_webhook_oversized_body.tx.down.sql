-- The oversized bodies stay kept aside, as bodies that were not stored.
UPDATE webhook_rejects SET kind = 'unstorable_body' WHERE kind = 'oversized_body';
ALTER TABLE webhook_rejects DROP CONSTRAINT webhook_rejects_kind_check,
    ADD CONSTRAINT webhook_rejects_kind_check CHECK (kind IN ('malformed_item', 'unstorable_body'));
