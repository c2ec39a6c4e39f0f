"""`serve` restarts its embedded PostgreSQL and nats-server when they are killed (kill -9) under
load: nobody restarts anything by hand, every run still ends correctly, and /health says what is
down meanwhile (503, never a 500 or a hang)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.apiserver import ApiServer
from tests.devserver import owner_database_url

RUNS = 24


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    api = ApiServer(tmp_path / "data")
    api.start()
    try:
        yield api
    finally:
        api.kill()


def _pid(path: Path) -> int:
    return int(path.read_text().splitlines()[0].strip())


def _start_runs(server: ApiServer, n: int) -> list[tuple[str, str]]:
    runs = []
    for _ in range(n):
        status, thread, _ = server.request("POST", "/threads", {})
        assert status == 200, thread
        status, run, _ = server.request(
            "POST", f"/threads/{thread['thread_id']}/runs", {"assistant_id": "slow", "input": {"sleep": 0.3}}
        )
        assert status == 200, run
        runs.append((thread["thread_id"], run["run_id"]))
    return runs


class HealthWatch:
    """/health polled every 50 ms on a thread: what it said while the service was away."""

    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.seen: list[tuple[int, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            status, body, _ = self.server.request("GET", "/health", timeout=15)
            self.seen.append((status, body))
            self._stop.wait(0.05)

    def stop(self) -> list[tuple[int, Any]]:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.seen


def _wait_healthy(server: ApiServer, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body, _ = server.request("GET", "/health", timeout=15)
        if status == 200:
            return dict(body)
        time.sleep(0.1)
    raise AssertionError(f"not healthy again within {timeout}s:\n{server.output()[-3000:]}")


def _wait_all_done(server: ApiServer, runs: list[tuple[str, str]], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        for thread_id, run_id in runs:
            if statuses.get(run_id) in ("success", "error"):
                continue
            status, run, _ = server.request("GET", f"/threads/{thread_id}/runs/{run_id}", timeout=15)
            if status == 200:
                statuses[run_id] = run["status"]
        if all(statuses.get(r) in ("success", "error") for _, r in runs):
            return statuses
        time.sleep(0.2)
    raise AssertionError(f"runs still unfinished: {statuses}\n{server.output()[-3000:]}")


def _assert_every_run_complete(server: ApiServer, runs: list[tuple[str, str]]) -> None:
    with psycopg.connect(owner_database_url(server.data_dir)) as conn:
        for _, run_id in runs:
            rows = conn.execute(
                "SELECT version, type, data FROM duragraph.events WHERE stream_id = %s ORDER BY version",
                (f"run:{run_id}",),
            ).fetchall()
            assert [r[0] for r in rows] == list(range(1, len(rows) + 1)), "versions contiguous"
            assert rows[-1][1] == "run_completed", rows[-1]
            done = [r[2]["node"] for r in rows if r[1] == "node_completed"]
            assert done == [f"s{i}" for i in range(5)], f"each node committed once: {done}"


@pytest.mark.parametrize("service", ["postgres", "nats"])
def test_a_killed_embedded_service_is_restarted_and_runs_finish(server: ApiServer, service: str) -> None:
    pidfile = (
        server.data_dir / "postgres" / "data" / "postmaster.pid"
        if service == "postgres"
        else server.data_dir / "nats" / "nats.pid"
    )
    before = _pid(pidfile)
    runs = _start_runs(server, RUNS)
    time.sleep(0.5)  # runs in flight
    watch = HealthWatch(server)
    os.kill(before, signal.SIGKILL)
    time.sleep(0.3)
    healthy = _wait_healthy(server, timeout=60)
    seen = watch.stop()

    after = _pid(pidfile)
    assert after != before, "a new server process"
    supervisor = healthy[service]["supervisor"]
    assert supervisor["restarts"] == 1 and not supervisor["restarting"], supervisor
    # While it was away, /health said so (503 naming the service), and never answered a 500.
    assert all(status in (200, 503) for status, _ in seen), [s for s, _ in seen]
    down = [body for status, body in seen if status == 503]
    assert down, "an outage of at least a few hundred ms was seen by /health"
    assert all(not body[service]["ok"] or body["status"] != "ok" for body in down)
    assert "exited unexpectedly" in server.output() and "is back after" in server.output()

    statuses = _wait_all_done(server, runs, timeout=120)
    assert set(statuses.values()) == {"success"}, statuses
    _assert_every_run_complete(server, runs)
