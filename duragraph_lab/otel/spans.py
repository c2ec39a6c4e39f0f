"""A run's trace as plain data, computed from its recorded events alone.

:func:`run_trace` is a pure function: the same events give the same spans, whichever worker
wrote them and however many times the run was picked up. So a run whose worker died halfway
still has a complete trace (the attempt that crashed left no event and has no span; the attempt
that finished it has one), and a trace can be exported again at any time.

The shape of the trace:

* one root span ``run <graph>`` from ``run_created`` to the run's last end event (or its last
  event while it is still going), with ``run_started`` (one per pick-up), interrupts, resumes,
  cancel requests as span events;
* a span per node attempt (``node_completed``/``node_failed``), retries being sibling spans of
  the same task with ``duragraph.attempt`` 2, 3, …; a failed attempt that will be retried
  carries a ``retry`` event, an interrupt raised by a task an ``interrupt`` event;
* a subgraph's node spans are children of the span of the parent node attempt that ran it
  (the namespace ``node:task:attempt|`` names that attempt);
* a model call recorded in a node event is a GenAI ``chat`` span under its node span, from the
  call's own ``started_at`` to its ``finished_at`` (calls recorded before these times were kept
  take their node's). A tool call recorded in the event (``tool_calls``) is an ``execute_tool``
  span with its own times; without them, each tool message in the node's update is one, with
  the node's times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from duragraph_lab.domain.envelope import RecordedEvent

AttributeValue = str | bool | int | float | list[str]
SpanKind = Literal["internal", "client"]
SpanStatus = Literal["unset", "ok", "error"]

END_TYPES = {"run_completed", "run_failed", "run_cancelled", "run_timed_out"}
#: The span's ``gen_ai.provider.name`` when the log does not say which provider answered.
UNKNOWN_PROVIDER = "duragraph_lab"


@dataclass(frozen=True, slots=True)
class SpanEvent:
    name: str
    time: float
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One span. ``key`` is unique within its run and stable across exports (span ids derive
    from it); ``parent`` is the parent's key, ``None`` for the run's root span. Times are epoch
    seconds."""

    key: str
    parent: str | None
    name: str
    kind: SpanKind
    start: float
    end: float
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    events: Sequence[SpanEvent] = ()
    status: SpanStatus = "unset"
    status_message: str = ""


@dataclass(frozen=True, slots=True)
class RunTrace:
    run_id: str
    spans: Sequence[SpanRecord]
    ended: bool

    @property
    def root(self) -> SpanRecord:
        return self.spans[0]


def run_trace(run_id: str, events: Iterable[RecordedEvent]) -> RunTrace:
    """The trace of the run ``run_id`` from its stream's events (in version order)."""
    ordered = sorted(events, key=lambda e: e.version)
    if not ordered or ordered[0].type != "run_created":
        raise ValueError(f"run {run_id}: its event log does not start with run_created")
    created = ordered[0]
    root_key = "run"
    graph_id = str(created.data.get("graph_id") or "graph")
    root_events: list[SpanEvent] = []
    spans: list[SpanRecord] = []
    end_event: RecordedEvent | None = None
    status: SpanStatus = "unset"
    status_message = ""
    for event in ordered:
        data = event.data
        t = _time(event)
        ns = str(data.get("ns") or "")
        if event.type in ("node_completed", "node_failed"):
            spans.extend(_node_spans(root_key, ns, data, t))
        elif ns:
            continue  # a subgraph's lifecycle is its parent node's business, not the run's
        elif event.type == "run_started":
            root_events.append(
                SpanEvent(
                    "run_started",
                    t,
                    _attrs(
                        worker_id=data.get("worker_id"), attempt=data.get("attempt"), epoch=data.get("epoch")
                    ),
                )
            )
        elif event.type == "run_interrupted":
            for intr in data.get("interrupts") or []:
                root_events.append(SpanEvent("interrupt", t, _interrupt_attrs(intr, data.get("step"))))
        elif event.type == "run_resumed":
            root_events.append(SpanEvent("run_resumed", t))
        elif event.type == "run_cancel_requested":
            root_events.append(
                SpanEvent(
                    "run_cancel_requested", t, _attrs(reason=data.get("reason"), action=data.get("action"))
                )
            )
        elif event.type == "state_updated":
            root_events.append(SpanEvent("state_updated", t, _attrs(as_node=data.get("as_node"))))
        elif event.type in END_TYPES:
            end_event = event
            status, status_message = _end_status(event)
    last = end_event if end_event is not None else ordered[-1]
    # Only completed attempts count: a failed one records no calls.
    usage: dict[str, int] = {}
    for span in spans:
        for key in ("duragraph.usage.input_tokens", "duragraph.usage.output_tokens"):
            value = span.attributes.get(key)
            if span.name.startswith("node ") and isinstance(value, int):
                usage[key] = usage.get(key, 0) + value
    root = SpanRecord(
        key=root_key,
        parent=None,
        name=f"run {graph_id}",
        kind="internal",
        # Node times come from the workers' clocks, the run's from the database's: the run span
        # is stretched to contain its nodes whatever the skew.
        start=min(_time(created), *(s.start for s in spans)) if spans else _time(created),
        end=max(_time(last), *(s.end for s in spans)) if spans else _time(last),
        attributes=_attrs(
            **{
                "duragraph.run_id": run_id,
                "duragraph.thread_id": created.data.get("thread_id"),
                "duragraph.graph_id": graph_id,
                "duragraph.assistant_id": created.data.get("assistant_id"),
                "duragraph.status": _status_name(end_event, ordered),
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": graph_id,
                "gen_ai.conversation.id": created.data.get("thread_id"),
                **usage,
            }
        ),
        events=tuple(root_events),
        status=status,
        status_message=status_message,
    )
    return RunTrace(run_id=run_id, spans=(root, *spans), ended=end_event is not None)


def node_key(ns: str, task: str, attempt: int) -> str:
    """The span key of one node attempt: its namespace (the parent attempts) and itself."""
    return f"{ns}{task}:{attempt}"


def _parent_of(root_key: str, ns: str) -> str:
    # ns "mid:0.0:1|inner:1.0:2|": the last segment names the parent attempt, the rest its ns.
    if not ns:
        return root_key
    segments = ns.rstrip("|").split("|")
    node, task, attempt = segments[-1].rsplit(":", 2)
    del node
    prefix = "".join(s + "|" for s in segments[:-1])
    return node_key(prefix, task, int(attempt))


def _node_spans(root_key: str, ns: str, data: Mapping[str, Any], recorded: float) -> list[SpanRecord]:
    task = str(data.get("task"))
    attempt = int(data.get("attempt") or 1)
    node = str(data.get("node"))
    key = node_key(ns, task, attempt)
    start = float(data.get("started_at") or recorded)
    end = float(data.get("finished_at") or recorded)
    events: list[SpanEvent] = []
    status: SpanStatus = "ok"
    message = ""
    calls = list(data.get("model_calls") or [])
    attributes = _attrs(
        **{
            "duragraph.node": node,
            "duragraph.task": task,
            "duragraph.step": data.get("step"),
            "duragraph.attempt": attempt,
            "duragraph.ns": ns or None,
            **_usage_totals(calls),
        }
    )
    if "error" in data:  # node_failed
        error = data.get("error") or {}
        status, message = "error", f"{error.get('type', 'Error')}: {error.get('message', '')}"
        events.append(
            SpanEvent(
                "exception",
                end,
                _attrs(
                    **{
                        "exception.type": error.get("type"),
                        "exception.message": error.get("message"),
                        "exception.stacktrace": error.get("traceback"),
                    }
                ),
            )
        )
        if data.get("will_retry"):
            events.append(
                SpanEvent("retry", end, _attrs(retry_in=data.get("retry_in"), next_attempt=attempt + 1))
            )
    span = SpanRecord(
        key=key,
        parent=_parent_of(root_key, ns),
        name=f"node {node}",
        kind="internal",
        start=start,
        end=end,
        attributes=attributes,
        events=tuple(events),
        status=status,
        status_message=message,
    )
    children = [_model_span(key, i, call, start, end) for i, call in enumerate(calls)]
    if data.get("tool_calls"):
        children += [_timed_tool_span(key, i, call, start, end) for i, call in enumerate(data["tool_calls"])]
    else:
        children += _tool_spans(key, (data.get("update") or {}), start, end)
    return [span, *children]


def _call_times(call: Mapping[str, Any], start: float, end: float) -> tuple[float, float]:
    began = call.get("started_at")
    ended = call.get("finished_at")
    if not isinstance(began, int | float) or not isinstance(ended, int | float):
        return start, end
    return float(began), max(float(began), float(ended))


def _usage_totals(calls: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``duragraph.usage.input_tokens``/``output_tokens``: the tokens the calls reported (absent
    when none did). On node and run spans: the GenAI usage attributes belong to model spans."""
    totals: dict[str, int] = {}
    for call in calls:
        for kind, tokens in (call.get("usage") or {}).items():
            if kind in ("input_tokens", "output_tokens") and isinstance(tokens, int):
                key = f"duragraph.usage.{kind}"
                totals[key] = totals.get(key, 0) + tokens
    return totals


def _model_span(parent: str, index: int, call: Mapping[str, Any], start: float, end: float) -> SpanRecord:
    model = str(call.get("model") or "unknown")
    response = call.get("response") or {}
    request = call.get("request") or {}
    usage = call.get("usage") or {}
    attributes = _attrs(
        **{
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": call.get("provider") or UNKNOWN_PROVIDER,
            # Its name before the conventions' 1.37 release, still the one some backends read.
            "gen_ai.system": call.get("provider") or UNKNOWN_PROVIDER,
            "gen_ai.request.model": model,
            "gen_ai.response.model": call.get("response_model"),
            "gen_ai.response.id": call.get("response_id")
            or (response.get("id") if isinstance(response, Mapping) else None),
            "gen_ai.usage.input_tokens": usage.get("input_tokens"),
            "gen_ai.usage.output_tokens": usage.get("output_tokens"),
            "gen_ai.response.finish_reasons": [str(call["finish_reason"])]
            if call.get("finish_reason")
            else None,
            "duragraph.request.messages": request.get("messages"),
            "duragraph.request.tools": [str(t) for t in request.get("tools") or []] or None,
        }
    )
    error = call.get("error")
    began, ended = _call_times(call, start, end)
    return SpanRecord(
        key=f"{parent}/model:{index}",
        parent=parent,
        name=f"chat {model}",
        kind="client",
        start=began,
        end=ended,
        attributes=attributes,
        status="error" if error else "ok",
        status_message=str(error or ""),
    )


def _timed_tool_span(
    parent: str, index: int, call: Mapping[str, Any], start: float, end: float
) -> SpanRecord:
    name = str(call.get("name") or "tool")
    call_id = str(call.get("id") or "")
    began, ended = _call_times(call, start, end)
    error = call.get("error")
    return SpanRecord(
        key=f"{parent}/tool:{call_id or index}",
        parent=parent,
        name=f"execute_tool {name}",
        kind="internal",
        start=began,
        end=ended,
        attributes=_attrs(
            **{
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.tool.call.id": call_id or None,
                "gen_ai.tool.type": "function",
            }
        ),
        status="error" if error else "ok",
        status_message=str(error or ""),
    )


def _tool_spans(parent: str, update: Mapping[str, Any], start: float, end: float) -> list[SpanRecord]:
    out: list[SpanRecord] = []
    for value in update.values():
        for message in value if isinstance(value, list) else []:
            if not isinstance(message, Mapping) or message.get("type") != "tool":
                continue
            name = str(message.get("name") or "tool")
            call_id = str(message.get("tool_call_id") or "")
            failed = message.get("status") == "error"
            out.append(
                SpanRecord(
                    key=f"{parent}/tool:{call_id or len(out)}",
                    parent=parent,
                    name=f"execute_tool {name}",
                    kind="internal",
                    start=start,
                    end=end,
                    attributes=_attrs(
                        **{
                            "gen_ai.operation.name": "execute_tool",
                            "gen_ai.tool.name": name,
                            "gen_ai.tool.call.id": call_id or None,
                            "gen_ai.tool.type": "function",
                        }
                    ),
                    status="error" if failed else "ok",
                )
            )
    return out


def _interrupt_attrs(intr: Mapping[str, Any], step: Any) -> dict[str, AttributeValue]:
    return _attrs(
        id=intr.get("id"), node=intr.get("node"), task=intr.get("task"), when=intr.get("when"), step=step
    )


def _end_status(event: RecordedEvent) -> tuple[SpanStatus, str]:
    if event.type == "run_completed":
        return "ok", ""
    if event.type == "run_cancelled":
        return "unset", ""
    error = event.data.get("error") or {}
    return "error", f"{error.get('type', 'Error')}: {error.get('message', '')}"


def _status_name(end: RecordedEvent | None, ordered: Sequence[RecordedEvent]) -> str:
    names = {
        "run_completed": "success",
        "run_failed": "error",
        "run_cancelled": "cancelled",
        "run_timed_out": "timeout",
    }
    if end is not None:
        return names[end.type]
    for event in reversed(ordered):
        if not event.data.get("ns") and event.type in ("run_interrupted", "run_resumed", "run_started"):
            return "interrupted" if event.type == "run_interrupted" else "running"
    return "pending"


def _time(event: RecordedEvent) -> float:
    at = event.recorded_at
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.timestamp()


def _attrs(**values: Any) -> dict[str, AttributeValue]:
    """Attribute values OpenTelemetry accepts; ``None`` drops the key."""
    out: dict[str, AttributeValue] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool | int | float | str):
            out[key] = value
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            out[key] = str(value)
    return out
