-- The event store: streams (head version per stream), events (the log) and the outbox.

CREATE TABLE duragraph.streams (
    stream_id   text PRIMARY KEY,
    kind        text NOT NULL,
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE duragraph.events (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id    text NOT NULL,
    version      bigint NOT NULL,
    event_id     uuid NOT NULL,
    type         text NOT NULL,
    data         jsonb NOT NULL,
    meta         jsonb NOT NULL DEFAULT '{}'::jsonb,
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

CREATE INDEX events_type_seq_idx ON duragraph.events (type, seq);

-- Rows here are events committed but not yet published to NATS. The relay deletes them once
-- JetStream has acknowledged them. Only the seq is stored: the payload is read from events.
CREATE TABLE duragraph.outbox (
    seq bigint PRIMARY KEY
);

-- append_events: the whole append in one round trip.
--   p_expected NULL  -> append whatever the current version is
--   p_expected 0     -> the stream must not exist yet
--   p_expected n > 0 -> the stream must be at version n
-- The streams row is the per-stream lock: concurrent appends to one stream serialise on it, so
-- within a stream, seq order is commit order (readers catching up by seq never skip an event).
-- Appends to different streams never wait for each other.
-- A conflict raises SQLSTATE DG409 with the current version in DETAIL.
CREATE FUNCTION duragraph.append_events(
    p_stream_id text, p_kind text, p_expected bigint, p_events jsonb
) RETURNS TABLE (seq bigint, version bigint, recorded_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    n        bigint := jsonb_array_length(p_events);
    v_new    bigint;
    v_actual bigint;
BEGIN
    IF p_expected IS NULL THEN
        INSERT INTO duragraph.streams AS s (stream_id, kind, version)
        VALUES (p_stream_id, p_kind, n)
        ON CONFLICT (stream_id) DO UPDATE SET version = s.version + n, updated_at = now()
        RETURNING s.version INTO v_new;
    ELSIF p_expected = 0 THEN
        INSERT INTO duragraph.streams (stream_id, kind, version)
        VALUES (p_stream_id, p_kind, n)
        ON CONFLICT (stream_id) DO NOTHING
        RETURNING streams.version INTO v_new;
    ELSE
        UPDATE duragraph.streams AS s SET version = s.version + n, updated_at = now()
        WHERE s.stream_id = p_stream_id AND s.version = p_expected
        RETURNING s.version INTO v_new;
    END IF;

    IF v_new IS NULL THEN
        SELECT s.version INTO v_actual FROM duragraph.streams AS s WHERE s.stream_id = p_stream_id;
        RAISE EXCEPTION 'version conflict on %', p_stream_id
            USING ERRCODE = 'DG409', DETAIL = coalesce(v_actual, 0)::text;
    END IF;

    RETURN QUERY
    WITH ins AS (
        INSERT INTO duragraph.events (stream_id, version, event_id, type, data, meta)
        SELECT p_stream_id, v_new - n + e.ord, (e.ev->>'event_id')::uuid, e.ev->>'type',
               e.ev->'data', coalesce(e.ev->'meta', '{}'::jsonb)
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(ev, ord)
        RETURNING events.seq, events.version, events.recorded_at
    ), queued AS (
        INSERT INTO duragraph.outbox (seq) SELECT ins.seq FROM ins
    )
    SELECT ins.seq, ins.version, ins.recorded_at FROM ins ORDER BY ins.version;
END
$$;
