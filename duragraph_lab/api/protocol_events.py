"""From DuraGraph's event log to the events of the thread-centric streaming protocol (the one
``langgraph-sdk``'s ``client.threads.stream`` speaks, typed by ``langchain-protocol``).

One stored event becomes zero or more protocol events ``{"type": "event", "method", "params":
{"namespace", "timestamp", "data"}, "event_id", "seq"}``. The mapping is a fold over a run's
events (what a ``values`` event carries is the state after the event), so it is deterministic:
the same stored events always give the same protocol events with the same ``event_id``
(``<stored event id>:<index>``), on every server and on every replay. ``seq`` is the stored
event's global seq; a transport puts it only on the last protocol event of a stored event that
it sends (:func:`stamp`), so that a client's ``since`` cursor never points into the middle of a
stored event: resuming after it misses nothing and repeats nothing.

Live events (tokens, custom events; never stored) become protocol events without ``event_id``
or ``seq``: they are not replayed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from duragraph_lab.api.checkpoints import interrupt_json
from duragraph_lab.api.jsonout import plain
from duragraph_lab.api.streaming import LIVE_CUSTOM, LIVE_MESSAGES, StreamEncoder
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.run import RunState

#: The subscription channels of the protocol (plus ``custom:<name>``).
CHANNELS = ("values", "updates", "messages", "tools", "lifecycle", "input", "checkpoints", "tasks", "custom")
#: Methods whose channel is their own name.
_DIRECT = frozenset({"values", "updates", "messages", "tools", "lifecycle", "tasks", "checkpoints"})
#: The run-centric stream modes the encoder must produce for the protocol's channels.
_MODES = ("values", "updates", "tasks", "checkpoints", "messages", "custom")
_TERMINAL = {
    ev.RUN_COMPLETED: "completed",
    ev.RUN_FAILED: "failed",
    ev.RUN_TIMED_OUT: "failed",
    ev.RUN_CANCELLED: "failed",
}

ProtocolEvent = dict[str, Any]


def namespace_of(ns: str) -> list[str]:
    """Our namespace string (``"sub:<task>|inner:<task>|"``) as the protocol's list of segments."""
    return [segment for segment in ns.split("|") if segment]


def channel_of(event: Mapping[str, Any]) -> str | None:
    """The subscription channel of a protocol event (None: no channel carries it)."""
    method = event.get("method")
    if method in _DIRECT:
        return str(method)
    if method == "input.requested":
        return "input"
    if method == "custom":
        data = (event.get("params") or {}).get("data")
        name = data.get("name") if isinstance(data, Mapping) else None
        return f"custom:{name}" if isinstance(name, str) and name else "custom"
    return None


def _prefix_matches(namespace: Sequence[str], prefix: Sequence[str]) -> bool:
    # A prefix segment without ``:`` matches a segment with any dynamic ``:<task id>`` suffix.
    if len(prefix) > len(namespace):
        return False
    for want, have in zip(prefix, namespace, strict=False):
        if want == have or (":" not in want and have.partition(":")[0] == want):
            continue
        return False
    return True


def matches(
    event: Mapping[str, Any],
    channels: Sequence[str],
    namespaces: Sequence[Sequence[str]] | None,
    depth: int | None,
) -> bool:
    """Whether a subscription (channels, namespace prefixes, depth below them) receives ``event``."""
    channel = channel_of(event)
    if channel is None:
        return False
    if channel not in channels and not (channel.startswith("custom:") and "custom" in channels):
        return False
    namespace = list((event.get("params") or {}).get("namespace") or [])
    if not namespaces:
        return depth is None or len(namespace) <= depth
    for prefix in namespaces:
        if _prefix_matches(namespace, prefix) and (depth is None or len(namespace) - len(prefix) <= depth):
            return True
    return False


def stamp(events: Sequence[ProtocolEvent], seq: int | None) -> list[ProtocolEvent]:
    """``events`` (the ones of one stored event that a transport sends) with ``seq`` on the last."""
    out = [dict(e) for e in events]
    if out and seq is not None:
        out[-1]["seq"] = seq
    return out


def _event(method: str, namespace: list[str], data: Any, timestamp: int) -> ProtocolEvent:
    return {
        "type": "event",
        "method": method,
        "params": {"namespace": namespace, "timestamp": timestamp, "data": data},
    }


def _millis(event: RecordedEvent) -> int:
    return int(event.recorded_at.timestamp() * 1000)


class ProtocolEncoder:
    """Protocol events of one run, event by event (a fold: feed the run's events in order,
    starting from the state before the first one fed, as :class:`StreamEncoder` does)."""

    def __init__(self, run_id: str, thread_id: str, *, state: RunState | None = None) -> None:
        self.run_id = run_id
        self.thread_id = thread_id
        self._encoder = StreamEncoder(_MODES, subgraphs=True, state=state, run_id=run_id, thread_id=thread_id)
        #: Messages whose start went out with live tokens (their durable start is not sent again).
        self._started_live: set[str] = set()

    @property
    def state(self) -> RunState:
        return self._encoder.root

    def prime(self, events: Iterable[RecordedEvent]) -> None:
        """Remember what the events before the first one fed did (a stream resumed mid-run)."""
        self._encoder.prime(events)

    def ns_state(self, ns: str, state: RunState) -> None:
        """The state of subgraph namespace ``ns`` before the first event fed."""
        self._encoder.ns_states[ns] = state

    def on_event(self, event: RecordedEvent) -> list[ProtocolEvent]:
        """The protocol events of a stored event, each with its deterministic ``event_id``."""
        out = self._durable(event)
        for i, item in enumerate(out):
            item["event_id"] = f"{event.event_id}:{i}"
        # Messages already started by live tokens: their start events are dropped here, after
        # the ids were given, so that the ids of what remains match a replay's.
        return [e for e in out if not self._skip_started(e)]

    def _skip_started(self, event: ProtocolEvent) -> bool:
        if event["method"] != "messages":
            return False
        data = event["params"]["data"]
        key = str(data.get("_message_id") or "")
        data.pop("_message_id", None)
        return (
            bool(key)
            and key in self._started_live
            and data.get("event") in ("message-start", "content-block-start")
        )

    def _durable(self, event: RecordedEvent) -> list[ProtocolEvent]:
        ns_text = str(event.data.get("ns") or "")
        namespace = namespace_of(ns_text)
        at = _millis(event)
        state_before = self._encoder.ns_states.get(ns_text) if ns_text else self._encoder.root
        graph_before = state_before.graph_id if state_before is not None else None
        parts = self._encoder.on_event(event)
        out: list[ProtocolEvent] = []
        t = event.type
        if t in (ev.RUN_CREATED, ev.SUBGRAPH_STARTED) or (t == ev.RUN_RESUMED and not namespace):
            state = self._encoder.ns_states.get(ns_text) if ns_text else self._encoder.root
            graph = (state.graph_id if state is not None else None) or graph_before or ""
            phase = "started" if t != ev.RUN_RESUMED else "running"
            out.append(
                _event(
                    "lifecycle",
                    namespace,
                    {"event": phase, "graph_name": graph or "", "run_id": self.run_id},
                    at,
                )
            )
        for name, payload in parts:
            mode = name.split("|", 1)[0]
            if mode == "values":
                # Interrupts travel on the input channel, not in the state.
                values = {k: v for k, v in payload.items() if k != "__interrupt__"}
                out.append(_event("values", namespace, values, at))
            elif mode == "updates":
                out += self._updates(namespace, payload, at)
            elif mode == "tasks":
                out.append(_event("tasks", namespace, payload, at))
            elif mode == "checkpoints":
                out.append(_event("checkpoints", namespace, _checkpoint(payload), at))
            elif mode == "messages/complete":
                for message in payload:
                    out += _message_events(namespace, message, at)
                    out += _tool_events(namespace, message, at)
        if t == ev.RUN_INTERRUPTED:
            for intr in event.data.get("interrupts", []):
                item = interrupt_json(intr)
                # The protocol names the interrupt's value ``payload``; langgraph-sdk 0.4's
                # client reads ``value``: both are sent.
                asked = {"interrupt_id": item["id"], "payload": item["value"], "value": item["value"]}
                out.append(_event("input.requested", namespace, asked, at))
            out.append(_event("lifecycle", namespace, {"event": "interrupted", "run_id": self.run_id}, at))
        elif t in _TERMINAL:
            data: dict[str, Any] = {"event": _TERMINAL[t], "run_id": self.run_id}
            if t != ev.RUN_COMPLETED:
                error = event.data.get("error") or {}
                reason = event.data.get("reason")
                data["error"] = (
                    f"cancelled: {reason or 'the run was cancelled'}"
                    if t == ev.RUN_CANCELLED
                    else f"{error.get('type', 'Error')}: {error.get('message', '')}"
                    if isinstance(error, Mapping)
                    else str(error)
                )
            out.append(_event("lifecycle", namespace, data, at))
        return out

    @staticmethod
    def _updates(namespace: list[str], payload: Mapping[str, Any], at: int) -> list[ProtocolEvent]:
        out = []
        for node, update in payload.items():
            if node == "__interrupt__":
                continue  # the protocol carries interrupts on the input channel
            out.append(_event("updates", namespace, {"node": node, "values": update or {}}, at))
        return out

    def on_live(self, item: Mapping[str, Any]) -> list[ProtocolEvent]:
        """The protocol events of a live event (no ``event_id``, no ``seq``: not replayed)."""
        namespace = namespace_of(str(item.get("ns") or ""))
        at = int(item.get("at") or time.time() * 1000)
        kind = item.get("kind")
        if kind == LIVE_CUSTOM:
            payload = plain(item.get("payload"))
            data: dict[str, Any] = {"payload": payload}
            if isinstance(payload, Mapping) and isinstance(payload.get("name"), str):
                data["name"] = payload["name"]
            return [_event("custom", namespace, data, at)]
        if kind == LIVE_MESSAGES:
            payload = item.get("payload") or {}
            msg_id, delta = str(payload.get("id")), str(payload.get("delta") or "")
            if msg_id in self._encoder.completed:
                return []
            out: list[ProtocolEvent] = []
            if msg_id not in self._started_live:
                self._started_live.add(msg_id)
                meta = {
                    "run_id": self.run_id,
                    "thread_id": self.thread_id,
                    "langgraph_node": item.get("node"),
                }
                out.append(
                    _event(
                        "messages",
                        namespace,
                        {"event": "message-start", "role": "ai", "id": msg_id, "metadata": meta},
                        at,
                    )
                )
                out.append(
                    _event(
                        "messages",
                        namespace,
                        {
                            "event": "content-block-start",
                            "index": 0,
                            "content": {"type": "text", "text": ""},
                            "id": msg_id,
                        },
                        at,
                    )
                )
            out.append(
                _event(
                    "messages",
                    namespace,
                    {
                        "event": "content-block-delta",
                        "index": 0,
                        "delta": {"type": "text-delta", "text": delta},
                        "id": msg_id,
                    },
                    at,
                )
            )
            return out
        return []


def _checkpoint(payload: Mapping[str, Any]) -> dict[str, Any]:
    config = payload.get("config") or {}
    parent = payload.get("parent_config") or {}
    meta = payload.get("metadata") or {}
    out = {
        "id": (config.get("configurable") or {}).get("checkpoint_id"),
        "step": meta.get("step", 0),
        "source": meta.get("source", "loop"),
    }
    parent_id = (parent.get("configurable") or {}).get("checkpoint_id") if parent else None
    if parent_id:
        out["parent_id"] = parent_id
    return out


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(b.get("text", "")) for b in content if isinstance(b, Mapping) and b.get("type") == "text"
        )
    return ""


def _message_events(namespace: list[str], message: Mapping[str, Any], at: int) -> list[ProtocolEvent]:
    """A whole message as the protocol's message lifecycle (start, blocks, finish)."""
    msg_id = str(message.get("id"))
    kind = message.get("type")
    if kind not in ("ai", "AIMessageChunk"):
        return []
    tag = {"_message_id": msg_id}
    out = [
        _event("messages", namespace, {"event": "message-start", "role": "ai", "id": msg_id, **tag}, at),
    ]
    index = 0
    text = _text(message.get("content"))
    if text:
        block: dict[str, Any] = {"type": "text", "text": text}
        out.append(
            _event(
                "messages",
                namespace,
                {
                    "event": "content-block-start",
                    "index": index,
                    "content": {"type": "text", "text": ""},
                    "id": msg_id,
                    **tag,
                },
                at,
            )
        )
        out.append(
            _event(
                "messages",
                namespace,
                {"event": "content-block-finish", "index": index, "content": block, "id": msg_id},
                at,
            )
        )
        index += 1
    for call in message.get("tool_calls") or []:
        block = {
            "type": "tool_call",
            "id": call.get("id"),
            "name": call.get("name"),
            "args": call.get("args") or {},
        }
        out.append(
            _event(
                "messages",
                namespace,
                {"event": "content-block-finish", "index": index, "content": block, "id": msg_id},
                at,
            )
        )
        index += 1
    finish: dict[str, Any] = {"event": "message-finish", "id": msg_id}
    usage = message.get("usage_metadata")
    if isinstance(usage, Mapping):
        finish["usage"] = dict(usage)
    out.append(_event("messages", namespace, finish, at))
    return out


def _tool_events(namespace: list[str], message: Mapping[str, Any], at: int) -> list[ProtocolEvent]:
    """Tool calls (an AI message's) and their results (a tool message) on the ``tools`` channel."""
    if message.get("type") in ("ai", "AIMessageChunk"):
        return [
            _event(
                "tools",
                namespace,
                {
                    "event": "tool-started",
                    "tool_call_id": str(call.get("id")),
                    "tool_name": str(call.get("name") or ""),
                    "input": call.get("args") or {},
                },
                at,
            )
            for call in message.get("tool_calls") or []
            if call.get("id")
        ]
    if message.get("type") == "tool" and message.get("tool_call_id"):
        call_id = str(message["tool_call_id"])
        if message.get("status") == "error":
            return [
                _event(
                    "tools",
                    namespace,
                    {
                        "event": "tool-error",
                        "tool_call_id": call_id,
                        "message": _text(message.get("content")),
                    },
                    at,
                )
            ]
        return [
            _event(
                "tools",
                namespace,
                {"event": "tool-finished", "tool_call_id": call_id, "output": message.get("content")},
                at,
            )
        ]
    return []


def protocol_events(
    run_id: str, thread_id: str, events: Iterable[RecordedEvent], *, state: RunState | None = None
) -> list[tuple[RecordedEvent, list[ProtocolEvent]]]:
    """The protocol events of a run's stored events, each stored event with its own: a pure
    function of the events (and the state before the first)."""
    encoder = ProtocolEncoder(run_id, thread_id, state=state)
    return [(event, encoder.on_event(event)) for event in events]


_OPEN = ("started", "running")


def agent_tree(events: Iterable[ProtocolEvent], root_graph: str) -> dict[str, Any]:
    """The protocol's ``AgentTreeNode`` of a run (``agent.getTree``) from its protocol events in
    order: every namespace a ``lifecycle`` event opened, with its last status and graph name,
    children (when it has any) sorted by namespace, as LangGraph's server builds it. A subgraph
    is ``completed`` once execution works outside it or the run completes; still open when the
    run stops, it takes the run's status (``interrupted``, ``failed``)."""
    infos: dict[tuple[str, ...], dict[str, Any]] = {
        (): {"namespace": [], "status": "started", "graph_name": root_graph}
    }
    for event in events:
        params = event.get("params") or {}
        here = tuple(params.get("namespace") or [])
        method = event.get("method")
        # Work elsewhere (a task, its result, a message, another subgraph starting) means
        # execution has left a subgraph; state reports (values, checkpoints), an interrupt's
        # question and the run's own lifecycle do not (a run pausing inside a subgraph reports
        # the root's state, then stops).
        working = method in ("updates", "tasks", "messages", "tools") or (method == "lifecycle" and here)
        for key, info in infos.items():
            if key and working and info["status"] in _OPEN and here[: len(key)] != key:
                info["status"] = "completed"  # execution has left it
        if method != "lifecycle":
            continue
        data = params.get("data") or {}
        info = infos.setdefault(here, {"namespace": list(here), "status": "started", "graph_name": ""})
        info["status"] = str(data.get("event") or info["status"])
        if data.get("graph_name"):
            info["graph_name"] = str(data["graph_name"])
        if not info["graph_name"]:
            info["graph_name"] = here[-1].partition(":")[0] if here else root_graph
    final = infos[()]["status"]
    for key, info in infos.items():
        if key and info["status"] in _OPEN and final not in _OPEN:
            info["status"] = final

    def node(key: tuple[str, ...]) -> dict[str, Any]:
        out = dict(infos[key])
        children = sorted(k for k in infos if len(k) == len(key) + 1 and k[: len(key)] == key)
        if children:
            out["children"] = [node(k) for k in children]
        return out

    return node(())
