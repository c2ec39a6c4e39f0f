"""The cron scheduler with real processes: two API servers on one database fire each tick of a
seconds schedule at most once, the runs complete, and the schedule survives the servers being
killed (ticks missed while everything was down fire once on catch-up, then the schedule goes on).
"""

from __future__ import annotations

import datetime as dt
import itertools
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from duragraph_lab.runtime.services import read_runtime_info
from tests.apiserver import ApiServer
from tests.devserver import wait_until_gone

EVERY = 2  # seconds between ticks
SCHEDULE = f"* * * * * */{EVERY}"
#: A short worker lease (a run a killed server was executing is taken over within seconds), and
#: scheduler passes twice a second (the cron_interval setting).
LEASE = ["--DuraGraphApp.worker_lease_ttl=2", "--DuraGraphApp.cron_interval=0.5"]


@dataclass(frozen=True)
class Fire:
    version: int
    tick: dt.datetime
    run_id: str | None
    fired_by: str
    recorded_at: dt.datetime


def _connect(server: ApiServer) -> psycopg.Connection[tuple[object, ...]]:
    info = read_runtime_info(server.data_dir)
    assert info is not None
    return psycopg.connect(info.endpoints.database_url, autocommit=True)


def fires(conn: psycopg.Connection[tuple[object, ...]], cron_id: str) -> list[Fire]:
    rows = conn.execute(
        "SELECT version, data->>'tick', data->>'run_id', data->>'fired_by', recorded_at "
        "FROM duragraph.events WHERE stream_id = %s AND type = 'cron_fired' ORDER BY version",
        (f"cron:{cron_id}",),
    ).fetchall()
    return [Fire(int(v), dt.datetime.fromisoformat(str(t)), r, str(b), at) for v, t, r, b, at in rows]  # type: ignore[arg-type]


def cron_runs(conn: psycopg.Connection[tuple[object, ...]], cron_id: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT run_id::text, status FROM duragraph.runs WHERE metadata->>'cron_id' = %s", (cron_id,)
    ).fetchall()
    return {str(r): str(s) for r, s in rows}


def assert_once_per_tick(found: list[Fire], runs: dict[str, str]) -> None:
    ticks = [f.tick for f in found]
    assert ticks == sorted(ticks) and len(set(ticks)) == len(ticks), ticks  # no tick fired twice
    assert all(f.run_id is not None for f in found), found
    assert sorted(f.run_id for f in found if f.run_id) == sorted(runs)  # one run per fire, no other


def wait_runs_done(
    conn: psycopg.Connection[tuple[object, ...]], cron_id: str, timeout: float = 30
) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    runs = cron_runs(conn, cron_id)
    while time.monotonic() < deadline and any(s in ("pending", "running") for s in runs.values()):
        time.sleep(0.3)
        runs = cron_runs(conn, cron_id)
    return runs


@pytest.fixture
def first(tmp_path: Path) -> Iterator[ApiServer]:
    server = ApiServer(tmp_path / "a" / "data", extra=LEASE).start()
    try:
        yield server
    finally:
        server.kill()


def test_two_servers_fire_each_tick_once_and_the_schedule_survives_a_restart(
    first: ApiServer, tmp_path: Path
) -> None:
    status, connection = first.api("worker/connection", token=first.token)
    assert status == 200, connection
    second = ApiServer(
        tmp_path / "b" / "data",
        extra=LEASE,
        env={
            "DURAGRAPH_DATABASE_URL": connection["database_url"],
            "DURAGRAPH_NATS_URL": connection["nats_url"],
        },
    ).start()
    try:
        status, thread, _ = first.request("POST", "/threads", {})
        assert status == 200
        status, cron, _ = second.request(
            "POST",
            f"/threads/{thread['thread_id']}/runs/crons",
            {"assistant_id": "slow", "schedule": SCHEDULE, "input": {"n": 0}},
        )
        assert status == 200, cron
        cron_id = cron["cron_id"]
        conn = _connect(first)
        # -- both servers up: both schedulers poll every second and race for every tick
        time.sleep(6 * EVERY)
        both = fires(conn, cron_id)
        assert len(both) >= 4, both
        assert_once_per_tick(both, cron_runs(conn, cron_id))
        # Consecutive ticks: none skipped while the servers keep up (a pass per second).
        gaps = [(b.tick - a.tick).total_seconds() for a, b in itertools.pairwise(both)]
        assert gaps.count(EVERY) >= len(gaps) - 1, gaps
        # -- one server killed: the other goes on alone
        second.signal(signal.SIGKILL)
        second.wait()
        time.sleep(3 * EVERY)
        alone = fires(conn, cron_id)[len(both) :]
        assert len(alone) >= 2, alone
        assert len({f.fired_by for f in alone}) == 1  # only the survivor fires now
        runs = wait_runs_done(conn, cron_id)
        assert set(runs.values()) == {"success"}, runs
        conn.close()
    finally:
        second.kill()

    # -- everything down (PostgreSQL too) for several ticks, then one server back
    first.signal(signal.SIGKILL)
    first.wait()
    assert wait_until_gone(first.data_dir) == []
    down_at = dt.datetime.now(dt.UTC)
    time.sleep(4 * EVERY)
    back_at = dt.datetime.now(dt.UTC)
    again = ApiServer(first.data_dir, port=first.port, extra=LEASE).start()
    try:
        time.sleep(4 * EVERY)
        conn = _connect(again)
        found = fires(conn, cron_id)
        runs = wait_runs_done(conn, cron_id)
        assert_once_per_tick(found, runs)
        assert set(runs.values()) == {"success"}, runs
        restarted = [f for f in found if f.recorded_at > down_at]
        earlier = found[: len(found) - len(restarted)]
        assert len(restarted) >= 2, restarted
        # Catch-up: the first tick missed while down fires once, late...
        catch_up, *regular = restarted
        assert catch_up.tick == earlier[-1].tick + dt.timedelta(seconds=EVERY), (earlier[-1], catch_up)
        assert catch_up.recorded_at - catch_up.tick > dt.timedelta(seconds=2 * EVERY), catch_up
        # ...the other missed ticks do not (none of the ticks while everything was down fires),
        # and the schedule goes on from the catch-up: its next tick is the first one after the
        # scheduler pass that fired the catch-up. That pass read the clock before the catch-up
        # was recorded, and under load the recording may come after the next tick was due, so
        # the bound is one period past the recording, not the recording itself.
        assert regular[0].tick > back_at, (back_at, regular[0])
        assert regular[0].tick <= catch_up.recorded_at + dt.timedelta(seconds=EVERY), (catch_up, regular[0])
        assert (regular[0].tick - catch_up.tick).total_seconds() > EVERY
        conn.close()
    finally:
        again.kill()
