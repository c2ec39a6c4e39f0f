-- Dataset streams (dataset:<uuid>) and experiment streams (experiment:<uuid>): the evals read
-- models. A dataset version's examples stay in its dataset_version_added event (read whole, by
-- seq); the tables hold what lists and lookups need.

CREATE OR REPLACE FUNCTION duragraph.project_dataset(e duragraph.events) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    sid uuid := split_part(e.stream_id, ':', 2)::uuid;
    d   jsonb := e.data;
BEGIN
    CASE e.type
    WHEN 'dataset_created' THEN
        -- The unique index on datasets.name rolls a clashing append back.
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
END
$$;

CREATE OR REPLACE FUNCTION duragraph.project_experiment(e duragraph.events) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    sid uuid := split_part(e.stream_id, ':', 2)::uuid;
    d   jsonb := e.data;
BEGIN
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
    WHEN 'experiment_run_requested' THEN
        -- Who runs it: a starting server resumes the unfinished experiments it runs itself.
        UPDATE duragraph.experiments
           SET runner = coalesce(d->>'runner', 'server'), updated_at = e.recorded_at
         WHERE experiment_id = sid;
    WHEN 'experiment_completed' THEN
        UPDATE duragraph.experiments
           SET status = 'completed', completed_at = e.recorded_at, updated_at = e.recorded_at
         WHERE experiment_id = sid;
    ELSE
        NULL;
    END CASE;
END
$$;
