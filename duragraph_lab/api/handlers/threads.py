"""/threads routes (runs on threads are in :mod:`runs`)."""

from __future__ import annotations

from tornado import web

from duragraph_lab.api import models
from duragraph_lab.api.handlers.base import ApiError, DuraGraphHandler
from duragraph_lab.api.handlers.streams import StreamingHandler
from duragraph_lab.api.sse import parse_last_event_id, thread_frames

THREAD_STREAM_MODES = ("run_modes", "lifecycle", "state_update")


class ThreadsHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.ThreadCreate, required=False)
        self.write_json(await self.call(self.backend.threads.create(body)))


class ThreadSearchHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.ThreadSearch, required=False)
        found, total = await self.call(self.backend.threads.search(body))
        self.set_header("X-Pagination-Total", str(total))
        if body.offset + len(found) < total:
            self.set_header("X-Pagination-Next", str(body.offset + body.limit))
        self.write_json(found)


class ThreadCountHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.ThreadCount, required=False)
        self.write_json(await self.call(self.backend.threads.count(body)))


class ThreadPruneHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.ThreadPrune)
        self.write_json(await self.call(self.backend.threads.prune(body)))


class ThreadHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, thread_id: str) -> None:
        self.write_json(await self.call(self.backend.threads.get(thread_id)))

    @web.authenticated
    async def patch(self, thread_id: str) -> None:
        body = self.parse(models.ThreadPatch, required=False)
        self.write_json(await self.call(self.backend.threads.patch(thread_id, body)))

    @web.authenticated
    async def delete(self, thread_id: str) -> None:
        await self.call(self.backend.threads.delete(thread_id))
        self.no_content()


class ThreadCopyHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self, thread_id: str) -> None:
        body = self.parse(models.ThreadCopy, required=False)
        self.write_json(await self.call(self.backend.threads.copy(thread_id, body)))


class ThreadStateHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, thread_id: str) -> None:
        subgraphs = self.query_bool("subgraphs")
        self.write_json(await self.call(self.backend.threads.state(thread_id, subgraphs=subgraphs)))

    @web.authenticated
    async def post(self, thread_id: str) -> None:
        body = self.parse(models.StateUpdate, required=False)
        self.write_json(await self.call(self.backend.threads.update_state(thread_id, body)))


class ThreadStateAtHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, thread_id: str, checkpoint_id: str) -> None:
        subgraphs = self.query_bool("subgraphs")
        self.write_json(
            await self.call(self.backend.threads.state(thread_id, checkpoint_id, subgraphs=subgraphs))
        )


class ThreadStateCheckpointHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self, thread_id: str) -> None:
        body = self.parse(models.StateAtCheckpoint)
        # A checkpoint without an id is the thread's latest state, as on LangGraph Platform:
        # RemoteGraph.get_state sends {"thread_id": ...} alone when its config names no checkpoint.
        if not body.checkpoint.checkpoint_id and body.checkpoint.checkpoint_ns:
            raise ApiError(422, "validation_error", "checkpoint.checkpoint_ns needs checkpoint.checkpoint_id")
        state = self.backend.threads.state(
            thread_id,
            body.checkpoint.checkpoint_id or None,
            subgraphs=body.subgraphs,
            checkpoint_ns=body.checkpoint.checkpoint_ns,
        )
        self.write_json(await self.call(state))


class ThreadHistoryHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, thread_id: str) -> None:
        query = models.HistoryQuery(
            limit=self.query_int("limit", 10, low=1, high=1000),
            before=self.get_query_argument("before", None),
        )
        self.write_json(await self.call(self.backend.threads.history(thread_id, query)))

    @web.authenticated
    async def post(self, thread_id: str) -> None:
        body = self.parse(models.HistoryQuery, required=False)
        self.write_json(await self.call(self.backend.threads.history(thread_id, body)))


class ThreadStreamHandler(StreamingHandler):
    @web.authenticated
    async def get(self, thread_id: str) -> None:
        raw: list[str] = []
        for name in ("stream_modes", "stream_mode"):
            for value in self.get_query_arguments(name):
                raw += [v.strip() for v in value.split(",") if v.strip()]
        modes = raw or ["run_modes"]
        unknown = [m for m in modes if m not in THREAD_STREAM_MODES]
        if unknown:
            raise ApiError(
                422,
                "validation_error",
                f"unknown thread stream mode(s) {unknown}; use {', '.join(THREAD_STREAM_MODES)}",
            )
        thread = await self.call(self.backend.threads.get(thread_id))
        after = parse_last_event_id(self.request.headers.get("Last-Event-ID"))
        body = thread_frames(
            self.backend.control_or_fail(),
            thread["thread_id"],
            modes=modes,
            after_seq=after,
        )
        await self.send_sse(body)
