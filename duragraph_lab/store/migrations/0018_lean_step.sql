-- Issue 17: what a LangGraph step writes besides its events, made smaller.
--
-- 1. lg_blobs: one row per version a checkpoint stores values of, not one per channel. LangGraph
--    gives every channel a step updates the same new version (pregel's apply_writes computes it
--    once a step), so a step's checkpoint is one row, where it was one per changed channel (three
--    a step in the benchmarks' linear graph). Which channels an event holds at that version is
--    read from the event (duragraph.lg_blob_version, projections/langgraph.sql).
CREATE TABLE duragraph.lg_blobs_by_version (
    thread_id     text NOT NULL,
    checkpoint_ns text NOT NULL,
    version       text NOT NULL,
    seq           bigint NOT NULL,  -- an event whose "blobs" hold values at this version
    PRIMARY KEY (thread_id, checkpoint_ns, version, seq)
);
INSERT INTO duragraph.lg_blobs_by_version (thread_id, checkpoint_ns, version, seq)
SELECT DISTINCT thread_id, checkpoint_ns, version, seq FROM duragraph.lg_blobs;
DROP TABLE duragraph.lg_blobs;
ALTER TABLE duragraph.lg_blobs_by_version RENAME TO lg_blobs;
ALTER INDEX duragraph.lg_blobs_by_version_pkey RENAME TO lg_blobs_pkey;

-- 2. The events' (type, seq) index served one reader only, the trace export's search for the
--    runs that ended (otel/loop.py: read_all(types=END_TYPES)), and cost an index entry for every
--    event. An index of those events alone serves it (store/postgres.py writes the types of a
--    read_all into its statement, so that PostgreSQL can use it).
DROP INDEX duragraph.events_type_seq_idx;
CREATE INDEX events_run_ends_idx ON duragraph.events (seq)
    WHERE type IN ('run_completed', 'run_failed', 'run_cancelled', 'run_timed_out');

-- 3. A leased append locks the run's stream row by updating it (one visit of the row where it
--    was two: a lock, then the update), then checks the lease; a refused append raises, which
--    undoes the update. Same lock order as before (the stream's row, then the queue row).
CREATE OR REPLACE FUNCTION duragraph.append_run_events(
    p_run uuid, p_expected bigint, p_events jsonb, p_worker text, p_epoch int
) RETURNS TABLE (seq bigint, version bigint, recorded_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_stream text := 'run:' || p_run;
    n        bigint := jsonb_array_length(p_events);
    v_new    bigint;
BEGIN
    UPDATE duragraph.streams AS s SET version = s.version + n, updated_at = now()
     WHERE s.stream_id = v_stream
    RETURNING s.version INTO v_new;
    IF p_epoch IS NOT NULL THEN
        PERFORM 1 FROM duragraph.run_queue q
         WHERE q.run_id = p_run AND q.epoch = p_epoch AND q.worker_id = p_worker AND q.state = 'leased'
           FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'worker % no longer holds the lease of run % (epoch %)', p_worker, p_run, p_epoch
                USING ERRCODE = 'DG423';
        END IF;
    END IF;
    IF v_new IS NULL THEN
        -- No stream yet (a run's stream starts with its run_created): the general append.
        RETURN QUERY SELECT a.seq, a.version, a.recorded_at
                       FROM duragraph.append_events(v_stream, 'run', p_expected, p_events) a;
        RETURN;
    END IF;
    IF p_expected IS NOT NULL AND v_new - n <> p_expected THEN
        RAISE EXCEPTION 'version conflict on %', v_stream USING ERRCODE = 'DG409', DETAIL = (v_new - n)::text;
    END IF;
    RETURN QUERY
    WITH ins AS (
        INSERT INTO duragraph.events (stream_id, version, event_id, type, data, meta)
        SELECT v_stream, v_new - n + e.ord, (e.ev->>'event_id')::uuid, e.ev->>'type',
               e.ev->'data', coalesce(e.ev->'meta', '{}'::jsonb)
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(ev, ord)
        RETURNING events.seq, events.version, events.recorded_at
    ), queued AS (
        INSERT INTO duragraph.outbox (seq) SELECT ins.seq FROM ins
    )
    SELECT ins.seq, ins.version, ins.recorded_at FROM ins ORDER BY ins.version;
END
$$;
