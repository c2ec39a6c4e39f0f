"""Where the bytes of a LangGraph run go (issue 17's storage target), without the rest of the
``langgraph_engine`` scenario: the storage run alone, then a breakdown by table, by event type and
by payload key.

    python -m benchmarks.lg_storage              # 200 messages, as the full suite
    python -m benchmarks.lg_storage --messages 50 --json out.json

Bytes are ``pg_column_size`` of the rows (what the suite compares: compressed as stored, without
indexes); a payload key's bytes are ``pg_column_size`` of its jsonb value, uncompressed, so they
say where the bytes come from more than what they cost on disk.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
from typing import Any

import psycopg

from benchmarks.suite import FULL, Bench


def payload_keys(url: str, run_id: str) -> dict[str, dict[str, int]]:
    """Event type -> payload key -> bytes of that key's values over the run's events."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT e.type, k.key, sum(pg_column_size(k.value)) FROM duragraph.events e, "
            "jsonb_each(CASE WHEN jsonb_typeof(e.data) = 'object' THEN e.data ELSE '{}' END) k "
            "WHERE e.stream_id = %s GROUP BY 1, 2 ORDER BY 1, 3 DESC",
            (f"run:{run_id}",),
        ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for kind, key, size in rows:
        out.setdefault(str(kind), {})[str(key)] = int(size)
    return out


def samples(url: str, run_id: str) -> dict[str, Any]:
    """One event of each type from the middle of the run: what a payload holds."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (type) type, data, pg_column_size(e.*) FROM duragraph.events e "
            "WHERE stream_id = %s ORDER BY type, abs(version - 400)",
            (f"run:{run_id}",),
        ).fetchall()
    return {str(t): {"row_bytes": int(n), "data": d} for t, d, n in rows}


async def main(messages: int) -> dict[str, Any]:
    bench = Bench(
        dataclasses.replace(FULL, conversation=messages),
        ["langgraph"],
        log=lambda m: print(m, file=sys.stderr),
    )
    try:
        await bench.start()
        out = await bench.langgraph_storage()
        out["payload_keys"] = payload_keys(bench.url, out["run_id"])
        out["samples"] = samples(bench.url, out["run_id"])
        out["load"] = list(os.getloadavg())
        return out
    finally:
        await bench.stop()


def report(out: dict[str, Any]) -> str:
    ours, lg = out["duragraph"], out["langgraph"]
    lines = [
        f"{out['messages']} messages: ours {ours['rows']:,} B, PostgresSaver {lg['rows']:,} B, ratio {out['ratio_rows']:.3f}"
    ]
    lines += [f"  ours  {k:<36} {v:>10,}" for k, v in ours["rows_by_table"].items()]
    lines += [f"  lg    {k:<36} {v:>10,}" for k, v in lg["rows_by_table"].items()]
    lines.append("  events by type (count, bytes):")
    lines += [f"    {k:<30} {c:>5} {b:>10,}" for k, (c, b) in ours["events_by_type"].items()]
    lines.append("  payload keys (uncompressed jsonb bytes):")
    for kind, keys in out["payload_keys"].items():
        lines.append(f"    {kind}: " + ", ".join(f"{k} {v:,}" for k, v in keys.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=FULL.conversation)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    result = asyncio.run(main(args.messages))
    print(report(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
