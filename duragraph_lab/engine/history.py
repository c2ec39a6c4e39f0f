"""A run's starting state: a thread's previous run, or the point a fork was taken from.

``run_created.base = {"run_id", "seq", "mode"}`` names that point; resolving it folds the base
run's events up to ``seq``, which may itself have a base — a thread is a chain of runs, each
storing only its own deltas. Results are cached: a long conversation resolves each link once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.run import RunState, fold

ReadRun = Callable[[str], Awaitable[list[RecordedEvent]]]
#: The state of a run right after its event ``seq``: what folding its events up to there on top of
#: its own base gives (a reader with snapshots gets it without reading the whole run).
StateAt = Callable[[str, int], Awaitable[RunState]]


class HistoryCache:
    def __init__(self, capacity: int = 256) -> None:
        self._cache: OrderedDict[tuple[str, int], RunState] = OrderedDict()
        self.capacity = capacity

    def get(self, key: tuple[str, int]) -> RunState | None:
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
        return found

    def put(self, key: tuple[str, int], state: RunState) -> None:
        self._cache[key] = state
        self._cache.move_to_end(key)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)


async def resolve_base(
    base: Mapping[str, Any] | None,
    read: ReadRun,
    cache: HistoryCache | None = None,
    depth: int = 0,
    *,
    state_at: StateAt | None = None,
) -> RunState | None:
    """The state a run starts from, or ``None`` for a fresh start. ``state_at``: how to get the
    state at a given event of the base run (default: read the run and fold it up to there)."""
    if not base:
        return None
    if depth > 10_000:
        raise RecursionError("run base chain is too long (a cycle?)")
    run_id = str(base["run_id"])
    if base.get("seq") is None:
        # "Wherever that run ends": a run queued behind its thread's active run. Resolved (and
        # cached) at the run's current head, which is final once the run has ended.
        events = await read(run_id)
        seq = events[-1].seq if events else 0
    else:
        seq = int(base["seq"])
        events = []
    key = (run_id, seq)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    if state_at is not None and not events:
        state = await state_at(run_id, seq)
    else:
        events = [e for e in events or await read(run_id) if e.seq <= seq]
        created = next((e for e in events if e.type == ev.RUN_CREATED), None)
        base = created.data.get("base") if created else None
        parent = await resolve_base(base, read, cache, depth + 1, state_at=state_at)
        state = fold(events, parent)
    if cache is not None:
        cache.put(key, state)
    return state


async def load_run(
    run_id: str, read: ReadRun, cache: HistoryCache | None = None, *, state_at: StateAt | None = None
) -> tuple[list[RecordedEvent], RunState | None]:
    """A run's own events and the state it started from (see :func:`resolve_base`)."""
    events = await read(run_id)
    created = next((e for e in events if e.type == ev.RUN_CREATED), None)
    base = await resolve_base(created.data.get("base") if created else None, read, cache, state_at=state_at)
    return events, base
