"""The capability report: which SDK calls the conformance tests exercised, and with what outcome.

A conformance test declares the calls it exercises with ``@pytest.mark.sdk("runs.create", ...)``.
A row key is ``group.method`` (a method of the official client: ``assistants``, ``threads``, ``runs``,
``crons``, ``store``), optionally with a variant in brackets (``threads.stream[websocket]``,
``runs.stream[messages]``), ``RemoteGraph.method``, or ``js:...`` for the JavaScript SDK.

``tests/conformance/conftest.py`` records each test's outcome under every call it declares and writes
the results as JSON to ``$DURAGRAPH_CAPABILITY_REPORT`` (default ``.capability-report.json`` at the
repository root) when the session ran marked tests. ``python -m tests.conformance.report`` rewrites the
table of docs/api.md between the markers below from those results: one row per declared call with its
result, the clients that covered it and the tests; the notes column stays as written (matched by key).
A row whose result is ``unsupported`` is kept with its reason (the notes); any other row no recorded
test declares reads "not tested". ``tests/unit/test_capability_report.py`` checks the table against the
markers in the code without running anything.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "api.md"
BEGIN = "<!-- capability-report:begin -->"
END = "<!-- capability-report:end -->"
HEADER = "| SDK call | result | clients | tests | notes |\n|---|---|---|---|---|"
VERSIONS = "Versions:"
UNSUPPORTED = "unsupported"
PASS = "pass"
KNOWN_FAILURE = "known failure"
NOT_TESTED = "not tested"
#: The order of the table: the SDK's clients, then RemoteGraph, then the JavaScript SDK.
GROUPS = ("assistants", "threads", "runs", "crons", "store", "RemoteGraph", "js:")
KEY = re.compile(
    r"^(?:(?:assistants|threads|runs|crons|store)\.\w+|RemoteGraph\.\w+|js:[\w.]+)(?:\[[^\]`|]+\])?$"
)


def results_path() -> Path:
    return Path(os.environ.get("DURAGRAPH_CAPABILITY_REPORT", ROOT / ".capability-report.json"))


def versions() -> dict[str, str]:
    """The clients' versions: the Python SDK, LangGraph (RemoteGraph) and the JavaScript SDK that
    tests/js_sdk installed (absent if it is not installed)."""
    from importlib.metadata import version

    out = {"langgraph-sdk": version("langgraph-sdk"), "langgraph": version("langgraph")}
    js = ROOT / "tests" / "js_sdk" / "node_modules" / "@langchain" / "langgraph-sdk" / "package.json"
    if js.is_file():
        out["@langchain/langgraph-sdk"] = json.loads(js.read_text())["version"]
    return out


def merge(outcomes: Iterable[str]) -> str:
    """One result for a call from its tests' outcomes: any failure fails it, else any pass passes
    it; a call whose only tests are expected failures (``xfail``, the reason in the row) is a
    known failure."""
    seen = set(outcomes)
    if not seen:
        return NOT_TESTED
    if "failed" in seen:
        return "fail"
    if "passed" in seen:
        return PASS
    return KNOWN_FAILURE if "xfailed" in seen else "skip"


def cells(line: str) -> list[str]:
    """The cells of a table row (``\\|`` inside a cell is not a separator)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def rows(section: str) -> dict[str, list[str]]:
    """The table's rows by key (the row's first cell, in backticks): ``[result, clients, tests, notes]``."""
    out: dict[str, list[str]] = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            row = cells(line)
            out[row[0].strip("`")] = [*row[1:], "", "", "", ""][:4]
    return out


def section_of(text: str) -> str:
    if BEGIN not in text or END not in text:
        raise ValueError(f"docs/api.md has no {BEGIN} … {END} markers")
    return text.split(BEGIN, 1)[1].split(END, 1)[0]


def order(key: str) -> tuple[int, str]:
    return next((i for i, g in enumerate(GROUPS) if key.startswith(g)), len(GROUPS)), key


def tests_cell(entries: list[list[str]]) -> str:
    files = sorted({e[0].split("::")[0].rsplit("/", 1)[-1] for e in entries})
    return f"{len(entries)}: " + ", ".join(f"`{f}`" for f in files)


def render(results: dict[str, object], section: str) -> str:
    """The section rebuilt from the results, keeping each row's notes and the unsupported rows."""
    calls: dict[str, list[list[str]]] = results.get("calls", {})  # type: ignore[assignment]
    old = rows(section)
    lines = [HEADER]
    for key in sorted(set(calls) | set(old), key=order):
        notes = old.get(key, ["", "", "", ""])[3]
        entries = calls.get(key, [])
        if not entries and key in old and old[key][0] == UNSUPPORTED:
            lines.append(f"| `{key}` | {UNSUPPORTED} | | | {notes} |")
            continue
        result = merge(e[1] for e in entries)
        clients = ", ".join(c for c in ("async", "sync", "js") if any(e[2] == c for e in entries))
        tests = tests_cell(entries) if entries else ""
        lines.append(f"| `{key}` | {result} | {clients} | {tests} | {notes} |")
    outcomes = {e[0]: e[1] for entries in calls.values() for e in entries}
    counts = ", ".join(
        f"{n} {o}" for o in sorted(set(outcomes.values())) if (n := list(outcomes.values()).count(o))
    )
    recorded: dict[str, str] = results.get("versions", {})  # type: ignore[assignment]
    lines += [
        "",
        f"Recorded run: {results.get('date', 'undated')}, {len(outcomes)} test cases with an `sdk` marker "
        f"({counts}). {VERSIONS} " + ", ".join(f"`{k}` {v}" for k, v in recorded.items()) + ".",
    ]
    return "\n".join(lines)


def main() -> int:
    results = json.loads(results_path().read_text())
    text = DOCS.read_text()
    try:
        section = section_of(text)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 1
    bad = sorted(k for k in results.get("calls", {}) if not KEY.match(k))
    if bad:
        print(f"malformed capability keys in sdk(...) markers: {bad}", file=sys.stderr)
        return 1
    head, tail = text.split(BEGIN, 1)[0], text.split(END, 1)[1]
    DOCS.write_text(head + BEGIN + "\n" + render(results, section) + "\n" + END + tail)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
