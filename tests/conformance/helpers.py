"""Small helpers for the SDK conformance tests (waiting on conditions, collecting streams)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from langgraph_sdk.client import LangGraphClient

HUMAN_2_PLUS_3 = {"messages": [{"role": "user", "content": "what is 2 + 3"}]}


def tag() -> dict[str, str]:
    """Metadata that only this test's objects carry (the server is shared by the session)."""
    return {"conformance": uuid.uuid4().hex}


async def new_thread(client: LangGraphClient, **metadata: Any) -> str:
    thread = await client.threads.create(metadata=metadata or None)
    return str(thread["thread_id"])


async def collect(stream: AsyncIterator[Any]) -> list[tuple[str, Any]]:
    """``(event, data)`` of every part of an SDK stream (v1 ``StreamPart``s)."""
    return [(part.event, part.data) async for part in stream]


async def until(
    probe: Callable[[], Any], check: Callable[[Any], bool], *, timeout: float = 20.0, what: str = ""
) -> Any:
    """Poll ``await probe()`` until ``check(result)``; the last result (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        result = await probe()
        if check(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or 'a condition'}; last: {result!r}")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.2)


async def run_status(client: LangGraphClient, thread_id: str, run_id: str, *statuses: str) -> dict[str, Any]:
    """Wait until the run has one of ``statuses``."""
    run: dict[str, Any] = await until(
        lambda: client.runs.get(thread_id, run_id),
        lambda r: r["status"] in statuses,
        what=f"run {run_id} to be {'/'.join(statuses)}",
    )
    return run


async def progressed(client: LangGraphClient, thread_id: str, run_id: str, nodes: int) -> None:
    """Wait until the running ``slow`` run has finished at least ``nodes`` nodes."""
    await run_status(client, thread_id, run_id, "running")
    await until(
        lambda: client.threads.get_state(thread_id),
        lambda s: len(s["values"].get("log") or []) >= nodes,
        what=f"{nodes} nodes of run {run_id}",
    )


def events_of(parts: list[tuple[str, Any]], name: str) -> list[Any]:
    return [data for event, data in parts if event == name]
