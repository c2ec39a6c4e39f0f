"""docs/events.md against the payload types: every event type is documented under its stream
kind, and its documented fields are exactly the fields of its type."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from duragraph_lab.domain import events as ev

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
_FIELD = re.compile(r"`([a-z][a-z0-9_]*)`")


def _top_level(text: str) -> str:
    """``text`` without its parenthesised asides (where nested keys and values are described)."""
    out, depth = [], 0
    for ch in text:
        depth += ch == "("
        if depth == 0:
            out.append(ch)
        depth -= ch == ")" and depth > 0
    return "".join(out)


def _cells(line: str) -> list[str]:
    # A table row; "\|" inside a cell is a literal bar.
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def documented(text: str) -> dict[str, tuple[str, set[str]]]:
    """type -> (stream kind of its section, documented fields), from the two layouts of the page:
    a ``### type`` section with a field table (run events), or a row of a stream's table whose
    first cell is the type and second its data."""
    found: dict[str, tuple[str, set[str]]] = {}
    kind = ""
    section: str | None = None
    in_table = False
    for line in text.splitlines():
        if line.startswith("## "):
            match = re.search(r"`([a-z]+):", line)
            kind = match.group(1) if match else ""
            section = None
        elif line.startswith("### "):
            section = line[4:].strip()
            in_table = False
            found[section] = (kind, set())
        elif line.startswith("|"):
            cells = _cells(line)
            if not cells or set(cells[0]) <= {"-", ":"} or cells[0] in ("field", "type"):
                continue
            name = cells[0].strip("`")
            if name in ev.CATALOGUE and len(cells) >= 2:
                found[name] = (kind, set(_FIELD.findall(_top_level(cells[1]))))
            elif section is not None and section in found and (in_table or not found[section][1]):
                in_table = True
                found[section][1].update(_FIELD.findall(_top_level(cells[0])))
        elif section is not None and in_table:
            # The field table ends at the first line that is not a row: later tables of the
            # section (examples, lists) describe nested values.
            section = None
    return found


def test_every_event_type_is_documented_under_its_stream_kind() -> None:
    docs = documented(DOC.read_text())
    missing = sorted(set(ev.CATALOGUE) - set(docs))
    assert missing == [], f"not documented in docs/events.md: {missing}"
    for name, spec in ev.CATALOGUE.items():
        assert docs[name][0] == spec.stream_kind, (name, docs[name][0])


@pytest.mark.parametrize("name", sorted(ev.CATALOGUE))
def test_documented_fields_are_the_fields_of_the_type(name: str) -> None:
    _, fields = documented(DOC.read_text())[name]
    spec = ev.CATALOGUE[name]
    assert fields == set(spec.fields), (
        f"{name}: documented but not in {spec.payload.__name__}: {sorted(fields - spec.fields)}; "
        f"in the type but not documented: {sorted(spec.fields - fields)}"
    )


def test_the_parser_sees_a_missing_and_an_extra_field() -> None:
    page = "## Runs: `run:<id>`\n\n### run_started\n\n| field | type | meaning |\n|---|---|---|\n"
    page += "| `worker_id` | str | |\n| `epoch`, `bogus` | int | |\n\ntext\n\n| `other` | | |\n"
    page += "## Threads: `thread:<id>`\n\n| type | data |\n|---|---|\n"
    page += "| `thread_updated` | `metadata`: dict (only `true`) |\n"
    docs = documented(page)
    assert docs["run_started"] == ("run", {"worker_id", "epoch", "bogus"})
    assert docs["thread_updated"] == ("thread", {"metadata"})
