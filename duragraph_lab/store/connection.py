"""Connection pools configured for the event store (JSON codec, timeouts, error mapping)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import psycopg_pool
from psycopg.types.json import set_json_loads

from duragraph_lab.domain import codec
from duragraph_lab.domain.errors import StoreUnavailable


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    # jsonb comes back through our codec, so tagged values (datetimes, bytes, ...) are restored.
    set_json_loads(codec.loads, conn)


def redact(conninfo: str) -> str:
    """The connection string without its password, for logs and /health."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<unparseable connection string>"
    if "password" in params:
        params["password"] = "***"
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


async def open_pool(
    conninfo: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = 10.0,
    name: str = "duragraph",
) -> psycopg_pool.AsyncConnectionPool:
    """Open a pool and wait until one connection works; raise StoreUnavailable otherwise."""
    pool = psycopg_pool.AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=False,
        name=name,
        configure=_configure,
        kwargs={"application_name": name},
        check=psycopg_pool.AsyncConnectionPool.check_connection,
    )
    try:
        await pool.open(wait=True, timeout=timeout)
    except psycopg_pool.PoolTimeout as err:
        await pool.close()
        raise StoreUnavailable(f"cannot connect to PostgreSQL at {redact(conninfo)}: {err}") from None
    return pool


@contextlib.asynccontextmanager
async def unavailable_as_typed() -> AsyncIterator[None]:
    """Turn driver-level connectivity failures into :class:`StoreUnavailable`."""
    try:
        yield
    except psycopg_pool.PoolTimeout as err:
        raise StoreUnavailable(f"no PostgreSQL connection available: {err}") from err
    except psycopg.OperationalError as err:
        raise StoreUnavailable(f"PostgreSQL is unavailable: {err}") from err
