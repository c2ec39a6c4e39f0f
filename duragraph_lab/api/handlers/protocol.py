"""The thread-centric streaming protocol over HTTP and WebSocket (adapters of
:class:`duragraph_lab.api.protocol.ThreadProtocol`).

``POST /threads/{id}/commands``: one command, its answer. ``POST /threads/{id}/stream/events``:
the thread's protocol events as server-sent events. ``GET`` on the same path upgrades to a
WebSocket (what langgraph-sdk's ``transport="websocket"`` opens): every frame the client sends is
a command (``subscription.subscribe`` first), every frame it gets is a protocol event or a
command's answer. The upgrade is authenticated like any request (``Authorization: token <t>``
in the handshake; the SDK sends the headers given to ``client.threads.stream(headers=...)``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from duragraph_lab.api import models
from duragraph_lab.api.handlers.base import ApiError, DuraGraphHandler, http_error
from duragraph_lab.api.handlers.streams import StreamingHandler
from duragraph_lab.api.jsonout import dumps
from duragraph_lab.api.protocol import ProtocolError, from_api_error, parse_envelope, parse_subscription
from duragraph_lab.api.protocol_events import matches, stamp
from duragraph_lab.api.sse import frame
from duragraph_lab.domain.errors import NotFound
from duragraph_lab.domain.ids import parse_id

log = logging.getLogger(__name__)

#: How often a WebSocket subscribed to a thread that does not exist yet looks for it.
_THREAD_POLL_SECONDS = 0.1
#: Commands sent over a WebSocket that need more than the ``read`` its upgrade needed.
_WS_ACTIONS = {
    "run.start": "execute",
    "input.respond": "execute",
    "state.fork": "execute",
    "run.cancel": "write",
}


#: Live events a WebSocket connection keeps for its later subscriptions (LangGraph's session
#: buffer holds 10,000 events by default, ``LSD_PROTOCOL_V2_BUFFER_SIZE``).
LIVE_BUFFER_EVENTS = 10_000


@dataclass(slots=True)
class _Replayed:
    """A later subscription's replay so far: from which stored seq live events count, and the
    buffered live events already sent."""

    lower: int | None
    sent: set[int] = field(default_factory=set)
    #: Messages whose start was replayed live: their stored start is not sent again (as live).
    live_messages: set[str] = field(default_factory=set)


def _started_live(event: dict[str, Any], done: _Replayed | None) -> bool:
    """A stored message's start (or its blocks' start) when its live start was replayed."""
    if done is None or event.get("method") != "messages":
        return False
    data = (event.get("params") or {}).get("data") or {}
    return data.get("event") in ("message-start", "content-block-start") and str(data.get("id")) in (
        done.live_messages
    )


def _error_body(err: ProtocolError) -> dict[str, Any]:
    return err.body()


class _ProtocolErrors(DuraGraphHandler):
    def _write_error(self, err: ProtocolError) -> None:
        for name, value in err.headers.items():
            self.set_header(name, value)
        self.write_json(_error_body(err), err.status)


class ThreadCommandsHandler(_ProtocolErrors):
    @web.authenticated
    async def post(self, thread_id: str) -> None:
        # The API's own checks first (400 invalid_json, 422 validation_error naming the field),
        # then the protocol's.
        envelope = self.parse(models.ProtocolCommand)
        try:
            answer = await self.backend.protocol.command(thread_id, envelope.model_dump(exclude_unset=True))
        except Exception as err:
            mapped = from_api_error(err, _command_id(self._body))
            self._write_error(mapped)
            return
        self.write_json(answer)


def _command_id(raw: bytearray | None) -> int | None:
    try:
        body = json.loads(bytes(raw or b"{}"))
    except ValueError:
        return None
    value = body.get("id") if isinstance(body, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ThreadEventsHandler(WebSocketHandler, StreamingHandler, _ProtocolErrors):
    """SSE on POST, WebSocket on GET."""

    _ws_subscriptions: dict[str, tuple[list[str], list[list[str]] | None, int | None]]
    _ws_pump: asyncio.Task[None] | None = None
    _ws_thread: str = ""
    #: The seq of the last stored event the connection's pump has handled (None: none yet).
    _ws_seen_seq: int | None = None
    #: Subscriptions being replayed: the pump does not send them anything yet.
    _ws_inactive: set[str]
    #: The live events (token deltas, custom) this connection received, each with the seq of the
    #: last stored event before it: replayed to a later subscription, as LangGraph's
    #: connection-scoped session buffer does. Bounded (the oldest go first).
    _ws_live: collections.deque[tuple[int, dict[str, Any]]]

    def check_origin(self, origin_to_satisfy_tornado: str = "") -> bool:
        # Jupyter's origin policy (allow_origin...) for both the upgrade and plain requests.
        return bool(APIHandler.check_origin(self, origin_to_satisfy_tornado))

    def on_connection_close(self) -> None:
        if self.ws_connection is not None or self.get_status() == 101:
            WebSocketHandler.on_connection_close(self)
        else:
            StreamingHandler.on_connection_close(self)

    @web.authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            # Not an OpenAPI operation: only the upgrade is served on GET.
            raise ApiError(
                405,
                "method_not_allowed",
                "GET on this path is the WebSocket upgrade (Upgrade: websocket); POST streams SSE",
            )
        await WebSocketHandler.get(self, *args, **kwargs)

    # -- server-sent events --------------------------------------------------------------------
    @web.authenticated
    async def post(self, thread_id: str) -> None:
        protocol = self.backend.protocol
        request = self.parse(models.EventStreamRequest)
        try:
            channels, namespaces, depth, since = parse_subscription(request.model_dump(exclude_none=True))
            await protocol.check_thread(thread_id)
        except Exception as err:
            mapped = from_api_error(err, None)
            self._write_error(mapped)
            return

        async def body() -> AsyncIterator[bytes]:
            async for batch, seq in protocol.events(thread_id, since=since):
                chosen = [e for e in batch if matches(e, channels, namespaces, depth)]
                out = b""
                for event in stamp(chosen, seq):
                    out += frame(event["method"], event, event.get("seq"))
                if out:
                    yield out

        await self.send_sse(body())

    # -- WebSocket -----------------------------------------------------------------------------
    async def open(self, thread_id: str) -> None:
        self._ws_subscriptions = {}
        self._ws_inactive = set()
        self._ws_live = collections.deque(maxlen=LIVE_BUFFER_EVENTS)
        self._ws_thread = thread_id
        try:
            # A thread that does not exist yet is fine: a client may create it with a run.start
            # sent over this socket (the JS SDK does). An id that cannot name a thread is not.
            parse_id(thread_id, "thread")
        except Exception as err:
            mapped = http_error(err)
            status = mapped.status_code if mapped is not None else 500
            # A browser cannot read a refused upgrade's status: 4000 + the status says it.
            self.close(4000 + status if 400 <= status < 500 else 1011, str(err)[:120])

    async def on_message(self, message: str | bytes) -> None:
        try:
            body = json.loads(message)
        except ValueError:
            self._send(
                {
                    "type": "error",
                    "id": None,
                    "error": "invalid_argument",
                    "message": "a frame is a JSON command",
                }
            )
            return
        try:
            command_id, method, params = parse_envelope(body)
            if method in ("subscription.subscribe", "subscription.reconnect"):
                await self._subscribe(command_id, params, reconnect=method == "subscription.reconnect")
                return
            if method == "subscription.unsubscribe":
                found = self._ws_subscriptions.pop(str(params.get("subscription_id")), None)
                if found is None:
                    raise ProtocolError(404, "no_such_subscription", "no such subscription", command_id)
                self._send({"type": "success", "id": command_id, "result": {}})
                return
            action = _WS_ACTIONS.get(method)
            if action is not None:
                allowed = await ensure_async(
                    self.authorizer.is_authorized(self, self.current_user, action, self.auth_resource)
                )
                if not allowed:
                    raise ProtocolError(403, "permission_denied", f"{method} needs {action!r}", command_id)
            self._send(await self.backend.protocol.command(self._ws_thread, body))
        except Exception as err:
            try:
                mapped = from_api_error(err, body.get("id") if isinstance(body, dict) else None)
            except Exception:
                log.exception("protocol command over WebSocket failed")
                mapped = ProtocolError(500, "unknown_error", "internal error (see the server log)")
            self._send(_error_body(mapped))

    async def _subscribe(self, command_id: int, params: dict[str, Any], *, reconnect: bool = False) -> None:
        """``subscription.subscribe``, or ``subscription.reconnect``: the same with a mandatory
        ``since`` (and the client's ``subscription_id`` kept). As LangGraph's server does: the
        stored events the subscription matches are replayed first (from its ``since``; without
        one, from the start of the thread's latest run), then the answer says how many
        (``replayed_events``), then what comes next flows."""
        channels, namespaces, depth, since = parse_subscription(params)
        subscription_id = f"sub-{command_id}-{len(self._ws_subscriptions) + 1}"
        if reconnect:
            if since is None:
                raise ProtocolError(
                    422,
                    "invalid_argument",
                    "subscription.reconnect requires a non-negative integer since",
                    command_id,
                )
            asked = params.get("subscription_id")
            if isinstance(asked, str) and asked:
                subscription_id = asked
        protocol = self.backend.protocol
        # Inactive while it is replayed: the pump does not send it what the replay will.
        self._ws_inactive.add(subscription_id)
        self._ws_subscriptions[subscription_id] = (channels, namespaces, depth)
        replayed = 0
        try:
            if self._ws_pump is None:
                try:
                    await protocol.check_thread(self._ws_thread)
                    horizon: int | None = await protocol.horizon()
                except NotFound:
                    horizon = None  # created later (run.start over this socket): all of it is new
                if horizon is not None:
                    self._ws_seen_seq = horizon
                # One pump of the thread's events per connection, from where the stored replay
                # ends; each event goes out once if any (active) subscription wants it. Started
                # before the replay so that the live events meanwhile are buffered, not lost.
                self._ws_pump = asyncio.create_task(
                    self._pump_events(since if horizon is None else max(horizon, since or 0))
                )
            cursor = since
            done = _Replayed(since)
            while self._ws_seen_seq is not None and (
                cursor is None or cursor < self._ws_seen_seq or self._unsent_live(done)
            ):
                # Up to where the pump is; again if it moved on meanwhile. No await between the
                # last check and the activation: the pump's next event is sent live.
                horizon = self._ws_seen_seq
                replayed += await self._replay(subscription_id, cursor, horizon, done)
                if done.lower is None:
                    done.lower = horizon  # nothing stored to replay: live events from here
                cursor = horizon
        except BaseException:
            self._ws_subscriptions.pop(subscription_id, None)
            raise
        finally:
            self._ws_inactive.discard(subscription_id)
        self._send(
            {
                "type": "success",
                "id": command_id,
                "result": {"subscription_id": subscription_id, "replayed_events": replayed},
            }
        )

    async def _replay(
        self, subscription_id: str, since: int | None, until: int, done: _Replayed | None = None
    ) -> int:
        """Send the stored events ``subscription_id`` matches after ``since`` up to ``until``,
        and (``done`` given: a later subscription) the live events this connection received
        among them, each where it came; how many were sent."""
        sent = 0
        async for batch, seq in self.backend.protocol.stored(self._ws_thread, since=since, until=until):
            wanted = self._ws_subscriptions.get(subscription_id)
            if wanted is None:
                return sent  # unsubscribed meanwhile
            if done is not None:
                if done.lower is None:
                    done.lower = seq  # without a since: from the first stored event replayed
                sent += await self._replay_live(subscription_id, done, before=seq)
            chosen = [e for e in batch if matches(e, *wanted) and not _started_live(e, done)]
            for event in stamp(chosen, seq):
                await self.write_message(dumps(event))
                sent += 1
        if done is not None:
            sent += await self._replay_live(subscription_id, done, before=until + 1)
        return sent

    async def _replay_live(self, subscription_id: str, done: _Replayed, *, before: int) -> int:
        """The buffered live events received after stored event ``done.lower`` (or later) and
        before stored event ``before``, not sent yet, that the subscription matches."""
        if done.lower is None:
            return 0
        sent = 0
        for position, event in list(self._ws_live):
            if position >= before:
                break
            if position < done.lower or id(event) in done.sent:
                continue
            done.sent.add(id(event))
            wanted = self._ws_subscriptions.get(subscription_id)
            if wanted is not None and matches(event, *wanted):
                data = (event.get("params") or {}).get("data") or {}
                if event.get("method") == "messages" and data.get("event") == "message-start":
                    done.live_messages.add(str(data.get("id")))
                await self.write_message(dumps(event))
                sent += 1
        return sent

    def _unsent_live(self, done: _Replayed) -> bool:
        lower = done.lower
        return lower is not None and any(p >= lower and id(e) not in done.sent for p, e in self._ws_live)

    async def _pump_events(self, since: int | None) -> None:
        try:
            protocol = self.backend.protocol
            while True:  # until the thread exists (see open)
                try:
                    await protocol.check_thread(self._ws_thread)
                    break
                except NotFound:
                    await asyncio.sleep(_THREAD_POLL_SECONDS)
            async for batch, seq in protocol.events(self._ws_thread, since=since):
                if seq is not None:
                    self._ws_seen_seq = seq  # before any await: a new subscription replays up to it
                else:
                    # Live events are not stored: kept (bounded) for a later subscription on this
                    # connection, where they came among the stored ones.
                    self._ws_live.extend((self._ws_seen_seq or 0, e) for e in batch)
                chosen = [
                    e
                    for e in batch
                    if any(
                        matches(e, *wanted)
                        for sid, wanted in self._ws_subscriptions.items()
                        if sid not in self._ws_inactive
                    )
                ]
                for event in stamp(chosen, seq):
                    await self.write_message(dumps(event))
        except (WebSocketClosedError, asyncio.CancelledError):
            pass
        except Exception as err:
            log.warning("protocol WebSocket of thread %s failed: %r", self._ws_thread, err)
            with contextlib.suppress(Exception):
                self._send({"type": "error", "id": None, "error": "unknown_error", "message": str(err)})
                self.close(1011, "stream failed")

    def _send(self, body: dict[str, Any]) -> None:
        with contextlib.suppress(WebSocketClosedError):
            self.write_message(dumps(body))

    def on_close(self) -> None:
        if self._ws_pump is not None:
            self._ws_pump.cancel()
