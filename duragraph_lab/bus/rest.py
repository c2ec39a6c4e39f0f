"""Runs at rest, said at once: an empty message on a run's ``at_rest`` subject right after the
commit that ended or paused it (bus.subjects.Subjects.at_rest).

Whoever waits for a run (``runs.wait``, ``join``: control.runs.wait_at_rest) listens there too,
and so learns of the end without waiting for the relay's next pass. A hint only: the waiter
reads the run's status from PostgreSQL when woken, and polls as well."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nats.aio.client import Client as NATS

from duragraph_lab.bus.background import Background
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.run import brings_to_rest


class RestAnnouncer:
    """After-commit callback: for each run a commit left at rest (its own end or interrupt, not a
    subgraph's), one empty message on its ``at_rest`` subject, sent on the next turn of the
    event loop with whatever else is published then."""

    def __init__(self, nc: NATS, subjects: Subjects) -> None:
        self.nc = nc
        self.subjects = subjects
        self._rested: list[str] = []
        self._background = Background()
        #: Messages sent (tests, metrics).
        self.sent = 0

    def __call__(self, events: Sequence[RecordedEvent] = ()) -> None:
        # A group commit hands over many runs' events at once: each is looked at.
        found = False
        for event in events:
            if brings_to_rest(event.type, event.data):
                kind, _, run_id = event.stream_id.partition(":")
                if kind == "run":
                    if not self._rested:
                        found = True
                    self._rested.append(run_id)
        if found:
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        rested, self._rested = self._rested, []
        for run_id in rested:
            self.sent += 1
            # Lost, it leaves the waiter to the relay's copy or its own polls.
            self._background.spawn(self.nc.publish(self.subjects.at_rest(run_id), b""))
