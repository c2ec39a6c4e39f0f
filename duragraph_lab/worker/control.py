"""The run control plane: create runs on threads, resume, cancel, fork, read state, wait.

Every decision is checked against the folded log before anything is appended, and every append
carries an expected version, so concurrent requests cannot both win: two resumes of one interrupt
→ one succeeds, the other gets :class:`Conflict`; two runs started on one thread at once → one
gets :class:`ThreadBusy`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NATS

from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.errors import DuraGraphError, VersionConflict
from duragraph_lab.domain.run import InvalidTransition, RunState, RunStatus, fold
from duragraph_lab.engine import commands
from duragraph_lab.engine.history import HistoryCache, load_run
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.worker.registry import default_assistant_id


class NotFound(DuraGraphError):
    code = "not_found"


class ThreadBusy(DuraGraphError):
    code = "thread_busy"


class Conflict(DuraGraphError):
    code = "conflict"


@dataclass(frozen=True, slots=True)
class RunRef:
    run_id: str
    thread_id: str
    assistant_id: str | None
    graph_id: str


@dataclass(frozen=True, slots=True)
class Target:
    assistant_id: str
    graph_id: str
    config: dict[str, Any]
    channels: dict[str, str]
    nodes: list[str]
    interrupt_before: list[str]
    interrupt_after: list[str]


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise NotFound(f"{what} {value!r} is not a valid id") from None


class RunControl:
    def __init__(
        self,
        store: PostgresEventStore,
        *,
        nc: NATS | None = None,
        subjects: Subjects | None = None,
        cache: HistoryCache | None = None,
    ) -> None:
        self.store = store
        self.nc = nc
        self.subjects = subjects or Subjects()
        self.cache = cache or HistoryCache()

    # -- lookups -------------------------------------------------------------------------------
    async def _one(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        rows = await self.store._query(sql, params)
        return rows[0] if rows else None

    async def target(self, assistant_or_graph: str) -> Target:
        """An assistant by id, or a graph id (meaning its default assistant)."""
        row = None
        try:
            assistant_id = str(uuid.UUID(assistant_or_graph))
        except ValueError:
            assistant_id = default_assistant_id(assistant_or_graph)
        row = await self._one(
            "SELECT a.assistant_id::text, a.graph_id, a.config, g.topology FROM duragraph.assistants a "
            "JOIN duragraph.graphs g USING (graph_id) WHERE a.assistant_id = %s",
            (assistant_id,),
        )
        if row is None:
            graphs = [
                r[0] for r in await self.store._query("SELECT graph_id FROM duragraph.graphs ORDER BY 1", ())
            ]
            raise NotFound(
                f"no assistant or graph {assistant_or_graph!r}; registered graphs: {', '.join(graphs) or '(none)'}"
            )
        assistant_id, graph_id, config, topology = row
        nodes = [n["id"] for n in topology["nodes"] if n.get("kind") in ("node", "subgraph")]
        return Target(
            assistant_id,
            graph_id,
            dict(config or {}),
            dict(topology["channels"]),
            nodes,
            list(topology.get("interrupt_before", [])),
            list(topology.get("interrupt_after", [])),
        )

    async def thread_row(self, thread_id: str) -> tuple[Any, ...] | None:
        return await self._one(
            "SELECT status, last_run_id::text FROM duragraph.threads WHERE thread_id = %s", (thread_id,)
        )

    async def run_events(self, run_id: str) -> list[RecordedEvent]:
        return await self.store.read_stream(f"run:{_uuid(run_id, 'run')}")

    async def state(self, run_id: str, *, at_seq: int | None = None) -> RunState:
        """The run (status and graph state), now or right after the event with ``at_seq``."""
        events, base = await load_run(_uuid(run_id, "run"), self._read_run, self.cache)
        if not events:
            raise NotFound(f"run {run_id} does not exist")
        if at_seq is not None:
            events = [e for e in events if e.seq <= at_seq]
            if not events:
                raise NotFound(f"run {run_id} has no events up to seq {at_seq}")
        return fold(events, base)

    async def _read_run(self, run_id: str) -> list[RecordedEvent]:
        return await self.store.read_stream(f"run:{run_id}")

    async def _stream_head_seq(self, run_id: str) -> int:
        row = await self._one(
            "SELECT max(seq) FROM duragraph.events WHERE stream_id = %s", (f"run:{run_id}",)
        )
        return int(row[0]) if row and row[0] is not None else 0

    # -- commands ------------------------------------------------------------------------------
    async def create_thread(
        self, thread_id: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> str:
        thread_id = _uuid(thread_id, "thread") if thread_id else commands.new_id()
        try:
            await self.store.append(
                f"thread:{thread_id}",
                0,
                [NewEvent(ev.THREAD_CREATED, {"thread_id": thread_id, "metadata": dict(metadata or {})})],
            )
        except VersionConflict:
            raise Conflict(f"thread {thread_id} already exists") from None
        return thread_id

    async def create_run(
        self,
        assistant: str,
        input: Any = None,
        *,
        thread_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        interrupt_before: Sequence[str] | None = None,
        interrupt_after: Sequence[str] | None = None,
        after_seconds: float | None = None,
        create_thread: bool = True,
    ) -> RunRef:
        """Queue a run of ``assistant`` (an assistant id or a graph id) on a thread: a new one, or
        ``thread_id`` — continuing from the state its previous run left."""
        target = await self.target(assistant)
        run_id = commands.new_id()
        merged_config = {**target.config, **dict(config or {})}
        merged_config["configurable"] = {
            **dict(target.config.get("configurable", {})),
            **dict((config or {}).get("configurable", {})),
        }
        thread_events: list[NewEvent] = []
        base = None
        if thread_id is None:
            thread_id = commands.new_id()
            thread_version = 0
            thread_events.append(NewEvent(ev.THREAD_CREATED, {"thread_id": thread_id, "metadata": {}}))
        else:
            thread_id = _uuid(thread_id, "thread")
            thread_version = await self.store.stream_version(f"thread:{thread_id}")
            row = await self.thread_row(thread_id)
            if row is None:
                if not create_thread:
                    raise NotFound(f"thread {thread_id} does not exist")
                thread_events.append(NewEvent(ev.THREAD_CREATED, {"thread_id": thread_id, "metadata": {}}))
            elif row[1] is not None:
                previous = await self.state(row[1])
                if previous.status in (RunStatus.PENDING, RunStatus.RUNNING):
                    raise ThreadBusy(f"thread {thread_id} already has an active run ({row[1]})")
                if previous.status is RunStatus.INTERRUPTED:
                    raise ThreadBusy(
                        f"thread {thread_id} has an interrupted run ({row[1]}): resume or cancel it first"
                    )
                base = {"run_id": row[1], "seq": await self._stream_head_seq(row[1]), "mode": "continue"}
        created = commands.run_created(
            run_id=run_id,
            thread_id=thread_id,
            graph_id=target.graph_id,
            assistant_id=target.assistant_id,
            channels=target.channels,
            nodes=target.nodes,
            input=input,
            config=merged_config,
            metadata=metadata,
            # The graph's own interrupt points (compile(interrupt_before=...)) unless the request
            # names others.
            interrupt_before=target.interrupt_before if interrupt_before is None else interrupt_before,
            interrupt_after=target.interrupt_after if interrupt_after is None else interrupt_after,
            base=base,
        )
        if after_seconds:
            created = NewEvent(
                created.type,
                {**created.data, "after_seconds": float(after_seconds)},
                event_id=created.event_id,
            )
        thread_events.append(NewEvent(ev.THREAD_RUN_ADDED, {"run_id": run_id}))
        try:
            async with self.store.transaction() as tx:
                await tx.append(f"thread:{thread_id}", thread_version, thread_events)
                await tx.append(f"run:{run_id}", 0, [created])
        except VersionConflict:
            raise ThreadBusy(f"thread {thread_id} got another run at the same moment; try again") from None
        await self._wake()
        return RunRef(run_id, thread_id, target.assistant_id, target.graph_id)

    async def resume(
        self, run_id: str, value: Any = None, *, by_id: Mapping[str, Any] | None = None
    ) -> RunState:
        """Answer the run's pending interrupt(s). Raises ``InvalidTransition`` if it is not
        interrupted, :class:`Conflict` if another resume won the race."""
        state = await self.state(run_id)
        events = commands.resume(state, value, by_id=by_id)
        row = await self.thread_row(state.thread_id) if state.thread_id else None
        if row is not None and row[1] is not None and row[1] != state.run_id:
            raise Conflict(
                f"run {run_id} is no longer its thread's latest run (the thread moved on to {row[1]})"
            )
        try:
            await self.store.append(f"run:{state.run_id}", state.version, events)
        except VersionConflict:
            raise Conflict(f"run {run_id} changed while resuming it (resumed by someone else?)") from None
        await self._wake()
        return await self.state(run_id)

    async def cancel(self, run_id: str, reason: str = "cancelled by request") -> RunState:
        """Cancel a run: at once if no worker executes it, else at the worker's next step."""
        for _ in range(10):
            state = await self.state(run_id)
            if state.status is not None and state.status.terminal:
                raise InvalidTransition(state.run_id, state.status, ev.RUN_CANCEL_REQUESTED)
            if state.cancel_requested:
                return state
            try:
                await self.store.append(f"run:{state.run_id}", state.version, commands.cancel(state, reason))
                return await self.state(run_id)
            except VersionConflict:
                continue  # the worker wrote meanwhile: decide again on the fresh state
        raise Conflict(f"run {run_id} kept changing while cancelling it")

    async def fork(
        self,
        run_id: str,
        at_seq: int,
        *,
        update: Mapping[str, Any] | None = None,
        as_node: str | None = None,
    ) -> RunRef:
        """A new run on the same thread that continues from the state right after event
        ``at_seq`` of ``run_id`` (optionally editing the state first), as if history had branched."""
        source = await self.state(run_id)
        events = await self.run_events(run_id)
        if not any(e.seq == at_seq for e in events):
            raise NotFound(f"run {run_id} has no event with seq {at_seq}")
        assert source.thread_id is not None and source.graph_id is not None
        target = await self.target(source.assistant_id or source.graph_id)
        # The version first, the checks second: a run created in between makes our append conflict.
        thread_version = await self.store.stream_version(f"thread:{source.thread_id}")
        row = await self.thread_row(source.thread_id)
        if row is not None and row[1]:
            latest = source if row[1] == source.run_id else await self.state(row[1])
            if latest.status in (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.INTERRUPTED):
                status = latest.status.value if latest.status else "unknown"
                raise ThreadBusy(
                    f"thread {source.thread_id} has an {status} run ({row[1]}): "
                    "wait for it, or resume or cancel it, before forking"
                )
        new_id = commands.new_id()
        created = commands.run_created(
            run_id=new_id,
            thread_id=source.thread_id,
            graph_id=target.graph_id,
            assistant_id=target.assistant_id,
            channels=target.channels,
            nodes=target.nodes,
            input=None,
            config=source.config,
            metadata={**source.metadata, "forked_from": {"run_id": source.run_id, "seq": at_seq}},
            interrupt_before=source.interrupt_before,
            interrupt_after=source.interrupt_after,
            base={"run_id": source.run_id, "seq": at_seq, "mode": "fork"},
            update=update,
            as_node=as_node,
        )
        try:
            async with self.store.transaction() as tx:
                await tx.append(
                    f"thread:{source.thread_id}",
                    thread_version,
                    [NewEvent(ev.THREAD_RUN_ADDED, {"run_id": new_id})],
                )
                await tx.append(f"run:{new_id}", 0, [created])
        except VersionConflict:
            raise ThreadBusy(f"thread {source.thread_id} changed while forking; try again") from None
        await self._wake()
        return RunRef(new_id, source.thread_id, target.assistant_id, target.graph_id)

    async def wait(self, run_id: str, timeout: float = 60.0, *, poll: float = 0.05) -> RunState:
        """Wait until the run ends or pauses for a human; raise TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        run_id = _uuid(run_id, "run")
        while True:
            row = await self._one("SELECT status FROM duragraph.runs WHERE run_id = %s", (run_id,))
            if row is None:
                raise NotFound(f"run {run_id} does not exist")
            if row[0] not in ("pending", "running"):
                return await self.state(run_id)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"run {run_id} still {row[0]} after {timeout}s")
            await asyncio.sleep(poll)

    async def _wake(self) -> None:
        if self.nc is not None and self.nc.is_connected:
            with contextlib.suppress(Exception):  # workers also poll
                await self.nc.publish(self.subjects.runs_wake, b"")
