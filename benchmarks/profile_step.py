"""Where the worker's time goes on the per-step path: py-spy attached to ``duragraph-lab worker``.

    python -m benchmarks.profile_step --runs 30            # top functions, self and inclusive
    python -m benchmarks.profile_step --runs 30 --raw out.txt   # also keep the collapsed stacks
    python -m benchmarks.profile_step --runs 30 --langgraph      # the LangGraph engine (issue 17)
    python -m benchmarks.profile_step --runs 20 --langgraph --idle --raw s.txt   # waits sampled too

The set-up of ``benchmarks.per_step``: one embedded PostgreSQL and NATS, the worker in its own
process serving ``linear100``, the outbox relay in this process. py-spy (``pip install py-spy``)
samples the worker (CPU only: idle waits on the network are left out) while ``--runs`` runs of
100 trivial nodes execute one after the other; the report gives each function's share of the
samples, by self time (the frame on top) and inclusive time (anywhere on the stack).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.per_step import control_plane, embedded_services, wait_registered

ROOT = Path(__file__).resolve().parents[1]


def _cli() -> list[str]:
    exe = shutil.which("duragraph-lab", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "duragraph_lab.runtime.cli"]


async def profile(
    runs: int, raw: Path, rate: int, native: bool = False, langgraph: bool = False, idle: bool = False
) -> float:
    # The same 100-node linear graph, as a native graph or as a LangGraph graph (LangGraph engine).
    ref_, graph = ("benchmarks.lg_graphs:lg_linear100", "lg_linear100") if langgraph else (
        "benchmarks.graphs:linear100", "linear100")  # fmt: skip
    with embedded_services("dg-profile-") as sv:
        url, nurl, env = sv.url, sv.nurl, sv.env
        worker = spy = None
        try:
            worker = subprocess.Popen(  # noqa: ASYNC220 - before measuring
                [*_cli(), "worker", ref_, "--concurrency", "1"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            pool, nc, relay, control = await control_plane(url, nurl)
            await wait_registered(url, graph)
            ref = await control.runs.create_run(graph, {"n": 0}, config={"recursion_limit": 101})
            await control.runs.wait(ref.run_id, timeout=120)  # warm-up, not sampled
            spy = subprocess.Popen(  # noqa: ASYNC220
                ["py-spy", "record", "-p", str(worker.pid), "-r", str(rate), "--format", "raw", "-o", str(raw),
                 *(["--native"] if native else []), *(["--idle"] if idle else [])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            await asyncio.sleep(1.0)  # py-spy attaches
            begin = time.perf_counter()
            for _ in range(runs):
                ref = await control.runs.create_run(graph, {"n": 0}, config={"recursion_limit": 101})
                state = await control.runs.wait(ref.run_id, timeout=120, poll=0.01)
                assert state.values == {"n": 100}, state.error
            elapsed = time.perf_counter() - begin
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
            await relay.stop()
            await nc.close()
            await pool.close()
        finally:
            if spy is not None and spy.poll() is None:
                spy.kill()
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:  # a worker spinning in its lease loop ignores SIGTERM
                    worker.kill()
                    worker.wait(timeout=30)
    return elapsed


def _name(frame: str) -> str:
    """``func (path/to/module.py:123)`` -> ``module.py:func``."""
    func, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    marker = "duragraph_lab/"
    short = path[path.index(marker) :] if marker in path else Path(path).name
    return f"{short}:{func}"


def report(raw: Path, top: int) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [_name(f) for f in stack.split(";") if f.strip()]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    return total, own.most_common(top), incl.most_common(top * 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    parser.add_argument("--native", action="store_true", help="also sample C frames (py-spy --native)")
    parser.add_argument(
        "--idle", action="store_true",
        help="also sample while the worker waits (py-spy --idle): where its wall time goes",
    )  # fmt: skip
    parser.add_argument(
        "--langgraph", action="store_true", help="profile the LangGraph engine on the same graph (LangGraph)"
    )
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    with tempfile.TemporaryDirectory() as tmp:
        raw = args.raw or Path(tmp) / "stacks.txt"
        elapsed = asyncio.run(profile(args.runs, raw, args.rate, args.native, args.langgraph, args.idle))
        total, own, incl = report(raw, args.top)
    steps = args.runs * 100
    print(f"{args.runs} runs x 100 steps in {elapsed:.1f} s ({elapsed / steps * 1e6:.0f} µs/step wall)")
    what = "samples (CPU and waits)" if args.idle else "CPU samples"
    print(f"{total} {what} of the worker at {args.rate}/s: {total / args.rate / steps * 1e6:.0f} µs/step")
    print("\n| self | % | function |\n|---|---|---|")
    for name, n in own:
        print(f"| {n} | {100 * n / total:.1f} | `{name}` |")
    print("\n| inclusive | % | µs/step | function |\n|---|---|---|---|")
    for name, n in incl:
        print(f"| {n} | {100 * n / total:.1f} | {n / args.rate / steps * 1e6:.0f} | `{name}` |")


if __name__ == "__main__":
    main()
