"""An event loop of its own in a daemon thread: where the kernel's worker and the live widgets
run, so that a cell blocking the kernel's loop (``run.wait()``) stops neither."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


class WorkerLoop:
    """An event loop running forever in a daemon thread: the kernel worker's home (and the live widgets')."""

    def __init__(self, name: str = "duragraph-kernel-worker") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        """Run ``coro`` on this loop; a future any thread can block on or wrap."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)
