"""The kernel as a worker: a :class:`~duragraph_lab.worker.worker.Worker` serving graphs defined in
the notebook, on an event loop of its own in a thread of its own.

Why its own loop: a cell that blocks (``run.wait()``, ``run.resume()``, a ``%duragraph`` magic
inside a block) holds the kernel's event loop until it returns; a worker on that loop would stop
executing the very run the cell waits for. On its own thread the worker goes on whatever the cell
does. Node code of served graphs therefore runs on the worker's loop, not on the kernel's.

The worker needs the server's PostgreSQL and NATS. They come, first found first: from ``serve``'s
arguments, from ``DURAGRAPH_DATABASE_URL`` and ``DURAGRAPH_NATS_URL``, from the server's
authenticated ``GET /worker/connection`` (all a kernel that knows only the server's URL and token
needs), or, where the server does not share them, from the data directory's ``runtime.json`` (a
kernel on the server's machine, same user).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import html
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from duragraph_lab.bus.connection import BusUnavailable, connect_nats, redact_nats_url
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.domain.errors import DuraGraphError, StoreUnavailable
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.langgraph.source import GraphSource
from duragraph_lab.notebook.loop_thread import WorkerLoop
from duragraph_lab.runtime.config import ENV_DATABASE_URL, ENV_NATS_URL
from duragraph_lab.runtime.services import read_runtime_info
from duragraph_lab.store.connection import open_pool, redact
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.worker.worker import Worker


def _env(name: str) -> str | None:
    return os.environ.get(name, "").strip() or None


class ServeError(DuraGraphError):
    code = "serve_error"


@dataclass(frozen=True, slots=True)
class WorkerEndpoints:
    database_url: str
    nats_url: str
    subject_prefix: str
    source: str
    local_only: bool = False  # embedded services: reachable from the server's machine only


def resolve_endpoints(
    info: Mapping[str, Any],
    *,
    database_url: str | None = None,
    nats_url: str | None = None,
    connection: Mapping[str, Any] | None = None,
) -> WorkerEndpoints:
    """Where the server's PostgreSQL and NATS are, for a worker in this process.

    ``info`` is the server's ``GET /info`` body, ``connection`` its ``GET /worker/connection``
    body (None where the server does not share it). Explicit URLs win, then the environment,
    then ``connection``, then the ``runtime.json`` of the data directory the server reports
    (same machine, same user)."""
    nats_info = info.get("nats") or {}
    prefix = str(nats_info.get("subject_prefix") or "duragraph")
    database_url = database_url or _env(ENV_DATABASE_URL)
    nats_url = nats_url or _env(ENV_NATS_URL)
    if database_url and nats_url:
        return WorkerEndpoints(database_url, nats_url, prefix, "configured")
    if connection and connection.get("database_url") and connection.get("nats_url"):
        return WorkerEndpoints(
            database_url or str(connection["database_url"]),
            nats_url or str(connection["nats_url"]),
            str(connection.get("subject_prefix") or prefix),
            "GET /worker/connection",
            local_only=bool(connection.get("local_only")) and not database_url,
        )
    data_dir = info.get("data_dir")
    runtime = read_runtime_info(Path(str(data_dir))) if data_dir else None
    if runtime is None:
        raise ServeError(
            f"cannot serve from this kernel: the server does not share its database and NATS URLs "
            f"(GET /worker/connection) and keeps them in {data_dir or 'its data directory'}/runtime.json, "
            f"which this kernel cannot read (is it on another machine or user?). Set {ENV_DATABASE_URL} "
            f"and {ENV_NATS_URL}, or pass --database-url and --nats-url"
        )
    return WorkerEndpoints(
        database_url or runtime.endpoints.database_url,
        nats_url or runtime.endpoints.nats_url,
        prefix,
        f"{data_dir}/runtime.json",
    )


class KernelWorker:
    """One worker serving the kernel's graphs; :meth:`serve` replaces it with a new one.

    The worker lives on :attr:`home`, its own loop and thread (created on first use): call
    :meth:`start` from any thread, or ``await`` :meth:`serve` on that loop."""

    def __init__(self) -> None:
        self._home: WorkerLoop | None = None
        self.worker: Worker | None = None
        self.graphs: dict[str, CompiledGraph | GraphSource] = {}
        self.endpoints: WorkerEndpoints | None = None
        self.started_at: float | None = None
        self._pool: Any = None
        self._nc: Any = None

    @property
    def serving(self) -> list[str]:
        return list(self.graphs) if self.worker is not None else []

    @property
    def home(self) -> WorkerLoop:
        if self._home is None:
            self._home = WorkerLoop()
        return self._home

    def start(
        self,
        graphs: Mapping[str, CompiledGraph | GraphSource],
        endpoints: WorkerEndpoints,
        **options: Any,
    ) -> concurrent.futures.Future[dict[str, CompiledGraph | GraphSource]]:
        """:meth:`serve` on the worker's own loop; the future resolves once the graphs are registered."""
        return self.home.submit(self.serve(graphs, endpoints, **options))

    def halt(self) -> concurrent.futures.Future[None]:
        """:meth:`stop` on the worker's own loop."""
        return self.home.submit(self.stop())

    async def serve(
        self,
        graphs: Mapping[str, CompiledGraph | GraphSource],
        endpoints: WorkerEndpoints,
        *,
        lease_ttl: float = 30.0,
        concurrency: int = 8,
        replace: bool = False,
    ) -> dict[str, CompiledGraph | GraphSource]:
        """Serve ``graphs`` (with those served already, unless ``replace``): the old worker gives
        its runs back to the queue and a new one registers the graphs' current versions."""
        wanted = dict(graphs) if replace else {**self.graphs, **graphs}
        await self.stop()
        try:
            pool = await open_pool(
                endpoints.database_url, min_size=1, max_size=concurrency + 2, name="duragraph-kernel"
            )
        except StoreUnavailable as err:
            if not endpoints.local_only:
                raise
            raise ServeError(
                f"{err}. The server's PostgreSQL and NATS are embedded: they listen on the server's "
                f"machine only. On another machine, run the server on shared services "
                f"({ENV_DATABASE_URL}, {ENV_NATS_URL}) and give this kernel the same"
            ) from None
        nc = None
        with contextlib.suppress(BusUnavailable):  # without NATS the worker polls
            nc = await connect_nats(endpoints.nats_url, name="duragraph-kernel", connect_timeout=3)
        worker = Worker(
            list(wanted.values()),
            PostgresEventStore(pool),
            nc=nc,
            subjects=Subjects(endpoints.subject_prefix),
            concurrency=concurrency,
            lease_ttl=lease_ttl,
            drain_timeout=min(5.0, lease_ttl),
        )
        try:
            await worker.start()
        except Exception as err:
            await _close(pool, nc)
            raise ServeError(f"cannot start the kernel's worker: {type(err).__name__}: {err}") from err
        except BaseException:
            await _close(pool, nc)
            raise
        self.worker, self.graphs, self.endpoints = worker, wanted, endpoints
        self._pool, self._nc, self.started_at = pool, nc, time.time()
        return wanted

    async def stop(self) -> None:
        """Stop serving: runs still going are given back to the queue for the next worker."""
        worker, pool, nc = self.worker, self._pool, self._nc
        self.worker, self._pool, self._nc = None, None, None
        if worker is not None:
            with contextlib.suppress(Exception):
                await worker.stop(drain=False)
        await _close(pool, nc)

    def describe(self) -> dict[str, Any]:
        worker = self.worker
        if worker is None or self.endpoints is None:
            return {"serving": [], "worker_id": None}
        return {
            "serving": list(self.graphs),
            "versions": {
                name: g.version if isinstance(g, CompiledGraph) else "LangGraph"
                for name, g in self.graphs.items()
            },
            "worker_id": worker.worker_id,
            "active_runs": len(worker.active),
            "completed_runs": worker.completed,
            "lease_ttl": worker.lease_ttl,
            "database": redact(self.endpoints.database_url),
            "nats": redact_nats_url(self.endpoints.nats_url) if self._nc is not None else "polling",
            "endpoints_from": self.endpoints.source,
        }

    def _repr_html_(self) -> str:
        d = self.describe()
        if not d["serving"]:
            return "<b>DuraGraph kernel worker</b>: not serving"
        rows = "".join(
            f"<tr><td><code>{html.escape(n)}</code></td><td>{html.escape(str(v))}</td></tr>"
            for n, v in d["versions"].items()
        )
        return (
            f"<b>DuraGraph kernel worker</b> <code>{html.escape(d['worker_id'])}</code> serving "
            f"{len(d['serving'])} graph(s), lease {d['lease_ttl']:g}s"
            f"<table><tr><th>graph</th><th>version</th></tr>{rows}</table>"
        )

    def __repr__(self) -> str:
        d = self.describe()
        return f"<KernelWorker serving {d['serving']!r} as {d['worker_id']}>"


async def _close(pool: Any, nc: Any) -> None:
    if nc is not None:
        with contextlib.suppress(Exception):
            await nc.close()
    if pool is not None:
        with contextlib.suppress(Exception):
            await pool.close()
