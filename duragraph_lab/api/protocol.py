"""The thread-centric streaming protocol's service (framework-free: the HTTP and WebSocket
handlers are adapters): its commands (``POST /threads/{id}/commands``, or a WebSocket frame) and
the protocol events of a thread, followed from the event log (caught up, then live over NATS,
as the run-centric streams are), so any API server can serve any thread.

Commands answer ``{"type": "success", "id", "result", "meta"?}``; a command that cannot be
carried out raises :class:`ProtocolError`, whose body ``{"type": "error", "id", "error",
"message"}`` is both the protocol's error envelope and the API's ``{"error", "message"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pydantic import ValidationError

from duragraph_lab.api import models
from duragraph_lab.api.handlers.base import ApiError, http_error
from duragraph_lab.api.protocol_events import CHANNELS, ProtocolEncoder, ProtocolEvent, agent_tree
from duragraph_lab.api.runs import Runs
from duragraph_lab.api.threads import Threads
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.ids import parse_id

#: Commands this server carries out (``run.cancel`` is DuraGraph's: the protocol has none).
COMMANDS = (
    "run.start",
    "input.respond",
    "run.cancel",
    "state.get",
    "state.listCheckpoints",
    "state.fork",
    "agent.getTree",
    "subscription.subscribe",
    "subscription.reconnect",
    "subscription.unsubscribe",
)
#: Commands the protocol defines that this server answers ``not_supported``.
UNSUPPORTED = ("input.inject",)
_RUN_ENDS = frozenset({ev.RUN_COMPLETED, ev.RUN_FAILED, ev.RUN_CANCELLED, ev.RUN_TIMED_OUT})
_FINISHED = ("success", "error", "timeout", "cancelled", "interrupted")
_TREE_STATUS = {
    "pending": "started",
    "running": "running",
    "interrupted": "interrupted",
    "success": "completed",
}


#: Put on a stream's queue when its thread is deleted: the stream ends.
_THREAD_GONE: tuple[list[ProtocolEvent], int | None] = ([], None)


class ProtocolError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        command_id: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.command_id = command_id
        #: Response headers that go with the error (``Retry-After`` on a 503).
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"type": "error", "id": self.command_id, "error": self.code, "message": self.message}


def from_api_error(err: BaseException, command_id: int | None) -> ProtocolError:
    """A typed error of the services as the protocol's error (the API's status kept)."""
    if isinstance(err, ProtocolError):
        return err
    mapped = err if isinstance(err, ApiError) else http_error(err)
    if mapped is None:
        raise err
    # The API's error codes (not_found, validation_error, ...), as for every other route.
    return ProtocolError(mapped.status_code, mapped.code, mapped.message, command_id, mapped.headers)


def _object(value: Any, what: str, command_id: int | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ProtocolError(422, "invalid_argument", f"{what} must be a JSON object", command_id)
    return dict(value)


def parse_envelope(body: Any) -> tuple[int, str, dict[str, Any]]:
    """``{"id": uint, "method": str, "params": object}``, or a ProtocolError (400)."""
    if not isinstance(body, Mapping):
        raise ProtocolError(400, "invalid_argument", "a command is a JSON object {id, method, params}")
    command_id = body.get("id")
    if not isinstance(command_id, int) or isinstance(command_id, bool) or command_id < 0:
        raise ProtocolError(400, "invalid_argument", "a command needs an unsigned integer id")
    method = body.get("method")
    if not isinstance(method, str) or not method:
        raise ProtocolError(400, "invalid_argument", "a command needs a method", command_id)
    return command_id, method, _object(body.get("params"), "params", command_id)


def parse_subscription(body: Any) -> tuple[list[str], list[list[str]] | None, int | None, int | None]:
    """An event-stream request ``{channels, namespaces?, depth?, since?}`` (422 when malformed)."""
    if not isinstance(body, Mapping):
        raise ProtocolError(
            422, "invalid_argument", "the body is a JSON object {channels, namespaces?, depth?, since?}"
        )
    channels = body.get("channels")
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        raise ProtocolError(422, "invalid_argument", "channels must be a non-empty list of channel names")
    unknown = [c for c in channels if c not in CHANNELS and not (c.startswith("custom:") and len(c) > 7)]
    if unknown:
        raise ProtocolError(
            422,
            "invalid_argument",
            f"unknown channel(s) {unknown}; use {', '.join(CHANNELS)} or custom:<name>",
        )
    namespaces = body.get("namespaces")
    if namespaces is not None and not (
        isinstance(namespaces, list)
        and all(isinstance(ns, list) and all(isinstance(s, str) for s in ns) for ns in namespaces)
    ):
        raise ProtocolError(422, "invalid_argument", "namespaces must be a list of lists of strings")
    depth = body.get("depth")
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 0):
        raise ProtocolError(422, "invalid_argument", "depth must be a non-negative integer")
    since = body.get("since")
    if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
        raise ProtocolError(422, "invalid_argument", "since must be a non-negative integer (an event seq)")
    return list(channels), namespaces, depth, since


def success(
    command_id: int, result: dict[str, Any], applied_through_seq: int | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "success", "id": command_id, "result": result}
    if applied_through_seq is not None:
        out["meta"] = {"applied_through_seq": applied_through_seq}
    return out


class ThreadProtocol:
    def __init__(self, control: ControlPlane, threads: Threads, runs: Runs) -> None:
        self.control = control
        self.threads = threads
        self.runs = runs

    # -- commands ------------------------------------------------------------------------------
    async def command(self, thread_id: str, body: Any) -> dict[str, Any]:
        command_id, method, params = parse_envelope(body)
        try:
            if method == "run.start":
                return await self._run_start(thread_id, command_id, params)
            if method == "input.respond":
                return await self._respond(thread_id, command_id, params)
            if method == "run.cancel":
                return await self._cancel(thread_id, command_id, params)
            if method == "state.get":
                return await self._state_get(thread_id, command_id, params)
            if method == "state.listCheckpoints":
                return await self._checkpoints(thread_id, command_id, params)
            if method == "state.fork":
                return await self._fork(thread_id, command_id, params)
            if method == "agent.getTree":
                return await self._tree(thread_id, command_id, params)
        except (ProtocolError, ApiError) as err:
            raise from_api_error(err, command_id) from None
        except Exception as err:
            raise from_api_error(err, command_id) from err
        if method.startswith("subscription."):
            raise ProtocolError(
                422,
                "not_supported",
                f"{method} is a WebSocket command; over HTTP, POST the subscription to /stream/events",
                command_id,
            )
        if method in UNSUPPORTED:
            raise ProtocolError(422, "not_supported", f"{method} is not supported by this server", command_id)
        raise ProtocolError(
            400, "unknown_command", f"unknown command {method!r}; known: {', '.join(COMMANDS)}", command_id
        )

    def _create_body(self, command_id: int, fields: dict[str, Any]) -> models.RunCreateStateful:
        try:
            return models.RunCreateStateful.model_validate(fields)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in err.errors()
            )
            raise ProtocolError(422, "invalid_argument", problems, command_id) from None

    async def _run_start(self, thread_id: str, command_id: int, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(params.get("assistant_id"), str) or not params["assistant_id"]:
            raise ProtocolError(422, "invalid_argument", "run.start needs params.assistant_id", command_id)
        fields: dict[str, Any] = {"assistant_id": params["assistant_id"], "if_not_exists": "create"}
        for key in ("input", "config", "metadata"):
            if params.get(key) is not None:
                fields[key] = params[key]
        for key in ("config", "metadata"):
            _object(params.get(key), key, command_id)
        body = self._create_body(command_id, fields)
        ref = await self.runs.create(thread_id, body)
        return success(command_id, {"run_id": ref.run_id}, ref.after_seq)

    async def _latest_run(self, thread_id: str, command_id: int) -> Any:
        found = await self.control.run_queries.of_thread(thread_id, limit=1)
        if not found:
            raise ProtocolError(404, "no_such_run", f"thread {thread_id} has no run", command_id)
        return found[0]

    async def _respond(self, thread_id: str, command_id: int, params: dict[str, Any]) -> dict[str, Any]:
        entries = params.get("responses")
        if entries is None:
            entries = [params]
        if not isinstance(entries, list) or not entries:
            raise ProtocolError(422, "invalid_argument", "responses must be a non-empty list", command_id)
        answers: dict[str, Any] = {}
        for entry in entries:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("interrupt_id"), str):
                raise ProtocolError(422, "invalid_argument", "a response needs an interrupt_id", command_id)
            if "response" not in entry:
                raise ProtocolError(422, "invalid_argument", "a response needs a response value", command_id)
            answers[entry["interrupt_id"]] = entry["response"]
        run = await self._latest_run(thread_id, command_id)
        state = await self.control.history.state(run.run_id)
        pending = {str(i.get("id")) for i in state.interrupts} if run.status == "interrupted" else set()
        unknown = sorted(set(answers) - pending)
        if unknown:
            raise ProtocolError(
                404,
                "no_such_interrupt",
                f"no pending interrupt {unknown} on thread {thread_id} (pending: {sorted(pending)})",
                command_id,
            )
        command: dict[str, Any] = {"resume": answers}
        for key in ("update", "goto"):
            if params.get(key) is not None:
                command[key] = params[key]
        fields: dict[str, Any] = {"assistant_id": run.assistant_id or run.graph_id, "command": command}
        for key in ("config", "metadata"):
            if params.get(key) is not None:
                fields[key] = _object(params[key], key, command_id)
        ref = await self.runs.create(thread_id, self._create_body(command_id, fields))
        return success(command_id, {}, ref.after_seq)

    async def _cancel(self, thread_id: str, command_id: int, params: dict[str, Any]) -> dict[str, Any]:
        run_id = params.get("run_id")
        action = params.get("action", "interrupt")
        if action not in ("interrupt", "rollback"):
            raise ProtocolError(422, "invalid_argument", "action is interrupt or rollback", command_id)
        if run_id is not None:
            if not isinstance(run_id, str):
                raise ProtocolError(422, "invalid_argument", "run_id must be a string", command_id)
            await self.runs.cancel(run_id, thread_id, action)
            return success(command_id, {})
        active = [
            r
            for status in ("running", "pending", "interrupted")
            for r in await self.control.run_queries.of_thread(thread_id, status=status, limit=100)
        ]
        if not active:
            raise ProtocolError(404, "no_such_run", f"thread {thread_id} has no run to cancel", command_id)
        for run in active:
            await self.runs.cancel(run.run_id, thread_id, action)
        return success(command_id, {})

    async def _state_get(self, thread_id: str, command_id: int, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("namespace"):
            raise ProtocolError(
                404, "no_such_namespace", "state.get reads the root graph's state (namespace [])", command_id
            )
        state = await self.threads.state(thread_id)
        values = state.get("values") or {}
        keys = params.get("keys")
        if isinstance(keys, list):
            values = {k: v for k, v in values.items() if k in keys}
        result: dict[str, Any] = {"values": values}
        checkpoint = (state.get("checkpoint") or {}).get("checkpoint_id")
        if checkpoint:
            result["checkpoint"] = {"id": checkpoint}
        return success(command_id, result)

    async def _checkpoints(self, thread_id: str, command_id: int, params: dict[str, Any]) -> dict[str, Any]:
        try:
            query = models.HistoryQuery.model_validate(
                {k: params[k] for k in ("limit", "before") if params.get(k) is not None}
            )
        except ValidationError as err:
            raise ProtocolError(422, "invalid_argument", str(err.errors()[0]["msg"]), command_id) from None
        states = await self.threads.history(thread_id, query)
        out = []
        for s in states:
            meta = s.get("metadata") or {}
            out.append(
                {
                    "id": (s.get("checkpoint") or {}).get("checkpoint_id"),
                    "timestamp": s.get("created_at"),
                    "step": meta.get("step", 0),
                    "metadata": meta,
                }
            )
        return success(command_id, {"checkpoints": out})

    async def _fork(self, thread_id: str, command_id: int, params: dict[str, Any]) -> dict[str, Any]:
        checkpoint_id = params.get("checkpoint_id")
        if not isinstance(checkpoint_id, str) or not checkpoint_id:
            raise ProtocolError(422, "invalid_argument", "state.fork needs params.checkpoint_id", command_id)
        run = await self._latest_run(thread_id, command_id)
        fields: dict[str, Any] = {
            "assistant_id": run.assistant_id or run.graph_id,
            "checkpoint_id": checkpoint_id,
        }
        if params.get("input") is not None:
            fields["input"] = params["input"]
        if params.get("config") is not None:
            fields["config"] = _object(params["config"], "config", command_id)
        ref = await self.runs.create(thread_id, self._create_body(command_id, fields))
        return success(command_id, {"run_id": ref.run_id, "thread_id": ref.thread_id}, ref.after_seq)

    async def _tree(self, thread_id: str, command_id: int, params: dict[str, Any]) -> dict[str, Any]:
        """``agent.getTree``: the run's namespaces (root, subgraphs, theirs) from its stored events."""
        run_id = params.get("run_id")
        run = (
            await self.control.run_queries.get(run_id, thread_id)
            if isinstance(run_id, str)
            else await self._latest_run(thread_id, command_id)
        )
        events: list[ProtocolEvent] = []
        async for batch, _ in self._run_events(parse_id(thread_id, "thread"), run.run_id, 0, None):
            events += batch
        tree = agent_tree(events, run.graph_id or "")
        # The run's own status is authoritative (error, timeout, cancelled: "failed").
        tree["status"] = _TREE_STATUS.get(run.status, "failed")
        return success(command_id, {"tree": tree})

    # -- events --------------------------------------------------------------------------------
    async def check_thread(self, thread_id: str) -> None:
        """NotFound for a thread that does not exist (a stream of it is refused)."""
        await self.control.run_queries.of_thread(parse_id(thread_id, "thread"), limit=1)

    async def events(
        self, thread_id: str, *, since: int | None, poll_interval: float = 1.0
    ) -> AsyncIterator[tuple[list[ProtocolEvent], int | None]]:
        """The thread's protocol events, one batch per stored event (with its seq) or live event
        (seq None), in order within a run. ``since``: after that global seq; None: from the start
        of the thread's latest run (the one a client that just started it wants to follow).
        Stays open until the caller leaves (or the thread is deleted)."""
        thread_id = parse_id(thread_id, "thread")
        latest = await self.control.run_queries.of_thread(thread_id, limit=1)
        start_run = latest[0].run_id if (since is None and latest) else None
        after = since or 0
        queue: asyncio.Queue[tuple[list[ProtocolEvent], int | None] | BaseException] = asyncio.Queue()
        followers: list[asyncio.Task[None]] = []

        async def follow_thread() -> None:
            reached = start_run is None
            seen: set[str] = set()
            try:
                async with self.control.follower.thread(thread_id, poll_interval=poll_interval) as events:
                    async for event in events:
                        if event.type == ev.THREAD_DELETED:
                            queue.put_nowait(_THREAD_GONE)
                            return
                        if event.type != ev.THREAD_RUN_ADDED:
                            continue
                        run_id = str(event.data.get("run_id"))
                        if run_id in seen:
                            continue
                        seen.add(run_id)
                        reached = reached or run_id == start_run
                        if not reached:
                            continue
                        position = await self.control.follower.runs.rest_position(run_id)
                        if position is None:
                            continue
                        if (
                            position.status in _FINISHED
                            and position.status != "interrupted"
                            and position.head_seq is not None
                            and position.head_seq <= after
                        ):
                            continue  # delivered before
                        followers.append(
                            asyncio.create_task(
                                self._follow_run(thread_id, run_id, after, queue, poll_interval)
                            )
                        )
            except asyncio.CancelledError:
                raise
            except BaseException as err:
                queue.put_nowait(err)

        main = asyncio.create_task(follow_thread(), name=f"protocol-{thread_id}")
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                if item is _THREAD_GONE:
                    return
                yield item
        finally:
            for task in (main, *followers):
                task.cancel()
            for task in (main, *followers):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def horizon(self) -> int:
        """The last stored seq now: a replay up to it, then a stream after it, misses nothing."""
        return await self.control.store.last_seq()

    async def stored(
        self, thread_id: str, *, since: int | None, until: int
    ) -> AsyncIterator[tuple[list[ProtocolEvent], int]]:
        """The thread's protocol events from the log only, after ``since`` (None: from the start of
        the thread's latest run, as :meth:`events`) up to seq ``until``, one batch per stored
        event; then it ends. What a new subscription is replayed (its ``replayed_events``)."""
        thread_id = parse_id(thread_id, "thread")
        added = [
            str(e.data.get("run_id"))
            for e in await self.control.store.read_stream(f"thread:{thread_id}", until_seq=until)
            if e.type == ev.THREAD_RUN_ADDED
        ]
        if since is None:
            added = added[-1:]  # the thread's latest run, from its start
        after = since or 0
        for run_id in dict.fromkeys(added):
            async for item in self._run_events(thread_id, run_id, after, until):
                yield item

    async def _run_events(
        self, thread_id: str, run_id: str, after: int, until: int | None
    ) -> AsyncIterator[tuple[list[ProtocolEvent], int]]:
        """A run's stored events after seq ``after`` (up to ``until``) as protocol events."""
        events = [
            e
            for e in await self.control.history.run_events(run_id)
            if e.seq > after and (until is None or e.seq <= until)
        ]
        if not events:
            return
        start = await self.control.follower.start(run_id, after, subgraphs=True)
        encoder = ProtocolEncoder(run_id, thread_id, state=start.root)
        encoder.prime(start.before)
        for ns, space in start.spaces.items():
            encoder.ns_state(ns, space)
        for event in events:
            yield encoder.on_event(event), event.seq

    async def _follow_run(
        self,
        thread_id: str,
        run_id: str,
        after: int,
        queue: asyncio.Queue[Any],
        poll_interval: float,
    ) -> None:
        follower = self.control.follower
        try:
            # Live events are not stored: subscribe to them first, and hold what comes while the
            # run's state is read, so that as few as possible are missed.
            held: list[dict[str, Any]] = []
            encoder: ProtocolEncoder | None = None

            def on_live(data: dict[str, Any]) -> None:
                if encoder is None:
                    held.append(data)
                    return
                out = encoder.on_live(data)
                if out:
                    queue.put_nowait((out, None))

            unsubscribe = await follower.feed.on_live(run_id, on_live)
            try:
                start = await follower.start(run_id, after, subgraphs=True)
                encoder = ProtocolEncoder(run_id, thread_id, state=start.root)
                encoder.prime(start.before)
                for ns, space in start.spaces.items():
                    encoder.ns_state(ns, space)
                for data in held:
                    on_live(data)
                async with follower.feed.follow(
                    f"run:{run_id}", after_seq=after, poll_interval=poll_interval
                ) as events:
                    async for event in events:
                        queue.put_nowait((encoder.on_event(event), event.seq))
                        if _ends_run(event):
                            return
            finally:
                await unsubscribe()
        except asyncio.CancelledError:
            raise
        except BaseException as err:
            queue.put_nowait(err)


def _ends_run(event: RecordedEvent) -> bool:
    return event.type in _RUN_ENDS and not event.data.get("ns")
