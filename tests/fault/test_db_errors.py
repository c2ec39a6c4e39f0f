"""Transient database errors under real worker processes: refusals injected at the commit (one
test per SQLSTATE class), storms of cancelled statements and killed connections, and a refusal
that outlasts the retry bound. Runs end as they would have without the errors; no committed node
runs again; no event is lost or written twice."""

from __future__ import annotations

import asyncio
import threading
import time

import psycopg
import pytest

from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.domain.run import RunStatus
from duragraph_lab.store.retry import DatabaseRetry
from tests.db_faults import fault_hits, inject, install_faults
from tests.fault.conftest import Faults
from tests.fault.workers import assert_durable, executions, registered, sql, wait_for

SIX = "tests.fault.fault_graphs:six"
SIX_DONE = [f"n{i}" for i in range(6)]


async def run_six(control: ControlPlane, runs: int, sleep: float) -> list[str]:
    """Create ``runs`` runs of ``six``; wait until each ends well; return their ids."""
    refs = [await control.runs.create_run("six", {"n": 0, "sleep": sleep}) for _ in range(runs)]
    for ref in refs:
        state = await control.runs.wait(ref.run_id, timeout=90)
        assert state.status is RunStatus.SUCCESS, state.error
        assert state.values == {"n": 6, "log": SIX_DONE, "sleep": sleep}
    return [ref.run_id for ref in refs]


@pytest.mark.parametrize(
    ("sqlstate", "reason"),
    [
        ("40P01", "deadlock detected"),
        ("40001", "serialization failure"),
        ("57014", "statement cancelled"),
        ("53100", "disk full"),
    ],
)
async def test_a_commit_refused_for_now_is_retried_in_place(
    faults: Faults, control: ControlPlane, sqlstate: str, reason: str
) -> None:
    url = faults.database_url
    install_faults(url)
    inject(url, sqlstate=sqlstate, budget=8)  # the first 8 node results written are refused
    worker = faults.start(SIX, "refused", 5.0, extra=["--concurrency", "4"])
    wait_for(lambda: registered(url, "six"), 30, "registration")
    run_ids = await run_six(control, 6, sleep=0.02)
    assert fault_hits(url) > 8, "every refusal was met"
    for run_id in run_ids:
        # Retried where it failed: no node ran twice, not even one in flight.
        assert executions(url, run_id) == dict.fromkeys(SIX_DONE, 1)
    assert_durable(url)
    assert f"SQLSTATE {sqlstate}" in worker.output() and reason in worker.output()


async def test_a_refusal_that_outlasts_the_bound_fails_the_run_with_the_database_error(
    faults: Faults, control: ControlPlane
) -> None:
    url = faults.database_url
    install_faults(url)
    inject(url, sqlstate="40P01", budget=10**9, node="n2")  # n2's result is never accepted
    faults.start(SIX, "refused-for-good", 5.0, extra=["--db-retry-seconds", "1.5"])
    wait_for(lambda: registered(url, "six"), 30, "registration")
    ref = await control.runs.create_run("six", {"n": 0})
    state = await control.runs.wait(ref.run_id, timeout=30)
    assert state.status is RunStatus.ERROR
    error = state.error or {}
    assert "internal" not in error, "the database's doing, not an engine bug"
    assert (error["type"], error["sqlstate"], error["reason"]) == (
        "StoreTransientError",
        "40P01",
        "deadlock detected",
    )
    # No attempt starts after the bound (1.5 s); the last one's own duration may end later. It
    # gives up as soon as the next (jittered) wait would cross the bound, so the time retried is
    # at least the sum of the waits taken, each at least half its doubling ceiling.
    policy = DatabaseRetry(within=1.5)
    waits = range(1, error["attempts"])
    least = sum(min(policy.max_delay, policy.first_delay * 2 ** (n - 1)) / 2 for n in waits)
    assert error["attempts"] >= 3, error
    assert least <= error["retried_seconds"] < 1.5 + 0.5, (least, error)
    assert f"the commit of run {ref.run_id} failed {error['attempts']} times in" in error["message"]
    assert "SQLSTATE 40P01" in error["message"]
    assert state.values["log"] == ["n0", "n1"]
    assert executions(url, ref.run_id) == {"n0": 1, "n1": 1, "n2": 1}, "n2 was not re-run by the retries"
    assert_durable(url)


def storm(url: str, action: str, seconds: float, hits: list[int], *, only: str = "") -> None:
    """For ``seconds``, cancel or terminate the statements the workers are running (those whose
    text contains ``only``)."""
    end = time.monotonic() + seconds
    with psycopg.connect(url, autocommit=True, application_name="storm") as conn:
        while time.monotonic() < end:
            row = conn.execute(
                f"SELECT count(*) FILTER (WHERE {action}(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'duragraph-worker' "
                "AND state = 'active' AND pid <> pg_backend_pid() AND strpos(query, %s) > 0",
                (only,),
            ).fetchone()
            hits.append(int(row[0]) if row else 0)
            time.sleep(0.01)


async def stormed(
    url: str, control: ControlPlane, runs: int, storm_args: tuple[str, float], only: str = ""
) -> tuple[list[str], int]:
    """Run ``runs`` runs of six while the storm blows; return their ids and the storm's hits."""
    hits: list[int] = []
    storming = threading.Thread(target=storm, args=(url, *storm_args, hits), kwargs={"only": only})
    done = asyncio.create_task(run_six(control, runs, sleep=0.1))
    await asyncio.sleep(0.5)  # runs are under way
    storming.start()
    await asyncio.to_thread(storming.join)
    return await done, sum(hits)


async def test_a_commit_whose_connection_was_killed_is_retried_in_place(
    faults: Faults, control: ControlPlane
) -> None:
    """Connection loss at the commit: the worker's commit statements are terminated mid-way (the
    connection breaks, nothing is written). The commit is tried again on a new connection."""
    url = faults.database_url
    install_faults(url)
    inject(url, delay=0.05)  # commits take a while: the terminations catch them
    worker = faults.start(SIX, "killed", 10.0, extra=["--concurrency", "8"])
    wait_for(lambda: registered(url, "six"), 30, "registration")
    run_ids, hits = await stormed(url, control, 12, ("pg_terminate_backend", 3.0), only="append_run_events")
    assert hits >= 5, f"the terminations hit {hits} commits"
    assert worker.output().count("PostgreSQL is unavailable") >= 5
    for run_id in run_ids:
        assert executions(url, run_id) == dict.fromkeys(SIX_DONE, 1)
    assert_durable(url)


async def test_cancelling_every_worker_statement_for_8s_fails_no_run_and_reruns_no_node(
    faults: Faults, control: ControlPlane
) -> None:
    """The issue's scenario: every statement of the workers is cancelled (57014) as it runs, for
    8 seconds. Cancelled statements are tried again where they failed; leases outlive the
    storm (a TTL of 10 s takes three failed heartbeats in a row to lose), so no node runs twice."""
    url = faults.database_url
    install_faults(url)
    inject(url, delay=0.02)
    workers = [faults.start(SIX, f"cancelled-{i}", 10.0, extra=["--concurrency", "8"]) for i in range(2)]
    wait_for(lambda: registered(url, "six"), 30, "registration")
    run_ids, hits = await stormed(url, control, 40, ("pg_cancel_backend", 8.0))
    assert hits >= 20, f"the storm hit {hits} statements"
    assert sum(w.output().count("SQLSTATE 57014") for w in workers) >= 20, "workers met the storm"
    for run_id in run_ids:
        assert executions(url, run_id) == dict.fromkeys(SIX_DONE, 1)
    assert sql(url, "SELECT count(*) FROM duragraph.runs WHERE status <> 'success'") == [(0,)]
    assert_durable(url)


async def test_killing_every_worker_connection_for_5s_fails_no_run(
    faults: Faults, control: ControlPlane
) -> None:
    """Every statement of the workers is terminated as it runs, for 5 seconds: heartbeats die too,
    so leases pass their deadlines and runs move between the workers. Every run still ends well,
    and none ran a node whose result was committed."""
    url = faults.database_url
    install_faults(url)
    inject(url, delay=0.02)
    workers = [faults.start(SIX, f"killed-{i}", 5.0, extra=["--concurrency", "8"]) for i in range(2)]
    wait_for(lambda: registered(url, "six"), 30, "registration")
    _, hits = await stormed(url, control, 40, ("pg_terminate_backend", 5.0))
    assert hits >= 20, f"the storm hit {hits} statements"
    assert sum(w.output().count("PostgreSQL is unavailable") for w in workers) >= 5
    assert sql(url, "SELECT count(*) FROM duragraph.runs WHERE status <> 'success'") == [(0,)]
    assert_durable(url)


async def test_an_outage_that_outlasts_the_bound_gives_the_run_back(
    faults: Faults, control: ControlPlane
) -> None:
    """Commits keep losing their connection for longer than --db-retry-seconds: the run cannot
    even be failed, so it goes back to the queue, and is continued from its log once the
    database is reachable again."""
    url = faults.database_url
    install_faults(url)
    inject(url, delay=0.05)
    worker = faults.start(SIX, "outage", 10.0, extra=["--concurrency", "4", "--db-retry-seconds", "0.5"])
    wait_for(lambda: registered(url, "six"), 30, "registration")
    # (stormed waits until every run ended in success: none was failed by the outage)
    _, hits = await stormed(url, control, 4, ("pg_terminate_backend", 3.0), only="append_run_events")
    assert hits >= 5, f"the terminations hit {hits} commits"
    assert "returning it to the queue" in worker.output()
    restarted = sql(
        url,
        "SELECT count(*) FROM duragraph.events WHERE type = 'run_started' AND (data->>'attempt')::int > 1",
    )
    assert restarted[0][0] >= 1, "a run was given back and started again"
    assert_durable(url)
