"""Projections: read models updated in the same transaction as the events they derive from.

A projection sees each appended event inside the append's transaction, so a read after a write
sees the write, and a projection failure rolls the append back. Because projections are derived,
:func:`rebuild` can recreate one from the event log alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import psycopg

from duragraph_lab.domain.envelope import RecordedEvent


class Projection(Protocol):
    name: str

    def handles(self, event: RecordedEvent) -> bool:
        """Whether this projection needs to see ``event``."""
        ...

    async def apply(self, conn: psycopg.AsyncConnection[Any], events: Sequence[RecordedEvent]) -> None:
        """Update the read model for ``events`` (already filtered by :meth:`handles`)."""
        ...

    async def reset(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Empty the read model before a rebuild."""
        ...
