"""The side-by-side scenarios of ``python -m benchmarks`` (issue #7), on one embedded PostgreSQL.

:class:`Bench` starts the shared services once: PostgreSQL (fsync on, synchronous_commit on),
NATS, ``duragraph-lab serve`` (API, SSE, outbox relay) and ``duragraph-lab worker`` (node code in
its own process, as deployed). The contenders run in this process on the same PostgreSQL server
(their own databases). Each scenario alternates its contenders round by round.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

from benchmarks.contenders import DBOSContender, LangGraphContender, missing
from duragraph_lab.bus import Subjects, connect_nats
from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.domain.snapshots import SNAPSHOT_EVERY
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.runtime.nats import EmbeddedNats
from duragraph_lab.runtime.postgres import EmbeddedPostgres
from duragraph_lab.store import PostgresEventStore, migrate, open_pool

ROOT = Path(__file__).resolve().parents[1]
READY = re.compile(r"DuraGraph Lab ready in [0-9.]+s: (\S+)")
GRAPHS = ["linear100", "linear20", "loop", "fanout100", "chatloop"]
# Slots for the 200 concurrent runs of the throughput scenario: all in flight at once, as for the
# contenders. (256 dates from a worker bug fixed since: with every slot taken, a wake-up made its
# lease loop spin.)
WORKER_SLOTS = 256
FLOOR_SQL = "INSERT INTO floor (stream_id, version, event_id, type, data) VALUES (%s, %s, %s, %s, %s::jsonb)"


@dataclass(frozen=True)
class Sizes:
    rounds: int
    per_step_graph: str  # linear100, or linear20 in smoke mode
    per_step_steps: int
    tp_runs: int
    tp_steps: int
    tp_graph: str
    sse_steady_events: int
    sse_reconnect_events: int
    sse_reconnect_every: int
    replay_events: int
    replay_samples: int
    conversation: int
    frames_events: int
    frames_rounds: int
    frames_json_events: int
    startup_runs: int


FULL = Sizes(
    5, "linear100", 100, 200, 20, "linear20", 1000, 1000, 50, 10_000, 20, 200, 1_000_000, 3, 20_000, 3
)
SMOKE = Sizes(1, "linear20", 20, 10, 20, "linear20", 30, 40, 10, 300, 3, 20, 2_000, 1, 500, 1)


def _cli() -> list[str]:
    exe = shutil.which("duragraph-lab", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "duragraph_lab.runtime.cli"]


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        raise RuntimeError("no sample to take a percentile of (no frame arrived after the client connected)")
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


class Bench:
    """The shared services and the contenders, started once for every scenario."""

    def __init__(self, sizes: Sizes, contenders: list[str], log: Any = print) -> None:
        self.sizes = sizes
        self.wanted = contenders
        self.log = log
        self.skipped: dict[str, str] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="dg-bench-")
        self.tmp = Path(self._tmp.name)
        self.pg = EmbeddedPostgres(self.tmp / "postgres")
        self.nats = EmbeddedNats(self.tmp / "nats")
        self.procs: list[subprocess.Popen[bytes]] = []
        self.lg: LangGraphContender | None = None
        self.dbos: DBOSContender | None = None

    # -- services ----------------------------------------------------------------------------------
    async def start(self) -> None:
        self.url, self.nurl = self.pg.start().url, self.nats.start().url
        migrate(self.url)
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE floor (LIKE duragraph.events INCLUDING ALL)")
            self.pg_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            self.pg_settings = {
                k: conn.execute(f"SHOW {k}").fetchone()[0]  # type: ignore[index]
                for k in ("fsync", "synchronous_commit", "shared_buffers")
            }
        env = {k: v for k, v in os.environ.items() if not k.startswith("DURAGRAPH_") and k != "JUPYTER_TOKEN"}
        env |= {
            "DURAGRAPH_DATABASE_URL": self.url,
            "DURAGRAPH_NATS_URL": self.nurl,
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        }
        self.port = 0  # bound by Jupyter itself (no race for it), read back from its ready line
        serve_log = self.tmp / "serve.log"
        with open(serve_log, "wb") as out:  # noqa: ASYNC230 - before measuring
            self.procs.append(
                subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
                    [*_cli(), "serve", "--no-browser", "--port", str(self.port), "--data-dir", str(self.tmp / "data")],
                    stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                )
            )  # fmt: skip
        # LangGraph graphs (issue 17) are served by the same worker, by its LangGraph engine.
        self.graphs = list(GRAPHS)
        refs = [f"benchmarks.graphs:{g}" for g in GRAPHS]
        if missing("langgraph") is None:
            from benchmarks.lg_graphs import GRAPHS as LG_GRAPHS

            self.graphs += LG_GRAPHS
            refs += [f"benchmarks.lg_graphs:{g}" for g in LG_GRAPHS]
        with open(self.tmp / "worker.log", "wb") as out:  # noqa: ASYNC230
            self.procs.append(
                subprocess.Popen(  # noqa: ASYNC220
                    [*_cli(), "worker", *refs, "--concurrency", str(WORKER_SLOTS)],
                    stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                )
            )  # fmt: skip
        self.pool = await open_pool(self.url, min_size=2, max_size=10)
        self.store = PostgresEventStore(self.pool)
        self.nc = await connect_nats(self.nurl)
        self.control = control_plane(self.store, BusLink(Subjects(), self.nc))
        for name in self.wanted:
            reason = missing(name)
            if reason:
                self.skipped[name] = reason
                self.log(f"skipping {name}: {reason}")
            elif name == "langgraph":
                self.lg = LangGraphContender(self.url, pool_size=20)
                await self.lg.start()
            elif name == "dbos":
                self.dbos = DBOSContender(self.url)
                await self.dbos.start()
            self.log(f"[{time.strftime('%H:%M:%S')}] {name} ready")
        deadline = time.monotonic() + 120
        server_url = ""
        while True:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise RuntimeError(
                    "serve/worker did not start:\n"
                    + serve_log.read_text(errors="replace")[-3000:]
                    + (self.tmp / "worker.log").read_text(errors="replace")[-3000:]
                )
            if not server_url:
                found = READY.search(serve_log.read_text(errors="replace"))
                server_url = found.group(1) if found else ""
            with psycopg.connect(self.url) as conn:
                n = conn.execute(
                    "SELECT count(*) FROM duragraph.graphs WHERE graph_id = ANY(%s)", (self.graphs,)
                ).fetchone()[0]  # type: ignore[index]
            if server_url and n == len(self.graphs):
                break
            await asyncio.sleep(0.05)
        self.log(f"[{time.strftime('%H:%M:%S')}] serve and worker ready")
        self.token = server_url.partition("token=")[2]
        self.port = int(urlsplit(server_url).port or 0)
        self.api = f"http://127.0.0.1:{self.port}/duragraph/api/v1"

    async def stop(self) -> None:
        t0 = time.perf_counter()
        for c in (self.lg, self.dbos):
            if c is not None:
                try:
                    await c.stop()
                except Exception as err:
                    self.log(f"stopping {c.name}: {err!r}")
        for closer in (self.nc.close, self.pool.close):
            with contextlib.suppress(Exception):
                await closer()
        self.log(f"contenders stopped in {time.perf_counter() - t0:.1f} s")
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        self.log(f"services stopped in {time.perf_counter() - t0:.1f} s")
        self.nats.stop()
        self.pg.stop()
        self._tmp.cleanup()

    # -- our runs --------------------------------------------------------------------------------
    async def run(self, graph: str, input: dict[str, Any], limit: int, timeout: float = 600) -> str:
        ref = await self.control.runs.create_run(graph, input, config={"recursion_limit": limit + 1})
        # A light poll: a tight one would take CPU from the worker on a 2-core machine. Timings
        # come from the clock PostgreSQL records the events with, not from when the poll sees them.
        state = await self.control.runs.wait(ref.run_id, timeout=timeout, poll=0.05)
        assert state.status is not None and state.status.value == "success", (state.status, state.error)
        return ref.run_id

    def _db_times(self, run_ids: list[str]) -> tuple[float, float]:
        """Wall-clock epoch of the first run_started and of the last run_completed of ``run_ids``."""
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT extract(epoch FROM min(recorded_at) FILTER (WHERE type = 'run_started')), "
                "extract(epoch FROM max(recorded_at) FILTER (WHERE type = 'run_completed')), "
                "count(*) FILTER (WHERE type = 'run_completed') FROM duragraph.events "
                "WHERE stream_id = ANY(%s) AND type IN ('run_started', 'run_completed')",
                ([f"run:{r}" for r in run_ids],),
            ).fetchone()
        assert row is not None and row[2] == len(run_ids), row
        return float(row[0]), float(row[1])

    # -- 1 + 2: floor and per-step cost ----------------------------------------------------------
    async def per_step(self) -> dict[str, Any]:
        steps, graph = self.sizes.per_step_steps, self.sizes.per_step_graph
        payload = json.dumps({"step": 1, "task": "1.0", "node": "s1", "update": {"n": 2}, "goto": []})
        samples: dict[str, list[float]] = {"floor": [], "duragraph": [], "duragraph_engine": []}
        if self.lg:
            samples["langgraph"] = []
        if self.dbos:
            samples["dbos"] = []
        for round_ in range(self.sizes.rounds + 1):  # round 0 warms up
            got: dict[str, float] = {}
            async with self.pool.connection() as conn:
                begin = time.perf_counter()
                for i in range(steps):
                    await conn.execute(
                        FLOOR_SQL, (f"run:{uuid.uuid4()}", i, uuid.uuid4(), "node_completed", payload)
                    )
                got["floor"] = time.perf_counter() - begin
            begin = time.time()
            run_id = await self.run(graph, {"n": 0}, steps)
            started, completed = self._db_times([run_id])
            got["duragraph"] = completed - begin  # create -> run_completed committed
            got["duragraph_engine"] = completed - started
            if self.lg:
                got["langgraph"] = await self.lg.run_linear(steps)
            if self.dbos:
                got["dbos"] = await self.dbos.run_linear(steps)
            if round_:
                for k, v in got.items():
                    samples[k].append(v / steps * 1e6)
        medians = {k: _median(v) for k, v in samples.items()}
        return {
            "steps_per_run": steps,
            "rounds": self.sizes.rounds,
            "us_per_step": medians,
            "ratio_to_floor": {k: v / medians["floor"] for k, v in medians.items()},
            "samples_us": samples,
        }

    # -- 3: throughput -----------------------------------------------------------------------------
    async def throughput(self) -> dict[str, Any]:
        runs, steps, graph = self.sizes.tp_runs, self.sizes.tp_steps, self.sizes.tp_graph

        samples: dict[str, list[float]] = {"duragraph": []}
        if self.lg:
            samples["langgraph"] = []
        if self.dbos:
            samples["dbos"] = []
        for _ in range(max(1, self.sizes.rounds // 2)):
            samples["duragraph"].append(runs * steps / await self._ours_throughput(graph, runs, steps))
            if self.lg:
                samples["langgraph"].append(runs * steps / await self.lg.throughput(runs, steps, runs))
            if self.dbos:
                samples["dbos"].append(runs * steps / await self.dbos.throughput(runs, steps, runs))
        return {
            "runs": runs,
            "steps_per_run": steps,
            "concurrency": runs,
            "steps_per_second": {k: _median(v) for k, v in samples.items()},
            "samples": samples,
        }

    async def _ours_throughput(self, graph: str, runs: int, steps: int) -> float:
        """Seconds from creating ``runs`` runs of ``graph`` at once to the last run_completed."""
        begin = time.time()
        refs = await asyncio.gather(
            *(
                self.control.runs.create_run(graph, {"n": 0}, config={"recursion_limit": steps + 1})
                for _ in range(runs)
            )
        )
        ids = [r.run_id for r in refs]
        deadline = time.monotonic() + 300
        while True:  # one light query for all runs, not one poll per run
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT count(*) FILTER (WHERE status IN ('pending', 'running')), "
                    "count(*) FILTER (WHERE status = 'success') FROM duragraph.runs WHERE run_id::text = ANY(%s)",
                    (ids,),
                )
                active, done = await cur.fetchone()  # type: ignore[misc]
            if not active:
                break
            assert time.monotonic() < deadline, f"{active} runs still active"
            await asyncio.sleep(0.05)
        assert done == runs, f"{runs - done} runs did not succeed"
        return self._db_times(ids)[1] - begin

    # -- 4: SSE latency ----------------------------------------------------------------------------
    async def _sse_frames(
        self, run_id: str, last_id: int | None, stop_after: int | None, http: httpx.AsyncClient
    ) -> list[tuple[int, float]]:
        """(seq, wall-clock arrival) of the run's ``updates`` frames until the stream ends or
        ``stop_after`` frames were read."""
        headers = {"Authorization": f"token {self.token}", "Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        got: list[tuple[int, float]] = []
        event, seq = "", None
        async with http.stream(
            "GET", f"{self.api}/runs/{run_id}/stream", params={"stream_mode": "updates"}, headers=headers
        ) as response:
            assert response.status_code == 200, response.status_code
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("id:"):
                    seq = int(line[3:].strip())
                elif line == "":
                    if event == "updates" and seq is not None:
                        got.append((seq, time.time()))
                        if stop_after is not None and len(got) >= stop_after:
                            return got
                    event, seq = "", None
        return got

    def _recorded(self, run_id: str) -> dict[int, float]:
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT seq, extract(epoch FROM recorded_at) FROM duragraph.events "
                "WHERE stream_id = %s AND type = 'node_completed'",
                (f"run:{run_id}",),
            ).fetchall()
        return {int(s): float(t) for s, t in rows}

    async def _sse_latency(self, graph: str, input: dict[str, Any], limit: int) -> dict[str, Any]:
        return await self._latency_of(graph, input, config={"recursion_limit": limit + 1})

    async def _latency_of(self, graph: str, input: dict[str, Any], **options: Any) -> dict[str, Any]:
        """Commit → client frame for the events of one run, streamed from its start."""
        async with httpx.AsyncClient(timeout=120) as http:
            ref = await self.control.runs.create_run(graph, input, **options)
            connected = time.time()
            frames = await self._sse_frames(ref.run_id, None, None, http)
        recorded = self._recorded(ref.run_id)
        # Only events committed once the client was listening (the run waits before starting).
        lat = [(t - recorded[s]) * 1e3 for s, t in frames if s in recorded and recorded[s] > connected]
        return {
            "frames": len(frames),
            "measured": len(lat),
            "p50_ms": _pct(lat, 50),
            "p99_ms": _pct(lat, 99),
            "max_ms": max(lat),
        }

    async def sse(self) -> dict[str, Any]:
        n = self.sizes.sse_steady_events
        steady = await self._sse_latency("loop", {"n": 0, "limit": n, "rate": 100.0, "delay": 1.0}, n)
        # A burst: one super-step of 100 tasks, their commits as fast as the worker makes them.
        burst = await self._sse_latency_burst()
        # Reconnects: drop the connection every k frames, resume with Last-Event-ID.
        n, k = self.sizes.sse_reconnect_events, self.sizes.sse_reconnect_every
        ref = await self.control.runs.create_run(
            "loop", {"n": 0, "limit": n, "rate": 100.0, "delay": 0.2}, config={"recursion_limit": n + 1}
        )
        seen: list[int] = []
        reconnects = 0
        async with httpx.AsyncClient(timeout=120) as http:
            last: int | None = None
            while True:
                got = await self._sse_frames(ref.run_id, last, k, http)
                seen += [s for s, _ in got]
                if len(got) < k:
                    break
                last = got[-1][0]
                reconnects += 1
        expected = set(self._recorded(ref.run_id))
        return {
            "steady_100_per_s": steady,
            "burst_fanout100": burst,
            "reconnect": {
                "events": len(expected),
                "reconnects": reconnects,
                "gaps": len(expected - set(seen)),
                "duplicates": len(seen) - len(set(seen)),
            },
        }

    async def _sse_latency_burst(self) -> dict[str, Any]:
        # The client connects while the run is still queued; the burst follows.
        return await self._latency_of("fanout100", {"n": 0}, config={"recursion_limit": 5}, after_seconds=1.0)

    # -- 5: replay ---------------------------------------------------------------------------------
    async def replay(self) -> dict[str, Any]:
        from duragraph_lab.domain.run import state_at

        target = self.sizes.replay_events
        # Events per step of the loop graph and per run, from two short runs, to size the long one.
        counts = []
        for n in (10, 20):
            counts.append(
                len(await self.control.history.run_events(await self.run("loop", {"n": 0, "limit": n}, n)))
            )
        per_step = (counts[1] - counts[0]) / 10
        steps = max(1, round((target - (counts[0] - 10 * per_step)) / per_step))
        begin = time.perf_counter()
        run_id = await self.run("loop", {"n": 0, "limit": steps}, steps, timeout=1800)
        fill_s = time.perf_counter() - begin
        events = await self.control.history.run_events(run_id)
        rng = random.Random(7)
        picks = [rng.choice(events) for _ in range(self.sizes.replay_samples)]
        # Three ways to read, alternated pick by pick (rotating which goes first), each with a
        # cold history cache: "snapshots": as the product reads, from the snapshots the run's
        # earlier readers stored (here the fill's wait() polls); "cold": the run's snapshots
        # deleted first (the first read of a run nobody has read: it folds from the start and
        # stores them); "none": snapshots neither read nor written (the fold of the whole prefix).
        modes = ("snapshots", "cold", "none")
        ms: dict[str, list[float]] = {m: [] for m in modes}
        fold_ms = []
        for i, e in enumerate(picks):
            for mode in modes[i % 3 :] + modes[: i % 3]:
                control = control_plane(self.store, snapshot_every=0 if mode == "none" else SNAPSHOT_EVERY)
                if mode == "cold":
                    await self._drop_snapshots(run_id)
                begin = time.perf_counter()
                state = await control.history.state(run_id, at_seq=e.seq)
                ms[mode].append((time.perf_counter() - begin) * 1e3)
                assert state.run_id == run_id and state.last_seq <= e.seq
                if mode == "cold":  # put back what it deleted, untimed
                    await control_plane(self.store).history.state(run_id)
            begin = time.perf_counter()
            state_at(events, e.seq)
            fold_ms.append((time.perf_counter() - begin) * 1e3)
        # What an API client sees: the thread's state at a checkpoint (LangGraph's get_state with
        # a checkpoint id), from `duragraph-lab serve`: each pick's event as the checkpoint.
        thread_id = (await self.control.history.state(run_id)).thread_id
        api_ms = []
        headers = {"Authorization": f"token {self.token}"}
        async with httpx.AsyncClient(timeout=120, headers=headers) as http:
            for e in picks:
                begin = time.perf_counter()
                got = await http.get(f"{self.api}/threads/{thread_id}/state/{e.event_id}")
                api_ms.append((time.perf_counter() - begin) * 1e3)
                got.raise_for_status()
                assert got.json()["seq"] == e.seq
        count, size = await self._snapshots_of(run_id)

        def summary(xs: list[float]) -> dict[str, float]:
            return {"median": _median(xs), "p95": _pct(xs, 95), "max": max(xs)}

        return {
            "events": len(events),
            "fill_seconds": fill_s,
            "samples": len(picks),
            "snapshot_every": SNAPSHOT_EVERY,
            "snapshots": {"count": count, "bytes": size},
            "state_at_ms": summary(ms["snapshots"]),
            "state_at_cold_ms": summary(ms["cold"]),
            "state_at_no_snapshots_ms": summary(ms["none"]),
            "api_checkpoint_ms": summary(api_ms),
            "fold_only_ms": {"median": _median(fold_ms), "max": max(fold_ms)},
        }

    async def _drop_snapshots(self, run_id: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM duragraph.run_snapshots WHERE run_id = %s", (run_id,))

    async def _snapshots_of(self, run_id: str) -> tuple[int, int]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM duragraph.run_snapshots t "
                "WHERE run_id = %s",
                (run_id,),
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    # -- 6: storage --------------------------------------------------------------------------------
    def _ours_size(self) -> int:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = 'duragraph' AND c.relkind = 'r'"
            ).fetchone()
        return int(row[0]) if row else 0

    def _ours_rows(self, run_id: str, thread_id: str) -> dict[str, int]:
        queries = {
            "events": ("SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM duragraph.events t WHERE stream_id = %s", f"run:{run_id}"),
            "runs": ("SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM duragraph.runs t WHERE run_id = %s", run_id),
            "threads": ("SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM duragraph.threads t WHERE thread_id = %s", thread_id),
            "spans": ("SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM duragraph.spans t WHERE run_id = %s", run_id),
            "run_snapshots": ("SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM duragraph.run_snapshots t WHERE run_id = %s", run_id),
        }  # fmt: skip
        out = {}
        with psycopg.connect(self.url) as conn:
            for name, (sql, arg) in queries.items():
                try:
                    out[name] = int(conn.execute(sql, (arg,)).fetchone()[0])  # type: ignore[index]
                except psycopg.Error:
                    conn.rollback()
        return out

    async def storage(self) -> dict[str, Any]:
        n = self.sizes.conversation
        await asyncio.sleep(1.0)  # let the relay drain the outbox of earlier scenarios
        before = self._ours_size()
        ref = await self.control.runs.create_run(
            "chatloop", {"messages": [], "limit": n}, config={"recursion_limit": n + 1}
        )
        state = await self.control.runs.wait(ref.run_id, timeout=600, poll=0.01)
        assert len(state.values["messages"]) == n, len(state.values.get("messages", []))
        await asyncio.sleep(1.0)
        rows = self._ours_rows(ref.run_id, ref.thread_id)
        out: dict[str, Any] = {
            "messages": n,
            "duragraph": {"on_disk_delta": self._ours_size() - before, "rows": sum(rows.values()), "rows_by_table": rows},
        }  # fmt: skip
        if self.lg:
            before = self.lg.storage("-")["on_disk"]
            thread_id = await self.lg.conversation(n)
            lg = self.lg.storage(thread_id)
            out["langgraph"] = {"on_disk_delta": lg["on_disk"] - before, "rows": lg["rows"]}
            out["ratio_rows"] = out["duragraph"]["rows"] / lg["rows"]
            out["ratio_on_disk"] = out["duragraph"]["on_disk_delta"] / max(
                1, out["langgraph"]["on_disk_delta"]
            )
        return out

    # -- 7: LangGraph graphs, DuraGraph's LangGraph engine vs PostgresSaver (issue 17) -------------
    async def langgraph_engine(self) -> dict[str, Any]:
        """The same LangGraph graphs (:mod:`benchmarks.lg_graphs`) run by the worker's LangGraph
        engine (checkpoints as events of the run's stream) and by LangGraph + AsyncPostgresSaver
        (``durability="sync"``), alternated round by round: per step, throughput, storage."""
        if self.lg is None:
            return {"skipped": self.skipped.get("langgraph", "langgraph contender not requested")}
        steps = self.sizes.per_step_steps
        graph = f"lg_linear{steps}"
        per: dict[str, list[float]] = {"duragraph": [], "duragraph_engine": [], "langgraph": []}
        for round_ in range(self.sizes.rounds + 1):  # round 0 warms up
            got: dict[str, float] = {}
            # Which goes first alternates too, so neither always follows the other's leftovers.
            for who in ("ours", "lg") if round_ % 2 else ("lg", "ours"):
                if who == "ours":
                    begin = time.time()
                    run_id = await self.run(graph, {"n": 0}, steps)
                    started, completed = self._db_times([run_id])
                    got["duragraph"] = completed - begin
                    got["duragraph_engine"] = completed - started
                else:
                    got["langgraph"] = await self.lg.run_linear(steps)
            if round_:
                for k, v in got.items():
                    per[k].append(v / steps * 1e6)
        us = {k: _median(v) for k, v in per.items()}
        # Per-round ratios (PostgresSaver / ours): the load of a shared machine cancels within a round.
        round_ratio = [lg / ours for lg, ours in zip(per["langgraph"], per["duragraph"], strict=True)]

        runs, tp_steps = self.sizes.tp_runs, self.sizes.tp_steps
        # A round of each, not measured: the worker's first burst of concurrent runs grows its
        # connection pool (new PostgreSQL backends, which compile the append's functions and plan
        # its statements), which the per-step rounds above (one run at a time) did not.
        await self._ours_throughput(f"lg_linear{tp_steps}", runs, tp_steps)
        await self.lg.throughput(runs, tp_steps, runs)
        tp: dict[str, list[float]] = {"duragraph": [], "langgraph": []}
        for i in range(max(1, self.sizes.rounds // 2)):
            for who in ("ours", "lg") if i % 2 == 0 else ("lg", "ours"):
                if who == "ours":
                    seconds = await self._ours_throughput(f"lg_linear{tp_steps}", runs, tp_steps)
                    tp["duragraph"].append(runs * tp_steps / seconds)
                else:
                    tp["langgraph"].append(runs * tp_steps / await self.lg.throughput(runs, tp_steps, runs))
        sps = {k: _median(v) for k, v in tp.items()}
        tp_ratio = [o / lg for o, lg in zip(tp["duragraph"], tp["langgraph"], strict=True)]

        return {
            "per_step": {
                "steps_per_run": steps,
                "rounds": self.sizes.rounds,
                "us_per_step": us,
                "round_ratio_langgraph_over_ours": round_ratio,
                "ratio_median": _median(round_ratio),
                "samples_us": per,
            },
            "throughput": {
                "runs": runs,
                "steps_per_run": tp_steps,
                "concurrency": runs,
                "rounds": len(tp_ratio),
                "steps_per_second": sps,
                "round_ratio_ours_over_langgraph": tp_ratio,
                "ratio_median": _median(tp_ratio),
                "samples": tp,
            },
            "storage": await self.langgraph_storage(),
        }

    async def langgraph_storage(self) -> dict[str, Any]:
        """Bytes of a conversation of ``sizes.conversation`` steps (one message each): the rows of
        our run (its events and every read model) vs PostgresSaver's rows of its thread."""
        assert self.lg is not None
        n = self.sizes.conversation
        ref = await self.control.runs.create_run(
            "lg_chatloop", {"messages": [], "limit": n}, config={"recursion_limit": n + 1}
        )
        state = await self.control.runs.wait(ref.run_id, timeout=600, poll=0.05)
        assert state.status is not None and state.status.value == "success", (state.status, state.error)
        assert len(state.values["messages"]) == n, len(state.values.get("messages", []))
        await asyncio.sleep(1.0)  # the relay drains the outbox (its rows are deleted once published)
        ours = self._ours_rows(ref.run_id, ref.thread_id) | self._lg_read_models(ref.thread_id)
        with psycopg.connect(self.url) as conn:  # where the bytes go: the run's events by type
            by_type = {
                str(t): (int(c), int(b))
                for t, c, b in conn.execute(
                    "SELECT type, count(*), sum(pg_column_size(t.*)) FROM duragraph.events t "
                    "WHERE stream_id = %s GROUP BY type ORDER BY 3 DESC",
                    (f"run:{ref.run_id}",),
                ).fetchall()
            }
        lg_thread = await self.lg.conversation(n)
        lg = self.lg.storage(lg_thread)
        lg_rows = lg["rows"]
        return {
            "messages": n,
            "duragraph": {"rows": sum(ours.values()), "rows_by_table": ours, "events_by_type": by_type},
            "langgraph": {"rows": lg_rows, "rows_by_table": lg["rows_by_table"]},
            "ratio_rows": sum(ours.values()) / lg_rows,
            "run_id": ref.run_id,
            "thread_id": ref.thread_id,
        }

    def _lg_read_models(self, thread_id: str) -> dict[str, int]:
        """Bytes of the LangGraph read models of ``thread_id`` and of its own checkpoint stream
        (empty for checkpoints written by runs: those are events of the run's stream)."""
        from duragraph_lab.domain.events import checkpoint_stream

        queries = {
            "lg_checkpoints": ("SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM duragraph.lg_checkpoints t WHERE thread_id = %s", thread_id),
            "lg_writes": ("SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM duragraph.lg_writes t WHERE thread_id = %s", thread_id),
            "lg_blobs": ("SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM duragraph.lg_blobs t WHERE thread_id = %s", thread_id),
            "events (thread checkpoint stream)": ("SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM duragraph.events t WHERE stream_id = %s", checkpoint_stream(thread_id)),
        }  # fmt: skip
        with psycopg.connect(self.url) as conn:
            rows = {name: conn.execute(sql, (arg,)).fetchone() for name, (sql, arg) in queries.items()}
        return {name: int(row[0]) if row else 0 for name, row in rows.items()}
