-- The conversation runtime (issue 14): who has an open conversation (the robot, a skill queue, an agent offered
-- it, its agent), the customer's last agent for last agent mode, why it ended, and the pending timers of its
-- workflow (a JSON array of {kind, at}), all written by the conversation's workflow.
ALTER TABLE conversations ADD COLUMN stage text NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN queue_id text NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN agent_id text NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN last_agent_id text NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN last_agent_at timestamptz;
ALTER TABLE conversations ADD COLUMN end_reason text NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN timers text NOT NULL DEFAULT '[]';
-- aicc_conversations counts conversations by status and stage every metrics interval: from this index alone.
CREATE INDEX conversations_state_idx ON conversations (status, stage);
