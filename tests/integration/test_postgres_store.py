"""PostgreSQL specifics: outbox and projections commit atomically with events; migrations and the
projection definitions."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest

import duragraph_lab.store.schema as migrate_module
from duragraph_lab.domain import NewEvent, StoreUnavailable, VersionConflict
from duragraph_lab.domain import events as ev
from duragraph_lab.store import MigrationError, PostgresEventStore, available_migrations, migrate, open_pool


def table(database_url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


def _run_created(thread_id: str, graph_id: str = "g") -> NewEvent:
    return NewEvent(ev.RUN_CREATED, {"thread_id": thread_id, "graph_id": graph_id})


async def test_events_outbox_and_projection_commit_together(pool: Any, database_url: str) -> None:
    store = PostgresEventStore(pool)
    run_id, thread_id = uuid.uuid4(), uuid.uuid4()
    async with store.transaction() as tx:
        recorded = await tx.append(
            f"run:{run_id}", 0, [_run_created(str(thread_id)), NewEvent(ev.RUN_STARTED)]
        )
        # The read model follows in the append's transaction ...
        cur = await tx.conn.execute("SELECT status FROM duragraph.runs WHERE run_id = %s", (run_id,))
        assert await cur.fetchall() == [("running",)]
        # ... and nobody else sees anything of it before the commit.
        assert table(database_url, "SELECT count(*) FROM duragraph.runs") == [(0,)]
        assert table(database_url, "SELECT count(*) FROM duragraph.outbox") == [(0,)]
    assert table(database_url, "SELECT seq FROM duragraph.outbox ORDER BY seq") == [
        (e.seq,) for e in recorded
    ]
    assert table(database_url, "SELECT run_id, thread_id, status FROM duragraph.runs") == [
        (run_id, thread_id, "running")
    ]
    # A run's event type on another kind of stream is not the runs projection's business.
    await store.append(f"thread:{uuid.uuid4()}", 0, [_run_created(str(uuid.uuid4()))])
    assert table(database_url, "SELECT count(*) FROM duragraph.runs") == [(1,)]


async def test_projection_failure_rolls_back_events_and_outbox(pool: Any, database_url: str) -> None:
    store = PostgresEventStore(pool)
    sid = f"run:{uuid.uuid4()}"
    await store.append(sid, 0, [_run_created(str(uuid.uuid4()))])
    # The second event cannot be projected (its thread id is no UUID): the first one's effect on
    # the read model goes with it, as do both events and their outbox rows.
    planned = NewEvent(ev.STEP_PLANNED, {"step": 3, "tasks": []})
    with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="uuid"):
        await store.append(sid, 1, [planned, _run_created("not-a-uuid")])
    assert [e.type for e in await store.read_stream(sid)] == [ev.RUN_CREATED]
    assert await store.stream_version(sid) == 1
    assert table(database_url, "SELECT count(*) FROM duragraph.outbox") == [(1,)]
    assert table(database_url, "SELECT status, step FROM duragraph.runs") == [("pending", -1)]


async def test_conflict_leaves_outbox_untouched(pool: Any, database_url: str) -> None:
    store = PostgresEventStore(pool)
    sid = f"run:{uuid.uuid4()}"
    await store.append(sid, 0, [NewEvent("a")])
    with pytest.raises(VersionConflict):
        await store.append(sid, 0, [NewEvent("b")])
    assert table(database_url, "SELECT count(*) FROM duragraph.events") == [(1,)]
    assert table(database_url, "SELECT count(*) FROM duragraph.outbox") == [(1,)]


async def test_guard_statement_in_the_same_transaction(pool: Any, database_url: str) -> None:
    """Callers (the journal's lease fencing) can run their own SQL in the append's transaction."""
    store = PostgresEventStore(pool)
    sid = f"run:{uuid.uuid4()}"
    with pytest.raises(psycopg.errors.RaiseException, match="lease lost"):
        async with store.transaction() as tx:
            await tx.append(sid, 0, [NewEvent("work_done")])
            await tx.conn.execute("DO $$ BEGIN RAISE EXCEPTION 'lease lost'; END $$")
    assert await store.read_stream(sid) == []


async def test_projection_rebuild_from_events_alone(pool: Any, database_url: str) -> None:
    store = PostgresEventStore(pool)
    thread_id = str(uuid.uuid4())
    for i in range(5):
        events = [_run_created(thread_id), NewEvent(ev.RUN_STARTED, {"attempt": 1})]
        events += [
            NewEvent(ev.NODE_COMPLETED, {"task": f"{j}.0", "node": f"n{j}", "step": j, "update": {}})
            for j in range(i)
        ]
        await store.append(f"run:{uuid.uuid4()}", 0, events)
    read_models = "SELECT r.run_id, r.status, r.step, s.task, s.seq FROM duragraph.runs r LEFT JOIN duragraph.spans s USING (run_id) ORDER BY 1, 4"
    expected = table(database_url, read_models)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE duragraph.runs SET status = 'corrupt'; DELETE FROM duragraph.spans WHERE task = '0.0'"
        )
        assert conn.execute("SELECT duragraph.rebuild_projections()").fetchone() == (20,)
    assert len(expected) == 11
    assert table(database_url, read_models) == expected


async def test_payload_types_survive_jsonb(pg_store: PostgresEventStore, database_url: str) -> None:
    import datetime as dt
    from decimal import Decimal

    data = {
        "when": dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC),
        "blob": b"\x00\x01",
        "id": uuid.UUID(int=5),
        "pair": ("a", 1),
        "amount": Decimal("10.25"),
        "unicode": "\u65e5\u672c",
        "escaped": {"__dg__": "bytes", "v": "not base64!"},
    }
    sid = f"run:{uuid.uuid4()}"
    await pg_store.append(sid, 0, [NewEvent("typed", data)])
    [read] = await pg_store.read_stream(sid)
    assert read.data == data
    # In the database the payload is queryable JSON.
    assert table(database_url, "SELECT data->>'unicode' FROM duragraph.events") == [("\u65e5\u672c",)]


async def test_unreachable_database_raises_store_unavailable(pg_server: Any) -> None:
    with pytest.raises(StoreUnavailable, match="cannot connect to PostgreSQL"):
        await open_pool("postgresql://nobody:x@127.0.0.1:1/none", timeout=1.0)


async def test_killed_connections_heal_and_refused_ones_are_typed(database_url: str, pg_server: Any) -> None:
    pool = await open_pool(database_url, min_size=1, max_size=1, timeout=1.0)
    store = PostgresEventStore(pool)
    dbname = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    admin_url = pg_server.url.replace("/duragraph?", "/postgres?")

    def kill_backends() -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )

    def allow_connections(allow: bool) -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {dbname} ALLOW_CONNECTIONS {'true' if allow else 'false'}")

    try:
        kill_backends()
        # The pool checks connections on checkout and replaces the dead one.
        assert await store.read_stream(f"run:{uuid.uuid4()}") == []
        allow_connections(False)
        kill_backends()
        with pytest.raises(StoreUnavailable):
            await store.read_stream(f"run:{uuid.uuid4()}")
        with pytest.raises(StoreUnavailable):
            await store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("lost")])
        allow_connections(True)
        await asyncio.sleep(1.5)  # the pool reconnects in the background
        assert await store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("back")])
    finally:
        allow_connections(True)
        await pool.close()


# -- migrations ----------------------------------------------------------------------------------


def test_migrations_are_numbered_and_apply_once(empty_database_url: str) -> None:
    versions = [m.version for m in available_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert migrate(empty_database_url) == versions
    assert migrate(empty_database_url) == []
    rows = table(empty_database_url, "SELECT version FROM duragraph.schema_migrations ORDER BY version")
    assert [r[0] for r in rows] == versions


def test_concurrent_migrations_apply_exactly_once(empty_database_url: str) -> None:
    results: list[list[int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        try:
            results.append(migrate(empty_database_url))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, 0, len(available_migrations())]


def test_edited_migration_is_detected(empty_database_url: str) -> None:
    migrate(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("UPDATE duragraph.schema_migrations SET checksum = 'tampered' WHERE version = 1")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(empty_database_url)


def test_newer_schema_is_refused(empty_database_url: str) -> None:
    migrate(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO duragraph.schema_migrations VALUES (999, 'future', 'x', now())")
    with pytest.raises(MigrationError, match="newer than this DuraGraph Lab supports"):
        migrate(empty_database_url)


def test_failed_migration_leaves_previous_version(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = available_migrations()
    migrate_module.migrate(empty_database_url)
    broken = migrate_module.Migration(
        len(good) + 1, "broken", "CREATE TABLE duragraph.half (x int); SELECT 1/0;"
    )
    monkeypatch.setattr(migrate_module, "available_migrations", lambda: [*good, broken])
    with pytest.raises(MigrationError, match="division by zero") as info:
        migrate_module.migrate(empty_database_url)
    assert isinstance(info.value.__cause__, psycopg.errors.DivisionByZero)
    assert "password=***" in str(info.value)
    assert table(empty_database_url, "SELECT max(version) FROM duragraph.schema_migrations") == [(len(good),)]
    assert table(empty_database_url, "SELECT to_regclass('duragraph.half')") == [(None,)]


async def test_many_concurrent_appends_to_distinct_streams(pool: Any, database_url: str) -> None:
    store = PostgresEventStore(pool)
    sids = [f"run:{uuid.uuid4()}" for _ in range(50)]

    async def write(sid: str) -> None:
        for v in range(5):
            await store.append(sid, v, [NewEvent("step", {"v": v})])

    await asyncio.gather(*(write(s) for s in sids))
    assert table(database_url, "SELECT count(*), count(DISTINCT seq) FROM duragraph.events") == [(250, 250)]
    for sid in sids[:5]:
        assert [e.version for e in await store.read_stream(sid)] == [1, 2, 3, 4, 5]
