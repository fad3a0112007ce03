DROP INDEX conversations_state_idx;
ALTER TABLE conversations DROP COLUMN timers;
ALTER TABLE conversations DROP COLUMN end_reason;
ALTER TABLE conversations DROP COLUMN last_agent_at;
ALTER TABLE conversations DROP COLUMN last_agent_id;
ALTER TABLE conversations DROP COLUMN agent_id;
ALTER TABLE conversations DROP COLUMN queue_id;
ALTER TABLE conversations DROP COLUMN stage;
