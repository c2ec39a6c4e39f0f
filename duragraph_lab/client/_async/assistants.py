"""``client.assistants``: assistants and their graphs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from duragraph_lab.client import _calls as c
from duragraph_lab.client import models as m

if TYPE_CHECKING:
    from duragraph_lab.client._async.client import AsyncDuraGraphClient


class Assistants:
    def __init__(self, client: AsyncDuraGraphClient) -> None:
        self._client = client

    async def create(
        self,
        graph_id: str,
        *,
        assistant_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        if_exists: str | None = None,
    ) -> m.Assistant:
        return await self._client.call(
            c.assistant_create(
                graph_id,
                assistant_id=assistant_id,
                config=config,
                context=context,
                metadata=metadata,
                name=name,
                description=description,
                if_exists=if_exists,
            )
        )

    async def get(self, assistant_id: str) -> m.Assistant:
        """An assistant, or a graph's default assistant by graph id."""
        return await self._client.call(c.assistant_get(assistant_id))

    async def delete(self, assistant_id: str) -> None:
        await self._client.call(c.assistant_delete(assistant_id))

    async def search(
        self,
        *,
        metadata: Mapping[str, Any] | None = None,
        graph_id: str | None = None,
        name: str | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> list[m.Assistant]:
        return await self._client.call(
            c.assistant_search(
                metadata=metadata,
                graph_id=graph_id,
                name=name,
                limit=limit,
                offset=offset,
                sort_by=sort_by,
                sort_order=sort_order,
            )
        )

    async def count(
        self,
        *,
        metadata: Mapping[str, Any] | None = None,
        graph_id: str | None = None,
        name: str | None = None,
    ) -> int:
        return await self._client.call(c.assistant_count(metadata=metadata, graph_id=graph_id, name=name))

    async def graph(self, assistant_id: str, *, xray: bool | int = False) -> m.AssistantGraph:
        return await self._client.call(c.assistant_graph(assistant_id, xray))

    async def schemas(self, assistant_id: str) -> m.GraphSchemas:
        return await self._client.call(c.assistant_schemas(assistant_id))
