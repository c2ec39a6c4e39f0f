"""The engine's Journal on PostgreSQL: reads a run's stream, commits fenced by the worker's lease,
and tries both again after transient database errors (see :mod:`duragraph_lab.store.retry`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.errors import DuplicateEvent, StoreUnavailable, VersionConflict
from duragraph_lab.engine.errors import LeaseLost
from duragraph_lab.store.held_leases import HeldLeases
from duragraph_lab.store.postgres import Lease, PostgresEventStore
from duragraph_lab.store.retry import DatabaseRetry, Retrying

LivePublish = Callable[[str, str, dict[str, Any]], None]


class PostgresJournal:
    """One commit = one transaction: lease check + events + outbox + read models (see
    ``duragraph.append_run_events``). ``leases`` are the leases this worker holds (epochs and
    deadlines). With ``strict`` (workers), a run without a lease cannot be written at all;
    without, it is written unfenced (the control plane and in-process tools).

    A statement that fails with :class:`StoreUnavailable` (which includes
    :class:`StoreTransientError`) is tried again as ``retry`` says, never past the run's lease
    deadline; then the last error is raised, or :class:`LeaseLost` if the deadline stopped it."""

    def __init__(
        self,
        store: PostgresEventStore,
        *,
        worker_id: str,
        leases: HeldLeases | None = None,
        live: LivePublish | None = None,
        strict: bool = False,
        retry: DatabaseRetry | None = None,
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.leases = leases
        self.live = live
        self.strict = strict
        self.retry = retry or DatabaseRetry()

    def check_lease(self, run_id: str) -> None:
        if self.leases is not None and (self.strict or run_id in self.leases):
            self.leases.check(run_id)

    def _lease(self, run_id: str) -> Lease | None:
        epoch = self.leases.epoch(run_id) if self.leases is not None else None
        if epoch is None and self.strict:
            raise LeaseLost(f"worker {self.worker_id} holds no lease on run {run_id}")
        return (self.worker_id, epoch) if epoch is not None else None

    def _retrying(self, run_id: str, what: str) -> Retrying:
        leases = self.leases

        def remaining() -> float | None:
            return leases.remaining(run_id) if leases is not None else None

        return Retrying(self.retry, f"{what} of run {run_id}", remaining)

    async def read(self, run_id: str, *, after_version: int = 0) -> list[RecordedEvent]:
        retrying = self._retrying(run_id, "reading the events")
        while True:
            try:
                return await self.store.read_stream(f"run:{run_id}", after_version=after_version)
            except StoreUnavailable as err:
                await retrying.failed(err)

    async def commit(
        self, run_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        # Every attempt carries the lease of the first: a retry is the same fenced commit.
        lease = self._lease(run_id)
        retrying = self._retrying(run_id, "the commit")
        while True:
            try:
                return await self._commit_once(
                    run_id, expected_version, events, lease, retried=retrying.failures > 0
                )
            except StoreUnavailable as err:
                await retrying.failed(err)

    async def _commit_once(
        self,
        run_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        lease: Lease | None,
        *,
        retried: bool,
    ) -> list[RecordedEvent]:
        try:
            return await self.store.append(f"run:{run_id}", expected_version, events, lease=lease)
        except (VersionConflict, DuplicateEvent, LeaseLost):
            if not retried:
                raise
            # An earlier attempt failed, perhaps after its statement had committed (the
            # connection broke before the answer came back). Then this attempt is refused: the
            # version moved, or the commit ended the run and with it the lease. Our own events
            # in the stream say the commit is done.
            landed = await self._landed(run_id, expected_version, events)
            if landed is None:
                raise
            return landed

    async def _landed(
        self, run_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent] | None:
        """The events as recorded, if exactly these were appended right after ``expected_version``."""
        after = await self.store.read_stream(
            f"run:{run_id}", after_version=expected_version, limit=len(events)
        )
        if [str(e.event_id) for e in after] != [str(e.event_id) for e in events]:
            return None
        return after

    def emit(self, run_id: str, kind: str, payload: dict[str, Any]) -> None:
        if self.live is not None:
            self.live(run_id, kind, payload)
