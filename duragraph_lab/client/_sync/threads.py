# Generated from duragraph_lab/client/_async/threads.py by `python duragraph_lab/client/_unasync.py`: do not edit.
"""``client.threads``: threads, their state and history, and following a thread's runs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from duragraph_lab.client import _calls as c
from duragraph_lab.client import models as m
from duragraph_lab.client._stream import thread_stream
from duragraph_lab.client.frames import DataFrame
from duragraph_lab.client.sse import StreamPart

if TYPE_CHECKING:
    from duragraph_lab.client._sync.client import DuraGraphClient


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
