"""A worker: serves compiled graphs by leasing their queued runs and driving the engine.

- Leases runs with ``SKIP LOCKED`` (workers never wait for each other), up to ``concurrency``.
- Heartbeats extend its leases; a lease it lost (it was paused past expiry and another worker
  took the run) stops that run here at once — and its fenced commits could not land anyway.
- Keeps a local deadline per lease (:mod:`duragraph_lab.store.held_leases`): the executor starts
  no node of a run past it, so a worker that comes back from a pause longer than its lease never
  runs what another worker may have committed meanwhile.
- Tries statements again after transient database errors for up to ``db_retry_seconds``
  (:mod:`duragraph_lab.store.retry`). A run whose statements the database kept refusing fails
  with that database error; a run interrupted by a connection outage goes back to the queue.
- Woken through NATS when runs are queued, with a polling fallback when NATS is away.
- Learns of cancel requests through NATS (or at its next commit) and stops the run's nodes.
- ``stop(drain=True)`` (SIGTERM): takes no new runs, lets running ones reach their next resting
  point for up to ``drain_timeout`` seconds, then gives the rest back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from duragraph_lab.bus.live import LivePublisher
from duragraph_lab.bus.relay import RelayWaker
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.bus.watching import WatchedStreams
from duragraph_lab.control.item_store import StoreSettings
from duragraph_lab.domain import codec
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.errors import StoreTransientError, StoreUnavailable, VersionConflict
from duragraph_lab.engine.errors import LeaseLost, error_record
from duragraph_lab.engine.executor import RunExecutor
from duragraph_lab.engine.history import HistoryCache, load_run
from duragraph_lab.engine.replay import reexecute
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.langgraph.execution import RunDriver, run_executor
from duragraph_lab.langgraph.source import GraphSource
from duragraph_lab.langgraph.topology import describe_source
from duragraph_lab.store.held_leases import HeldLeases
from duragraph_lab.store.journal import PostgresJournal
from duragraph_lab.store.leases import Lease, RunQueue
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.store.retry import DatabaseRetry
from duragraph_lab.worker.registry import graph_registry

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        graphs: Sequence[CompiledGraph | GraphSource],
        store: PostgresEventStore,
        *,
        nc: NATS | None = None,
        subjects: Subjects | None = None,
        worker_id: str | None = None,
        concurrency: int = 32,
        lease_ttl: float = 30.0,
        heartbeat_interval: float | None = None,
        poll_interval: float = 1.0,
        drain_timeout: float = 30.0,
        wake_relay: bool = True,
        db_retry_seconds: float = 30.0,
        store_settings: StoreSettings | None = None,
    ) -> None:
        if not graphs:
            raise ValueError("a worker needs at least one graph to serve")
        # Native graphs run on the native engine; LangGraph graphs (GraphSources: compiled
        # graphs or factories) on LangGraph's (duragraph_lab.langgraph.execution).
        self.graphs: dict[str, CompiledGraph | GraphSource] = {
            g.name if isinstance(g, CompiledGraph) else g.graph_id: g for g in graphs
        }
        #: The store's settings for LangGraph graphs (a langgraph.json's ``store``).
        self.store_settings = store_settings or StoreSettings()
        if len(self.graphs) != len(graphs):
            raise ValueError("two graphs with the same name: graph ids must be unique per worker")
        self.store = store
        self.nc = nc
        self.subjects = subjects or Subjects()
        self.worker_id = worker_id or new_worker_id()
        self.concurrency = concurrency
        self.lease_ttl = lease_ttl
        self.heartbeat_interval = heartbeat_interval or lease_ttl / 3
        self.poll_interval = poll_interval
        self.drain_timeout = drain_timeout
        self.queue = RunQueue(store.pool)
        self.leases = HeldLeases(lease_ttl)
        self.active: dict[str, tuple[asyncio.Task[None], RunDriver]] = {}
        self.cache = HistoryCache()
        # Fresh and live events go only to runs someone watches (bus.watching).
        self.watched = WatchedStreams(nc, self.subjects) if nc is not None else None
        live = LivePublisher(nc, self.subjects, watched=self.watched) if nc is not None else None
        self.journal = PostgresJournal(
            store,
            worker_id=self.worker_id,
            leases=self.leases,
            live=live,
            strict=True,
            retry=DatabaseRetry(within=db_retry_seconds),
        )
        # Wake the relay of the API servers after each commit (an in-process worker sharing the
        # server's store does not need to: that relay is woken directly).
        if nc is not None and wake_relay:
            store.add_after_commit(RelayWaker(nc, self.subjects, watched=self.watched))
        self._wake = asyncio.Event()
        self._accepting = False
        self._tasks: list[asyncio.Task[None]] = []
        self._subs: list[Any] = []
        self._replays: set[asyncio.Task[None]] = set()
        self.completed = 0

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        registry = graph_registry(self.store)
        for graph in self.graphs.values():
            described = graph if isinstance(graph, CompiledGraph) else await describe_source(graph)
            await registry.register(described, registered_by=self.worker_id)
        await self.queue.heartbeat_worker(self.worker_id, list(self.graphs))
        if self.nc is not None:
            await self._subscribe()
        self._accepting = True
        self._tasks = [
            asyncio.create_task(self._lease_loop(), name="duragraph-worker-leases"),
            asyncio.create_task(self._heartbeat_loop(), name="duragraph-worker-heartbeat"),
        ]
        log.info("worker %s serving %s", self.worker_id, ", ".join(self.graphs))

    async def _subscribe(self) -> None:
        assert self.nc is not None

        async def on_wake(_msg: Msg) -> None:
            self._wake.set()

        async def on_cancel(msg: Msg) -> None:
            run_id = msg.subject.rsplit(".", 1)[-1]
            found = self.active.get(run_id)
            if found is not None:
                found[1].request_cancel()

        async def on_replay(msg: Msg) -> None:
            # In a task: re-execution runs node code and may take a while; the subscription's
            # callback must stay free for the next request.
            task = asyncio.create_task(self._answer_replay(msg), name="duragraph-worker-replay")
            self._replays.add(task)
            task.add_done_callback(self._replays.discard)

        try:
            if self.watched is not None:
                await self.watched.start()
            self._subs.append(await self.nc.subscribe(self.subjects.runs_wake, cb=on_wake))
            self._subs.append(
                await self.nc.subscribe(self.subjects.kind("run", ev.RUN_CANCEL_REQUESTED), cb=on_cancel)
            )
            for graph_id in self.graphs:
                # A queue group: one worker serving the graph answers each request.
                self._subs.append(
                    await self.nc.subscribe(self.subjects.replay_rpc(graph_id), queue="replay", cb=on_replay)
                )
        except Exception as err:  # NATS down: polling and commit-time checks still work
            log.warning("worker %s: no NATS subscriptions (%s); polling", self.worker_id, err)

    async def _answer_replay(self, msg: Msg) -> None:
        """Re-execute a recorded run with this worker's code and reply with the report."""
        try:
            request = json.loads(msg.data)
            run_id = str(uuid.UUID(str(request["run_id"])))
            events, base = await load_run(run_id, self._read_run, self.cache)
            if not events:
                raise LookupError(f"run {run_id} does not exist")
            graph_id = events[0].data.get("graph_id")
            graph = self.graphs.get(str(graph_id))
            if graph is None:
                raise LookupError(f"this worker does not serve graph {graph_id!r}")
            if not isinstance(graph, CompiledGraph):
                raise LookupError(
                    f"graph {graph_id!r} is a LangGraph graph: re-execution is for native graphs"
                )
            report = await reexecute(graph.spec, events, base)
            body: dict[str, Any] = {"ok": True, "report": report.to_json(), "worker_id": self.worker_id}
        except Exception as err:
            body = {
                "ok": False,
                "error": type(err).__name__,
                "message": str(err),
                "worker_id": self.worker_id,
            }
        with contextlib.suppress(Exception):
            await msg.respond(json.dumps(codec.to_jsonable(body), default=str).encode())

    async def _read_run(self, run_id: str) -> list[RecordedEvent]:
        return await self.store.read_stream(f"run:{run_id}")

    async def stop(self, *, drain: bool = True) -> None:
        """Stop taking runs; with ``drain``, let running ones reach a resting point first."""
        self._accepting = False
        self._wake.set()
        # Stop taking runs, but keep heartbeating while draining, or the leases of the runs we
        # are finishing would expire and another worker would run their nodes again.
        lease_loop, heartbeat = self._tasks if len(self._tasks) == 2 else (None, None)
        for task in [lease_loop] if lease_loop is not None else self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        running = [task for task, _ in self.active.values()]
        if drain and running:
            _, still = await asyncio.wait(running, timeout=self.drain_timeout)
        else:
            still = set(running)
        # Runs that did not reach a resting point in time go back to the queue for another worker
        # (their leases are noted before cancelling: a cancelled run forgets its lease).
        unfinished = {
            run_id: epoch
            for run_id, (task, _) in self.active.items()
            if task in still and (epoch := self.leases.epoch(run_id)) is not None
        }
        for task in still:
            task.cancel()
        await asyncio.gather(*still, return_exceptions=True)
        if heartbeat is not None:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        self._tasks = []
        for run_id, epoch in unfinished.items():
            with contextlib.suppress(Exception):
                await self.queue.release(self.worker_id, run_id, epoch)
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs = []
        if self.watched is not None:
            await self.watched.stop()
        for replay in list(self._replays):
            replay.cancel()
        await asyncio.gather(*self._replays, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.queue.forget_worker(self.worker_id)

    # -- leasing -------------------------------------------------------------------------------
    async def _lease_loop(self) -> None:
        delay = self.poll_interval
        while self._accepting:
            # Cleared on every turn, busy or not: a wake-up that came while every slot was taken
            # must not leave the event set, or the wait below returns at once, forever (a spin
            # at 100% CPU that starves the worker's own runs). A finished run sets it again
            # after freeing its slot, so no lease is missed.
            self._wake.clear()
            free = self.concurrency - len(self.active)
            leases: list[Lease] = []
            if free > 0:
                # Taken before sending: the database starts the lease later than this.
                sent_at = time.monotonic()
                try:
                    leases = await self.queue.acquire(self.worker_id, list(self.graphs), free, self.lease_ttl)
                    delay = self.poll_interval
                except Exception as err:  # never let the loop die: a dead loop leases nothing again
                    log.warning("worker %s: cannot lease runs: %s", self.worker_id, err)
                    delay = min(delay * 2, 10.0)
                for lease in leases:
                    self._start_run(lease, sent_at)
            if leases and len(leases) == free:
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    def _start_run(self, lease: Lease, sent_at: float) -> None:
        self.leases.taken(lease.run_id, lease.epoch, sent_at)
        if lease.run_id in self.active:
            # Our own lease expired (a slow heartbeat) and we took the run again: keep executing
            # it with the new epoch; a second executor would race the first.
            return
        graph = self.graphs[lease.graph_id]
        executor: RunDriver
        if isinstance(graph, CompiledGraph):
            executor = RunExecutor(
                graph.spec,
                self.journal,
                lease.run_id,
                cache=self.cache,
                epoch=lease.epoch,
                prefetched=lease.events,
            )
        else:
            executor = run_executor(
                graph,
                journal=self.journal,
                events=self.store,
                run_id=lease.run_id,
                epoch=lease.epoch,
                store_settings=self.store_settings,
                prefetched=lease.events,
            )
        task = asyncio.create_task(self._execute(lease, executor), name=f"duragraph-run-{lease.run_id}")
        self.active[lease.run_id] = (task, executor)

    async def _execute(self, lease: Lease, executor: RunDriver) -> None:
        try:
            await executor.run()
            self.completed += 1
        except LeaseLost as err:
            log.warning(
                "worker %s: lost the lease of run %s (%s); another worker continues it",
                self.worker_id,
                lease.run_id,
                err,
            )
            await self._give_back(lease)
        except StoreTransientError as err:
            # The database kept refusing the run's statements for the whole retry bound. Say so
            # in the run rather than hand it from worker to worker, each re-running its node.
            log.error("worker %s: run %s failed: %s", self.worker_id, lease.run_id, err)
            if not await self._fail(lease, database_error(err)):
                await self._give_back(lease)
        except (StoreUnavailable, VersionConflict) as err:
            # Not the run's fault, and the commit's outcome may be unknown: give the run back;
            # the next worker to take it folds the log and continues from what did commit.
            log.warning(
                "worker %s: run %s interrupted (%s); returning it to the queue",
                self.worker_id,
                lease.run_id,
                err,
            )
            await self._give_back(lease)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            # A bug in the engine or a broken graph: record it rather than crash-loop the run.
            log.exception("worker %s: run %s failed unexpectedly", self.worker_id, lease.run_id)
            await self._fail(lease, error_record(err, internal=True))
        finally:
            self.leases.drop(lease.run_id)
            self.active.pop(lease.run_id, None)
            self._wake.set()

    async def _give_back(self, lease: Lease) -> None:
        """Queue the run again for any worker, if this worker still holds it: a lease given up
        here (its deadline passed, the database went away) is then taken at once, instead of
        when the database sees it expire. Fenced by the epoch, so it never takes a run from
        the worker that holds it now."""
        epoch = self.leases.epoch(lease.run_id) or lease.epoch
        with contextlib.suppress(Exception):
            await self.queue.release(self.worker_id, lease.run_id, epoch)

    async def _fail(self, lease: Lease, error: dict[str, Any]) -> bool:
        """Record ``run_failed`` with ``error``; False if it could not be recorded."""
        for _ in range(3):
            try:
                events = await self.journal.read(lease.run_id)
                version = events[-1].version if events else 0
                await self.journal.commit(lease.run_id, version, [ev.run_failed(error)])
                return True
            except VersionConflict:
                continue
            except Exception:
                log.exception("worker %s: cannot record the failure of run %s", self.worker_id, lease.run_id)
                return False
        return False

    # -- leases --------------------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                await self._renew_leases()
                await self.queue.heartbeat_worker(self.worker_id, list(self.graphs))
            except Exception as err:  # keep beating: a dead heartbeat loop loses every lease
                log.warning("worker %s: heartbeat failed: %s", self.worker_id, err)

    async def _renew_leases(self) -> None:
        asked = self.leases.epochs()
        sent_at = time.monotonic()  # before sending: the database extends from a later now()
        confirmed = await self.queue.renew(self.worker_id, list(asked), self.lease_ttl)
        for run_id in self.leases.renewed(asked, confirmed, sent_at):
            found = self.active.get(run_id)
            if found is not None:
                # Stop it here; its commits are fenced on the old epoch and would fail anyway.
                log.warning("worker %s: lease of run %s expired; stopping it here", self.worker_id, run_id)
                found[0].cancel()


def database_error(err: StoreTransientError) -> dict[str, Any]:
    """``run_failed.error`` for statements PostgreSQL kept refusing: which refusal (SQLSTATE and
    reason), and how often and for how long they were tried. Not ``internal``: the engine is fine."""
    return {
        **error_record(err),
        "sqlstate": err.sqlstate,
        "reason": err.reason,
        "attempts": err.attempts,
        "retried_seconds": round(err.retried_for, 3),
    }
