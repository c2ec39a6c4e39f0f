"""Threads: create, edit metadata, delete (cancelling what still runs), copy, read and search.

A thread is a chain of runs (see :mod:`duragraph_lab.control.run_creation`); its values are
those of its latest run, or of where that run started when it was rolled back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from duragraph_lab.control.checkpoints import Checkpoints
from duragraph_lab.control.history import RunHistory
from duragraph_lab.control.ports import EventStore, RunSignals
from duragraph_lab.control.read_models import (
    LIVE_STATUSES,
    RunReadModel,
    ThreadFilter,
    ThreadOrder,
    ThreadReadModel,
    ThreadRecord,
)
from duragraph_lab.control.run_creation import Append
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.errors import Conflict, DuraGraphError, NotFound, ThreadBusy, VersionConflict
from duragraph_lab.domain.ids import parse_id
from duragraph_lab.domain.run import InvalidTransition, RunState, RunStatus
from duragraph_lab.engine import commands

#: Whether a thread's current values match a search (values are not stored per thread).
ValuesMatch = Callable[[RunState], bool]


class RunCanceller(Protocol):
    async def cancel(self, run_id: str, reason: str = ..., action: str = ...) -> RunState: ...


class ThreadControl:
    def __init__(
        self,
        store: EventStore,
        history: RunHistory,
        threads: ThreadReadModel,
        runs: RunReadModel,
        checkpoints: Checkpoints,
        signals: RunSignals,
        canceller: RunCanceller,
    ) -> None:
        self.store = store
        self.history = history
        self.threads = threads
        self.runs = runs
        self.checkpoints = checkpoints
        self.signals = signals
        self.canceller = canceller
        #: What else goes with a deleted thread, appended in the same transaction as its
        #: ``thread_deleted``: ``(stream, expected version, events)`` (its crons: Crons.thread_deleted).
        self.cascade: Callable[[str], Awaitable[list[Append]]] | None = None

    # -- reading -------------------------------------------------------------------------------
    async def get(self, thread_id: str) -> ThreadRecord:
        found = await self.threads.get(parse_id(thread_id, "thread"))
        if found is None:
            raise NotFound(f"thread {thread_id} does not exist")
        return found

    async def current_state(self, thread: ThreadRecord) -> RunState | None:
        """The thread's latest run as it is now (None: no runs); for a run that was rolled back,
        the state the thread is back at."""
        latest = await self.history.state(thread.last_run_id) if thread.last_run_id else None
        if latest is not None and await self.history.rolled_back(latest):
            point = await self.checkpoints.latest(thread.thread_id)
            latest = point.state if point is not None else None
        return latest

    async def search(
        self,
        where: ThreadFilter,
        *,
        order: ThreadOrder = "created_at",
        ascending: bool = False,
        limit: int = 10,
        offset: int = 0,
        values: ValuesMatch | None = None,
    ) -> tuple[list[ThreadRecord], int]:
        """A page of the threads that match, and how many match in all."""
        where = _valid_ids(where)
        if values is None:
            return await self.threads.search(
                where, order=order, ascending=ascending, limit=limit, offset=offset
            )
        matched = await self._matching_values(where, order, ascending, values)
        return matched[offset : offset + limit], len(matched)

    async def count(self, where: ThreadFilter, *, values: ValuesMatch | None = None) -> int:
        where = _valid_ids(where)
        if values is None:
            return await self.threads.count(where)
        return len(await self._matching_values(where, "thread_id", True, values))

    async def _matching_values(
        self, where: ThreadFilter, order: ThreadOrder, ascending: bool, values: ValuesMatch
    ) -> list[ThreadRecord]:
        # Values are not stored per thread: match them on the folded state (a scan).
        candidates, _ = await self.threads.search(
            where, order=order, ascending=ascending, limit=None, offset=0
        )
        return [
            t
            for t in candidates
            if t.last_run_id is not None and values(await self.history.state(t.last_run_id))
        ]

    # -- commands ------------------------------------------------------------------------------
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
        thread_id = parse_id(thread_id, "thread") if thread_id else commands.new_id()
        try:
            await self.store.append(
                f"thread:{thread_id}", 0, [ev.thread_created(thread_id, metadata, temporary=temporary)]
            )
        except VersionConflict:
            if if_exists == "do_nothing" and await self.threads.get(thread_id) is not None:
                return thread_id
            raise Conflict(f"thread {thread_id} already exists") from None
        return thread_id

    async def update_thread(self, thread_id: str, metadata: Mapping[str, Any]) -> None:
        """Merge ``metadata`` into the thread's metadata."""
        thread_id = parse_id(thread_id, "thread")
        if await self.threads.get(thread_id) is None:
            raise NotFound(f"thread {thread_id} does not exist")
        await self.store.append(f"thread:{thread_id}", None, [ev.thread_updated(metadata)])

    async def delete_thread(self, thread_id: str) -> None:
        """Delete a thread and its runs from the read models (their events stay). Runs that are
        still active or waiting for a human are cancelled first."""
        thread_id = parse_id(thread_id, "thread")
        if await self.threads.get(thread_id) is None:
            raise NotFound(f"thread {thread_id} does not exist")
        for run_id in await self.runs.thread_run_ids(thread_id, statuses=LIVE_STATUSES):
            with contextlib.suppress(InvalidTransition, NotFound):
                await self.canceller.cancel(run_id, reason="thread deleted")
        try:
            for _ in range(8):
                also = await self.cascade(thread_id) if self.cascade is not None else []
                try:
                    async with self.store.transaction() as tx:
                        await tx.append(f"thread:{thread_id}", None, [ev.thread_deleted(thread_id)])
                        for stream_id, version, events in also:
                            await tx.append(stream_id, version, events)
                except VersionConflict:
                    continue  # one of them changed meanwhile (a cron fired): decide again
                return
            raise ThreadBusy(f"thread {thread_id} kept changing while deleting it; try again")
        finally:
            await self.signals.runs_queued()

    async def prune(self, thread_ids: Sequence[str]) -> int:
        """Delete the threads that exist; how many were."""
        pruned = 0
        for thread_id in thread_ids:
            try:
                await self.delete_thread(thread_id)
                pruned += 1
            except NotFound:
                continue
        return pruned

    async def delete_expired_temporary(self, grace_seconds: float) -> int:
        """Delete (a batch of) the temporary threads of stateless runs that ended more than
        ``grace_seconds`` ago; how many were deleted."""
        deleted = 0
        for thread_id in await self.threads.expired_temporary(grace_seconds, limit=100):
            with contextlib.suppress(DuraGraphError):
                await self.delete_thread(thread_id)
                deleted += 1
        return deleted

    async def copy_thread(self, thread_id: str, metadata: Mapping[str, Any] | None = None) -> str:
        """A new thread with the same history: every run of the thread is copied event by event
        (under new ids), so states, checkpoints and pending interrupts are the same, and the copy
        moves on independently. Refused while the thread has an active run."""
        source = await self.get(thread_id)
        history = await self.store.read_stream(f"thread:{source.thread_id}")
        version = history[-1].version if history else 0
        runs = [str(e.data["run_id"]) for e in history if e.type == ev.THREAD_RUN_ADDED]
        states = {run_id: await self.history.state(run_id) for run_id in runs}
        busy = [r for r, s in states.items() if s.status in (RunStatus.PENDING, RunStatus.RUNNING)]
        if busy:
            raise ThreadBusy(
                f"thread {source.thread_id} has an active run ({busy[-1]}); copy it once it has stopped"
            )
        new_thread = commands.new_id()
        run_ids = {old: commands.new_id() for old in runs}
        seqs: dict[tuple[str, int], int] = {}  # (old run, old seq) -> new seq
        meta = {**dict(source.metadata or {}), **dict(metadata or {}), "copied_from": source.thread_id}
        async with self.store.transaction() as tx:
            # Hold the source thread still while we copy: no run can be added to it meanwhile.
            if await tx.hold(f"thread:{source.thread_id}") != version:
                raise ThreadBusy(f"thread {source.thread_id} changed while copying it; try again")
            added = [ev.thread_run_added(run_ids[old]) for old in runs]
            await tx.append(f"thread:{new_thread}", 0, [ev.thread_created(new_thread, meta), *added])
            for old in runs:
                events = await self.store.read_stream(f"run:{old}")
                copies = [_copied(e, old, new_thread, run_ids, seqs) for e in events]
                recorded = await tx.append(f"run:{run_ids[old]}", 0, copies)
                for original, new in zip(events, recorded, strict=True):
                    seqs[(old, original.seq)] = new.seq
        return new_thread


def _valid_ids(where: ThreadFilter) -> ThreadFilter:
    """Ids that are not thread ids match no thread."""
    if where.ids is None:
        return where
    valid: list[str] = []
    for value in where.ids:
        try:
            valid.append(str(uuid.UUID(str(value))))
        except ValueError:
            continue
    return dataclasses.replace(where, ids=valid)


def _copied(
    event: RecordedEvent,
    old_run: str,
    new_thread: str,
    run_ids: Mapping[str, str],
    seqs: Mapping[tuple[str, int], int],
) -> NewEvent:
    """An event of a copied run, pointing at the copies (of the run, its thread, its base)."""
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
    return ev.copied(event, data)
