"""CPU per step, by process: what one step of a graph costs the worker, PostgreSQL, the outbox
relay and nats-server (issue 17: where a LangGraph step's cost goes, beside a native step's and
beside LangGraph + PostgresSaver's).

    python -m benchmarks.cpu_per_step                  # the native engine, linear100
    python -m benchmarks.cpu_per_step --langgraph      # the LangGraph engine, the same graph
    python -m benchmarks.cpu_per_step --both --runs 10 # both, one table
    python -m benchmarks.cpu_per_step --all            # both, then LangGraph + AsyncPostgresSaver
    python -m benchmarks.cpu_per_step --chat 1000 --runs 1   # a 1,000-message conversation, both
    python -m benchmarks.cpu_per_step --chat 1000 --all      # ... the native engine's too

The set-up of ``benchmarks.per_step``: one embedded PostgreSQL and NATS, ``duragraph-lab worker``
in its own process serving the 100-node linear graph, the outbox relay (and the control plane
creating and awaiting the runs) in this process. Runs execute one after the other; the figures
are each process's user + system CPU over them, divided by the steps. Unlike wall-clock time,
CPU per step hardly moves when other work shares the machine, so two revisions can be compared
on a busy machine (the wall-clock figure is printed too, for what it is worth).

``postgressaver`` (``--all``): the same LangGraph graph run by LangGraph itself with
``AsyncPostgresSaver`` (``durability="sync"``, as in ``benchmarks.contenders``) in this process,
on the same PostgreSQL (its own database): its "worker" column is this process, there is no relay
or NATS.

Beside the CPU, the bytes of write-ahead log each step makes (the server's WAL position before
and after, so the relay's deletes count too; ``pg_stat_wal``'s counters are not used: backends
report them up to seconds late).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time

import psutil
import psycopg

from benchmarks.per_step import control_plane, embedded_services, wait_registered
from benchmarks.pg_step import scenario
from benchmarks.profile_step import ROOT, _cli

STEPS = 100
PROCESSES = ("worker", "postgres", "relay", "nats")
_WAL_POSITION = "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"
ENGINES = ("native", "langgraph", "postgressaver")


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:  # a PostgreSQL backend that ended: its CPU is lost, rarely much
            continue
        total += times.user + times.system
    return total


def _wal(url: str) -> float:
    """The server's write-ahead log position now, in bytes."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(_WAL_POSITION).fetchone()
    assert row is not None
    return float(row[0])


def _ours(fragment: str, directory: str) -> list[int]:
    """The processes named ``fragment`` started for this measurement (their command line names
    its temporary directory), with their children: PostgreSQL's backends. Other PostgreSQL and
    NATS servers on the machine are not counted."""
    found: list[int] = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if fragment in (proc.info["name"] or "") and directory in " ".join(proc.info["cmdline"] or []):
            found.append(proc.pid)
            found += [child.pid for child in proc.children(recursive=True)]
    return found


async def measure(engines: list[str], runs: int, chat: int | None = None) -> dict[str, dict[str, float]]:
    """Engine -> process (and "wall") -> µs per step. ``chat``: the conversation graph with that
    many messages (one a step) instead of the 100-node linear graph (LangGraph engines only)."""
    out: dict[str, dict[str, float]] = {}
    with embedded_services("dg-cpu-") as sv:
        tmp, url, nurl, env = sv.tmp, sv.url, sv.nurl, sv.env
        workers: list[subprocess.Popen[bytes]] = []
        try:
            pool, nc, relay, control = await control_plane(url, nurl)
            for engine in engines:
                if engine == "postgressaver":
                    out[engine] = await _postgres_saver(url, tmp, runs, chat)
                    continue
                sc = scenario(engine == "native", chat)
                ref_, graph = sc.ref, sc.graph
                worker = subprocess.Popen(  # noqa: ASYNC220 - before measuring
                    [*_cli(), "worker", ref_, "--concurrency", "1"],
                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                workers.append(worker)
                await wait_registered(url, graph)
                ref = await control.runs.create_run(graph, sc.input, config={"recursion_limit": sc.steps + 1})
                await control.runs.wait(ref.run_id, timeout=600)  # warm-up, not measured
                pids = {"worker": [worker.pid], "postgres": _ours("postgres", tmp), "relay": [os.getpid()],
                        "nats": _ours("nats-server", tmp)}  # fmt: skip
                before = {k: _cpu(v) for k, v in pids.items()}
                wal_before = _wal(url)
                began = time.perf_counter()
                for _ in range(runs):
                    ref = await control.runs.create_run(
                        graph, sc.input, config={"recursion_limit": sc.steps + 1}
                    )
                    state = await control.runs.wait(ref.run_id, timeout=600, poll=0.01)
                    if not sc.finished(state.values):
                        raise SystemExit(
                            f"{engine}: a run ended with {str(state.values)[:200]} ({state.error})"
                        )
                wall = time.perf_counter() - began
                steps = runs * sc.steps
                out[engine] = {k: (_cpu(v) - before[k]) / steps * 1e6 for k, v in pids.items()}
                out[engine]["wall"] = wall / steps * 1e6
                out[engine]["wal"] = (_wal(url) - wal_before) / steps
                worker.terminate()
                worker.wait(timeout=30)
            await relay.stop()
            await nc.close()
            await pool.close()
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait(timeout=30)
    return out


async def _postgres_saver(url: str, tmp: str, runs: int, chat: int | None = None) -> dict[str, float]:
    from benchmarks.contenders import LangGraphContender, database_url

    contender = LangGraphContender(database_url(url, "langgraph_cpu"))
    await contender.start()

    async def one() -> None:
        if chat is None:
            await contender.run_linear(STEPS)
        else:
            await contender.conversation(chat)

    try:
        await one()  # warm-up, not measured
        pids = {"worker": [os.getpid()], "postgres": _ours("postgres", tmp)}
        before = {k: _cpu(v) for k, v in pids.items()}
        wal_before = _wal(url)
        began = time.perf_counter()
        for _ in range(runs):
            await one()
        wall = time.perf_counter() - began
        wal_after = _wal(url)
    finally:
        await contender.stop()
    steps = runs * (STEPS if chat is None else chat)
    figures = {k: (_cpu(v) - before[k]) / steps * 1e6 for k, v in pids.items()}
    wal = (wal_after - wal_before) / steps
    return {**figures, "relay": 0.0, "nats": 0.0, "wall": wall / steps * 1e6, "wal": wal}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--langgraph", action="store_true", help="the LangGraph engine only")
    group.add_argument("--both", action="store_true", help="the native engine, then the LangGraph engine")
    group.add_argument("--all", action="store_true", help="--both, then LangGraph + AsyncPostgresSaver")
    parser.add_argument(
        "--chat", type=int, metavar="N",
        help="the conversation graph, N messages a run (one a step): the LangGraph engine and PostgresSaver"
        " (with --all, the native engine first)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.chat is not None:
        if args.chat < 1:
            parser.error("--chat N needs N >= 1")
        chat_engines = list(ENGINES) if args.all else ["langgraph", "postgressaver"]
        figures = asyncio.run(measure(chat_engines, args.runs, args.chat))
        print(f"{args.runs} runs x {args.chat} messages each (one a step), one after the other; µs per step")
        _table(figures)
        return
    engines = (
        list(ENGINES)
        if args.all
        else ["native", "langgraph"]
        if args.both
        else ["langgraph"]
        if args.langgraph
        else ["native"]
    )
    figures = asyncio.run(measure(engines, args.runs))
    print(f"{args.runs} runs x {STEPS} steps each, one after the other; µs per step")
    _table(figures)


def _table(figures: dict[str, dict[str, float]]) -> None:
    print("\n| engine | " + " | ".join(f"{p} CPU" for p in PROCESSES) + " | all CPU | wall | WAL bytes |")
    print("|---|" + "---:|" * (len(PROCESSES) + 3))
    for engine, f in figures.items():
        cells = " | ".join(f"{f[p]:,.0f}" for p in PROCESSES)
        print(
            f"| {engine} | {cells} | {sum(f[p] for p in PROCESSES):,.0f} | {f['wall']:,.0f} | {f['wal']:,.0f} |"
        )


if __name__ == "__main__":
    main()
