-- Thread streams (thread:<uuid>): the threads read model; a deleted thread takes its runs' rows
-- with it.

CREATE OR REPLACE FUNCTION duragraph.project_thread(e duragraph.events) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    sid uuid := split_part(e.stream_id, ':', 2)::uuid;
    d   jsonb := e.data;
BEGIN
    CASE e.type
    WHEN 'thread_created' THEN
        -- temporary: a stateless run's thread, deleted once the run is done.
        INSERT INTO duragraph.threads (thread_id, status, metadata, temporary, created_at, updated_at)
        VALUES (sid, 'idle', coalesce(d->'metadata', '{}'::jsonb), (d->>'temporary')::boolean IS TRUE,
                e.recorded_at, e.recorded_at);
    WHEN 'thread_updated' THEN
        UPDATE duragraph.threads SET metadata = metadata || coalesce(d->'metadata', '{}'::jsonb), updated_at = e.recorded_at
         WHERE thread_id = sid;
    WHEN 'thread_run_added' THEN
        UPDATE duragraph.threads SET last_run_id = (d->>'run_id')::uuid, status = 'busy', updated_at = e.recorded_at
         WHERE thread_id = sid;
    WHEN 'thread_deleted' THEN
        DELETE FROM duragraph.threads WHERE thread_id = sid;
        -- Its runs go with it (their events stay). Active runs were cancelled beforehand.
        UPDATE duragraph.run_queue q SET state = 'done', worker_id = NULL, lease_expires_at = NULL, blocked_by = NULL
          FROM duragraph.runs r WHERE r.thread_id = sid AND q.run_id = r.run_id AND q.state <> 'done';
        DELETE FROM duragraph.spans s USING duragraph.runs r WHERE r.thread_id = sid AND s.run_id = r.run_id;
        DELETE FROM duragraph.runs WHERE thread_id = sid;
        PERFORM duragraph.forget_langgraph_thread(sid::text);
    ELSE
        NULL;
    END CASE;
END
$$;
