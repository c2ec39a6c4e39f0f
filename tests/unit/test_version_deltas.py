"""langgraph/version_deltas.py: which checkpoints are stored as the changes since their parent,
and how a reader rebuilds the whole versions from the chain."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from duragraph_lab.langgraph.version_deltas import BrokenVersionChain, VersionDeltas, rebuild


def _checkpoint(i: int, nodes: int) -> dict[str, Any]:
    """The i-th checkpoint of a linear graph: node j ran once, at step j."""
    return {
        "v": 4,
        "id": f"c{i}",
        "channel_versions": {"n": str(i), **{f"to:s{j}": str(j + 1) for j in range(min(i, nodes))}},
        "versions_seen": {
            "__input__": {},
            **{f"s{j}": {f"to:s{j}": str(j + 1)} for j in range(min(i, nodes))},
        },
        "channel_values": {},
    }


def test_a_child_of_the_checkpoint_stored_before_holds_only_what_changed() -> None:
    deltas = VersionDeltas()
    first, delta = deltas.store("t", "", None, _checkpoint(1, 100))
    assert delta is False and first == _checkpoint(1, 100)
    second, delta = deltas.store("t", "", "c1", _checkpoint(2, 100))
    assert delta is True
    assert second["channel_versions"] == {"n": "2", "to:s1": "2"}
    assert second["versions_seen"] == {"s1": {"to:s1": "2"}}
    assert rebuild(second, [(first, None)]) == _checkpoint(2, 100)


def test_whole_again_for_another_parent_namespace_thread_or_a_removed_entry() -> None:
    deltas = VersionDeltas()
    deltas.store("t", "", None, _checkpoint(1, 100))
    assert deltas.store("t", "", "elsewhere", _checkpoint(2, 100))[1] is False  # not its parent
    assert deltas.store("t", "sub", "c2", _checkpoint(3, 100))[1] is False  # nothing stored in "sub"
    assert deltas.store("u", "", "c2", _checkpoint(3, 100))[1] is False  # nor in thread u
    shrunk = _checkpoint(3, 100)
    del shrunk["channel_versions"]["to:s0"]  # a change cannot say "removed"
    assert deltas.store("t", "", "c2", shrunk)[1] is False
    deltas.forget("t")
    assert deltas.store("t", "", "c3", _checkpoint(4, 100))[1] is False


def test_chains_stay_short_and_wholes_geometric() -> None:
    deltas = VersionDeltas(max_chain=32, min_entries=32)
    wholes, links, longest = [], 0, 0
    for i in range(1, 201):
        _, delta = deltas.store("t", "", f"c{i - 1}" if i > 1 else None, _checkpoint(i, 200))
        links = links + 1 if delta else 0
        longest = max(longest, links)
        if not delta:
            wholes.append(i)
    assert longest <= 32
    # Whole at the start, then once the changes since hold as many entries as the whole did:
    # 2 new entries a step against ~2i in the whole, so a few (not one every 32 steps).
    assert wholes[0] == 1 and 5 <= len(wholes) <= 12, wholes
    assert all(b - a <= 33 for a, b in itertools.pairwise(wholes))


def test_a_chain_that_does_not_reach_a_whole_one_is_refused() -> None:
    with pytest.raises(BrokenVersionChain, match="c1"):
        rebuild({"id": "c3", "channel_versions": {}, "versions_seen": {}}, [({"id": "c2"}, "c1")])
