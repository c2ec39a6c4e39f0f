"""Per-step cost of a durable run: a 100-node linear graph executed by a worker in its own process.

    python -m benchmarks.per_step --runs 10

Everything on one embedded PostgreSQL (fsync on, synchronous_commit on), alternating round by round:
- floor: 100 x (one autocommit INSERT into a table shaped like duragraph.events) from one
  connection: the physical cost of making a step durable, with nothing else;
- DuraGraph: a run of ``linear100`` executed by ``duragraph-lab worker`` (a separate process, as
  deployed), with the outbox relay running in the benchmark process as the API server would.
  Reported: run_started -> run_completed as recorded by PostgreSQL, divided by 100 steps (each step
  = one node executed + its durable commit with events, outbox row and read models), and the
  end-to-end time from creating the run to seeing it finished.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from duragraph_lab.bus import OutboxRelay, Subjects, connect_nats, ensure_stream
from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.runtime.control_plane import control_plane as build_control_plane
from duragraph_lab.runtime.nats import EmbeddedNats
from duragraph_lab.runtime.postgres import EmbeddedPostgres
from duragraph_lab.store import PostgresEventStore, migrate, open_pool

ROOT = Path(__file__).resolve().parents[1]
STEPS = 100


def _cli() -> list[str]:
    exe = Path(sys.executable).parent / "duragraph-lab"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "duragraph_lab.runtime.cli"]


async def control_plane(url: str, nurl: str) -> tuple[Any, Any, OutboxRelay, ControlPlane]:
    """What the API server runs beside a worker, in this process: a pool, NATS, the outbox relay
    and the control plane (``relay.stop()``, ``nc.close()``, ``pool.close()`` when done)."""
    pool = await open_pool(url, min_size=2, max_size=6)
    store = PostgresEventStore(pool)
    nc = await connect_nats(nurl)
    subjects = Subjects()
    await ensure_stream(nc, subjects)
    relay = OutboxRelay(pool, nc, subjects)
    store.add_after_commit(relay.wake)
    await relay.start()
    return pool, nc, relay, build_control_plane(store, BusLink(subjects, nc))


@dataclass(frozen=True)
class Services:
    tmp: str  # the temporary directory they live in
    url: str  # PostgreSQL, migrated
    nurl: str  # NATS JetStream
    env: dict[str, str]  # for a worker process: these services, this checkout on PYTHONPATH


@contextlib.contextmanager
def embedded_services(prefix: str) -> Iterator[Services]:
    """An embedded PostgreSQL (migrated) and NATS in a temporary directory, stopped on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        pg, nats = EmbeddedPostgres(Path(tmp) / "postgres"), EmbeddedNats(Path(tmp) / "nats")
        url, nurl = pg.start().url, nats.start().url
        try:
            migrate(url)
            env = {
                **os.environ,
                "DURAGRAPH_DATABASE_URL": url,
                "DURAGRAPH_NATS_URL": nurl,
                "PYTHONPATH": str(ROOT),
            }
            yield Services(tmp, url, nurl, env)
        finally:
            nats.stop()
            pg.stop()


async def wait_registered(url: str, graph_id: str) -> None:
    """Until a worker has registered ``graph_id`` (about 30 s at most)."""
    for _ in range(600):
        with psycopg.connect(url) as conn:
            if conn.execute("SELECT 1 FROM duragraph.graphs WHERE graph_id = %s", (graph_id,)).fetchone():
                return
        await asyncio.sleep(0.05)


async def measure(runs: int) -> dict[str, Any]:
    with embedded_services("dg-perstep-") as sv:
        url, nurl, env = sv.url, sv.nurl, sv.env
        worker = None
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE TABLE floor (LIKE duragraph.events INCLUDING ALL)")
            worker = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
                [*_cli(), "worker", "benchmarks.graphs:linear100", "--concurrency", "1"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            pool, nc, relay, control = await control_plane(url, nurl)
            await wait_registered(url, "linear100")
            floor_us: list[float] = []
            engine_us: list[float] = []
            end_to_end_us: list[float] = []
            payload = json.dumps({"step": 1, "task": "1.0", "node": "s1", "update": {"n": 2}, "goto": []})
            for round_ in range(runs + 1):  # round 0 warms up (imports, caches, connections)
                async with pool.connection() as conn:
                    begin = time.perf_counter()
                    for i in range(STEPS):
                        await conn.execute(
                            "INSERT INTO floor (stream_id, version, event_id, type, data) VALUES (%s, %s, %s, %s, %s::jsonb)",
                            (f"run:{uuid.uuid4()}", i, uuid.uuid4(), "node_completed", payload),
                        )
                    floor = (time.perf_counter() - begin) / STEPS * 1e6
                begin = time.perf_counter()
                ref = await control.runs.create_run(
                    "linear100", {"n": 0}, config={"recursion_limit": STEPS + 1}
                )
                state = await control.runs.wait(ref.run_id, timeout=120, poll=0.002)
                end_to_end = (time.perf_counter() - begin) / STEPS * 1e6
                assert state.values == {"n": STEPS}, state.error
                with psycopg.connect(url) as conn:
                    row = conn.execute(
                        "SELECT extract(epoch FROM max(recorded_at) FILTER (WHERE type = 'run_completed') "
                        "- min(recorded_at) FILTER (WHERE type = 'run_started')) FROM duragraph.events WHERE stream_id = %s",
                        (f"run:{ref.run_id}",),
                    ).fetchone()
                assert row is not None
                if round_ == 0:
                    continue
                floor_us.append(floor)
                engine_us.append(float(row[0]) / STEPS * 1e6)
                end_to_end_us.append(end_to_end)
            await relay.stop()
            await nc.close()
            await pool.close()
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)
    floor_med = statistics.median(floor_us)
    engine_med = statistics.median(engine_us)
    return {
        "runs": runs,
        "steps_per_run": STEPS,
        "floor_us_per_step": floor_med,
        "duragraph_us_per_step": engine_med,
        "duragraph_end_to_end_us_per_step": statistics.median(end_to_end_us),
        "ratio_to_floor": engine_med / floor_med,
        "samples": {"floor": floor_us, "duragraph": engine_us, "end_to_end": end_to_end_us},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = asyncio.run(measure(args.runs))
    print(f"{args.runs} runs x {STEPS} steps, floor and DuraGraph alternated")
    print("| contender | µs/step (median) | ratio to floor |")
    print("|---|---|---|")
    print(f"| floor: autocommit INSERT per step | {result['floor_us_per_step']:.0f} | 1.00 |")
    print(
        f"| DuraGraph: worker process, run_started→run_completed | {result['duragraph_us_per_step']:.0f} "
        f"| {result['ratio_to_floor']:.2f} |"
    )
    print(
        f"| DuraGraph: end to end, create → seen finished | {result['duragraph_end_to_end_us_per_step']:.0f} | "
        f"{result['duragraph_end_to_end_us_per_step'] / result['floor_us_per_step']:.2f} |"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
