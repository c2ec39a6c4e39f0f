"""PostgreSQL down under a pool: every read and write fails with StoreUnavailable, never another
error; with ``fail_fast`` (the API server's pool) at once, with when to try again, rather than
after the pool's timeout; and both work again as soon as PostgreSQL is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.domain import NewEvent, StoreUnavailable
from duragraph_lab.runtime.postgres import EmbeddedPostgres
from duragraph_lab.store import PostgresEventStore, migrate, open_pool
from duragraph_lab.store.connection import FailFastPool

POOL_TIMEOUT = 10.0


async def timed_failure(action: Callable[[], Awaitable[Any]]) -> tuple[float, StoreUnavailable]:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        await action()
    return time.monotonic() - started, info.value


async def test_a_plain_pool_without_a_database_raises_store_unavailable(tmp_path: Path) -> None:
    """A read whose checkout fails (the pool timed out) was a NameError: the retry looked at the
    connection it never had."""
    pg = EmbeddedPostgres(tmp_path / "postgres")
    url = pg.start().url
    migrate(url)
    pool = await open_pool(url, min_size=1, max_size=2, timeout=1.0)
    store = PostgresEventStore(pool)
    try:
        pg.stop()
        for _ in range(3):  # the first may fail on its dead connection; the next find none
            await timed_failure(lambda: store.read_stream(f"run:{uuid.uuid4()}"))
    finally:
        await pool.close()
        pg.stop()


async def test_a_fail_fast_pool_refuses_at_once_while_postgres_is_down(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "postgres")
    url = pg.start().url
    migrate(url)
    pool = await open_pool(url, min_size=2, max_size=4, timeout=POOL_TIMEOUT, fail_fast=True)
    assert isinstance(pool, FailFastPool)
    store = PostgresEventStore(pool)
    sid = f"run:{uuid.uuid4()}"
    try:
        await store.append(sid, 0, [NewEvent("before", {})])
        pg.stop()
        # Long enough for the pooled connections to be pinged before use: the first read waits
        # in the pool's check-and-back-off loop, which the refused reconnection cuts short.
        await asyncio.sleep(2.5)
        first, _ = await timed_failure(lambda: store.read_stream(sid))
        reads = [await timed_failure(lambda: store.read_stream(sid)) for _ in range(20)]
        writes = [
            await timed_failure(lambda: store.append(sid, 1, [NewEvent("during", {})])) for _ in range(5)
        ]
        assert first < 2.0, f"the first read after the outage began took {first:.2f}s"
        slowest = max(t for t, _ in reads + writes)
        assert slowest < 0.5, f"a read or write took {slowest:.2f}s while the database was known down"
        err = reads[-1][1]
        assert "refused connections" in str(err), err
        assert err.retry_after is not None and 0 <= err.retry_after <= 1.0, err.retry_after

        assert pg.start().url == url
        back = time.monotonic()
        while True:
            try:
                events = await store.read_stream(sid)
                break
            except StoreUnavailable:
                assert time.monotonic() - back < 5.0, "still refused 5 s after PostgreSQL came back"
                await asyncio.sleep(0.1)
        assert [e.type for e in events] == ["before"]
        await store.append(sid, 1, [NewEvent("after", {})])
        assert [e.type for e in await store.read_stream(sid)] == ["before", "after"]
    finally:
        await pool.close()
        pg.stop()
