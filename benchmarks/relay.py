"""The outbox relay on its own: how fast it empties a backlog, and how far behind it follows writers.

    python -m benchmarks.relay --events 20000 --rounds 5

On one embedded PostgreSQL and nats-server, in this process (as in an API server):
- drain:  ``--events`` events committed beforehand (100 run streams), then a relay starts; the time
          until JetStream acknowledged the last of them -> events per second published;
- follow: ``--writers`` concurrent writers append one event at a time for ``--seconds``, the relay
          woken after each commit as in the server; per event, commit (``recorded_at``) -> the
          relay's JetStream copy seen by a core-NATS subscriber -> p50 / p99 milliseconds, and
          the appends per second the writers made meanwhile.
Each round uses its own subject prefix (its own JetStream stream, deleted afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from duragraph_lab.bus import OutboxRelay, Subjects, connect_nats, ensure_stream
from duragraph_lab.domain import NewEvent
from duragraph_lab.runtime.nats import EmbeddedNats
from duragraph_lab.runtime.postgres import EmbeddedPostgres
from duragraph_lab.store import PostgresEventStore, migrate, open_pool

_FILL = """
SELECT count(*) FROM generate_series(1, %s) s,
LATERAL duragraph.append_events(
    'run:' || gen_random_uuid(), 'run', 0,
    (SELECT jsonb_agg(jsonb_build_object('event_id', gen_random_uuid(), 'type', 'benchmark_step',
                                         'data', jsonb_build_object('i', i, 's', s)))
       FROM generate_series(1, %s) i))
"""


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def _drain(url: str, nurl: str, events: int) -> float:
    subjects = Subjects(f"bench{uuid.uuid4().hex[:8]}")
    nc = await connect_nats(nurl, name="bench-relay")
    pool = await open_pool(url, min_size=1, max_size=4)
    await ensure_stream(nc, subjects)
    streams = 100
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM duragraph.outbox")
        conn.execute(_FILL, (streams, events // streams))
    published = 0
    done = asyncio.Event()

    def observe(batch: Any) -> None:  # told of every batch JetStream acknowledged
        nonlocal published
        published += len(batch)
        if published >= events:
            done.set()

    relay = OutboxRelay(pool, nc, subjects, observer=observe)
    begin = time.perf_counter()
    await relay.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=300)
        elapsed = time.perf_counter() - begin
    finally:
        await relay.stop()
        await nc.jetstream().delete_stream(subjects.stream_name)
        await nc.close()
        await pool.close()
    return events / elapsed


async def _follow(url: str, nurl: str, writers: int, seconds: float) -> tuple[list[float], float]:
    subjects = Subjects(f"bench{uuid.uuid4().hex[:8]}")
    nc = await connect_nats(nurl, name="bench-relay")
    sub_nc = await connect_nats(nurl, name="bench-subscriber")
    pool = await open_pool(url, min_size=writers, max_size=writers + 4)
    await ensure_stream(nc, subjects)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM duragraph.outbox")
    store = PostgresEventStore(pool)
    relay = OutboxRelay(pool, nc, subjects)
    store.add_after_commit(relay.wake)
    latencies: list[float] = []
    appended = 0
    writing = True
    all_seen = asyncio.Event()

    async def on_msg(msg: Any) -> None:
        recorded = datetime.fromisoformat(json.loads(msg.data)["recorded_at"]).timestamp()
        latencies.append((time.time() - recorded) * 1e3)
        if not writing and len(latencies) >= appended:
            all_seen.set()

    sub = await sub_nc.subscribe(subjects.all_events, cb=on_msg)
    await sub_nc.flush()
    await relay.start()
    stop_at = time.monotonic() + seconds

    async def write() -> None:
        nonlocal appended
        sid = f"run:{uuid.uuid4()}"
        version = 0
        while time.monotonic() < stop_at:
            await store.append(sid, version, [NewEvent("benchmark_step", {"v": version})])
            version += 1
            appended += 1

    try:
        await asyncio.gather(*(write() for _ in range(writers)))
        writing = False
        if len(latencies) < appended:
            await asyncio.wait_for(all_seen.wait(), timeout=60)
    finally:
        await relay.stop()
        await sub.unsubscribe()
        await nc.jetstream().delete_stream(subjects.stream_name)
        await nc.close()
        await sub_nc.close()
        await pool.close()
    return latencies, appended / seconds


async def run(events: int, rounds: int, writers: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dg-relay-") as tmp:
        pg, nats = EmbeddedPostgres(Path(tmp) / "postgres"), EmbeddedNats(Path(tmp) / "nats")
        url, nurl = pg.start().url, nats.start().url
        try:
            migrate(url)
            drain: list[float] = []
            p50: list[float] = []
            p99: list[float] = []
            rate: list[float] = []
            await _drain(url, nurl, min(events, 2000))  # warm-up
            for _ in range(rounds):
                drain.append(await _drain(url, nurl, events))
                lat, appends = await _follow(url, nurl, writers, seconds)
                p50.append(_pct(lat, 50))
                p99.append(_pct(lat, 99))
                rate.append(appends)
        finally:
            nats.stop()
            pg.stop()
    return {
        "events": events,
        "rounds": rounds,
        "drain_events_per_s": statistics.median(drain),
        "follow_p50_ms": statistics.median(p50),
        "follow_p99_ms": statistics.median(p99),
        "follow_appends_per_s": statistics.median(rate),
        "samples": {"drain": drain, "p50": p50, "p99": p99, "appends_per_s": rate},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args.events, args.rounds, args.writers, args.seconds))
    print(
        f"drain {result['drain_events_per_s']:.0f} events/s; follow ({args.writers} writers, "
        f"{result['follow_appends_per_s']:.0f} appends/s): commit -> JetStream copy "
        f"p50 {result['follow_p50_ms']:.2f} ms, p99 {result['follow_p99_ms']:.2f} ms "
        f"(median of {args.rounds} rounds)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
