"""Runs as their event logs tell them: a run's events, and its state now or right after any of
its events — folded from the run's nearest snapshot when there is one, and otherwise from its
first event on top of the state it started from (a thread is a chain of runs)."""

from __future__ import annotations

from duragraph_lab.control.ports import EventStore, RunSnapshotStore
from duragraph_lab.domain import codec
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.errors import NotFound
from duragraph_lab.domain.ids import parse_id
from duragraph_lab.domain.run import RunState, RunStatus
from duragraph_lab.domain.snapshots import SNAPSHOT_BYTES_PER_EVENT, SNAPSHOT_EVERY, fold_onto
from duragraph_lab.engine.history import HistoryCache, load_run

ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)


class RunHistory:
    """Reads runs from the log. ``snapshots`` (None: none read or written): one every
    ``snapshot_every`` events, at most ``snapshot_bytes_per_event`` bytes of them per event (see
    :func:`~duragraph_lab.domain.snapshots.fold_onto`)."""

    def __init__(
        self,
        store: EventStore,
        snapshots: RunSnapshotStore | None = None,
        *,
        cache: HistoryCache | None = None,
        snapshot_every: int = SNAPSHOT_EVERY,
        snapshot_bytes_per_event: int = SNAPSHOT_BYTES_PER_EVENT,
    ) -> None:
        self.store = store
        self.snapshots = snapshots
        self.cache = cache or HistoryCache()
        self.snapshot_every = snapshot_every if snapshots is not None else 0
        self.snapshot_bytes_per_event = snapshot_bytes_per_event

    async def run_events(self, run_id: str) -> list[RecordedEvent]:
        """The run's own events (not those of the runs it started from)."""
        return await self.store.read_stream(f"run:{parse_id(run_id, 'run')}")

    async def read_run(self, run_id: str) -> list[RecordedEvent]:
        """The events of a run known to exist (a base of another run)."""
        return await self.store.read_stream(f"run:{run_id}")

    async def event_at(self, run_id: str, seq: int) -> RecordedEvent | None:
        """The run's event with ``seq`` (or else its first one after it)."""
        events = await self.store.read_stream(f"run:{run_id}", after_seq=seq - 1, limit=1)
        return events[0] if events else None

    async def load(self, run_id: str) -> tuple[list[RecordedEvent], RunState | None]:
        """The run's events and the state it started from (None: a fresh start)."""
        return await load_run(run_id, self.read_run, self.cache)

    async def state(self, run_id: str, *, at_seq: int | None = None) -> RunState:
        """The run (status and graph state), now or right after the event with ``at_seq``.

        Folded from the run's nearest snapshot at or before ``at_seq`` when there is one, and
        otherwise from its first event (and the runs it started from); the snapshots passed on
        the way are stored for the next reader.
        """
        return await self._state(parse_id(run_id, "run"), run_id, at_seq, base=False)

    async def _state(self, rid: str, asked: str, at_seq: int | None, *, base: bool) -> RunState:
        lossy_before = codec.lossy_decodes()
        # A state in the run's past needs no later event: the run is read only up to at_seq.
        snapshot, own = (
            await self.snapshots.read(rid, at_seq)
            if self.snapshots is not None and self.snapshot_every
            else (None, None)
        )
        if snapshot is not None:
            state, after_version, events = snapshot.state, snapshot.version, own or []
        else:

            async def read(wanted: str) -> list[RecordedEvent]:
                # The run itself (read above, with the snapshot that it has not); the runs it
                # started from, whole (and cached).
                if wanted == rid and own is not None:
                    return own
                if wanted == rid and at_seq is not None:
                    return await self.store.read_stream(f"run:{wanted}", until_seq=at_seq)
                return await self.read_run(wanted)

            # The state at the event of the run it started from: from that run's snapshots too
            # (a fork of a long run). Only for the first link: the runs before it are resolved
            # by the fold's own recursion, which takes one frame per link where going through
            # state() again would take several (a thread of hundreds of runs).
            state_at = self._base_state_at if self.snapshot_every and not base else None
            events, start = await load_run(rid, read, self.cache, state_at=state_at)
            if not events:
                if at_seq is not None and await self.store.stream_version(f"run:{rid}") > 0:
                    raise NotFound(f"run {asked} has no events up to seq {at_seq}")
                raise NotFound(f"run {asked} does not exist")
            state, after_version = (start.clone() if start is not None else RunState()), 0
        taken = fold_onto(
            state,
            events,
            after_version=after_version,
            every=self.snapshot_every,
            bytes_per_event=self.snapshot_bytes_per_event,
        )
        # A value decoded as plain data for want of its class here would be stored as plain
        # data: such a snapshot would give another reader a state its own fold would not.
        if taken and self.snapshots is not None and codec.lossy_decodes() == lossy_before:
            await self.snapshots.save(rid, taken)
        return state

    async def _base_state_at(self, run_id: str, seq: int) -> RunState:
        try:
            return await self._state(parse_id(run_id, "run"), run_id, seq, base=True)
        except NotFound:
            # A base point before the run's first event (only hand-made data has one): what
            # folding nothing gives, as without snapshots.
            return RunState()

    async def rolled_back(self, state: RunState) -> bool:
        """Whether the run was cancelled with ``action="rollback"``: its work is undone, and its
        thread goes on from where the run started (``state.base``)."""
        if state.status is not RunStatus.CANCELLED or state.run_id is None:
            return False
        events, _ = await self.load(state.run_id)
        return any(e.type == ev.RUN_CANCEL_REQUESTED and e.data.get("action") == "rollback" for e in events)
