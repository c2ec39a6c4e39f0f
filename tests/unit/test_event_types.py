"""The event catalogue: every stored payload of a real log is of its type, old logs still fold,
and every event is made by its one factory in domain/events."""

from __future__ import annotations

import ast
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.events import names
from duragraph_lab.domain.run import fold

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "duragraph_lab"
LOG = ROOT / "tests" / "data" / "event_log.json"


def _log() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(LOG.read_text())
    return events


def _recorded(row: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        seq=row["seq"],
        stream_id=row["stream_id"],
        version=row["version"],
        event_id=uuid.uuid4(),
        type=row["type"],
        data=row["data"],
        meta=row["meta"],
        recorded_at=datetime.now(UTC),
    )


def test_the_catalogue_lists_every_type_name_once() -> None:
    declared = {v for k, v in vars(names).items() if k.isupper() and isinstance(v, str)}
    assert set(ev.CATALOGUE) == declared
    for spec in ev.CATALOGUE.values():
        kinds = {"run", "thread", "assistant", "graph", "dataset", "experiment", "cron", "checkpoints"}
        assert {spec.stream_kind, *spec.also_in} <= kinds
        assert spec.payload.__name__ == "".join(p.title() for p in spec.type.split("_")), spec
        assert spec.description


def test_a_real_log_holds_every_type_and_each_payload_is_of_its_type() -> None:
    log = _log()
    assert {row["type"] for row in log} == set(ev.CATALOGUE), "regenerate tests/data/event_log.json"
    problems = [(row["seq"], p) for row in log for p in ev.payload_problems(row["type"], row["data"])]
    assert problems == []
    for row in log:
        spec = ev.CATALOGUE[row["type"]]
        assert row["stream_id"].partition(":")[0] in (spec.stream_kind, *spec.also_in), row


def test_the_check_finds_a_missing_an_unknown_and_a_wrong_type() -> None:
    assert ev.payload_problems("run_started", {"worker_id": "w", "epoch": 1, "attempt": 1}) == []
    assert ev.payload_problems("run_started", {"worker_id": "w", "epoch": 1}) == [
        "run_started: missing 'attempt'"
    ]
    assert ev.payload_problems("run_completed", {"custom_values": {}, "extra": 1}) == [
        "run_completed: unknown field 'extra'"
    ]
    assert ev.payload_problems("run_exploded", {}) == ["unknown event type 'run_exploded'"]


def test_an_old_log_folds_run_by_run() -> None:
    runs: dict[str, list[RecordedEvent]] = defaultdict(list)
    for row in _log():
        if row["stream_id"].startswith("run:"):
            runs[row["stream_id"]].append(_recorded(row))
    statuses = {str(fold(events).status) for events in runs.values()}
    assert {"success", "error", "interrupted", "cancelled", "timeout"} <= statuses, statuses


@pytest.mark.parametrize("name", sorted(ev.CATALOGUE))
def test_each_factory_makes_a_payload_of_its_type(name: str) -> None:
    # The log's first payload of each type, rebuilt by the factory, is the same payload.
    row = next(r for r in _log() if r["type"] == name)
    made = _REMAKE[name](row["data"])
    assert made.type == name
    assert ev.payload_problems(name, made.data) == []
    assert dict(made.data) == row["data"]


_REMAKE: dict[str, Any] = {
    names.WEBHOOK_ATTEMPT_FAILED: lambda d: ev.webhook_attempt_failed(**d),
    names.WEBHOOK_DELIVERED: lambda d: ev.webhook_delivered(**d),
    names.WEBHOOK_ABANDONED: lambda d: ev.webhook_abandoned(**d),
    names.RUN_CREATED: lambda d: ev.run_created(d),
    names.RUN_STARTED: lambda d: ev.run_started(**d),
    names.STEP_PLANNED: lambda d: ev.step_planned(**d),
    names.NODE_COMPLETED: lambda d: ev.node_completed(**{k: v for k, v in d.items() if k != "duration_ms"}),
    names.NODE_FAILED: lambda d: ev.node_failed(**d),
    names.RUN_INTERRUPTED: lambda d: ev.run_interrupted(**d),
    names.RUN_RESUMED: lambda d: ev.run_resumed(d["resume"], by_id=d.get("by_id"), ns=d.get("ns", "")),
    names.RUN_COMPLETED: lambda d: ev.run_completed(**d),
    names.RUN_FAILED: lambda d: ev.run_failed(d["error"], ns=d.get("ns", "")),
    names.RUN_CANCEL_REQUESTED: lambda d: ev.run_cancel_requested(**d),
    names.RUN_CANCELLED: lambda d: ev.run_cancelled(d.get("reason")),
    names.RUN_TIMED_OUT: lambda d: ev.run_timed_out(float(d["error"]["message"].split()[-1].rstrip("s"))),
    names.SUBGRAPH_STARTED: lambda d: ev.subgraph_started(**d),
    names.STATE_UPDATED: lambda d: ev.state_updated(**d),
    names.EDIT_REFUSED: lambda d: ev.edit_refused(**d),
    names.RUN_DELETED: lambda d: ev.run_deleted(),
    names.STREAM_PARTS: lambda d: ev.stream_parts(d["parts"]),
    names.THREAD_CREATED: lambda d: ev.thread_created(**d),
    names.THREAD_UPDATED: lambda d: ev.thread_updated(**d),
    names.THREAD_RUN_ADDED: lambda d: ev.thread_run_added(**d),
    names.THREAD_DELETED: lambda d: ev.thread_deleted(**d),
    names.ASSISTANT_CREATED: lambda d: ev.assistant_created(**d),
    names.ASSISTANT_UPDATED: lambda d: ev.assistant_updated(d),
    names.ASSISTANT_DELETED: lambda d: ev.assistant_deleted(**d),
    names.GRAPH_REGISTERED: lambda d: ev.graph_registered(**d),
    names.DATASET_CREATED: lambda d: ev.dataset_created(**d),
    names.DATASET_VERSION_ADDED: lambda d: ev.dataset_version_added(**d),
    names.DATASET_DELETED: lambda d: ev.dataset_deleted(**d),
    names.EXPERIMENT_CREATED: lambda d: ev.experiment_created(d),
    names.EXPERIMENT_RESULT_RECORDED: lambda d: ev.experiment_result_recorded(d),
    names.EXPERIMENT_RUN_REQUESTED: lambda d: ev.experiment_run_requested(),
    names.EXPERIMENT_COMPLETED: lambda d: ev.experiment_completed(**d),
    names.CRON_CREATED: lambda d: ev.cron_created(d),
    names.CRON_UPDATED: lambda d: ev.cron_updated(d),
    names.CRON_FIRED: lambda d: ev.cron_fired(**d),
    names.CRON_DELETED: lambda d: ev.cron_deleted(**d),
    names.LG_CHECKPOINT: lambda d: ev.lg_checkpoint(
        **{
            **d,
            "checkpoint": d["checkpoint"]
            if isinstance(d["checkpoint"], dict)
            else ev.decode_typed(d["checkpoint"]),
            "blobs": {k: ev.decode_value(v) for k, v in d["blobs"].items()},
            "new_versions": d.get("new_versions"),
        }
    ),
    names.LG_WRITES: lambda d: ev.lg_writes(
        **{**d, "writes": [(w[0], w[1], ev.decode_typed(w[2:])) for w in d["writes"]]}
    ),
    names.LG_THREAD_DELETED: lambda d: ev.lg_thread_deleted(d["thread_id"]),
    names.LG_RUNS_DELETED: lambda d: ev.lg_runs_deleted(d["run_ids"]),
    names.LG_THREAD_COPIED: lambda d: ev.lg_thread_copied(d["source_thread_id"], d["thread_id"]),
    names.LG_THREAD_PRUNED: lambda d: ev.lg_thread_pruned(d["thread_id"], d["strategy"]),
}


def test_only_the_factories_make_events() -> None:
    """One writer per event type: outside domain/events, no code calls NewEvent(...) itself, so
    every payload is made by its type's factory."""
    allowed = {PACKAGE / "domain" / "envelope.py"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path in allowed or (PACKAGE / "domain" / "events") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "NewEvent"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_typescript_mirror_is_current() -> None:
    from duragraph_lab.domain.events import typescript

    mirror = ROOT / "extension" / "src" / "event_types.ts"
    assert mirror.read_text() == typescript.render(), (
        "extension/src/event_types.ts is stale: python -m duragraph_lab.domain.events.typescript "
        "> extension/src/event_types.ts"
    )
    # Every payload type is there, with its optional fields marked.
    text = mirror.read_text()
    for spec in ev.CATALOGUE.values():
        assert f"  {spec.type}: {spec.payload.__name__};" in text
    assert "  ns?: string;" in text and "  counts?: boolean;" in text
