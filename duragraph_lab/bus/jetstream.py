"""The JetStream stream that keeps the relayed events (PostgreSQL stays the source of truth).

Its size limit is a reservation: nats-server refuses to create a file stream whose ``max_bytes``
does not fit in what the account and the server (``max_file_store``, by default 75% of the free
disk) still have unreserved. When the configured size does not fit, :func:`ensure_stream` creates
the stream with the most that does (never less than ``StreamPolicy.min_bytes``) and logs a
WARNING saying so; below the minimum it raises :class:`StreamStorageError`, whose message says
what to do. The stream only buffers delivery (subscribers read anything it no longer holds from
PostgreSQL), so a smaller one costs nothing but how far back a raw JetStream consumer can read.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NotFoundError

from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.domain.errors import DuraGraphError

log = logging.getLogger(__name__)

ENV_MAX_BYTES = "DURAGRAPH_JETSTREAM_MAX_BYTES"
ENV_MIN_BYTES = "DURAGRAPH_JETSTREAM_MIN_BYTES"
ENV_MAX_AGE = "DURAGRAPH_JETSTREAM_MAX_AGE"
ENV_REPLICAS = "DURAGRAPH_JETSTREAM_REPLICAS"

# JetStream API error codes that mean "this much storage cannot be reserved": insufficient storage
# resources (server or account), insufficient resources, and a size above the account's
# per-stream maximum.
_NO_ROOM = {10047, 10023, 10122}
# How close to the largest size that fits the search gets (relative), and at least this close.
_PRECISION = 1 / 32
_PRECISION_BYTES = 1024**2
HOW_TO_GROW = (
    "free disk space where nats-server keeps JetStream (its store_dir), raise its jetstream "
    "max_file_store (or the account's max_file), or set c.DuraGraphApp.jetstream_max_bytes / "
    "DURAGRAPH_JETSTREAM_MAX_BYTES (and jetstream_min_bytes / DURAGRAPH_JETSTREAM_MIN_BYTES) to what it can hold"
)


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    max_age_seconds: float = 7 * 24 * 3600
    max_bytes: int = 4 * 1024**3
    # Below this the stream is not worth having: the relay would fail instead of publishing.
    min_bytes: int = 64 * 1024**2
    # Window in which JetStream drops a re-published event (same Nats-Msg-Id). It must cover the
    # relay's worst-case re-publish delay: NATS outage + claim rollback + back-off.
    duplicate_window_seconds: float = 600.0
    #: Copies JetStream keeps (3 on a 3-node cluster). None: a new stream gets 1 and an existing
    #: one keeps its own; a number: a new stream gets it and an existing one is changed to it.
    replicas: int | None = None

    def __post_init__(self) -> None:
        if self.min_bytes <= 0 or self.max_bytes < self.min_bytes:
            raise ValueError(
                f"JetStream sizes: need 0 < min_bytes <= max_bytes, got min {format_size(self.min_bytes)}, "
                f"max {format_size(self.max_bytes)}"
            )
        if self.max_age_seconds <= 0:
            raise ValueError(f"JetStream max age must be positive, got {self.max_age_seconds}s")
        if self.replicas is not None and not 1 <= self.replicas <= 5:
            # JetStream's own bounds: at most 5 copies (a cluster's quorum grows with them).
            raise ValueError(f"JetStream replicas must be 1 to 5, got {self.replicas}")


@dataclass(frozen=True, slots=True)
class StreamSetup:
    """What :func:`ensure_stream` found or made."""

    info: api.StreamInfo
    created: bool
    requested_bytes: int
    #: Why the stream is smaller than requested (the WARNING that was logged), else None.
    note: str | None = None

    @property
    def max_bytes(self) -> int:
        return int(self.info.config.max_bytes or -1)

    def as_dict(self) -> dict[str, object]:
        config = self.info.config
        return {
            "name": config.name,
            "created": self.created,
            "max_bytes": self.max_bytes,
            "requested_bytes": self.requested_bytes,
            "max_age_seconds": config.max_age,
            "replicas": config.num_replicas or 1,
            "note": self.note,
        }


class StreamMismatch(DuraGraphError):
    code = "stream_mismatch"


class StreamStorageError(DuraGraphError):
    """JetStream cannot hold even the minimum size of the stream."""

    code = "jetstream_storage"


async def ensure_stream(nc: NATS, subjects: Subjects, policy: StreamPolicy | None = None) -> StreamSetup:
    """Create the events stream if it is missing, as large as configured or as large as JetStream
    can hold (see the module docstring). An existing stream is left as it is (an operator may
    have tuned its limits), provided it captures our subjects, except for its replicas when the
    policy names a number: JetStream then adds or removes copies in place."""
    policy = policy or StreamPolicy()
    js = nc.jetstream()
    try:
        info = await js.stream_info(subjects.stream_name)
    except NotFoundError:
        return await _create(js, subjects, policy)
    if subjects.all_events not in (info.config.subjects or []):
        raise StreamMismatch(
            f"JetStream stream {subjects.stream_name} exists but does not capture {subjects.all_events} "
            f"(it captures {info.config.subjects}); choose another subject prefix"
        )
    if policy.replicas is not None and (info.config.num_replicas or 1) != policy.replicas:
        log.warning(
            "JetStream stream %s: replicas %s -> %d (as configured)",
            subjects.stream_name,
            info.config.num_replicas or 1,
            policy.replicas,
        )
        info = await js.update_stream(info.config.evolve(num_replicas=policy.replicas))
    return StreamSetup(info, created=False, requested_bytes=policy.max_bytes)


def _config(subjects: Subjects, policy: StreamPolicy, max_bytes: int) -> api.StreamConfig:
    return api.StreamConfig(
        name=subjects.stream_name,
        subjects=[subjects.all_events],
        retention=api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE,
        discard=api.DiscardPolicy.OLD,
        max_age=policy.max_age_seconds,
        max_bytes=max_bytes,
        # JetStream refuses a duplicate window longer than the age limit.
        duplicate_window=min(policy.duplicate_window_seconds, policy.max_age_seconds),
        num_replicas=policy.replicas or 1,
    )


def _no_room(err: APIError) -> bool:
    return err.err_code in _NO_ROOM or "insufficient" in (err.description or "").lower()


async def _create(js: JetStreamContext, subjects: Subjects, policy: StreamPolicy) -> StreamSetup:
    name = subjects.stream_name
    try:
        info = await js.add_stream(_config(subjects, policy, policy.max_bytes))
        return StreamSetup(info, created=True, requested_bytes=policy.max_bytes)
    except APIError as err:
        if not _no_room(err):
            raise
        refusal = err.description or str(err)
    # The account's limits, when it has any, bound the search; a server-wide limit (max_file_store,
    # the disk) is not visible to an account, so the search finds it by asking.
    fits_below = policy.max_bytes
    limits = (await js.account_info()).limits
    for limit in (limits.storage_max_stream_bytes, limits.max_storage):
        if limit and limit > 0:
            fits_below = min(fits_below, limit + 1)
    # Halve until a size is accepted (that creates the stream) ...
    size = max(policy.min_bytes, min(fits_below - 1, policy.max_bytes // 2))
    while True:
        try:
            info = await js.add_stream(_config(subjects, policy, size))
            break
        except APIError as err:
            if not _no_room(err):
                raise
            if size <= policy.min_bytes:
                raise StreamStorageError(
                    f"JetStream cannot hold the event stream {name}: not even its minimum of "
                    f"{format_size(policy.min_bytes)} can be reserved ({err.description or err}; "
                    f"{format_size(policy.max_bytes)} was asked for first). To fix: {HOW_TO_GROW}"
                ) from None
            fits_below = size
            size = max(policy.min_bytes, size // 2)
    # ... then grow it towards the smallest size refused, as far as JetStream accepts.
    while fits_below - size > max(_PRECISION_BYTES, int(size * _PRECISION)):
        bigger = (size + fits_below) // 2
        try:
            info = await js.update_stream(info.config.evolve(max_bytes=bigger))
            size = bigger
        except APIError as err:
            if not _no_room(err):
                raise
            fits_below = bigger
    note = (
        f"JetStream stream {name} created with max_bytes {format_size(size)}, not the "
        f"{format_size(policy.max_bytes)} configured: JetStream refused that ({refusal}), and this "
        f"is about the most it can reserve now. To choose the size: {HOW_TO_GROW}"
    )
    log.warning("%s", note)
    return StreamSetup(info, created=True, requested_bytes=policy.max_bytes, note=note)


# -- sizes and durations in configuration ------------------------------------------------------
_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
# As nats-server reads its configuration: K, M, G, T are powers of 1000; KB, MB, ... and KiB,
# MiB, ... powers of 1024.
_SIZE_UNITS = (
    {"": 1, "b": 1}
    | {letter: 1000**i for i, letter in enumerate("kmgt", start=1)}
    | {letter + s: 1024**i for i, letter in enumerate("kmgt", start=1) for s in ("b", "i", "ib")}
)
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(value: int | str) -> int:
    """Bytes from ``268435456``, ``"256MB"``, ``"256MiB"`` (1024²), ``"256M"`` (1000²), ``"4GiB"``."""
    if isinstance(value, int):
        return value
    match = _NUMBER_UNIT.match(value)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(f"not a size: {value!r} (e.g. 268435456, 256MB, 4GiB)")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_duration(value: float | int | str) -> float:
    """Seconds from ``3600``, ``"90s"``, ``"36h"``, ``"7d"``, ``"2w"``."""
    if isinstance(value, int | float):
        return float(value)
    match = _NUMBER_UNIT.match(value)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _DURATION_UNITS:
        raise ValueError(f"not a duration: {value!r} (e.g. 3600, 36h, 7d)")
    return float(match.group(1)) * _DURATION_UNITS[unit]


def format_size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{n} B"
