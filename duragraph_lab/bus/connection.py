"""NATS connections that keep reconnecting for as long as the process lives."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import unquote, urlsplit

import nats
from nats.aio.client import Client as NATS

from duragraph_lab.domain.errors import DuraGraphError

log = logging.getLogger(__name__)


class BusUnavailable(DuraGraphError):
    code = "bus_unavailable"


def redact_nats_url(url: str) -> str:
    """A NATS server list without credentials (``nats://token@host`` and ``user:pw@host``)."""
    servers = []
    for entry in url.split(","):
        entry = entry.strip()
        scheme, sep, rest = entry.partition("://")
        if not sep:
            scheme, rest = "", entry
        host = rest.rpartition("@")[2]
        servers.append(f"{scheme}://{host}" if sep else host)
    return ",".join(servers)


def shared_credentials(servers: list[str]) -> dict[str, str]:
    """The credentials every listed server shares, as nats-py options (``token``, or ``user`` and
    ``password``); none when the URLs carry none or differ.

    nats-py authenticates with the credentials of the URL it connects to. The servers a cluster
    announces (``connect_urls``, added to the pool on their own) carry none, so a client that was
    given one node reconnects to the others without its token and is refused: as options, the
    credentials go to every server of the pool."""
    found: set[tuple[str | None, str | None]] = set()
    for server in servers:
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        found.add((unquote(parts.username) if parts.username else None, parts.password))
    if len(found) != 1:
        return {}
    user, password = found.pop()
    if user is None:
        return {}
    if password is None:
        return {"token": user}
    return {"user": user, "password": unquote(password)}


async def connect_nats(
    url: str,
    *,
    name: str = "duragraph",
    connect_timeout: float = 5.0,
    reconnect: bool = True,
) -> NATS:
    """Connect to NATS. With ``reconnect`` the client retries forever after the first success,
    buffering publishes meanwhile; callers must still tolerate publishes that fail."""

    async def on_error(err: Exception) -> None:
        log.debug("nats %s: %s", name, err)

    async def on_disconnect() -> None:
        log.info("nats %s: disconnected", name)

    async def on_reconnect() -> None:
        log.info("nats %s: reconnected", name)

    try:
        # nats-py retries the *first* connection forever unless max_reconnect_attempts > 0, so
        # the first attempt is bounded here; after it succeeds, reconnects go on forever.
        async with asyncio.timeout(connect_timeout):
            servers = [u.strip() for u in url.split(",") if u.strip()]
            return await nats.connect(
                servers=servers,
                **shared_credentials(servers),
                name=name,
                connect_timeout=max(1, round(connect_timeout)),
                allow_reconnect=reconnect,
                max_reconnect_attempts=-1 if reconnect else 1,
                reconnect_time_wait=0.25,
                ping_interval=10,
                max_outstanding_pings=3,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
            )
    except TimeoutError:
        raise BusUnavailable(
            f"cannot connect to NATS at {redact_nats_url(url)}: no answer within {connect_timeout:g}s"
        ) from None
    except nats.errors.NoServersError:
        raise BusUnavailable(
            f"cannot connect to NATS at {redact_nats_url(url)}: no server answered (refused or unreachable)"
        ) from None
    except Exception as err:
        reason = str(err) or type(err).__name__
        raise BusUnavailable(f"cannot connect to NATS at {redact_nats_url(url)}: {reason}") from None
