"""The run control plane, assembled from its ports: one object that holds every service."""

from __future__ import annotations

from dataclasses import dataclass

from duragraph_lab.control.checkpoints import Checkpoints
from duragraph_lab.control.edits import StateEdits
from duragraph_lab.control.event_states import EventStates
from duragraph_lab.control.follow import Follower
from duragraph_lab.control.forks import Forks
from duragraph_lab.control.history import RunHistory
from duragraph_lab.control.ports import EventFeed, EventStore, Reexecutor, RunSignals, RunSnapshotStore
from duragraph_lab.control.read_models import (
    CheckpointIndex,
    RunReadModel,
    SpanReadModel,
    TargetReadModel,
    ThreadReadModel,
)
from duragraph_lab.control.run_queries import RunQueries
from duragraph_lab.control.runs import RunControl
from duragraph_lab.control.targets import Targets
from duragraph_lab.control.threads import ThreadControl
from duragraph_lab.domain.snapshots import SNAPSHOT_BYTES_PER_EVENT, SNAPSHOT_EVERY


@dataclass(frozen=True, slots=True)
class ReadModels:
    runs: RunReadModel
    threads: ThreadReadModel
    spans: SpanReadModel
    targets: TargetReadModel
    checkpoints: CheckpointIndex


class ControlPlane:
    """Commands and queries for runs, threads, checkpoints, forks and state edits.

    ``history``: runs as their logs tell them (state at any event); ``runs``: run commands;
    ``run_queries``; ``event_states``: the state right after and before any event; ``threads``; ``checkpoints``; ``forks``; ``edits``; ``follower``: runs as
    they happen (for streams). ``signals`` and ``reexecutor`` reach whatever executes runs.
    """

    def __init__(
        self,
        store: EventStore,
        read_models: ReadModels,
        *,
        signals: RunSignals,
        reexecutor: Reexecutor,
        feed: EventFeed,
        snapshots: RunSnapshotStore | None = None,
        snapshot_every: int = SNAPSHOT_EVERY,
        snapshot_bytes_per_event: int = SNAPSHOT_BYTES_PER_EVENT,
    ) -> None:
        self.store = store
        self.signals = signals
        self.history = RunHistory(
            store,
            snapshots,
            snapshot_every=snapshot_every,
            snapshot_bytes_per_event=snapshot_bytes_per_event,
        )
        targets = Targets(read_models.targets)
        self.run_queries = RunQueries(store, read_models.runs, read_models.threads, read_models.spans)
        self.runs = RunControl(
            store, self.history, targets, self.run_queries, read_models.threads, signals, reexecutor, feed
        )
        self.checkpoints = Checkpoints(
            self.history, read_models.checkpoints, read_models.runs, read_models.threads
        )
        self.threads = ThreadControl(
            store, self.history, read_models.threads, read_models.runs, self.checkpoints, signals, self.runs
        )
        self.forks = Forks(store, self.history, targets, read_models.threads, signals)
        self.edits = StateEdits(store, self.history, targets, read_models.threads, signals=signals, feed=feed)
        self.follower = Follower(store, self.history, read_models.runs, feed)
        self.event_states = EventStates(self.history)
