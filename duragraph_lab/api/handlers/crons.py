"""/runs/crons routes (LangGraph Platform's crons): the requests of
:class:`duragraph_lab.control.crons.Crons`, with the bodies and answers the official
``langgraph-sdk`` sends and expects."""

from __future__ import annotations

from typing import Any

from tornado import web

from duragraph_lab.api import models
from duragraph_lab.api.handlers.base import DuraGraphHandler
from duragraph_lab.control.crons import PAYLOAD_KEYS, CronFilter, CronRecord, NewCron
from duragraph_lab.domain.plain import iso, plain


def cron_json(cron: CronRecord, select: list[str] | None = None) -> dict[str, Any]:
    """A ``Cron`` of the SDK's schema."""
    out: dict[str, Any] = {
        "cron_id": cron.cron_id,
        "assistant_id": cron.assistant_id,
        "thread_id": cron.thread_id,
        "on_run_completed": cron.on_run_completed,
        "end_time": iso(cron.end_time),
        "schedule": cron.schedule,
        "timezone": cron.timezone,
        "created_at": iso(cron.created_at),
        "updated_at": iso(cron.updated_at),
        "payload": plain({**cron.payload, "assistant_id": cron.assistant_id, "schedule": cron.schedule}),
        "user_id": cron.user_id,
        "next_run_date": iso(cron.next_run_date),
        "metadata": cron.metadata,
        "enabled": cron.enabled,
    }
    if select:
        return {k: v for k, v in out.items() if k in select}
    return out


def _payload(body: models.CronCreate | models.CronPatch) -> dict[str, Any]:
    sent = body.model_dump(exclude_unset=True)
    return {k: sent[k] for k in PAYLOAD_KEYS if k in sent and sent[k] is not None}


class CronsHandler(DuraGraphHandler):
    """``POST /runs/crons`` (stateless) and ``POST /threads/{thread_id}/runs/crons``."""

    @web.authenticated
    async def post(self, thread_id: str | None = None) -> None:
        body = self.parse(models.CronCreate)
        payload = _payload(body)
        if body.multitask_strategy is not None:
            payload["multitask_strategy"] = body.multitask_strategy
        new = NewCron(
            body.assistant_id,
            body.schedule,
            thread_id=thread_id,
            timezone=body.timezone,
            end_time=body.end_time,
            enabled=body.enabled,
            on_run_completed=body.on_run_completed,
            payload=payload,
            metadata=body.metadata,
        )
        self.write_json(cron_json(await self.call(self.backend.crons.create(new))))


class CronSearchHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.CronSearch, required=False)
        found = await self.call(
            self.backend.crons.search(
                CronFilter(body.assistant_id, body.thread_id, body.enabled, body.metadata),
                sort_by=body.sort_by or "created_at",
                ascending=body.sort_order == "asc",
                limit=body.limit,
                offset=body.offset,
            )
        )
        self.write_json([cron_json(c, list(body.select) if body.select else None) for c in found])


class CronCountHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.CronCount, required=False)
        where = CronFilter(body.assistant_id, body.thread_id, None, body.metadata)
        self.write_json(await self.call(self.backend.crons.count(where)))


class CronHandler(DuraGraphHandler):
    """``/runs/crons/{cron_id}``."""

    @web.authenticated
    async def get(self, cron_id: str) -> None:
        self.write_json(cron_json(await self.call(self.backend.crons.get(cron_id))))

    @web.authenticated
    async def patch(self, cron_id: str) -> None:
        body = self.parse(models.CronPatch, required=False)
        sent = body.model_dump(exclude_unset=True)
        # Left out or null: unchanged (the SDK drops Nones), except end_time, where null clears it.
        changes = {k: v for k, v in sent.items() if v is not None or k == "end_time"}
        self.write_json(cron_json(await self.call(self.backend.crons.update(cron_id, changes))))

    @web.authenticated
    async def delete(self, cron_id: str) -> None:
        await self.call(self.backend.crons.delete(cron_id))
        self.no_content()
