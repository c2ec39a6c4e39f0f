"""The engine's Journal on PostgreSQL: reads a run's stream, commits fenced by the worker's lease."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.engine.errors import LeaseLost
from duragraph_lab.store.held_leases import HeldLeases
from duragraph_lab.store.postgres import PostgresEventStore

LivePublish = Callable[[str, str, dict[str, Any]], None]


class PostgresJournal:
    """One commit = one transaction: lease check + events + outbox + read models (see
    ``duragraph.append_run_events``). ``leases`` are the leases this worker holds (epochs and
    deadlines). With ``strict`` (workers), a run without a lease cannot be written at all;
    without, it is written unfenced (the control plane and in-process tools)."""

    def __init__(
        self,
        store: PostgresEventStore,
        *,
        worker_id: str,
        leases: HeldLeases | None = None,
        live: LivePublish | None = None,
        strict: bool = False,
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.leases = leases
        self.live = live
        self.strict = strict

    def check_lease(self, run_id: str) -> None:
        if self.leases is not None and (self.strict or run_id in self.leases):
            self.leases.check(run_id)

    async def read(self, run_id: str, *, after_version: int = 0) -> list[RecordedEvent]:
        return await self.store.read_stream(f"run:{run_id}", after_version=after_version)

    async def commit(
        self, run_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        epoch = self.leases.epoch(run_id) if self.leases is not None else None
        if epoch is None and self.strict:
            raise LeaseLost(f"worker {self.worker_id} holds no lease on run {run_id}")
        lease = (self.worker_id, epoch) if epoch is not None else None
        return await self.store.append(f"run:{run_id}", expected_version, events, lease=lease)

    def emit(self, run_id: str, kind: str, payload: dict[str, Any]) -> None:
        if self.live is not None:
            self.live(run_id, kind, payload)
