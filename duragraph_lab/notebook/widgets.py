"""Live notebook widgets (anywidget): ``GraphView``, ``Timeline``, ``ReplaySlider`` and ``RunView``.

The JavaScript is bundled from ``extension/src`` into ``duragraph_lab/static/widgets`` (no CDN).
Small things (topology, the run, the state at the selected event) are traits; the run's events go
to the browser as custom messages carrying Arrow IPC batches, coalesced to at most ``max_rate``
messages a second. The browser folds the node statuses from those events, with the fold the
dashboard uses (``extension/src/runview/status.ts``), so a run looks the same in both::

    from duragraph_lab.client import DuraGraphClient
    from duragraph_lab.notebook.widgets import RunView

    client = DuraGraphClient("http://127.0.0.1:8888/", token="...")
    view = RunView.for_run(client, run_id)
    view.follow()        # in a notebook cell: live updates from the run's SSE stream
    view
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import pathlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import anywidget
import traitlets

from duragraph_lab.client import AsyncDuraGraphClient, DuraGraphClient, Event, EventState, Span, ThreadState
from duragraph_lab.client.errors import DuraGraphAPIError, DuraGraphClientError
from duragraph_lab.notebook.loop_thread import WorkerLoop
from duragraph_lab.notebook.widget_events import EVENT_COLUMNS, NODE_STATUSES, event_rows, events_to_arrow

__all__ = [
    "EVENT_COLUMNS",
    "NODE_STATUSES",
    "GraphView",
    "ReplaySlider",
    "RunView",
    "Timeline",
    "event_rows",
    "events_to_arrow",
]

STATIC = pathlib.Path(__file__).resolve().parent.parent / "static" / "widgets"

#: Rows per Arrow buffer when a whole log is sent (a message may carry several buffers).
BUFFER_ROWS = 20_000
_BACKGROUND: WorkerLoop | None = None


def _background_loop() -> WorkerLoop:
    """The loop (and thread) live views follow their runs on, created on first use."""
    global _BACKGROUND
    if _BACKGROUND is None:
        _BACKGROUND = WorkerLoop(name="duragraph-widgets")
    return _BACKGROUND


#: How often a followed run that waits for a human is checked for an answer given elsewhere.
INTERRUPTED_POLL_SECONDS = 1.0


def bundle(name: str) -> pathlib.Path:
    """The path of a widget bundle (``graph_view.js``, ..., ``widgets.css``); a clear error when
    the front end was not built."""
    path = STATIC / name
    if not path.is_file():
        raise FileNotFoundError(
            f"the widget bundle {path} is missing: build it with `npm ci && npm run build` in extension/ "
            "(or reinstall duragraph-lab from a wheel)"
        )
    return path


def _load_assets(cls: type[anywidget.AnyWidget], name: str) -> None:
    """Give the widget class its ESM and CSS (read when the first widget is made, so importing
    this module works without the bundles)."""
    if "_esm" not in cls.__dict__:
        cls._esm = bundle(f"{name}.js").read_text(encoding="utf-8")
        cls._css = bundle("widgets.css").read_text(encoding="utf-8")


# -- the widgets -----------------------------------------------------------------------------------
class GraphView(anywidget.AnyWidget):
    """The graph's topology with each node's status as given (``status``: node id → one of
    :data:`NODE_STATUSES`; a run's statuses are what :class:`RunView` shows); ``selected_node`` is
    the clicked node."""

    topology = traitlets.Dict().tag(sync=True)
    status = traitlets.Dict(traitlets.Unicode()).tag(sync=True)
    selected_node = traitlets.Unicode("").tag(sync=True)

    def __init__(self, topology: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        _load_assets(type(self), "graph_view")
        super().__init__(topology=dict(topology or {}), **kwargs)

    @classmethod
    def for_assistant(
        cls, client: DuraGraphClient, assistant_id: str, *, xray: bool | int = True
    ) -> GraphView:
        """The assistant's graph; with ``xray`` (the default) subgraphs' inner nodes are sent too,
        so the view can expand a subgraph (drawn collapsed at first)."""
        return cls(client.assistants.graph(assistant_id, xray=xray).raw)


class _EventsWidget(anywidget.AnyWidget):
    """Holds a run's events; sends them to every view as Arrow batches (all of them when a view
    says it is ready, then new ones, coalesced to at most ``max_rate`` messages a second)."""

    _bundle_name = "timeline"
    selected_seq = traitlets.Int(-1).tag(sync=True)
    topology = traitlets.Dict().tag(sync=True)
    max_rate = 10.0

    def __init__(self, events: Iterable[Event] = (), **kwargs: Any) -> None:
        _load_assets(type(self), self._bundle_name)
        super().__init__(**kwargs)
        self._events: list[Event] = []
        self._seqs: set[int] = set()
        self._pending: list[Event] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._last_flush = float("-inf")
        self.messages_sent = 0
        self.on_msg(self._on_custom)
        self._add(events)

    # the log
    @property
    def events(self) -> list[Event]:
        return list(self._events)

    def _add(self, events: Iterable[Event]) -> list[Event]:
        new: list[Event] = []
        for e in events:
            if e.seq not in self._seqs:
                self._seqs.add(e.seq)
                new.append(e)
        start = max(0, len(self._events) - 1)
        self._events.extend(new)
        if any(a.seq > b.seq for a, b in itertools.pairwise(self._events[start:])):
            self._events.sort(key=lambda e: e.seq)
        return new

    def append_events(self, events: Iterable[Event]) -> int:
        """Add events (duplicates are ignored) and send them to the views, throttled; the count
        of new ones."""
        new = self._add(events)
        if new:
            self._pending.extend(new)
            self._schedule_flush()
        return len(new)

    # sending
    def _send_events(self, events: Sequence[Event], reset: bool) -> None:
        buffers = [events_to_arrow(events[i : i + BUFFER_ROWS]) for i in range(0, len(events), BUFFER_ROWS)]
        self.send({"kind": "events", "reset": reset, "rows": len(events)}, buffers=buffers)
        self.messages_sent += 1

    def _schedule_flush(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()  # no loop (a script): nothing to coalesce with
            return
        if self._flush_handle is None:
            delay = max(0.0, self._last_flush + 1.0 / self.max_rate - loop.time())
            self._flush_handle = loop.call_later(delay, self.flush)

    def flush(self) -> None:
        """Send the events not sent yet now."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        with contextlib.suppress(RuntimeError):
            self._last_flush = asyncio.get_running_loop().time()
        pending, self._pending = self._pending, []
        if pending:
            self._send_events(pending, reset=False)

    # messages from the views
    def _on_custom(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, Mapping):
            return
        kind = content.get("kind")
        if kind == "ready":
            self._pending = []
            self._send_events(self._events, reset=True)
        else:
            self._on_action(str(kind), content)

    def _on_action(self, kind: str, content: Mapping[str, Any]) -> None:
        """Subclasses handle fork/resume requests."""


class Timeline(_EventsWidget):
    """Node executions over time (Gantt-like); click an event to select it (``selected_seq``)."""

    _bundle_name = "timeline"


def _checkpoints(history: Iterable[ThreadState]) -> list[tuple[int, dict[str, Any]]]:
    return sorted((s.seq, dict(s.values or {})) for s in history if s.seq is not None)


#: Reads the state right after an event of the run (None: its latest) and right before it.
StateSource = Callable[[int | None], EventState]


class ReplaySlider(_EventsWidget):
    """Scrub through the run's events: ``state`` is the state right after the selected event (at
    a node's completion: with that node's update applied), ``prev_state`` the state right before
    it, ``state_at`` where they come from (``{"seq", "type", "node", "step", "previous_seq",
    "source": "event"}``). They are read from the server (``GET /runs/{id}/state``) when the
    widget has a run to ask about (:meth:`for_run`, or a :class:`RunView`); otherwise from the
    ``checkpoints`` given (``source: "checkpoint"``: the last checkpoint at or before the event).
    "Fork from here" opens a dialog (the state can be edited first) and then calls the
    ``on_fork`` callbacks (a :class:`RunView` forks the run)."""

    _bundle_name = "replay_slider"
    state = traitlets.Dict().tag(sync=True)
    prev_state = traitlets.Dict().tag(sync=True)
    state_at = traitlets.Dict().tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        events: Iterable[Event] = (),
        checkpoints: Iterable[tuple[int, Mapping[str, Any]]] = (),
        *,
        state_source: StateSource | None = None,
        **kwargs: Any,
    ) -> None:
        self._checkpoints: list[tuple[int, dict[str, Any]]] = sorted((s, dict(v)) for s, v in checkpoints)
        self._fork_callbacks: list[Callable[..., Any]] = []
        self._state_source = state_source
        self._states: dict[int, EventState] = {}  # an event's state never changes
        super().__init__(events, **kwargs)
        self._show_state()

    @classmethod
    def for_run(cls, client: DuraGraphClient, run_id: str) -> ReplaySlider:
        """The run's events, with the state at each read from the server."""
        return cls(
            list(client.runs.iter_events(run_id)), state_source=lambda seq: client.runs.state_at(run_id, seq)
        )

    def set_checkpoints(self, checkpoints: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        self._checkpoints = sorted((s, dict(v)) for s, v in checkpoints)
        self._show_state()

    def event_state(self, seq: int | None) -> EventState | None:
        """The state right after event ``seq`` (None/negative: the latest) from the server, or
        None when this widget has no run to ask about."""
        if self._state_source is None:
            return None
        if seq is not None and seq >= 0 and seq in self._states:
            return self._states[seq]
        at = self._state_source(None if seq is None or seq < 0 else seq)
        self._states[at.seq] = at
        return at

    def state_at_checkpoint(self, seq: int | None) -> tuple[dict[str, Any], dict[str, Any], int | None]:
        """(the last checkpoint at or before ``seq``, the one before it, its seq); None/negative:
        the latest."""
        if not self._checkpoints:
            return {}, {}, None
        if seq is None or seq < 0:
            index = len(self._checkpoints) - 1
        else:
            index = -1
            for i, (cp_seq, _) in enumerate(self._checkpoints):
                if cp_seq <= seq:
                    index = i
        if index < 0:
            return {}, {}, None
        prev = self._checkpoints[index - 1][1] if index > 0 else {}
        return self._checkpoints[index][1], prev, self._checkpoints[index][0]

    def state_at_event(self, seq: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the state right after ``seq``, the state right before it); None/negative: the latest."""
        at = self.event_state(seq)
        if at is not None:
            return dict(at.values), dict(at.previous)
        state, prev, _ = self.state_at_checkpoint(seq)
        return state, prev

    @traitlets.observe("selected_seq")
    def _selected(self, _change: Any) -> None:
        self._show_state()

    def _show_state(self) -> None:
        seq = self.selected_seq
        try:
            at = self.event_state(seq)
        except Exception as err:  # the server is away: the checkpoints stand in, and say so
            at = None
            where = f"#{seq}" if seq >= 0 else "the latest event"
            self.message = f"could not read the state at {where}: {err}"
        if at is not None:
            state, prev = dict(at.values), dict(at.previous)
            origin: dict[str, Any] = {
                "seq": at.seq,
                "type": at.type,
                "node": at.node,
                "step": at.step,
                "previous_seq": at.previous_seq,
                "source": "event",
            }
        else:
            state, prev, cp_seq = self.state_at_checkpoint(seq)
            origin = {} if cp_seq is None else {"seq": cp_seq, "source": "checkpoint"}
        with self.hold_sync():
            self.prev_state = _plain(prev)
            self.state = _plain(state)
            self.state_at = origin

    def on_fork(self, callback: Callable[..., Any]) -> None:
        """Call ``callback(seq)`` when "fork from here" is confirmed, or ``callback(seq, update)``
        when the state was edited in the fork dialog (``update``: the keys changed)."""
        self._fork_callbacks.append(callback)

    def _on_action(self, kind: str, content: Mapping[str, Any]) -> None:
        if kind == "fork" and isinstance(content.get("seq"), int):
            update = content.get("update")
            args: tuple[Any, ...] = (int(content["seq"]),)
            if isinstance(update, Mapping) and update:
                args += (dict(update),)
            for callback in self._fork_callbacks:
                try:
                    callback(*args)
                except Exception as err:  # shown in the widget, the kernel keeps going
                    self.message = f"fork failed: {err}"


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _async_client(client: DuraGraphClient | AsyncDuraGraphClient) -> tuple[AsyncDuraGraphClient, bool]:
    """An async client for ``client``'s server and whether we made it (and must close it)."""
    if isinstance(client, AsyncDuraGraphClient):
        return client, False
    s = client.settings
    return AsyncDuraGraphClient(
        s.base_url,
        timeout=s.timeout,
        headers=s.headers,
        max_reconnects=s.max_reconnects,
        reconnect_delay=s.reconnect_delay,
    ), True


class RunView(ReplaySlider):
    """A run: its status, input, output and interrupt (with a resume box), then the run view the
    dashboard shows too: the graph lit up at the selected event, the event log, the replay slider
    and the node timeline. ``RunView.for_run(client, run_id)`` loads it (with the x-ray topology:
    subgraphs can be expanded, their inner nodes' status is live); ``follow()`` keeps it live."""

    _bundle_name = "run_view"
    selected_node = traitlets.Unicode("").tag(sync=True)
    run = traitlets.Dict().tag(sync=True)
    fork_run_id = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        topology: Mapping[str, Any] | None = None,
        events: Iterable[Event] = (),
        checkpoints: Iterable[tuple[int, Mapping[str, Any]]] = (),
        run: Mapping[str, Any] | None = None,
        spans: Iterable[Span] = (),
        client: DuraGraphClient | AsyncDuraGraphClient | None = None,
        **kwargs: Any,
    ) -> None:
        topology = dict(topology or {})
        self.spans: list[Span] = list(spans)
        self.client = client
        self._follow_task: asyncio.Task[None] | None = None
        self._background: concurrent.futures.Future[None] | None = None
        run_id = str((run or {}).get("run_id") or "")
        source = kwargs.pop("state_source", None)
        if source is None and isinstance(client, DuraGraphClient) and run_id:

            def source(seq: int | None) -> EventState:
                return client.runs.state_at(run_id, seq)

        super().__init__(
            events, checkpoints, topology=topology, run=_plain(dict(run or {})), state_source=source, **kwargs
        )
        self.on_fork(self._fork)

    # -- loading ---------------------------------------------------------------------------------
    @staticmethod
    def _run_json(run: Any, result: Any = None, events: Iterable[Event] = ()) -> dict[str, Any]:
        created = next((e.data for e in events if e.type == "run_created"), {})
        out: dict[str, Any] = {
            "run_id": run.run_id,
            "thread_id": run.thread_id,
            "assistant_id": run.assistant_id,
            "graph_id": run.graph_id,
            "status": run.status,
            "input": (run.kwargs or {}).get("input", created.get("input")),
            "output": None,
            "error": run.error,
            "interrupts": [],
            "waiting_for": getattr(run, "waiting_for", None),
            "forked_from": getattr(run, "forked_from", None),
        }
        if result is not None:
            out["output"] = result.values
            out["interrupts"] = [{"value": i.value, "id": i.id, "node": i.node} for i in result.interrupts]
            out["error"] = result.error or run.error
        return out

    @classmethod
    def for_run(cls, client: DuraGraphClient, run_id: str, *, history_limit: int = 1000) -> RunView:
        """Load a run (topology, events, spans, checkpoints) with a sync client."""
        run = client.runs.get(run_id)
        graph = client.assistants.graph(run.assistant_id or run.graph_id or "", xray=True)
        events = list(client.runs.iter_events(run_id))
        spans = client.runs.spans(run_id)
        history = client.threads.history(run.thread_id, limit=history_limit)
        result = client.runs.join(run_id) if run.at_rest else None
        return cls(
            graph.raw,
            events,
            _checkpoints(history),
            cls._run_json(run, result, events),
            spans,
            client=client,
        )

    @classmethod
    async def afor_run(
        cls, client: AsyncDuraGraphClient, run_id: str, *, history_limit: int = 1000
    ) -> RunView:
        """:meth:`for_run` with an async client (``await RunView.afor_run(client, run_id)``)."""
        run = await client.runs.get(run_id)
        graph = await client.assistants.graph(run.assistant_id or run.graph_id or "", xray=True)
        events = [e async for e in client.runs.iter_events(run_id)]
        spans = await client.runs.spans(run_id)
        history = await client.threads.history(run.thread_id, limit=history_limit)
        result = await client.runs.join(run_id) if run.at_rest else None
        return cls(
            graph.raw,
            events,
            _checkpoints(history),
            cls._run_json(run, result, events),
            spans,
            client=client,
        )

    # -- properties ------------------------------------------------------------------------------
    @property
    def run_id(self) -> str | None:
        return self.run.get("run_id")

    @property
    def thread_id(self) -> str | None:
        return self.run.get("thread_id")

    @property
    def run_status(self) -> str | None:
        return self.run.get("status")

    @property
    def last_seq(self) -> int:
        return self._events[-1].seq if self._events else 0

    # -- live updates ----------------------------------------------------------------------------
    def follow_in_background(self) -> concurrent.futures.Future[None]:
        """:meth:`follow` on an event loop in a thread of its own, shared by the views: the view
        stays live while a cell blocks the kernel's loop (``run.wait()``). A future of the end."""
        if self.client is None or not self.run_id:
            raise DuraGraphClientError("this RunView has no client and run to follow (use RunView.for_run)")
        if self._background is not None and not self._background.done():
            return self._background
        task = self._follow_task
        if task is not None and not task.done():  # already followed on the kernel's loop
            ended: concurrent.futures.Future[None] = concurrent.futures.Future()
            task.add_done_callback(lambda _: ended.set_result(None))
            return ended
        self._background = _background_loop().submit(self._follow())
        return self._background

    def follow(self) -> asyncio.Task[None]:
        """Follow the run live on the running event loop (a notebook cell's: the kernel's), as an
        asyncio task: the run's SSE stream says when something happened, new events are read
        from the event log (coalesced) and pushed to the views. Ends when the run is at rest."""
        if self.client is None or not self.run_id:
            raise DuraGraphClientError("this RunView has no client and run to follow (use RunView.for_run)")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise DuraGraphClientError(
                "follow() needs a running event loop: call it in a notebook cell or an async function"
            ) from None
        if self._follow_task is not None and not self._follow_task.done():
            return self._follow_task
        self._follow_task = loop.create_task(self._follow(), name=f"duragraph-follow-{self.run_id}")
        return self._follow_task

    async def _catch_up(self, client: AsyncDuraGraphClient) -> None:
        """Read the events after the last one we have; refresh the run when it changed state."""
        new: list[Event] = []
        async for event in client.runs.iter_events(str(self.run_id), after=self.last_seq):
            new.append(event)
        self.append_events(new)
        if any(e.type.startswith("run_") or e.type == "state_updated" for e in new):
            await self._refresh(client)
        elif new and self.selected_seq < 0 and self._state_source is not None:
            self._show_state()  # following the latest event: its state

    async def _refresh(self, client: AsyncDuraGraphClient) -> None:
        run = await client.runs.get(str(self.run_id))
        result = await client.runs.join(run.run_id) if run.at_rest else None
        history = await client.threads.history(run.thread_id, limit=1000)
        self.set_checkpoints(_checkpoints(history))
        self.run = _plain(self._run_json(run, result, self._events[:10]))

    async def _follow(self) -> None:
        if self.client is None:
            return
        client, owned = _async_client(self.client)
        try:
            while True:
                await self._follow_once(client)
                if self.run_status != "interrupted":
                    break
                # Waiting for a human, who may answer from anywhere (code, another view, the
                # API): keep following until the run moves on, then follow it to its end.
                while self.run_status == "interrupted":
                    await asyncio.sleep(INTERRUPTED_POLL_SECONDS)
                    if getattr(self, "comm", True) is None:
                        return  # the widget was closed: nobody looks any more
                    run = await client.runs.get(str(self.run_id))
                    if run.status != "interrupted":
                        await self._refresh(client)
        except Exception as err:
            self.message = f"following the run stopped: {err}"
            raise
        finally:
            if owned:
                await client.close()

    async def _follow_once(self, client: AsyncDuraGraphClient) -> None:
        """Follow the run's stream until it is at rest (done, or waiting for a human)."""
        changed = asyncio.Event()
        done = False

        async def pump() -> None:
            while not done or changed.is_set():
                await changed.wait()
                changed.clear()
                await self._catch_up(client)
                await asyncio.sleep(1.0 / self.max_rate)

        await self._catch_up(client)
        pumping = asyncio.create_task(pump())
        try:
            async for part in client.runs.join_stream(
                str(self.run_id),
                thread_id=self.thread_id,
                stream_mode="updates",
                last_event_id=self.last_seq,
            ):
                if part.id is not None or part.event in ("error", "metadata"):
                    changed.set()
        finally:
            done = True
            changed.set()
            await pumping
        await self._catch_up(client)
        await self._refresh(client)
        self.flush()

    async def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Until the followed run is at rest (or ``timeout`` seconds); the run's JSON."""
        if self._follow_task is not None:
            await asyncio.wait_for(asyncio.shield(self._follow_task), timeout)
        if self._background is not None:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._background)), timeout)
        return dict(self.run)

    # -- actions from the views ------------------------------------------------------------------
    def _fork(self, seq: int, update: Mapping[str, Any] | None = None) -> None:
        if self.client is None or not self.run_id:
            self.message = "fork failed: no client"
            return
        if isinstance(self.client, AsyncDuraGraphClient):
            asyncio.get_running_loop().create_task(self._afork(self.client, seq, update))
            return
        fork = self.client.runs.fork(str(self.run_id), seq, update=update)
        self._forked(seq, update, fork.run_id)

    async def _afork(self, client: AsyncDuraGraphClient, seq: int, update: Mapping[str, Any] | None) -> None:
        try:
            fork = await client.runs.fork(str(self.run_id), seq, update=update)
        except Exception as err:
            self.message = f"fork failed: {err}"
            return
        self._forked(seq, update, fork.run_id)

    def _forked(self, seq: int, update: Mapping[str, Any] | None, run_id: str) -> None:
        self.fork_run_id = run_id
        edited = f" with {', '.join(sorted(update))} edited" if update else ""
        self.message = f"forked at #{seq}{edited}: run {run_id}"

    def _on_action(self, kind: str, content: Mapping[str, Any]) -> None:
        if kind == "resume":
            self.resume(content.get("value"))
        else:
            super()._on_action(kind, content)

    def resume(self, value: Any) -> None:
        """Answer the run's interrupt with ``value`` and follow it again (with a running loop)."""
        if self.client is None or not self.run_id:
            self.message = "no client: cannot resume"
            return
        command = {"resume": value}
        assistant = str(self.run.get("assistant_id") or self.run.get("graph_id"))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if isinstance(self.client, AsyncDuraGraphClient):
            if loop is None:
                self.message = "resume with an async client needs a running event loop"
                return
            aclient = self.client

            async def go() -> None:
                try:
                    await aclient.runs.create(self.thread_id, assistant, command=command)
                except Exception as err:
                    self.message = f"resume failed: {err}"
                    with contextlib.suppress(Exception):
                        await self._refresh(aclient)  # answered elsewhere: show the run as it is
                    self._explain_refused(err)
                    return
                self.follow()

            loop.create_task(go())
            return
        try:
            self.client.runs.create(self.thread_id, assistant, command=command)
        except Exception as err:
            self.message = f"resume failed: {err}"
            with contextlib.suppress(Exception):
                self._refresh_sync(self.client)  # answered elsewhere: show the run as it is
            self._explain_refused(err)
            return
        self.message = "resumed"
        self.follow_in_background()

    def _explain_refused(self, err: Exception) -> None:
        """A resume refused because the run no longer waits (answered from code, another view,
        the API): say that, rather than the bare 409."""
        status = self.run_status
        if isinstance(err, DuraGraphAPIError) and err.status == 409 and status != "interrupted":
            self.message = f"resume failed: the run no longer waits for an answer (it was answered elsewhere; it is {status} now)"

    def _refresh_sync(self, client: DuraGraphClient) -> None:
        run = client.runs.get(str(self.run_id))
        result = client.runs.join(run.run_id) if run.at_rest else None
        self.run = _plain(self._run_json(run, result, self._events[:10]))
