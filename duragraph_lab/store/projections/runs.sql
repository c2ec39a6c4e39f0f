-- Run streams (run:<uuid>): the runs, run_queue and spans read models, and the status of the
-- run's thread.
--
-- Events written by the domain always carry what is read below. Anything else (a generic append
-- that merely borrows a type name) is skipped rather than made to fail.

-- A worker's clock reading (seconds since the epoch, a JSON number) as a timestamp.
CREATE OR REPLACE FUNCTION duragraph.ts(x jsonb) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN x IS NULL OR jsonb_typeof(x) <> 'number' THEN NULL ELSE to_timestamp((x)::text::double precision) END
$$;

-- The tokens of one kind ('input_tokens', 'output_tokens') that a node's model calls reported
-- (their `usage`), NULL when none did.
CREATE OR REPLACE FUNCTION duragraph.call_tokens(calls jsonb, kind text) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(calls) <> 'array' THEN NULL ELSE (
        SELECT sum((c->'usage'->>kind)::numeric::bigint) FROM jsonb_array_elements(calls) AS c
        WHERE jsonb_typeof(c->'usage'->kind) = 'number')
    END
$$;

CREATE OR REPLACE FUNCTION duragraph.project_run(e duragraph.events) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    -- v_ prefixes: PL/pgSQL variables must not shadow column names (spans.ns, ...).
    sid      uuid := split_part(e.stream_id, ':', 2)::uuid;
    d        jsonb := e.data;
    v_ns     text := coalesce(e.data->>'ns', '');
    v_thread uuid;
    v_after  uuid;
    v_status text;
    v_queue  text := 'queued';
    v_calls  jsonb;
BEGIN
    -- LangGraph's checkpoints and writes (their own read models; they name their thread).
    IF e.type LIKE 'lg\_%' THEN
        PERFORM duragraph.project_checkpoints(e);
        RETURN;
    END IF;
    -- ... also when a run event holds them (a step_planned its checkpoint, a node_completed its
    -- writes: domain/events/langgraph.py), before that event's own projection below.
    IF (e.type = 'step_planned' AND d ? 'langgraph_checkpoint') OR (e.type = 'node_completed' AND d ? 'langgraph_writes') THEN
        PERFORM duragraph.project_checkpoints(e);
    END IF;
    -- Spans: one row per node execution attempt, a subgraph's nodes included (under their ns).
    IF e.type IN ('node_completed', 'node_failed') THEN
        IF d->>'task' IS NULL OR d->>'node' IS NULL OR jsonb_typeof(d->'step') IS DISTINCT FROM 'number' THEN
            RETURN;
        END IF;
        IF e.type = 'node_completed' THEN
            -- Model calls, if any (most nodes make none: call_tokens, a SQL function planned at
            -- every call, is not called for them).
            v_calls := CASE WHEN jsonb_typeof(d->'model_calls') = 'array' AND jsonb_array_length(d->'model_calls') > 0
                            THEN d->'model_calls' END;
            INSERT INTO duragraph.spans AS s (run_id, ns, task, attempt, step, node, status, started_at, ended_at, duration_ms, seq,
                                              input_tokens, output_tokens)
            VALUES (sid, v_ns, d->>'task', coalesce((d->>'attempt')::int, 1), (d->>'step')::int, d->>'node', 'ok',
                    duragraph.ts(d->'started_at'), duragraph.ts(d->'finished_at'), (d->>'duration_ms')::double precision, e.seq,
                    CASE WHEN v_calls IS NOT NULL THEN duragraph.call_tokens(v_calls, 'input_tokens') END,
                    CASE WHEN v_calls IS NOT NULL THEN duragraph.call_tokens(v_calls, 'output_tokens') END)
            ON CONFLICT (run_id, ns, task, attempt) DO UPDATE
                SET status = 'ok', ended_at = excluded.ended_at, duration_ms = excluded.duration_ms, seq = excluded.seq, error = NULL,
                    input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens;
            -- The run's totals: the sum over its spans (so a span written twice is counted once).
            -- Only for nodes that called a model, or that rewrote a span of a run that has totals:
            -- the others change nothing (a run without totals has no span with tokens), and this
            -- sum over every span of the run would make each step's cost grow with the run.
            IF v_calls IS NOT NULL OR (jsonb_typeof(d->'model_calls') = 'array' AND EXISTS (
                   SELECT 1 FROM duragraph.runs r
                    WHERE r.run_id = sid AND (r.input_tokens IS NOT NULL OR r.output_tokens IS NOT NULL))) THEN
                UPDATE duragraph.runs r SET input_tokens = t.i, output_tokens = t.o
                FROM (SELECT sum(s.input_tokens) AS i, sum(s.output_tokens) AS o FROM duragraph.spans s WHERE s.run_id = sid) t
                WHERE r.run_id = sid;
            END IF;
        ELSE
            INSERT INTO duragraph.spans AS s (run_id, ns, task, attempt, step, node, status, started_at, ended_at, duration_ms, error, seq)
            VALUES (sid, v_ns, d->>'task', coalesce((d->>'attempt')::int, 1), (d->>'step')::int, d->>'node', 'error',
                    duragraph.ts(d->'started_at'), duragraph.ts(d->'finished_at'),
                    (extract(epoch FROM duragraph.ts(d->'finished_at') - duragraph.ts(d->'started_at')) * 1000), d->'error', e.seq)
            ON CONFLICT (run_id, ns, task, attempt) DO UPDATE SET status = 'error', error = excluded.error, seq = excluded.seq;
        END IF;
        RETURN;
    END IF;
    IF v_ns <> '' THEN
        RETURN;  -- a subgraph's own lifecycle is not the run's
    END IF;

    CASE e.type
    WHEN 'run_created' THEN
        IF d->>'thread_id' IS NULL OR d->>'graph_id' IS NULL THEN
            RETURN;
        END IF;
        INSERT INTO duragraph.runs (run_id, thread_id, assistant_id, graph_id, status, metadata, kwargs,
                                    multitask_strategy, created_at, updated_at)
        VALUES (sid, (d->>'thread_id')::uuid, (d->>'assistant_id')::uuid, d->>'graph_id', 'pending',
                coalesce(d->'metadata', '{}'::jsonb),
                CASE WHEN jsonb_typeof(d->'kwargs') = 'object' THEN d->'kwargs' ELSE '{}'::jsonb END,
                d->'kwargs'->>'multitask_strategy', e.recorded_at, e.recorded_at);
        -- A run created while its thread's latest run is active (multitask "enqueue", "interrupt",
        -- "rollback") waits, blocked, until that run ends or pauses. FOR UPDATE: the run waited for
        -- cannot end between this check and our commit (its end updates that row, so it waits for
        -- us and then sees our queue row).
        IF d->>'after_run' IS NOT NULL THEN
            v_after := (d->>'after_run')::uuid;
            SELECT r.status INTO v_status FROM duragraph.runs r WHERE r.run_id = v_after FOR UPDATE;
            IF v_status IN ('pending', 'running') THEN
                v_queue := 'blocked';
            ELSE
                v_after := NULL;
            END IF;
        END IF;
        INSERT INTO duragraph.run_queue (run_id, graph_id, state, blocked_by, available_at, enqueued_at)
        VALUES (sid, d->>'graph_id', v_queue, v_after,
                e.recorded_at + make_interval(secs => coalesce((d->>'after_seconds')::double precision, 0)),
                e.recorded_at);
    WHEN 'run_started' THEN
        UPDATE duragraph.runs SET status = 'running', attempt = coalesce((d->>'attempt')::int, attempt + 1),
               worker_id = d->>'worker_id', started_at = coalesce(started_at, e.recorded_at), updated_at = e.recorded_at
         WHERE run_id = sid;
    WHEN 'step_planned' THEN
        UPDATE duragraph.runs SET step = (d->>'step')::int, updated_at = e.recorded_at WHERE run_id = sid;
    WHEN 'run_resumed' THEN
        UPDATE duragraph.runs SET status = 'running', updated_at = e.recorded_at WHERE run_id = sid
        RETURNING thread_id INTO v_thread;
        UPDATE duragraph.run_queue SET state = 'queued', worker_id = NULL, lease_expires_at = NULL,
               available_at = e.recorded_at, enqueued_at = e.recorded_at
         WHERE run_id = sid;
        UPDATE duragraph.threads SET status = 'busy', updated_at = e.recorded_at
         WHERE thread_id = v_thread AND last_run_id = sid;
    WHEN 'run_cancel_requested' THEN
        -- action: what the request asked for (interrupt | rollback), read when the run ends.
        UPDATE duragraph.runs SET cancel_requested = true, cancel_action = coalesce(d->>'action', 'interrupt'),
               updated_at = e.recorded_at
         WHERE run_id = sid;
    WHEN 'run_interrupted', 'run_completed', 'run_failed', 'run_timed_out', 'run_cancelled' THEN
        IF e.type = 'run_interrupted' THEN
            -- Paused for a human: off the queue until a resume.
            UPDATE duragraph.runs SET status = 'interrupted', updated_at = e.recorded_at WHERE run_id = sid
            RETURNING thread_id INTO v_thread;
            UPDATE duragraph.run_queue SET state = 'parked', worker_id = NULL, lease_expires_at = NULL WHERE run_id = sid;
            UPDATE duragraph.threads SET status = 'interrupted', updated_at = e.recorded_at
             WHERE thread_id = v_thread AND last_run_id = sid;
        ELSE
            UPDATE duragraph.runs
               SET status = CASE e.type WHEN 'run_completed' THEN 'success' WHEN 'run_failed' THEN 'error'
                                        WHEN 'run_timed_out' THEN 'timeout' ELSE 'cancelled' END,
                   error = d->'error', ended_at = e.recorded_at, updated_at = e.recorded_at
             WHERE run_id = sid
            RETURNING thread_id INTO v_thread;
            UPDATE duragraph.run_queue SET state = 'done', worker_id = NULL, lease_expires_at = NULL WHERE run_id = sid;
            UPDATE duragraph.threads
               SET status = CASE WHEN e.type IN ('run_failed', 'run_timed_out') THEN 'error' ELSE 'idle' END,
                   updated_at = e.recorded_at
             WHERE thread_id = v_thread AND last_run_id = sid;
        END IF;
        -- The thread's next run may start now (an interrupted run waits for a human: the run
        -- queued behind it supersedes it, as in LangGraph).
        UPDATE duragraph.run_queue
           SET state = 'queued', blocked_by = NULL, available_at = greatest(available_at, e.recorded_at)
         WHERE blocked_by = sid AND state = 'blocked';
        IF e.type = 'run_cancelled' THEN
            -- A rollback removes the cancelled run from the read models.
            DELETE FROM duragraph.runs WHERE run_id = sid AND cancel_action = 'rollback';
            IF FOUND THEN
                PERFORM duragraph.forget_langgraph_run(sid::text);
            END IF;
            DELETE FROM duragraph.spans s WHERE s.run_id = sid
               AND NOT EXISTS (SELECT 1 FROM duragraph.runs r WHERE r.run_id = sid);
        END IF;
    WHEN 'state_updated' THEN
        UPDATE duragraph.runs SET updated_at = e.recorded_at WHERE run_id = sid
        RETURNING thread_id INTO v_thread;
        UPDATE duragraph.threads SET updated_at = e.recorded_at WHERE thread_id = v_thread;
    WHEN 'run_deleted' THEN
        -- Removed from the read models; its events stay.
        DELETE FROM duragraph.runs WHERE run_id = sid;
        DELETE FROM duragraph.spans WHERE run_id = sid;
        PERFORM duragraph.forget_langgraph_run(sid::text);
        UPDATE duragraph.run_queue SET state = 'done', worker_id = NULL, lease_expires_at = NULL WHERE run_id = sid;
    ELSE
        NULL;
    END CASE;
END
$$;
