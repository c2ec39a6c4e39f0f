"""A subscription set up by a request that goes away must not break the shared NATS connection.

nats-py crashes its read loop on the PONG of a flush whose future was cancelled; after that the
connection receives nothing until a ping timeout reconnects it (minutes). Every SSE client that
disconnects while its stream is subscribing cancels such a flush.
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.bus.subscription import safe_flush


async def test_cancelled_flushes_leave_the_connection_receiving(nc: NATS, subjects: Subjects) -> None:
    for spins in range(12):
        task = asyncio.ensure_future(safe_flush(nc, timeout=2))
        for _ in range(spins % 4):  # cancelled before, while and after the PING goes out
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_msg(msg: object) -> None:
        got.put_nowait(getattr(msg, "data", b""))

    subject = f"{subjects.prefix}.flushcheck"
    sub = await nc.subscribe(subject, cb=on_msg)
    try:
        await safe_flush(nc, timeout=2)
        for i in range(3):
            await nc.publish(subject, str(i).encode())
        received = [await asyncio.wait_for(got.get(), 5) for _ in range(3)]
    finally:
        await sub.unsubscribe()
    assert received == [b"0", b"1", b"2"]
    assert nc.is_connected
