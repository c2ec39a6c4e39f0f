"""The text of the benchmarks' conversations: message ``i`` is the ``i``-th piece of about 80
characters (a short chat reply) of English prose, Python's own documentation as every Python
ships it (``pydoc_data.topics``), so no two messages are alike, as in a real conversation.

Why not one sentence with the message's number in it: a stored list of 200 such messages
compresses ~25 times in PostgreSQL (pglz finds the shared 80 characters again in every message), and
a checkpointer that stores the whole list at each step (LangGraph's ``PostgresSaver``) looked
~4 times smaller than it is on real text. docs/benchmarks.md has both figures.
"""

from __future__ import annotations

import functools
import re

WIDTH = 80  # characters a message holds, about (words are not split)


@functools.cache
def _pieces() -> tuple[str, ...]:
    from pydoc_data.topics import topics

    # Topics in a fixed order; reST heading underlines ("*****") are not prose.
    words = [w for key in sorted(topics) for w in topics[key].split() if not re.fullmatch(r"[*=\-~^]{3,}", w)]
    out: list[str] = []
    piece: list[str] = []
    size = 0
    for word in words:
        piece.append(word)
        size += len(word) + 1
        if size >= WIDTH:
            out.append(" ".join(piece))
            piece, size = [], 0
    return tuple(out)


def message(i: int) -> str:
    """Message ``i`` of a conversation (the text repeats after a few thousand messages)."""
    pieces = _pieces()
    return pieces[i % len(pieces)]
