"""``duragraph-lab worker module:attr [...]`` / ``--config langgraph.json``: a standalone worker
process."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from duragraph_lab.bus.connection import BusUnavailable, connect_nats, redact_nats_url
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.control.item_store import StoreSettings
from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.langgraph.project import Project, ProjectError, load_project
from duragraph_lab.langgraph.source import GraphSource
from duragraph_lab.runtime.config import Settings
from duragraph_lab.runtime.services import attach
from duragraph_lab.store.connection import open_pool, redact
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.worker.worker import Worker

log = logging.getLogger(__name__)


class GraphLoadError(DuraGraphError):
    code = "graph_load_error"


def load_graph(ref: str) -> CompiledGraph | GraphSource:
    """Import ``module:attr`` and return the compiled graph it names (or that a no-argument
    factory of that name returns). A LangGraph graph (compiled, or a factory returning one, or
    a factory taking the config and/or a server runtime) is a GraphSource, served under the
    graph's name, or the attribute's when the graph has LangGraph's default name."""
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
    if isinstance(obj, CompiledGraph):
        return obj
    if _is_langgraph(obj) or (callable(obj) and _takes_arguments(obj)):
        return _langgraph_source(ref, attr.rsplit(".", 1)[-1], obj)
    if callable(obj):
        made = obj()
        if isinstance(made, CompiledGraph):
            return made
        if _is_langgraph(made):
            # A LangGraph factory: called per use, as LangGraph Platform does.
            return _langgraph_source(ref, attr.rsplit(".", 1)[-1], obj, made)
        obj = made
    raise GraphLoadError(f"{ref!r} is a {type(obj).__name__}, not a compiled graph")


def _is_langgraph(value: Any) -> bool:
    """A LangGraph graph (without importing langgraph unless its module is already loaded)."""
    if "langgraph" not in sys.modules:
        return False
    from duragraph_lab.langgraph.sources import is_graph

    return is_graph(value)


def _takes_arguments(fn: Any) -> bool:
    import inspect

    try:
        return bool(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False


def _langgraph_source(ref: str, attr: str, value: Any, made: Any = None) -> GraphSource:
    from duragraph_lab.langgraph.loading import as_source

    graph = made if made is not None else value
    name = getattr(graph, "name", None)
    graph_id = name if isinstance(name, str) and name not in ("LangGraph", "") else attr
    try:
        source = as_source(graph_id, value, None, repr(ref))
    except ProjectError as err:
        raise GraphLoadError(str(err)) from None
    if isinstance(source, CompiledGraph):  # pragma: no cover - native graphs returned above
        raise GraphLoadError(f"{ref!r}: unexpected native graph")
    return source


def served_id(graph: CompiledGraph | GraphSource) -> str:
    """The id a worker serves ``graph`` under."""
    return graph.name if isinstance(graph, CompiledGraph) else graph.graph_id


def distinct_graphs(
    named: Sequence[tuple[str, CompiledGraph | GraphSource]],
) -> list[CompiledGraph | GraphSource]:
    """The graphs of ``named`` ((where it was named, graph) pairs), or a :class:`GraphLoadError`
    naming both places when two of them have the same id: a worker serves one graph per id, and
    which one was meant is the user's call, not ours."""
    seen: dict[str, str] = {}
    for where, graph in named:
        graph_id = served_id(graph)
        if graph_id in seen:
            raise GraphLoadError(
                f"graph id {graph_id!r} is defined twice: in {seen[graph_id]} and in {where}; "
                "rename one of them or serve it once"
            )
        seen[graph_id] = where
    return [graph for _, graph in named]


def project_graphs(project: Project) -> list[tuple[str, CompiledGraph | GraphSource]]:
    """The project's graphs (after :meth:`Project.activate`), each with where it is named."""
    return [(f"{project.path} (graphs.{graph_id})", g) for graph_id, g in project.sources().items()]


def load_served(
    refs: Sequence[str], config: Path | None, *, option: str = "the worker's arguments"
) -> tuple[list[CompiledGraph | GraphSource], Project | None]:
    """What a worker serves: the graphs named by ``refs`` (given by ``option``) and those of the
    ``langgraph.json`` at ``config`` (its environment applied first), and that project. An id
    defined twice is a :class:`GraphLoadError` naming both places."""
    project = None
    named: list[tuple[str, CompiledGraph | GraphSource]] = []
    if config is not None:
        project = load_project(config)
        project.activate()
        named += project_graphs(project)
    named += [(f"{option} ({ref})", load_graph(ref)) for ref in refs]
    return distinct_graphs(named), project


async def serve(
    refs: Sequence[str],
    settings: Settings,
    *,
    config: Path | None = None,
    concurrency: int = 32,
    worker_id: str | None = None,
    lease_ttl: float = 30.0,
    heartbeat_interval: float | None = None,
    drain_timeout: float = 30.0,
    db_retry_seconds: float = 30.0,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run a worker until SIGTERM/SIGINT (or ``stop``), then drain and exit. ``config``: a
    ``langgraph.json`` whose graphs it serves too; ``on_ready`` is called once it serves (the
    process settles its heap then: :mod:`duragraph_lab.runtime.heap`)."""
    graphs, project = load_served(refs, config)
    store_settings: StoreSettings | None = project.store if project is not None else None
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
        store_settings=store_settings,
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await worker.start()
        if on_ready is not None:
            on_ready()
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
