"""Capture a representative event log of a real `duragraph-lab serve` into event_log.json.

Run from a checkout: ``python -m tests.data.capture_event_log [OUT]``. It starts the API test
server (embedded PostgreSQL + NATS, the demo and test graphs), drives every kind of event through
the API (runs that complete, fail, retry, pause and resume, are cancelled, forked, edited, copied
and deleted; subgraphs; threads, assistants and their versions; datasets and experiments, run by
the notebook's loop and by the server; a LangGraph graph's run and LangGraph's checkpointer used
directly) and writes every row of ``duragraph.events`` as JSON.

tests/unit/test_event_log_fixture.py checks that every stored payload is of its type, so a log
written by this release stays readable by the next ones: regenerate the fixture only when a
payload changes on purpose (then also say so in docs/events.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import psycopg

from duragraph_lab.client import DuraGraphClient
from duragraph_lab.evals import contains, exact_match, step_budget
from duragraph_lab.evals.specs import evaluator_spec
from tests.apiserver import ApiServer
from tests.devserver import cli, owner_database_url
from tests.fault.test_webhook_restart import Receiver

OUT = Path(__file__).with_name("event_log.json")


def _until(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return found


def drive(server: ApiServer, client: DuraGraphClient) -> None:
    ask = {"messages": [{"role": "user", "content": "what is 6 * 7"}]}
    # A plain run, a retried node, an interrupt in a subgraph, a resume, a cancel.
    client.runs.wait(None, "chat", input=ask, metadata={"capture": "chat"})
    t = client.threads.create(metadata={"capture": "lifecycle"}).thread_id
    client.runs.wait(t, "lifecycle", input={"n": 1, "sleep": 30})
    client.runs.create(t, "lifecycle", command={"resume": "yes"})
    run = _until(
        "the wait node", lambda: next((r for r in client.runs.list(t) if r.status == "running"), None)
    )
    time.sleep(1.0)
    client.runs.cancel(run.run_id, thread_id=t, wait=True)
    # A breakpoint, a state edit on it, a run with no input; a fork; a failure.
    b = client.threads.create().thread_id
    client.runs.wait(b, "breakpoint", input={"n": 1})
    client.threads.update_state(b, {"n": 5}, as_node="a")
    client.runs.wait(b, "breakpoint", input=None)
    history = client.threads.history(b)
    first = client.runs.list(b)[-1]
    events = client.runs.events(first.run_id).events
    forked = client.runs.fork(first.run_id, events[2].seq, update={"n": 100})
    client.runs.join(forked.run_id, thread_id=b)
    oldest = history[-1].checkpoint
    assert oldest is not None
    client.threads.update_state(b, {"n": 7}, checkpoint_id=oldest.checkpoint_id)
    client.runs.wait(None, "slow", input={"fail": True})
    client.runs.wait(None, "slow", input={"sleep": 1}, config={"timeout": 0.5})
    # Nested subgraph, a multitask interrupt, an enqueued run; copy, update, delete.
    n = client.threads.create().thread_id
    client.runs.wait(n, "nested", input={"n": 0})
    s = client.threads.create().thread_id
    client.runs.create(s, "slow", input={"sleep": 0.5})
    client.runs.create(s, "slow", input={"sleep": 0.1}, multitask_strategy="enqueue")
    last = client.runs.create(s, "slow", input={"sleep": 0}, multitask_strategy="interrupt")
    client.runs.join(last.run_id, thread_id=s)
    client.threads.update(n, metadata={"edited": True})
    copy = client.threads.copy(n).thread_id
    client.runs.delete(client.runs.list(copy)[0].run_id, thread_id=copy)
    client.threads.delete(copy)
    client.runs.wait(None, "custom", input={}, after_seconds=0.1, on_completion="delete")
    # Assistants: create, a new version, set latest, delete.
    status, created, _ = server.request("POST", "/assistants", {"graph_id": "slow", "name": "capture"})
    assert status == 200, created
    aid = created["assistant_id"]
    status, body, _ = server.request("PATCH", f"/assistants/{aid}", {"config": {"configurable": {"x": 1}}})
    assert status == 200, body
    status, body, _ = server.request("POST", f"/assistants/{aid}/latest", {"version": 1})
    assert status == 200, body
    status, body, _ = server.request("DELETE", f"/assistants/{aid}")
    assert status in (200, 204), body
    # Datasets and experiments: recorded by the notebook's calls, and run by the server.
    tag = uuid.uuid4().hex
    for text in ("what is 6 * 7", "hello there"):
        client.runs.wait(
            None, "chat", input={"messages": [{"role": "user", "content": text}]}, metadata={"tag": tag}
        )
    name = f"capture-{tag[:8]}"
    client.datasets.create(name, run_metadata={"tag": tag}, graph_id="chat")
    client.datasets.add_version(name, examples=[{"inputs": {"messages": []}, "outputs": None}])
    specs = [evaluator_spec(e) for e in (exact_match("messages.-1.content"), contains("42"), step_budget(10))]
    by_hand = client.experiments.create(name, "chat", dataset_version=1, evaluators=specs)
    examples = client.datasets.examples(name, version=1)
    client.experiments.record(by_hand.experiment_id, examples[0].example_id, status="error", error="skipped")
    client.experiments.complete(by_hand.experiment_id)
    on_server = client.experiments.create(name, "chat", dataset_version=1, evaluators=specs, concurrency=2)
    client.experiments.run(on_server.experiment_id)
    _until(
        "the server's experiment",
        lambda: client.experiments.get(on_server.experiment_id).status == "completed",
    )
    scratch = f"scratch-{tag[:8]}"
    client.datasets.create(scratch, examples=[{"inputs": {"messages": []}}])
    client.datasets.delete(scratch)
    # A state edit through a custom reducer; webhooks: refused once then delivered, and given up.
    r = client.threads.create().thread_id
    client.runs.wait(r, "reducing", input={"n": 0})
    client.threads.update_state(r, {"high": 9})
    for fail in (1, 100):
        receiver = Receiver(fail=fail)
        try:
            body = {"assistant_id": "slow", "input": {"sleep": 0}, "webhook": receiver.url}
            status, answer, _ = server.request("POST", "/runs/wait", body)
            assert status == 200, answer
            _until("the webhook", lambda r=receiver: len(r.received) >= 2)
            time.sleep(0.5)  # its record (delivered, or given up after 2 attempts)
        finally:
            receiver.close()


def drive_crons(server: ApiServer) -> None:
    """A stateless cron that fires every second, then is updated (disabled) and deleted; a cron on
    a thread that is deleted under it (a tick recorded with the reason no run started)."""

    def ok(method: str, path: str, body: Any = None) -> Any:
        status, out, _ = server.request(method, path, body)
        assert status in (200, 204), (method, path, status, out)
        return out

    every_second = {"assistant_id": "slow", "schedule": "* * * * * *", "input": {"n": 0}}
    cron = ok(
        "POST", "/runs/crons", {**every_second, "metadata": {"capture": "cron"}, "timezone": "Europe/Paris"}
    )
    _until(
        "a tick",
        lambda: ok("GET", f"/runs/crons/{cron['cron_id']}")["next_run_date"] != cron["next_run_date"],
    )
    ok("PATCH", f"/runs/crons/{cron['cron_id']}", {"enabled": False, "end_time": None, "input": {"n": 1}})
    ok("DELETE", f"/runs/crons/{cron['cron_id']}")
    thread = ok("POST", "/threads", {})["thread_id"]
    ok("POST", f"/threads/{thread}/runs", {"assistant_id": "slow", "input": {"n": 0, "sleep": 1}})
    busy = ok("POST", f"/threads/{thread}/runs/crons", {**every_second, "multitask_strategy": "reject"})
    _until(
        "a failed tick",
        lambda: ok("GET", f"/runs/crons/{busy['cron_id']}")["next_run_date"] != busy["next_run_date"],
    )
    ok("DELETE", f"/runs/crons/{busy['cron_id']}")
    # A cron on a thread that is deleted: the cron goes with it.
    ok("POST", f"/threads/{thread}/runs/crons", {**every_second, "schedule": "0 0 1 1 *"})
    _until("the thread at rest", lambda: ok("GET", f"/threads/{thread}")["status"] == "idle")
    ok("DELETE", f"/threads/{thread}")


async def dump(url: str) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        rows = await (
            await conn.execute(
                "SELECT seq, stream_id, version, type, data, meta FROM duragraph.events ORDER BY seq"
            )
        ).fetchall()
    return [
        {"seq": seq, "stream_id": stream, "version": version, "type": type_, "data": data, "meta": meta}
        for seq, stream, version, type_, data, meta in rows
    ]


def drive_langgraph(server: ApiServer, owner_url: str) -> None:
    """LangGraph's checkpointer: a LangGraph run interrupted and resumed (its checkpoints and
    writes in the run's stream), then the checkpointer used directly (checkpoint streams)."""
    from langgraph_sdk import get_sync_client

    with get_sync_client(url=server.base, headers=server.headers) as sdk:
        thread = sdk.threads.create(metadata={"capture": "langgraph"})["thread_id"]
        # Streamed with LangGraph's own "tasks" mode: its parts are kept (stream_parts).
        run = sdk.runs.create(
            thread, "lg_map_reduce", input={"topic": "capture"}, stream_mode=["values", "tasks"]
        )
        sdk.runs.join(thread, run["run_id"])
        sdk.runs.wait(thread, "lg_map_reduce", command={"resume": "yes"})
        # create_agent: LangChain model calls (with token usage) and tool calls on node_completed.
        agent_thread = sdk.threads.create(metadata={"capture": "langgraph-agent"})["thread_id"]
        sdk.runs.wait(
            agent_thread, "lg_metered_agent", input={"messages": [{"role": "user", "content": "1+2"}]}
        )

    async def direct() -> None:
        from langgraph.checkpoint.base import empty_checkpoint

        from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer
        from duragraph_lab.store import PostgresEventStore, open_pool

        pool = await open_pool(owner_url, min_size=1, max_size=2)
        try:
            saver = EventStoreCheckpointer(PostgresEventStore(pool))
            config: Any = {"configurable": {"thread_id": "capture-a", "checkpoint_ns": ""}}
            config = await saver.aput(
                config, empty_checkpoint(), {"source": "update", "step": 0, "run_id": "r1"}, {}
            )
            await saver.aput_writes(config, [("n", 1)], "task-1", "path")
            await saver.acopy_thread("capture-a", "capture-b")
            await saver.aprune(["capture-b"], strategy="keep_latest")
            await saver.adelete_for_runs(["r1"])
            await saver.adelete_thread("capture-b")
        finally:
            await pool.close()

    asyncio.run(direct())


def capture_server(data_dir: Path) -> ApiServer:
    """The server the capture drives: the test graphs, a LangGraph graph, webhooks to loopback."""
    return ApiServer(
        data_dir,
        more_graphs=("tests.lg_graphs:map_reduce", "tests.lg_graphs:metered_agent"),
        extra=[
            "--DuraGraphApp.webhook_allow=127.0.0.1/32",
            "--DuraGraphApp.webhook_backoff=0.1",
            "--DuraGraphApp.webhook_max_attempts=2",
        ],
    )


def drive_remote_edits(server: ApiServer) -> None:
    """update_state on a graph only a worker process serves: edit requests it applies, and one
    that the graph's code refuses (an ambiguous as_node)."""
    from langgraph_sdk import get_sync_client
    from langgraph_sdk.errors import UnprocessableEntityError

    argv = [*cli(), "worker", "tests.api_graphs:routed_remote", "--worker-id", "capture-edits"]
    argv += ["--server", f"http://127.0.0.1:{server.port}/", "--token", server.token]
    worker = subprocess.Popen(
        [*argv, "--data-dir", str(server.data_dir / "w")],
        env={k: v for k, v in os.environ.items() if not k.startswith("DURAGRAPH_")}
        | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _until(
            "the edits worker",
            lambda: "routed_remote" in server.request("GET", "/workers")[1]["graphs"],
        )
        with get_sync_client(url=server.base, headers=server.headers, timeout=60) as sdk:
            thread = sdk.threads.create()["thread_id"]
            sdk.runs.wait(thread, "routed_remote", input={"n": 99}, interrupt_before=["d"])
            with contextlib.suppress(UnprocessableEntityError):  # b and c wrote last: refused
                sdk.threads.update_state(thread, {"n": 1})
            sdk.threads.update_state(thread, {"n": 50, "high": 3}, as_node="a")
            sdk.runs.wait(thread, "routed_remote", input=None)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def drive_all(server: ApiServer) -> list[dict[str, Any]]:
    """Every kind of event through ``server`` (see the module's docstring); its whole log."""
    with DuraGraphClient(f"http://127.0.0.1:{server.port}/", token=server.token, timeout=60) as client:
        drive(server, client)
    drive_langgraph(server, owner_database_url(server.data_dir))
    drive_crons(server)
    drive_remote_edits(server)
    return asyncio.run(dump(owner_database_url(server.data_dir)))


def main(out: Path = OUT) -> None:
    with TemporaryDirectory() as tmp:
        server = capture_server(Path(tmp) / "data")
        server.start()
        try:
            events = drive_all(server)
        finally:
            server.kill()
    out.write_text(json.dumps(events, indent=1, sort_keys=True) + "\n")
    print(f"{len(events)} events, {len({e['type'] for e in events})} types -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
