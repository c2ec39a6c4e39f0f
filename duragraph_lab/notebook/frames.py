"""Event logs and spans as pandas DataFrames, for a run or a whole thread::

    import duragraph_lab as dg

    frame = dg.events_frame(run)           # a run id, a thread id, or a Run/Thread/RunResult/RunView
    frame.groupby("type", observed=True).size()
    spans = dg.spans_frame(run.thread_id)  # every node execution of the thread's runs

The event log is read in one response, an Arrow IPC stream the server builds from PostgreSQL in
batches (``GET /runs/{run_id}/events.arrow``, ``GET /threads/{thread_id}/events.arrow``), and
the frame is built column by column: a million events take seconds, not the minutes JSON pages
would. Columns and dtypes are those of :mod:`duragraph_lab.client.frames`.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from duragraph_lab.client import DuraGraphAPIError, DuraGraphClient
from duragraph_lab.client.frames import DataFrame, spans_to_frame
from duragraph_lab.domain.errors import DuraGraphError

__all__ = ["UnknownRunOrThread", "events_frame", "spans_frame"]

#: Runs of a thread listed per request when a thread's spans are gathered.
_RUN_PAGE = 100


class UnknownRunOrThread(DuraGraphError, LookupError):
    """The id names neither a run nor a thread on the server."""

    code = "unknown_run_or_thread"


def _client(client: DuraGraphClient | None) -> DuraGraphClient:
    if client is not None:
        return client
    # The kernel's connection (``%duragraph connect``; discovered on first use).
    session = importlib.import_module("duragraph_lab.notebook.session")
    found: DuraGraphClient = session.current().client
    return found


def _target(run_or_thread: Any) -> tuple[str | None, str]:
    """``(kind, id)``: kind ``"runs"`` or ``"threads"`` when the object says, None for a bare id."""
    if isinstance(run_or_thread, str):
        if not run_or_thread.strip():
            raise UnknownRunOrThread("a run or thread id is needed, not an empty string")
        return None, run_or_thread.strip()
    run_id = getattr(run_or_thread, "run_id", None)
    if isinstance(run_id, str) and run_id:
        return "runs", run_id
    thread_id = getattr(run_or_thread, "thread_id", None)
    if isinstance(thread_id, str) and thread_id:
        return "threads", thread_id
    raise TypeError(
        "expected a run id, a thread id, or an object with .run_id or .thread_id "
        f"(a Run, Thread, RunResult or RunView), not {type(run_or_thread).__name__}"
    )


def _unknown(ident: str, client: DuraGraphClient) -> UnknownRunOrThread:
    return UnknownRunOrThread(f"{ident!r} is neither a run nor a thread on {client.url}")


def events_frame(
    run_or_thread: Any, *, client: DuraGraphClient | None = None, after: int = 0, payload: str = "dict"
) -> DataFrame:
    """One row per event, in ``seq`` order: the run's log, or the logs of all the thread's runs.

    ``run_or_thread``: a run id, a thread id (a bare id is tried as a run first), or an object
    with ``.run_id`` (Run, RunResult, RunView) or only ``.thread_id`` (Thread). ``after``: only
    events with a greater seq. ``payload``: the ``data`` column as dicts (``"dict"``), as JSON
    text (``"json"``: several times faster for big logs) or left out (``"none"``). ``client``:
    defaults to the kernel's connection (``%duragraph connect``).

    Columns: ``seq`` (int64), ``recorded_at`` (datetime64[ns, UTC]), ``stream``, ``type``,
    ``node`` (category), ``run_id``, ``event_id``, ``task`` (str), ``step``, ``attempt``
    (Int64), ``duration_ms`` (float64), ``data``. Raises :class:`UnknownRunOrThread` for an id
    the server does not know.
    """
    api = _client(client)
    kind, ident = _target(run_or_thread)
    runs, threads = api.runs, api.threads
    if kind == "threads":
        return _or_unknown(lambda: threads.events_frame(ident, after=after, payload=payload), ident, api)
    try:
        return runs.events_frame(ident, after=after, payload=payload)
    except DuraGraphAPIError as err:
        if not err.not_found:
            raise
        if kind == "runs":
            raise UnknownRunOrThread(f"run {ident!r} does not exist on {api.url}") from None
    return _or_unknown(lambda: threads.events_frame(ident, after=after, payload=payload), ident, api)


def spans_frame(run_or_thread: Any, *, client: DuraGraphClient | None = None) -> DataFrame:
    """One row per node execution (one attempt of one task), in ``seq`` order: the run's, or
    those of all the thread's runs. Accepts what :func:`events_frame` accepts."""
    api = _client(client)
    kind, ident = _target(run_or_thread)
    if kind != "threads":
        try:
            return spans_to_frame(api.runs.spans(ident))
        except DuraGraphAPIError as err:
            if not err.not_found:
                raise
            if kind == "runs":
                raise UnknownRunOrThread(f"run {ident!r} does not exist on {api.url}") from None
    spans = []
    offset = 0
    while True:
        page = _or_unknown(
            functools.partial(api.runs.list, ident, limit=_RUN_PAGE, offset=offset), ident, api
        )
        for run in page:
            spans += api.runs.spans(run.run_id)
        if len(page) < _RUN_PAGE:
            break
        offset += _RUN_PAGE
    spans.sort(key=lambda s: (s.seq is None, s.seq or 0))
    return spans_to_frame(spans)


def _or_unknown(call: Any, ident: str, client: DuraGraphClient) -> Any:
    try:
        return call()
    except DuraGraphAPIError as err:
        if err.not_found:
            raise _unknown(ident, client) from None
        raise
