"""The store's contract on real PostgreSQL, through LangGraph's own ``BaseStore`` interface
(``duragraph_lab.langgraph.store.PostgresStore``): every operation, filters (numbers compared as
numbers), nested namespaces, namespace listing with prefix/suffix/depth/wildcards, TTL expiry and
refresh, batches, two writers at once, sync calls from threads. The database is used as the
runtime role (a non-superuser with DML rights only), as servers and workers use it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from langgraph.store.base import GetOp, Item, ListNamespacesOp, MatchCondition, PutOp, SearchItem, SearchOp

from duragraph_lab.control.item_store import StoreSettings, TTLSweeper
from duragraph_lab.control.item_values import InvalidStoreRequest
from duragraph_lab.langgraph.store import PostgresStore
from duragraph_lab.store import open_pool
from duragraph_lab.store.roles import ensure_login_role, grant_runtime_privileges

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def runtime_url(database_url: str) -> Iterator[str]:
    role, password = f"store_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    ensure_login_role(database_url, role, password)
    grant_runtime_privileges(database_url, role)
    params = {k: str(v) for k, v in psycopg.conninfo.conninfo_to_dict(database_url).items() if v is not None}
    yield psycopg.conninfo.make_conninfo(**{**params, "user": role, "password": password})
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")


@pytest.fixture
async def runtime_pool(runtime_url: str) -> AsyncIterator[Any]:
    pool = await open_pool(runtime_url, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
async def store(runtime_pool: Any) -> PostgresStore:
    return PostgresStore(runtime_pool)  # on the pool's loop, as a worker builds it


def rows(database_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        return [
            (str(p), str(k))
            for p, k in conn.execute("SELECT prefix, key FROM duragraph.store_items ORDER BY 1, 2").fetchall()
        ]


# -- put, get, delete ------------------------------------------------------------------------------
async def test_put_get_update_delete(store: PostgresStore) -> None:
    ns = ("users", "u1", "memories")
    assert await store.aget(ns, "m1") is None
    await store.aput(ns, "m1", {"text": "likes tea", "n": 1, "tags": ["a", "b"], "deep": {"x": None}})
    first = await store.aget(ns, "m1")
    assert isinstance(first, Item)
    assert first.namespace == ns and first.key == "m1"
    assert first.value == {"text": "likes tea", "n": 1, "tags": ["a", "b"], "deep": {"x": None}}
    assert first.created_at == first.updated_at and first.created_at.tzinfo is not None

    await asyncio.sleep(0.01)
    await store.aput(ns, "m1", {"text": "likes coffee"})
    second = await store.aget(ns, "m1")
    assert second is not None and second.value == {"text": "likes coffee"}
    assert second.created_at == first.created_at and second.updated_at > first.updated_at

    await store.adelete(ns, "m1")
    assert await store.aget(ns, "m1") is None
    await store.adelete(ns, "m1")  # deleting what is not there is not an error
    # Keys are strings, as BaseStore makes them; another namespace is another item.
    await store.aput(ns, 7, {"v": 1})  # type: ignore[arg-type]
    assert (await store.aget(ns, "7")).value == {"v": 1}  # type: ignore[union-attr]
    assert await store.aget(("users", "u2", "memories"), "7") is None


async def test_values_round_trip_as_json(store: PostgresStore) -> None:
    value = {
        "unicode": "ünïcödé ✓ 🌍",
        "big": 2**70,
        "float": 0.1,
        "neg": -3,
        "bool": True,
        "null": None,
        "nested": {"list": [1, [2, {"x": "y"}]], "empty": {}},
        "__dg__": "datetime",  # the event codec's tag means nothing in a stored value
        "periods.in.keys": "fine",
    }
    await store.aput(("json",), "k", value)
    item = await store.aget(("json",), "k")
    assert item is not None and item.value == value


@pytest.mark.parametrize(
    ("namespace", "message"),
    [
        (("a.b",), "(?i)period"),
        (("",), "(?i)empty"),
        ((), "(?i)cannot be empty"),
        (("langgraph", "x"), "(?i)langgraph"),
        (("a\x00",), "NUL"),
    ],
)
async def test_bad_namespaces_are_refused(
    store: PostgresStore, database_url: str, namespace: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await store.aput(namespace, "k", {"v": 1})
    assert rows(database_url) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"when": object()}, r"at \$\.when .*not JSON"),
        ({"x": float("nan")}, "JSON cannot hold"),
        ({"x": ["ok", "a\x00b"]}, r"\$\.x\[1\] contains a NUL"),
        ({1: "int key"}, "is not a string"),
        (["not", "an", "object"], "JSON object"),
    ],
)
async def test_values_that_are_not_json_are_refused(
    store: PostgresStore, database_url: str, value: Any, message: str
) -> None:
    with pytest.raises(InvalidStoreRequest, match=message):
        await store.aput(("ns",), "k", value)
    assert rows(database_url) == []


async def test_vector_index_is_refused_not_ignored(store: PostgresStore, database_url: str) -> None:
    with pytest.raises(InvalidStoreRequest, match="vector index"):
        await store.aput(("ns",), "k", {"text": "x"}, index=["text"])
    await store.aput(("ns",), "k", {"text": "x"}, index=False)
    await store.aput(("ns",), "k2", {"text": "x"}, index=[])  # no fields: nothing to embed
    assert rows(database_url) == [("ns", "k"), ("ns", "k2")]
    with pytest.raises(InvalidStoreRequest, match=r"store\.index .*not supported"):
        StoreSettings.from_langgraph({"index": {"dims": 3, "embed": "fake:embeddings"}})
    with pytest.raises(InvalidStoreRequest, match=r"store\.ttl\.nope"):
        StoreSettings.from_langgraph({"ttl": {"nope": 1}})
    assert StoreSettings.from_langgraph(
        {"ttl": {"default_ttl": 5, "refresh_on_read": False}}
    ) == StoreSettings(default_ttl=5, refresh_on_read=False)


# -- search --------------------------------------------------------------------------------------------
async def test_search_by_namespace_prefix_newest_first_with_paging(store: PostgresStore) -> None:
    for ns, key in [
        (("docs", "a"), "1"),
        (("docs", "a", "deep"), "2"),
        (("docs", "b"), "3"),
        (("docsx",), "4"),  # a label that merely starts like one is another namespace
        (("do_s",), "5"),  # LIKE's wildcards in a label are literal
        (("other",), "6"),
    ]:
        await store.aput(ns, key, {"key": key})
        await asyncio.sleep(0.002)

    def keys(found: list[SearchItem]) -> list[str]:
        return [i.key for i in found]

    assert keys(await store.asearch(("docs",))) == ["3", "2", "1"]
    assert keys(await store.asearch(("docs", "a"))) == ["2", "1"]
    assert keys(await store.asearch(("do_s",))) == ["5"]
    assert keys(await store.asearch(())) == ["6", "5", "4", "3", "2", "1"]
    assert keys(await store.asearch((), limit=2, offset=1)) == ["5", "4"]
    assert keys(await store.asearch((), limit=3, offset=5)) == ["1"]
    found = await store.asearch(("docs", "b"))
    assert isinstance(found[0], SearchItem) and found[0].score is None
    assert found[0].namespace == ("docs", "b") and found[0].value == {"key": "3"}
    # No vector index: a query does not change the answer (as in LangGraph's stores without one).
    assert keys(await store.asearch(("docs",), query="what about b?")) == ["3", "2", "1"]


async def test_filters(store: PostgresStore) -> None:
    items: dict[str, dict[str, Any]] = {
        "a": {"n": 9, "s": "apple", "kind": "fruit", "meta": {"lang": "en", "v": 2}, "tags": ["x", "y"]},
        "b": {"n": 10, "s": "Banana", "kind": "fruit", "meta": {"lang": "fr"}, "tags": ["x"]},
        "c": {"n": 100.5, "s": "cherry", "kind": None, "meta": "flat"},
        "d": {"n": "11", "s": 5},  # a number as text, a string field holding a number
        "e": {"other": True},
    }
    for key, value in items.items():
        await store.aput(("f",), key, value)

    async def match(filter: dict[str, Any]) -> list[str]:
        return sorted(i.key for i in await store.asearch(("f",), filter=filter, limit=50))

    # Numbers compare as numbers (LangGraph's PostgresStore would put "10" before "9").
    assert await match({"n": {"$gt": 9}}) == ["b", "c"]
    assert await match({"n": {"$gte": 9, "$lt": 100}}) == ["a", "b"]
    assert await match({"n": {"$lte": 10.0}}) == ["a", "b"]
    assert await match({"n": 10}) == ["b"]
    assert await match({"n": {"$eq": 10.0}}) == ["b"]
    # Strings compare with strings, by code point ("B" < "a"); other types never match a range.
    assert await match({"s": {"$gt": "apple"}}) == ["c"]
    assert await match({"s": {"$lt": "b"}}) == ["a", "b"]
    assert await match({"n": {"$gt": "10"}}) == ["d"]
    # Equality and $ne; a missing field equals null.
    assert await match({"kind": "fruit"}) == ["a", "b"]
    assert await match({"kind": None}) == ["c", "d", "e"]
    assert await match({"kind": {"$ne": "fruit"}}) == ["c", "d", "e"]
    assert await match({"kind": {"$ne": None}}) == ["a", "b"]
    # Nested objects match key by key (the item's field must be an object); lists element-wise.
    assert await match({"meta": {"lang": "en"}}) == ["a"]
    assert await match({"meta": {"v": {"$gte": 2}}}) == ["a"]
    assert await match({"meta": {"lang": {"$ne": "en"}}}) == ["b"]
    assert await match({"meta": {}}) == ["a", "b"]
    assert await match({"tags": ["x", "y"]}) == ["a"]
    assert await match({"tags": ["x"]}) == ["b"]
    assert await match({"tags": [{"$ne": "y"}]}) == ["b"]
    assert await match({"meta": {"$eq": {"lang": "fr"}}}) == ["b"]
    # Several fields: all of them.
    assert await match({"kind": "fruit", "n": {"$gt": 9.5}}) == ["b"]
    assert await match({"no_such_field": 1}) == []


@pytest.mark.parametrize(
    ("filter", "message"),
    [
        ({"n": {"$in": [1, 2]}}, "unsupported filter operator '\\$in'"),
        ({"n": {"$gt": 1, "x": 2}}, "unsupported filter operator 'x'"),
        ({"$or": [{"n": 1}]}, "logical operators"),
        ({"n": {"$gt": None}}, "number or a string"),
        ({"n": {"$lt": [1]}}, "number or a string"),
        ({"n": {"$gt": True}}, "number or a string"),
        ({"n": float("inf")}, "JSON cannot hold"),
        ({"n": {"$eq": object()}}, "not JSON"),
    ],
)
async def test_invalid_filters_are_errors(store: PostgresStore, filter: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidStoreRequest, match=message):
        await store.asearch(("f",), filter=filter)


# -- list namespaces ----------------------------------------------------------------------------------
async def test_list_namespaces(store: PostgresStore) -> None:
    for ns in [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "x", "c"),
        ("a", "b"),
        ("B", "b"),  # code-point order: upper case first
        ("z",),
        ("users", "u1", "memories"),
        ("users", "u2", "memories"),
        ("users", "u2", "prefs"),
    ]:
        await store.aput(ns, "k", {"v": 1})
    await store.aput(("users", "u3", "memories"), "k", {"v": 1})
    await store.adelete(("users", "u3", "memories"), "k")  # an emptied namespace is gone

    everything = await store.alist_namespaces()
    assert everything == [
        ("B", "b"),
        ("a", "b"),
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "x", "c"),
        ("users", "u1", "memories"),
        ("users", "u2", "memories"),
        ("users", "u2", "prefs"),
        ("z",),
    ]
    assert await store.alist_namespaces(prefix=("a", "b")) == [("a", "b"), ("a", "b", "c"), ("a", "b", "d")]
    assert await store.alist_namespaces(prefix=("a", "*", "c")) == [("a", "b", "c"), ("a", "x", "c")]
    assert await store.alist_namespaces(suffix=("c",)) == [("a", "b", "c"), ("a", "x", "c")]
    assert await store.alist_namespaces(suffix=("*", "memories")) == [
        ("users", "u1", "memories"),
        ("users", "u2", "memories"),
    ]
    assert await store.alist_namespaces(prefix=("users",), suffix=("prefs",)) == [("users", "u2", "prefs")]
    assert await store.alist_namespaces(prefix=("*", "b")) == [
        ("B", "b"),
        ("a", "b"),
        ("a", "b", "c"),
        ("a", "b", "d"),
    ]
    # max_depth truncates, then duplicates go.
    assert await store.alist_namespaces(max_depth=1) == [("B",), ("a",), ("users",), ("z",)]
    assert await store.alist_namespaces(prefix=("a",), max_depth=2) == [("a", "b"), ("a", "x")]
    assert await store.alist_namespaces(prefix=("users",), max_depth=2, limit=1, offset=1) == [
        ("users", "u2")
    ]
    assert await store.alist_namespaces(limit=2, offset=3) == [("a", "b", "d"), ("a", "x", "c")]
    assert await store.alist_namespaces(prefix=("a", "b", "c", "d")) == []
    assert await store.alist_namespaces(prefix=("%",)) == []
    with pytest.raises(InvalidStoreRequest, match="max_depth"):
        await store.alist_namespaces(max_depth=0)


# -- TTL -------------------------------------------------------------------------------------------
async def test_ttl_expiry_refresh_and_sweep(store: PostgresStore, database_url: str) -> None:
    ttl = 2 / 60  # 2 s
    ns = ("ttl",)
    await store.aput(ns, "refreshed", {"v": 1}, ttl=ttl)
    await store.aput(ns, "read_without_refresh", {"v": 2}, ttl=ttl)
    await store.aput(ns, "searched", {"v": 3}, ttl=ttl)
    await store.aput(ns, "forever", {"v": 4})
    await asyncio.sleep(0.5)
    assert await store.aget(ns, "read_without_refresh", refresh_ttl=False) is not None
    for _ in range(6):  # reads every 0.5 s keep the other two alive well past their TTL
        assert await store.aget(ns, "refreshed") is not None
        assert [i.key for i in await store.asearch(ns, filter={"v": 3})] == ["searched"]
        await asyncio.sleep(0.5)
    assert await store.aget(ns, "read_without_refresh", refresh_ttl=False) is None
    assert sorted(i.key for i in await store.asearch(ns)) == ["forever", "refreshed", "searched"]
    await asyncio.sleep(2.1)
    # Expired: hidden from every read at once, deleted by the sweeper.
    assert await store.aget(ns, "refreshed") is None
    assert [i.key for i in await store.asearch(ns)] == ["forever"]
    assert await store.alist_namespaces() == [("ttl",)]
    assert len(rows(database_url)) == 4
    assert await store.sweep_ttl() == 3
    assert rows(database_url) == [("ttl", "forever")]


async def test_an_expired_item_written_again_is_new(store: PostgresStore) -> None:
    await store.aput(("t",), "k", {"v": 1}, ttl=0.2 / 60)
    first = await store.aget(("t",), "k")
    await asyncio.sleep(0.3)
    assert await store.aget(("t",), "k") is None
    await store.aput(("t",), "k", {"v": 2})
    again = await store.aget(("t",), "k")
    assert first is not None and again is not None and again.value == {"v": 2}
    assert again.created_at > first.created_at
    await asyncio.sleep(0.3)
    assert await store.aget(("t",), "k") is not None  # no TTL now


async def test_default_ttl_and_refresh_setting(runtime_pool: Any, database_url: str) -> None:
    store = PostgresStore(runtime_pool, settings=StoreSettings(default_ttl=0.4 / 60, refresh_on_read=False))
    assert store.ttl_config["default_ttl"] == 0.4 / 60
    await store.aput(("d",), "default", {"v": 1})
    await store.aput(("d",), "none", {"v": 1}, ttl=None)
    await asyncio.sleep(0.25)
    assert await store.aget(("d",), "default") is not None  # no refresh by default now
    assert await store.aget(("d",), "none") is not None
    await asyncio.sleep(0.25)
    assert await store.aget(("d",), "default") is None
    assert await store.aget(("d",), "none") is not None
    with pytest.raises(InvalidStoreRequest, match="positive number of minutes"):
        await store.aput(("d",), "k", {"v": 1}, ttl=-1)


# -- batches -----------------------------------------------------------------------------------
async def test_a_batch_reads_before_it_writes_and_the_last_write_wins(store: PostgresStore) -> None:
    await store.aput(("b",), "k", {"v": 0})
    results = await store.abatch(
        [
            PutOp(("b",), "k", {"v": 1}),
            GetOp(("b",), "k"),
            PutOp(("b",), "k", {"v": 2}),
            PutOp(("b",), "gone", {"v": 1}),
            PutOp(("b",), "gone", None),
            SearchOp(("b",)),
            ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("b",)),)),
        ]
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Item) and results[1].value == {"v": 0}
    assert [i.value for i in results[5]] == [{"v": 0}]  # type: ignore[union-attr]
    assert results[6] == [("b",)]
    assert (await store.aget(("b",), "k")).value == {"v": 2}  # type: ignore[union-attr]
    assert await store.aget(("b",), "gone") is None


async def test_a_batch_with_a_bad_operation_writes_nothing(store: PostgresStore, database_url: str) -> None:
    with pytest.raises(InvalidStoreRequest):
        await store.abatch([PutOp(("ok",), "k", {"v": 1}), PutOp(("bad.label",), "k", {"v": 1})])
    with pytest.raises(InvalidStoreRequest):
        await store.abatch([PutOp(("ok",), "k", {"v": 1}), SearchOp(("ok",), filter={"v": {"$regex": "x"}})])
    assert rows(database_url) == []


# -- concurrency -----------------------------------------------------------------------------------
async def test_two_writers_at_once(runtime_pool: Any) -> None:
    """Two stores (as two workers) write overlapping keys in opposite orders, in batches, while
    a reader refreshes TTLs: no deadlock surfaces, no write is lost, the last batch of a key wins."""
    one, two = PostgresStore(runtime_pool), PostgresStore(runtime_pool)
    keys = [f"k{i}" for i in range(20)]

    async def writer(store: PostgresStore, name: str, order: list[str]) -> None:
        for round_ in range(15):
            await store.abatch([PutOp(("c",), k, {"by": name, "round": round_}, ttl=1.0) for k in order])

    async def reader(store: PostgresStore) -> None:
        for _ in range(30):
            await store.abatch([GetOp(("c",), k) for k in reversed(keys)])
            await store.asearch(("c",), limit=20)

    await asyncio.gather(writer(one, "one", keys), writer(two, "two", keys[::-1]), reader(one))
    final = {i.key: i.value for i in await one.asearch(("c",), limit=50)}
    assert set(final) == set(keys)
    assert all(v["round"] == 14 for v in final.values())
    # Each batch was atomic: every key carries the writer of whichever batch committed last.
    assert len({v["by"] for v in final.values()}) == 1


async def test_concurrent_puts_of_one_key_from_two_stores(runtime_pool: Any) -> None:
    one, two = PostgresStore(runtime_pool), PostgresStore(runtime_pool)
    await asyncio.gather(
        *(s.aput(("race",), "k", {"n": i}) for i in range(40) for s in (one, two)),
    )
    item = await one.aget(("race",), "k")
    assert item is not None and 0 <= item.value["n"] < 40


# -- sync calls ----------------------------------------------------------------------------------
async def test_sync_calls_from_threads_and_refused_on_the_loop(store: PostgresStore) -> None:
    errors: list[BaseException] = []

    def sync_node(i: int) -> None:
        try:
            store.put(("sync", str(i)), "k", {"i": i}, ttl=5)
            item = store.get(("sync", str(i)), "k")
            assert item is not None and item.value == {"i": i}
            assert [x.key for x in store.search(("sync", str(i)))] == ["k"]
            assert ("sync", str(i)) in store.list_namespaces(prefix=("sync",))
            store.delete(("sync", str(i)), "k")
            assert store.get(("sync", str(i)), "k") is None
        except BaseException as err:  # reported to the test below
            errors.append(err)

    threads = [threading.Thread(target=sync_node, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    started = time.monotonic()
    while any(t.is_alive() for t in threads):  # the loop stays free to run the batches
        await asyncio.sleep(0.01)
        assert time.monotonic() - started < 30
    assert errors == []
    # An async node that runs its own loop in a thread (asyncio.run) works too.
    assert await asyncio.to_thread(asyncio.run, store.aget(("none",), "k")) is None
    with pytest.raises(asyncio.InvalidStateError, match="use the async method"):
        store.get(("sync",), "k")


def test_a_store_built_outside_a_loop_says_how_to_use_it(database_url: str) -> None:
    async def build() -> tuple[Any, PostgresStore]:
        pool = await open_pool(database_url)
        return pool, PostgresStore(pool)

    async def close(pool: Any) -> None:
        await pool.close()

    loop = asyncio.new_event_loop()
    try:
        pool, _ = loop.run_until_complete(build())
        unbound = PostgresStore(pool)  # no running loop here
        with pytest.raises(RuntimeError, match="no event loop yet"):
            unbound.get(("x",), "k")
        loop.run_until_complete(unbound.aget(("x",), "k"))  # now bound to the pool's loop
        loop.run_until_complete(close(pool))
    finally:
        loop.close()


async def test_the_sweeper_deletes_expired_items_in_the_background(
    store: PostgresStore, runtime_pool: Any, database_url: str
) -> None:
    """Two sweepers at once (two API servers) share the work; a pass that fails is retried."""
    for batch in range(5):  # 2,500 items: more than one sweep transaction's worth
        await store.abatch([PutOp(("sweep", str(batch)), str(k), {"k": k}, ttl=0.3 / 60) for k in range(500)])
    await store.aput(("sweep",), "forever", {"v": 1})
    sweepers = [
        TTLSweeper(store.items, interval=0.2),
        TTLSweeper(PostgresStore(runtime_pool).items, interval=0.2),
    ]
    for sweeper in sweepers:
        sweeper.start()
    try:
        deadline = time.monotonic() + 20
        while len(rows(database_url)) > 1:
            assert time.monotonic() < deadline, len(rows(database_url))
            await asyncio.sleep(0.1)
    finally:
        for sweeper in sweepers:
            await sweeper.stop()
    assert rows(database_url) == [("sweep", "forever")]
    assert sum(s.swept for s in sweepers) == 2500
    assert all(s.last_error is None for s in sweepers)

    await runtime_pool.close()  # the database is away: the pass fails, is recorded, raises nothing
    assert await sweepers[0].sweep() == 0
    assert sweepers[0].last_error is not None
