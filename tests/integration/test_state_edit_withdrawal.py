"""An edit request that no worker applies in time is withdrawn: the API call fails with
``WorkerUnavailable`` and the thread is as it was — a paused run still paused before the same
step, which a worker then resumes. The control plane on real PostgreSQL and NATS; a real worker
that serves the graph, stopped while the edit waits."""

from __future__ import annotations

import asyncio
import time

import pytest

from duragraph_lab.domain.errors import WorkerUnavailable
from duragraph_lab.domain.run import RunState, RunStatus
from tests.api_graphs import routed_remote
from tests.integration.test_worker import Stack, stack  # noqa: F401 (the fixture)


async def _at_rest(on: Stack, run_id: str) -> RunState:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = await on.control.history.state(run_id)
        if state.status in (RunStatus.INTERRUPTED, RunStatus.SUCCESS):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not come to rest")


async def test_an_edit_no_worker_applies_is_withdrawn_and_the_thread_is_as_it_was(
    stack: Stack,  # noqa: F811 (the fixture)
) -> None:
    worker = await stack.worker(routed_remote, poll_interval=0.1)
    ref = await stack.control.runs.create_run("routed_remote", {"n": 0}, interrupt_before=["d"])
    paused = await _at_rest(stack, ref.run_id)
    assert paused.status is RunStatus.INTERRUPTED and [t.node for t in paused.pending_tasks] == ["d"]
    await worker.stop()

    edits = stack.control.edits

    async def served() -> set[str]:
        return {"routed_remote"}  # a worker said to serve it, but none takes the request

    edits.served = served
    edits.request_timeout = 1.0
    with pytest.raises(WorkerUnavailable, match="it was withdrawn and nothing was changed"):
        await edits.update_state(ref.thread_id, {"n": 50}, as_node="a")

    thread = await stack.control.threads.threads.get(ref.thread_id)
    assert thread is not None and thread.last_run_id != ref.run_id  # the withdrawn request run
    head = await stack.control.history.state(str(thread.last_run_id))
    assert head.status is RunStatus.INTERRUPTED and head.edit_request is None
    assert head.values == paused.values and [t.node for t in head.pending_tasks] == ["d"]
    assert head.interrupts == paused.interrupts
    types = [e.type for e in await stack.control.history.run_events(str(thread.last_run_id))]
    assert types == ["run_created", "run_started", "run_interrupted", "edit_refused"]

    # A worker back: a resume with no input goes on where the thread was paused.
    await stack.worker(routed_remote, poll_interval=0.1)
    resumed = await stack.control.runs.create_run("routed_remote", None, thread_id=ref.thread_id)
    final = await _at_rest(stack, resumed.run_id)
    assert final.status is RunStatus.SUCCESS and final.values["log"][-1] == "d"
    assert final.values["n"] == paused.values["n"]
