-- The OpenTelemetry trace exporter's cursor (duragraph_lab.otel, issue 20). One row per exporter
-- name: the seq of the log up to which every run end was exported, and a lease, so that with
-- several API servers one exports at a time. Not a projection: nothing in the log records it,
-- and losing it only re-exports traces (with the same ids).
CREATE TABLE IF NOT EXISTS duragraph.export_cursors (
    name        text PRIMARY KEY,
    seq         bigint NOT NULL,
    holder      text NOT NULL DEFAULT '',
    expires_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
