"""`duragraph-lab dev` start-up: time to ready and memory, cold (first start) and warm.

    python -m benchmarks.startup --runs 5            # prints a markdown table
    python -m benchmarks.startup --runs 1 --json out.json

"Ready" is the moment `dev` prints its ready line (services up, migrations applied, Jupyter
listening, relay connected) — measured from spawning the command, so it includes interpreter
start-up and imports. It is confirmed by an authenticated GET /health answering 200.
Memory is the resident set (RSS) of the `dev` process and of its PostgreSQL and NATS children,
read once ready and idle.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil

READY = re.compile(r"DuraGraph Lab ready in [0-9.]+s: (\S+)")


@dataclass
class Sample:
    kind: str
    ready_s: float
    healthy_s: float
    rss_dev_mb: float
    rss_postgres_mb: float
    rss_nats_mb: float


def _cli() -> list[str]:
    exe = shutil.which("duragraph-lab", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "duragraph_lab.runtime.cli"]


def measure(data_dir: Path, kind: str) -> Sample:
    log_path = data_dir.parent / f"startup-{kind}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DURAGRAPH_") and k != "JUPYTER_TOKEN"}
    begin = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*_cli(), "dev", "--no-browser", "--port", "0", "--data-dir", str(data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        url = ""
        while not url:
            if proc.poll() is not None:
                raise RuntimeError(log_path.read_text())
            match = READY.search(log_path.read_text(errors="replace"))
            if match:
                url = match.group(1)
            else:
                time.sleep(0.005)
        ready = time.perf_counter() - begin
        token = url.partition("token=")[2]
        port = urlsplit(url).port  # port 0 above: Jupyter bound a free one itself, no race for it
        request = urllib.request.Request(f"http://127.0.0.1:{port}/duragraph/api/v1/health")
        request.add_header("Authorization", f"token {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        healthy = time.perf_counter() - begin
        time.sleep(1.0)  # let it settle before reading memory
        root = psutil.Process(proc.pid)
        rss = {"dev": root.memory_info().rss, "postgres": 0, "nats": 0}
        for child in root.children(recursive=True):
            name = child.name()
            key = "postgres" if name.startswith("postgres") else "nats" if "nats" in name else None
            if key:
                rss[key] += child.memory_info().rss
        mb = 1024 * 1024
        return Sample(kind, ready, healthy, rss["dev"] / mb, rss["postgres"] / mb, rss["nats"] / mb)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the samples and medians here")
    args = parser.parse_args()
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="dg-startup-") as tmp:
        for i in range(args.runs):
            data_dir = Path(tmp) / f"run{i}" / "data"
            data_dir.parent.mkdir(parents=True)
            samples.append(measure(data_dir, "cold"))  # first start: initdb + JetStream store
            samples.append(measure(data_dir, "warm"))  # every later start
    rows = []
    for kind in ("cold", "warm"):
        mine = [s for s in samples if s.kind == kind]
        rows.append(
            {
                "start": kind,
                "runs": len(mine),
                "ready_s": statistics.median(s.ready_s for s in mine),
                "healthy_s": statistics.median(s.healthy_s for s in mine),
                "rss_dev_mb": statistics.median(s.rss_dev_mb for s in mine),
                "rss_postgres_mb": statistics.median(s.rss_postgres_mb for s in mine),
                "rss_nats_mb": statistics.median(s.rss_nats_mb for s in mine),
            }
        )
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        "| start | runs | ready (s, median) | /health 200 (s) | RSS dev (MB) | RSS PostgreSQL (MB) | RSS NATS (MB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['start']} | {r['runs']} | {r['ready_s']:.2f} | {r['healthy_s']:.2f} | "
            f"{r['rss_dev_mb']:.0f} | {r['rss_postgres_mb']:.0f} | {r['rss_nats_mb']:.0f} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"medians": rows, "samples": [asdict(s) for s in samples]}, indent=2))


if __name__ == "__main__":
    main()
