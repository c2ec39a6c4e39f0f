"""The Python API behind the ``%duragraph`` magics: a connection to a server, the graphs this
kernel serves, and handles on runs. Everything a magic does, code can do too::

    from duragraph_lab.notebook.session import current

    session = current()
    session.connect("http://127.0.0.1:8888/", token="...")
    run = session.run("chat", input={"messages": [{"role": "user", "content": "hi"}]})
    run.wait(60)
    run.events()          # a pandas DataFrame
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import importlib
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from duragraph_lab.client import DuraGraphAPIError, DuraGraphClient, DuraGraphClientError
from duragraph_lab.client.models import Dataset, Health, Info, ReplayReport, Run, RunResult, ThreadState
from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.langgraph.source import GraphSource
from duragraph_lab.langgraph.sources import maybe_graph, served_source
from duragraph_lab.notebook.discover import Found, discover
from duragraph_lab.notebook.kernel_worker import KernelWorker, WorkerEndpoints, resolve_endpoints

POLL_SECONDS = 0.1


class NotConnected(DuraGraphError):
    code = "not_connected"


class RunTimeout(DuraGraphError):
    code = "run_timeout"


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Connection:
    """A connected client: ``.client`` is a :class:`~duragraph_lab.client.DuraGraphClient`."""

    def __init__(self, client: DuraGraphClient, found: Found, health: Health, info: Info) -> None:
        self.client = client
        self.url = found.url
        self.source = found.source
        self.health = health
        self.info = info

    @property
    def api_url(self) -> str:
        return self.client.url

    def __repr__(self) -> str:
        return f"<DuraGraph connection {self.api_url} ({self.health.status}, {self.source})>"

    def _repr_html_(self) -> str:
        graphs = ", ".join(f"<code>{html.escape(g)}</code>" for g in self.health.graphs) or "none"
        return (
            f"<b>DuraGraph Lab {html.escape(self.info.version)}</b> at "
            f"<code>{html.escape(self.api_url)}</code> &mdash; {html.escape(self.health.status)} "
            f"<small>({html.escape(self.source)})</small><br>server worker graphs: {graphs}"
        )


class RunHandle:
    """A run started from the notebook. It follows its run through interrupts and resumes to the
    end: ``status`` and ``values`` are read from the server on each access, ``resume`` answers
    the interrupt on this same handle."""

    def __init__(self, session: Session, run: Run) -> None:
        self.session = session
        self.run_id = run.run_id
        self.thread_id = run.thread_id
        self.assistant_id = run.assistant_id
        self.graph_id = run.graph_id
        self.last: Run = run
        self.result_: RunResult | None = None
        self._result_of: tuple[str, Any] | None = None  # the (status, updated_at) result_ belongs to
        self._views: list[Any] = []

    @property
    def client(self) -> DuraGraphClient:
        return self.session.client

    def refresh(self) -> Run:
        self.last = self.client.runs.get(self.run_id)
        self.graph_id = self.last.graph_id or self.graph_id
        return self.last

    @property
    def status(self) -> str:
        return self.refresh().status

    def wait(self, timeout: float | None = 300.0) -> RunResult:
        """Block until the run is at rest (done, failed, cancelled, or waiting for a human). Safe in
        a kernel that serves the run's graph: its worker has a thread and loop of its own."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.refresh().at_rest:
            if deadline is not None and time.monotonic() > deadline:
                raise RunTimeout(f"run {self.run_id} still {self.last.status} after {timeout:g}s")
            time.sleep(POLL_SECONDS)
        return self.result()

    async def wait_async(self, timeout: float | None = 300.0) -> RunResult:
        """Like :meth:`wait`, leaving the caller's event loop running."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.refresh().at_rest:
            if deadline is not None and time.monotonic() > deadline:
                raise RunTimeout(f"run {self.run_id} still {self.last.status} after {timeout:g}s")
            await asyncio.sleep(POLL_SECONDS)
        return self.result()

    def result(self) -> RunResult:
        """The values (or interrupts, or error) of a run at rest; waits for it to be at rest."""
        self.result_ = self.client.runs.join(self.run_id, thread_id=self.thread_id)
        self.refresh()
        self._result_of = (self.last.status, self.last.updated_at)
        return self.result_

    def _current_result(self) -> RunResult | None:
        """The result of the run as it is now (fetched again when the run moved on), or None
        while it is not at rest."""
        run = self.refresh()
        if not run.at_rest:
            return None
        if self.result_ is None or self._result_of != (run.status, run.updated_at):
            return self.result()
        return self.result_

    @property
    def values(self) -> dict[str, Any]:
        """The run's state values now: its result once at rest (the state at an interrupt, the
        final values after a resume), else the thread's current state. Messages in them read
        as LangGraph's (``msg.content``, ``msg.type``, ``msg.tool_calls``)."""
        result = self._current_result()
        if result is not None:
            return dict(result.values)
        return dict(self.client.threads.state(self.thread_id).values)

    @property
    def interrupts(self) -> list[Any]:
        """The questions the run waits on (empty unless it is interrupted)."""
        result = self._current_result()
        return list(result.interrupts) if result is not None else []

    def events(self) -> Any:
        """The run's event log as a pandas DataFrame; row ``i`` is position ``i`` of ``at=``."""
        return self.client.runs.events_frame(self.run_id)

    def spans(self) -> Any:
        """One row per node execution, as a pandas DataFrame."""
        return self.client.runs.spans_frame(self.run_id)

    def resume(self, value: Any = True) -> RunHandle:
        """Answer the run's interrupt: the run continues under the same id, and this handle (and
        the widgets it displayed) follow it. Returns the handle, to chain ``.wait()``."""
        run = self.client.runs.create(
            self.thread_id, self.assistant_id or str(self.graph_id), command={"resume": value}
        )
        if run.run_id != self.run_id:
            return RunHandle(self.session, run)
        self.last, self.result_, self._result_of = run, None, None
        for view in self._views:
            with contextlib.suppress(Exception):  # a widget is a view; the handle works without it
                view.follow_in_background()
        return self

    def cancel(self) -> None:
        self.client.runs.cancel(self.run_id, thread_id=self.thread_id)

    @property
    def forked_from(self) -> dict[str, Any] | None:
        """Where this run branched, for a fork: ``{"run_id", "seq", "position", "edited"}``
        (``position`` as this handle's ``at=``); None for other runs."""
        origin = self.last.forked_from
        return dict(origin) if origin else None

    # -- history ---------------------------------------------------------------------------------
    def seq_at(self, at: int | str) -> int:
        """The global seq of a point in this run: ``at`` is a position in its event log (0 the
        first event, -1 the last, as the rows of :meth:`events`) or the id of one of its
        checkpoints."""
        if isinstance(at, bool) or not isinstance(at, (int, str)):
            raise DuraGraphClientError(
                f"at= is a position in the run's events (an int) or a checkpoint id, not {at!r}"
            )
        if isinstance(at, str) and not at.lstrip("-").isdigit():
            state = self.client.threads.state(self.thread_id, at)
            if state.seq is None or (state.run_id is not None and state.run_id != self.run_id):
                raise DuraGraphClientError(
                    f"checkpoint {at} belongs to run {state.run_id}, not to run {self.run_id}"
                )
            return state.seq
        position = int(at)
        events = list(self.client.runs.iter_events(self.run_id))
        if not -len(events) <= position < len(events):
            raise DuraGraphClientError(
                f"run {self.run_id} has {len(events)} events (positions 0..{len(events) - 1}, "
                f"or -1 for the last): at={position} is outside it"
            )
        return events[position].seq

    def state(self, at: int | str | None = None) -> ThreadState:
        """The state of this run now (``at=None``), or at a point of it: the last checkpoint of
        this run at or before position ``at`` of its event log, or checkpoint ``at``."""
        if isinstance(at, str) and not at.lstrip("-").isdigit():
            self.seq_at(at)  # belongs to this run
            return self.client.threads.state(self.thread_id, at)
        upto = None if at is None else self.seq_at(at)
        before: str | None = None
        while True:
            page = self.client.threads.history(self.thread_id, limit=100, before=before)
            for state in page:  # newest first
                if state.run_id == self.run_id and (upto is None or (state.seq or 0) <= upto):
                    return state
            if len(page) < 100 or page[-1].checkpoint_id is None:
                break
            before = page[-1].checkpoint_id
        raise DuraGraphClientError(f"run {self.run_id} has no checkpoint at or before at={at!r}")

    def fork(self, at: int | str = -1, *, update: Mapping[str, Any] | None = None) -> RunHandle:
        """A new run on the same thread branching after a point of this one (``at``: a position
        in its events, -1 the last, or one of its checkpoint ids), optionally with a state update."""
        return RunHandle(self.session, self.client.runs.fork(self.run_id, self.seq_at(at), update=update))

    def replay(self) -> ReplayReport:
        """Re-execute the run with the graph's current code; the first divergence, if any."""
        return self.client.runs.replay(self.run_id)

    def view(self, *, live: bool = True) -> Any:
        """The ``RunView`` widget of :mod:`duragraph_lab.notebook.widgets` (None when that module or
        its front-end is unavailable); ``live``: it follows the run, on a thread of its own (so it
        stays live while a cell blocks), through interrupts and resumes, until the run ends."""
        try:
            widgets = importlib.import_module("duragraph_lab.notebook.widgets")
            view_class = widgets.RunView
            view = view_class.for_run(self.client, self.run_id)
        except Exception:  # no widgets: the HTML summary stands in
            return None
        self._views.append(view)
        if live and not self.last.terminal:
            view.follow_in_background()
        return view

    def __repr__(self) -> str:
        waiting = self.last.waiting_for
        why = f" ({waiting.get('message')})" if waiting else ""
        return f"<RunHandle {self.run_id} on thread {self.thread_id}: {self.last.status}{why}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The live RunView when widgets are available, with an HTML summary for static viewers."""
        out: dict[str, Any] = {}
        bundle = getattr(self.view(), "_repr_mimebundle_", None)
        if bundle is not None:
            got = bundle(include=include, exclude=exclude)
            out.update(dict(got[0] if isinstance(got, tuple) else got or {}))
        out.update({"text/plain": repr(self), "text/html": self._html()})
        return out

    def _html(self) -> str:
        run = self.last
        rows: list[tuple[str, Any]] = [
            ("run", run.run_id),
            ("thread", run.thread_id),
            ("graph", run.graph_id or run.assistant_id or ""),
            ("status", run.status),
            ("step", "" if run.step is None else run.step),
            ("worker", run.worker_id or ""),
        ]
        if run.waiting_for:
            rows.append(("waiting", run.waiting_for.get("message") or run.waiting_for.get("reason")))
        if run.forked_from:
            origin = run.forked_from
            rows.append(("forked from", f"run {origin.get('run_id')} at position {origin.get('position')}"))
        if self.result_ is not None:
            if self.result_.interrupts:
                rows.append(("waiting for", [i.value for i in self.result_.interrupts]))
            elif self.result_.error:
                rows.append(("error", self.result_.error))
            else:
                rows.append(("values", self.result_.values))
        body = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td><code>{html.escape(_short(v))}</code></td></tr>"
            for k, v in rows
        )
        return f"<table class='duragraph-run'>{body}</table>"


class ServeResult:
    """What ``serve`` answers: the graphs now served and the assistant ids runs can use."""

    def __init__(self, worker: KernelWorker, served: Mapping[str, CompiledGraph | GraphSource]) -> None:
        self.worker = worker
        self.graphs = dict(served)

    def __repr__(self) -> str:
        return repr(self.worker)

    def _repr_html_(self) -> str:
        return self.worker._repr_html_()


class Status:
    """Server health and what this kernel serves."""

    def __init__(
        self,
        connection: Connection | None,
        health: Health | None,
        worker: dict[str, Any],
        workers: dict[str, Any] | None = None,
    ) -> None:
        self.connection = connection
        self.health = health
        self.worker = worker
        #: ``GET /workers``: the live workers and the graphs each serves (None: not asked).
        self.workers = workers

    @property
    def ok(self) -> bool:
        return self.health is not None and self.health.ok

    def __repr__(self) -> str:
        where = self.connection.api_url if self.connection else "not connected"
        status = self.health.status if self.health else "-"
        return f"<DuraGraph status {where}: {status}; kernel serves {self.worker.get('serving')}>"

    def _repr_html_(self) -> str:
        if self.connection is None or self.health is None:
            return "<b>DuraGraph</b>: not connected (<code>%duragraph connect</code>)"
        h = self.health
        parts = [
            ("server", self.connection.api_url),
            ("status", h.status),
            ("postgres", "ok" if h.postgres.get("ok") else h.postgres.get("error") or "down"),
            ("nats", "ok" if h.nats.get("ok") else h.nats.get("error") or "down"),
            ("server worker", ", ".join(h.graphs) or "none"),
            ("this kernel serves", ", ".join(self.worker.get("serving") or []) or "nothing"),
        ]
        for w in (self.workers or {}).get("workers", []):
            graphs = ", ".join(w.get("graphs") or []) or "no graphs"
            parts.append(
                (f"worker {w.get('worker_id')}", f"{w.get('hostname')} pid {w.get('pid')}: {graphs}")
            )
        body = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in parts
        )
        return f"<table class='duragraph-status'>{body}</table>"


class Session:
    """One per kernel (see :func:`current`): the connection and the kernel's worker."""

    def __init__(self) -> None:
        self.connection: Connection | None = None
        self.worker = KernelWorker()
        self.last_thread_id: str | None = None
        self.timeout = 30.0

    # -- connecting ----------------------------------------------------------------------------
    def connect(self, url: str | None = None, token: str | None = None) -> Connection:
        found = Found(url, token, "given") if url else discover()
        if found is None:
            raise NotConnected(
                "no server found: this kernel was not started by a Jupyter server running DuraGraph "
                "Lab and DURAGRAPH_URL is not set; pass a URL: %duragraph connect URL --token TOKEN"
            )
        if token is None and found.token is not None:
            token = found.token
        client = DuraGraphClient(found.url, token=token or found.token, timeout=self.timeout)
        try:
            health = client.health()
            info = client.info()
        except BaseException:
            client.close()
            raise
        if self.connection is not None:
            self.connection.client.close()
        self.connection = Connection(client, found, health, info)
        return self.connection

    @property
    def client(self) -> DuraGraphClient:
        if self.connection is None:
            self.connect()
        assert self.connection is not None
        return self.connection.client

    # -- serving -------------------------------------------------------------------------------
    def serves(self, graph_id: str | None) -> bool:
        return graph_id is not None and graph_id in self.worker.serving

    async def serve_async(
        self,
        graphs: Mapping[str, Any],
        *,
        lease_ttl: float = 30.0,
        concurrency: int = 8,
        database_url: str | None = None,
        nats_url: str | None = None,
        replace: bool = False,
    ) -> ServeResult:
        """:meth:`serve`, awaited: the caller's loop stays free while the graphs register."""
        compiled, endpoints = await asyncio.to_thread(self._prepare, graphs, database_url, nats_url)
        future = self.worker.start(
            compiled, endpoints, lease_ttl=lease_ttl, concurrency=concurrency, replace=replace
        )
        served: dict[str, CompiledGraph | GraphSource] = await asyncio.wrap_future(future)
        return ServeResult(self.worker, served)

    def serve(
        self,
        graphs: Mapping[str, Any],
        *,
        lease_ttl: float = 30.0,
        concurrency: int = 8,
        database_url: str | None = None,
        nats_url: str | None = None,
        replace: bool = False,
        timeout: float | None = 60.0,
    ) -> ServeResult:
        """Serve the graphs (name → StateGraph or CompiledGraph) from this process; returns once
        they are registered. The worker runs on its own thread and event loop, so a cell that
        blocks afterwards (``run.wait()``) never stops it."""
        compiled, endpoints = self._prepare(graphs, database_url, nats_url)
        future = self.worker.start(
            compiled, endpoints, lease_ttl=lease_ttl, concurrency=concurrency, replace=replace
        )
        return ServeResult(self.worker, future.result(timeout))

    def _prepare(
        self, graphs: Mapping[str, Any], database_url: str | None, nats_url: str | None
    ) -> tuple[dict[str, CompiledGraph | GraphSource], WorkerEndpoints]:
        compiled: dict[str, CompiledGraph | GraphSource] = {}
        for name, graph in graphs.items():
            g = compile_graph(name, graph)
            compiled[g.name if isinstance(g, CompiledGraph) else g.graph_id] = g
        endpoints = resolve_endpoints(
            self.client.info().raw,
            database_url=database_url,
            nats_url=nats_url,
            connection=None if database_url and nats_url else self._worker_connection(),
        )
        return compiled, endpoints

    def _worker_connection(self) -> dict[str, Any] | None:
        """The server's ``GET /worker/connection``; None where it does not share it (403) or is
        older than the route (404)."""
        try:
            c = self.client.worker_connection()
        except DuraGraphAPIError as err:
            if err.status in (403, 404):
                return None
            raise
        return {
            "database_url": c.database_url,
            "nats_url": c.nats_url,
            "subject_prefix": c.subject_prefix,
            "local_only": c.local_only,
        }

    def stop_serving(self, timeout: float | None = 30.0) -> None:
        self.worker.halt().result(timeout)
        self.worker.graphs = {}

    # -- runs ----------------------------------------------------------------------------------
    def run(
        self,
        assistant: Any,
        *,
        input: Any = None,
        thread_id: str | None = None,
        command: Mapping[str, Any] | None = None,
    ) -> RunHandle:
        """Start a run (on a new thread unless ``thread_id``); ``assistant`` is an assistant or
        graph id, or a graph object this kernel serves."""
        assistant_id = assistant.name if isinstance(assistant, CompiledGraph) else str(assistant)
        if thread_id is None:
            thread_id = self.client.threads.create(metadata={"created_by": "notebook"}).thread_id
        options: dict[str, Any] = {}
        if command is not None:
            options["command"] = dict(command)
        else:
            options["input"] = input if input is not None else {}
        run = self.client.runs.create(thread_id, assistant_id, **options)
        self.last_thread_id = run.thread_id
        return RunHandle(self, run)

    def handle(self, run_id: str) -> RunHandle:
        return RunHandle(self, self.client.runs.get(run_id))

    def runs(self, thread_id: str | None = None, *, status: str | None = None, limit: int = 20) -> Any:
        """Runs as a DataFrame, newest first: of a thread, else of the most recent threads."""
        threads = [thread_id] if thread_id else None
        if threads is None:
            threads = [t.thread_id for t in self.client.threads.search(limit=limit)]
        found: list[Run] = []
        for tid in threads:
            found.extend(self.client.runs.list(tid, limit=limit, status=status))
        found.sort(key=lambda r: r.created_at.timestamp() if r.created_at else 0.0, reverse=True)
        return runs_frame(found[:limit])

    def events(self, run_id: str) -> Any:
        return self.client.runs.events_frame(run_id)

    def spans(self, run_id: str) -> Any:
        return self.client.runs.spans_frame(run_id)

    def replay(self, run_id: str) -> ReplayReport:
        return self.client.runs.replay(run_id)

    def fork(self, run_id: str, seq: int, *, update: Mapping[str, Any] | None = None) -> RunHandle:
        return RunHandle(self, self.client.runs.fork(run_id, seq, update=update))

    def status(self) -> Status:
        if self.connection is None:
            return Status(None, None, self.worker.describe())
        health = self.client.health()
        try:
            workers = self.client.workers()
        except DuraGraphAPIError as err:  # a server older than GET /workers
            if err.status != 404:
                raise
            workers = None
        return Status(self.connection, health, self.worker.describe(), workers)

    # -- evaluations (see duragraph_lab.evals and docs/evals.md) ----------------------------------
    def dataset_create(
        self, name: str, *, new_version: bool = False, limit: int | None = None, **selection: Any
    ) -> DatasetView:
        """Freeze the runs matching ``selection`` (the filters of ``client.datasets.create``) into
        a dataset; with ``new_version``, a name already taken gets a new version."""
        if_exists = "new_version" if new_version else "raise"
        dataset = self.client.datasets.create(name, if_exists=if_exists, limit=limit, **selection)
        return DatasetView(dataset)

    def datasets(self, *, name: str | None = None, limit: int = 50) -> Any:
        """Datasets as a DataFrame, most recently changed first."""
        pd: Any = importlib.import_module("pandas")
        columns = ["name", "dataset_id", "version", "example_count", "description", "updated_at"]
        found = self.client.datasets.list(name=name, limit=limit)
        frame = pd.DataFrame([{c: getattr(d, c) for c in columns} for d in found], columns=columns)
        frame["updated_at"] = pd.to_datetime(frame["updated_at"], utc=True).astype("datetime64[ns, UTC]")
        return frame

    def dataset_examples(self, dataset: str, *, version: int | None = None) -> Any:
        """A dataset version's examples as a DataFrame (the latest version by default)."""
        return self.client.datasets.examples_frame(dataset, version=version)

    def experiment(self, dataset: str, assistant: str, evaluators: list[Any], **options: Any) -> Any:
        """``duragraph_lab.evals.run_experiment`` with this session's client: its report."""
        from duragraph_lab.notebook.experiments import run_experiment

        return run_experiment(self.client, dataset, assistant, evaluators, **options)

    def compare(self, base: str, candidate: str) -> Any:
        """Two experiments example by example (``duragraph_lab.evals.compare``)."""
        from duragraph_lab.notebook.experiments import compare

        return compare(self.client, base, candidate)

    def export_eval(self, path: str, **arguments: Any) -> ExportedNotebook:
        """Write the evaluation notebook (``duragraph_lab.evals.export_notebook``) to ``path``."""
        from duragraph_lab.evals.export import export_notebook

        nb = export_notebook(path, **arguments)
        return ExportedNotebook(path, nb, arguments)


class DatasetView:
    """A dataset as the magics show it: name, id, versions and their example counts."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.dataset_id = dataset.dataset_id
        self.name = dataset.name
        self.version = dataset.version
        self.example_count = dataset.example_count

    def __repr__(self) -> str:
        return (
            f"<Dataset {self.name!r} {self.dataset_id}: version {self.version}, "
            f"{self.example_count} examples>"
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{v.version}</td><td>{v.example_count}</td>"
            f"<td>{html.escape(str(v.created_at or ''))}</td></tr>"
            for v in self.dataset.versions
        )
        return (
            f"<div class='duragraph-dataset'><b>{html.escape(self.name)}</b> "
            f"<code>{html.escape(self.dataset_id)}</code>: version {self.version}, "
            f"{self.example_count} examples<table><tr><th>version</th><th>examples</th>"
            f"<th>created</th></tr>{rows}</table></div>"
        )


class ExportedNotebook:
    """An exported evaluation notebook: ``path``, the notebook (``nb``) and a link to open it."""

    def __init__(self, path: str, nb: Any, arguments: Mapping[str, Any]) -> None:
        self.path = path
        self.nb = nb
        self.dataset = str(arguments.get("dataset"))
        self.assistant = str(arguments.get("assistant"))

    def __repr__(self) -> str:
        return f"<Exported evaluation notebook {self.path} (assistant {self.assistant} on dataset {self.dataset})>"

    def __fspath__(self) -> str:
        return self.path

    def _repr_html_(self) -> str:
        # A relative link, as IPython's FileLink: Jupyter opens it next to this notebook.
        href = html.escape(quote(self.path), quote=True)
        return (
            f"<a href='{href}' target='_blank'>{html.escape(self.path)}</a>: evaluation of "
            f"<code>{html.escape(self.assistant)}</code> on <code>{html.escape(self.dataset)}</code> "
            f"({len(self.nb.cells)} cells)"
        )


def compile_graph(name: str, graph: Any) -> CompiledGraph | GraphSource:
    """A served graph: a CompiledGraph as it is, a StateGraph compiled under ``name``; a
    LangGraph graph (compiled or not) served by LangGraph's engine under its own name, or
    ``name`` when it has LangGraph's default one."""
    if isinstance(graph, CompiledGraph):
        return graph
    if isinstance(graph, StateGraph):
        return graph.compile(name=name)
    if maybe_graph(graph):
        return served_source(name, graph)
    raise DuraGraphClientError(
        f"{name} is a {type(graph).__name__}, not a StateGraph or compiled graph (DuraGraph's or LangGraph's)"
    )


def runs_frame(runs: list[Run]) -> Any:
    pd: Any = importlib.import_module("pandas")

    columns = ["run_id", "thread_id", "graph_id", "status", "created_at", "updated_at", "step", "worker_id"]
    frame = pd.DataFrame([{c: getattr(r, c) for c in columns} for r in runs], columns=columns)
    for column in ("created_at", "updated_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    frame["status"] = frame["status"].astype("category")
    frame["step"] = frame["step"].astype("Int64")
    return frame


def _short(value: Any, limit: int = 300) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_SESSION: Session | None = None


def current() -> Session:
    """This process's session (created on first use)."""
    global _SESSION
    if _SESSION is None:
        _SESSION = Session()
    return _SESSION
