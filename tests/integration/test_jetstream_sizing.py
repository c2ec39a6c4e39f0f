"""The events stream sized to what JetStream can hold, against nats-servers started here with a
small JetStream storage limit (``max_file_store``) or account limits."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.js import api

from duragraph_lab.api.backend import Backend
from duragraph_lab.bus import StreamPolicy, StreamStorageError, Subjects, connect_nats, ensure_stream
from duragraph_lab.runtime.config import Settings
from duragraph_lab.runtime.nats import nats_server_binary
from duragraph_lab.runtime.processes import free_port
from tests.helpers import eventually

MiB = 1024**2


def start_nats(root: Path, jetstream: str, extra: str = "") -> tuple[subprocess.Popen[bytes], str]:
    """A nats-server with this JetStream block; its URL once it listens."""
    root.mkdir(parents=True)
    port = free_port()
    config = root / "nats.conf"
    config.write_text(
        f'listen: 127.0.0.1:{port}\njetstream {{ store_dir: "{root / "js"}", {jetstream} }}\n{extra}\n'
    )
    log = root / "nats.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(nats_server_binary()), "-c", str(config)], stdout=out, stderr=out)
    deadline = time.monotonic() + 15
    while f"Listening for client connections on 127.0.0.1:{port}" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"nats-server did not start:\n{log.read_text()}")
        time.sleep(0.01)
    return proc, f"nats://127.0.0.1:{port}"


@pytest.fixture
def small_nats(tmp_path: Path) -> Iterator[str]:
    """JetStream may reserve 128 MiB in all: the default 4 GiB stream does not fit."""
    proc, url = start_nats(tmp_path / "small", "max_file_store: 128MB")
    yield url
    proc.terminate()
    proc.wait(10)


async def test_stream_too_big_for_the_server_is_created_as_big_as_fits(
    small_nats: str, caplog: pytest.LogCaptureFixture
) -> None:
    subjects = Subjects("sized")
    nc = await connect_nats(small_nats)
    try:
        with caplog.at_level(logging.WARNING, logger="duragraph_lab.bus.jetstream"):
            setup = await ensure_stream(nc, subjects)
        assert setup.created and setup.requested_bytes == 4 * 1024**3
        # The most that fits, found to within 1/32: 128 MiB is all there is.
        assert 124 * MiB <= setup.max_bytes <= 128 * MiB, setup.max_bytes
        info = await nc.jetstream().stream_info(subjects.stream_name)
        assert info.config.max_bytes == setup.max_bytes
        assert info.config.max_age == StreamPolicy().max_age_seconds
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and warnings[0] == setup.note
        assert "created with max_bytes 128 MiB, not the 4 GiB configured" in warnings[0]
        assert "insufficient storage resources" in warnings[0]
        assert "jetstream_max_bytes" in warnings[0]
        # Started again: the stream exists and is left as it is, without a word.
        caplog.clear()
        again = await ensure_stream(nc, subjects)
        assert (again.created, again.max_bytes, again.note) == (False, setup.max_bytes, None)
        assert not caplog.records
    finally:
        await nc.close()


async def test_minimum_that_cannot_be_reserved_says_what_to_do(small_nats: str) -> None:
    nc = await connect_nats(small_nats)
    try:
        with pytest.raises(StreamStorageError) as raised:
            await ensure_stream(
                nc, Subjects("toobig"), StreamPolicy(max_bytes=1024 * MiB, min_bytes=256 * MiB)
            )
        message = str(raised.value)
        assert message.startswith(
            "JetStream cannot hold the event stream TOOBIG_EVENTS: not even its minimum of 256 MiB "
            "can be reserved (insufficient storage resources available; 1 GiB was asked for first)"
        )
        assert "free disk space" in message and "max_file_store" in message
        assert "DURAGRAPH_JETSTREAM_MIN_BYTES" in message
        assert await nc.jetstream().streams_info() == [], "nothing half-created"
    finally:
        await nc.close()


async def test_an_account_limit_bounds_the_stream(tmp_path: Path) -> None:
    proc, url = start_nats(
        tmp_path / "account",
        "max_file_store: 1GB",
        "accounts { APP: { jetstream: { max_file: 100MB, disk_max_stream_bytes: 80MB }, "
        "users: [ {user: app, password: app} ] } }",
    )
    try:
        nc = await connect_nats(url.replace("nats://", "nats://app:app@"))
        try:
            # Another stream of the account already reserves 30 MiB of its 100.
            await nc.jetstream().add_stream(
                api.StreamConfig(name="OTHER", subjects=["other.>"], max_bytes=30 * MiB)
            )
            setup = await ensure_stream(nc, Subjects("acct"), StreamPolicy(min_bytes=16 * MiB))
            assert 68 * MiB <= setup.max_bytes <= 70 * MiB, setup.max_bytes
            assert setup.note is not None
        finally:
            await nc.close()
    finally:
        proc.terminate()
        proc.wait(10)


async def test_health_says_why_the_stream_cannot_be_created(
    tmp_path: Path, database_url: str, small_nats: str
) -> None:
    settings = Settings(
        data_dir=tmp_path / "d", database_url=database_url, nats_url=small_nats, subject_prefix="nospace"
    )
    b = Backend(settings, stream_policy=StreamPolicy(min_bytes=512 * MiB))
    b.prepare()
    await b.start()
    try:
        await eventually(lambda: b.bus_error is not None, timeout=15)
        ok, body = await b.health()
        assert not ok and body["status"] == "degraded"
        assert body["nats"]["error"].startswith(
            "JetStream cannot hold the event stream NOSPACE_EVENTS: not even its minimum of 512 MiB"
        )
        assert body["message"].startswith("NATS: JetStream cannot hold the event stream")
        assert body["relay"]["running"] is False
    finally:
        await b.stop()


async def test_health_shows_the_stream_size_chosen(
    tmp_path: Path, database_url: str, small_nats: str
) -> None:
    settings = Settings(
        data_dir=tmp_path / "d", database_url=database_url, nats_url=small_nats, subject_prefix="fits"
    )
    b = Backend(settings)
    b.prepare()
    await b.start()
    try:
        await b.wait_ready(timeout=30)
        ok, body = await b.health()
        assert ok, body
        limits = body["nats"]["stream_limits"]
        assert limits["created"] and limits["requested_bytes"] == 4 * 1024**3
        assert 124 * MiB <= limits["max_bytes"] <= 128 * MiB
        assert "created with max_bytes" in limits["note"] and limits["note"] in body["message"]
    finally:
        await b.stop()
