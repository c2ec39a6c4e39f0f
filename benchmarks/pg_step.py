"""Where a step's time goes in PostgreSQL (issue 17: what the commit on a step's critical path costs
the database): the time of each statement, and of each of our functions, per step.

    python -m benchmarks.pg_step                      # the LangGraph engine, 10 runs of 100 steps
    python -m benchmarks.pg_step --native --runs 5    # the native engine
    python -m benchmarks.pg_step --chat 1000 --runs 1 # a conversation of 1,000 messages (one a step)
    python -m benchmarks.pg_step --postgressaver      # and LangGraph + AsyncPostgresSaver's statements
    python -m benchmarks.pg_step --together 200 --runs 2   # 200 runs at once (group commits), twice

The set-up of ``benchmarks.cpu_per_step``: one embedded PostgreSQL and NATS, ``duragraph-lab
worker`` serving the 100-node linear graph, runs one after the other (``--together N``: N runs
started at once, each round, as the throughput scenario does, so that the worker's commits go
in groups). PostgreSQL logs every
statement's duration while they run (``log_min_duration_statement = 0``: the server's time for
each protocol step, bind and execute, without the round trip and without the commit's WAL flush
that follows an autocommit statement) and counts its PL/pgSQL functions' time
(``track_functions``: total, and self without the functions they call). Both are divided by the
steps run. Logging every statement costs the server time too: compare the figures with each
other, not with a run that logs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.served import serving

STEPS = 100
# A statement may span lines (continuations start with a tab); the next entry starts with its time.
_DURATION = re.compile(
    r"duration: ([\d.]+) ms\s+(parse|bind|execute|statement)[^:]*: (.*?)(?=\n\d{4}-\d\d-\d\d |\Z)", re.DOTALL
)


@dataclass
class Figures:
    steps: int
    #: (protocol step, statement text shortened) -> durations in ms
    statements: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    #: function -> (calls, total ms, self ms)
    functions: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    #: LangGraph + AsyncPostgresSaver's statements, the same way (``--postgressaver``)
    postgressaver: dict[tuple[str, str], list[float]] | None = None


def _shorten(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()[:90]


def _settings(url: str, **values: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for name, value in values.items():
            conn.execute(f"ALTER SYSTEM SET {name} = {value}")
        conn.execute("SELECT pg_reload_conf()")


def _size(log: Path) -> int:
    return log.stat().st_size


def _statements(log: Path, start: int, stop: int) -> dict[tuple[str, str], list[float]]:
    """The statements logged between two offsets of the log: (protocol step, text) -> ms each."""
    out: dict[tuple[str, str], list[float]] = {}
    with log.open("rb") as f:
        f.seek(start)
        text = f.read(stop - start).decode("utf-8", errors="replace")
    for m in _DURATION.finditer(text):
        out.setdefault((m.group(2), _shorten(m.group(3))), []).append(float(m.group(1)))
    return out


async def _postgres_saver(url: str, log: Path, runs: int) -> dict[tuple[str, str], list[float]]:
    """The same graph run by LangGraph + AsyncPostgresSaver (``durability="sync"``, as in
    ``benchmarks.contenders``) in this process, on its own database: its statements."""
    from benchmarks.contenders import LangGraphContender

    contender = LangGraphContender(url)
    await contender.start()
    try:
        await contender.run_linear(STEPS)  # warm-up, not measured
        start = _size(log)
        for _ in range(runs):
            await contender.run_linear(STEPS)
        return _statements(log, start, _size(log))
    finally:
        await contender.stop()


@dataclass(frozen=True)
class Scenario:
    ref: str  # what the worker serves
    graph: str
    input: dict[str, Any]
    steps: int

    def finished(self, values: Any) -> bool:
        if "messages" in self.input:
            return isinstance(values, dict) and len(values.get("messages", ())) == self.steps
        return bool(values == {"n": self.steps})


def scenario(native: bool, chat: int | None) -> Scenario:
    if chat is not None:  # one message a step (LangGraph: each stored as an append to the list before)
        ref, graph = ("benchmarks.graphs:chatloop", "chatloop") if native else (
            "benchmarks.lg_graphs:lg_chatloop", "lg_chatloop")  # fmt: skip
        return Scenario(ref, graph, {"messages": [], "limit": chat}, chat)
    if native:
        return Scenario("benchmarks.graphs:linear100", "linear100", {"n": 0}, STEPS)
    return Scenario("benchmarks.lg_graphs:lg_linear100", "lg_linear100", {"n": 0}, STEPS)


async def measure(
    runs: int, native: bool, saver: bool = False, chat: int | None = None, together: int = 1
) -> Figures:
    sc = scenario(native, chat)
    async with serving("dg-pgstep-", sc.ref, sc.graph, concurrency=max(1, together)) as served:
        sv, control, worker = served.sv, served.control, served.worker
        log = Path(sv.tmp) / "postgres" / "postgres.log"
        ref = await control.runs.create_run(sc.graph, sc.input, config={"recursion_limit": sc.steps + 1})
        await control.runs.wait(ref.run_id, timeout=600)  # warm-up, not measured
        _settings(sv.url, log_min_duration_statement="0", track_functions="'pl'")
        await asyncio.sleep(1.0)  # every backend has read the new settings
        with psycopg.connect(sv.url, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_reset()")
        start = _size(log)
        for _ in range(runs):
            refs = await asyncio.gather(
                *(
                    control.runs.create_run(sc.graph, sc.input, config={"recursion_limit": sc.steps + 1})
                    for _ in range(together)
                )
            )
            for ref in refs:
                state = await control.runs.wait(ref.run_id, timeout=600, poll=0.05)
                if not sc.finished(state.values):
                    raise SystemExit(f"a run ended with {state.values!r} ({state.error})")
        stop = _size(log)
        theirs = await _postgres_saver(sv.url, log, runs) if saver else None
        _settings(sv.url, log_min_duration_statement="-1")
        worker.terminate()
        worker.wait(timeout=30)
        await asyncio.sleep(1.0)  # function counts reach the statistics when backends end
        figures = Figures(steps=runs * together * sc.steps, postgressaver=theirs)
        with psycopg.connect(sv.url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT schemaname || '.' || funcname, calls, total_time, self_time "
                "FROM pg_stat_user_functions ORDER BY total_time DESC"
            ).fetchall()
        figures.functions = {str(n): (int(c), float(t), float(s)) for n, c, t, s in rows}
        figures.statements = _statements(log, start, stop)
    return figures


def _statement_table(
    title: str, statements: dict[tuple[str, str], list[float]], steps: int, top: int
) -> None:
    total = sum(sum(d) for d in statements.values()) * 1000 / steps
    print(f"\n{title}: {total:,.0f} µs of statements a step")
    print("\n| statement (protocol step) | per step | µs/step | median µs |")
    print("|---|---:|---:|---:|")
    ranked = sorted(statements.items(), key=lambda kv: -sum(kv[1]))
    for (phase, sql), durations in ranked[:top]:
        print(
            f"| `{sql}` ({phase}) | {len(durations) / steps:.2f} | {sum(durations) * 1000 / steps:,.1f} "
            f"| {statistics.median(durations) * 1000:,.0f} |"
        )


def report(figures: Figures, top: int) -> None:
    steps = figures.steps
    print(f"{steps} steps; µs per step")
    _statement_table("DuraGraph Lab (worker, relay, control plane)", figures.statements, steps, top)
    if figures.postgressaver is not None:
        _statement_table("LangGraph + AsyncPostgresSaver", figures.postgressaver, steps, top)
    print("\n| function | calls/step | total µs/step | self µs/step |")
    print("|---|---:|---:|---:|")
    for name, (calls, total, self_) in list(figures.functions.items())[:top]:
        print(
            f"| `{name}` | {calls / steps:.2f} | {total * 1000 / steps:,.1f} | {self_ * 1000 / steps:,.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--native", action="store_true", help="the native engine's graph")
    parser.add_argument("--top", type=int, default=12, help="rows of each table")
    parser.add_argument(
        "--postgressaver", action="store_true", help="also the same graph on LangGraph + AsyncPostgresSaver"
    )
    parser.add_argument("--chat", type=int, metavar="N", help="a conversation of N messages instead")
    parser.add_argument("--together", type=int, default=1, metavar="N", help="N runs at once, each round")
    args = parser.parse_args()
    if args.chat is not None and (args.postgressaver or args.chat < 1):
        parser.error("--chat N (N >= 1) does not go with --postgressaver")
    if args.together < 1 or (args.together > 1 and args.postgressaver):
        parser.error("--together N (N >= 1) does not go with --postgressaver")
    report(
        asyncio.run(measure(args.runs, args.native, args.postgressaver, args.chat, args.together)), args.top
    )


if __name__ == "__main__":
    main()
