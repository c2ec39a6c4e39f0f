"""The leases a worker holds, each with the local deadline before which it may start work.

PostgreSQL decides when a lease expires: ``lease_expires_at = now() + ttl``, evaluated when the
acquire or extend statement runs. The worker cannot read that clock, so it keeps a conservative
deadline on its own monotonic clock: the moment it *sent* the statement that confirmed the lease,
plus the TTL, minus a safety margin. The statement ran after it was sent, so the database's expiry
is later than the local deadline, and another worker can take the run only after that expiry.
Work this worker starts before its deadline therefore starts while no one else can hold the run.

Only acquire and extend move a deadline: a fenced commit checks the lease but does not extend it
(``duragraph.append_run_events``), so a commit is no evidence of a longer lease.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from duragraph_lab.engine.errors import LeaseLost

#: The safety margin is a tenth of the TTL, at most one second: it absorbs the drift between the
#: database's clock and the worker's over one lease, not a pause (a pause is what the deadline
#: is for).
MARGIN_SHARE = 0.1
MARGIN_CAP = 1.0


def default_margin(ttl: float) -> float:
    return min(MARGIN_CAP, ttl * MARGIN_SHARE)


@dataclass(slots=True)
class HeldLease:
    epoch: int
    deadline: float  # on the monotonic clock


class HeldLeases:
    """Run id -> the lease this worker holds on it (epoch and local deadline)."""

    def __init__(
        self,
        ttl: float,
        *,
        margin: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError("a lease TTL must be positive")
        self.ttl = ttl
        self.margin = default_margin(ttl) if margin is None else margin
        if not 0 <= self.margin < ttl:
            raise ValueError("the lease margin must be at least 0 and less than the TTL")
        self.clock = clock
        self._held: dict[str, HeldLease] = {}

    def _deadline(self, sent_at: float) -> float:
        return sent_at + self.ttl - self.margin

    def taken(self, run_id: str, epoch: int, sent_at: float) -> None:
        """An acquire sent at ``sent_at`` (monotonic) gave this worker the run at ``epoch``."""
        self._held[run_id] = HeldLease(epoch, self._deadline(sent_at))

    def renewed(self, asked: Mapping[str, int], confirmed: Mapping[str, int], sent_at: float) -> set[str]:
        """Apply the answer to an extend sent at ``sent_at`` for the leases ``asked`` (run id ->
        epoch). ``confirmed`` maps each run the database says this worker holds to its epoch.

        A lease confirmed at the epoch held now gets a later deadline. A lease still held at the
        epoch that was asked about but not confirmed is lost: it is dropped and returned. A lease
        taken again at a newer epoch while the extend was on its way keeps the deadline of that
        acquire (the extend may have run before it)."""
        lost: set[str] = set()
        deadline = self._deadline(sent_at)
        for run_id, epoch in asked.items():
            held = self._held.get(run_id)
            if held is None:
                continue  # given up meanwhile
            if confirmed.get(run_id) == held.epoch:
                held.deadline = max(held.deadline, deadline)
            elif held.epoch == epoch:
                lost.add(run_id)
                del self._held[run_id]
        return lost

    def epoch(self, run_id: str) -> int | None:
        held = self._held.get(run_id)
        return held.epoch if held is not None else None

    def remaining(self, run_id: str) -> float | None:
        """Seconds left before the run's deadline (negative once passed); None if not held."""
        held = self._held.get(run_id)
        return held.deadline - self.clock() if held is not None else None

    def check(self, run_id: str) -> None:
        """Raise :class:`LeaseLost` unless this worker holds the run and its deadline is ahead."""
        left = self.remaining(run_id)
        if left is None:
            raise LeaseLost(f"this worker holds no lease on run {run_id}")
        if left <= 0:
            raise LeaseLost(
                f"the lease of run {run_id} (epoch {self.epoch(run_id)}) may have expired "
                f"{-left:.3f}s ago: its last renewal was not confirmed in time"
            )

    def drop(self, run_id: str) -> None:
        self._held.pop(run_id, None)

    def epochs(self) -> dict[str, int]:
        """A copy: run id -> epoch of every lease held."""
        return {run_id: held.epoch for run_id, held in self._held.items()}

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._held

    def __len__(self) -> int:
        return len(self._held)
