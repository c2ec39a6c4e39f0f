"""In-process execution behind ``CompiledGraph.invoke()``: the real engine on a memory journal.

Handy in notebooks and tests: the same semantics as a worker (supersteps, reducers, retries,
interrupts, threads), without PostgreSQL. Nothing survives the process; serve the graph with a
worker for durable runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.domain.run import RunStatus, fold
from duragraph_lab.engine import commands
from duragraph_lab.engine.executor import RunExecutor
from duragraph_lab.engine.history import HistoryCache, load_run
from duragraph_lab.engine.memory import MemoryJournal
from duragraph_lab.graph.types import Command, Interrupt

if TYPE_CHECKING:
    from duragraph_lab.graph.compiled import CompiledGraph

T = TypeVar("T")


class GraphRunError(DuraGraphError):
    """A run ended in error; ``error`` is the recorded failure (type, message, node, step)."""

    code = "run_failed"

    def __init__(self, error: dict[str, Any]) -> None:
        where = f" in node {error['node']!r}" if error.get("node") else ""
        super().__init__(f"{error.get('type', 'Error')}{where}: {error.get('message', '')}")
        self.error = error


class LocalRuntime:
    def __init__(self) -> None:
        self.journal = MemoryJournal()
        self.threads: dict[str, str] = {}  # thread id -> its latest run
        self.cache = HistoryCache()

    async def invoke(
        self, graph: CompiledGraph, input: Any, config: dict[str, Any] | None, **options: Any
    ) -> dict[str, Any]:
        config = dict(config or {})
        configurable = dict(config.get("configurable", {}))
        thread_id = str(configurable.get("thread_id") or commands.new_id())
        spec = graph.spec
        last = self.threads.get(thread_id)
        previous = None
        if last is not None:
            events, start = await load_run(last, self._read, self.cache)
            previous = fold(events, start)
        interrupted = previous is not None and previous.status is RunStatus.INTERRUPTED
        if isinstance(input, Command) or (input is None and interrupted):
            # Command(resume=...) answers an interrupt; None continues past a breakpoint
            # (interrupt_before/after), as in LangGraph.
            if isinstance(input, Command) and (input.update is not None or input.goto or input.graph):
                raise commands.InvalidRunRequest("as a run's input, a Command may only carry resume=")
            if previous is None or last is None or not interrupted:
                raise commands.InvalidRunRequest(f"thread {thread_id} has no interrupted run to resume")
            value = input.resume if isinstance(input, Command) else None
            resumed = commands.resume_command(previous, value)
            self.journal.append(last, previous.version, resumed)
            run_id = last
        else:
            base: dict[str, Any] | None = None
            if previous is not None:
                if interrupted:
                    raise commands.InvalidRunRequest(
                        f"thread {thread_id} has an interrupted run; resume it with Command(resume=...)"
                    )
                base = {"run_id": last, "seq": previous.last_seq, "mode": "continue"}
            run_id = commands.new_id()
            created = commands.run_created(
                run_id=run_id,
                thread_id=thread_id,
                graph_id=spec.name,
                assistant_id=None,
                channels=spec.channels,
                nodes=list(spec.nodes),
                input=input,
                config={k: v for k, v in config.items() if k != "configurable"}
                | {"configurable": configurable},
                # None: the graph's own interrupt points; a list (even empty) replaces them.
                interrupt_before=_or_default(options.get("interrupt_before"), spec.interrupt_before),
                interrupt_after=_or_default(options.get("interrupt_after"), spec.interrupt_after),
                base=base,
            )
            self.journal.append(run_id, 0, [created])
            self.threads[thread_id] = run_id
        final = await RunExecutor(spec, self.journal, run_id, cache=self.cache).run()
        if final.status is RunStatus.ERROR:
            raise GraphRunError(final.error or {})
        if final.status in (RunStatus.TIMEOUT, RunStatus.CANCELLED):
            raise GraphRunError(
                final.error or {"type": final.status.value, "message": f"run {final.status.value}"}
            )
        values = dict(final.values)
        if final.status is RunStatus.INTERRUPTED:
            values["__interrupt__"] = [
                Interrupt(value=i.get("value"), id=str(i.get("id"))) for i in final.interrupts
            ]
        return values

    async def _read(self, run_id: str) -> list[Any]:
        return await self.journal.read(run_id)


_runtime = LocalRuntime()


async def run_async(
    graph: CompiledGraph, input: Any, config: dict[str, Any] | None = None, **options: Any
) -> dict[str, Any]:
    return await _runtime.invoke(graph, input, config, **options)


def run_sync(
    graph: CompiledGraph, input: Any, config: dict[str, Any] | None = None, **options: Any
) -> dict[str, Any]:
    """``invoke`` from synchronous code — including inside Jupyter, whose kernel already runs an
    event loop (the run then happens on a helper thread)."""
    return _run_blocking(run_async(graph, input, config, **options))


def _or_default(value: Any, default: Any) -> list[str]:
    return list(default) if value is None else list(value)


def _run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Like asyncio.run, but without waiting for threads of sync nodes that timed out: their
    results are discarded anyway, and invoke() must return when the run ends."""
    loop = asyncio.new_event_loop()
    threads = ThreadPoolExecutor(thread_name_prefix="duragraph-node")
    loop.set_default_executor(threads)
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            threads.shutdown(wait=False, cancel_futures=True)
            loop.close()


def _run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_loop(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = _run_loop(coro)
        except BaseException as err:
            box["error"] = err

    thread = threading.Thread(target=target, name="duragraph-invoke")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]
