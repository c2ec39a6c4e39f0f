-- What the HTTP API adds to the read models: run options (kwargs), runs queued behind a thread's
-- active run (multitask "enqueue" / "interrupt" / "rollback"), deleted runs and threads,
-- assistant versions, and temporary threads (stateless runs).
--
-- duragraph.project(e) from 0002 stays as it is; duragraph.project_lifecycle(e) runs after it
-- in the same trigger and adjusts what it wrote.

ALTER TABLE duragraph.runs
    ADD COLUMN kwargs jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN multitask_strategy text,
    ADD COLUMN cancel_action text;  -- interrupt | rollback: what the cancel request asked for

ALTER TABLE duragraph.threads
    ADD COLUMN temporary boolean NOT NULL DEFAULT false;  -- a stateless run's: deleted once done
CREATE INDEX threads_temporary_idx ON duragraph.threads (updated_at) WHERE temporary;

-- A run created while its thread's latest run was active waits ('blocked') until that run ends.
ALTER TABLE duragraph.run_queue ADD COLUMN blocked_by uuid;
CREATE INDEX run_queue_blocked_idx ON duragraph.run_queue (blocked_by) WHERE state = 'blocked';

CREATE TABLE duragraph.assistant_versions (
    assistant_id  uuid NOT NULL,
    version       int NOT NULL,
    graph_id      text NOT NULL,
    name          text NOT NULL,
    description   text,
    config        jsonb NOT NULL DEFAULT '{}'::jsonb,
    context       jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (assistant_id, version)
);

CREATE FUNCTION duragraph.project_lifecycle(e duragraph.events) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_kind   text := split_part(e.stream_id, ':', 1);
    sid      uuid := split_part(e.stream_id, ':', 2)::uuid;
    d        jsonb := e.data;
    v_after  uuid;
    v_status text;
BEGIN
    IF v_kind = 'run' THEN
        IF coalesce(d->>'ns', '') <> '' THEN
            RETURN;
        END IF;
        CASE e.type
        WHEN 'run_created' THEN
            IF d->>'thread_id' IS NULL OR d->>'graph_id' IS NULL THEN
                RETURN;
            END IF;
            UPDATE duragraph.runs
               SET kwargs = CASE WHEN jsonb_typeof(d->'kwargs') = 'object' THEN d->'kwargs' ELSE '{}'::jsonb END,
                   multitask_strategy = d->'kwargs'->>'multitask_strategy'
             WHERE run_id = sid;
            IF d->>'after_run' IS NOT NULL THEN
                v_after := (d->>'after_run')::uuid;
                -- FOR UPDATE: the run we wait for cannot end between this check and our commit
                -- (its end updates this row, so it waits for us and then sees our queue row).
                SELECT r.status INTO v_status FROM duragraph.runs r WHERE r.run_id = v_after FOR UPDATE;
                IF v_status IN ('pending', 'running') THEN
                    UPDATE duragraph.run_queue SET state = 'blocked', blocked_by = v_after WHERE run_id = sid;
                END IF;
            END IF;
        WHEN 'run_cancel_requested' THEN
            UPDATE duragraph.runs SET cancel_action = coalesce(d->>'action', 'interrupt') WHERE run_id = sid;
        WHEN 'run_completed', 'run_failed', 'run_timed_out', 'run_cancelled', 'run_interrupted' THEN
            -- The thread's next run may start now (an interrupted run waits for a human: the run
            -- queued behind it supersedes it, as in LangGraph).
            UPDATE duragraph.run_queue
               SET state = 'queued', blocked_by = NULL, available_at = greatest(available_at, e.recorded_at)
             WHERE blocked_by = sid AND state = 'blocked';
            IF e.type = 'run_cancelled' THEN
                -- A rollback removes the cancelled run from the read models.
                DELETE FROM duragraph.runs WHERE run_id = sid AND cancel_action = 'rollback';
                DELETE FROM duragraph.spans s WHERE s.run_id = sid
                   AND NOT EXISTS (SELECT 1 FROM duragraph.runs r WHERE r.run_id = sid);
            END IF;
        WHEN 'state_updated' THEN
            UPDATE duragraph.runs SET updated_at = e.recorded_at WHERE run_id = sid;
            UPDATE duragraph.threads t SET updated_at = e.recorded_at
              FROM duragraph.runs r WHERE r.run_id = sid AND t.thread_id = r.thread_id;
        WHEN 'run_deleted' THEN
            DELETE FROM duragraph.runs WHERE run_id = sid;
            DELETE FROM duragraph.spans WHERE run_id = sid;
            UPDATE duragraph.run_queue SET state = 'done', worker_id = NULL, lease_expires_at = NULL
             WHERE run_id = sid;
        ELSE
            NULL;
        END CASE;
    ELSIF v_kind = 'thread' THEN
        IF e.type = 'thread_created' AND (d->>'temporary')::boolean IS TRUE THEN
            UPDATE duragraph.threads SET temporary = true WHERE thread_id = sid;
        ELSIF e.type = 'thread_deleted' THEN
            -- Its runs go with it (their events stay). Active runs were cancelled beforehand.
            UPDATE duragraph.run_queue q SET state = 'done', worker_id = NULL, lease_expires_at = NULL, blocked_by = NULL
              FROM duragraph.runs r WHERE r.thread_id = sid AND q.run_id = r.run_id AND q.state <> 'done';
            DELETE FROM duragraph.spans s USING duragraph.runs r WHERE r.thread_id = sid AND s.run_id = r.run_id;
            DELETE FROM duragraph.runs WHERE thread_id = sid;
        END IF;
    ELSIF v_kind = 'assistant' THEN
        IF e.type = 'assistant_created' AND d->>'graph_id' IS NOT NULL THEN
            INSERT INTO duragraph.assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata, created_at)
            SELECT a.assistant_id, a.version, a.graph_id, a.name, a.description, a.config, a.context, a.metadata, e.recorded_at
              FROM duragraph.assistants a WHERE a.assistant_id = sid
            ON CONFLICT DO NOTHING;
        ELSIF e.type = 'assistant_updated' AND (d->>'set_latest')::boolean IS NOT TRUE THEN
            -- A new version (set_latest only moves the assistant back to an existing one).
            INSERT INTO duragraph.assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata, created_at)
            SELECT a.assistant_id, a.version, a.graph_id, a.name, a.description, a.config, a.context, a.metadata, e.recorded_at
              FROM duragraph.assistants a WHERE a.assistant_id = sid
            ON CONFLICT DO NOTHING;
        ELSIF e.type = 'assistant_deleted' THEN
            DELETE FROM duragraph.assistant_versions WHERE assistant_id = sid;
        END IF;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION duragraph.project_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM duragraph.project(NEW);
    PERFORM duragraph.project_lifecycle(NEW);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION duragraph.rebuild_projections() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    e duragraph.events;
BEGIN
    TRUNCATE duragraph.spans, duragraph.run_queue, duragraph.runs, duragraph.threads, duragraph.assistants,
             duragraph.assistant_versions, duragraph.graphs;
    FOR e IN SELECT * FROM duragraph.events ORDER BY seq LOOP
        PERFORM duragraph.project(e);
        PERFORM duragraph.project_lifecycle(e);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- Versions of the assistants that exist already.
INSERT INTO duragraph.assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata, created_at)
SELECT assistant_id, version, graph_id, name, description, config, context, metadata, updated_at
  FROM duragraph.assistants
ON CONFLICT DO NOTHING;
