"""Crons: runs started on a schedule, on a thread or stateless (LangGraph Platform's crons).

A cron is the event stream ``cron:<uuid>``: ``cron_created``, ``cron_updated``, one
``cron_fired`` per tick, ``cron_deleted`` (docs/events.md). The ``crons`` table is its read
model (:class:`CronReadModel`); it holds the stream's version and the next fire time.

Firing is at most once per tick across any number of API servers: every server's
:class:`CronScheduler` reads the due crons, and :meth:`Crons.fire` creates the tick's run through
the run control plane with the tick's ``cron_fired`` appended in the same transaction, at the
version the cron had when it was read. Two servers firing one tick both try to append that
version: one commits (its run with it), the other's append conflicts and its run is rolled back.

Ticks missed while no server ran (or while the scheduler fell behind) are caught up once: the
first due tick fires, and the next fire time is the first tick after now, so a cron that
should have fired ten times while everything was down fires once when a server is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from duragraph_lab.control import cron_schedule
from duragraph_lab.control.ports import EventStore
from duragraph_lab.control.run_creation import Append
from duragraph_lab.control.runs import RunControl
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.errors import (
    DuraGraphError,
    InvalidRequest,
    NotFound,
    StoreTransientError,
    StoreUnavailable,
    VersionConflict,
)
from duragraph_lab.domain.ids import parse_id
from duragraph_lab.domain.plain import iso, plain
from duragraph_lab.engine import commands

log = logging.getLogger(__name__)

#: What a stateless cron does with its run's thread: ``delete`` it once the run ends, or ``keep``.
OnRunCompleted = Literal["delete", "keep"]
#: Concurrent changes (a tick fired meanwhile) an update or delete is re-decided after.
_ATTEMPTS = 5
#: Keys of a cron's run payload an update may change.
PAYLOAD_KEYS = (
    "input",
    "config",
    "context",
    "webhook",
    "interrupt_before",
    "interrupt_after",
    "multitask_strategy",
    "stream_mode",
    "stream_subgraphs",
    "stream_resumable",
    "durability",
)


@dataclass(frozen=True, slots=True)
class CronRecord:
    """A cron as the ``crons`` read model has it."""

    cron_id: str
    assistant_id: str
    graph_id: str
    thread_id: str | None
    schedule: str
    timezone: str | None
    end_time: dt.datetime | None
    enabled: bool
    on_run_completed: str | None
    payload: dict[str, Any]
    metadata: dict[str, Any]
    user_id: str | None
    #: None: it will not fire again.
    next_run_date: dt.datetime | None
    last_fired_at: dt.datetime | None
    last_run_id: str | None
    fire_count: int
    #: The cron stream's version (what a tick's append expects).
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CronFilter:
    #: An assistant id or a graph id.
    assistant_id: str | None = None
    thread_id: str | None = None
    enabled: bool | None = None
    #: Contained in the cron's metadata.
    metadata: Mapping[str, Any] | None = None


SORT_KEYS = ("cron_id", "assistant_id", "thread_id", "created_at", "updated_at", "next_run_date", "end_time")


class WebhookCheck(Protocol):
    def check_literal(self, url: str) -> None:
        """Raise (a 4xx error) for a webhook URL the server will not call."""
        ...


class CronReadModel(Protocol):
    async def get(self, cron_id: str) -> CronRecord | None: ...

    async def search(
        self, where: CronFilter, *, sort_by: str, ascending: bool, limit: int, offset: int
    ) -> list[CronRecord]: ...

    async def count(self, where: CronFilter) -> int: ...

    async def due(self, limit: int) -> tuple[dt.datetime, list[CronRecord]]:
        """The database's clock now, and the enabled crons whose next fire time has come,
        earliest first."""
        ...


@dataclass(frozen=True, slots=True)
class NewCron:
    assistant: str
    schedule: str
    thread_id: str | None = None
    timezone: str | None = None
    end_time: dt.datetime | None = None
    enabled: bool = True
    #: Stateless crons only (default ``delete``).
    on_run_completed: OnRunCompleted | None = None
    #: The runs' request: the keys of :data:`PAYLOAD_KEYS`.
    payload: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] | None = None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """A time from a request; a naive one is taken as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Crons:
    """Commands and queries of crons, and firing their ticks."""

    def __init__(
        self,
        store: EventStore,
        read_model: CronReadModel,
        runs: RunControl,
        webhooks: WebhookCheck | None = None,
    ) -> None:
        self.store = store
        self.read_model = read_model
        self.runs = runs
        #: Checks a cron's webhook as a run's is checked at creation (the same policy).
        self.webhooks = webhooks

    def _check_webhook(self, payload: Mapping[str, Any]) -> None:
        url = payload.get("webhook")
        if url is not None and self.webhooks is not None:
            self.webhooks.check_literal(url)

    # -- queries -------------------------------------------------------------------------------
    async def get(self, cron_id: str) -> CronRecord:
        found = await self.read_model.get(parse_id(cron_id, "cron"))
        if found is None:
            raise NotFound(f"cron {cron_id} does not exist")
        return found

    async def search(
        self,
        where: CronFilter,
        *,
        sort_by: str = "created_at",
        ascending: bool = False,
        limit: int = 10,
        offset: int = 0,
    ) -> list[CronRecord]:
        if sort_by not in SORT_KEYS:
            raise InvalidRequest(f"sort_by must be one of {', '.join(SORT_KEYS)}")
        return await self.read_model.search(
            self._checked(where), sort_by=sort_by, ascending=ascending, limit=limit, offset=offset
        )

    async def count(self, where: CronFilter) -> int:
        return await self.read_model.count(self._checked(where))

    @staticmethod
    def _checked(where: CronFilter) -> CronFilter:
        if where.thread_id is not None:
            try:
                parse_id(where.thread_id, "thread")
            except NotFound:
                raise InvalidRequest(f"thread_id must be a UUID, not {where.thread_id!r}") from None
        return where

    # -- commands ------------------------------------------------------------------------------
    async def create(self, new: NewCron) -> CronRecord:
        """Record a cron; :class:`InvalidRequest` (bad schedule, timezone, option) or
        :class:`NotFound` (assistant, thread) before anything is written."""
        cron_schedule.check(new.schedule, new.timezone)
        self._check_webhook(new.payload)
        if new.thread_id is not None and new.on_run_completed is not None:
            raise InvalidRequest("on_run_completed applies to stateless crons only (a thread's runs stay)")
        target = await self.runs.targets.resolve(new.assistant)
        thread_id = None
        if new.thread_id is not None:
            thread_id = parse_id(new.thread_id, "thread")
            if await self.runs.threads.get(thread_id) is None:
                raise NotFound(f"thread {thread_id} does not exist")
        end_time = _aware(new.end_time)
        cron_id = commands.new_id()
        data = ev.CronCreated(
            cron_id=cron_id,
            assistant_id=target.assistant_id or new.assistant,
            graph_id=target.graph_id,
            thread_id=thread_id,
            schedule=new.schedule,
            timezone=new.timezone,
            end_time=iso(end_time),
            enabled=new.enabled,
            on_run_completed=(new.on_run_completed or "delete") if thread_id is None else None,
            payload=plain(dict(new.payload)),
            metadata=plain(dict(new.metadata or {})),
            user_id=None,
            next_run_date=iso(cron_schedule.next_fire(new.schedule, new.timezone, _now(), end_time)),
        )
        await self.store.append(f"cron:{cron_id}", 0, [ev.cron_created(data)])
        return await self.get(cron_id)

    async def update(self, cron_id: str, changes: Mapping[str, Any]) -> CronRecord:
        """Change a cron's schedule, timezone, end time, enabled flag, metadata or run payload
        (the keys of ``changes``; an ``end_time`` of None clears it). The next fire time is
        decided again from now."""
        unknown = set(changes) - {
            "schedule",
            "timezone",
            "end_time",
            "enabled",
            "on_run_completed",
            "metadata",
        }
        unknown -= set(PAYLOAD_KEYS)
        if unknown:
            raise InvalidRequest(f"a cron has no field {', '.join(sorted(unknown))}")
        self._check_webhook(changes)
        for _ in range(_ATTEMPTS):
            cron = await self.get(cron_id)
            if "on_run_completed" in changes and cron.thread_id is not None:
                raise InvalidRequest("on_run_completed applies to stateless crons only")
            schedule = changes.get("schedule", cron.schedule)
            timezone = changes.get("timezone", cron.timezone)
            cron_schedule.check(schedule, timezone)
            end_time = _aware(changes["end_time"]) if "end_time" in changes else cron.end_time
            data: Any = {
                k: plain(changes[k])
                for k in ("schedule", "timezone", "enabled", "on_run_completed", "metadata")
                if k in changes
            }
            if "end_time" in changes:
                data["end_time"] = iso(end_time)
            payload = {k: plain(changes[k]) for k in PAYLOAD_KEYS if k in changes}
            if payload:
                data["payload"] = payload
            data["next_run_date"] = iso(cron_schedule.next_fire(schedule, timezone, _now(), end_time))
            try:
                await self.store.append(f"cron:{cron.cron_id}", cron.version, [ev.cron_updated(data)])
            except VersionConflict:
                continue  # a tick fired meanwhile: decide again on the fresh row
            return await self.get(cron.cron_id)
        raise DuraGraphError(f"cron {cron_id} kept changing while updating it; try again")

    async def delete(self, cron_id: str) -> None:
        for _ in range(_ATTEMPTS):
            cron = await self.get(cron_id)
            try:
                await self.store.append(
                    f"cron:{cron.cron_id}",
                    cron.version,
                    [ev.cron_deleted(cron.cron_id)],
                )
            except VersionConflict:
                continue
            return
        raise DuraGraphError(f"cron {cron_id} kept changing while deleting it; try again")

    async def thread_deleted(self, thread_id: str) -> list[Append]:
        """The appends that delete the crons bound to a thread being deleted (as LangGraph
        Platform does): made in the thread's deletion transaction, at each cron's version."""
        out: list[Append] = []
        where = CronFilter(thread_id=parse_id(thread_id, "thread"))
        while True:
            page = await self.read_model.search(
                where, sort_by="cron_id", ascending=True, limit=500, offset=len(out)
            )
            out += [(f"cron:{c.cron_id}", c.version, [ev.cron_deleted(c.cron_id)]) for c in page]
            if len(page) < 500:
                return out

    async def assistant_deleted(self, assistant_id: str) -> list[Append]:
        """The appends that delete the crons of an assistant being deleted (as LangGraph
        Platform does): made in the assistant's deletion transaction, at each cron's version.
        The filter also matches by graph id, so only the crons bound to this very assistant
        are kept."""
        out: list[Append] = []
        where = CronFilter(assistant_id=assistant_id)
        offset = 0
        while True:
            page = await self.read_model.search(
                where, sort_by="cron_id", ascending=True, limit=500, offset=offset
            )
            offset += len(page)
            out += [
                (f"cron:{c.cron_id}", c.version, [ev.cron_deleted(c.cron_id)])
                for c in page
                if c.assistant_id == assistant_id
            ]
            if len(page) < 500:
                return out

    # -- firing --------------------------------------------------------------------------------
    async def fire(self, cron: CronRecord, now: dt.datetime, *, by: str = "") -> str | None:
        """Fire ``cron``'s due tick (``cron.next_run_date``) as of ``now``: create its run and
        record the tick together. Returns the run's id; None when another server fired the tick
        (or the cron changed) first, or when no run could be created (the tick is recorded with
        the reason: a deleted assistant or thread, a busy thread under ``reject``). ``by``: the
        scheduler firing it, recorded as ``fired_by``."""
        tick = cron.next_run_date
        assert tick is not None
        following = cron_schedule.next_fire(cron.schedule, cron.timezone, max(now, tick), cron.end_time)
        when, following_iso = iso(tick), iso(following)
        assert when is not None
        stream = f"cron:{cron.cron_id}"

        def tick_appends(run_id: str, thread_id: str) -> Sequence[Append]:
            return [(stream, cron.version, [ev.cron_fired(when, following_iso, run_id, thread_id, by)])]

        payload = cron.payload
        stateless = cron.thread_id is None
        strategy = payload.get("multitask_strategy") or ("reject" if stateless else "enqueue")
        temporary = stateless and cron.on_run_completed != "keep"
        metadata = {**cron.metadata, "cron_id": cron.cron_id, "cron_tick": iso(tick)}
        try:
            ref = await self.runs.create_run(
                cron.assistant_id,
                payload.get("input"),
                thread_id=cron.thread_id,
                config=payload.get("config"),
                context=payload.get("context"),
                metadata=metadata,
                interrupt_before=payload.get("interrupt_before"),
                interrupt_after=payload.get("interrupt_after"),
                create_thread=stateless,
                multitask_strategy=strategy,
                supersede_interrupted=True,
                kwargs=plain(
                    {
                        "stream_mode": payload.get("stream_mode") or ["values"],
                        "stream_subgraphs": bool(payload.get("stream_subgraphs")),
                        "interrupt_before": payload.get("interrupt_before"),
                        "interrupt_after": payload.get("interrupt_after"),
                        "context": payload.get("context"),
                        # Only when there is one: the webhook sender delivers the ends of runs
                        # whose kwargs have a webhook.
                        **({"webhook": payload["webhook"]} if payload.get("webhook") else {}),
                        "multitask_strategy": strategy,
                        "temporary": temporary,
                        "cron_id": cron.cron_id,
                        "resumable": True,
                        "durability": "sync",
                    }
                ),
                temporary=temporary,
                also=tick_appends,
            )
        except VersionConflict:
            return None  # fired (or changed) by someone else first
        except (StoreUnavailable, StoreTransientError):
            raise  # nothing recorded: the tick is still due and fires when the store is back
        except DuraGraphError as err:
            # The tick happened but no run could start: record why, and move on to the next tick.
            failed = ev.cron_fired(when, following_iso, None, cron.thread_id, by, error=str(err))
            with contextlib.suppress(VersionConflict):
                await self.store.append(stream, cron.version, [failed])
            log.warning("DuraGraph Lab: cron %s could not start its run: %s", cron.cron_id, err)
            return None
        return ref.run_id


class CronScheduler:
    """Fires due crons: every API server runs one. Each pass reads the due crons (at most
    ``batch``) and fires them one by one; passes are ``interval`` seconds apart."""

    def __init__(self, crons: Crons, *, interval: float = 1.0, batch: int = 50, identity: str = "") -> None:
        self.crons = crons
        self.identity = identity
        self.interval = interval
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> list[str]:
        """One pass; the ids of the runs it created."""
        now, due = await self.crons.read_model.due(self.batch)
        created = []
        for cron in due:
            run_id = await self.crons.fire(cron, now, by=self.identity)
            if run_id is not None:
                created.append(run_id)
        return created

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the database being away is reported by /health
                log.debug("DuraGraph Lab cron scheduler: %s", err)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="duragraph-cron-scheduler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
