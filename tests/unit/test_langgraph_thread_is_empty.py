"""When a LangGraph run's checkpointer may answer reads of its thread without the database
(executor.thread_is_empty): only for a thread made for the run, before the run saved anything."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.engine import commands
from duragraph_lab.langgraph.executor import thread_is_empty

RUN, THREAD = "0195f0a4-0000-7000-8000-0000000000c1", "0195f0a4-0000-7000-8000-0000000000a1"


def _log(*events: tuple[str, dict[str, Any]]) -> list[RecordedEvent]:
    return [
        RecordedEvent(i, f"run:{RUN}", i, uuid.uuid4(), kind, data, {}, datetime.now(UTC))
        for i, (kind, data) in enumerate(events, start=1)
    ]


def _created(*, new_thread: bool) -> tuple[str, dict[str, Any]]:
    created = commands.run_created(
        run_id=RUN,
        thread_id=THREAD,
        graph_id="g",
        assistant_id=None,
        channels={},
        nodes=[],
        new_thread=new_thread,
    )
    return created.type, dict(created.data)


def test_a_thread_made_for_the_run_is_empty_until_the_run_saves_something() -> None:
    started = (ev.RUN_STARTED, {"worker_id": "w", "epoch": 1, "attempt": 1})
    assert thread_is_empty(_log(_created(new_thread=True)))
    # Taken again after a worker died before it saved anything: still nothing there.
    assert thread_is_empty(_log(_created(new_thread=True), started, started))
    # Taken again after it saved a step: its checkpoints are in the thread.
    planned = (ev.STEP_PLANNED, {"step": 0, "tasks": [], "barriers": {}, "custom_values": {}})
    assert not thread_is_empty(_log(_created(new_thread=True), started, planned, started))


def test_a_thread_not_made_for_the_run_may_hold_anything() -> None:
    assert not thread_is_empty(_log(_created(new_thread=False)))
    assert not thread_is_empty([])
    # A run starting from another run's point starts from something, whatever its thread.
    kind, data = _created(new_thread=True)
    assert not thread_is_empty(_log((kind, {**data, "base": {"run_id": RUN, "seq": 3, "mode": "fork"}})))
