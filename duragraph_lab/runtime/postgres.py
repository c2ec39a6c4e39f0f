"""Embedded PostgreSQL, from the binaries that the ``pgserver`` wheel ships.

We drive ``initdb``/``postgres`` ourselves instead of ``pgserver.get_server`` because we need
what it does not offer: password authentication, a TCP port for other tools next to the Unix
socket, a child process tied to our lifetime, and recovery from a previous start that was
killed (stale ``postmaster.pid`` or an orphaned server still holding the data directory).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from duragraph_lab.runtime.errors import RuntimeStartError
from duragraph_lab.runtime.files import read_json_object, write_private
from duragraph_lab.runtime.processes import as_user, find_process, free_port, spawn, stop_process, tail

log = logging.getLogger(__name__)

DB_NAME = "duragraph"
DB_USER = "duragraph"
# PostgreSQL refuses to run as root; when we are root the server runs as this system user.
SYSTEM_USER = "duragraph"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


def postgres_bin_dir() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeStartError("the pgserver package is not installed (pip install pgserver)")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        raise RuntimeStartError(f"no PostgreSQL binaries found in {bin_dir}")
    return bin_dir


def _unprivileged_user() -> str | None:
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            raise RuntimeStartError(
                "running as root: PostgreSQL needs an unprivileged user, and useradd is missing"
            ) from None
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _give_to(user: str | None, *paths: Path) -> None:
    """Let the unprivileged server user own its directories and traverse their parents."""
    if user is None:
        return
    import pwd

    entry = pwd.getpwnam(user)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)
        for parent in path.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                log.info(
                    "made %s traversable (o+x, not readable) so that user %s can reach %s", parent, user, path
                )
                parent.chmod(mode | 0o001)  # search (x) only: the user can pass, not list


# PostgreSQL's complaint when a killed server's backends are still attached to its memory.
_SHM_IN_USE = "pre-existing shared memory block"
_PORT_TAKEN = "could not create any TCP/IP sockets"
_PORT_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class PostgresEndpoint:
    url: str  # Unix socket: what local processes should use (fastest)
    tcp_url: str  # 127.0.0.1:port, for tools that want host/port
    port: int
    socket_dir: str


class EmbeddedPostgres:
    """One PostgreSQL server whose files live under ``root`` (``<data-dir>/postgres``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pgdata = root / "data"
        self.log_path = root / "postgres.log"
        self.state_path = root / "server.json"
        self._proc: subprocess.Popen[bytes] | None = None
        self._temp_socket_dir: Path | None = None
        self.endpoint: PostgresEndpoint | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> PostgresEndpoint:
        bin_dir = postgres_bin_dir()
        user = _unprivileged_user()
        self.root.mkdir(parents=True, exist_ok=True)
        state = self._load_state()
        if not (self.pgdata / "PG_VERSION").exists():
            state["password"] = secrets.token_hex(24)
            self._save_state(state)  # before initdb: a cluster whose password is lost is useless
            self._initdb(bin_dir, user, str(state["password"]))
        if "password" not in state:
            raise RuntimeStartError(f"{self.state_path} is missing: cannot log in to {self.pgdata}")
        self._recover_stale()
        socket_dir = self._socket_dir()
        socket_dir.mkdir(parents=True, exist_ok=True)
        _give_to(user, self.pgdata, socket_dir)
        previous = state.get("port")
        port = free_port(previous if isinstance(previous, int) else None)
        state["port"] = port
        self._save_state(state)

        deadline = time.monotonic() + timeout
        port_clashes = 0
        while True:
            argv = [
                str(bin_dir / "postgres"),
                "-D", str(self.pgdata),
                "-p", str(port),
                "-h", "127.0.0.1",
                "-k", str(socket_dir),
                "-c", "max_connections=200",
                "-c", "logging_collector=off",
            ]  # fmt: skip
            # SIGINT = PostgreSQL's "fast shutdown": clean, with a checkpoint, no client waits.
            self._proc = spawn(argv, log_path=self.log_path, death_signal=signal.SIGINT, user=user)
            try:
                self._wait_ready(max(deadline - time.monotonic(), 1.0))
                break
            except RuntimeStartError as err:
                if _PORT_TAKEN in str(err) and port_clashes < _PORT_ATTEMPTS:
                    # The port was free when picked; another process bound it before PostgreSQL
                    # did (any socket, even an outgoing connection, draws from the same range).
                    port_clashes += 1
                    log.info("port %d was taken before PostgreSQL could bind it; trying another", port)
                    port = free_port()
                    state["port"] = port
                    self._save_state(state)
                    continue
                # Right after a crash (kill -9 of its parent), the old server's backends take a
                # moment to notice and exit; until then they hold its shared memory and
                # PostgreSQL refuses to start. Wait for them rather than fail.
                if _SHM_IN_USE not in str(err) or time.monotonic() > deadline:
                    raise
                log.info("the previous PostgreSQL's processes are still exiting; starting again")
                time.sleep(0.5)
        password = str(state["password"])
        self.endpoint = PostgresEndpoint(
            url=f"postgresql://{DB_USER}:{password}@/{DB_NAME}?host={quote(str(socket_dir))}&port={port}",
            tcp_url=f"postgresql://{DB_USER}:{password}@127.0.0.1:{port}/{DB_NAME}",
            port=port,
            socket_dir=str(socket_dir),
        )
        self._ensure_database(password, socket_dir, port)
        return self.endpoint

    def stop(self, timeout: float = 15.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        stop_process(proc, signals=[(signal.SIGINT, timeout), (signal.SIGQUIT, 5.0)])
        self.endpoint = None
        if self._temp_socket_dir is not None:
            shutil.rmtree(self._temp_socket_dir, ignore_errors=True)
            self._temp_socket_dir = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    # -- steps -----------------------------------------------------------------------------
    def _initdb(self, bin_dir: Path, user: str | None, password: str) -> None:
        # initdb into a scratch directory and rename it into place, so a start killed halfway
        # through leaves no half-initialised cluster behind.
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)
        scratch = Path(tempfile.mkdtemp(prefix="data.init-", dir=self.root))
        pwfile = scratch.with_suffix(".pw")
        try:
            pwfile.write_text(password)
            pwfile.chmod(0o600)
            _give_to(user, scratch, pwfile)
            argv = [
                str(bin_dir / "initdb"),
                "-D", str(scratch),
                "-U", DB_USER,
                "--pwfile", str(pwfile),
                "--auth", "scram-sha-256",
                "--encoding", "UTF8",
                "--locale", "C",
            ]  # fmt: skip
            result = subprocess.run(
                argv, capture_output=True, text=True, timeout=120, check=False, **as_user(user)
            )
            if result.returncode != 0:
                last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["?"]
                raise RuntimeStartError(f"initdb failed in {self.root}: {last[0]}")
            scratch.rename(self.pgdata)
        finally:
            pwfile.unlink(missing_ok=True)
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)

    def _recover_stale(self) -> None:
        """Deal with what a killed previous start left: an orphaned server or a stale pid file."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        orphan = find_process(pid, name_contains="postgres", arg_contains=str(self.pgdata))
        if orphan is not None:
            # We hold the data-dir lock, so no live DuraGraph owns this server: it is an orphan.
            log.warning("stopping orphaned PostgreSQL (pid %s) left by a previous start", pid)
            stop_process(orphan, signals=[(signal.SIGINT, 15.0), (signal.SIGQUIT, 5.0)])
        # Postgres would refuse to start if the pid was reused by an unrelated process.
        pidfile.unlink(missing_ok=True)
        # The socket's lock file, likewise: a killed server's pid can linger a moment as a zombie,
        # which Postgres takes for a live server on that port.
        for lock in (self.root / "run").glob(".s.PGSQL.*.lock"):
            try:
                owner = int(lock.read_text().splitlines()[0])
            except (OSError, ValueError, IndexError):
                owner = 0
            if owner <= 0 or find_process(owner, name_contains="postgres", arg_contains="") is None:
                lock.unlink(missing_ok=True)
                Path(str(lock)[: -len(".lock")]).unlink(missing_ok=True)

    def _socket_dir(self) -> Path:
        candidate = self.root / "run"
        if len(str(candidate / ".s.PGSQL.65535")) <= _SOCKET_PATH_MAX:
            return candidate
        # The data dir's path is too long for a Unix socket. A fresh private directory (mkdtemp:
        # random name, mode 0700) — never a predictable /tmp name another user could create first
        # and put a fake server behind.
        self._temp_socket_dir = Path(tempfile.mkdtemp(prefix="duragraph-pg-"))
        return self._temp_socket_dir

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        pidfile = self.pgdata / "postmaster.pid"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeStartError(
                    f"PostgreSQL exited during start-up (code {self._proc.returncode}): {tail(self.log_path)}"
                )
            with contextlib.suppress(OSError):
                lines = pidfile.read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return
            time.sleep(0.01)
        self.stop()
        raise RuntimeStartError(
            f"PostgreSQL did not become ready within {timeout:.0f}s: {tail(self.log_path)}"
        )

    def _ensure_database(self, password: str, socket_dir: Path, port: int) -> None:
        with psycopg.connect(
            host=str(socket_dir),
            port=port,
            user=DB_USER,
            password=password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {DB_NAME}")

    def _load_state(self) -> dict[str, object]:
        return read_json_object(self.state_path)

    def _save_state(self, state: dict[str, object]) -> None:
        write_private(self.state_path, json.dumps(state))
