"""The demo assistants, served by `duragraph-lab dev`'s worker, run to completion."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from duragraph_lab.bus import Subjects
from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.domain.run import RunStatus
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.runtime.services import RUNTIME_FILE, RuntimeInfo
from duragraph_lab.store import PostgresEventStore, open_pool
from tests.devserver import DevServer


@pytest.fixture
async def dev_control(tmp_path: Path) -> AsyncIterator[tuple[DevServer, ControlPlane]]:
    server = DevServer(tmp_path / "data", env={"DURAGRAPH_LLM_TOKEN_DELAY": "0"})
    server.start()
    info = RuntimeInfo.from_json((server.data_dir / RUNTIME_FILE).read_text())
    pool = await open_pool(info.endpoints.database_url, max_size=4)
    try:
        yield server, control_plane(PostgresEventStore(pool), BusLink(Subjects()))
    finally:
        await pool.close()
        server.kill()


async def test_demo_assistants_run_through_the_dev_worker(
    dev_control: tuple[DevServer, ControlPlane],
) -> None:
    server, control = dev_control
    health: dict[str, object] = {}
    for _ in range(200):  # the in-process worker starts just after the server is ready
        status, health = server.api("health", token=server.token)
        assert status == 200, health
        if health["worker"]:
            break
        await asyncio.sleep(0.05)
    assert sorted(health["worker"]["graphs"]) == ["approval", "chat", "map_reduce"]  # type: ignore[index]

    chat = await control.runs.create_run("chat", {"messages": [("user", "what is 6 * 7")]})
    state = await control.runs.wait(chat.run_id, timeout=30)
    assert state.status is RunStatus.SUCCESS, state.error
    assert "42" in state.values["messages"][-1]["content"]
    assert any(m.get("type") == "tool" for m in state.values["messages"])

    mapped = await control.runs.create_run("map_reduce", {"topic": "durable agents"})
    state = await control.runs.wait(mapped.run_id, timeout=30)
    assert state.status is RunStatus.SUCCESS, state.error
    assert 3 <= len(state.values["notes"]) <= 5
    assert state.values["summary"]

    approval = await control.runs.create_run("approval", {"messages": [("user", "write a greeting")]})
    state = await control.runs.wait(approval.run_id, timeout=30)
    assert state.status is RunStatus.INTERRUPTED, state.error
    assert "draft" in state.interrupts[0]["value"]
    await control.runs.resume(approval.run_id, True)
    state = await control.runs.wait(approval.run_id, timeout=30)
    assert state.status is RunStatus.SUCCESS, state.error
    assert state.values["approved"] is True
