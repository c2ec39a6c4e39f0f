"""/assistants routes: the requests of :class:`duragraph_lab.control.assistants.Assistants`."""

from __future__ import annotations

from tornado import web

from duragraph_lab.api import models
from duragraph_lab.api.handlers.base import ApiError, DuraGraphHandler
from duragraph_lab.control.assistants import AssistantChanges, AssistantFilter, NewAssistant


def _pagination(handler: DuraGraphHandler, offset: int, limit: int, count: int, total: int) -> None:
    handler.set_header("X-Pagination-Total", str(total))
    if offset + count < total:
        handler.set_header("X-Pagination-Next", str(offset + limit))


class AssistantsHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.AssistantCreate)
        new = NewAssistant(
            body.graph_id,
            assistant_id=body.assistant_id,
            name=body.name,
            description=body.description,
            config=body.config,
            context=body.context,
            metadata=body.metadata,
            if_exists=body.if_exists,
        )
        self.write_json(await self.call(self.backend.assistants.create(new)))


class AssistantSearchHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.AssistantSearch, required=False)
        found, total = await self.call(
            self.backend.assistants.search(
                AssistantFilter(body.metadata, body.graph_id, body.name),
                sort_by=body.sort_by,
                sort_order=body.sort_order,
                limit=body.limit,
                offset=body.offset,
                select=body.select,
            )
        )
        _pagination(self, body.offset, body.limit, len(found), total)
        if not body.select:
            found = await self.call(self.backend.presence.assistants(found))
        self.write_json(found)


class AssistantCountHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.AssistantCount, required=False)
        where = AssistantFilter(body.metadata, body.graph_id, body.name)
        self.write_json(await self.call(self.backend.assistants.count(where)))


class AssistantHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, assistant_id: str) -> None:
        found = await self.call(self.backend.assistants.get(assistant_id))
        self.write_json((await self.call(self.backend.presence.assistants([found])))[0])

    @web.authenticated
    async def patch(self, assistant_id: str) -> None:
        body = self.parse(models.AssistantPatch, required=False)
        changes = AssistantChanges(
            graph_id=body.graph_id,
            name=body.name,
            description=body.description,
            config=body.config,
            context=body.context,
            metadata=body.metadata,
        )
        self.write_json(await self.call(self.backend.assistants.update(assistant_id, changes)))

    @web.authenticated
    async def delete(self, assistant_id: str) -> None:
        await self.call(self.backend.assistants.delete(assistant_id))
        self.no_content()


class AssistantGraphHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, assistant_id: str) -> None:
        raw = self.get_query_argument("xray", None)
        xray: int | bool = False
        if raw not in (None, "", "false", "0"):
            if raw == "true":
                xray = True
            elif raw is not None and raw.isdigit():
                xray = int(raw)
            else:
                raise ApiError(422, "validation_error", f"xray must be true, false or a depth, not {raw!r}")
        details = self.get_query_argument("details", "false")
        if details not in ("true", "false"):
            raise ApiError(422, "validation_error", f"details must be true or false, not {details!r}")
        graph = self.backend.assistants.graph(assistant_id, xray, details == "true")
        self.write_json(await self.call(graph))


class AssistantSchemasHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, assistant_id: str) -> None:
        self.write_json(await self.call(self.backend.assistants.schemas(assistant_id)))


class AssistantSubgraphsHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, assistant_id: str, namespace: str | None = None) -> None:
        recurse = self.query_bool("recurse")
        self.write_json(await self.call(self.backend.assistants.subgraphs(assistant_id, namespace, recurse)))


class AssistantVersionsHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self, assistant_id: str) -> None:
        body = self.parse(models.AssistantVersions, required=False)
        versions = self.backend.assistants.versions(
            assistant_id, metadata=body.metadata, limit=body.limit, offset=body.offset
        )
        self.write_json(await self.call(versions))


class AssistantLatestHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self, assistant_id: str) -> None:
        body = self.parse(models.AssistantLatest)
        self.write_json(await self.call(self.backend.assistants.set_latest(assistant_id, body.version)))
