"""A real `duragraph-lab serve` with the demo assistants and the test graphs, for API tests."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.api_graphs import DEMOS, GRAPHS
from tests.devserver import DevServer

REPO = Path(__file__).resolve().parents[1]


class ApiServer(DevServer):
    """``serve`` (no Lab UI) whose in-process worker serves the demos and tests/api_graphs.py."""

    def __init__(
        self,
        data_dir: Path,
        *,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
        more_graphs: tuple[str, ...] = (),
    ) -> None:
        #: How many graphs the worker serves: the demos, tests/api_graphs.py and ``more_graphs``
        #: (module:attr references, e.g. LangGraph graphs of tests/lg_graphs.py).
        self.graph_count = len(DEMOS) + len(GRAPHS) + len(more_graphs)
        graphs = [f"--DuraGraphApp.graphs={ref}" for ref in (*DEMOS, *GRAPHS, *more_graphs)]
        super().__init__(
            data_dir,
            command="serve",
            extra=[*graphs, "--DuraGraphApp.keepalive_seconds=1", *(extra or [])],
            env={
                "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
                "DURAGRAPH_LLM_TOKEN_DELAY": "0.01",
                **(env or {}),
            },
            port=port,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/duragraph/api/v1"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def start(self, timeout: float = 90.0) -> ApiServer:
        super().start(timeout)
        self.wait_for_worker()
        return self

    def wait_for_worker(self, timeout: float = 30.0) -> None:
        """The in-process worker registers its graphs just after the server is ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, health = self.api("health", token=self.token)
            if status == 200 and health.get("worker") and len(health["worker"]["graphs"]) == self.graph_count:
                return
            time.sleep(0.05)
        raise AssertionError(f"the worker did not start:\n{self.output()[-3000:]}")

    def request(
        self,
        method: str,
        route: str,
        body: Any = None,
        *,
        token: str | None = "default",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> tuple[int, Any, dict[str, str]]:
        """One HTTP request to the API: ``(status, JSON body or text, headers)``."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"{self.base}{route}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"token {self.token if token == 'default' else token}")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                payload = response.read()
                return response.status, _decode(payload), dict(response.headers)
        except urllib.error.HTTPError as err:
            return err.code, _decode(err.read()), dict(err.headers)


def _decode(payload: bytes) -> Any:
    if not payload.strip():
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")
