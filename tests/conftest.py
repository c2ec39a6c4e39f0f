"""Shared fixtures: one real PostgreSQL and one real NATS JetStream per test session.

Each test gets its own database, cloned from a migrated template (fast, and isolated), and its
own NATS subject prefix, so tests never see each other's events.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from nats.aio.client import Client as NATS

from duragraph_lab.bus import Subjects, connect_nats, ensure_stream
from duragraph_lab.runtime.nats import EmbeddedNats
from duragraph_lab.runtime.postgres import EmbeddedPostgres, PostgresEndpoint
from duragraph_lab.store import PostgresEventStore, migrate, open_pool

TEMPLATE_DB = "dg_template"

# The offline model is paced like a real one by default (a half-second wait for its first token):
# the tests, and every server, worker and kernel they start (which inherit the environment), run
# it at once and stream at the old 20 ms a token. A test that sets these itself is left alone.
os.environ.setdefault("DURAGRAPH_LLM_FIRST_TOKEN_DELAY", "0")
os.environ.setdefault("DURAGRAPH_LLM_TOKEN_DELAY", "0.02")


def _with_db(url: str, dbname: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresEndpoint]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "postgres")
    endpoint = server.start()
    try:
        with psycopg.connect(_with_db(endpoint.url, "postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        migrate(_with_db(endpoint.url, TEMPLATE_DB))
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def database_url(pg_server: PostgresEndpoint) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = _with_db(pg_server.url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB} STRATEGY FILE_COPY")
    yield _with_db(pg_server.url, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def empty_database_url(pg_server: PostgresEndpoint) -> Iterator[str]:
    """A database with no schema at all, for migration tests."""
    name = f"e_{uuid.uuid4().hex[:12]}"
    admin = _with_db(pg_server.url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield _with_db(pg_server.url, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[object]:
    p = await open_pool(database_url, min_size=1, max_size=10)
    yield p
    await p.close()


@pytest.fixture
async def pg_store(pool: object) -> PostgresEventStore:
    return PostgresEventStore(pool)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedNats(tmp_path_factory.mktemp("nats") / "nats")
    endpoint = server.start()
    yield endpoint.url
    server.stop()


@pytest.fixture
def subjects() -> Subjects:
    return Subjects(prefix=f"t{uuid.uuid4().hex[:10]}")


@pytest.fixture
async def nc(nats_server: str, subjects: Subjects) -> AsyncIterator[NATS]:
    client = await connect_nats(nats_server, name="pytest")
    await ensure_stream(client, subjects)
    yield client
    js = client.jetstream()
    try:
        await js.delete_stream(subjects.stream_name)
    finally:
        await client.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One `duragraph-lab serve` for the API tests of the session (each test uses its own
    threads, so they do not see each other)."""
    from tests.apiserver import ApiServer

    server = ApiServer(tmp_path_factory.mktemp("api") / "data")
    server.start()
    try:
        yield server
    finally:
        server.kill()
