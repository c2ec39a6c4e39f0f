"""Every event type: its payload type, its stream kind and what it means.

Gathered from the ``EventSpec`` lists beside the payloads (``run.py``, ``records.py``,
``crons.py``, ``langgraph.py``). The one list that docs/events.md, the TypeScript mirror
(extension/src/event_types.ts) and the log fixture (tests/data/event_log.json) are checked
against: a stored type missing here fails those tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.events import crons as cr
from duragraph_lab.domain.events import langgraph as lg
from duragraph_lab.domain.events import records as rec
from duragraph_lab.domain.events import run
from duragraph_lab.domain.events.spec import EventSpec

_SPECS = (
    *run.RUN_EVENT_SPECS,
    *rec.RECORD_EVENT_SPECS,
    *cr.CRON_EVENT_SPECS,
    *lg.LANGGRAPH_EVENT_SPECS,
)

#: type name -> spec, in the order of docs/events.md.
CATALOGUE: Mapping[str, EventSpec] = {spec.type: spec for spec in _SPECS}


def payload_problems(event_type: str, data: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``data`` as a payload of ``event_type`` (empty: nothing): an unknown
    type, a missing required key or a key the type does not have. Nested values are not checked."""
    spec = CATALOGUE.get(event_type)
    if spec is None:
        return [f"unknown event type {event_type!r}"]
    problems = [f"{event_type}: missing {key!r}" for key in sorted(spec.required - set(data))]
    problems += [f"{event_type}: unknown field {key!r}" for key in sorted(set(data) - spec.fields)]
    return problems


def copied(event: RecordedEvent, data: Mapping[str, Any]) -> NewEvent:
    """A copy of a recorded event (``ThreadControl.copy_thread``): the same type, ``data`` with
    its ids remapped, and ``meta.copied_from`` naming the original."""
    return NewEvent(event.type, data, meta={**event.meta, "copied_from": str(event.event_id)})
