-- LangGraph checkpoints (lg_* events, domain/events/langgraph.py): the lg_checkpoints and
-- lg_writes read models. Called by project_run for the lg_* events of a run's stream (and its
-- step_planned / node_completed holding a checkpoint / writes) and by the
-- dispatch for checkpoint streams (checkpoints:<uuid>), as the projection of that kind; every
-- event names its LangGraph thread.

CREATE OR REPLACE FUNCTION duragraph.project_checkpoints(e duragraph.events) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    -- A run's own root checkpoint may be inside the step_planned of the step it leads to, and a
    -- root task's writes inside its node_completed (domain/events/langgraph.py, since 2026-12-04):
    -- v_kind is the record's type, d its payload, in either form.
    v_kind   text := CASE e.type WHEN 'step_planned' THEN 'lg_checkpoint' WHEN 'node_completed' THEN 'lg_writes'
                     ELSE e.type END;
    d        jsonb := CASE e.type WHEN 'step_planned' THEN e.data->'langgraph_checkpoint'
                                  WHEN 'node_completed' THEN e.data->'langgraph_writes' ELSE e.data END;
    -- Inside a run event (since 2026-12-05) a record leaves out what that event says: a
    -- checkpoint its id (the step_planned's), writes their task id (the node_completed's task).
    -- (Read apart rather than merged into d: a merge would copy the record, values and all.)
    v_id     text := coalesce(d->>'checkpoint_id', CASE WHEN e.type = 'step_planned' THEN e.data->>'checkpoint_id' END);
    v_task   text := coalesce(d->>'task_id', CASE WHEN e.type = 'node_completed' THEN e.data->>'task' END);
    v_thread text := d->>'thread_id';
    v_ns     text := coalesce(d->>'checkpoint_ns', '');
    v_channel text;
    v_base    text;
    v_versions jsonb;
BEGIN
    IF d IS NULL OR jsonb_typeof(d) <> 'object' THEN
        RETURN;
    END IF;
    CASE v_kind
    WHEN 'lg_checkpoint' THEN
        IF v_thread IS NULL OR v_id IS NULL THEN
            RETURN;
        END IF;
        -- put() is an upsert in LangGraph: the same checkpoint saved again replaces it.
        -- Its parent and metadata are read from the event (migration 0016).
        -- "metadata_of_run": the metadata leaves out the run's run_id (the stream's run).
        INSERT INTO duragraph.lg_checkpoints AS c (thread_id, checkpoint_ns, checkpoint_id, run_id, seq)
        VALUES (v_thread, v_ns, v_id,
                coalesce(d->'metadata'->>'run_id', CASE WHEN d ? 'metadata_of_run' THEN split_part(e.stream_id, ':', 2) END),
                e.seq)
        ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE
            SET run_id = excluded.run_id, seq = excluded.seq;
        -- The values of the channels that changed, by version (a version's first value stays, as
        -- in LangGraph's PostgresSaver). A list stored as an append to an earlier version needs
        -- that version stored: refused otherwise (the writer stores the whole value instead).
        IF jsonb_typeof(d->'blobs') = 'object' THEN
            -- A list stored as an append must extend a version that is stored. One probe of
            -- lg_blobs' primary key per append (most blobs are none: no probe). Not a join of the
            -- blobs with lg_blobs: PL/pgSQL's generic plan for it matched the thread's rows by
            -- thread alone and filtered all of them, a cost growing with the thread's history
            -- (~460 µs a step at 1,000 messages; docs/benchmarks.md).
            IF jsonb_path_exists(d->'blobs', '$.*.base') THEN
                FOR v_channel, v_base IN
                    SELECT b.key, b.value->>'base' FROM jsonb_each(d->'blobs') b WHERE jsonb_typeof(b.value) = 'object'
                LOOP
                    IF NOT EXISTS (SELECT 1 FROM duragraph.lg_blobs x JOIN duragraph.events xe ON xe.seq = x.seq
                                    WHERE x.thread_id = v_thread AND x.checkpoint_ns = v_ns AND x.version = v_base
                                      AND duragraph.lg_blob_version(coalesce(xe.data->'langgraph_checkpoint', xe.data), v_channel) = v_base) THEN
                        RAISE EXCEPTION 'LangGraph checkpoint % of thread % extends version % of channel %, which is not stored',
                            v_id, v_thread, v_base, v_channel USING ERRCODE = 'DG424';
                    END IF;
                END LOOP;
            END IF;
            -- The new versions: "new_versions", or (absent since 2026-12-04) the checkpoint's
            -- versions of the channels in blobs, in its own field or in the checkpoint stored as
            -- JSON (whole, or the changes since its parent: those hold every new version).
            v_versions := coalesce(d->'new_versions', d->'channel_versions', d->'checkpoint'->'channel_versions');
            -- One row per version (migration 0018): a step's channels share theirs.
            INSERT INTO duragraph.lg_blobs (thread_id, checkpoint_ns, version, seq)
            SELECT DISTINCT v_thread, v_ns, v_versions->>k, e.seq
              FROM jsonb_object_keys(d->'blobs') k
             WHERE v_versions->>k IS NOT NULL
            ON CONFLICT DO NOTHING;
        END IF;
    WHEN 'lg_writes' THEN
        IF v_thread IS NULL OR v_id IS NULL OR v_task IS NULL
           OR jsonb_typeof(d->'writes') IS DISTINCT FROM 'array' THEN
            RETURN;
        END IF;
        -- One row per event (migration 0017): which write of a (task, idx) counts is read from
        -- the events (duragraph.lg_pending_writes).
        INSERT INTO duragraph.lg_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, seq)
        VALUES (v_thread, v_ns, v_id, v_task, e.seq)
        ON CONFLICT DO NOTHING;
    WHEN 'lg_thread_deleted' THEN
        PERFORM duragraph.forget_langgraph_thread(v_thread);
    WHEN 'lg_runs_deleted' THEN
        DELETE FROM duragraph.lg_writes w USING duragraph.lg_checkpoints c
         WHERE c.run_id IN (SELECT jsonb_array_elements_text(d->'run_ids'))
           AND (v_thread IS NULL OR c.thread_id = v_thread)
           AND w.thread_id = c.thread_id AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id;
        DELETE FROM duragraph.lg_checkpoints c
         WHERE c.run_id IN (SELECT jsonb_array_elements_text(d->'run_ids'))
           AND (v_thread IS NULL OR c.thread_id = v_thread);
    WHEN 'lg_thread_copied' THEN
        -- The copies point at the same events: nothing is stored twice.
        INSERT INTO duragraph.lg_checkpoints (thread_id, checkpoint_ns, checkpoint_id, run_id, seq)
        SELECT v_thread, checkpoint_ns, checkpoint_id, run_id, seq
          FROM duragraph.lg_checkpoints WHERE thread_id = d->>'source_thread_id'
        ON CONFLICT DO NOTHING;
        INSERT INTO duragraph.lg_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, seq)
        SELECT v_thread, checkpoint_ns, checkpoint_id, task_id, seq
          FROM duragraph.lg_writes WHERE thread_id = d->>'source_thread_id'
        ON CONFLICT DO NOTHING;
        INSERT INTO duragraph.lg_blobs (thread_id, checkpoint_ns, version, seq)
        SELECT v_thread, checkpoint_ns, version, seq
          FROM duragraph.lg_blobs WHERE thread_id = d->>'source_thread_id'
        ON CONFLICT DO NOTHING;
    WHEN 'lg_thread_pruned' THEN
        IF d->>'strategy' = 'delete' THEN
            PERFORM duragraph.forget_langgraph_thread(v_thread);
            RETURN;
        END IF;
        -- keep_latest: each namespace keeps its latest checkpoint and that checkpoint's writes.
        DELETE FROM duragraph.lg_writes w
         WHERE w.thread_id = v_thread
           AND w.checkpoint_id <> (SELECT max(c.checkpoint_id) FROM duragraph.lg_checkpoints c
                                    WHERE c.thread_id = v_thread AND c.checkpoint_ns = w.checkpoint_ns);
        DELETE FROM duragraph.lg_checkpoints c
         WHERE c.thread_id = v_thread
           AND c.checkpoint_id <> (SELECT max(k.checkpoint_id) FROM duragraph.lg_checkpoints k
                                    WHERE k.thread_id = v_thread AND k.checkpoint_ns = c.checkpoint_ns);
        -- ... and the values its channel versions name, with the earlier versions a list
        -- stored as an append extends ({"base": version, "append": [...]}).
        WITH RECURSIVE keep(checkpoint_ns, channel, version) AS (
            SELECT c.checkpoint_ns, v.key, v.value
              FROM duragraph.lg_checkpoints c JOIN duragraph.events k ON k.seq = c.seq,
                   LATERAL (SELECT coalesce(k.data->'langgraph_checkpoint', k.data) AS d) kd,
                   -- Whole, also for a checkpoint stored with the changes since another (below).
                   jsonb_each_text(duragraph.lg_channel_versions(k.stream_id, k.version, kd.d)) v
             WHERE c.thread_id = v_thread
            UNION
            SELECT kp.checkpoint_ns, kp.channel, nxt.blob->>'base'
              FROM keep kp,
                   -- The channel's value at that version (the first event holding it there), one
                   -- index probe per link (LIMIT 1: see store/queries/lg_checkpoints.py).
                   LATERAL (SELECT bd.d->'blobs'->kp.channel AS blob
                              FROM duragraph.lg_blobs b JOIN duragraph.events ev ON ev.seq = b.seq,
                                   LATERAL (SELECT coalesce(ev.data->'langgraph_checkpoint', ev.data) AS d) bd
                             WHERE b.thread_id = v_thread AND b.checkpoint_ns = kp.checkpoint_ns
                               AND b.version = kp.version
                               AND duragraph.lg_blob_version(bd.d, kp.channel) = kp.version
                             ORDER BY b.seq LIMIT 1) nxt
             WHERE jsonb_typeof(nxt.blob) = 'object'
        )
        DELETE FROM duragraph.lg_blobs b
         WHERE b.thread_id = v_thread
           AND NOT EXISTS (SELECT 1 FROM keep
                            WHERE keep.checkpoint_ns = b.checkpoint_ns AND keep.version = b.version);
    ELSE
        NULL;
    END CASE;
END
$$;

-- The version at which the checkpoint record d (an lg_checkpoint's data, in either form) stores
-- a value of channel (NULL: none). An lg_blobs row names a version and an event; the channels
-- the event holds at that version are the ones this gives it for.
CREATE OR REPLACE FUNCTION duragraph.lg_blob_version(d jsonb, channel text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN d->'blobs' ? channel
                THEN coalesce(d->'new_versions', d->'channel_versions', d->'checkpoint'->'channel_versions')->>channel END
$$;

-- The LangGraph checkpoints of a thread or a run leave the read models with it (their events stay).
CREATE OR REPLACE FUNCTION duragraph.forget_langgraph_thread(v_thread text) RETURNS void LANGUAGE sql AS $$
    DELETE FROM duragraph.lg_writes WHERE thread_id = v_thread;
    DELETE FROM duragraph.lg_blobs WHERE thread_id = v_thread;
    DELETE FROM duragraph.lg_checkpoints WHERE thread_id = v_thread;
$$;

CREATE OR REPLACE FUNCTION duragraph.forget_langgraph_run(v_run text) RETURNS void LANGUAGE sql AS $$
    DELETE FROM duragraph.lg_writes w USING duragraph.lg_checkpoints c
     WHERE c.run_id = v_run
       AND w.thread_id = c.thread_id AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id;
    DELETE FROM duragraph.lg_checkpoints WHERE run_id = v_run;
$$;

-- A run's checkpoint stored with "versions_delta" (langgraph/version_deltas.py) holds only the
-- versions that changed since its parent, an earlier checkpoint of the same stream. The chain of
-- the checkpoints its versions come from, nearest first, each as [checkpoint, the parent it
-- changes from (null: stored whole)], down to one stored whole ('[]' for a checkpoint stored
-- whole). A link that is not found ends the chain with a parent still named (the Python reader
-- refuses such a chain). One index probe per link: the parent is a few events before.
CREATE OR REPLACE FUNCTION duragraph.lg_versions_chain(v_stream text, v_version bigint, d jsonb)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH RECURSIVE chain(depth, version, d) AS (
        SELECT 0, v_version, d
        UNION ALL
        SELECT ch.depth + 1, p.version, p.d
          FROM chain ch,
               LATERAL (SELECT b.version, coalesce(b.data->'langgraph_checkpoint', b.data) AS d
                          FROM duragraph.events b
                         WHERE b.stream_id = v_stream AND b.version < ch.version
                           AND (b.type = 'lg_checkpoint' OR (b.type = 'step_planned' AND b.data ? 'langgraph_checkpoint'))
                           -- An lg_checkpoint's id, or the step_planned's (its checkpoint's).
                           AND b.data->>'checkpoint_id' = ch.d->>'parent_checkpoint_id'
                         ORDER BY b.version DESC LIMIT 1) p
         WHERE ch.d ? 'versions_delta' AND ch.depth < 10000
    )
    SELECT coalesce(jsonb_agg(jsonb_build_array(chain.d->'checkpoint',
                                                CASE WHEN chain.d ? 'versions_delta' THEN chain.d->'parent_checkpoint_id' END)
                              ORDER BY depth) FILTER (WHERE depth > 0), '[]'::jsonb)
      FROM chain
$$;

-- A checkpoint record's whole channel versions (d: an lg_checkpoint's data, in either form),
-- given the chain above: the nearest link's version of each channel.
CREATE OR REPLACE FUNCTION duragraph.lg_merged_channel_versions(d jsonb, chain jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN NOT d ? 'versions_delta'
                THEN coalesce(d->'channel_versions', d->'checkpoint'->'channel_versions', '{}'::jsonb)
                ELSE (SELECT coalesce(jsonb_object_agg(v.key, v.value ORDER BY c.ord DESC), '{}'::jsonb)
                        FROM jsonb_array_elements(jsonb_build_array(jsonb_build_array(d->'checkpoint')) || chain)
                             WITH ORDINALITY c(link, ord),
                             jsonb_each(coalesce(c.link->0->'channel_versions', '{}'::jsonb)) v)
           END
$$;

-- The whole channel versions of the checkpoint record d of the event at (v_stream, v_version).
CREATE OR REPLACE FUNCTION duragraph.lg_channel_versions(v_stream text, v_version bigint, d jsonb)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT duragraph.lg_merged_channel_versions(
        d, CASE WHEN d ? 'versions_delta' THEN duragraph.lg_versions_chain(v_stream, v_version, d) ELSE '[]'::jsonb END)
$$;

-- A write of an event (an lg_writes, or a node_completed holding its task's writes) at position
-- pos, as [idx, channel, type, value]: one held as [idx, channel, "update"] (since 2026-12-05)
-- is the node_completed's update[channel], a plain JSON value.
CREATE OR REPLACE FUNCTION duragraph.lg_write(data jsonb, pos int) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN w->>2 = 'update' AND jsonb_array_length(w) = 3
                THEN jsonb_build_array(w->0, w->1, 'plain', data->'update'->(w->>1)) ELSE w END
      FROM (SELECT coalesce(data->'langgraph_writes', data)->'writes'->pos AS w) x
$$;

-- The pending writes of a checkpoint, as [[task_id, [idx, channel, type, value]], ...] in
-- LangGraph's order (task path, task id, idx). Its lg_writes rows point at the events holding
-- its tasks' writes; when several events wrote the same (task, idx), LangGraph's rule says which
-- counts: the last of those saved with "upsert" (special channels: errors, interrupts, resumes
-- replace what was there), else the first (a task's writes saved twice are saved once).
CREATE OR REPLACE FUNCTION duragraph.lg_pending_writes(v_thread text, v_ns text, v_checkpoint text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_array(x.task_id, x.w) ORDER BY x.task_path, x.task_id, x.idx), '[]'::jsonb)
      FROM (SELECT DISTINCT ON (w.task_id, (we.value->>0)::int)
                   w.task_id, (we.value->>0)::int AS idx, coalesce(wd.d->>'task_path', '') AS task_path,
                   duragraph.lg_write(ev.data, (we.ordinality - 1)::int) AS w
              FROM duragraph.lg_writes w
              JOIN duragraph.events ev ON ev.seq = w.seq,
                   LATERAL (SELECT coalesce(ev.data->'langgraph_writes', ev.data) AS d) wd,
                   LATERAL (SELECT coalesce((wd.d->>'upsert')::boolean, false) AS upsert) u,
                   jsonb_array_elements(wd.d->'writes') WITH ORDINALITY we
             WHERE w.thread_id = v_thread AND w.checkpoint_ns = v_ns AND w.checkpoint_id = v_checkpoint
             ORDER BY w.task_id, (we.value->>0)::int, u.upsert DESC,
                      CASE WHEN u.upsert THEN -w.seq ELSE w.seq END) x
$$;
