-- A webhook body with more updates than Meta sends in one POST (1000) is kept aside whole as a reject of its own
-- kind, oversized_body, none of its events stored (issue 13: every list in a request has a limit).
ALTER TABLE webhook_rejects DROP CONSTRAINT webhook_rejects_kind_check,
    ADD CONSTRAINT webhook_rejects_kind_check CHECK (kind IN ('malformed_item', 'unstorable_body', 'oversized_body'));
