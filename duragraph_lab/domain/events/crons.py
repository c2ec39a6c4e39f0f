"""The payloads of a cron's stream (``cron:<uuid>``) and the one factory that makes each.

Times are ISO 8601 strings with their offset (UTC), as the projection casts them. No
``from __future__ import annotations`` (see ``run.py``: TypedDict must see ``NotRequired``).
"""

from typing import Any, Literal, NotRequired, TypedDict

from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.events import names
from duragraph_lab.domain.events.spec import EventSpec


class CronPayload(TypedDict, total=False):
    """What each run of the cron is started with (the keys the request gave)."""

    input: Any
    config: dict[str, Any]
    context: dict[str, Any]
    interrupt_before: Any
    interrupt_after: Any
    multitask_strategy: str
    webhook: str
    stream_mode: Any
    stream_subgraphs: bool
    stream_resumable: bool
    durability: str


class CronCreated(TypedDict):
    cron_id: str
    assistant_id: str
    graph_id: str
    thread_id: str | None  # None: stateless (each run on a new thread)
    schedule: str
    timezone: str | None  # None: UTC
    end_time: str | None
    enabled: bool
    on_run_completed: Literal["delete", "keep"] | None  # None on a thread
    payload: CronPayload
    metadata: dict[str, Any]
    user_id: str | None
    next_run_date: str | None  # None: it never fires


class CronUpdated(TypedDict):
    """Only the fields changed, and always the next fire time they give."""

    next_run_date: str | None
    schedule: NotRequired[str]
    timezone: NotRequired[str | None]
    end_time: NotRequired[str | None]
    enabled: NotRequired[bool]
    on_run_completed: NotRequired[Literal["delete", "keep"]]
    metadata: NotRequired[dict[str, Any]]
    payload: NotRequired[CronPayload]  # the keys changed


class CronFired(TypedDict):
    tick: str  # the scheduled time it fired for
    next_run_date: str | None
    run_id: str | None  # None: no run could start (see error)
    thread_id: str | None
    fired_by: str  # the scheduler (host:pid:token)
    error: NotRequired[str]


class CronDeleted(TypedDict):
    cron_id: str


def cron_created(data: CronCreated) -> NewEvent:
    return NewEvent(names.CRON_CREATED, data)


def cron_updated(data: CronUpdated) -> NewEvent:
    return NewEvent(names.CRON_UPDATED, data)


def cron_fired(
    tick: str,
    next_run_date: str | None,
    run_id: str | None,
    thread_id: str | None,
    fired_by: str,
    error: str | None = None,
) -> NewEvent:
    data = CronFired(
        tick=tick, next_run_date=next_run_date, run_id=run_id, thread_id=thread_id, fired_by=fired_by
    )
    if error is not None:
        data["error"] = error
    return NewEvent(names.CRON_FIRED, data)


def cron_deleted(cron_id: str) -> NewEvent:
    return NewEvent(names.CRON_DELETED, CronDeleted(cron_id=cron_id))


CRON_EVENT_SPECS = (
    EventSpec(names.CRON_CREATED, CronCreated, "cron", "a new schedule of runs"),
    EventSpec(names.CRON_UPDATED, CronUpdated, "cron", "fields changed; the next fire time"),
    EventSpec(names.CRON_FIRED, CronFired, "cron", "one tick: its run (or why none), the next tick"),
    EventSpec(names.CRON_DELETED, CronDeleted, "cron", "the cron deleted"),
)
