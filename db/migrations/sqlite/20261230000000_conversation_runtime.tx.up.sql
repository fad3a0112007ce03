-- The conversation runtime (issue 14): who has an open conversation (the robot, a skill queue, an agent offered
-- it, its agent), the customer's last agent for last agent mode, why it ended, and the pending timers of its
-- workflow (a JSON array of {kind, at}), all written by the conversation's workflow.
ALTER TABLE conversations ADD COLUMN stage TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN queue_id TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN agent_id TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN last_agent_id TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN last_agent_at TEXT;
ALTER TABLE conversations ADD COLUMN end_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN timers TEXT NOT NULL DEFAULT '[]';
-- aicc_conversations counts conversations by status and stage every metrics interval: from this index alone.
CREATE INDEX conversations_state_idx ON conversations (status, stage);
