"""One projection mechanism, on real PostgreSQL.

A real `serve` (embedded PostgreSQL, the runtime role) builds its read models live from a
realistic mix of requests: runs with subgraphs, interrupts and resumes, forks, state edits, cancels
(interrupt and rollback), multitask queues, failures, deletes, stateless runs; assistants with
versions; threads updated, copied and deleted; datasets and experiments, one run by the server.
Those read models equal what ``duragraph.rebuild_projections()`` makes of the events alone.
The same event log, replayed into a database still at the last migration of the old mechanism
(triggers per migration), gives the same read models there; upgrading it installs exactly the
functions a new database has, and its read models then rebuild equal too.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

import duragraph_lab.store.schema as schema
from duragraph_lab.domain import NewEvent
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.streams import KNOWN_KINDS
from duragraph_lab.runtime.services import read_runtime_info
from duragraph_lab.store import PostgresEventStore, available_migrations, migrate
from duragraph_lab.store.projections import Definition, available_definitions
from duragraph_lab.store.roles import ensure_login_role, grant_runtime_privileges
from tests.apiserver import ApiServer

pytest.importorskip("langgraph")
from langgraph.checkpoint.base import empty_checkpoint

from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer
from duragraph_lab.store import open_pool

#: Every read model: what rebuild_projections() empties and refills from the events.
READ_MODELS = (
    "assistant_versions",
    "assistants",
    "crons",
    "dataset_versions",
    "datasets",
    "experiment_results",
    "experiments",
    "graphs",
    "lg_blobs",
    "lg_checkpoints",
    "lg_writes",
    "run_queue",
    "runs",
    "spans",
    "threads",
)
#: The read models an old database has (LangGraph's checkpoints came with migration 0011: a release
#: of the old mechanism neither has their tables nor projects their events; a rebuild does).
OLD_READ_MODELS = tuple(t for t in READ_MODELS if not t.startswith("lg_") and t != "crons")
#: The other tables of the schema: the log itself, bookkeeping, and state written directly.
NOT_READ_MODELS = (
    "events",
    "export_cursors",  # OpenTelemetry export: a cursor and its lease, not a projection of events
    "outbox",
    "relay_lease",
    "run_snapshots",
    "schema_definitions",
    "schema_migrations",
    "store_items",  # the store (LangGraph's BaseStore): items, not a projection of events
    "streams",
    "workers",
)
#: Lease columns of run_queue: written by workers taking and renewing leases, not by events.
LEASE_COLUMNS = {"epoch", "expiries"}
#: The last migration of the old mechanism (projection functions and triggers per migration).
LAST_OLD_MIGRATION = 8
#: What upgrading a database of the old mechanism applies: every migration since.
UPGRADE = list(range(LAST_OLD_MIGRATION + 1, len(available_migrations()) + 1))

Snapshot = dict[str, list[tuple[Any, ...]]]
EventRow = tuple[Any, ...]


def snapshot(conn: psycopg.Connection[Any], tables: tuple[str, ...] = READ_MODELS) -> Snapshot:
    """Every row of every read model, sorted; run_queue without its lease columns."""
    out: Snapshot = {}
    for table in tables:
        columns = [
            name
            for (name,) in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'duragraph' AND table_name = %s ORDER BY ordinal_position",
                (table,),
            ).fetchall()
            if not (table == "run_queue" and name in LEASE_COLUMNS)
        ]
        order = ", ".join(str(i) for i in range(1, len(columns) + 1))
        out[table] = conn.execute(
            f"SELECT {', '.join(columns)} FROM duragraph.{table} ORDER BY {order}"
        ).fetchall()
    return out


def assert_same(actual: Snapshot, expected: Snapshot, tables: tuple[str, ...] = READ_MODELS) -> None:
    for table in tables:
        assert actual[table] == expected[table], f"duragraph.{table} differs"


def rebuild(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT duragraph.rebuild_projections()").fetchone()
    assert row is not None
    return int(row[0])


# -- a realistic event log, written by a real server -------------------------------------------------


class Api:
    def __init__(self, server: ApiServer) -> None:
        self.server = server

    def __call__(self, method: str, route: str, body: Any = None, expect: int = 200) -> Any:
        status, out, _ = self.server.request(method, route, body, timeout=60)
        assert status == expect, (method, route, status, out)
        return out

    def thread(self, **metadata: Any) -> str:
        return str(self("POST", "/threads", {"metadata": metadata})["thread_id"])

    def start(self, thread_id: str, assistant: str, **body: Any) -> str:
        return str(self("POST", f"/threads/{thread_id}/runs", {"assistant_id": assistant, **body})["run_id"])

    def join(self, thread_id: str, run_id: str) -> Any:
        return self("GET", f"/threads/{thread_id}/runs/{run_id}/join")

    def run(self, thread_id: str, assistant: str, **body: Any) -> str:
        run_id = self.start(thread_id, assistant, **body)
        self.join(thread_id, run_id)
        return run_id

    def status(self, run_id: str) -> str:
        return str(self("GET", f"/runs/{run_id}")["status"])

    def until(self, what: str, check: Any, timeout: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout
        while not (found := check()):
            assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
            time.sleep(0.1)
        return found


def realistic_mix(api: Api) -> None:
    """Requests that exercise every read model and every projected event type."""
    # Runs: a subgraph (spans under a namespace), Send fan-out, a tool-calling chat agent.
    main = api.thread(owner="projections")
    nested = api.run(main, "nested", input={"n": 1})
    api.run(main, "nested", input={"n": 2})
    api.run(api.thread(), "map_reduce", input={"topic": "projections"})
    api.run(api.thread(), "chat", input={"messages": [{"role": "user", "content": "what is 6 * 7"}]})
    api("PATCH", f"/threads/{main}", {"metadata": {"stage": "patched"}})

    # Interrupts: one resumed, one left waiting, a breakpoint then a state edit.
    asked = api.thread()
    api.run(asked, "asking", input={"n": 3})
    api.run(asked, "asking", command={"resume": "yes"})
    api.run(api.thread(), "asking", input={"n": 4})  # stays interrupted: its queue row parked
    paused = api.thread()
    api.run(paused, "breakpoint", input={"n": 0})
    api("POST", f"/threads/{paused}/state", {"values": {"n": 41}})

    # A fork of the first run, from after its first node.
    events = api("GET", f"/runs/{nested}/events")["events"]
    first = next(e["seq"] for e in events if e["type"] == "node_completed")
    fork = api("POST", f"/runs/{nested}/fork", {"seq": first, "update": {"n": 100}})
    api.join(fork["thread_id"], fork["run_id"])

    # Cancels, multitask strategies, a failure.
    busy = api.thread()
    slow = api.start(busy, "slow", input={"n": 0, "sleep": 5})
    api("POST", f"/threads/{busy}/runs/{slow}/cancel?action=interrupt&wait=true")
    first_of_two = api.start(busy, "slow", input={"sleep": 0.3})
    queued = api.start(busy, "slow", input={"sleep": 0})  # enqueue: blocked behind the first
    api.join(busy, first_of_two)
    api.join(busy, queued)
    api.start(busy, "slow", input={"sleep": 5})
    api.run(busy, "slow", input={"sleep": 0}, multitask_strategy="interrupt")
    rolled = api.thread()
    gone = api.start(rolled, "slow", input={"sleep": 5})
    api.run(rolled, "slow", input={"sleep": 0}, multitask_strategy="rollback")
    api("GET", f"/runs/{gone}", expect=404)  # a rollback removes the run from the read models
    failing = api.thread()
    failed = api.run(failing, "slow", input={"fail": True})
    assert api.status(failed) == "error"
    api.run(api.thread(), "slow", input={"fail": True})  # stays: its thread's status is error

    # Deletes, copies, stateless runs (their temporary thread goes once they are done).
    api("DELETE", f"/threads/{failing}/runs/{failed}", expect=204)
    doomed = api.thread()
    api.run(doomed, "nested", input={})
    api("DELETE", f"/threads/{doomed}", expect=204)
    api("POST", f"/threads/{main}/copy", {"metadata": {"copy": True}})
    api("POST", "/runs/wait", {"assistant_id": "nested", "input": {"n": 7}})

    # Assistants with versions: created, updated twice, set back to version 1; one deleted.
    assistant = api("POST", "/assistants", {"graph_id": "nested", "name": "versioned"})["assistant_id"]
    api("PATCH", f"/assistants/{assistant}", {"metadata": {"v": 2}})
    api("PATCH", f"/assistants/{assistant}", {"config": {"configurable": {"v": 3}}, "name": "third"})
    api("POST", f"/assistants/{assistant}/latest", {"version": 1})
    api.run(api.thread(), assistant, input={"n": 5})
    other = api("POST", "/assistants", {"graph_id": "slow"})["assistant_id"]
    api("DELETE", f"/assistants/{other}", expect=204)

    # Evals: a dataset with two versions, another deleted; an experiment recorded by a client,
    # another run by the server.
    name = f"projections-{uuid.uuid4().hex[:8]}"
    api("POST", "/datasets", {"name": name, "selection": {"ids": [nested, fork["run_id"]]}})
    api("POST", f"/datasets/{name}/versions", {"examples": [{"inputs": {"n": 9}}]})
    dropped = f"dropped-{uuid.uuid4().hex[:8]}"
    api("POST", "/datasets", {"name": dropped, "examples": [{"inputs": {"n": 1}}]})
    api("DELETE", f"/datasets/{dropped}", expect=204)
    by_client = api("POST", "/experiments", {"dataset": name, "dataset_version": 1, "assistant_id": "nested"})
    examples = api("GET", f"/datasets/{name}/examples?version=1")["examples"]
    for example, run_id in zip(examples, (nested, fork["run_id"]), strict=True):
        result = {"example_id": example["example_id"], "run_id": run_id}
        api("POST", f"/experiments/{by_client['experiment_id']}/results", result)
    api("POST", f"/experiments/{by_client['experiment_id']}/complete")
    by_server = api("POST", "/experiments", {"dataset": name, "assistant_id": assistant})["experiment_id"]
    api("POST", f"/experiments/{by_server}/run", expect=202)
    api.until(
        "the server's experiment", lambda: api("GET", f"/experiments/{by_server}")["status"] == "completed"
    )

    # Crons: a stateless one that fires, then is disabled (the log stops growing); one on a thread,
    # updated; one deleted.
    every_second = {"assistant_id": "nested", "schedule": "* * * * * *", "input": {"n": 1}}
    ticking = api("POST", "/runs/crons", {**every_second, "metadata": {"cron": "ticking"}})
    api.until(
        "a cron's tick",
        lambda: api("GET", f"/runs/crons/{ticking['cron_id']}")["next_run_date"] != ticking["next_run_date"],
    )
    api("PATCH", f"/runs/crons/{ticking['cron_id']}", {"enabled": False})
    on_thread = api("POST", f"/threads/{main}/runs/crons", {**every_second, "schedule": "0 9 * * *"})
    api("PATCH", f"/runs/crons/{on_thread['cron_id']}", {"timezone": "Europe/Paris", "end_time": None})
    gone = api("POST", "/runs/crons", {**every_second, "schedule": "0 0 1 1 *"})
    api("DELETE", f"/runs/crons/{gone['cron_id']}", expect=204)


def langgraph_mix(url: str) -> None:
    """LangGraph checkpoints written outside runs (checkpoint streams): puts with writes in two
    namespaces, a copy, a prune, a delete of runs and of a thread."""

    async def write() -> None:
        pool = await open_pool(url, min_size=1, max_size=2)
        try:
            saver = EventStoreCheckpointer(PostgresEventStore(pool))
            for thread, ns in (("lg-a", ""), ("lg-a", "child:1"), ("lg-c", "")):
                config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
                for step in range(3):
                    checkpoint = empty_checkpoint()
                    checkpoint["channel_values"] = {"n": step}
                    checkpoint["channel_versions"] = {"n": str(step)}
                    metadata: Any = {"source": "loop", "step": step, "run_id": f"run-{thread}-{step}"}
                    config = await saver.aput(config, checkpoint, metadata, {"n": str(step)})
                    await saver.aput_writes(config, [("n", step + 1), ("__error__", "boom")], f"task-{step}")
            await saver.acopy_thread("lg-a", "lg-b")
            await saver.aprune(["lg-b"], strategy="keep_latest")
            await saver.adelete_for_runs(["run-lg-a-0"])
            await saver.adelete_thread("lg-c")
            await saver.aput({"configurable": {"thread_id": "lg-c"}}, empty_checkpoint(), {"step": 0}, {})  # type: ignore[typeddict-item]
        finally:
            await pool.close()

    asyncio.run(write())


@dataclass
class Served:
    server: ApiServer
    database_url: str  # the runtime role's
    events: list[EventRow]  # the whole log: seq, stream_id, version, event_id, type, data, meta, recorded_at
    live: Snapshot  # the read models as the server built them


def _at_rest(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM duragraph.run_queue WHERE state IN ('queued', 'leased', 'blocked'))"
        " + (SELECT count(*) FROM duragraph.runs WHERE status IN ('pending', 'running'))"
        " + (SELECT count(*) FROM duragraph.experiments WHERE status = 'running')"
    ).fetchone()
    return row == (0,)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = ApiServer(tmp_path_factory.mktemp("projections") / "data")
    server.start()
    try:
        realistic_mix(Api(server))
        info = read_runtime_info(server.data_dir)
        assert info is not None
        url = info.endpoints.database_url
        langgraph_mix(url)
        with psycopg.connect(url, autocommit=True) as conn:
            Api(server).until("the runs at rest", lambda: _at_rest(conn))
        with psycopg.connect(url) as conn:
            # One snapshot for both: the server may still write (its reaper deletes the temporary
            # thread of the stateless run a minute after it ended).
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            events = conn.execute(
                "SELECT seq, stream_id, version, event_id, type, data::text, meta::text, recorded_at "
                "FROM duragraph.events ORDER BY seq"
            ).fetchall()
            live = snapshot(conn)
        yield Served(server, url, events, live)
    finally:
        server.kill()


# -- the tests -----------------------------------------------------------------------------------------


def test_every_table_is_a_read_model_or_named_otherwise(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        tables = {
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'duragraph'"
            ).fetchall()
        }
        [(body,)] = conn.execute(
            "SELECT prosrc FROM pg_proc WHERE proname = 'rebuild_projections'"
        ).fetchall()
    assert tables == {*READ_MODELS, *NOT_READ_MODELS}
    truncate = re.search(r"TRUNCATE([^;]*);", body)
    assert truncate is not None
    assert {t.strip().removeprefix("duragraph.") for t in truncate.group(1).split(",")} == set(READ_MODELS)


def test_live_read_models_equal_a_rebuild_by_the_runtime_role(served: Served) -> None:
    live = served.live
    # The mix exercised what it claims to (else the comparison below would prove little).
    assert all(live[t] for t in READ_MODELS), [t for t in READ_MODELS if not live[t]]
    with psycopg.connect(served.database_url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # see served()
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (
            False,
        )
        statuses = {s for (s,) in conn.execute("SELECT DISTINCT status FROM duragraph.runs").fetchall()}
        assert {"success", "interrupted", "cancelled", "error"} <= statuses
        assert conn.execute("SELECT count(*) FROM duragraph.spans WHERE ns <> ''").fetchone() != (0,)
        queue = {s for (s,) in conn.execute("SELECT DISTINCT state FROM duragraph.run_queue").fetchall()}
        assert queue == {"done", "parked"}
        assert conn.execute("SELECT max(epoch) FROM duragraph.run_queue").fetchone() != (0,)  # leased live
        versions = conn.execute(
            "SELECT a.version, count(v.*) FROM duragraph.assistants a "
            "JOIN duragraph.assistant_versions v USING (assistant_id) WHERE a.name = 'versioned' GROUP BY 1"
        ).fetchall()
        assert versions == [(1, 3)]  # three versions, set back to the first
        before = snapshot(conn)
        assert rebuild(conn) == conn.execute("SELECT count(*) FROM duragraph.events").fetchone()[0]
        assert_same(snapshot(conn), before)


def _old_schema(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database as the old mechanism left it: migrations up to the last old one, no definitions."""
    old = [m for m in available_migrations() if m.version <= LAST_OLD_MIGRATION]
    with monkeypatch.context() as patch:
        patch.setattr(schema, "available_migrations", lambda: old)
        patch.setattr(schema, "available_definitions", lambda: [])
        assert migrate(url) == list(range(1, LAST_OLD_MIGRATION + 1))


def _replay(url: str, events: list[EventRow]) -> None:
    """Append ``events`` as they were recorded (same seq, ids and times): the triggers project them."""
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO duragraph.events (seq, stream_id, version, event_id, type, data, meta, recorded_at) "
                "OVERRIDING SYSTEM VALUE VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s)",
                events,
            )
        conn.execute(
            "INSERT INTO duragraph.streams AS s (stream_id, kind, version) "
            "SELECT stream_id, split_part(stream_id, ':', 1), max(version) FROM duragraph.events GROUP BY 1 "
            "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version"
        )
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('duragraph.events', 'seq'), max(seq)) FROM duragraph.events"
        )


def _definitions(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What a database runs: its functions (bodies included), triggers and columns."""
    with psycopg.connect(url) as conn:
        return {
            "functions": conn.execute(
                "SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid) "
                "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'duragraph' ORDER BY 1, 2"
            ).fetchall(),
            "triggers": conn.execute(
                "SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                "WHERE t.tgrelid = 'duragraph.events'::regclass AND NOT t.tgisinternal ORDER BY 1"
            ).fetchall(),
            "columns": conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable, column_default "
                "FROM information_schema.columns WHERE table_schema = 'duragraph' ORDER BY 1, 2"
            ).fetchall(),
        }


def test_an_old_database_converges_to_the_definitions_of_a_new_one(
    served: Served, empty_database_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_database_url
    _old_schema(url, monkeypatch)
    old = _definitions(url)
    assert [name for name, _ in old["triggers"]] == [
        "events_project",
        "events_project_evals",
        "events_project_experiment_runner",
    ]
    # The old triggers make of this log exactly what the new projections made of it live.
    _replay(url, served.events)
    with psycopg.connect(url) as conn:
        before = snapshot(conn, OLD_READ_MODELS)
        assert_same(before, _as_old(served.live, before), OLD_READ_MODELS)

    assert migrate(url) == UPGRADE
    new = _definitions(url)
    assert new == _definitions(database_url)  # a database migrated from nothing
    assert [name for name, _ in new["triggers"]] == ["events_project"]
    with psycopg.connect(url, autocommit=True) as conn:
        # The upgrade left the read models alone (the LangGraph ones are new: empty until the rebuild).
        assert_same(snapshot(conn, OLD_READ_MODELS), served.live, OLD_READ_MODELS)
        assert conn.execute("SELECT count(*) FROM duragraph.lg_checkpoints").fetchone() == (0,)
        assert rebuild(conn) == len(served.events)
        assert_same(snapshot(conn), served.live)


def _as_old(live: Snapshot, old: Snapshot) -> Snapshot:
    """``live`` without the columns later migrations added (appended: the last ones) to the
    tables of ``old``, e.g. the token usage of runs and spans (0015, filled from the log)."""
    out: Snapshot = {}
    for table, rows in old.items():
        width = len(rows[0]) if rows else 0
        out[table] = [row[:width] for row in live[table]] if rows else live[table]
    return out


def test_read_models_carry_on_across_an_upgrade(
    served: Served, empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_database_url
    _old_schema(url, monkeypatch)
    half = len(served.events) // 2
    _replay(url, served.events[:half])  # projected by the old triggers
    migrate(url)
    _replay(url, served.events[half:])  # projected by the new dispatch
    with psycopg.connect(url, autocommit=True) as conn:
        assert_same(snapshot(conn), served.live)
        assert rebuild(conn) == len(served.events)
        assert_same(snapshot(conn), served.live)


def test_definitions_are_applied_once_and_again_only_when_changed(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_database_url
    shipped = available_definitions()
    migrate(url)

    def installed() -> dict[str, tuple[str, Any]]:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT name, checksum, applied_at FROM duragraph.schema_definitions"
            ).fetchall()
        return {name: (checksum, at) for name, checksum, at in rows}

    def project_graph() -> str:
        with psycopg.connect(url) as conn:
            [(body,)] = conn.execute("SELECT prosrc FROM pg_proc WHERE proname = 'project_graph'").fetchall()
        return str(body)

    first = installed()
    assert {name: checksum for name, (checksum, _) in first.items()} == {d.name: d.checksum for d in shipped}
    # Someone edits a projection by hand: nothing shipped changed, so nothing is applied again.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE OR REPLACE FUNCTION duragraph.project_graph(e duragraph.events) RETURNS void "
            "LANGUAGE plpgsql AS $$ BEGIN END $$"
        )
    assert migrate(url) == []
    assert installed() == first
    assert "graph_registered" not in project_graph()
    # A changed file is applied again, and only that one.
    changed = [Definition(d.name, d.sql + "\n-- changed\n") if d.name == "graphs.sql" else d for d in shipped]
    monkeypatch.setattr(schema, "available_definitions", lambda: changed)
    assert migrate(url) == []
    again = installed()
    assert "graph_registered" in project_graph()
    assert again["graphs.sql"][0] == changed[[d.name for d in changed].index("graphs.sql")].checksum
    assert again["graphs.sql"][1] > first["graphs.sql"][1]
    assert {k: v for k, v in again.items() if k != "graphs.sql"} == {
        k: v for k, v in first.items() if k != "graphs.sql"
    }
    # A definition no longer shipped is forgotten (a migration drops what it defined).
    monkeypatch.setattr(
        schema, "available_definitions", lambda: [d for d in changed if d.name != "graphs.sql"]
    )
    migrate(url)
    assert "graphs.sql" not in installed()


def test_definitions_switch_together_with_the_last_migration(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_database_url
    _old_schema(url, monkeypatch)
    broken = [*available_definitions(), Definition("zz_broken.sql", "SELECT 1/0;")]
    monkeypatch.setattr(schema, "available_definitions", lambda: broken)
    with pytest.raises(schema.MigrationError, match="division by zero"):
        migrate(url)
    # Nothing of the upgrade happened: the old mechanism is whole and still projects.
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT max(version) FROM duragraph.schema_migrations").fetchone() == (
            LAST_OLD_MIGRATION,
        )
        assert conn.execute("SELECT count(*) FROM duragraph.schema_definitions").fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM pg_proc WHERE proname = 'project_lifecycle'"
        ).fetchone() == (1,)
        dataset = uuid.uuid4()
        conn.execute(
            "SELECT duragraph.append_events(%s, 'dataset', 0, %s::jsonb)",
            (
                f"dataset:{dataset}",
                f'[{{"event_id": "{uuid.uuid4()}", "type": "dataset_created", "data": {{"name": "d"}}}}]',
            ),
        )
        assert conn.execute("SELECT name FROM duragraph.datasets").fetchall() == [("d",)]
    monkeypatch.undo()
    assert migrate(url) == UPGRADE


def test_the_runtime_role_finds_the_definitions_current_and_cannot_change_them(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role, password = f"runtime_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    ensure_login_role(database_url, role, password)
    grant_runtime_privileges(database_url, role)
    params = psycopg.conninfo.conninfo_to_dict(database_url)
    runtime_url = psycopg.conninfo.make_conninfo(
        **{**{k: str(v) for k, v in params.items() if v is not None}, "user": role, "password": password}
    )
    try:
        # What every API server and worker does at start: nothing to do, and nothing done.
        assert migrate(runtime_url) == []
        changed = [Definition(d.name, d.sql + "\n-- changed\n") for d in available_definitions()]
        monkeypatch.setattr(schema, "available_definitions", lambda: changed)
        with pytest.raises(schema.MigrationError, match="permission denied"):
            migrate(runtime_url)
        assert migrate(database_url) == []  # the owner installs them
        monkeypatch.undo()
        assert migrate(database_url) == []
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


async def test_one_trigger_dispatches_each_event_to_the_projection_of_its_kind(
    pg_store: PostgresEventStore, database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        triggers = conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'duragraph.events'::regclass AND NOT tgisinternal"
        ).fetchall()
        [(dispatch,)] = conn.execute("SELECT prosrc FROM pg_proc WHERE proname = 'project'").fetchall()
    assert triggers == [("events_project",)]
    # The dispatch calls one projection per stream kind, each once, in the documented order.
    called = re.findall(r"WHEN '(\w+)' THEN\s+PERFORM duragraph\.project_(\w+)\(e\)", dispatch)
    assert called == [(kind, kind) for kind in KNOWN_KINDS]
    defined = {
        name
        for d in available_definitions()
        for name in re.findall(r"FUNCTION duragraph\.project_(\w+)\(e duragraph\.events\)", d.sql)
    }
    assert defined == set(KNOWN_KINDS)

    # What the old mechanism left to the order of trigger names: an experiment's runner is set
    # by an event appended together with its creation.
    experiment = uuid.uuid4()
    created = {
        "name": "e",
        "dataset_id": str(uuid.uuid4()),
        "dataset_name": "d",
        "dataset_version": 1,
        "assistant_id": str(uuid.uuid4()),
        "graph_id": "g",
        "example_count": 0,
    }
    await pg_store.append(
        f"experiment:{experiment}",
        0,
        [
            NewEvent(ev.EXPERIMENT_CREATED, created),
            NewEvent(ev.EXPERIMENT_RUN_REQUESTED, {"runner": "server"}),
        ],
    )
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT runner FROM duragraph.experiments").fetchall() == [("server",)]


def test_the_served_log_is_not_trivial(served: Served) -> None:
    types = {row[4] for row in served.events}
    kinds = {row[1].split(":")[0] for row in served.events}
    assert kinds == set(KNOWN_KINDS)
    for expected in (
        "run_created",
        "run_started",
        "step_planned",
        "node_completed",
        "node_failed",
        "subgraph_started",
        "run_interrupted",
        "run_resumed",
        "run_cancel_requested",
        "run_cancelled",
        "run_completed",
        "run_failed",
        "state_updated",
        "run_deleted",
        "thread_created",
        "thread_updated",
        "thread_run_added",
        "thread_deleted",
        "assistant_created",
        "assistant_updated",
        "assistant_deleted",
        "graph_registered",
        "dataset_created",
        "dataset_version_added",
        "dataset_deleted",
        "experiment_created",
        "experiment_result_recorded",
        "experiment_run_requested",
        "experiment_completed",
        "cron_created",
        "cron_updated",
        "cron_fired",
        "cron_deleted",
    ):
        assert expected in types, expected
