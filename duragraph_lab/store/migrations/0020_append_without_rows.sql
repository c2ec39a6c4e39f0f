-- Issue 17: an append without read-model rows (p_rows NULL: a native step, a LangGraph step the
-- worker leaves to the trigger, a run's start or end) takes the statement that inserts its
-- events and their outbox rows only. Migration 0019's single statement planned and opened the
-- five read-model writes (spans, lg_writes, lg_checkpoints, lg_blobs, runs) for such appends
-- too, with nothing to write: ~50 µs a statement (benchmarks.lg_append, "by the trigger").
-- Otherwise as in migration 0019.
CREATE OR REPLACE FUNCTION duragraph.append_run_events(
    p_run uuid, p_expected bigint, p_events jsonb, p_worker text, p_epoch int, p_rows jsonb DEFAULT NULL
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
        RETURN QUERY SELECT a.seq, a.version, a.recorded_at
                       FROM duragraph.append_events(v_stream, 'run', p_expected, p_events) a;
        RETURN;
    END IF;
    IF p_expected IS NOT NULL AND v_new - n <> p_expected THEN
        RAISE EXCEPTION 'version conflict on %', v_stream USING ERRCODE = 'DG409', DETAIL = (v_new - n)::text;
    END IF;
    IF p_rows IS NULL THEN
        -- The trigger projects these events.
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
        RETURN;
    END IF;
    PERFORM set_config('duragraph.step_rows', 'written', true);
    RETURN QUERY
    WITH ins AS (
        INSERT INTO duragraph.events (stream_id, version, event_id, type, data, meta)
        SELECT v_stream, v_new - n + e.ord, (e.ev->>'event_id')::uuid, e.ev->>'type',
               e.ev->'data', coalesce(e.ev->'meta', '{}'::jsonb)
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(ev, ord)
        RETURNING events.seq, events.version, events.recorded_at
    ), queued AS (
        INSERT INTO duragraph.outbox (seq) SELECT ins.seq FROM ins
    ), x AS MATERIALIZED (
        -- p_rows[i]: what the i-th event's projection writes (null: nothing), positionally:
        -- {"span": [ns, task, attempt, step, node, started_at, finished_at, duration_ms],
        --  "writes": [thread, ns, checkpoint, task], "checkpoint": [thread, ns, checkpoint, run],
        --  "versions": [version, ...] (lg_blobs, with the checkpoint's thread and ns), "step": n}.
        -- Kept positional and read with ->> : jsonb_to_recordset costs ~15 µs a call.
        SELECT ins.seq, ins.recorded_at, r.value AS r
          FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS r(value, ord)
          JOIN ins ON ins.version = v_new - n + r.ord
         WHERE jsonb_typeof(r.value) = 'object'
    ), spans AS (
        -- projections/runs.sql, node_completed
        INSERT INTO duragraph.spans AS s (run_id, ns, task, attempt, step, node, status, started_at, ended_at,
                                          duration_ms, seq)
        SELECT p_run, sp->>0, sp->>1, (sp->>2)::int, (sp->>3)::int, sp->>4, 'ok', duragraph.ts(sp->5),
               duragraph.ts(sp->6), (sp->>7)::double precision, x.seq
          FROM x, LATERAL (SELECT x.r->'span' AS sp) p
         WHERE sp IS NOT NULL
        ON CONFLICT (run_id, ns, task, attempt) DO UPDATE
            SET status = 'ok', ended_at = excluded.ended_at, duration_ms = excluded.duration_ms, seq = excluded.seq,
                error = NULL, input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens
    ), writes AS (
        -- projections/langgraph.sql, lg_writes
        INSERT INTO duragraph.lg_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, seq)
        SELECT w->>0, w->>1, w->>2, w->>3, x.seq
          FROM x, LATERAL (SELECT x.r->'writes' AS w) p
         WHERE w IS NOT NULL
        ON CONFLICT DO NOTHING
    ), checkpoints AS (
        -- projections/langgraph.sql, lg_checkpoint
        INSERT INTO duragraph.lg_checkpoints AS c (thread_id, checkpoint_ns, checkpoint_id, run_id, seq)
        SELECT k->>0, k->>1, k->>2, k->>3, x.seq
          FROM x, LATERAL (SELECT x.r->'checkpoint' AS k) p
         WHERE k IS NOT NULL
        ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE
            SET run_id = excluded.run_id, seq = excluded.seq
    ), blobs AS (
        INSERT INTO duragraph.lg_blobs (thread_id, checkpoint_ns, version, seq)
        SELECT x.r->'checkpoint'->>0, x.r->'checkpoint'->>1, v.version, x.seq
          FROM x, jsonb_array_elements_text(x.r->'versions') AS v(version)
         WHERE x.r ? 'versions'
        ON CONFLICT DO NOTHING
    ), steps AS (
        -- projections/runs.sql, step_planned
        UPDATE duragraph.runs r SET step = (x.r->>'step')::int, updated_at = x.recorded_at
          FROM x
         WHERE x.r ? 'step' AND r.run_id = p_run
    )
    SELECT ins.seq, ins.version, ins.recorded_at FROM ins ORDER BY ins.version;
    PERFORM set_config('duragraph.step_rows', '', true);
END
$$;
