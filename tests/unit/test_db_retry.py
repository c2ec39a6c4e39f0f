"""Retrying after transient database errors (duragraph_lab/store/retry.py): back-off, the bound,
the lease deadline, and what is raised when the time is up."""

from __future__ import annotations

import pytest

from duragraph_lab.domain.errors import StoreTransientError, StoreUnavailable
from duragraph_lab.engine.errors import LeaseLost
from duragraph_lab.store.retry import DatabaseRetry, Retrying, gave_up


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def deadlock() -> StoreTransientError:
    return StoreTransientError("deadlock detected", sqlstate="40P01", reason="deadlock detected")


def test_back_off_doubles_with_jitter_up_to_the_cap() -> None:
    policy = DatabaseRetry(first_delay=0.1, max_delay=1.0)
    for failures, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (60, 1.0)]:
        delays = [policy.delay(failures) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (failures, min(delays), max(delays))
        assert max(delays) - min(delays) > ceiling / 10, "jittered: workers do not come back together"


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="retry bounds"):
        DatabaseRetry(within=-1)
    with pytest.raises(ValueError, match="retry bounds"):
        DatabaseRetry(first_delay=1.0, max_delay=0.5)


async def test_it_waits_between_attempts_within_the_bound() -> None:
    clock = Clock()
    retrying = Retrying(
        DatabaseRetry(within=10.0, first_delay=0.001, max_delay=0.002), "the commit", clock=clock
    )
    for _ in range(5):
        clock.now += 1.0
        await retrying.failed(deadlock())  # returns: try again
    assert retrying.failures == 5


async def test_past_the_bound_the_error_says_how_long_it_was_tried() -> None:
    clock = Clock()
    retrying = Retrying(
        DatabaseRetry(within=3.0, first_delay=0.001, max_delay=0.002), "the commit of run r", clock=clock
    )
    clock.now = 1.5
    await retrying.failed(deadlock())
    clock.now = 3.0
    with pytest.raises(StoreTransientError) as raised:
        await retrying.failed(deadlock())
    err = raised.value
    assert (err.sqlstate, err.reason, err.attempts, err.retried_for) == ("40P01", "deadlock detected", 2, 3.0)
    assert str(err).startswith("the commit of run r failed 2 times in 3.0s: deadlock detected")
    assert isinstance(err.__cause__, StoreTransientError)


async def test_an_outage_past_the_bound_stays_an_outage() -> None:
    clock = Clock()
    retrying = Retrying(DatabaseRetry(within=0.0), "reading the events of run r", clock=clock)
    with pytest.raises(StoreUnavailable) as raised:
        await retrying.failed(StoreUnavailable("PostgreSQL is unavailable: connection refused"))
    assert type(raised.value) is StoreUnavailable
    assert "connection refused" in str(raised.value)


async def test_it_never_waits_past_the_lease_deadline() -> None:
    clock = Clock()
    left = {"s": 5.0}
    retrying = Retrying(
        DatabaseRetry(within=60.0, first_delay=0.001, max_delay=0.002), "the commit", lambda: left["s"], clock
    )
    await retrying.failed(deadlock())
    left["s"] = 0.0005  # less than the next wait
    with pytest.raises(LeaseLost, match="lease deadline passed"):
        await retrying.failed(deadlock())


def test_gave_up_keeps_the_kind_of_error() -> None:
    assert type(gave_up(StoreUnavailable("down"), 3, 1.0, "x")) is StoreUnavailable
    transient = gave_up(deadlock(), 3, 1.0, "x")
    assert isinstance(transient, StoreTransientError) and transient.attempts == 3
