"""A conversation run one turn at a time (each turn a run on the same thread, as a chat UI does):
how a run's time and its events' bytes grow with the thread.

    python -m benchmarks.turns                       # LangGraph engine, 300 turns of 2 messages
    python -m benchmarks.turns --native --turns 200  # the native engine

The set-up of ``benchmarks.cpu_per_step``: one embedded PostgreSQL and NATS, ``duragraph-lab
worker`` serving the conversation graph (``lg_chatloop`` / ``chatloop``: a node appends one
message a step until there are ``limit``), the control plane in this process. Turn *t* is a run
on the thread with ``limit = 2 t``: two steps, two new messages. Printed for every 50 turns: the
median time of a run (create to success, polled every 5 ms) and the bytes (``pg_column_size``)
of the last run's events, by type.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import psycopg

from benchmarks.served import serving


def _event_bytes(url: str, run_id: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT type, sum(pg_column_size(e.data)) FROM duragraph.events e "
            "WHERE stream_id = %s GROUP BY type ORDER BY 2 DESC",
            (f"run:{run_id}",),
        ).fetchall()
    return {str(t): int(b) for t, b in rows}


async def measure(turns: int, native: bool, every: int = 50) -> list[dict[str, object]]:
    ref_, graph = ("benchmarks.graphs:chatloop", "chatloop") if native else (
        "benchmarks.lg_graphs:lg_chatloop", "lg_chatloop")  # fmt: skip
    out: list[dict[str, object]] = []
    async with serving("dg-turns-", ref_, graph) as served:
        thread: str | None = None
        times: list[float] = []
        for turn in range(1, turns + 1):
            began = time.perf_counter()
            ref = await served.control.runs.create_run(
                graph, {"messages": [], "limit": 2 * turn}, thread_id=thread, config={"recursion_limit": 10}
            )
            thread = ref.thread_id
            state = await served.control.runs.wait(ref.run_id, timeout=120, poll=0.005)
            if state.status is None or state.status.value != "success":
                raise SystemExit(f"turn {turn}: {state.status} ({state.error})")
            times.append(time.perf_counter() - began)
            if turn % every == 0 or turn == turns:
                out.append(
                    {
                        "turns": turn,
                        "messages": 2 * turn,
                        "run_ms_median": statistics.median(times[-every:]) * 1000,
                        "last_run_event_bytes": _event_bytes(served.sv.url, ref.run_id),
                    }
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--native", action="store_true", help="the native engine's conversation graph")
    args = parser.parse_args()
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    rows = asyncio.run(measure(args.turns, args.native))
    print("| turns | messages | run, median ms (last 50) | the last run's events, bytes by type |")
    print("|---:|---:|---:|---|")
    for r in rows:
        events = r["last_run_event_bytes"]
        assert isinstance(events, dict)
        cells = ", ".join(f"{t} {b:,}" for t, b in events.items())
        print(f"| {r['turns']} | {r['messages']} | {r['run_ms_median']:.1f} | {cells} |")


if __name__ == "__main__":
    main()
