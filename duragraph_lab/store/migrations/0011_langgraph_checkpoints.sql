-- LangGraph's checkpoints (issue 17): read models over the lg_* events (domain/langgraph_events.py),
-- projected by projections/langgraph.sql. They hold ids, order and metadata; the serialized
-- checkpoint and writes stay in the events, found by seq: no LangGraph checkpoint tables, and a
-- rebuild from the log gives them back.
--
-- thread_id is LangGraph's thread id: any string (a DuraGraph run's thread is its UUID as text).
CREATE TABLE duragraph.lg_checkpoints (
    thread_id            text NOT NULL,
    checkpoint_ns        text NOT NULL,
    checkpoint_id        text NOT NULL,
    parent_checkpoint_id text,
    run_id               text,
    metadata             jsonb NOT NULL DEFAULT '{}'::jsonb,
    seq                  bigint NOT NULL,  -- the lg_checkpoint event
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
);
-- delete_for_runs names runs only.
CREATE INDEX lg_checkpoints_run ON duragraph.lg_checkpoints (run_id) WHERE run_id IS NOT NULL;
-- list() without a thread: newest first across threads.
CREATE INDEX lg_checkpoints_recent ON duragraph.lg_checkpoints (checkpoint_id DESC);

-- One row per pending write: position is its index in the event's "writes" array.
CREATE TABLE duragraph.lg_writes (
    thread_id     text NOT NULL,
    checkpoint_ns text NOT NULL,
    checkpoint_id text NOT NULL,
    task_id       text NOT NULL,
    idx           int NOT NULL,
    seq           bigint NOT NULL,  -- the lg_writes event
    position      int NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);
