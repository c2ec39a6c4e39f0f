"""Trying a statement again after a transient database error, for a bounded time.

A worker's statement can fail for reasons that pass: PostgreSQL refused it for now (a deadlock, a
serialization failure, a cancelled statement, a full disk: :class:`StoreTransientError`) or the
connection broke (:class:`StoreUnavailable`: a restart, a failover, a killed backend). Neither is
the run's fault, so the statement is tried again with exponential back-off and jitter (so that
the workers a database restart interrupted together do not come back together), until
``DatabaseRetry.within`` seconds have passed since the first attempt, and never past the worker's
lease deadline.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from duragraph_lab.domain.errors import StoreTransientError, StoreUnavailable
from duragraph_lab.engine.errors import LeaseLost

log = logging.getLogger(__name__)

#: Seconds left before the lease deadline (None: no lease bounds the retries).
Remaining = Callable[[], float | None]


@dataclass(frozen=True, slots=True)
class DatabaseRetry:
    """How long and how often a statement is tried again after a transient database error."""

    within: float = 30.0  # seconds from the first attempt; 0 tries once
    first_delay: float = 0.05
    max_delay: float = 2.0

    def __post_init__(self) -> None:
        if self.within < 0 or self.first_delay <= 0 or self.max_delay < self.first_delay:
            raise ValueError("retry bounds must be positive and max_delay at least first_delay")

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row: doubling from ``first_delay`` up to
        ``max_delay``, then a random point in its upper half."""
        ceiling = min(self.max_delay, self.first_delay * 2 ** min(failures - 1, 30))
        return random.uniform(ceiling / 2, ceiling)


class Retrying:
    """The retries of one operation. Call :meth:`failed` with each transient error: it waits
    before the next attempt, or raises once the time is up."""

    def __init__(
        self,
        policy: DatabaseRetry,
        what: str,
        remaining: Remaining = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.what = what
        self.remaining = remaining
        self.clock = clock
        self.started = clock()
        self.failures = 0

    async def failed(self, err: StoreUnavailable) -> None:
        """Wait before the next attempt. Raise ``err`` (with how long it was retried) once the
        next attempt would start past the retry bound, and :class:`LeaseLost` once it would
        start past the lease deadline: then the run is no longer this worker's to continue."""
        self.failures += 1
        delay = self.policy.delay(self.failures)
        elapsed = self.clock() - self.started
        left = self.remaining()
        if left is not None and left <= delay:
            raise LeaseLost(
                f"{self.what}: the lease deadline passed while the database was failing "
                f"({self.failures} attempts in {elapsed:.1f}s): {err}"
            ) from err
        if elapsed + delay > self.policy.within:
            raise gave_up(err, self.failures, elapsed, self.what) from err
        log.info("%s failed (%s); attempt %d in %.2fs", self.what, err, self.failures + 1, delay)
        await asyncio.sleep(delay)


def gave_up(err: StoreUnavailable, attempts: int, elapsed: float, what: str) -> StoreUnavailable:
    """``err`` as raised after retrying: the same type, saying for how long it was tried."""
    message = f"{what} failed {attempts} times in {elapsed:.1f}s: {err}"
    if isinstance(err, StoreTransientError):
        return StoreTransientError(
            message, sqlstate=err.sqlstate, reason=err.reason, attempts=attempts, retried_for=elapsed
        )
    return StoreUnavailable(message)
