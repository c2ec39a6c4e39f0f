"""Killing `duragraph-lab dev` with SIGKILL: children die with it, the next start recovers."""

from __future__ import annotations

import signal
from pathlib import Path

import psycopg

from duragraph_lab.runtime.services import RUNTIME_FILE, RuntimeInfo
from tests.devserver import DevServer, owner_database_url, processes_using, wait_until_gone


def test_sigkilled_dev_leaves_no_orphans_and_restarts_with_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = DevServer(data_dir)
    try:
        first.start()
        with psycopg.connect(owner_database_url(data_dir), autocommit=True) as conn:
            conn.execute("CREATE TABLE survivor (x text); INSERT INTO survivor VALUES ('still here')")
        children = [p for p in processes_using(data_dir) if p.pid != first.proc.pid]  # type: ignore[union-attr]
        assert {p.name() for p in children} >= {"postgres", "nats-server"}
        first.signal(signal.SIGKILL)
        first.wait()
        # PR_SET_PDEATHSIG: the kernel stops PostgreSQL and NATS when their parent dies.
        assert wait_until_gone(data_dir) == []
        assert (data_dir / RUNTIME_FILE).exists(), "a stale runtime.json is left behind..."
    finally:
        first.kill()

    second = DevServer(data_dir)
    try:
        second.start()  # ...and the next start recovers from it and from the stale pid files
        assert second.api("health", token=second.token)[0] == 200
        info = RuntimeInfo.from_json((data_dir / RUNTIME_FILE).read_text())
        assert info.pid == second.proc.pid  # type: ignore[union-attr]
        with psycopg.connect(owner_database_url(data_dir)) as conn:
            assert conn.execute("SELECT x FROM survivor").fetchone() == ("still here",)
    finally:
        second.kill()
    assert wait_until_gone(data_dir) == []
