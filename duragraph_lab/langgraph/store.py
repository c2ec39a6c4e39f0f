"""DuraGraph's store as a LangGraph ``BaseStore``: what graphs get as ``runtime.store``,
``get_store()``, an injected ``store`` argument or a tool's ``InjectedStore``.

Attach it as LangGraph Platform does, to every graph a run builds::

    from duragraph_lab.langgraph.store import PostgresStore

    store = PostgresStore(event_store)          # a PostgresEventStore, or its psycopg pool
    graph = compiled.copy(update={"store": store})   # or StateGraph.compile(store=store)

One instance per process is enough (it holds no connection of its own: it uses the pool's). It is
async first: ``aget``/``aput``/``asearch``/... run on the pool's event loop, and so do the sync
methods (``get``, ``put``, ...), which LangGraph calls from sync nodes in its worker threads: they
hand the batch to that loop and wait for it. A sync call made *on* that loop would block the loop
it waits for, so it raises at once, saying to use the async method.

Semantics (namespaces, filters, TTL, batches) are those of
:mod:`duragraph_lab.control.item_store`; items live in PostgreSQL, in the same database as the
event log (:mod:`duragraph_lab.store.item_store`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterable
from typing import Any

import psycopg_pool
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from duragraph_lab.control.item_store import (
    ItemOp,
    ItemResult,
    ItemStore,
    StoredItem,
    StoreSettings,
    get_op,
    list_op,
    put_op,
    search_op,
)
from duragraph_lab.control.item_values import InvalidStoreRequest
from duragraph_lab.store.item_store import PgItemStore
from duragraph_lab.store.postgres import PostgresEventStore

__all__ = ["PostgresStore"]


class PostgresStore(BaseStore):
    """A LangGraph ``BaseStore`` over DuraGraph's store.

    ``source``: the event store (:class:`~duragraph_lab.store.postgres.PostgresEventStore`) or
    the psycopg pool whose database holds the store, or an already built
    :class:`~duragraph_lab.control.item_store.ItemStore`. ``settings``: the deployment's TTL
    settings (``StoreSettings.from_langgraph(langgraph_json["store"])``; default: no default TTL,
    reads refresh TTLs). Build it on the event loop that owns the pool (or use it there first)."""

    supports_ttl = True

    def __init__(
        self,
        source: PostgresEventStore | psycopg_pool.AsyncConnectionPool | ItemStore,
        *,
        settings: StoreSettings | None = None,
    ) -> None:
        if isinstance(source, ItemStore):
            self.items = source if settings is None else ItemStore(source.port, settings)
        else:
            pool = source.pool if isinstance(source, PostgresEventStore) else source
            self.items = ItemStore(PgItemStore(pool), settings or StoreSettings())
        self.settings = self.items.settings
        # LangGraph's BaseStore reads these: default TTL of put(), refresh of get()/search().
        self.ttl_config: TTLConfig = TTLConfig(**self.settings.ttl_config())  # type: ignore[typeddict-item]
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None  # set by the first async call

    # -- the two methods LangGraph builds everything else on ---------------------------------
    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ours = [_op(op) for op in ops]  # validated before anything runs: bad input writes nothing
        running = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = running
        if running is self._loop:
            results = await self.items.batch(ours)
        else:
            # An async node on a loop of its own (asyncio.run in a thread): the pool belongs to
            # the store's loop, so the batch runs there.
            future = asyncio.run_coroutine_threadsafe(self.items.batch(ours), self._loop)
            results = await asyncio.wrap_future(future)
        return [_result(r) for r in results]

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ours = [_op(op) for op in ops]
        loop = self._loop
        if loop is None:
            raise RuntimeError(
                "PostgresStore has no event loop yet: build it on the loop that owns its connection "
                "pool, or make an async call (aget, aput, ...) first"
            )
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise asyncio.InvalidStateError(
                "a synchronous store call (get, put, search, ...) on the store's own event loop would "
                "block the loop it waits for: use the async method (await store.aget(...), "
                "store.aput(...), ...) in async code"
            )
        if loop.is_closed():
            raise RuntimeError("PostgresStore's event loop is closed")
        future: concurrent.futures.Future[list[ItemResult]] = asyncio.run_coroutine_threadsafe(
            self.items.batch(ours), loop
        )
        return [_result(r) for r in future.result()]

    async def sweep_ttl(self) -> int:
        """Delete expired items now (the API server also sweeps periodically); how many."""
        return await self.items.sweep_expired()


def _op(op: Op) -> ItemOp:
    """A LangGraph operation as one of ours, validated (:class:`InvalidStoreRequest`, a
    ValueError, when LangGraph's own rules or ours refuse it)."""
    if isinstance(op, GetOp):
        return get_op(op.namespace, op.key, refresh_ttl=op.refresh_ttl)
    if isinstance(op, PutOp):
        return put_op(op.namespace, op.key, op.value, ttl=op.ttl, index=op.index)
    if isinstance(op, SearchOp):
        if op.query is not None and not isinstance(op.query, str):
            raise InvalidStoreRequest(f"a search query is a string, not {type(op.query).__name__}")
        return search_op(
            op.namespace_prefix,
            filter=op.filter,
            limit=op.limit,
            offset=op.offset,
            refresh_ttl=op.refresh_ttl,
        )
    if isinstance(op, ListNamespacesOp):
        paths: dict[str, Any] = {}
        for condition in op.match_conditions or ():
            if condition.match_type not in ("prefix", "suffix"):
                raise InvalidStoreRequest(f"unsupported namespace match type {condition.match_type!r}")
            if condition.match_type in paths:
                raise InvalidStoreRequest(f"more than one {condition.match_type} condition")
            paths[condition.match_type] = condition.path
        return list_op(
            prefix=paths.get("prefix"),
            suffix=paths.get("suffix"),
            max_depth=op.max_depth,
            limit=op.limit,
            offset=op.offset,
        )
    raise InvalidStoreRequest(f"unknown store operation {type(op).__name__}")


def _result(result: ItemResult) -> Result:
    if isinstance(result, StoredItem):
        return _item(result)
    if isinstance(result, list):
        return [
            _search_item(r) if isinstance(r, StoredItem) else r  # namespaces stay tuples
            for r in result
        ]  # type: ignore[return-value]
    return None


def _item(item: StoredItem) -> Item:
    return Item(
        value=item.value,
        key=item.key,
        namespace=item.namespace,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _search_item(item: StoredItem) -> SearchItem:
    return SearchItem(
        namespace=item.namespace,
        key=item.key,
        value=item.value,
        created_at=item.created_at,
        updated_at=item.updated_at,
        score=item.score,
    )
