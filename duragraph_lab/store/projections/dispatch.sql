-- The dispatch: how an event reaches the read models, live and in a rebuild.
--
-- The one trigger on duragraph.events, events_project (AFTER INSERT, FOR EACH ROW, created by
-- migration 0002), calls duragraph.project_inserted(), which calls duragraph.project(event), in
-- the transaction of the append: a read after a write sees the write, and a projection that
-- fails rolls the append back. duragraph.rebuild_projections() replays the log through the
-- same duragraph.project().
--
-- The order is explicit and simple: each event is projected by exactly one function, that of
-- its stream's kind, so no projection depends on another having seen the event first; inside a
-- projection, statements run in the order written. Events of a kind without a projection are
-- skipped.

CREATE OR REPLACE FUNCTION duragraph.project(e duragraph.events) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    CASE split_part(e.stream_id, ':', 1)
    WHEN 'run' THEN
        PERFORM duragraph.project_run(e);         -- runs, run_queue, spans; the thread's status
    WHEN 'thread' THEN
        PERFORM duragraph.project_thread(e);      -- threads; a deleted thread's runs
    WHEN 'assistant' THEN
        PERFORM duragraph.project_assistant(e);   -- assistants, assistant_versions
    WHEN 'graph' THEN
        PERFORM duragraph.project_graph(e);       -- graphs
    WHEN 'dataset' THEN
        PERFORM duragraph.project_dataset(e);     -- datasets, dataset_versions
    WHEN 'experiment' THEN
        PERFORM duragraph.project_experiment(e);  -- experiments, experiment_results
    WHEN 'checkpoints' THEN
        PERFORM duragraph.project_checkpoints(e);   -- lg_checkpoints, lg_writes (outside runs)
    WHEN 'cron' THEN
        PERFORM duragraph.project_cron(e);        -- crons
    ELSE
        NULL;
    END CASE;
END
$$;

CREATE OR REPLACE FUNCTION duragraph.project_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM duragraph.project(NEW);
    RETURN NULL;
END
$$;

-- Recreate every read model from the event log alone: empty them, then project every event in
-- seq order (within a stream, the order in which they were projected live). Returns the number
-- of events replayed. Leases are not events: the run queue's rows come back without them (epochs
-- restart), so run it with the workers stopped.
CREATE OR REPLACE FUNCTION duragraph.rebuild_projections() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    e duragraph.events;
BEGIN
    TRUNCATE duragraph.runs, duragraph.run_queue, duragraph.spans, duragraph.threads, duragraph.assistants,
             duragraph.assistant_versions, duragraph.graphs, duragraph.datasets, duragraph.dataset_versions,
             duragraph.experiments, duragraph.experiment_results, duragraph.lg_checkpoints, duragraph.lg_writes,
             duragraph.lg_blobs, duragraph.crons;
    FOR e IN SELECT * FROM duragraph.events ORDER BY seq LOOP
        PERFORM duragraph.project(e);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
