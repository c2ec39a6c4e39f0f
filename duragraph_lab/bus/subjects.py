"""Subject names. Events go to ``<prefix>.<stream-kind>.<event-type>.<stream-uuid>``.

The first three tokens are the documented ``duragraph.<stream-kind>.<event-type>`` scheme; the
trailing stream id lets one subscriber follow one run with a plain subject filter instead of
receiving every run's events. Control traffic (relay wake-ups) uses ``_<prefix>.…``, which the
JetStream stream does not capture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from duragraph_lab.domain.streams import StreamId

_PREFIX = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class Subjects:
    prefix: str = "duragraph"

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ValueError(
                f"invalid subject prefix {self.prefix!r}: use lowercase letters, digits, '_' or '-'"
            )

    @property
    def stream_name(self) -> str:
        """The JetStream stream that stores every event subject."""
        # Upper-casing is the only change: distinct prefixes ("acme-prod", "acme_prod") never
        # share a stream.
        return self.prefix.upper() + "_EVENTS"

    @property
    def all_events(self) -> str:
        return f"{self.prefix}.>"

    def event(self, stream_id: str, event_type: str) -> str:
        kind, _, uuid = stream_id.partition(":")
        return f"{self.prefix}.{kind}.{event_type}.{uuid}"

    def stream(self, stream_id: str | StreamId) -> str:
        """Filter for every event of one stream."""
        parsed = StreamId.parse(stream_id)
        return f"{self.prefix}.{parsed.kind.value}.*.{parsed.id}"

    def kind(self, kind: str, event_type: str = "*") -> str:
        return f"{self.prefix}.{kind}.{event_type}.*"

    @property
    def relay_wake(self) -> str:
        return f"_{self.prefix}.relay.wake"

    @property
    def runs_wake(self) -> str:
        """Runs became runnable (created, resumed): workers look at the queue now."""
        return f"_{self.prefix}.runs.wake"

    def replay_rpc(self, graph_id: str) -> str:
        """Requests to re-execute a run of ``graph_id``: answered by one worker serving it."""
        token = "".join(c if c.isalnum() or c in "-_" else "_" for c in graph_id) or "_"
        return f"_{self.prefix}.rpc.replay.{token}"

    def fresh(self, stream_id: str | StreamId) -> str:
        """Events of one stream just committed by a worker, straight from it (core NATS, not
        stored): subscribers get them before the relay's JetStream copy."""
        parsed = StreamId.parse(stream_id)
        return f"_{self.prefix}.fresh.{parsed.kind.value}.{parsed.id}"

    @property
    def watching(self) -> str:
        """Announcements of the runs a process watches live (bus.watching)."""
        return f"_{self.prefix}.watching"

    @property
    def watching_query(self) -> str:
        """A worker asks the watching processes to announce their watches again."""
        return f"_{self.prefix}.watching.query"

    def at_rest(self, run_id: str) -> str:
        """A run's own commit just left it at rest (ended, or paused for a human), straight from
        its worker (core NATS, empty): those waiting for it need not wait for the relay."""
        return f"_{self.prefix}.rest.run.{run_id}"

    def live(self, run_id: str) -> str:
        """Ephemeral events of one run: node started, custom events, LLM tokens. Not stored."""
        return f"_{self.prefix}.live.run.{run_id}"
