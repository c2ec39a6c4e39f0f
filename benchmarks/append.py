"""Event store append cost against the physical floor, side by side in one run.

    python -m benchmarks.append --steps 2000 --rounds 5

Contenders, alternated round by round on one embedded PostgreSQL (same connection settings):
- floor:        one INSERT per step into a table shaped like duragraph.events (same columns and
                indexes), autocommit: one round trip and one commit per step;
- append (sql): the append_events function called directly: head update + event + outbox row;
- append:       EventStore.append() as application code calls it (validation, encoding, pool).
Reported: median microseconds per step and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg

from duragraph_lab.domain import NewEvent
from duragraph_lab.runtime.postgres import EmbeddedPostgres
from duragraph_lab.store import PostgresEventStore, migrate, open_pool


async def run(steps: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="dg-append-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "postgres")
        url = pg.start().url
        try:
            migrate(url)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE TABLE floor (LIKE duragraph.events INCLUDING ALL)")
            pool = await open_pool(url, min_size=1, max_size=1)
            store = PostgresEventStore(pool)
            data = json.dumps({"node": "n", "update": {"i": 1}})
            results: dict[str, list[float]] = {"floor": [], "append (sql)": [], "append": []}

            async def floor() -> None:
                async with pool.connection() as conn:
                    for i in range(steps):
                        await conn.execute(
                            "INSERT INTO floor (stream_id, version, event_id, type, data) "
                            "VALUES (%s, %s, %s, %s, %s::jsonb)",
                            (f"run:{uuid.uuid4()}", i, uuid.uuid4(), "benchmark_step", data),
                        )

            async def append_sql() -> None:
                sid = f"run:{uuid.uuid4()}"
                async with pool.connection() as conn:
                    for i in range(steps):
                        payload = json.dumps(
                            [
                                {
                                    "event_id": str(uuid.uuid4()),
                                    "type": "benchmark_step",
                                    "data": json.loads(data),
                                }
                            ]
                        )
                        await conn.execute(
                            "SELECT seq FROM duragraph.append_events(%s, 'run', %s, %s::jsonb)",
                            (sid, i, payload),
                        )

            async def append() -> None:
                sid = f"run:{uuid.uuid4()}"
                for i in range(steps):
                    await store.append(
                        sid, i, [NewEvent("benchmark_step", {"node": "n", "update": {"i": 1}})]
                    )

            contenders: dict[str, Callable[[], Awaitable[None]]] = {
                "floor": floor,
                "append (sql)": append_sql,
                "append": append,
            }
            for _ in range(rounds):
                for name, fn in contenders.items():
                    begin = time.perf_counter()
                    await fn()
                    results[name].append((time.perf_counter() - begin) / steps * 1e6)
            await pool.close()
        finally:
            pg.stop()
    return {name: statistics.median(values) for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    medians = asyncio.run(run(args.steps, args.rounds))
    floor = medians["floor"]
    print(f"{args.steps} steps x {args.rounds} rounds, contenders alternated")
    print("| contender | µs/step (median) | ratio to floor |")
    print("|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.0f} | {value / floor:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(medians, indent=2))


if __name__ == "__main__":
    main()
