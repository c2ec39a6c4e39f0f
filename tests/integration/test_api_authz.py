"""Authorization: every route asks the server's Jupyter Authorizer for the action the route
table gives it (resource ``duragraph``), before any of the body is read.

A server with an Authorizer that allows only ``read`` (as a JupyterHub user with only read
scopes) refuses every operation that writes or executes with 403 ``forbidden`` and writes
nothing, and lets every read through; one that allows read and write refuses what executes
(starting runs, forks, replays, server-run experiments, the database credentials of
``/worker/connection``). The default Authorizer (allow all) is what every other API test runs
under. Each server is the same data directory restarted with another Authorizer, so the
refused requests name real threads, runs and assistants.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from duragraph_lab.api.routes import EXECUTE, READ, WRITE, Route
from tests.api_cases import (
    NO_BODY,
    ROUTE_OPS,
    Database,
    Ids,
    assert_error,
    op_id,
    sample_ids,
    unknown_ids,
    valid_body,
)
from tests.apiserver import ApiServer


def ops(*actions: str) -> pytest.MarkDecorator:
    """Parametrize over the operations of the route table that need one of ``actions``."""
    chosen = [(r, m) for r, m, _ in ROUTE_OPS if r.action(m) in actions]
    return pytest.mark.parametrize(("route", "method"), chosen, ids=[op_id(r, m) for r, m in chosen])


ESCALATING = [(r, m) for r, m, op in ROUTE_OPS if op.escalations]


def test_every_action_is_used() -> None:
    assert {r.action(m) for r, m, _ in ROUTE_OPS} == {READ, WRITE, EXECUTE}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("authz") / "data"


@pytest.fixture(scope="module")
def ids(data_dir: Path) -> Ids:
    """Sample data, written by the server under the default Authorizer."""
    server = ApiServer(data_dir).start()
    try:
        return sample_ids(server)
    finally:
        server.kill()


def server_with(data_dir: Path, authorizer: str) -> ApiServer:
    return ApiServer(data_dir, extra=[f"--ServerApp.authorizer_class=tests.authorizers.{authorizer}"]).start()


@pytest.fixture(scope="module")
def read_only(data_dir: Path, ids: Ids) -> Iterator[ApiServer]:
    server = server_with(data_dir, "ReadOnly")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def read_only_db(read_only: ApiServer) -> Iterator[Database]:
    database = Database(read_only)
    database.quiet(timeout=60)
    yield database
    database.close()


def send(server: ApiServer, method: str, path: str, body: Any = NO_BODY, **kwargs: Any) -> requests.Response:
    return requests.request(
        method.upper(),
        f"{server.base}{path}",
        json=None if body is NO_BODY else body,
        headers=server.headers,
        timeout=60,
        allow_redirects=False,
        **kwargs,
    )


def assert_forbidden(response: requests.Response, action: str) -> None:
    body = assert_error(response.status_code, response.json(), 403, "forbidden")
    assert f"not authorized to {action} on resource 'duragraph'" in body["message"], body


def test_the_authorizer_governs_jupyter_itself(read_only: ApiServer) -> None:
    """The same Authorizer refuses Jupyter's own writes: DuraGraph is governed alike."""
    root = f"http://127.0.0.1:{read_only.port}"
    assert requests.get(f"{root}/api/contents", headers=read_only.headers, timeout=30).status_code == 200
    created = requests.post(
        f"{root}/api/contents", json={"type": "notebook"}, headers=read_only.headers, timeout=30
    )
    assert created.status_code == 403, created.text


@ops(WRITE, EXECUTE)
def test_read_only_refuses_every_write_and_execute(
    read_only: ApiServer, read_only_db: Database, ids: Ids, route: Route, method: str
) -> None:
    """Real ids and a valid body: had the request gone through, it would have written."""
    action = route.action(method)
    path = ids.fill(route.path)
    response = read_only_db.unchanged(lambda: send(read_only, method, path, valid_body(route, method, ids)))
    assert_forbidden(response, action)
    assert "database_url" not in response.text


@ops(READ)
def test_read_only_allows_every_read(read_only: ApiServer, route: Route, method: str) -> None:
    """Unknown ids (a 404 is fine; streams of unknown runs end at once)."""
    fake = unknown_ids()
    response = send(read_only, method, fake.fill(route.path), valid_body(route, method, fake))
    assert response.status_code != 403, response.text
    assert response.status_code < 500, response.text


def test_read_only_reads_real_data(read_only: ApiServer, ids: Ids) -> None:
    assert send(read_only, "GET", f"/threads/{ids.thread_id}").json()["metadata"] == {"sample": True}
    assert (
        send(read_only, "POST", "/runs/search", {"thread_id": ids.thread_id}).json()[0]["run_id"]
        == ids.run_id
    )
    assert send(read_only, "GET", f"/runs/{ids.run_id}").json()["status"] == "success"


@pytest.mark.parametrize(("route", "method"), ESCALATING, ids=[op_id(r, m) for r, m in ESCALATING])
def test_cancel_on_disconnect_needs_write(
    read_only: ApiServer, read_only_db: Database, ids: Ids, route: Route, method: str
) -> None:
    """A reader who may not cancel the run cannot have it cancelled by going away."""
    path = ids.fill(route.path)
    response = read_only_db.unchanged(lambda: send(read_only, method, f"{path}?cancel_on_disconnect=true"))
    assert_forbidden(response, WRITE)
    response = send(read_only, method, f"{path}?cancel_on_disconnect=false", stream=True)
    assert response.status_code == 200, response.text
    response.close()


def test_an_unauthorized_body_is_not_read(read_only: ApiServer, read_only_db: Database, ids: Ids) -> None:
    """403 from the headers alone: the 400 MB announced are never sent, let alone read."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", read_only.port), timeout=10) as sock:
        sock.sendall(
            f"POST /duragraph/api/v1/threads/{ids.thread_id}/runs HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{read_only.port}\r\nAuthorization: token {read_only.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {400 * 1024 * 1024}\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):  # the server closes the connection after its answer
            answer += chunk
    assert time.monotonic() - started < 5
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403"), answer
    assert b"connection: close" in head.lower()
    assert b'"forbidden"' in body and b"not authorized to execute" in body, body


def test_protocol_websocket_commands_are_authorized_one_by_one(read_only: ApiServer, ids: Ids) -> None:
    """The WebSocket upgrade needs `read`; a command frame that starts a run needs `execute`."""
    import asyncio
    import json

    import websockets

    url = read_only.base.replace("http://", "ws://") + f"/threads/{ids.thread_id}/stream/events"

    async def talk() -> list[dict[str, Any]]:
        async with websockets.connect(url, additional_headers=read_only.headers) as ws:
            answers = []
            for frame in (
                {"id": 1, "method": "subscription.subscribe", "params": {"channels": ["lifecycle"]}},
                {"id": 2, "method": "run.start", "params": {"assistant_id": "slow"}},
                {"id": 3, "method": "state.get", "params": {"namespace": []}},
            ):
                await ws.send(json.dumps(frame))
                while True:
                    answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if answer.get("type") != "event":
                        answers.append(answer)
                        break
            return answers

    subscribed, started, state = asyncio.run(talk())
    assert subscribed["type"] == "success"
    assert started == {"type": "error", "id": 2, "error": "permission_denied", "message": started["message"]}
    assert state["type"] == "success" and "values" in state["result"]


# -- read and write, but not execute ---------------------------------------------------------------
@pytest.fixture(scope="module")
def no_execute(data_dir: Path, ids: Ids, read_only: ApiServer) -> Iterator[ApiServer]:
    """After the read-only server (same data directory): started when its tests are done."""
    read_only.kill()
    server = server_with(data_dir, "NoExecute")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def no_execute_db(no_execute: ApiServer) -> Iterator[Database]:
    database = Database(no_execute)
    database.quiet(timeout=60)
    yield database
    database.close()


@ops(EXECUTE)
def test_read_write_refuses_whatever_executes(
    no_execute: ApiServer, no_execute_db: Database, ids: Ids, route: Route, method: str
) -> None:
    path = ids.fill(route.path)
    response = no_execute_db.unchanged(lambda: send(no_execute, method, path, valid_body(route, method, ids)))
    assert_forbidden(response, EXECUTE)
    assert "database_url" not in response.text and "postgresql://" not in response.text


def test_read_write_writes(no_execute: ApiServer, ids: Ids) -> None:
    created = send(no_execute, "POST", "/threads", {"metadata": {"by": "writer"}})
    assert created.status_code == 200, created.text
    thread = created.json()["thread_id"]
    assert send(no_execute, "PATCH", f"/threads/{thread}", {"metadata": {"b": 2}}).status_code == 200
    assert (
        send(
            no_execute, "POST", f"/threads/{thread}/runs", {"assistant_id": "nested", "input": {}}
        ).status_code
        == 403
    )
    assert send(no_execute, "DELETE", f"/threads/{thread}").status_code == 204
    assert send(no_execute, "GET", f"/runs/{ids.run_id}/join?cancel_on_disconnect=true").status_code == 200
