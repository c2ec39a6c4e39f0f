"""Connection pools configured for the event store (JSON codec, timeouts, error mapping)."""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import psycopg_pool
from psycopg.types.json import set_json_loads

from duragraph_lab.domain import codec
from duragraph_lab.domain.errors import StoreTransientError, StoreUnavailable

# A connection idle longer than this is pinged before use; busier ones are trusted. Pinging on
# every checkout would add a round trip to every append.
_IDLE_CHECK_AFTER = 2.0
_last_used: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], float] = weakref.WeakKeyDictionary()


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    # jsonb comes back through our codec, so tagged values (datetimes, bytes, ...) are restored.
    set_json_loads(codec.loads, conn)
    _last_used[conn] = time.monotonic()


async def _reset(conn: psycopg.AsyncConnection[Any]) -> None:
    _last_used[conn] = time.monotonic()


async def _check_if_idle(conn: psycopg.AsyncConnection[Any]) -> None:
    """Replace connections that died while idle (server restart, killed backend) before use."""
    if time.monotonic() - _last_used.get(conn, 0.0) > _IDLE_CHECK_AFTER:
        await psycopg_pool.AsyncConnectionPool.check_connection(conn)


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
        reset=_reset,
        # Autocommit: a lone statement is its own transaction (one round trip); multi-statement
        # work uses explicit transaction blocks.
        kwargs={"application_name": name, "autocommit": True},
        check=_check_if_idle,
    )
    try:
        await pool.open(wait=True, timeout=timeout)
    except psycopg_pool.PoolTimeout as err:
        await pool.close()
        raise StoreUnavailable(f"cannot connect to PostgreSQL at {redact(conninfo)}: {err}") from None
    return pool


#: SQLSTATEs that say nothing about the statement itself, only about the moment: the statement
#: was rolled back and may succeed if tried again (with back-off). Connection failures (class 08,
#: no SQLSTATE, 57P01-57P03) are :class:`StoreUnavailable` and not listed here.
TRANSIENT_SQLSTATES: dict[str, str] = {
    "40001": "serialization failure",
    "40P01": "deadlock detected",
    "55P03": "lock not available",
    "57014": "statement cancelled",
    "53000": "insufficient resources",
    "53100": "disk full",
    "53200": "out of memory",
    "53300": "too many connections",
    "53400": "configuration limit exceeded",
}


@contextlib.asynccontextmanager
async def unavailable_as_typed() -> AsyncIterator[None]:
    """Turn driver-level failures that are about the database, not the statement, into typed
    errors: :class:`StoreUnavailable` (no database) and :class:`StoreTransientError` (the
    database refused for now: see :data:`TRANSIENT_SQLSTATES`). Anything else goes through."""
    try:
        yield
    except psycopg_pool.PoolTimeout as err:
        raise StoreUnavailable(f"no PostgreSQL connection available: {err}") from err
    except psycopg.OperationalError as err:
        if is_connection_failure(err):
            raise StoreUnavailable(f"PostgreSQL is unavailable: {first_line(err)}") from err
        transient = transient_error(err)
        if transient is None:
            raise
        raise transient from err


def transient_error(err: psycopg.Error) -> StoreTransientError | None:
    """The typed error for a statement the database refused for now, else None."""
    state = err.sqlstate or ""
    reason = TRANSIENT_SQLSTATES.get(state)
    if reason is None:
        return None
    return StoreTransientError(
        f"PostgreSQL refused the statement for now ({reason}, SQLSTATE {state}): {first_line(err)}",
        sqlstate=state,
        reason=reason,
    )


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def is_connection_failure(err: psycopg.Error) -> bool:
    """Errors that mean "no database": no SQLSTATE (the socket broke), class 08 (connection
    exception) or 57P0x (the server is shutting down or starting)."""
    state = err.sqlstate
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")
