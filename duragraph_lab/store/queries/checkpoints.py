"""The log indexed for checkpoints: single events of a run's stream, each found by an index
lookup (``(stream_id, version)``, ``seq``, ``event_id``) rather than by reading the run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from duragraph_lab.control.checkpoints import CHECKPOINT_TYPES
from duragraph_lab.control.read_models import EventLocation
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.store.postgres import EVENT_COLUMNS, PostgresEventStore, row_to_event

_TYPES = sorted(CHECKPOINT_TYPES)
# control.checkpoints.is_checkpoint() in SQL: a checkpoint type, outside any subgraph (no "ns",
# or a falsy one).
_IS_CHECKPOINT = (
    "type = ANY(%s) AND coalesce(data->'ns' IN "
    "('null'::jsonb, '\"\"'::jsonb, 'false'::jsonb, '0'::jsonb, '[]'::jsonb, '{}'::jsonb), true)"
)


class PgCheckpointIndex:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def locate(self, event_id: str) -> EventLocation | None:
        rows = await self.store._query(
            "SELECT e.stream_id, e.seq, r.thread_id::text FROM duragraph.events e "
            "LEFT JOIN duragraph.runs r ON e.stream_id = 'run:' || r.run_id::text "
            "WHERE e.event_id = %s",
            (event_id,),
        )
        return EventLocation(str(rows[0][0]), int(rows[0][1]), rows[0][2]) if rows else None

    async def locate_langgraph(self, thread_id: str, checkpoint_id: str) -> EventLocation | None:
        rows = await self.store._query(
            "SELECT e.stream_id, e.seq FROM duragraph.lg_checkpoints c "
            "JOIN duragraph.events e ON e.seq = c.seq "
            "WHERE c.thread_id = %s AND c.checkpoint_ns = '' AND c.checkpoint_id = %s",
            (thread_id, checkpoint_id),
        )
        if not rows or not str(rows[0][0]).startswith("run:"):
            return None
        stream_id, seq = str(rows[0][0]), int(rows[0][1])
        # The executor records the step LangGraph plans from this checkpoint right after it.
        planned = await self.store._query(
            "SELECT seq FROM duragraph.events WHERE stream_id = %s AND type = 'step_planned' "
            "AND data->>'checkpoint_id' = %s ORDER BY version LIMIT 1",
            (stream_id, checkpoint_id),
        )
        return EventLocation(stream_id, int(planned[0][0]) if planned else seq, thread_id)

    async def at_seq(self, stream_id: str, seq: int) -> RecordedEvent | None:
        # Looked up by the primary key, then checked to be of the stream.
        rows = await self.store._query(f"SELECT {EVENT_COLUMNS} FROM duragraph.events WHERE seq = %s", (seq,))
        event = row_to_event(rows[0]) if rows else None
        return event if event is not None and event.stream_id == stream_id else None

    async def first(self, stream_id: str) -> RecordedEvent | None:
        return await self._one(stream_id, "", ())

    async def last(self, stream_id: str) -> RecordedEvent | None:
        return await self._one(stream_id, "", (), newest=True)

    async def last_checkpoint(
        self, stream_id: str, *, before_version: int | None = None
    ) -> RecordedEvent | None:
        if before_version is None:
            return await self._one(stream_id, _IS_CHECKPOINT, (_TYPES,), newest=True)
        return await self._one(
            stream_id, f"version < %s AND {_IS_CHECKPOINT}", (before_version, _TYPES), newest=True
        )

    async def next_checkpoint(self, stream_id: str, *, after_version: int) -> RecordedEvent | None:
        return await self._one(stream_id, f"version > %s AND {_IS_CHECKPOINT}", (after_version, _TYPES))

    async def last_checkpoints(
        self, stream_id: str, limit: int, *, before_seq: int | None = None, before_version: int | None = None
    ) -> list[RecordedEvent]:
        where, params = _IS_CHECKPOINT, list[Any]([_TYPES])
        if before_seq is not None:
            where += " AND seq < %s"
            params.append(before_seq)
        if before_version is not None:
            where += " AND version < %s"
            params.append(before_version)
        rows = await self.store._query(
            f"SELECT {EVENT_COLUMNS} FROM duragraph.events WHERE stream_id = %s AND {where} "
            "ORDER BY version DESC LIMIT %s",
            (stream_id, *params, limit),
        )
        return [row_to_event(r) for r in reversed(rows)]

    async def _one(
        self, stream_id: str, where: str, params: Sequence[Any], *, newest: bool = False
    ) -> RecordedEvent | None:
        """The stream's first (or last) event matching ``where``, in version order: a walk of
        the (stream_id, version) index from one end, so ``where`` should bound the version."""
        rows = await self.store._query(
            f"SELECT {EVENT_COLUMNS} FROM duragraph.events WHERE stream_id = %s"
            f"{' AND ' + where if where else ''} ORDER BY version {'DESC' if newest else ''} LIMIT 1",
            (stream_id, *params),
        )
        return row_to_event(rows[0]) if rows else None
