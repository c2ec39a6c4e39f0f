"""Forks: a new run on the same thread that continues from the state right after any event of a
run, as if history had branched there (optionally editing the state first)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from duragraph_lab.control.history import RunHistory
from duragraph_lab.control.ports import EventStore, RunSignals
from duragraph_lab.control.read_models import ThreadReadModel
from duragraph_lab.control.run_creation import RunRef
from duragraph_lab.control.targets import Targets
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.errors import NotFound, ThreadBusy, VersionConflict
from duragraph_lab.domain.run import RunStatus
from duragraph_lab.engine import commands

_UNSETTLED = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.INTERRUPTED)


def origin(run_id: str | None, seq: int, position: int, update: Mapping[str, Any] | None) -> dict[str, Any]:
    """Where a fork branched (its run's ``metadata["forked_from"]``): the run, the event's global
    seq and its position in that run's event log (0 the first, as ``RunHandle.fork(at=)``), and
    the state keys the fork edited before it ran (empty: none)."""
    return {"run_id": run_id, "seq": seq, "position": position, "edited": sorted(update or {})}


class Forks:
    def __init__(
        self,
        store: EventStore,
        history: RunHistory,
        targets: Targets,
        threads: ThreadReadModel,
        signals: RunSignals,
    ) -> None:
        self.store = store
        self.history = history
        self.targets = targets
        self.threads = threads
        self.signals = signals

    async def fork(
        self,
        run_id: str,
        at_seq: int,
        *,
        update: Mapping[str, Any] | None = None,
        as_node: str | None = None,
    ) -> RunRef:
        """Fork run ``run_id`` right after its event ``at_seq``. Refused (:class:`ThreadBusy`)
        while the thread's latest run is active or waiting for a human."""
        source = await self.history.state(run_id)
        events = await self.history.run_events(run_id)
        position = next((i for i, e in enumerate(events) if e.seq == at_seq), None)
        if position is None:
            raise NotFound(f"run {run_id} has no event with seq {at_seq}")
        assert source.thread_id is not None and source.graph_id is not None
        target = await self.targets.resolve(source.assistant_id or source.graph_id)
        # The version first, the checks second: a run created in between makes our append conflict.
        thread_version = await self.store.stream_version(f"thread:{source.thread_id}")
        thread = await self.threads.get(source.thread_id)
        if thread is not None and thread.last_run_id:
            last = thread.last_run_id
            latest = source if last == source.run_id else await self.history.state(last)
            if latest.status in _UNSETTLED:
                status = latest.status.value if latest.status else "unknown"
                raise ThreadBusy(
                    f"thread {source.thread_id} has an {status} run ({last}): "
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
            metadata={**source.metadata, "forked_from": origin(source.run_id, at_seq, position, update)},
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
                    [ev.thread_run_added(new_id)],
                )
                await tx.append(f"run:{new_id}", 0, [created])
        except VersionConflict:
            raise ThreadBusy(f"thread {source.thread_id} changed while forking; try again") from None
        await self.signals.runs_queued()
        return RunRef(new_id, source.thread_id, target.assistant_id, target.graph_id)
