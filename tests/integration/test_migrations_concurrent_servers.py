"""Upgrades with several servers: two ``duragraph-lab serve`` started together on a database with
pending migrations both start, and the migrations are applied once, by one of them, in one
transaction (docs/operations.md, "Upgrades"). The test holds the migration lock until both
servers wait for it, so they really contend."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from duragraph_lab.store import schema
from duragraph_lab.store.schema import MIGRATION_LOCK_KEY, available_migrations, migrate
from tests.deploy_files import DEPLOY
from tests.devserver import DevServer

pytestmark = pytest.mark.timeout(300)


def _waiting_for_the_lock(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def servers(
    empty_database_url: str, nats_server: str, tmp_path: Path
) -> Iterator[tuple[str, list[DevServer]]]:
    env = {
        "DURAGRAPH_DATABASE_URL": empty_database_url,
        "DURAGRAPH_NATS_URL": nats_server,
        "DURAGRAPH_SUBJECT_PREFIX": f"t{uuid.uuid4().hex[:10]}",
    }
    # As deployed: no in-process worker (deploy/api_config.py).
    extra = [f"--JupyterApp.config_file={DEPLOY / 'api_config.py'}"]
    started = [
        DevServer(tmp_path / f"api-{i}" / "data", command="serve", env=env, extra=extra) for i in (1, 2)
    ]
    try:
        yield empty_database_url, started
    finally:
        for server in started:
            server.kill()


@pytest.mark.parametrize("pending", ["all", "the last two"])
def test_two_servers_starting_together_migrate_once(
    servers: tuple[str, list[DevServer]], pending: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, (first, second) = servers
    every = available_migrations()
    if pending == "the last two":
        # The database of an earlier release: all but the last two migrations applied (without
        # projection definitions: today's would not fit that schema; the servers install them
        # with the pending migrations, as after any upgrade that changes them).
        with monkeypatch.context() as m:
            m.setattr(schema, "available_migrations", lambda: every[:-2])
            m.setattr(schema, "available_definitions", lambda: [])
            assert migrate(url) == [mig.version for mig in every[:-2]]
    with psycopg.connect(url, autocommit=True) as holder:
        # Hold the lock the servers migrate under until both wait for it.
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        with ThreadPoolExecutor(2) as pool:
            starts = [pool.submit(server.start, 120.0) for server in (first, second)]
            deadline = time.monotonic() + 90
            while _waiting_for_the_lock(url) < 2:
                assert time.monotonic() < deadline, first.output()[-2000:] + second.output()[-2000:]
                assert not any(s.done() for s in starts), "a server started while the lock was held"
                time.sleep(0.1)
            holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
            for start in starts:
                start.result()  # both ready (or the assertion with the server's output)
    expected = [m.version for m in every]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT version, xmin::text FROM duragraph.schema_migrations ORDER BY version"
        ).fetchall()
    assert [r[0] for r in rows] == expected
    # The pending migrations went in together: one transaction (one xmin) applied them.
    newly = {xmin for version, xmin in rows if pending == "all" or version > len(every) - 2}
    assert len(newly) == 1, rows
    for server in (first, second):
        status, health = server.api("health", token=server.token)
        assert status == 200, health
        assert health["postgres"]["schema_version"] == len(every)
    assert migrate(url) == []


def test_a_server_older_than_the_schema_turns_unready(
    database_url: str, nats_server: str, tmp_path: Path
) -> None:
    """During a rolling upgrade, the new release migrates while servers of the old one still run:
    those answer /ready 503 from then on (Kubernetes takes them out of the Service), and a server
    of the old release that restarts refuses to start (tests/integration/test_postgres_store.py::
    test_newer_schema_is_refused). Simulated here by a migration row newer than this release."""
    env = {
        "DURAGRAPH_DATABASE_URL": database_url,
        "DURAGRAPH_NATS_URL": nats_server,
        "DURAGRAPH_SUBJECT_PREFIX": f"t{uuid.uuid4().hex[:10]}",
    }
    server = DevServer(
        tmp_path / "data",
        command="serve",
        env=env,
        extra=[f"--JupyterApp.config_file={DEPLOY / 'api_config.py'}"],
    )
    try:
        server.start(120.0)
        assert server.api("ready")[0] == 200
        newer = len(available_migrations()) + 1
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO duragraph.schema_migrations VALUES (%s, 'future', 'x', now())", (newer,)
            )
            status, body = server.api("ready")
            assert (status, body["services"]["postgres"]) == (503, "unhealthy"), body
            assert server.api("ok")[0] == 200  # alive all the same: liveness does not restart it
            conn.execute("DELETE FROM duragraph.schema_migrations WHERE version = %s", (newer,))
        assert server.api("ready")[0] == 200
    finally:
        server.kill()
