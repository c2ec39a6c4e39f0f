"""Liveness (``/ok``) and readiness (``/ready``) answer without credentials, in the Jupyter-hosted
server (``dev``, JupyterLab) and in the standalone ``serve`` alike, with anonymous access to
Jupyter itself turned off; every other route still wants a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver import REPO
from tests.devserver import DevServer, http

COMMANDS = ["dev", "serve"]


@pytest.fixture(scope="module", params=COMMANDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    data: Path = tmp_path_factory.mktemp(f"probes-{request.param}") / "data"
    server = DevServer(
        data,
        command=request.param,
        extra=["--ServerApp.allow_unauthenticated_access=False"],
        env={"PYTHONPATH": str(REPO)},  # this checkout's code, not whichever is installed
    )
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.mark.parametrize("token", [None, "wrong"])
def test_liveness_needs_no_token(server: DevServer, token: str | None) -> None:
    assert server.api("ok", token=token) == (200, {"ok": True})


def test_readiness_needs_no_token_and_says_only_up_or_down(server: DevServer) -> None:
    status, body = server.api("ready")
    assert (status, body) == (200, {"ok": True, "services": {"postgres": "healthy", "nats": "healthy"}})
    status, body = server.api("ok?check_db=1")
    assert (status, body) == (200, {"ok": True, "services": {"database": "healthy"}})


def test_the_rest_still_wants_a_token(server: DevServer) -> None:
    for route in ("health", "info", "threads/search", "no-such-route"):
        status, body = server.api(route)
        assert status == 401 and body["error"] == "unauthorized", (route, status, body)
    assert server.api("health", token=server.token)[0] == 200
    # Jupyter's own API is still closed to anonymous visitors.
    assert http(f"http://127.0.0.1:{server.port}/api/contents")[0] == 403
