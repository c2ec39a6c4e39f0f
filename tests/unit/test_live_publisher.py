"""Live events (duragraph_lab/bus/live.py): published in the background, in order, none left
behind, and never failing the caller."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from duragraph_lab.bus.live import LivePublisher
from duragraph_lab.bus.subjects import Subjects


class SlowNats:
    """Every third publish waits a turn of the loop, as a full client buffer makes it wait."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.sent: list[tuple[str, int]] = []
        self.calls = 0
        self.fail_on = fail_on

    async def publish(self, subject: str, body: bytes) -> None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise ConnectionError("gone")
        if self.calls % 3 == 0:
            await asyncio.sleep(0)
        self.sent.append((subject, json.loads(body)["payload"]))


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_events_go_out_in_order_even_when_a_publish_waits() -> None:
    nc = SlowNats()
    subjects = Subjects(prefix="t")
    live = LivePublisher(nc, subjects)  # type: ignore[arg-type]
    for i in range(5):
        live("r1", "custom", {"payload": i})
    await asyncio.sleep(0)
    for i in range(5, 12):  # while the sender is part-way through the first ones
        live("r1", "custom", {"payload": i})
        await asyncio.sleep(0)
    await settle()
    assert nc.sent == [(subjects.live("r1"), i) for i in range(12)]


async def test_an_event_queued_after_the_sender_finished_is_sent() -> None:
    nc = SlowNats()
    live = LivePublisher(nc, Subjects(prefix="t"))  # type: ignore[arg-type]
    live("r1", "custom", {"payload": 0})
    await settle()
    live("r1", "custom", {"payload": 1})
    await settle()
    assert [p for _, p in nc.sent] == [0, 1]


async def test_a_failing_publish_loses_only_its_batch() -> None:
    nc = SlowNats(fail_on=1)
    live = LivePublisher(nc, Subjects(prefix="t"))  # type: ignore[arg-type]
    live("r1", "custom", {"payload": 0})
    await settle()
    live("r1", "custom", {"payload": 1})
    unencodable: Any = {"payload": object()}
    live("r1", "custom", unencodable)  # dropped, not raised
    await settle()
    assert [p for _, p in nc.sent] == [1]
