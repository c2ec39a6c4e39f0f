"""Supervision of the embedded PostgreSQL and nats-server: one that dies is started again.

``dev`` and ``serve`` own their embedded services for their whole life. When one exits without
being asked to (killed, crashed, out of memory), the supervisor starts it again in place — same
port, same credentials, same data, a stale ``postmaster.pid`` cleared — retrying with back-off
until it is back, so that every client (the API's pools, the relay, workers, kernels) reconnects
by itself to the URL it already has. Meanwhile ``/health`` reports the service as down.

The supervisor runs on a thread of its own, which lives until :meth:`Supervisor.close`: the
services it restarts die with the thread that started them (PR_SET_PDEATHSIG), so it must not
end before they are stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from duragraph_lab.domain.errors import DuraGraphError

log = logging.getLogger("duragraph_lab.runtime.supervisor")


@dataclass(slots=True)
class Supervised:
    """One service: how to tell it exited, and how to start it again."""

    key: str  # "postgres" | "nats": how /health names it
    name: str
    exited: Callable[[], int | None]
    restart: Callable[[], object]
    restarts: int = 0
    down_since: float | None = None
    last_error: str | None = None
    _next_try: float = field(default=0.0, repr=False)
    _delay: float = field(default=0.0, repr=False)


#: The supervisors of this process (``dev``/``serve`` has one), for /health.
_running: list[Supervisor] = []


def supervision(key: str) -> dict[str, object] | None:
    """What the supervisor of this process knows about service ``key``: None when nobody here
    supervises it (an external service, or one owned by another process)."""
    for supervisor in list(_running):
        for service in supervisor.services:
            if service.key == key:
                return {
                    "supervised": True,
                    "restarts": service.restarts,
                    "restarting": service.down_since is not None,
                    "down_for_seconds": (
                        round(time.monotonic() - service.down_since, 1)
                        if service.down_since is not None
                        else None
                    ),
                    "last_error": service.last_error,
                }
    return None


class Supervisor:
    def __init__(
        self,
        services: list[Supervised],
        *,
        poll_interval: float = 0.25,
        backoff_min: float = 0.5,
        backoff_max: float = 15.0,
    ) -> None:
        self.services = services
        self.poll_interval = poll_interval
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self._watching = threading.Event()
        self._closed = threading.Event()
        # Held while a service restarts, so that stop_watching() waits for a restart in flight
        # instead of stopping a service while it is being started.
        self._restarting = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or not self.services:
            return
        self._watching.set()
        self._thread = threading.Thread(target=self._run, name="duragraph-supervisor", daemon=True)
        self._thread.start()
        _running.append(self)

    def stop_watching(self) -> None:
        """No more restarts (the services are about to be stopped on purpose)."""
        with self._restarting:
            self._watching.clear()

    def close(self) -> None:
        """End the thread, once the services it may have restarted are stopped."""
        self._watching.clear()
        self._closed.set()
        if self in _running:
            _running.remove(self)
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._closed.is_set():
            if self._watching.is_set():
                for service in self.services:
                    self._check(service)
            self._closed.wait(self.poll_interval)

    def _check(self, service: Supervised) -> None:
        code = service.exited()
        now = time.monotonic()
        if code is None and service.down_since is None:
            return  # running
        if service.down_since is None:
            service.down_since = now
            service._delay = self.backoff_min
            service._next_try = now  # at once: most deaths are one-offs (a kill, an OOM)
            log.warning("%s exited unexpectedly (exit code %s); restarting it", service.name, code)
        if now < service._next_try:
            return
        try:
            with self._restarting:
                if not self._watching.is_set():
                    return
                service.restart()
        except (DuraGraphError, OSError) as err:
            service.last_error = str(err)
            service._next_try = now + service._delay
            log.warning("%s did not come back (%s); trying again in %.1fs", service.name, err, service._delay)
            service._delay = min(service._delay * 2, self.backoff_max)
            return
        service.restarts += 1
        log.warning(
            "%s is back after %.1fs (restart %d)", service.name, now - service.down_since, service.restarts
        )
        service.down_since = None
        service.last_error = None
