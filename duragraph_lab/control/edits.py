"""State edits (LangGraph's ``update_state``): a thread's state changed by hand, recorded as an
event of its latest run or as a run of its own, so the edit is a checkpoint like any other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from duragraph_lab.control.history import ACTIVE, RunHistory
from duragraph_lab.control.ports import EventStore
from duragraph_lab.control.read_models import ThreadReadModel
from duragraph_lab.control.run_creation import Checkpoint
from duragraph_lab.control.targets import Target, Targets
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import NotFound, ThreadBusy, VersionConflict
from duragraph_lab.domain.ids import parse_id
from duragraph_lab.domain.reducers import CUSTOM
from duragraph_lab.domain.run import RunState, RunStatus, is_edit
from duragraph_lab.engine import commands
from duragraph_lab.engine.commands import InvalidRunRequest

#: Makes the edit in the graph's own engine (LangGraph's ``aupdate_state``), returning the events
#: that record it there, not yet written: they are appended with the edit's own, in one commit.
EditApplier = Callable[[], Awaitable[list[NewEvent]]]


class StateEdits:
    def __init__(
        self, store: EventStore, history: RunHistory, targets: Targets, threads: ThreadReadModel
    ) -> None:
        self.store = store
        self.history = history
        self.targets = targets
        self.threads = threads
        #: ``graph_id -> its custom reducers`` when this process has the graph's code (the API
        #: server's in-process worker serves it), else None. Set by whoever has the code.
        self.reducers: Callable[[str], Mapping[str, Callable[[Any, Any], Any]] | None] = lambda _graph: None

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

        - On the latest state: a ``state_updated`` event on the thread's latest run, which must be
          paused or finished (:class:`ThreadBusy` while it executes). A paused run then resumes
          with the edited state.
        - At an earlier ``checkpoint``: a new run branching from there, paused before the tasks
          that were pending at that point (run with no input to execute them).
        - On a thread without runs: a run that records the edit as its only work. The graph is
          ``graph`` or the thread's ``graph_id`` / ``assistant_id`` metadata.

        ``as_node`` names the writer (reducers apply as for that node's update); it does not
        change which nodes run next: routing is decided by graph code, which only workers have.
        Keys with a custom reducer are reduced here when this process has the graph's code
        (:attr:`reducers`); the event then records the reducer's result.

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
        events = commands.update_state(latest, values, as_node=as_node, nodes=target.nodes)
        if applier is None:
            events = self._reduce_custom(latest, events)
        edit_count = len(events)
        if applier is not None:
            events = [*events, *await applier()]
        recorded = await self.store.append(f"run:{latest.run_id}", latest.version, events)
        return latest.run_id, recorded[edit_count - 1].seq

    def _reduce_custom(self, latest: RunState, events: list[NewEvent]) -> list[NewEvent]:
        """The edit with its custom-reducer keys reduced (LangGraph's semantics), when the
        graph's code is at hand. Not when the edit waits for a step paused midway: the executor
        applies it then, with the reducers (see ``domain.run._state_updated``)."""
        mid_step = latest.status is RunStatus.INTERRUPTED and any(not is_edit(t) for t in latest.results)
        reducers = None if mid_step else self.reducers(latest.graph_id or "")
        data = dict(events[0].data)
        update = dict(data.get("values") or {})
        custom = [k for k in update if latest.channels.get(k) == CUSTOM]
        if not reducers or not custom:
            return events
        for key in custom:
            reducer = reducers.get(key)
            if reducer is None:
                continue
            try:
                update[key] = reducer(latest.values.get(key), update[key])
            except Exception as err:
                raise InvalidRunRequest(
                    f"the reducer of {key!r} refused the update: {type(err).__name__}: {err}"
                ) from err
        edited = ev.state_updated(
            values=update, as_node=data.get("as_node"), reduced=[k for k in custom if k in reducers]
        )
        return [edited, *events[1:]]

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
        the tasks pending there) or, on a thread without runs, from nothing (finished)."""
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
        created = commands.run_created(
            run_id=run_id,
            thread_id=thread_id,
            graph_id=target.graph_id,
            assistant_id=target.assistant_id,
            channels=target.channels,
            nodes=target.nodes,
            config=source.config if source is not None else target.merged_config(None, None),
            metadata={"kind": "update_state"},
            interrupt_before=source.interrupt_before if source is not None else target.interrupt_before,
            interrupt_after=source.interrupt_after if source is not None else target.interrupt_after,
            base=base,
            update=values if values is not None else {},
            as_node=as_node,
            kwargs={"kind": "update_state"},
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


def _is_head(latest: RunState, checkpoint: Checkpoint) -> bool:
    return checkpoint.run_id == latest.run_id and checkpoint.seq >= latest.last_seq
