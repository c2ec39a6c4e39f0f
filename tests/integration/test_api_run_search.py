"""POST /runs/search and /runs/count: runs across threads by status, assistant, graph, thread,
ids, metadata and creation time, against a real server (the demo assistants)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import httpx
import pytest

from duragraph_lab.client import DuraGraphClient
from duragraph_lab.client.models import Run
from tests.apiserver import ApiServer

HELLO = {"messages": [{"role": "user", "content": "what is 6 * 7"}]}


@pytest.fixture(scope="module")
def client(api_server: ApiServer) -> Iterator[DuraGraphClient]:
    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", token=api_server.token, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def runs(client: DuraGraphClient) -> dict[str, Run]:
    """Four runs tagged with this module's batch: two chats, an approval (interrupted) and a
    chat on the approval's thread."""
    batch = uuid.uuid4().hex
    out: dict[str, Run] = {}
    t1, t2 = client.threads.create(), client.threads.create()
    for name, thread, graph in (
        ("a", t1, "chat"),
        ("b", t2, "chat"),
        ("c", t2, "approval"),
        ("d", t1, "chat"),
    ):
        result = client.runs.wait(
            thread.thread_id,
            graph,
            input=HELLO,
            metadata={"batch": batch, "name": name},
        )
        out[name] = client.runs.get(result.run_id, thread_id=thread.thread_id)
    out["batch"] = batch  # type: ignore[assignment]
    return out


def _names(found: list[Run], runs: dict[str, Run]) -> list[str]:
    by_id = {r.run_id: k for k, r in runs.items() if isinstance(r, Run)}
    return [by_id[r.run_id] for r in found if r.run_id in by_id]


def test_search_by_metadata_newest_first_and_paged(client: DuraGraphClient, runs: dict[str, Run]) -> None:
    batch = {"batch": runs["batch"]}
    assert _names(client.runs.search(metadata=batch, limit=10), runs) == ["d", "c", "b", "a"]
    assert _names(client.runs.search(metadata=batch, sort_order="asc"), runs) == ["a", "b", "c", "d"]
    assert _names(client.runs.search(metadata=batch, limit=2, offset=1), runs) == ["c", "b"]
    assert client.runs.count(metadata=batch) == 4
    assert _names(client.runs.search(metadata={**batch, "name": "c"}), runs) == ["c"]


def test_search_by_status_graph_thread_ids_and_time(client: DuraGraphClient, runs: dict[str, Run]) -> None:
    batch = {"batch": runs["batch"]}
    assert runs["c"].status == "interrupted"
    assert _names(client.runs.search(metadata=batch, status="interrupted"), runs) == ["c"]
    assert _names(client.runs.search(metadata=batch, status=["success", "interrupted"]), runs) == [
        "d",
        "c",
        "b",
        "a",
    ]
    assert _names(client.runs.search(metadata=batch, graph_id="approval"), runs) == ["c"]
    assert _names(client.runs.search(metadata=batch, assistant_id=runs["c"].assistant_id), runs) == ["c"]
    assert _names(client.runs.search(thread_id=runs["a"].thread_id), runs) == ["d", "a"]
    assert _names(client.runs.search(ids=[runs["b"].run_id, runs["d"].run_id]), runs) == ["d", "b"]
    middle = runs["b"].created_at
    assert isinstance(middle, dt.datetime)
    assert _names(client.runs.search(metadata=batch, created_after=middle), runs) == ["d", "c"]
    assert _names(client.runs.search(metadata=batch, created_before=middle.isoformat()), runs) == ["a"]
    assert client.runs.count(metadata=batch, status="success", graph_id="chat") == 3
    assert client.runs.search(metadata={"batch": "no such batch"}) == []
    assert client.runs.count(metadata={"batch": "no such batch"}) == 0


def test_pagination_headers(api_server: ApiServer, runs: dict[str, Run]) -> None:
    body = {"metadata": {"batch": runs["batch"]}, "limit": 3}
    got = httpx.post(f"{api_server.base}/runs/search", json=body, headers=api_server.headers)
    assert got.status_code == 200
    assert got.headers["X-Pagination-Total"] == "4" and got.headers["X-Pagination-Next"] == "3"
    last = httpx.post(
        f"{api_server.base}/runs/search", json={**body, "offset": 3}, headers=api_server.headers
    )
    assert len(last.json()) == 1 and "X-Pagination-Next" not in last.headers


@pytest.mark.parametrize(
    "body",
    [
        {"status": "nope"},
        {"status": ["success", "nope"]},
        {"assistant_id": "not-a-uuid"},
        {"ids": ["x"]},
        {"limit": 0},
        {"limit": 1001},
        {"sort_by": "graph_id"},
        {"created_after": "yesterday"},
        {"unknown": 1},
    ],
)
def test_bad_filters_are_422(api_server: ApiServer, body: dict[str, object]) -> None:
    for route in ("runs/search", "runs/count"):
        if route == "runs/count" and set(body) & {"limit", "sort_by"}:
            continue
        got = httpx.post(f"{api_server.base}/{route}", json=body, headers=api_server.headers)
        assert got.status_code == 422, (route, body, got.text)
        assert got.json()["error"] == "validation_error"
