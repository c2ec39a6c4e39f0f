"""Same-process delivery: the relay hands each event it publishes straight to the stream
subscriptions of its own process (the API server's SSE streams), a NATS round trip sooner than
their copy from NATS.

Only committed events travel this way (the relay reads them from the outbox), so delivering one
before JetStream acknowledged it is safe. A subscription takes an event only if it is the next
version of its stream, so the copy that arrives from NATS afterwards is dropped as a duplicate,
and anything missed either way is read from PostgreSQL.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.client import Client as NATS


@dataclass(frozen=True, slots=True)
class LocalMessage:
    """What a subscription reads from a NATS message: its headers and body."""

    headers: dict[str, str]
    data: bytes


Listener = Callable[[LocalMessage], None]

# Per NATS connection, as the relay and the subscriptions of one server share theirs:
# "<subject prefix>|<stream id>" -> listeners.
_feeds: weakref.WeakKeyDictionary[NATS, dict[str, set[Listener]]] = weakref.WeakKeyDictionary()


def feed_key(prefix: str, stream_id: str) -> str:
    return f"{prefix}|{stream_id}"


def listen(nc: NATS, key: str, listener: Listener) -> Callable[[], None]:
    """Receive the events this process relays for ``key``; call the result to stop."""
    feed = _feeds.setdefault(nc, {})
    feed.setdefault(key, set()).add(listener)

    def stop() -> None:
        listeners = feed.get(key)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del feed[key]

    return stop


def has_listeners(nc: NATS) -> bool:
    return bool(_feeds.get(nc))


def deliver(nc: NATS, key: str, headers: dict[str, str], body: bytes) -> None:
    listeners = _feeds.get(nc, {}).get(key)
    if listeners:
        message = LocalMessage(headers, body)
        for listener in list(listeners):
            listener(message)
