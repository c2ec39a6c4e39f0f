"""Versioned, idempotent schema migrations and the projection definitions, applied under a
PostgreSQL advisory lock.

Migrations are the ``NNNN_name.sql`` files in ``duragraph_lab/store/migrations``: the tables,
columns and indexes, applied once each and never changed afterwards (a checksum says so). The
migrations pending in a database are applied in one transaction, together with their bookkeeping
rows, so a failure leaves the schema at the version it had before.

Definitions are the ``*.sql`` files in ``duragraph_lab/store/projections`` (see there): applied
after the migrations, and again whenever one changes. They are installed in the transaction of the
pending migrations (or in one of their own when no migration is pending), so the final schema and
the functions that fill it switch together: no append commits between a migration and the
definitions that go with it, even when a database skips releases (a migration that drops what an
older release's definitions call, followed by a later release's migrations).

Many processes may start at once (API replicas, workers): the advisory lock makes exactly one of
them apply what is pending while the others wait and then find nothing to do.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.store.projections import Definition, available_definitions

log = logging.getLogger(__name__)

SCHEMA = "duragraph"
# "DuraGrap" in ASCII: a fixed key so that every DuraGraph process contends for the same lock.
MIGRATION_LOCK_KEY = 0x4475726147726170
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(DuraGraphError):
    code = "migration_error"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    """Every migration shipped with this version of the package, in order."""
    found = []
    for entry in resources.files("duragraph_lab.store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


def migrate(conninfo: str, *, connect_timeout: int = 10) -> list[int]:
    """Apply pending migrations, and the projection definitions that are new or changed; return
    the migration versions applied by this call (often none).

    Raises :class:`MigrationError` naming the database (without its password) and the reason.
    """
    try:
        return _migrate(conninfo, connect_timeout)
    except psycopg.Error as err:
        from duragraph_lab.store.connection import redact

        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise MigrationError(f"migrating {redact(conninfo)} failed: {first_line}") from err


def _migrate(conninfo: str, connect_timeout: int) -> list[int]:
    migrations = available_migrations()
    definitions = available_definitions()
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout) as conn:
        if _up_to_date(conn, migrations, definitions):
            # Nothing to do, and nothing done: a role without DDL rights (the one the API and the
            # workers use) may call this too.
            return []
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations (
                    version int PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_definitions (
                    name text PRIMARY KEY,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            rows = conn.execute(f"SELECT version, name, checksum FROM {SCHEMA}.schema_migrations").fetchall()
            applied = {row[0]: (row[1], row[2]) for row in rows}
            known = {m.version: m for m in migrations}
            newer = sorted(v for v in applied if v not in known)
            if newer:
                raise MigrationError(
                    f"the database schema is at version {max(applied)}, newer than this DuraGraph Lab "
                    f"supports ({len(migrations)}); upgrade duragraph-lab"
                )
            for version, (name, checksum) in sorted(applied.items()):
                if known[version].checksum != checksum:
                    raise MigrationError(
                        f"migration {version:04d}_{name} changed after it was applied (checksum mismatch)"
                    )
            rows = conn.execute(f"SELECT name, checksum FROM {SCHEMA}.schema_definitions").fetchall()
            installed: dict[str, str] = {row[0]: row[1] for row in rows}
            pending = [m for m in migrations if m.version not in applied]
            if pending:
                # One transaction for the whole upgrade: the functions switch together with the
                # schema they fill, and no append commits halfway (after a migration that drops
                # what the installed definitions call, before the definitions replacing them).
                with conn.transaction():
                    for migration in pending:
                        log.info("applying migration %04d_%s", migration.version, migration.name)
                        conn.execute(migration.sql.encode())
                        conn.execute(
                            f"INSERT INTO {SCHEMA}.schema_migrations (version, name, checksum) "
                            "VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                    _install(conn, definitions, installed)
            elif _checksums(definitions) != installed:
                with conn.transaction():
                    _install(conn, definitions, installed)
            return [m.version for m in pending]
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def _install(conn: psycopg.Connection[Any], definitions: list[Definition], installed: dict[str, str]) -> None:
    """Apply the definitions that are new or changed since ``installed``; forget the bookkeeping
    of those no longer shipped (a function that must go is dropped by a migration)."""
    for definition in definitions:
        if installed.get(definition.name) == definition.checksum:
            continue
        log.info("applying projection definitions %s", definition.name)
        conn.execute(definition.sql.encode())
        conn.execute(
            f"INSERT INTO {SCHEMA}.schema_definitions (name, checksum) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()",
            (definition.name, definition.checksum),
        )
    conn.execute(
        f"DELETE FROM {SCHEMA}.schema_definitions WHERE name <> ALL(%s)", ([d.name for d in definitions],)
    )


def _checksums(definitions: list[Definition]) -> dict[str, str]:
    return {d.name: d.checksum for d in definitions}


def _up_to_date(
    conn: psycopg.Connection[Any], migrations: list[Migration], definitions: list[Definition]
) -> bool:
    exists = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
        (f"{SCHEMA}.schema_migrations", f"{SCHEMA}.schema_definitions"),
    ).fetchone()
    if not exists or not exists[0]:
        return False
    rows = conn.execute(f"SELECT version, checksum FROM {SCHEMA}.schema_migrations").fetchall()
    if dict(rows) != {m.version: m.checksum for m in migrations}:
        return False
    rows = conn.execute(f"SELECT name, checksum FROM {SCHEMA}.schema_definitions").fetchall()
    return dict(rows) == _checksums(definitions)


async def schema_version(conn: psycopg.AsyncConnection[Any]) -> int:
    """The highest applied migration, 0 for an empty database."""
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.schema_migrations",))
    row = await cur.fetchone()
    if not row or not row[0]:
        return 0
    cur = await conn.execute(f"SELECT coalesce(max(version), 0) FROM {SCHEMA}.schema_migrations")
    row = await cur.fetchone()
    return int(row[0]) if row else 0
