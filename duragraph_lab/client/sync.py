"""The synchronous client: ``DuraGraphClient(url, token)``."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, Unpack

import httpx

from duragraph_lab.client import _calls as c
from duragraph_lab.client import models as m
from duragraph_lab.client._common import (
    DEFAULT_TIMEOUT,
    RETRY_STATUSES,
    Call,
    RunOptions,
    StreamTarget,
    api_error,
    backoff,
    check_event_stream,
    compact,
    connection_error,
    create_stream,
    join_stream,
    raise_for_status,
    run_body,
    settings,
    thread_stream,
)
from duragraph_lab.client.errors import DuraGraphAPIError, DuraGraphClientError, DuraGraphConnectionError
from duragraph_lab.client.frames import (
    DataFrame,
    events_to_frame,
    examples_to_frame,
    results_to_frame,
    spans_to_frame,
)
from duragraph_lab.client.sse import Resumption, SSEDecoder, StreamPart, decode_data

T = TypeVar("T")


class DuraGraphClient:
    """A client of DuraGraph Lab's API, mounted by the Jupyter server extension.

    ``url`` is the Jupyter server's URL (``http://127.0.0.1:8888/``, or a URL already ending in
    ``duragraph/api/v1``; a ``?token=`` in it is used when no token is given); ``token`` the
    server's token (sent as ``Authorization: token ...``). Both default to ``DURAGRAPH_URL`` and
    ``DURAGRAPH_TOKEN``. Streams that lose their connection reconnect up to ``max_reconnects``
    times in a row, waiting ``reconnect_delay`` seconds and doubling (at most 5 s).

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        max_reconnects: int = 5,
        reconnect_delay: float = 0.25,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings(url, token, timeout, headers, max_reconnects, reconnect_delay)
        self._http = httpx.Client(
            base_url=self.settings.base_url,
            headers=self.settings.headers,
            timeout=self.settings.timeout,
            transport=transport,
        )
        self.assistants = Assistants(self)
        self.threads = Threads(self)
        self.runs = Runs(self)
        self.datasets = Datasets(self)
        self.experiments = Experiments(self)

    @property
    def url(self) -> str:
        """The API's base URL (``.../duragraph/api/v1/``)."""
        return self.settings.base_url

    def __repr__(self) -> str:
        return f"DuraGraphClient({self.url!r})"

    def __enter__(self) -> DuraGraphClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing ------------------------------------------------------------------------------
    def call(self, call: Call[T]) -> T:
        """Send one request and read its answer (raises DuraGraphAPIError on a non-2xx)."""
        if call.read_chunks is not None:
            return self._call_chunks(call, call.read_chunks)
        try:
            response = self._http.request(call.method, call.path, **call.kwargs())
        except httpx.TransportError as err:
            raise connection_error(self.url + call.path, err) from err
        raise_for_status(response, call.accept)
        return call.read(response)

    def _call_chunks(self, call: Call[T], read: Callable[[Iterator[bytes]], T]) -> T:
        try:
            with self._http.stream(call.method, call.path, **call.kwargs()) as response:
                if not response.is_success:
                    response.read()
                    raise_for_status(response, call.accept)
                return read(response.iter_bytes())
        except httpx.TransportError as err:
            raise connection_error(self.url + call.path, err) from err

    def _at_rest(self, target: StreamTarget) -> bool:
        """Whether the streamed run is finished or paused (a deleted run counts as finished)."""
        assert target.run_id is not None
        try:
            return self.call(c.run_get(target.run_id, target.thread_id)).at_rest
        except DuraGraphAPIError as err:
            if err.status == 404:
                return True
            if err.status in RETRY_STATUSES:
                return False
            raise
        except DuraGraphConnectionError:
            return False

    def stream_parts(self, target: StreamTarget) -> Iterator[StreamPart]:
        """Read an SSE stream of a run, reconnecting with ``Last-Event-ID`` when the connection
        drops (or the body ends before the run is at rest); every part once, in order."""
        s = self.settings
        resume = Resumption()
        if target.last_event_id is not None:
            resume.last_id = target.last_event_id
            resume.last_seq = int(target.last_event_id) if target.last_event_id.isdigit() else None
        failures, connected, retry_hint = 0, False, None
        while True:
            reason = ""
            try:
                with self._http.stream(
                    target.method, target.path, **target.request({}, resume.last_id)
                ) as response:
                    if not response.is_success:
                        response.read()
                        if not (connected and response.status_code in RETRY_STATUSES):
                            raise api_error(response)
                        reason = f"HTTP {response.status_code}"
                    else:
                        check_event_stream(response)
                        target.learn(response)
                        connected = True
                        decoder = SSEDecoder()
                        for chunk in response.iter_bytes():
                            for raw in decoder.feed(chunk):
                                if raw.event == "metadata":
                                    target.learn_metadata(decode_data(raw.data))
                                last, parts = resume.last_id, resume.accept(raw)
                                if parts or resume.last_id != last:
                                    failures = 0  # progress: the reconnect budget starts over
                                yield from parts
                        retry_hint = decoder.retry
            except httpx.TransportError as err:
                if not (connected and target.can_rejoin):
                    raise connection_error(self.url + target.path, err) from err
                reason = f"{type(err).__name__}: {err}"
            else:
                if not reason and (not target.can_rejoin or target.follows_thread or self._at_rest(target)):
                    yield from resume.finish()
                    return
                reason = reason or "the stream ended before the run came to rest"
            failures += 1
            if failures > s.max_reconnects:
                raise DuraGraphConnectionError(
                    self.url + target.path, f"gave up after {s.max_reconnects} reconnects ({reason})"
                )
            time.sleep(backoff(s, failures, retry_hint))
            target.rejoin()
            resume.reconnected()

    # -- system --------------------------------------------------------------------------------
    def health(self) -> m.Health:
        """PostgreSQL, NATS, the relay and the worker (also when the server answers 503)."""
        return self.call(c.health())

    def info(self) -> m.Info:
        return self.call(c.info())

    def worker_connection(self) -> m.WorkerConnection:
        """Where a worker reaches the server's PostgreSQL and NATS (for ``serve`` from a kernel)."""
        return self.call(c.worker_connection())

    def metrics(self) -> str:
        """Prometheus text exposition."""
        return self.call(c.metrics())

    def openapi(self) -> dict[str, Any]:
        return self.call(c.openapi())


class Assistants:
    def __init__(self, client: DuraGraphClient) -> None:
        self._client = client

    def create(
        self,
        graph_id: str,
        *,
        assistant_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        if_exists: str | None = None,
    ) -> m.Assistant:
        return self._client.call(
            c.assistant_create(
                graph_id,
                assistant_id=assistant_id,
                config=config,
                context=context,
                metadata=metadata,
                name=name,
                description=description,
                if_exists=if_exists,
            )
        )

    def get(self, assistant_id: str) -> m.Assistant:
        """An assistant, or a graph's default assistant by graph id."""
        return self._client.call(c.assistant_get(assistant_id))

    def delete(self, assistant_id: str) -> None:
        self._client.call(c.assistant_delete(assistant_id))

    def search(
        self,
        *,
        metadata: Mapping[str, Any] | None = None,
        graph_id: str | None = None,
        name: str | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> list[m.Assistant]:
        return self._client.call(
            c.assistant_search(
                metadata=metadata,
                graph_id=graph_id,
                name=name,
                limit=limit,
                offset=offset,
                sort_by=sort_by,
                sort_order=sort_order,
            )
        )

    def count(
        self,
        *,
        metadata: Mapping[str, Any] | None = None,
        graph_id: str | None = None,
        name: str | None = None,
    ) -> int:
        return self._client.call(c.assistant_count(metadata=metadata, graph_id=graph_id, name=name))

    def graph(self, assistant_id: str, *, xray: bool | int = False) -> m.AssistantGraph:
        return self._client.call(c.assistant_graph(assistant_id, xray))

    def schemas(self, assistant_id: str) -> m.GraphSchemas:
        return self._client.call(c.assistant_schemas(assistant_id))


class Threads:
    def __init__(self, client: DuraGraphClient) -> None:
        self._client = client

    def events_frame(self, thread_id: str, *, after: int = 0, payload: str = "dict") -> DataFrame:
        """The event logs of all the thread's runs as one DataFrame, in seq order (see
        ``runs.events_frame``)."""
        return self._client.call(
            c.events_arrow(
                "threads", thread_id, after=after, payload=payload, local=self._client.settings.local
            )
        )

    def create(
        self,
        *,
        metadata: Mapping[str, Any] | None = None,
        thread_id: str | None = None,
        if_exists: str | None = None,
        graph_id: str | None = None,
    ) -> m.Thread:
        return self._client.call(
            c.thread_create(thread_id=thread_id, metadata=metadata, if_exists=if_exists, graph_id=graph_id)
        )

    def get(self, thread_id: str) -> m.Thread:
        return self._client.call(c.thread_get(thread_id))

    def update(self, thread_id: str, *, metadata: Mapping[str, Any]) -> m.Thread:
        """Merge ``metadata`` into the thread's."""
        return self._client.call(c.thread_update(thread_id, metadata))

    def delete(self, thread_id: str) -> None:
        self._client.call(c.thread_delete(thread_id))

    def copy(self, thread_id: str) -> m.Thread:
        """A new thread with this one's whole history."""
        return self._client.call(c.thread_copy(thread_id))

    def search(
        self,
        *,
        metadata: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        ids: Sequence[str] | None = None,
        status: str | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> list[m.Thread]:
        return self._client.call(
            c.thread_search(
                metadata=metadata,
                values=values,
                ids=ids,
                status=status,
                limit=limit,
                offset=offset,
                sort_by=sort_by,
                sort_order=sort_order,
            )
        )

    def count(
        self,
        *,
        metadata: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        status: str | None = None,
    ) -> int:
        return self._client.call(c.thread_count(metadata=metadata, values=values, status=status))

    def state(
        self, thread_id: str, checkpoint_id: str | None = None, *, subgraphs: bool = False
    ) -> m.ThreadState:
        """The thread's current state, or its state at a checkpoint."""
        return self._client.call(c.thread_state(thread_id, checkpoint_id, subgraphs))

    def history(
        self,
        thread_id: str,
        *,
        limit: int = 10,
        before: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[m.ThreadState]:
        """The thread's checkpoints, newest first."""
        return self._client.call(c.thread_history(thread_id, limit=limit, before=before, metadata=metadata))

    def join_stream(
        self,
        thread_id: str,
        *,
        stream_mode: str | Sequence[str] | None = None,
        last_event_id: str | int | None = None,
    ) -> Iterator[StreamPart]:
        """Follow the thread: its runs one after another (``stream_mode``: ``run_modes``, the
        default, ``lifecycle``, ``state_update``). It does not end by itself: stop iterating
        when you have seen enough; a dropped connection is resumed like a run's stream."""
        return self._client.stream_parts(thread_stream(thread_id, stream_mode, last_event_id))

    def update_state(
        self,
        thread_id: str,
        values: Mapping[str, Any] | None,
        *,
        as_node: str | None = None,
        checkpoint_id: str | None = None,
    ) -> m.StateUpdate:
        """Edit the state (as if ``as_node`` had returned ``values``); a new checkpoint."""
        return self._client.call(
            c.thread_update_state(thread_id, values, as_node=as_node, checkpoint_id=checkpoint_id)
        )


class Runs:
    def __init__(self, client: DuraGraphClient) -> None:
        self._client = client

    # -- starting ------------------------------------------------------------------------------
    def create(self, thread_id: str | None, assistant_id: str, **options: Unpack[RunOptions]) -> m.Run:
        """Start a run in the background (on a new thread when ``thread_id`` is None)."""
        return self._client.call(c.run_create(thread_id, run_body(assistant_id, options)))

    def wait(self, thread_id: str | None, assistant_id: str, **options: Unpack[RunOptions]) -> m.RunResult:
        """Start a run and wait until it finishes or pauses for a human."""
        return self._client.call(c.run_wait(thread_id, run_body(assistant_id, options)))

    def stream(
        self, thread_id: str | None, assistant_id: str, **options: Unpack[RunOptions]
    ) -> Iterator[StreamPart]:
        """Start a run and stream it (``stream_mode``: values, updates, messages, custom, ...).

        The request is sent when iteration starts. A dropped connection is resumed from the last
        event received; the stream ends when the run finishes or pauses for a human."""
        return self._client.stream_parts(create_stream(thread_id, run_body(assistant_id, options)))

    # -- reading -------------------------------------------------------------------------------
    def get(self, run_id: str, *, thread_id: str | None = None) -> m.Run:
        return self._client.call(c.run_get(run_id, thread_id))

    def list(
        self, thread_id: str, *, limit: int = 10, offset: int = 0, status: str | None = None
    ) -> builtins.list[m.Run]:
        """The thread's runs, newest first."""
        return self._client.call(c.run_list(thread_id, limit=limit, offset=offset, status=status))

    def search(
        self,
        *,
        limit: int = 10,
        offset: int = 0,
        sort_by: str | None = None,
        sort_order: str | None = None,
        **filters: Any,
    ) -> builtins.list[m.Run]:
        """Runs across threads, newest first. Filters: ``status`` (one or a list),
        ``assistant_id``, ``graph_id``, ``thread_id``, ``ids``, ``metadata`` (containment),
        ``created_after``, ``created_before`` (datetimes or ISO strings)."""
        body = c.run_filter(**filters)
        return self._client.call(
            c.run_search(body, limit=limit, offset=offset, sort_by=sort_by, sort_order=sort_order)
        )

    def count(self, **filters: Any) -> int:
        """How many runs match (the filters of :meth:`search`)."""
        return self._client.call(c.run_count(c.run_filter(**filters)))

    def join(
        self, run_id: str, *, thread_id: str | None = None, cancel_on_disconnect: bool = False
    ) -> m.RunResult:
        """Wait until the run finishes or pauses; its result."""
        return self._client.call(c.run_join(run_id, thread_id, cancel_on_disconnect))

    def join_stream(
        self,
        run_id: str,
        *,
        thread_id: str | None = None,
        stream_mode: str | Sequence[str] | None = None,
        last_event_id: str | int | None = None,
    ) -> Iterator[StreamPart]:
        """Stream a run from its start (or after ``last_event_id``) until it is at rest."""
        return self._client.stream_parts(join_stream(run_id, thread_id, stream_mode, last_event_id))

    # -- acting --------------------------------------------------------------------------------
    def cancel(
        self,
        run_id: str,
        *,
        thread_id: str | None = None,
        wait: bool = False,
        action: str = "interrupt",
    ) -> m.RunResult | None:
        """Cancel the run (``action="rollback"`` also deletes it); with ``wait``, its result."""
        if thread_id is None:
            thread_id = self.get(run_id).thread_id
        return self._client.call(c.run_cancel(run_id, thread_id, wait=wait, action=action))

    def delete(self, run_id: str, *, thread_id: str | None = None) -> None:
        self._client.call(c.run_delete(run_id, thread_id))

    def fork(
        self,
        run_id: str,
        seq: int,
        *,
        update: Mapping[str, Any] | None = None,
        as_node: str | None = None,
    ) -> m.Run:
        """A new run branching after event ``seq`` of this one (optionally editing the state)."""
        return self._client.call(c.run_fork(run_id, seq, update=update, as_node=as_node))

    def replay(self, run_id: str) -> m.ReplayReport:
        """Re-execute the run with the graph's current code; report the first divergence."""
        return self._client.call(c.run_replay(run_id))

    # -- DuraGraph's event log -----------------------------------------------------------------
    def events(self, run_id: str, *, after: int = 0, limit: int = 1000) -> m.EventPage:
        """One page of the run's event log (events with ``seq > after``)."""
        return self._client.call(c.run_events(run_id, after=after, limit=limit))

    def iter_events(self, run_id: str, *, after: int = 0, page_size: int = 1000) -> Iterator[m.Event]:
        """Every event of the run's log after ``after``, page by page."""
        while True:
            page = self.events(run_id, after=after, limit=page_size)
            yield from page.events
            if not page.has_more or not page.events:
                return
            after = page.events[-1].seq

    def spans(self, run_id: str) -> builtins.list[m.Span]:
        """One span per node execution (one attempt of one task)."""
        return self._client.call(c.run_spans(run_id))

    def events_frame(
        self, run_id: str, *, after: int = 0, payload: str = "dict", page_size: int | None = None
    ) -> DataFrame:
        """The run's event log as a pandas DataFrame (see :mod:`duragraph_lab.client.frames`),
        read in one response (``GET /runs/{run_id}/events.arrow``). ``payload``: ``"dict"``,
        ``"json"`` (the JSON text: much faster on big logs) or ``"none"``. With ``page_size``,
        read from the JSON pages of ``GET /runs/{run_id}/events`` instead (always dicts)."""
        if page_size is not None:
            return events_to_frame(self.iter_events(run_id, after=after, page_size=page_size))
        return self._client.call(
            c.events_arrow("runs", run_id, after=after, payload=payload, local=self._client.settings.local)
        )

    def spans_frame(self, run_id: str) -> DataFrame:
        return spans_to_frame(self.spans(run_id))

    def outcome(self, run_id: str) -> m.RunOutcome:
        """What the run did, as evaluators see it: inputs, outputs, nodes, trajectory, tool calls,
        latency and supersteps."""
        return self._client.call(c.run_outcome(run_id))

    def compare(self, base: str, candidate: str) -> dict[str, Any]:
        """Two runs side by side: the first diverging node, the final-state diff, latency and
        step deltas."""
        return self._client.call(c.run_compare(base, candidate))


class Datasets:
    """Datasets: runs (and hand-written examples) frozen into named, versioned example sets."""

    def __init__(self, client: DuraGraphClient) -> None:
        self._client = client

    def create(
        self,
        name: str,
        *,
        examples: Sequence[Mapping[str, Any]] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        if_exists: str = "raise",
        thread_ids: Sequence[str] | None = None,
        limit: int | None = None,
        **filters: Any,
    ) -> m.Dataset:
        """Freeze the runs matching the filters (those of ``runs.search``: ``status``,
        ``assistant_id``, ``graph_id``, ``thread_id``, ``ids``, ``created_after``, ``created_before``,
        and ``run_metadata`` for the runs' metadata; plus ``thread_ids``; at most ``limit``, default
        100; runs at rest when no status is given) and any hand-written ``examples`` (``{"inputs", "outputs"?, "metadata"?}``)
        into version 1 of a new dataset (``metadata`` is the dataset's own). A taken name is a 409
        unless ``if_exists="new_version"``."""
        body = _dataset_body(examples, description, thread_ids, limit, filters)
        body.update(compact({"name": name, "metadata": metadata, "if_exists": if_exists}))
        return self._client.call(c.dataset_create(body))

    def add_version(
        self,
        dataset: str,
        *,
        examples: Sequence[Mapping[str, Any]] | None = None,
        description: str | None = None,
        thread_ids: Sequence[str] | None = None,
        limit: int | None = None,
        **filters: Any,
    ) -> m.Dataset:
        """Freeze a new version of ``dataset`` (id or name), selected as in :meth:`create`."""
        body = _dataset_body(examples, description, thread_ids, limit, filters)
        return self._client.call(c.dataset_add_version(dataset, body))

    def get(self, dataset: str) -> m.Dataset:
        return self._client.call(c.dataset_get(dataset))

    def list(self, *, limit: int = 20, offset: int = 0, name: str | None = None) -> builtins.list[m.Dataset]:
        """Datasets, most recently changed first (``name``: part of the name)."""
        return self._client.call(c.dataset_list(limit=limit, offset=offset, name=name))

    def delete(self, dataset: str) -> None:
        self._client.call(c.dataset_delete(dataset))

    def examples(self, dataset: str, *, version: int | None = None) -> builtins.list[m.Example]:
        """The examples of a version (the latest by default)."""
        return self._client.call(c.dataset_examples(dataset, version))

    def events(self, dataset: str) -> builtins.list[m.Event]:
        """The dataset's event log (created, one event per version, deleted): its history."""
        return self._client.call(c.dataset_events(dataset))

    def examples_frame(self, dataset: str, *, version: int | None = None) -> DataFrame:
        return examples_to_frame(self.examples(dataset, version=version))


class Experiments:
    """Experiments: a dataset version re-run against an assistant, scored example by example.
    ``duragraph_lab.evals.run_experiment`` drives one; these are its HTTP operations."""

    def __init__(self, client: DuraGraphClient) -> None:
        self._client = client

    def create(
        self,
        dataset: str,
        assistant_id: str,
        *,
        dataset_version: int | None = None,
        assistant_version: int | None = None,
        name: str | None = None,
        evaluators: Sequence[Mapping[str, Any]] = (),
        concurrency: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> m.Experiment:
        body = compact(
            {
                "dataset": dataset,
                "assistant_id": assistant_id,
                "dataset_version": dataset_version,
                "assistant_version": assistant_version,
                "name": name,
                "evaluators": [dict(e) for e in evaluators],
                "concurrency": concurrency,
                "metadata": metadata,
            }
        )
        return self._client.call(c.experiment_create(body))

    def get(self, experiment_id: str) -> m.Experiment:
        return self._client.call(c.experiment_get(experiment_id))

    def list(
        self, *, dataset: str | None = None, limit: int = 20, offset: int = 0
    ) -> builtins.list[m.Experiment]:
        """Experiments, newest first (of one dataset: its id or name)."""
        return self._client.call(c.experiment_list(dataset=dataset, limit=limit, offset=offset))

    def record(
        self,
        experiment_id: str,
        example_id: str,
        *,
        run_id: str | None = None,
        scores: Sequence[Mapping[str, Any]] = (),
        status: str | None = None,
        error: str | None = None,
    ) -> m.ExperimentResult:
        """Record one example's result (once per example; the same result again is a no-op)."""
        body = compact(
            {
                "example_id": example_id,
                "run_id": run_id,
                "scores": [dict(s) for s in scores],
                "status": status,
                "error": error,
            }
        )
        return self._client.call(c.experiment_record(experiment_id, body))

    def results(self, experiment_id: str) -> builtins.list[m.ExperimentResult]:
        return self._client.call(c.experiment_results(experiment_id))

    def results_frame(self, experiment_id: str) -> DataFrame:
        return results_to_frame(self.results(experiment_id))

    def complete(self, experiment_id: str) -> m.Experiment:
        return self._client.call(c.experiment_complete(experiment_id))

    def run(self, experiment_id: str) -> m.Experiment:
        """Have the server run the experiment (built-in evaluators only); answers at once.
        Follow it with :meth:`get` (``running``, ``result_count``, ``status``)."""
        return self._client.call(c.experiment_run(experiment_id))

    def compare(self, base: str, candidate: str) -> m.Comparison:
        """Two experiments of one dataset, example by example."""
        return self._client.call(c.experiment_compare(base, candidate))

    def notebook(self, experiment_id: str) -> bytes:
        """The experiment exported as a notebook (.ipynb bytes) that re-runs and re-scores it."""
        return self._client.call(c.experiment_notebook(experiment_id))


def _dataset_body(
    examples: Sequence[Mapping[str, Any]] | None,
    description: str | None,
    thread_ids: Sequence[str] | None,
    limit: int | None,
    filters: Mapping[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = compact(
        {
            "description": description,
            "examples": [dict(e) for e in examples] if examples is not None else None,
        }
    )
    filters = dict(filters)
    if "metadata" in filters:
        raise DuraGraphClientError(
            "a dataset's run filter on metadata is run_metadata= (metadata= is the dataset's own metadata)"
        )
    if "run_metadata" in filters:
        filters["metadata"] = filters.pop("run_metadata")
    if filters or thread_ids is not None or limit is not None:
        body["selection"] = c.dataset_selection(thread_ids=thread_ids, limit=limit, **filters)
    return body
