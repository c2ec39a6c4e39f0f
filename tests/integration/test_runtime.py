"""Embedded services, the data-dir lock and discovery, with real PostgreSQL and nats-server."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from duragraph_lab.runtime.config import Settings
from duragraph_lab.runtime.errors import DataDirBusy, DataDirError, ServiceUnreachable
from duragraph_lab.runtime.nats import EmbeddedNats, nats_server_binary
from duragraph_lab.runtime.postgres import EmbeddedPostgres
from duragraph_lab.runtime.processes import free_port
from duragraph_lab.runtime.services import RUNTIME_FILE, Services, attach, check_nats, read_runtime_info
from duragraph_lab.store import available_migrations


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def test_embedded_services_start_migrate_and_are_discoverable(data_dir: Path) -> None:
    services = Services(Settings.resolve(data_dir=data_dir))
    endpoints = services.start()
    try:
        assert endpoints.embedded_postgres
        assert endpoints.embedded_nats
        with psycopg.connect(endpoints.database_url) as conn:
            assert conn.execute("SELECT max(version) FROM duragraph.schema_migrations").fetchone() == (
                len(available_migrations()),
            )
        assert endpoints.database_tcp_url is not None
        with psycopg.connect(endpoints.database_tcp_url) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("duragraph_app",)
        check_runtime_role_has_no_power(endpoints.database_url)
        check_nats(endpoints.nats_url)
        runtime = data_dir / RUNTIME_FILE
        assert stat.S_IMODE(runtime.stat().st_mode) == 0o600, "runtime.json holds credentials"
        info = read_runtime_info(data_dir)
        assert info is not None
        assert info.pid == os.getpid()
        # A worker pointed at the same data dir finds the same services.
        found = attach(Settings(data_dir=data_dir))
        assert (found.database_url, found.nats_url) == (endpoints.database_url, endpoints.nats_url)
        assert found.embedded_postgres
        assert found.embedded_nats
        # A second owner is refused, and nothing of the first is disturbed.
        with pytest.raises(DataDirBusy, match=rf"pid {os.getpid()}.*already using data dir"):
            Services(Settings(data_dir=data_dir)).start()
        check_nats(endpoints.nats_url)
    finally:
        services.stop()
    assert not (data_dir / RUNTIME_FILE).exists()
    with pytest.raises(ServiceUnreachable, match="no running `duragraph-lab dev`"):
        attach(Settings(data_dir=data_dir))


def check_runtime_role_has_no_power(url: str) -> None:
    """What the API, workers and kernels connect as: DuraGraph's tables, and nothing more."""
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (False, False, False)
        assert conn.execute("SELECT count(*) FROM duragraph.events").fetchone() is not None
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("COPY (SELECT 1) TO PROGRAM 'touch /tmp/duragraph-pwned'")
        assert not Path("/tmp/duragraph-pwned").exists()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE duragraph.mine (x int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM duragraph.schema_migrations")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM duragraph.schema_definitions")
        # The projections are the owner's: this role runs them (every append does), but cannot
        # redefine what they write.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "CREATE OR REPLACE FUNCTION duragraph.project_graph(e duragraph.events) RETURNS void "
                "LANGUAGE sql AS 'SELECT'"
            )
        assert conn.execute("SELECT duragraph.rebuild_projections()").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER ROLE duragraph_app SUPERUSER")


def test_data_survives_restart(data_dir: Path) -> None:
    settings = Settings.resolve(data_dir=data_dir)
    services = Services(settings)
    url = services.start().database_url
    assert services.postgres is not None and services.postgres.endpoint is not None
    with psycopg.connect(services.postgres.endpoint.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE keep (x int); INSERT INTO keep VALUES (42)")
    services.stop()
    services = Services(settings)
    try:
        url2 = services.start().database_url
        assert url2 == url, "same port and password after a restart"
        assert services.postgres is not None and services.postgres.endpoint is not None
        with psycopg.connect(services.postgres.endpoint.url) as conn:
            assert conn.execute("SELECT x FROM keep").fetchone() == (42,)
    finally:
        services.stop()


def test_stale_postmaster_pid_after_a_crash_is_recovered(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "postgres")
    pg.start()
    assert pg._proc is not None
    pg._proc.send_signal(signal.SIGKILL)
    pg._proc.wait()
    pg._proc = None
    assert (pg.pgdata / "postmaster.pid").exists()
    try:
        endpoint = pg.start()
        with psycopg.connect(endpoint.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pg.stop()


def test_orphaned_servers_are_stopped_before_a_new_start(tmp_path: Path) -> None:
    pg, nats = EmbeddedPostgres(tmp_path / "postgres"), EmbeddedNats(tmp_path / "nats")
    pg.start()
    nats.start()
    orphan_pids = [pg.pid, nats.pid]
    # Forget them, as a killed owner would (they keep running, holding the data dirs).
    pg._proc = nats._proc = None
    assert all(p is not None and psutil.pid_exists(p) for p in orphan_pids)
    pg2, nats2 = EmbeddedPostgres(tmp_path / "postgres"), EmbeddedNats(tmp_path / "nats")
    try:
        endpoint = pg2.start()
        nats2.start()
        assert all(gone(p) for p in orphan_pids if p is not None)
        with psycopg.connect(endpoint.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        check_nats(nats2.endpoint.url)  # type: ignore[union-attr]
    finally:
        pg2.stop()
        nats2.stop()


def test_unreachable_external_postgres_is_one_clear_error(data_dir: Path) -> None:
    settings = Settings.resolve(
        data_dir=data_dir, database_url="postgresql://me:s3cret@127.0.0.1:1/db", nats_url="nats://127.0.0.1:1"
    )
    with pytest.raises(ServiceUnreachable) as info:
        Services(settings).start()
    message = str(info.value)
    assert message.startswith("cannot connect to PostgreSQL at ")
    assert "s3cret" not in message
    assert "\n" not in message


def test_unreachable_external_nats_stops_what_was_started(data_dir: Path) -> None:
    services = Services(Settings.resolve(data_dir=data_dir, nats_url="nats://tok@127.0.0.1:1"))
    with pytest.raises(ServiceUnreachable, match=r"^cannot connect to NATS at nats://127\.0\.0\.1:1"):
        services.start()
    assert services.postgres is None
    assert not (data_dir / RUNTIME_FILE).exists()
    # The embedded PostgreSQL it had started is gone and the lock is free again.
    again = Services(Settings.resolve(data_dir=data_dir))
    again.start()
    again.stop()


def test_nats_without_jetstream_is_refused(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([str(nats_server_binary()), "-a", "127.0.0.1", "-p", str(port)])
    try:
        time.sleep(0.3)
        with pytest.raises(ServiceUnreachable, match="has no JetStream"):
            check_nats(f"nats://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait()


def test_data_dir_in_the_way_of_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataDirError, match="exists and is not a directory"):
        Services(Settings(data_dir=blocker)).start()
    with pytest.raises(DataDirError, match="a parent of it is a file"):
        Services(Settings(data_dir=blocker / "sub")).start()


def test_unwritable_data_dir() -> None:
    with pytest.raises(DataDirError, match="is not writable"):
        Services(Settings(data_dir=Path("/sys/duragraph-test"))).start()


def _taken_then_free(monkeypatch: pytest.MonkeyPatch, module: str, taken: int) -> list[int]:
    """Make ``module``'s free_port hand out ``taken`` first (the race CI once lost), then real ones."""
    import importlib

    mod = importlib.import_module(module)
    handed: list[int] = []

    def fake(preferred: int | None = None, host: str = "127.0.0.1") -> int:
        port = taken if not handed else free_port(preferred, host)
        handed.append(port)
        return port

    monkeypatch.setattr(mod, "free_port", fake)
    return handed


@pytest.mark.parametrize("service", ["postgres", "nats"])
def test_a_port_taken_between_pick_and_bind_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        handed = _taken_then_free(monkeypatch, f"duragraph_lab.runtime.{service}", taken)
        server = (
            EmbeddedPostgres(tmp_path / "pg") if service == "postgres" else EmbeddedNats(tmp_path / "nats")
        )
        endpoint = server.start()
        try:
            assert handed[0] == taken and len(handed) == 2, handed
            assert endpoint.port == handed[1] != taken
            assert server.pid is not None
            # The port it listens on is its own, and the one it saved for the next start.
            owners = {
                c.laddr.port for c in psutil.Process(server.pid).net_connections() if c.status == "LISTEN"
            }
            assert endpoint.port in owners
            assert server._load_state()["port"] == endpoint.port
        finally:
            server.stop()
