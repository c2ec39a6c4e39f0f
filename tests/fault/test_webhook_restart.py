"""Webhooks are delivered at least once, from the event log: a run ends, the receiver refuses
the first attempt, the API server is SIGKILLed before the retry; once restarted, it delivers —
with the same delivery id — and records it. A destination on a private address is refused unless
allowed (here 127.0.0.1 is allowed by configuration)."""

from __future__ import annotations

import http.server
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.apiserver import ApiServer
from tests.devserver import wait_until_gone


class Receiver:
    """A local HTTP receiver answering 503 to the first ``fail`` requests, then 200."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.received: list[tuple[dict[str, str], Any, int]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 503 if len(receiver.received) < receiver.fail else 200
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail=1)
    yield r
    r.close()


def server(data_dir: Path, port: int | None = None, backoff: float = 8.0) -> ApiServer:
    return ApiServer(
        data_dir,
        extra=[
            "--DuraGraphApp.webhook_allow=127.0.0.1/32",
            f"--DuraGraphApp.webhook_backoff={backoff}",  # the retry comes after the kill
        ],
        env={"JUPYTER_TOKEN": "webhook-test-token"},
        port=port,
    )


def events(api: ApiServer, run_id: str) -> list[dict[str, Any]]:
    out = requests.get(f"{api.base}/runs/{run_id}/events", headers=api.headers, timeout=30).json()
    return list(out["events"])


def wait_for(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_webhook_survives_a_kill_between_the_end_and_the_delivery(
    tmp_path: Path, receiver: Receiver
) -> None:
    data_dir = tmp_path / "data"
    first = server(data_dir).start()
    try:
        run = requests.post(
            f"{first.base}/runs/wait",
            json={"assistant_id": "slow", "input": {"sleep": 0}, "webhook": receiver.url},
            headers=first.headers,
            timeout=60,
        )
        assert run.status_code == 200, run.text
        run_id = run.headers["Content-Location"].rsplit("/", 1)[-1]
        # The first attempt is refused (503): recorded, with a retry 8 s later.
        failed = wait_for(lambda: [e for e in events(first, run_id) if e["type"] == "webhook_attempt_failed"])
        assert failed[0]["data"]["attempt"] == 1 and "503" in failed[0]["data"]["error"]
        first.signal(signal.SIGKILL)
        first.wait()
    finally:
        first.kill()
    assert wait_until_gone(data_dir) == []
    assert len(receiver.received) == 1

    second = server(data_dir, port=first.port, backoff=0.2)
    second.start()
    try:
        delivered = wait_for(
            lambda: [e for e in events(second, run_id) if e["type"] == "webhook_delivered"], timeout=90
        )
        assert len(delivered) == 1 and delivered[0]["data"]["status"] == 200
        assert [status for _, _, status in receiver.received] == [503, 200]
        (h1, _, _), (h2, body, _) = receiver.received
        assert h1["x-duragraph-delivery"] == h2["x-duragraph-delivery"] == h2["idempotency-key"]
        assert h2["x-duragraph-delivery"].startswith(f"{run_id}:")
        assert body["run_id"] == run_id and body["status"] == "success"
        time.sleep(1.5)  # and nothing more: delivered once
        assert len(receiver.received) == 2
    finally:
        second.kill()
