"""The control plane's ports over NATS: waking the workers, asking one of them to re-execute a
run, and following streams and runs as they happen (see :mod:`duragraph_lab.control.ports`).

Every adapter reads the connection from a shared :class:`BusLink` at each call, so the control
plane works before NATS is connected (the API server connects in the background) and picks the
connection up once it is: until then signals are dropped (workers also poll), re-execution is
refused, and streams are followed by polling the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.bus.subscription import StreamSubscription
from duragraph_lab.bus.watching import watchers
from duragraph_lab.control.ports import Unsubscribe
from duragraph_lab.domain import codec
from duragraph_lab.domain.errors import WorkerUnavailable
from duragraph_lab.store.port import EventStore

log = logging.getLogger(__name__)
#: Seconds a live subscription may take before the caller goes on without it.
SUBSCRIBE_TIMEOUT = 2.0


@dataclass(slots=True)
class BusLink:
    """A process's NATS connection (None until there is one) and its subjects."""

    subjects: Subjects
    nc: NATS | None = None

    def connected(self) -> NATS | None:
        return self.nc if self.nc is not None and self.nc.is_connected else None


async def _nothing_to_stop() -> None:
    return None


async def _listen(nc: NATS | None, subject: str, on_msg: Callable[[Msg], Any]) -> Unsubscribe:
    """Subscribe for as long as the caller wants (best effort: no subscription without NATS)."""
    if nc is None:
        return _nothing_to_stop

    async def deliver(msg: Msg) -> None:
        on_msg(msg)

    try:
        # Bounded: a stream must not wait on a NATS client that cannot take the subscription now
        # (its flush queue full behind a stalled socket); without it, the stream polls.
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
            sub = await nc.subscribe(subject, cb=deliver)
    except TimeoutError:
        log.warning("NATS took over %gs to subscribe to %s: going on without it", SUBSCRIBE_TIMEOUT, subject)
        return _nothing_to_stop
    except Exception:
        return _nothing_to_stop

    async def stop() -> None:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()

    return stop


class NatsExecutors:
    """The native engine's workers: :class:`~duragraph_lab.control.ports.RunSignals` and
    :class:`~duragraph_lab.control.ports.Reexecutor` over NATS."""

    def __init__(self, link: BusLink) -> None:
        self.link = link

    async def runs_queued(self) -> None:
        nc = self.link.connected()
        if nc is not None:
            with contextlib.suppress(Exception):  # workers also poll
                await nc.publish(self.link.subjects.runs_wake, b"")

    async def reexecute(self, graph_id: str, run_id: str, *, timeout: float) -> dict[str, Any]:
        nc = self.link.connected()
        if nc is None:
            raise WorkerUnavailable("NATS is not connected: no worker can be asked to re-execute the run")
        request = json.dumps({"run_id": run_id}).encode()
        try:
            reply = await nc.request(self.link.subjects.replay_rpc(graph_id), request, timeout=timeout)
        except NoRespondersError:
            raise WorkerUnavailable(
                f"no worker serving graph {graph_id!r} is running: start one (duragraph-lab worker ...) to re-execute"
            ) from None
        except NatsTimeout:
            raise WorkerUnavailable(
                f"no worker serving graph {graph_id!r} answered within {timeout}s"
            ) from None
        body: dict[str, Any] = json.loads(reply.data)
        if not body.get("ok"):
            raise WorkerUnavailable(f"the worker could not re-execute the run: {body.get('message')}")
        report = dict(codec.from_jsonable(body["report"]))
        report["worker_id"] = body.get("worker_id")
        return report


class NatsEventFeed:
    """:class:`~duragraph_lab.control.ports.EventFeed`: streams caught up from ``store`` and then
    followed on NATS (:class:`~duragraph_lab.bus.subscription.StreamSubscription`), and runs'
    live events from their core-NATS subjects."""

    def __init__(self, store: EventStore, link: BusLink) -> None:
        self.store = store
        self.link = link

    def follow(self, stream_id: str, *, after_seq: int = 0, poll_interval: float = 1.0) -> StreamSubscription:
        return StreamSubscription(
            self.store,
            self.link.nc,
            self.link.subjects,
            stream_id,
            after_seq=after_seq,
            poll_interval=poll_interval,
        )

    async def on_live(self, run_id: str, callback: Callable[[dict[str, Any]], None]) -> Unsubscribe:
        def on_msg(msg: Msg) -> None:
            try:
                data = codec.from_jsonable(json.loads(msg.data))
            except (ValueError, TypeError):
                log.debug("dropped an undecodable live event of run %s", run_id)
                return
            callback(data)

        # No flush needed for a stream that subscribes before creating its run: the SUB, and the
        # watch that asks workers to send the run's live events (bus.watching), go out on this
        # connection ahead of the wake-up that tells workers about the new run, and the server
        # handles a connection's messages in order.
        nc = self.link.connected()
        stop = await _listen(nc, self.link.subjects.live(run_id), on_msg)
        if nc is None or stop is _nothing_to_stop:
            return stop
        unwatch = await watchers(nc, self.link.subjects).watch(f"run:{run_id}")

        async def stop_watching() -> None:
            unwatch()
            await stop()

        return stop_watching

    async def on_appended(self, stream_id: str, callback: Callable[[], None]) -> Unsubscribe:
        return await _listen(
            self.link.connected(), self.link.subjects.stream(stream_id), lambda _msg: callback()
        )

    async def on_at_rest(self, run_id: str, callback: Callable[[], None]) -> Unsubscribe:
        # Workers send it (bus.relay.RelayWaker) right after the commit, for every run.
        return await _listen(
            self.link.connected(), self.link.subjects.at_rest(run_id), lambda _msg: callback()
        )
