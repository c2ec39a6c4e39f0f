"""Driver errors about the database rather than the statement become StoreUnavailable, and the
HTTP layer answers those 503 ``unavailable`` with ``Retry-After``: never a 500."""

from __future__ import annotations

import psycopg
import psycopg_pool
import pytest

from duragraph_lab.api.handlers.base import http_error
from duragraph_lab.domain.errors import StoreTransientError, StoreUnavailable
from duragraph_lab.store.connection import DatabaseDown, unavailable_error


@pytest.mark.parametrize(
    ("err", "kind", "retry_after"),
    [
        (DatabaseDown("PostgreSQL has refused connections", retry_after=0.4), StoreUnavailable, 0.4),
        (psycopg_pool.PoolTimeout("couldn't get a connection after 10.00 sec"), StoreUnavailable, None),
        (psycopg.OperationalError("server closed the connection unexpectedly"), StoreUnavailable, None),
        (psycopg.errors.AdminShutdown("terminating connection"), StoreUnavailable, None),
        (
            psycopg.errors.DiskFull("could not extend file: No space left on device"),
            StoreTransientError,
            None,
        ),
        (psycopg.errors.DeadlockDetected("deadlock detected"), StoreTransientError, None),
    ],
)
def test_database_errors_are_typed(
    err: psycopg.Error, kind: type[StoreUnavailable], retry_after: float | None
) -> None:
    typed = unavailable_error(err)
    assert type(typed) is kind
    assert typed.retry_after == retry_after


def test_other_errors_are_left_alone() -> None:
    assert unavailable_error(psycopg.errors.UniqueViolation("duplicate key")) is None
    assert unavailable_error(ValueError("not a driver error")) is None


@pytest.mark.parametrize(
    ("err", "retry"),
    [
        (StoreUnavailable("PostgreSQL has refused connections", retry_after=0.2), "1"),
        (StoreUnavailable("down", retry_after=4.2), "5"),
        (StoreTransientError("disk full", sqlstate="53100", reason="disk full"), "1"),
        (psycopg.errors.DiskFull("No space left on device"), "1"),  # reached the API untyped
        (psycopg_pool.PoolTimeout("couldn't get a connection"), "1"),
    ],
)
def test_the_api_answers_503_unavailable_with_retry_after(err: Exception, retry: str) -> None:
    mapped = http_error(err)
    assert mapped is not None
    assert (mapped.status_code, mapped.code) == (503, "unavailable")
    assert mapped.message.startswith("the database is unavailable")
    assert mapped.headers == {"Retry-After": retry}
