"""List channels stored as appends (issue 17's storage): a list value that begins with exactly the
items of an earlier version of its channel is stored as "that version + these items".

LangGraph saves a channel's whole value at each new version, so a conversation's ``messages``
(``add_messages``, ``operator.add``) costs the square of its length. Whether a value extends an
earlier one is decided on the serializer's bytes of each item, not on the graph's reducer: the
stored value reads back as exactly the list LangGraph gave.

When the whole value is stored again (a read follows a version's chain of appends down to one
whole value): once the appends since the last whole value hold as many items as it held (at
least :data:`MIN_APPENDS`), or are as many. The whole values stored then grow geometrically
(each at least twice the one before, past the floor), so what a list costs grows linearly with
its length, at most about three times its bytes (the appends once, the whole values at most
twice), where a fixed period costs its square. A read's chain (the whole value and the appends
above it) is at most ``max(MIN_APPENDS, len(value))`` rows, and at most :data:`MAX_APPENDS`,
so reading a value takes work in proportion to the value, and the recursive query that reads
it (``store/queries/lg_checkpoints.py``) stays within its depth limit. Past ``MAX_APPENDS`` items
the whole value is stored every ``MAX_APPENDS`` appends: very long lists cost more than linear
again, in exchange for reads of at most that many rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

from duragraph_lab.domain.events.langgraph import ListAppend, StoredValue, Typed

__all__ = ["MAX_APPENDS", "MIN_APPENDS", "ListValues", "RootPuts", "resolve"]

#: A channel's whole value is stored again after this many appended items or appends, or after
#: as many as the last whole value held when that is more: short lists stay cheap to read.
MIN_APPENDS = 32
#: ... and after this many at most: a read's chain is never longer than this many rows.
MAX_APPENDS = 1000


@dataclass(slots=True)
class _Written:
    version: str
    #: the value's items as serialized, or None until needed (a value read, not stored here)
    items: list[Typed] | None
    whole: int  # items in the last whole value stored
    appended: int  # items appended since
    appends: int  # appends since (an append of no item counts too)
    #: the stored chain the value was read from, while ``items`` is None: bytes, which no
    #: reducer can change in place, unlike the value LangGraph was given
    chain: tuple[StoredValue, ...] = ()


class ListValues:
    """The list values one writer stored (or read, :meth:`seen`) last, per (thread, namespace,
    channel), to store the next version of each as an append when it extends them. Only for a writer that is the only one
    writing its threads' checkpoints while it lives (a run's, under its lease): a base it names
    must still be stored when the new version is."""

    def __init__(
        self, serde: SerializerProtocol, min_appends: int = MIN_APPENDS, max_appends: int = MAX_APPENDS
    ) -> None:
        if not 1 <= min_appends <= max_appends:
            raise ValueError(f"need 1 <= min_appends <= max_appends, got {min_appends}, {max_appends}")
        self.serde = serde
        self.min_appends = min_appends
        self.max_appends = max_appends
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
        if last is not None and last.version != version:
            before = self._items(last)
            if before is not None and len(items) >= len(before) and items[: len(before)] == before:
                appended = last.appended + len(items) - len(before)
                appends = last.appends + 1
                if max(appended, appends) < self._budget(last.whole):
                    self._last[key] = _Written(version, items, last.whole, appended, appends)
                    return ListAppend(last.version, tuple(items[len(before) :]))
        self._last[key] = _Written(version, items, len(items), 0, 0)
        return self.serde.dumps_typed(value)

    def seen(
        self,
        thread_id: str,
        checkpoint_ns: str,
        channel: str,
        version: str,
        chain: list[StoredValue],
        value: Any,
    ) -> None:
        """``value`` of the channel at ``version`` was read from its stored ``chain``: the next
        version may be stored as an append to it, as to a version stored here (a run goes on
        from the checkpoint it read, and a conversation run one turn at a time would otherwise
        store its list whole at each turn). The counts since the chain's whole value carry on,
        so the chains stay as bounded. The items are compared as the chain's bytes give them,
        when a next version is stored (not before: most reads are followed by none); a channel
        this writer stored at that version already is left as it is."""
        key = (thread_id, checkpoint_ns, channel)
        last = self._last.get(key)
        if type(value) is not list or (last is not None and last.version == version):
            return
        if not chain or isinstance(chain[-1], ListAppend):
            return
        appends = [part for part in chain[:-1] if isinstance(part, ListAppend)]
        appended = sum(len(part.items) for part in appends)
        if len(appends) != len(chain) - 1 or appended > len(value):
            return  # not a chain this module wrote: nothing to go on from
        whole = len(value) - appended
        self._last[key] = _Written(version, None, whole, appended, len(appends), tuple(chain))

    def _items(self, last: _Written) -> list[Typed] | None:
        """The items of the value ``last`` names, serialized one by one (None: not a list)."""
        if last.items is None and last.chain:
            whole = self.serde.loads_typed(last.chain[-1])  # type: ignore[arg-type]
            if type(whole) is list:
                appended = [it for part in reversed(last.chain[:-1]) for it in part.items]  # type: ignore[union-attr]
                last.items = [self.serde.dumps_typed(item) for item in whole] + appended
            last.chain = ()
        return last.items

    def _budget(self, whole: int) -> int:
        """Appended items (and appends) after a whole value of ``whole`` items from which the
        value is stored whole again."""
        return min(max(self.min_appends, whole), self.max_appends)

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


@dataclass(slots=True)
class _Put:
    versions: dict[str, Any]
    #: list channels stored as appends: channel -> (the base's version, the items it holds)
    appends: dict[str, tuple[str, int]]


class RootPuts:
    """The last root checkpoints a run's checkpointer stored: each one's channel versions and the
    lists it stored as appends. It tells the run's event writer (``executor._Mirror``) which lists
    of a checkpoint are another's followed by more items, as the serializer's bytes say, so that
    it converts and compares only the new items (a conversation's ``messages`` otherwise cost it
    the whole list at every step)."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._puts: dict[str, _Put] = {}

    def record(
        self, checkpoint_id: str, versions: dict[str, Any], appends: dict[str, tuple[str, int]]
    ) -> None:
        self._puts.pop(checkpoint_id, None)
        self._puts[checkpoint_id] = _Put(dict(versions), appends)
        while len(self._puts) > self.keep:
            del self._puts[next(iter(self._puts))]

    def extended(self, before_id: str, after_id: str) -> dict[str, int]:
        """The list channels whose value at checkpoint ``after_id`` is their value at
        ``before_id`` followed by more items: channel -> how many items it held at
        ``before_id``. Empty when either checkpoint is not one of the last stored here."""
        before, after = self._puts.get(before_id), self._puts.get(after_id)
        if before is None or after is None:
            return {}
        return {ch: n for ch, (base, n) in after.appends.items() if before.versions.get(ch) == base}
