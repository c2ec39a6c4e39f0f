-- Read models for graphs, assistants, threads, runs and spans; the run queue with leases.
--
-- The read models are projections of duragraph.events: duragraph.project(event) updates them and
-- runs from a trigger, inside the transaction that appends the event, so a read after a write
-- sees the write. duragraph.rebuild_projections() recreates them from events alone.

CREATE TABLE duragraph.graphs (
    graph_id       text PRIMARY KEY,
    version        text NOT NULL,
    topology       jsonb NOT NULL,
    registered_by  text,
    registered_at  timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE duragraph.assistants (
    assistant_id  uuid PRIMARY KEY,
    graph_id      text NOT NULL,
    name          text NOT NULL,
    description   text,
    config        jsonb NOT NULL DEFAULT '{}'::jsonb,
    context       jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    version       int NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX assistants_graph_idx ON duragraph.assistants (graph_id);

CREATE TABLE duragraph.threads (
    thread_id    uuid PRIMARY KEY,
    status       text NOT NULL DEFAULT 'idle',  -- idle | busy | interrupted | error
    metadata     jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_run_id  uuid,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE duragraph.runs (
    run_id            uuid PRIMARY KEY,
    thread_id         uuid NOT NULL,
    assistant_id      uuid,
    graph_id          text NOT NULL,
    status            text NOT NULL,  -- pending | running | success | error | interrupted | timeout | cancelled
    metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
    error             jsonb,
    step              int NOT NULL DEFAULT -1,
    attempt           int NOT NULL DEFAULT 0,
    worker_id         text,
    cancel_requested  boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    started_at        timestamptz,
    ended_at          timestamptz
);
CREATE INDEX runs_thread_idx ON duragraph.runs (thread_id, created_at);
CREATE INDEX runs_status_idx ON duragraph.runs (status, created_at);

-- Work for workers, one row per run. epoch increases with every lease and never goes back (rows
-- are parked or marked done, not deleted): a worker's writes carry the epoch it was given, and a
-- write with any other epoch is refused (fencing).
CREATE TABLE duragraph.run_queue (
    run_id            uuid PRIMARY KEY,
    graph_id          text NOT NULL,
    state             text NOT NULL,  -- queued | leased | parked (waiting for a human) | done
    worker_id         text,
    epoch             int NOT NULL DEFAULT 0,
    lease_expires_at  timestamptz,
    available_at      timestamptz NOT NULL,
    enqueued_at       timestamptz NOT NULL,
    expiries          int NOT NULL DEFAULT 0
);
CREATE INDEX run_queue_ready_idx ON duragraph.run_queue (graph_id, available_at) WHERE state = 'queued';
CREATE INDEX run_queue_lease_idx ON duragraph.run_queue (lease_expires_at) WHERE state = 'leased';

-- One row per node execution attempt (a trace's spans).
CREATE TABLE duragraph.spans (
    run_id       uuid NOT NULL,
    ns           text NOT NULL DEFAULT '',
    task         text NOT NULL,
    attempt      int NOT NULL,
    step         int NOT NULL,
    node         text NOT NULL,
    status       text NOT NULL,  -- ok | error
    started_at   timestamptz,
    ended_at     timestamptz,
    duration_ms  double precision,
    error        jsonb,
    seq          bigint NOT NULL,
    PRIMARY KEY (run_id, ns, task, attempt)
);

CREATE TABLE duragraph.workers (
    worker_id     text PRIMARY KEY,
    hostname      text,
    pid           int,
    graphs        text[] NOT NULL DEFAULT '{}',
    started_at    timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL
);

CREATE FUNCTION duragraph.ts(x jsonb) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN x IS NULL OR jsonb_typeof(x) <> 'number' THEN NULL ELSE to_timestamp((x)::text::double precision) END
$$;

CREATE FUNCTION duragraph.project(e duragraph.events) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    -- v_ prefixes: PL/pgSQL variables must not shadow column names (spans.ns, ...).
    v_kind   text := split_part(e.stream_id, ':', 1);
    sid      uuid := split_part(e.stream_id, ':', 2)::uuid;
    d        jsonb := e.data;
    v_ns     text := coalesce(e.data->>'ns', '');
    v_thread uuid;
BEGIN
    -- Events written by the domain always carry what is read below. Anything else (a generic
    -- append that merely borrows a type name) is skipped rather than made to fail.
    IF v_kind = 'run' THEN
        IF e.type IN ('node_completed', 'node_failed') AND (d->>'task' IS NULL OR d->>'node' IS NULL
                OR jsonb_typeof(d->'step') IS DISTINCT FROM 'number') THEN
            RETURN;
        END IF;
        IF e.type = 'node_completed' THEN
            INSERT INTO duragraph.spans AS s (run_id, ns, task, attempt, step, node, status, started_at, ended_at, duration_ms, seq)
            VALUES (sid, v_ns, d->>'task', coalesce((d->>'attempt')::int, 1), (d->>'step')::int, d->>'node', 'ok',
                    duragraph.ts(d->'started_at'), duragraph.ts(d->'finished_at'), (d->>'duration_ms')::double precision, e.seq)
            ON CONFLICT (run_id, ns, task, attempt) DO UPDATE
                SET status = 'ok', ended_at = excluded.ended_at, duration_ms = excluded.duration_ms, seq = excluded.seq, error = NULL;
            RETURN;
        ELSIF e.type = 'node_failed' THEN
            INSERT INTO duragraph.spans AS s (run_id, ns, task, attempt, step, node, status, started_at, ended_at, duration_ms, error, seq)
            VALUES (sid, v_ns, d->>'task', coalesce((d->>'attempt')::int, 1), (d->>'step')::int, d->>'node', 'error',
                    duragraph.ts(d->'started_at'), duragraph.ts(d->'finished_at'),
                    (extract(epoch FROM duragraph.ts(d->'finished_at') - duragraph.ts(d->'started_at')) * 1000), d->'error', e.seq)
            ON CONFLICT (run_id, ns, task, attempt) DO UPDATE SET status = 'error', error = excluded.error, seq = excluded.seq;
            RETURN;
        END IF;
        IF v_ns <> '' THEN
            RETURN;  -- a subgraph's own lifecycle is not the run's
        END IF;
        IF e.type = 'run_created' THEN
            IF d->>'thread_id' IS NULL OR d->>'graph_id' IS NULL THEN
                RETURN;
            END IF;
            INSERT INTO duragraph.runs (run_id, thread_id, assistant_id, graph_id, status, metadata, created_at, updated_at)
            VALUES (sid, (d->>'thread_id')::uuid, (d->>'assistant_id')::uuid, d->>'graph_id', 'pending',
                    coalesce(d->'metadata', '{}'::jsonb), e.recorded_at, e.recorded_at);
            INSERT INTO duragraph.run_queue (run_id, graph_id, state, available_at, enqueued_at)
            VALUES (sid, d->>'graph_id', 'queued',
                    e.recorded_at + make_interval(secs => coalesce((d->>'after_seconds')::double precision, 0)), e.recorded_at);
            RETURN;
        END IF;
        SELECT r.thread_id INTO v_thread FROM duragraph.runs r WHERE r.run_id = sid;
        CASE e.type
        WHEN 'run_started' THEN
            UPDATE duragraph.runs SET status = 'running', attempt = coalesce((d->>'attempt')::int, attempt + 1),
                   worker_id = d->>'worker_id', started_at = coalesce(started_at, e.recorded_at), updated_at = e.recorded_at
             WHERE run_id = sid;
        WHEN 'step_planned' THEN
            UPDATE duragraph.runs SET step = (d->>'step')::int, updated_at = e.recorded_at WHERE run_id = sid;
        WHEN 'run_interrupted' THEN
            UPDATE duragraph.runs SET status = 'interrupted', updated_at = e.recorded_at WHERE run_id = sid;
            UPDATE duragraph.run_queue SET state = 'parked', worker_id = NULL, lease_expires_at = NULL WHERE run_id = sid;
            UPDATE duragraph.threads SET status = 'interrupted', updated_at = e.recorded_at
             WHERE thread_id = v_thread AND last_run_id = sid;
        WHEN 'run_resumed' THEN
            UPDATE duragraph.runs SET status = 'running', updated_at = e.recorded_at WHERE run_id = sid;
            UPDATE duragraph.run_queue SET state = 'queued', worker_id = NULL, lease_expires_at = NULL,
                   available_at = e.recorded_at, enqueued_at = e.recorded_at
             WHERE run_id = sid;
            UPDATE duragraph.threads SET status = 'busy', updated_at = e.recorded_at
             WHERE thread_id = v_thread AND last_run_id = sid;
        WHEN 'run_cancel_requested' THEN
            UPDATE duragraph.runs SET cancel_requested = true, updated_at = e.recorded_at WHERE run_id = sid;
        WHEN 'run_completed', 'run_failed', 'run_timed_out', 'run_cancelled' THEN
            UPDATE duragraph.runs
               SET status = CASE e.type WHEN 'run_completed' THEN 'success' WHEN 'run_failed' THEN 'error'
                                        WHEN 'run_timed_out' THEN 'timeout' ELSE 'cancelled' END,
                   error = d->'error', ended_at = e.recorded_at, updated_at = e.recorded_at
             WHERE run_id = sid;
            UPDATE duragraph.run_queue SET state = 'done', worker_id = NULL, lease_expires_at = NULL WHERE run_id = sid;
            UPDATE duragraph.threads
               SET status = CASE WHEN e.type IN ('run_failed', 'run_timed_out') THEN 'error' ELSE 'idle' END,
                   updated_at = e.recorded_at
             WHERE thread_id = v_thread AND last_run_id = sid;
        ELSE
            NULL;
        END CASE;
    ELSIF v_kind = 'thread' THEN
        CASE e.type
        WHEN 'thread_created' THEN
            INSERT INTO duragraph.threads (thread_id, status, metadata, created_at, updated_at)
            VALUES (sid, 'idle', coalesce(d->'metadata', '{}'::jsonb), e.recorded_at, e.recorded_at);
        WHEN 'thread_updated' THEN
            UPDATE duragraph.threads SET metadata = metadata || coalesce(d->'metadata', '{}'::jsonb), updated_at = e.recorded_at
             WHERE thread_id = sid;
        WHEN 'thread_run_added' THEN
            UPDATE duragraph.threads SET last_run_id = (d->>'run_id')::uuid, status = 'busy', updated_at = e.recorded_at
             WHERE thread_id = sid;
        WHEN 'thread_deleted' THEN
            DELETE FROM duragraph.threads WHERE thread_id = sid;
        ELSE
            NULL;
        END CASE;
    ELSIF v_kind = 'assistant' THEN
        CASE e.type
        WHEN 'assistant_created' THEN
            IF d->>'graph_id' IS NULL THEN
                RETURN;
            END IF;
            INSERT INTO duragraph.assistants (assistant_id, graph_id, name, description, config, context, metadata, version, created_at, updated_at)
            VALUES (sid, d->>'graph_id', coalesce(d->>'name', d->>'graph_id'), d->>'description',
                    coalesce(d->'config', '{}'::jsonb), coalesce(d->'context', '{}'::jsonb),
                    coalesce(d->'metadata', '{}'::jsonb), 1, e.recorded_at, e.recorded_at);
        WHEN 'assistant_updated' THEN
            UPDATE duragraph.assistants
               SET graph_id = coalesce(d->>'graph_id', graph_id), name = coalesce(d->>'name', name),
                   description = coalesce(d->>'description', description), config = coalesce(d->'config', config),
                   context = coalesce(d->'context', context), metadata = coalesce(d->'metadata', metadata),
                   version = coalesce((d->>'version')::int, version + 1), updated_at = e.recorded_at
             WHERE assistant_id = sid;
        WHEN 'assistant_deleted' THEN
            DELETE FROM duragraph.assistants WHERE assistant_id = sid;
        ELSE
            NULL;
        END CASE;
    ELSIF v_kind = 'graph' THEN
        IF e.type = 'graph_registered' AND d->>'graph_id' IS NOT NULL AND d->'topology' IS NOT NULL THEN
            INSERT INTO duragraph.graphs AS g (graph_id, version, topology, registered_by, registered_at, updated_at)
            VALUES (d->>'graph_id', d->>'version', d->'topology', d->>'registered_by', e.recorded_at, e.recorded_at)
            ON CONFLICT (graph_id) DO UPDATE SET version = excluded.version, topology = excluded.topology,
                   registered_by = excluded.registered_by, updated_at = excluded.updated_at;
        END IF;
    END IF;
END
$$;

CREATE FUNCTION duragraph.project_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM duragraph.project(NEW);
    RETURN NULL;
END
$$;

CREATE TRIGGER events_project AFTER INSERT ON duragraph.events
    FOR EACH ROW EXECUTE FUNCTION duragraph.project_inserted();

-- Recreate every read model from the event log. The run queue is rebuilt too: leases held at the
-- time are dropped and epochs restart, so run it with the workers stopped.
CREATE FUNCTION duragraph.rebuild_projections() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    e duragraph.events;
BEGIN
    TRUNCATE duragraph.spans, duragraph.run_queue, duragraph.runs, duragraph.threads, duragraph.assistants, duragraph.graphs;
    FOR e IN SELECT * FROM duragraph.events ORDER BY seq LOOP
        PERFORM duragraph.project(e);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- A worker's append: refused unless it still holds the run's lease at the epoch it was given.
-- One statement (one round trip) for fence + events + outbox + read models.
CREATE FUNCTION duragraph.append_run_events(
    p_run uuid, p_expected bigint, p_events jsonb, p_worker text, p_epoch int
) RETURNS TABLE (seq bigint, version bigint, recorded_at timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    -- Lock order: the stream's row first, then the queue row: the same order as any other
    -- append to the run's stream (a cancel updates the queue through the projection trigger),
    -- so the two can never deadlock.
    PERFORM 1 FROM duragraph.streams s WHERE s.stream_id = 'run:' || p_run FOR UPDATE;
    IF p_epoch IS NOT NULL THEN
        PERFORM 1 FROM duragraph.run_queue q
         WHERE q.run_id = p_run AND q.epoch = p_epoch AND q.worker_id = p_worker AND q.state = 'leased'
           FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'worker % no longer holds the lease of run % (epoch %)', p_worker, p_run, p_epoch
                USING ERRCODE = 'DG423';
        END IF;
    END IF;
    RETURN QUERY SELECT a.seq, a.version, a.recorded_at
                   FROM duragraph.append_events('run:' || p_run, 'run', p_expected, p_events) a;
END
$$;
