UPDATE inbox SET text = CAST(substr(payload, text_offset + 1, text_length) AS TEXT) WHERE text_length > 0;
ALTER TABLE inbox DROP COLUMN text_offset;
ALTER TABLE inbox DROP COLUMN text_length;
