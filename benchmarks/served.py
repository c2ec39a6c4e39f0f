"""One graph served as in production, for the benchmarks that measure a worker's runs: embedded
PostgreSQL and NATS, the control plane with the outbox relay in this process (as the API server
runs it), and ``duragraph-lab worker`` in its own process serving the graph."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from benchmarks.per_step import Services, control_plane, embedded_services, wait_registered
from benchmarks.profile_step import ROOT, _cli


@dataclass
class Served:
    sv: Services
    control: Any  # the control plane (runs, threads, ...)
    worker: subprocess.Popen[bytes]


@contextlib.asynccontextmanager
async def serving(prefix: str, ref: str, graph: str, concurrency: int = 1) -> AsyncIterator[Served]:
    """Services, control plane and a worker serving ``ref`` (``concurrency`` runs at a time: one
    by default), once ``graph`` is registered; everything stopped on exit (the worker first, if
    still running)."""
    with embedded_services(prefix) as sv:
        pool, nc, relay, control = await control_plane(sv.url, sv.nurl)
        worker = subprocess.Popen(  # noqa: ASYNC220 - before measuring
            [*_cli(), "worker", ref, "--concurrency", str(concurrency)],
            cwd=ROOT, env=sv.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await wait_registered(sv.url, graph)
            yield Served(sv, control, worker)
        finally:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(timeout=30)
            await relay.stop()
            await nc.close()
            await pool.close()
