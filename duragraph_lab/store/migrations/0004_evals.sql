-- Evals: datasets (examples frozen from runs, versioned) and experiments (a dataset version re-run
-- against an assistant version, with scores). Both are event streams (dataset:<uuid>,
-- experiment:<uuid>); the tables below are their read models, rebuilt from the events.
--
-- A dataset's examples live in its dataset_version_added events only (a version is immutable and
-- read whole); the tables hold what lists and lookups need.

CREATE TABLE duragraph.datasets (
    dataset_id     uuid PRIMARY KEY,
    name           text NOT NULL,
    description    text,
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
    version        int NOT NULL DEFAULT 0,
    example_count  int NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
-- Names are unique among live datasets: a clash rolls the creating append back.
CREATE UNIQUE INDEX datasets_name_key ON duragraph.datasets (name);

CREATE TABLE duragraph.dataset_versions (
    dataset_id     uuid NOT NULL,
    version        int NOT NULL,
    example_count  int NOT NULL,
    selection      jsonb,
    description    text,
    seq            bigint NOT NULL,  -- the event holding the examples
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (dataset_id, version)
);

CREATE TABLE duragraph.experiments (
    experiment_id      uuid PRIMARY KEY,
    name               text NOT NULL,
    dataset_id         uuid NOT NULL,
    dataset_name       text NOT NULL,
    dataset_version    int NOT NULL,
    assistant_id       uuid NOT NULL,
    assistant_version  int,
    graph_id           text NOT NULL,
    config             jsonb NOT NULL DEFAULT '{}'::jsonb,
    evaluators         jsonb NOT NULL DEFAULT '[]'::jsonb,
    concurrency        int NOT NULL DEFAULT 4,
    metadata           jsonb NOT NULL DEFAULT '{}'::jsonb,
    status             text NOT NULL DEFAULT 'running',
    example_count      int NOT NULL,
    result_count       int NOT NULL DEFAULT 0,
    passed             int NOT NULL DEFAULT 0,
    failed             int NOT NULL DEFAULT 0,
    errors             int NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    completed_at       timestamptz
);
CREATE INDEX experiments_dataset_idx ON duragraph.experiments (dataset_id, created_at DESC);

CREATE TABLE duragraph.experiment_results (
    experiment_id  uuid NOT NULL,
    example_id     text NOT NULL,
    idx            int NOT NULL,
    run_id         uuid,
    status         text NOT NULL,
    verdict        text NOT NULL,  -- passed | failed | error
    outputs        jsonb,
    error          text,
    scores         jsonb NOT NULL DEFAULT '[]'::jsonb,
    latency_ms     double precision,
    steps          int,
    nodes          jsonb NOT NULL DEFAULT '[]'::jsonb,
    seq            bigint NOT NULL,
    recorded_at    timestamptz NOT NULL,
    PRIMARY KEY (experiment_id, example_id)
);

CREATE FUNCTION duragraph.project_evals(e duragraph.events) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_kind text := split_part(e.stream_id, ':', 1);
    sid    uuid := split_part(e.stream_id, ':', 2)::uuid;
    d      jsonb := e.data;
BEGIN
    IF v_kind = 'dataset' THEN
        CASE e.type
        WHEN 'dataset_created' THEN
            INSERT INTO duragraph.datasets (dataset_id, name, description, metadata, created_at, updated_at)
            VALUES (sid, d->>'name', d->>'description', coalesce(d->'metadata', '{}'::jsonb),
                    e.recorded_at, e.recorded_at);
        WHEN 'dataset_version_added' THEN
            INSERT INTO duragraph.dataset_versions
                (dataset_id, version, example_count, selection, description, seq, created_at)
            VALUES (sid, (d->>'version')::int, jsonb_array_length(d->'examples'), d->'selection',
                    d->>'description', e.seq, e.recorded_at);
            UPDATE duragraph.datasets
               SET version = (d->>'version')::int, example_count = jsonb_array_length(d->'examples'),
                   updated_at = e.recorded_at
             WHERE dataset_id = sid;
        WHEN 'dataset_deleted' THEN
            DELETE FROM duragraph.datasets WHERE dataset_id = sid;
            DELETE FROM duragraph.dataset_versions WHERE dataset_id = sid;
        ELSE
            NULL;
        END CASE;
    ELSIF v_kind = 'experiment' THEN
        CASE e.type
        WHEN 'experiment_created' THEN
            INSERT INTO duragraph.experiments
                (experiment_id, name, dataset_id, dataset_name, dataset_version, assistant_id,
                 assistant_version, graph_id, config, evaluators, concurrency, metadata, example_count,
                 created_at, updated_at)
            VALUES (sid, d->>'name', (d->>'dataset_id')::uuid, d->>'dataset_name',
                    (d->>'dataset_version')::int, (d->>'assistant_id')::uuid,
                    (d->>'assistant_version')::int, d->>'graph_id', coalesce(d->'config', '{}'::jsonb),
                    coalesce(d->'evaluators', '[]'::jsonb), coalesce((d->>'concurrency')::int, 4),
                    coalesce(d->'metadata', '{}'::jsonb), (d->>'example_count')::int,
                    e.recorded_at, e.recorded_at);
        WHEN 'experiment_result_recorded' THEN
            INSERT INTO duragraph.experiment_results
                (experiment_id, example_id, idx, run_id, status, verdict, outputs, error, scores,
                 latency_ms, steps, nodes, seq, recorded_at)
            VALUES (sid, d->>'example_id', (d->>'index')::int, (d->>'run_id')::uuid, d->>'status',
                    d->>'verdict', d->'outputs', d->>'error', coalesce(d->'scores', '[]'::jsonb),
                    (d->>'latency_ms')::double precision, (d->>'steps')::int,
                    coalesce(d->'nodes', '[]'::jsonb), e.seq, e.recorded_at);
            UPDATE duragraph.experiments
               SET result_count = result_count + 1,
                   passed = passed + (d->>'verdict' = 'passed')::int,
                   failed = failed + (d->>'verdict' = 'failed')::int,
                   errors = errors + (d->>'verdict' = 'error')::int,
                   updated_at = e.recorded_at
             WHERE experiment_id = sid;
        WHEN 'experiment_completed' THEN
            UPDATE duragraph.experiments
               SET status = 'completed', completed_at = e.recorded_at, updated_at = e.recorded_at
             WHERE experiment_id = sid;
        ELSE
            NULL;
        END CASE;
    END IF;
END
$$;

CREATE FUNCTION duragraph.project_evals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM duragraph.project_evals(NEW);
    RETURN NULL;
END
$$;

-- A trigger of its own, fired only for the evals' streams: run appends (the hot path) never
-- call it.
CREATE TRIGGER events_project_evals AFTER INSERT ON duragraph.events
    FOR EACH ROW WHEN (NEW.stream_id LIKE 'dataset:%' OR NEW.stream_id LIKE 'experiment:%')
    EXECUTE FUNCTION duragraph.project_evals_inserted();

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
        END IF;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
