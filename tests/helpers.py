"""Test helpers shared by integration and fault tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig, DeliverPolicy

from duragraph_lab.bus import Subjects


async def jetstream_messages(nc: NATS, subjects: Subjects, *, expect: int | None = None) -> list[Msg]:
    """Every message in the test's JetStream stream, in stream order."""
    js = nc.jetstream()
    info = await js.stream_info(subjects.stream_name)
    total = info.state.messages
    sub = await js.pull_subscribe(
        subjects.all_events,
        stream=subjects.stream_name,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=30),
    )
    out: list[Msg] = []
    try:
        while len(out) < total:
            try:
                batch = await sub.fetch(batch=min(1000, total - len(out)), timeout=2)
            except NatsTimeout:
                break
            for msg in batch:
                await msg.ack()
            out.extend(batch)
    finally:
        await sub.unsubscribe()
    if expect is not None:
        assert len(out) == expect, f"JetStream holds {len(out)} messages, expected {expect}"
    return out


async def eventually(
    check: Callable[[], Awaitable[Any]] | Callable[[], Any], timeout: float = 10.0, interval: float = 0.02
) -> Any:
    """Poll ``check`` until it returns a truthy value; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
