"""A LangGraph thread's state, history and edits answered as LangGraph Platform answers them: by
the graph itself (``aget_state``, ``aget_state_history``, ``aupdate_state``) over the event-store
checkpointer, so checkpoint ids, metadata (``source``, ``step``, ``parents``, ``run_id``, ...),
``next``, ``tasks`` and interrupts are LangGraph's own.

Used by the API process for the graphs it has the code of (its in-process worker serves them).
Each answer also carries two DuraGraph extras where the checkpoint was written during a run: the
``run_id`` of the run whose stream holds it and the ``seq`` of its event (the replay slider and
the event log locate a checkpoint by them).

An edit (``update_state``) is made by LangGraph here, at once, with a checkpointer that collects
the checkpoint instead of writing it: the caller appends it to the run's stream with the
``state_updated`` event that records the edit, in one transaction
(:meth:`duragraph_lab.control.edits.StateEdits.update_state`'s ``applier``). The executor sees that
checkpoint as LangGraph's latest and does not apply the edit again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from duragraph_lab.control.item_store import StoreSettings
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import NotFound
from duragraph_lab.langgraph.executor import interrupt_fields, plain
from duragraph_lab.langgraph.source import Access, GraphSource
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.store.queries.lg_checkpoints import PgLangGraphCheckpoints


class Collected:
    """A checkpointer's :class:`~duragraph_lab.langgraph.checkpointer.RunLog` that keeps the
    events instead of appending them (the caller commits them with its own)."""

    run_id = ""

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        self.events: list[NewEvent] = []

    async def append(self, events: Sequence[NewEvent]) -> None:
        self.events.extend(events)

    # The rest of the RunLog protocol as a run's writer may take them (kept, like append).
    async def put_checkpoint(self, event: NewEvent, checkpoint_ns: str) -> None:
        self.events.append(event)

    async def put_writes(
        self, event: NewEvent, checkpoint_ns: str, task_id: str, writes: Sequence[tuple[str, Any]]
    ) -> None:
        self.events.append(event)

    async def flush(self) -> None:
        return None


class LangGraphThreads:
    """Thread state of LangGraph graphs, for the graphs ``sources`` has the code of."""

    edits = True

    def __init__(
        self,
        events: PostgresEventStore,
        sources: Mapping[str, GraphSource],
        store_settings: StoreSettings | None = None,
    ) -> None:
        self.events = events
        self.sources = sources
        self.store_settings = store_settings or StoreSettings()
        self.queries = PgLangGraphCheckpoints(events)

    def serves(self, graph_id: str | None) -> bool:
        return graph_id is not None and graph_id in self.sources

    def _build(
        self, graph_id: str, thread_id: str, access: Access, *, collect: Collected | None = None
    ) -> Any:
        from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer
        from duragraph_lab.langgraph.store import PostgresStore

        checkpointer = EventStoreCheckpointer(self.events, run=collect)
        store = PostgresStore(self.events, settings=self.store_settings)
        config = {"configurable": {"thread_id": thread_id}}
        return self.sources[graph_id].build(config, access=access, checkpointer=checkpointer, store=store)

    async def exists(self, thread_id: str, checkpoint_id: str, checkpoint_ns: str = "") -> bool:
        return await self.queries.get(thread_id, checkpoint_ns, checkpoint_id) is not None

    async def _known(self, thread_id: str, checkpoint_id: str | None, checkpoint_ns: str) -> None:
        if checkpoint_id and not await self.exists(thread_id, checkpoint_id, checkpoint_ns):
            raise NotFound(f"thread {thread_id} has no checkpoint {checkpoint_id}")

    async def state(
        self,
        graph_id: str,
        thread_id: str,
        *,
        checkpoint_id: str | None = None,
        checkpoint_ns: str = "",
        subgraphs: bool = False,
    ) -> dict[str, Any]:
        """LangGraph Platform's ``ThreadState`` of the thread now, or at a checkpoint (a
        :class:`NotFound` for an id the thread does not have)."""
        await self._known(thread_id, checkpoint_id, checkpoint_ns)
        config = _config(thread_id, checkpoint_id, checkpoint_ns)
        async with self._build(graph_id, thread_id, "threads.read") as graph:
            snapshot = await graph.aget_state(config, subgraphs=subgraphs)
        out = thread_state(snapshot)
        await self._locate([out])
        return out

    async def history(
        self,
        graph_id: str,
        thread_id: str,
        *,
        limit: int = 10,
        before: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        checkpoint_id: str | None = None,
        checkpoint_ns: str = "",
    ) -> list[dict[str, Any]]:
        """The thread's checkpoints, newest first, as LangGraph's ``aget_state_history`` lists them
        (every branch; ``before``, ``metadata`` and ``checkpoint`` filter as there)."""
        config = _config(thread_id, checkpoint_id, checkpoint_ns)
        before_config = _config(thread_id, before, checkpoint_ns) if before else None
        async with self._build(graph_id, thread_id, "threads.read") as graph:
            states = [
                thread_state(s)
                async for s in graph.aget_state_history(
                    config, limit=limit, before=before_config, filter=dict(metadata) if metadata else None
                )
            ]
        await self._locate(states)
        return states

    async def update(
        self,
        graph_id: str,
        thread_id: str,
        values: Any,
        *,
        as_node: str | None = None,
        checkpoint_id: str | None = None,
    ) -> tuple[list[NewEvent], dict[str, Any]]:
        """LangGraph's ``aupdate_state`` of the thread (at ``checkpoint_id``, else its latest):
        the events of the checkpoint it made, not yet written, and the checkpoint's reference
        (``thread_id``, ``checkpoint_ns``, ``checkpoint_id``)."""
        await self._known(thread_id, checkpoint_id, "")
        collect = Collected(thread_id)
        config = _config(thread_id, checkpoint_id, "")
        async with self._build(graph_id, thread_id, "threads.update", collect=collect) as graph:
            made = await graph.aupdate_state(config, values, as_node=as_node)
        configurable = dict(made["configurable"])
        ref = {
            "thread_id": str(configurable["thread_id"]),
            "checkpoint_ns": str(configurable.get("checkpoint_ns") or ""),
            "checkpoint_id": str(configurable["checkpoint_id"]),
        }
        return collect.events, ref

    async def _locate(self, states: Sequence[dict[str, Any]]) -> None:
        """Add DuraGraph's ``run_id`` and ``seq`` (where the checkpoint's event is) to each state."""
        wanted = [s for s in states if s.get("checkpoint")]
        if not wanted:
            return
        thread_id = str(wanted[0]["checkpoint"]["thread_id"])
        found = await self.queries.locations(
            thread_id, [str(s["checkpoint"]["checkpoint_id"]) for s in wanted]
        )
        for s in wanted:
            stream, seq = found.get(str(s["checkpoint"]["checkpoint_id"]), (None, None))
            s["run_id"] = stream.split(":", 1)[1] if stream and stream.startswith("run:") else None
            s["seq"] = seq


def _config(thread_id: str, checkpoint_id: str | None, checkpoint_ns: str) -> dict[str, Any]:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def _ref(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A checkpoint's reference as LangGraph Platform gives it (None without a checkpoint id)."""
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("thread_id") or not configurable.get("checkpoint_id"):
        return None
    ref: dict[str, Any] = {
        "checkpoint_id": configurable["checkpoint_id"],
        "thread_id": configurable["thread_id"],
    }
    if "checkpoint_ns" in configurable:
        ref["checkpoint_ns"] = configurable["checkpoint_ns"] or ""
    if "checkpoint_map" in configurable:
        ref["checkpoint_map"] = plain(configurable["checkpoint_map"])
    return ref


def _error(error: Any) -> Any:
    """A task's error as the native thread state shows one: ``"Type: message"``."""
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return plain(error)


def _interrupt(intr: Any) -> dict[str, Any]:
    """A LangGraph ``Interrupt`` as LangGraph Platform serializes it: its dataclass's fields."""
    return {"value": plain(intr.value), "id": str(intr.id), **interrupt_fields(intr)}


def thread_state(snapshot: Any) -> dict[str, Any]:
    """A LangGraph ``StateSnapshot`` as LangGraph Platform's ``ThreadState`` JSON."""
    from langgraph.types import StateSnapshot

    tasks = []
    for t in snapshot.tasks:
        nested = t.state
        tasks.append(
            {
                "id": t.id,
                "name": t.name,
                "path": plain(list(t.path)),
                "error": _error(t.error),
                "interrupts": [_interrupt(i) for i in t.interrupts],
                "checkpoint": plain(nested["configurable"])
                if nested is not None and not isinstance(nested, StateSnapshot)
                else None,
                "state": thread_state(nested) if isinstance(nested, StateSnapshot) else None,
                "result": plain(getattr(t, "result", None)),
            }
        )
    config, parent = snapshot.config, snapshot.parent_config
    return {
        "values": plain(snapshot.values),
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": plain(snapshot.metadata),
        "created_at": snapshot.created_at,
        "checkpoint": _ref(config),
        "parent_checkpoint": _ref(parent),
        "interrupts": [_interrupt(i) for i in getattr(snapshot, "interrupts", ())],
        "checkpoint_id": (config or {}).get("configurable", {}).get("checkpoint_id") if config else None,
        "parent_checkpoint_id": (parent or {}).get("configurable", {}).get("checkpoint_id")
        if parent
        else None,
    }


_PULL = "~__pregel_pull, "


class StoredLangGraphThreads:
    """Thread state of LangGraph graphs whose code this process does not have (other workers'
    processes serve them): read from LangGraph's stored checkpoints, in the same shapes.

    ``values``, ``metadata``, ``checkpoint``/``parent_checkpoint``, ``created_at`` and the
    tasks' results, errors and interrupts (their pending writes) are the checkpoints' own. Which
    tasks a checkpoint has (``next``, ``tasks``) is what LangGraph planned from it as the
    executor recorded it; a checkpoint it recorded no plan for (the input, an edit's, the last)
    has the tasks that saved writes there and whose path names their node (LangGraph's pull
    tasks: ``__start__``, a node triggered by an edge), else none. Without ``subgraphs`` a
    subgraph task's ``checkpoint`` names its namespace; with it, its ``state`` is the subgraph's
    latest stored state, nested the same way.
    ``state_keys(graph_id)`` gives the graph's state keys and the empty values of its reducers
    channels (:func:`state_channels` of its registered topology). Edits
    are recorded for the executor (``edits`` False), which has the code."""

    edits = False

    def __init__(
        self,
        events: PostgresEventStore,
        state_keys: Callable[[str], Awaitable[tuple[list[str], dict[str, Any]]]],
    ) -> None:
        self.events = events
        self.state_keys = state_keys
        self.queries = PgLangGraphCheckpoints(events)
        self._checkpointer: Any = None
        self._located = LangGraphThreads(events, {})

    def serves(self, graph_id: str | None) -> bool:
        return graph_id is not None

    def _saver(self) -> Any:
        from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer

        if self._checkpointer is None:
            self._checkpointer = EventStoreCheckpointer(self.events)
        return self._checkpointer

    async def exists(self, thread_id: str, checkpoint_id: str, checkpoint_ns: str = "") -> bool:
        return await self.queries.get(thread_id, checkpoint_ns, checkpoint_id) is not None

    async def state(
        self,
        graph_id: str,
        thread_id: str,
        *,
        checkpoint_id: str | None = None,
        checkpoint_ns: str = "",
        subgraphs: bool = False,
    ) -> dict[str, Any]:
        if checkpoint_id and not await self.exists(thread_id, checkpoint_id, checkpoint_ns):
            raise NotFound(f"thread {thread_id} has no checkpoint {checkpoint_id}")
        found = await self._saver().aget_tuple(_config(thread_id, checkpoint_id, checkpoint_ns))
        if found is None:
            return thread_state_of(None, [], {}, {}, None, {})
        (out,) = await self._states(graph_id, [found], checkpoint_ns)
        if subgraphs:
            # As LangGraph's aget_state(subgraphs=True): a task that ran a subgraph holds the
            # subgraph's latest state (its own subgraphs nested too) in place of its namespace.
            for task in out["tasks"]:
                ref = task.get("checkpoint")
                if ref and ref.get("checkpoint_ns"):
                    task["state"] = await self.state(
                        graph_id, thread_id, checkpoint_ns=str(ref["checkpoint_ns"]), subgraphs=True
                    )
                    task["checkpoint"] = None
        return out

    async def history(
        self,
        graph_id: str,
        thread_id: str,
        *,
        limit: int = 10,
        before: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        checkpoint_id: str | None = None,
        checkpoint_ns: str = "",
    ) -> list[dict[str, Any]]:
        found = [
            t
            async for t in self._saver().alist(
                _config(thread_id, checkpoint_id, checkpoint_ns),
                filter=dict(metadata) if metadata else None,
                before=_config(thread_id, before, checkpoint_ns) if before else None,
                limit=limit,
            )
        ]
        return await self._states(graph_id, found, checkpoint_ns)

    async def update(
        self,
        graph_id: str,
        thread_id: str,
        values: Any,
        *,
        as_node: str | None = None,
        checkpoint_id: str | None = None,
    ) -> tuple[list[NewEvent], dict[str, Any]]:
        raise NotImplementedError("an edit needs the graph's code: StateEdits records it for the executor")

    async def _states(self, graph_id: str, found: Sequence[Any], checkpoint_ns: str) -> list[dict[str, Any]]:
        if not found:
            return []
        thread_id = str(found[0].config["configurable"]["thread_id"])
        ids = [str(t.config["configurable"]["checkpoint_id"]) for t in found]
        planned = await self.queries.planned_tasks(thread_id, checkpoint_ns, ids)
        paths = await self.queries.task_paths(thread_id, checkpoint_ns, ids)
        keys, defaults = (None, {}) if checkpoint_ns else await self.state_keys(graph_id)
        spaces = await self._subgraph_spaces(thread_id, checkpoint_ns, planned, paths)
        states = []
        for t in found:
            cid = str(t.config["configurable"]["checkpoint_id"])
            mine = {task: path for (c, task), path in paths.items() if c == cid}
            tasks = planned.get(cid) or [
                (task, path[len(_PULL) :]) for task, path in sorted(mine.items()) if path.startswith(_PULL)
            ]
            states.append(thread_state_of(t, tasks, mine, spaces, keys, defaults))
        await self._located._locate(states)
        return states

    async def _subgraph_spaces(
        self,
        thread_id: str,
        checkpoint_ns: str,
        planned: Mapping[str, list[tuple[str, str]]],
        paths: Mapping[tuple[str, str], str],
    ) -> dict[str, str]:
        """task id -> the namespace of the subgraph it ran, for the tasks (of the graph at
        ``checkpoint_ns``) that ran one."""
        outer = f"{checkpoint_ns}|" if checkpoint_ns else ""
        candidates = {f"{outer}{name}:{task}": task for tasks in planned.values() for task, name in tasks}
        candidates.update(
            {
                f"{outer}{p[len(_PULL) :]}:{task}": task
                for (_, task), p in paths.items()
                if p.startswith(_PULL)
            }
        )
        if not candidates:
            return {}
        present = await self.queries.namespaces(thread_id, list(candidates))
        return {candidates[ns]: ns for ns in present}


def thread_state_of(
    found: Any,
    tasks: Sequence[tuple[str, str]],
    paths: Mapping[str, str],
    spaces: Mapping[str, str],
    keys: Sequence[str] | None,
    defaults: Mapping[str, Any],
) -> dict[str, Any]:
    """LangGraph Platform's ``ThreadState`` of a stored ``CheckpointTuple`` (None: none yet)
    with the tasks ``(id, node)`` it has (see :class:`StoredLangGraphThreads`)."""
    if found is None:
        return {
            "values": {},
            "next": [],
            "tasks": [],
            "metadata": None,
            "created_at": None,
            "checkpoint": None,
            "parent_checkpoint": None,
            "interrupts": [],
            "checkpoint_id": None,
            "parent_checkpoint_id": None,
        }
    from langgraph.types import Interrupt

    channel_values = found.checkpoint.get("channel_values") or {}
    if keys is not None:
        # A reducer's channel never written holds its empty value, which LangGraph shows.
        values = {
            k: channel_values[k] if k in channel_values else defaults[k]
            for k in keys
            if k in channel_values or k in defaults
        }
    else:
        values = {k: v for k, v in channel_values.items() if not k.startswith(("__", "branch:"))}
    writes: dict[str, list[tuple[str, Any]]] = {}
    for task_id, channel, value in found.pending_writes or []:
        writes.setdefault(str(task_id), []).append((str(channel), value))
    thread_id = found.config["configurable"]["thread_id"]
    out_tasks = []
    all_interrupts = []
    for task_id, name in tasks:
        mine = writes.get(task_id, [])
        interrupts = [
            _interrupt(i)
            for channel, value in mine
            if channel == "__interrupt__"
            for i in (value if isinstance(value, list | tuple) else [value])
            if isinstance(i, Interrupt)
        ]
        all_interrupts += interrupts
        errors = [value for channel, value in mine if channel == "__error__"]
        result = {c: v for c, v in mine if keys is None or c in keys}
        ns = spaces.get(task_id)
        path = paths.get(task_id, "")
        out_tasks.append(
            {
                "id": task_id,
                "name": name,
                "path": [p.strip() for p in path.lstrip("~").split(",")] if path else [],
                "error": _error(errors[-1]) if errors else None,
                "interrupts": interrupts,
                "checkpoint": {"thread_id": thread_id, "checkpoint_ns": ns} if ns else None,
                "state": None,
                "result": plain(result) if any(c for c, _ in mine if not c.startswith("__")) else None,
            }
        )
    config, parent = found.config, found.parent_config
    return {
        "values": plain(values),
        "next": [name for _, name in tasks],
        "tasks": out_tasks,
        "metadata": plain(found.metadata),
        "created_at": found.checkpoint.get("ts"),
        "checkpoint": _ref(config),
        "parent_checkpoint": _ref(parent),
        "interrupts": all_interrupts,
        "checkpoint_id": config["configurable"]["checkpoint_id"],
        "parent_checkpoint_id": parent["configurable"]["checkpoint_id"] if parent else None,
    }


_EMPTY_OF_TYPE: dict[str, Any] = {"array": [], "integer": 0, "number": 0, "string": "", "object": {}}


def state_channels(topology: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """A registered LangGraph graph's state keys, and the value LangGraph gives a reducer's
    channel before anything is written to it (its type's empty value: ``[]`` for a list, ``0``
    for a number, from the state's JSON Schema; ``[]`` for ``add_messages``)."""
    kinds = dict(topology.get("channels") or {})
    state = ((topology.get("schemas") or {}).get("state_schema") or {}).get("properties") or {}
    defaults: dict[str, Any] = {}
    for key, kind in kinds.items():
        if kind == "replace":
            continue
        kind_type = (state.get(key) or {}).get("type")
        if kind == "add_messages":
            defaults[key] = []
        elif isinstance(kind_type, str) and kind_type in _EMPTY_OF_TYPE:
            defaults[key] = type(_EMPTY_OF_TYPE[kind_type])()
    return list(kinds), defaults
