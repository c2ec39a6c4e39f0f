"""A leased run of a LangGraph graph, executed by LangGraph's own runtime.

The worker leases the run like a native one and calls :meth:`LangGraphRunExecutor.run`. The
graph is built through its :class:`~duragraph_lab.langgraph.source.GraphSource` with the
event-store checkpointer bound to this run (:class:`RunWriter`: every checkpoint and task write is
an event of the run's stream, committed under the worker's fenced lease) and DuraGraph's store,
then driven with ``graph.astream(..., durability="sync")`` on the run's thread:

- a new run starts from its input (or ``Command(update=, goto=)``); a resumed one with
  ``Command(resume=...)``; a run that another worker was executing when it died continues with
  ``astream(None)``: LangGraph restarts from the last checkpoint and applies the writes already
  committed, so a task whose writes are in the log is not executed again (only the tasks in
  flight are).
- LangGraph's checkpoints and task results are also written as the run events that the fold, the
  SSE streams and the dashboard read (``step_planned`` with the state's values: the whole state
  first, then what changed since the previous one, ``carry``; ``node_completed``
  with the task's update, ``run_interrupted``/``run_completed``/``run_failed``/``run_cancelled``).
- a cancel request (seen over NATS, or as a version conflict at the next commit) stops the run
  and ends it as cancelled; a lost lease stops it with ``LeaseLost`` (the worker gives it back).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from duragraph_lab.control.item_store import StoreSettings
from duragraph_lab.domain import codec
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.errors import EncodingError, StoreUnavailable, VersionConflict
from duragraph_lab.domain.events import Interrupt, PlannedTask
from duragraph_lab.domain.run import RunState, RunStatus, fold
from duragraph_lab.engine.errors import LeaseLost, RunNotFound, error_record
from duragraph_lab.engine.journal import LIVE_CUSTOM, LIVE_LANGGRAPH, LIVE_MESSAGES
from duragraph_lab.langgraph.attempts import TaskAttempts
from duragraph_lab.langgraph.source import GraphSource
from duragraph_lab.store.journal import PostgresJournal
from duragraph_lab.store.postgres import PostgresEventStore

if TYPE_CHECKING:
    from duragraph_lab.langgraph.list_values import RootPuts
    from duragraph_lab.langgraph.model_calls import CallRecorder

log = logging.getLogger(__name__)

#: Stream modes whose parts, for a LangGraph run, are LangGraph's own chunks (sent live).
LANGGRAPH_OWN_MODES = frozenset({"debug", "tasks", "checkpoints"})

#: LangGraph's special channels for a task's error and interrupts (langgraph._internal._constants).
_ERROR = "__error__"
_INTERRUPT = "__interrupt__"
_START = "__start__"


class CancelRequested(Exception):
    """The run's log says someone asked to cancel it."""


class RunWriter:
    """The run's stream, one commit at a time, under the worker's lease: the checkpointer's
    :class:`~duragraph_lab.langgraph.checkpointer.RunLog` and the executor's own writes.

    Commits carry the expected version, so an append by someone else (a cancel request) is
    noticed at the next commit: it raises :class:`CancelRequested` (then only ``final`` commits,
    the run's end, go through).

    Events :meth:`defer`-red wait for the next commit that takes them (``with_deferred``, the
    default) and go first in it, or for :meth:`flush`."""

    def __init__(
        self, journal: PostgresJournal, run_id: str, thread_id: str, log_events: Sequence[RecordedEvent]
    ) -> None:
        self.journal = journal
        self.run_id = run_id
        self.thread_id = thread_id
        #: The run's stream as this writer knows it: what it read, committed, or saw on a conflict.
        self.events = list(log_events)
        self.version = self.events[-1].version
        self.cancel_seen = False
        self._lock = asyncio.Lock()
        self._deferred: list[NewEvent] = []
        created = self.events[0].data if self.events and self.events[0].type == ev.RUN_CREATED else {}
        self._run_metadata = {k: created[k] for k in ev.RUN_METADATA_KEYS if k in created}

    async def append(self, events: Sequence[NewEvent]) -> None:
        await self.commit(events)

    def defer(self, events: Sequence[NewEvent]) -> None:
        """Commit ``events`` with the next commit, ahead of its own events."""
        self._deferred.extend(events)

    def deferring(self, event: NewEvent) -> bool:
        """Whether ``event`` still waits for a commit (none has taken it yet)."""
        return any(e is event for e in self._deferred)

    async def flush(self) -> None:
        """Commit the deferred events now, if there are any."""
        if self._deferred:
            await self.commit([])

    async def commit(
        self, events: Sequence[NewEvent], *, final: bool = False, with_deferred: bool = True
    ) -> list[RecordedEvent]:
        async with self._lock:
            # Never start a write (and so the work it records) past the lease's local deadline.
            self.journal.check_lease(self.run_id)
            deferred, self._deferred = (self._deferred, []) if with_deferred else ([], self._deferred)
            events = [*deferred, *events]
            if not events:
                return []
            try:
                # A checkpoint and the step_planned recording it, a task's writes and its
                # node_completed: one event each (ev.merge_langgraph_records).
                return await self._commit(ev.merge_langgraph_records(events, self._run_metadata), final)
            except BaseException:
                self._deferred[:0] = deferred  # not written: still owed to the next commit
                raise

    async def _commit(self, events: Sequence[NewEvent], final: bool) -> list[RecordedEvent]:
        while True:
            if self.cancel_seen and not final:
                raise CancelRequested()
            try:
                recorded = await self.journal.commit(self.run_id, self.version, events)
            except VersionConflict:
                newer = await self.journal.read(self.run_id, after_version=self.version)
                if not newer:
                    raise
                self.version = newer[-1].version
                self.events.extend(newer)
                if any(e.type == ev.RUN_CANCEL_REQUESTED for e in newer):
                    self.cancel_seen = True
                continue
            self.version = recorded[-1].version
            self.events.extend(e.without_text() for e in recorded)
            return recorded


class LangGraphRunExecutor:
    """Drive one leased run of ``source``'s graph to its next resting point (see the module)."""

    def __init__(
        self,
        source: GraphSource,
        *,
        journal: PostgresJournal,
        events: PostgresEventStore,
        run_id: str,
        epoch: int | None,
        store_settings: StoreSettings | None = None,
        prefetched: Sequence[RecordedEvent] | None = None,
    ) -> None:
        self.source = source
        #: The run's events as its lease brought them (the worker's acquire): not read again.
        self._prefetched = list(prefetched) if prefetched else None
        self.journal = journal
        self.events = events
        self.run_id = run_id
        self.epoch = epoch
        self.store_settings = store_settings or StoreSettings()
        self._cancel_requested = False
        self._inner: asyncio.Task[None] | None = None
        self._attempts: TaskAttempts | None = None
        #: the run was created to stream its subgraphs' parts (their tokens too)
        self._stream_subgraphs = False
        self._writer: RunWriter | None = None
        #: LangGraph's own parts sent live since the last commit, and the event keeping them
        self._kept: tuple[NewEvent, list[ev.StreamPart]] | None = None
        #: their keys: this execution's (a lease's) prefix, then a count
        self._parts_prefix = uuid.uuid4().hex[:8]
        self._parts_made = 0

    def request_cancel(self) -> None:
        """A cancel request is in the log: stop the graph now and end the run as cancelled."""
        self._cancel_requested = True
        if self._inner is not None:
            self._inner.cancel()

    async def run(self) -> RunState:
        log_events, self._prefetched = self._prefetched or await self.journal.read(self.run_id), None
        if not log_events:
            raise RunNotFound(f"run {self.run_id} does not exist")
        state = fold(log_events)
        if state.status is None or state.status.terminal or state.status is RunStatus.INTERRUPTED:
            return state
        self.journal.check_lease(self.run_id)
        if state.edit_request is not None:
            # update_state made here: the API server does not have the graph's code.
            from duragraph_lab.langgraph.edit_requests import apply_edit_request

            await apply_edit_request(
                self.source,
                journal=self.journal,
                events=self.events,
                settings=self.store_settings,
                run_id=self.run_id,
                epoch=self.epoch,
                state=state,
            )
            return fold(await self.journal.read(self.run_id))
        writer = RunWriter(self.journal, self.run_id, str(state.thread_id), log_events)
        if state.cancel_requested:
            await writer.commit([ev.run_cancelled()], final=True)
            return state
        started = ev.run_started(
            worker_id=self.journal.worker_id, epoch=self.epoch, attempt=state.attempt + 1
        )
        await writer.commit([started])
        self._inner = asyncio.create_task(self._drive(state, log_events, writer))
        # The run's timeout bounds execution from this lease on, as for native runs.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(state.timeout) if state.timeout else None
        try:
            async with asyncio.timeout_at(deadline):
                await self._inner
        except TimeoutError as err:
            if deadline is None or loop.time() < deadline:
                # The graph's own TimeoutError: a failure like any other.
                await writer.commit([ev.run_failed(error_record(err))], final=True)
            else:
                await writer.commit([ev.run_timed_out(state.timeout)], final=True)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not self._cancel_requested or (current is not None and current.cancelling()):
                self._inner.cancel()
                raise
            await writer.commit([ev.run_cancelled()], final=True)
        except CancelRequested:
            await writer.commit([ev.run_cancelled()], final=True)
        except (LeaseLost, StoreUnavailable, VersionConflict):
            raise
        except Exception as err:
            log.info("run %s of LangGraph graph %s failed: %r", self.run_id, self.source.graph_id, err)
            failures = self._attempts.last_failures() if self._attempts is not None else []
            await writer.commit([*failures, ev.run_failed(error_record(err))], final=True)
        # The run as this executor left it (not read again: a run's log can be long).
        return fold(writer.events)

    # -- driving LangGraph ---------------------------------------------------------------------
    async def _drive(self, state: RunState, log_events: list[RecordedEvent], writer: RunWriter) -> None:
        from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer
        from duragraph_lab.langgraph.model_calls import CallRecorder
        from duragraph_lab.langgraph.sources import CompiledSource
        from duragraph_lab.langgraph.store import PostgresStore

        config = self._config(state)
        self._writer = writer
        # Model and tool calls of the run's tasks, recorded in the event that ends each attempt.
        calls = CallRecorder()
        # Attempts LangGraph makes of a task (its retry policy) seen through callbacks.
        # (Not with the deferred events: those wait for their own step's commit.)
        self._attempts = attempts = TaskAttempts(
            lambda events: writer.commit(events, with_deferred=False), calls=calls
        )
        mirror = _Mirror(writer, log_events, state, attempts, calls)
        # The mirror is the checkpointer's RunLog: the run events go in the checkpointer's commits.
        checkpointer = EventStoreCheckpointer(self.events, run=mirror)
        checkpointer.thread_is_empty = thread_is_empty(log_events)
        mirror.puts = checkpointer.root_puts
        store = PostgresStore(self.events, settings=self.store_settings)
        context = state.config.get("context")
        async with self.source.build(
            config, access="threads.create_run", checkpointer=checkpointer, store=store, context=context
        ) as graph:
            own_modes = self._langgraph_modes(log_events)
            kwargs: dict[str, Any] = {
                "stream_mode": sorted(
                    {
                        "checkpoints",
                        "tasks",
                        *self._live_modes(log_events),
                        *own_modes["root"],
                        *own_modes["sub"],
                    }
                ),
                "durability": "sync",
                # Subgraphs' checkpoints and tasks too: mirrored under their namespace (and their
                # own parts, "mode|parent:task" on the SSE stream, when asked for).
                "subgraphs": True,
            }
            if context:
                kwargs["context"] = context
            if state.interrupt_before:
                kwargs["interrupt_before"] = state.interrupt_before
            if state.interrupt_after:
                kwargs["interrupt_after"] = state.interrupt_after
            graph_input = _graph_input(log_events, state)
            # As LangGraph Platform's update_state: a checkpoint of LangGraph's own (source
            # "update"), written before the run goes on. Not stamped with this run's id: LangGraph
            # would take a checkpoint of the run itself for a run to continue, not to start.
            edit_config = {
                **{k: v for k, v in config.items() if k != "run_id"},
                "metadata": {k: v for k, v in config["metadata"].items() if k != "run_id"},
                "configurable": {k: v for k, v in config["configurable"].items() if k != "run_id"},
            }
            base_events = await self._base_events(state)
            start = await _fork_checkpoint(log_events, base_events, checkpointer, config)
            if start is not None:
                # Time travel: LangGraph starts from the checkpoint the run was created at, and the
                # thread's later checkpoints stay a branch of their own, as on LangGraph Platform.
                edit_config = _at_checkpoint(edit_config, start)
            for values, as_node in [*_own_edit(log_events), *pending_edits(log_events, base_events)]:
                made = await graph.aupdate_state(edit_config, values, as_node=as_node)
                if start is not None:  # the next edit, and the run, go on from this edit's checkpoint
                    start = str(made["configurable"]["checkpoint_id"])
                    edit_config = _at_checkpoint(edit_config, start)
            run_config = _at_checkpoint(config, start) if start is not None else config
            run_config = {**run_config, "callbacks": [*(run_config.get("callbacks") or []), attempts, calls]}
            async for namespace, mode, chunk in graph.astream(graph_input, run_config, **kwargs):
                if namespace:
                    # A subgraph's: its tasks as run events under its namespace; its own parts live.
                    if mode in own_modes["sub"] or mode == "custom":
                        self._own_part(mode, chunk, "|".join(namespace))
                    elif mode == "messages" and self._stream_subgraphs:
                        # As LangGraph Platform: a subgraph's tokens only with stream_subgraphs.
                        self._token(chunk, "|".join(namespace))
                    elif mode == "checkpoints":
                        await mirror.checkpoint(chunk, namespace)
                    elif mode == "tasks":
                        await mirror.task(chunk, namespace)
                    continue
                if mode in own_modes["root"]:
                    self._own_part(mode, chunk, "")
                if mode == "checkpoints":
                    await mirror.checkpoint(chunk)
                elif mode == "tasks":
                    await mirror.task(chunk)
                elif mode == "messages":
                    self._token(chunk)
                elif mode == "custom":
                    self.journal.emit(
                        self.run_id, LIVE_CUSTOM, {"node": None, "ns": "", "payload": plain(chunk)}
                    )
            # A run that finished needs no read of its thread's state: its last checkpoint
            # streamed has the values (one query and a rebuild of the state less per run).
            final = mirror.finished()
            snapshot = await graph.aget_state(config) if final is None else None
            if final is not None and not isinstance(self.source, CompiledSource):
                # A graph factory's own code may run on leaving this block (its context's
                # exit): the last step's writes are not kept waiting for it.
                await writer.flush()
        if final is not None:
            await mirror.complete(final)
        else:
            await mirror.end(snapshot)

    def _live_modes(self, log_events: Sequence[RecordedEvent]) -> list[str]:
        """LangGraph's live stream modes for this run: "custom" whenever someone may listen (live
        events over NATS), "messages" only when the run was asked for token streams, as on
        LangGraph Platform (in that mode LangGraph streams chat models instead of invoking them)."""
        if self.journal.live is None:
            return []
        requested = set((log_events[0].data.get("kwargs") or {}).get("stream_mode") or [])
        wants_tokens = bool(requested & {"messages", "messages-tuple", "events"})
        return ["custom", "messages"] if wants_tokens else ["custom"]

    def _langgraph_modes(self, log_events: Sequence[RecordedEvent]) -> dict[str, set[str]]:
        """The stream modes whose parts are LangGraph's own chunks, sent live as LangGraph emits
        them, when the run was created to stream them (and someone may listen): ``root``,
        ``debug``/``tasks``/``checkpoints`` of the graph; ``sub``, with ``stream_subgraphs``,
        those and ``values``/``updates`` of its subgraphs (the root's values and updates come
        from the run's events)."""
        if self.journal.live is None:
            return {"root": set(), "sub": set()}
        kwargs = log_events[0].data.get("kwargs") or {}
        self._stream_subgraphs = bool(kwargs.get("stream_subgraphs"))
        requested = set(kwargs.get("stream_mode") or [])
        root = requested & LANGGRAPH_OWN_MODES
        sub = (
            requested & (LANGGRAPH_OWN_MODES | {"values", "updates"})
            if kwargs.get("stream_subgraphs")
            else set()
        )
        return {"root": root, "sub": sub}

    def _own_part(self, mode: str, chunk: Any, ns: str) -> None:
        """One of LangGraph's own stream parts, live, as the SSE stream sends it (``mode|ns``)."""
        if mode == "custom":
            self.journal.emit(self.run_id, LIVE_CUSTOM, {"node": None, "ns": ns, "payload": plain(chunk)})
            return
        # Sent live and kept in the log under one key, so a stream sends it once either way.
        self._parts_made += 1
        key = f"{self._parts_prefix}.{self._parts_made}"
        payload = {"mode": mode, "chunk": plain(chunk), "key": key}
        self.journal.emit(self.run_id, LIVE_LANGGRAPH, {"node": None, "ns": ns, "payload": payload})
        self._keep_part({"mode": mode, "ns": ns, "chunk": payload["chunk"], "key": key})

    def _keep_part(self, part: ev.StreamPart) -> None:
        """Keep a part sent live for streams resumed later: in a ``stream_parts`` event that
        the run's next commit takes (no commit of its own), one per commit."""
        writer = self._writer
        if writer is None:
            return
        if self._kept is None or not writer.deferring(self._kept[0]):
            parts: list[ev.StreamPart] = []
            self._kept = (ev.stream_parts(parts), parts)
            writer.defer([self._kept[0]])
        self._kept[1].append(part)

    def _token(self, chunk: Any, ns: str = "") -> None:
        """A chat model's token (LangGraph's "messages" mode) as the live event the SSE streams
        turn into ``messages`` parts: ``{"id": message id, "delta": text}``."""
        message, metadata = chunk
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content or getattr(message, "id", None) is None:
            return
        node = metadata.get("langgraph_node") if isinstance(metadata, Mapping) else None
        payload = {"id": str(message.id), "delta": content}
        self.journal.emit(self.run_id, LIVE_MESSAGES, {"node": node, "ns": ns, "payload": payload})

    async def _base_events(self, state: RunState) -> list[RecordedEvent]:
        """The events of the run this one continues (up to the point it starts from)."""
        base = state.base or {}
        if not base.get("run_id"):
            return []
        events = await self.journal.read(str(base["run_id"]))
        until = base.get("seq")
        return [e for e in events if until is None or e.seq <= int(until)]

    def _config(self, state: RunState) -> dict[str, Any]:
        # "context" goes to LangGraph as the run's context; "timeout" is the run's, not LangGraph's.
        config = {k: v for k, v in state.config.items() if k not in ("context", "timeout")}
        config["configurable"] = {
            **dict(state.config.get("configurable") or {}),
            "thread_id": str(state.thread_id),
            "run_id": self.run_id,
        }
        config["metadata"] = {
            **dict(state.config.get("metadata") or {}),
            **{k: v for k, v in state.metadata.items() if isinstance(v, str | int | float | bool)},
            "run_id": self.run_id,
            "thread_id": str(state.thread_id),
            "graph_id": state.graph_id,
            "assistant_id": state.assistant_id,
        }
        config["recursion_limit"] = state.recursion_limit
        config["run_id"] = self.run_id
        return config


def thread_is_empty(log_events: Sequence[RecordedEvent]) -> bool:
    """Whether the run's thread holds nothing yet: it was made for the run, which starts from
    nothing (no base run), and the run has recorded nothing but its starts (a run taken again
    after a worker died may have saved checkpoints already)."""
    if (
        not log_events
        or log_events[0].type != ev.RUN_CREATED
        or log_events[0].data.get("new_thread") is not True
        or log_events[0].data.get("base")
    ):
        return False
    return all(e.type == ev.RUN_STARTED for e in log_events[1:])


def _at_checkpoint(config: dict[str, Any], checkpoint_id: str) -> dict[str, Any]:
    return {**config, "configurable": {**config["configurable"], "checkpoint_id": checkpoint_id}}


async def _fork_checkpoint(
    log_events: Sequence[RecordedEvent],
    base_events: Sequence[RecordedEvent],
    checkpointer: Any,
    config: Mapping[str, Any],
) -> str | None:
    """The LangGraph checkpoint a run must start from when it is not the thread's latest (a fork,
    time travel: the run was created at an earlier checkpoint), else None (LangGraph takes the
    thread's latest, as for any run). Only for a run's first start: once it has checkpoints of
    its own, a restarted run continues from them."""
    if _last_langgraph(log_events, edits=True) >= 0:
        return None
    at = next(
        (
            str(cp["checkpoint_id"])
            for e in reversed(base_events)
            if (cp := ev.checkpoint_of(e.type, e.data)) is not None and not cp.get("checkpoint_ns")
        ),
        None,
    )
    if at is None:
        return None
    # Only the latest's id: reading the checkpoint itself would load the thread's whole state.
    latest = await checkpointer.latest_checkpoint_id(str(config["configurable"]["thread_id"]))
    return None if latest == at else at


def _own_edit(log_events: Sequence[RecordedEvent]) -> list[tuple[Any, str | None]]:
    """The edit a run of ``update_state`` at an earlier checkpoint was created with, when
    LangGraph has not seen it yet: applied at that checkpoint before the run goes on."""
    created = log_events[0].data
    if (created.get("kwargs") or {}).get("kind") != "update_state" or created.get("update") is None:
        return []
    if _last_langgraph(log_events, edits=True) >= 0:
        return []
    return [(created["update"], created.get("as_node"))]


def _graph_input(log_events: Sequence[RecordedEvent], state: RunState) -> Any:
    """What to give ``astream``: the run's input or command, the answer to its interrupt, or
    None to continue from the last checkpoint (after a crash, or past breakpoints)."""
    from langgraph.types import Command

    # State edits applied by this executor (update_state checkpoints) do not answer the resume.
    last_lg = _last_langgraph(log_events, edits=False)
    last_resume = max((i for i, e in enumerate(log_events) if e.type == ev.RUN_RESUMED), default=-1)
    if last_resume > last_lg:
        d = log_events[last_resume].data
        by_id = d.get("by_id")
        if by_id is not None:
            return Command(resume=dict(by_id)) if by_id else None
        return Command(resume=d.get("resume"))
    if last_lg >= 0:
        return None  # another worker started it: LangGraph continues from its last checkpoint
    created = log_events[0].data
    if created.get("update") is not None or created.get("goto"):
        return Command(update=created.get("update"), goto=created.get("goto") or ())
    return created.get("input")


def _last_langgraph(log_events: Sequence[RecordedEvent], *, edits: bool) -> int:
    """Index of the run's last LangGraph event (-1: none); with ``edits`` False, the checkpoints
    that state edits made (LangGraph metadata ``source: "update"``) and their writes left out."""
    made_by_edits = {
        cp.get("checkpoint_id")
        for e in log_events
        if (cp := ev.checkpoint_of(e.type, e.data)) is not None
        and (cp.get("metadata") or {}).get("source") == "update"
    }
    found = -1
    for i, e in enumerate(log_events):
        if not ev.records_langgraph(e.type, e.data):
            continue
        record = ev.checkpoint_of(e.type, e.data) or ev.writes_of(e.type, e.data)
        if not edits and record is not None and record.get("checkpoint_id") in made_by_edits:
            continue
        found = i
    return found


def pending_edits(
    log_events: Sequence[RecordedEvent], base_events: Sequence[RecordedEvent]
) -> list[tuple[Any, Any]]:
    """The state edits (``update_state``, ``Command(update=...)`` with a resume) LangGraph has
    not seen yet, as (values, as_node): those of this run after its last LangGraph event, and
    for a run that has none yet, those its base run received after its own last one."""
    last = _last_langgraph(log_events, edits=True)
    mine = [e for e in log_events[last + 1 :] if e.type == ev.STATE_UPDATED]
    if last < 0 and base_events:
        base_last = _last_langgraph(base_events, edits=True)
        mine = [e for e in base_events[base_last + 1 :] if e.type == ev.STATE_UPDATED] + mine
    return [(e.data.get("values"), e.data.get("as_node")) for e in mine]


class _Mirror:
    """LangGraph's checkpoints and task results as the run events downstream readers fold, and
    the checkpointer's :class:`~duragraph_lab.langgraph.checkpointer.RunLog`, so that they share
    its commits: each task's writes go with its ``node_completed``, a checkpoint with the
    ``step_planned`` that follows it, and the writes of a step's last task to finish with both:
    a step of one task is one commit.

    The checkpoint waits for ``step_planned``: with ``durability="sync"`` LangGraph saves a
    checkpoint, then streams it (with the next step's tasks) before it starts any of those tasks,
    and the stream is read here while LangGraph waits, so the checkpoint is still committed
    before the step it leads to runs. A checkpoint that no ``step_planned`` follows goes with the
    next commit or before the checkpointer's next read: a fresh thread's input checkpoint (and
    LangGraph's ``__start__`` writes) with the first step's, the last with the run's end."""

    def __init__(
        self,
        writer: RunWriter,
        log_events: Sequence[RecordedEvent],
        state: RunState,
        attempts: TaskAttempts,
        calls: CallRecorder | None = None,
    ) -> None:
        self.writer = writer
        self.attempts = attempts
        self.calls = calls
        self.run_id = writer.run_id
        self.thread_id = writer.thread_id
        self.channels = set(state.channels)
        self.step = state.step
        self.planned = {str(e.data.get("checkpoint_id")) for e in log_events if e.type == ev.STEP_PLANNED}
        self.completed = {str(e.data.get("task")) for e in log_events if e.type == ev.NODE_COMPLETED}
        self.started: dict[str, float] = {}
        self.names: dict[str, str] = {}
        self.recursion_limit = state.recursion_limit
        #: subgraph namespaces (DuraGraph's) already started, and the step each is at
        self.spaces = {str(e.data.get("ns")) for e in log_events if e.type == ev.SUBGRAPH_STARTED}
        self.space_steps: dict[str, int] = {}
        #: a subgraph's planned task id -> (node, namespace, step)
        self.space_tasks: dict[str, tuple[str, str, int]] = {}
        #: writes of a subgraph's task not seen running, before its step was planned here
        self.cached_writes: dict[str, list[tuple[str, Any]]] = {}
        #: The tasks of the steps planned here (task id → node), whose writes are node_completed.
        self.planned_tasks: dict[str, str] = {}
        #: The tasks of the step LangGraph is running (of its last checkpoint streamed).
        self.step_tasks: set[str] = set()
        # The root state the last step_planned recorded (and its checkpoint): the next one
        # records only what changed.
        self.recorded: dict[str, Any] | None = None
        self.recorded_id: str | None = None
        #: The checkpointer's last root checkpoints (set by the executor): which of a
        #: checkpoint's lists extend the recorded ones (list_values.RootPuts).
        self.puts: RootPuts | None = None
        #: root task id -> the model and tool calls of its interrupted attempt (see _paused)
        self.paused_calls: dict[str, tuple[list[Any], list[Any]]] = {}
        #: The root state of the last root checkpoint LangGraph streamed when it had no task to
        #: run (the graph finished), else None: see :meth:`finished`.
        self.final_values: Mapping[str, Any] | None = None
        self.final_id: str | None = None

    # -- the checkpointer's RunLog ---------------------------------------------------------------
    async def append(self, events: Sequence[NewEvent]) -> None:
        await self.writer.commit(events)

    async def put_checkpoint(self, event: NewEvent, checkpoint_ns: str) -> None:
        if checkpoint_ns:
            await self.writer.commit([event])  # a subgraph's: no step_planned follows it
        else:
            self.writer.defer([event])

    async def put_writes(
        self, event: NewEvent, checkpoint_ns: str, task_id: str, writes: Sequence[tuple[str, Any]]
    ) -> None:
        if checkpoint_ns:
            # A subgraph's task served from its cache: recorded once its step is (see
            # _cached_in_subgraph); the others are recorded from their task results (task()).
            cached = None
            if task_id in self.space_tasks:
                cached = self._cached_in_subgraph(task_id, writes)
            elif not self.attempts.executed(task_id):
                self.cached_writes[task_id] = list(writes)
            await self.writer.commit([event] if cached is None else [event, cached], with_deferred=False)
            return
        if self.names.get(task_id) == _START:
            # LangGraph's own input task: its writes go with the next commit (see checkpoint()).
            self.writer.defer([event])
            return
        completed = self._completed(task_id, writes)
        if completed is not None and self.step_tasks <= self.completed:
            # The step's last task to finish (the others are all committed): LangGraph saves the
            # next checkpoint at once, and its commit takes these writes ahead of it. Only this
            # task's work waits for that commit: a crash before it runs it again, as it would a
            # task still running; no other task's is at stake.
            self.writer.defer([event, completed])
        else:
            # Deferred events stay for the commit of the step_planned they lead to (a task of
            # this step may finish last, and LangGraph saves the next checkpoint, while this
            # commit waits for another one).
            await self.writer.commit(
                [event] if completed is None else [event, completed], with_deferred=False
            )

    async def flush(self) -> None:
        await self.writer.flush()

    def _completed(self, task_id: str, writes: Sequence[tuple[str, Any]]) -> NewEvent | None:
        """The ``node_completed`` of a task of a planned step that wrote its result: what
        LangGraph's "tasks" stream mode reports of it (not an interrupt, not an error)."""
        from langgraph.pregel.debug import map_task_result_writes

        node = self.planned_tasks.get(task_id)
        if node is None or node == _START or task_id in self.completed:
            return None  # __start__ is hidden from LangGraph's "tasks" mode (TAG_HIDDEN)
        model_calls, tool_calls = self.calls.take(task_id) if self.calls is not None else ([], [])
        if any(channel == _INTERRUPT for channel, _ in writes):
            self._paused(task_id, model_calls, tool_calls)  # recorded with its interrupt
            return None
        if any(channel == _ERROR for channel, _ in writes):
            return None  # node_failed says it (with its calls: see attempts.py), then run_failed
        self.completed.add(task_id)
        finished = time.time()
        started = self.started.pop(task_id, finished)
        result = map_task_result_writes([(c, v) for c, v in writes if c in self.channels])
        return ev.node_completed(
            step=self.step,
            task=task_id,
            node=node,
            attempt=self.attempts.attempt(task_id),
            update=plain(result),  # only the state's keys: what LangGraph's "updates" shows
            goto=[],
            started_at=started,
            finished_at=finished,
            model_calls=model_calls,
            tool_calls=tool_calls,
            # No attempt of it was seen: LangGraph took its writes from the graph's cache.
            cached=not self.attempts.executed(task_id),
        )

    def _cached_in_subgraph(self, task_id: str, writes: Sequence[tuple[str, Any]]) -> NewEvent | None:
        """The ``node_completed`` of a subgraph's planned task whose writes came from the
        subgraph's cache (no attempt of it was seen): LangGraph streams no task result for it,
        so :meth:`task` does not record it. LangGraph matches the cache before the subgraph's
        checkpoint reaches the stream: writes of a task not planned here yet wait for its step
        (``cached_writes``), so that its ``step_planned`` comes first."""
        from langgraph.pregel.debug import map_task_result_writes

        planned = self.space_tasks.get(task_id)
        if planned is None or task_id in self.completed or self.attempts.executed(task_id):
            return None
        if any(channel in (_ERROR, _INTERRUPT) for channel, _ in writes):
            return None
        node, ns, step = planned
        self.completed.add(task_id)
        now = time.time()
        state_writes = [(c, v) for c, v in writes if not c.startswith(("__", "branch:", "join:"))]
        return ev.node_completed(
            step=step,
            task=task_id,
            node=node,
            attempt=1,
            update=plain(map_task_result_writes(state_writes)),
            goto=[],
            started_at=now,
            finished_at=now,
            ns=ns,
            cached=True,
        )

    def _paused(self, task_id: str, model_calls: list[Any], tool_calls: list[Any]) -> None:
        """Keep the calls of an interrupted attempt of the root task ``task_id`` (a subgraph's
        task's count for the root task the subgraph runs in, whose interrupt LangGraph shows)
        for the interrupt :meth:`end` records."""
        models, tools = self.paused_calls.setdefault(task_id, ([], []))
        models += model_calls
        tools += tool_calls

    # -- LangGraph's stream ----------------------------------------------------------------------

    async def checkpoint(self, chunk: Mapping[str, Any], namespace: Sequence[str] = ()) -> None:
        if namespace:
            await self._subgraph_checkpoint(chunk, namespace)
            return
        step = int(chunk.get("metadata", {}).get("step", -1))
        checkpoint_id = str(chunk["config"]["configurable"]["checkpoint_id"])
        tasks = list(chunk.get("tasks") or [])
        self.final_values = (chunk.get("values") or {}) if not tasks else None
        self.final_id = checkpoint_id if not tasks else None
        for t in tasks:
            self.names[str(t["id"])] = str(t["name"])
        self.step_tasks = {str(t["id"]) for t in tasks}
        if step >= 0:
            self.planned_tasks.update({str(t["id"]): str(t["name"]) for t in tasks})
        if not tasks or (step < 0 and all(t["name"] == _START for t in tasks)):
            # The last checkpoint (the graph finished) waits for the run's end, and the input's,
            # whose only task is LangGraph's own __start__ (it writes the input into the
            # channels: no code of the graph's), for the first step's: no code of the graph
            # runs before that commit. A crash before either leaves the run where its last
            # commit left it (from its input, or before its last step's writes, a task in
            # flight), as at any other step.
            return
        if step < 0 or checkpoint_id in self.planned:
            # Another input checkpoint; one already recorded (a resume): committed now all the
            # same, before LangGraph goes on.
            await self.writer.flush()
            return
        self.planned.add(checkpoint_id)
        self.step = step
        planned: list[PlannedTask] = [
            PlannedTask(id=str(t["id"]), node=str(t["name"]), index=i, triggers=[])
            for i, t in enumerate(tasks)
        ]
        raw = chunk.get("values") or {}
        extended = (
            self.puts.extended(self.recorded_id, checkpoint_id)
            if self.puts is not None and self.recorded_id is not None
            else {}
        )
        changed, appended, self.recorded = _step_changes(self.recorded, raw, extended)
        self.recorded_id = checkpoint_id
        event = ev.step_planned(
            step=step,
            tasks=planned,
            barriers={},
            custom_values=changed,
            checkpoint_id=checkpoint_id,  # counts: absent, true
            appended=appended,
        )
        await self.writer.append([event])

    async def _subgraph_checkpoint(self, chunk: Mapping[str, Any], namespace: Sequence[str]) -> None:
        """A subgraph's checkpoint as the native engine records a subgraph: ``subgraph_started``
        (its first), ``step_planned`` (one with tasks), ``run_completed`` (its last), under its
        namespace."""
        ns = space(namespace)
        metadata = chunk.get("metadata") or {}
        step = int(metadata.get("step", -1))
        checkpoint_id = str(chunk["config"]["configurable"]["checkpoint_id"])
        values = plain(chunk.get("values") or {})
        tasks = list(chunk.get("tasks") or [])
        events: list[NewEvent] = []
        if ns not in self.spaces:
            self.spaces.add(ns)
            events.append(
                ev.subgraph_started(
                    ns=ns,
                    graph_id=namespace[-1].split(":", 1)[0],
                    channels=dict.fromkeys(values, "replace"),
                    input=values,
                    recursion_limit=self.recursion_limit,
                )
            )
        if checkpoint_id not in self.planned and step >= 0:
            self.planned.add(checkpoint_id)
            if tasks:
                self.space_steps[ns] = step
                self.space_tasks.update({str(t["id"]): (str(t["name"]), ns, step) for t in tasks})
                planned = [
                    PlannedTask(id=str(t["id"]), node=str(t["name"]), index=i, triggers=[])
                    for i, t in enumerate(tasks)
                ]
                events.append(
                    ev.step_planned(
                        step=step,
                        tasks=planned,
                        barriers={},
                        custom_values=values,
                        counts=True,
                        ns=ns,
                        checkpoint_id=checkpoint_id,
                    )
                )
                for t in tasks:
                    writes = self.cached_writes.pop(str(t["id"]), None)
                    done = self._cached_in_subgraph(str(t["id"]), writes) if writes is not None else None
                    if done is not None:
                        events.append(done)
            else:
                events.append(ev.run_completed(custom_values=values, ns=ns))
        if events:
            await self.writer.commit(events, with_deferred=False)

    async def task(self, chunk: Mapping[str, Any], namespace: Sequence[str] = ()) -> None:
        """A task starts; a subgraph's task ends (a root task's result is recorded with its
        writes, see :meth:`put_writes`)."""
        task_id = str(chunk["id"])
        if "result" not in chunk:
            self.started[task_id] = time.time()
            return
        if not namespace or task_id in self.completed or chunk.get("error"):
            return  # a root task's; recorded already; a failure (node_failed, with its calls)
        model_calls, tool_calls = self.calls.take(task_id) if self.calls is not None else ([], [])
        if chunk.get("interrupts"):
            # The interrupt shows at the root under the task that runs the subgraph.
            self._paused(namespace[0].rsplit(":", 1)[-1], model_calls, tool_calls)
            return
        self.completed.add(task_id)
        finished = time.time()
        started = self.started.pop(task_id, finished)
        result = chunk.get("result") or {}
        update = plain(dict(result) if isinstance(result, Mapping) else {})
        ns = space(namespace)
        events: list[NewEvent] = []
        if ns not in self.spaces:
            # A subgraph that saves no checkpoints of its own: started by its first task's end.
            self.spaces.add(ns)
            name = namespace[-1].split(":", 1)[0]
            events.append(
                ev.subgraph_started(
                    ns=ns, graph_id=name, channels={}, input={}, recursion_limit=self.recursion_limit
                )
            )
        event = ev.node_completed(
            step=self.space_steps.get(ns, 0),
            task=task_id,
            node=str(chunk.get("name")),
            attempt=self.attempts.attempt(task_id),
            update={k: v for k, v in update.items() if not k.startswith("__")},
            goto=[],
            started_at=started,
            finished_at=finished,
            ns=ns,
            model_calls=model_calls,
            tool_calls=tool_calls,
            cached=not self.attempts.executed(task_id),
        )
        # Not with the root's deferred events: those wait for their own step's commit.
        await self.writer.commit([*events, event], with_deferred=False)

    def finished(self) -> Mapping[str, Any] | None:
        """The final state when LangGraph's last root checkpoint had no task to run: the graph
        finished, with no interrupt and no breakpoint (those stop at a checkpoint with tasks, or
        before the next checkpoint is streamed), so that checkpoint's values are what
        ``aget_state`` would read back (the same channels, read when it was saved). None
        otherwise: :meth:`end` with the thread's state."""
        return self.final_values

    async def end(self, snapshot: Any) -> None:
        values = plain(dict(snapshot.values or {}))
        interrupts: list[Interrupt] = [
            {
                "id": str(i.id),
                "value": plain(i.value),
                "when": "during",
                "node": self.names.get(str(task.id), str(task.name)),
                "task": str(task.id),
                "ns": "",
                "fields": interrupt_fields(i),
            }
            for task in snapshot.tasks
            for i in task.interrupts
        ]
        for intr in interrupts:
            # The calls the interrupted attempt made, with its task's first interrupt.
            models, tools = self.paused_calls.pop(str(intr.get("task")), ([], []))
            if models:
                intr["model_calls"] = models
            if tools:
                intr["tool_calls"] = tools
        if not interrupts and snapshot.next:
            # Stopped at a breakpoint (interrupt_before/after): the nodes it would run next.
            interrupts = [
                {
                    "id": f"{self.step}:{node}:before",
                    "node": node,
                    "when": "before",
                    "value": None,
                    "ns": "",
                    "fields": None,  # LangGraph shows no Interrupt for a breakpoint
                }
                for node in snapshot.next
            ]
        if interrupts:
            step = int((snapshot.metadata or {}).get("step", self.step))
            await self.writer.commit([ev.run_interrupted(step=step, interrupts=interrupts)])
        else:
            await self.writer.commit([self._run_completed(values)])

    async def complete(self, values: Mapping[str, Any]) -> None:
        """The run finished with these root values (see :meth:`finished`): LangGraph's, of its
        last checkpoint; only the new items of a list that extends the recorded one are made
        plain (as in :meth:`checkpoint`)."""
        extended = (
            self.puts.extended(self.recorded_id, self.final_id)
            if self.puts is not None and self.recorded_id is not None and self.final_id is not None
            else {}
        )
        changed, appended, _ = _step_changes(self.recorded, values, extended)
        await self.writer.commit([ev.run_completed(custom_values=changed, appended=appended)])

    def _run_completed(self, values: dict[str, Any]) -> NewEvent:
        """The run's end with its final root ``values``: what changed since the last step this
        executor recorded (the fold has that step's state), or all of them when it recorded none
        (a run taken up after its last step_planned)."""
        changed, appended = _changes(self.recorded, values)
        return ev.run_completed(custom_values=changed, appended=appended)


def _step_changes(
    before: dict[str, Any] | None, raw: Mapping[str, Any], extended: Mapping[str, int]
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """:func:`_changes` of LangGraph's values ``raw`` (not plain yet), and the plain state that
    is now recorded. ``extended``: lists that the checkpointer found to be the recorded ones
    followed by more items (channel -> items recorded; list_values.RootPuts): only their new
    items are made plain, the recorded items are not compared again. A conversation's messages
    would otherwise be converted and compared whole at every step, a cost growing with it."""
    fast: dict[str, list[Any]] = {}
    if before is not None and all(key in raw for key in before):
        for key, n in extended.items():
            old, value = before.get(key), raw.get(key)
            if type(old) is list and len(old) == n and type(value) is list and len(value) >= n:
                fast[key] = plain(value[n:])
    if not fast:
        after = plain(dict(raw))
        return (*_changes(before, after), after)
    assert before is not None
    rest = {k: plain(v) for k, v in raw.items() if k not in fast}
    changed, appended = _changes({k: v for k, v in before.items() if k not in fast}, rest)
    appended = dict(appended or {})
    recorded = dict(rest)
    for key, new in fast.items():
        if new:
            appended[key] = new
        recorded[key] = [*before[key], *new]  # a new list: earlier events may hold the old one
    return changed, appended, recorded


def _changes(
    before: Mapping[str, Any] | None, after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """What a step_planned records of the state ``after``: the keys whose values changed since
    ``before`` and, separately, the lists that only grew (their new items); all of ``after``
    and no appends when there is nothing to start from or a key is gone."""
    if before is None or any(key not in after for key in before):
        return after, None
    changed: dict[str, Any] = {}
    appended: dict[str, Any] = {}
    for key, value in after.items():
        old = before.get(key, _MISSING)
        if old is _MISSING:
            changed[key] = value
        elif (
            type(value) is list
            and type(old) is list
            and len(value) >= len(old)
            and codec.same_json(value[: len(old)], old)
        ):
            if len(value) > len(old):
                appended[key] = value[len(old) :]
        elif not codec.same_json(value, old):
            changed[key] = value
    return changed, appended


_MISSING = object()


def interrupt_fields(interrupt: Any) -> dict[str, Any]:
    """A LangGraph ``Interrupt``'s fields besides ``value`` and ``id`` (``response_schema`` in
    LangGraph 1.x), as LangGraph Platform serializes the dataclass: shown with the interrupt."""
    if not dataclasses.is_dataclass(interrupt) or isinstance(interrupt, type):
        return {}
    return {
        f.name: plain(getattr(interrupt, f.name))
        for f in dataclasses.fields(interrupt)
        if f.name not in ("value", "id")
    }


def space(namespace: Sequence[str]) -> str:
    """LangGraph's namespace of a subgraph (``("inner:<task id>", ...)``) as DuraGraph's
    (``"inner:<task id>:<attempt>|..."``, the native engine's form; LangGraph runs a retried
    subgraph's task under the same id, so the attempt is always 1)."""
    return "".join(f"{part}:1|" for part in namespace)


_PLAIN_LEAVES = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """A LangGraph value as the JSON LangGraph Platform would send (messages and other pydantic
    models dumped, dataclasses as dicts), storable by the event codec."""
    # Exact types first: most of a state is plain already, and isinstance against the ABCs
    # below is several times slower (this runs over the state at every step).
    kind = type(value)
    if kind in _PLAIN_LEAVES:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): plain(v) for k, v in value.items()}
    if kind is list:
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "model_dump"):
        return plain(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, enum.Enum):
        return plain(value.value)
    try:
        codec.to_jsonable(value)
        return value
    except EncodingError:
        return repr(value)
