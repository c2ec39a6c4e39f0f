"""Ephemeral live events (node started, custom stream events, LLM token chunks) over core NATS.

They are not stored and not relayed: they travel once, to whoever listens now. Everything a run
decides is in the event log; these only make watching it feel immediate.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Container
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.bus.watching import watchers
from duragraph_lab.domain import codec


class LivePublisher:
    """Publishes live events in the background, best effort and in order. One task sends
    whatever is pending (a task per event would cost more than the publish itself). With
    ``watched`` (bus.watching), only the events of runs someone watches: the others would go to
    nobody, at a socket write each."""

    def __init__(self, nc: NATS, subjects: Subjects, *, watched: Container[str] | None = None) -> None:
        self.nc = nc
        self.subjects = subjects
        self.watched = watched
        self._pending: list[tuple[str, bytes]] = []
        self._sender: asyncio.Task[None] | None = None

    def __call__(self, run_id: str, kind: str, payload: dict[str, Any]) -> None:
        if self.watched is not None and f"run:{run_id}" not in self.watched:
            return
        try:
            body = json.dumps({"kind": kind, "ts": time.time(), **codec.to_jsonable(payload)}).encode()
        except Exception:
            return  # a custom event we cannot encode is dropped, never fatal for the node
        self._pending.append((self.subjects.live(run_id), body))
        if self._sender is None:
            self._sender = asyncio.ensure_future(self._send())
            self._sender.add_done_callback(self._done)

    async def _send(self) -> None:
        # One sender at a time keeps a run's events (LLM tokens) in order even when a publish
        # has to wait for the client's buffer.
        try:
            while self._pending:
                pending, self._pending = self._pending, []
                for subject, body in pending:
                    await self.nc.publish(subject, body)
        finally:
            # Here, not in the done callback: that runs a turn later, and an event queued in
            # between would wait for the next one.
            self._sender = None

    def _done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            task.exception()  # best effort: a lost live event is not an error


async def follow_live(nc: NATS, subjects: Subjects, run_id: str) -> AsyncIterator[dict[str, Any]]:
    """Live events of a run as they happen (until the caller stops iterating)."""
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_msg(msg: Msg) -> None:
        queue.put_nowait(msg)

    sub = await nc.subscribe(subjects.live(run_id), cb=on_msg)
    # Workers send a run's live events only while someone watches it (bus.watching).
    unwatch = await watchers(nc, subjects).watch(f"run:{run_id}")
    try:
        while True:
            msg = await queue.get()
            yield codec.from_jsonable(json.loads(msg.data))
    finally:
        unwatch()
        await sub.unsubscribe()
