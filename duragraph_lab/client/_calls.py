"""Every API call as a :class:`Call` (method, path, query, body, how to read the answer),
shared by the sync and the async client: request building and answer reading, without I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from duragraph_lab.client import models as m
from duragraph_lab.client._common import (
    Call,
    compact,
    json_body,
    query,
    read,
    read_json,
    read_list,
    read_none,
    read_result,
    read_text,
    run_path,
    runs_path,
    seg,
)
from duragraph_lab.client.frames import PAYLOADS, events_from_arrow, events_from_arrow_chunks

# -- system --------------------------------------------------------------------------------------


def health() -> Call[m.Health]:
    return Call("GET", "health", read(m.Health.from_json), accept=(503,))


def info() -> Call[m.Info]:
    return Call("GET", "info", read(m.Info.from_json))


def worker_connection() -> Call[m.WorkerConnection]:
    return Call("GET", "worker/connection", read(m.WorkerConnection.from_json))


def workers() -> Call[dict[str, Any]]:
    return Call("GET", "workers", read_json)


def metrics() -> Call[str]:
    return Call("GET", "metrics", read_text)


def openapi() -> Call[dict[str, Any]]:
    return Call("GET", "openapi.json", read_json)


# -- assistants ----------------------------------------------------------------------------------


def assistant_create(
    graph_id: str,
    *,
    assistant_id: str | None,
    config: Mapping[str, Any] | None,
    context: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None,
    name: str | None,
    description: str | None,
    if_exists: str | None,
) -> Call[m.Assistant]:
    body = compact(
        {
            "graph_id": graph_id,
            "assistant_id": assistant_id,
            "config": config,
            "context": context,
            "metadata": metadata,
            "name": name,
            "description": description,
            "if_exists": if_exists,
        }
    )
    return Call("POST", "assistants", read(m.Assistant.from_json), body=body)


def assistant_get(assistant_id: str) -> Call[m.Assistant]:
    return Call("GET", f"assistants/{seg(assistant_id)}", read(m.Assistant.from_json))


def assistant_delete(assistant_id: str) -> Call[None]:
    return Call("DELETE", f"assistants/{seg(assistant_id)}", read_none)


def assistant_search(
    *,
    metadata: Mapping[str, Any] | None,
    graph_id: str | None,
    name: str | None,
    limit: int,
    offset: int,
    sort_by: str | None,
    sort_order: str | None,
) -> Call[list[m.Assistant]]:
    body = compact(
        {
            "metadata": metadata,
            "graph_id": graph_id,
            "name": name,
            "limit": limit,
            "offset": offset,
            "sort_by": sort_by,
            "sort_order": sort_order,
        }
    )
    return Call("POST", "assistants/search", read_list(m.Assistant.from_json), body=body)


def assistant_count(
    *, metadata: Mapping[str, Any] | None, graph_id: str | None, name: str | None
) -> Call[int]:
    body = compact({"metadata": metadata, "graph_id": graph_id, "name": name})
    return Call("POST", "assistants/count", read(int), body=body)


def assistant_graph(assistant_id: str, xray: bool | int) -> Call[m.AssistantGraph]:
    # details: the edges' kinds, routers and "may go anywhere" marks, which the widgets draw.
    params = query(xray=str(xray).lower() if isinstance(xray, bool) else xray) if xray else []
    params = [*params, *query(details="true")]
    return Call("GET", f"assistants/{seg(assistant_id)}/graph", read(m.AssistantGraph.from_json), params)


def assistant_schemas(assistant_id: str) -> Call[m.GraphSchemas]:
    return Call("GET", f"assistants/{seg(assistant_id)}/schemas", read(m.GraphSchemas.from_json))


# -- threads -------------------------------------------------------------------------------------


def thread_create(
    *,
    thread_id: str | None,
    metadata: Mapping[str, Any] | None,
    if_exists: str | None,
    graph_id: str | None,
) -> Call[m.Thread]:
    body = compact(
        {"thread_id": thread_id, "metadata": metadata, "if_exists": if_exists, "graph_id": graph_id}
    )
    return Call("POST", "threads", read(m.Thread.from_json), body=body)


def thread_get(thread_id: str) -> Call[m.Thread]:
    return Call("GET", f"threads/{seg(thread_id)}", read(m.Thread.from_json))


def thread_update(thread_id: str, metadata: Mapping[str, Any]) -> Call[m.Thread]:
    return Call("PATCH", f"threads/{seg(thread_id)}", read(m.Thread.from_json), body={"metadata": metadata})


def thread_delete(thread_id: str) -> Call[None]:
    return Call("DELETE", f"threads/{seg(thread_id)}", read_none)


def thread_copy(thread_id: str) -> Call[m.Thread]:
    return Call("POST", f"threads/{seg(thread_id)}/copy", read(m.Thread.from_json), body={})


def thread_search(
    *,
    metadata: Mapping[str, Any] | None,
    values: Mapping[str, Any] | None,
    ids: Sequence[str] | None,
    status: str | None,
    limit: int,
    offset: int,
    sort_by: str | None,
    sort_order: str | None,
) -> Call[list[m.Thread]]:
    body = compact(
        {
            "metadata": metadata,
            "values": values,
            "ids": list(ids) if ids is not None else None,
            "status": status,
            "limit": limit,
            "offset": offset,
            "sort_by": sort_by,
            "sort_order": sort_order,
        }
    )
    return Call("POST", "threads/search", read_list(m.Thread.from_json), body=body)


def thread_count(
    *, metadata: Mapping[str, Any] | None, values: Mapping[str, Any] | None, status: str | None
) -> Call[int]:
    body = compact({"metadata": metadata, "values": values, "status": status})
    return Call("POST", "threads/count", read(int), body=body)


def thread_state(thread_id: str, checkpoint_id: str | None, subgraphs: bool) -> Call[m.ThreadState]:
    path = f"threads/{seg(thread_id)}/state"
    if checkpoint_id is not None:
        path += f"/{seg(checkpoint_id)}"
    params = query(subgraphs=True) if subgraphs else []
    return Call("GET", path, read(m.ThreadState.from_json), params)


def thread_history(
    thread_id: str, *, limit: int, before: str | None, metadata: Mapping[str, Any] | None
) -> Call[list[m.ThreadState]]:
    body = compact({"limit": limit, "before": before, "metadata": metadata})
    return Call("POST", f"threads/{seg(thread_id)}/history", read_list(m.ThreadState.from_json), body=body)


def thread_update_state(
    thread_id: str, values: Mapping[str, Any] | None, *, as_node: str | None, checkpoint_id: str | None
) -> Call[m.StateUpdate]:
    body = compact(
        {
            "values": dict(values) if values is not None else None,
            "as_node": as_node,
            "checkpoint_id": checkpoint_id,
        }
    )
    return Call("POST", f"threads/{seg(thread_id)}/state", read(m.StateUpdate.from_json), body=body)


# -- runs ----------------------------------------------------------------------------------------


def run_create(thread_id: str | None, body: dict[str, Any]) -> Call[m.Run]:
    return Call("POST", runs_path(thread_id), read(m.Run.from_json), body=body)


def run_wait(thread_id: str | None, body: dict[str, Any]) -> Call[m.RunResult]:
    return Call("POST", runs_path(thread_id, "/wait"), read_result, body=body)


def run_get(run_id: str, thread_id: str | None) -> Call[m.Run]:
    return Call("GET", run_path(run_id, thread_id), read(m.Run.from_json))


def run_list(thread_id: str, *, limit: int, offset: int, status: str | None) -> Call[list[m.Run]]:
    params = query(limit=limit, offset=offset, status=status)
    return Call("GET", runs_path(thread_id), read_list(m.Run.from_json), params)


def run_filter(
    *,
    status: str | Sequence[str] | None = None,
    assistant_id: str | None = None,
    graph_id: str | None = None,
    thread_id: str | None = None,
    ids: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    created_after: dt.datetime | str | None = None,
    created_before: dt.datetime | str | None = None,
) -> dict[str, Any]:
    """The body of a run search or count (only the conditions given)."""

    def when(value: dt.datetime | str | None) -> str | None:
        return value.isoformat() if isinstance(value, dt.datetime) else value

    return compact(
        {
            "status": status if status is None or isinstance(status, str) else list(status),
            "assistant_id": assistant_id,
            "graph_id": graph_id,
            "thread_id": thread_id,
            "ids": list(ids) if ids is not None else None,
            "metadata": metadata,
            "created_after": when(created_after),
            "created_before": when(created_before),
        }
    )


def run_search(
    filters: Mapping[str, Any], *, limit: int, offset: int, sort_by: str | None, sort_order: str | None
) -> Call[list[m.Run]]:
    body = {
        **filters,
        **compact({"limit": limit, "offset": offset, "sort_by": sort_by, "sort_order": sort_order}),
    }
    return Call("POST", "runs/search", read_list(m.Run.from_json), body=body)


def run_count(filters: Mapping[str, Any]) -> Call[int]:
    return Call("POST", "runs/count", read_json, body=dict(filters))


def run_join(run_id: str, thread_id: str | None, cancel_on_disconnect: bool) -> Call[m.RunResult]:
    params = query(cancel_on_disconnect=True) if cancel_on_disconnect else []
    return Call("GET", run_path(run_id, thread_id, "/join"), read_result, params)


def run_cancel(run_id: str, thread_id: str, *, wait: bool, action: str) -> Call[m.RunResult | None]:
    def reader(response: Any) -> m.RunResult | None:
        if response.status_code != 200 or not wait:
            return None
        return m.RunResult.from_json(json_body(response), run_id=run_id, thread_id=thread_id)

    params = query(action=action, wait=True if wait else None)
    return Call("POST", run_path(run_id, thread_id, "/cancel"), reader, params)


def run_delete(run_id: str, thread_id: str | None) -> Call[None]:
    return Call("DELETE", run_path(run_id, thread_id), read_none)


def run_events(run_id: str, *, after: int, limit: int) -> Call[m.EventPage]:
    params = query(after=after, limit=limit)
    return Call("GET", f"runs/{seg(run_id)}/events", read(m.EventPage.from_json), params)


def after_page(page: m.EventPage) -> int | None:
    """Where the page that follows ``page`` starts (its ``after``); None after the last page."""
    if not page.has_more or not page.events:
        return None
    return page.events[-1].seq


def _read_events_arrow(payload: str) -> Callable[[httpx.Response], Any]:
    def reader(response: httpx.Response) -> Any:
        return events_from_arrow(response.content, payload=payload)

    return reader


def _read_events_arrow_chunks(payload: str) -> Callable[[Iterator[bytes]], Any]:
    def reader(chunks: Iterator[bytes]) -> Any:
        return events_from_arrow_chunks(chunks, payload=payload)

    return reader


def events_arrow(kind: str, ident: str, *, after: int, payload: str, local: bool = False) -> Call[Any]:
    """A run's (``kind="runs"``) or a thread's (``"threads"``) event log as a DataFrame. ``local``:
    the server is on this machine (compressing the body would cost more than sending it)."""
    if payload not in PAYLOADS:
        raise ValueError(f"payload must be one of {', '.join(PAYLOADS)}, not {payload!r}")
    params = query(after=after, compression="none" if local else None)
    path = f"{kind}/{seg(ident)}/events.arrow"
    return Call(
        "GET", path, _read_events_arrow(payload), params, read_chunks=_read_events_arrow_chunks(payload)
    )


def run_spans(run_id: str) -> Call[list[m.Span]]:
    return Call("GET", f"runs/{seg(run_id)}/spans", read_list(m.Span.from_json))


def run_replay(run_id: str) -> Call[m.ReplayReport]:
    return Call("POST", f"runs/{seg(run_id)}/replay", read(m.ReplayReport.from_json))


def run_state(run_id: str, seq: int | None) -> Call[m.EventState]:
    params = query(seq=int(seq)) if seq is not None else []
    return Call("GET", f"runs/{seg(run_id)}/state", read(m.EventState.from_json), params)


def run_fork(run_id: str, seq: int, *, update: Mapping[str, Any] | None, as_node: str | None) -> Call[m.Run]:
    body = compact(
        {"seq": int(seq), "update": dict(update) if update is not None else None, "as_node": as_node}
    )
    return Call("POST", f"runs/{seg(run_id)}/fork", read(m.Run.from_json), body=body)


def run_outcome(run_id: str) -> Call[m.RunOutcome]:
    return Call("GET", f"runs/{seg(run_id)}/outcome", read(m.RunOutcome.from_json))


def run_compare(base: str, candidate: str) -> Call[dict[str, Any]]:
    return Call("POST", "runs/compare", read_json, body={"base": base, "candidate": candidate})
