-- Assistant streams (assistant:<uuid>): the assistants read model and assistant_versions, one
-- row per version (a copy of the assistant as that version made it).

CREATE OR REPLACE FUNCTION duragraph.project_assistant(e duragraph.events) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    sid uuid := split_part(e.stream_id, ':', 2)::uuid;
    d   jsonb := e.data;
BEGIN
    CASE e.type
    WHEN 'assistant_created', 'assistant_updated' THEN
        IF e.type = 'assistant_created' THEN
            IF d->>'graph_id' IS NULL THEN
                RETURN;
            END IF;
            INSERT INTO duragraph.assistants (assistant_id, graph_id, name, description, config, context, metadata, version, created_at, updated_at)
            VALUES (sid, d->>'graph_id', coalesce(d->>'name', d->>'graph_id'), d->>'description',
                    coalesce(d->'config', '{}'::jsonb), coalesce(d->'context', '{}'::jsonb),
                    coalesce(d->'metadata', '{}'::jsonb), 1, e.recorded_at, e.recorded_at);
        ELSE
            UPDATE duragraph.assistants
               SET graph_id = coalesce(d->>'graph_id', graph_id), name = coalesce(d->>'name', name),
                   description = coalesce(d->>'description', description), config = coalesce(d->'config', config),
                   context = coalesce(d->'context', context), metadata = coalesce(d->'metadata', metadata),
                   version = coalesce((d->>'version')::int, version + 1), updated_at = e.recorded_at
             WHERE assistant_id = sid;
        END IF;
        -- Every creation and update is a new version, except set_latest, which only moves the
        -- assistant back to an existing one.
        IF e.type = 'assistant_created' OR (d->>'set_latest')::boolean IS NOT TRUE THEN
            INSERT INTO duragraph.assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata, created_at)
            SELECT a.assistant_id, a.version, a.graph_id, a.name, a.description, a.config, a.context, a.metadata, e.recorded_at
              FROM duragraph.assistants a WHERE a.assistant_id = sid
            ON CONFLICT DO NOTHING;
        END IF;
    WHEN 'assistant_deleted' THEN
        DELETE FROM duragraph.assistants WHERE assistant_id = sid;
        DELETE FROM duragraph.assistant_versions WHERE assistant_id = sid;
    ELSE
        NULL;
    END CASE;
END
$$;
