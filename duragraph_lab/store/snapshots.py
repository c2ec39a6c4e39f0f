"""Run snapshots in PostgreSQL (``duragraph.run_snapshots``): a cache of folded run states.

Readers write them as they fold a run (see :func:`duragraph_lab.domain.snapshots.fold_onto`) and
start from the nearest one at or before the event they want. A snapshot is used only by code that
folds the way the code that wrote it did (:data:`FOLD_CODE`), so an upgrade that changes the fold
never reads a state computed by the old one. Snapshots are disposable: a failure to read or write
one is logged and the reader folds from the run's first event, as without them.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Sequence
from pathlib import Path

import psycopg
import psycopg_pool

from duragraph_lab import _version
from duragraph_lab.domain import codec, messages, reducers, run, snapshots
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.snapshots import Snapshot, TakenSnapshot, state_from_json
from duragraph_lab.store.connection import is_connection_failure
from duragraph_lab.store.postgres import EVENT_COLUMNS, PostgresEventStore, row_to_event

log = logging.getLogger(__name__)


def _fold_code() -> str:
    """A fingerprint of the code that computes a folded state and its JSON form."""
    digest = hashlib.sha256()
    for module in (run, reducers, messages, codec, snapshots):
        path = getattr(module, "__file__", None)
        try:
            digest.update(Path(path).read_bytes() if path else b"")
        except OSError:
            # No source to hash (a frozen install): the package version stands in for it.
            digest.update(f"{_version.__version__}:{module.__name__}".encode())
    return digest.hexdigest()[:16]


FOLD_CODE = _fold_code()


class RunSnapshots:
    """Read and write snapshots of the runs of ``store`` (the control plane's
    :class:`~duragraph_lab.control.ports.RunSnapshotStore`)."""

    def __init__(self, store: PostgresEventStore, *, fold_code: str = FOLD_CODE) -> None:
        self.store = store
        self.fold_code = fold_code

    async def read(
        self, run_id: str, at_seq: int | None = None
    ) -> tuple[Snapshot | None, list[RecordedEvent]]:
        """The run's nearest snapshot at or before ``at_seq`` (None if it has none) and its events
        after that snapshot (after nothing: all of them), up to ``at_seq``: one round trip."""
        bound = "" if at_seq is None else " AND seq <= %(at)s"
        sql = (
            "WITH snap AS (SELECT version, seq, state FROM duragraph.run_snapshots "
            f"WHERE run_id = %(run)s AND fold = %(fold)s{bound} ORDER BY seq DESC LIMIT 1) "
            "SELECT seq, NULL::text, version, NULL::uuid, NULL::text, NULL::jsonb, NULL::jsonb, "
            "NULL::timestamptz, state FROM snap "
            f"UNION ALL (SELECT {EVENT_COLUMNS}, NULL::json FROM duragraph.events "
            f"WHERE stream_id = %(stream)s AND version > coalesce((SELECT version FROM snap), 0){bound} "
            "ORDER BY version)"
        )
        params = {"run": run_id, "fold": self.fold_code, "at": at_seq, "stream": f"run:{run_id}"}
        try:
            rows = await self.store._query(sql, params)
        except psycopg.Error as err:
            if is_connection_failure(err):
                raise
            log.warning("run snapshots unavailable, folding run %s from its start: %s", run_id, err)
            return None, await self.store.read_stream(f"run:{run_id}", until_seq=at_seq)
        found = [r for r in rows if r[1] is None]
        events = [row_to_event(r[:8]) for r in rows if r[1] is not None]
        if any(a.version >= b.version for a, b in itertools.pairwise(events)):
            events.sort(key=lambda e: e.version)  # (UNION ALL keeps its branches' order in practice)
        if not found:
            return None, events
        version, seq, state = int(found[0][2]), int(found[0][0]), state_from_json(found[0][8])
        if state is None:  # written for another shape of RunState: read the run from its start
            return None, await self.store.read_stream(f"run:{run_id}", until_seq=at_seq)
        return Snapshot(version, seq, state), events

    async def save(self, run_id: str, taken: Sequence[TakenSnapshot]) -> None:
        """Store snapshots (an existing one for the same event is kept: it holds the same state)."""
        if not taken:
            return
        try:
            async with self.store.pool.connection() as conn, conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO duragraph.run_snapshots (run_id, fold, version, seq, state) "
                    "VALUES (%s, %s, %s, %s, %s::json) ON CONFLICT DO NOTHING",
                    [(run_id, self.fold_code, t.version, t.seq, t.state) for t in taken],
                )
        except (psycopg.Error, psycopg_pool.PoolTimeout) as err:
            # The read it accompanies has succeeded: a cache that could not be filled is no error.
            log.warning("could not store %d snapshot(s) of run %s: %s", len(taken), run_id, err)
