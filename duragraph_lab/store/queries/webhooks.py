"""Webhook deliveries due (``control.webhooks``): read from the runs read model and the run
streams' events, so that nothing but the log says what was delivered."""

from __future__ import annotations

import datetime as dt

from duragraph_lab.control.webhooks import DueDelivery
from duragraph_lab.domain import events as ev
from duragraph_lab.store.postgres import PostgresEventStore

_ENDS = (ev.RUN_COMPLETED, ev.RUN_FAILED, ev.RUN_TIMED_OUT, ev.RUN_CANCELLED, ev.RUN_INTERRUPTED)
_DONE = (ev.WEBHOOK_DELIVERED, ev.WEBHOOK_ABANDONED)

# A run at rest with a webhook (a string: a cron's runs carry `webhook: null` when it has none),
# its last end event, and the failed attempts at delivering that end.
# (A run resumed before its interrupted end was delivered is running again: the next end is due.)
_DUE = """
WITH ends AS (
    SELECT r.run_id::text AS run_id, r.kwargs->>'webhook' AS url,
           (SELECT max(e.seq) FROM duragraph.events e
             WHERE e.stream_id = 'run:' || r.run_id::text AND e.type = ANY(%(ends)s)) AS end_seq
      FROM duragraph.runs r
     WHERE jsonb_typeof(r.kwargs->'webhook') = 'string' AND r.status IN ('success', 'error', 'timeout', 'cancelled', 'interrupted')
)
SELECT ends.run_id, ends.url, ends.end_seq, count(f.seq), max(f.data->>'retry_at')
  FROM ends
  LEFT JOIN duragraph.events f
    ON f.stream_id = 'run:' || ends.run_id AND f.type = %(failed)s
   AND (f.data->>'end_seq')::bigint = ends.end_seq
 WHERE ends.end_seq IS NOT NULL AND NOT EXISTS (
       SELECT 1 FROM duragraph.events d
        WHERE d.stream_id = 'run:' || ends.run_id AND d.type = ANY(%(done)s)
          AND (d.data->>'end_seq')::bigint = ends.end_seq)
 GROUP BY ends.run_id, ends.url, ends.end_seq
 ORDER BY ends.end_seq
 LIMIT %(limit)s
"""


class PgPendingWebhooks:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def due(self, limit: int) -> list[DueDelivery]:
        rows = await self.store._query(
            _DUE,
            {"ends": list(_ENDS), "done": list(_DONE), "failed": ev.WEBHOOK_ATTEMPT_FAILED, "limit": limit},
        )
        return [
            DueDelivery(
                run_id=str(run_id),
                url=str(url),
                end_seq=int(end_seq),
                attempts=int(attempts),
                retry_at=dt.datetime.fromisoformat(retry_at) if retry_at else None,
            )
            for run_id, url, end_seq, attempts, retry_at in rows
        ]
