"""The scale-out topology under faults (issue 20): a 3-node NATS JetStream cluster (stream
replicated three times), PostgreSQL on its own, 2 API servers, 3 workers (tests/topology.py), all real
processes. While runs keep arriving through both API servers and SSE clients follow runs on both,
one after another: kill -9 the NATS node leading the event stream (it comes back later), kill -9
the API server whose relay publishes (restarted), kill -9 a worker, add a worker, restart both API
servers one after the other (SIGTERM, start).

Afterwards: every run succeeded with the right state; no node ran after its result was committed
(the side-effect ledger); every run stream is whole; JetStream holds every event of the events
table exactly once (by ``Nats-Msg-Id`` = ``event_id``); and every SSE client, across its
reconnections to either server, received exactly the frames a single uninterrupted stream of the
finished run gives (no frame lost, none twice).

The short version runs in the suite. The long one (more runs, longer phases) runs when
``DURAGRAPH_TOPOLOGY_LONG=1``; it writes its figures (recovery after each fault, throughput and
SSE latency per phase) to ``DURAGRAPH_TOPOLOGY_FIGURES`` (JSON), which docs/operations.md quotes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fault.conftest import create_ledger
from tests.fault.workers import assert_durable, sql
from tests.topology import (
    ApiNode,
    SseFollower,
    Topology,
    jetstream_messages,
    replay_frames,
)
from tests.topology_graphs import NODES

MODES = ("values", "updates")


@dataclass(frozen=True)
class Plan:
    in_flight: int  # runs kept pending or running at once
    think: float  # each node waits up to this long (a model call)
    phase: float  # seconds of load after each fault
    followers: int  # SSE clients at once (each follows one run, then another)
    concurrency: int = 64  # per worker


SHORT = Plan(in_flight=150, think=3.0, phase=3.0, followers=12)
LONG = Plan(in_flight=400, think=8.0, phase=20.0, followers=60, concurrency=200)


@dataclass
class Load:
    """Keeps ``plan.in_flight`` runs going through the API servers, and SSE clients on them."""

    topology: Topology
    plan: Plan
    http: httpx.AsyncClient
    runs: dict[str, str]  # run id -> thread id
    followers: list[SseFollower]
    stopping: bool = False
    create_failures: int = 0

    @property
    def apis(self) -> list[ApiNode]:
        return self.topology.apis

    async def create(self) -> str | None:
        thread_id = str(uuid.uuid4())
        body = {
            "assistant_id": "waits",
            "input": {"n": 0, "think": self.plan.think},
            "if_not_exists": "create",
        }
        start = random.randrange(len(self.apis))
        for attempt in range(40):
            api = self.apis[(start + attempt) % len(self.apis)]
            headers = {"Authorization": f"token {api.token}"}
            try:
                if attempt:
                    # The first answer may have been lost after the run was created: never twice.
                    found = await self.http.get(f"{api.base}/threads/{thread_id}/runs", headers=headers)
                    if found.status_code == 200 and found.json():
                        run_id = str(found.json()[0]["run_id"])
                        self.runs[run_id] = thread_id
                        return run_id
                response = await self.http.post(
                    f"{api.base}/threads/{thread_id}/runs", json=body, headers=headers
                )
                if response.status_code == 200:
                    run_id = str(response.json()["run_id"])
                    self.runs[run_id] = thread_id
                    return run_id
            except httpx.HTTPError:
                pass
            self.create_failures += 1
            await asyncio.sleep(0.1)
        return None

    def active(self) -> int:
        return int(
            sql(
                self.topology.database_url,
                "SELECT count(*) FROM duragraph.runs WHERE status IN ('pending', 'running')",
            )[0][0]
        )

    async def keep_going(self) -> None:
        tasks: set[asyncio.Task[Any]] = set()
        deadline = time.monotonic() + 1800
        while not self.stopping:
            try:
                deficit = self.plan.in_flight - await asyncio.to_thread(self.active)
            except Exception:
                deficit = 0
            made = await asyncio.gather(*(self.create() for _ in range(max(0, min(deficit, 60)))))
            for run_id in made:
                if run_id is not None and sum(not f.done for f in self.followers) < self.plan.followers:
                    follower = SseFollower(self.apis, run_id, len(self.followers), MODES)
                    self.followers.append(follower)
                    task = asyncio.create_task(follower.run(self.http, deadline))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            await asyncio.sleep(0.25)
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=120)
            stuck = [f for f in self.followers if not f.done]
            for task in pending:
                task.cancel()
            assert not pending, "SSE clients that never saw their run end:\n" + "\n".join(
                f"{f.run_id}: {f.trace[-8:]}" for f in stuck[:10]
            )
            for task in done:
                task.result()


def _leader_api(apis: list[ApiNode]) -> ApiNode:
    for api in apis:
        status, health = api.health()
        if status and isinstance(health, dict) and health.get("relay", {}).get("role") == "active":
            return api
    return apis[0]


async def _stream_leader(topology: Topology) -> str:
    from duragraph_lab.bus import Subjects, connect_nats

    assert topology.nats is not None
    nc = await connect_nats(topology.nats.url, name="topology-test")
    try:
        info = await nc.jetstream().stream_info(Subjects(topology.prefix).stream_name)
        assert info.cluster is not None and info.cluster.leader, info.cluster
        assert info.config.num_replicas == 3
        return str(info.cluster.leader)
    finally:
        await nc.close()


async def _wait(check: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def scenario(topology: Topology, plan: Plan) -> dict[str, Any]:
    """Load, faults, then every check; returns the figures."""
    assert topology.nats is not None
    url = topology.database_url
    marks: list[tuple[str, float]] = []
    notes: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=60)) as http:
        load = Load(topology, plan, http, {}, [])
        keeper = asyncio.create_task(load.keep_going())
        try:
            await asyncio.sleep(plan.phase / 2)
            marks.append(("steady", time.time()))
            await asyncio.sleep(plan.phase)

            # 1. kill -9 the NATS node that leads the event stream.
            leader = await _stream_leader(topology)
            node = topology.nats.node(leader)
            marks.append(("nats node killed", time.time()))
            node.kill()
            notes["nats_node_killed"] = leader
            await asyncio.sleep(plan.phase)

            # 2. kill -9 the API server whose relay publishes; it is restarted (as a supervisor would).
            victim = await asyncio.to_thread(_leader_api, topology.apis)
            marks.append(("api server killed", time.time()))
            victim.kill()
            notes["api_killed"] = victim.name
            await asyncio.sleep(plan.phase / 2)
            await asyncio.to_thread(victim.start)
            # The NATS node comes back too, and catches up.
            await asyncio.to_thread(topology.nats.start_node, node)
            await asyncio.sleep(plan.phase / 2)

            # 3. kill -9 a worker: its runs go to the others once their leases expire.
            worker = topology.workers[0]
            marks.append(("worker killed", time.time()))
            topology.kill_worker(worker)
            notes["worker_killed"] = worker.name
            await asyncio.sleep(max(plan.phase, topology.lease_ttl + 2))

            # 4. one more worker.
            marks.append(("worker added", time.time()))
            topology.add_worker()
            await asyncio.sleep(plan.phase)

            # 5. rolling restart of the API servers: SIGTERM, start, next.
            marks.append(("rolling restart", time.time()))
            for api in topology.apis:
                await asyncio.to_thread(api.stop)
                await asyncio.to_thread(api.start)
            await asyncio.sleep(plan.phase)
            marks.append(("end", time.time()))
        finally:
            load.stopping = True
            await keeper
        marks.append(("drain", time.time()))
        await _wait(lambda: load.active() == 0, 180, "every run to end")
        drained = "SELECT count(*) FROM duragraph.outbox"
        await _wait(lambda: sql(url, drained)[0][0] == 0, 60, "the outbox to drain")

        # -- every run ended well, and no committed node ran again -------------------------------
        runs = sql(url, "SELECT run_id::text, status FROM duragraph.runs")
        statuses = Counter(status for _, status in runs)
        assert statuses == {"success": len(runs)}, (statuses, topology.logs()[-6000:])
        assert len(runs) >= len(load.runs) > plan.in_flight
        finals = sql(
            url,
            "SELECT stream_id, data FROM duragraph.events e WHERE type = 'node_completed' "
            "AND coalesce(data->>'ns', '') = ''",
        )
        completed: dict[str, list[str]] = {}
        for stream_id, data in finals:
            completed.setdefault(stream_id.removeprefix("run:"), []).append(data["node"])
        assert all(sorted(completed.get(run_id, [])) == list(NODES) for run_id, _ in runs)
        assert_durable(url)
        ledger = sql(url, "SELECT run_id, count(DISTINCT node) FROM side_effects GROUP BY 1")
        assert {run_id: n for run_id, n in ledger} == {run_id: len(NODES) for run_id, _ in runs}

        # -- JetStream holds every event exactly once -----------------------------------------------
        from duragraph_lab.bus import Subjects

        subjects = Subjects(topology.prefix)
        held = await jetstream_messages(topology.nats.url, subjects.stream_name, subjects.all_events)
        events = sql(
            url,
            "SELECT event_id::text, seq, extract(epoch FROM recorded_at)::float8, type, stream_id "
            "FROM duragraph.events ORDER BY seq",
        )
        counts = Counter(msg_id for msg_id, _ in held)
        assert [m for m, c in counts.items() if c > 1] == [], "JetStream holds an event twice"
        assert set(counts) == {e[0] for e in events}, (
            f"{len({e[0] for e in events} - set(counts))} events missing from JetStream, "
            f"{len(set(counts) - {e[0] for e in events})} unknown"
        )

        # -- every SSE client got exactly what one uninterrupted stream gives ------------------------
        followed = [f for f in load.followers if f.done]
        assert len(followed) == len(load.followers) and len(followed) >= plan.followers
        for follower in followed:
            expected = await replay_frames(http, topology.apis[0], follower.run_id, MODES)
            got = [(f.event, f.id, json.loads(f.data)) for f in follower.frames]
            want = [(f.event, f.id, json.loads(f.data)) for f in expected]
            assert got == want, f"SSE client of {follower.run_id} (reconnects {follower.reconnects})"
        reconnected = sum(1 for f in followed if f.reconnects)
        assert reconnected > 0, "no SSE client lived through a server going away: the test tests nothing"
        notes["drain_and_checks_s"] = round(time.time() - dict(marks)["drain"], 1)

    return figures(marks, notes, events, held, load, topology)


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


def figures(
    marks: list[tuple[str, float]],
    notes: dict[str, Any],
    events: list[tuple[Any, ...]],
    held: list[tuple[str, float]],
    load: Load,
    topology: Topology,
) -> dict[str, Any]:
    recorded = {event_id: at for event_id, _, at, _, _ in events}
    at_of_seq = {seq: at for _, seq, at, _, _ in events}
    published = sorted(ts for _, ts in held)
    steps = sorted(at for _, _, at, kind, _ in events if kind == "node_completed")
    frames = [(f.at, f.at - at_of_seq[f.id]) for fl in load.followers for f in fl.frames if f.id in at_of_seq]
    phases = []
    for (name, begin), (_, end) in itertools.pairwise(marks[:-1]):  # up to "end"
        window = [lat for at, lat in frames if begin <= at < end]
        n_steps = sum(1 for at in steps if begin <= at < end)
        # JetStream: the longest pause between two publishes and the slowest commit -> JetStream.
        # (The first publish after the phase counts too: a pause may outlast the phase.)
        pubs = [ts for ts in published if begin <= ts < end] + [ts for ts in published if ts >= end][:1]
        gaps = [b - a for a, b in itertools.pairwise([begin, *pubs])]
        relay = [ts - recorded[m] for m, ts in held if m in recorded and begin <= recorded[m] < end]
        phases.append(
            {
                "phase": name,
                "at": time.strftime("%H:%M:%S", time.gmtime(begin)),
                "seconds": round(end - begin, 1),
                "steps_per_s": round(n_steps / (end - begin), 1),
                "jetstream_longest_pause_s": round(max(gaps, default=0.0), 2),
                "commit_to_jetstream_max_s": round(max(relay, default=0.0), 2),
                "sse_p50_ms": round(_pct(window, 50) * 1e3, 1),
                "sse_p99_ms": round(_pct(window, 99) * 1e3, 1),
                "sse_max_ms": round(max(window, default=0.0) * 1e3, 1),
            }
        )
    # Worker killed: how long until another worker took up each run it held.
    killed_at = dict(marks)["worker killed"]
    takeovers = sql(
        topology.database_url,
        "SELECT e.stream_id, min(extract(epoch FROM e.recorded_at)::float8) FROM duragraph.events e "
        "WHERE e.type = 'run_started' AND e.recorded_at > to_timestamp(%s) AND (e.data->>'attempt')::int > 1 "
        "AND e.stream_id IN (SELECT stream_id FROM duragraph.events WHERE type = 'run_started' "
        "  AND data->>'worker_id' = %s AND recorded_at < to_timestamp(%s)) GROUP BY 1",
        (killed_at, notes["worker_killed"], killed_at),
    )
    delays = [at - killed_at for _, at in takeovers]
    outages = [o for f in load.followers for o in f.outages]
    return {
        "plan": {"in_flight": load.plan.in_flight, "think_s": load.plan.think, "phase_s": load.plan.phase},
        "runs": len(load.runs),
        "events": len(events),
        "sse_clients": len(load.followers),
        "sse_reconnects": sum(f.reconnects for f in load.followers),
        "sse_reconnect_s": {"median": round(statistics.median(outages), 2), "max": round(max(outages), 2)}
        if outages
        else None,
        "create_retries": load.create_failures,
        "worker_takeover_s": {
            "runs": len(delays),
            "median": round(statistics.median(delays), 2),
            "max": round(max(delays), 2),
        }
        if delays
        else None,
        "lease_ttl_s": topology.lease_ttl,
        "faults": notes,
        "phases": phases,
    }


def _run(tmp_path: Path, database_url: str, plan: Plan) -> dict[str, Any]:
    create_ledger(database_url)
    topology = Topology(
        tmp_path / "topology",
        database_url,
        f"tp{uuid.uuid4().hex[:8]}",
        worker_concurrency=plan.concurrency,
    )
    try:
        topology.start()
        return asyncio.run(scenario(topology, plan))
    finally:
        topology.stop()


def test_topology_survives_faults_under_load(tmp_path: Path, database_url: str) -> None:
    result = _run(tmp_path, database_url, SHORT)
    print(json.dumps(result, indent=1))


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(
    not os.environ.get("DURAGRAPH_TOPOLOGY_LONG"), reason="long version: DURAGRAPH_TOPOLOGY_LONG=1"
)
def test_topology_survives_faults_under_load_long(tmp_path: Path, database_url: str) -> None:
    result = _run(tmp_path, database_url, LONG)
    out = os.environ.get("DURAGRAPH_TOPOLOGY_FIGURES")
    if out:
        Path(out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
