"""Best-effort publishes that nobody awaits: each task is kept referenced until it is done (the
event loop holds only weak references, so an unreferenced task may be collected mid-flight), and
its error, if any, is dropped: a lost hint only leaves its receiver to a slower path."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so that asyncio does not log it as never retrieved
