"""The capability report in docs/api.md agrees with the ``sdk(...)`` markers of tests/conformance and
covers every public method of the installed SDK's clients and of LangGraph's RemoteGraph.

Cheap: it imports the conformance test modules to read their markers and runs nothing. The results
in the table come from a full conformance run (``python -m tests.conformance.report``); this test
keeps them from drifting away from the code: a marker added, renamed or removed without regenerating
the table fails here, and so does a call whose row did not pass and gives no reason.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from langgraph.pregel.remote import RemoteGraph
from langgraph_sdk.client import AssistantsClient, CronClient, RunsClient, StoreClient, ThreadsClient

from tests.conformance.report import (
    DOCS,
    KEY,
    KNOWN_FAILURE,
    NOT_TESTED,
    PASS,
    UNSUPPORTED,
    merge,
    render,
    rows,
    section_of,
)

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
CLIENTS = {
    "assistants": AssistantsClient,
    "threads": ThreadsClient,
    "runs": RunsClient,
    "crons": CronClient,
    "store": StoreClient,
}
#: RemoteGraph methods that make no request (they copy the RemoteGraph object).
LOCAL_ONLY = {"copy", "with_config"}


def sdk_methods() -> set[str]:
    methods = {
        f"{group}.{name}"
        for group, cls in CLIENTS.items()
        for name, _ in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }
    return methods | {
        f"RemoteGraph.{name}"
        for name, member in vars(RemoteGraph).items()
        if callable(member) and not name.startswith("_") and name not in LOCAL_ONLY
    }


def declared() -> dict[str, set[str]]:
    """Row key → the conformance tests whose ``sdk(...)`` marker (on the test or on one of its
    ``pytest.param``s) declares it."""
    out: dict[str, set[str]] = {}
    for path in sorted(CONFORMANCE.glob("test_*.py")):
        module = importlib.import_module(f"tests.conformance.{path.stem}")
        for name, test in vars(module).items():
            if not name.startswith("test_") or not callable(test):
                continue
            marks = list(getattr(test, "pytestmark", []))
            for mark in list(marks):
                if mark.name == "parametrize":
                    marks += [m for param in mark.args[1] for m in getattr(param, "marks", ())]
            for mark in marks:
                if mark.name == "sdk":
                    for key in mark.args:
                        out.setdefault(key, set()).add(f"{path.name}::{name}")
    return out


@pytest.fixture(scope="module")
def table() -> dict[str, list[str]]:
    return rows(section_of(DOCS.read_text()))


def test_markers_are_found() -> None:
    # The scan itself must see the markers (a broken scan would make every check below vacuous).
    keys = declared()
    assert "threads.stream[websocket]" in keys and "js:threads.stream[sse]" in keys
    assert len(keys) > 80


def test_every_marker_key_is_well_formed() -> None:
    bad = sorted(k for k in declared() if not KEY.match(k))
    assert not bad, f"sdk(...) keys that are not `group.method[variant]`, RemoteGraph.method or js:…: {bad}"


def test_the_table_rows_are_exactly_the_declared_calls(table: dict[str, list[str]]) -> None:
    keys = declared()
    documented = {k for k, row in table.items() if row[0] != UNSUPPORTED}
    assert not keys.keys() - documented, (
        "calls declared by sdk(...) markers but not in docs/api.md's table "
        f"(run tests/conformance and `python -m tests.conformance.report`): {sorted(keys.keys() - documented)}"
    )
    assert not documented - keys.keys(), (
        f"rows of docs/api.md's table that no sdk(...) marker declares: {sorted(documented - keys.keys())}"
    )
    both = sorted(k for k, row in table.items() if row[0] == UNSUPPORTED and k in keys)
    assert not both, f"rows marked unsupported that a test declares: {both}"


def test_every_row_passed_or_says_why(table: dict[str, list[str]]) -> None:
    for key, (result, clients, tests, notes) in table.items():
        if result == PASS:
            assert clients and tests, f"{key}: a passing row names its clients and tests"
        elif result in (UNSUPPORTED, KNOWN_FAILURE):
            assert notes, f"{key}: {result} without a reason in the notes"
        else:
            raise AssertionError(f"{key}: {result!r} in docs/api.md's capability report")


def test_the_tests_column_names_files_that_declare_the_call(table: dict[str, list[str]]) -> None:
    keys = declared()
    for key, (result, _, tests, _) in table.items():
        if result == UNSUPPORTED:
            continue
        count, _, files = tests.partition(": ")
        named = {f.strip("` ") for f in files.split(",")}
        declaring = {t.split("::")[0] for t in keys[key]}
        assert named == declaring, (
            f"{key}: the row names {sorted(named)}, the markers are in {sorted(declaring)}"
        )
        assert int(count) >= len(keys[key]), f"{key}: fewer tests in the row than test functions declaring it"


def test_every_sdk_method_has_a_passing_row_or_a_reason(table: dict[str, list[str]]) -> None:
    def covered(method: str) -> bool:
        return any(
            (key == method or key.startswith(method + "["))
            and (row[0] == PASS or (row[0] in (UNSUPPORTED, KNOWN_FAILURE) and row[3]))
            for key, row in table.items()
        )

    missing = sorted(m for m in sdk_methods() if not covered(m))
    assert not missing, f"SDK methods with no passing row and no documented reason in docs/api.md: {missing}"


def test_merge_of_outcomes() -> None:
    assert merge([]) == NOT_TESTED
    assert merge(["passed", "skipped"]) == PASS
    assert merge(["passed", "failed"]) == "fail"
    assert merge(["xfailed"]) == KNOWN_FAILURE
    assert merge(["skipped"]) == "skip"


def test_render_keeps_notes_and_reasons_and_shows_untested_rows() -> None:
    section = "\n".join(
        [
            "| SDK call | result | clients | tests | notes |",
            "|---|---|---|---|---|",
            "| `runs.wait` | pass | async | 1: `a.py` | kept `x\\|y` |",
            "| `runs.gone` | pass | async | 1: `a.py` | |",
            "| `RemoteGraph.bulk_update_state` | unsupported | | | why |",
        ]
    )
    results = {
        "calls": {
            "runs.wait": [
                ["tests/conformance/b.py::t", "passed", "sync"],
                ["x/c.py::u[1]", "failed", "async"],
            ],
            "threads.stream[sse]": [["tests/conformance/d.py::v", "xfailed", "async"]],
        },
        "versions": {"langgraph-sdk": "0"},
    }
    out = rows(render(results, section))
    assert out["runs.wait"] == ["fail", "async, sync", "2: `b.py`, `c.py`", "kept `x\\|y`"]
    assert out["threads.stream[sse]"] == [KNOWN_FAILURE, "async", "1: `d.py`", ""]
    assert out["runs.gone"][0] == NOT_TESTED
    assert out["RemoteGraph.bulk_update_state"] == [UNSUPPORTED, "", "", "why"]
    assert list(out) == ["threads.stream[sse]", "runs.gone", "runs.wait", "RemoteGraph.bulk_update_state"]
