"""The JetStream stream that keeps the relayed events (PostgreSQL stays the source of truth)."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.js import api
from nats.js.errors import NotFoundError

from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.domain.errors import DuraGraphError


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    max_age_seconds: float = 7 * 24 * 3600
    max_bytes: int = 4 * 1024**3
    # Window in which JetStream drops a re-published event (same Nats-Msg-Id). It must cover the
    # relay's worst-case re-publish delay: NATS outage + claim rollback + back-off.
    duplicate_window_seconds: float = 600.0
    replicas: int = 1


class StreamMismatch(DuraGraphError):
    code = "stream_mismatch"


async def ensure_stream(nc: NATS, subjects: Subjects, policy: StreamPolicy | None = None) -> api.StreamInfo:
    """Create the events stream if it is missing. An existing stream is left as it is (an
    operator may have tuned its limits or replicas), provided it captures our subjects."""
    policy = policy or StreamPolicy()
    js = nc.jetstream()
    config = api.StreamConfig(
        name=subjects.stream_name,
        subjects=[subjects.all_events],
        retention=api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE,
        discard=api.DiscardPolicy.OLD,
        max_age=policy.max_age_seconds,
        max_bytes=policy.max_bytes,
        duplicate_window=policy.duplicate_window_seconds,
        num_replicas=policy.replicas,
    )
    try:
        info = await js.stream_info(subjects.stream_name)
    except NotFoundError:
        return await js.add_stream(config)
    if subjects.all_events not in (info.config.subjects or []):
        raise StreamMismatch(
            f"JetStream stream {subjects.stream_name} exists but does not capture {subjects.all_events} "
            f"(it captures {info.config.subjects}); choose another subject prefix"
        )
    return info
