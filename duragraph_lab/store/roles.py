"""The database role the API servers and workers use: a login role without superuser rights.

Migrations run as the database's owner; everything else runs as this role, which may read and
write DuraGraph's tables and call its functions, and nothing more: it cannot create or drop
objects, change roles, or reach the server's file system or shell (``COPY ... TO PROGRAM`` is
refused), so a leaked connection URL is a leaked event store, not a leaked machine.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from duragraph_lab.store.schema import SCHEMA


def ensure_login_role(admin_conninfo: str, role: str, password: str) -> None:
    """Create ``role`` (a plain login role) or reset its password and attributes."""
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(
                "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {}"
            ).format(sql.SQL(verb), sql.Identifier(role), sql.Literal(password))
        )


def grant_runtime_privileges(admin_conninfo: str, role: str) -> None:
    """Let ``role`` use DuraGraph's schema as the API and workers do: read and write every table
    (the bookkeeping of migrations and definitions only read), use every sequence, call every
    function; also for what later migrations (run by the owner) create. Idempotent; run after
    migrating."""
    ident = sql.Identifier(role)
    schema = sql.Identifier(SCHEMA)
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        dbname = conn.info.dbname
        statements = [
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(sql.Identifier(dbname), ident),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, ident),
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA {} TO {}").format(
                schema, ident
            ),
            sql.SQL(
                "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {}.schema_migrations, {}.schema_definitions FROM {}"
            ).format(schema, schema, ident),
            sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(schema, ident),
            sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {} TO {}").format(schema, ident),
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE "
                "ON TABLES TO {}"
            ).format(schema, ident),
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {}"
            ).format(schema, ident),
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT EXECUTE ON FUNCTIONS TO {}").format(
                schema, ident
            ),
        ]
        with conn.transaction():
            for statement in statements:
                conn.execute(statement)
