"""The official ``langgraph-sdk`` client pointed at the session's API server (``api_server``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient

from tests.apiserver import ApiServer


@pytest.fixture
async def client(api_server: ApiServer) -> AsyncIterator[LangGraphClient]:
    async with get_client(url=api_server.base, headers=api_server.headers, timeout=60) as sdk:
        yield sdk


@pytest.fixture
def sync_client(api_server: ApiServer) -> Iterator[SyncLangGraphClient]:
    with get_sync_client(url=api_server.base, headers=api_server.headers, timeout=60) as sdk:
        yield sdk
