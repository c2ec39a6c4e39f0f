# ruff: noqa: RUF001 - the report is prose with multiplication signs
"""The side-by-side benchmark suite (issue #7): DuraGraph Lab vs LangGraph + PostgresSaver vs DBOS vs
the physical floor, on one embedded PostgreSQL, contenders alternated round by round.

    python -m benchmarks                      # full sizes; writes docs/benchmarks.md's generated section
    python -m benchmarks --smoke --json out.json --no-docs
    python -m benchmarks --only per_step --only storage --json out.json   # docs left alone

Scenarios: per_step (with the floor), throughput, sse, replay, storage, langgraph_engine (issue 17:
the same LangGraph graphs on DuraGraph's LangGraph engine and on LangGraph + PostgresSaver; on the
shared services),
frames (benchmarks.event_frames: its own PostgreSQL and server) and startup (benchmarks.startup:
`duragraph-lab dev` from nothing). Contenders whose packages are missing are skipped with the
reason recorded (``pip install 'duragraph-lab[bench]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psutil

from benchmarks import contenders as cont
from benchmarks.suite import FULL, SMOKE, Bench, Sizes

ROOT = Path(__file__).resolve().parents[1]
SHARED = ("per_step", "throughput", "sse", "replay", "storage", "langgraph_engine")
SCENARIOS = (*SHARED, "frames", "startup")
BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"


def machine() -> dict[str, Any]:
    import importlib.metadata as md

    vers = {"python": platform.python_version()}
    for package in ("duragraph-lab", "psycopg", "nats-py", "jupyter_server", "pandas", "pyarrow"):
        with contextlib.suppress(md.PackageNotFoundError):
            vers[package] = md.version(package)
    return {
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_before": list(os.getloadavg()),
        "versions": vers | cont.versions(),
    }


async def shared(sizes: Sizes, only: set[str], wanted: list[str], out: dict[str, Any]) -> None:
    bench = Bench(sizes, wanted, log=lambda m: print(m, file=sys.stderr))
    try:
        await bench.start()
        out["postgres"] = {"version": bench.pg_version, **bench.pg_settings}
        out["skipped"] = bench.skipped
        for name in SHARED:
            if name not in only:
                continue
            print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)
            begin = time.perf_counter()
            try:
                out["scenarios"][name] = await getattr(bench, name)()
            except Exception:
                out["errors"][name] = traceback.format_exc()
                print(out["errors"][name], file=sys.stderr)
            out["durations_s"][name] = round(time.perf_counter() - begin, 1)
    finally:
        await bench.stop()


def frames(sizes: Sizes) -> dict[str, Any]:
    from benchmarks import event_frames

    return event_frames.measure(sizes.frames_events, sizes.frames_rounds, sizes.frames_json_events)  # type: ignore[no-any-return]


def startup(sizes: Sizes) -> dict[str, Any]:
    import statistics

    from benchmarks import startup as st

    samples = []
    with tempfile.TemporaryDirectory(prefix="dg-startup-") as tmp:
        for i in range(sizes.startup_runs):
            data_dir = Path(tmp) / f"run{i}" / "data"
            data_dir.parent.mkdir(parents=True)
            samples.append(st.measure(data_dir, "cold"))
            samples.append(st.measure(data_dir, "warm"))
    out: dict[str, Any] = {"runs": sizes.startup_runs}
    for kind in ("cold", "warm"):
        mine = [s for s in samples if s.kind == kind]
        out[kind] = {
            k: statistics.median(getattr(s, k) for s in mine)
            for k in ("ready_s", "healthy_s", "rss_dev_mb", "rss_postgres_mb", "rss_nats_mb")
        }
    out["samples"] = [asdict(s) for s in samples]
    return out


def run(smoke: bool, only: set[str], wanted: list[str]) -> dict[str, Any]:
    sizes = SMOKE if smoke else FULL
    out: dict[str, Any] = {
        "mode": "smoke" if smoke else "full",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "sizes": asdict(sizes),
        "contenders": wanted,
        "skipped": {},
        "scenarios": {},
        "errors": {},
        "durations_s": {},
    }
    steps: dict[str, Callable[[Sizes], dict[str, Any]]] = {
        name: fn for name, fn in (("frames", frames), ("startup", startup)) if name in only
    }

    def own_servers() -> None:
        for name, fn in steps.items():
            print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)
            begin = time.perf_counter()
            try:
                out["scenarios"][name] = fn(sizes)
            except Exception:
                out["errors"][name] = traceback.format_exc()
                print(out["errors"][name], file=sys.stderr)
            out["durations_s"][name] = round(time.perf_counter() - begin, 1)

    # A smoke run checks that everything works, it measures nothing: the scenarios that start
    # servers of their own overlap the others there, to keep it short. A full run is sequential.
    with ThreadPoolExecutor(1) as pool:
        overlapped = pool.submit(own_servers) if smoke else None
        if only & set(SHARED):
            asyncio.run(shared(sizes, only, wanted, out))
        if overlapped is not None:
            overlapped.result()
        else:
            own_servers()
    out["machine"]["load_after"] = list(os.getloadavg())
    out["targets"] = targets(out["scenarios"])
    return out


# -- targets (DESIGN.md §7) and the markdown section ----------------------------------------------


def _t(name: str, value: float | None, limit: str, met: bool | None) -> dict[str, Any]:
    return {"target": name, "value": value, "limit": limit, "met": met}


def targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    if "per_step" in s:
        us = s["per_step"]["us_per_step"]
        ours = us["duragraph"]
        out.append(_t("per-step ≤ 1.5 × floor", ours / us["floor"], "≤ 1.5", ours / us["floor"] <= 1.5))
        if "langgraph" in us:
            r = us["langgraph"] / ours
            out.append(_t("per-step ≥ 2 × faster than LangGraph", r, "≥ 2", r >= 2))
        if "dbos" in us:
            r = us["dbos"] / ours
            out.append(_t("per-step ≥ 3 × faster than DBOS", r, "≥ 3", r >= 3))
    if "throughput" in s:
        v = s["throughput"]["steps_per_second"]["duragraph"]
        out.append(_t("throughput ≥ 3,000 steps/s", v, "≥ 3000", v >= 3000))
    if "sse" in s:
        st = s["sse"]["steady_100_per_s"]
        out.append(_t("SSE p50 ≤ 5 ms (steady)", st["p50_ms"], "≤ 5", st["p50_ms"] <= 5))
        out.append(_t("SSE p99 ≤ 25 ms (steady)", st["p99_ms"], "≤ 25", st["p99_ms"] <= 25))
        gaps = s["sse"]["reconnect"]["gaps"]
        out.append(_t("SSE zero gaps across reconnects", gaps, "= 0", gaps == 0))
    if "replay" in s:
        v = s["replay"]["state_at_ms"]["median"]
        out.append(_t("state at an event of a 10k-event run ≤ 50 ms", v, "≤ 50", v <= 50))
    if "frames" in s:
        v = s["frames"]["seconds"].get("run, payload=dict")
        out.append(_t("1M events → DataFrame ≤ 3 s", v, "≤ 3", v is not None and v <= 3))
    if "storage" in s and "ratio_rows" in s["storage"]:
        v = s["storage"]["ratio_rows"]
        out.append(_t("storage ≤ 1/10 of LangGraph's", v, "≤ 0.1", v <= 0.1))
    lge = s.get("langgraph_engine", {})
    if "per_step" in lge:
        v = lge["per_step"]["ratio_median"]
        out.append(_t("LangGraph graph per step: no slower than PostgresSaver", v, "≥ 1", v >= 1))
        v = lge["throughput"]["ratio_median"]
        out.append(_t("LangGraph graph throughput ≥ 2 × PostgresSaver", v, "≥ 2", v >= 2))
        v = lge["storage"]["ratio_rows"]
        out.append(_t("LangGraph graph storage ≤ ½ of PostgresSaver's", v, "≤ 0.5", v <= 0.5))
    if "startup" in s:
        v = s["startup"]["cold"]["ready_s"]
        out.append(_t("`dev` ready ≤ 5 s", v, "≤ 5", v <= 5))
    return out


NAMES = {
    "floor": "floor: one autocommit INSERT + COMMIT per step",
    "duragraph": "DuraGraph Lab (worker process), create → run_completed committed",
    "duragraph_engine": "DuraGraph Lab, run_started → run_completed (recorded by PostgreSQL)",
    "langgraph": 'LangGraph + AsyncPostgresSaver, `durability="sync"`',
    "dbos": "DBOS, one `@DBOS.step` per node",
}


def _f(v: float, digits: int = 0) -> str:
    return f"{v:,.{digits}f}"


def markdown(r: dict[str, Any]) -> str:
    m, s = r["machine"], r["scenarios"]
    v = m["versions"]
    lines = [
        f"Generated by `python -m benchmarks{' --smoke' if r['mode'] == 'smoke' else ''}` on {r['date']} "
        f"({r['mode']} sizes). Machine: {m['platform']}, {m['cores']} cores, {m['ram_gb']} GB RAM, "
        f"load average {m['load_before'][0]:.1f} before / {m['load_after'][0]:.1f} after (shared machine: "
        "read the ratios, not the absolute figures).",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items())
        + (f", PostgreSQL {r['postgres']['version']} (fsync={r['postgres']['fsync']}, "
           f"synchronous_commit={r['postgres']['synchronous_commit']})" if "postgres" in r else "")
        + ".",
    ]  # fmt: skip
    for name, why in r["skipped"].items():
        lines += ["", f"Skipped {name}: {why}."]
    for name, err in r["errors"].items():
        lines += ["", f"**{name} failed**: `{err.strip().splitlines()[-1]}`"]
    if "per_step" in s:
        p = s["per_step"]
        us, ours = p["us_per_step"], p["us_per_step"]["duragraph"]
        lines += [
            "",
            f"### Per-step cost: {p['steps_per_run']}-node linear graph, median of {p['rounds']} rounds",
            "",
            "| contender | µs/step | × floor | × DuraGraph Lab |",
            "|---|---|---|---|",
        ]
        for k, val in us.items():
            lines.append(f"| {NAMES.get(k, k)} | {_f(val)} | {val / us['floor']:.2f} | {val / ours:.2f} |")
    if "throughput" in s:
        t = s["throughput"]
        sps, ours = t["steps_per_second"], t["steps_per_second"]["duragraph"]
        lines += [
            "",
            f"### Throughput: {t['runs']} concurrent runs × {t['steps_per_run']} steps",
            "",
            "| contender | steps/s (median) | × DuraGraph Lab |",
            "|---|---|---|",
        ]
        for k, val in sps.items():
            lines.append(f"| {NAMES.get(k, k).split(',')[0]} | {_f(val)} | {val / ours:.2f} |")
    if "sse" in s:
        e = s["sse"]
        st, b, rc = e["steady_100_per_s"], e["burst_fanout100"], e["reconnect"]
        lines += [
            "",
            "### SSE latency, commit → client frame (`duragraph-lab serve`, `stream_mode=updates`)",
            "",
            "| load | frames | p50 (ms) | p99 (ms) | max (ms) |",
            "|---|---|---|---|---|",
            f"| steady, 100 events/s | {st['measured']} | {st['p50_ms']:.1f} | {st['p99_ms']:.1f} | {st['max_ms']:.1f} |",
            f"| burst: 100 tasks in one super-step | {b['measured']} | {b['p50_ms']:.1f} | {b['p99_ms']:.1f} | {b['max_ms']:.1f} |",
            "",
            f"Reconnects: {rc['reconnects']} reconnections (`Last-Event-ID`) over {rc['events']} events: "
            f"**{rc['gaps']} gaps**, {rc['duplicates']} duplicates.",
        ]  # fmt: skip
    if "replay" in s:
        rp = s["replay"]
        lines += [
            "",
            f"### Replay: state at a random event of a {rp['events']:,}-event run ({rp['samples']} picks)",
            "",
            "| read (`RunHistory.state(run_id, at_seq=…)`, alternated pick by pick) | median (ms) | p95 | max |",
            "|---|---|---|---|",
            *(
                f"| {label} | {rp[key]['median']:.1f} | {rp[key]['p95']:.1f} | {rp[key]['max']:.1f} |"
                for label, key in (
                    (f"nearest snapshot (one every {rp['snapshot_every']:,} events) + the events after it", "state_at_ms"),
                    ("first read of the run (its snapshots deleted: fold from the start, store them)", "state_at_cold_ms"),
                    ("no snapshots: the run's log up to the event, folded", "state_at_no_snapshots_ms"),
                )
            ),
            *(
                [f"| the API: `GET /threads/{{id}}/state/{{checkpoint_id}}` (the picked event as the checkpoint), "
                 f"through `duragraph-lab serve` | {rp['api_checkpoint_ms']['median']:.1f} | "
                 f"{rp['api_checkpoint_ms']['p95']:.1f} | {rp['api_checkpoint_ms']['max']:.1f} |"]
                if "api_checkpoint_ms" in rp else []
            ),
            "",
            f"The fold alone (events in memory, from the first): median {rp['fold_only_ms']['median']:.1f} ms. "
            f"Snapshots of the run: {rp['snapshots']['count']} rows, {rp['snapshots']['bytes']:,} bytes.",
        ]  # fmt: skip
    if "frames" in s:
        fr = s["frames"]
        lines += [
            "",
            f"### {fr['events']:,} events → DataFrame (`benchmarks.event_frames`, median of {fr['rounds']})",
            "",
        ]
        lines += ["| read | seconds |", "|---|---|"]
        lines += [f"| `events_frame`, {k} | {val:.2f} |" for k, val in fr["seconds"].items()]
        lines += [f"| {k} | {val:.2f} |" for k, val in fr["floor_seconds"].items()]
    if "storage" in s:
        sg = s["storage"]
        lines += [
            "",
            f"### Storage: a {sg['messages']}-message conversation (each step appends a message)",
            "",
            "| contender | bytes of its rows | on-disk growth (pg_total_relation_size) |",
            "|---|---|---|",
            f"| DuraGraph Lab: events + read models ({', '.join(sg['duragraph']['rows_by_table'])}) | "
            f"{_f(sg['duragraph']['rows'])} | {_f(sg['duragraph']['on_disk_delta'])} |",
        ]
        if "langgraph" in sg:
            lines.append(
                f"| LangGraph: checkpoints, checkpoint_blobs, checkpoint_writes | {_f(sg['langgraph']['rows'])} "
                f"| {_f(sg['langgraph']['on_disk_delta'])} |"
            )
            lines += [
                "",
                f"Ratio ours / LangGraph: rows {sg['ratio_rows']:.3f}, on disk {sg['ratio_on_disk']:.3f}.",
            ]
    lines += langgraph_engine_markdown(s.get("langgraph_engine"))
    if "startup" in s:
        su = s["startup"]
        lines += [
            "",
            f"### `duragraph-lab dev` start-up (median of {su['runs']})",
            "",
            "| start | ready (s) | /health 200 (s) | RSS dev (MB) | RSS PostgreSQL (MB) |",
            "|---|---|---|---|---|",
        ]
        for kind in ("cold", "warm"):
            k = su[kind]
            lines.append(
                f"| {kind} | {k['ready_s']:.2f} | {k['healthy_s']:.2f} | {k['rss_dev_mb']:.0f} | {k['rss_postgres_mb']:.0f} |"
            )
    lines += ["", "### Targets (DESIGN.md §7)", "", "| target | measured | met |", "|---|---|---|"]
    for t in r["targets"]:
        val = t["value"]
        shown = f"{val:.2f}" if isinstance(val, float) else str(val)
        lines.append(f"| {t['target']} | {shown} | {'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def langgraph_engine_markdown(lge: dict[str, Any] | None) -> list[str]:
    if not lge:
        return []
    if "skipped" in lge:
        return ["", f"### LangGraph graphs: skipped ({lge['skipped']})"]
    p, t, sg = lge["per_step"], lge["throughput"], lge["storage"]
    us = p["us_per_step"]
    rr = ", ".join(f"{x:.2f}" for x in p["round_ratio_langgraph_over_ours"])
    tr = ", ".join(f"{x:.2f}" for x in t["round_ratio_ours_over_langgraph"])
    return [
        "",
        "### LangGraph graphs: DuraGraph's LangGraph engine vs PostgresSaver",
        "",
        f"Per step: a {p['steps_per_run']}-node linear LangGraph `StateGraph`, median of {p['rounds']} "
        "alternated rounds.",
        "",
        "| engine | µs/step |",
        "|---|---|",
        f"| DuraGraph Lab, LangGraph engine (worker process), create → run_completed committed | {_f(us['duragraph'])} |",
        f"| DuraGraph Lab, LangGraph engine, run_started → run_completed | {_f(us['duragraph_engine'])} |",
        f"| {NAMES['langgraph']}, in-process `ainvoke` | {_f(us['langgraph'])} |",
        "",
        f"PostgresSaver / DuraGraph per round: {rr} (median **{p['ratio_median']:.2f}**).",
        "",
        f"Throughput: {t['runs']} concurrent runs × {t['steps_per_run']} steps, {t['rounds']} alternated rounds: "
        f"DuraGraph {_f(t['steps_per_second']['duragraph'])} steps/s, PostgresSaver "
        f"{_f(t['steps_per_second']['langgraph'])} steps/s; DuraGraph / PostgresSaver per round: {tr} "
        f"(median **{t['ratio_median']:.2f}**).",
        "",
        f"Storage: a {sg['messages']}-message conversation, bytes of the run's rows: DuraGraph "
        f"{_f(sg['duragraph']['rows'])} ("
        + ", ".join(f"{k} {_f(v)}" for k, v in sg["duragraph"]["rows_by_table"].items())
        + f"), PostgresSaver {_f(sg['langgraph']['rows'])} (checkpoints, checkpoint_blobs, checkpoint_writes): "
        f"ratio **{sg['ratio_rows']:.3f}**. The run's events by type (count, bytes): "
        + ", ".join(f"{k} {c} / {_f(b)}" for k, (c, b) in sg["duragraph"].get("events_by_type", {}).items())
        + ".",
    ]  # fmt: skip


def write_docs(path: Path, section: str) -> None:
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no {BEGIN} … {END} markers")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{BEGIN}\n{section}{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (the test suite's run)")
    parser.add_argument(
        "--only", action="append", choices=SCENARIOS, help="run only this scenario (repeatable)"
    )
    parser.add_argument(
        "--contender", action="append", choices=sorted(cont.PACKAGES), help="other engines (default: all)"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--docs", type=Path, default=ROOT / "docs" / "benchmarks.md", help="markdown file with the markers"
    )
    parser.add_argument("--no-docs", action="store_true", help="do not write the markdown section")
    args = parser.parse_args(argv)
    only = set(args.only or SCENARIOS)
    result = run(args.smoke, only, args.contender or sorted(cont.PACKAGES))
    section = markdown(result)
    print(section)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    if not args.no_docs and not args.smoke and only == set(SCENARIOS):  # the whole table, or nothing
        write_docs(args.docs, section)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
