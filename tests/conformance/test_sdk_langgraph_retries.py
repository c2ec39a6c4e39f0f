"""Retries LangGraph makes of a task (a node's ``RetryPolicy``) recorded as the native engine
records attempts: a ``node_failed`` per failed attempt (``will_retry``), the successful one's
``node_completed`` with its attempt number, one span per attempt — through the official
``langgraph-sdk`` against a real server and worker."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytest.importorskip("langgraph")

from langgraph_sdk import get_client, get_sync_client

from tests.conformance.langgraph_server import headers, url
from tests.devserver import DevServer


@pytest.fixture
def server(lg_server: DevServer) -> DevServer:
    """The package's LangGraph server (tests/conformance/conftest.py)."""
    return lg_server


def _get(server: DevServer, path: str) -> Any:
    response = httpx.get(f"{url(server)}/{path}", headers=headers(server), timeout=30)
    response.raise_for_status()
    return response.json()


def _events(server: DevServer, run_id: str, kind: str) -> list[dict[str, Any]]:
    page = _get(server, f"runs/{run_id}/events?limit=1000")
    return [e["data"] for e in page["events"] if e["type"] == kind]


@pytest.mark.sdk("runs.create", "runs.join", "threads.create")
async def test_retried_attempts_are_recorded(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        run = await client.runs.create(thread, "lg_flaky", input={"topic": str(uuid.uuid4()), "fail": 2})
        result = await client.runs.join(thread, run["run_id"])
        assert result["attempts"] == 3, result  # LangGraph ran the node three times
    failed = _events(server, run["run_id"], "node_failed")
    assert [(f["node"], f["attempt"], f["will_retry"]) for f in failed] == [
        ("flaky", 1, True),
        ("flaky", 2, True),
    ]
    assert all("ConnectionError" in f["error"]["type"] for f in failed)
    assert failed[0]["retry_in"] >= 0.04 and failed[0]["task"] == failed[1]["task"]
    (done,) = _events(server, run["run_id"], "node_completed")
    assert done["attempt"] == 3 and done["task"] == failed[0]["task"]
    spans = [s for s in _get(server, f"runs/{run['run_id']}/spans") if s["node"] == "flaky"]
    assert [(s["attempt"], s["status"]) for s in spans] == [(1, "error"), (2, "error"), (3, "ok")]


@pytest.mark.sdk("runs.create", "runs.get", "runs.join", "threads.create")
def test_sync_client_attempts_of_a_run_that_fails(server: DevServer) -> None:
    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()["thread_id"]
        run = client.runs.create(thread, "lg_flaky", input={"topic": str(uuid.uuid4()), "fail": 5})
        client.runs.join(thread, run["run_id"])
        assert client.runs.get(thread, run["run_id"])["status"] == "error"
    failed = _events(server, run["run_id"], "node_failed")
    # max_attempts=3: two retried, the third not.
    assert [(f["attempt"], f["will_retry"]) for f in failed] == [(1, True), (2, True), (3, False)]
    spans = [s for s in _get(server, f"runs/{run['run_id']}/spans") if s["node"] == "flaky"]
    assert [(s["attempt"], s["status"]) for s in spans] == [(1, "error"), (2, "error"), (3, "error")]


@pytest.mark.sdk("runs.create", "runs.join", "threads.create")
async def test_attempts_of_a_subgraphs_task(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        run = await client.runs.create(
            thread, "lg_flaky_nested", input={"topic": str(uuid.uuid4()), "fail": 1}
        )
        result = await client.runs.join(thread, run["run_id"])
        assert result["attempts"] == 2, result
    spans = _get(server, f"runs/{run['run_id']}/spans")
    inner = [(s["node"], s["attempt"], s["status"]) for s in spans if s["ns"]]
    assert inner == [("flaky", 1, "error"), ("flaky", 2, "ok")], spans
    assert {s["ns"] for s in spans if s["ns"]} == {f"sub:{next(s['task'] for s in spans if not s['ns'])}:1|"}
    (failed,) = _events(server, run["run_id"], "node_failed")
    assert failed["will_retry"] and failed["ns"].startswith("sub:")
