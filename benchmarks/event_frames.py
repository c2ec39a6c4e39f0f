"""A big event log as a pandas DataFrame: ``duragraph_lab.events_frame`` against a real server.

    python -m benchmarks.event_frames --events 1000000 --rounds 3

One embedded PostgreSQL and NATS, and ``duragraph-lab serve`` on them (a process of its own, as
deployed). The log is written straight into ``duragraph.events`` by PostgreSQL itself
(``INSERT ... SELECT generate_series``, read-model trigger off: a million events in seconds, no
outbox rows) as one
run of a thread, alternating ``step_planned`` and ``node_completed`` events shaped like the
engine's (node, task, step, attempt, duration_ms, an update with a message: ~200 bytes of JSON).

Measured, median of ``--rounds``, from the call to the DataFrame in hand (request, server-side
COPY -> Arrow, transfer, frame): ``events_frame(run_id)`` with the payload decoded to dicts
(the default), as JSON text and left out; the same for the thread. For comparison, the JSON pages
of ``GET /runs/{run_id}/events`` (1,000 events a request, as the client read them before) over
the first ``--json-events`` events, extrapolated to the whole log. And two floors, from the
benchmark process straight to PostgreSQL: one COPY of just seq and the payload text, and one COPY
of the query the server runs (what PostgreSQL alone costs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from duragraph_lab.client import DuraGraphClient, events_to_frame
from duragraph_lab.notebook.frames import events_frame
from duragraph_lab.runtime.nats import EmbeddedNats
from duragraph_lab.runtime.postgres import EmbeddedPostgres
from duragraph_lab.store import eventlog, migrate

ROOT = Path(__file__).resolve().parents[1]
READY = re.compile(r"DuraGraph Lab ready in [0-9.]+s: (\S+)")

_FILL = """
INSERT INTO duragraph.events (stream_id, version, event_id, type, data, recorded_at)
SELECT %(stream)s, g, gen_random_uuid(),
       CASE WHEN g %% 2 = 1 THEN 'step_planned' ELSE 'node_completed' END,
       CASE WHEN g %% 2 = 1 THEN jsonb_build_object(
                'step', g / 2, 'tasks', jsonb_build_array(jsonb_build_object(
                    'id', md5(g::text), 'node', 'node_' || (g / 2) %% 20, 'path', '[]'::jsonb)))
            ELSE jsonb_build_object(
                'node', 'node_' || (g / 2 - 1) %% 20, 'task', md5((g - 1)::text), 'step', g / 2 - 1,
                'attempt', 1, 'duration_ms', (g %% 977) / 7.0,
                'update', jsonb_build_object('messages', jsonb_build_array(jsonb_build_object(
                    'type', 'ai', 'content', 'step ' || g || ' done', 'id', md5(g::text)))))
       END,
       %(start)s::timestamptz + g * interval '1 millisecond'
FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS g
"""


def _cli() -> list[str]:
    exe = shutil.which("duragraph-lab", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "duragraph_lab.runtime.cli"]


def fill(url: str, events: int) -> tuple[str, str]:
    """A thread with one run whose log holds ``events`` events; ``(run_id, thread_id)``."""
    run_id, thread_id = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO duragraph.threads (thread_id, status, created_at, updated_at) "
            "VALUES (%s, 'idle', now(), now())",
            (thread_id,),
        )
        conn.execute(
            "INSERT INTO duragraph.runs (run_id, thread_id, graph_id, status, created_at, updated_at) "
            "VALUES (%s, %s, 'benchmark', 'success', now(), now())",
            (run_id, thread_id),
        )
        stream = f"run:{run_id}"
        conn.execute(
            "INSERT INTO duragraph.streams (stream_id, kind, version) VALUES (%s, 'run', %s)",
            (stream, events),
        )
        # The read-model trigger would update the runs row once per event: not what is measured.
        conn.execute("ALTER TABLE duragraph.events DISABLE TRIGGER events_project")
        for low in range(1, events + 1, 200_000):
            high = min(low + 199_999, events)
            conn.execute(_FILL, {"stream": stream, "start": "2026-01-01T00:00:00Z", "low": low, "high": high})
        conn.execute("ALTER TABLE duragraph.events ENABLE TRIGGER events_project")
        conn.execute("ANALYZE duragraph.events")
    return run_id, thread_id


_FLOORS = {
    # Reading the log out of PostgreSQL at all: seq and payload text, one COPY, nothing parsed.
    "floor: COPY seq, data": "COPY (SELECT seq, data::text FROM duragraph.events WHERE stream_id = %s "
    "ORDER BY version) TO STDOUT (FORMAT csv)",
    # The query the server runs for the Arrow stream (columns read from the payload), drained.
    "COPY of the server's query": f"COPY ({eventlog.SELECT} WHERE stream_id = %s ORDER BY version) "
    "TO STDOUT (FORMAT csv)",
}


def _drain(url: str, sql: str, run_id: str) -> int:
    size = 0
    with psycopg.connect(url) as conn, conn.cursor() as cur, cur.copy(sql, (f"run:{run_id}",)) as copy:
        for chunk in copy:
            size += len(chunk)
    return size


def _median(fn: Any, rounds: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(rounds):
        begin = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - begin)
    return statistics.median(times), out


def measure(events: int, rounds: int, json_events: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dg-frames-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "postgres")
        nats = EmbeddedNats(Path(tmp) / "nats")
        url, nurl = pg.start().url, nats.start().url
        proc = None
        try:
            migrate(url)
            begin = time.perf_counter()
            run_id, thread_id = fill(url, events)
            fill_s = time.perf_counter() - begin
            floors = {
                name: _median(lambda sql=sql: _drain(url, sql, run_id), rounds)[0]
                for name, sql in _FLOORS.items()
            }
            log_path = Path(tmp) / "serve.log"
            env = {
                k: v for k, v in os.environ.items() if not k.startswith("DURAGRAPH_") and k != "JUPYTER_TOKEN"
            }
            env |= {"DURAGRAPH_DATABASE_URL": url, "DURAGRAPH_NATS_URL": nurl}
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    [
                        *_cli(),
                        "serve",
                        "--no-browser",
                        "--port",
                        "0",  # Jupyter binds a free port itself: read back from the ready line
                        "--data-dir",
                        str(Path(tmp) / "data"),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=ROOT,
                )
            deadline = time.monotonic() + 120
            server_url = ""
            while not server_url:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"serve did not start:\n{log_path.read_text(errors='replace')}")
                found = READY.search(log_path.read_text(errors="replace"))
                server_url = found.group(1) if found else ""
                time.sleep(0.05)
            token = server_url.partition("token=")[2]
            port = urlsplit(server_url).port
            with DuraGraphClient(f"http://127.0.0.1:{port}/", token, timeout=600) as client:
                seconds: dict[str, float] = {}
                events_frame(run_id, client=client, after=max(events - 100, 0))  # imports, connection
                for payload in ("dict", "json", "none"):
                    seconds[f"run, payload={payload}"], frame = _median(
                        lambda p=payload: events_frame(run_id, client=client, payload=p), rounds
                    )
                    assert len(frame) == events, (len(frame), events)
                    assert frame["seq"].is_monotonic_increasing
                seconds["thread, payload=dict"], frame = _median(
                    lambda: events_frame(thread_id, client=client), rounds
                )
                assert len(frame) == events
                dtypes = {c: str(t) for c, t in frame.dtypes.items()}
                memory_mb = frame.memory_usage(deep=False).sum() / 2**20
                size = len(
                    client._http.get(f"runs/{run_id}/events.arrow").content  # the wire size
                )

                paged = min(json_events, events)
                begin = time.perf_counter()
                got, after = [], 0
                while len(got) < paged:
                    page = client.runs.events(run_id, after=after, limit=min(1000, paged - len(got)))
                    got += page.events
                    after = page.events[-1].seq
                json_frame = events_to_frame(got)
                json_s = time.perf_counter() - begin
                assert len(json_frame) == paged
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
            nats.stop()
            pg.stop()
    return {
        "events": events,
        "rounds": rounds,
        "fill_seconds": round(fill_s, 2),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "floor_seconds": {k: round(v, 3) for k, v in floors.items()},
        "events_per_second": {k: round(events / v) for k, v in seconds.items()},
        "arrow_bytes": size,
        "frame_memory_mb_shallow": round(float(memory_mb), 1),
        "dtypes": dtypes,
        "json_pages": {
            "events": paged,
            "seconds": round(json_s, 3),
            "events_per_second": round(paged / json_s),
            "extrapolated_seconds": round(json_s * events / paged, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json-events", type=int, default=20_000, help="events read as JSON pages")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = measure(args.events, args.rounds, args.json_events)
    print(f"{args.events:,} events (filled in {report['fill_seconds']} s), median of {args.rounds}")
    print("| events_frame | seconds | events/s |")
    print("|---|---|---|")
    for name, value in report["seconds"].items():
        print(f"| {name} | {value:.2f} | {report['events_per_second'][name]:,} |")
    pages = report["json_pages"]
    print(
        f"| JSON pages of 1,000 ({pages['events']:,} events read) | {pages['seconds']:.2f} "
        f"(whole log: ~{pages['extrapolated_seconds']} s) | {pages['events_per_second']:,} |"
    )
    for name, value in report["floor_seconds"].items():
        print(f"| {name} (in the benchmark process) | {value:.2f} | {round(args.events / value):,} |")
    print(f"Arrow stream: {report['arrow_bytes'] / 2**20:.1f} MiB")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
