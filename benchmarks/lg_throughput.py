"""Where the LangGraph engine's throughput stops (issue 17: throughput >= 2 x LangGraph +
PostgresSaver): the suite's throughput scenario with 1 or more worker processes, the cores each
process uses while it runs, and LangGraph's own cost with no durable checkpointer at all.

    python -m benchmarks.lg_throughput                    # 1 then 2 workers, 2 rounds each
    python -m benchmarks.lg_throughput --workers 2 --rounds 3
    python -m benchmarks.lg_throughput --floor            # LangGraph alone: no saver, InMemorySaver
    python -m benchmarks.lg_throughput --workers 1 --rounds 1 --profile lg.txt   # py-spy on the worker
    python -m benchmarks.lg_throughput --runs 10 --workers 1 --rounds 1 --json out.json   # smoke
    python -m benchmarks.lg_throughput --steps 1 --runs 400 --workers 1   # one-node runs: a run's own cost

The set-up of ``benchmarks.cpu_per_step``: one embedded PostgreSQL and NATS, ``duragraph-lab
worker`` processes serving ``lg_linear20`` (their slots split so that every worker gets runs),
the outbox relay and the control plane in this process. Each round creates 200 runs of 20 steps
at once and waits for all, then LangGraph + ``AsyncPostgresSaver`` (``durability="sync"``, pool of
20, in this process, as ``benchmarks.contenders``) runs the same 200 x 20 on the same PostgreSQL:
steps per second of each and their ratio, then each process's CPU per step and its cores sampled
every half second (and the workers' resident memory after the round) (PostgreSQL: the backends alive at the round's start; ones started later are
missed, so its figure is a lower bound). Before the measured rounds each side runs one round of
the same size unmeasured: a worker's first burst of runs grows its connection pool (new
PostgreSQL backends, which compile the append's functions and plan its statements), and
PostgresSaver's pool and LangGraph's code paths get the same warm-up.

``--profile FILE``: py-spy samples the first worker while it serves the rounds (its collapsed
stacks in FILE, the top functions printed as ``benchmarks.profile_step`` does).

Each round's phases, from the run events' commit times: when the last of the runs was created
(``created``, seconds after the round began: the control plane's creations compete with the
worker for the machine), the steady rate (``steady``: steps committed per second while every
run was in flight, from the last run's ``run_started`` to the first ``run_completed``) and when
the last run completed (``done``). The rate over the whole round is below the steady rate by
what the runs' creation and start-up and the last runs' tail cost.

``--floor``: the same 200 x 20 in this process with LangGraph alone: no checkpointer, then
``InMemorySaver`` (``durability="sync"``): CPU per step of LangGraph's loop and of its
checkpointing with nothing durable, the part no saver can take away.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import psycopg

from benchmarks.cpu_per_step import _cpu, _ours
from benchmarks.per_step import control_plane, embedded_services, wait_registered
from benchmarks.profile_step import ROOT, _cli, report

STEPS, SLOTS = 20, 256
#: ``--steps``: the linear graphs of benchmarks.lg_graphs by their length. One-node runs show what
#: a run costs beside its steps (its creation, lease, start, first checkpoint read and end).
GRAPHS = {1: "lg_linear1", 20: "lg_linear20"}


class _Cores:
    """Cores used by each group of processes, sampled every half second in a thread."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.procs = {name: [psutil.Process(p) for p in ps] for name, ps in pids.items()}
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _total(self) -> dict[str, float]:
        out = {}
        for name, procs in self.procs.items():
            total = 0.0
            for p in procs:
                try:
                    t = p.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += t.user + t.system
            out[name] = total
        return out

    def _sample(self) -> None:
        last = self._total()
        while not self._stop.wait(0.5):
            now = self._total()
            self.samples.append({k: (now[k] - last[k]) / 0.5 for k in now})
            last = now

    def __enter__(self) -> _Cores:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def busiest(self) -> dict[str, float]:
        """Each group's median cores over the middle half of the samples (ramp-up and tail left out)."""
        middle = self.samples[len(self.samples) // 4 : max(1, 3 * len(self.samples) // 4)] or self.samples
        return {k: sorted(s[k] for s in middle)[len(middle) // 2] for k in (middle[0] if middle else {})}


async def measure(
    worker_counts: list[int], rounds: int, runs: int, profile: Path | None = None, steps_per_run: int = STEPS
) -> list[dict[str, Any]]:
    from benchmarks.contenders import LangGraphContender

    graph = GRAPHS[steps_per_run]

    out: list[dict[str, Any]] = []
    with embedded_services("dg-lgtp-") as sv:
        tmp, url, nurl, env = sv.tmp, sv.url, sv.nurl, sv.env
        pool, nc, relay, control = await control_plane(url, nurl)
        lg = LangGraphContender(url, pool_size=20)
        await lg.start()
        await lg.throughput(runs, steps_per_run, runs)  # warm-up: a round as the measured ones
        for k in worker_counts:
            workers = [
                subprocess.Popen(  # noqa: ASYNC220 - before measuring
                    [
                        *_cli(),
                        "worker",
                        f"benchmarks.lg_graphs:{graph}",
                        "--concurrency",
                        str(SLOTS // k),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(k)
            ]
            spy = None
            try:
                await wait_registered(url, graph)
                await asyncio.sleep(2.0)  # every worker up and polling
                # A round as the measured ones, not measured: the workers' first burst of runs
                # grows their connection pools (new PostgreSQL backends, which compile the
                # append's functions and plan its statements), as PostgresSaver's warm-up did
                # for its pool above.
                await _ours_round(control, graph, runs, steps_per_run)
                if profile is not None:
                    spy = subprocess.Popen(  # noqa: ASYNC220 - before measuring
                        ["py-spy", "record", "-p", str(workers[0].pid), "-r", "250", "--format", "raw",
                         "-o", str(profile), *(["--native"] if os.environ.get("PYSPY_NATIVE") else [])],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                    await asyncio.sleep(1.0)  # py-spy attaches
                for r in range(rounds):
                    pids = {
                        "workers": [w.pid for w in workers],
                        "postgres": _ours("postgres", tmp),
                        "relay": [os.getpid()],
                        "nats": _ours("nats-server", tmp),
                    }
                    before = {n: _cpu(p) for n, p in pids.items()}
                    with _Cores(pids) as cores:
                        began_at = time.time()
                        ours, refs = await _ours_round(control, graph, runs, steps_per_run)
                    steps = runs * steps_per_run
                    cpu = {n: (_cpu(p) - before[n]) / steps * 1e6 for n, p in pids.items()}
                    theirs = await lg.throughput(runs, steps_per_run, runs)
                    rss = sum(psutil.Process(w.pid).memory_info().rss for w in workers) / 2**20
                    row = {
                        "workers": k,
                        "round": r,
                        "steps_per_run": steps_per_run,
                        "workers_rss_mib": rss,
                        "ours_steps_per_s": steps / ours,
                        "postgressaver_steps_per_s": steps / theirs,
                        "ratio": theirs / ours,
                        "cpu_us_per_step": cpu,
                        "cores": cores.busiest(),
                        "phases": _phases(url, [str(ref.run_id) for ref in refs], began_at),
                    }
                    out.append(row)
                    print(_line(row), flush=True)
            finally:
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(timeout=60)
                for w in workers:
                    w.terminate()
                for w in workers:
                    w.wait(timeout=30)
        await lg.stop()
        await relay.stop()
        await nc.close()
        await pool.close()
    return out


async def _ours_round(control: Any, graph: str, runs: int, steps: int) -> tuple[float, list[Any]]:
    """Seconds from creating ``runs`` runs of ``graph`` at once to the last one done, and the runs."""
    began = time.perf_counter()
    refs = await asyncio.gather(
        *(
            control.runs.create_run(graph, {"n": 0}, config={"recursion_limit": steps + 1})
            for _ in range(runs)
        )
    )
    for ref in refs:
        state = await control.runs.wait(ref.run_id, timeout=300, poll=0.05)
        if state.values != {"n": steps}:
            raise SystemExit(f"a run ended with {state.values!r} ({state.error})")
    return time.perf_counter() - began, list(refs)


def _phases(url: str, run_ids: list[str], began_at: float) -> dict[str, float]:
    """The round's phases (see the module), in seconds after ``began_at`` (wall clock) and steps/s."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT type, extract(epoch FROM recorded_at)::float8 FROM duragraph.events "
            "WHERE stream_id = ANY(%s) AND type IN ('run_created', 'run_started', 'node_completed', "
            "'run_completed')",
            ([f"run:{r}" for r in run_ids],),
        ).fetchall()
    at: dict[str, list[float]] = {
        t: [] for t in ("run_created", "run_started", "node_completed", "run_completed")
    }
    for type_, when in rows:
        at[type_].append(when - began_at)
    # Every run in flight: from the last one's start to the first one's end.
    all_started, first_done = max(at["run_started"]), min(at["run_completed"])
    steps = sum(1 for when in at["node_completed"] if all_started <= when < first_done)
    return {
        "created": max(at["run_created"]),
        "all_started": all_started,
        "steady": steps / (first_done - all_started) if first_done > all_started else 0.0,
        "first_done": first_done,
        "done": max(at["run_completed"]),
    }


def _line(row: dict[str, Any]) -> str:
    cpu = ", ".join(f"{k} {v:,.0f}" for k, v in row["cpu_us_per_step"].items())
    cores = ", ".join(f"{k} {v:.2f}" for k, v in row["cores"].items())
    phases = row["phases"]
    return (
        f"| {row['workers']} | {row['round']} | {row['ours_steps_per_s']:,.0f} | "
        f"{row['postgressaver_steps_per_s']:,.0f} | {row['ratio']:.2f} | {cpu} | {cores} | "
        f"{row['workers_rss_mib']:,.0f} | {phases['created']:.2f} / {phases['steady']:,.0f} / {phases['done']:.2f} |"
    )


async def floor(rounds: int, runs: int) -> dict[str, list[float]]:
    """CPU per step of LangGraph alone in this process: no checkpointer, then InMemorySaver."""
    from langgraph.checkpoint.memory import InMemorySaver

    from benchmarks.lg_graphs import linear

    out: dict[str, list[float]] = {}
    for saver in (None, InMemorySaver()):
        graph = linear(STEPS).compile(checkpointer=saver)

        async def one(g: Any = graph, durable: bool = saver is not None) -> None:
            if durable:
                config = {"configurable": {"thread_id": str(uuid.uuid4())}}
                await g.ainvoke({"n": 0}, config, durability="sync")
            else:
                await g.ainvoke({"n": 0})

        await asyncio.gather(*(one() for _ in range(50)))  # warm-up
        figures = []
        for _ in range(rounds):
            c0 = time.process_time()
            await asyncio.gather(*(one() for _ in range(runs)))
            figures.append((time.process_time() - c0) / (runs * STEPS) * 1e6)
        name = "InMemorySaver (durability=sync)" if saver is not None else "no checkpointer"
        print(f"LangGraph alone, {name}: CPU µs per step " + ", ".join(f"{f:,.0f}" for f in figures))
        out[name] = figures
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workers", type=int, action="append", help="worker processes (repeatable; default 1 and 2)"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=200, help="runs started at once (default 200)")
    parser.add_argument(
        "--steps", type=int, choices=sorted(GRAPHS), default=STEPS, help="steps a run (default 20)"
    )
    parser.add_argument("--floor", action="store_true", help="LangGraph alone, no durable saver")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--profile", type=Path, help="py-spy the first worker; collapsed stacks here")
    args = parser.parse_args()
    result: Any
    if args.floor:
        result = asyncio.run(floor(args.rounds, args.runs))
    else:
        print(
            f"{args.runs} runs x {args.steps} steps at once; CPU µs per step by process; cores: median while busy\n"
        )
        print(
            "| workers | round | ours steps/s | PostgresSaver steps/s | ours / PostgresSaver | CPU µs/step | cores "
            "| workers' RSS MiB | created s / steady steps/s / done s |"
        )
        print("|---:|---:|---:|---:|---:|---|---|---:|---|")
        result = asyncio.run(
            measure(args.workers or [1, 2], args.rounds, args.runs, args.profile, args.steps)
        )
        if args.profile:
            total, own, incl = report(args.profile, 25)
            print(f"\npy-spy, first worker: {total} samples")
            for title, rows in (("self", own), ("inclusive", incl)):
                print(f"\n{title}:")
                for name, n in rows:
                    print(f"  {100 * n / total:5.1f} %  {name}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
