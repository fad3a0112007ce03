-- The inbox IDs a conversation's workflow applied lately, saved with the read model (issue 12): a workflow task
-- whose local activity saved the read model can still be lost (its worker killed), and the run that restarts
-- from the read model must not apply those events a second time. A JSON array of at most 1,000 IDs.
ALTER TABLE conversations ADD COLUMN applied_inbox_ids text NOT NULL DEFAULT '[]';
