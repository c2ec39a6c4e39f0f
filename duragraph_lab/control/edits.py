"""State edits (LangGraph's ``update_state``): a thread's state changed by hand, recorded as an
event of its latest run or as a run of its own, so the edit is a checkpoint like any other."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from duragraph_lab.control.graphs import NATIVE
from duragraph_lab.control.history import ACTIVE, RunHistory
from duragraph_lab.control.ports import EventFeed, EventStore, RunSignals
from duragraph_lab.control.read_models import ThreadReadModel
from duragraph_lab.control.run_creation import Checkpoint
from duragraph_lab.control.targets import Target, Targets
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.errors import NotFound, ThreadBusy, VersionConflict, WorkerUnavailable
from duragraph_lab.domain.ids import parse_id
from duragraph_lab.domain.run import RunState, check_transition
from duragraph_lab.engine import commands
from duragraph_lab.engine.commands import InvalidRunRequest
from duragraph_lab.engine.edits import edit_event, resting_event
from duragraph_lab.graph.spec import GraphSpec

#: Makes the edit in the graph's own engine (LangGraph's ``aupdate_state``), returning the events
#: that record it there, not yet written: they are appended with the edit's own, in one commit.
EditApplier = Callable[[], Awaitable[list[NewEvent]]]


class StateEdits:
    def __init__(
        self,
        store: EventStore,
        history: RunHistory,
        targets: Targets,
        threads: ThreadReadModel,
        *,
        signals: RunSignals | None = None,
        feed: EventFeed | None = None,
    ) -> None:
        self.store = store
        self.history = history
        self.targets = targets
        self.threads = threads
        self.signals = signals
        self.feed = feed
        #: ``graph_id -> its spec`` when this process has the code of that native graph (the
        #: API server's in-process worker serves it), else None. Set by whoever has the code.
        self.graph_code: Callable[[str], GraphSpec | None] = lambda _graph: None
        #: The graphs some live worker serves (an edit request needs one). None: unknown.
        self.served: Callable[[], Awaitable[set[str]]] | None = None
        #: How long an edit request waits for a worker to apply it before it is withdrawn.
        self.request_timeout = EDIT_REQUEST_TIMEOUT

    async def update_state(
        self,
        thread_id: str,
        values: Any,
        *,
        as_node: str | None = None,
        checkpoint: Checkpoint | None = None,
        graph: str | None = None,
        applier: EditApplier | None = None,
    ) -> tuple[str, int]:
        """Edit a thread's state; returns ``(run_id, seq)`` of the event that records the edit:
        the thread's new latest checkpoint.

        - On the latest state of a native graph: applied as if ``as_node`` had just completed
          (LangGraph's ``update_state``): its custom reducers applied, and the step its edges and
          routers lead to (on the edited state) becomes what runs next; without ``as_node``, the
          node that wrote last (:data:`~duragraph_lab.engine.edits.AMBIGUOUS` if several did).
          That needs the graph's code: this process's (:attr:`graph_code`), else an edit request
          that a worker serving the graph executes, waited for up to :attr:`request_timeout`
          seconds (:class:`WorkerUnavailable` when no worker serves the graph, or none applied
          the request in time: the request is then withdrawn and nothing changes).
        - On the latest state of a LangGraph graph: LangGraph's ``update_state`` makes it, here
          (``applier``), else in an edit request that a worker serving the graph executes (as
          for a native graph); with no worker serving the graph, a ``state_updated`` event that
          LangGraph's ``update_state`` applies when the thread runs next.
        - At an earlier ``checkpoint``: a new run branching from there, paused before the tasks
          that were pending at that point (run with no input to execute them).
        - On a thread without runs: a run that records the edit as its only work. The graph is
          ``graph`` or the thread's ``graph_id`` / ``assistant_id`` metadata.

        ``applier``: the graph's engine makes the edit itself (a LangGraph graph whose code this
        process has); its events follow the ``state_updated`` event in the same commit.
        """
        thread_id = parse_id(thread_id, "thread")
        for _ in range(8):
            thread = await self.threads.get(thread_id)
            if thread is None:
                raise NotFound(f"thread {thread_id} does not exist")
            latest = await self.history.state(thread.last_run_id) if thread.last_run_id else None
            try:
                if latest is not None and (checkpoint is None or _is_head(latest, checkpoint)):
                    return await self._update_latest(latest, values, as_node, applier)
                if latest is not None and latest.status in ACTIVE:
                    raise ThreadBusy(f"thread {thread_id} has an active run ({latest.run_id}); wait for it")
                metadata = thread.metadata or {}
                name = graph or metadata.get("graph_id") or metadata.get("assistant_id")
                if latest is not None:
                    name = latest.assistant_id or latest.graph_id
                if not name:
                    raise InvalidRunRequest(
                        f"thread {thread_id} has no runs and no graph_id in its metadata: "
                        "say which graph its state belongs to"
                    )
                target = await self.targets.resolve(name)
                if latest is None and checkpoint is None and target.engine == NATIVE:
                    return await self._edit_fresh(thread_id, target, values, as_node)
                if checkpoint is not None and target.engine == NATIVE:
                    return await self._edit_at(thread_id, target, values, as_node, checkpoint)
                if checkpoint is not None and applier is None and await self._served(target.graph_id):
                    # A LangGraph graph whose code is not here: a worker serving it makes it now.
                    return await self._request_at(thread_id, target, values, as_node, checkpoint)
                return await self._edit_run(thread_id, target, values, as_node, checkpoint, applier)
            except VersionConflict:
                continue
        raise ThreadBusy(f"thread {thread_id} kept changing while updating its state; try again")

    async def _update_latest(
        self, latest: RunState, values: Any, as_node: str | None, applier: EditApplier | None
    ) -> tuple[str, int]:
        assert latest.run_id is not None
        if latest.status in ACTIVE:
            raise ThreadBusy(f"thread {latest.thread_id} has an active run ({latest.run_id}); wait for it")
        target = await self.targets.resolve(latest.assistant_id or latest.graph_id or "")
        if target.engine != NATIVE:
            if applier is None and await self._served(target.graph_id):
                # No code here: a worker serving the graph makes it now, LangGraph's way.
                return await self._request_latest(latest, target, values, as_node)
            # LangGraph's own update_state applies it (reducers, as_node, next): here (applier),
            # or, with no worker serving the graph now, when the thread runs next.
            events = commands.update_state(latest, values, as_node=as_node, nodes=target.nodes)
        else:
            spec = self.graph_code(latest.graph_id or "")
            if spec is None:
                return await self._request_latest(latest, target, values, as_node)
            check_transition(latest, ev.STATE_UPDATED)
            events = [await edit_event(spec, latest, values, as_node)]
        edit_count = len(events)
        if applier is not None:
            events = [*events, *await applier()]
        recorded = await self.store.append(f"run:{latest.run_id}", latest.version, events)
        return latest.run_id, recorded[edit_count - 1].seq

    async def _served(self, graph_id: str) -> bool:
        return self.served is not None and self.feed is not None and graph_id in await self.served()

    async def _request_latest(
        self, latest: RunState, target: Target, values: Any, as_node: str | None
    ) -> tuple[str, int]:
        """An edit request for the thread's latest run: the request mirrors how it came to rest."""
        assert latest.status is not None
        rest: dict[str, Any] = {"status": latest.status.value, "step": latest.step}
        if latest.interrupts:
            rest["interrupts"] = latest.interrupts
        if latest.error:
            rest["error"] = latest.error
        if latest.timeout:
            rest["timeout"] = latest.timeout
        base = {"run_id": latest.run_id, "seq": latest.last_seq, "mode": "fork"}
        return await self._request_edit(latest, target, values, as_node, base, rest, head=True)

    async def _request_at(
        self, thread_id: str, target: Target, values: Any, as_node: str | None, checkpoint: Checkpoint
    ) -> tuple[str, int]:
        """A LangGraph graph's edit at an earlier checkpoint as an edit request branching there:
        the request mirrors the checkpoint (paused before its pending tasks, for which LangGraph
        shows no interrupt, or finished), then LangGraph's ``aupdate_state`` at that checkpoint."""
        source = await self.history.state(checkpoint.run_id, at_seq=checkpoint.seq)
        if source.thread_id != thread_id:
            raise NotFound(f"checkpoint of run {checkpoint.run_id} is not in thread {thread_id}")
        rest: dict[str, Any] = {"status": "success", "step": source.step}
        if source.pending_tasks:
            interrupts: list[ev.Interrupt] = [
                {
                    "id": f"{t.id}:before",
                    "task": t.id,
                    "node": t.node,
                    "when": "before",
                    "value": None,
                    "ns": "",
                    "fields": None,
                }
                for t in source.pending_tasks
            ]
            rest = {"status": "interrupted", "step": source.step, "interrupts": interrupts}
        base = {"run_id": checkpoint.run_id, "seq": checkpoint.seq, "mode": "fork"}
        return await self._request_edit(source, target, values, as_node, base, rest, head=False)

    async def _request_edit(
        self,
        latest: RunState,
        target: Target,
        values: Any,
        as_node: str | None,
        base: dict[str, Any] | None,
        rest: dict[str, Any],
        *,
        head: bool,
    ) -> tuple[str, int]:
        """The edit as a run of its own that a worker serving the graph executes (leased,
        fenced and recorded like any run), branching at ``base`` (the thread's latest run when
        ``head``, else an earlier checkpoint, ``latest`` being the run there; None: a thread
        without runs, ``latest`` its empty state); waited for."""
        assert latest.thread_id is not None
        graph_id = target.graph_id
        if self.served is None or self.feed is None or graph_id not in await self.served():
            raise WorkerUnavailable(
                f"update_state on graph {graph_id!r} needs the graph's code (its reducers and the "
                f"routing after as_node), and no worker serves it here or elsewhere: start one "
                f"(`duragraph-lab worker module:graph`) and try again; nothing was changed"
            )
        thread_id = latest.thread_id
        thread_version = await self.store.stream_version(f"thread:{thread_id}")
        now = await self.threads.get(thread_id)
        if (head or base is None) and (now is None or now.last_run_id != latest.run_id):
            raise VersionConflict(f"thread:{thread_id}", thread_version, thread_version)  # decide again
        run_id = commands.new_id()
        created = _edit_run_created(
            run_id,
            thread_id,
            target,
            latest,
            assistant_id=latest.assistant_id,
            base=base,
            edit={"values": values if values is not None else {}, "as_node": as_node, "rest": rest},
        )
        async with self.store.transaction() as tx:
            await tx.append(f"thread:{thread_id}", thread_version, [ev.thread_run_added(run_id)])
            recorded = await tx.append(f"run:{run_id}", 0, [created])
        if self.signals is not None:
            await self.signals.runs_queued()
        return await self._applied(run_id, recorded[-1].seq, graph_id, rest)

    async def _edit_at(
        self, thread_id: str, target: Target, values: Any, as_node: str | None, checkpoint: Checkpoint
    ) -> tuple[str, int]:
        """A native graph's edit at an earlier checkpoint, as on the latest state (reducers, and
        ``as_node`` deciding what runs next), in a run branching there: the run mirrors the
        checkpoint (paused before its pending tasks, or finished), then the edit. A checkpoint in
        the middle of a step (some of its tasks finished) is a paused run's: the edit replaces
        that step, as on the latest state (LangGraph drops the checkpoint's pending writes)."""
        source = await self.history.state(checkpoint.run_id, at_seq=checkpoint.seq)
        if source.thread_id != thread_id:
            raise NotFound(f"checkpoint of run {checkpoint.run_id} is not in thread {thread_id}")
        pending = source.pending_tasks
        rest: dict[str, Any] = {"status": "success", "step": source.step}
        if pending:
            rest = {
                "status": "interrupted",
                "step": source.step,
                "interrupts": [
                    {
                        "id": f"{t.id}:before",
                        "task": t.id,
                        "node": t.node,
                        "when": "before",
                        "value": None,
                        "ns": "",
                    }
                    for t in pending
                ],
            }
        base = {"run_id": checkpoint.run_id, "seq": checkpoint.seq, "mode": "fork"}
        spec = self.graph_code(target.graph_id)
        if spec is None:
            return await self._request_edit(source, target, values, as_node, base, rest, head=False)
        # Paused as the branching run mirrors it: an edit mid-step then replaces the step (the
        # same rule as an edit request's worker applies, see edit_request_events).
        edit = await edit_event(spec, source, values, as_node, paused=rest["status"] == "interrupted")
        thread_version = await self.store.stream_version(f"thread:{thread_id}")
        run_id = commands.new_id()
        created = _edit_run_created(
            run_id, thread_id, target, source, assistant_id=target.assistant_id, base=base
        )
        started = ev.run_started(worker_id="api", epoch=None, attempt=1)
        async with self.store.transaction() as tx:
            await tx.append(f"thread:{thread_id}", thread_version, [ev.thread_run_added(run_id)])
            recorded = await tx.append(f"run:{run_id}", 0, [created, started, resting_event(rest), edit])
        return run_id, recorded[-1].seq

    async def _edit_fresh(
        self, thread_id: str, target: Target, values: Any, as_node: str | None
    ) -> tuple[str, int]:
        """A native graph's edit of a thread without runs, as LangGraph edits a fresh thread:
        applied as if ``as_node`` had just completed (without it: START, as LangGraph's
        ``__start__``), the step it leads to planned as what runs next (a run with no input
        executes it). A run of its own, finished, whose last event is the edit."""
        empty = RunState()
        empty.thread_id = thread_id
        empty.graph_id = target.graph_id
        empty.assistant_id = target.assistant_id
        empty.channels = dict(target.channels)
        empty.config = target.merged_config(None, None)
        empty.interrupt_before = list(target.interrupt_before)
        empty.interrupt_after = list(target.interrupt_after)
        rest: dict[str, Any] = {"status": "success", "step": empty.step}
        spec = self.graph_code(target.graph_id)
        if spec is None:
            return await self._request_edit(empty, target, values, as_node, None, rest, head=False)
        edit = await edit_event(spec, empty, values, as_node)
        thread_version = await self.store.stream_version(f"thread:{thread_id}")
        now = await self.threads.get(thread_id)
        if now is None or now.last_run_id is not None:
            raise VersionConflict(f"thread:{thread_id}", thread_version, thread_version)  # decide again
        run_id = commands.new_id()
        created = _edit_run_created(run_id, thread_id, target, None, assistant_id=target.assistant_id)
        started = ev.run_started(worker_id="api", epoch=None, attempt=1)
        async with self.store.transaction() as tx:
            # At the thread's version read before its runs were: a run added since then makes
            # this a VersionConflict, and the edit is decided again on that run.
            await tx.append(f"thread:{thread_id}", thread_version, [ev.thread_run_added(run_id)])
            recorded = await tx.append(f"run:{run_id}", 0, [created, started, resting_event(rest), edit])
        return run_id, recorded[-1].seq

    async def _applied(
        self, run_id: str, after_seq: int, graph_id: str, rest: dict[str, Any]
    ) -> tuple[str, int]:
        """Wait for the edit request's outcome; withdraw it if no worker applies it in time."""
        assert self.feed is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.request_timeout):
                async with self.feed.follow(
                    f"run:{run_id}", after_seq=after_seq, poll_interval=0.2
                ) as events:
                    async for event in events:
                        outcome = _outcome(run_id, event)
                        if outcome is not None:
                            return outcome
        for _ in range(8):
            state = await self.history.state(run_id)
            done = [e for e in await self.history.run_events(run_id) if e.type in _OUTCOMES]
            if done:
                outcome = _outcome(run_id, done[-1])
                assert outcome is not None
                return outcome
            # Withdrawn as a refused edit is recorded (the request run mirrors the edited run's
            # rest, without the edit), so that the thread is as it was, paused run included. At
            # the request's version: a worker that applies it meanwhile wins, and this loses.
            withdraw = [
                ev.run_started(worker_id="api", epoch=None, attempt=state.attempt + 1),
                resting_event(rest),
                ev.edit_refused(error={"type": "EditWithdrawn", "message": "no worker applied it in time"}),
            ]
            try:
                await self.store.append(f"run:{run_id}", state.version, withdraw)
                break
            except VersionConflict:
                continue
        raise WorkerUnavailable(
            f"no worker serving graph {graph_id!r} applied the state edit within "
            f"{self.request_timeout:g}s: it was withdrawn and nothing was changed; try again"
        )

    async def _edit_run(
        self,
        thread_id: str,
        target: Target,
        values: Any,
        as_node: str | None,
        checkpoint: Checkpoint | None,
        applier: EditApplier | None,
    ) -> tuple[str, int]:
        """A run whose only work is a state edit: branched from ``checkpoint`` (paused before
        the tasks pending there) or, on a thread without runs (a LangGraph graph's, whose
        ``applier`` makes the edit), from nothing (finished)."""
        thread_version = await self.store.stream_version(f"thread:{thread_id}")
        run_id = commands.new_id()
        base = None
        source = None
        if checkpoint is not None:
            source = await self.history.state(checkpoint.run_id, at_seq=checkpoint.seq)
            if source.thread_id != thread_id:
                raise NotFound(f"checkpoint of run {checkpoint.run_id} is not in thread {thread_id}")
            base = {"run_id": checkpoint.run_id, "seq": checkpoint.seq, "mode": "fork"}
        if as_node is not None and as_node not in target.nodes:
            raise InvalidRunRequest(
                f"as_node {as_node!r} is not a node of the graph; nodes: {', '.join(target.nodes)}"
            )
        created = _edit_run_created(
            run_id,
            thread_id,
            target,
            source,
            assistant_id=target.assistant_id,
            base=base,
            update=values if values is not None else {},
            as_node=as_node,
        )
        started = ev.run_started(worker_id="api", epoch=None, attempt=1)
        pending = list(source.pending_tasks) if source is not None else []
        if pending:
            # Paused before what was pending at the checkpoint: a run with no input (or a
            # resume) executes it from the edited state.
            assert source is not None
            interrupts: list[ev.Interrupt] = [
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
            ending = ev.run_interrupted(step=source.step, interrupts=interrupts)
        else:
            ending = ev.run_completed()
        applied = await applier() if applier is not None else []
        async with self.store.transaction() as tx:
            await tx.append(f"thread:{thread_id}", thread_version, [ev.thread_run_added(run_id)])
            recorded = await tx.append(f"run:{run_id}", 0, [created, started, *applied, ending])
        # The checkpoint that shows the edit: the run's start when it pauses, its end otherwise.
        return run_id, recorded[0].seq if pending else recorded[-1].seq


def _edit_run_created(
    run_id: str,
    thread_id: str,
    target: Target,
    source: RunState | None,
    *,
    assistant_id: str | None,
    **fields: Any,
) -> NewEvent:
    """The ``run_created`` of a run whose work is a state edit (``kind: update_state``): of the
    target's graph, with the config and breakpoints of the state it edits (``source``; None: a
    thread without runs, the target's own)."""
    return commands.run_created(
        run_id=run_id,
        thread_id=thread_id,
        graph_id=target.graph_id,
        assistant_id=assistant_id,
        channels=target.channels,
        nodes=target.nodes,
        config=source.config if source is not None else target.merged_config(None, None),
        metadata={"kind": "update_state"},
        interrupt_before=source.interrupt_before if source is not None else target.interrupt_before,
        interrupt_after=source.interrupt_after if source is not None else target.interrupt_after,
        kwargs={"kind": "update_state"},
        **fields,
    )


def _is_head(latest: RunState, checkpoint: Checkpoint) -> bool:
    return checkpoint.run_id == latest.run_id and checkpoint.seq >= latest.last_seq


_OUTCOMES = (ev.STATE_UPDATED, ev.EDIT_REFUSED)


def _outcome(run_id: str, event: RecordedEvent) -> tuple[str, int] | None:
    """``(run_id, seq)`` of an applied edit; raises if the graph's code refused it."""
    if event.type == ev.STATE_UPDATED:
        return run_id, event.seq
    if event.type == ev.EDIT_REFUSED:
        error = event.data.get("error") or {}
        raise InvalidRunRequest(str(error.get("message") or "the graph refused the state edit"))
    return None


EDIT_REQUEST_TIMEOUT = 30.0
