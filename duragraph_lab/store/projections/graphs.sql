-- Graph streams (graph:<uuid>): the graphs read model, a registered graph's topology (the latest
-- registration wins).

CREATE OR REPLACE FUNCTION duragraph.project_graph(e duragraph.events) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d jsonb := e.data;
BEGIN
    IF e.type = 'graph_registered' AND d->>'graph_id' IS NOT NULL AND d->'topology' IS NOT NULL THEN
        INSERT INTO duragraph.graphs AS g (graph_id, version, topology, registered_by, registered_at, updated_at)
        VALUES (d->>'graph_id', d->>'version', d->'topology', d->>'registered_by', e.recorded_at, e.recorded_at)
        ON CONFLICT (graph_id) DO UPDATE SET version = excluded.version, topology = excluded.topology,
               registered_by = excluded.registered_by, updated_at = excluded.updated_at;
    END IF;
END
$$;
