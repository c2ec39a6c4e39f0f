"""Server-sent event frames for runs and threads (framework-free: handlers write the bytes).

Every frame made from a durable event carries ``id: <global seq>`` on the last frame of that
event, so a client that reconnects with ``Last-Event-ID`` gets each event exactly once: the
stream resumes after that seq (caught up from PostgreSQL, then live). Frames made from live
events (tokens, custom events) carry no id: they are not stored and are not replayed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from duragraph_lab.api.checkpoints import thread_state
from duragraph_lab.api.jsonout import dumps
from duragraph_lab.api.streaming import LANGGRAPH_OWN_MODES, Part, StreamEncoder
from duragraph_lab.control.follow import LiveTap, is_final
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.errors import NotFound

KEEPALIVE = b": heartbeat\n\n"
_MAX_STASH = 10_000


def frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    out = f"event: {event}\ndata: {dumps(data)}\n"
    if event_id is not None:
        out += f"id: {event_id}\n"
    return (out + "\n").encode()


def frames(parts: Sequence[Part], event_id: int | None) -> bytes:
    """The frames of one event: only the last one carries the id."""
    out = b""
    for i, (name, data) in enumerate(parts):
        out += frame(name, data, event_id if i == len(parts) - 1 else None)
    return out


def parse_last_event_id(value: str | None) -> int:
    """A ``Last-Event-ID`` header: a global seq. Anything else means "from the start"."""
    if not value:
        return 0
    try:
        seq = int(value.strip())
    except ValueError:
        return 0
    return max(seq, 0)


def _live_step(item: dict[str, Any]) -> int | None:
    task = str(item.get("task") or "")
    head = task.split(".", 1)[0]
    return int(head) if head.isdigit() else None


async def _is_langgraph(control: ControlPlane, run_id: str) -> bool:
    """Whether the run is a LangGraph graph's (executed by LangGraph's runtime)."""
    run = await control.run_queries.find(run_id)
    name = (run.assistant_id or run.graph_id) if run is not None else None
    if not name:
        return False
    try:
        return (await control.edits.targets.resolve(name)).engine == "langgraph"
    except NotFound:
        return False


async def run_frames(
    control: ControlPlane,
    run_id: str,
    *,
    modes: Sequence[str],
    subgraphs: bool = False,
    after_seq: int = 0,
    metadata: bool = True,
    poll_interval: float = 1.0,
    live: LiveTap | None = None,
) -> AsyncIterator[bytes]:
    """The SSE body of one run, from ``after_seq`` until the run comes to rest. ``live``: the
    run's live events subscribed to before it was created (closed when the body ends)."""
    try:
        async for body in _run_frames(
            control, run_id, modes, subgraphs, after_seq, metadata, poll_interval, live
        ):
            yield body
    finally:
        if live is not None:
            await live.close()  # a body that ended before following the run


async def _run_frames(
    control: ControlPlane,
    run_id: str,
    modes: Sequence[str],
    subgraphs: bool,
    after_seq: int,
    metadata: bool,
    poll_interval: float,
    tap: LiveTap | None,
) -> AsyncIterator[bytes]:
    start = await control.follower.start(run_id, after_seq, subgraphs=subgraphs)
    own = bool(set(modes) & LANGGRAPH_OWN_MODES) or subgraphs
    langgraph = own and await _is_langgraph(control, run_id)
    encoder = StreamEncoder(modes, subgraphs=subgraphs, state=start.root, run_id=run_id, langgraph=langgraph)
    encoder.ns_states.update(start.spaces)
    encoder.prime(start.before)
    if metadata:
        yield frame(*encoder.metadata())
    stash: list[dict[str, Any]] = []
    followed = control.follower.run(
        run_id, after_seq=after_seq, poll_interval=poll_interval, live=tap if tap is not None else True
    )
    async for item in followed:
        if item.event is not None:
            body = frames(encoder.on_event(item.event), item.event.seq)
            if body:
                yield body
            if stash:
                ready = [i for i in stash if (_live_step(i) or 0) <= encoder.root.step]
                stash = [i for i in stash if i not in ready]
                for live in ready:
                    body = frames(encoder.on_live(live), None)
                    if body:
                        yield body
        elif item.live is not None:
            step = _live_step(item.live)
            if not item.live.get("ns") and step is not None and step > encoder.root.step:
                # Live output of a step the durable catch-up has not reached yet: hold it back
                # so that a late joiner sees events in their order.
                if len(stash) < _MAX_STASH:
                    stash.append(item.live)
                continue
            body = frames(encoder.on_live(item.live), None)
            if body:
                yield body


async def thread_frames(
    control: ControlPlane,
    thread_id: str,
    *,
    modes: Sequence[str],
    after_seq: int = 0,
    poll_interval: float = 1.0,
) -> AsyncIterator[bytes]:
    """The SSE body of a thread: its runs one after another (``run_modes``: each run's own
    stream modes, then ``metadata {"status": "run_done"}``; ``lifecycle``: only the run start
    and end; ``state_update``: the state after each edit). Stays open until the client leaves."""
    want = set(modes)
    seen: set[str] = set()
    async with control.follower.thread(thread_id, poll_interval=poll_interval) as events:
        async for event in events:
            if event.type == ev.THREAD_DELETED:
                return
            if event.type != ev.THREAD_RUN_ADDED:
                continue
            run_id = str(event.data.get("run_id"))
            if run_id in seen:
                continue
            seen.add(run_id)
            head = await control.follower.head_seq(run_id)
            if head and head <= after_seq:
                continue  # delivered before the reconnect
            state = await control.history.state(run_id)
            run_modes = await _run_modes(control, run_id)
            is_edit = (state.metadata or {}).get("kind") == "update_state"
            if "lifecycle" in want or "run_modes" in want:
                yield frame("metadata", {"run_id": run_id, "attempt": max(state.attempt, 1)})
            async for chunk in _thread_run(
                control, run_id, want, run_modes, is_edit, thread_id, after_seq, poll_interval
            ):
                yield chunk
            if "lifecycle" in want or "run_modes" in want:
                yield frame("metadata", {"status": "run_done", "run_id": run_id})


async def _run_modes(control: ControlPlane, run_id: str) -> list[str]:
    """The stream modes the run was created with (``values`` when it named none)."""
    run = await control.run_queries.find(run_id)
    modes = run.kwargs.get("stream_mode") if run is not None else None
    return [str(m) for m in modes] if isinstance(modes, list) and modes else ["values"]


async def _thread_run(
    control: ControlPlane,
    run_id: str,
    want: set[str],
    run_modes: list[str],
    is_edit: bool,
    thread_id: str,
    after_seq: int,
    poll_interval: float,
) -> AsyncIterator[bytes]:
    modes = run_modes if "run_modes" in want and not is_edit else []
    start = await control.follower.start(run_id, after_seq)
    langgraph = bool(set(modes) & LANGGRAPH_OWN_MODES) and await _is_langgraph(control, run_id)
    encoder = StreamEncoder(modes, state=start.root, run_id=run_id, thread_id=thread_id, langgraph=langgraph)
    async for item in control.follower.run(run_id, after_seq=after_seq, poll_interval=poll_interval):
        if item.event is not None:
            parts = encoder.on_event(item.event) if modes else []
            if "state_update" in want and (
                item.event.type == ev.STATE_UPDATED or (is_edit and is_final(item.event))
            ):
                point = await control.checkpoints.latest(thread_id)
                parts = [
                    *parts,
                    ("state_update", {"state": thread_state(thread_id, point), "thread_id": thread_id}),
                ]
            body = frames(parts, item.event.seq)
            if body:
                yield body
        elif item.live is not None and modes:
            body = frames(encoder.on_live(item.live), None)
            if body:
                yield body
