# ruff: noqa: RUF001 - the report is prose with en dashes
"""A LangGraph step's append alone: what the step's read models cost, measured without the rest
of a run around it (issue 17: the per-step gap).

    python -m benchmarks.lg_append --rounds 6
    python -m benchmarks.lg_append --rounds 2 --runs 1 --json out.json   # smoke

Runs ``benchmarks.lg_graphs:lg_linear100`` once on the LangGraph engine (embedded PostgreSQL and
NATS, a worker process), takes the steps of its log (each step's ``node_completed`` and
``step_planned``, the pair the worker commits together), stops the worker, and appends those
steps again, with fresh event ids on a fresh run and thread each time, on one autocommit
connection, timing each statement from this process (the round trip and the commit's WAL flush
included, as the worker waits for them). Alternated round by round:

- ``as built``: the worker's statement, ``duragraph.append_run_events`` with the step's read-model
  rows (the run's row, its span, ``lg_checkpoints``, ``lg_writes``, ``lg_blobs``) computed by
  :func:`duragraph_lab.store.step_rows.step_rows` and written by the statement itself (since
  migration 0019);
- ``by the trigger``: the same statement without them: the events' trigger projects the read
  models from the events' JSON (as every step did before migration 0019);
- ``no read models``: the same statement with triggers off for the session
  (``session_replication_role = replica``): the events, their outbox rows and the stream's head
  only;
- ``PostgresSaver-shaped``: one ``INSERT ... ON CONFLICT`` of the step's checkpoint into a table
  shaped as LangGraph's ``PostgresSaver`` ``checkpoints`` table: what that saver's awaited write
  of a step is (its writes go in the background).

Reported: the median of each round's median (µs a step) and the spread of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.served import serving
from duragraph_lab.store.step_rows import step_rows

GRAPH = "lg_linear100"
STEPS = 100
CONTENDERS = ("as built", "by the trigger", "no read models", "PostgresSaver-shaped")

_APPEND = "SELECT seq, version, recorded_at FROM duragraph.append_run_events(%s, %s, %s::jsonb, NULL, NULL, %s::jsonb)"
_SAVER_TABLE = """CREATE TABLE IF NOT EXISTS public.saver_checkpoints (
    thread_id text NOT NULL, checkpoint_ns text NOT NULL DEFAULT '', checkpoint_id text NOT NULL,
    parent_checkpoint_id text, type text, checkpoint jsonb NOT NULL, metadata jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id))"""
_SAVER_PUT = (
    "INSERT INTO public.saver_checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, "
    "checkpoint, metadata) VALUES (%s, '', %s, %s, %s::jsonb, %s::jsonb) "
    "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET checkpoint = excluded.checkpoint, "
    "metadata = excluded.metadata"
)

#: (type, data JSON text, meta JSON text) of one event of the recorded run
Row = tuple[str, str, str]


def _steps(rows: list[Row]) -> tuple[list[Row], list[tuple[Row, Row]]]:
    """The events before the first step, and the steps: (node_completed, step_planned) pairs."""
    pairs: list[tuple[Row, Row]] = []
    first = None
    i = 0
    while i + 1 < len(rows):
        if rows[i][0] == "node_completed" and rows[i + 1][0] == "step_planned":
            first = i if first is None else first
            pairs.append((rows[i], rows[i + 1]))
            i += 2
        else:
            i += 1
    if first is None:
        raise SystemExit("the recorded run has no step to replay")
    return rows[:first], pairs


class Replay:
    """The recorded run's steps, appended again under fresh ids (a run and thread of their own)."""

    def __init__(self, rows: list[Row], run_id: str, thread_id: str) -> None:
        self.head, self.pairs = _steps(rows)
        self.run_id, self.thread_id = run_id, thread_id

    def _event(self, row: Row, run: str, thread: str) -> dict[str, Any]:
        data = row[1].replace(self.run_id, run).replace(self.thread_id, thread)
        return {
            "event_id": str(uuid.uuid4()),
            "type": row[0],
            "data": json.loads(data),
            "meta": json.loads(row[2].replace(self.run_id, run)),
        }

    async def appends(self, conn: psycopg.AsyncConnection[Any], *, rows: bool = True) -> list[float]:
        """One replay of every step; µs each step's statement took. ``rows``: with the step's
        read-model rows, as the worker appends (else the trigger projects them)."""
        run, thread = str(uuid.uuid4()), str(uuid.uuid4())
        head = [self._event(r, run, thread) for r in self.head]
        await conn.execute(
            "SELECT * FROM duragraph.append_events(%s, 'run', 0, %s::jsonb)", (f"run:{run}", json.dumps(head))
        )
        version, took = len(head), []
        for pair in self.pairs:
            events = [self._event(r, run, thread) for r in pair]
            payload = json.dumps(events)
            began = time.perf_counter()
            # Computed in the timed part: the worker computes them for each step.
            step = step_rows(run, events) if rows else None
            cur = await conn.execute(_APPEND, (run, version, payload, step))
            await cur.fetchall()
            took.append((time.perf_counter() - began) * 1e6)
            version += 2
        return took

    async def saver_puts(self, conn: psycopg.AsyncConnection[Any]) -> list[float]:
        """Each step's checkpoint written as PostgresSaver writes it (one row); µs each."""
        thread, took, parent = str(uuid.uuid4()), [], None
        for _, planned in self.pairs:
            record = json.loads(planned[1])["langgraph_checkpoint"]
            checkpoint_id = str(uuid.uuid4())
            params = (
                thread,
                checkpoint_id,
                parent,
                json.dumps(record["checkpoint"]),
                json.dumps(record.get("metadata", {})),
            )
            began = time.perf_counter()
            await conn.execute(_SAVER_PUT, params)
            took.append((time.perf_counter() - began) * 1e6)
            parent = checkpoint_id
        return took


async def measure(rounds: int, runs: int) -> dict[str, list[float]]:
    """Per contender, the median µs a step of each round (``runs`` replays of the run a round)."""
    async with serving("dg-lgappend-", f"benchmarks.lg_graphs:{GRAPH}", GRAPH) as served:
        control = served.control
        ref = await control.runs.create_run(GRAPH, {"n": 0}, config={"recursion_limit": STEPS + 1})
        state = await control.runs.wait(ref.run_id, timeout=600, poll=0.05)
        if state.values != {"n": STEPS}:
            raise SystemExit(f"the run ended with {state.values!r} ({state.error})")
        served.worker.terminate()
        served.worker.wait(timeout=30)
        url = served.sv.url
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT type, data::text, meta::text FROM duragraph.events WHERE stream_id = %s ORDER BY version",
                (f"run:{ref.run_id}",),
            ).fetchall()
            conn.execute(_SAVER_TABLE)
        replay = Replay([(str(t), str(d), str(m)) for t, d, m in rows], str(ref.run_id), str(ref.thread_id))
        medians: dict[str, list[float]] = {c: [] for c in CONTENDERS}
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for _ in range(runs):  # warm-up: plans cached, pages in memory
                await replay.appends(conn)
                await replay.appends(conn, rows=False)
                await replay.saver_puts(conn)
            for round_ in range(rounds):
                order = CONTENDERS if round_ % 2 == 0 else tuple(reversed(CONTENDERS))
                for who in order:
                    took: list[float] = []
                    for _ in range(runs):
                        if who == "PostgresSaver-shaped":
                            took += await replay.saver_puts(conn)
                            continue
                        role = "replica" if who == "no read models" else "origin"
                        await conn.execute(f"SET session_replication_role = {role}")
                        try:
                            took += await replay.appends(conn, rows=who == "as built")
                        finally:
                            await conn.execute("SET session_replication_role = origin")
                    medians[who].append(statistics.median(took))
        return medians


def report(medians: dict[str, list[float]]) -> dict[str, float]:
    summary = {who: statistics.median(v) for who, v in medians.items()}
    print(
        f"{len(next(iter(medians.values())))} rounds; µs a step, the median of the rounds' medians (spread)\n"
    )
    print("| append of a step | µs | rounds |")
    print("|---|---:|---|")
    for who, v in medians.items():
        print(f"| {who} | {summary[who]:,.0f} | {min(v):,.0f}–{max(v):,.0f} |")
    built, trigger, bare = summary["as built"], summary["by the trigger"], summary["no read models"]
    print(
        f"\nthe step's read models: {built - bare:,.0f} µs ({(built - bare) / built:.0%} of the append); "
        f"by the trigger {trigger - bare:,.0f} µs"
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument(
        "--runs", type=int, default=3, help="replays of the recorded run a round and contender"
    )
    parser.add_argument("--json", type=Path, help="write the rounds' medians here")
    args = parser.parse_args()
    if args.rounds < 1 or args.runs < 1:
        parser.error("--rounds and --runs must be at least 1")
    medians = asyncio.run(measure(args.rounds, args.runs))
    summary = report(medians)
    if args.json:
        args.json.write_text(json.dumps({"median_us": summary, "rounds_us": medians}, indent=2))


if __name__ == "__main__":
    main()
