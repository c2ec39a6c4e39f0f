"""The store: LangGraph's ``BaseStore`` (long-term memory shared across threads) as DuraGraph
serves it, to graphs (:mod:`duragraph_lab.langgraph.store`) and over HTTP (the /store routes).

Items are ``(namespace, key) -> JSON object``, with the times they were created and last
updated, and an optional time to live (minutes) that reads may refresh. Operations are validated
here, as LangGraph validates them (namespace labels are non-empty strings without a period; the
root label ``langgraph`` is reserved for writes), and carried out in batches by a
:class:`ItemStorePort` (PostgreSQL: :mod:`duragraph_lab.store.item_store`):

- a batch is one transaction: it reads the state before its writes (as LangGraph's stores do),
  then applies its writes, the last write of a key winning; a batch that fails writes nothing;
- expired items are never returned, whether or not the sweeper has deleted them yet (LangGraph's
  ``omit_expired``, always on); the sweeper (:class:`TTLSweeper`) deletes them for good;
- a read with ``refresh_ttl`` gives the items it returns that have a TTL a new expiry, now plus
  their TTL.

Vector search (LangGraph's ``index`` configuration) is not supported: asking for it, in the
configuration or per item, is an :class:`InvalidStoreRequest`. A search's ``query`` without an
index is what it is in LangGraph's own stores without one: the items are returned by recency,
with ``score`` None.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from duragraph_lab.control.item_filter import Condition, parse_filter
from duragraph_lab.control.item_values import InvalidStoreRequest, check_text, encode_value

log = logging.getLogger(__name__)

Namespace = tuple[str, ...]
#: The root label LangGraph reserves for itself (``BaseStore`` refuses writes under it).
RESERVED_ROOT: Final = "langgraph"
#: A wildcard label of a namespace pattern (``list_namespaces``' prefix and suffix).
WILDCARD: Final = "*"
#: The longest TTL accepted, in minutes (about 190 years): anything longer is "forever" (None).
MAX_TTL_MINUTES: Final = 1e8
MAX_PAGE: Final = 10_000
MAX_OFFSET: Final = 1_000_000_000


class _NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"


#: ``ttl`` left out of a put: the store's default TTL applies (None, given, means "no TTL").
NOT_GIVEN: Final = _NotGiven()


@dataclass(frozen=True, slots=True)
class StoredItem:
    namespace: Namespace
    key: str
    value: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    #: Relevance of a search result: always None (no vector search).
    score: float | None = None


# -- operations ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GetItem:
    namespace: Namespace
    key: str
    refresh_ttl: bool


@dataclass(frozen=True, slots=True)
class SearchItems:
    prefix: Namespace  # () : every namespace
    conditions: tuple[Condition, ...]
    limit: int
    offset: int
    refresh_ttl: bool


@dataclass(frozen=True, slots=True)
class PutItem:
    """A write; ``value_json`` None deletes the item."""

    namespace: Namespace
    key: str
    value_json: str | None
    ttl_minutes: float | None = None


@dataclass(frozen=True, slots=True)
class ListNamespaces:
    prefix: tuple[str, ...] | None  # labels or WILDCARD
    suffix: tuple[str, ...] | None
    max_depth: int | None
    limit: int
    offset: int


ItemOp = GetItem | SearchItems | PutItem | ListNamespaces
#: A GetItem's result is an item or None, a SearchItems' a list of items, a ListNamespaces' a list
#: of namespaces, a PutItem's None.
ItemResult = StoredItem | list[StoredItem] | list[Namespace] | None


class ItemStorePort(Protocol):
    """Where items live (PostgreSQL: ``duragraph_lab.store.item_store.PgItemStore``)."""

    async def apply(self, ops: Sequence[ItemOp]) -> list[ItemResult]:
        """Carry out validated operations as one transaction (see the module docstring), the
        results in the order of ``ops``."""
        ...

    async def sweep_expired(self, *, batch_size: int = 1000) -> int:
        """Delete expired items, ``batch_size`` per transaction; how many were deleted."""
        ...


# -- settings -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StoreSettings:
    """LangGraph's ``TTLConfig`` (``langgraph.json``'s ``store.ttl``) for the whole deployment."""

    #: Minutes an item lives when a put gives no ``ttl`` (None: forever).
    default_ttl: float | None = None
    #: Whether reads refresh the TTL of what they return when they do not say.
    refresh_on_read: bool = True
    #: Minutes between two passes of the TTL sweeper (None: no sweeper in this process).
    sweep_interval_minutes: float | None = 5.0

    def __post_init__(self) -> None:
        if self.default_ttl is not None:
            _ttl(self.default_ttl, "default_ttl")
        if self.sweep_interval_minutes is not None and not (
            _is_number(self.sweep_interval_minutes) and self.sweep_interval_minutes > 0
        ):
            raise InvalidStoreRequest(
                f"sweep_interval_minutes must be a positive number of minutes, not {self.sweep_interval_minutes!r}"
            )
        if not isinstance(self.refresh_on_read, bool):
            raise InvalidStoreRequest(f"refresh_on_read must be true or false, not {self.refresh_on_read!r}")

    @classmethod
    def from_langgraph(
        cls, section: Mapping[str, Any] | None, base: StoreSettings | None = None
    ) -> StoreSettings:
        """The ``store`` section of a ``langgraph.json`` over ``base``: ``ttl``
        (``refresh_on_read``, ``default_ttl``, ``sweep_interval_minutes``) is supported; ``index``
        (vector search) and anything unknown is an :class:`InvalidStoreRequest` naming it."""
        base = base or cls()
        if not section:
            return base
        if not isinstance(section, Mapping):
            raise InvalidStoreRequest(
                f"langgraph.json: store must be an object, not {type(section).__name__}"
            )
        unknown = set(section) - {"ttl", "index"}
        if unknown:
            raise InvalidStoreRequest(
                f"langgraph.json: store.{sorted(unknown)[0]} is not a store setting (known: ttl, index)"
            )
        if section.get("index") is not None:
            raise InvalidStoreRequest(
                "langgraph.json: store.index (semantic search over embeddings) is not supported by "
                "DuraGraph Lab's store; remove it (search then filters and orders by recency)"
            )
        ttl = section.get("ttl")
        if ttl is None:
            return base
        if not isinstance(ttl, Mapping):
            raise InvalidStoreRequest(
                f"langgraph.json: store.ttl must be an object, not {type(ttl).__name__}"
            )
        known = {"refresh_on_read", "default_ttl", "sweep_interval_minutes"}
        unknown = set(ttl) - known
        if unknown:
            raise InvalidStoreRequest(
                f"langgraph.json: store.ttl.{sorted(unknown)[0]} is not a TTL setting (known: {', '.join(sorted(known))})"
            )
        try:
            return cls(
                default_ttl=ttl.get("default_ttl", base.default_ttl),
                # null means LangGraph's default here, not "off".
                refresh_on_read=_or(ttl.get("refresh_on_read"), base.refresh_on_read),
                sweep_interval_minutes=_or(ttl.get("sweep_interval_minutes"), base.sweep_interval_minutes),
            )
        except InvalidStoreRequest as err:
            raise InvalidStoreRequest(f"langgraph.json: store.ttl: {err}") from None

    def ttl_config(self) -> dict[str, Any]:
        """As LangGraph's ``TTLConfig``."""
        return {
            "refresh_on_read": self.refresh_on_read,
            "default_ttl": self.default_ttl,
            "sweep_interval_minutes": self.sweep_interval_minutes,
        }


# -- building validated operations ----------------------------------------------------------------
def get_op(namespace: Sequence[str], key: Any, *, refresh_ttl: bool) -> GetItem:
    return GetItem(namespace_of(namespace, "namespace"), key_of(key), _flag(refresh_ttl, "refresh_ttl"))


def put_op(
    namespace: Sequence[str],
    key: Any,
    value: Mapping[str, Any] | None,
    *,
    ttl: float | None = None,
    index: Any = None,
) -> PutItem:
    """A put (``value`` None: a delete). ``index`` may be None, False or empty: per-item index
    fields ask for vector search, which this store does not do."""
    ns = namespace_of(namespace, "namespace")
    if value is not None:
        if not ns:
            raise InvalidStoreRequest("an item's namespace cannot be empty")
        if ns[0] == RESERVED_ROOT:
            raise InvalidStoreRequest(f"the root label {RESERVED_ROOT!r} is reserved (namespace {ns!r})")
    if index is not None and index is not False and not (isinstance(index, list) and not index):
        raise InvalidStoreRequest(
            f"index={index!r}: indexing fields for semantic search needs a vector index, which "
            "DuraGraph Lab's store does not support (leave index out, or pass False)"
        )
    if value is None:
        return PutItem(ns, key_of(key), None, None)
    return PutItem(ns, key_of(key), encode_value(value), None if ttl is None else _ttl(ttl, "ttl"))


def search_op(
    prefix: Sequence[str],
    *,
    filter: Mapping[str, Any] | None = None,
    limit: int = 10,
    offset: int = 0,
    refresh_ttl: bool,
) -> SearchItems:
    return SearchItems(
        namespace_of(prefix, "namespace prefix"),
        parse_filter(filter),
        _count(limit, "limit"),
        _count(offset, "offset", high=MAX_OFFSET),
        _flag(refresh_ttl, "refresh_ttl"),
    )


def list_op(
    *,
    prefix: Sequence[str] | None = None,
    suffix: Sequence[str] | None = None,
    max_depth: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> ListNamespaces:
    if max_depth is not None and (not _is_int(max_depth) or max_depth < 1):
        raise InvalidStoreRequest(f"max_depth must be a positive integer, not {max_depth!r}")
    return ListNamespaces(
        _pattern(prefix, "prefix"),
        _pattern(suffix, "suffix"),
        max_depth,
        _count(limit, "limit"),
        _count(offset, "offset", high=MAX_OFFSET),
    )


def namespace_of(labels: Sequence[str], what: str) -> Namespace:
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise InvalidStoreRequest(f"a {what} is a list of labels, not {type(labels).__name__}")
    out = tuple(labels)
    for label in out:
        if not isinstance(label, str) or not label or "." in label:
            raise InvalidStoreRequest(f"namespace label {label!r} must be a non-empty string without periods")
        check_text(label, f"namespace label {label!r}")
    return out


def key_of(key: Any) -> str:
    # LangGraph's BaseStore turns keys into strings (str(key)); so does this store.
    return check_text(key if isinstance(key, str) else str(key), "the key")


def _pattern(labels: Sequence[str] | None, what: str) -> tuple[str, ...] | None:
    if labels is None:
        return None
    return namespace_of(labels, what) or None  # an empty pattern constrains nothing


def _ttl(minutes: Any, what: str) -> float:
    if not _is_number(minutes) or not math.isfinite(minutes) or minutes <= 0:
        raise InvalidStoreRequest(
            f"{what} is a positive number of minutes (or null: no expiry), not {minutes!r}"
        )
    if minutes > MAX_TTL_MINUTES:
        raise InvalidStoreRequest(
            f"{what} of {minutes!r} minutes is beyond {MAX_TTL_MINUTES:g}: use null for an item that never expires"
        )
    return float(minutes)


def _count(value: Any, what: str, *, high: int = MAX_PAGE) -> int:
    if not _is_int(value) or not 0 <= value <= high:
        raise InvalidStoreRequest(f"{what} must be an integer from 0 to {high}, not {value!r}")
    return int(value)


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidStoreRequest(f"{what} must be true or false, not {value!r}")
    return value


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- the service --------------------------------------------------------------------------------
@dataclass
class ItemStore:
    """The store's commands and queries, with the deployment's TTL settings applied."""

    port: ItemStorePort
    settings: StoreSettings = field(default_factory=StoreSettings)

    def _refresh(self, refresh_ttl: bool | None) -> bool:
        return self.settings.refresh_on_read if refresh_ttl is None else refresh_ttl

    async def batch(self, ops: Sequence[ItemOp]) -> list[ItemResult]:
        """Carry out operations built by :func:`get_op`, :func:`put_op`, :func:`search_op` and
        :func:`list_op`, as one transaction."""
        if not ops:
            return []
        return await self.port.apply(ops)

    async def get(
        self, namespace: Sequence[str], key: str, *, refresh_ttl: bool | None = None
    ) -> StoredItem | None:
        [item] = await self.port.apply([get_op(namespace, key, refresh_ttl=self._refresh(refresh_ttl))])
        assert item is None or isinstance(item, StoredItem)
        return item

    async def put(
        self,
        namespace: Sequence[str],
        key: str,
        value: Mapping[str, Any],
        *,
        ttl: float | _NotGiven | None = NOT_GIVEN,
        index: Any = None,
    ) -> None:
        """Create or replace an item; ``ttl`` left out: the default TTL, None: none."""
        if value is None:
            raise InvalidStoreRequest("an item's value is a JSON object, not null (delete the item instead)")
        minutes = self.settings.default_ttl if isinstance(ttl, _NotGiven) else ttl
        await self.port.apply([put_op(namespace, key, value, ttl=minutes, index=index)])

    async def delete(self, namespace: Sequence[str], key: str) -> None:
        await self.port.apply([put_op(namespace, key, None)])

    async def search(
        self,
        prefix: Sequence[str],
        *,
        filter: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        query: str | None = None,
        refresh_ttl: bool | None = None,
    ) -> list[StoredItem]:
        """Items under the namespace prefix that match ``filter``, most recently updated first.
        ``query`` (semantic search) does not change the answer: there is no vector index."""
        if query is not None:
            check_text(query, "the query")
        op = search_op(
            prefix, filter=filter, limit=limit, offset=offset, refresh_ttl=self._refresh(refresh_ttl)
        )
        [found] = await self.port.apply([op])
        assert isinstance(found, list)
        return found  # type: ignore[return-value]

    async def list_namespaces(
        self,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Namespace]:
        op = list_op(prefix=prefix, suffix=suffix, max_depth=max_depth, limit=limit, offset=offset)
        [found] = await self.port.apply([op])
        assert isinstance(found, list)
        return found  # type: ignore[return-value]

    async def sweep_expired(self) -> int:
        return await self.port.sweep_expired()


class TTLSweeper:
    """Deletes expired items every ``interval`` seconds, in the background of a server. Several
    sweepers (one per API server) may run at once: each deletes what the others have not locked."""

    def __init__(self, items: ItemStore, interval: float) -> None:
        self.items = items
        self.interval = interval
        self.swept = 0
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="duragraph-store-ttl-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sweep(self) -> int:
        """One pass: how many items it deleted (errors are recorded and logged, not raised: the
        next pass tries again, and expired items are hidden from reads meanwhile)."""
        try:
            count = await self.items.sweep_expired()
        except Exception as err:
            self.last_error = f"{type(err).__name__}: {err}"
            log.info(
                "DuraGraph Lab store: TTL sweep failed (%s); next pass in %gs", self.last_error, self.interval
            )
            return 0
        self.last_error = None
        self.swept += count
        if count:
            log.debug("DuraGraph Lab store: swept %d expired item(s)", count)
        return count

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.sweep()
