-- Crons (issue 18): schedules of runs. A cron is the event stream cron:<id> (cron_created,
-- cron_updated, cron_fired per tick, cron_deleted; docs/events.md); this table is its read model,
-- filled by duragraph.project_cron (store/projections/crons.sql). Every API server's scheduler
-- reads the due ones from it; firing a tick appends cron_fired at the stream's version (kept here),
-- so of two servers firing the same tick one commits and the other's append conflicts.
CREATE TABLE duragraph.crons (
    cron_id          uuid PRIMARY KEY,
    assistant_id     text NOT NULL,
    graph_id         text NOT NULL,
    thread_id        uuid,
    schedule         text NOT NULL,
    timezone         text,
    end_time         timestamptz,
    enabled          boolean NOT NULL,
    on_run_completed text,
    payload          jsonb NOT NULL,
    metadata         jsonb NOT NULL,
    user_id          text,
    -- NULL: it will not fire again (its end_time is past).
    next_run_date    timestamptz,
    last_fired_at    timestamptz,
    last_run_id      uuid,
    fire_count       bigint NOT NULL DEFAULT 0,
    -- The cron stream's version: the scheduler appends cron_fired expecting it.
    version          int NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

-- What the schedulers poll: enabled crons by next fire time.
CREATE INDEX crons_due_idx ON duragraph.crons (next_run_date) WHERE enabled AND next_run_date IS NOT NULL;
CREATE INDEX crons_thread_idx ON duragraph.crons (thread_id) WHERE thread_id IS NOT NULL;
CREATE INDEX crons_created_idx ON duragraph.crons (created_at);
