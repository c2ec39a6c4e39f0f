"""Python client for the REST/SSE API (DESIGN.md §5): sync and async, typed answers, resumable
streams, event logs as DataFrames. See docs/client.md.

    from duragraph_lab.client import DuraGraphClient

    with DuraGraphClient("http://127.0.0.1:8888/", token="...") as client:
        thread = client.threads.create()
        for part in client.runs.stream(thread.thread_id, "chat", input={...}):
            print(part.event, part.data)

One client, two faces. What a call does is decided once, without I/O: ``_calls`` (every API call
as a ``Call``: request and how to read its answer), ``_common`` (configuration, error mapping),
``_stream`` (how a stream resumes across connections), ``sse`` (the parser, exactly-once
delivery). ``_async/`` sends calls and follows streams over httpx for asyncio, and carries every
public method; ``_sync/`` is generated from it by ``_unasync.py`` (see there why).
"""

from __future__ import annotations

from duragraph_lab.client._async.client import AsyncDuraGraphClient
from duragraph_lab.client._common import RunOptions, api_url
from duragraph_lab.client._sync.client import DuraGraphClient
from duragraph_lab.client.errors import (
    DuraGraphAPIError,
    DuraGraphClientError,
    DuraGraphConnectionError,
    DuraGraphTimeoutError,
)
from duragraph_lab.client.frames import events_to_frame, spans_to_frame
from duragraph_lab.client.messages import Message
from duragraph_lab.client.models import (
    Assistant,
    AssistantGraph,
    Checkpoint,
    Event,
    EventPage,
    EventState,
    GraphSchemas,
    Health,
    Info,
    Interrupt,
    ReplayReport,
    Run,
    RunResult,
    Span,
    StateTask,
    StateUpdate,
    Thread,
    ThreadState,
    WorkerConnection,
)
from duragraph_lab.client.sse import SSEDecoder, StreamPart

__all__ = [
    "Assistant",
    "AssistantGraph",
    "AsyncDuraGraphClient",
    "Checkpoint",
    "DuraGraphAPIError",
    "DuraGraphClient",
    "DuraGraphClientError",
    "DuraGraphConnectionError",
    "DuraGraphTimeoutError",
    "Event",
    "EventPage",
    "EventState",
    "GraphSchemas",
    "Health",
    "Info",
    "Interrupt",
    "Message",
    "ReplayReport",
    "Run",
    "RunOptions",
    "RunResult",
    "SSEDecoder",
    "Span",
    "StateTask",
    "StateUpdate",
    "StreamPart",
    "Thread",
    "ThreadState",
    "WorkerConnection",
    "api_url",
    "events_to_frame",
    "spans_to_frame",
]
