"""The event loop a ``duragraph-lab worker`` process runs on.

A worker's CPU goes largely to the event loop itself: every database round trip registers and
unregisters a reader, every NATS publish is a socket write, every LangGraph step schedules
tasks and callbacks. uvloop (libuv) does that work in C: ~5 % of the worker's CPU, and of the
wall time, a LangGraph step (``benchmarks.cpu_per_step --langgraph``, docs/benchmarks.md). It
is used when it is installed (a dependency on Linux and macOS) unless
``DURAGRAPH_EVENT_LOOP=asyncio`` asks for the standard loop. On Windows the standard loop must be the selector one: psycopg's async
connections cannot use the default proactor loop.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable

__all__ = ["EVENT_LOOP_ENV", "loop_factory"]

#: "uvloop" (the default where it is installed) or "asyncio" (the standard library's loop).
EVENT_LOOP_ENV = "DURAGRAPH_EVENT_LOOP"

_CHOICES = ("uvloop", "asyncio")


def loop_factory(
    env: dict[str, str] | None = None,
) -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    """The factory for :class:`asyncio.Runner` (None: the standard loop) and its name.

    Raises ValueError for a setting other than "uvloop" or "asyncio", and when uvloop is asked
    for by name but cannot be imported."""
    choice = (os.environ if env is None else env).get(EVENT_LOOP_ENV, "").strip().lower()
    if choice and choice not in _CHOICES:
        raise ValueError(f"{EVENT_LOOP_ENV}={choice!r}: expected one of {', '.join(_CHOICES)}")
    if sys.platform == "win32":
        if choice == "uvloop":
            raise ValueError(f"{EVENT_LOOP_ENV}=uvloop: uvloop does not run on Windows")
        return asyncio.SelectorEventLoop, "asyncio"
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise ValueError(
                    f"{EVENT_LOOP_ENV}=uvloop: uvloop is not installed (pip install uvloop)"
                ) from None
        else:
            return uvloop.new_event_loop, "uvloop"
    return None, "asyncio"
