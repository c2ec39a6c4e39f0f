"""/store routes (LangGraph Platform's store API): the requests of
:class:`duragraph_lab.control.item_store.ItemStore`, with the bodies and answers the official
``langgraph-sdk`` sends and expects."""

from __future__ import annotations

from typing import Any

from tornado import web

from duragraph_lab.api import models
from duragraph_lab.api.handlers.base import ApiError, DuraGraphHandler
from duragraph_lab.api.jsonout import iso
from duragraph_lab.control.item_store import NOT_GIVEN, StoredItem


def item_json(item: StoredItem, *, scored: bool = False) -> dict[str, Any]:
    """An ``Item`` (``SearchItem`` with ``scored``) as LangGraph's ``Item.dict()`` writes it."""
    out: dict[str, Any] = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
    }
    if scored:
        out["score"] = item.score
    return out


class StoreItemsHandler(DuraGraphHandler):
    @web.authenticated
    async def put(self) -> None:
        body = self.parse(models.StorePut)
        # Left out, the TTL is the store's default; null, the item never expires.
        ttl = body.ttl if "ttl" in body.model_fields_set else NOT_GIVEN
        store = self.backend.item_store
        await self.call(store.put(body.namespace, body.key, body.value, ttl=ttl, index=body.index))
        self.no_content()

    @web.authenticated
    async def get(self) -> None:
        # The SDK sends the namespace dot-joined (labels cannot contain a period).
        raw = self.get_query_argument("namespace", "")
        namespace = raw.split(".") if raw else []
        key = self.get_query_argument("key", "")
        if not key:
            raise ApiError(422, "validation_error", "query parameter key is required")
        refresh = self.query_bool("refresh_ttl") if self.get_query_argument("refresh_ttl", "") else None
        item = await self.call(self.backend.item_store.get(namespace, key, refresh_ttl=refresh))
        self.write_json(None if item is None else item_json(item))

    @web.authenticated
    async def delete(self) -> None:
        body = self.parse(models.StoreDelete)
        await self.call(self.backend.item_store.delete(body.namespace, body.key))
        self.no_content()


class StoreSearchHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.StoreSearch, required=False)
        found = await self.call(
            self.backend.item_store.search(
                body.namespace_prefix or [],
                filter=body.filter,
                limit=body.limit,
                offset=body.offset,
                query=body.query,
                refresh_ttl=body.refresh_ttl,
            )
        )
        self.write_json({"items": [item_json(item, scored=True) for item in found]})


class StoreNamespacesHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.StoreListNamespaces, required=False)
        found = await self.call(
            self.backend.item_store.list_namespaces(
                prefix=body.prefix,
                suffix=body.suffix,
                max_depth=body.max_depth,
                limit=body.limit,
                offset=body.offset,
            )
        )
        self.write_json({"namespaces": [list(ns) for ns in found]})
