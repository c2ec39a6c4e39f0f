-- Group commit: the appends of many runs in one statement, so one transaction and one WAL flush
-- make all of them durable (a worker serving many runs batches its commits through this).
--
-- Each append is checked on its own, in the order append_run_events checks it (the stream's row
-- locked first, then the lease, then the expected version). One that fails is reported in its
-- result row (error DG423 = lease lost, DG409 = version conflict with the current version in
-- detail) and skipped; the others are written. Appends of one stream are applied in array order.
-- Any other error (a duplicate event id, a deadlock) fails the whole statement, and the caller
-- then appends the batch one by one to learn which append it was.
--
-- p_batch is a JSON array of {"run": uuid, "expected": n | null, "epoch": n | null, "events": [...]}
-- (the events as append_events takes them); all appends are made by worker p_worker.
CREATE FUNCTION duragraph.append_run_events_batch(p_batch jsonb, p_worker text)
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
        RETURN QUERY SELECT a.i, r.seq, r.version, r.recorded_at, NULL::text, NULL::text
                       FROM duragraph.append_events(v_stream, 'run', v_expect, a.x->'events') r;
    END LOOP;
END
$$;
