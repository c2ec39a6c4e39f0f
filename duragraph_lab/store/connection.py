"""Connection pools configured for the event store (JSON codec, timeouts, error mapping)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Self

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
    fail_fast: bool = False,
) -> psycopg_pool.AsyncConnectionPool:
    """Open a pool and wait until one connection works; raise StoreUnavailable otherwise.

    ``fail_fast``: a :class:`FailFastPool`, which refuses checkouts at once while its database
    is known to be down instead of making each wait ``timeout`` (a server answering requests)."""
    options: dict[str, Any] = {
        "min_size": min_size,
        "max_size": max_size,
        "timeout": timeout,
        "open": False,
        "name": name,
        "configure": _configure,
        "reset": _reset,
        # Autocommit: a lone statement is its own transaction (one round trip); multi-statement
        # work uses explicit transaction blocks.
        "kwargs": {"application_name": name, "autocommit": True},
        "check": _check_if_idle,
    }
    pool = (
        FailFastPool(conninfo, **options)
        if fail_fast
        else psycopg_pool.AsyncConnectionPool(conninfo, **options)
    )
    try:
        await pool.open(wait=True, timeout=timeout)
    except psycopg_pool.PoolTimeout as err:
        await pool.close()
        raise StoreUnavailable(f"cannot connect to PostgreSQL at {redact(conninfo)}: {err}") from None
    return pool


class DatabaseDown(psycopg_pool.PoolTimeout):
    """A :class:`FailFastPool` refused a checkout at once: its database refused the last attempt
    to connect. A PoolTimeout, so that whoever handles a pool that ran dry handles this alike."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Outage:
    """What a :class:`FailFastPool` knows of its database: reachable, or refusing connections
    since when and why. Only attempts to *connect* decide it (see :class:`_WatchedConnection`):
    a statement failing on a connection that broke says nothing about the next connection."""

    def __init__(self, retry_interval: float) -> None:
        self.retry_interval = retry_interval
        self.error: str | None = None  # None: reachable, as far as the last attempt knows
        self.since = 0.0
        self.retry_at = 0.0
        #: The deadlines of the checkouts waiting for the pool to hand them a connection.
        self.waiting: set[asyncio.Timeout] = set()

    @property
    def down(self) -> bool:
        return self.error is not None

    def connect_failed(self, err: BaseException) -> None:
        now = time.monotonic()
        if self.error is None:
            self.since = now
            self.retry_at = now + self.retry_interval
            # Checkouts already queued would wait out the pool's whole timeout for a connection
            # the pool cannot make: end their wait now (they raise DatabaseDown).
            loop_now = asyncio.get_running_loop().time()
            for waiter in self.waiting:
                if not waiter.expired():
                    waiter.reschedule(loop_now)
        self.error = first_line(err)

    def connected(self) -> None:
        self.error = None

    def refusal(self) -> DatabaseDown:
        now = time.monotonic()
        return DatabaseDown(
            f"PostgreSQL has refused connections for {now - self.since:.1f}s ({self.error}); "
            f"the next attempt to connect is in {max(self.retry_at - now, 0.0):.1f}s",
            retry_after=max(self.retry_at - now, 0.0),
        )


class _WatchedConnection(psycopg.AsyncConnection[Any]):
    """A pool's connection class that reports each attempt to connect to the pool's outage."""

    outage: ClassVar[Outage]

    @classmethod
    async def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
        try:
            conn = await super().connect(conninfo, **kwargs)
        except psycopg.OperationalError as err:
            if is_connection_failure(err):
                cls.outage.connect_failed(err)
            raise
        cls.outage.connected()
        return conn


class FailFastPool(psycopg_pool.AsyncConnectionPool):
    """A pool that, while its database refuses connections, refuses checkouts at once
    (:class:`DatabaseDown`) instead of making each caller wait the pool's timeout.

    How: every attempt to connect (the pool's own, to replace broken connections or to grow)
    goes through :class:`_WatchedConnection`, which records a refused one in :attr:`outage`;
    that also ends the wait of the checkouts already queued. While the outage lasts, a
    checkout fails at once, except that once every ``retry_interval`` one checkout first tries
    a connection of its own: when it succeeds, broken pooled connections are replaced
    (:meth:`check`) and checkouts go through again. No background task: a server nobody asks
    anything does not probe. The pool's own reconnection attempts back off exponentially for
    ``reconnect_timeout``; that is kept short (:data:`RECONNECT_GIVE_UP`) so that attempts
    scheduled long after the database is back do not hold up the checkouts that follow it."""

    def __init__(self, conninfo: str, *, retry_interval: float = 1.0, **options: Any) -> None:
        self.outage = Outage(retry_interval)
        watched = type("WatchedConnection", (_WatchedConnection,), {"outage": self.outage})
        options.setdefault("reconnect_timeout", RECONNECT_GIVE_UP)
        super().__init__(conninfo, connection_class=watched, **options)
        self._probe_kwargs: dict[str, Any] = dict(options.get("kwargs") or {})
        self._probing = False

    async def getconn(self, timeout: float | None = None) -> psycopg.AsyncConnection[Any]:
        if self.outage.down:
            await self._retry_or_refuse()
        wait = asyncio.timeout(None)
        try:
            async with wait:
                self.outage.waiting.add(wait)
                try:
                    conn: psycopg.AsyncConnection[Any] = await super().getconn(timeout)
                    return conn
                finally:
                    self.outage.waiting.discard(wait)
        except TimeoutError:
            if wait.expired():
                raise self.outage.refusal() from None
            raise

    async def _retry_or_refuse(self) -> None:
        """Return when the database is reachable again; raise DatabaseDown otherwise."""
        outage = self.outage
        if self._probing or time.monotonic() < outage.retry_at:
            raise outage.refusal()
        self._probing = True
        outage.retry_at = time.monotonic() + outage.retry_interval
        try:
            # A connection of its own, not through _WatchedConnection: checkouts must not resume
            # before the broken pooled connections are out.
            probe = await psycopg.AsyncConnection.connect(
                str(self.conninfo), **{**self._probe_kwargs, "connect_timeout": PROBE_CONNECT_TIMEOUT}
            )
        except psycopg.Error as err:
            outage.error = first_line(err)
            outage.retry_at = time.monotonic() + outage.retry_interval
            raise outage.refusal() from None
        finally:
            self._probing = False
        await probe.close()
        await self.check()
        outage.connected()


#: Seconds a FailFastPool's own reconnection attempts go on (with back-off) before giving up.
RECONNECT_GIVE_UP = 5.0
#: Seconds a FailFastPool's direct attempt to connect may take (libpq's minimum is 2).
PROBE_CONNECT_TIMEOUT = 2


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
    except psycopg.OperationalError as err:
        typed = unavailable_error(err)
        if typed is None:
            raise
        raise typed from err


def unavailable_error(err: BaseException) -> StoreUnavailable | None:
    """The typed error for a driver error about the database rather than the statement (see
    :func:`unavailable_as_typed`), else None."""
    if isinstance(err, DatabaseDown):
        return StoreUnavailable(str(err), retry_after=err.retry_after)
    if isinstance(err, psycopg_pool.PoolTimeout):
        return StoreUnavailable(f"no PostgreSQL connection available: {err}")
    if not isinstance(err, psycopg.OperationalError):
        return None
    if is_connection_failure(err):
        return StoreUnavailable(f"PostgreSQL is unavailable: {first_line(err)}")
    return transient_error(err)


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
