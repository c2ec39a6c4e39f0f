"""Fixtures of the fault tests: real worker processes against the session's PostgreSQL and NATS."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from duragraph_lab.bus import Subjects, connect_nats
from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.store import PostgresEventStore, open_pool
from tests.fault.fault_graphs import LEDGER
from tests.fault.workers import ROOT, WorkerProcess


@dataclass
class Faults:
    """Worker processes of one test, on its own database and NATS subject prefix."""

    database_url: str
    nats_url: str
    prefix: str
    log_dir: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DURAGRAPH_DATABASE_URL": self.database_url,
            "DURAGRAPH_NATS_URL": self.nats_url,
            "DURAGRAPH_SUBJECT_PREFIX": self.prefix,
            "PYTHONPATH": str(ROOT),
        }

    def start(
        self,
        graph: str,
        name: str,
        lease_ttl: float,
        heartbeat: float | None = None,
        extra: Sequence[str] = (),
    ) -> WorkerProcess:
        w = WorkerProcess(graph, name, self.env, self.log_dir, lease_ttl, heartbeat, extra)
        self.workers.append(w)
        return w


def create_ledger(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(LEDGER)


@pytest.fixture
def faults(database_url: str, nats_server: str, tmp_path: Path) -> Iterator[Faults]:
    create_ledger(database_url)
    f = Faults(database_url, nats_server, f"f{uuid.uuid4().hex[:8]}", tmp_path)
    yield f
    for w in f.workers:
        w.stop()


@pytest.fixture
async def control(faults: Faults) -> AsyncIterator[ControlPlane]:
    """The control plane on the test's database; it wakes the workers through NATS."""
    pool = await open_pool(faults.database_url, max_size=4)
    nc = await connect_nats(faults.nats_url, name="fault-test")
    yield control_plane(PostgresEventStore(pool), BusLink(Subjects(faults.prefix), nc))
    await nc.close()
    await pool.close()
