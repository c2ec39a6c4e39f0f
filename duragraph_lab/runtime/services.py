"""Bring up (or find) PostgreSQL and NATS for a data directory.

Three ways to get the services, per service:
- external: a URL was configured; we check that it answers (and migrate the database);
- attached: a running ``duragraph-lab dev``/``serve`` on the same data dir owns them
  (``runtime.json``);
- embedded: we start them under the data dir and own them until :meth:`Services.stop`.

Owning a data directory requires its lock (an ``flock`` the kernel releases when the owner dies,
however it dies), so two owners can never share one PostgreSQL data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import psycopg

from duragraph_lab._version import __version__
from duragraph_lab.bus.connection import BusUnavailable, connect_nats, redact_nats_url
from duragraph_lab.runtime.config import ENV_DATABASE_URL, ENV_NATS_URL, Settings
from duragraph_lab.runtime.errors import DataDirBusy, DataDirError, ServiceUnreachable
from duragraph_lab.runtime.filelock import try_lock, unlock
from duragraph_lab.runtime.files import write_private
from duragraph_lab.runtime.nats import EmbeddedNats
from duragraph_lab.runtime.postgres import APP_USER, EmbeddedPostgres
from duragraph_lab.runtime.supervisor import Supervised, Supervisor
from duragraph_lab.store.connection import redact
from duragraph_lab.store.roles import grant_runtime_privileges
from duragraph_lab.store.schema import migrate

log = logging.getLogger(__name__)

RUNTIME_FILE = "runtime.json"
LOCK_FILE = "lock"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Endpoints:
    database_url: str
    nats_url: str
    database_tcp_url: str | None = None
    embedded_postgres: bool = False
    embedded_nats: bool = False


@dataclass(slots=True)
class RuntimeInfo:
    """What ``runtime.json`` records about the process that owns a data directory's services."""

    pid: int
    data_dir: str
    endpoints: Endpoints
    version: str = __version__
    started_at: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> RuntimeInfo:
        raw = json.loads(text)
        raw["endpoints"] = Endpoints(**raw["endpoints"])
        return cls(**raw)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as err:
            error.append(err)

    thread = threading.Thread(target=target, name="duragraph-run-sync")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def check_postgres(url: str, timeout: int = 5) -> None:
    try:
        with psycopg.connect(url, connect_timeout=timeout, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ServiceUnreachable(f"cannot connect to PostgreSQL at {redact(url)}: {reason}") from None


async def _check_nats(url: str, timeout: float) -> None:
    try:
        nc = await connect_nats(url, name="duragraph-check", connect_timeout=timeout, reconnect=False)
    except BusUnavailable as err:
        raise ServiceUnreachable(str(err)) from None
    try:
        try:
            await nc.jetstream().account_info()
        except Exception as err:
            raise ServiceUnreachable(f"NATS at {redact_nats_url(url)} has no JetStream: {err}") from None
    finally:
        await nc.close()


def check_nats(url: str, timeout: float = 5.0) -> None:
    run_sync(_check_nats(url, timeout))


def prepare_data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except FileExistsError:
        raise DataDirError(f"data dir {path} exists and is not a directory") from None
    except NotADirectoryError:
        raise DataDirError(f"data dir {path}: a parent of it is a file, not a directory") from None
    except OSError as err:
        raise DataDirError(f"data dir {path} is not writable: {err.strerror or err}") from None


def read_runtime_info(data_dir: Path) -> RuntimeInfo | None:
    """The live owner of ``data_dir``'s services, or ``None`` (nobody, or a stale file)."""
    path = data_dir / RUNTIME_FILE
    try:
        info = RuntimeInfo.from_json(path.read_text())
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not _lock_is_held(data_dir):
        return None  # the owner died (the kernel released its lock): the file is stale
    return info


def _lock_is_held(data_dir: Path) -> bool:
    try:
        fd = os.open(data_dir / LOCK_FILE, os.O_RDWR)
    except OSError:
        return False
    try:
        # A shared lock is enough to tell: it fails only while someone holds the exclusive one.
        if not try_lock(fd, shared=True):
            return True
        unlock(fd)
        return False
    finally:
        os.close(fd)


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self, patience: float = 0.5) -> None:
        f = open(self.path, "a+")  # noqa: SIM115 - held open for the lifetime of the lock
        deadline = time.monotonic() + patience
        while True:
            if try_lock(f.fileno()):
                break
            # Someone probing with read_runtime_info holds a shared lock for microseconds; only
            # an owner holds it for longer than our patience.
            if time.monotonic() < deadline:
                time.sleep(0.02)
                continue
            f.close()
            raise DataDirBusy(
                f"another DuraGraph Lab process{self._owner()} is already using data dir "
                f"{self.path.parent}; stop it or pass a different --data-dir"
            )
        os.set_inheritable(f.fileno(), False)
        self._file = f

    def _owner(self) -> str:
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            return f" (pid {RuntimeInfo.from_json((self.path.parent / RUNTIME_FILE).read_text()).pid})"
        return ""

    def release(self) -> None:
        if self._file is not None:
            unlock(self._file.fileno())
            self._file.close()
            self._file = None


def _missing_urls(settings: Settings) -> str:
    return " and ".join(
        name
        for name, value in ((ENV_DATABASE_URL, settings.database_url), (ENV_NATS_URL, settings.nats_url))
        if not value
    )


def attach(settings: Settings) -> Endpoints:
    """Endpoints for a worker or client: configured URLs, else those of a running dev server."""
    database_url, nats_url = settings.database_url, settings.nats_url
    info = read_runtime_info(settings.data_dir)
    if info is None:
        if database_url and nats_url:
            return Endpoints(database_url=database_url, nats_url=nats_url)
        raise ServiceUnreachable(
            f"no running `duragraph-lab dev` found for data dir {settings.data_dir}; "
            f"start one there, pass --data-dir, or set {_missing_urls(settings)}"
        )
    running = info.endpoints
    database_url = database_url or running.database_url
    nats_url = nats_url or running.nats_url
    same_pg = database_url == running.database_url
    return Endpoints(
        database_url=database_url,
        nats_url=nats_url,
        database_tcp_url=running.database_tcp_url if same_pg else None,
        embedded_postgres=same_pg and running.embedded_postgres,
        embedded_nats=nats_url == running.nats_url and running.embedded_nats,
    )


def update_runtime_extra(data_dir: Path, **extra: Any) -> None:
    """Add facts (e.g. the server URL) to ``runtime.json`` if this process owns it."""
    path = data_dir / RUNTIME_FILE
    try:
        info = RuntimeInfo.from_json(path.read_text())
    except (OSError, ValueError, TypeError, KeyError):
        return
    if info.pid != os.getpid():
        return
    info.extra.update(extra)
    write_private(path, info.to_json())


class Services:
    """PostgreSQL + NATS for one data directory, migrated and ready, until :meth:`stop`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = DataDirLock(settings.data_dir)
        self.postgres: EmbeddedPostgres | None = None
        self.nats: EmbeddedNats | None = None
        self.endpoints: Endpoints | None = None
        self.owner = False
        self.started_in: float | None = None
        self.supervisor: Supervisor | None = None

    def start(
        self,
        *,
        attach_if_running: bool = False,
        own_data_dir: bool = True,
        start_embedded: bool = True,
    ) -> Endpoints:
        """Make both services ready (checked, migrated). On failure nothing is left running.

        ``attach_if_running``: use a running owner's services when there is one.
        ``own_data_dir``: take the data-dir lock and publish ``runtime.json`` even when both
        services are external (the CLI does, so that its Jupyter extension and workers attach).
        ``start_embedded``: if false, a missing URL is an error instead of an embedded server.
        """
        begin = time.monotonic()
        try:
            self.endpoints = self._start(attach_if_running, own_data_dir, start_embedded)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - begin
        self._supervise()
        return self.endpoints

    def _supervise(self) -> None:
        """Restart an embedded service that dies, in place, for as long as we own it."""
        watched = []
        if self.postgres is not None:
            pg = self.postgres
            watched.append(
                Supervised(
                    "postgres", "the embedded PostgreSQL", lambda: pg.exited, lambda: pg.start(same_port=True)
                )
            )
        if self.nats is not None:
            nats = self.nats
            watched.append(
                Supervised(
                    "nats",
                    "the embedded nats-server",
                    lambda: nats.exited,
                    lambda: nats.start(same_port=True),
                )
            )
        if watched:
            self.supervisor = Supervisor(watched)
            self.supervisor.start()

    def _start(self, attach_if_running: bool, own_data_dir: bool, start_embedded: bool) -> Endpoints:
        settings = self.settings
        if attach_if_running:
            info = read_runtime_info(settings.data_dir)
            if info is not None:
                endpoints = attach(settings)
                # A URL configured here but different from the owner's has not been checked yet.
                if endpoints.database_url != info.endpoints.database_url:
                    check_postgres(endpoints.database_url)
                    migrate(endpoints.database_url)
                if endpoints.nats_url != info.endpoints.nats_url:
                    check_nats(endpoints.nats_url)
                return endpoints
        embedded = settings.embedded_postgres or settings.embedded_nats
        if embedded and not start_embedded:
            raise ServiceUnreachable(
                f"DuraGraph Lab is not connected: run `duragraph-lab dev` (data dir {settings.data_dir}), "
                f"set {_missing_urls(settings)}, or set c.DuraGraphApp.start_embedded = True"
            )
        if embedded or own_data_dir:
            prepare_data_dir(settings.data_dir)
            self.lock.acquire()
            self.owner = True
        tcp_url = None
        if settings.database_url is None:
            self.postgres = EmbeddedPostgres(settings.data_dir / "postgres")
            pg = self.postgres.start()
            # Migrations as the owner; everything else (this process's API, workers, kernels,
            # anyone given the URL) as the runtime role, which is no superuser.
            admin_url, database_url, tcp_url = pg.url, pg.app_url, pg.app_tcp_url
        else:
            admin_url = database_url = settings.database_url
            check_postgres(database_url)
        if settings.nats_url is None:
            self.nats = EmbeddedNats(settings.data_dir / "nats")
            nats_url = self.nats.start().url
        else:
            nats_url = settings.nats_url
            check_nats(nats_url)
        migrate(admin_url)
        if self.postgres is not None:
            grant_runtime_privileges(admin_url, APP_USER)
        endpoints = Endpoints(
            database_url=database_url,
            nats_url=nats_url,
            database_tcp_url=tcp_url,
            embedded_postgres=self.postgres is not None,
            embedded_nats=self.nats is not None,
        )
        if self.owner:
            info = RuntimeInfo(pid=os.getpid(), data_dir=str(settings.data_dir), endpoints=endpoints)
            write_private(settings.data_dir / RUNTIME_FILE, info.to_json())
        return endpoints

    def stop(self) -> None:
        """Stop what we started (NATS, then PostgreSQL) and release the lock."""
        if self.supervisor is not None:
            self.supervisor.stop_watching()
        if self.owner:
            with contextlib.suppress(OSError):
                (self.settings.data_dir / RUNTIME_FILE).unlink()
        if self.nats is not None:
            self.nats.stop()
            self.nats = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        if self.supervisor is not None:
            self.supervisor.close()
            self.supervisor = None
        if self.owner:
            self.lock.release()
            self.owner = False
