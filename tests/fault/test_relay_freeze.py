"""The process whose relay publishes the outbox is frozen (SIGSTOP) while events are written: another
relay takes over within about the lease's TTL, the frozen one steps down when it resumes, and every
committed event reaches JetStream exactly once, in order within its stream."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from duragraph_lab.bus import OutboxRelay, RelayWaker, Subjects, wire
from duragraph_lab.domain import NewEvent
from duragraph_lab.store import PostgresEventStore
from tests.apiserver import ApiServer
from tests.helpers import eventually, jetstream_messages
from tests.integration.test_api_sse import Frame, assert_same_frames, frames, read_all, start_run

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Seen:
    """A message as a core-NATS subscriber saw it: every publish, duplicates included."""

    at: float
    msg_id: str
    seq: int


def max_seq(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT coalesce(max(seq), 0) FROM duragraph.events").fetchone()
    return int(row[0]) if row else 0


def assert_jetstream_holds_every_event_once(msgs: list[Msg], database_url: str) -> None:
    """JetStream's copy against PostgreSQL's events: the same events, each once, and each
    stream's versions in order."""
    with psycopg.connect(database_url) as conn:
        events = conn.execute("SELECT event_id::text, stream_id, version FROM duragraph.events").fetchall()
    ids = [m.headers[wire.H_MSG_ID] for m in msgs]  # type: ignore[index]
    assert len(ids) == len(set(ids)), "an event is in JetStream twice"
    assert set(ids) == {e[0] for e in events}, "JetStream and PostgreSQL hold different events"
    versions: dict[str, list[int]] = {}
    for m in msgs:
        versions.setdefault(m.headers[wire.H_STREAM], []).append(int(m.headers[wire.H_VERSION]))  # type: ignore[index]
    for stream_id, got in versions.items():
        assert got == sorted(got), f"{stream_id}: versions out of order in JetStream"


async def write_until(store: PostgresEventStore, stop: asyncio.Event, streams: int = 5) -> int:
    """Append one event to each of ``streams`` run streams every 10 ms until ``stop``."""
    sids = [f"run:{uuid.uuid4()}" for _ in range(streams)]
    version = 0
    while not stop.is_set():
        await asyncio.gather(*(store.append(s, version, [NewEvent("tick", {"v": version})]) for s in sids))
        version += 1
        await asyncio.sleep(0.01)
    return version * streams


class RelayProcess:
    """tests/fault/relay_process.py: a relay of its own, reporting its status as JSON lines."""

    def __init__(self, log: Path, database_url: str, nats_url: str, prefix: str, ttl: float) -> None:
        self.log = log
        argv = [sys.executable, "-m", "tests.fault.relay_process", database_url, nats_url, prefix, str(ttl)]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def statuses(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:  # the line being written
                    continue
        return out

    def last(self) -> dict[str, Any]:
        got = self.statuses()
        if not got and self.proc.poll() is not None:
            raise AssertionError(f"the relay process exited:\n{self.log.read_text()}")
        return got[-1] if got else {}

    def close(self) -> None:
        self.proc.send_signal(signal.SIGCONT)  # a stopped process does not act on SIGTERM
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def test_frozen_relay_is_replaced_and_publishes_nothing_out_of_turn(
    tmp_path: Path, database_url: str, nats_server: str, nc: NATS, subjects: Subjects, pool: Any
) -> None:
    ttl = 1.5
    frozen = RelayProcess(tmp_path / "relay.jsonl", database_url, nats_server, subjects.prefix, ttl)
    standby = OutboxRelay(pool, nc, subjects, lease_ttl=ttl, standby_poll=0.1)
    store = PostgresEventStore(pool)
    store.add_after_commit(standby.wake)
    store.add_after_commit(RelayWaker(nc, subjects))  # wakes the other process's relay
    seen: list[Seen] = []

    async def on_msg(msg: Msg) -> None:
        headers = msg.headers or {}
        seen.append(Seen(time.monotonic(), headers[wire.H_MSG_ID], int(headers[wire.H_SEQ])))

    sub = await nc.subscribe(subjects.all_events, cb=on_msg)
    stop = asyncio.Event()
    writer: asyncio.Task[int] | None = None
    try:
        await eventually(lambda: frozen.last().get("role") == "active", timeout=30)
        await standby.start()
        assert standby.status.role == "standby"
        writer = asyncio.create_task(write_until(store, stop))
        await eventually(lambda: frozen.last()["published"] >= 200, timeout=30)

        frozen.proc.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        # Whatever the frozen relay had read, it read before this: nothing above this seq.
        read_before = max_seq(database_url)
        await eventually(lambda: standby.status.role == "active", timeout=ttl + 5)
        took = time.monotonic() - stopped
        # Not before its lease could have expired (renewed at most a third of the TTL before the
        # freeze), and within a poll of it.
        assert 2 * ttl / 3 - 0.2 <= took <= ttl + 1.0, took
        await asyncio.sleep(1.0)  # writes go on, published by the new leader

        frozen.proc.send_signal(signal.SIGCONT)
        resumed = time.monotonic()
        await eventually(lambda: frozen.last()["role"] == "standby", timeout=10)
        status = frozen.last()
        assert status["step_downs"] == 1 and "deadline passed" in status["last_step_down"], status
        await asyncio.sleep(0.5)
        stop.set()
        written = await writer
        await standby.drain(timeout=30)

        # Out of turn, the resumed relay could only have sent what it held when it froze (in
        # nats-py's buffer, at most one batch), all of it read before the freeze and published by
        # the new leader since: JetStream drops those copies, and so do subscribers, by version.
        late = [s for s in seen if s.at > resumed and s.seq <= read_before]
        assert len(late) <= standby.batch_size
        published_by_new_leader = {s.msg_id for s in seen if s.at < resumed}
        assert all(s.msg_id in published_by_new_leader for s in late)
        msgs = await jetstream_messages(nc, subjects)
        assert len(msgs) == written
        assert_jetstream_holds_every_event_once(msgs, database_url)
        print(f"takeover {took:.2f}s after SIGSTOP (TTL {ttl}s); {len(late)} late copies after SIGCONT")
    finally:
        stop.set()
        if writer is not None:
            await asyncio.gather(writer, return_exceptions=True)
        await sub.unsubscribe()
        await standby.stop()
        frozen.close()


MODES = [("stream_mode", m) for m in ("values", "updates")]


@dataclass(frozen=True)
class HealthSample:
    at: float  # seconds after SIGSTOP
    code: int
    body: dict[str, Any]

    @property
    def relay(self) -> dict[str, Any]:
        return dict(self.body["relay"])


async def test_frozen_api_server_relay_is_taken_over_by_the_other_server(
    tmp_path: Path, database_url: str, nats_server: str, nc: NATS, subjects: Subjects, pool: Any
) -> None:
    """Two `duragraph-lab serve` on one PostgreSQL and one NATS; runs execute and events are
    appended continuously; the server whose relay publishes is frozen with SIGSTOP."""
    env = {
        "DURAGRAPH_DATABASE_URL": database_url,
        "DURAGRAPH_NATS_URL": nats_server,
        "DURAGRAPH_SUBJECT_PREFIX": subjects.prefix,
        "JUPYTER_TOKEN": f"freeze-{uuid.uuid4().hex}",
    }
    extra = ["--DuraGraphApp.relay_lag_threshold=2"]
    first = ApiServer(tmp_path / "a" / "data", env=env, extra=extra)
    second = ApiServer(tmp_path / "b" / "data", env=env, extra=extra)
    store = PostgresEventStore(pool)
    store.add_after_commit(RelayWaker(nc, subjects))
    seen: list[Seen] = []

    async def on_msg(msg: Msg) -> None:
        headers = msg.headers or {}
        seen.append(Seen(time.monotonic(), headers[wire.H_MSG_ID], int(headers[wire.H_SEQ])))

    sub = await nc.subscribe(subjects.all_events, cb=on_msg)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    streams: list[tuple[str, asyncio.Task[list[Frame]]]] = []
    try:
        first.start()  # first: its relay takes the lease
        second.start()
        async with (
            httpx.AsyncClient(base_url=first.base, headers=first.headers, timeout=60) as on_first,
            httpx.AsyncClient(base_url=second.base, headers=second.headers, timeout=60) as client,
        ):
            leader = (await on_first.get("/health")).json()["relay"]
            assert leader["role"] == "active" and leader["leader"]["this_server"], leader
            health = (await client.get("/health")).json()
            assert health["relay"]["role"] == "standby"
            assert health["relay"]["leader"]["holder"] == leader["holder"]
            ttl = float(health["relay"]["lease_ttl_seconds"])

            async def follow(path: str) -> list[Frame]:
                async with client.stream("GET", path, params=MODES) as response:
                    assert response.status_code == 200, await response.aread()
                    return [f async for f in frames(response)]

            async def create_runs() -> None:
                """A run every 0.3 s on the healthy server, each followed by an SSE client."""
                while not stop.is_set():
                    run = await start_run(client, "slow", {"sleep": 0.1})
                    path = f"/threads/{run['thread_id']}/runs/{run['run_id']}/stream"
                    streams.append((path, asyncio.create_task(follow(path))))
                    await asyncio.sleep(0.3)

            tasks = [
                asyncio.create_task(write_until(store, stop, streams=3)),
                asyncio.create_task(create_runs()),
            ]
            await asyncio.sleep(2.0)  # steady state: runs and appends relayed by the first server

            first.signal(signal.SIGSTOP)
            stopped = time.monotonic()
            read_before = max_seq(database_url)
            samples: list[HealthSample] = []
            while True:  # the healthy server's /health, until it publishes and has caught up
                response = await client.get("/health")
                sample = HealthSample(time.monotonic() - stopped, response.status_code, response.json())
                samples.append(sample)
                if sample.code == 200 and sample.relay["role"] == "active":
                    break
                assert sample.at < ttl + 10, f"no takeover: {sample.body}"
                await asyncio.sleep(0.2)
            took = next(s.at for s in samples if s.relay["role"] == "active")
            # The lease was renewed at most a third of the TTL before the freeze; a standby asks
            # again as it would expire.
            assert 2 * ttl / 3 - 0.5 <= took <= ttl + 2.0, (took, ttl)
            lagging = [s for s in samples if s.code == 503]
            assert lagging, "the lag never showed in /health"
            for s in lagging:
                assert s.body["status"] == "degraded"
                assert s.relay["lag_seconds"] > 2.0
                assert "events are not reaching NATS" in s.body["message"]
            # Until the takeover, the healthy server says who holds the lease: the frozen one.
            assert any(s.relay["role"] == "standby" for s in lagging)
            for s in samples:
                if s.relay["role"] == "standby":
                    assert s.relay["leader"]["holder"] == leader["holder"], s.body
                    if s.code == 503:  # held by it, or expired and not taken over yet
                        assert leader["holder"] in s.body["message"], s.body
            max_lag = max(s.relay["lag_seconds"] for s in samples)
            assert max_lag <= took + 1.0  # the lag is the freeze, not something else
            await eventually(
                lambda: _health_lag_below(client, 1.0), timeout=10
            )  # caught up: the lag is back under a second

            await asyncio.sleep(max(0.0, ttl + 4 - (time.monotonic() - stopped)))
            first.signal(signal.SIGCONT)
            resumed = time.monotonic()
            after = await eventually(lambda: _relay_of(on_first, "standby"), timeout=15)
            assert after["step_downs"] == 1 and "deadline passed" in after["last_step_down"], after
            assert after["leader"]["holder"] == health["relay"]["holder"] != leader["holder"]
            await asyncio.sleep(1.0)

            stop.set()
            written = await tasks[0]
            await tasks[1]
            received = {path: await asyncio.wait_for(task, 120) for path, task in streams}
            await eventually(lambda: _outbox_empty(database_url), timeout=30)
            # The SSE clients of the healthy server: every frame once, in order, as a reader
            # that reads each run afterwards in one go gets them.
            for path, got in received.items():
                ids = [int(f.id) for f in got if f.id]
                assert ids == sorted(set(ids)), f"{path}: a gap or a duplicate"
                assert got[0].event == "metadata"
                assert_same_frames(got[1:], (await read_all(client, path, params=MODES))[1:])
        late = [s for s in seen if s.at > resumed and s.seq <= read_before]
        assert len(late) <= 500  # at most the batch the frozen relay held
        before_resume = {s.msg_id for s in seen if s.at < resumed}
        assert all(s.msg_id in before_resume for s in late), "published out of turn: a new event"
        msgs = await jetstream_messages(nc, subjects)
        assert_jetstream_holds_every_event_once(msgs, database_url)
        print(
            f"takeover {took:.2f}s after SIGSTOP (TTL {ttl:g}s), max lag {max_lag:.2f}s, "
            f"{len(lagging)} of {len(samples)} /health samples 503; {written} appended events and "
            f"{len(received)} runs streamed; {len(msgs)} events in JetStream; {len(late)} late copies"
        )
    finally:
        stop.set()
        for task in tasks + [t for _, t in streams]:
            task.cancel()
        await asyncio.gather(*tasks, *(t for _, t in streams), return_exceptions=True)
        await sub.unsubscribe()
        if first.proc is not None:
            first.signal(signal.SIGCONT)  # a stopped server would not act on the SIGINT
        first.kill()
        second.kill()


async def _health_lag_below(client: httpx.AsyncClient, seconds: float) -> bool:
    response = await client.get("/health")
    body = response.json()
    return response.status_code == 200 and float(body["relay"]["lag_seconds"]) < seconds


async def _relay_of(client: httpx.AsyncClient, role: str) -> dict[str, Any] | None:
    try:
        relay: dict[str, Any] = (await client.get("/health", timeout=5)).json()["relay"]
    except httpx.HTTPError:  # a server just resumed may take a moment to answer
        return None
    return relay if relay["role"] == role else None


def _outbox_empty(database_url: str) -> bool:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM duragraph.outbox").fetchone() == (0,)
