"""A run's checkpoints store their versions as changes (issue 17's storage).

A LangGraph checkpoint names the version of every channel the graph ever wrote
(``channel_versions``) and, for every node that ever ran, the versions it saw
(``versions_seen``): a checkpoint of a 100-node linear graph carries ~200 versions, almost all
of them its parent's, so that stored whole they grow the log with the square of a run's steps
(and are written again to JetStream). So a run's checkpointer stores a checkpoint whose parent
is the checkpoint it stored just before (in the same thread and namespace) with only the
entries that changed, marked ``versions_delta``; readers rebuild the whole from the chain of
parents (:func:`rebuild`; in SQL, ``duragraph.lg_versions_chain`` and
``duragraph.lg_channel_versions``).

The versions are stored whole again when the chain reaches ``max_chain`` links or when the
changes stored since the last whole ones hold as many entries as those did (at least
``min_entries``): a read follows at most ``max_chain`` links, and the whole ones stored along a
run cost at most about as much as the changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_VERSIONS = ("channel_versions", "versions_seen")


class BrokenVersionChain(LookupError):
    """A checkpoint's versions are changes from a checkpoint that is not in the log."""


@dataclass(slots=True)
class _Stored:
    checkpoint_id: str
    channel_versions: dict[str, Any]
    versions_seen: dict[str, Any]
    links: int  # since the versions were last stored whole
    changed: int  # entries stored as changes since then
    whole: int  # entries of the versions stored whole then


class VersionDeltas:
    """What a run's checkpointer stored last in each (thread, namespace): the base of the next."""

    def __init__(self, *, max_chain: int = 32, min_entries: int = 32) -> None:
        self.max_chain = max_chain
        self.min_entries = min_entries
        self._last: dict[tuple[str, str], _Stored] = {}

    def store(
        self, thread_id: str, checkpoint_ns: str, parent_id: str | None, checkpoint: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """``checkpoint`` (plain JSON, without its values) as it is to be stored, and whether
        its versions are the changes since its parent's (else: whole)."""
        cv = dict(checkpoint["channel_versions"])
        vs = {node: dict(seen) for node, seen in checkpoint["versions_seen"].items()}
        key = (thread_id, checkpoint_ns)
        last = self._last.get(key)
        delta = _changes(last, cv, vs) if last is not None and last.checkpoint_id == parent_id else None
        entries = 0 if delta is None else len(delta[0]) + len(delta[1])
        if (
            last is None
            or delta is None
            or last.links + 1 > self.max_chain
            or last.changed + entries > max(self.min_entries, last.whole)
        ):
            self._last[key] = _Stored(str(checkpoint["id"]), cv, vs, 0, 0, len(cv) + len(vs))
            return dict(checkpoint), False
        self._last[key] = _Stored(
            str(checkpoint["id"]), cv, vs, last.links + 1, last.changed + entries, last.whole
        )
        return {**checkpoint, "channel_versions": delta[0], "versions_seen": delta[1]}, True

    def discard(self, thread_id: str, checkpoint_ns: str) -> None:
        """The last checkpoint of ``(thread_id, checkpoint_ns)`` was not stored as returned by
        :meth:`store` (it was serialized): the next one is stored whole."""
        self._last.pop((thread_id, checkpoint_ns), None)

    def forget(self, thread_id: str) -> None:
        for key in [k for k in self._last if k[0] == thread_id]:
            del self._last[key]


def _changes(
    last: _Stored, cv: dict[str, Any], vs: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The entries of ``cv`` and ``vs`` that differ from ``last``'s; None when an entry of
    ``last`` is gone (LangGraph only adds and bumps them, but a change cannot say "removed")."""
    if any(k not in cv for k in last.channel_versions) or any(k not in vs for k in last.versions_seen):
        return None
    return (
        {k: v for k, v in cv.items() if last.channel_versions.get(k) != v},
        {k: v for k, v in vs.items() if last.versions_seen.get(k) != v},
    )


def rebuild(
    checkpoint: Mapping[str, Any], chain: Sequence[tuple[Mapping[str, Any], str | None]]
) -> dict[str, Any]:
    """The checkpoint with its whole versions. ``chain``: the stored checkpoints its versions are
    changes from, nearest first, each with the parent it changes from in turn (None: stored
    whole), down to one stored whole (empty for a checkpoint stored whole)."""
    if not chain:
        return dict(checkpoint)
    if chain[-1][1] is not None:
        raise BrokenVersionChain(
            f"checkpoint {checkpoint.get('id')}'s versions are changes from checkpoint "
            f"{chain[-1][1]}, which is not in the run's log"
        )
    out = dict(checkpoint)
    for field in _VERSIONS:
        whole: dict[str, Any] = {}
        for stored, _ in reversed(chain):  # the one stored whole first
            whole.update(stored.get(field) or {})
        whole.update(checkpoint.get(field) or {})
        out[field] = whole
    return out
