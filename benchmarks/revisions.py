# ruff: noqa: RUF001 - the report is prose with en dashes
"""Two revisions of DuraGraph Lab side by side: the same scenarios, alternated run by run.

    python -m benchmarks.revisions --before 2902308 --rounds 3 --only per_step --only throughput --only sse

Checks the ``--before`` revision out into a temporary git worktree and runs ``python -m benchmarks
--only ... --json`` alternately in it and in this checkout (before, after, before, after, ...), each
run a process of its own with that tree first on ``PYTHONPATH`` (its CLI and servers included), so
that load on the machine falls on both alike. Prints the medians of DuraGraph's own figures and the
ratio after/before; ``--json`` keeps every run. A refactoring is "no regression" when the ratios
stay within the spread of the runs of one revision.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# figure name -> (where it is in a run's JSON, True when higher is better)
FIGURES: dict[str, tuple[Callable[[dict[str, Any]], float], bool]] = {
    "per_step duragraph µs/step": (lambda s: s["per_step"]["us_per_step"]["duragraph"], False),
    "per_step engine alone µs/step": (
        lambda s: s["per_step"]["us_per_step"]["duragraph_engine"],
        False,
    ),
    "per_step floor µs/step": (lambda s: s["per_step"]["us_per_step"]["floor"], False),
    "throughput steps/s": (lambda s: s["throughput"]["steps_per_second"]["duragraph"], True),
    "sse steady p50 ms": (lambda s: s["sse"]["steady_100_per_s"]["p50_ms"], False),
    "sse steady p99 ms": (lambda s: s["sse"]["steady_100_per_s"]["p99_ms"], False),
    "sse burst p50 ms": (lambda s: s["sse"]["burst_fanout100"]["p50_ms"], False),
    "sse burst p99 ms": (lambda s: s["sse"]["burst_fanout100"]["p99_ms"], False),
    # Issue 17: LangGraph graphs on DuraGraph's LangGraph engine, and the ratios to PostgresSaver.
    "lg per_step duragraph µs/step": (
        lambda s: s["langgraph_engine"]["per_step"]["us_per_step"]["duragraph"],
        False,
    ),
    "lg per_step PostgresSaver µs/step": (
        lambda s: s["langgraph_engine"]["per_step"]["us_per_step"]["langgraph"],
        False,
    ),
    "lg per_step PostgresSaver/ours": (lambda s: s["langgraph_engine"]["per_step"]["ratio_median"], True),
    "lg throughput duragraph steps/s": (
        lambda s: s["langgraph_engine"]["throughput"]["steps_per_second"]["duragraph"],
        True,
    ),
    "lg throughput PostgresSaver steps/s": (
        lambda s: s["langgraph_engine"]["throughput"]["steps_per_second"]["langgraph"],
        True,
    ),
    "lg throughput ours/PostgresSaver": (lambda s: s["langgraph_engine"]["throughput"]["ratio_median"], True),
    "lg storage ours/PostgresSaver": (lambda s: s["langgraph_engine"]["storage"]["ratio_rows"], False),
}


def _run(tree: Path, only: list[str], smoke: bool, out: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    args = [sys.executable, "-m", "benchmarks", "--no-docs", "--json", str(out)]
    args += [a for name in only for a in ("--only", name)]
    if smoke:
        args.append("--smoke")
    subprocess.run(args, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    result: dict[str, Any] = json.loads(out.read_text())
    if result.get("errors"):
        raise SystemExit(f"{tree}: benchmark errors: {result['errors']}")
    return result


def _figures(runs: list[dict[str, Any]]) -> dict[str, list[float]]:
    table: dict[str, list[float]] = {}
    for run in runs:
        for name, (get, _) in FIGURES.items():
            try:
                value = float(get(run["scenarios"]))
            except KeyError:
                continue  # a scenario that was not asked for
            table.setdefault(name, []).append(value)
    return table


def report(before: list[dict[str, Any]], after: list[dict[str, Any]], rev: str) -> str:
    b, a = _figures(before), _figures(after)
    lines = [
        f"| figure (median of {len(after)}) | before ({rev}) | after | after/before | spread before | spread after |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in FIGURES:
        if name not in b or name not in a:
            continue
        mb, ma = statistics.median(b[name]), statistics.median(a[name])
        f = ",.2f" if max(b[name] + a[name]) < 10 else ",.1f"  # ratios: two decimals
        lines.append(
            f"| {name} | {mb:{f}} | {ma:{f}} | {ma / mb:.2f} | "
            f"{min(b[name]):{f}}–{max(b[name]):{f}} | {min(a[name]):{f}}–{max(a[name]):{f}} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.revisions", description=__doc__)
    parser.add_argument("--before", required=True, help="the git revision to compare against")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each revision")
    parser.add_argument("--only", action="append", default=[], help="a scenario (repeatable)")
    parser.add_argument("--smoke", action="store_true", help="small sizes (checks the wiring)")
    parser.add_argument("--json", type=Path, help="write every run here")
    opts = parser.parse_args()
    only = opts.only or ["per_step", "throughput", "sse"]
    with tempfile.TemporaryDirectory(prefix="dg-revisions-") as tmp:
        tree = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), opts.before],
            check=True,
            capture_output=True,
        )
        try:
            before: list[dict[str, Any]] = []
            after: list[dict[str, Any]] = []
            for i in range(opts.rounds):
                for label, target, runs in (("before", tree, before), ("after", ROOT, after)):
                    print(f"round {i + 1}/{opts.rounds}: {label}", file=sys.stderr, flush=True)
                    runs.append(_run(target, only, opts.smoke, Path(tmp) / f"{label}{i}.json"))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                check=False,
                capture_output=True,
            )
    if opts.json:
        opts.json.write_text(json.dumps({"before": before, "after": after}, indent=1))
    print(report(before, after, opts.before))


if __name__ == "__main__":
    main()
