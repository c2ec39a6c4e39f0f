"""``client.runs``: starting, streaming, reading and acting on runs, and DuraGraph's event log."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Unpack

from duragraph_lab.client import _calls as c
from duragraph_lab.client import models as m
from duragraph_lab.client._common import RunOptions, run_body
from duragraph_lab.client._stream import create_stream, join_stream
from duragraph_lab.client.frames import DataFrame, events_to_frame, spans_to_frame
from duragraph_lab.client.sse import StreamPart

if TYPE_CHECKING:
    from duragraph_lab.client._async.client import AsyncDuraGraphClient


class Runs:
    def __init__(self, client: AsyncDuraGraphClient) -> None:
        self._client = client

    # -- starting ------------------------------------------------------------------------------
    async def create(self, thread_id: str | None, assistant_id: str, **options: Unpack[RunOptions]) -> m.Run:
        """Start a run in the background (on a new thread when ``thread_id`` is None)."""
        return await self._client.call(c.run_create(thread_id, run_body(assistant_id, options)))

    async def wait(
        self, thread_id: str | None, assistant_id: str, **options: Unpack[RunOptions]
    ) -> m.RunResult:
        """Start a run and wait until it finishes or pauses for a human."""
        return await self._client.call(c.run_wait(thread_id, run_body(assistant_id, options)))

    def stream(
        self, thread_id: str | None, assistant_id: str, **options: Unpack[RunOptions]
    ) -> AsyncIterator[StreamPart]:
        """Start a run and stream it (``stream_mode``: values, updates, messages, custom, ...).

        The request is sent when iteration starts. A dropped connection is resumed from the last
        event received; the stream ends when the run finishes or pauses for a human."""
        return self._client.stream_parts(create_stream(thread_id, run_body(assistant_id, options)))

    # -- reading -------------------------------------------------------------------------------
    async def get(self, run_id: str, *, thread_id: str | None = None) -> m.Run:
        return await self._client.call(c.run_get(run_id, thread_id))

    async def list(
        self, thread_id: str, *, limit: int = 10, offset: int = 0, status: str | None = None
    ) -> builtins.list[m.Run]:
        """The thread's runs, newest first."""
        return await self._client.call(c.run_list(thread_id, limit=limit, offset=offset, status=status))

    async def search(
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
        return await self._client.call(
            c.run_search(body, limit=limit, offset=offset, sort_by=sort_by, sort_order=sort_order)
        )

    async def count(self, **filters: Any) -> int:
        """How many runs match (the filters of :meth:`search`)."""
        return await self._client.call(c.run_count(c.run_filter(**filters)))

    async def join(
        self, run_id: str, *, thread_id: str | None = None, cancel_on_disconnect: bool = False
    ) -> m.RunResult:
        """Wait until the run finishes or pauses; its result."""
        return await self._client.call(c.run_join(run_id, thread_id, cancel_on_disconnect))

    def join_stream(
        self,
        run_id: str,
        *,
        thread_id: str | None = None,
        stream_mode: str | Sequence[str] | None = None,
        last_event_id: str | int | None = None,
    ) -> AsyncIterator[StreamPart]:
        """Stream a run from its start (or after ``last_event_id``) until it is at rest."""
        return self._client.stream_parts(join_stream(run_id, thread_id, stream_mode, last_event_id))

    # -- acting --------------------------------------------------------------------------------
    async def cancel(
        self,
        run_id: str,
        *,
        thread_id: str | None = None,
        wait: bool = False,
        action: str = "interrupt",
    ) -> m.RunResult | None:
        """Cancel the run (``action="rollback"`` also deletes it); with ``wait``, its result."""
        if thread_id is None:
            run = await self.get(run_id)
            thread_id = run.thread_id
        return await self._client.call(c.run_cancel(run_id, thread_id, wait=wait, action=action))

    async def delete(self, run_id: str, *, thread_id: str | None = None) -> None:
        await self._client.call(c.run_delete(run_id, thread_id))

    async def fork(
        self,
        run_id: str,
        seq: int,
        *,
        update: Mapping[str, Any] | None = None,
        as_node: str | None = None,
    ) -> m.Run:
        """A new run branching after event ``seq`` of this one (optionally editing the state)."""
        return await self._client.call(c.run_fork(run_id, seq, update=update, as_node=as_node))

    async def state_at(self, run_id: str, seq: int | None = None) -> m.EventState:
        """The state right after event ``seq`` of the run (None: its latest event) and right
        before it; at a node's completion, with that node's update applied."""
        return await self._client.call(c.run_state(run_id, seq))

    async def replay(self, run_id: str) -> m.ReplayReport:
        """Re-execute the run with the graph's current code; report the first divergence."""
        return await self._client.call(c.run_replay(run_id))

    # -- DuraGraph's event log -----------------------------------------------------------------
    async def events(self, run_id: str, *, after: int = 0, limit: int = 1000) -> m.EventPage:
        """One page of the run's event log (events with ``seq > after``)."""
        return await self._client.call(c.run_events(run_id, after=after, limit=limit))

    async def iter_events(
        self, run_id: str, *, after: int = 0, page_size: int = 1000
    ) -> AsyncIterator[m.Event]:
        """Every event of the run's log after ``after``, page by page."""
        following: int | None = after
        while following is not None:
            page = await self.events(run_id, after=following, limit=page_size)
            for event in page.events:
                yield event
            following = c.after_page(page)

    async def spans(self, run_id: str) -> builtins.list[m.Span]:
        """One span per node execution (one attempt of one task)."""
        return await self._client.call(c.run_spans(run_id))

    async def events_frame(
        self, run_id: str, *, after: int = 0, payload: str = "dict", page_size: int | None = None
    ) -> DataFrame:
        """The run's event log as a pandas DataFrame (see :mod:`duragraph_lab.client.frames`),
        read in one response (``GET /runs/{run_id}/events.arrow``). ``payload``: ``"dict"``,
        ``"json"`` (the JSON text: much faster on big logs) or ``"none"``. With ``page_size``,
        read from the JSON pages of ``GET /runs/{run_id}/events`` instead (always dicts)."""
        if page_size is not None:
            return events_to_frame(
                [e async for e in self.iter_events(run_id, after=after, page_size=page_size)]
            )
        return await self._client.call(
            c.events_arrow("runs", run_id, after=after, payload=payload, local=self._client.settings.local)
        )

    async def spans_frame(self, run_id: str) -> DataFrame:
        return spans_to_frame(await self.spans(run_id))

    async def outcome(self, run_id: str) -> m.RunOutcome:
        """What the run did, as evaluators see it: inputs, outputs, nodes, trajectory, tool calls,
        latency and supersteps."""
        return await self._client.call(c.run_outcome(run_id))

    async def compare(self, base: str, candidate: str) -> dict[str, Any]:
        """Two runs side by side: the first diverging node, the final-state diff, latency and
        step deltas."""
        return await self._client.call(c.run_compare(base, candidate))
