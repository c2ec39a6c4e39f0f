"""Runs over HTTP: request bodies into the control plane's commands and queries, its answers
into LangGraph's shapes — create (on a thread or stateless), read, wait, cancel, delete, and
DuraGraph's extras: the event log, spans, forks and re-execution reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from duragraph_lab.api import models
from duragraph_lab.api.checkpoints import live_values, shown_interrupts
from duragraph_lab.api.jsonout import iso, plain
from duragraph_lab.api.presence import Presence
from duragraph_lab.api.streaming import error_part
from duragraph_lab.api.threads import Threads
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.control.read_models import RunFilter, RunRecord
from duragraph_lab.control.run_creation import RunCommand, RunRef
from duragraph_lab.control.webhooks import WebhookPolicy
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.run import RunState, RunStatus
from duragraph_lab.engine.commands import InvalidRunRequest

#: DuraGraph's run statuses that LangGraph's ``RunStatus`` has no value for, and the one the API
#: shows instead: a run cancelled with ``action=interrupt`` is ``interrupted`` on LangGraph
#: Platform. The run's own status stays in ``duragraph_status``.
_API_STATUS = {RunStatus.CANCELLED.value: RunStatus.INTERRUPTED.value}


def api_status(status: str) -> str:
    """A run's status as LangGraph's API states it."""
    return _API_STATUS.get(status, status)


def stored_statuses(statuses: list[str]) -> list[str]:
    """The run statuses an API status filter matches: ``interrupted`` also finds cancelled runs
    (shown as interrupted); ``cancelled`` (DuraGraph's) finds only those."""
    out = list(statuses)
    for stored, shown in _API_STATUS.items():
        if shown in out and stored not in out:
            out.append(stored)
    return out


def run_filter(body: models.RunFilter) -> RunFilter:
    """The runs a request's filter names."""
    status = body.status
    return RunFilter(
        statuses=None
        if status is None
        else stored_statuses([status] if isinstance(status, str) else list(status)),
        assistant_id=None if body.assistant_id is None else str(body.assistant_id),
        thread_id=None if body.thread_id is None else str(body.thread_id),
        graph_id=body.graph_id,
        ids=None if body.ids is None else [str(i) for i in body.ids],
        metadata=body.metadata,
        created_after=body.created_after,
        created_before=body.created_before,
    )


def run_json(run: RunRecord, select: list[str] | None = None) -> dict[str, Any]:
    """LangGraph's ``Run`` (and DuraGraph's execution fields)."""
    out = {
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "assistant_id": run.assistant_id,
        "graph_id": run.graph_id,
        "created_at": iso(run.created_at),
        "updated_at": iso(run.updated_at),
        "status": api_status(run.status),
        "duragraph_status": run.status,
        "metadata": plain(run.metadata),
        "kwargs": plain(run.kwargs),
        "multitask_strategy": run.multitask_strategy,
        "error": plain(run.error),
        "step": run.step,
        "attempt": run.attempt,
        "worker_id": run.worker_id,
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        # DuraGraph: where a fork branched (run, seq, position in that run's events, edited keys).
        "forked_from": plain(run.metadata.get("forked_from")) if isinstance(run.metadata, dict) else None,
        "usage": usage_json(run.input_tokens, run.output_tokens),
    }
    return {k: v for k, v in out.items() if k in select} if select else out


def usage_json(input_tokens: int | None, output_tokens: int | None) -> dict[str, int] | None:
    """``{"input_tokens", "output_tokens"}`` the model calls reported; None when none did."""
    if input_tokens is None and output_tokens is None:
        return None
    return {"input_tokens": int(input_tokens or 0), "output_tokens": int(output_tokens or 0)}


def join_result(state: RunState, reducers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What ``/wait`` and ``/join`` answer: the final values; ``__interrupt__`` when the run
    paused for a human (the values then have the finished tasks of its step applied, as
    LangGraph's ``invoke`` answers; ``reducers``: the graph's custom ones, when this process has
    its code); ``__error__`` when it failed."""
    if state.status in (RunStatus.ERROR, RunStatus.TIMEOUT):
        return {"__error__": error_part(state.error)}
    paused = state.status is RunStatus.INTERRUPTED
    values = plain(live_values(state, reducers) if paused else state.values)
    if paused:
        shown = shown_interrupts(state.interrupts)
        if shown or not state.interrupts:
            # (Not at a LangGraph breakpoint: LangGraph answers the values alone there.)
            values["__interrupt__"] = shown
    return dict(values)


def event_json(event: RecordedEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "stream_id": event.stream_id,
        "version": event.version,
        "event_id": str(event.event_id),
        "type": event.type,
        "data": plain(event.data),
        "meta": plain(event.meta),
        "recorded_at": iso(event.recorded_at),
    }


class Runs:
    def __init__(
        self,
        control: ControlPlane,
        threads: Threads,
        presence: Presence | None = None,
        webhooks: WebhookPolicy | None = None,
    ) -> None:
        self.control = control
        self.threads = threads
        self.presence = presence
        self.webhooks = webhooks or WebhookPolicy()

    async def _explained(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Runs with ``waiting_for`` (see :mod:`duragraph_lab.api.presence`)."""
        return await self.presence.runs(runs) if self.presence is not None else runs

    # -- reading -------------------------------------------------------------------------------
    async def get(self, run_id: str, thread_id: str | None = None) -> dict[str, Any]:
        return (await self._explained([run_json(await self.control.run_queries.get(run_id, thread_id))]))[0]

    async def list_runs(
        self,
        thread_id: str,
        *,
        limit: int = 10,
        offset: int = 0,
        status: str | None = None,
        select: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        if status is not None and stored_statuses([status]) != [status]:
            found, _ = await self.control.run_queries.search(
                RunFilter(thread_id=thread_id, statuses=stored_statuses([status])), limit=limit, offset=offset
            )
            return [run_json(r, select) for r in found]
        runs = await self.control.run_queries.of_thread(thread_id, limit=limit, offset=offset, status=status)
        out = [run_json(r, select) for r in runs]
        return out if select else await self._explained(out)

    async def search(self, body: models.RunSearch) -> tuple[list[dict[str, Any]], int]:
        found, total = await self.control.run_queries.search(
            run_filter(body),
            order=body.sort_by or "created_at",
            ascending=body.sort_order == "asc",
            limit=body.limit,
            offset=body.offset,
        )
        return await self._explained([run_json(r) for r in found]), total

    async def count(self, body: models.RunFilter) -> int:
        return await self.control.run_queries.count(run_filter(body))

    # -- creating ------------------------------------------------------------------------------
    async def create(
        self,
        thread_id: str | None,
        body: models.RunCreateStateful | models.RunCreateStateless,
        *,
        run_id: str | None = None,
    ) -> RunRef:
        stateless = isinstance(body, models.RunCreateStateless)
        command = None
        if body.command is not None:
            update = body.command.update
            if isinstance(update, list):
                raise InvalidRunRequest("command.update must be an object of state keys")
            command = RunCommand(
                resume=body.command.resume,
                has_resume=body.command.has_resume,
                update=update,
                goto=body.command.goto_list(),
            )
        checkpoint = None
        if isinstance(body, models.RunCreateStateful) and thread_id is not None:
            checkpoint = await self.threads.resolve_checkpoint(
                thread_id, body.checkpoint_id or body.checkpoint
            )
        kwargs = {
            # As on LangGraph Platform: a run's kwargs carry its input (the Playground titles
            # threads by their first input from it).
            "input": body.input,
            "stream_mode": body.stream_modes,
            "stream_subgraphs": body.stream_subgraphs,
            "on_disconnect": body.on_disconnect,
            "interrupt_before": body.interrupt_before,
            "interrupt_after": body.interrupt_after,
            "command": body.command.model_dump(exclude_unset=True) if body.command is not None else None,
            "context": body.context,
            "temporary": stateless and getattr(body, "on_completion", "keep") == "delete",
            "resumable": True,
            "durability": "sync",
        }
        if body.webhook is not None:
            self.webhooks.check_literal(body.webhook)  # names are checked at each delivery
            kwargs["webhook"] = body.webhook
        strategy = body.multitask_strategy or ("reject" if stateless else "enqueue")
        kwargs["multitask_strategy"] = strategy
        create_thread = stateless or getattr(body, "if_not_exists", None) == "create"
        return await self.control.runs.create_run(
            body.assistant_id,
            body.input,
            thread_id=thread_id,
            config=body.config,
            context=body.context,
            metadata=body.metadata,
            interrupt_before=body.interrupt_before,
            interrupt_after=body.interrupt_after,
            after_seconds=body.after_seconds,
            create_thread=create_thread,
            multitask_strategy=strategy,
            supersede_interrupted=True,
            command=command,
            checkpoint=checkpoint,
            kwargs=plain(kwargs),
            temporary=bool(kwargs["temporary"]),
            run_id=run_id,
        )

    async def precheck(self, body: models.RunCreateStateless) -> None:
        """Raise what :meth:`create` would for a bad assistant or input, writing nothing."""
        await self.control.runs.precheck(body.assistant_id, body.input)

    # -- waiting -------------------------------------------------------------------------------
    async def wait_at_rest(self, run_id: str, timeout: float | None = None) -> RunState:
        return await self.control.runs.wait_at_rest(run_id, timeout)

    async def join(self, run_id: str, thread_id: str | None = None) -> dict[str, Any]:
        await self.control.run_queries.get(run_id, thread_id)
        state = await self.control.runs.wait_at_rest(run_id)
        spec = self.control.edits.graph_code(state.graph_id or "")
        return join_result(state, spec.reducers if spec is not None else None)

    # -- cancelling and deleting ---------------------------------------------------------------
    async def cancel(self, run_id: str, thread_id: str | None, action: str) -> None:
        await self.control.run_queries.get(run_id, thread_id)
        await self.control.runs.cancel(run_id, action=action)

    async def cancel_on_disconnect(self, run_id: str) -> None:
        await self.control.runs.cancel(run_id, "client disconnected (on_disconnect=cancel)")

    async def cancel_many(self, body: models.RunsCancel, action: str) -> int:
        if body.status is not None:
            statuses = ["pending", "running"] if body.status == "all" else [body.status]
            return await self.control.runs.cancel_many(statuses=statuses, action=action)
        return await self.control.runs.cancel_many(
            run_ids=body.run_ids or [], thread_id=body.thread_id, action=action
        )

    async def delete(self, run_id: str, thread_id: str | None) -> None:
        await self.control.run_queries.get(run_id, thread_id)
        await self.control.runs.delete_run(run_id)

    # -- DuraGraph extras ----------------------------------------------------------------------
    async def events(self, run_id: str, *, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        page = await self.control.run_queries.events(run_id, after=after, limit=limit)
        return {
            "run_id": page.run_id,
            "events": [event_json(e) for e in page.events],
            "next_after": page.next_after,
            "has_more": page.has_more,
        }

    async def spans(self, run_id: str) -> list[dict[str, Any]]:
        out = []
        for span in await self.control.run_queries.spans(run_id):
            out.append(
                {
                    "ns": span.ns,
                    "task": span.task,
                    "attempt": span.attempt,
                    "step": span.step,
                    "node": span.node,
                    "status": span.status,
                    "started_at": iso(span.started_at),
                    "ended_at": iso(span.ended_at),
                    "duration_ms": span.duration_ms,
                    "error": plain(span.error),
                    "seq": span.seq,
                    "run_id": span.run_id,
                    "usage": usage_json(span.input_tokens, span.output_tokens),
                }
            )
        return out

    async def state_at(self, run_id: str, seq: int | None) -> dict[str, Any]:
        """The state right after event ``seq`` of the run (None: its latest) and right before it."""
        await self.control.run_queries.get(run_id)
        at = await self.control.event_states.at(run_id, seq)
        return {
            "run_id": at.run_id,
            "seq": at.seq,
            "type": at.type,
            "node": at.node,
            "step": at.step,
            "values": plain(at.values),
            "previous": plain(at.previous),
            "previous_seq": at.previous_seq,
        }

    async def fork(self, run_id: str, body: models.RunFork) -> RunRef:
        await self.control.run_queries.get(run_id)
        return await self.control.forks.fork(run_id, body.seq, update=body.update, as_node=body.as_node)

    async def replay(self, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Ask a worker that serves the run's graph to re-execute it with its current code."""
        return plain(await self.control.runs.reexecute(run_id, timeout=timeout))  # type: ignore[no-any-return]
