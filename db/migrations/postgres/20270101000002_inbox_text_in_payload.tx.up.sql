-- An event's text is most often its payload's bytes verbatim (Meta's text without escapes): such a row keeps
-- where it lies in the payload, text_length bytes from text_offset, and an empty text, instead of a second copy.
-- A webhook POST of 1000 long messages writes half the bytes (docs/benchmarks.md, "Validation").
ALTER TABLE inbox ADD COLUMN text_offset integer NOT NULL DEFAULT 0,
    ADD COLUMN text_length integer NOT NULL DEFAULT 0;
