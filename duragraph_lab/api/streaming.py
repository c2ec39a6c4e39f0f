"""From a run's events to LangGraph stream parts, one stream mode at a time.

Durable events (from the log) give ``values``, ``updates``, ``debug``, ``tasks``,
``checkpoints``, complete messages and errors; ephemeral live events (from NATS, never stored)
give LLM token chunks (``messages``), ``custom`` events and node starts. The encoder folds the
events it is given, so it can say what the state is after each step, for the root graph and,
with ``subgraphs``, for every subgraph namespace (event names ``mode|ns``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from duragraph_lab.api.checkpoints import checkpoint_step, shown_interrupts
from duragraph_lab.api.jsonout import iso, plain
from duragraph_lab.control.checkpoints import CHECKPOINT_TYPES
from duragraph_lab.domain import events as ev
from duragraph_lab.domain import reducers as red
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.domain.run import RunState, apply

log = logging.getLogger(__name__)

Part = tuple[str, Any]
LIVE_NODE_STARTED = "node_started"
LIVE_CUSTOM = "custom"
LIVE_MESSAGES = "messages"
LIVE_LANGGRAPH = "langgraph"
#: The modes whose parts, for a LangGraph run, are LangGraph's own chunks (live events).
LANGGRAPH_OWN_MODES = frozenset({"debug", "tasks", "checkpoints"})


def error_part(error: Mapping[str, Any] | None) -> dict[str, Any]:
    error = error or {}
    return {"error": str(error.get("type") or "Error"), "message": str(error.get("message") or "")}


class StreamEncoder:
    def __init__(
        self,
        modes: Sequence[str],
        *,
        subgraphs: bool = False,
        state: RunState | None = None,
        run_id: str,
        thread_id: str | None = None,
        langgraph: bool = False,
    ) -> None:
        self.modes = set(modes)
        #: A LangGraph graph's run: its debug/tasks/checkpoints parts are LangGraph's own (live
        #: events of the executor), not derived from the run's events.
        self.langgraph = langgraph
        self.subgraphs = subgraphs
        self.root = state.clone() if state is not None else RunState()
        self.run_id = run_id
        self._thread_id = thread_id
        # The last checkpoint streamed, by namespace: the next one's ``parent_config``.
        self.parents: dict[str, str] = {}
        self.ns_states: dict[str, RunState] = {}
        self.partials: dict[str, dict[str, Any]] = {}  # streamed AI messages so far, by id
        self.announced: set[str] = set()  # message ids whose metadata was sent
        self.completed: set[str] = set()  # message ids sent complete
        self._input_values_sent = False
        #: Keys of a LangGraph run's own parts sent (each comes live and from the log: once)
        self.own_sent: set[str] = set()

    @property
    def thread_id(self) -> str | None:
        # Known from the start when given, else from the run's first event once it is folded.
        return self._thread_id or self.root.thread_id

    def prime(self, events: Iterable[RecordedEvent]) -> None:
        """Remember the checkpoints of events already delivered (a stream resumed mid-run)."""
        for event in events:
            # A subgraph's start is its namespace's first checkpoint (see on_event).
            if event.type in CHECKPOINT_TYPES or event.type == ev.SUBGRAPH_STARTED:
                self.parents[str(event.data.get("ns") or "").rstrip("|")] = str(event.event_id)
            if event.type in (ev.RUN_CREATED, ev.SUBGRAPH_STARTED):
                # The input's values went out with it: step 0's plan must not send them again.
                self._input_values_sent = True

    # -- helpers -------------------------------------------------------------------------------
    def _want(self, mode: str) -> bool:
        return mode in self.modes

    @staticmethod
    def _suffix(ns: str) -> str:
        return "|" + ns.rstrip("|") if ns else ""

    def _meta(self, state: RunState, node: str | None, step: int | None, ns: str = "") -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "graph_id": state.graph_id or self.root.graph_id,
            "assistant_id": state.assistant_id or self.root.assistant_id,
            "langgraph_node": node,
            "langgraph_step": step,
            "langgraph_checkpoint_ns": ns.rstrip("|"),
            "tags": [],
        }

    def metadata(self) -> Part:
        return ("metadata", {"run_id": self.run_id, "attempt": max(self.root.attempt, 1)})

    # -- durable events ------------------------------------------------------------------------
    def on_event(self, event: RecordedEvent) -> list[Part]:
        ns = str(event.data.get("ns") or "")
        if ns and not self.subgraphs:
            return []
        state = self.root if not ns else self.ns_states.setdefault(ns, RunState())
        try:
            apply(state, event)
        except (DuraGraphError, KeyError, TypeError, ValueError) as err:
            # A stream must outlive an event it cannot fold (it is in the log either way).
            log.warning("stream of run %s: cannot fold %s %s: %s", self.run_id, event.type, event.seq, err)
            return []
        if event.type == ev.STREAM_PARTS:
            return self._kept_parts(event)
        if ns and self.langgraph:
            return []  # a LangGraph subgraph's parts are LangGraph's own (live events)
        suffix = self._suffix(ns)
        parts: list[Part] = []
        t = event.type
        if t == ev.RUN_CREATED or t == ev.SUBGRAPH_STARTED:
            self._input_values_sent = True
            parts += self._values(state, suffix)
            parts += self._checkpoint(state, event, suffix)
            if self._want("events") and not ns:
                parts.append(
                    ("events", self._chain_event("on_chain_start", state.graph_id, {"input": state.input}))
                )
        elif t == ev.STEP_PLANNED:
            if not (state.step == 0 and self._input_values_sent):
                parts += self._values(state, suffix)
            parts += self._checkpoint(state, event, suffix)
            parts += self._task_starts(state, event, suffix)
        elif t == ev.NODE_COMPLETED:
            parts += self._node_completed(state, event, suffix, ns)
        elif t == ev.NODE_FAILED:
            failed = cast("ev.NodeFailed", event.data)
            result: dict[str, Any] = {
                "id": failed.get("task"),
                "name": failed.get("node"),
                "error": _error_text(failed.get("error")),
                "result": {},
                "interrupts": [],
            }
            parts += self._task_result(result, state.step, suffix, event.recorded_at)
        elif t == ev.RUN_INTERRUPTED:
            paused = cast("ev.RunInterrupted", event.data)
            recorded = paused.get("interrupts", [])
            interrupts = shown_interrupts(recorded)
            if self._want("updates"):
                parts.append(("updates" + suffix, {"__interrupt__": interrupts}))
            # At a LangGraph breakpoint LangGraph sends no values (the state did not change).
            if self._want("values") and (interrupts or not recorded):
                parts.append(("values" + suffix, {**plain(state.values), "__interrupt__": interrupts}))
        elif t == ev.RUN_COMPLETED:
            parts += self._values(state, suffix)
            parts += self._checkpoint(state, event, suffix)
            if self._want("events") and not ns:
                parts.append(
                    ("events", self._chain_event("on_chain_end", state.graph_id, {"output": state.values}))
                )
        elif t == ev.STATE_UPDATED:
            parts += self._values(state, suffix)
            parts += self._checkpoint(state, event, suffix)
        elif t in (ev.RUN_FAILED, ev.RUN_TIMED_OUT) and not ns:
            parts.append(
                ("error", error_part(cast("ev.RunFailed | ev.RunTimedOut", event.data).get("error")))
            )
        return parts

    def _kept_parts(self, event: RecordedEvent) -> list[Part]:
        """LangGraph's own parts kept in the log: those this stream did not get live (it
        replays the run, or subscribed after they were sent)."""
        if not self.langgraph:
            return []
        parts: list[Part] = []
        for part in cast("ev.StreamParts", event.data).get("parts") or []:
            parts += self._own(
                str(part.get("mode")), str(part.get("ns") or ""), part.get("chunk"), part.get("key")
            )
        return parts

    def _own(self, mode: str, ns: str, chunk: Any, key: Any) -> list[Part]:
        """One of LangGraph's own parts, once: it comes live and again from the log."""
        if key is not None:
            if key in self.own_sent:
                return []
            self.own_sent.add(str(key))
        if (ns and not self.subgraphs) or not self._want(mode):
            return []
        return [(mode + self._suffix(ns), chunk)]

    def _values(self, state: RunState, suffix: str) -> list[Part]:
        return [("values" + suffix, plain(state.values))] if self._want("values") else []

    def _checkpoint(self, state: RunState, event: RecordedEvent, suffix: str) -> list[Part]:
        if self.langgraph or not (self._want("debug") or self._want("checkpoints")):
            return []
        ns = str(event.data.get("ns") or "").rstrip("|")
        config = {
            "configurable": {
                "thread_id": self.thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": str(event.event_id),
            }
        }
        parent = self.parents.get(ns)
        self.parents[ns] = str(event.event_id)
        # As in LangGraph: the checkpoint's step (-1 for the input) is also the debug event's step.
        step = checkpoint_step(state, event)
        source = {ev.RUN_CREATED: "input", ev.STATE_UPDATED: "update"}.get(event.type, "loop")
        payload = {
            "config": config,
            "parent_config": (
                {"configurable": {"thread_id": self.thread_id, "checkpoint_ns": ns, "checkpoint_id": parent}}
                if parent
                else None
            ),
            "values": plain(state.values),
            "metadata": {"source": source, "step": step, "run_id": self.run_id, "seq": event.seq},
            "next": [t.node for t in state.pending_tasks],
            "tasks": [
                {"id": t.id, "name": t.node, "interrupts": [], "state": None} for t in state.pending_tasks
            ],
            "checkpoint": config["configurable"],
        }
        parts: list[Part] = []
        if self._want("checkpoints"):
            parts.append(("checkpoints" + suffix, payload))
        if self._want("debug"):
            parts.append(("debug" + suffix, self._debug("checkpoint", step, payload, event.recorded_at)))
        return parts

    def _task_starts(self, state: RunState, event: RecordedEvent, suffix: str) -> list[Part]:
        if self.langgraph or not (self._want("debug") or self._want("tasks")):
            return []
        parts: list[Part] = []
        for task in state.tasks:
            payload = {
                "id": task.id,
                "name": task.node,
                "input": plain(task.arg) if task.has_arg else plain(state.values),
                "triggers": list(task.triggers),
            }
            if self._want("tasks"):
                parts.append(("tasks" + suffix, payload))
            if self._want("debug"):
                parts.append(("debug" + suffix, self._debug("task", state.step, payload, event.recorded_at)))
        return parts

    def _task_result(self, result: dict[str, Any], step: int, suffix: str, at: Any) -> list[Part]:
        parts: list[Part] = []
        if self.langgraph:
            return parts
        if self._want("tasks"):
            parts.append(("tasks" + suffix, result))
        if self._want("debug"):
            parts.append(("debug" + suffix, self._debug("task_result", step, result, at)))
        return parts

    @staticmethod
    def _debug(kind: str, step: int, payload: Any, at: Any) -> dict[str, Any]:
        return {"type": kind, "step": step, "timestamp": iso(at), "payload": payload}

    def _node_completed(self, state: RunState, event: RecordedEvent, suffix: str, ns: str) -> list[Part]:
        d = cast("ev.NodeCompleted", event.data)
        node, update = d.get("node"), plain(d.get("update") or {})
        parts: list[Part] = []
        if self._want("updates"):
            if d.get("cached"):
                # As LangGraph marks a task served from its cache (CachePolicy).
                parts.append(("updates" + suffix, {node: update or None, "__metadata__": {"cached": True}}))
            else:
                parts.append(("updates" + suffix, {node: update or None}))
        parts += self._task_result(
            {"id": d.get("task"), "name": node, "error": None, "result": update, "interrupts": []},
            state.step,
            suffix,
            event.recorded_at,
        )
        # "events" too: its token chunks must add up to the message before the node's end (the
        # run's end may close the stream before tokens overtaken by the completion arrive).
        if self._want("messages") or self._want("messages-tuple") or self._want("events"):
            meta = self._meta(state, node, state.step, ns)
            for message in _new_messages(update, state.channels):
                parts += self._complete_message(message, meta, suffix)
        if self._want("events") and not ns:
            parts.append(("events", self._chain_event("on_chain_end", node, {"output": update})))
        return parts

    def _complete_message(self, message: dict[str, Any], meta: dict[str, Any], suffix: str) -> list[Part]:
        msg_id = str(message.get("id"))
        if msg_id in self.completed:
            return []
        self.completed.add(msg_id)
        partial = self.partials.pop(msg_id, None)
        # Tokens travel apart from the log (live, over NATS): the node's completion can overtake
        # its last tokens, which then come too late to be sent (see on_live). What they would
        # have added goes out now, so that a streamed message's chunks add up to the message.
        rest = _unstreamed(partial, message) if partial is not None else ""
        parts: list[Part] = []
        if self._want("messages"):
            if msg_id not in self.announced:
                self.announced.add(msg_id)
                parts.append(("messages/metadata" + suffix, {msg_id: {"metadata": meta}}))
            if rest:
                parts.append(
                    (
                        "messages/partial" + suffix,
                        [{"type": "AIMessageChunk", "content": message["content"], "id": msg_id}],
                    )
                )
            parts.append(("messages/complete" + suffix, [message]))
        if self._want("messages-tuple"):
            if partial is None:
                # Streamed messages already went out chunk by chunk; the others go out whole.
                parts.append(("messages" + suffix, [message, meta]))
            elif rest:
                parts.append(
                    ("messages" + suffix, [{"type": "AIMessageChunk", "content": rest, "id": msg_id}, meta])
                )
        if self._want("events") and rest:
            chunk = {"chunk": {"content": rest, "id": msg_id}}
            parts.append(
                ("events", self._chain_event("on_chat_model_stream", meta.get("langgraph_node"), chunk))
            )
        return parts

    def _chain_event(self, kind: str, name: str | None, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "event": kind,
            "name": name,
            "run_id": self.run_id,
            "tags": [],
            "metadata": {"thread_id": self.thread_id, "graph_id": self.root.graph_id},
            "data": plain(data),
            "parent_ids": [],
        }

    # -- live events ---------------------------------------------------------------------------
    def on_live(self, item: Mapping[str, Any]) -> list[Part]:
        ns = str(item.get("ns") or "")
        if ns and not self.subgraphs:
            return []
        suffix = self._suffix(ns)
        kind = item.get("kind")
        state = self.root if not ns else self.ns_states.get(ns, self.root)
        node = item.get("node")
        step = item.get("step", state.step)
        if kind == LIVE_CUSTOM and self._want("custom"):
            return [("custom" + suffix, plain(item.get("payload")))]
        if kind == LIVE_LANGGRAPH:
            own = item.get("payload") or {}
            return self._own(str(own.get("mode")), ns, own.get("chunk"), own.get("key"))
        if kind == LIVE_MESSAGES and (
            self._want("messages") or self._want("messages-tuple") or self._want("events")
        ):
            payload = item.get("payload") or {}
            msg_id, delta = str(payload.get("id")), str(payload.get("delta") or "")
            if msg_id in self.completed:
                return []  # a late token of a message already sent whole
            meta = self._meta(state, node, step, ns)
            parts: list[Part] = []
            partial = self.partials.setdefault(
                msg_id, {"type": "AIMessageChunk", "content": "", "id": msg_id}
            )
            partial["content"] += delta
            if self._want("messages"):
                if msg_id not in self.announced:
                    self.announced.add(msg_id)
                    parts.append(("messages/metadata" + suffix, {msg_id: {"metadata": meta}}))
                parts.append(("messages/partial" + suffix, [dict(partial)]))
            if self._want("messages-tuple"):
                parts.append(
                    ("messages" + suffix, [{"type": "AIMessageChunk", "content": delta, "id": msg_id}, meta])
                )
            if self._want("events"):
                parts.append(
                    (
                        "events",
                        self._chain_event(
                            "on_chat_model_stream", node, {"chunk": {"content": delta, "id": msg_id}}
                        ),
                    )
                )
            return parts
        if kind == LIVE_NODE_STARTED and self._want("events") and not ns:
            return [("events", self._chain_event("on_chain_start", node, {"input": None}))]
        return []


def _error_text(error: Any) -> str | None:
    if not isinstance(error, Mapping):
        return None if error is None else str(error)
    return f"{error.get('type', 'Error')}: {error.get('message', '')}"


def _unstreamed(partial: Mapping[str, Any], message: Mapping[str, Any]) -> str:
    """The end of ``message``'s text that its streamed chunks (``partial``) did not carry."""
    sent, whole = partial.get("content"), message.get("content")
    if isinstance(sent, str) and isinstance(whole, str) and whole.startswith(sent):
        return whole[len(sent) :]
    return ""


def _new_messages(update: Mapping[str, Any], channels: Mapping[str, str]) -> Iterable[dict[str, Any]]:
    for key, value in update.items():
        if channels.get(key) != red.ADD_MESSAGES:
            continue
        for message in value if isinstance(value, list) else [value]:
            if isinstance(message, dict) and message.get("type") not in (None, "remove", "human"):
                yield message
