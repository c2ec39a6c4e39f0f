"""List channels stored as appends (issue 17's storage): a list value that begins with exactly the
items of an earlier version of its channel is stored as "that version + these items".

LangGraph saves a channel's whole value at each new version, so a conversation's ``messages``
(``add_messages``, ``operator.add``) costs the square of its length. Whether a value extends an
earlier one is decided on the serializer's bytes of each item, not on the graph's reducer: the
stored value reads back as exactly the list LangGraph gave. Every ``full_every`` versions of a
channel the whole value is stored again, so that reading one takes at most that many rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

from duragraph_lab.domain.events.langgraph import ListAppend, StoredValue, Typed

__all__ = ["FULL_EVERY", "ListValues", "resolve"]

#: At most this many appends in a row before a channel's whole value is stored again.
FULL_EVERY = 32


@dataclass(slots=True)
class _Written:
    version: str
    items: list[Typed]
    depth: int  # appends since the last whole value


class ListValues:
    """The list values one writer stored last, per (thread, namespace, channel), to store the next
    version of each as an append when it extends them. Only for a writer that is the only one
    writing its threads' checkpoints while it lives (a run's, under its lease): a base it names
    must still be stored when the new version is."""

    def __init__(self, serde: SerializerProtocol, full_every: int = FULL_EVERY) -> None:
        self.serde = serde
        self.full_every = full_every
        self._last: dict[tuple[str, str, str], _Written] = {}

    def store(
        self, thread_id: str, checkpoint_ns: str, channel: str, version: str, value: Any
    ) -> StoredValue:
        """How to store ``value`` as ``version`` of the channel: whole or as an append."""
        key = (thread_id, checkpoint_ns, channel)
        if type(value) is not list:
            self._last.pop(key, None)
            return self.serde.dumps_typed(value)
        items = [self.serde.dumps_typed(item) for item in value]
        last = self._last.get(key)
        if (
            last is not None
            and last.version != version
            and last.depth < self.full_every
            and len(items) >= len(last.items)
            and items[: len(last.items)] == last.items
        ):
            self._last[key] = _Written(version, items, last.depth + 1)
            return ListAppend(last.version, tuple(items[len(last.items) :]))
        self._last[key] = _Written(version, items, 0)
        return self.serde.dumps_typed(value)

    def discard(self, thread_id: str, checkpoint_ns: str, channel: str) -> None:
        """The channel's new version has no value: the next extends nothing."""
        self._last.pop((thread_id, checkpoint_ns, channel), None)

    def forget(self, thread_id: str) -> None:
        """The thread's checkpoints were deleted or pruned here: name none of its versions again."""
        for key in [k for k in self._last if k[0] == thread_id]:
            del self._last[key]


def resolve(serde: SerializerProtocol, chain: list[StoredValue]) -> Any:
    """A channel's value from its stored chain: the value at the version, then its bases' values
    down to one stored whole (:attr:`StoredCheckpoint.values`)."""
    whole = chain[-1]
    if isinstance(whole, ListAppend):
        raise LookupError(
            f"the stored value this list channel's version extends (version {whole.base}) is missing"
        )
    value = serde.loads_typed(whole)
    if len(chain) == 1:
        return value
    if type(value) is not list:
        raise TypeError(f"a list channel's stored value extends a {type(value).__name__}, not a list")
    out = list(value)
    for part in reversed(chain[:-1]):
        if not isinstance(part, ListAppend):
            raise TypeError("a channel's stored chain has a whole value above its first")
        out.extend(serde.loads_typed(item) for item in part.items)
    return out
