"""Load figures of the scale-out topology (issue 20), on the processes of tests/topology.py:

    python -m benchmarks.topology                         # both parts, full sizes (~10 min on 2 cores)
    python -m benchmarks.topology --only scale --rounds 2 --json out.json
    python -m benchmarks.topology --only in_flight --in-flight 100 1000 --json out.json
    python -m benchmarks.topology --smoke                 # tiny sizes, a minute

One embedded PostgreSQL (started on its own: the API servers reach it by URL) and one 3-node NATS
JetStream cluster (streams replicated three times) for everything; each topology has its own database and
subject prefix.

- ``scale``: ``1 + 1`` (one API server, one worker) against ``2 + 3`` (two API servers, three
  workers), both started at once and measured in turn, round after round: ``--runs`` runs of the
  20-step ``linear20`` graph (nodes do nothing) created at once through the API servers (round
  robin), throughput = steps / (first create -> last ``run_completed`` committed), no SSE client;
  then SSE latency under a paced load: ``--followers`` runs of the ``loop`` graph (40 steps at 5
  steps/s each), each followed by an SSE client (``stream_mode=updates``) on one of the API servers
  in turn: client read time - the event's ``recorded_at`` (same machine clock).
- ``in_flight``: the ``2 + 3`` topology with workers of concurrency 2,000 and the default lease
  (30 s, heartbeat every 10 s); N runs of ``slow_model`` (one node that waits ``--model-seconds``,
  a slow model call) created through the control plane; once all N are running, for ``--window``
  seconds: workers' and API servers' memory (RSS) against before the runs (-> per waiting run),
  lease/heartbeat traffic (rows of ``run_queue`` and ``workers`` updated, commits and WAL bytes per
  second), and CPU of PostgreSQL, the workers and the API servers (% of one core).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from duragraph_lab.bus import Subjects, connect_nats
from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.runtime.postgres import EmbeddedPostgres
from duragraph_lab.store import PostgresEventStore, migrate, open_pool
from tests.topology import NatsCluster, SseFollower, Topology

GRAPHS = ("benchmarks.graphs:linear20", "benchmarks.graphs:loop", "tests.topology_graphs:slow_model")
STEPS = 20


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


def _database(admin_url: str) -> str:
    name = f"topo_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    params = psycopg.conninfo.conninfo_to_dict(admin_url)
    params["dbname"] = name
    url = psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})
    migrate(url)
    return url


def _sql(url: str, query: str, params: Any = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


# -- scale: 1 + 1 against 2 + 3 -------------------------------------------------------------------------
async def _create(http: httpx.AsyncClient, topology: Topology, i: int, body: dict[str, Any]) -> str:
    api = topology.apis[i % len(topology.apis)]
    response = await http.post(f"{api.base}/runs", json=body, headers={"Authorization": f"token {api.token}"})
    response.raise_for_status()
    return str(response.json()["run_id"])


async def _wait_ended(url: str, ids: list[str], timeout: float = 600) -> tuple[int, float]:
    """Until none of ``ids`` is pending or running: (how many succeeded, when the last ended)."""
    deadline = time.monotonic() + timeout
    active = "SELECT count(*) FROM duragraph.runs WHERE status IN ('pending', 'running') AND run_id::text = ANY(%s)"
    while _sql(url, active, (ids,))[0][0]:
        assert time.monotonic() < deadline, "runs still active"
        await asyncio.sleep(0.05)
    done = _sql(
        url,
        "SELECT count(*), max(extract(epoch FROM ended_at)::float8) FROM duragraph.runs "
        "WHERE status = 'success' AND run_id::text = ANY(%s)",
        (ids,),
    )[0]
    assert done[0] == len(ids), f"{len(ids) - done[0]} runs did not succeed"
    return int(done[0]), float(done[1])


async def scale_round(topology: Topology, runs: int, followers: int) -> dict[str, Any]:
    """Throughput of a burst (no SSE client), then SSE latency under a paced load."""
    url = topology.database_url
    limits = httpx.Limits(max_connections=runs + followers + 10)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        body = {
            "assistant_id": "linear20",
            "input": {"n": 0},
            "config": {"recursion_limit": STEPS + 1},
            "on_completion": "keep",
        }
        begin = time.time()
        ids = await asyncio.gather(*(_create(http, topology, i, body) for i in range(runs)))
        created = time.time()
        _, last_end = await _wait_ended(url, ids)
        # SSE: ``followers`` runs of 40 steps paced at 5 steps/s each (100 steps/s in all), each
        # followed by a client on one of the servers, connected before the first step.
        paced = {
            "assistant_id": "loop",
            "input": {"n": 0, "limit": 40, "rate": 5.0, "delay": 1.5},
            "config": {"recursion_limit": 41},
            "on_completion": "keep",
        }
        tickers = await asyncio.gather(*(_create(http, topology, i, paced) for i in range(followers)))
        tails = [SseFollower(topology.apis, run_id, i, ["updates"]) for i, run_id in enumerate(tickers)]
        await asyncio.gather(*(f.run(http, time.monotonic() + 300) for f in tails))
        await _wait_ended(url, tickers)
    at_of_seq = dict(
        _sql(
            url,
            "SELECT seq, extract(epoch FROM recorded_at)::float8 FROM duragraph.events WHERE stream_id = ANY(%s)",
            ([f"run:{r}" for r in tickers],),
        )
    )
    latency = [(f.at - at_of_seq[f.id]) * 1e3 for t in tails for f in t.frames if f.id in at_of_seq]
    return {
        "steps_per_s": round(runs * STEPS / (last_end - begin), 1),
        "create_s": round(created - begin, 2),
        "sse_frames": len(latency),
        "sse_p50_ms": round(_pct(latency, 50), 1),
        "sse_p99_ms": round(_pct(latency, 99), 1),
    }


async def scale(
    root: Path, admin_url: str, nats: NatsCluster, runs: int, followers: int, rounds: int
) -> dict[str, Any]:
    shapes = {"1 + 1": (1, 1), "2 + 3": (2, 3)}
    topologies = {}
    for label, (apis, workers) in shapes.items():
        topologies[label] = Topology(
            root / label.replace(" + ", "x"),
            _database(admin_url),
            f"b{uuid.uuid4().hex[:8]}",
            graph=GRAPHS,
            api_count=apis,
            worker_count=workers,
            worker_concurrency=256,
            lease_ttl=30.0,
            nats=nats,
        )
    results: dict[str, list[dict[str, Any]]] = {label: [] for label in shapes}
    try:
        for label, topology in topologies.items():
            log(f"scale: starting {label}")
            topology.start()
        for r in range(rounds):
            order = list(shapes) if r % 2 == 0 else list(reversed(shapes))
            for label in order:
                log(f"scale: round {r + 1}, {label}")
                results[label].append(await scale_round(topologies[label], runs, followers))
                log(f"  {results[label][-1]}")
    finally:
        for topology in topologies.values():
            topology.stop()
    summary = {}
    for label, samples in results.items():
        summary[label] = {
            key: round(statistics.median(s[key] for s in samples), 1)
            for key in ("steps_per_s", "sse_p50_ms", "sse_p99_ms", "create_s")
        } | {"samples": samples}
    return {
        "runs": runs,
        "steps_per_run": STEPS,
        "followers": followers,
        "rounds": rounds,
        "results": summary,
    }


# -- in flight: cost of runs waiting on slow model calls ------------------------------------------------
def _cpu(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for proc in procs:
        try:
            t = proc.cpu_times()
            out[proc.pid] = t.user + t.system
        except psutil.Error:
            continue
    return out


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _rss(procs: list[psutil.Process]) -> int:
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


_COUNTERS = """
SELECT (SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_user_tables WHERE relname = 'run_queue'),
       (SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_user_tables WHERE relname = 'workers'),
       (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
       pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')
"""


async def _count_renewals(url: str, window: float) -> int:
    """Lease renewals during ``window`` seconds: a leased run whose expiry moved since the last look
    (once a second; a lease is renewed every heartbeat interval, 10 s by default, so at most once
    between two looks). pg_stat_user_tables would say it too, but backends report to it lazily."""
    query = "SELECT run_id, lease_expires_at FROM duragraph.run_queue WHERE state = 'leased'"
    end = time.monotonic() + window
    seen = dict(await asyncio.to_thread(_sql, url, query))
    renewed = 0
    while time.monotonic() < end:
        await asyncio.sleep(min(1.0, max(0.0, end - time.monotonic())))
        now = dict(await asyncio.to_thread(_sql, url, query))
        renewed += sum(1 for run_id, expires in now.items() if run_id in seen and seen[run_id] != expires)
        seen = now
    return renewed


async def _warm_up(topology: Topology) -> None:
    """A few short runs first, so that the idle baseline has the graph's code loaded and the pools open."""
    pool = await open_pool(topology.database_url, min_size=1, max_size=2)
    assert topology.nats is not None
    nc = await connect_nats(topology.nats.url, name="bench-warm-up")
    control = control_plane(PostgresEventStore(pool), BusLink(Subjects(topology.prefix), nc))
    await asyncio.gather(*(control.runs.create_run("slow_model", {"model_seconds": 0.1}) for _ in range(30)))
    active = "SELECT count(*) FROM duragraph.runs WHERE status IN ('pending', 'running')"
    while _sql(topology.database_url, active)[0][0]:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    await nc.close()
    await pool.close()
    await asyncio.sleep(2)


async def in_flight_round(
    topology: Topology, pg_pid: int, n: int, model_seconds: float, window: float
) -> dict[str, Any]:
    url = topology.database_url
    workers = [psutil.Process(w.pid) for w in topology.workers]
    await _warm_up(topology)
    apis = [p for a in topology.apis if a.server and a.server.proc for p in _tree(a.server.proc.pid)[:1]]
    idle_rss = {"workers": _rss(workers), "apis": _rss(apis)}
    pool = await open_pool(url, min_size=1, max_size=8)
    assert topology.nats is not None
    nc = await connect_nats(topology.nats.url, name="bench-in-flight")
    control = control_plane(PostgresEventStore(pool), BusLink(Subjects(topology.prefix), nc))
    begin = time.monotonic()
    ids: list[str] = []
    for chunk in range(0, n, 100):
        refs = await asyncio.gather(
            *(
                control.runs.create_run("slow_model", {"model_seconds": model_seconds})
                for _ in range(min(100, n - chunk))
            )
        )
        ids += [r.run_id for r in refs]
    created_s = time.monotonic() - begin
    while (running := _sql(url, "SELECT count(*) FROM duragraph.runs WHERE status = 'running'")[0][0]) < n:
        if time.monotonic() - begin > model_seconds - window:
            raise AssertionError(
                f"only {running} of {n} runs running before the first would end: raise --model-seconds"
            )
        await asyncio.sleep(0.2)
    all_running_s = time.monotonic() - begin
    await asyncio.sleep(1.0)  # the start-up burst's commits settle
    pg = _tree(pg_pid)
    before = (_cpu(pg), _cpu(workers), _cpu(apis), _sql(url, _COUNTERS)[0], time.monotonic())
    renewed = await _count_renewals(url, window)
    pg_after = _tree(pg_pid)
    after = (_cpu(pg_after), _cpu(workers), _cpu(apis), _sql(url, _COUNTERS)[0], time.monotonic())
    still = _sql(url, "SELECT count(*) FROM duragraph.runs WHERE status = 'running'")[0][0]
    rss = {"workers": _rss(workers), "apis": _rss(apis)}
    elapsed = after[4] - before[4]

    def cpu_pct(b: dict[int, float], a: dict[int, float]) -> float:
        return round(sum(v - b.get(pid, 0.0) for pid, v in a.items()) / elapsed * 100, 1)

    counters = [float(a - b) / elapsed for a, b in zip(after[3], before[3], strict=True)]
    # Wait for the runs to end (they are not measured any more), so the next size starts clean.
    deadline = time.monotonic() + model_seconds + 300
    while _sql(url, "SELECT count(*) FROM duragraph.runs WHERE status IN ('pending', 'running')")[0][0]:
        assert time.monotonic() < deadline, "runs did not end"
        await asyncio.sleep(0.5)
    failed = _sql(
        url,
        "SELECT count(*) FROM duragraph.runs WHERE status <> 'success' AND run_id::text = ANY(%s)",
        (ids,),
    )[0][0]
    await nc.close()
    await pool.close()
    return {
        "runs": n,
        "create_s": round(created_s, 1),
        "all_running_after_s": round(all_running_s, 1),
        "running_during_window": still,
        "failed": failed,
        "window_s": round(elapsed, 1),
        "worker_rss_mb": round(rss["workers"] / 2**20, 1),
        "worker_kb_per_waiting_run": round((rss["workers"] - idle_rss["workers"]) / n / 1024, 1),
        "api_rss_mb": round(rss["apis"] / 2**20, 1),
        "lease_renewals_per_s": round(renewed / elapsed, 1),
        "run_queue_rows_updated_per_s_pgstat": round(counters[0], 1),
        "worker_rows_updated_per_s": round(counters[1], 2),
        "commits_per_s": round(counters[2], 1),
        "wal_kb_per_s": round(counters[3] / 1024, 1),
        "postgres_cpu_pct": cpu_pct(before[0], after[0]),
        "workers_cpu_pct": cpu_pct(before[1], after[1]),
        "apis_cpu_pct": cpu_pct(before[2], after[2]),
    }


async def in_flight(
    root: Path,
    admin_url: str,
    pg_pid: int,
    nats: NatsCluster,
    sizes: list[int],
    model_seconds: float,
    window: float,
) -> dict[str, Any]:
    topology = Topology(
        root / "in-flight",
        _database(admin_url),
        f"b{uuid.uuid4().hex[:8]}",
        graph=GRAPHS,
        api_count=2,
        worker_count=3,
        worker_concurrency=2000,
        lease_ttl=30.0,
        nats=nats,
    )
    out = []
    try:
        log("in_flight: starting 2 + 3")
        topology.start()
        for n in sizes:
            log(f"in_flight: {n} runs")
            out.append(await in_flight_round(topology, pg_pid, n, model_seconds, window))
            log(f"  {out[-1]}")
            with psycopg.connect(topology.database_url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
    finally:
        topology.stop()
    return {"model_seconds": model_seconds, "lease_ttl_s": 30.0, "heartbeat_s": 10.0, "sizes": out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.topology", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=("scale", "in_flight"))
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--followers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--model-seconds", type=float, default=90.0)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs, args.followers, args.rounds = 20, 4, 1
        args.in_flight, args.model_seconds, args.window = [20], 15.0, 3.0
    only = set(args.only or ("scale", "in_flight"))
    out: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cores": os.cpu_count(),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "load_before": os.getloadavg(),
        },
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    with tempfile.TemporaryDirectory(prefix="dg-topology-") as tmp:
        root = Path(tmp)
        pg = EmbeddedPostgres(root / "postgres")
        endpoint = pg.start()
        nats = NatsCluster(root / "nats").start()
        try:
            pg_pid = _postmaster(endpoint.url)
            if "scale" in only:
                out["scale"] = asyncio.run(
                    scale(root, endpoint.url, nats, args.runs, args.followers, args.rounds)
                )
            if "in_flight" in only:
                out["in_flight"] = asyncio.run(
                    in_flight(
                        root, endpoint.url, pg_pid, nats, args.in_flight, args.model_seconds, args.window
                    )
                )
        finally:
            nats.stop()
            pg.stop()
    out["machine"]["load_after"] = os.getloadavg()
    text = json.dumps(out, indent=1)
    if args.json:
        args.json.write_text(text)
    print(text)
    return 0


def _postmaster(url: str) -> int:
    """The postmaster's pid: the parent of our backend."""
    backend = _sql(url, "SELECT pg_backend_pid()")[0][0]
    parent = psutil.Process(backend).parent()
    assert parent is not None
    return parent.pid


if __name__ == "__main__":
    sys.exit(main())
