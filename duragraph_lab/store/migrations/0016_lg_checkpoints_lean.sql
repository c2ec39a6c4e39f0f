-- Issue 17's storage: lg_checkpoints repeated each checkpoint's metadata and parent id, which its
-- lg_checkpoint event holds (found by seq); they are read from the event now.
ALTER TABLE duragraph.lg_checkpoints DROP COLUMN metadata, DROP COLUMN parent_checkpoint_id;
