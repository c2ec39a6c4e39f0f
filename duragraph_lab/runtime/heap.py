"""The cyclic garbage collector of a long-running DuraGraph Lab process (a worker, the API server).

Python collects its youngest generation every 700 new container objects (2,000 from 3.13) and,
every ten of those, the next; the whole heap when the older generations have grown enough. A
worker allocates a few hundred dicts, lists and frames per step of every run it serves, and its
heap holds ~150,000 objects before it serves any (the modules, LangGraph, LangChain, the
graphs): so it collected every few steps and, 15 times in 8,000 steps, walked everything it had
ever imported. Measured (``benchmarks.lg_throughput``, 200 LangGraph runs x 20 steps, one
worker): a quarter of the worker's CPU went to the collector (2.35 s in 8,000 steps), none of it
finding much.

Settled once the process is ready:

- :func:`gc.freeze` moves what start-up made (modules, graphs, pools) out of the collector's
  sight: it lives as long as the process, and a collection never walks it again;
- the youngest generation is collected every 50,000 new container objects, the older ones after
  20 collections of the younger each: cycles are still collected, in fewer and larger passes
  (the worker's memory over 32,000 steps grew alike with either setting).

Same benchmark, same worker: the collector's time 2.35 s -> 0.12 s, the worker's CPU a step
~990 -> ~760 µs. ``DURAGRAPH_GC=default`` keeps Python's own settings; anything else but
``tuned`` (the default) is refused at start.
"""

from __future__ import annotations

import gc
import os

__all__ = ["GC_ENV", "YOUNG_THRESHOLD", "gc_mode", "settle_heap"]

#: "tuned" (the default) or "default" (Python's own collector settings).
GC_ENV = "DURAGRAPH_GC"

#: New container objects between two collections of the youngest generation (Python: 700; 2,000 from 3.13).
YOUNG_THRESHOLD = 50_000
#: Collections of a generation between two of the next older one (Python: 10).
OLDER_EVERY = 20

_CHOICES = ("tuned", "default")


def gc_mode(env: dict[str, str] | None = None) -> str:
    """The collector setting asked for: "tuned" or "default". Raises ValueError for another."""
    choice = (os.environ if env is None else env).get(GC_ENV, "").strip().lower() or "tuned"
    if choice not in _CHOICES:
        raise ValueError(f"{GC_ENV}={choice!r}: expected one of {', '.join(_CHOICES)}")
    return choice


def settle_heap(mode: str = "tuned") -> int:
    """Freeze what start-up made and space out the collections (see the module); "default"
    changes nothing. Call once, when the process is ready to serve. Returns how many objects
    the collector no longer walks."""
    if mode == "default":
        return 0
    gc.collect()  # what start-up left as garbage goes now, not into the frozen heap
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_EVERY, OLDER_EVERY)
    return gc.get_freeze_count()
