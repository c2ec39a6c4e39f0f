"""A database as an earlier release left it, for the tests of the migration that follows."""

from __future__ import annotations

import pytest

from duragraph_lab.store import schema
from duragraph_lab.store.schema import available_migrations, migrate


def migrate_to_release_before(url: str, migration_name: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Migrate ``url`` up to the migration before ``migration_name``, without projection
    definitions (today's do not fit that schema); return the versions still pending from there."""
    every = available_migrations()
    (target,) = [m for m in every if m.name == migration_name]
    with monkeypatch.context() as m:
        m.setattr(schema, "available_migrations", lambda: [x for x in every if x.version < target.version])
        m.setattr(schema, "available_definitions", lambda: [])
        migrate(url)
    return [m.version for m in every if m.version >= target.version]
