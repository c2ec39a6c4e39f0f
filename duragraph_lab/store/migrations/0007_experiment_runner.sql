-- Experiments the server runs itself (POST /experiments/{id}/run), not only a notebook: the
-- request is an event of the experiment's stream (`experiment_run_requested`, {"runner": "server"}),
-- and the read model says who runs it, so a restarted server finds the experiments it must finish.

ALTER TABLE duragraph.experiments ADD COLUMN runner text NOT NULL DEFAULT 'client';
CREATE INDEX experiments_server_unfinished_idx ON duragraph.experiments (created_at)
    WHERE runner = 'server' AND status = 'running';

CREATE FUNCTION duragraph.project_experiment_runner(e duragraph.events) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF e.type = 'experiment_run_requested' THEN
        UPDATE duragraph.experiments
           SET runner = coalesce(e.data->>'runner', 'server'), updated_at = e.recorded_at
         WHERE experiment_id = split_part(e.stream_id, ':', 2)::uuid;
    END IF;
END
$$;

CREATE FUNCTION duragraph.project_experiment_runner_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM duragraph.project_experiment_runner(NEW);
    RETURN NULL;
END
$$;

-- Fires after events_project_evals (triggers of a kind fire in name order): the row exists.
CREATE TRIGGER events_project_experiment_runner AFTER INSERT ON duragraph.events
    FOR EACH ROW WHEN (NEW.type = 'experiment_run_requested')
    EXECUTE FUNCTION duragraph.project_experiment_runner_inserted();

CREATE OR REPLACE FUNCTION duragraph.rebuild_projections() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    e duragraph.events;
BEGIN
    TRUNCATE duragraph.spans, duragraph.run_queue, duragraph.runs, duragraph.threads, duragraph.assistants,
             duragraph.assistant_versions, duragraph.graphs, duragraph.datasets, duragraph.dataset_versions,
             duragraph.experiments, duragraph.experiment_results;
    FOR e IN SELECT * FROM duragraph.events ORDER BY seq LOOP
        PERFORM duragraph.project(e);
        PERFORM duragraph.project_lifecycle(e);
        IF e.stream_id LIKE 'dataset:%' OR e.stream_id LIKE 'experiment:%' THEN
            PERFORM duragraph.project_evals(e);
            PERFORM duragraph.project_experiment_runner(e);
        END IF;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
