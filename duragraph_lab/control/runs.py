"""Run commands: create (with the multitask strategies), resume, cancel, delete, wait, re-execute.

Every decision is checked against the folded log before anything is appended, and every append
carries an expected version, so concurrent requests cannot both win: two resumes of one interrupt
→ one succeeds, the other gets :class:`Conflict`; two runs started on one thread at once are
serialised by the thread's stream version (the loser decides again on the fresh state).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from duragraph_lab.control.history import ACTIVE, RunHistory
from duragraph_lab.control.ports import EventFeed, EventStore, Reexecutor, RunSignals, Unsubscribe
from duragraph_lab.control.read_models import ACTIVE_STATUSES, LIVE_STATUSES, ThreadReadModel
from duragraph_lab.control.run_creation import (
    Append,
    Checkpoint,
    Resume,
    RunCommand,
    RunRef,
    RunRequest,
    ThreadHead,
    created_event,
    decide_start,
    new_run_appends,
    resume_events,
    resume_of,
)
from duragraph_lab.control.run_queries import RunQueries
from duragraph_lab.control.targets import Target, Targets
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.errors import Conflict, DuraGraphError, NotFound, ThreadBusy, VersionConflict
from duragraph_lab.domain.ids import parse_id
from duragraph_lab.domain.run import InvalidTransition, RunState
from duragraph_lab.engine import commands


class RunControl:
    def __init__(
        self,
        store: EventStore,
        history: RunHistory,
        targets: Targets,
        queries: RunQueries,
        threads: ThreadReadModel,
        signals: RunSignals,
        reexecutor: Reexecutor,
        feed: EventFeed,
    ) -> None:
        self.store = store
        self.history = history
        self.targets = targets
        self.queries = queries
        self.threads = threads
        self.signals = signals
        self.reexecutor = reexecutor
        self.feed = feed

    # -- creating ------------------------------------------------------------------------------
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
        also: Callable[[str, str], Sequence[Append]] | None = None,
        run_id: str | None = None,
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
        - ``also(run_id, thread_id)``: appends of the caller's own streams, committed in the
          run's transaction (before the thread's and the run's, in that lock order) or not at
          all; their :class:`VersionConflict` is raised as is, not retried (a cron's tick).
        """
        request = RunRequest(
            assistant,
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
            run_id=run_id,
        )
        target = await self.targets.resolve(request.assistant)
        for _ in range(8):
            try:
                ref = await self._create_once(target, request, also)
            except VersionConflict as err:
                if not err.stream_id.startswith(("thread:", "run:")):
                    raise  # a stream of ``also``: the caller's to decide
                # Someone else changed the thread (or its latest run) meanwhile: decide again.
                continue
            await self.signals.runs_queued()
            return ref
        raise ThreadBusy(f"thread {thread_id} kept changing while starting a run on it; try again")

    async def _create_once(
        self,
        target: Target,
        request: RunRequest,
        also: Callable[[str, str], Sequence[Append]] | None = None,
    ) -> RunRef:
        head = await self._thread_head(request)
        resume = resume_of(request, head)
        if resume is not None:
            return await self._resume_latest(target, head, resume, request.checkpoint, also)
        run_id = request.run_id or commands.new_id()
        source = await self.history.state(request.checkpoint.run_id) if request.checkpoint else None
        start = decide_start(request, head, run_id, source)
        created = created_event(run_id, head, target, request, start)
        async with self.store.transaction() as tx:
            for stream, expected, events in [
                *(also(run_id, head.thread_id) if also is not None else ()),
                *new_run_appends(head, start, run_id, created, temporary=request.temporary),
            ]:
                await tx.append(stream, expected, events)
        return RunRef(run_id, head.thread_id, target.assistant_id, target.graph_id)

    async def _thread_head(self, request: RunRequest) -> ThreadHead:
        """The request's thread as it is now (its version read first: a run added after it makes
        the append conflict, and the request is decided again)."""
        if request.thread_id is None:
            return ThreadHead(commands.new_id(), 0, exists=False)
        thread_id = parse_id(request.thread_id, "thread")
        version = await self.store.stream_version(f"thread:{thread_id}")
        thread = await self.threads.get(thread_id)
        if thread is None:
            if version > 0:
                raise NotFound(f"thread {thread_id} was deleted")
            if not request.create_thread:
                raise NotFound(f"thread {thread_id} does not exist")
            return ThreadHead(thread_id, version, exists=False)
        if thread.last_run_id is None:
            return ThreadHead(thread_id, version, exists=True)
        latest = await self.history.state(thread.last_run_id)
        return ThreadHead(thread_id, version, True, latest, await self.history.rolled_back(latest))

    async def _resume_latest(
        self,
        target: Target,
        head: ThreadHead,
        resume: Resume,
        checkpoint: Checkpoint | None,
        also: Callable[[str, str], Sequence[Append]] | None = None,
    ) -> RunRef:
        events = resume_events(head.latest, resume, target, checkpoint)
        latest = head.latest
        assert latest is not None and latest.run_id is not None
        if also is None:
            await self.store.append(f"run:{latest.run_id}", latest.version, events)
        else:
            async with self.store.transaction() as tx:
                for stream, expected, extra in also(latest.run_id, head.thread_id):
                    await tx.append(stream, expected, extra)
                await tx.append(f"run:{latest.run_id}", latest.version, events)
        return RunRef(
            latest.run_id,
            head.thread_id,
            latest.assistant_id,
            latest.graph_id or target.graph_id,
            resumed=True,
            after_seq=latest.last_seq,
        )

    async def precheck(self, assistant: str, input: Any) -> None:
        """Raise what :meth:`create_run` would for a bad assistant or input, writing nothing (a
        batch checks all its runs before it starts any)."""
        target = await self.targets.resolve(assistant)
        commands.normalize_input(input, target.channels)

    # -- steering ------------------------------------------------------------------------------
    async def resume(
        self, run_id: str, value: Any = None, *, by_id: Mapping[str, Any] | None = None
    ) -> RunState:
        """Answer the run's pending interrupt(s). Raises ``InvalidTransition`` if it is not
        interrupted, :class:`Conflict` if another resume won the race."""
        state = await self.history.state(run_id)
        if state.deleted:
            raise NotFound(f"run {run_id} was deleted: it cannot be resumed")
        events = commands.resume(state, value, by_id=by_id)
        thread = await self.threads.get(state.thread_id) if state.thread_id else None
        if thread is not None and thread.last_run_id is not None and thread.last_run_id != state.run_id:
            raise Conflict(
                f"run {run_id} is no longer its thread's latest run (the thread moved on to {thread.last_run_id})"
            )
        try:
            await self.store.append(f"run:{state.run_id}", state.version, events)
        except VersionConflict:
            raise Conflict(f"run {run_id} changed while resuming it (resumed by someone else?)") from None
        await self.signals.runs_queued()
        return await self.history.state(run_id)

    async def cancel(
        self, run_id: str, reason: str = "cancelled by request", action: str = "interrupt"
    ) -> RunState:
        """Cancel a run: at once if no worker executes it, else at the worker's next step.
        ``action="rollback"`` also deletes it from the read models once it has stopped."""
        for _ in range(10):
            state = await self.history.state(run_id)
            if state.status is not None and state.status.terminal:
                raise InvalidTransition(state.run_id, state.status, ev.RUN_CANCEL_REQUESTED)
            if state.cancel_requested:
                return state
            try:
                events = commands.cancel(state, reason, action)
                await self.store.append(f"run:{state.run_id}", state.version, events)
                return await self.history.state(run_id)
            except VersionConflict:
                continue  # the worker wrote meanwhile: decide again on the fresh state
        raise Conflict(f"run {run_id} kept changing while cancelling it")

    async def cancel_many(
        self,
        *,
        statuses: Sequence[str] | None = None,
        run_ids: Sequence[str] = (),
        thread_id: str | None = None,
        action: str = "interrupt",
    ) -> int:
        """Cancel every run in one of ``statuses``, or else each of ``run_ids`` (in thread
        ``thread_id`` when given) that is still live; how many were cancelled. NotFound when
        none matches."""
        if statuses is not None:
            matched = await self.queries.with_status(statuses)
        else:
            matched = []
            for run_id in run_ids:
                run = await self.queries.get(run_id, thread_id)
                if run.status in LIVE_STATUSES:
                    matched.append(run.run_id)
        if not matched:
            raise NotFound("no matching pending or running runs to cancel")
        cancelled = 0
        for run_id in matched:
            with contextlib.suppress(DuraGraphError):
                await self.cancel(run_id, action=action)
                cancelled += 1
        return cancelled

    async def delete_run(self, run_id: str) -> None:
        """Remove a run that is not executing (its events stay in the log)."""
        state = await self.history.state(run_id)
        if state.deleted:
            raise NotFound(f"run {run_id} does not exist")
        try:
            await self.store.append(f"run:{state.run_id}", state.version, commands.delete(state))
        except VersionConflict:
            raise Conflict(f"run {run_id} changed while deleting it") from None

    async def reexecute(self, run_id: str, *, timeout: float = 60.0) -> dict[str, Any]:
        """Ask an executor that serves the run's graph to re-execute it with its current code,
        and report the first divergence from the recorded run."""
        run = await self.queries.get(run_id)
        return await self.reexecutor.reexecute(str(run.graph_id), run.run_id, timeout=timeout)

    # -- waiting -------------------------------------------------------------------------------
    async def wait(self, run_id: str, timeout: float = 60.0, *, poll: float = 0.05) -> RunState:
        """Wait until the run ends or pauses for a human, looking every ``poll`` seconds; raise
        TimeoutError after ``timeout``."""
        return await self._until_at_rest(parse_id(run_id, "run"), timeout, first=poll, longest=poll)

    async def wait_at_rest(self, run_id: str, timeout: float | None = None) -> RunState:
        """Wait until the run is finished or paused: woken by its events, and looking again at
        growing intervals too (up to a second)."""
        return await self._until_at_rest(
            parse_id(run_id, "run"), timeout, first=0.05, longest=1.0, woken_by_events=True
        )

    async def _until_at_rest(
        self,
        run_id: str,
        timeout: float | None,
        *,
        first: float,
        longest: float,
        woken_by_events: bool = False,
    ) -> RunState:
        woken = asyncio.Event()
        unsubscribe: list[Unsubscribe] = []
        if woken_by_events:
            # The worker's word that the run is at rest comes first; the relay's copy of any
            # event of the run wakes us too (a run ended by the API server, no worker message).
            unsubscribe.append(await self.feed.on_at_rest(run_id, woken.set))
            unsubscribe.append(await self.feed.on_appended(f"run:{run_id}", woken.set))
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = first
        try:
            while True:
                woken.clear()
                status = await self.queries.status(run_id)
                if status not in ACTIVE_STATUSES:
                    # Not in the read model (deleted, or rolled back): its log still answers.
                    state = await self.history.state(run_id)
                    if state.status not in ACTIVE:
                        return state
                if deadline is not None and time.monotonic() >= deadline:
                    if woken_by_events:
                        raise TimeoutError(f"run {run_id} is still running after {timeout}s")
                    raise TimeoutError(f"run {run_id} still {status or 'active'} after {timeout}s")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await woken.wait()
                delay = min(delay * 2, longest)
        finally:
            for stop in unsubscribe:
                await stop()
