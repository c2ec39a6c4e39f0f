"""The superstep executor.

A run proceeds in supersteps. The tasks of a step run concurrently; each finished task is
committed at once (``node_completed``: its update and its routing), and the commit of the last
task of a step also carries the step's outcome — the next step's plan, or the run's end — so a
linear graph costs one commit per node. Nothing is executed twice once committed: after a crash,
the executor folds the log and runs only the tasks of the current step that have no result yet
(a task that was in flight runs again, with the same idempotency key).

Commits go through :class:`RunStream`, which serialises them (versions stay contiguous) and turns
a version conflict into what it means: someone asked to cancel the run.

Lease discipline: a worker may start work on a run only while its lease is surely still its own.
The executor asks the journal (``Journal.check_lease``) before every node attempt, before every
step, and after every commit, and stops with :class:`LeaseLost` once the lease deadline has
passed: a worker that was paused (SIGSTOP, a GC pause, a frozen VM) past its lease never starts a
node another worker may already have run and committed. A node already running is left to finish;
its commit is refused by fencing if the run changed hands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from duragraph_lab.domain import codec
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.copies import state_copy
from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.errors import StoreUnavailable, VersionConflict
from duragraph_lab.domain.reducers import CUSTOM, apply_writes, written_keys
from duragraph_lab.domain.run import RunState, RunStatus, Task, apply, apply_step, fold
from duragraph_lab.engine import planning
from duragraph_lab.engine.edits import edit_request_events
from duragraph_lab.engine.errors import (
    GraphRecursionError,
    LeaseLost,
    NodeTimeoutError,
    RunNotFound,
    error_record,
)
from duragraph_lab.engine.history import HistoryCache, load_run
from duragraph_lab.engine.journal import LIVE_NODE_STARTED, Journal
from duragraph_lab.graph.context import NodeContext, reset_context, set_context
from duragraph_lab.graph.spec import BranchSpec, GraphSpec, NodeSpec
from duragraph_lab.graph.types import START, GraphInterrupt, RetryPolicy

log = logging.getLogger(__name__)


class CancelRequested(Exception):
    """The log says someone asked to cancel this run."""


class RunStream:
    """The run's stream as the executor sees it: its events so far, one commit at a time."""

    def __init__(self, journal: Journal, run_id: str, events: list[RecordedEvent], version: int) -> None:
        self.journal = journal
        self.run_id = run_id
        self.events = events
        self.version = version
        self.lock = asyncio.Lock()
        self.listeners: list[Callable[[RecordedEvent], None]] = []

    async def commit(self, events: Sequence[NewEvent]) -> list[RecordedEvent]:
        async with self.lock:
            return await self.commit_locked(events)

    async def commit_locked(self, events: Sequence[NewEvent]) -> list[RecordedEvent]:
        try:
            recorded = await self.journal.commit(self.run_id, self.version, events)
        except VersionConflict:
            await self.refresh()
            if any(e.type == ev.RUN_CANCEL_REQUESTED for e in self.events):
                raise CancelRequested() from None
            raise
        self._record(recorded)
        if not _ends_execution(recorded):
            # The answer may have come after the lease deadline (this worker was paused while
            # the commit was in flight): another worker may have taken the run over and run
            # what comes next. Nothing more starts here then.
            self.journal.check_lease(self.run_id)
        return recorded

    async def refresh(self) -> None:
        self._record(await self.journal.read(self.run_id, after_version=self.version))

    def _record(self, recorded: Sequence[RecordedEvent]) -> None:
        for event in recorded:
            self.events.append(event.without_text())
            self.version = event.version
            for listener in self.listeners:
                listener(event)


#: Root-graph events after which the executor starts nothing more for the run.
_RESTING = frozenset(
    {ev.RUN_COMPLETED, ev.RUN_FAILED, ev.RUN_TIMED_OUT, ev.RUN_CANCELLED, ev.RUN_INTERRUPTED}
)


def _ends_execution(events: Sequence[RecordedEvent]) -> bool:
    return any(e.type in _RESTING and not e.data.get("ns") for e in events)


@dataclass
class _StepOutcome:
    failed: dict[str, Any] | None = None
    interrupts: list[ev.Interrupt] = field(default_factory=list)


class GraphRun:
    """The superstep loop of one graph inside a run: the run's root graph (``ns=""``) or a
    subgraph (``ns="<parent path><node>:<task>|"``), whose events are tagged with ``ns``."""

    def __init__(
        self,
        spec: GraphSpec,
        stream: RunStream,
        state: RunState,
        *,
        ns: str,
        run_id: str,
        deadline: float | None,
        config: dict[str, Any],
        cancel: asyncio.Event | None = None,
    ) -> None:
        self.spec = spec
        self.stream = stream
        self.state = state
        self.ns = ns
        self.run_id = run_id
        self.deadline = deadline
        self.config = config
        self.cancel = cancel or asyncio.Event()
        # The run's own interrupt points (given when it was created; the graph's by default).
        # A subgraph uses its own graph's.
        self.interrupt_before = set(state.interrupt_before if not ns else spec.interrupt_before)
        self.interrupt_after = set(state.interrupt_after if not ns else spec.interrupt_after)
        stream.listeners.append(self._on_event)

    def status(self) -> RunStatus | None:
        """The current status: commits (ours, applied by the listener) change it under us."""
        return self.state.status

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.stream.listeners.remove(self._on_event)

    def _on_event(self, event: RecordedEvent) -> None:
        if event.data.get("ns", "") == self.ns:
            apply(self.state, event)

    # -- the loop ----------------------------------------------------------------------------
    async def drive(self, resume_values: Sequence[Any] = ()) -> RunState:
        """Run supersteps until this graph ends, pauses or fails (each outcome committed)."""
        st = self.state
        if st.status is RunStatus.INTERRUPTED and self.ns:
            # A subgraph is resumed by its parent re-running it with the resume value.
            if not resume_values:
                raise GraphInterrupt(_as_interrupt(st.interrupts))
            await self.stream.commit([ev.run_resumed(resume_values[-1], ns=self.ns)])
        while True:
            if st.status in (RunStatus.SUCCESS, RunStatus.ERROR, RunStatus.INTERRUPTED):
                return st
            self.stream.journal.check_lease(self.run_id)
            if st.step < 0:
                await self._plan_entry()
                continue
            if not st.tasks:
                await self.stream.commit([ev.run_completed(ns=self.ns)])
                continue
            pending = st.pending_tasks
            if not pending:
                # Every task of this step has a result but the step was not closed: a fork taken
                # between a step's last result and its outcome. Close it now.
                await self.stream.commit(self._step_outcome(None))
                continue
            before = [t for t in pending if t.node in self.interrupt_before]
            if before and st.passed_before != st.step:
                interrupts: list[ev.Interrupt] = [
                    {
                        "id": f"{self.ns}{t.id}:before",
                        "task": t.id,
                        "node": t.node,
                        "when": "before",
                        "value": None,
                        "ns": self.ns,
                    }
                    for t in before
                ]
                await self.stream.commit(
                    [ev.run_interrupted(step=st.step, interrupts=interrupts, ns=self.ns)]
                )
                continue
            outcome = await self._run_step(pending)
            if outcome.failed is not None:
                if self.status() is not RunStatus.ERROR:  # normally committed with the node's failure
                    await self.stream.commit([ev.run_failed(outcome.failed, ns=self.ns)])
            elif outcome.interrupts:
                await self.stream.commit(
                    [ev.run_interrupted(step=st.step, interrupts=outcome.interrupts, ns=self.ns)]
                )

    async def _plan_entry(self) -> None:
        await self.stream.commit(await self.entry_events())

    async def entry_events(self) -> list[NewEvent]:
        """Step 0: the entry edges and routers from START, on the state after the input."""
        st = self.state
        values = st.values
        custom_values: dict[str, Any] = {}
        if st.input and any(kind == CUSTOM for kind in st.channels.values()):
            inputs = [("__input__", {k: v for k, v in st.input.items() if st.channels.get(k) == CUSTOM})]
            values = apply_writes(values, inputs, st.channels, custom=self.spec.reducers)
            custom_values = {k: values[k] for k in inputs[0][1]}
        try:
            # Command(goto=...) as the run's input names the entry; otherwise START's edges decide.
            gotos = list(st.entry) if st.entry else await self._route(START, values)
            tasks, barriers = planning.plan_next(self.spec, 0, [(planning.start_task(), gotos)], {})
        except Exception as err:
            return [ev.run_failed(error_record(err, node=START, step=0), ns=self.ns)]
        tasks_json = [t.to_json() for t in tasks]
        return [
            ev.step_planned(
                step=0, tasks=tasks_json, barriers=barriers, custom_values=custom_values, ns=self.ns
            )
        ]

    # -- one superstep -------------------------------------------------------------------------
    async def _run_step(self, pending: list[Task]) -> _StepOutcome:
        outcome = _StepOutcome()
        runners = [
            asyncio.create_task(self._run_task(task, outcome), name=f"{self.ns}{task.id}") for task in pending
        ]
        try:
            if self.deadline is not None:
                async with asyncio.timeout_at(self.deadline):
                    await _first_failure(runners, self.cancel)
            else:
                await _first_failure(runners, self.cancel)
        except BaseException:
            for runner in runners:
                runner.cancel()
            await asyncio.gather(*runners, return_exceptions=True)
            raise
        return outcome

    async def _run_task(self, task: Task, outcome: _StepOutcome) -> None:
        st = self.state
        node = self.spec.nodes[task.node]
        attempt = st.failed_attempts.get(task.id, 0) + 1
        while True:
            started = time.time()
            # After the start time is taken: a pause between the two is caught here, so no
            # attempt ever starts later than the time it reports (the fault tests rely on it).
            self.stream.journal.check_lease(self.run_id)
            self.stream.journal.emit(
                self.run_id,
                LIVE_NODE_STARTED,
                {
                    "step": st.step,
                    "node": task.node,
                    "task": task.id,
                    "attempt": attempt,
                    "ns": self.ns,
                    "ts": started,
                },
            )
            ctx = NodeContext(
                run_id=self.run_id,
                thread_id=self.config.get("configurable", {}).get("thread_id"),
                graph_id=self.spec.name,
                step=st.step,
                node=task.node,
                task_id=task.id,
                attempt=attempt,
                started_at=started,
                ns=self.ns,
                config=self.config,
                resume_values=list(st.resumes.get(task.id, [])),
                emit=self._emitter(task),
                replay_calls=list(st.replay_calls[task.id]) if task.id in st.replay_calls else None,
                replay_then_live=True,
            )
            try:
                update, gotos = await self._execute(node, task, ctx)
            except GraphInterrupt as gi:
                interrupt: ev.Interrupt = {
                    "id": gi.interrupt.id,
                    "task": task.id,
                    "node": task.node,
                    "when": "during",
                    "value": _storable(gi.interrupt.value),
                    "ns": self.ns,
                }
                # What the node asked models before pausing: replayed when it runs
                # again, so resuming neither pays for nor changes those answers.
                if ctx.recorded_calls:
                    interrupt["model_calls"] = ctx.recorded_calls
                outcome.interrupts.append(interrupt)
                return
            except asyncio.CancelledError as cancelled:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # we are being stopped (cancel, drain, lost lease)
                # The node's own code let a CancelledError escape (from a task it cancelled, say):
                # that is the node failing, not the run being stopped.
                err: BaseException = cancelled
            except (CancelRequested, LeaseLost, VersionConflict, StoreUnavailable):
                # Not the node's failure (a subgraph node commits to the run's stream itself):
                # the run as a whole must stop.
                raise
            except Exception as failure:
                err = failure
            else:
                await self._complete(task, update, gotos, attempt, started, ctx, outcome)
                return
            policy = _policy_for(node.retry, err)
            retry = policy is not None and attempt < policy.max_attempts
            delay = policy.delay(attempt) if policy is not None and retry else 0.0
            record = error_record(err, node=task.node, step=st.step, task=task.id, attempt=attempt)
            # A final failure ends the run in the same commit: a crash in between must not
            # let another worker run the node again.
            ending = [] if retry else [ev.run_failed(record, ns=self.ns)]
            await self.stream.commit(
                [
                    ev.node_failed(
                        step=st.step,
                        task=task.id,
                        node=task.node,
                        attempt=attempt,
                        error=record,
                        will_retry=retry,
                        retry_in=round(delay, 3),
                        started_at=started,
                        finished_at=time.time(),
                        ns=self.ns,
                    ),
                    *ending,
                ]
            )
            if not retry:
                outcome.failed = record
                raise _TaskFailed() from err
            await asyncio.sleep(delay)
            attempt += 1

    def _emitter(self, task: Task) -> Callable[[str, Any], None]:
        """The node's live-event function. Sync nodes run in a thread, where there is no event
        loop: their events are handed to the run's loop (the journal publishes from there)."""
        loop = asyncio.get_running_loop()

        def publish(kind: str, payload: Any) -> None:
            self.stream.journal.emit(
                self.run_id, kind, {"node": task.node, "task": task.id, "ns": self.ns, "payload": payload}
            )

        def emit(kind: str, payload: Any) -> None:
            try:
                here = asyncio.get_running_loop()
            except RuntimeError:
                here = None
            if here is loop:
                publish(kind, payload)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(publish, kind, payload)

        return emit

    async def _execute(
        self, node: NodeSpec, task: Task, ctx: NodeContext
    ) -> tuple[dict[str, Any], list[planning.Goto]]:
        st = self.state
        # A copy: a node that changes its input in place must change neither the executor's state
        # nor the log's (the log only learns what the node returns).
        node_input = state_copy(task.arg if task.has_arg else st.values)
        if node.subgraph is not None:
            try:
                async with asyncio.timeout(node.timeout):
                    result: Any = await self._run_subgraph(node, task, node_input, ctx)
            except TimeoutError as err:
                if node.timeout is not None and _timed_out_here(err):
                    raise NodeTimeoutError(
                        f"subgraph node {node.name!r} did not finish within {node.timeout:g}s"
                    ) from None
                raise
        else:
            result = await self._call_node(node, node_input, ctx)
        raw_update, gotos = planning.command_parts(result, self.spec, task.node)
        update = planning.normalize_update(
            raw_update, st.channels, writer=f"node {task.node!r}", id_seed=f"{self.run_id}/{self.ns}{task.id}"
        )
        # Routers see the state as this node left it (the step's other writes are not applied yet).
        fresh = apply_writes(st.values, [(task.node, update)], st.channels, custom=self.spec.reducers)
        fresh = state_copy(fresh)  # routers get a copy too
        gotos += await self._route(task.node, fresh)
        return update, gotos

    async def _call_node(self, node: NodeSpec, node_input: Any, ctx: NodeContext) -> Any:
        fn = node.fn
        assert fn is not None
        args = (node_input, self.config) if node.takes_config else (node_input,)
        token = set_context(ctx)
        try:
            async with asyncio.timeout(node.timeout):
                if node.is_async:
                    return await fn(*args)
                # Sync nodes run in a thread (the context variable follows them). On timeout the
                # thread cannot be killed: its result is discarded when it eventually returns.
                return await asyncio.to_thread(fn, *args)
        except TimeoutError as err:
            if node.timeout is not None and _timed_out_here(err):
                raise NodeTimeoutError(
                    f"node {node.name!r} did not finish within {node.timeout:g}s"
                ) from None
            raise
        finally:
            reset_context(token)

    async def _route(self, source: str, values: dict[str, Any]) -> list[planning.Goto]:
        gotos: list[planning.Goto] = []
        for branch in self.spec.branches_from(source):
            result = await self._call_router(branch, values)
            gotos += planning.router_targets(branch, result, self.spec)
        return gotos

    async def _call_router(self, branch: BranchSpec, values: dict[str, Any]) -> Any:
        args = (values, self.config) if branch.takes_config else (values,)
        if branch.is_async:
            return await branch.router(*args)
        return branch.router(*args)  # routers are meant to be quick, pure decisions

    async def _complete(
        self,
        task: Task,
        update: dict[str, Any],
        gotos: list[planning.Goto],
        attempt: int,
        started: float,
        ctx: NodeContext,
        outcome: _StepOutcome,
    ) -> None:
        completed = ev.node_completed(
            step=self.state.step,
            task=task.id,
            node=task.node,
            attempt=attempt,
            update=update,
            goto=gotos,
            started_at=started,
            finished_at=time.time(),
            model_calls=ctx.recorded_calls,
            tool_calls=ctx.recorded_tools,
            ns=self.ns,
        )
        async with self.stream.lock:
            events = [completed]
            others = [t for t in self.state.pending_tasks if t.id != task.id]
            if not others and outcome.failed is None and not outcome.interrupts:
                events += self._step_outcome(extra=(task, update, gotos))
            await self.stream.commit_locked(events)

    def _step_outcome(self, extra: tuple[Task, dict[str, Any], list[planning.Goto]] | None) -> list[NewEvent]:
        """The events that close the current step (committed with its last task's result)."""
        st = self.state
        order = {t.id: i for i, t in enumerate(st.tasks)}
        by_id = {t.id: t for t in st.tasks}
        finished: dict[str, tuple[Task, dict[str, Any], list[Any]]] = {
            tid: (by_id[tid], r.update, r.goto) for tid, r in st.results.items() if tid in by_id
        }
        if extra is not None:
            finished[extra[0].id] = extra
        ordered = sorted(finished.values(), key=lambda f: order[f[0].id])
        try:
            writes = [(t.node, u) for t, u, _ in ordered]
            edits = st.edits
            values = apply_step(st.values, writes, edits, st.channels, custom=self.spec.reducers)
            # Every custom key written is recorded (readers cannot run the reducer).
            written = written_keys([*writes, *((e.node, e.update) for e in edits)], st.channels, CUSTOM)
            custom_values = {k: values[k] for k in written if k in values}
            if custom_values:
                codec.to_jsonable(custom_values)
            next_step = st.step + 1
            tasks, barriers = planning.plan_next(
                self.spec, next_step, [(t, g) for t, _, g in ordered], st.barriers
            )
        except Exception as err:  # a write conflict, a failing custom reducer, an unstorable value
            return [ev.run_failed(error_record(err, step=st.step), ns=self.ns)]
        after = sorted({t.node for t, _, _ in ordered if t.node in self.interrupt_after})
        planned = ev.step_planned(
            step=next_step,
            tasks=[t.to_json() for t in tasks],
            barriers=barriers,
            custom_values=custom_values,
            counts=bool(tasks),
            ns=self.ns,
        )
        if tasks and st.steps_run >= st.recursion_limit:
            limit_error = GraphRecursionError(
                f"recursion limit of {st.recursion_limit} supersteps reached without hitting END; "
                "raise it with config={'recursion_limit': ...} if the graph really needs more steps"
            )
            # The step itself succeeded: record its plan (applying its writes), then the failure.
            return [planned, ev.run_failed(error_record(limit_error, step=next_step), ns=self.ns)]
        if after:
            interrupts: list[ev.Interrupt] = [
                {
                    "id": f"{self.ns}{st.step}:{node}:after",
                    "node": node,
                    "when": "after",
                    "value": None,
                    "ns": self.ns,
                }
                for node in after
            ]
            return [planned, ev.run_interrupted(step=next_step, interrupts=interrupts, ns=self.ns)]
        if not tasks:
            return [ev.run_completed(custom_values=custom_values, ns=self.ns)]
        return [planned]

    # -- subgraphs -----------------------------------------------------------------------------
    async def _run_subgraph(
        self, node: NodeSpec, task: Task, node_input: Any, ctx: NodeContext
    ) -> dict[str, Any]:
        child = node.subgraph
        assert child is not None
        child_spec = child.spec
        # One namespace per attempt: a retry runs the subgraph afresh, while a re-execution after a
        # crash (the same attempt) resumes it.
        child_ns = f"{self.ns}{task.node}:{task.id}:{ctx.attempt}|"
        child_input = {k: v for k, v in dict(node_input).items() if k in child_spec.channels}
        state = fold(self.stream.events, ns=child_ns)
        run = GraphRun(
            child_spec,
            self.stream,
            state,
            ns=child_ns,
            run_id=self.run_id,
            deadline=self.deadline,
            config=self.config,
            cancel=self.cancel,
        )
        try:
            if state.status is None:
                await self.stream.commit(
                    [
                        ev.subgraph_started(
                            ns=child_ns,
                            graph_id=child_spec.name,
                            channels=child_spec.channels,
                            input=child_input,
                            # The run's limit applies to its subgraphs too.
                            recursion_limit=self.state.recursion_limit,
                        )
                    ]
                )
            final = await run.drive(ctx.resume_values)
        finally:
            run.close()
        if final.status is RunStatus.INTERRUPTED:
            raise GraphInterrupt(_as_interrupt(final.interrupts))
        if final.status is RunStatus.ERROR:
            raise SubgraphFailed(final.error or {})
        return planning.subgraph_update(child_spec.channels, self.state.channels, child_input, final.values)


class SubgraphFailed(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"subgraph failed: {error.get('type')}: {error.get('message')}")
        self.error = error


class _TaskFailed(Exception):
    """A task failed for good; the failure is in the step outcome."""


def _as_interrupt(interrupts: Sequence[dict[str, Any]]) -> Any:
    from duragraph_lab.graph.types import Interrupt

    first = interrupts[0] if interrupts else {"value": None, "id": "?"}
    return Interrupt(value=first.get("value"), id=str(first.get("id")))


def _storable(value: Any) -> Any:
    try:
        codec.to_jsonable(value)
        return value
    except Exception:
        return repr(value)


def _policy_for(policies: tuple[RetryPolicy, ...], err: BaseException) -> RetryPolicy | None:
    for policy in policies:
        if policy.should_retry(err):
            return policy
    return None


def _timed_out_here(err: TimeoutError) -> bool:
    """asyncio.timeout raises TimeoutError from a CancelledError; a node's own TimeoutError has
    no such cause."""
    return isinstance(err.__cause__, asyncio.CancelledError) or (
        err.__context__ is not None and isinstance(err.__context__, asyncio.CancelledError)
    )


async def _first_failure(runners: list[asyncio.Task[None]], cancel: asyncio.Event) -> None:
    """Wait for every task; stop the others as soon as one fails for good (its failure is in
    the step outcome), or when the run is cancelled (raise :class:`CancelRequested`)."""
    pending: set[asyncio.Future[Any]] = set(runners)
    cancelled = asyncio.ensure_future(cancel.wait())
    try:
        while pending:
            done, _ = await asyncio.wait(pending | {cancelled}, return_when=asyncio.FIRST_COMPLETED)
            pending -= done
            if cancelled in done:
                await _stop_all(pending)
                raise CancelRequested()
            for finished in done:
                err = None if finished.cancelled() else finished.exception()
                if err is not None:
                    await _stop_all(pending)
                    if not isinstance(err, _TaskFailed):
                        raise err
                    return
    finally:
        cancelled.cancel()


async def _stop_all(tasks: set[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class RunExecutor:
    """Drive one run from wherever its log says it is to its next resting point."""

    def __init__(
        self,
        spec: GraphSpec,
        journal: Journal,
        run_id: str,
        *,
        cache: HistoryCache | None = None,
        epoch: int | None = None,
        prefetched: Sequence[RecordedEvent] | None = None,
    ) -> None:
        self.spec = spec
        self.journal = journal
        self.run_id = run_id
        self.cache = cache
        self.epoch = epoch
        #: The run's events as its lease brought them (the worker's acquire): not read again.
        self.prefetched = list(prefetched) if prefetched else None
        self.stream: RunStream | None = None
        self._cancel = asyncio.Event()

    def request_cancel(self) -> None:
        """Stop in-flight nodes now and end the run as cancelled (a cancel request is in the log)."""
        self._cancel.set()

    async def _read(self, run_id: str) -> list[RecordedEvent]:
        """A run's events: this run's from its lease the first time, if it brought them."""
        if run_id == self.run_id and self.prefetched is not None:
            events, self.prefetched = self.prefetched, None
            return events
        return await self.journal.read(run_id)

    async def run(self) -> RunState:
        events, base = await load_run(self.run_id, self._read, self.cache)
        if not events:
            raise RunNotFound(f"run {self.run_id} does not exist")
        state = fold(events, base)
        stream = RunStream(self.journal, self.run_id, list(events), events[-1].version)
        self.stream = stream
        if state.status is None or state.status.terminal or state.status is RunStatus.INTERRUPTED:
            return state
        self.journal.check_lease(self.run_id)  # reading the log took time; entry routers are code
        if state.edit_request is not None:
            # An edit request: applied with this worker's code, in one fenced commit.
            started = ev.run_started(
                worker_id=self.journal.worker_id, epoch=self.epoch, attempt=state.attempt + 1
            )
            with contextlib.suppress(CancelRequested):  # withdrawn (the API gave up waiting)
                await stream.commit([started, *await edit_request_events(self.spec, state)])
            return fold(stream.events, base)
        # The run's timeout bounds execution: it starts when a worker picks the run up (again), so
        # time spent queued or waiting for a human does not count.
        deadline = asyncio.get_running_loop().time() + float(state.timeout) if state.timeout else None
        config = {
            **state.config,
            "configurable": {
                **state.config.get("configurable", {}),
                "thread_id": state.thread_id,
                "run_id": self.run_id,
            },
        }
        root = GraphRun(
            self.spec,
            stream,
            state,
            ns="",
            run_id=self.run_id,
            deadline=deadline,
            config=config,
            cancel=self._cancel,
        )
        try:
            if state.cancel_requested:
                raise CancelRequested()
            started = ev.run_started(
                worker_id=self.journal.worker_id, epoch=self.epoch, attempt=state.attempt + 1
            )
            # A new run's first plan goes in the same commit as its start.
            entry = await root.entry_events() if state.step < 0 else []
            await stream.commit([started, *entry])
            return await root.drive()
        except CancelRequested:
            await self._end_with(root, ev.run_cancelled())
            return root.state
        except TimeoutError:
            if deadline is None or asyncio.get_running_loop().time() < deadline:
                raise
            await self._end_with(root, ev.run_timed_out(state.timeout))
            return root.state
        finally:
            root.close()

    async def _end_with(self, root: GraphRun, ending: NewEvent) -> None:
        assert self.stream is not None
        for _ in range(5):
            if root.state.status is not None and root.state.status.terminal:
                return
            try:
                await self.stream.commit([ending])
                return
            except (VersionConflict, CancelRequested):
                await self.stream.refresh()
