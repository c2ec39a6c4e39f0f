"""Run ``duragraph-lab dev``/``serve`` as a real process, the way users do."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

_LOGS = count(1)
READY = re.compile(r"DuraGraph Lab (ready|DEGRADED.*) in ([0-9.]+)s: (\S+)")


def cli() -> list[str]:
    exe = shutil.which("duragraph-lab", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "duragraph_lab.runtime.cli"]


def http(url: str, token: str | None = None, timeout: float = 10.0) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            return err.code, json.loads(body)
        except ValueError:
            return err.code, body.decode(errors="replace")


def processes_using(path: Path) -> list[psutil.Process]:
    """Live processes whose command line mentions ``path`` (our PostgreSQL, NATS, dev)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if str(path) in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


class DevServer:
    def __init__(
        self,
        data_dir: Path,
        *,
        command: str = "dev",
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        # Port 0: Jupyter binds a free port itself and prints it. Picking one here and passing it
        # on raced with every socket opened meanwhile (PostgreSQL, NATS and their clients draw from
        # the same ephemeral range): CI once lost that race.
        self.port = port or 0
        self.log_path = data_dir.parent / f"{command}-{port or 'any'}-{next(_LOGS)}.log"
        argv = [*cli(), command, "--no-browser", "--port", str(self.port), "--data-dir", str(data_dir)]
        self.argv = argv + (extra or [])
        self.env = {**os.environ, **(env or {})}
        for name in ("DURAGRAPH_DATABASE_URL", "DURAGRAPH_NATS_URL", "JUPYTER_TOKEN"):
            if env is None or name not in env:
                self.env.pop(name, None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.token = ""
        self.ready_in = 0.0

    def start(self, timeout: float = 90.0) -> DevServer:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = READY.search(self.output())
            if match:
                self.ready_in = float(match.group(2))
                self.url = match.group(3)
                self.port = int(urlsplit(self.url).port or 0)
                # A token given in JUPYTER_TOKEN is masked in the printed URL ("token=...").
                self.token = self.env.get("JUPYTER_TOKEN") or self.url.partition("token=")[2]
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.argv} exited with {self.proc.returncode}:\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"not ready within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def api(self, route: str, *, token: str | None = None, base: str = "/") -> tuple[int, Any]:
        return http(f"http://127.0.0.1:{self.port}{base}duragraph/api/v1/{route}", token)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for leftover in processes_using(self.data_dir):
            leftover.kill()


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    for name in ("DURAGRAPH_DATABASE_URL", "DURAGRAPH_NATS_URL"):
        if env is None or name not in env:
            full_env.pop(name, None)
    return subprocess.run(
        [*cli(), *args], capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )


def wait_until_gone(path: Path, timeout: float = 15.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    left = processes_using(path)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = processes_using(path)
    return left


def owner_database_url(data_dir: Path) -> str:
    """The embedded PostgreSQL's owner (superuser) over TCP: what a test needs for DDL, which the
    runtime role that `dev` hands out may not do."""
    state = json.loads((data_dir / "postgres" / "server.json").read_text())
    return f"postgresql://duragraph:{state['password']}@127.0.0.1:{state['port']}/duragraph"
