"""Webhooks: a run with a ``webhook`` URL is POSTed there each time it comes to rest (success,
error, timeout, cancelled, or paused for a human), at least once.

Driven from the event log, so that a server killed between a run's end and the delivery
delivers after its restart: a delivery is due while the run's last end event has no
``webhook_delivered`` nor ``webhook_abandoned`` event naming it (``end_seq``). Each failed
attempt is an event too (``webhook_attempt_failed``, with when to retry), so the back-off and the
attempt count survive restarts. The receiver is told which delivery it gets (``X-DuraGraph-
Delivery: <run_id>:<end_seq>``): a repeat after a crash between its answer and our record has
the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import DuraGraphError

log = logging.getLogger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class InvalidWebhook(DuraGraphError):
    """A webhook URL the server will not call (422)."""

    code = "invalid_webhook"
    http_status = 422


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A run's end whose webhook is not delivered nor given up yet."""

    run_id: str
    url: str
    end_seq: int
    attempts: int  # failed attempts so far
    retry_at: dt.datetime | None  # not before (the last failure's back-off)


class PendingWebhooks(Protocol):
    async def due(self, limit: int) -> list[DueDelivery]:
        """Ends of runs with a webhook and no delivered/abandoned event for that end."""
        ...


class EventAppender(Protocol):
    async def append(
        self, stream_id: str, expected_version: int | None, events: Sequence[NewEvent]
    ) -> Any: ...


#: ``(url, json body, headers, timeout) -> HTTP status``; raises on a network failure.
Poster = Callable[[str, bytes, dict[str, str], float], Awaitable[int]]
#: ``run_id -> the JSON body POSTed`` (the run as the API shows it; None: the run is gone).
RunBody = Callable[[str], Awaitable[bytes | None]]
#: ``host -> its addresses`` (DNS).
Resolver = Callable[[str], Awaitable[list[str]]]


async def resolve(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _networks(entries: Sequence[str]) -> tuple[list[IpNetwork], set[str]]:
    nets, hosts = [], set()
    for entry in entries:
        try:
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            hosts.add(entry.strip().lower())
    return nets, hosts


def _private(address: IpAddress) -> bool:
    return bool(
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


@dataclass(frozen=True)
class WebhookPolicy:
    """Where webhooks may go. ``allow``/``deny``: host names or networks (CIDR). A destination is
    refused when its host or any of its addresses is in ``deny``; private, loopback, link-local,
    multicast and reserved addresses are refused unless the host or that address is in
    ``allow``; and, when ``allow_only`` is set, anything not in ``allow``."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    allow_only: bool = False

    def check_url(self, url: str) -> str:
        """The host of a well-formed http(s) URL, or :class:`InvalidWebhook`."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise InvalidWebhook(f"webhook must be an http or https URL, not {url!r}")
        if not parts.hostname:
            raise InvalidWebhook(f"webhook {url!r} has no host")
        if parts.username or parts.password:
            raise InvalidWebhook("webhook URLs cannot carry credentials")
        return parts.hostname.lower()

    def check_addresses(self, host: str, addresses: Sequence[str]) -> None:
        """Raise :class:`InvalidWebhook` when ``host`` (resolved to ``addresses``) is refused."""
        allow_nets, allow_hosts = _networks(self.allow)
        deny_nets, deny_hosts = _networks(self.deny)
        if host in deny_hosts:
            raise InvalidWebhook(f"webhook host {host} is denied (webhook_deny)")
        if not addresses:
            raise InvalidWebhook(f"webhook host {host} has no address")
        for raw in addresses:
            address = ipaddress.ip_address(raw.split("%", 1)[0])
            if any(address in net for net in deny_nets):
                raise InvalidWebhook(f"webhook host {host} ({address}) is denied (webhook_deny)")
            allowed = host in allow_hosts or any(address in net for net in allow_nets)
            if not allowed and (self.allow_only or _private(address)):
                why = "not in webhook_allow" if self.allow_only else "a private or local address"
                raise InvalidWebhook(f"webhook host {host} ({address}) is {why}; see webhook_allow")

    def check_literal(self, url: str) -> None:
        """At run creation: the URL's form, and its host when it is an IP address (names are
        resolved, and checked, at each delivery)."""
        host = self.check_url(url)
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return
        self.check_addresses(host, [host.strip("[]")])


@dataclass(frozen=True)
class WebhookSettings:
    max_attempts: int = 8
    first_backoff: float = 1.0  # seconds; doubles after each failure
    max_backoff: float = 300.0
    timeout: float = 10.0  # per attempt
    poll_interval: float = 1.0


def backoff(settings: WebhookSettings, attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: exponential, capped."""
    return float(min(settings.max_backoff, settings.first_backoff * 2 ** max(0, attempts - 1)))


class WebhookDispatcher:
    """Delivers due webhooks, polling the log (and woken after each commit of this server)."""

    def __init__(
        self,
        pending: PendingWebhooks,
        store: EventAppender,
        post: Poster,
        run_body: RunBody,
        policy: WebhookPolicy,
        settings: WebhookSettings | None = None,
        *,
        resolver: Resolver = resolve,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.pending, self.store, self.post, self.run_body = pending, store, post, run_body
        self.policy = policy
        self.settings = settings or WebhookSettings()
        self.resolver = resolver
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop_ref: asyncio.AbstractEventLoop | None = None
        self._busy: set[tuple[str, int]] = set()

    def start(self) -> None:
        self._loop_ref = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._loop(), name="duragraph-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    def wake(self, *_events: Any) -> None:
        """Ask for a pass now (a run may have ended). Safe from any thread; an after-commit callback."""
        loop = self._loop_ref
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def _loop(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except Exception:  # the database is down, say: try again at the next poll
                log.warning("webhook delivery pass failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """One pass: every due delivery whose back-off has passed; how many were attempted."""
        now = self.clock()
        due = [
            d
            for d in await self.pending.due(limit=100)
            if (d.retry_at is None or d.retry_at <= now) and (d.run_id, d.end_seq) not in self._busy
        ]
        await asyncio.gather(*(self._attempt(d) for d in due))
        return len(due)

    async def _attempt(self, due: DueDelivery) -> None:
        key = (due.run_id, due.end_seq)
        self._busy.add(key)
        try:
            await self._attempt_once(due)
        finally:
            self._busy.discard(key)

    async def _attempt_once(self, due: DueDelivery) -> None:
        stream = f"run:{due.run_id}"
        attempt = due.attempts + 1
        try:
            host = self.policy.check_url(due.url)
            self.policy.check_addresses(host, await self.resolver(host))
        except InvalidWebhook as err:
            abandoned = ev.webhook_abandoned(
                end_seq=due.end_seq, url=due.url, attempts=due.attempts, error=str(err)
            )
            await self.store.append(stream, None, [abandoned])
            return
        except OSError as err:  # DNS: a failed attempt like any other
            await self._failed(due, attempt, f"cannot resolve the host: {err}")
            return
        body = await self.run_body(due.run_id)
        if body is None:
            return  # deleted since: nothing to tell
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "duragraph-lab-webhook",
            "X-DuraGraph-Delivery": f"{due.run_id}:{due.end_seq}",
            "Idempotency-Key": f"{due.run_id}:{due.end_seq}",
        }
        try:
            status = await self.post(due.url, body, headers, self.settings.timeout)
        except Exception as err:
            await self._failed(due, attempt, f"{type(err).__name__}: {err}")
            return
        if 200 <= status < 300:
            delivered = ev.webhook_delivered(end_seq=due.end_seq, url=due.url, attempt=attempt, status=status)
            await self.store.append(stream, None, [delivered])
        else:
            await self._failed(due, attempt, f"the receiver answered {status}")

    async def _failed(self, due: DueDelivery, attempt: int, error: str) -> None:
        if attempt >= self.settings.max_attempts:
            event = ev.webhook_abandoned(end_seq=due.end_seq, url=due.url, attempts=attempt, error=error)
        else:
            retry_at = self.clock() + dt.timedelta(seconds=backoff(self.settings, attempt))
            event = ev.webhook_attempt_failed(
                end_seq=due.end_seq, url=due.url, attempt=attempt, error=error, retry_at=retry_at.isoformat()
            )
        await self.store.append(f"run:{due.run_id}", None, [event])
