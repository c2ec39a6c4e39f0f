"""Projections: the read models (runs, threads, assistants, spans, run queue, evals tables, ...)
derived from ``duragraph.events``, in the transaction of each append.

They are PL/pgSQL functions defined once, in the ``*.sql`` files of this package: one projection
per stream kind (``runs.sql``: ``duragraph.project_run(event)``, ``threads.sql``, ...), the
dispatch the events trigger calls and ``duragraph.rebuild_projections()`` (``dispatch.sql``).
Migrations create and alter the tables; these files say how events fill them.

Unlike a migration, a definition is code, not history: it is idempotent (``CREATE OR REPLACE``),
and :func:`duragraph_lab.store.schema.migrate` applies it again whenever its checksum differs from
the one recorded in ``duragraph.schema_definitions``. Editing a file here is therefore all a change
of projection takes, and every database, new or upgraded, ends up with the same functions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Definition:
    name: str  # the file name, e.g. "runs.sql"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_definitions() -> list[Definition]:
    """Every definition shipped with this version of the package, by file name. The order does
    not matter: a PL/pgSQL body finds the functions it calls when it runs, not when it is created."""
    found = [
        Definition(entry.name, entry.read_text("utf-8"))
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found, key=lambda d: d.name)
