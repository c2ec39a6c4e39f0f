-- Cron streams (cron:<uuid>): the crons read model (migration 0012). Times in the events' data
-- are ISO 8601 strings; next_run_date is decided by the writer (control.crons), never here.

CREATE OR REPLACE FUNCTION duragraph.project_cron(e duragraph.events) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    sid uuid := split_part(e.stream_id, ':', 2)::uuid;
    d   jsonb := e.data;
BEGIN
    CASE e.type
    WHEN 'cron_created' THEN
        INSERT INTO duragraph.crons
            (cron_id, assistant_id, graph_id, thread_id, schedule, timezone, end_time, enabled,
             on_run_completed, payload, metadata, user_id, next_run_date, version, created_at, updated_at)
        VALUES (sid, d->>'assistant_id', d->>'graph_id', (d->>'thread_id')::uuid, d->>'schedule',
                d->>'timezone', (d->>'end_time')::timestamptz, coalesce((d->>'enabled')::boolean, true),
                d->>'on_run_completed', coalesce(d->'payload', '{}'::jsonb),
                coalesce(d->'metadata', '{}'::jsonb), d->>'user_id',
                (d->>'next_run_date')::timestamptz, e.version, e.recorded_at, e.recorded_at);
    WHEN 'cron_updated' THEN
        -- Only the keys present change (an explicit null clears end_time or timezone).
        UPDATE duragraph.crons
           SET schedule = CASE WHEN d ? 'schedule' THEN d->>'schedule' ELSE schedule END,
               timezone = CASE WHEN d ? 'timezone' THEN d->>'timezone' ELSE timezone END,
               end_time = CASE WHEN d ? 'end_time' THEN (d->>'end_time')::timestamptz ELSE end_time END,
               enabled = CASE WHEN d ? 'enabled' THEN (d->>'enabled')::boolean ELSE enabled END,
               on_run_completed = CASE WHEN d ? 'on_run_completed' THEN d->>'on_run_completed'
                                       ELSE on_run_completed END,
               payload = CASE WHEN d ? 'payload' THEN payload || (d->'payload') ELSE payload END,
               metadata = CASE WHEN d ? 'metadata' THEN d->'metadata' ELSE metadata END,
               next_run_date = (d->>'next_run_date')::timestamptz,
               version = e.version,
               updated_at = e.recorded_at
         WHERE cron_id = sid;
    WHEN 'cron_fired' THEN
        UPDATE duragraph.crons
           SET next_run_date = (d->>'next_run_date')::timestamptz,
               last_fired_at = e.recorded_at,
               last_run_id = coalesce((d->>'run_id')::uuid, last_run_id),
               fire_count = fire_count + 1,
               version = e.version
         WHERE cron_id = sid;
    WHEN 'cron_deleted' THEN
        DELETE FROM duragraph.crons WHERE cron_id = sid;
    ELSE
        NULL;
    END CASE;
END
$$;
