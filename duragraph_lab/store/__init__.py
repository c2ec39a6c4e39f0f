"""PostgreSQL persistence: migrations, the event store, projections and the outbox."""

from duragraph_lab.store.connection import open_pool, redact
from duragraph_lab.store.memory import InMemoryEventStore
from duragraph_lab.store.port import EventStore, UnitOfWork
from duragraph_lab.store.postgres import PgUnitOfWork, PostgresEventStore
from duragraph_lab.store.schema import MigrationError, available_migrations, migrate, schema_version

__all__ = [
    "EventStore",
    "InMemoryEventStore",
    "MigrationError",
    "PgUnitOfWork",
    "PostgresEventStore",
    "UnitOfWork",
    "available_migrations",
    "migrate",
    "open_pool",
    "redact",
    "schema_version",
]
