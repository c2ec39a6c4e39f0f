"""Ephemeral live events (node started, custom stream events, LLM token chunks) over core NATS.

They are not stored and not relayed: they travel once, to whoever listens now. Everything a run
decides is in the event log; these only make watching it feel immediate.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.domain import codec


class LivePublisher:
    def __init__(self, nc: NATS, subjects: Subjects) -> None:
        self.nc = nc
        self.subjects = subjects
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, run_id: str, kind: str, payload: dict[str, Any]) -> None:
        try:
            body = json.dumps({"kind": kind, "ts": time.time(), **codec.to_jsonable(payload)}).encode()
        except Exception:
            return  # a custom event we cannot encode is dropped, never fatal for the node
        task = asyncio.ensure_future(self.nc.publish(self.subjects.live(run_id), body))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # best effort: a lost live event is not an error


async def follow_live(nc: NATS, subjects: Subjects, run_id: str) -> AsyncIterator[dict[str, Any]]:
    """Live events of a run as they happen (until the caller stops iterating)."""
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_msg(msg: Msg) -> None:
        queue.put_nowait(msg)

    sub = await nc.subscribe(subjects.live(run_id), cb=on_msg)
    try:
        while True:
            msg = await queue.get()
            yield codec.from_jsonable(json.loads(msg.data))
    finally:
        await sub.unsubscribe()
