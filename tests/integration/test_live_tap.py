"""A stream that creates its run hears the run's first live events (LLM tokens, custom events):
it subscribes under the run's id before the run exists (control/follow.py ``LiveTap``), because
a worker may start the run and stream its first tokens before the creating request could
subscribe once the run is there. Real PostgreSQL and NATS; the live events are published as a
worker publishes them (``LivePublisher``)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, TypedDict

from nats.aio.client import Client as NATS

from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.bus.live import LivePublisher
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.control.follow import Item
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.store import PostgresEventStore
from duragraph_lab.worker.registry import graph_registry


class Count(TypedDict, total=False):
    n: int


def counter() -> CompiledGraph:
    g = StateGraph(Count)
    g.add_node("add", lambda s: {"n": s.get("n", 0) + 1})
    g.add_edge(START, "add")
    g.add_edge("add", END)
    return g.compile(name="tap_counter")


async def _items(control: ControlPlane, run_id: str, live: Any, until: int) -> list[Item]:
    """What following the run yields within a second (no worker runs it: it stays pending)."""
    got: list[Item] = []

    async def take() -> None:
        async for item in control.follower.run(run_id, live=live, poll_interval=0.2):
            got.append(item)
            if sum(1 for i in got if i.live is not None) >= until:
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(take(), timeout=1.0)
    return got


async def test_live_events_published_before_the_stream_follows_reach_a_tapped_stream(
    pg_store: PostgresEventStore, nc: NATS, subjects: Subjects
) -> None:
    control = control_plane(pg_store, BusLink(subjects, nc))
    await graph_registry(pg_store).register(counter(), registered_by="test")
    worker_side = LivePublisher(nc, subjects)

    # The stream subscribes first, then creates the run under that id.
    run_id = str(uuid.uuid4())
    tap = await control.follower.tap_live(run_id)
    ref = await control.runs.create_run("tap_counter", {"n": 0}, run_id=run_id)
    assert ref.run_id == run_id
    # A worker starts it at once: its first tokens go out before the stream follows the run.
    worker_side(run_id, "token", {"text": "You"})
    worker_side(run_id, "token", {"text": " said"})
    await nc.flush()
    items = await _items(control, run_id, tap, until=2)
    assert [i.live["text"] for i in items if i.live is not None] == ["You", " said"]

    # Without the tap, what was published before the stream subscribed is gone (the race the
    # tap closes): only what comes after the subscription is heard.
    late = await control.runs.create_run("tap_counter", {"n": 0})
    worker_side(late.run_id, "token", {"text": "lost"})
    await nc.flush()
    await asyncio.sleep(0.1)
    following = asyncio.ensure_future(_items(control, late.run_id, True, until=1))
    await asyncio.sleep(0.3)
    worker_side(late.run_id, "token", {"text": "heard"})
    await nc.flush()
    assert [i.live["text"] for i in await following if i.live is not None] == ["heard"]


async def test_a_run_id_that_is_not_a_uuid_is_refused(pg_store: PostgresEventStore) -> None:
    import pytest

    from duragraph_lab.engine.commands import InvalidRunRequest

    control = control_plane(pg_store)
    await graph_registry(pg_store).register(counter(), registered_by="test")
    with pytest.raises(InvalidRunRequest, match="run_id must be a UUID"):
        await control.runs.create_run("tap_counter", {"n": 0}, run_id="run-1")
