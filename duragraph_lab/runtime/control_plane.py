"""The control plane on PostgreSQL and NATS: each port's implementation, wired together. The
API server's backend, the benchmarks and the tests build it here."""

from __future__ import annotations

from duragraph_lab.bus.control_plane import BusLink, NatsEventFeed, NatsExecutors
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.control.plane import ControlPlane, ReadModels
from duragraph_lab.domain.snapshots import SNAPSHOT_BYTES_PER_EVENT, SNAPSHOT_EVERY
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.store.queries.checkpoints import PgCheckpointIndex
from duragraph_lab.store.queries.runs import PgRunReadModel
from duragraph_lab.store.queries.spans import PgSpanReadModel
from duragraph_lab.store.queries.targets import PgTargetReadModel
from duragraph_lab.store.queries.threads import PgThreadReadModel
from duragraph_lab.store.queries.workers import PgWorkerDirectory
from duragraph_lab.store.snapshots import RunSnapshots


def postgres_read_models(store: PostgresEventStore) -> ReadModels:
    return ReadModels(
        runs=PgRunReadModel(store),
        threads=PgThreadReadModel(store),
        spans=PgSpanReadModel(store),
        targets=PgTargetReadModel(store),
        checkpoints=PgCheckpointIndex(store),
    )


def control_plane(
    store: PostgresEventStore,
    link: BusLink | None = None,
    *,
    snapshot_every: int = SNAPSHOT_EVERY,
    snapshot_bytes_per_event: int = SNAPSHOT_BYTES_PER_EVENT,
) -> ControlPlane:
    """The control plane on ``store``, reaching workers through ``link`` (its NATS connection
    may come later; without one, workers find new runs by polling)."""
    link = link or BusLink(Subjects())
    executors = NatsExecutors(link)
    plane = ControlPlane(
        store,
        postgres_read_models(store),
        signals=executors,
        reexecutor=executors,
        feed=NatsEventFeed(store, link),
        snapshots=RunSnapshots(store),
        snapshot_every=snapshot_every,
        snapshot_bytes_per_event=snapshot_bytes_per_event,
    )
    directory = PgWorkerDirectory(store)

    async def served() -> set[str]:
        """The graphs live workers serve: an edit request needs one (StateEdits)."""
        return {graph for worker in await directory.live_workers() for graph in worker.graphs}

    plane.edits.served = served
    return plane
