"""The seam between the worker and LangGraph's executor: how a leased run of a LangGraph graph
is executed.

The worker leases LangGraph runs exactly like native ones and hands each to
:func:`run_executor`, which returns a driver with the native ``RunExecutor``'s two methods:
``await run()`` (execute the run under the lease, until it completes, fails, is interrupted or is
cancelled; raising ``LeaseLost``, ``StoreUnavailable``... as the native executor does) and
``request_cancel()``. The executor proper is :mod:`duragraph_lab.langgraph.executor` (the
event-store checkpointer bound to the lease, ``graph.astream(..., durability="sync")``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from duragraph_lab.control.item_store import StoreSettings
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.langgraph.source import GraphSource


class RunDriver(Protocol):
    """What the worker needs of an executor of one run."""

    async def run(self) -> object: ...

    def request_cancel(self) -> None: ...


def run_executor(
    source: GraphSource,
    *,
    journal: Any,
    events: Any,
    run_id: str,
    epoch: int,
    store_settings: StoreSettings,
    prefetched: Sequence[RecordedEvent] | None = None,
) -> RunDriver:
    """A driver for the leased run ``run_id`` (lease ``epoch``) of ``source``'s graph.

    ``journal``: the worker's fenced ``PostgresJournal``; ``events``: its ``PostgresEventStore``;
    ``store_settings``: the project's store settings (``langgraph.json``'s ``store``);
    ``prefetched``: the run's events as its lease brought them, if it did."""
    from duragraph_lab.langgraph.executor import LangGraphRunExecutor

    return LangGraphRunExecutor(
        source,
        journal=journal,
        events=events,
        run_id=run_id,
        epoch=epoch,
        store_settings=store_settings,
        prefetched=prefetched,
    )
