"""An in-memory journal: in-process runs (``CompiledGraph.invoke``) and fast engine tests.

Events go through the JSON codec on the way in, so a value the PostgreSQL journal would reject
is rejected here too, and stored events never alias the caller's objects. The engine contract
tests run against this journal and against PostgreSQL.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from duragraph_lab.domain import codec
from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.errors import VersionConflict

Listener = Callable[[str, str, dict[str, Any]], None]


class MemoryJournal:
    def __init__(self, worker_id: str = "local") -> None:
        self.worker_id = worker_id
        self.streams: dict[str, list[RecordedEvent]] = {}
        self._seq = 0
        self.live: list[Listener] = []
        self.committed: list[Callable[[Sequence[RecordedEvent]], None]] = []

    async def read(self, run_id: str, *, after_version: int = 0) -> list[RecordedEvent]:
        return [copy.deepcopy(e) for e in self.streams.get(run_id, []) if e.version > after_version]

    async def commit(
        self, run_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        return self.append(run_id, expected_version, events)

    def append(
        self, stream_id: str, expected_version: int | None, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        stream = self.streams.setdefault(stream_id, [])
        current = stream[-1].version if stream else 0
        if expected_version is not None and expected_version != current:
            raise VersionConflict(stream_id, expected_version, current)
        stored: list[RecordedEvent] = []
        returned: list[RecordedEvent] = []
        for i, event in enumerate(events):
            self._seq += 1
            data, meta = codec.dumps(dict(event.data)), codec.dumps(dict(event.meta))
            # Two decodings: what is stored and what is returned never share objects, as with
            # PostgreSQL, so nothing a caller does to a returned event can change the log.
            for out in (stored, returned):
                out.append(
                    RecordedEvent(
                        seq=self._seq,
                        stream_id=stream_id,
                        version=current + i + 1,
                        event_id=event.event_id,
                        type=event.type,
                        data=codec.loads(data),
                        meta=codec.loads(meta),
                        recorded_at=datetime.now(UTC),
                    )
                )
        stream.extend(stored)
        for callback in self.committed:
            callback(returned)
        return returned

    def check_lease(self, run_id: str) -> None:
        """In-process runs hold no lease: nobody else can take them over."""
        return None

    def emit(self, run_id: str, kind: str, payload: dict[str, Any]) -> None:
        for listener in self.live:
            listener(run_id, kind, payload)
