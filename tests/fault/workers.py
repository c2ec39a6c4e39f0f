"""Real worker processes for the fault tests, and the checks every fault test ends with."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from tests.devserver import cli

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """``duragraph-lab worker GRAPH`` as users run it, its output in ``log``."""

    def __init__(
        self,
        graph: str | Sequence[str],
        name: str,
        env: dict[str, str],
        log_dir: Path,
        lease_ttl: float,
        heartbeat: float | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.log = log_dir / f"worker-{name}.log"
        argv = [
            *cli(),
            "worker",
            *([graph] if isinstance(graph, str) else graph),
            "--worker-id",
            name,
            "--lease-ttl",
            str(lease_ttl),
            "--drain-timeout",
            "1",
            *extra,
        ]
        if heartbeat:
            argv += ["--heartbeat-interval", str(heartbeat)]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sql(url: str, query: str, params: Any = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute(query, params).fetchall()


def execute(url: str, statement: str, params: Any = ()) -> None:
    with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        conn.execute(statement, params)


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def registered(url: str, graph_id: str) -> bool:
    """The worker registered the graph: its default assistant (committed with it) exists."""
    return bool(sql(url, "SELECT 1 FROM duragraph.assistants WHERE graph_id = %s", (graph_id,)))


# -- what every fault test checks at the end -------------------------------------------------------

_LATE = """
SELECT s.run_id, s.node, s.pid, s.attempt, s.started, e.recorded_at
  FROM side_effects s
  JOIN duragraph.events e
    ON e.stream_id = 'run:' || s.run_id AND e.type = 'node_completed' AND coalesce(e.data->>'ns', '') = ''
   AND s.key = s.run_id || ':' || (e.data->>'step') || ':' || (e.data->>'node') || ':' || (e.data->>'task')
 WHERE s.started > e.recorded_at
 ORDER BY s.started
"""


def late_executions(url: str) -> list[tuple[Any, ...]]:
    """Node attempts started after that node's result had been committed: what lease discipline
    rules out (an attempt in flight when its worker paused or died started before, and may run
    again: at least once)."""
    return sql(url, _LATE)


def version_gaps(url: str) -> list[tuple[Any, ...]]:
    """Run streams whose versions are not exactly 1..n (an event lost, or written twice)."""
    return sql(
        url,
        "SELECT stream_id, count(*), min(version), max(version) FROM duragraph.events "
        "WHERE left(stream_id, 4) = 'run:' GROUP BY 1 "
        "HAVING count(*) <> max(version) OR min(version) <> 1 OR count(DISTINCT version) <> count(*)",
    )


def double_commits(url: str) -> list[tuple[Any, ...]]:
    """Tasks with more than one ``node_completed`` in their run (a result committed twice)."""
    return sql(
        url,
        "SELECT stream_id, data->>'task', count(*) FROM duragraph.events "
        "WHERE type = 'node_completed' AND coalesce(data->>'ns', '') = '' GROUP BY 1, 2 HAVING count(*) > 1",
    )


def statuses(url: str) -> dict[str, str]:
    return dict(sql(url, "SELECT run_id::text, status FROM duragraph.runs"))


def executions(url: str, run_id: str) -> dict[str, int]:
    """Node -> how many times it ran in the run (the ledger)."""
    return dict(sql(url, "SELECT node, count(*) FROM side_effects WHERE run_id = %s GROUP BY 1", (run_id,)))


def assert_durable(url: str) -> None:
    """No committed node ran again, no event was lost or duplicated, no result committed twice."""
    assert late_executions(url) == [], "a node ran after its result was committed"
    assert version_gaps(url) == [], "a run stream has a gap or a duplicate"
    assert double_commits(url) == [], "a task's result was committed twice"
