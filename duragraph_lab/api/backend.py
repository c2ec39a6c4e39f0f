"""Everything the server extension runs, built in one place: services, store, bus, relay,
the API's services, the lease reaper and the in-process worker.

Framework-free on purpose: the extension calls :meth:`prepare` (sync, main thread, before the
server listens), :meth:`start` and :meth:`stop` (async, on the server's loop); handlers call the
services (:attr:`assistants`, :attr:`threads`, :attr:`runs`). Tests drive it without Jupyter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import time
from collections.abc import Sequence
from typing import Any

import psycopg_pool
from nats.aio.client import Client as NATS

from duragraph_lab._version import __version__
from duragraph_lab.api import webhooks
from duragraph_lab.api.experiment_runs import ApiExampleRuns
from duragraph_lab.api.metrics import Metrics
from duragraph_lab.api.presence import Presence
from duragraph_lab.api.protocol import ThreadProtocol
from duragraph_lab.api.runs import Runs
from duragraph_lab.api.threads import GraphThreads, Threads
from duragraph_lab.bus.connection import connect_nats, redact_nats_url
from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.bus.jetstream import StreamPolicy, StreamSetup, ensure_stream
from duragraph_lab.bus.relay import OutboxRelay, relay_identity
from duragraph_lab.bus.rest import RestAnnouncer
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.control.assistants import Assistants
from duragraph_lab.control.crons import Crons, CronScheduler
from duragraph_lab.control.datasets import Datasets
from duragraph_lab.control.edits import EDIT_REQUEST_TIMEOUT
from duragraph_lab.control.eventlog import BulkEventLog
from duragraph_lab.control.experiment_runner import ServerExperiments
from duragraph_lab.control.experiments import Experiments
from duragraph_lab.control.item_store import ItemStore, StoreSettings, TTLSweeper
from duragraph_lab.control.outcomes import Outcomes
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.control.ports import OperationalFigures
from duragraph_lab.control.webhooks import WebhookDispatcher, WebhookPolicy, WebhookSettings
from duragraph_lab.domain.errors import DuraGraphError, StoreUnavailable
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.spec import GraphSpec
from duragraph_lab.langgraph.project import Project
from duragraph_lab.langgraph.source import GraphSource
from duragraph_lab.langgraph.topology import GraphBuildError
from duragraph_lab.runtime.config import Settings
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.runtime.services import Endpoints, Services
from duragraph_lab.runtime.supervisor import supervision
from duragraph_lab.store import relay_lease
from duragraph_lab.store.connection import open_pool, redact
from duragraph_lab.store.eventlog import PgEventLog
from duragraph_lab.store.experiment_locks import PgExperimentLocks
from duragraph_lab.store.item_store import PgItemStore
from duragraph_lab.store.leases import reap_expired
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.store.queries.assistants import PgAssistants, PgGraphs
from duragraph_lab.store.queries.crons import PgCrons
from duragraph_lab.store.queries.evals import PgDatasets, PgExperiments, PgRunFacts
from duragraph_lab.store.queries.metrics import PgOperationalFigures
from duragraph_lab.store.queries.webhooks import PgPendingWebhooks
from duragraph_lab.store.queries.workers import PgWorkerDirectory
from duragraph_lab.store.schema import available_migrations, schema_version
from duragraph_lab.worker.serve import distinct_graphs, load_graph, project_graphs
from duragraph_lab.worker.worker import Worker

log = logging.getLogger(__name__)


class Backend:
    def __init__(
        self,
        settings: Settings,
        *,
        start_embedded: bool = False,
        graphs: Sequence[str] = (),
        project: Project | None = None,
        worker_concurrency: int = 32,
        worker_lease_ttl: float = 30.0,
        max_body_bytes: int = 10 * 1024 * 1024,
        keepalive_seconds: float = 5.0,
        share_worker_connection: bool = True,
        reap_interval: float = 5.0,
        cron_interval: float = 1.0,
        temporary_thread_grace: float = 60.0,
        relay_lease_ttl: float = 5.0,
        relay_lag_threshold: float = 10.0,
        stream_policy: StreamPolicy | None = None,
        store_settings: StoreSettings | None = None,
        config_error: str | None = None,
        webhook_policy: WebhookPolicy | None = None,
        webhook_settings: WebhookSettings | None = None,
        edit_request_timeout: float = EDIT_REQUEST_TIMEOUT,
    ) -> None:
        self.settings = settings
        #: Seconds update_state waits for a worker to apply an edit request (StateEdits).
        self.edit_request_timeout = edit_request_timeout
        self.webhook_policy = webhook_policy or WebhookPolicy()
        self.webhook_settings = webhook_settings or WebhookSettings()
        self.webhooks: WebhookDispatcher | None = None
        self.trace_export: Any = None  # an otel TraceExportLoop, when OTEL_* asks for traces
        self.relay_lease_ttl = relay_lease_ttl
        self.relay_lag_threshold = relay_lag_threshold
        self.stream_policy = stream_policy or StreamPolicy()
        #: The store's TTL settings (langgraph.json's store.ttl, or the store_* traitlets).
        self.store_settings = store_settings or StoreSettings()
        self._item_store: ItemStore | None = None
        self.ttl_sweeper: TTLSweeper | None = None
        #: This server's relay in the lease, also before the relay exists (NATS not connected yet).
        self.relay_holder = relay_identity()
        self.stream: StreamSetup | None = None
        #: A setting that cannot be used: the server starts, says so (/health) and does nothing.
        self.config_error = config_error
        self.max_body_bytes = max_body_bytes
        self.keepalive_seconds = keepalive_seconds
        self.share_worker_connection = share_worker_connection
        self.reap_interval = reap_interval
        #: Seconds between two passes of the cron scheduler (a tick fires within about that).
        self.cron_interval = cron_interval
        self._crons: Crons | None = None
        self.cron_scheduler: CronScheduler | None = None
        self.temporary_thread_grace = temporary_thread_grace
        self.metrics = Metrics()
        self._assistants: Assistants | None = None
        self._presence: Presence | None = None
        self._threads: Threads | None = None
        self._runs: Runs | None = None
        self._outcomes: Outcomes | None = None
        self._datasets: Datasets | None = None
        self._experiments: Experiments | None = None
        self._server_experiments: ServerExperiments | None = None
        self._resume_task: asyncio.Task[None] | None = None
        self._reaper_task: asyncio.Task[None] | None = None
        self.start_embedded = start_embedded
        self.graph_refs = list(graphs)
        #: A langgraph.json whose graphs the in-process worker serves too.
        self.project = project
        self.worker_concurrency = worker_concurrency
        self.worker_lease_ttl = worker_lease_ttl
        self.worker: Worker | None = None
        self.control: ControlPlane | None = None
        self.subjects = Subjects(settings.subject_prefix)
        #: The NATS connection the control plane reaches workers through, once there is one.
        self.link = BusLink(self.subjects)
        self.services = Services(settings)
        self.endpoints: Endpoints | None = None
        self.pool: psycopg_pool.AsyncConnectionPool | None = None
        self.store: PostgresEventStore | None = None
        self.figures: OperationalFigures | None = None
        self.event_log: BulkEventLog | None = None
        self.nc: NATS | None = None
        self.relay: OutboxRelay | None = None
        self.startup_error: str | None = None
        self.bus_error: str | None = None
        self._bus_task: asyncio.Task[None] | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self.started_at = time.time()

    # -- lifecycle ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Find or start PostgreSQL and NATS and migrate. Records (not raises) a failure, so the
        server still starts and /health can say what is wrong."""
        if self.config_error is not None:
            self.startup_error = self.config_error
            log.error("DuraGraph Lab cannot start: %s", self.config_error)
            return
        try:
            self.endpoints = self.services.start(
                attach_if_running=True, own_data_dir=False, start_embedded=self.start_embedded
            )
        except DuraGraphError as err:
            self.startup_error = str(err)
            log.error("DuraGraph Lab cannot start its services: %s", err)

    async def start(self) -> None:
        if self.endpoints is None:
            return
        try:
            # Fail fast: while PostgreSQL is down, requests answer 503 at once rather than each
            # waiting out the pool's timeout (see FailFastPool).
            self.pool = await open_pool(
                self.endpoints.database_url, min_size=2, max_size=20, name="duragraph-api", fail_fast=True
            )
        except DuraGraphError as err:
            self.startup_error = str(err)
            log.error("%s", err)
            return
        self.store = PostgresEventStore(self.pool)
        self.figures = PgOperationalFigures(self.store)
        self._presence = Presence(PgWorkerDirectory(self.store))
        self.event_log = PgEventLog(self.store)
        self.control = control_plane(self.store, self.link)
        self.control.edits.request_timeout = self.edit_request_timeout
        self._assistants = Assistants(self.store, PgAssistants(self.store), PgGraphs(self.store))
        self._threads = Threads(self.control)
        self._threads.stored_threads = _stored_langgraph_threads(self.store, self._assistants)
        self._runs = Runs(self.control, self._threads, self._presence, self.webhook_policy)
        self._outcomes = Outcomes(PgRunFacts(self.store), self.control.history)
        self._datasets = Datasets(self.store, PgDatasets(self.store), self._outcomes)
        self._experiments = Experiments(
            self.store, PgExperiments(self.store), self._datasets, self._assistants, self._outcomes
        )
        self._server_experiments = ServerExperiments(
            self._experiments,
            ApiExampleRuns(self._threads, self._runs),
            PgExperimentLocks(self.endpoints.database_url),
        )
        self._item_store = ItemStore(PgItemStore(self.pool), self.store_settings)
        self._crons = Crons(self.store, PgCrons(self.store), self.control.runs, self.webhook_policy)
        self.control.threads.cascade = self._crons.thread_deleted  # a thread's crons go with it
        self._assistants.cascade = self._crons.assistant_deleted  # and an assistant's
        # Every API server runs a scheduler: each tick is fired at most once among them.
        self.cron_scheduler = CronScheduler(
            self._crons, interval=self.cron_interval, identity=self.relay_holder
        )
        self.cron_scheduler.start()
        if self.store_settings.sweep_interval_minutes is not None:
            self.ttl_sweeper = TTLSweeper(self._item_store, self.store_settings.sweep_interval_minutes * 60)
            self.ttl_sweeper.start()
        self._bus_task = asyncio.create_task(self._connect_bus(), name="duragraph-bus-connect")
        # Webhooks of runs that ended, also while this server was down (driven from the log).
        self.webhooks = WebhookDispatcher(
            PgPendingWebhooks(self.store),
            self.store,
            webhooks.post,
            webhooks.run_body(self.control),
            self.webhook_policy,
            self.webhook_settings,
        )
        self.webhooks.start()
        self.store.add_after_commit(self.webhooks.wake)
        # Experiments this server (or one that died) was running: at once, not at the first reap.
        self._resume_task = asyncio.create_task(
            self._server_experiments.resume_unfinished(), name="duragraph-experiments-resume"
        )
        self._reaper_task = asyncio.create_task(self._reap(), name="duragraph-reaper")
        self._start_trace_export()

    # -- services for handlers ---------------------------------------------------------------
    def _ready(self) -> None:
        if self.store is None:
            raise StoreUnavailable(
                f"the server has no database connection: {self.startup_error or 'starting'}"
            )

    @property
    def assistants(self) -> Assistants:
        self._ready()
        assert self._assistants is not None
        return self._assistants

    @property
    def presence(self) -> Presence:
        self._ready()
        assert self._presence is not None
        return self._presence

    @property
    def threads(self) -> Threads:
        self._ready()
        assert self._threads is not None
        return self._threads

    @property
    def runs(self) -> Runs:
        self._ready()
        assert self._runs is not None
        return self._runs

    @property
    def protocol(self) -> ThreadProtocol:
        """The thread-centric streaming protocol's commands and events."""
        return ThreadProtocol(self.control_or_fail(), self.threads, self.runs)

    @property
    def item_store(self) -> ItemStore:
        """The store (LangGraph's BaseStore) of the /store routes."""
        self._ready()
        assert self._item_store is not None
        return self._item_store

    @property
    def crons(self) -> Crons:
        self._ready()
        assert self._crons is not None
        return self._crons

    @property
    def datasets(self) -> Datasets:
        self._ready()
        assert self._datasets is not None
        return self._datasets

    @property
    def experiments(self) -> Experiments:
        self._ready()
        assert self._experiments is not None
        return self._experiments

    @property
    def server_experiments(self) -> ServerExperiments:
        self._ready()
        assert self._server_experiments is not None
        return self._server_experiments

    def control_or_fail(self) -> ControlPlane:
        self._ready()
        assert self.control is not None
        return self.control

    def store_or_fail(self) -> PostgresEventStore:
        self._ready()
        assert self.store is not None
        return self.store

    def event_log_or_fail(self) -> BulkEventLog:
        self._ready()
        assert self.event_log is not None
        return self.event_log

    async def _reap(self) -> None:
        """Requeue runs whose lease expired (and wake workers), and delete the temporary
        threads of finished stateless runs once their grace period is over."""
        while True:
            await asyncio.sleep(self.reap_interval)
            try:
                assert self.pool is not None and self.control is not None
                expired = await reap_expired(self.pool)
                if expired:
                    log.warning(
                        "DuraGraph Lab: %d run lease(s) expired; requeued: %s",
                        len(expired),
                        ", ".join(expired),
                    )
                    self.metrics.lease_expiries.inc(len(expired))
                    await self.control.signals.runs_queued()
                await self.control.threads.delete_expired_temporary(self.temporary_thread_grace)
                if self._server_experiments is not None:
                    # Those a server stopped running (this one, restarted, or another that died).
                    await self._server_experiments.resume_unfinished()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the database being away is reported by /health
                log.debug("DuraGraph Lab reaper: %s", err)

    async def _connect_bus(self) -> None:
        """Connect to NATS, set up the stream and start the relay, retrying the whole sequence
        until it succeeds: the API works without NATS meanwhile, and /health says why."""
        assert self.endpoints is not None
        assert self.pool is not None
        assert self.store is not None
        delay = 0.2
        while True:
            nc: NATS | None = None
            try:
                nc = await connect_nats(self.endpoints.nats_url, name="duragraph-api")
                self.stream = await ensure_stream(nc, self.subjects, self.stream_policy)
                relay = OutboxRelay(
                    self.pool,
                    nc,
                    self.subjects,
                    lease_ttl=self.relay_lease_ttl,
                    holder=self.relay_holder,
                    observer=self.metrics.relayed,
                )
                await relay.start()
            except asyncio.CancelledError:
                if nc is not None:
                    await nc.close()
                raise
            except Exception as err:
                self.bus_error = str(err) or type(err).__name__
                log.warning("DuraGraph Lab: NATS not ready (%s); retrying in %.1fs", self.bus_error, delay)
                if nc is not None:
                    with contextlib.suppress(Exception):
                        await nc.close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.nc, self.relay, self.bus_error = nc, relay, None
            self.store.add_after_commit(relay.wake)
            # Runs this process ends (its in-process worker's, a cancel of a queued run): their
            # waiters wake at once (bus.rest), not after the relay's next pass.
            self.store.add_after_commit(RestAnnouncer(nc, self.link.subjects))
            self.link.nc = nc
            # The in-process worker starts on its own: importing and registering graphs must not
            # delay the server being ready (the API and the relay do not need it).
            self._worker_task = asyncio.create_task(self._start_worker(nc), name="duragraph-worker-start")
            return

    async def _start_worker(self, nc: NATS) -> None:
        """The in-process worker for the graphs named in the configuration (the demo assistants
        under ``duragraph-lab dev``). A graph that fails to load is reported, not fatal."""
        if not (self.graph_refs or self.project) or self.store is None:
            return
        named: list[tuple[str, CompiledGraph | GraphSource]] = []
        if self.project is not None:
            try:
                # Imports run user code (and compile graphs): in a thread, not on the server's loop.
                named += await asyncio.to_thread(_project_sources, self.project)
            except DuraGraphError as err:
                self._worker_error(err)
        for ref in self.graph_refs:
            try:
                named.append((f"DuraGraphApp.graphs ({ref})", await asyncio.to_thread(load_graph, ref)))
            except DuraGraphError as err:
                self._worker_error(err)
        try:
            graphs = distinct_graphs(named)
        except DuraGraphError as err:
            # Which of the two was meant is the user's call: serve neither rather than guess.
            self._worker_error(err)
            return
        if not graphs:
            return
        worker = Worker(
            graphs,
            self.store,
            nc=nc,
            subjects=self.subjects,
            concurrency=self.worker_concurrency,
            lease_ttl=self.worker_lease_ttl,
            drain_timeout=10,
            wake_relay=False,  # this process's relay is woken directly after each commit
            store_settings=self.store_settings,
        )
        try:
            await worker.start()
        except GraphBuildError as err:  # a factory that cannot build its graph: said, not fatal
            with contextlib.suppress(Exception):
                await worker.stop(drain=False)
            self._worker_error(err)
            return
        except BaseException:
            with contextlib.suppress(Exception):
                await worker.stop(drain=False)
            raise
        # Only now: /health reports the worker once its graphs and assistants are registered.
        self.worker = worker
        if self.control is not None:
            # State edits run reducers and routers with the code this process serves.
            self.control.edits.graph_code = self._graph_spec
        langgraph = {gid: g for gid, g in worker.graphs.items() if not isinstance(g, CompiledGraph)}
        if langgraph and self._threads is not None:
            # LangGraph graphs' threads: state, history and edits answered by LangGraph itself.
            from duragraph_lab.langgraph.threads import LangGraphThreads

            self._threads.graph_threads = LangGraphThreads(self.store, langgraph, self.store_settings)

    def _graph_spec(self, graph_id: str) -> GraphSpec | None:
        graph = self.worker.graphs.get(graph_id) if self.worker is not None else None
        spec = getattr(graph, "spec", None)
        return spec if isinstance(spec, GraphSpec) else None

    def _worker_error(self, err: DuraGraphError) -> None:
        """A graph that fails to load: reported (/health, the log), not fatal."""
        self.startup_error = f"{self.startup_error + '; ' if self.startup_error else ''}{err}"
        log.error("DuraGraph Lab: %s", err)

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until the bus is connected and the relay runs (tests, start-up banner)."""
        if self._bus_task is not None:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._bus_task)

    async def wait_started(self) -> None:
        """Wait until the start-up work is done: the bus connected and the in-process worker
        serving, or failed to (unbounded: the bus is retried until it connects)."""
        if self._bus_task is not None:
            await asyncio.shield(self._bus_task)
        if self._worker_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._worker_task)

    def _start_trace_export(self) -> None:
        """OpenTelemetry traces of the runs that end, from the log (docs/operations.md), when the
        OTEL_* environment asks for them."""
        from duragraph_lab.otel import export_configured

        if not export_configured() or self.store is None:
            return
        try:
            from duragraph_lab.otel.export import TraceExporter
            from duragraph_lab.otel.loop import TraceExportLoop
            from duragraph_lab.store.export_cursor import PgExportCursor

            exporter = TraceExporter()
        except ImportError as err:
            log.error("OTEL_* asks for traces but %s: pip install 'duragraph-lab[otel]'", err)
            return
        except Exception as err:  # a bad OTEL_* value: the SDK says which
            log.error("OpenTelemetry export is off: %s", err)
            return
        self.trace_export = TraceExportLoop(
            self.store,
            PgExportCursor(self.store),
            exporter.export,
            holder=self.relay_holder,
            on_stop=exporter.shutdown,
        )
        self.trace_export.start()
        log.info("exporting run traces with %s", ", ".join(type(e).__name__ for e in exporter.exporters))

    async def stop(self) -> None:
        if self.trace_export is not None:
            await self.trace_export.stop()
            self.trace_export = None
        if self.webhooks is not None:
            await self.webhooks.stop()
        if self._reaper_task is not None:
            self._reaper_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reaper_task
        if self._resume_task is not None:
            self._resume_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._resume_task
        if self.ttl_sweeper is not None:
            await self.ttl_sweeper.stop()
        if self.cron_scheduler is not None:
            await self.cron_scheduler.stop()
        if self._server_experiments is not None:
            # Before the worker and the pool; an experiment stopped here resumes at the next start.
            await self._server_experiments.stop()
        if self._worker_task is not None and not self._worker_task.done():
            self._worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker_task
        if self.worker is not None:
            await self.worker.stop(drain=True)
            self.worker = None
        if self._bus_task is not None and not self._bus_task.done():
            self._bus_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._bus_task
        if self.relay is not None:
            await self.relay.stop()
            self.relay = None
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
            self.nc = None
        if self.pool is not None:
            await self.pool.close()
            self.pool = None
        # Stopping PostgreSQL waits for its shutdown checkpoint: keep the event loop free.
        await asyncio.to_thread(self.services.stop)

    # -- reporting ---------------------------------------------------------------------------
    async def health(self) -> tuple[bool, dict[str, Any]]:
        """``(ok, body)``: ok when PostgreSQL answers, NATS is connected, this server's relay runs
        without failures and the outbox is not further behind than ``relay_lag_threshold`` —
        whichever server publishes it. The body says what is wrong (``message``)."""
        postgres = await self._postgres_health()
        nats_ok = self.nc is not None and self.nc.is_connected
        nats: dict[str, Any] = {
            "ok": nats_ok,
            "embedded": bool(self.endpoints and self.endpoints.embedded_nats),
            "url": redact_nats_url(self.endpoints.nats_url) if self.endpoints else None,
            "stream": self.subjects.stream_name,
            "stream_limits": self.stream.as_dict() if self.stream is not None else None,
            "error": self.bus_error,
        }
        for name, part in (("postgres", postgres), ("nats", nats)):
            supervised = supervision(name)  # `dev`/`serve` restart their embedded services
            if supervised is not None:
                part["supervisor"] = supervised
        relay: dict[str, Any] = {"ok": False, "running": False}
        if self.relay is not None:
            relay = {**self.relay.status.as_dict()}
            relay["ok"] = self.relay.status.healthy
        relay["lease_ttl_seconds"] = self.relay_lease_ttl
        relay["lag_threshold_seconds"] = self.relay_lag_threshold
        if postgres["ok"]:
            relay.update(await self._outbox_health())
        lagging = relay.pop("lag_error", None)
        if lagging:
            relay["ok"] = False
        ok = bool(postgres["ok"] and nats_ok and relay["ok"])
        problems = []
        if postgres.get("error"):
            problems.append(f"PostgreSQL: {postgres['error']}")
        if not nats_ok:
            problems.append(f"NATS: {self.bus_error or 'not connected'}")
        if self.relay is None and nats_ok:
            problems.append("relay: not started yet")
        elif self.relay is not None and not self.relay.status.healthy:
            problems.append(f"relay: {self.relay.status.last_error or self.relay.status.role}")
        if lagging:
            relay["error"] = lagging
            problems.append(f"relay: {lagging}")
        if self.stream is not None and self.stream.note:
            problems.append(f"NATS: {self.stream.note}")  # not a failure, but worth knowing
        worker = None
        if self.worker is not None:
            worker = {
                "worker_id": self.worker.worker_id,
                "graphs": list(self.worker.graphs),
                "active_runs": len(self.worker.active),
                "completed_runs": self.worker.completed,
            }
        status = (
            "ok" if ok else ("degraded" if postgres["ok"] and self.startup_error is None else "unavailable")
        )
        body = {
            "status": status,
            "version": __version__,
            "error": self.startup_error,
            "message": "; ".join(problems) or None,
            "postgres": postgres,
            "nats": nats,
            "relay": relay,
            "worker": worker,
        }
        return ok, body

    async def _outbox_health(self) -> dict[str, Any]:
        """The outbox's backlog and lag and the relay lease, from PostgreSQL: the same on every
        server, the leader or not, and whether or not this server's own relay runs."""
        assert self.pool is not None
        try:
            if self.relay is not None:
                report = await self.relay.report()  # without the rows it published, not deleted yet
            else:
                async with self.pool.connection(timeout=2.0) as conn:
                    report = await relay_lease.report(conn)
        except Exception as err:
            return {"lag_error": f"cannot read the outbox: {type(err).__name__}: {err}"}
        lease = report.lease
        out: dict[str, Any] = {
            "backlog": report.backlog,
            "lag_seconds": round(report.lag_seconds, 3),
            "leader": {**lease.as_dict(), "this_server": lease.holder == self.relay_holder},
        }
        if report.lag_seconds > self.relay_lag_threshold:
            if lease.held:
                who = (
                    f"the lease is held by {lease.holder}"
                    f"{' (this server)' if lease.holder == self.relay_holder else ''}, "
                    f"renewed {lease.renewed_seconds_ago:.1f}s ago"
                )
            else:
                who = (
                    "no relay holds the lease"
                    + (
                        f" ({lease.holder}'s expired {-lease.expires_in_seconds:.1f}s ago)"
                        if lease.holder
                        else ""
                    )
                    + ": is any API server's relay running and connected to NATS?"
                )
            out["lag_error"] = (
                f"events are not reaching NATS: {report.backlog} committed event(s) wait in the outbox, "
                f"the oldest for {report.lag_seconds:.1f}s (threshold {self.relay_lag_threshold:g}s); {who}"
            )
        return out

    async def readiness(self) -> dict[str, bool]:
        """``{"postgres": reachable, "nats": connected}`` for the public probes (``/ready``,
        ``/ok?check_db=1``): states only, no URL nor error text."""
        postgres = await self._postgres_health()
        return {"postgres": bool(postgres["ok"]), "nats": bool(self.nc is not None and self.nc.is_connected)}

    async def _postgres_health(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": False,
            "embedded": bool(self.endpoints and self.endpoints.embedded_postgres),
            "url": redact(self.endpoints.database_url) if self.endpoints else None,
        }
        if self.pool is None:
            return out
        begin = time.perf_counter()
        try:
            async with self.pool.connection(timeout=2.0) as conn:
                version = await schema_version(conn)
            out["latency_ms"] = round((time.perf_counter() - begin) * 1000, 2)
            out["schema_version"] = version
            expected = len(available_migrations())
            out["ok"] = version == expected
            if version != expected:
                out["error"] = (
                    f"schema at version {version}, this server needs {expected}: run duragraph-lab migrate"
                )
        except Exception as err:
            out["error"] = f"{type(err).__name__}: {err}"
        return out

    def worker_connection(self) -> dict[str, Any] | None:
        """Where a worker reaches PostgreSQL and NATS, credentials included (``GET
        /worker/connection``), or None when there are no services. Whoever holds the server's
        token can already run code on it (kernels, terminals): this tells them nothing more."""
        e = self.endpoints
        if e is None:
            return None
        return {
            "database_url": e.database_url,
            "database_tcp_url": e.database_tcp_url,
            "nats_url": e.nats_url,
            "subject_prefix": self.subjects.prefix,
            # Embedded services listen on this machine only (a Unix socket, 127.0.0.1).
            "local_only": bool(e.embedded_postgres or e.embedded_nats),
        }

    def info(self) -> dict[str, Any]:
        e = self.endpoints
        return {
            "name": "duragraph-lab",
            "version": __version__,
            "python": platform.python_version(),
            "data_dir": str(self.settings.data_dir),
            "started_at": self.started_at,
            "services_ready_in_seconds": self.services.started_in,
            "postgres": {
                "embedded": bool(e and e.embedded_postgres),
                "url": redact(e.database_url) if e else None,
                "tcp_url": redact(e.database_tcp_url) if e and e.database_tcp_url else None,
            },
            "nats": {
                "embedded": bool(e and e.embedded_nats),
                "url": redact_nats_url(e.nats_url) if e else None,
                "subject_prefix": self.subjects.prefix,
                "stream": self.subjects.stream_name,
            },
            "error": self.startup_error,
        }


def _project_sources(project: Project) -> list[tuple[str, CompiledGraph | GraphSource]]:
    project.activate()
    return project_graphs(project)


def _stored_langgraph_threads(store: PostgresEventStore, assistants: Assistants) -> GraphThreads | None:
    """LangGraph threads whose graph this process does not serve: their state from LangGraph's
    stored checkpoints (None without langgraph installed: the native fold answers)."""
    try:
        import langgraph  # noqa: F401  (its serializer reads the checkpoints)

        from duragraph_lab.langgraph.threads import StoredLangGraphThreads, state_channels
    except ImportError:
        return None

    async def state_keys(graph_id: str) -> tuple[list[str], dict[str, Any]]:
        return state_channels(await assistants.topology(graph_id))

    return StoredLangGraphThreads(store, state_keys)
