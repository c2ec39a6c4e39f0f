-- Token usage (issue 20): the tokens the model calls of a node execution reported (spans), and
-- of a whole run (runs), summed from the `usage` of the `model_calls` of node_completed events.
-- NULL: no call reported usage. Filled by the runs projection (projections/runs.sql); the rows
-- already there are filled from the log here.
ALTER TABLE duragraph.spans ADD COLUMN IF NOT EXISTS input_tokens bigint;
ALTER TABLE duragraph.spans ADD COLUMN IF NOT EXISTS output_tokens bigint;
ALTER TABLE duragraph.runs ADD COLUMN IF NOT EXISTS input_tokens bigint;
ALTER TABLE duragraph.runs ADD COLUMN IF NOT EXISTS output_tokens bigint;

UPDATE duragraph.spans s SET input_tokens = u.input_tokens, output_tokens = u.output_tokens
FROM (
    SELECT split_part(e.stream_id, ':', 2)::uuid AS run_id, coalesce(e.data->>'ns', '') AS ns,
           e.data->>'task' AS task, coalesce((e.data->>'attempt')::int, 1) AS attempt,
           sum(CASE WHEN jsonb_typeof(c->'usage'->'input_tokens') = 'number'
                    THEN (c->'usage'->>'input_tokens')::numeric::bigint END) AS input_tokens,
           sum(CASE WHEN jsonb_typeof(c->'usage'->'output_tokens') = 'number'
                    THEN (c->'usage'->>'output_tokens')::numeric::bigint END) AS output_tokens
    FROM duragraph.events e
    CROSS JOIN LATERAL jsonb_array_elements(e.data->'model_calls') AS c
    WHERE e.type = 'node_completed' AND e.stream_id LIKE 'run:%'
      AND jsonb_typeof(e.data->'model_calls') = 'array'
    GROUP BY 1, 2, 3, 4
) u
WHERE s.run_id = u.run_id AND s.ns = u.ns AND s.task = u.task AND s.attempt = u.attempt AND s.status = 'ok';

UPDATE duragraph.runs r SET input_tokens = u.input_tokens, output_tokens = u.output_tokens
FROM (
    SELECT run_id, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
    FROM duragraph.spans WHERE input_tokens IS NOT NULL OR output_tokens IS NOT NULL GROUP BY run_id
) u
WHERE r.run_id = u.run_id;
