-- Issue 17's storage and write cost: one lg_writes row per event that holds a task's writes (an
-- lg_writes event, or a node_completed holding them), not one per write. The writes, their
-- indexes and their order are read from the event; which of two events that wrote the same
-- (task, idx) wins is decided when reading, by LangGraph's rule (projections/langgraph.sql,
-- store/queries/lg_checkpoints.py). The rows kept so far point at every event that won a write.
CREATE TABLE duragraph.lg_writes_by_event (
    thread_id     text NOT NULL,
    checkpoint_ns text NOT NULL,
    checkpoint_id text NOT NULL,
    task_id       text NOT NULL,
    seq           bigint NOT NULL,  -- the event holding the task's writes
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, seq)
);
INSERT INTO duragraph.lg_writes_by_event (thread_id, checkpoint_ns, checkpoint_id, task_id, seq)
SELECT DISTINCT thread_id, checkpoint_ns, checkpoint_id, task_id, seq FROM duragraph.lg_writes;
DROP TABLE duragraph.lg_writes;
ALTER TABLE duragraph.lg_writes_by_event RENAME TO lg_writes;
ALTER INDEX duragraph.lg_writes_by_event_pkey RENAME TO lg_writes_pkey;
