"""Assistants through the control plane, on PostgreSQL: a graph's default assistant, created when
a worker registers the graph, and an assistant created by a request are the same event with the
same payload (one writer of ``assistant_created``); registering again writes nothing."""

from __future__ import annotations

from typing import TypedDict

import pytest

from duragraph_lab.control.assistants import Assistants, NewAssistant
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.assistants import default_assistant_id
from duragraph_lab.domain.errors import Conflict, NotFound
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START
from duragraph_lab.store import PostgresEventStore
from duragraph_lab.store.queries.assistants import PgAssistants, PgGraphs
from duragraph_lab.worker.registry import graph_registry


class Count(TypedDict, total=False):
    n: int


def counter() -> CompiledGraph:
    g = StateGraph(Count)
    g.add_node("add", lambda s: {"n": s.get("n", 0) + 1})
    g.add_edge(START, "add")
    g.add_edge("add", END)
    return g.compile(name="counter")


def assistants(store: PostgresEventStore) -> Assistants:
    return Assistants(store, PgAssistants(store), PgGraphs(store))


async def test_registration_and_a_request_create_assistants_with_one_payload_shape(
    pg_store: PostgresEventStore,
) -> None:
    registry = graph_registry(pg_store)
    first = await registry.register(counter(), registered_by="worker-1")
    assert first.changed and first.assistant_id == default_assistant_id("counter")
    made = await assistants(pg_store).create(
        NewAssistant("counter", name="mine", description="by hand", metadata={"team": "a"})
    )

    default = (await pg_store.read_stream(f"assistant:{first.assistant_id}"))[0]
    requested = (await pg_store.read_stream(f"assistant:{made['assistant_id']}"))[0]
    assert default.type == requested.type == ev.ASSISTANT_CREATED
    assert default.data.keys() == requested.data.keys()
    assert default.data == {
        "assistant_id": first.assistant_id,
        "graph_id": "counter",
        "name": "counter",
        "description": None,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
    }
    assert requested.data["description"] == "by hand" and requested.data["metadata"] == {"team": "a"}
    shown = await assistants(pg_store).get("counter")  # a graph id: its default assistant
    assert (shown["assistant_id"], shown["version"], shown["metadata"]) == (
        first.assistant_id,
        1,
        {"created_by": "system"},
    )

    again = await registry.register(counter(), registered_by="worker-2")
    assert not again.changed
    assert len(await pg_store.read_stream(f"assistant:{first.assistant_id}")) == 1


async def test_a_deleted_default_assistant_stays_deleted_when_the_graph_registers_again(
    pg_store: PostgresEventStore,
) -> None:
    registry = graph_registry(pg_store)
    await registry.register(counter(), registered_by="worker-1")
    await assistants(pg_store).delete("counter")
    await registry.register(counter(), registered_by="worker-1")
    with pytest.raises(NotFound):
        await assistants(pg_store).get("counter")


async def test_creating_an_assistant_needs_a_registered_graph_and_a_free_id(
    pg_store: PostgresEventStore,
) -> None:
    with pytest.raises(NotFound, match="graph 'counter' is not registered"):
        await assistants(pg_store).create(NewAssistant("counter"))
    await graph_registry(pg_store).register(counter(), registered_by="worker-1")
    taken = NewAssistant("counter", assistant_id=default_assistant_id("counter"))
    with pytest.raises(Conflict, match="already exists"):
        await assistants(pg_store).create(taken)
    kept = await assistants(pg_store).create(
        NewAssistant("counter", assistant_id=default_assistant_id("counter"), if_exists="do_nothing")
    )
    assert kept["metadata"] == {"created_by": "system"}


async def test_a_graph_and_its_default_assistant_are_registered_together(
    pg_store: PostgresEventStore,
) -> None:
    """One transaction: the graph's topology and its default assistant commit together, so a run
    can be created by graph id as soon as either shows; workers registering the same graph at
    the same moment record it once."""
    import asyncio

    results = await asyncio.gather(
        *(graph_registry(pg_store).register(counter(), registered_by=f"worker-{i}") for i in range(4))
    )
    assert sum(r.changed for r in results) == 1
    assert {r.assistant_id for r in results} == {default_assistant_id("counter")}
    events = await pg_store.read_all(types=[ev.GRAPH_REGISTERED, ev.ASSISTANT_CREATED])
    assert sorted(e.type for e in events) == [ev.ASSISTANT_CREATED, ev.GRAPH_REGISTERED]
    # Both in one commit: the same transaction id on both rows.
    async with pg_store.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(DISTINCT xmin::text) FROM duragraph.events WHERE seq = ANY(%s)",
            ([e.seq for e in events],),
        )
        row = await cur.fetchone()
    assert row is not None and row[0] == 1
    # A deleted default assistant stays deleted when the graph is registered again.
    await assistants(pg_store).delete(default_assistant_id("counter"))
    again = await graph_registry(pg_store).register(counter(), registered_by="worker-9")
    assert not again.changed
    with pytest.raises(NotFound):
        await assistants(pg_store).get(default_assistant_id("counter"))
