"""The capability report: which SDK calls the conformance tests exercised, and with what outcome.

``tests/conformance/conftest.py`` records each test's outcome under every SDK call it declares
(``@pytest.mark.sdk("runs.create", ...)``) and writes the results as JSON to
``$DURAGRAPH_CAPABILITY_REPORT`` (default ``.capability-report.json`` at the repository root) when the
session ran tests/conformance. ``python -m tests.conformance.report`` rewrites the table of
docs/api.md between the markers below from those results: the rows and notes stay as written, the
result column and the covering tests come from the run. A call no recorded test covered reads "not run".
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "api.md"
BEGIN = "<!-- capability-report:begin -->"
END = "<!-- capability-report:end -->"


def results_path() -> Path:
    return Path(os.environ.get("DURAGRAPH_CAPABILITY_REPORT", ROOT / ".capability-report.json"))


def merge(outcomes: list[str]) -> str:
    """One result for a call from its tests' outcomes: any failure fails it, all skipped is "not run"."""
    if not outcomes or all(o == "skipped" for o in outcomes):
        return "not run"
    return "fail" if any(o == "failed" for o in outcomes) else "pass"


def render(results: dict[str, object], section: str) -> str:
    """The section with each row's result column replaced, keyed by the row's first backticked call."""
    calls: dict[str, list[list[str]]] = results.get("calls", {})  # type: ignore[assignment]
    out = []
    for line in section.splitlines():
        cells = line.split(" | ")
        if line.startswith("| `") and len(cells) >= 3:
            key = line.split("`")[1]
            entries = calls.get(key, [])
            result = merge([o for _, o in entries])
            if "differs" in cells[1] and result == "pass":
                result = "pass, differs"
            cells[1] = result
            line = " | ".join(cells)
        out.append(line)
    versions = results.get("versions", {})
    out.append("")
    out.append(
        "SDK versions of the recorded run: " + ", ".join(f"`{k}` {v}" for k, v in dict(versions).items())
    )  # type: ignore[arg-type]
    return "\n".join(out)


def main() -> int:
    results = json.loads(results_path().read_text())
    text = DOCS.read_text()
    if BEGIN not in text or END not in text:
        print(f"docs/api.md has no {BEGIN} … {END} markers", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    section, tail = rest.split(END, 1)
    body = section.split("\nSDK versions of the recorded run:")[0]
    DOCS.write_text(head + BEGIN + "\n" + render(results, body.strip("\n")) + "\n" + END + tail)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
