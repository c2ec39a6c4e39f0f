"""The run control plane: threads, runs, resumes, cancels, forks, state edits, copies.

Every decision is checked against the folded log before anything is appended, and every append
carries an expected version, so concurrent requests cannot both win: two resumes of one interrupt
→ one succeeds, the other gets :class:`Conflict`; two runs started on one thread at once are
serialised by the thread's stream version (the loser decides again on the fresh state).

A thread is a chain of runs. A run starts from the state its ``base`` names: the thread's
previous run (``continue``: its values carry over, the graph starts from START), or a point in a
run (``fork``: exactly where that run was, pending tasks included). A run created while the
thread's latest run is still active waits behind it (``after_run``) and starts from wherever that
run ends (``seq`` None): that is how the multitask strategies ``enqueue``, ``interrupt`` and
``rollback`` are built.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NATS

from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.domain import codec
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.errors import DuraGraphError, VersionConflict
from duragraph_lab.domain.run import InvalidTransition, RunState, RunStatus
from duragraph_lab.domain.snapshots import SNAPSHOT_BYTES_PER_EVENT, SNAPSHOT_EVERY, fold_onto
from duragraph_lab.engine import commands
from duragraph_lab.engine.history import HistoryCache, load_run
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.store.snapshots import RunSnapshots
from duragraph_lab.worker.registry import default_assistant_id


class NotFound(DuraGraphError):
    code = "not_found"


class ThreadBusy(DuraGraphError):
    code = "thread_busy"


class Conflict(DuraGraphError):
    code = "conflict"


MULTITASK_STRATEGIES = ("reject", "interrupt", "rollback", "enqueue")
_ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class RunRef:
    run_id: str
    thread_id: str
    assistant_id: str | None
    graph_id: str
    #: The request resumed the thread's interrupted run instead of creating one.
    resumed: bool = False
    #: The run's last event before this request: a stream of what the request caused starts after it.
    after_seq: int = 0


@dataclass(frozen=True, slots=True)
class Target:
    assistant_id: str
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    channels: dict[str, str]
    nodes: list[str]
    interrupt_before: list[str]
    interrupt_after: list[str]


@dataclass(frozen=True, slots=True)
class RunCommand:
    """``Command(resume=..., update=..., goto=...)`` as a run request's input."""

    resume: Any = None
    has_resume: bool = False
    update: Any = None
    goto: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A point in a thread's history: right after event ``seq`` of run ``run_id``."""

    run_id: str
    seq: int


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
        snapshots: RunSnapshots | None = None,
        snapshot_every: int = SNAPSHOT_EVERY,
        snapshot_bytes_per_event: int = SNAPSHOT_BYTES_PER_EVENT,
    ) -> None:
        self.store = store
        self.nc = nc
        self.subjects = subjects or Subjects()
        self.cache = cache or HistoryCache()
        # Snapshots of folded runs, one every snapshot_every events (0: none read or written),
        # at most snapshot_bytes_per_event bytes of them per event (see fold_onto).
        self.snapshots = snapshots or RunSnapshots(store.pool)
        self.snapshot_every = snapshot_every
        self.snapshot_bytes_per_event = snapshot_bytes_per_event

    # -- lookups -------------------------------------------------------------------------------
    async def _one(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        rows = await self.store._query(sql, params)
        return rows[0] if rows else None

    async def target(self, assistant_or_graph: str) -> Target:
        """An assistant by id, or a graph id (meaning its default assistant)."""
        try:
            assistant_id = str(uuid.UUID(str(assistant_or_graph)))
        except ValueError:
            assistant_id = default_assistant_id(str(assistant_or_graph))
        row = await self._one(
            "SELECT a.assistant_id::text, a.graph_id, a.config, a.context, a.metadata, g.topology "
            "FROM duragraph.assistants a JOIN duragraph.graphs g USING (graph_id) WHERE a.assistant_id = %s",
            (assistant_id,),
        )
        if row is None:
            graphs = [
                r[0] for r in await self.store._query("SELECT graph_id FROM duragraph.graphs ORDER BY 1", ())
            ]
            raise NotFound(
                f"no assistant or graph {assistant_or_graph!r}; registered graphs: {', '.join(graphs) or '(none)'}"
            )
        assistant_id, graph_id, config, context, metadata, topology = row
        nodes = [n["id"] for n in topology["nodes"] if n.get("kind") in ("node", "subgraph")]
        return Target(
            assistant_id,
            graph_id,
            dict(config or {}),
            dict(context or {}),
            dict(metadata or {}),
            dict(topology["channels"]),
            nodes,
            list(topology.get("interrupt_before", [])),
            list(topology.get("interrupt_after", [])),
        )

    async def thread_row(self, thread_id: str) -> tuple[Any, ...] | None:
        """``(status, last_run_id, metadata)`` of a thread, or None."""
        return await self._one(
            "SELECT status, last_run_id::text, metadata FROM duragraph.threads WHERE thread_id = %s",
            (thread_id,),
        )

    async def run_events(self, run_id: str) -> list[RecordedEvent]:
        return await self.store.read_stream(f"run:{_uuid(run_id, 'run')}")

    async def state(self, run_id: str, *, at_seq: int | None = None, _base: bool = False) -> RunState:
        """The run (status and graph state), now or right after the event with ``at_seq``.

        Folded from the run's nearest snapshot at or before ``at_seq`` when there is one, and
        otherwise from its first event (and the runs it started from); the snapshots passed on
        the way are stored for the next reader.
        """
        rid = _uuid(run_id, "run")
        lossy_before = codec.lossy_decodes()
        # A state in the run's past needs no later event: the run is read only up to at_seq.
        snapshot, own = (
            await self.snapshots.read(self.store, rid, at_seq) if self.snapshot_every else (None, None)
        )
        if snapshot is not None:
            state, after_version, events = snapshot.state, snapshot.version, own or []
        else:

            async def read(wanted: str) -> list[RecordedEvent]:
                # The run itself (read above, with the snapshot that it has not); the runs it
                # started from, whole (and cached).
                if wanted == rid and own is not None:
                    return own
                if wanted == rid and at_seq is not None:
                    return await self.store.read_stream(f"run:{wanted}", until_seq=at_seq)
                return await self._read_run(wanted)

            # The state at the event of the run it started from: from that run's snapshots too
            # (a fork of a long run). Only for the first link: the runs before it are resolved
            # by the fold's own recursion, which takes one frame per link where going through
            # state() again would take several (a thread of hundreds of runs).
            state_at = self._base_state_at if self.snapshot_every and not _base else None
            events, base = await load_run(rid, read, self.cache, state_at=state_at)
            if not events:
                if at_seq is not None and await self.store.stream_version(f"run:{rid}") > 0:
                    raise NotFound(f"run {run_id} has no events up to seq {at_seq}")
                raise NotFound(f"run {run_id} does not exist")
            state, after_version = (base.clone() if base is not None else RunState()), 0
        taken = fold_onto(
            state,
            events,
            after_version=after_version,
            every=self.snapshot_every,
            bytes_per_event=self.snapshot_bytes_per_event,
        )
        # A value decoded as plain data for want of its class here would be stored as plain
        # data: such a snapshot would give another reader a state its own fold would not.
        if taken and codec.lossy_decodes() == lossy_before:
            await self.snapshots.save(rid, taken)
        return state

    async def _base_state_at(self, run_id: str, seq: int) -> RunState:
        try:
            return await self.state(run_id, at_seq=seq, _base=True)
        except NotFound:
            # A base point before the run's first event (only hand-made data has one): what
            # folding nothing gives, as without snapshots.
            return RunState()

    async def _read_run(self, run_id: str) -> list[RecordedEvent]:
        return await self.store.read_stream(f"run:{run_id}")

    async def rolled_back(self, state: RunState) -> bool:
        """Whether the run was cancelled with ``action="rollback"``: its work is undone, and its
        thread goes on from where the run started (``state.base``)."""
        if state.status is not RunStatus.CANCELLED or state.run_id is None:
            return False
        events, _ = await load_run(state.run_id, self._read_run, self.cache)
        return any(e.type == ev.RUN_CANCEL_REQUESTED and e.data.get("action") == "rollback" for e in events)

    async def _stream_head_seq(self, run_id: str) -> int:
        row = await self._one(
            "SELECT max(seq) FROM duragraph.events WHERE stream_id = %s", (f"run:{run_id}",)
        )
        return int(row[0]) if row and row[0] is not None else 0

    async def latest_run(self, thread_id: str) -> RunState | None:
        """The thread's latest run, folded (None for a thread without runs)."""
        row = await self.thread_row(thread_id)
        if row is None:
            raise NotFound(f"thread {thread_id} does not exist")
        return await self.state(row[1]) if row[1] else None

    # -- threads -------------------------------------------------------------------------------
    async def create_thread(
        self,
        thread_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        if_exists: str = "raise",
        temporary: bool = False,
    ) -> str:
        """Create a thread. ``if_exists="do_nothing"`` returns an existing one instead of raising
        :class:`Conflict`."""
        thread_id = _uuid(thread_id, "thread") if thread_id else commands.new_id()
        data: dict[str, Any] = {"thread_id": thread_id, "metadata": dict(metadata or {})}
        if temporary:
            data["temporary"] = True
        try:
            await self.store.append(f"thread:{thread_id}", 0, [NewEvent(ev.THREAD_CREATED, data)])
        except VersionConflict:
            if if_exists == "do_nothing" and await self.thread_row(thread_id) is not None:
                return thread_id
            raise Conflict(f"thread {thread_id} already exists") from None
        return thread_id

    async def update_thread(self, thread_id: str, metadata: Mapping[str, Any]) -> None:
        """Merge ``metadata`` into the thread's metadata."""
        thread_id = _uuid(thread_id, "thread")
        if await self.thread_row(thread_id) is None:
            raise NotFound(f"thread {thread_id} does not exist")
        await self.store.append(
            f"thread:{thread_id}", None, [NewEvent(ev.THREAD_UPDATED, {"metadata": dict(metadata)})]
        )

    async def delete_thread(self, thread_id: str) -> None:
        """Delete a thread and its runs from the read models (their events stay). Runs that are
        still active or waiting for a human are cancelled first."""
        thread_id = _uuid(thread_id, "thread")
        if await self.thread_row(thread_id) is None:
            raise NotFound(f"thread {thread_id} does not exist")
        live = await self.store._query(
            "SELECT run_id::text FROM duragraph.runs WHERE thread_id = %s "
            "AND status IN ('pending', 'running', 'interrupted') ORDER BY created_at",
            (thread_id,),
        )
        for (run_id,) in live:
            with contextlib.suppress(InvalidTransition, NotFound):
                await self.cancel(run_id, reason="thread deleted")
        try:
            await self.store.append(
                f"thread:{thread_id}", None, [NewEvent(ev.THREAD_DELETED, {"thread_id": thread_id})]
            )
        finally:
            await self._wake()

    async def copy_thread(self, thread_id: str, metadata: Mapping[str, Any] | None = None) -> str:
        """A new thread with the same history: every run of the thread is copied event by event
        (under new ids), so states, checkpoints and pending interrupts are the same, and the copy
        moves on independently. Refused while the thread has an active run."""
        source = _uuid(thread_id, "thread")
        row = await self.thread_row(source)
        if row is None:
            raise NotFound(f"thread {thread_id} does not exist")
        version = await self.store.stream_version(f"thread:{source}")
        runs = [
            r[0]
            for r in await self.store._query(
                "SELECT (e.data->>'run_id') FROM duragraph.events e "
                "WHERE e.stream_id = %s AND e.type = %s ORDER BY e.version",
                (f"thread:{source}", ev.THREAD_RUN_ADDED),
            )
        ]
        states = {run_id: await self.state(run_id) for run_id in runs}
        busy = [r for r, s in states.items() if s.status in _ACTIVE]
        if busy:
            raise ThreadBusy(f"thread {source} has an active run ({busy[-1]}); copy it once it has stopped")
        new_thread = commands.new_id()
        run_ids = {old: commands.new_id() for old in runs}
        seqs: dict[tuple[str, int], int] = {}  # (old run, old seq) -> new seq
        meta = {**dict(row[2] or {}), **dict(metadata or {}), "copied_from": source}
        async with self.store.transaction() as tx:
            # Hold the source thread still while we copy: no run can be added to it meanwhile.
            cur = await tx.conn.execute(
                "SELECT version FROM duragraph.streams WHERE stream_id = %s FOR SHARE", (f"thread:{source}",)
            )
            locked = await cur.fetchone()
            if locked is None or int(locked[0]) != version:
                raise ThreadBusy(f"thread {source} changed while copying it; try again")
            await tx.append(
                f"thread:{new_thread}",
                0,
                [
                    NewEvent(ev.THREAD_CREATED, {"thread_id": new_thread, "metadata": meta}),
                    *(NewEvent(ev.THREAD_RUN_ADDED, {"run_id": run_ids[old]}) for old in runs),
                ],
            )
            for old in runs:
                events = await self.store.read_stream(f"run:{old}")
                copies = [self._copied(e, old, new_thread, run_ids, seqs) for e in events]
                recorded = await tx.append(f"run:{run_ids[old]}", 0, copies)
                for original, new in zip(events, recorded, strict=True):
                    seqs[(old, original.seq)] = new.seq
        return new_thread

    @staticmethod
    def _copied(
        event: RecordedEvent,
        old_run: str,
        new_thread: str,
        run_ids: Mapping[str, str],
        seqs: Mapping[tuple[str, int], int],
    ) -> NewEvent:
        data = dict(event.data)
        if event.type == ev.RUN_CREATED:
            data["run_id"] = run_ids[old_run]
            data["thread_id"] = new_thread
            data.pop("after_run", None)  # the copy starts from a settled history
            base = data.get("base")
            if base and base.get("run_id") in run_ids:
                seq = base.get("seq")
                if seq is None:
                    # "Wherever that run ended": pin it to the copy's last event of that run.
                    seq = max(s for (r, _), s in seqs.items() if r == base["run_id"])
                else:
                    seq = seqs[(base["run_id"], int(seq))]
                data["base"] = {**base, "run_id": run_ids[base["run_id"]], "seq": seq}
            data["metadata"] = {**dict(data.get("metadata") or {}), "copied_from_run": old_run}
        return NewEvent(event.type, data, meta={**event.meta, "copied_from": str(event.event_id)})

    # -- runs ----------------------------------------------------------------------------------
    async def create_run(
        self,
        assistant: str,
        input: Any = None,
        *,
        thread_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        after_seconds: float | None = None,
        create_thread: bool = True,
        multitask_strategy: str = "reject",
        supersede_interrupted: bool = False,
        command: RunCommand | None = None,
        checkpoint: Checkpoint | None = None,
        kwargs: Mapping[str, Any] | None = None,
        temporary: bool = False,
    ) -> RunRef:
        """Start a run of ``assistant`` (an assistant id or a graph id) on a thread: a new one,
        or ``thread_id``, continuing from the state its previous run left.

        - ``command`` with a resume value answers the thread's interrupted run: no new run.
        - ``input`` None on a thread whose latest run is interrupted continues it past its
          breakpoints; on a thread whose latest run stopped in the middle of a step (failed,
          cancelled, timed out) it re-runs that step in a new run.
        - ``checkpoint``: start from that point of the thread's history instead (a fork).
        - ``multitask_strategy``: what to do when the thread's latest run is still active:
          ``reject`` (:class:`ThreadBusy`), ``enqueue`` (wait for it), ``interrupt`` (cancel it,
          then continue from where it stopped) or ``rollback`` (cancel it and start from the
          state before it).
        - ``supersede_interrupted``: new input on a thread waiting for a human cancels that run
          (LangGraph's behaviour) instead of raising :class:`ThreadBusy`.
        """
        if multitask_strategy not in MULTITASK_STRATEGIES:
            raise commands.InvalidRunRequest(
                f"multitask_strategy must be one of {', '.join(MULTITASK_STRATEGIES)}, not {multitask_strategy!r}"
            )
        target = await self.target(assistant)
        for _ in range(8):
            try:
                ref = await self._create_once(
                    target,
                    input,
                    thread_id=thread_id,
                    config=config,
                    context=context,
                    metadata=metadata,
                    interrupt_before=interrupt_before,
                    interrupt_after=interrupt_after,
                    after_seconds=after_seconds,
                    create_thread=create_thread,
                    multitask_strategy=multitask_strategy,
                    supersede_interrupted=supersede_interrupted,
                    command=command,
                    checkpoint=checkpoint,
                    kwargs=kwargs,
                    temporary=temporary,
                )
            except VersionConflict:
                # Someone else changed the thread (or its latest run) meanwhile: decide again.
                continue
            await self._wake()
            return ref
        raise ThreadBusy(f"thread {thread_id} kept changing while starting a run on it; try again")

    async def _create_once(
        self,
        target: Target,
        input: Any,
        *,
        thread_id: str | None,
        config: Mapping[str, Any] | None,
        context: Mapping[str, Any] | None,
        metadata: Mapping[str, Any] | None,
        interrupt_before: Sequence[str] | str | None,
        interrupt_after: Sequence[str] | str | None,
        after_seconds: float | None,
        create_thread: bool,
        multitask_strategy: str,
        supersede_interrupted: bool,
        command: RunCommand | None,
        checkpoint: Checkpoint | None,
        kwargs: Mapping[str, Any] | None,
        temporary: bool,
    ) -> RunRef:
        thread_events: list[NewEvent] = []
        latest: RunState | None = None
        if thread_id is None:
            thread_id = commands.new_id()
            thread_version = 0
            thread_events.append(self._thread_created(thread_id, temporary))
        else:
            thread_id = _uuid(thread_id, "thread")
            thread_version = await self.store.stream_version(f"thread:{thread_id}")
            row = await self.thread_row(thread_id)
            if row is None:
                if thread_version > 0:
                    raise NotFound(f"thread {thread_id} was deleted")
                if not create_thread:
                    raise NotFound(f"thread {thread_id} does not exist")
                thread_events.append(self._thread_created(thread_id, temporary))
            elif row[1] is not None:
                latest = await self.state(row[1])

        if command is not None and command.has_resume:
            return await self._resume_latest(target, thread_id, latest, command, checkpoint)

        run_id = commands.new_id()
        appends: list[tuple[str, int, list[NewEvent]]] = []
        base: dict[str, Any] | None = None
        after_run: str | None = None
        if checkpoint is not None:
            source = await self.state(checkpoint.run_id)
            if source.thread_id != thread_id:
                raise NotFound(f"checkpoint of run {checkpoint.run_id} is not in thread {thread_id}")
            fresh = input is not None or bool(command and command.goto)
            base = {"run_id": source.run_id, "seq": checkpoint.seq, "mode": "continue" if fresh else "fork"}
        if latest is not None:
            assert latest.run_id is not None
            if latest.status in _ACTIVE:
                if multitask_strategy == "reject":
                    raise ThreadBusy(
                        f"thread {thread_id} already has an active run ({latest.run_id}); wait for it, "
                        "or choose multitask_strategy enqueue, interrupt or rollback"
                    )
                after_run = latest.run_id
                if multitask_strategy in ("interrupt", "rollback"):
                    events = commands.cancel(
                        latest, f"superseded by run {run_id} ({multitask_strategy})", multitask_strategy
                    )
                    appends.append((f"run:{latest.run_id}", latest.version, events))
                if base is None:
                    if multitask_strategy == "rollback":
                        # The state before the cancelled run: where it started from.
                        start = latest.base
                        base = {**start, "mode": "continue"} if start else None
                    else:
                        base = {"run_id": latest.run_id, "seq": None, "mode": "continue"}
            elif latest.status is RunStatus.INTERRUPTED:
                plain = input is None and command is None and checkpoint is None
                if plain:
                    # "Run with no input" on a paused thread: go on past the breakpoints.
                    resume = RunCommand(resume=None, has_resume=True)
                    return await self._resume_latest(target, thread_id, latest, resume, None, continue_=True)
                if not supersede_interrupted:
                    raise ThreadBusy(
                        f"thread {thread_id} has an interrupted run ({latest.run_id}): resume or cancel it first"
                    )
                events = commands.cancel(latest, f"superseded by run {run_id}")
                appends.append((f"run:{latest.run_id}", latest.version, events))
                if base is None:
                    base = {"run_id": latest.run_id, "seq": None, "mode": "continue"}
            elif base is None and await self.rolled_back(latest):
                # Rolled back: as if it never ran, from the state it started from.
                base = {**latest.base, "mode": "continue"} if latest.base else None
            elif base is None:
                # At rest. With no input, a step it left unfinished (a failure, a cancel) runs
                # again; otherwise the graph starts from START on the state the run left.
                unfinished = bool(latest.tasks) and input is None and command is None
                base = {
                    "run_id": latest.run_id,
                    "seq": latest.last_seq,
                    "mode": "fork" if unfinished else "continue",
                }
        merged = self._merged_config(target, config, context)
        extra: dict[str, Any] = {}
        if kwargs:
            extra["kwargs"] = dict(kwargs)
        if after_run is not None:
            extra["after_run"] = after_run
        if after_seconds:
            extra["after_seconds"] = float(after_seconds)
        created = commands.run_created(
            run_id=run_id,
            thread_id=thread_id,
            graph_id=target.graph_id,
            assistant_id=target.assistant_id,
            channels=target.channels,
            nodes=target.nodes,
            input=input,
            config=merged,
            metadata=metadata,
            interrupt_before=target.interrupt_before if interrupt_before is None else interrupt_before,
            interrupt_after=target.interrupt_after if interrupt_after is None else interrupt_after,
            base=base,
            update=command.update if command is not None else None,
            goto=command.goto if command is not None else None,
            extra=extra,
        )
        thread_events.append(NewEvent(ev.THREAD_RUN_ADDED, {"run_id": run_id}))
        appends.append((f"thread:{thread_id}", thread_version, thread_events))
        appends.append((f"run:{run_id}", 0, [created]))
        # Lock order: the superseded run's stream first, as a worker appending to it would.
        async with self.store.transaction() as tx:
            for stream, expected, events in appends:
                await tx.append(stream, expected, events)
        return RunRef(run_id, thread_id, target.assistant_id, target.graph_id)

    async def _resume_latest(
        self,
        target: Target,
        thread_id: str,
        latest: RunState | None,
        command: RunCommand,
        checkpoint: Checkpoint | None,
        *,
        continue_: bool = False,
    ) -> RunRef:
        if checkpoint is not None:
            raise commands.InvalidRunRequest(
                "a resume answers the thread's pending interrupt: drop the checkpoint"
            )
        if latest is None or latest.run_id is None:
            raise InvalidTransition(None, None, ev.RUN_RESUMED)
        if latest.deleted:
            # Its events stay for the audit trail, but a deleted run never executes again.
            raise NotFound(f"run {latest.run_id} was deleted: it cannot be resumed")
        if latest.status is not RunStatus.INTERRUPTED:
            raise InvalidTransition(latest.run_id, latest.status, ev.RUN_RESUMED)
        if command.goto:
            raise commands.InvalidRunRequest(
                "Command(resume=..., goto=...) is not supported: resume, then route"
            )
        if latest.graph_id != target.graph_id:
            raise commands.InvalidRunRequest(
                f"the thread's interrupted run is of graph {latest.graph_id!r}, not {target.graph_id!r}"
            )
        events: list[NewEvent] = []
        if command.update is not None:
            events += commands.update_state(latest, command.update, nodes=target.nodes)
        if continue_:
            events += commands.resume(latest, None, by_id={})
        else:
            events += commands.resume_command(latest, command.resume)
        await self.store.append(f"run:{latest.run_id}", latest.version, events)
        return RunRef(
            latest.run_id,
            thread_id,
            latest.assistant_id,
            latest.graph_id or target.graph_id,
            resumed=True,
            after_seq=latest.last_seq,
        )

    @staticmethod
    def _thread_created(thread_id: str, temporary: bool) -> NewEvent:
        data: dict[str, Any] = {"thread_id": thread_id, "metadata": {}}
        if temporary:
            data["temporary"] = True
        return NewEvent(ev.THREAD_CREATED, data)

    @staticmethod
    def _merged_config(
        target: Target, config: Mapping[str, Any] | None, context: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The assistant's config, overridden by the request's (``configurable`` and ``context``
        merged key by key)."""
        config = dict(config or {})
        merged = {**target.config, **config}
        merged["configurable"] = {
            **dict(target.config.get("configurable", {})),
            **dict(config.get("configurable", {})),
        }
        ctx = {**target.context, **dict(context or {})}
        if ctx:
            merged["context"] = ctx
        return merged

    async def resume(
        self, run_id: str, value: Any = None, *, by_id: Mapping[str, Any] | None = None
    ) -> RunState:
        """Answer the run's pending interrupt(s). Raises ``InvalidTransition`` if it is not
        interrupted, :class:`Conflict` if another resume won the race."""
        state = await self.state(run_id)
        if state.deleted:
            raise NotFound(f"run {run_id} was deleted: it cannot be resumed")
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

    async def cancel(
        self, run_id: str, reason: str = "cancelled by request", action: str = "interrupt"
    ) -> RunState:
        """Cancel a run: at once if no worker executes it, else at the worker's next step.
        ``action="rollback"`` also deletes it from the read models once it has stopped."""
        for _ in range(10):
            state = await self.state(run_id)
            if state.status is not None and state.status.terminal:
                raise InvalidTransition(state.run_id, state.status, ev.RUN_CANCEL_REQUESTED)
            if state.cancel_requested:
                return state
            try:
                events = commands.cancel(state, reason, action)
                await self.store.append(f"run:{state.run_id}", state.version, events)
                return await self.state(run_id)
            except VersionConflict:
                continue  # the worker wrote meanwhile: decide again on the fresh state
        raise Conflict(f"run {run_id} kept changing while cancelling it")

    async def delete_run(self, run_id: str) -> None:
        """Remove a run that is not executing (its events stay in the log)."""
        state = await self.state(run_id)
        if state.deleted:
            raise NotFound(f"run {run_id} does not exist")
        try:
            await self.store.append(f"run:{state.run_id}", state.version, commands.delete(state))
        except VersionConflict:
            raise Conflict(f"run {run_id} changed while deleting it") from None

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

    # -- state edits ---------------------------------------------------------------------------
    async def update_state(
        self,
        thread_id: str,
        values: Any,
        *,
        as_node: str | None = None,
        checkpoint: Checkpoint | None = None,
        graph: str | None = None,
    ) -> tuple[str, int]:
        """Edit a thread's state (LangGraph's ``update_state``); returns ``(run_id, seq)`` of the
        event that records the edit: the thread's new latest checkpoint.

        - On the latest state: a ``state_updated`` event on the thread's latest run, which must be
          paused or finished (:class:`ThreadBusy` while it executes). A paused run then resumes
          with the edited state.
        - At an earlier ``checkpoint``: a new run branching from there, paused before the tasks
          that were pending at that point (run with no input to execute them).
        - On a thread without runs: a run that records the edit as its only work. The graph is
          ``graph`` or the thread's ``graph_id`` / ``assistant_id`` metadata.

        ``as_node`` names the writer (reducers apply as for that node's update); it does not
        change which nodes run next: routing is decided by graph code, which only workers have.
        """
        thread_id = _uuid(thread_id, "thread")
        for _ in range(8):
            row = await self.thread_row(thread_id)
            if row is None:
                raise NotFound(f"thread {thread_id} does not exist")
            latest = await self.state(row[1]) if row[1] else None
            try:
                if latest is not None and (checkpoint is None or self._is_head(latest, checkpoint)):
                    return await self._update_latest(latest, values, as_node)
                if latest is not None and latest.status in _ACTIVE:
                    raise ThreadBusy(f"thread {thread_id} has an active run ({latest.run_id}); wait for it")
                name = graph or (row[2] or {}).get("graph_id") or (row[2] or {}).get("assistant_id")
                if latest is not None:
                    name = latest.assistant_id or latest.graph_id
                if not name:
                    raise commands.InvalidRunRequest(
                        f"thread {thread_id} has no runs and no graph_id in its metadata: "
                        "say which graph its state belongs to"
                    )
                return await self._edit_run(thread_id, await self.target(name), values, as_node, checkpoint)
            except VersionConflict:
                continue
        raise ThreadBusy(f"thread {thread_id} kept changing while updating its state; try again")

    @staticmethod
    def _is_head(latest: RunState, checkpoint: Checkpoint) -> bool:
        return checkpoint.run_id == latest.run_id and checkpoint.seq >= latest.last_seq

    async def _update_latest(self, latest: RunState, values: Any, as_node: str | None) -> tuple[str, int]:
        assert latest.run_id is not None
        if latest.status in _ACTIVE:
            raise ThreadBusy(f"thread {latest.thread_id} has an active run ({latest.run_id}); wait for it")
        target = await self.target(latest.assistant_id or latest.graph_id or "")
        events = commands.update_state(latest, values, as_node=as_node, nodes=target.nodes)
        recorded = await self.store.append(f"run:{latest.run_id}", latest.version, events)
        return latest.run_id, recorded[-1].seq

    async def _edit_run(
        self, thread_id: str, target: Target, values: Any, as_node: str | None, checkpoint: Checkpoint | None
    ) -> tuple[str, int]:
        """A run whose only work is a state edit: branched from ``checkpoint`` (paused before
        the tasks pending there) or, on a thread without runs, from nothing (finished)."""
        thread_version = await self.store.stream_version(f"thread:{thread_id}")
        run_id = commands.new_id()
        base = None
        source = None
        if checkpoint is not None:
            source = await self.state(checkpoint.run_id, at_seq=checkpoint.seq)
            if source.thread_id != thread_id:
                raise NotFound(f"checkpoint of run {checkpoint.run_id} is not in thread {thread_id}")
            base = {"run_id": checkpoint.run_id, "seq": checkpoint.seq, "mode": "fork"}
        if as_node is not None and as_node not in target.nodes:
            raise commands.InvalidRunRequest(
                f"as_node {as_node!r} is not a node of the graph; nodes: {', '.join(target.nodes)}"
            )
        created = commands.run_created(
            run_id=run_id,
            thread_id=thread_id,
            graph_id=target.graph_id,
            assistant_id=target.assistant_id,
            channels=target.channels,
            nodes=target.nodes,
            config=source.config if source is not None else self._merged_config(target, None, None),
            metadata={"kind": "update_state"},
            interrupt_before=source.interrupt_before if source is not None else target.interrupt_before,
            interrupt_after=source.interrupt_after if source is not None else target.interrupt_after,
            base=base,
            update=values if values is not None else {},
            as_node=as_node,
            extra={"kwargs": {"kind": "update_state"}},
        )
        started = NewEvent(ev.RUN_STARTED, {"worker_id": "api", "epoch": None, "attempt": 1})
        pending = [t for t in (source.pending_tasks if source is not None else [])]
        if pending:
            # Paused before what was pending at the checkpoint: a run with no input (or a
            # resume) executes it from the edited state.
            assert source is not None
            interrupts = [
                {
                    "id": f"{t.id}:before",
                    "task": t.id,
                    "node": t.node,
                    "when": "before",
                    "value": None,
                    "ns": "",
                }
                for t in pending
            ]
            ending = NewEvent(ev.RUN_INTERRUPTED, {"step": source.step, "interrupts": interrupts})
        else:
            ending = NewEvent(ev.RUN_COMPLETED, {})
        async with self.store.transaction() as tx:
            await tx.append(
                f"thread:{thread_id}", thread_version, [NewEvent(ev.THREAD_RUN_ADDED, {"run_id": run_id})]
            )
            recorded = await tx.append(f"run:{run_id}", 0, [created, started, ending])
        # The checkpoint that shows the edit: the run's start when it pauses, its end otherwise.
        return run_id, recorded[0].seq if pending else recorded[-1].seq

    # -- waiting -------------------------------------------------------------------------------
    async def wait(self, run_id: str, timeout: float = 60.0, *, poll: float = 0.05) -> RunState:
        """Wait until the run ends or pauses for a human; raise TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        run_id = _uuid(run_id, "run")
        while True:
            row = await self._one("SELECT status FROM duragraph.runs WHERE run_id = %s", (run_id,))
            if row is None:
                state = await self.state(run_id)  # deleted or rolled back: its log still answers
                if state.status not in _ACTIVE:
                    return state
            elif row[0] not in ("pending", "running"):
                return await self.state(run_id)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"run {run_id} still {row[0] if row else 'active'} after {timeout}s")
            await asyncio.sleep(poll)

    async def _wake(self) -> None:
        if self.nc is not None and self.nc.is_connected:
            with contextlib.suppress(Exception):  # workers also poll
                await self.nc.publish(self.subjects.runs_wake, b"")
