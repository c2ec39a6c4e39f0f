"""The server extension's Backend, driven without Jupyter: health, schema checks, bus retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from duragraph_lab.api.backend import Backend
from duragraph_lab.bus import Subjects, connect_nats
from duragraph_lab.domain import NewEvent
from duragraph_lab.runtime.config import Settings
from duragraph_lab.runtime.processes import free_port
from duragraph_lab.store import available_migrations
from tests.helpers import eventually, jetstream_messages


@pytest.fixture
async def backend(tmp_path: Path, database_url: str, nats_server: str) -> AsyncIterator[Backend]:
    settings = Settings(
        data_dir=tmp_path / "d", database_url=database_url, nats_url=nats_server, subject_prefix="bk"
    )
    b = Backend(settings)
    b.prepare()
    await b.start()
    await b.wait_ready()
    yield b
    await b.stop()
    nc = await connect_nats(nats_server)
    await nc.jetstream().delete_stream(Subjects("bk").stream_name)
    await nc.close()


async def test_healthy_backend_relays_what_it_writes(backend: Backend) -> None:
    ok, body = await backend.health()
    assert ok, body
    assert body["relay"]["role"] == "active"
    assert not (backend.settings.data_dir / "runtime.json").exists(), "external services: no data dir claimed"
    assert backend.store is not None
    await backend.store.append("run:0195f0a4-0000-7000-8000-00000000000a", 0, [NewEvent("hello")])
    assert backend.relay is not None
    await backend.relay.drain()
    assert backend.nc is not None
    await jetstream_messages(backend.nc, backend.subjects, expect=1)


async def test_a_run_this_server_ends_is_said_to_be_at_rest_at_once(backend: Backend) -> None:
    """A commit of this process that ends a run (its in-process worker's, a cancel of a queued
    run) sends the run's ``at_rest`` message, for those waiting for it (bus.rest); other
    commits do not."""
    from duragraph_lab.domain import events as ev

    assert backend.store is not None and backend.nc is not None
    run = "0195f0a4-0000-7000-8000-00000000000b"
    got: list[bytes] = []

    async def on_msg(msg: Any) -> None:
        got.append(msg.data)

    sub = await backend.nc.subscribe(backend.subjects.at_rest(run), cb=on_msg)
    await backend.nc.flush()
    await backend.store.append(f"run:{run}", 0, [NewEvent("hello")])
    await backend.store.append(f"run:{run}", 1, [ev.run_completed(custom_values={}, ns="sub:1")])
    await asyncio.sleep(0.3)
    assert got == []  # neither an event of no consequence nor a subgraph's end
    await backend.store.append(f"run:{run}", 2, [ev.run_cancelled()])
    await eventually(lambda: got == [b""], timeout=5)
    await sub.unsubscribe()


async def test_outdated_schema_makes_health_fail(backend: Backend, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM duragraph.schema_migrations WHERE version = (SELECT max(version) FROM duragraph.schema_migrations)"
        )
    ok, body = await backend.health()
    assert not ok
    assert body["postgres"]["schema_version"] == len(available_migrations()) - 1
    assert "run duragraph-lab migrate" in body["postgres"]["error"]


async def test_plain_jupyter_without_configuration_explains_instead_of_starting_servers(
    tmp_path: Path,
) -> None:
    b = Backend(Settings(data_dir=tmp_path / "nowhere"))
    b.prepare()
    await b.start()
    ok, body = await b.health()
    await b.stop()
    assert not ok
    assert "run `duragraph-lab dev`" in body["error"]
    assert "c.DuraGraphApp.start_embedded = True" in body["error"]
    assert not (tmp_path / "nowhere").exists(), "nothing created on disk"


async def test_bus_connection_is_retried_until_nats_appears(tmp_path: Path, database_url: str) -> None:
    from duragraph_lab.runtime.nats import EmbeddedNats

    nats = EmbeddedNats(tmp_path / "nats")
    nats.root.mkdir(parents=True)
    port = free_port()
    nats._save_state({"token": "t0ken", "port": port})
    b = Backend(
        Settings(
            data_dir=tmp_path / "d", database_url=database_url, nats_url=f"nats://t0ken@127.0.0.1:{port}"
        )
    )
    b.prepare()  # NATS is checked here...
    assert b.startup_error is not None
    assert "cannot connect to NATS" in b.startup_error
    # ...so start one and prepare again: the API comes up, and the bus retries in the background.
    nats.start()
    try:
        b = Backend(
            Settings(
                data_dir=tmp_path / "d", database_url=database_url, nats_url=f"nats://t0ken@127.0.0.1:{port}"
            )
        )
        b.prepare()
        nats.stop()  # NATS goes away between the check and the connection
        await b.start()
        await eventually(lambda: b.bus_error is not None, timeout=15)
        ok, body = await b.health()
        assert not ok
        assert body["nats"]["error"]
        nats.start()
        await b.wait_ready(timeout=30)
        ok, body = await b.health()
        assert ok, body
    finally:
        await b.stop()
        nats.stop()


async def test_health_reports_the_lag_on_a_standby_and_degrades_past_the_threshold(
    tmp_path: Path, database_url: str, nats_server: str
) -> None:
    """Another server holds the relay lease but publishes nothing (frozen): this server's relay
    stands by, and its /health says how far behind the outbox is and who leads, turning 503 once
    the lag passes the threshold; when the lease expires this server takes over and recovers."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE duragraph.relay_lease SET holder = 'frozen-server', epoch = 7, renewed_at = now(), "
            "expires_at = now() + interval '1 hour'"
        )
    settings = Settings(
        data_dir=tmp_path / "d", database_url=database_url, nats_url=nats_server, subject_prefix="bklag"
    )
    b = Backend(settings, relay_lag_threshold=0.5, relay_lease_ttl=2)
    b.prepare()
    await b.start()
    try:
        await b.wait_ready()
        assert b.relay is not None and b.relay.status.role == "standby"
        ok, body = await b.health()
        assert ok, body
        assert body["relay"]["leader"]["holder"] == "frozen-server"
        assert not body["relay"]["leader"]["this_server"]
        assert (body["relay"]["backlog"], body["relay"]["lag_threshold_seconds"]) == (0, 0.5)
        assert b.store is not None
        await b.store.append("run:0195f0a4-0000-7000-8000-00000000000b", 0, [NewEvent("stuck")])
        await asyncio.sleep(0.7)
        ok, body = await b.health()
        assert not ok
        assert body["status"] == "degraded"
        assert body["relay"]["backlog"] == 1 and body["relay"]["lag_seconds"] > 0.5
        assert body["relay"]["ok"] is False
        message = body["message"]
        assert "events are not reaching NATS: 1 committed event(s) wait in the outbox" in message
        assert "threshold 0.5s" in message and "held by frozen-server" in message
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE duragraph.relay_lease SET expires_at = now() - interval '1 second'")
        await eventually(lambda: b.relay is not None and b.relay.status.role == "active", timeout=5)
        await b.relay.drain()
        ok, body = await b.health()
        assert ok, body
        assert body["relay"]["leader"]["this_server"] and body["relay"]["leader"]["epoch"] == 8
        assert body["message"] is None
    finally:
        await b.stop()
        nc = await connect_nats(nats_server)
        await nc.jetstream().delete_stream(Subjects("bklag").stream_name)
        await nc.close()


async def test_a_graph_id_in_the_project_and_in_the_graphs_setting_is_reported_not_raised(
    tmp_path: Path, database_url: str, nats_server: str
) -> None:
    """Configured in a file (not on the command line, which the CLI checks first): the server
    starts, its worker serves neither graph, and /health says why, naming both places."""
    pytest.importorskip("langgraph")
    from duragraph_lab.langgraph.project import load_project

    root = tmp_path / "project"
    root.mkdir()
    (root / "graph.py").write_text(
        "from typing_extensions import TypedDict\nfrom langgraph.graph import StateGraph, START\n"
        "class S(TypedDict):\n    n: int\n"
        "b = StateGraph(S)\nb.add_node('bump', lambda s: {'n': s['n'] + 1})\nb.add_edge(START, 'bump')\n"
        "graph = b.compile()\n"
    )
    (root / "langgraph.json").write_text('{"graphs": {"chat": "./graph.py:graph"}}')
    settings = Settings(
        data_dir=tmp_path / "d", database_url=database_url, nats_url=nats_server, subject_prefix="bkdup"
    )
    b = Backend(
        settings, graphs=["duragraph_lab.demo.chat:graph"], project=load_project(root / "langgraph.json")
    )
    b.prepare()
    try:
        await b.start()
        await b.wait_ready()
        _, body = await eventually(lambda: _with_error(b), timeout=30)
        assert body["error"] == (
            f"graph id 'chat' is defined twice: in {root / 'langgraph.json'} (graphs.chat) and in "
            "DuraGraphApp.graphs (duragraph_lab.demo.chat:graph); rename one of them or serve it once"
        )
        assert b.worker is None
    finally:
        await b.stop()
        nc = await connect_nats(nats_server)
        await nc.jetstream().delete_stream(Subjects("bkdup").stream_name)
        await nc.close()


async def _with_error(b: Backend) -> tuple[bool, dict[str, Any]] | None:
    ok, body = await b.health()
    return (ok, body) if body.get("error") else None
