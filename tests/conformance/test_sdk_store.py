"""The store through the official ``langgraph-sdk`` (``client.store.*``), async and sync, against
a real ``duragraph-lab serve``: items, search with filters and paging, namespaces, TTL and
``refresh_ttl``, and what the SDK gets for bad input."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from langgraph_sdk.errors import UnprocessableEntityError


def root() -> str:
    """A namespace root of this test's own (the server is shared by the session)."""
    return f"sdk-{uuid.uuid4().hex[:10]}"


@pytest.mark.sdk("store.delete_item", "store.get_item", "store.put_item")
async def test_items_put_get_delete(client: LangGraphClient) -> None:
    ns = [root(), "user-1", "memories"]
    assert await client.store.get_item(ns, "m1") is None
    await client.store.put_item(ns, "m1", {"text": "likes tea", "n": 1})
    item = await client.store.get_item(ns, key="m1")
    assert item["namespace"] == ns and item["key"] == "m1"
    assert item["value"] == {"text": "likes tea", "n": 1}
    assert item["created_at"] == item["updated_at"] and item["created_at"].endswith("+00:00")
    await client.store.put_item(ns, "m1", {"text": "likes coffee"})
    again = await client.store.get_item(ns, "m1")
    assert again["value"] == {"text": "likes coffee"} and again["created_at"] == item["created_at"]
    assert again["updated_at"] > item["updated_at"]
    await client.store.delete_item(ns, "m1")
    assert await client.store.get_item(ns, "m1") is None
    await client.store.delete_item(ns, "m1")  # nothing to delete: still fine


@pytest.mark.sdk("store.put_item", "store.search_items")
async def test_search_filters_and_paging(client: LangGraphClient) -> None:
    top = root()
    for i, n in enumerate([9, 10, 100]):
        await client.store.put_item(
            [top, "docs", f"d{i}"], f"k{i}", {"n": n, "kind": "doc" if i < 2 else "note"}
        )
        await asyncio.sleep(0.002)
    await client.store.put_item([f"{top}x"], "other", {"n": 1000})

    found = await client.store.search_items([top])
    assert [i["key"] for i in found["items"]] == ["k2", "k1", "k0"]  # most recently updated first
    assert all(i["score"] is None for i in found["items"])
    assert found["items"][0]["namespace"] == [top, "docs", "d2"]
    numbers = await client.store.search_items([top], filter={"n": {"$gt": 9}})
    assert [i["key"] for i in numbers["items"]] == ["k2", "k1"]  # 10 > 9: numbers, not text
    both = await client.store.search_items([top, "docs"], filter={"kind": "doc", "n": {"$lte": 10}})
    assert [i["key"] for i in both["items"]] == ["k1", "k0"]
    page = await client.store.search_items([top], limit=1, offset=1)
    assert [i["key"] for i in page["items"]] == ["k1"]
    # A query without a vector index: the same answer, as LangGraph's stores give without one.
    assert (await client.store.search_items([top], query="tea"))["items"] == found["items"]
    with pytest.raises(UnprocessableEntityError):
        await client.store.search_items([top], filter={"n": {"$regex": "x"}})


@pytest.mark.sdk("store.list_namespaces", "store.put_item")
async def test_list_namespaces(client: LangGraphClient) -> None:
    top = root()
    for ns in [[top, "a", "memories"], [top, "b", "memories"], [top, "b", "prefs"], [top, "c"]]:
        await client.store.put_item(ns, "k", {"v": 1})
    listed = await client.store.list_namespaces(prefix=[top])
    assert listed == {
        "namespaces": [[top, "a", "memories"], [top, "b", "memories"], [top, "b", "prefs"], [top, "c"]]
    }
    assert (await client.store.list_namespaces(prefix=[top], suffix=["memories"]))["namespaces"] == [
        [top, "a", "memories"],
        [top, "b", "memories"],
    ]
    assert (await client.store.list_namespaces(prefix=[top, "*", "prefs"]))["namespaces"] == [
        [top, "b", "prefs"]
    ]
    assert (await client.store.list_namespaces(prefix=[top], max_depth=2))["namespaces"] == [
        [top, "a"],
        [top, "b"],
        [top, "c"],
    ]
    assert (await client.store.list_namespaces(prefix=[top], max_depth=2, limit=1, offset=2))[
        "namespaces"
    ] == [[top, "c"]]


@pytest.mark.sdk("store.get_item", "store.put_item", "store.search_items")
async def test_ttl_and_refresh_ttl(client: LangGraphClient) -> None:
    ns = [root()]
    ttl = 2 / 60  # minutes
    await client.store.put_item(ns, "kept", {"v": 1}, ttl=ttl)  # type: ignore[arg-type]
    await client.store.put_item(ns, "left", {"v": 2}, ttl=ttl)  # type: ignore[arg-type]
    await client.store.put_item(ns, "forever", {"v": 3})
    assert await client.store.get_item(ns, "left", refresh_ttl=False) is not None
    for _ in range(6):  # reads that refresh keep "kept" alive past its TTL
        assert await client.store.get_item(ns, "kept") is not None
        assert (await client.store.search_items(ns, filter={"v": 1}))["items"]
        await asyncio.sleep(0.5)
    assert await client.store.get_item(ns, "left", refresh_ttl=False) is None
    assert await client.store.get_item(ns, "kept", refresh_ttl=False) is not None
    await asyncio.sleep(2.1)
    assert await client.store.get_item(ns, "kept") is None
    assert [i["key"] for i in (await client.store.search_items(ns))["items"]] == ["forever"]


@pytest.mark.sdk("store.put_item", "store.search_items")
async def test_bad_input_is_4xx_and_writes_nothing(client: LangGraphClient) -> None:
    ns = [root()]
    with pytest.raises(ValueError, match="periods"):  # the SDK checks this one itself
        await client.store.put_item([*ns, "a.b"], "k", {"v": 1})
    for bad in (
        {"namespace": ["langgraph", "x"], "key": "k", "value": {"v": 1}},
        {"namespace": [*ns, ""], "key": "k", "value": {"v": 1}},
        {"namespace": ns, "key": "k", "value": {"v": 1}, "ttl": -5},
        {"namespace": ns, "key": "k", "value": {"v": 1}, "index": ["text"]},
        {"namespace": ns, "key": "k", "value": "not an object"},
        {"namespace": ns, "key": "", "value": {"v": 1}},
        {"namespace": ns, "key": "k", "value": {"v": "a\u0000b"}},
    ):
        with pytest.raises(httpx.HTTPStatusError) as caught:
            await client.store.http.put("/store/items", json=bad)
        assert caught.value.response.status_code == 422, bad
        assert caught.value.response.json()["error"] == "validation_error"
    assert (await client.store.search_items(ns))["items"] == []
    assert (await client.store.search_items(["langgraph"]))["items"] == []
    with pytest.raises(httpx.HTTPStatusError) as caught:
        await client.store.http.get("/store/items", params={"namespace": ".".join(ns)})
    assert caught.value.response.status_code == 422  # no key


@pytest.mark.sdk(
    "store.delete_item",
    "store.get_item",
    "store.list_namespaces",
    "store.put_item",
    "store.search_items",
)
def test_sync_client(sync_client: SyncLangGraphClient) -> None:
    top = root()
    sync_client.store.put_item([top, "u"], "k", {"n": 3}, ttl=60)
    item = sync_client.store.get_item([top, "u"], "k", refresh_ttl=True)
    assert item["value"] == {"n": 3}
    assert [i["key"] for i in sync_client.store.search_items([top], filter={"n": {"$gte": 3}})["items"]] == [
        "k"
    ]
    assert sync_client.store.list_namespaces(prefix=[top]) == {"namespaces": [[top, "u"]]}
    sync_client.store.delete_item([top, "u"], "k")
    assert sync_client.store.get_item([top, "u"], "k") is None
    started = time.monotonic()
    assert sync_client.store.search_items([top])["items"] == []
    assert time.monotonic() - started < 10
