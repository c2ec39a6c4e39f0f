"""``duragraph-lab worker module:attr [...]``: a standalone worker process."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from duragraph_lab.bus.connection import BusUnavailable, connect_nats, redact_nats_url
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.runtime.config import Settings
from duragraph_lab.runtime.services import attach
from duragraph_lab.store.connection import open_pool, redact
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.worker.worker import Worker

log = logging.getLogger(__name__)


class GraphLoadError(DuraGraphError):
    code = "graph_load_error"


def load_graph(ref: str) -> CompiledGraph:
    """Import ``module:attr`` and return the compiled graph it names (or that a no-argument
    factory of that name returns)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise GraphLoadError(f"{ref!r}: name a graph as module:attribute, e.g. my_agents.chat:graph")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: modules next to where you run it
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise GraphLoadError(f"{ref!r}: cannot import {module_name}: {err}") from None
    except Exception as err:
        raise GraphLoadError(
            f"{ref!r}: importing {module_name} failed: {type(err).__name__}: {err}"
        ) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise GraphLoadError(f"{ref!r}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, StateGraph):
        raise GraphLoadError(f"{ref!r} is a StateGraph: serve the result of .compile(name=...)")
    if not isinstance(obj, CompiledGraph) and callable(obj):
        obj = obj()
    if not isinstance(obj, CompiledGraph):
        raise GraphLoadError(f"{ref!r} is a {type(obj).__name__}, not a compiled graph")
    return obj


async def serve(
    refs: Sequence[str],
    settings: Settings,
    *,
    concurrency: int = 32,
    worker_id: str | None = None,
    lease_ttl: float = 30.0,
    heartbeat_interval: float | None = None,
    drain_timeout: float = 30.0,
    db_retry_seconds: float = 30.0,
    stop: asyncio.Event | None = None,
) -> None:
    """Run a worker until SIGTERM/SIGINT (or ``stop``), then drain and exit."""
    graphs = [load_graph(ref) for ref in refs]
    endpoints = attach(settings)
    pool = await open_pool(
        endpoints.database_url, min_size=2, max_size=concurrency + 4, name="duragraph-worker"
    )
    store = PostgresEventStore(pool)
    nc = None
    try:
        nc = await connect_nats(endpoints.nats_url, name="duragraph-worker", connect_timeout=3)
    except BusUnavailable as err:
        print(f"duragraph-lab worker: {err}; polling for work instead", file=sys.stderr, flush=True)
    subjects = Subjects(settings.subject_prefix)
    worker = Worker(
        graphs,
        store,
        nc=nc,
        subjects=subjects,
        worker_id=worker_id,
        concurrency=concurrency,
        lease_ttl=lease_ttl,
        heartbeat_interval=heartbeat_interval,
        drain_timeout=drain_timeout,
        db_retry_seconds=db_retry_seconds,
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await worker.start()
        where = redact(endpoints.database_url)
        bus = redact_nats_url(endpoints.nats_url) if nc is not None else "no NATS"
        print(
            f"duragraph-lab worker {worker.worker_id}: serving {', '.join(worker.graphs)} "
            f"(concurrency {concurrency}) on {where}, {bus}",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
        print(f"duragraph-lab worker {worker.worker_id}: draining", file=sys.stderr, flush=True)
        await worker.stop(drain=True)
    finally:
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()
        await pool.close()
