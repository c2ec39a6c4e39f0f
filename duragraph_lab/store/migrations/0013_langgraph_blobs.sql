-- LangGraph checkpoints as deltas (issue 17): an lg_checkpoint event holds the values of the
-- channels that changed (its "blobs", by the version LangGraph gave them), not every channel's
-- value; a checkpoint's values are those of its channel versions, found here (thread, namespace,
-- channel, version -> the event that holds the value). Storage grows with the steps, not with
-- steps x state size. Filled by projections/langgraph.sql.
CREATE TABLE duragraph.lg_blobs (
    thread_id     text NOT NULL,
    checkpoint_ns text NOT NULL,
    channel       text NOT NULL,
    version       text NOT NULL,
    seq           bigint NOT NULL,  -- the lg_checkpoint event whose "blobs" hold the value
    PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
);
