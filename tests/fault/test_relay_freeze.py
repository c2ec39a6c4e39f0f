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

import psycopg
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from duragraph_lab.bus import OutboxRelay, RelayWaker, Subjects, wire
from duragraph_lab.domain import NewEvent
from duragraph_lab.store import PostgresEventStore
from tests.helpers import eventually, jetstream_messages

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
