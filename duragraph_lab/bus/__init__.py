"""NATS JetStream: subjects, the outbox relay, and gap-free stream subscriptions."""

from duragraph_lab.bus.connection import BusUnavailable, connect_nats
from duragraph_lab.bus.jetstream import StreamPolicy, StreamSetup, StreamStorageError, ensure_stream
from duragraph_lab.bus.relay import OutboxRelay, RelayStatus, RelayWaker
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.bus.subscription import StreamSubscription

__all__ = [
    "BusUnavailable",
    "OutboxRelay",
    "RelayStatus",
    "RelayWaker",
    "StreamPolicy",
    "StreamSetup",
    "StreamStorageError",
    "StreamSubscription",
    "Subjects",
    "connect_nats",
    "ensure_stream",
]
