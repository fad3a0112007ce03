UPDATE inbox SET text = convert_from(substring(payload FROM text_offset + 1 FOR text_length), 'UTF8')
WHERE text_length > 0;
ALTER TABLE inbox DROP COLUMN text_offset, DROP COLUMN text_length;
