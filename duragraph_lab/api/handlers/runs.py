"""/threads/{id}/runs and /runs routes: create, wait, stream, join, cancel, delete, and the
DuraGraph extras (event log, spans, fork, replay)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tornado import web

from duragraph_lab.api import models
from duragraph_lab.api.handlers.base import API_PREFIX, ApiError, DuraGraphHandler
from duragraph_lab.api.handlers.streams import StreamingHandler
from duragraph_lab.api.runs import join_result
from duragraph_lab.api.sse import parse_last_event_id, run_frames
from duragraph_lab.control.follow import LiveTap
from duragraph_lab.control.run_creation import RunRef

CANCEL_ACTIONS = ("interrupt", "rollback")


class _RunHandler(StreamingHandler):
    def api_url(self, path: str) -> str:
        """An absolute URL of an API path (clients resolve redirect-like headers against it)."""
        return f"{self.request.protocol}://{self.request.host}{self.base_url}{API_PREFIX}{path}"

    def run_headers(self, ref: RunRef, *, stream: bool) -> dict[str, str]:
        run_path = f"/threads/{ref.thread_id}/runs/{ref.run_id}"
        return {
            "Content-Location": self.api_url(run_path),
            "Location": self.api_url(run_path + ("/stream" if stream else "/join")),
        }

    def stream_modes(self) -> list[str] | None:
        """``stream_mode`` query parameters: repeated, comma-separated or a JSON array."""
        raw: list[str] = []
        for value in self.get_query_arguments("stream_mode"):
            value = value.strip()
            if value.startswith("["):
                try:
                    parsed = json.loads(value)
                except ValueError:
                    raise ApiError(
                        422, "validation_error", f"stream_mode is not a JSON array: {value!r}"
                    ) from None
                raw += [str(v) for v in parsed] if isinstance(parsed, list) else [str(parsed)]
            else:
                raw += [v.strip() for v in value.split(",") if v.strip()]
        unknown = [m for m in raw if m not in models.STREAM_MODES]
        if unknown:
            raise ApiError(
                422,
                "validation_error",
                f"unknown stream mode(s) {unknown}; use {', '.join(models.STREAM_MODES)}",
            )
        return list(dict.fromkeys(raw)) or None

    async def create(
        self, thread_id: str | None, stateless: bool
    ) -> tuple[RunRef, models.RunCreateStateful | models.RunCreateStateless]:
        body: models.RunCreateStateful | models.RunCreateStateless = (
            self.parse(models.RunCreateStateless) if stateless else self.parse(models.RunCreateStateful)
        )
        ref = await self.call(self.backend.runs.create(thread_id, body))
        return ref, body

    async def create_and_stream(self, thread_id: str | None, stateless: bool) -> None:
        """Create a run and stream it from its start. Its live events (LLM tokens, custom events)
        are subscribed to first, under the id the run is then created with: a worker may start it
        and stream its first tokens before this request could subscribe once it exists."""
        body: models.RunCreateStateful | models.RunCreateStateless = (
            self.parse(models.RunCreateStateless) if stateless else self.parse(models.RunCreateStateful)
        )
        control = self.backend.control_or_fail()
        run_id = str(uuid.uuid4())
        tap: LiveTap | None = await self.call(control.follower.tap_live(run_id))
        try:
            ref = await self.call(self.backend.runs.create(thread_id, body, run_id=run_id))
        except BaseException:
            if tap is not None:
                await tap.close()
            raise
        if ref.run_id != run_id and tap is not None:
            # The request resumed the thread's paused run: that run goes on, under its own id.
            await tap.close()
            tap = None
        await self.stream_run(ref, body, live=tap)

    async def stream_run(
        self,
        ref: RunRef,
        body: models.RunCreateStateful | models.RunCreateStateless,
        *,
        live: LiveTap | None = None,
    ) -> None:
        frames = run_frames(
            self.backend.control_or_fail(),
            ref.run_id,
            modes=body.stream_modes,
            subgraphs=body.stream_subgraphs,
            after_seq=ref.after_seq,
            live=live,
        )
        await self.send_sse(
            frames,
            headers=self.run_headers(ref, stream=True),
            on_disconnect=self._canceller(ref.run_id) if body.on_disconnect == "cancel" else None,
        )

    async def wait_run(self, ref: RunRef, body: models.RunCreateStateful | models.RunCreateStateless) -> None:
        await self.send_json_when_ready(
            self.backend.runs.join(ref.run_id),
            headers=self.run_headers(ref, stream=False),
            on_disconnect=self._canceller(ref.run_id) if body.on_disconnect == "cancel" else None,
        )

    def _canceller(self, run_id: str) -> Any:
        async def cancel() -> None:
            await self.backend.runs.cancel_on_disconnect(run_id)

        return cancel


class RunSearchHandler(_RunHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.RunSearch, required=False)
        found, total = await self.call(self.backend.runs.search(body))
        self.set_header("X-Pagination-Total", str(total))
        if body.offset + len(found) < total:
            self.set_header("X-Pagination-Next", str(body.offset + body.limit))
        self.write_json(found)


class RunCountHandler(_RunHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.RunFilter, required=False)
        self.write_json(await self.call(self.backend.runs.count(body)))


class ThreadRunsHandler(_RunHandler):
    @web.authenticated
    async def get(self, thread_id: str) -> None:
        status = self.get_query_argument("status", None)
        if status is not None and status not in models.RunStatus.__args__:  # type: ignore[attr-defined]
            raise ApiError(422, "validation_error", f"unknown run status {status!r}")
        select = self.get_query_arguments("select") or None
        runs = self.backend.runs.list_runs(
            thread_id,
            limit=self.query_int("limit", 10, low=1, high=1000),
            offset=self.query_int("offset", 0),
            status=status,
            select=select,
        )
        self.write_json(await self.call(runs))

    @web.authenticated
    async def post(self, thread_id: str) -> None:
        ref, _ = await self.create(thread_id, stateless=False)
        run = await self.call(self.backend.runs.get(ref.run_id))
        self.set_header("Content-Location", self.run_headers(ref, stream=False)["Content-Location"])
        self.write_json(run)


class ThreadRunsWaitHandler(_RunHandler):
    @web.authenticated
    async def post(self, thread_id: str) -> None:
        ref, body = await self.create(thread_id, stateless=False)
        await self.wait_run(ref, body)


class ThreadRunsStreamHandler(_RunHandler):
    @web.authenticated
    async def post(self, thread_id: str) -> None:
        await self.create_and_stream(thread_id, stateless=False)


class StatelessRunsHandler(_RunHandler):
    @web.authenticated
    async def post(self) -> None:
        ref, _ = await self.create(None, stateless=True)
        run = await self.call(self.backend.runs.get(ref.run_id))
        self.set_header("Content-Location", self.run_headers(ref, stream=False)["Content-Location"])
        self.write_json(run)


class StatelessRunsWaitHandler(_RunHandler):
    @web.authenticated
    async def post(self) -> None:
        ref, body = await self.create(None, stateless=True)
        await self.wait_run(ref, body)


class StatelessRunsStreamHandler(_RunHandler):
    @web.authenticated
    async def post(self) -> None:
        await self.create_and_stream(None, stateless=True)


class RunsBatchHandler(_RunHandler):
    @web.authenticated
    async def post(self) -> None:
        raw = self.json_body()
        if not isinstance(raw, list) or not raw:
            raise ApiError(422, "validation_error", "the body must be a non-empty JSON array of run requests")
        if len(raw) > 1000:
            raise ApiError(422, "validation_error", "at most 1000 runs per batch")
        bodies = [self.validate(models.RunCreateStateless, item) for item in raw]
        for body in bodies:  # all checked before any starts: a bad one starts none
            await self.call(self.backend.runs.precheck(body))
        out = []
        for body in bodies:
            ref = await self.call(self.backend.runs.create(None, body))
            out.append(await self.call(self.backend.runs.get(ref.run_id)))
        self.write_json(out)


class RunsCancelHandler(_RunHandler):
    @web.authenticated
    async def post(self) -> None:
        action = self.query_choice("action", CANCEL_ACTIONS, "interrupt")
        body = self.parse(models.RunsCancel)
        await self.call(self.backend.runs.cancel_many(body, action))
        self.no_content()


class RunHandler(_RunHandler):
    """``/threads/{thread_id}/runs/{run_id}`` and ``/runs/{run_id}``."""

    @web.authenticated
    async def get(self, *ids: str) -> None:
        run_id, thread_id = _ids(ids)
        self.write_json(await self.call(self.backend.runs.get(run_id, thread_id)))

    @web.authenticated
    async def delete(self, *ids: str) -> None:
        run_id, thread_id = _ids(ids)
        await self.call(self.backend.runs.delete(run_id, thread_id))
        self.no_content()


class RunJoinHandler(_RunHandler):
    @web.authenticated
    async def get(self, *ids: str) -> None:
        run_id, thread_id = _ids(ids)
        run = await self.call(self.backend.runs.get(run_id, thread_id))
        ref = RunRef(run["run_id"], run["thread_id"], run["assistant_id"], run["graph_id"])
        cancel = self._canceller(run_id) if self.query_bool("cancel_on_disconnect") else None
        await self.send_json_when_ready(
            self.backend.runs.join(run_id, thread_id),
            headers=self.run_headers(ref, stream=False),
            on_disconnect=cancel,
        )


class RunStreamHandler(_RunHandler):
    @web.authenticated
    async def get(self, *ids: str) -> None:
        run_id, thread_id = _ids(ids)
        run = await self.call(self.backend.runs.get(run_id, thread_id))
        modes = self.stream_modes() or [str(m) for m in (run["kwargs"].get("stream_mode") or ["values"])]
        subgraphs = bool(run["kwargs"].get("stream_subgraphs")) or self.query_bool("stream_subgraphs")
        ref = RunRef(run["run_id"], run["thread_id"], run["assistant_id"], run["graph_id"])
        after = parse_last_event_id(self.request.headers.get("Last-Event-ID"))
        frames = run_frames(
            self.backend.control_or_fail(),
            ref.run_id,
            modes=modes,
            subgraphs=subgraphs,
            after_seq=after,
        )
        cancel = self._canceller(run_id) if self.query_bool("cancel_on_disconnect") else None
        await self.send_sse(frames, headers=self.run_headers(ref, stream=True), on_disconnect=cancel)


class RunCancelHandler(_RunHandler):
    @web.authenticated
    async def post(self, *ids: str) -> None:
        run_id, thread_id = _ids(ids)
        action = self.query_choice("action", CANCEL_ACTIONS, "interrupt")
        wait = self.query_bool("wait")
        await self.call(self.backend.runs.cancel(run_id, thread_id, action))
        if not wait:
            self.no_content(202)
            return
        state = await self.call(self.backend.runs.wait_at_rest(run_id, timeout=3600))
        self.write_json(join_result(state))


class RunEventsHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        after = self.query_int("after", 0, high=2**62)
        limit = self.query_int("limit", 1000, low=1, high=10_000)
        self.write_json(await self.call(self.backend.runs.events(run_id, after=after, limit=limit)))


class RunSpansHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        self.write_json(await self.call(self.backend.runs.spans(run_id)))


class RunStateHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        given = self.get_query_argument("seq", None)
        seq = None if not given else self.query_int("seq", 1, low=1, high=2**62)
        self.write_json(await self.call(self.backend.runs.state_at(run_id, seq)))


class RunForkHandler(_RunHandler):
    @web.authenticated
    async def post(self, run_id: str) -> None:
        body = self.parse(models.RunFork)
        ref = await self.call(self.backend.runs.fork(run_id, body))
        self.set_header("Content-Location", self.run_headers(ref, stream=False)["Content-Location"])
        self.write_json(await self.call(self.backend.runs.get(ref.run_id)))


class RunReplayHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self, run_id: str) -> None:
        self.write_json(await self.call(self.backend.runs.replay(run_id)))


def _ids(ids: tuple[str, ...]) -> tuple[str, str | None]:
    """``(run_id, thread_id)`` from a route's groups: ``(thread, run)`` or ``(run,)``."""
    if len(ids) == 2:
        return ids[1], ids[0]
    return ids[0], None
