-- Issue 17: a step's read models written by its append, from values the writer computed
-- (store/step_rows.py), instead of being read out of the events' JSON by the trigger.
--
-- 1. The events trigger leaves out the events whose rows their append writes itself: those
--    appended while the transaction's setting duragraph.step_rows is 'written'. The appends
--    below set it around their insert of the events and clear it after, so any other insert of
--    the same transaction is projected as before. The condition is checked as each row is
--    inserted: an event left out is never queued for the trigger at all.
DROP TRIGGER events_project ON duragraph.events;
CREATE TRIGGER events_project AFTER INSERT ON duragraph.events
    FOR EACH ROW WHEN (current_setting('duragraph.step_rows', true) IS DISTINCT FROM 'written')
    EXECUTE FUNCTION duragraph.project_inserted();

-- 2. A leased append takes the rows of its events' read models (p_rows, NULL: the trigger
--    projects them) and writes them in the statement that inserts the events. They are what
--    project_run (projections/runs.sql: a node's span, the run's step) and project_checkpoints
--    (projections/langgraph.sql: a LangGraph task's writes, a checkpoint, the versions its
--    values are stored at) write for those events: a change there is a change here too, and
--    tests/integration/test_projections.py compares the read models live runs leave with a
--    rebuild, which replays the projections. Otherwise as in migration 0018; a run without a
--    stream yet takes the general append, projected by the trigger.
DROP FUNCTION duragraph.append_run_events(uuid, bigint, jsonb, text, int);
CREATE FUNCTION duragraph.append_run_events(
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
    IF p_rows IS NOT NULL THEN
        PERFORM set_config('duragraph.step_rows', 'written', true);
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
    IF p_rows IS NOT NULL THEN
        PERFORM set_config('duragraph.step_rows', '', true);
    END IF;
END
$$;

-- 3. The group commit's appends may carry theirs too ("rows" beside "events"), the same way.
CREATE OR REPLACE FUNCTION duragraph.append_run_events_batch(p_batch jsonb, p_worker text)
RETURNS TABLE (item int, seq bigint, version bigint, recorded_at timestamptz, error text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    a         record;
    v_run     uuid;
    v_stream  text;
    v_epoch   int;
    v_expect  bigint;
    v_current bigint;
BEGIN
    FOR a IN SELECT e.value AS x, e.ordinality::int AS i FROM jsonb_array_elements(p_batch) WITH ORDINALITY e LOOP
        v_run := (a.x->>'run')::uuid;
        v_stream := 'run:' || v_run;
        v_epoch := (a.x->>'epoch')::int;
        v_expect := (a.x->>'expected')::bigint;
        SELECT s.version INTO v_current FROM duragraph.streams s WHERE s.stream_id = v_stream FOR UPDATE;
        IF v_epoch IS NOT NULL THEN
            PERFORM 1 FROM duragraph.run_queue q
             WHERE q.run_id = v_run AND q.epoch = v_epoch AND q.worker_id = p_worker AND q.state = 'leased'
               FOR UPDATE;
            IF NOT FOUND THEN
                RETURN QUERY SELECT a.i, NULL::bigint, NULL::bigint, NULL::timestamptz, 'DG423'::text,
                    format('worker %s no longer holds the lease of run %s (epoch %s)', p_worker, v_run, v_epoch);
                CONTINUE;
            END IF;
        END IF;
        IF v_expect IS NOT NULL AND coalesce(v_current, 0) <> v_expect THEN
            RETURN QUERY SELECT a.i, NULL::bigint, NULL::bigint, NULL::timestamptz, 'DG409'::text,
                coalesce(v_current, 0)::text;
            CONTINUE;
        END IF;
        IF a.x ? 'rows' THEN
            -- The lease and the version checked above, the stream's row locked: appended with
            -- its rows (the lease not checked again: no epoch).
            RETURN QUERY SELECT a.i, r.seq, r.version, r.recorded_at, NULL::text, NULL::text
                           FROM duragraph.append_run_events(v_run, v_expect, a.x->'events', NULL, NULL,
                                                            a.x->'rows') r;
        ELSE
            RETURN QUERY SELECT a.i, r.seq, r.version, r.recorded_at, NULL::text, NULL::text
                           FROM duragraph.append_events(v_stream, 'run', v_expect, a.x->'events') r;
        END IF;
    END LOOP;
END
$$;
