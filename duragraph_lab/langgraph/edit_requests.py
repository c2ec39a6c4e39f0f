"""Edit requests of LangGraph graphs: ``update_state`` made now by a worker that serves the graph,
when the API server does not have its code.

The API records the edit as a run of its own (``run_created`` with ``edit``, see
``control/edits.py``) that a worker serving the graph leases like any run. The worker builds the
graph for ``threads.update`` and makes the edit with LangGraph's ``aupdate_state`` on the
thread's latest checkpoint; it commits, under its lease and at the request's version, the run's
start, the resting event of the run it edits (which the request mirrors), the ``state_updated``
(with ``planned``: the tasks LangGraph plans from the edit's checkpoint, which thread states
read without the code show as its ``next``) and the checkpoint LangGraph made (its
``lg_checkpoint``/``lg_writes``): the events, in the order, of an edit made by an API server
that has the code. An edit
LangGraph refuses (an ambiguous or unknown ``as_node``, say) is recorded as ``edit_refused``.
A request the API withdrew meanwhile (its version moved) is left alone.
"""

from __future__ import annotations

from typing import Any

from duragraph_lab.control.item_store import StoreSettings
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import VersionConflict
from duragraph_lab.domain.run import RunState
from duragraph_lab.engine.commands import normalize_input
from duragraph_lab.engine.edits import resting_event
from duragraph_lab.langgraph.source import GraphSource
from duragraph_lab.store.journal import PostgresJournal
from duragraph_lab.store.postgres import PostgresEventStore


async def edit_events(
    source: GraphSource,
    events: PostgresEventStore,
    settings: StoreSettings,
    state: RunState,
    at: str | None = None,
) -> list[NewEvent]:
    """What the request run commits after its start: the edited run's resting event, then the
    edit as LangGraph made it (with the tasks LangGraph plans from its checkpoint) — or
    LangGraph's refusal. ``at``: the LangGraph checkpoint to edit (None: the thread's latest)."""
    from langgraph.errors import InvalidUpdateError

    from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer
    from duragraph_lab.langgraph.store import PostgresStore
    from duragraph_lab.langgraph.threads import Collected

    class Recording(EventStoreCheckpointer):
        """Keeps what the edit saves, to plan from it before it is written."""

        saved: tuple[Any, Any, Any, Any] | None = None

        async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
            self.saved = (config, checkpoint, metadata, new_versions)
            return await super().aput(config, checkpoint, metadata, new_versions)

    request = state.edit_request or {}
    rest: dict[str, Any] = dict(request.get("rest") or {})
    values = request.get("values") or {}
    as_node = request.get("as_node")
    thread_id = str(state.thread_id)
    collect = Collected(thread_id)
    checkpointer = Recording(events, run=collect)
    store = PostgresStore(events, settings=settings)
    config: dict[str, Any] = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    if at is not None:
        config["configurable"]["checkpoint_id"] = at
    async with source.build(
        {"configurable": {"thread_id": thread_id}},
        access="threads.update",
        checkpointer=checkpointer,
        store=store,
    ) as graph:
        try:
            made = await graph.aupdate_state(config, values, as_node=as_node)
        except (InvalidUpdateError, ValueError, TypeError) as err:
            refused = ev.edit_refused(error={"type": type(err).__name__, "message": str(err)})
            return [resting_event(rest), refused]
        planned = await _plan(graph, checkpointer.saved, made)
    update = normalize_input(values, state.channels, "values") or {}
    edit = ev.state_updated(values=update, as_node=as_node, planned=planned)
    return [resting_event(rest), edit, *collect.events]


async def _plan(graph: Any, saved: tuple[Any, Any, Any, Any] | None, made: Any) -> dict[str, Any] | None:
    """The tasks LangGraph plans from the edit's checkpoint (its ``next``), which a thread state
    read without the graph's code cannot work out: LangGraph's ``aget_state`` of that checkpoint,
    read from an in-memory copy of it (it is not written yet)."""
    from langgraph.checkpoint.memory import InMemorySaver

    if saved is None:
        return None
    memory = InMemorySaver()
    await memory.aput(*saved)
    snapshot = await graph.copy(update={"checkpointer": memory}).aget_state(made)
    return {
        "checkpoint_id": str(made["configurable"]["checkpoint_id"]),
        "tasks": [{"id": str(t.id), "node": str(t.name)} for t in snapshot.tasks],
    }


async def apply_edit_request(
    source: GraphSource,
    *,
    journal: PostgresJournal,
    events: PostgresEventStore,
    settings: StoreSettings,
    run_id: str,
    epoch: int | None,
    state: RunState,
) -> None:
    """Make the request run's edit, in one commit at the version it was read at."""
    started = ev.run_started(worker_id=journal.worker_id, epoch=epoch, attempt=state.attempt + 1)
    made = await edit_events(source, events, settings, state, await _edited_checkpoint(journal, state))
    journal.check_lease(run_id)
    try:
        await journal.commit(run_id, state.version, [started, *made])
    except VersionConflict:
        return  # withdrawn by the API (it gave up waiting): nothing is changed


async def _edited_checkpoint(journal: PostgresJournal, state: RunState) -> str | None:
    """The LangGraph checkpoint the request edits: the last of the root graph's up to the point
    the request branches at (the latest one for an edit of the thread's latest state); None when
    that run has none (LangGraph then takes the thread's latest)."""
    base = state.base or {}
    if not base.get("run_id"):
        return None
    until = base.get("seq")
    found = None
    for event in await journal.read(str(base["run_id"])):
        if until is not None and event.seq > int(until):
            break
        checkpoint = ev.checkpoint_of(event.type, event.data)
        if checkpoint is not None and not checkpoint.get("checkpoint_ns"):
            found = str(checkpoint["checkpoint_id"])
    return found
